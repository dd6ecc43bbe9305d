/* SPDX-License-Identifier: Apache-2.0 */
/* redis_pool.c — a redis pool in one worker: its servers, where keys go, ejection of failing servers. */
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "cluster.h"
#include "log.h"
#include "redis_pool.h"
#include "redis_pubsub.h"
#include "redis_tracking.h"
#include "redis_server.h"
#include "worker_ctx.h"

/* Rebuilds the distribution over the servers not ejected now; notes when
 * the next ejected one comes back. */
void redis_pool_rebuild(struct redis_pool *p, uint64_t now)
{
    p->next_rebuild = 0;
    for (int i = 0; i < p->nservers; i++) {
        struct redis_server *s = p->servers[i];
        if (s->ejected_until != 0 && s->ejected_until <= now) {
            s->ejected_until = 0;
            s->stats->ejected = 0;
            s->failures = 0;
            log_info("pool %s: server %s (%s) back in the distribution after %d ms", p->conf->name,
                     s->conf->name, s->conf->addr.text, p->conf->server_retry_timeout);
        }
        p->dist_servers[i].live = s->ejected_until == 0;
        if (s->ejected_until != 0 && (p->next_rebuild == 0 || s->ejected_until < p->next_rebuild))
            p->next_rebuild = s->ejected_until;
    }
    if (dist_build(&p->dist, (enum dist_kind)dist_parse(p->conf->distribution), p->dist_servers,
                   p->nservers) != 0)
        log_error("pool %s: out of memory rebuilding the distribution", p->conf->name);
}

/* The pool's hash and request limits, from its settings (at start and on reload). */
static void take_settings(struct redis_pool *p)
{
    const struct pool_conf *pc = p->conf;

    p->hash = (enum hash_kind)hash_parse(pc->hash);
    p->limits = (struct resp_limits){ .max_multibulk = pc->max_multibulk_length,
                                      .max_bulk = pc->max_bulk_length,
                                      .max_inline = pc->max_inline_length };
    p->slow_us = pc->slowlog_slower_than < 0 ? UINT64_MAX : (uint64_t)pc->slowlog_slower_than;
    p->big_bytes = pc->bigkey_threshold == 0 ? UINT64_MAX : pc->bigkey_threshold;
    p->hotkeys_on = (uint8_t)pc->hotkeys;
}

/* A failure talking to s (connect, connection lost, timeout): counts
 * towards ejection when auto_eject_hosts is on. */
static void redis_pool_server_failed(struct redis_server *s)
{
    struct redis_pool *p = s->pool;
    uint64_t now;

    s->stats->failures++;
    if (!p->conf->auto_eject_hosts || p->cluster != NULL || s->ejected_until != 0)
        return;
    if (++s->failures < p->conf->server_failure_limit)
        return;
    now = worker_now_ms();
    s->ejected_until = now + (uint64_t)p->conf->server_retry_timeout;
    s->stats->ejections++;
    s->stats->ejected = 1;
    log_warn("pool %s: server %s (%s) ejected for %d ms after %d failures in a row", p->conf->name,
             s->conf->name, s->conf->addr.text, p->conf->server_retry_timeout, s->failures);
    redis_pool_rebuild(p, now);
}

/* What the pool's backend connections call back (see struct backend_ops). */
static const struct backend_ops pool_ops = {
    .push = redis_pubsub_message, .idle = redis_pubsub_idle, .lost = redis_pubsub_lost, .failed = redis_pool_server_failed,
    .tracked_push = tracking_push, .tracked_lost = tracking_lost,
};
static const struct backend_ops cluster_pool_ops = {
    .error_reply = cluster_redirect, .unsent = cluster_lost, .map_reply = cluster_map_reply,
    .map_failed = cluster_map_failed, .push = redis_pubsub_message, .idle = redis_pubsub_idle,
    .lost = redis_pubsub_lost, .failed = redis_pool_server_failed, .keeps_requests = 1,
    .tracked_push = tracking_push, .tracked_lost = tracking_lost,
};

struct redis_pool *redis_pool_new(struct worker *w, struct pool_rt *rt)
{
    const struct pool_conf *pc = rt->conf;
    struct redis_pool *p = calloc(1, sizeof *p);

    if (p == NULL)
        return NULL;
    p->w = w;
    p->rt = rt;
    p->ops = &pool_ops;
    p->conf = pc;
    p->nservers = pc->nservers;
    p->stats = &rt->stats;
    take_settings(p);
    p->servers = calloc((size_t)pc->nservers, sizeof *p->servers);
    p->dist_servers = calloc((size_t)pc->nservers, sizeof *p->dist_servers);
    if (p->servers == NULL || p->dist_servers == NULL)
        goto fail;
    for (int i = 0; i < pc->nservers; i++) {
        if ((p->servers[i] = redis_server_new(p, &pc->servers[i], i)) == NULL)
            goto fail;
        p->dist_servers[i] = (struct dist_server){ .name = pc->servers[i].dist_name,
                                                   .weight = pc->servers[i].weight, .live = 1 };
    }
    if (strcmp(pc->distribution, "cluster") == 0) {   /* the servers are seeds: the map says the rest */
        /* (no distribution: its names would point into a list a reload frees) */
        memset(p->dist_servers, 0, (size_t)pc->nservers * sizeof *p->dist_servers);
        if ((p->cluster = cluster_new()) == NULL)
            goto fail;
        p->ops = &cluster_pool_ops;
        return p;
    }
    redis_pool_rebuild(p, worker_now_ms());
    if (p->dist.npoints == 0)
        goto fail;
    return p;
fail:
    log_error("pool %s: out of memory setting up its servers", pc->name);
    return NULL;   /* the worker fails to start: the process exits */
}

