/* SPDX-License-Identifier: Apache-2.0 */
/* cluster.c — redis mode in front of a Redis Cluster: the slot map, redirects, retries. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "cluster.h"
#include "log.h"
#include "redis_msg.h"
#include "redis_tracking.h"
#include "redis_server.h"
#include "worker_ctx.h"

/*
 * Each worker keeps its own slot map: for each of the 16384 slots, the
 * node (a server of the pool) that is its master, and one of its replicas.
 * It comes from CLUSTER SLOTS, asked of a reachable node -- at start, then
 * every cluster_refresh_interval, and soon after a MOVED or a lost node,
 * one request in flight at a time.  Requests are sent by the map; each
 * keeps its bytes so that a redirect can send it again:
 *
 *   -MOVED slot host:port   the map changes for that slot now, the request
 *                           goes to the new owner, a refresh is asked for;
 *   -ASK slot host:port     ASKING then the request on that node, the map
 *                           unchanged (a slot being migrated);
 *   -TRYAGAIN, -CLUSTERDOWN the request waits a little and goes again, up
 *                           to its deadline;
 *   a lost connection       its requests wait for the map to name another
 *                           node (a replica promoted), up to their deadline.
 *
 * Redirects are counted per request: past cluster_max_redirects the client
 * gets an error instead of the redirect.
 */

#define NSLOTS 16384
#define RETRY_MS 50                  /* TRYAGAIN / CLUSTERDOWN / node lost: wait this long */
#define REFRESH_SOON_MS 100          /* after a MOVED or a lost node, at most this late */
#define REFRESH_TIMEOUT_MS 2000      /* a CLUSTER SLOTS unanswered this long is given up */

struct cluster {
    uint16_t master[NSLOTS];         /* node index + 1; 0: not known */
    uint16_t replica[NSLOTS];        /* a replica's index + 1; 0: none known */
    uint64_t next_refresh;           /* ms; 0: now */
    uint64_t refresh_deadline;       /* ms: the one in flight is given up then (0: none) */
    uint32_t ask_next;               /* round robin over the nodes asked for the map */
    struct msg *retry_head, **retry_tail;
    uint32_t nretry;
    /* figures for STATS */
    uint64_t epoch;                  /* maps applied */
    uint64_t refreshed_at;           /* ms of the last one applied */
    uint64_t refreshes, refresh_failures, moved, ask, retries;
};

struct cluster *cluster_new(void)
{
    struct cluster *cl = calloc(1, sizeof *cl);

    if (cl != NULL)
        cl->retry_tail = &cl->retry_head;
    return cl;
}

void cluster_free(struct cluster *cl)
{
    free(cl);
}

uint16_t cluster_slot(const char *key, size_t len)
{
    const char *open = memchr(key, '{', len);

    /* {tag}: the part between the first '{' and the first '}' after it, if not empty */
    if (open != NULL) {
        size_t at = (size_t)(open - key) + 1;
        const char *close = memchr(key + at, '}', len - at);
        if (close != NULL && close > key + at) {
            key += at;
            len = (size_t)(close - key);
        }
    }
    return (uint16_t)(hash_key(HASH_CRC16, key, len) & (NSLOTS - 1));
}

static void refresh_soon(struct cluster *cl)
{
    uint64_t soon = worker_now_ms() + REFRESH_SOON_MS;

    if (cl->next_refresh > soon)
        cl->next_refresh = soon;
}

struct redis_server *cluster_route(struct redis_pool *p, uint16_t slot, int read)
{
    struct cluster *cl = p->cluster;
    int read_from = p->conf->read_from;
    uint16_t i = cl->master[slot];

    if (read && read_from != 0 && cl->replica[slot] == 0 && cl->epoch > 0 && cl->next_refresh > worker_now_ms() + 1000)
        cl->next_refresh = worker_now_ms() + 1000;   /* replicas may have joined since: look again */
    if (read && read_from != 0 && cl->replica[slot] != 0) {
        struct redis_server *r = p->servers[cl->replica[slot] - 1];
        /* prefer_replica: a replica that is down gives way to the master */
        if (read_from == 1 || r->conns[0].state != BC_DOWN || r->conns[0].retry_at <= worker_now_ms())
            return r;
    }
    if (i == 0) {   /* not known yet: any node answers, with a MOVED if it must */
        for (int k = 0; k < p->nservers; k++)
            if (!p->servers[k]->cluster_replica && !p->servers[k]->cluster_absent)
                return p->servers[k];
        return p->nservers > 0 ? p->servers[0] : NULL;
    }
    return p->servers[i - 1];
}

