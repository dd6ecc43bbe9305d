/* SPDX-License-Identifier: Apache-2.0 */
/* redis_pubsub.c — redis mode: SUBSCRIBE and kin, on connections of the subscriber's own. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "backend.h"
#include "log.h"
#include "redis_msg.h"
#include "redis_pubsub.h"
#include "redis_reply.h"
#include "redis_route.h"
#include "resp_append.h"
#include "worker.h"

/*
 * A subscribed client holds a pinned connection to each server it listens
 * on: a channel's server (the channel name routes as a key, so PUBLISH of
 * that channel meets it there), and every server for a pattern.  Each such
 * connection is in Redis's subscribed mode for this one client, so what the
 * servers count (PUBLISH's receivers, PUBSUB NUMSUB) stays exact.
 *
 * Messages pass on as the server wrote them.  Confirmations are made here
 * with the client's own count over all its servers, and written once every
 * server concerned has acknowledged, so a PUBLISH after the client saw the
 * confirmation reaches it.  A message that arrives on a connection before
 * the acknowledgement of something sent earlier on it is written before
 * that reply, as one server would order them.  When one of these
 * connections is lost its subscriptions are gone: the client is closed, and
 * its library reconnects and subscribes again.
 */

static int find_name(const struct sub_names *s, const char *p, size_t len)
{
    for (uint32_t i = 0; i < s->n; i++)
        if (s->v[i].len == len && memcmp(s->v[i].name, p, len) == 0)
            return (int)i;
    return -1;
}

static int add_name(struct sub_names *s, const char *p, size_t len, uint32_t pin)
{
    char *copy;

    if (s->n == s->cap) {
        uint32_t cap = s->cap ? s->cap * 2 : 4;
        struct sub_name *v = realloc(s->v, cap * sizeof *v);
        if (v == NULL)
            return -1;
        s->v = v;
        s->cap = cap;
    }
    if ((copy = malloc(len + 1)) == NULL)
        return -1;
    memcpy(copy, p, len);
    copy[len] = '\0';
    s->v[s->n++] = (struct sub_name){ copy, (uint32_t)len, pin };
    return 0;
}

/* Removes entry i, keeping the order (UNSUBSCRIBE with no argument answers in it). */
static void remove_name(struct sub_names *s, uint32_t i)
{
    free(s->v[i].name);
    memmove(&s->v[i], &s->v[i + 1], (s->n - i - 1) * sizeof *s->v);
    s->n--;
}

/* The client's connection to srv, taken from the server's pinned pool on
 * first use; NULL after m failed with the reason. */
static struct sub_pin *pin_for(struct redis_client *c, struct redis_server *srv, struct msg *m)
{
    struct redis_pubsub *ps = c->ps;
    struct sub_pin *pin = NULL;

    for (uint32_t i = 0; i < ps->npins && pin == NULL; i++)
        if (ps->pins[i].srv == srv)
            pin = &ps->pins[i];
    if (pin == NULL) {
        if (ps->npins == ps->cap_pins) {
            uint32_t cap = ps->cap_pins ? ps->cap_pins * 2 : 2;
            struct sub_pin *v = realloc(ps->pins, cap * sizeof *v);
            if (v == NULL) {
                msg_fail(c->w, m, "ERR coproxy: out of memory");
                return NULL;
            }
            ps->pins = v;
            ps->cap_pins = cap;
        }
        pin = &ps->pins[ps->npins++];
        *pin = (struct sub_pin){ .srv = srv };
    }
    if (pin->bc == NULL) {
        if ((pin->bc = backend_pin(c->w, srv, c->resp3)) == NULL) {
            c->pool->stats->errors_refused++;
            if (c->pool->conf->server_pinned_connections == 0)
                msg_fail(c->w, m, "ERR coproxy: pub/sub is off in pool %s (server_pinned_connections = 0)",
                         c->pool->conf->name);
            else
                msg_fail(c->w, m, "ERR coproxy: all %d pinned connections to server %s are in use "
                         "(server_pinned_connections); try again later",
                         c->pool->conf->server_pinned_connections, srv->conf->name);
            return NULL;
        }
        pin->bc->subscriber = c;
    }
    return pin;
}

/* A connection the client no longer listens on goes back to the pool: clean
 * once the server has acknowledged everything (it left subscribed mode),
 * closed otherwise. */
