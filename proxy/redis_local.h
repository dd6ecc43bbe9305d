/* SPDX-License-Identifier: Apache-2.0 */
/* redis_local.h — redis mode: commands answered by coproxy (redis_local.c). */
#ifndef COPROXY_REDIS_LOCAL_H
#define COPROXY_REDIS_LOCAL_H

#include <stddef.h>
#include <stdint.h>

#include "redis.h"
#include "redis_cmd.h"

struct redis_client;

void local_reset(struct redis_client *c);
void local_command(struct redis_client *c, const struct redis_cmd *cmd, const char *req,
                          const struct resp_request *r);

/* Appends a CLIENT LIST line for each of the pool's clients. 0, or -1 (out of memory). */
int local_client_list(struct redis_pool *p, struct rbuf *out);
/* CLIENT KILL of one of the pool's clients on this worker (if it is here). */
void local_kill(struct redis_pool *p, uint64_t id);

#endif
