/* SPDX-License-Identifier: Apache-2.0 */
/* redis_pubsub.h — SUBSCRIBE and kin (redis_pubsub.c). */
#ifndef COPROXY_REDIS_PUBSUB_H
#define COPROXY_REDIS_PUBSUB_H

#include <stddef.h>
#include <stdint.h>

#include "redis.h"
#include "redis_cmd.h"

/* redis_pubsub.c: what a subscriber's connection hands back */
/* A message (p[0..n), as the server sent it) for bc's subscriber. */
void redis_pubsub_message(struct worker *w, struct backend_conn *bc, const char *p, size_t n);
/* bc has answered everything sent on it: the subscriber may give it back. */
void redis_pubsub_idle(struct backend_conn *bc);
/* bc was lost: its subscriber's subscriptions there are gone. */
void redis_pubsub_lost(struct backend_conn *bc);
/* redis_pubsub.c: SUBSCRIBE and kin, on connections of the client's own */
void pubsub_command(struct redis_client *c, const struct redis_cmd *cmd, const char *req,
                    const struct resp_request *r);
/* PUBSUB CHANNELS / NUMSUB / NUMPAT, across the servers. */
void pubsub_introspect(struct redis_client *c, const char *req, const struct resp_request *r);

/* The client leaves (or RESETs): every subscription ends, its connections close. */
void pubsub_release(struct redis_client *c);

#endif
