/* redis_guard.h — redis mode: requests refused before they run (redis_guard.c). */
#ifndef COPROXY_REDIS_GUARD_H
#define COPROXY_REDIS_GUARD_H

#include <stddef.h>

#include "redis_cmd.h"

struct redis_client;

/* An HTTP request (POST, Host:): the client is closed, nothing of it runs.  1 if so. */
int guard_http(struct redis_client *c, const char *name, size_t n);
/* allow_flush = false: a script that may flush is refused with an error reply.  1 if so. */
int guard_script(struct redis_client *c, const struct redis_cmd *cmd, const char *req, const struct resp_request *r);

#endif
