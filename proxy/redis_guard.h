/* SPDX-License-Identifier: Apache-2.0 */
/* redis_guard.h — redis mode: requests refused before they run (redis_guard.c). */
#ifndef COPROXY_REDIS_GUARD_H
#define COPROXY_REDIS_GUARD_H

#include <stddef.h>

#include "redis_client.h"
#include "redis_cmd.h"


int guard_http_check(struct redis_client *c, const char *name, size_t n);
/* An HTTP request (POST, Host:): the client is closed, nothing of it runs.
 * 1 if so.  (Inline: every request passes here; few names are 4 or 5 long.) */
static inline int guard_http(struct redis_client *c, const char *name, size_t n)
{
    return (n == 4 || n == 5) && guard_http_check(c, name, n);
}
int guard_script_check(struct redis_client *c, const struct redis_cmd *cmd, const char *req,
                       const struct resp_request *r);
/* allow_flush = false: a script that may flush is refused with an error reply.  1 if so. */
static inline int guard_script(struct redis_client *c, const struct redis_cmd *cmd, const char *req,
                               const struct resp_request *r)
{
    return !c->pool->conf->allow_flush && guard_script_check(c, cmd, req, r);
}

#endif
