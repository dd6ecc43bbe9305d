/* SPDX-License-Identifier: Apache-2.0 */
/* redis_tracking.c — redis mode: a tracking client's connections of its own, and its invalidations. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend.h"
#include "log.h"
#include "redis_msg.h"
#include "redis_tracking.h"
#include "resp_append.h"
#include "worker.h"
#include "worker_ctx.h"

/*
 * A server tracks the keys a connection reads; behind a proxy the shared
 * connections read for everyone, so a tracking client's requests go on
 * connections of its own, one per server, with its CLIENT TRACKING ON
 * requests sent there.  What the servers push back passes on unchanged:
 *
 *   client (RESP3) --GET k--> own conn to s0 (TRACKING ON) --> s0
 *   client <--- >2 invalidate [k] --- own conn <--- s0 (k changed)
 *
 * REDIRECT names a coproxy client id, which no server knows: a RESP3
 * client's connections track without it and coproxy forwards their pushes
 * to the target; a RESP2 connection cannot carry pushes, so it redirects,
 * on the server, to a RESP3 connection of the client's own there (its
 * "sink"), whose pushes coproxy forwards.  The target gets them in its own
 * protocol: a push in RESP3, a __redis__:invalidate message in RESP2 if it
 * is subscribed (to anything, as Redis decides), else nothing.  A target on
 * another worker gets them at that worker's next turn.
 *
 * A connection lost forgets what it tracked: its target is told
 * "invalidate everything" (a null, as after FLUSHALL), and tracking is
 * turned on again on the next connection.
 */

static const char invalidate_push[] = ">2\r\n$10\r\ninvalidate\r\n";
static const char invalidate_message[] = "*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n";

/* ---- delivering invalidations -------------------------------------------- */

struct redis_client *tracking_find_client(struct worker *w, uint64_t id)
{
    for (int i = 0; i < w->d->cfg.npools; i++)
        for (struct redis_client *o = w->pools[i].redis != NULL ? w->pools[i].redis->clients : NULL; o != NULL;
             o = o->next)
            if (o->id == id)
                return o;
    return NULL;
}

/* p[0..n) (keys, or a null: all of them) to t in its protocol; bc: the
 * connection it came on, if t's own (it is written in that one's order). */
static void push_invalidation(struct worker *w, struct redis_client *t, const struct backend_conn *bc,
                              const char *p, size_t n)
{
    t->pushes = 1;   /* (idle, it waits for them from now on) */
    if (t->resp3)
        msg_push(w, t, bc, invalidate_push, sizeof invalidate_push - 1, p, n);
    else if (pubsub_subscribed(t) > 0)   /* Redis: a RESP2 target in subscribed mode */
        msg_push(w, t, bc, invalidate_message, sizeof invalidate_message - 1,
                 n == 3 && p[0] == '_' ? "$-1\r\n" : p, n == 3 && p[0] == '_' ? 5 : n);
}

/* An invalidation that reached client c's connection bc, for c's target. */
static void deliver(struct worker *w, struct redis_client *c, const struct backend_conn *bc, const char *p, size_t n)
{
    uint64_t target = c->trk != NULL && c->trk->redirect != 0 ? c->trk->redirect : c->id;
    struct redis_client *t;

    if (target == c->id) {
        push_invalidation(w, c, bc, p, n);   /* (a sink holds no request of c's) */
        return;
    }
    if (&w->d->workers[target % 1024 % (uint64_t)w->d->cfg.threads] != w) {
        if (worker_send_invalidation(w, target, p, n) != 0)
            log_error("pool %s: out of memory for an invalidation to client %llu: dropped", c->pool->conf->name,
                      (unsigned long long)target);
        return;
    }
    if ((t = tracking_find_client(w, target)) != NULL) {
        push_invalidation(w, t, NULL, p, n);
    } else if (c->resp3) {   /* as Redis tells a tracking client whose target left */
        char tail[40];
        int k = snprintf(tail, sizeof tail, ":%llu\r\n", (unsigned long long)target);
        static const char broken[] = ">2\r\n$21\r\ntracking-redir-broken\r\n";
        msg_push(w, c, NULL, broken, sizeof broken - 1, tail, (size_t)k);
    }
}

