/* SPDX-License-Identifier: Apache-2.0 */
/* redis_monitor.h — redis mode: what the slow log, hot keys and big keys learn of each request (redis_monitor.c). */
#ifndef COPROXY_REDIS_MONITOR_H
#define COPROXY_REDIS_MONITOR_H

#include <stdint.h>

#include "bigkeys.h"
#include "hotkeys.h"
#include "redis.h"
#include "slowlog.h"

/* One per worker and redis pool; the admin thread reads them (each part under its own lock). */
struct redis_monitor {
    struct slowlog slow;
    struct bigkeys big;
    struct hotkeys hot;
};

/* p->mon, made with the pool (NULL: out of memory); freed at exit. */
struct redis_monitor *redis_monitor_new(void);
void redis_monitor_free(struct redis_monitor *m);

void monitor_big_request(struct redis_client *c, uint32_t size);
void monitor_slow(struct redis_client *c, const struct msg *m, uint64_t took_us);
void monitor_big_reply(struct redis_client *c, const struct msg *m);

/* A request about to be routed (c->brief_* set from it): hot keys count its
 * key, big keys note it when it is over the pool's bigkey_threshold. */
static inline void monitor_request(struct redis_client *c, uint32_t size)
{
    struct redis_pool *p = c->pool;

    if (c->brief_key != NULL && p->hotkeys_on)
        hotkeys_request(&p->mon->hot, c->brief_key, c->brief_len);
    if (size >= p->big_bytes)
        monitor_big_request(c, size);
}
/* m's reply was written took_us after its batch arrived: the slow log and
 * big keys take it if it is over their thresholds. */
static inline void monitor_written(struct redis_client *c, const struct msg *m, uint64_t took_us)
{
    if (took_us >= c->pool->slow_us)
        monitor_slow(c, m, took_us);
    if (m->reply.len >= c->pool->big_bytes)
        monitor_big_reply(c, m);
}
/* At the worker's tick: hot keys publish a window that is over, each key's
 * server named by server_of (the route's; name has room for 64 bytes). */
void monitor_tick(struct redis_pool *p, uint64_t now_ms,
                  void (*server_of)(void *pool, const char *key, size_t len, char *name));

/* SLOWLOG through the proxy: the pool's entries over every worker (NULL:
 * none, or out of memory; *n of them, in no order; free() it), their
 * number, and emptying them. */
struct slowlog_entry *monitor_pool_slowlog(struct redis_pool *p, size_t *n);
uint64_t monitor_pool_slowlog_len(struct redis_pool *p);
void monitor_pool_slowlog_reset(struct redis_pool *p);

#endif
