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

#include "costack.h"
#include "log.h"
#include "redis.h"
#include "redis_client.h"
#include "redis_cmd.h"
#include "redis_local.h"
#include "redis_pinned.h"
#include "redis_pushback.h"
#include "redis_route.h"
#include "worker.h"

/* ---- routing -------------------------------------------------------------- */

int redis_arg_is(const char *req, const struct resp_arg *a, const char *word)
{
    return a->len == strlen(word) && strncasecmp(req + a->off, word, a->len) == 0;
}

int redis_append_bulk(struct rbuf *b, const char *p, size_t n)
{
    if (rbuf_reserve(b, resp_write_bulk_len(n)) != 0)
        return -ENOMEM;
    b->len += resp_write_bulk(b->data + b->len, p, n);
    return 0;
}

int redis_append_header(struct rbuf *b, char type, int64_t n)
{
    if (rbuf_reserve(b, RESP_INT_MAX_LEN) != 0)
        return -ENOMEM;
    b->len += resp_write_int(b->data + b->len, type, n);
    return 0;
}

/* The request's bytes for a backend: as received, or an inline command as a multibulk. */
int append_request(struct rbuf *b, const char *req, const struct resp_request *r)
{
    if (!r->inline_cmd)
        return rbuf_append(b, req, r->size);
    if (redis_append_header(b, '*', r->argc) != 0)
        return -ENOMEM;
    for (uint32_t i = 0; i < r->argc; i++)
        if (redis_append_bulk(b, req + r->args[i].off, r->args[i].len) != 0)
            return -ENOMEM;
    return 0;
}

/* The connection for a request to s: the client's own when s is its server
 * (its requests stay in order behind a WATCH or a blocked command). */
static struct backend_conn *conn_for(struct redis_client *c, struct redis_server *s, struct msg *m)
{
    if (c->writing)   /* for WAIT */
        c->wrote |= s->index < 64 ? (uint64_t)1 << s->index : ~(uint64_t)0;
    if (c->pin != NULL && c->pin->srv == s)
        return backend_pick_pinned(c->w, c->pin, m);
    if (c->db >= 0)
        return backend_pick_db(c->w, s, m, c->db);
    return backend_pick(c->w, s, m, client_seq(c));
}

void client_set_deadline(struct redis_client *c, struct msg *m)
{
    m->deadline = c->batch_us / 1000 + (uint64_t)c->pool->conf->server_timeout;
}