static void give_back(struct redis_client *c, struct sub_pin *pin, int force)
{
    struct backend_conn *bc = pin->bc;
    int subscribed = pin->nchannels > 0 || c->ps->patterns.n > 0 || pin->dirty;

    if (bc == NULL || (!force && (subscribed || bc->head != NULL)))
        return;   /* still listening, or when its last acknowledgement comes (redis_pubsub_idle) */
    bc->subscriber = NULL;
    pin->bc = NULL;
    pin->dirty = 0;
    backend_unpin(c->w, bc, subscribed || bc->head != NULL);
}

/* Out of memory half-way through a (un)subscription: what the servers hold
 * for the client is no longer known, so the client goes, and its
 * connections are closed rather than given back. */
static void lost_track(struct redis_client *c)
{
    for (uint32_t i = 0; i < c->ps->npins; i++)
        c->ps->pins[i].dirty = 1;
    c->closing = 1;
    msg_wake_client(c);
}

/* ["<kind>", name, count] as Redis confirms a (un)subscription (name NULL:
 * nil): an array in RESP2, a push in RESP3. */
static int make_confirmation(struct rbuf *b, int resp3, const char *kind, const char *name, size_t len,
                             uint32_t count)
{
    char num[RESP_INT_MAX_LEN];

    if (resp_append_header(b, resp3 ? '>' : '*', 3) != 0 || resp_append_bulk(b, kind, strlen(kind)) != 0)
        return -1;
    if (name == NULL ? rbuf_append(b, resp3 ? "_\r\n" : "$-1\r\n", resp3 ? 3 : 5) != 0
                     : resp_append_bulk(b, name, len) != 0)
        return -1;
    return rbuf_append(b, num, resp_write_int(num, ':', count));
}

/* A confirmation written at once (nothing to ask a server). */
static void confirm_now(struct redis_client *c, const char *kind, const char *name, size_t len, uint32_t count)
{
    struct rbuf b = { 0 };

    if (make_confirmation(&b, c->resp3, kind, name, len, count) != 0)
        reply_error(c, "ERR coproxy: out of memory");
    else
        reply_raw(c, b.data, b.len);
    rbuf_free(&b);
}

/* One (UN)SUBSCRIBE command for a name: "*2 <cmd> <name>". */
struct subscribe_req {
    const char *cmd;
    const char *name;
    size_t len;
};

static int write_subscribe(struct rbuf *out, const void *arg)
{
    const struct subscribe_req *sr = arg;
    int err = resp_append_header(out, '*', 2);

    err = err ? err : resp_append_bulk(out, sr->cmd, strlen(sr->cmd));
    return err ? err : resp_append_bulk(out, sr->name, sr->len);
}

/*
 * m waits for `cmd name` on the pins (all of them held, or just `only`):
 * one fragment per connection, acknowledged in order with what was sent
 * there before.  m's reply is made already (MERGE_KEEP).
 */
static void send_to_pins(struct redis_client *c, struct msg *m, const char *cmd, const char *name, size_t len,
                         struct sub_pin *only)
{
    struct redis_pubsub *ps = c->ps;
    uint32_t n = 0;

    m->merge = MERGE_KEEP;
    for (uint32_t i = 0; i < ps->npins; i++)
        n += ps->pins[i].bc != NULL && (only == NULL || only == &ps->pins[i]);
    if (n == 0) {
        msg_finish(c->w, m);
        return;
    }
    if ((m->frags = calloc(n, sizeof *m->frags)) == NULL) {
        msg_fail(c->w, m, "ERR coproxy: out of memory");
        lost_track(c);
        return;
    }
    for (uint32_t i = 0; i < ps->npins; i++)
        if (ps->pins[i].bc != NULL && (only == NULL || only == &ps->pins[i])
            && route_add_frag(c, m, ps->pins[i].srv) == NULL) {
            msg_fail(c->w, m, "ERR coproxy: out of memory");
            lost_track(c);
            return;
        }
    m->frags_left = m->nfrags;
    for (uint32_t i = 0, k = 0; i < ps->npins && k < m->nfrags && m->nfrags > 0; i++) {
        struct backend_conn *bc = ps->pins[i].bc;
        struct msg *f;
        if (bc == NULL || (only != NULL && only != &ps->pins[i]))
            continue;
        f = m->frags[k++];
        if ((bc = backend_pick_pinned(c->w, bc, f)) == NULL)
            continue;
        f->deadline = m->deadline;
        if (backend_send(bc, f, write_subscribe, &(struct subscribe_req){ cmd, name, len }) != 0)
            lost_track(c);
    }
}

