/* SPDX-License-Identifier: Apache-2.0 */
/* redis_route.c — redis mode: where a request goes -- one server, split per server, every server, SCAN. */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "backend.h"
#include "cluster.h"
#include "redis_msg.h"
#include "redis_pool.h"
#include "redis_reply.h"
#include "redis_route.h"
#include "redis_tracking.h"
#include "resp_append.h"
#include "worker_ctx.h"

/* ---- routing -------------------------------------------------------------- */

struct route route_of_key(struct redis_pool *p, const char *key, size_t len, int read)
{
    size_t part_len;
    const char *part;
    int i;

    if (p->cluster != NULL) {
        uint16_t slot = cluster_slot(key, len);
        return (struct route){ cluster_route(p, slot, read), (uint16_t)(slot + 1) };
    }
    if (p->next_rebuild != 0 && worker_now_ms() >= p->next_rebuild)
        redis_pool_rebuild(p, worker_now_ms());   /* an ejected server is due back */
    part = hash_tag_part(p->conf->hash_tag, key, len, &part_len);
    i = dist_pick(&p->dist, hash_key(p->hash, part, part_len));
    return (struct route){ i < 0 ? NULL : p->servers[i], 0 };
}

/* The connection for a request to s: the client's own when s is its server
 * (its requests stay in order behind a WATCH or a blocked command). */
static struct backend_conn *conn_for(struct redis_client *c, struct redis_server *s, struct msg *m)
{
    if (c->writing)   /* for WAIT */
        c->wrote |= s->index < 64 ? (uint64_t)1 << s->index : ~(uint64_t)0;
    if (m->aside)
        return backend_pick_spare(c->w, s, m);
    if (c->pin != NULL && c->pin->srv == s)
        return backend_pick_pinned(c->w, c->pin, m);
    if (c->trk != NULL)   /* CLIENT TRACKING: the server tracks what this client reads */
        return tracking_pick(c, s, m);
    if (c->db >= 0)
        return backend_pick_db(c->w, s, m, c->db);
    return backend_pick(c->w, s, m, client_seq(c));
}

void route_set_deadline(struct redis_client *c, struct msg *m)
{
    m->deadline = c->batch_us / 1000 + (uint64_t)c->pool->conf->server_timeout;
}

/* Sends the whole request to server s for the message m (slot1: its keys' slot + 1 in a cluster, else 0). */
void route_send_whole(struct redis_client *c, struct msg *m, struct redis_server *s, uint16_t slot1,
                       const char *req, const struct resp_request *r)
{
    struct backend_conn *bc;

    if (s == NULL) {
        msg_fail(c->w, m, "ERR coproxy: no server available in pool %s", c->pool->conf->name);
        return;
    }
    m->slot1 = slot1;
    if ((bc = conn_for(c, s, m)) != NULL)
        backend_send_request(bc, m, req, r);
}

/* One server's part of a split request: the command and that server's keys
 * (with their values when step is 2). */
struct part {
    const char *req;
    const struct resp_request *r;
    const struct msg *f;
    int step;
};

static int write_part(struct rbuf *out, const void *arg)
{
    const struct part *pt = arg;
    const struct resp_arg *a = pt->r->args;
    int err = resp_append_header(out, '*', 1 + (int64_t)pt->f->nkeys * pt->step);

    err = err ? err : resp_append_bulk(out, pt->req + a[0].off, a[0].len);
    for (uint32_t k = 0; k < pt->f->nkeys && err == 0; k++) {
        uint32_t at = 1 + pt->f->keypos[k] * (uint32_t)pt->step;
        err = resp_append_bulk(out, pt->req + a[at].off, a[at].len);
        if (pt->step == 2 && err == 0)
            err = resp_append_bulk(out, pt->req + a[at + 1].off, a[at + 1].len);
    }
    return err;
}

/* SORT's BY and GET patterns name other keys (weight_*, object_*->field),
 * which may live on any server: with more than one, SORT cannot see them. */
