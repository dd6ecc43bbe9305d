/* SPDX-License-Identifier: Apache-2.0 */
/* redis_monitor.c — redis mode: what the slow log, hot keys and big keys learn of each request. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "addr.h"
#include "config_file.h"
#include "redis_monitor.h"
#include "redis_server.h"
#include "worker.h"
#include "worker_ctx.h"

struct redis_monitor *redis_monitor_new(void)
{
    struct redis_monitor *m = malloc(sizeof *m);

    if (m == NULL)
        return NULL;
    slowlog_init(&m->slow);
    bigkeys_init(&m->big);
    hotkeys_init(&m->hot, worker_now_ms());
    return m;
}

void redis_monitor_free(struct redis_monitor *m)
{
    if (m == NULL)
        return;
    slowlog_fini(&m->slow);
    bigkeys_fini(&m->big);
    hotkeys_fini(&m->hot);
    free(m);
}

static uint64_t unix_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void monitor_slow(struct redis_client *c, const struct msg *m, uint64_t took_us)
{
    struct slowlog_entry e;

    memset(&e, 0, sizeof e);
    e.unix_ms = unix_ms();
    e.total_us = took_us;
    e.backend_us = m->backend_us;
    e.argc = m->argc;
    e.key_len = m->key_len;
    e.pool_index = (int)(c->pool->rt - c->w->pools);
    snprintf(e.cmd, sizeof e.cmd, "%s", m->cmd_name ? m->cmd_name : "?");
    memcpy(e.key, m->key, m->key_len < MONITOR_KEY_BRIEF ? m->key_len : MONITOR_KEY_BRIEF);
    if (m->server != NULL)
        snprintf(e.server, sizeof e.server, "%s", m->server->conf->name);
    else if (m->frags != NULL)
        snprintf(e.server, sizeof e.server, "(several)");
    addr_peer(c->fd, e.client, sizeof e.client);
    snprintf(e.name, sizeof e.name, "%s", c->name ? c->name : "");
    snprintf(e.user, sizeof e.user, "default");
    slowlog_add(&c->pool->mon->slow, &e, (uint32_t)c->pool->conf->slowlog_max_len);
}

void monitor_big_request(struct redis_client *c, uint32_t size)
{
    bigkeys_note(&c->pool->mon->big, c->last_cmd ? c->last_cmd : "?", 0, c->brief_key ? c->brief_key : "",
                 c->brief_key ? c->brief_len : 0, c->brief_key ? c->brief_len : 0, size, unix_ms());
}

void monitor_big_reply(struct redis_client *c, const struct msg *m)
{
    bigkeys_note(&c->pool->mon->big, m->cmd_name ? m->cmd_name : "?", 1, m->key,
                 m->key_len < MONITOR_KEY_BRIEF ? m->key_len : MONITOR_KEY_BRIEF, m->key_len, m->reply.len,
                 unix_ms());
}

void monitor_tick(struct redis_pool *p, uint64_t now_ms,
                  void (*server_of)(void *pool, const char *key, size_t len, char *name))
{
    if (p->mon != NULL)
        hotkeys_tick(&p->mon->hot, now_ms, p->stats->requests, server_of, p);
}

/* The pool's monitor on each worker, once every worker has set up its pools. */
static struct redis_monitor *pool_mon(struct redis_pool *p, int w)
{
    struct daemon *d = p->w->d;
    int i = (int)(p->rt - p->w->pools);

    if (__atomic_load_n(&d->listening, __ATOMIC_ACQUIRE) < d->cfg.threads)
        return w == p->w->id ? p->mon : NULL;   /* the others may be setting theirs up */
    return d->workers[w].pools[i].redis != NULL ? d->workers[w].pools[i].redis->mon : NULL;
}

struct slowlog_entry *monitor_pool_slowlog(struct redis_pool *p, size_t *n)
{
    size_t cap = 0;
    struct slowlog_entry *v;

    *n = 0;
    for (int w = 0; w < p->w->d->cfg.threads; w++)
        if (pool_mon(p, w) != NULL)
            cap += slowlog_len(&pool_mon(p, w)->slow) + 16;   /* (it may grow meanwhile) */
    if (cap == 0 || (v = malloc(cap * sizeof *v)) == NULL)
        return NULL;
    for (int w = 0; w < p->w->d->cfg.threads; w++)
        if (pool_mon(p, w) != NULL && *n < cap)
            *n += slowlog_copy(&pool_mon(p, w)->slow, v + *n, cap - *n);
    return v;
}

uint64_t monitor_pool_slowlog_len(struct redis_pool *p)
{
    uint64_t n = 0;

    for (int w = 0; w < p->w->d->cfg.threads; w++)
        if (pool_mon(p, w) != NULL)
            n += slowlog_len(&pool_mon(p, w)->slow);
    return n;
}

void monitor_pool_slowlog_reset(struct redis_pool *p)
{
    for (int w = 0; w < p->w->d->cfg.threads; w++)
        if (pool_mon(p, w) != NULL)
            slowlog_reset(&pool_mon(p, w)->slow);
}