void tracking_deliver(struct worker *w, uint64_t id, const char *p, size_t n)
{
    struct redis_client *t = tracking_find_client(w, id);

    if (t != NULL)
        push_invalidation(w, t, NULL, p, n);
}

void tracking_push(struct worker *w, struct backend_conn *bc, const char *p, size_t n)
{
    struct redis_client *c = bc->tracker;
    size_t k = sizeof invalidate_push - 1;

    /* (the only push a tracking connection or a sink gets) */
    if (n > k && memcmp(p, invalidate_push, k) == 0)
        deliver(w, c, bc, p + k, n - k);
}

void tracking_lost(struct backend_conn *bc)
{
    struct redis_client *c = bc->tracker;

    if (bc->srv->retired)
        return;
    log_debug("pool %s: a tracking client's connection to server %s was lost: its keys are all invalidated",
              c->pool->conf->name, bc->srv->conf->name);
    deliver(c->w, c, bc, "_\r\n", 3);
}

/* ---- the client's connections ------------------------------------------- */

struct tracking_conn *tracking_entry(struct redis_tracking *trk, struct redis_server *s)
{
    for (uint32_t i = 0; i < trk->n; i++)
        if (trk->v[i].srv == s)
            return &trk->v[i];
    if (trk->n == trk->cap) {
        uint32_t cap = trk->cap ? 2 * trk->cap : 4;
        struct tracking_conn *v = realloc(trk->v, cap * sizeof *v);
        if (v == NULL)
            return NULL;
        trk->v = v;
        trk->cap = cap;
    }
    trk->v[trk->n] = (struct tracking_conn){ .srv = s };
    return &trk->v[trk->n++];
}

static const char *no_pin(struct redis_client *c)
{
    c->pool->stats->errors_refused++;
    return c->pool->conf->server_pinned_connections == 0
           ? "CLIENT TRACKING is off in this pool (server_pinned_connections = 0)"
           : "all pinned connections to the server are in use (server_pinned_connections); try again later";
}

/* Sends bytes[0..n) on bc as a request whose reply is dropped; 0 or -1. */
static int send_quiet(struct redis_client *c, struct backend_conn *bc, const char *bytes, size_t n)
{
    struct msg *m = msg_get(c->w);
    int err;

    if (m == NULL)
        return -1;
    m->internal = 2;
    m->server = bc->srv;
    m->refs = 1;
    err = backend_send_bytes(bc, m, bytes, n);
    msg_unref(c->w, m);
    return err;
}

/* SELECT of the client's database (-1: the pool's) on bc. */
static int select_db(struct redis_client *c, struct backend_conn *bc)
{
    char req[64];
    int db = c->db >= 0 ? c->db : c->pool->conf->redis_db;
    int n = snprintf(req, sizeof req, "*2\r\n$6\r\nSELECT\r\n$%d\r\n%d\r\n", snprintf(NULL, 0, "%d", db), db);

    return send_quiet(c, bc, req, (size_t)n);
}

void tracking_select(struct redis_client *c)
{
    for (uint32_t i = 0; i < c->trk->n; i++)
        if (c->trk->v[i].bc != NULL && select_db(c, c->trk->v[i].bc) != 0)
            c->trk->v[i].drops = c->trk->v[i].bc->drops - 1;   /* (set again on its next use) */
}

/* The sink of e (RESP2 with REDIRECT) connected, its id known: 0, or -1
 * with *why.  The client's coroutine waits for it (once per server). */
