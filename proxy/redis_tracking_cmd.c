/* SPDX-License-Identifier: Apache-2.0 */
/* redis_tracking_cmd.c — redis mode: CLIENT TRACKING, CACHING, GETREDIR, TRACKINGINFO. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "redis_merge.h"
#include "redis_msg.h"
#include "redis_reply.h"
#include "redis_route.h"
#include "redis_tracking_cmd.h"
#include "redis_tracking.h"
#include "resp_append.h"
#include "worker.h"
#include "worker_ctx.h"

/* (how tracking works behind the proxy: redis_tracking.c) */

/* Is there a client with this coproxy id (on any worker)? */
static int client_exists(struct redis_client *c, uint64_t id)
{
    struct worker *w = c->w;
    struct rbuf lines = { 0 };
    char key[32];
    int found;

    if (&w->d->workers[id % 1024 % (uint64_t)w->d->cfg.threads] == w)
        return tracking_find_client(w, id) != NULL;
    snprintf(key, sizeof key, "id=%llu ", (unsigned long long)id);
    found = 0;
    for (int i = 0; i < w->d->cfg.npools && !found; i++) {
        lines.len = 0;
        if (w->pools[i].redis != NULL && worker_client_lists(w, i, &lines) == 0 && lines.len > 0) {
            const char *p = lines.data, *end = lines.data + lines.len;
            while (p < end && !found) {
                const char *nl = memchr(p, '\n', (size_t)(end - p));
                found = (size_t)(end - p) > strlen(key) && memcmp(p, key, strlen(key)) == 0;
                p = nl != NULL ? nl + 1 : end;
            }
        }
    }
    rbuf_free(&lines);
    return found;
}

/* The request to every server (a cluster's masters), each on the client's
 * connection there, replies merged: the servers' own reply when they agree. */
static void to_every_server(struct redis_client *c, const struct tracking_on *on)
{
    struct msg *m = msg_queue(c);
    struct rbuf b = { 0 };

    if (m == NULL)
        return;
    route_set_deadline(c, m);
    m->merge = MERGE_OK;
    if (route_frags_everywhere(c, m) != 0)
        return;
    for (uint32_t i = 0; i < m->nfrags; i++) {
        struct msg *f = m->frags[i];
        struct backend_conn *bc = tracking_pick(c, f->server, f);
        struct tracking_conn *e;
        if (bc == NULL)
            continue;
        e = tracking_entry(c->trk, f->server);
        bc->tracked = 1;
        b.len = 0;
        if (tracking_write_on(&b, on, tracking_sink_id(c, e)) != 0) {
            msg_fail(c->w, f, "ERR coproxy: out of memory");
            continue;
        }
        backend_send_bytes(bc, f, b.data, b.len);
    }
    rbuf_free(&b);
}

