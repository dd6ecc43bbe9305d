/* redis_pool.c — a redis pool in one worker: its servers, where keys go, ejection of failing servers. */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "redis.h"
#include "worker.h"

/* Rebuilds the distribution over the servers not ejected now; notes when
 * the next ejected one comes back. */
static void rebuild(struct redis_pool *p, uint64_t now)
{
    p->next_rebuild = 0;
    for (int i = 0; i < p->nservers; i++) {
        struct redis_server *s = &p->servers[i];
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

struct redis_pool *redis_pool_new(struct worker *w, struct pool_rt *rt)
{
    const struct pool_conf *pc = rt->conf;
    struct redis_pool *p = calloc(1, sizeof *p);

    if (p == NULL)
        return NULL;
    p->w = w;
    p->rt = rt;
    p->conf = pc;
    p->nservers = pc->nservers;
    p->stats = &rt->stats;
    p->hash = (enum hash_kind)hash_parse(pc->hash);
    p->limits = (struct resp_limits){ .max_multibulk = pc->max_multibulk_length,
                                      .max_bulk = pc->max_bulk_length,
                                      .max_inline = pc->max_inline_length };
    p->servers = calloc((size_t)pc->nservers, sizeof *p->servers);
    p->dist_servers = calloc((size_t)pc->nservers, sizeof *p->dist_servers);
    if (p->servers == NULL || p->dist_servers == NULL)
        goto fail;
    for (int i = 0; i < pc->nservers; i++) {
        struct redis_server *s = &p->servers[i];
        s->pool = p;
        s->conf = &pc->servers[i];
        s->index = i;
        s->stats = &rt->server_stats[i];
        p->dist_servers[i] = (struct dist_server){ .name = pc->servers[i].dist_name,
                                                   .weight = pc->servers[i].weight, .live = 1 };
        s->conns = calloc((size_t)pc->server_connections, sizeof *s->conns);
        if (s->conns == NULL)
            goto fail;
        for (int k = 0; k < pc->server_connections; k++)
            if (backend_start(w, &s->conns[k], s) != 0)
                goto fail;
    }
    rebuild(p, worker_now_ms());
    if (p->dist.npoints == 0)
        goto fail;
    return p;
fail:
    log_error("pool %s: out of memory setting up its servers", pc->name);
    return NULL;   /* the worker fails to start: the process exits */
}

void redis_pool_reconfigure(struct redis_pool *p)
{
    const struct pool_conf *pc = p->conf;   /* the worker's copy, just replaced */

    p->hash = (enum hash_kind)hash_parse(pc->hash);
    p->limits = (struct resp_limits){ .max_multibulk = pc->max_multibulk_length,
                                      .max_bulk = pc->max_bulk_length,
                                      .max_inline = pc->max_inline_length };
    for (int i = 0; i < p->nservers; i++) {
        p->servers[i].conf = &pc->servers[i];
        p->dist_servers[i].name = pc->servers[i].dist_name;
        p->dist_servers[i].weight = pc->servers[i].weight;
    }
    rebuild(p, worker_now_ms());   /* new weights, distribution or hash: keys move now */
}

struct redis_server *redis_pool_route(struct redis_pool *p, const char *key, size_t len)
{
    size_t part_len;
    const char *part;
    int i;

    if (p->next_rebuild != 0 && worker_now_ms() >= p->next_rebuild)
        rebuild(p, worker_now_ms());
    part = hash_tag_part(p->conf->hash_tag, key, len, &part_len);
    i = dist_pick(&p->dist, hash_key(p->hash, part, part_len));
    return i < 0 ? NULL : &p->servers[i];
}

void redis_server_failed(struct redis_server *s)
{
    struct redis_pool *p = s->pool;
    uint64_t now;

    s->stats->failures++;
    if (!p->conf->auto_eject_hosts || s->ejected_until != 0)
        return;
    if (++s->failures < p->conf->server_failure_limit)
        return;
    now = worker_now_ms();
    s->ejected_until = now + (uint64_t)p->conf->server_retry_timeout;
    s->stats->ejections++;
    s->stats->ejected = 1;
    log_warn("pool %s: server %s (%s) ejected for %d ms after %d failures in a row", p->conf->name,
             s->conf->name, s->conf->addr.text, p->conf->server_retry_timeout, s->failures);
    rebuild(p, now);
}

void redis_pool_trim(struct redis_pool *p)
{
    for (int i = 0; i < p->nservers; i++) {
        for (int k = 0; k < p->conf->server_connections; k++) {
            struct backend_conn *bc = &p->servers[i].conns[k];
            if (bc->out.len == 0)
                rbuf_free(&bc->out);
        }
    }
}