/* s leaves the pool's list, which a later reload frees: it keeps a copy of
 * its settings, or (out of memory) the list's generation is held for good. */
static void leave_list(struct redis_pool *p, struct redis_server *s)
{
    if (redis_server_own_conf(s) != 0)
        conf_pins_hold(&p->w->pins, p->rt->conf_gen);   /* (the worker moves it on after us) */
}

int redis_pool_reconfigure(struct redis_pool *p)
{
    const struct pool_conf *pc = p->conf;   /* the worker's copy, just replaced */
    struct redis_server **servers = calloc((size_t)pc->nservers, sizeof *servers);
    struct dist_server *ds = calloc((size_t)pc->nservers, sizeof *ds);
    char *taken = calloc((size_t)p->nservers, 1);
    struct dist nd = { 0 };
    int fresh = 0;

    if (p->cluster != NULL) {   /* the nodes come from the map; seeds keep their settings */
        free(servers);
        free(ds);
        free(taken);
        for (int i = 0; i < p->nservers; i++) {
            struct redis_server *s = p->servers[i];
            if (s->own_conf != NULL)
                continue;
            if (i < pc->nservers && config_server_same(s->conf, &pc->servers[i]))
                s->conf = &pc->servers[i];
            else
                leave_list(p, s);   /* a seed no more: a node like the others */
        }
        take_settings(p);
        return 0;
    }
    if (servers == NULL || ds == NULL || taken == NULL)
        goto oom;
    /* a server with the same name and address keeps its object: its
     * connections, queued requests and counters */
    for (int i = 0; i < pc->nservers; i++) {
        for (int j = 0; j < p->nservers && servers[i] == NULL; j++)
            if (!taken[j] && config_server_same(p->servers[j]->conf, &pc->servers[i])) {
                servers[i] = p->servers[j];
                taken[j] = 1;
            }
        if (servers[i] == NULL) {
            if ((servers[i] = redis_server_new(p, &pc->servers[i], i)) == NULL)
                goto oom;   /* (servers made so far stay parked: out of memory anyway) */
            fresh++;
        }
    }
    for (int i = 0; i < pc->nservers; i++)
        ds[i] = (struct dist_server){ .name = pc->servers[i].dist_name, .weight = pc->servers[i].weight,
                                      .live = servers[i]->ejected_until == 0 };
    /* the new distribution first: the old one's points index the old list */
    if (dist_build(&nd, (enum dist_kind)dist_parse(pc->distribution), ds, pc->nservers) != 0)
        goto oom;
    for (int i = 0; i < pc->nservers; i++) {
        servers[i]->conf = &pc->servers[i];
        servers[i]->index = i;
    }
    for (int j = 0; j < p->nservers; j++) {   /* the ones not taken were removed */
        struct redis_server *s = p->servers[j];
        if (taken[j])
            continue;
        s->retired = 1;
        for (int k = 0; k < p->conf->server_connections; k++) {
            backend_retire(p->w, &s->conns[k]);
            if (s->conns3 != NULL)
                backend_retire(p->w, &s->conns3[k]);
        }
        for (struct backend_conn *bc = s->pinned_free; bc; bc = bc->next_free)
            backend_retire(p->w, bc);   /* (a held one closes when its client lets go) */
        for (struct backend_conn *bc = s->pinned_free3; bc; bc = bc->next_free)
            backend_retire(p->w, bc);
        for (int k = 0; k < 2; k++)
            if (s->spare[k] != NULL)
                backend_retire(p->w, s->spare[k]);
        leave_list(p, s);
        log_info("pool %s: server %s (%s) removed by a reload", pc->name, s->conf->name, s->conf->addr.text);
    }
    if (fresh)
        log_info("pool %s: %d server(s) added by a reload", pc->name, fresh);
    free(taken);
    free(p->servers);
    free(p->dist_servers);
    dist_free(&p->dist);
    p->dist = nd;
    p->servers = servers;
    p->dist_servers = ds;
    p->nservers = pc->nservers;
    take_settings(p);
    redis_pool_rebuild(p, worker_now_ms());   /* ejections due back; on failure nd stands, and fits */
    return 0;
oom:
    log_error("pool %s: out of memory for the new server list; keeping the old one", pc->name);
    free(servers);
    free(ds);
    free(taken);
    return -1;
}


void redis_pool_trim(struct redis_pool *p)
{
    for (int i = 0; i < p->nservers; i++) {
        for (int k = 0; k < p->conf->server_connections; k++) {
            backend_trim(&p->servers[i]->conns[k]);
            if (p->servers[i]->conns3 != NULL)
                backend_trim(&p->servers[i]->conns3[k]);
        }
    }
}