/* A new message for the client with its reply made: the confirmation with `count`. */
static struct msg *confirmation_msg(struct redis_client *c, const char *kind, const char *name, size_t len,
                                    uint32_t count)
{
    struct msg *m = msg_queue(c);

    if (m == NULL)
        return NULL;
    route_set_deadline(c, m);
    if (make_confirmation(&m->reply, c->resp3, kind, name, len, count) != 0) {
        msg_fail(c->w, m, "ERR coproxy: out of memory");
        return NULL;
    }
    return m;
}

/* Channels (SUBSCRIBE) and shard channels (SSUBSCRIBE, Redis 7): each on
 * its server (its slot's master in a cluster), counted apart. */
struct chan_kind {
    const char *sub, *unsub;          /* the confirmations' kind */
    const char *sub_cmd, *unsub_cmd;  /* what the server is sent */
    int shard;
};

static const struct chan_kind channel_kind = { "subscribe", "unsubscribe", "SUBSCRIBE", "UNSUBSCRIBE", 0 };
static const struct chan_kind shard_kind = { "ssubscribe", "sunsubscribe", "SSUBSCRIBE", "SUNSUBSCRIBE", 1 };

static struct sub_names *names_of(struct redis_client *c, const struct chan_kind *k)
{
    return k->shard ? &c->ps->shards : &c->ps->channels;
}

/* The count a confirmation of kind k gives: shard channels apart from the rest, as Redis counts them. */
static uint32_t count_of(const struct redis_client *c, const struct chan_kind *k)
{
    return k->shard ? pubsub_shards(c) : pubsub_count(c);
}

static void subscribe(struct redis_client *c, const struct chan_kind *k, const char *ch, size_t len)
{
    struct redis_server *s = route_of_key(c->pool, ch, len, 0).server;
    struct sub_pin *pin;
    struct msg *m;

    if (find_name(names_of(c, k), ch, len) >= 0) {
        confirm_now(c, k->sub, ch, len, count_of(c, k));
        return;
    }
    if (s == NULL) {
        reply_error(c, "ERR coproxy: no server available in pool %s", c->pool->conf->name);
        return;
    }
    if ((m = msg_queue(c)) == NULL)
        return;
    route_set_deadline(c, m);
    if ((pin = pin_for(c, s, m)) == NULL)
        return;
    if (add_name(names_of(c, k), ch, len, (uint32_t)(pin - c->ps->pins)) != 0) {
        msg_fail(c->w, m, "ERR coproxy: out of memory");
        give_back(c, pin, 0);
        return;
    }
    pin->nchannels++;
    if (make_confirmation(&m->reply, c->resp3, k->sub, ch, len, count_of(c, k)) != 0) {
        msg_fail(c->w, m, "ERR coproxy: out of memory");
        lost_track(c);
        return;
    }
    send_to_pins(c, m, k->sub_cmd, ch, len, pin);
}

static void psubscribe(struct redis_client *c, const char *pat, size_t len)
{
    struct redis_pool *p = c->pool;
    struct redis_server *one = NULL;
    struct sub_pin *only = NULL;
    struct msg *m;

    if (find_name(&c->ps->patterns, pat, len) >= 0) {
        confirm_now(c, "psubscribe", pat, len, pubsub_count(c));
        return;
    }
    if ((m = msg_queue(c)) == NULL)
        return;
    route_set_deadline(c, m);
    /* a pattern matches channels of every server (a cluster passes every
     * PUBLISH to all its nodes: one node hears them all) */
    if (p->cluster != NULL)
        one = route_of_key(p, "", 0, 0).server;
    for (int i = 0; i < p->nservers; i++) {
        struct sub_pin *pin;
        if (p->servers[i]->retired || (one != NULL && p->servers[i] != one))
            continue;
        if ((pin = pin_for(c, p->servers[i], m)) != NULL) {
            only = one != NULL ? pin : NULL;
            continue;
        }
        for (uint32_t k = 0; k < c->ps->npins; k++)
            give_back(c, &c->ps->pins[k], 0);
        return;
    }
    if (add_name(&c->ps->patterns, pat, len, 0) != 0
        || make_confirmation(&m->reply, c->resp3, "psubscribe", pat, len, pubsub_count(c)) != 0) {
        msg_fail(c->w, m, "ERR coproxy: out of memory");
        lost_track(c);
        return;
    }
    /* (in a cluster, on that one node only: the client's channels' nodes hear
     * every PUBLISH too, and would pass each message again) */
    send_to_pins(c, m, "PSUBSCRIBE", pat, len, only);
}