/* The node at host:port, added to the pool when new. */
static struct redis_server *node_at(struct redis_pool *p, const char *host, size_t hlen, long port)
{
    struct server_conf *sc;
    char text[160], err[200];
    struct proxy_addr a;

    if (hlen == 0 || hlen > 100 || port <= 0 || port > 65535)
        return NULL;
    if (memchr(host, ':', hlen) != NULL)
        snprintf(text, sizeof text, "[%.*s]:%ld", (int)hlen, host, port);
    else
        snprintf(text, sizeof text, "%.*s:%ld", (int)hlen, host, port);
    if (addr_parse(text, &a, err, sizeof err) != 0)
        return NULL;
    for (int i = 0; i < p->nservers; i++)
        if (addr_equal(&p->servers[i]->conf->addr, &a))
            return p->servers[i];
    if (p->nservers >= 65535 || (sc = calloc(1, sizeof *sc)) == NULL)
        return NULL;
    snprintf(sc->name, sizeof sc->name, "%.63s", text);
    snprintf(sc->dist_name, sizeof sc->dist_name, "%.63s", text);
    sc->addr = a;
    sc->weight = 1;
    log_info("pool %s: cluster node %s joins the map", p->conf->name, text);
    return redis_server_add(p, sc);
}

/* Sends m (its bytes kept) to node s; ASKING first when asked to. */
static void send_to(struct worker *w, struct msg *m, struct redis_server *s, int asking)
{
    static const char ask[] = "*1\r\n$6\r\nASKING\r\n";
    struct redis_client *c = m->client != NULL ? m->client : m->parent != NULL ? m->parent->client : NULL;
    /* a tracking client's read is tracked by the node that answers it */
    struct backend_conn *bc = c != NULL && c->trk != NULL ? tracking_pick_now(c, s, m) : NULL;

    if (bc == NULL)
        bc = backend_pick(w, s, m, 0);

    if (bc == NULL)
        return;   /* failed with the reason */
    if (asking) {
        struct msg *am = msg_get(w);
        if (am == NULL) {
            msg_fail(w, m, "ERR coproxy: out of memory");
            return;
        }
        am->internal = 1;
        am->server = s;
        am->refs = 1;
        am->resp3 = m->resp3;   /* on the connection m takes: ASKING goes just before it */
        if (backend_send_bytes(bc, am, ask, sizeof ask - 1) != 0) {
            msg_unref(w, am);
            msg_fail(w, m, "ERR coproxy: out of memory");
            return;
        }
        msg_unref(w, am);   /* the connection's reference is the one left */
    }
    m->reply.len = 0;   /* (part of a long reply may have come before the connection was lost) */
    /* (the send copies the bytes out, then keeps them in m->req again) */
    backend_send_bytes(bc, m, m->req.data, m->req.len);
}

/* m waits on the retry list (taking a reference) until `at`. */
static void wait_retry(struct cluster *cl, struct msg *m, uint64_t at)
{
    m->refs++;
    m->retry_at = at;
    m->bnext = NULL;
    m->conn = NULL;
    *cl->retry_tail = m;
    cl->retry_tail = &m->bnext;
    cl->nretry++;
    cl->retries++;
}

static int wanted(const struct msg *m)
{
    return !m->done && (m->client != NULL || m->parent != NULL);
}

