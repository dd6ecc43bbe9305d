/* SPDX-License-Identifier: Apache-2.0 */
/* worker_publish.c — what a worker shows other threads: its counters copied for
 * the admin thread, and its clients' CLIENT LIST lines for another worker. */
#include <stdlib.h>
#include <string.h>

#include "cluster.h"
#include "config_file.h"
#include "rbuf.h"
#include "redis_local.h"
#include "worker_publish.h"

/* Copies the counters where the admin thread reads them: a lock taken ten
 * times a second by the worker, never on the request path. */
void worker_publish_counters(struct worker *w, uint64_t now)
{
    int np = w->d->cfg.npools;

    if (w->snap_pools == NULL)
        return;
    pthread_mutex_lock(&w->snap_lock);
    w->snap_co = co_get_counters();
    for (int i = 0; i < np; i++) {
        struct pool_rt *p = &w->pools[i];
        int n = p->conf->nservers;
        w->snap_pools[i] = p->stats;
        if (n != w->snap_nservers[i]) {   /* a reload changed the list */
            struct server_stats *grown = realloc(w->snap_servers[i], (size_t)n * sizeof *grown);
            if (grown == NULL) {
                w->snap_nservers[i] = 0;   /* reads as zeros rather than overrun */
                if (w->snap_conf[i] != NULL)
                    conf_pins_drop(&w->pins, p->snap_gen);
                w->snap_conf[i] = NULL;
                continue;
            }
            w->snap_servers[i] = grown;
            w->snap_nservers[i] = n;
        }
        /* the admin thread reads the list it is given until the next
         * publication: its configuration generation is held until then */
        if (w->snap_conf[i] == NULL || p->snap_gen != p->conf_gen) {
            conf_pins_hold(&w->pins, p->conf_gen);
            if (w->snap_conf[i] != NULL)
                conf_pins_drop(&w->pins, p->snap_gen);
            p->snap_gen = p->conf_gen;
        }
        w->snap_conf[i] = p->conf->servers;   /* which servers, in which order */
        for (int k = 0; k < n; k++) {   /* a redis server keeps its counters in itself */
            if (p->redis == NULL)
                w->snap_servers[i][k] = p->server_stats[k];
            else if (k < p->redis->nservers)
                w->snap_servers[i][k] = *p->redis->servers[k]->stats;
            else   /* a cluster seed a reload added: the pool takes seeds from the map, not the list */
                memset(&w->snap_servers[i][k], 0, sizeof w->snap_servers[i][k]);
        }
        if (p->redis != NULL && p->redis->cluster != NULL
            && (w->snap_cluster != NULL || (w->snap_cluster = calloc((size_t)np, sizeof *w->snap_cluster)) != NULL)) {
            w->snap_cluster[i].len = 0;
            if (cluster_stats_json(p->redis, &w->snap_cluster[i]) != 0)
                w->snap_cluster[i].len = 0;
        }
    }
    w->snap_at = now;
    pthread_mutex_unlock(&w->snap_lock);
}

/* Is gen among the n generations in v? */
static int gen_in(const unsigned *v, int n, unsigned gen)
{
    for (int i = 0; i < n; i++)
        if (v[i] == gen)
            return 1;
    return 0;
}

/* Has the worker published just the generations it holds now?  (It is the
 * one that writes them: it reads them without the lock.) */
static int held_published(const struct worker *w)
{
    int np = w->d->cfg.npools;

    if (w->held_all != w->pins.lost)
        return 0;
    for (int i = 0; i < np; i++)
        if (!gen_in(w->held, w->nheld, w->pools[i].conf_gen))
            return 0;
    for (int i = 0; i < w->pins.n; i++)
        if (!gen_in(w->held, w->nheld, w->pins.v[i].gen))
            return 0;
    for (int k = 0; k < w->nheld; k++) {
        int found = 0;
        for (int i = 0; i < np && !found; i++)
            found = w->pools[i].conf_gen == w->held[k];
        for (int i = 0; i < w->pins.n && !found; i++)
            found = w->pins.v[i].gen == w->held[k];
        if (!found)
            return 0;
    }
    return 1;
}

void worker_publish_held(struct worker *w)
{
    int np = w->d->cfg.npools, need = np + w->pins.n;

    w->pins.changed = 0;
    if (held_published(w))   /* the usual case: a connection came or went in the current generation */
        return;
    pthread_mutex_lock(&w->snap_lock);
    if (need > w->cap_held) {
        unsigned *grown = realloc(w->held, (size_t)need * sizeof *grown);
        if (grown == NULL) {
            w->held_all = 1;   /* main frees nothing meanwhile */
            w->pins.changed = 1;   /* the next turn tries again */
            pthread_mutex_unlock(&w->snap_lock);
            return;
        }
        w->held = grown;
        w->cap_held = need;
    }
    w->nheld = 0;
    for (int i = 0; i < np; i++)
        w->held[w->nheld++] = w->pools[i].conf_gen;
    for (int i = 0; i < w->pins.n; i++)
        w->held[w->nheld++] = w->pins.v[i].gen;
    w->held_all = (uint8_t)w->pins.lost;
    pthread_mutex_unlock(&w->snap_lock);
}