static int sort_reads_other_keys(const char *req, const struct resp_request *r)
{
    for (uint32_t i = 2; i + 1 < r->argc; i++) {
        const struct resp_arg *a = &r->args[i], *next = &r->args[i + 1];
        if (resp_arg_is(req, a, "BY")) {
            if (memchr(req + next->off, '*', next->len) != NULL)
                return 1;
            i++;
        } else if (resp_arg_is(req, a, "GET")) {
            if (!(next->len == 1 && req[next->off] == '#'))
                return 1;
            i++;
        } else if (resp_arg_is(req, a, "LIMIT")) {
            i += 2;
        } else if (resp_arg_is(req, a, "STORE")) {
            i++;
        }
    }
    return 0;
}

/* SORT with patterns in a pool of several servers: refused (answered). */
static __attribute__((noinline, cold)) int sort_refused(struct redis_client *c, const char *req,
                                                        const struct resp_request *r)
{
    if ((c->pool->nservers <= 1 && c->pool->cluster == NULL) || !sort_reads_other_keys(req, r))
        return 0;
    c->pool->stats->errors_refused++;
    reply_error(c, "ERR coproxy: SORT with BY or GET patterns reads keys that may be on other servers; "
                "sort on the client, or use a pool of one server");
    return 1;
}

/* A command whose keys must all be on one server. */
void route_keys(struct redis_client *c, const struct redis_cmd *cmd, const char *req,
                       const struct resp_request *r)
{
    uint32_t stack_keys[16], *keys = r->argc <= 16 ? stack_keys : malloc(r->argc * sizeof *keys);
    struct route rt = { NULL, 0 };
    const char *err = NULL;
    struct msg *m;
    int n;

    if (keys == NULL) {
        reply_error(c, "ERR coproxy: out of memory");
        return;
    }
    if (__builtin_expect(cmd->flags & CMD_PATTERNS, 0) && sort_refused(c, req, r))
        goto out;
    n = redis_cmd_keys(cmd, req, r->args, r->argc, keys, &err);
    if (n < 0) {
        reply_error(c, "%s", err);
        goto out;
    }
    if (n == 0) {
        /* EVAL with no keys: any server will do; the script picks one, always the same */
        rt = route_of_key(c->pool, req + r->args[1].off, r->args[1].len, c->route_read);
    }
    for (int i = 0; i < n; i++) {
        struct route k = route_of_key(c->pool, req + r->args[keys[i]].off, r->args[keys[i]].len, c->route_read);
        if (i > 0 && k.server != rt.server) {
            char name[40];
            reply_error(c, "ERR coproxy: the keys of '%s' are on different servers "
                        "(a hash tag such as {user1} keeps keys together)", reply_lower_name(cmd->name, name));
            goto out;
        }
        if (i == 0)
            rt = k;
    }
    if ((m = msg_queue(c)) != NULL) {
        route_set_deadline(c, m);
        route_send_whole(c, m, rt.server, rt.slot1, req, r);
    }
out:
    if (keys != stack_keys)
        free(keys);
}

/*
 * MGET, MSET, DEL/UNLINK/EXISTS/TOUCH: one fragment per server, with that
 * server's keys (MSET: key-value pairs) in the client's order.
 */