/* Sends the whole request to server s for the message m (slot1: its keys' slot + 1 in a cluster, else 0). */
void send_whole(struct redis_client *c, struct msg *m, struct redis_server *s, uint16_t slot1,
                       const char *req, const struct resp_request *r)
{
    struct backend_conn *bc;
    size_t mark;

    if (s == NULL) {
        msg_fail(c->w, m, "ERR coproxy: no server available in pool %s", c->pool->conf->name);
        return;
    }
    m->slot1 = slot1;
    if ((bc = conn_for(c, s, m)) == NULL)
        return;
    mark = bc->out.len;
    if (append_request(&bc->out, req, r) != 0) {
        bc->out.len = mark;   /* no half request may stay: replies would shift */
        msg_fail(c->w, m, "ERR coproxy: out of memory");
        return;
    }
    backend_enqueue(bc, m);
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
        client_reply_error(c, "ERR coproxy: out of memory");
        return;
    }
    n = redis_cmd_keys(cmd, req, r->args, r->argc, keys, &err);
    if (n < 0) {
        client_reply_error(c, "%s", err);
        goto out;
    }
    if (n == 0) {
        /* EVAL with no keys: any server will do; the script picks one, always the same */
        rt = redis_pool_route(c->pool, req + r->args[1].off, r->args[1].len, c->route_read);
    }
    for (int i = 0; i < n; i++) {
        struct route k = redis_pool_route(c->pool, req + r->args[keys[i]].off, r->args[keys[i]].len, c->route_read);
        if (i > 0 && k.server != rt.server) {
            char name[40];
            client_reply_error(c, "ERR coproxy: the keys of '%s' are on different servers "
                        "(a hash tag such as {user1} keeps keys together)", redis_lower_name(cmd->name, name));
            goto out;
        }
        if (i == 0)
            rt = k;
    }
    if ((m = client_queue_msg(c)) != NULL) {
        client_set_deadline(c, m);
        send_whole(c, m, rt.server, rt.slot1, req, r);
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
        || (m = client_queue_msg(c)) == NULL) {
        client_reply_error(c, "ERR coproxy: out of memory");
        goto out;
    }
    client_set_deadline(c, m);
    for (uint32_t k = 0; k < nkeys; k++) {
        const struct resp_arg *a = &r->args[1 + k * (uint32_t)step];
        struct route rt = redis_pool_route(p, req + a->off, a->len, c->route_read);
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
        send_whole(c, m, where[0], p->cluster ? (uint16_t)gkey[0] : 0, req, r);
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
        size_t mark;
        int err;
        if (bc == NULL)
            continue;
        mark = bc->out.len;
        err = redis_append_header(&bc->out, '*', 1 + (int64_t)f->nkeys * step);
        err = err ? err : redis_append_bulk(&bc->out, req + r->args[0].off, r->args[0].len);
        for (uint32_t k = 0; k < f->nkeys && err == 0; k++) {
            uint32_t at = 1 + f->keypos[k] * (uint32_t)step;
            err = redis_append_bulk(&bc->out, req + r->args[at].off, r->args[at].len);
            if (step == 2 && err == 0)
                err = redis_append_bulk(&bc->out, req + r->args[at + 1].off, r->args[at + 1].len);
        }
        if (err != 0) {
            bc->out.len = mark;
            msg_fail(c->w, f, "ERR coproxy: out of memory");
            continue;
        }
        backend_enqueue(bc, f);
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

struct msg *client_add_frag(struct redis_client *c, struct msg *m, struct redis_server *s)
{
    struct msg *f = msg_get(c->w);

    if (f == NULL)
        return NULL;
    f->parent = m;
    f->refs = 1;
    f->server = s;
    f->deadline = m->deadline;
    f->start_us = m->start_us;
    m->frags[m->nfrags++] = f;
    return f;
}

void client_send_frag(struct redis_client *c, struct msg *f, const char *bytes, size_t n)
{
    struct backend_conn *bc = conn_for(c, f->server, f);
    size_t mark;

    if (bc == NULL)
        return;
    mark = bc->out.len;
    if (rbuf_append(&bc->out, bytes, n) != 0) {
        bc->out.len = mark;
        msg_fail(c->w, f, "ERR coproxy: out of memory");
        return;
    }
    backend_enqueue(bc, f);
}

void client_send_everywhere(struct redis_client *c, struct msg *m, const char *req, const struct resp_request *r)
{
    send_everywhere(c, m, NULL, 0, req, r);
}

/* m to every server, as fragments merged into m: bytes[0..n) when given,
 * else the client's request as it came. */
static void send_everywhere(struct redis_client *c, struct msg *m, const char *bytes, size_t n, const char *req,
                            const struct resp_request *r)
{
    struct redis_pool *p = c->pool;

    if ((m->frags = calloc((size_t)p->nservers, sizeof *m->frags)) == NULL) {
        msg_fail(c->w, m, "ERR coproxy: out of memory");
        return;
    }
    for (int i = 0; i < p->nservers; i++)
        if (!p->servers[i]->cluster_replica && !p->servers[i]->cluster_absent   /* a cluster's masters */
            && client_add_frag(c, m, p->servers[i]) == NULL) {
            msg_fail(c->w, m, "ERR coproxy: out of memory");
            return;
        }
    if (m->nfrags == 0) {
        msg_fail(c->w, m, "ERR coproxy: no server available in pool %s", p->conf->name);
        return;
    }
    m->frags_left = m->nfrags;
    for (uint32_t i = 0; i < m->nfrags && m->nfrags > 0; i++) {
        struct msg *f = m->frags[i];
        struct backend_conn *bc = conn_for(c, f->server, f);
        size_t mark;
        if (bc == NULL)
            continue;
        mark = bc->out.len;
        if ((bytes ? rbuf_append(&bc->out, bytes, n) : append_request(&bc->out, req, r)) != 0) {
            bc->out.len = mark;
            msg_fail(c->w, f, "ERR coproxy: out of memory");
            continue;
        }
        backend_enqueue(bc, f);
    }
}

/* To one server, the same one every time (the one the empty key maps to). */
void route_one(struct redis_client *c, const char *req, const struct resp_request *r)
{
    struct msg *m = client_queue_msg(c);

    if (m == NULL)
        return;
    struct route rt = redis_pool_route(c->pool, "", 0, 0);

    client_set_deadline(c, m);
    send_whole(c, m, rt.server, rt.slot1, req, r);
}

/* INFO: coproxy's server section (with the first server's redis_version)
 * and the keyspace summed over the servers; other sections are the
 * servers' own: ask them directly. */
void route_info(struct redis_client *c, const char *req, const struct resp_request *r)
{
    static const char ask[] = "*3\r\n$4\r\nINFO\r\n$6\r\nserver\r\n$8\r\nkeyspace\r\n";
    struct redis_pool *p = c->pool;
    uint8_t want = r->argc == 1 ? 3 : 0;
    struct msg *m;

    for (uint32_t i = 1; i < r->argc; i++) {
        const struct resp_arg *a = &r->args[i];
        if (redis_arg_is(req, a, "default") || redis_arg_is(req, a, "all") || redis_arg_is(req, a, "everything"))
            want |= 3;
        else if (redis_arg_is(req, a, "server"))
            want |= 1;
        else if (redis_arg_is(req, a, "keyspace"))
            want |= 2;
    }
    if (want == 0) {
        client_reply_str(c, "$0\r\n\r\n");   /* as Redis for sections it does not have */
        return;
    }
    if ((m = client_queue_msg(c)) == NULL)
        return;
    client_set_deadline(c, m);
    m->merge = MERGE_INFO;
    m->info_want = want;
    if ((want & 1)
        && rbuf_printf(&m->reply, "# Server\r\ncoproxy_version:%s\r\nproxy_mode:redis\r\npool:%s\r\n"
                       "servers:%d\r\nworkers:%d\r\nprocess_id:%d\r\n", COPROXY_VERSION, p->conf->name,
                       p->nservers, c->w->d->cfg.threads, (int)getpid()) != 0) {
        msg_fail(c->w, m, "ERR coproxy: out of memory");
        return;
    }
    send_everywhere(c, m, ask, sizeof ask - 1, NULL, NULL);
}

/* SCAN: the client's cursor says which server and where in it (see merge_scan). */
void route_scan(struct redis_client *c, const char *req, const struct resp_request *r)
{
    struct redis_pool *p = c->pool;
    const struct resp_arg *a = &r->args[1];
    struct backend_conn *bc;
    struct msg *m, *f;
    char num[24], *end;
    unsigned long long cursor;
    size_t mark;
    struct redis_server *stack_masters[16], **masters = stack_masters, *s;
    int i, n = p->nservers;

    snprintf(num, sizeof num, "%.*s", (int)(a->len < 23 ? a->len : 23), req + a->off);
    errno = 0;
    cursor = strtoull(num, &end, 10);
    if (a->len == 0 || a->len > 20 || *end != '\0' || num[0] == '-' || errno == ERANGE) {   /* Redis: 64 bits */
        client_reply_error(c, "ERR invalid cursor");
        return;
    }
    if (p->cluster != NULL) {   /* the masters, in an order every worker agrees on */
        if (n > 16 && (masters = malloc((size_t)n * sizeof *masters)) == NULL) {
            client_reply_error(c, "ERR coproxy: out of memory");
            return;
        }
        n = cluster_masters(p, masters);
        if (n == 0) {
            if (masters != stack_masters)
                free(masters);
            client_reply_error(c, "ERR coproxy: no cluster node known yet");
            return;
        }
    }
    i = (int)(cursor % (unsigned long long)n);
    s = p->cluster != NULL ? masters[i] : p->servers[i];
    if (masters != stack_masters)
        free(masters);
    if ((m = client_queue_msg(c)) == NULL)
        return;
    client_set_deadline(c, m);
    m->merge = MERGE_SCAN;
    m->scan_server = (uint32_t)i;
    m->scan_nservers = (uint32_t)n;
    if ((m->frags = calloc(1, sizeof *m->frags)) == NULL || (f = client_add_frag(c, m, s)) == NULL) {
        msg_fail(c->w, m, "ERR coproxy: out of memory");
        return;
    }
    m->frags_left = 1;
    if ((bc = conn_for(c, f->server, f)) == NULL)
        return;
    /* the same request with the server's own cursor */
    mark = bc->out.len;
    snprintf(num, sizeof num, "%llu", cursor / (unsigned long long)n);
    if (redis_append_header(&bc->out, '*', r->argc) != 0 || redis_append_bulk(&bc->out, "SCAN", 4) != 0
        || redis_append_bulk(&bc->out, num, strlen(num)) != 0) {
        bc->out.len = mark;
        msg_fail(c->w, f, "ERR coproxy: out of memory");
        return;
    }
    for (uint32_t k = 2; k < r->argc; k++)
        if (redis_append_bulk(&bc->out, req + r->args[k].off, r->args[k].len) != 0) {
            bc->out.len = mark;
            msg_fail(c->w, f, "ERR coproxy: out of memory");
            return;
        }
    backend_enqueue(bc, f);
}

void route_fanout(struct redis_client *c, const struct redis_cmd *cmd, const char *req,
                         const struct resp_request *r)
{
    struct redis_pool *p = c->pool;
    struct msg *m;

    int exists = strcmp(cmd->name, "SCRIPT") == 0 && redis_arg_is(req, &r->args[1], "EXISTS");

    if (strcmp(cmd->name, "SCRIPT") == 0 && !redis_arg_is(req, &r->args[1], "LOAD") && !redis_arg_is(req, &r->args[1], "FLUSH")
        && !exists) {
        client_reply_error(c, "ERR coproxy: only SCRIPT LOAD, EXISTS and FLUSH are supported (they go to every server)");
        return;
    }
    if (!p->conf->allow_flush && (strcmp(cmd->name, "FLUSHDB") == 0 || strcmp(cmd->name, "FLUSHALL") == 0)) {
        c->pool->stats->errors_refused++;
        client_reply_error(c, "ERR coproxy: %s is turned off in pool %s (allow_flush = false)", cmd->name, p->conf->name);
        return;
    }
    if (strcmp(cmd->name, "FUNCTION") == 0) {
        const struct resp_arg *sub = &r->args[1];
        if (redis_arg_is(req, sub, "LIST") || redis_arg_is(req, sub, "DUMP")) {   /* every server has the same */
            route_one(c, req, r);
            return;
        }
        if (!redis_arg_is(req, sub, "LOAD") && !redis_arg_is(req, sub, "DELETE") && !redis_arg_is(req, sub, "FLUSH")
            && !redis_arg_is(req, sub, "RESTORE")) {
            client_reply_error(c, "ERR coproxy: FUNCTION LOAD, DELETE, FLUSH and RESTORE go to every server, LIST and "
                        "DUMP to one; ask a server directly for the others");
            return;
        }
    }
    if ((m = client_queue_msg(c)) == NULL)
        return;
    client_set_deadline(c, m);
    m->merge = cmd->route == ROUTE_FANOUT_SUM      ? MERGE_SUM
               : cmd->route == ROUTE_FANOUT_CONCAT ? MERGE_CONCAT
               : cmd->route == ROUTE_FANOUT_RANDOM ? MERGE_RANDOM
               : exists                            ? MERGE_ALL
                                                   : MERGE_OK;
    send_everywhere(c, m, NULL, 0, req, r);
}