int worker_holds(struct worker *w, unsigned gen)
{
    int held;

    pthread_mutex_lock(&w->snap_lock);
    held = w->held_all;
    for (int i = 0; i < w->nheld && !held; i++)
        held = w->held[i] == gen;
    pthread_mutex_unlock(&w->snap_lock);
    return held;
}

int worker_cluster_json(struct worker *w, int pool, struct rbuf *out)
{
    int rc;

    pthread_mutex_lock(&w->snap_lock);
    if (w->snap_cluster != NULL && w->snap_cluster[pool].len > 0)
        rc = rbuf_append(out, w->snap_cluster[pool].data, w->snap_cluster[pool].len);
    else
        rc = rbuf_append(out, "null", 4);
    pthread_mutex_unlock(&w->snap_lock);
    return rc;
}

void worker_snapshot(struct worker *w, struct co_counters *co, struct pool_stats *pools,
                     struct server_stats **servers)
{
    pthread_mutex_lock(&w->snap_lock);
    *co = w->snap_co;
    for (int i = 0; i < w->d->cfg.npools; i++) {
        const struct pool_conf *pc = &w->d->cfg.pools[i];
        const struct server_conf *have = w->snap_conf ? w->snap_conf[i] : NULL;
        int n = w->snap_pools ? w->snap_nservers[i] : 0;
        pools[i] = w->snap_pools ? w->snap_pools[i] : (struct pool_stats){ 0 };
        memset(servers[i], 0, (size_t)pc->nservers * sizeof *servers[i]);
        if (have == NULL)
            continue;
        if (have == pc->servers && n == pc->nservers) {   /* the same list: the usual case */
            memcpy(servers[i], w->snap_servers[i], (size_t)n * sizeof *servers[i]);
            continue;
        }
        /* a reload the worker has yet to take: its counters, matched by server */
        for (int j = 0; j < pc->nservers; j++)
            for (int k = 0; k < n; k++)
                if (config_server_same(&have[k], &pc->servers[j])) {
                    servers[i][j] = w->snap_servers[i][k];
                    break;
                }
    }
    pthread_mutex_unlock(&w->snap_lock);
}

/* Another worker asked for this one's CLIENT LIST lines. */
void worker_publish_clients(struct worker *w)
{
    pthread_mutex_lock(&w->snap_lock);
    if (w->list_out == NULL)
        w->list_out = calloc((size_t)w->d->cfg.npools, sizeof *w->list_out);
    for (int i = 0; w->list_out != NULL && i < w->d->cfg.npools; i++) {
        w->list_out[i].len = 0;
        if (w->pools[i].redis != NULL && local_client_list(w->pools[i].redis, &w->list_out[i]) != 0)
            w->list_out[i].len = 0;
    }
    w->list_done = w->list_req;
    pthread_mutex_unlock(&w->snap_lock);
}

void worker_publish_init(struct worker *w)
{
    if ((w->snap_nservers = calloc((size_t)w->d->cfg.npools, sizeof *w->snap_nservers)) != NULL
        && (w->snap_conf = calloc((size_t)w->d->cfg.npools, sizeof *w->snap_conf)) != NULL
        && (w->snap_servers = calloc((size_t)w->d->cfg.npools, sizeof *w->snap_servers)) != NULL) {
        int all = 1;
        for (int i = 0; i < w->d->cfg.npools; i++) {
            w->snap_nservers[i] = w->confs[i].nservers;
            w->snap_servers[i] = calloc((size_t)w->confs[i].nservers, sizeof *w->snap_servers[i]);
            all &= w->snap_servers[i] != NULL;
        }
        if (all)   /* set last: publishing starts only with every array in place */
            w->snap_pools = calloc((size_t)w->d->cfg.npools, sizeof *w->snap_pools);
    }
}

void worker_publish_fini(struct worker *w)
{
    pthread_mutex_lock(&w->snap_lock);
    for (int i = 0; w->list_out != NULL && i < w->d->cfg.npools; i++)
        rbuf_free(&w->list_out[i]);
    free(w->list_out);
    w->list_out = NULL;
    free(w->kill_ids);
    w->kill_ids = NULL;
    rbuf_free(&w->inval);
    w->nkill = w->cap_kill = 0;
    for (int i = 0; w->snap_cluster != NULL && i < w->d->cfg.npools; i++)
        rbuf_free(&w->snap_cluster[i]);
    free(w->snap_cluster);
    w->snap_cluster = NULL;
    free(w->held);
    w->held = NULL;
    w->nheld = w->cap_held = 0;
    w->held_all = 1;   /* (no reload comes now: main is stopping) */
    pthread_mutex_unlock(&w->snap_lock);
}

void worker_publish_kills(struct worker *w)
{
    pthread_mutex_lock(&w->snap_lock);
    for (uint32_t k = 0; k < w->nkill; k++)
        for (int i = 0; i < w->d->cfg.npools; i++)
            if (w->pools[i].redis != NULL)
                local_kill(w->pools[i].redis, w->kill_ids[k]);
    __atomic_store_n(&w->nkill, 0, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&w->snap_lock);
}