static void unsubscribe(struct redis_client *c, const struct chan_kind *k, const char *ch, size_t len)
{
    struct sub_names *names = names_of(c, k);
    int i = find_name(names, ch, len);
    struct sub_pin *pin;
    struct msg *m;

    if (i < 0) {
        confirm_now(c, k->unsub, ch, len, count_of(c, k));
        return;
    }
    pin = &c->ps->pins[names->v[i].pin];
    pin->nchannels--;
    /* ch may point into the entry: the reply and the request are made first */
    if ((m = confirmation_msg(c, k->unsub, ch, len, count_of(c, k) - 1)) != NULL)
        send_to_pins(c, m, k->unsub_cmd, ch, len, pin);
    else
        lost_track(c);
    remove_name(names, (uint32_t)i);
}

static void punsubscribe(struct redis_client *c, const char *pat, size_t len)
{
    int i = find_name(&c->ps->patterns, pat, len);
    struct msg *m;

    if (i < 0) {
        confirm_now(c, "punsubscribe", pat, len, pubsub_count(c));
        return;
    }
    if ((m = confirmation_msg(c, "punsubscribe", pat, len, pubsub_count(c) - 1)) != NULL)
        send_to_pins(c, m, "PUNSUBSCRIBE", pat, len, NULL);
    else
        lost_track(c);
    remove_name(&c->ps->patterns, (uint32_t)i);
}

/* SSUBSCRIBE's channels, in a cluster, must share a slot (as a node requires); 0 or -1 after the error. */
static int one_slot(struct redis_client *c, const char *req, const struct resp_request *r)
{
    for (uint32_t i = 2; c->pool->cluster != NULL && i < r->argc; i++)
        if (route_of_key(c->pool, req + r->args[i].off, r->args[i].len, 0).slot1
            != route_of_key(c->pool, req + r->args[1].off, r->args[1].len, 0).slot1) {
            reply_error(c, "CROSSSLOT Keys in request don't hash to the same slot");
            return -1;
        }
    return 0;
}

void pubsub_command(struct redis_client *c, const struct redis_cmd *cmd, const char *req,
                    const struct resp_request *r)
{
    int pattern = cmd->name[0] == 'P';   /* PSUBSCRIBE, PUNSUBSCRIBE */
    int shard = strcmp(cmd->name, "SSUBSCRIBE") == 0 || strcmp(cmd->name, "SUNSUBSCRIBE") == 0;
    int sub = strstr(cmd->name, "UNSUB") == NULL;
    const struct chan_kind *k = shard ? &shard_kind : &channel_kind;
    uint32_t before = pubsub_subscribed(c);
    struct sub_names *names;

    if (c->ps == NULL && (c->ps = calloc(1, sizeof *c->ps)) == NULL) {
        reply_error(c, "ERR coproxy: out of memory");
        return;
    }
    if (shard && sub && one_slot(c, req, r) != 0)
        return;
    names = pattern ? &c->ps->patterns : names_of(c, k);
    if (!sub && r->argc == 1) {   /* from everything */
        if (names->n == 0)
            confirm_now(c, pattern ? "punsubscribe" : k->unsub, NULL, 0, pattern ? pubsub_count(c) : count_of(c, k));
        while (names->n > 0) {
            const struct sub_name *e = &names->v[0];
            if (pattern)
                punsubscribe(c, e->name, e->len);
            else
                unsubscribe(c, k, e->name, e->len);
        }
    }
    for (uint32_t i = 1; i < r->argc; i++) {
        const char *name = req + r->args[i].off;
        size_t len = r->args[i].len;
        if (pattern)
            (sub ? psubscribe : punsubscribe)(c, name, len);
        else
            (sub ? subscribe : unsubscribe)(c, k, name, len);
    }
    /* Redis's idle timeout spares subscribers: so does client_idle_timeout */
    if (c->idle != NULL && before == 0 && pubsub_subscribed(c) > 0)
        co_timer_cancel(c->idle);
    else if (c->idle != NULL && before > 0 && pubsub_subscribed(c) == 0)
        co_timer_arm(c->idle, c->pool->conf->client_idle_timeout);
    for (uint32_t i = 0; i < c->ps->npins; i++)
        give_back(c, &c->ps->pins[i], 0);
}

