/* SPDX-License-Identifier: Apache-2.0 */
/* redis_pool.h — a redis pool in one worker (redis_pool.c). */
#ifndef COPROXY_REDIS_POOL_H
#define COPROXY_REDIS_POOL_H

#include <stddef.h>
#include <stdint.h>

#include "redis.h"
#include "worker.h"

/* redis_pool.c */
struct redis_pool *redis_pool_new(struct worker *w, struct pool_rt *rt);
/* After a reload replaced the pool's settings: new weights, hash,
 * distribution and limits take effect, and a new server list -- servers
 * kept (same name and address) keep their connections and counters, new
 * ones connect on first use, removed ones stop getting requests and close
 * their connections once the requests they hold are answered.  Afterwards
 * no server points into the old list.  0, or -1: out of memory, the old
 * list and settings stay in use (the caller puts the old settings back;
 * servers made before it ran out point into the new list). */
int redis_pool_reconfigure(struct redis_pool *p);
/* Rebuilds the distribution over the servers not ejected at `now`
 * (ejected ones whose time is up come back). */
void redis_pool_rebuild(struct redis_pool *p, uint64_t now);
/* Idle: the backend connections' emptied send buffers go back. */
void redis_pool_trim(struct redis_pool *p);

#endif