int cluster_redirect(struct worker *w, struct msg *m, const char *p, size_t n)
{
    struct redis_pool *pool = m->server->pool;
    struct cluster *cl = pool->cluster;
    int moved = n > 7 && memcmp(p, "-MOVED ", 7) == 0, ask = n > 5 && memcmp(p, "-ASK ", 5) == 0;
    char line[160], *host, *colon, *end;
    struct redis_server *s;
    long slot, port;

    if (!wanted(m) || m->req.len == 0)
        return -1;
    if ((n > 10 && memcmp(p, "-TRYAGAIN ", 10) == 0) || (n > 13 && memcmp(p, "-CLUSTERDOWN ", 13) == 0)) {
        uint64_t now = worker_now_ms();
        if (now + RETRY_MS >= m->deadline)
            return -1;   /* no time left: the client sees it */
        if (p[1] == 'C')
            refresh_soon(cl);
        wait_retry(cl, m, now + RETRY_MS);
        return 0;
    }
    if (!moved && !ask)
        return -1;
    snprintf(line, sizeof line, "%.*s", (int)(n < sizeof line ? n : sizeof line - 1), p);
    slot = strtol(line + (moved ? 7 : 5), &end, 10);
    host = end + (*end == ' ');
    colon = strrchr(host, ':');
    port = colon ? strtol(colon + 1, NULL, 10) : 0;
    if (colon == host) {   /* "-MOVED 3999 :6380": the node that answered knows no address for it: its own host */
        const char *own = m->server->conf->addr.text, *oc = strrchr(own, ':');
        host = (char *)own + (own[0] == '[');   /* "[v6]:port": the address without its brackets */
        colon = (char *)(own[0] == '[' ? strchr(own, ']') : oc ? oc : own);
    }
    if (slot < 0 || slot >= NSLOTS || colon == NULL
        || (s = node_at(pool, host, (size_t)(colon - host), port)) == NULL) {
        return -1;
    }
    if (++m->redirects > pool->conf->cluster_max_redirects) {
        msg_fail(w, m, "ERR coproxy: more than %d redirects for one request (the last: %.*s)",
                 pool->conf->cluster_max_redirects, (int)strcspn(line + 1, "\r\n"), line + 1);
        return 0;
    }
    if (moved) {
        cl->moved++;
        cl->master[slot] = (uint16_t)(s->index + 1);
        s->cluster_replica = s->cluster_absent = 0;
        refresh_soon(cl);
    } else {
        cl->ask++;
    }
    send_to(w, m, s, ask);
    return 0;
}

int cluster_lost(struct msg *m)
{
    struct cluster *cl = m->server->pool->cluster;

    if (!wanted(m) || m->req.len == 0 || worker_now_ms() + RETRY_MS >= m->deadline)
        return -1;
    refresh_soon(cl);
    wait_retry(cl, m, worker_now_ms() + RETRY_MS);
    return 0;
}

/* ---- the slot map ------------------------------------------------------------ */

/* A RESP value at p[0..n): its header's type and integer, and where its body starts. */
static int value_head(const char *p, size_t n, char *type, int64_t *v, size_t *body)
{
    if (n == 0 || resp_header_int(p, n, v, body) != 0)
        return -1;
    *type = p[0];
    return 0;
}

/* One node of a slot range: [ip, port, id, ...]; NULL if it cannot be used. */
static struct redis_server *parse_node(struct redis_pool *p, const char *q, size_t n, size_t *used)
{
    long len = resp_value_len(q, n);
    char type;
    int64_t cnt, iplen, port;
    size_t off, body;
    const char *ip;

    *used = 0;
    if (len < 0)
        return NULL;
    *used = (size_t)len;
    if (value_head(q, n, &type, &cnt, &off) != 0 || type != '*' || cnt < 2)
        return NULL;
    if (value_head(q + off, n - off, &type, &iplen, &body) != 0 || type != '$' || iplen < 0)
        return NULL;
    ip = q + off + body;
    off += body + (size_t)iplen + 2;
    if (value_head(q + off, n - off, &type, &port, &body) != 0 || type != ':')
        return NULL;
    return node_at(p, ip, (size_t)iplen, (long)port);
}