/* CLIENT TRACKING ON [REDIRECT id] [options]. */
static void tracking_on(struct redis_client *c, const char *req, const struct resp_request *r)
{
    struct tracking_on on = { 0 };
    struct rbuf args = { 0 };
    uint64_t redirect = 0;
    const char *why = NULL;
    struct redis_tracking *trk;

    for (uint32_t i = 3; i < r->argc; i++) {
        const struct resp_arg *a = &r->args[i];
        if (resp_arg_is(req, a, "REDIRECT") && i + 1 < r->argc) {
            char num[24], *end;
            const struct resp_arg *v = &r->args[++i];
            snprintf(num, sizeof num, "%.*s", (int)(v->len < 23 ? v->len : 23), req + v->off);
            long long id = strtoll(num, &end, 10);
            if (v->len == 0 || v->len > 20 || *end != '\0') {
                reply_error(c, "ERR value is not an integer or out of range");
                rbuf_free(&args);
                return;
            }
            if (id != 0 && (id < 0 || !client_exists(c, (uint64_t)id))) {
                reply_error(c, "ERR The client ID you want redirect to does not exist");
                rbuf_free(&args);
                return;
            }
            redirect = (uint64_t)id;
        } else if (resp_append_bulk(&args, req + a->off, a->len) != 0) {
            reply_error(c, "ERR coproxy: out of memory");
            rbuf_free(&args);
            return;
        } else {
            on.argc++;
        }
    }
    if (c->trk == NULL && (c->trk = calloc(1, sizeof *c->trk)) == NULL) {
        reply_error(c, "ERR coproxy: out of memory");
        rbuf_free(&args);
        return;
    }
    trk = c->trk;
    if (trk->nons == TRACKING_MAX_ONS) {
        reply_error(c, "ERR coproxy: CLIENT TRACKING ON was changed %d times: turn it OFF first", TRACKING_MAX_ONS);
        rbuf_free(&args);
        return;
    }
    c->pushes = 1;
    trk->redirect = redirect;
    if (redirect != 0 && redirect != c->id
        && &c->w->d->workers[redirect % 1024 % (uint64_t)c->w->d->cfg.threads] == c->w)
        tracking_find_client(c->w, redirect)->pushes = 1;   /* (it exists: checked above) */
    if (redirect != 0 && !c->resp3) {   /* every server's sink, before a request can read a key there */
        for (int i = 0; i < c->pool->nservers && why == NULL; i++) {
            struct redis_server *s = c->pool->servers[i];
            struct tracking_conn *e;
            if (s->cluster_replica || s->cluster_absent)
                continue;
            if ((e = tracking_entry(trk, s)) == NULL)
                why = "out of memory";
            else if (tracking_sink_ready(c, e, &why) == 0)
                e->sink_id = e->sink->server_id;
        }
        if (why != NULL) {
            reply_error(c, "ERR coproxy: client tracking: %s", why);
            rbuf_free(&args);
            return;
        }
    }
    on.args = args.data;
    on.len = args.len;
    to_every_server(c, &on);
    /* kept, so that a new connection is set the same way */
    if (trk->nons == 0 || trk->ons[trk->nons - 1].len != on.len
        || (on.len > 0 && memcmp(trk->ons[trk->nons - 1].args, on.args, on.len) != 0))   /* (no options: NULL) */
        trk->ons[trk->nons++] = on;
    else
        rbuf_free(&args);
}

void redis_tracking_command(struct redis_client *c, const char *req, const struct resp_request *r)
{
    const struct resp_arg *sub = &r->args[1];

    if (resp_arg_is(req, sub, "TRACKING")) {
        if (r->argc < 3)
            reply_error(c, "ERR wrong number of arguments for 'client|tracking' command");
        else if (resp_arg_is(req, &r->args[2], "ON"))
            tracking_on(c, req, r);
        else if (resp_arg_is(req, &r->args[2], "OFF")) {
            tracking_release(c);
            reply_str(c, "+OK\r\n");
        } else
            reply_error(c, "ERR syntax error");
    } else if (resp_arg_is(req, sub, "CACHING")) {
        if (r->argc != 3) {
            reply_error(c, "ERR wrong number of arguments for 'client|caching' command");
        } else if (c->trk == NULL) {
            reply_error(c, "ERR CLIENT CACHING can be called only when the client is in tracking mode with "
                        "OPTIN or OPTOUT mode enabled");
        } else {   /* to every server: each says whether OPTIN/OPTOUT is on */
            struct msg *m = msg_queue(c);
            if (m != NULL) {
                route_set_deadline(c, m);
                m->merge = MERGE_OK;
                route_send_everywhere(c, m, req, r);
                c->trk->caching = 2;
            }
        }
    } else if (resp_arg_is(req, sub, "GETREDIR")) {
        if (r->argc != 2)
            reply_error(c, "ERR wrong number of arguments for 'client|getredir' command");
        else
            reply_int(c, c->trk == NULL ? -1 : (int64_t)c->trk->redirect);
    } else {   /* TRACKINGINFO: as one of its connections is set */
        route_one(c, req, r);
    }
}