void pubsub_introspect(struct redis_client *c, const char *req, const struct resp_request *r)
{
    const struct resp_arg *sub = &r->args[1];
    struct redis_pool *p = c->pool;
    struct msg *m;

    int numsub = resp_arg_is(req, sub, "NUMSUB") || resp_arg_is(req, sub, "SHARDNUMSUB");
    int channels = resp_arg_is(req, sub, "CHANNELS") || resp_arg_is(req, sub, "SHARDCHANNELS");

    if (numsub && r->argc == 2) {
        reply_str(c, "*0\r\n");
        return;
    }
    if (!(channels && r->argc <= 3) && !(resp_arg_is(req, sub, "NUMPAT") && r->argc == 2) && !numsub) {
        reply_error(c, "ERR coproxy: only PUBSUB CHANNELS [pattern], NUMSUB, NUMPAT, SHARDCHANNELS [pattern] "
                    "and SHARDNUMSUB are supported");
        return;
    }
    if ((m = msg_queue(c)) == NULL)
        return;
    route_set_deadline(c, m);
    if (!numsub) {
        /* a channel lives on one server: the lists add up; every server
         * holds the patterns subscribed through coproxy: the most is right */
        m->merge = channels ? MERGE_CONCAT : MERGE_MAX;
        route_send_everywhere(c, m, req, r);
        return;
    }
    /* (SHARD)NUMSUB: each channel asked of its server, the pairs in the client's order */
    m->merge = MERGE_CONCAT;
    if ((m->frags = calloc(r->argc - 2, sizeof *m->frags)) == NULL) {
        msg_fail(c->w, m, "ERR coproxy: out of memory");
        return;
    }
    for (uint32_t i = 2; i < r->argc; i++) {
        const struct resp_arg *a = &r->args[i];
        struct route rt = route_of_key(p, req + a->off, a->len, 0);
        struct msg *f;
        if (rt.server == NULL || (f = route_add_frag(c, m, rt.server)) == NULL) {
            msg_fail(c->w, m, rt.server == NULL ? "ERR coproxy: no server available" : "ERR coproxy: out of memory");
            return;
        }
        f->slot1 = rt.slot1;   /* the channel's slot: a redirect is followed by it */
    }
    m->frags_left = m->nfrags;
    for (uint32_t i = 0; i < m->nfrags && m->nfrags > 0; i++) {
        const struct resp_arg *a = &r->args[i + 2];
        struct rbuf b = { 0 };
        if (resp_append_header(&b, '*', 3) != 0 || resp_append_bulk(&b, "PUBSUB", 6) != 0
            || resp_append_bulk(&b, req + sub->off, sub->len) != 0 || resp_append_bulk(&b, req + a->off, a->len) != 0)
            msg_fail(c->w, m->frags[i], "ERR coproxy: out of memory");
        else
            route_send_frag(c, m->frags[i], b.data, b.len);
        rbuf_free(&b);
    }
}

void pubsub_release(struct redis_client *c)
{
    struct redis_pubsub *ps = c->ps;

    if (ps == NULL)
        return;
    for (uint32_t i = 0; i < ps->npins; i++)
        give_back(c, &ps->pins[i], 1);   /* closed where the server still holds subscriptions */
    for (uint32_t i = 0; i < ps->channels.n; i++)
        free(ps->channels.v[i].name);
    for (uint32_t i = 0; i < ps->patterns.n; i++)
        free(ps->patterns.v[i].name);
    for (uint32_t i = 0; i < ps->shards.n; i++)
        free(ps->shards.v[i].name);
    free(ps->channels.v);
    free(ps->patterns.v);
    free(ps->shards.v);
    free(ps->pins);
    free(ps);
    c->ps = NULL;
}

/* ---- what the connections hand back ------------------------------------------- */

void redis_pubsub_message(struct worker *w, struct backend_conn *bc, const char *p, size_t n)
{
    msg_push(w, bc->subscriber, bc, p, n, NULL, 0);
}

void redis_pubsub_idle(struct backend_conn *bc)
{
    struct redis_client *c = bc->subscriber;

    for (uint32_t i = 0; c->ps != NULL && i < c->ps->npins; i++)
        if (c->ps->pins[i].bc == bc)
            give_back(c, &c->ps->pins[i], 0);
}

void redis_pubsub_lost(struct backend_conn *bc)
{
    struct redis_client *c = bc->subscriber;

    log_debug("pool %s: a subscriber's connection to server %s was lost: closing the client",
              c->pool->conf->name, bc->srv->conf->name);
    c->closing = 1;
    msg_wake_client(c);
}
