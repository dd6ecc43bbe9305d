/* redis_pinned.h — redis mode: the client's own connection (redis_pinned.c). */
#ifndef COPROXY_REDIS_PINNED_H
#define COPROXY_REDIS_PINNED_H

#include <stddef.h>
#include <stdint.h>

#include "redis.h"
#include "redis_cmd.h"

struct redis_client;

int pin_lost(const struct redis_client *c);
void release_pin(struct redis_client *c, int dirty);
struct msg *send_pinned(struct redis_client *c, const char *req, const struct resp_request *r);
void abort_multi(struct redis_client *c);
void queue_in_multi(struct redis_client *c, const struct redis_cmd *cmd, const char *req,
                           const struct resp_request *r);
void txn_command(struct redis_client *c, const struct redis_cmd *cmd, const char *req,
                        const struct resp_request *r);
void route_blocking(struct redis_client *c, const struct redis_cmd *cmd, const char *req,
                           const struct resp_request *r);
void route_xread(struct redis_client *c, const struct redis_cmd *cmd, const char *req,
                        const struct resp_request *r);

#endif