void route_split(struct redis_client *c, const struct redis_cmd *cmd, const char *req,
                        const struct resp_request *r)
{
    struct redis_pool *p = c->pool;
    int step = cmd->route == ROUTE_SPLIT_MSET ? 2 : 1;
    uint32_t nkeys = (r->argc - 1) / (uint32_t)step;
    struct redis_server **where = malloc(nkeys * sizeof *where);
    /* a fragment per server -- per slot in a cluster, which refuses keys of
     * different slots in one command: group[k] is key k's, gkey its server
     * index or slot */
    uint32_t *count = calloc(nkeys, sizeof *count), *group = malloc(nkeys * sizeof *group);
    uint32_t *gkey = malloc(nkeys * sizeof *gkey);
    struct msg *m, **frag_of = calloc(nkeys, sizeof *frag_of);
    uint32_t nfrags = 0;

    if (where == NULL || count == NULL || frag_of == NULL || group == NULL || gkey == NULL
        || (m = msg_queue(c)) == NULL) {
        reply_error(c, "ERR coproxy: out of memory");
        goto out;
    }
    route_set_deadline(c, m);
    for (uint32_t k = 0; k < nkeys; k++) {
        const struct resp_arg *a = &r->args[1 + k * (uint32_t)step];
        struct route rt = route_of_key(p, req + a->off, a->len, c->route_read);
        where[k] = rt.server;
        if (where[k] == NULL) {
            msg_fail(c->w, m, "ERR coproxy: no server available in pool %s", p->conf->name);
            goto out;
        }
        uint32_t key = p->cluster ? rt.slot1 : (uint32_t)where[k]->index, g = 0;
        while (g < nfrags && gkey[g] != key)
            g++;
        if (g == nfrags)
            gkey[nfrags++] = key;
        group[k] = g;
        count[g]++;
    }
    if (nfrags == 1) {   /* all on one server: the request goes as it is */
        route_send_whole(c, m, where[0], p->cluster ? (uint16_t)gkey[0] : 0, req, r);
        goto out;
    }
    m->merge = cmd->route == ROUTE_SPLIT_MGET ? MERGE_MGET : cmd->route == ROUTE_SPLIT_SUM ? MERGE_SUM : MERGE_OK;
    m->nkeys = nkeys;
    if ((m->frags = calloc(nfrags, sizeof *m->frags)) == NULL) {
        msg_fail(c->w, m, "ERR coproxy: out of memory");
        goto out;
    }
    /* make every fragment first: failures while sending count down frags_left */
    for (uint32_t k = 0; k < nkeys; k++) {
        uint32_t si = group[k];
        struct msg *f = frag_of[si];
        if (f == NULL) {
            if ((f = msg_get(c->w)) == NULL || (f->keypos = malloc(count[si] * sizeof *f->keypos)) == NULL) {
                if (f)
                    msg_unref(c->w, (f->refs = 1, f));
                msg_fail(c->w, m, "ERR coproxy: out of memory");
                goto out;
            }
            f->parent = m;
            f->refs = 1;
            f->resp3 = m->resp3;
            f->server = where[k];
            f->deadline = m->deadline;
            f->start_us = m->start_us;
            f->slot1 = p->cluster ? (uint16_t)gkey[si] : 0;
            frag_of[si] = f;
            m->frags[m->nfrags++] = f;
        }
        f->keypos[f->nkeys++] = k;
    }
    m->frags_left = m->nfrags;
    for (uint32_t i = 0; i < m->nfrags && m->nfrags > 0; i++) {
        struct msg *f = m->frags[i];
        struct backend_conn *bc = conn_for(c, f->server, f);
        if (bc != NULL)
            backend_send(bc, f, write_part, &(struct part){ req, r, f, step });
    }
out:
    free(where);
    free(count);
    free(group);
    free(gkey);
    free(frag_of);
}

/* DBSIZE, KEYS, FLUSHDB, FLUSHALL, SCRIPT LOAD/FLUSH: the request to every server. */
/* A fragment of m (its frags array sized already) for server s; NULL if out of memory. */
static void send_everywhere(struct redis_client *c, struct msg *m, const char *bytes, size_t n, const char *req,
                            const struct resp_request *r);

struct msg *route_add_frag(struct redis_client *c, struct msg *m, struct redis_server *s)
{
    struct msg *f = msg_get(c->w);

    if (f == NULL)
        return NULL;
    f->parent = m;
    f->refs = 1;
    f->resp3 = m->resp3;
    f->aside = m->aside;
    f->server = s;
    f->deadline = m->deadline;
    f->start_us = m->start_us;
    m->frags[m->nfrags++] = f;
    return f;
}

void route_send_frag(struct redis_client *c, struct msg *f, const char *bytes, size_t n)
{
    struct backend_conn *bc = conn_for(c, f->server, f);

    if (bc != NULL)
        backend_send_bytes(bc, f, bytes, n);
}