void cluster_map_reply(struct redis_pool *p, const char *reply, size_t n)
{
    struct cluster *cl = p->cluster;
    uint16_t *master = calloc(NSLOTS, sizeof *master), *replica = calloc(NSLOTS, sizeof *replica);
    uint8_t *role = NULL;
    int64_t nranges;
    size_t off;
    char type;
    int covered = 0;

    cl->refresh_deadline = 0;
    if (master == NULL || replica == NULL)
        goto fail;
    if (value_head(reply, n, &type, &nranges, &off) != 0 || type != '*' || nranges < 0)
        goto fail;
    for (int64_t r = 0; r < nranges; r++) {
        int64_t cnt, lo, hi;
        size_t body, used;
        struct redis_server *m = NULL, *rep = NULL;
        if (value_head(reply + off, n - off, &type, &cnt, &body) != 0 || type != '*' || cnt < 3)
            goto fail;
        off += body;
        if (value_head(reply + off, n - off, &type, &lo, &body) != 0 || type != ':')
            goto fail;
        off += body;
        if (value_head(reply + off, n - off, &type, &hi, &body) != 0 || type != ':')
            goto fail;
        off += body;
        for (int64_t k = 2; k < cnt; k++) {
            struct redis_server *s = parse_node(p, reply + off, n - off, &used);
            if (used == 0)
                goto fail;
            off += used;
            if (k == 2)
                m = s;
            else if (rep == NULL)
                rep = s;
        }
        if (lo < 0 || hi >= NSLOTS || lo > hi || m == NULL)
            continue;
        for (int64_t s = lo; s <= hi; s++) {
            master[s] = (uint16_t)(m->index + 1);
            replica[s] = rep ? (uint16_t)(rep->index + 1) : 0;
        }
        covered += (int)(hi - lo + 1);
    }
    if (covered == 0)
        goto fail;   /* a node that knows no slots (not joined yet): ask another */
    /* roles as this map says */
    if ((role = calloc((size_t)p->nservers + 1, 1)) == NULL)
        goto fail;
    for (int s = 0; s < NSLOTS; s++) {
        if (replica[s])
            role[replica[s] - 1] |= 2;
        if (master[s])
            role[master[s] - 1] |= 1;
    }
    for (int i = 0; i < p->nservers; i++) {
        p->servers[i]->cluster_replica = role[i] == 2;
        p->servers[i]->cluster_absent = role[i] == 0;   /* failed, or left the cluster */
    }
    memcpy(cl->master, master, sizeof cl->master);
    memcpy(cl->replica, replica, sizeof cl->replica);
    cl->epoch++;
    cl->refreshed_at = worker_now_ms();
    if (covered < NSLOTS)
        log_debug("pool %s: the cluster's slot map covers %d of %d slots", p->conf->name, covered, NSLOTS);
    free(master);
    free(replica);
    free(role);
    return;
fail:
    cl->refresh_failures++;
    if (cl->next_refresh > worker_now_ms() + 1000)
        cl->next_refresh = worker_now_ms() + 1000;   /* another node, soon */
    log_warn("pool %s: a CLUSTER SLOTS reply coproxy could not use (no slots, or malformed); the map is unchanged",
             p->conf->name);
    free(master);
    free(replica);
    free(role);
}

/* Asks a node for the map: the next one in turn whose connection is not backing off. */
static void refresh(struct redis_pool *p, uint64_t now)
{
    static const char ask[] = "*2\r\n$7\r\nCLUSTER\r\n$5\r\nSLOTS\r\n";
    struct cluster *cl = p->cluster;
    struct redis_server *s = NULL;
    struct backend_conn *bc;
    struct msg *m;

    for (int k = 0; k < p->nservers && s == NULL; k++) {
        struct redis_server *c = p->servers[(cl->ask_next + (uint32_t)k) % (uint32_t)p->nservers];
        if (!c->retired && (c->conns[0].state != BC_DOWN || c->conns[0].retry_at <= now))
            s = c;
    }
    cl->ask_next++;
    if (s == NULL || (m = msg_get(p->w)) == NULL)
        return;
    m->cluster_map = 1;
    m->refs = 1;
    m->deadline = UINT64_MAX;
    if ((bc = backend_pick(p->w, s, m, 0)) == NULL || backend_send_bytes(bc, m, ask, sizeof ask - 1) != 0) {
        msg_unref(p->w, m);
        return;
    }
    msg_unref(p->w, m);   /* the connection's reference is the one left */
    cl->refreshes++;
    cl->refresh_deadline = now + REFRESH_TIMEOUT_MS;
}

static int by_address(const void *a, const void *b)
{
    const struct redis_server *x = *(struct redis_server *const *)a, *y = *(struct redis_server *const *)b;

    return strcmp(x->conf->addr.text, y->conf->addr.text);
}

