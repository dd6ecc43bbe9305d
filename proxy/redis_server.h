/* SPDX-License-Identifier: Apache-2.0 */
/* redis_server.h — a pool's server objects (redis_server.c). */
#ifndef COPROXY_REDIS_SERVER_H
#define COPROXY_REDIS_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "redis.h"

/* A server of pool p, its connections' coroutines started (they connect on first use). */
struct redis_server *redis_server_new(struct redis_pool *p, const struct server_conf *sc, int index);
/* s leaves its pool's list (a reload removed it, or a cluster's seeds
 * changed): it keeps a copy of its settings, since it outlives the
 * configuration that held them.  0, or -ENOMEM (s unchanged). */
int redis_server_own_conf(struct redis_server *s);
/* A node the slot map names, added to the pool's servers. */
struct redis_server *redis_server_add(struct redis_pool *p, struct server_conf *sc);

#endif