int route_frags_everywhere(struct redis_client *c, struct msg *m)
{
    struct redis_pool *p = c->pool;

    if ((m->frags = calloc((size_t)p->nservers, sizeof *m->frags)) == NULL) {
        msg_fail(c->w, m, "ERR coproxy: out of memory");
        return -1;
    }
    for (int i = 0; i < p->nservers; i++)
        if (!p->servers[i]->cluster_replica && !p->servers[i]->cluster_absent   /* a cluster's masters */
            && route_add_frag(c, m, p->servers[i]) == NULL) {
            msg_fail(c->w, m, "ERR coproxy: out of memory");
            return -1;
        }
    if (m->nfrags == 0) {
        msg_fail(c->w, m, "ERR coproxy: no server available in pool %s", p->conf->name);
        return -1;
    }
    m->frags_left = m->nfrags;
    return 0;
}

void route_send_everywhere(struct redis_client *c, struct msg *m, const char *req, const struct resp_request *r)
{
    send_everywhere(c, m, NULL, 0, req, r);
}

/* m to every server, as fragments merged into m: bytes[0..n) when given,
 * else the client's request as it came. */
static void send_everywhere(struct redis_client *c, struct msg *m, const char *bytes, size_t n, const char *req,
                            const struct resp_request *r)
{
    if (route_frags_everywhere(c, m) != 0)
        return;
    for (uint32_t i = 0; i < m->nfrags && m->nfrags > 0; i++) {
        struct msg *f = m->frags[i];
        struct backend_conn *bc = conn_for(c, f->server, f);
        if (bc != NULL && bytes != NULL)
            backend_send_bytes(bc, f, bytes, n);
        else if (bc != NULL)
            backend_send_request(bc, f, req, r);
    }
}

/* To one server, the same one every time (the one the empty key maps to). */
void route_one(struct redis_client *c, const char *req, const struct resp_request *r)
{
    struct msg *m = msg_queue(c);

    if (m == NULL)
        return;
    struct route rt = route_of_key(c->pool, "", 0, 0);

    route_set_deadline(c, m);
    route_send_whole(c, m, rt.server, rt.slot1, req, r);
}

/* INFO: coproxy's server section (with the first server's redis_version)
 * and the keyspace summed over the servers; other sections are the
 * servers' own: ask them directly. */
void route_info(struct redis_client *c, const char *req, const struct resp_request *r)
{
    struct msg *m;

    if ((m = msg_queue(c)) == NULL)
        return;
    route_set_deadline(c, m);
    m->merge = MERGE_INFO;   /* the client's sections, asked of every server, merged (redis_info.c) */
    send_everywhere(c, m, NULL, 0, req, r);
}

/* SCAN: the client's cursor says which server and where in it (see merge_scan). */
/* SCAN to one server: the client's request with that server's cursor. */
struct scan_req {
    const char *req;
    const struct resp_request *r;
    const char *cursor;
};

static int write_scan(struct rbuf *out, const void *arg)
{
    const struct scan_req *sr = arg;
    int err = resp_append_header(out, '*', sr->r->argc);

    err = err ? err : resp_append_bulk(out, "SCAN", 4);
    err = err ? err : resp_append_bulk(out, sr->cursor, strlen(sr->cursor));
    for (uint32_t k = 2; k < sr->r->argc && err == 0; k++)
        err = resp_append_bulk(out, sr->req + sr->r->args[k].off, sr->r->args[k].len);
    return err;
}

void route_scan(struct redis_client *c, const char *req, const struct resp_request *r)
{
    struct redis_pool *p = c->pool;
    const struct resp_arg *a = &r->args[1];
    struct backend_conn *bc;
    struct msg *m, *f;
    char num[24], *end;
    unsigned long long cursor;
    struct redis_server *stack_masters[16], **masters = stack_masters, *s;
    int i, n = p->nservers;

    snprintf(num, sizeof num, "%.*s", (int)(a->len < 23 ? a->len : 23), req + a->off);
    errno = 0;
    cursor = strtoull(num, &end, 10);
    if (a->len == 0 || a->len > 20 || *end != '\0' || num[0] == '-' || errno == ERANGE) {   /* Redis: 64 bits */
        reply_error(c, "ERR invalid cursor");
        return;
    }
    if (p->cluster != NULL) {   /* the masters, in an order every worker agrees on */
        if (n > 16 && (masters = malloc((size_t)n * sizeof *masters)) == NULL) {
            reply_error(c, "ERR coproxy: out of memory");
            return;
        }
        n = cluster_masters(p, masters);
        if (n == 0) {
            if (masters != stack_masters)
                free(masters);
            reply_error(c, "ERR coproxy: no cluster node known yet");
            return;
        }
    }
    i = (int)(cursor % (unsigned long long)n);
    s = p->cluster != NULL ? masters[i] : p->servers[i];
    if (masters != stack_masters)
        free(masters);
    if ((m = msg_queue(c)) == NULL)
        return;
    route_set_deadline(c, m);
    m->merge = MERGE_SCAN;
    m->scan_server = (uint32_t)i;
    m->scan_nservers = (uint32_t)n;
    if ((m->frags = calloc(1, sizeof *m->frags)) == NULL || (f = route_add_frag(c, m, s)) == NULL) {
        msg_fail(c->w, m, "ERR coproxy: out of memory");
        return;
    }
    m->frags_left = 1;
    if ((bc = conn_for(c, f->server, f)) == NULL)
        return;
    /* the same request with the server's own cursor */
    snprintf(num, sizeof num, "%llu", cursor / (unsigned long long)n);
    backend_send(bc, f, write_scan, &(struct scan_req){ req, r, num });
}