int tracking_sink_ready(struct redis_client *c, struct tracking_conn *e, const char **why)
{
    static const char ping[] = "*1\r\n$4\r\nPING\r\n";
    uint64_t deadline = worker_now_ms() + (uint64_t)c->pool->conf->server_timeout;

    if (e->sink == NULL) {
        if ((e->sink = backend_pin(c->w, e->srv, 1)) == NULL) {
            *why = no_pin(c);
            return -1;
        }
        e->sink->tracker = c;
    }
    if (e->sink->server_id != 0 && e->sink->state == BC_UP)
        return 0;
    e->sink->server_id = 0;   /* (a new connection is a new id) */
    if (e->sink->head == NULL && send_quiet(c, e->sink, ping, sizeof ping - 1) != 0) {   /* it connects */
        *why = "out of memory";
        return -1;
    }
    while (e->sink->server_id == 0 && worker_now_ms() < deadline)
        usleep(1000);   /* hooked: parks this coroutine only */
    if (e->sink->server_id == 0) {
        *why = "no connection for its invalidations (a server that does not answer CLIENT ID?)";
        return -1;
    }
    e->sink->tracked = 1;   /* connected: what it gets now are invalidations */
    return 0;
}

/* The server id that e's connection redirects to: its sink's (RESP2 with REDIRECT), else 0. */
int64_t tracking_sink_id(const struct redis_client *c, const struct tracking_conn *e)
{
    return c->trk->redirect != 0 && !c->resp3 && e->sink != NULL ? e->sink->server_id : 0;
}

/* One ON's request on e's connection, with REDIRECT to its sink (RESP2). */
int tracking_write_on(struct rbuf *out, const struct tracking_on *on, int64_t sink_id)
{
    static const char cmd[] = "$6\r\nCLIENT\r\n$8\r\nTRACKING\r\n$2\r\nON\r\n";
    char id[24];
    int err = resp_append_header(out, '*', (int64_t)on->argc + 3 + (sink_id != 0 ? 2 : 0));

    err = err ? err : rbuf_append(out, cmd, sizeof cmd - 1);
    err = err ? err : rbuf_append(out, on->args, on->len);
    if (sink_id != 0) {
        snprintf(id, sizeof id, "%lld", (long long)sink_id);
        err = err ? err : resp_append_bulk(out, "REDIRECT", 8);
        err = err ? err : resp_append_bulk(out, id, strlen(id));
    }
    return err;
}

/* Tracking turned on again on e's connection (new, or reconnected). */
static int replay(struct redis_client *c, struct tracking_conn *e, const char **why)
{
    struct redis_tracking *trk = c->trk;
    struct rbuf b = { 0 };
    int err = 0;

    e->drops = e->bc->drops;
    if (c->db >= 0 && select_db(c, e->bc) != 0) {
        *why = "out of memory";
        return -1;
    }
    if (trk->nons == 0)
        return 0;
    e->bc->tracked = 1;
    if (trk->redirect != 0 && !c->resp3 && tracking_sink_ready(c, e, why) != 0)
        return -1;
    e->sink_id = tracking_sink_id(c, e);
    for (uint32_t i = 0; i < trk->nons && err == 0; i++) {
        b.len = 0;
        err = tracking_write_on(&b, &trk->ons[i], e->sink_id) != 0 || send_quiet(c, e->bc, b.data, b.len) != 0;
    }
    rbuf_free(&b);
    if (err)
        *why = "out of memory";
    return err ? -1 : 0;
}

/* e's connection ready for a request: opened and tracking there. */
static struct backend_conn *conn_of(struct redis_client *c, struct tracking_conn *e, const char **why)
{
    if (e->bc == NULL) {
        if ((e->bc = backend_pin(c->w, e->srv, c->resp3)) == NULL) {
            *why = no_pin(c);
            return NULL;
        }
        e->bc->tracker = c;
        e->bc->movable = 1;
        e->drops = e->bc->drops - 1;   /* tracking to be turned on */
    }
    if (e->drops != e->bc->drops
        || (e->sink != NULL && (e->sink->server_id != e->sink_id || e->sink->state != BC_UP)
            && c->trk->redirect != 0 && !c->resp3)) {
        if (replay(c, e, why) != 0)
            return NULL;
    }
    e->used = 1;
    return e->bc;
}