int cluster_masters(struct redis_pool *p, struct redis_server **out)
{
    uint8_t *owns = calloc((size_t)p->nservers + 1, 1);
    int n = 0;

    if (owns == NULL)
        return 0;
    for (int s = 0; s < NSLOTS; s++)
        owns[p->cluster->master[s]] = 1;   /* [0]: not known */
    for (int i = 0; i < p->nservers; i++)
        if (owns[i + 1])   /* a master of at least one slot */
            out[n++] = p->servers[i];
    free(owns);
    qsort(out, (size_t)n, sizeof *out, by_address);
    return n;
}

void cluster_map_failed(struct redis_pool *p)
{
    p->cluster->refresh_deadline = 0;
    p->cluster->refresh_failures++;
    p->cluster->next_refresh = worker_now_ms() + RETRY_MS;   /* another node, soon */
}

void cluster_tick(struct redis_pool *p, uint64_t now)
{
    struct cluster *cl = p->cluster;
    struct msg *list = cl->retry_head, *due;

    if (cl->refresh_deadline != 0 && now >= cl->refresh_deadline) {
        cl->refresh_deadline = 0;   /* unanswered: another node is asked */
        cl->refresh_failures++;
        cl->next_refresh = 0;
    }
    if (cl->refresh_deadline == 0 && now >= cl->next_refresh) {
        refresh(p, now);
        cl->next_refresh = now + (uint64_t)(p->conf->cluster_refresh_interval > 0 ? p->conf->cluster_refresh_interval
                                                                                 : 86400000);
    }
    /* the retry list, in order: what is due goes again by the map as it is now */
    cl->retry_head = NULL;
    cl->retry_tail = &cl->retry_head;
    cl->nretry = 0;
    while ((due = list) != NULL) {
        list = due->bnext;
        due->bnext = NULL;
        if (!wanted(due)) {
            msg_unref(p->w, due);
        } else if (now >= due->deadline) {
            msg_fail(p->w, due, "ERR coproxy: timeout: the cluster did not serve %s%d within %d ms",
                     due->slot1 ? "slot " : "node ", due->slot1 ? due->slot1 - 1 : due->server->index,
                     p->conf->server_timeout);
            msg_unref(p->w, due);
        } else if (now < due->retry_at) {
            wait_retry(cl, due, due->retry_at);
            cl->retries--;
            msg_unref(p->w, due);
        } else {
            struct redis_server *s = due->slot1 ? cluster_route(p, (uint16_t)(due->slot1 - 1), 0) : due->server;
            if (s != NULL && (s->conns[0].state != BC_DOWN || s->conns[0].retry_at <= now))
                send_to(p->w, due, s, 0);
            else   /* its node is still away: wait for the map to change */
                wait_retry(cl, due, now + RETRY_MS);
            msg_unref(p->w, due);
        }
    }
}

int cluster_stats_json(const struct redis_pool *p, struct rbuf *out)
{
    const struct cluster *cl = p->cluster;
    uint64_t now = worker_now_ms();
    uint32_t *slots = calloc((size_t)p->nservers + 1, sizeof *slots);
    int rc = slots == NULL ? -1 : rbuf_printf(out, "{\"epoch\":%llu,\"refreshed_ms_ago\":%lld,\"refreshes\":%llu,"
                         "\"refresh_failures\":%llu,\"moved\":%llu,\"ask\":%llu,\"retries\":%llu,"
                         "\"waiting\":%u,\"nodes\":[", (unsigned long long)cl->epoch,
                         cl->refreshed_at ? (long long)(now - cl->refreshed_at) : -1LL,
                         (unsigned long long)cl->refreshes, (unsigned long long)cl->refresh_failures,
                         (unsigned long long)cl->moved, (unsigned long long)cl->ask,
                         (unsigned long long)cl->retries, cl->nretry);

    for (int s = 0; s < NSLOTS && slots != NULL; s++)
        slots[cl->master[s]]++;   /* [0]: not known */
    for (int i = 0; i < p->nservers && rc == 0; i++)
        rc = rbuf_printf(out, "%s{\"addr\":\"%s\",\"role\":\"%s\",\"slots\":%u}", i ? "," : "",
                         p->servers[i]->conf->addr.text,
                         p->servers[i]->cluster_absent ? "absent" : p->servers[i]->cluster_replica ? "replica" : "master",
                         slots[i + 1]);
    free(slots);
    return rc != 0 ? rc : rbuf_printf(out, "]}");
}