void route_fanout(struct redis_client *c, const struct redis_cmd *cmd, const char *req,
                         const struct resp_request *r)
{
    struct redis_pool *p = c->pool;
    struct msg *m;

    int exists = strcmp(cmd->name, "SCRIPT") == 0 && resp_arg_is(req, &r->args[1], "EXISTS");
    /* a runaway script or function runs on one server: the others say NOTBUSY */
    int kill = (strcmp(cmd->name, "SCRIPT") == 0 || strcmp(cmd->name, "FUNCTION") == 0)
               && resp_arg_is(req, &r->args[1], "KILL");

    if (strcmp(cmd->name, "SCRIPT") == 0 && !resp_arg_is(req, &r->args[1], "LOAD") && !resp_arg_is(req, &r->args[1], "FLUSH")
        && !exists && !kill) {
        reply_error(c, "ERR coproxy: only SCRIPT LOAD, EXISTS, FLUSH and KILL are supported (they go to every server)");
        return;
    }
    if (!p->conf->allow_flush && (strcmp(cmd->name, "FLUSHDB") == 0 || strcmp(cmd->name, "FLUSHALL") == 0)) {
        c->pool->stats->errors_refused++;
        reply_error(c, "ERR coproxy: %s is turned off in pool %s (allow_flush = false)", cmd->name, p->conf->name);
        return;
    }
    if (strcmp(cmd->name, "FUNCTION") == 0) {
        const struct resp_arg *sub = &r->args[1];
        if (resp_arg_is(req, sub, "LIST") || resp_arg_is(req, sub, "DUMP")) {   /* every server has the same */
            route_one(c, req, r);
            return;
        }
        if (!resp_arg_is(req, sub, "LOAD") && !resp_arg_is(req, sub, "DELETE") && !resp_arg_is(req, sub, "FLUSH")
            && !resp_arg_is(req, sub, "RESTORE") && !resp_arg_is(req, sub, "STATS") && !kill) {
            reply_error(c, "ERR coproxy: FUNCTION LOAD, DELETE, FLUSH, RESTORE, KILL and STATS go to every server, "
                        "LIST and DUMP to one; ask a server directly for the others");
            return;
        }
    }
    if ((m = msg_queue(c)) == NULL)
        return;
    route_set_deadline(c, m);
    m->merge = cmd->route == ROUTE_FANOUT_SUM      ? MERGE_SUM
               : cmd->route == ROUTE_FANOUT_CONCAT ? MERGE_CONCAT
               : cmd->route == ROUTE_FANOUT_RANDOM ? MERGE_RANDOM
               : exists                            ? MERGE_ALL
               : kill                              ? MERGE_ANY_OK
               : strcmp(cmd->name, "FUNCTION") == 0 && resp_arg_is(req, &r->args[1], "STATS") ? MERGE_RUNNING
                                                   : MERGE_OK;
    /* (STATS too: it must see a running function, not queue behind it) */
    m->aside = (uint8_t)(kill || m->merge == MERGE_RUNNING);
    send_everywhere(c, m, NULL, 0, req, r);
}