struct backend_conn *tracking_conn(struct redis_client *c, struct redis_server *s, const char **why)
{
    struct tracking_conn *e = tracking_entry(c->trk, s);

    return e == NULL ? NULL : conn_of(c, e, why);
}

struct backend_conn *tracking_pick_now(struct redis_client *c, struct redis_server *s, struct msg *m)
{
    struct tracking_conn *e = tracking_entry(c->trk, s);
    struct backend_conn *bc;
    const char *why;

    if (e == NULL || (c->trk->redirect != 0 && !c->resp3
                      && (e->sink == NULL || e->sink->server_id == 0 || e->sink->state != BC_UP)))
        return NULL;   /* (its sink would be waited for) */
    if ((bc = conn_of(c, e, &why)) == NULL)
        return NULL;
    return backend_pick_pinned(c->w, bc, m);
}

void tracking_let_go(struct redis_client *c, struct backend_conn *bc)
{
    for (uint32_t i = 0; c->trk != NULL && i < c->trk->n; i++)
        if (c->trk->v[i].bc == bc) {
            c->trk->v[i].bc = NULL;   /* (a new one when next needed) */
            bc->tracker = NULL;
            deliver(c->w, c, NULL, "_\r\n", 3);   /* what it tracked is forgotten with it */
        }
}

struct backend_conn *tracking_pick(struct redis_client *c, struct redis_server *s, struct msg *m)
{
    struct tracking_conn *e = tracking_entry(c->trk, s);
    const char *why = "out of memory";
    struct backend_conn *bc;

    if (e == NULL || (bc = conn_of(c, e, &why)) == NULL) {
        m->server = s;
        msg_fail(c->w, m, "ERR coproxy: client tracking to server %s: %s", s->conf->name, why);
        return NULL;
    }
    return backend_pick_pinned(c->w, bc, m);
}

static void close_conn(struct worker *w, struct backend_conn **bc)
{
    if (*bc == NULL)
        return;
    (*bc)->tracker = NULL;   /* (its pushes, until it closes, are dropped) */
    backend_park(w, *bc);    /* closed once its replies are in */
    *bc = NULL;
}

void tracking_release(struct redis_client *c)
{
    struct redis_tracking *trk = c->trk;

    if (trk == NULL)
        return;
    for (uint32_t i = 0; i < trk->n; i++) {
        if (trk->v[i].bc != NULL && trk->v[i].bc == c->pin && c->pin_tracking == 1) {
            trk->v[i].bc->tracker = NULL;   /* a transaction's: closed when the client lets it go */
            trk->v[i].bc = NULL;
            c->pin_tracking = 2;
        }
        close_conn(c->w, &trk->v[i].bc);
        close_conn(c->w, &trk->v[i].sink);
    }
    for (uint32_t i = 0; i < trk->nons; i++)
        free(trk->ons[i].args);
    free(trk->v);
    free(trk);
    c->trk = NULL;
}

void tracking_after_request(struct redis_client *c)
{
    static const char ping[] = "*1\r\n$4\r\nPING\r\n";
    struct redis_tracking *trk = c->trk;

    if (trk->caching == 1) {
        /* the servers the request did not go to still hold CLIENT CACHING
         * for their next command: a PING (no key) uses it up */
        for (uint32_t i = 0; i < trk->n; i++)
            if (!trk->v[i].used && trk->v[i].bc != NULL && trk->v[i].drops == trk->v[i].bc->drops)
                send_quiet(c, trk->v[i].bc, ping, sizeof ping - 1);
    }
    if (trk->caching > 0)
        trk->caching--;
    for (uint32_t i = 0; i < trk->n; i++)
        trk->v[i].used = 0;
}

long long tracking_redirect(const struct redis_client *c)
{
    return c->trk == NULL ? -1 : (long long)c->trk->redirect;
}
