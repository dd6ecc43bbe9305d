/* SPDX-License-Identifier: Apache-2.0 */
/* redis_client.h — one redis-mode client connection, start to end (redis_client.c). */
#ifndef COPROXY_REDIS_CLIENT_H
#define COPROXY_REDIS_CLIENT_H

#include "redis.h"

struct ssl_st;

struct pool_rt;

/* redis_client.c: one client connection, start to end (a coroutine's routine) */
void *redis_client_main(void *arg);
struct redis_client *redis_client_new(struct worker *w, struct pool_rt *p, int fd, struct ssl_st *tls);
/* Shutdown: wakes every idle client of the pool so it ends. */
void redis_client_stop_all(struct redis_pool *p);

#endif
