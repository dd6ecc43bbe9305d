/* redis_client.c — redis mode: one coroutine per client: parse, route, answer in request order. */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "costack.h"
#include "log.h"
#include "redis.h"
#include "redis_client.h"
#include "redis_cmd.h"
#include "redis_pushback.h"
#include "worker.h"

/*
 * Written as a loop of blocking steps, each parking only this client:
 * read what the client sent, parse every whole request in it, route each
 * (its bytes go to a backend connection's queue, or it is answered here),
 * then write the replies in request order as they complete, and read
 * again.  While idle, the client holds no buffer and no argument array
 * (both go back to the worker) and parks a few frames deep.
 */

/* Requests dispatched before their replies are written: bounds a pipeline's memory. */
#define CLIENT_MAX_QUEUED 1024
#define IOV_BATCH 64
/* A client idle this long gives its coroutine back; a watch on its socket
 * makes a new one when it speaks again.  Idle, it costs its state and the
 * watch, not a parked coroutine's saved frames. */
#define CLIENT_SHED_MS 1000

static uint64_t next_client_id(struct worker *w)
{
    /* distinct across workers: the worker id in the low bits */
    return ++w->client_seq * 1024 + (uint64_t)w->id;
}

/* The client's number within its worker: spreads clients over a server's
 * connections (the id's low bits are the worker's). */
static uint64_t client_seq(const struct redis_client *c)
{
    return c->id / 1024;
}

struct redis_client *redis_client_new(struct worker *w, struct pool_rt *p, int fd)
{
    struct redis_client *c = calloc(1, sizeof *c);

    if (c == NULL)
        return NULL;
    c->w = w;
    c->pool = p->redis;
    c->fd = fd;
    c->tail = &c->head;
    c->id = next_client_id(w);
    c->authed = c->pool->conf->password[0] == '\0';
    c->db = -1;
    return c;
}

void client_wake_up(struct redis_client *c);

/* The client's address, "host:port" ("unix:0" on a Unix socket; "?:0" if unknown): for CLIENT LIST and logs. */
static const char *client_addr(const struct redis_client *c, char *out, size_t n)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    char host[INET6_ADDRSTRLEN] = "?";
    int port = 0;

    if (getpeername(c->fd, (struct sockaddr *)&ss, &len) == 0) {
        if (ss.ss_family == AF_INET) {
            inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, host, sizeof host);
            port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        } else if (ss.ss_family == AF_INET6) {
            inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, host, sizeof host);
            port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
        } else {
            snprintf(host, sizeof host, "unix");
        }
    }
    snprintf(out, n, "%s:%d", host, port);
    return out;
}

/* Replies pile up for a client that does not read them: past the pool's
 * limits it is closed (its socket shut down wakes it wherever it waits). */
static void client_output_check(struct redis_client *c);

static void soft_limit_due(void *arg)
{
    struct redis_client *c = arg;

    if (c->soft_since != 0)
        client_output_check(c);
}

static void client_output_check(struct redis_client *c)
{
    const struct pool_conf *pc = c->pool->conf;
    uint64_t now;
    char addr[80];

    if (c->overflow)
        return;
    if (pc->client_output_limit == 0 || c->reply_bytes <= pc->client_output_limit) {
        if (pc->client_output_soft_limit == 0 || c->reply_bytes <= pc->client_output_soft_limit) {
            c->soft_since = 0;
            return;
        }
        now = worker_now_ms();
        if (c->soft_since == 0) {
            /* over from now: looked at again when the time is up, whether
             * or not more replies come meanwhile */
            c->soft_since = now;
            if (c->soft_timer == NULL)
                c->soft_timer = co_timer_new(soft_limit_due, c);
            if (c->soft_timer != NULL)
                co_timer_arm(c->soft_timer, pc->client_output_soft_time);
        }
        if (now - c->soft_since < (uint64_t)pc->client_output_soft_time)
            return;
    }
    c->overflow = 1;
    c->pool->stats->client_output_closed++;
    log_warn("pool %s: client %s closed: %llu bytes of replies it has not read (client_output_limit %llu, "
             "client_output_soft_limit %llu for %d ms)", pc->name, client_addr(c, addr, sizeof addr),
             (unsigned long long)c->reply_bytes, (unsigned long long)pc->client_output_limit,
             (unsigned long long)pc->client_output_soft_limit, pc->client_output_soft_time);
    shutdown(c->fd, SHUT_RDWR);
    client_wake_up(c);
}

/* m's reply is final (msg_finish): counted, and the client woken if it waits for it. */
static void client_reply_done(struct redis_client *c, struct msg *m)
{
    const struct pool_conf *pc = c->pool->conf;

    if (!m->counted && !m->silent) {
        m->counted = 1;
        c->reply_bytes += m->reply.len;
        if ((pc->client_output_limit != 0 && c->reply_bytes > pc->client_output_limit)
            || (pc->client_output_soft_limit != 0 && c->reply_bytes > pc->client_output_soft_limit))
            client_output_check(c);
    }
    if (c->waiting && m == c->head) {
        c->waiting = 0;
        co_cond_signal(c->cond);
    }
}

void client_wake_up(struct redis_client *c)
{
    if (c->waiting || c->sub_waiting) {
        c->waiting = c->sub_waiting = 0;
        co_cond_signal(c->cond);
    }
}

void redis_pool_stop_clients(struct redis_pool *p)
{
    /* a client ends when its reads end: in-flight requests are still
     * answered.  A blocked command waits on (up to shutdown_timeout): its
     * client's reads end once it is answered (see flush_replies). */
    for (struct redis_client *c = p->clients; c; c = c->next)
        if (c->pin_holds == 0)
            shutdown(c->fd, SHUT_RD);
}

static void on_idle(void *arg)
{
    struct redis_client *c = arg;

    c->kicked = 1;
    shutdown(c->fd, SHUT_RDWR);   /* wakes the client wherever it waits */
}

/* ---- the client's queue --------------------------------------------------- */

/* A new message at the tail of the client's queue (NULL: out of memory, the
 * client is closed). */
struct msg *client_queue_msg(struct redis_client *c)
{
    struct msg *m = msg_get(c->w);

    if (m == NULL) {
        c->closing = 1;
        return NULL;
    }
    m->client = c;
    m->finished = client_reply_done;
    m->refs = 1;
    m->start_us = c->batch_us;
    m->silent = c->reply_off || c->reply_skip > 0;   /* CLIENT REPLY OFF / SKIP */
    if (c->reply_skip > 0)
        c->reply_skip--;
    *c->tail = m;
    c->tail = &m->cnext;
    c->nqueued++;
    return m;
}

/* A reply made here: appended to the queue already done. */
void client_reply_raw(struct redis_client *c, const char *p, size_t n)
{
    struct msg *m = client_queue_msg(c);

    if (m == NULL)
        return;
    if (rbuf_append(&m->reply, p, n) != 0)
        m->reply.len = 0;
    m->done = 1;
    c->pool->stats->local_replies++;
}

void client_reply_str(struct redis_client *c, const char *s)
{
    client_reply_raw(c, s, strlen(s));
}

void client_reply_error(struct redis_client *c, const char *fmt, ...)
{
    struct msg *m = client_queue_msg(c);
    char text[512];
    va_list ap;

    if (m == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    if (rbuf_printf(&m->reply, "-%s\r\n", text) != 0)
        m->reply.len = 0;
    m->done = 1;
    c->pool->stats->local_replies++;
}

static void reply_bulk(struct redis_client *c, const char *s, size_t n)
{
    struct msg *m = client_queue_msg(c);

    if (m == NULL)
        return;
    if (rbuf_reserve(&m->reply, resp_write_bulk_len(n)) == 0)
        m->reply.len = resp_write_bulk(m->reply.data, s, n);
    m->done = 1;
    c->pool->stats->local_replies++;
}

static void reply_int(struct redis_client *c, int64_t v)
{
    char out[RESP_INT_MAX_LEN];

    client_reply_raw(c, out, resp_write_int(out, ':', v));
}

/* A command name fit for an error message: printable, at most 64 bytes. */
static const char *printable(const char *s, size_t n, char out[72])
{
    size_t i;

    for (i = 0; i < n && i < 64; i++)
        out[i] = isprint((unsigned char)s[i]) && s[i] != '\'' ? s[i] : '?';
    out[i] = '\0';
    return out;
}

const char *redis_lower_name(const char *s, char out[40])
{
    size_t i;

    for (i = 0; s[i] && i < 39; i++)
        out[i] = (char)tolower((unsigned char)s[i]);
    out[i] = '\0';
    return out;
}

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
static int append_request(struct rbuf *b, const char *req, const struct resp_request *r)
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
static void send_whole(struct redis_client *c, struct msg *m, struct redis_server *s, uint16_t slot1,
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
static void route_keys(struct redis_client *c, const struct redis_cmd *cmd, const char *req,
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
static void route_split(struct redis_client *c, const struct redis_cmd *cmd, const char *req,
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
static void route_one(struct redis_client *c, const char *req, const struct resp_request *r)
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
static void route_info(struct redis_client *c, const char *req, const struct resp_request *r)
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
static void route_scan(struct redis_client *c, const char *req, const struct resp_request *r)
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

static void route_fanout(struct redis_client *c, const struct redis_cmd *cmd, const char *req,
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

/* ---- a connection of its own: transactions and blocking commands ---------- */

/*
 * WATCH, or the first key after MULTI, pins the client to one server: it
 * takes a connection of that server's pinned pool and sends its requests
 * for that server there until EXEC, DISCARD or UNWATCH.  A blocking
 * command takes one until its reply.  Keys elsewhere are refused (in a
 * transaction, the transaction aborts, as Redis aborts on a queueing
 * error).  A client that leaves while the server holds state for it
 * closes the connection, so no WATCH, MULTI or blocked command outlives it.
 */

/* The one server of the request's keys: 0 with *out (NULL: no keys), or -1
 * after the error reply. */
static int keys_server(struct redis_client *c, const struct redis_cmd *cmd, const char *req,
                       const struct resp_request *r, struct redis_server **out)
{
    uint32_t stack_keys[16], *keys = r->argc <= 16 ? stack_keys : malloc(r->argc * sizeof *keys);
    const char *err = NULL;
    char name[40];
    int n, rc = 0;
    uint16_t slot1 = 0;

    *out = NULL;
    if (keys == NULL) {
        client_reply_error(c, "ERR coproxy: out of memory");
        return -1;
    }
    n = cmd->first == 0 && cmd->numkeys_at == 0 ? 0 : redis_cmd_keys(cmd, req, r->args, r->argc, keys, &err);
    if (n < 0) {
        client_reply_error(c, "%s", err);
        rc = -1;
    } else if (n == 0 && cmd->route == ROUTE_KEYS && r->argc > 1) {   /* EVAL with no keys */
        *out = redis_pool_route(c->pool, req + r->args[1].off, r->args[1].len, 0).server;
    }
    for (int i = 0; i < n && rc == 0; i++) {
        struct route rt = redis_pool_route(c->pool, req + r->args[keys[i]].off, r->args[keys[i]].len, 0);
        struct redis_server *k = rt.server;
        if (i == 0)
            slot1 = rt.slot1;
        if (i > 0 && c->pool->cluster != NULL && rt.slot1 != slot1) {
            client_reply_error(c, "CROSSSLOT Keys in request don't hash to the same slot");
            rc = -1;
        } else if (i > 0 && k != *out) {
            client_reply_error(c, "ERR coproxy: the keys of '%s' are on different servers "
                        "(a hash tag such as {user1} keeps keys together)", redis_lower_name(cmd->name, name));
            rc = -1;
        }
        *out = k;
    }
    if (keys != stack_keys)
        free(keys);
    return rc;
}

static int pin_lost(const struct redis_client *c)
{
    return c->pin != NULL && c->pin->drops != c->pin_drops;
}

static int select_on_pin(struct redis_client *c, int db);
static void release_pin(struct redis_client *c, int dirty);

/* Takes a connection of s for the client; -1 after the error reply. */
static int take_pin(struct redis_client *c, struct redis_server *s)
{
    if (s == NULL) {
        client_reply_error(c, "ERR coproxy: no server available in pool %s", c->pool->conf->name);
        return -1;
    }
    if ((c->pin = backend_pin(c->w, s)) == NULL) {
        c->pool->stats->errors_refused++;
        if (c->pool->conf->server_pinned_connections == 0)
            client_reply_error(c, "ERR coproxy: transactions and blocking commands are off in pool %s "
                        "(server_pinned_connections = 0)", c->pool->conf->name);
        else
            client_reply_error(c, "ERR coproxy: all %d pinned connections to server %s are in use "
                        "(server_pinned_connections); try again later",
                        c->pool->conf->server_pinned_connections, s->conf->name);
        return -1;
    }
    c->pin_drops = c->pin->drops;
    if (c->db >= 0 && select_on_pin(c, c->db) != 0) {
        release_pin(c, 1);
        client_reply_error(c, "ERR coproxy: out of memory");
        return -1;
    }
    return 0;
}

static void release_pin(struct redis_client *c, int dirty)
{
    if (c->pin == NULL)
        return;
    /* a free pin is on the pool's database: the next client expects it */
    if (!dirty && c->pin_selected && select_on_pin(c, c->pool->conf->redis_db) != 0)
        dirty = 1;
    c->pin_selected = 0;
    backend_unpin(c->w, c->pin, dirty);
    c->pin = NULL;
    c->watching = 0;
    c->pin_holds = 0;
}

/* Sends count whole requests (bytes[0..n)) on bc whose replies nobody
 * wants but must be '+' (MULTI's +OK, +QUEUED): the transaction's opening. */
static int send_internal(struct redis_client *c, struct backend_conn *bc, const char *bytes, size_t n,
                         uint32_t count)
{
    if (rbuf_append(&bc->out, bytes, n) != 0)
        return -1;
    for (uint32_t i = 0; i < count; i++) {
        struct msg *m = msg_get(c->w);
        if (m == NULL)
            return -1;   /* the connection would be out of step: the caller drops it */
        m->internal = 1;
        m->server = bc->srv;
        backend_enqueue(bc, m);   /* its only holder: the connection */
    }
    return 0;
}

/* SELECT db on the pin, its +OK checked and dropped. */
static int select_on_pin(struct redis_client *c, int db)
{
    char req[64];
    int n = snprintf(req, sizeof req, "*2\r\n$6\r\nSELECT\r\n$%d\r\n%d\r\n", snprintf(NULL, 0, "%d", db), db);

    c->pin_selected = 1;
    return send_internal(c, c->pin, req, (size_t)n, 1);
}

/* The request, as the client's, on its pinned connection. */
static struct msg *send_pinned(struct redis_client *c, const char *req, const struct resp_request *r)
{
    struct msg *m = client_queue_msg(c);
    struct backend_conn *bc;
    size_t mark;

    if (m == NULL)
        return NULL;
    client_set_deadline(c, m);
    if (c->writing)   /* for WAIT */
        c->wrote |= c->pin->srv->index < 64 ? (uint64_t)1 << c->pin->srv->index : ~(uint64_t)0;
    if ((bc = backend_pick_pinned(c->w, c->pin, m)) == NULL)
        return m;
    mark = bc->out.len;
    if (append_request(&bc->out, req, r) != 0) {
        bc->out.len = mark;
        msg_fail(c->w, m, "ERR coproxy: out of memory");
        return m;
    }
    backend_enqueue(bc, m);
    return m;
}

/* The client's state on its pin has ended: the pin goes back, unless a
 * blocking command still waits on it (then when that is answered). */
static void unpin_when_idle(struct redis_client *c)
{
    c->watching = 0;
    if (c->pin != NULL && c->pin_holds == 0)
        release_pin(c, 0);
}

static void abort_multi(struct redis_client *c)
{
    c->multi_abort = 1;
}

/* The transaction's server is known now: pin it and open the transaction
 * there with what was queued before.  -1 after the error reply. */
static int open_multi_on(struct redis_client *c, struct redis_server *s)
{
    static const char multi[] = "*1\r\n$5\r\nMULTI\r\n";

    if (take_pin(c, s) != 0)
        return -1;
    if (send_internal(c, c->pin, multi, sizeof multi - 1, 1) != 0
        || send_internal(c, c->pin, c->deferred.data, c->deferred.len, c->ndeferred) != 0) {
        release_pin(c, 1);
        client_reply_error(c, "ERR coproxy: out of memory");
        return -1;
    }
    rbuf_free(&c->deferred);
    c->ndeferred = 0;
    return 0;
}

/* A request inside MULTI: queued on the transaction's server. */
static void queue_in_multi(struct redis_client *c, const struct redis_cmd *cmd, const char *req,
                           const struct resp_request *r)
{
    struct redis_server *s = NULL;
    char name[40];

    switch (cmd->route) {
    case ROUTE_KEYS:
    case ROUTE_SPLIT_MGET:
    case ROUTE_SPLIT_SUM:
    case ROUTE_SPLIT_MSET:
    case ROUTE_BLOCKING:   /* inside MULTI it does not block */
        if (keys_server(c, cmd, req, r, &s) != 0) {
            abort_multi(c);
            return;
        }
        break;
    case ROUTE_LOCAL:
        if (strcmp(cmd->name, "QUIT") == 0) {
            client_reply_str(c, "+OK\r\n");
            c->closing = 1;
            return;
        }
        if (strcmp(cmd->name, "PING") == 0 || strcmp(cmd->name, "ECHO") == 0)
            break;   /* any server answers it: the transaction's */
        /* fall through */
    default:
        c->pool->stats->errors_refused++;
        client_reply_error(c, "ERR coproxy: '%s' cannot be queued in a transaction", redis_lower_name(cmd->name, name));
        abort_multi(c);
        return;
    }
    if (c->pin == NULL && s == NULL) {   /* no key yet: queued here until one says where */
        if (append_request(&c->deferred, req, r) != 0) {
            client_reply_error(c, "ERR coproxy: out of memory");
            abort_multi(c);
            return;
        }
        c->ndeferred++;
        client_reply_str(c, "+QUEUED\r\n");
        return;
    }
    if (c->pin == NULL && open_multi_on(c, s) != 0) {
        abort_multi(c);
        return;
    }
    if (s != NULL && s != c->pin->srv) {
        client_reply_error(c, "ERR coproxy: the keys of '%s' are on server %s, this transaction's on server %s "
                    "(a hash tag such as {user1} keeps keys together)", redis_lower_name(cmd->name, name), s->conf->name,
                    c->pin->srv->conf->name);
        abort_multi(c);
        return;
    }
    if (pin_lost(c)) {
        client_reply_error(c, "ERR coproxy: the connection holding this transaction was lost");
        abort_multi(c);
        return;
    }
    send_pinned(c, req, r);
}

static void txn_command(struct redis_client *c, const struct redis_cmd *cmd, const char *req,
                        const struct resp_request *r)
{
    const char *name = cmd->name;
    struct redis_server *s;

    if (strcmp(name, "MULTI") == 0) {
        if (c->multi) {
            client_reply_error(c, "ERR MULTI calls can not be nested");
            return;
        }
        c->multi = 1;
        c->multi_abort = 0;
        if (c->pin != NULL && !pin_lost(c)) {
            send_pinned(c, req, r);   /* pinned already (WATCH, a blocking command): opened there */
        } else if (c->pin != NULL) {
            client_reply_str(c, "+OK\r\n");
            abort_multi(c);   /* its WATCH is gone: EXEC cannot be right */
        } else {
            client_reply_str(c, "+OK\r\n");   /* opened on the server at the first key */
        }
    } else if (strcmp(name, "EXEC") == 0 || strcmp(name, "DISCARD") == 0) {
        int exec = name[0] == 'E';
        if (!c->multi) {
            client_reply_error(c, exec ? "ERR EXEC without MULTI" : "ERR DISCARD without MULTI");
            return;
        }
        c->multi = 0;
        if (c->pin == NULL || (c->pin->drops == c->pin_drops && !(exec && c->multi_abort))) {
            if (c->pin == NULL && exec && !c->multi_abort) {
                /* nothing named a key: any server runs it, the same one each time */
                s = redis_pool_route(c->pool, "", 0, 0).server;
                if (open_multi_on(c, s) != 0) {
                    rbuf_free(&c->deferred);
                    c->ndeferred = 0;
                    return;   /* the error is EXEC's reply */
                }
            }
            if (c->pin != NULL)
                send_pinned(c, req, r);
            else if (exec)
                client_reply_error(c, "EXECABORT Transaction discarded because of previous errors.");
            else
                client_reply_str(c, "+OK\r\n");
            unpin_when_idle(c);   /* EXEC and DISCARD end the WATCH too */
        } else {
            /* aborted, or its connection was lost: nothing runs */
            static const char discard[] = "*1\r\n$7\r\nDISCARD\r\n";
            int lost = pin_lost(c);
            if (exec)
                client_reply_error(c, "EXECABORT Transaction discarded because of previous errors.");
            else
                client_reply_str(c, "+OK\r\n");
            /* the server's MULTI (if it got one) is discarded behind what it queued */
            if (c->pin != NULL && (lost || send_internal(c, c->pin, discard, sizeof discard - 1, 1) != 0))
                release_pin(c, 1);
            else
                unpin_when_idle(c);
        }
        rbuf_free(&c->deferred);
        c->ndeferred = 0;
        c->multi_abort = 0;
    } else if (strcmp(name, "WATCH") == 0) {
        if (c->multi) {
            client_reply_error(c, "ERR WATCH inside MULTI is not allowed");
            return;
        }
        if (keys_server(c, cmd, req, r, &s) != 0)
            return;
        if (c->pin != NULL && c->pin->srv != s) {
            client_reply_error(c, "ERR coproxy: the keys of 'watch' are on server %s, this client's watched keys "
                        "(or its blocked command) on server %s", s ? s->conf->name : "?", c->pin->srv->conf->name);
            return;
        }
        if (c->pin != NULL && pin_lost(c)) {
            client_reply_error(c, "ERR coproxy: the connection holding this client's WATCH was lost; UNWATCH and "
                        "start again");
            return;
        }
        if (c->pin == NULL && take_pin(c, s) != 0)
            return;
        c->watching = 1;
        send_pinned(c, req, r);
    } else {   /* UNWATCH */
        if (c->multi) {   /* queued like any command */
            queue_in_multi(c, &(struct redis_cmd){ .name = "PING", .route = ROUTE_LOCAL }, req, r);
            return;
        }
        if (c->pin != NULL && c->watching) {
            if (!pin_lost(c))
                send_pinned(c, req, r);
            else
                client_reply_str(c, "+OK\r\n");
            if (pin_lost(c))
                release_pin(c, 1);
            else
                unpin_when_idle(c);
        } else {
            client_reply_str(c, "+OK\r\n");
        }
    }
}

/* A blocking request for server s whose own timeout is `ms` (<= 0: none):
 * on the client's pinned connection, without server_timeout meanwhile. */
static void send_blocking(struct redis_client *c, const char *cmdname, struct redis_server *s, double ms,
                          const char *req, const struct resp_request *r)
{
    char name[40];
    struct msg *m;

    if (c->pin != NULL && c->pin->srv != s) {
        client_reply_error(c, "ERR coproxy: the keys of '%s' are on server %s, this client's watched keys (or its "
                    "other blocked command) on server %s", redis_lower_name(cmdname, name), s ? s->conf->name : "?",
                    c->pin->srv->conf->name);
        return;
    }
    if (c->pin == NULL && take_pin(c, s) != 0)
        return;
    if ((m = send_pinned(c, req, r)) == NULL)
        return;
    if (!(ms > 0) || ms > 1e10)
        m->deadline = UINT64_MAX;   /* 0 blocks for ever; a bad one, the server refuses at once */
    else
        m->deadline = c->batch_us / 1000 + (uint64_t)ms + (uint64_t)c->pool->conf->server_timeout;
    m->blocking = 1;
    m->unpin = 1;
    m->pop_kind = (uint8_t)pushback_kind(cmdname, req, r);
    if (!c->hup) {
        /* did its FIN come with it (`nc -N`)?  Then it is answered as Redis
         * answers it: at once or not at all (one peek per blocking command) */
        char b;
        if (recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) == 0)
            c->hup = 1;
    }
    m->after_fin = c->hup;   /* the reply, if the server answers before it sees the FIN, is written */
    m->db = c->db;
    c->pin_holds++;
}

static double arg_number(const char *req, const struct resp_arg *a)
{
    char num[40], *end;
    double v;

    snprintf(num, sizeof num, "%.*s", (int)(a->len < 39 ? a->len : 39), req + a->off);
    v = strtod(num, &end);
    return a->len == 0 || *end != '\0' ? -1 : v;
}

/* BLPOP and kin: the command's own timeout, in seconds (BLMPOP/BZMPOP's
 * first argument, the others' last). */
static void route_blocking(struct redis_client *c, const struct redis_cmd *cmd, const char *req,
                           const struct resp_request *r)
{
    struct redis_server *s;

    if (keys_server(c, cmd, req, r, &s) != 0)
        return;
    send_blocking(c, cmd->name, s, 1000 * arg_number(req, &r->args[cmd->numkeys_at > 0 ? 1 : r->argc - 1]), req, r);
}

/* XREAD, XREADGROUP: the keys are the first half of what follows STREAMS;
 * BLOCK ms makes it a blocking command. */
static void route_xread(struct redis_client *c, const struct redis_cmd *cmd, const char *req,
                        const struct resp_request *r)
{
    uint32_t streams = 0, block = 0, nkeys;
    uint16_t slot1 = 0;
    struct redis_server *s = NULL;
    char name[40];
    struct msg *m;

    for (uint32_t i = 1; i < r->argc && streams == 0; i++) {
        if (redis_arg_is(req, &r->args[i], "STREAMS"))
            streams = i;
        else if (redis_arg_is(req, &r->args[i], "BLOCK") && i + 1 < r->argc)
            block = ++i;
        else if ((redis_arg_is(req, &r->args[i], "COUNT") || redis_arg_is(req, &r->args[i], "GROUP")) && i + 1 < r->argc)
            i += redis_arg_is(req, &r->args[i], "GROUP") ? 2 : 1;
    }
    nkeys = streams ? (r->argc - streams - 1) / 2 : 0;
    if (streams == 0 || nkeys == 0 || (r->argc - streams - 1) % 2 != 0) {
        client_reply_error(c, "ERR Unbalanced '%s' list of streams: for each stream key an ID or '$' must be specified.",
                    redis_lower_name(cmd->name, name));
        return;
    }
    for (uint32_t k = 0; k < nkeys; k++) {
        const struct resp_arg *a = &r->args[streams + 1 + k];
        struct route rt = redis_pool_route(c->pool, req + a->off, a->len, c->route_read);
        struct redis_server *ks = rt.server;
        if (k == 0)
            slot1 = rt.slot1;
        if (k > 0 && ks != s) {
            client_reply_error(c, "ERR coproxy: the keys of '%s' are on different servers "
                        "(a hash tag such as {user1} keeps keys together)", redis_lower_name(cmd->name, name));
            return;
        }
        s = ks;
    }
    if (block != 0 && !c->multi) {
        send_blocking(c, cmd->name, s, arg_number(req, &r->args[block]), req, r);
        return;
    }
    if ((m = client_queue_msg(c)) != NULL) {
        client_set_deadline(c, m);
        send_whole(c, m, s, slot1, req, r);
    }
}

/* ---- commands answered here ------------------------------------------------ */

static int check_password(struct redis_client *c, const char *req, const struct resp_arg *user,
                          const struct resp_arg *pass)
{
    const char *want = c->pool->conf->password;
    size_t n = strlen(want);
    unsigned diff = pass->len != n;

    if (user && !redis_arg_is(req, user, "default"))
        diff = 1;
    for (size_t i = 0; i < pass->len && i < n; i++)
        diff |= (unsigned)(req[pass->off + i] ^ want[i]);
    if (diff) {
        c->pool->stats->auth_failures++;
        return -1;
    }
    c->authed = 1;
    return 0;
}

static void cmd_hello(struct redis_client *c, const char *req, const struct resp_request *r)
{
    uint32_t i = 1;
    char ver[32];
    struct msg *m;

    if (r->argc >= 2) {
        const struct resp_arg *a = &r->args[1];
        if (!redis_arg_is(req, a, "2")) {
            if (redis_arg_is(req, a, "3"))
                client_reply_error(c, "NOPROTO this proxy speaks RESP2 only (HELLO 2)");
            else
                client_reply_error(c, "NOPROTO unsupported protocol version");
            return;
        }
        i = 2;
    }
    for (; i < r->argc; i++) {
        if (redis_arg_is(req, &r->args[i], "AUTH") && i + 2 < r->argc) {
            if (c->pool->conf->password[0] == '\0' || check_password(c, req, &r->args[i + 1], &r->args[i + 2]) != 0) {
                client_reply_error(c, "WRONGPASS invalid username-password pair or user is disabled.");
                return;
            }
            i += 2;
        } else if (redis_arg_is(req, &r->args[i], "SETNAME") && i + 1 < r->argc) {
            i++;
        } else {
            char name[72];
            client_reply_error(c, "ERR Syntax error in HELLO option '%s'",
                        printable(req + r->args[i].off, r->args[i].len, name));
            return;
        }
    }
    if (!c->authed) {
        client_reply_error(c, "NOAUTH HELLO must be called with the client already authenticated, otherwise the "
                    "HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client");
        return;
    }
    if ((m = client_queue_msg(c)) == NULL)
        return;
    snprintf(ver, sizeof ver, "%s", COPROXY_VERSION);
    rbuf_printf(&m->reply, "*14\r\n$6\r\nserver\r\n$7\r\ncoproxy\r\n$7\r\nversion\r\n$%zu\r\n%s\r\n"
                "$5\r\nproto\r\n:2\r\n$2\r\nid\r\n:%llu\r\n$4\r\nmode\r\n$5\r\nproxy\r\n"
                "$4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n",
                strlen(ver), ver, (unsigned long long)c->id);
    m->done = 1;
}

/* One CLIENT LIST line about client o. */
static int client_line(const struct redis_client *o, struct rbuf *out)
{
    char addr[80], name[40];

    return rbuf_printf(out, "id=%llu addr=%s fd=%d name=%s db=%d sub=%u psub=%u multi=%d watch=%d worker=%d "
                       "cmd=%s\n", (unsigned long long)o->id, client_addr(o, addr, sizeof addr), o->fd, o->name ? o->name : "",
                       o->db >= 0 ? o->db : o->pool->conf->redis_db, pubsub_channels(o), pubsub_patterns(o),
                       o->multi ? (int)o->ndeferred : -1, o->watching, o->w->id,
                       o->last_cmd ? redis_lower_name(o->last_cmd, name) : "NULL");
}

int redis_pool_client_list(struct redis_pool *p, struct rbuf *out)
{
    for (struct redis_client *o = p->clients; o != NULL; o = o->next)
        if (client_line(o, out) != 0)
            return -1;
    return 0;
}

static void cmd_client(struct redis_client *c, const char *req, const struct resp_request *r)
{
    const struct resp_arg *sub = &r->args[1];

    if (redis_arg_is(req, sub, "SETNAME") && r->argc == 3) {
        const struct resp_arg *a = &r->args[2];
        for (uint32_t i = 0; i < a->len; i++) {
            if (req[a->off + i] <= ' ' || req[a->off + i] > '~') {
                client_reply_error(c, "ERR Client names cannot contain spaces, newlines or special characters.");
                return;
            }
        }
        free(c->name);
        c->name = NULL;
        if (a->len > 0 && (c->name = strndup(req + a->off, a->len)) == NULL) {
            client_reply_error(c, "ERR coproxy: out of memory");
            return;
        }
        client_reply_str(c, "+OK\r\n");
    } else if (redis_arg_is(req, sub, "GETNAME") && r->argc == 2) {
        if (c->name)
            reply_bulk(c, c->name, strlen(c->name));
        else
            client_reply_str(c, "$-1\r\n");
    } else if (redis_arg_is(req, sub, "ID") && r->argc == 2) {
        reply_int(c, (int64_t)c->id);
    } else if (redis_arg_is(req, sub, "SETINFO") && r->argc == 4) {
        client_reply_str(c, "+OK\r\n");
    } else if (redis_arg_is(req, sub, "NO-EVICT") && r->argc == 3) {
        client_reply_str(c, "+OK\r\n");   /* the proxy holds no data to evict */
    } else if (redis_arg_is(req, sub, "REPLY") && r->argc == 3) {
        const struct resp_arg *a = &r->args[2];
        if (redis_arg_is(req, a, "ON")) {
            c->reply_off = 0;
            c->reply_skip = 0;
            client_reply_str(c, "+OK\r\n");
        } else if (redis_arg_is(req, a, "OFF") || redis_arg_is(req, a, "SKIP")) {
            if (redis_arg_is(req, a, "OFF"))
                c->reply_off = 1;
            else
                c->reply_skip = 2;   /* this command's reply and the next one's */
            client_reply_str(c, "+OK\r\n");   /* not written: OFF and SKIP are silent */
        } else {
            client_reply_error(c, "ERR syntax error");
        }
    } else if ((redis_arg_is(req, sub, "INFO") && r->argc == 2) || (redis_arg_is(req, sub, "LIST") && r->argc == 2)) {
        struct rbuf line = { 0 };
        int err = 0;
        if (redis_arg_is(req, sub, "INFO"))
            err = client_line(c, &line);
        else   /* this worker's clients, then the others' (worker= says which) */
            err = redis_pool_client_list(c->pool, &line) != 0
                  || worker_client_lists(c->w, (int)(c->pool->rt - c->w->pools), &line) != 0;
        if (err)
            client_reply_error(c, "ERR coproxy: out of memory");
        else
            reply_bulk(c, line.data ? line.data : "", line.len);
        rbuf_free(&line);
    } else {
        char name[72];
        client_reply_error(c, "ERR unsupported command 'CLIENT %s'", printable(req + sub->off, sub->len, name));
    }
}

static void cmd_command(struct redis_client *c, const char *req, const struct resp_request *r)
{
    if (r->argc == 2 && redis_arg_is(req, &r->args[1], "COUNT"))
        reply_int(c, redis_cmd_count());
    else if (r->argc >= 2 && redis_arg_is(req, &r->args[1], "DOCS"))
        client_reply_str(c, "*0\r\n");   /* redis-cli asks for hints: none */
    else
        client_reply_error(c, "ERR coproxy: only COMMAND COUNT and COMMAND DOCS are supported");
}

/* RESET: the client's state as a new connection's (subscriptions, a
 * transaction, WATCH, SELECT, CLIENT REPLY, its name; AUTH again if a
 * password is set). */
static void client_reset(struct redis_client *c)
{
    pubsub_release(c);
    if (c->pin != NULL)
        release_pin(c, c->multi || c->watching || c->pin_holds > 0 || pin_lost(c));
    c->multi = c->multi_abort = 0;
    rbuf_free(&c->deferred);
    c->ndeferred = 0;
    c->db = -1;
    c->reply_off = c->reply_skip = 0;
    free(c->name);
    c->name = NULL;
    c->authed = c->pool->conf->password[0] == '\0';
    if (c->idle != NULL)
        co_timer_arm(c->idle, c->pool->conf->client_idle_timeout);
}

static void local_command(struct redis_client *c, const struct redis_cmd *cmd, const char *req,
                          const struct resp_request *r)
{
    const char *name = cmd->name;

    if (strcmp(name, "PING") == 0) {
        if (r->argc <= 2 && c->ps != NULL && pubsub_count(c) > 0) {   /* subscribed: as a push */
            struct rbuf b = { 0 };
            const char *arg = r->argc == 2 ? req + r->args[1].off : "";
            if (redis_append_header(&b, '*', 2) != 0 || redis_append_bulk(&b, "pong", 4) != 0
                || redis_append_bulk(&b, arg, r->argc == 2 ? r->args[1].len : 0) != 0)
                client_reply_error(c, "ERR coproxy: out of memory");
            else
                client_reply_raw(c, b.data, b.len);
            rbuf_free(&b);
        } else if (r->argc == 1)
            client_reply_str(c, "+PONG\r\n");
        else if (r->argc == 2)
            reply_bulk(c, req + r->args[1].off, r->args[1].len);
        else
            client_reply_error(c, "ERR wrong number of arguments for 'ping' command");
    } else if (strcmp(name, "ECHO") == 0) {
        reply_bulk(c, req + r->args[1].off, r->args[1].len);
    } else if (strcmp(name, "QUIT") == 0) {
        client_reply_str(c, "+OK\r\n");
        c->closing = 1;
    } else if (strcmp(name, "RESET") == 0) {
        /* carried out when what came before it is answered (a SUBSCRIBE's
         * acknowledgement, an EXEC), and what follows it sees its effect */
        struct msg *m = client_queue_msg(c);
        if (m != NULL) {
            m->reset = 1;
            c->reset_pending = 1;
        }
    } else if (strcmp(name, "SELECT") == 0) {
        const struct resp_arg *a = &r->args[1];
        char *end, num[24];
        long v;
        snprintf(num, sizeof num, "%.*s", (int)(a->len < 23 ? a->len : 23), req + a->off);
        v = strtol(num, &end, 10);
        if (a->len == 0 || a->len > 20 || *end != '\0') {
            client_reply_error(c, "ERR value is not an integer or out of range");
        } else if (c->pool->cluster != NULL && v != 0) {
            client_reply_error(c, "ERR SELECT is not allowed in cluster mode");
        } else if (v < 0 || v >= c->pool->conf->databases) {
            client_reply_error(c, "ERR DB index is out of range");
        } else {
            /* the servers' database v: shared connections that selected it, or the pin */
            c->db = v == c->pool->conf->redis_db ? -1 : (int)v;
            if (c->pin != NULL) {
                c->pin_selected = 1;
                send_pinned(c, req, r);
            } else {
                client_reply_str(c, "+OK\r\n");
            }
        }
    } else if (strcmp(name, "AUTH") == 0) {
        if (c->pool->conf->password[0] == '\0')
            client_reply_error(c, "ERR AUTH <password> called without any password configured for the default user. "
                        "Are you sure your configuration is correct?");
        else if (r->argc > 3)
            client_reply_error(c, "ERR syntax error");
        else if (check_password(c, req, r->argc == 3 ? &r->args[1] : NULL, &r->args[r->argc - 1]) != 0)
            client_reply_error(c, "WRONGPASS invalid username-password pair or user is disabled.");
        else
            client_reply_str(c, "+OK\r\n");
    } else if (strcmp(name, "HELLO") == 0) {
        cmd_hello(c, req, r);
    } else if (strcmp(name, "CLIENT") == 0) {
        cmd_client(c, req, r);
    } else if (strcmp(name, "COMMAND") == 0) {
        cmd_command(c, req, r);
    } else {
        char lname[40];
        client_reply_error(c, "ERR unsupported command '%s'", redis_lower_name(name, lname));
    }
}

/* An HTTP request sent to a redis port (a browser tricked by a web page
 * into a cross-protocol attack): its lines would run as commands.  Redis
 * closes the connection at POST or Host:, and so does coproxy. */
static int is_http_request(const char *name, size_t n)
{
    return (n == 4 && strncasecmp(name, "POST", 4) == 0) || (n == 5 && strncasecmp(name, "Host:", 5) == 0);
}

static void close_http_client(struct redis_client *c)
{
    static __thread uint64_t last_warned;   /* once a minute per worker, as an attack repeats */
    uint64_t now = worker_now_ms();
    char addr[80];

    c->pool->stats->security_closed++;
    c->closing = 1;
    if (last_warned != 0 && now - last_warned < 60000)
        return;
    last_warned = now;
    log_warn("pool %s: client %s sent an HTTP request (POST or Host:) to the redis port: possible cross-protocol "
             "attack, connection closed", c->pool->conf->name, client_addr(c, addr, sizeof addr));
}

/* With allow_flush = false, a script that names a flush (or spells a name
 * with numeric escapes, \70 or \x46) is refused.  A guard against
 * accidents, not a sandbox: a script can build a command name at run
 * time; a backend user without FLUSHALL (redis_auth) is the hard limit. */
static int script_may_flush(const char *p, size_t n, int binary)
{
    for (size_t i = 0; i < n; i++) {
        if (i + 5 <= n && strncasecmp(p + i, "flush", 5) == 0)
            return 1;
        if (!binary && p[i] == '\\' && i + 1 < n && (isdigit((unsigned char)p[i + 1]) || p[i + 1] == 'x' || p[i + 1] == 'u'))
            return 1;
    }
    return 0;
}

/* The script text a request carries (EVAL, SCRIPT LOAD, FUNCTION LOAD or
 * RESTORE), or NULL. */
static const struct resp_arg *request_script(const struct redis_cmd *cmd, const char *req, const struct resp_request *r)
{
    if ((strcmp(cmd->name, "EVAL") == 0 || strcmp(cmd->name, "EVAL_RO") == 0) && r->argc > 1)
        return &r->args[1];
    if (strcmp(cmd->name, "SCRIPT") == 0 && r->argc > 2 && redis_arg_is(req, &r->args[1], "LOAD"))
        return &r->args[2];
    if (strcmp(cmd->name, "FUNCTION") == 0 && r->argc > 2
        && (redis_arg_is(req, &r->args[1], "LOAD") || redis_arg_is(req, &r->args[1], "RESTORE")))
        return &r->args[redis_arg_is(req, &r->args[1], "LOAD") ? r->argc - 1 : 2];
    return NULL;
}

/* One whole request: answer it here, or send it on. */
static void handle_request(struct redis_client *c, const char *req, const struct resp_request *r)
{
    const struct resp_arg *a0 = &r->args[0];
    const struct redis_cmd *cmd = redis_cmd_lookup(req + a0->off, a0->len);
    const struct resp_arg *script;
    char name[72];

    c->pool->stats->requests++;
    if (is_http_request(req + a0->off, a0->len)) {
        close_http_client(c);
        return;
    }
    if (cmd == NULL) {
        c->pool->stats->errors_refused++;
        client_reply_error(c, "ERR unsupported command '%s'", printable(req + a0->off, a0->len, name));
        if (c->multi)
            abort_multi(c);
        return;
    }
    if (!c->authed && !(cmd->flags & CMD_NOAUTH)) {
        client_reply_error(c, "NOAUTH Authentication required.");
        return;
    }
    c->last_cmd = cmd->name;
    c->writing = (cmd->flags & (CMD_WRITE | CMD_MAY_WRITE)) != 0;
    /* replicas serve plain reads only: not a transaction's, a WATCHing or pinned client's */
    c->route_read = !c->writing && !c->multi && c->pin == NULL
                    && (cmd->route == ROUTE_KEYS || cmd->route == ROUTE_SPLIT_MGET || cmd->route == ROUTE_SPLIT_SUM);
    if (!redis_cmd_arity_ok(cmd, r->argc)) {
        client_reply_error(c, "ERR wrong number of arguments for '%s' command", redis_lower_name(cmd->name, name));
        if (c->multi)
            abort_multi(c);
        return;
    }
    if (!c->pool->conf->allow_flush && (script = request_script(cmd, req, r)) != NULL
        && script_may_flush(req + script->off, script->len, redis_arg_is(req, &r->args[1], "RESTORE"))) {
        c->pool->stats->errors_refused++;
        client_reply_error(c, "ERR coproxy: this script may flush a database, and flushing is turned off in pool %s "
                    "(allow_flush = false)", c->pool->conf->name);
        if (c->multi)
            abort_multi(c);
        return;
    }
    if (c->ps != NULL && !(cmd->flags & CMD_SUBSCRIBED) && pubsub_count(c) > 0) {
        client_reply_error(c, "ERR Can't execute '%s': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET "
                           "are allowed in this context", redis_lower_name(cmd->name, name));
        return;
    }
    if (c->multi && cmd->route != ROUTE_TXN && strcmp(cmd->name, "RESET") != 0) {   /* RESET runs at once */
        queue_in_multi(c, cmd, req, r);
        return;
    }
    switch (cmd->route) {
    case ROUTE_TXN:
        txn_command(c, cmd, req, r);
        break;
    case ROUTE_BLOCKING:
        route_blocking(c, cmd, req, r);
        break;
    case ROUTE_XREAD:
        route_xread(c, cmd, req, r);
        break;
    case ROUTE_KEYS:
        route_keys(c, cmd, req, r);
        break;
    case ROUTE_SPLIT_MGET:
    case ROUTE_SPLIT_SUM:
    case ROUTE_SPLIT_MSET:
        route_split(c, cmd, req, r);
        break;
    case ROUTE_FANOUT_SUM:
    case ROUTE_FANOUT_CONCAT:
    case ROUTE_FANOUT_OK:
    case ROUTE_FANOUT_RANDOM:
        route_fanout(c, cmd, req, r);
        break;
    case ROUTE_SCAN:
        route_scan(c, req, r);
        break;
    case ROUTE_ONE:
        route_one(c, req, r);
        break;
    case ROUTE_INFO:
        route_info(c, req, r);
        break;
    case ROUTE_LOCAL:
        local_command(c, cmd, req, r);
        break;
    case ROUTE_PUBSUB:
        pubsub_command(c, cmd, req, r);
        break;
    case ROUTE_PUBSUB_INFO:
        pubsub_introspect(c, req, r);
        break;
    case ROUTE_WAIT:
        wait_command(c, req, r);
        break;
    case ROUTE_REFUSED:
        c->pool->stats->errors_refused++;
        client_reply_error(c, "ERR coproxy: %s", cmd->reason ? cmd->reason : "command refused");
        break;
    default:
        c->pool->stats->errors_refused++;
        client_reply_error(c, "ERR unsupported command '%s'", printable(req + a0->off, a0->len, name));
        break;
    }
}

/* Parses and routes every whole request buffered, up to the queue's bound. */
static __attribute__((noinline)) void process_input(struct redis_client *c)
{
    c->w->activity++;
    c->batch_us = worker_now_us();   /* one clock read for the batch: deadlines, latency */
    while (c->in_off < c->in.len && !c->closing && !c->reset_pending && c->nqueued < CLIENT_MAX_QUEUED) {
        char *req = c->in.data + c->in_off;
        int r;

        if (c->req.args == NULL)
            worker_args_get(c->w, &c->req.args, &c->req.cap);
        r = resp_parse_request(&c->req, req, c->in.len - c->in_off, &c->pool->limits);
        if (r == RESP_AGAIN) {
            c->partial = 1;
            return;
        }
        if (r == RESP_ERROR) {
            c->pool->stats->errors_protocol++;
            client_reply_error(c, "ERR Protocol error: %s", c->req.error ? c->req.error : "malformed request");
            log_debug("pool %s: protocol error from client %d: %s", c->pool->conf->name, c->fd,
                      c->req.error ? c->req.error : "?");
            c->closing = 1;
            return;
        }
        if (c->req.argc > 0)
            handle_request(c, req, &c->req);
        c->in_off += c->req.size;
        resp_request_reset(&c->req);
    }
}

/* ---- replies ------------------------------------------------------------------ */

static void client_reset(struct redis_client *c);

/*
 * The head is overdue: the connections it waits on are dropped, which fails
 * it (and what queued behind it) with a timeout error.  A request that
 * waits on no connection cannot be overdue, but gets the error anyway.
 */
/* m is a blocking command waiting on the client's own connection (not a WAIT). */
static int blocked_on_pin(const struct redis_client *c, const struct msg *m)
{
    return m->blocking && m->nfrags == 0 && c->pin != NULL && m->conn == c->pin;
}

/*
 * The client gives its head m up: an error reply takes m's place in its
 * queue, and m goes on alone, its reply handed to orphan_reply (a pop the
 * server makes for it still goes back, however long the reply).  NULL if
 * out of memory (then m itself fails).
 */
static struct msg *give_up_head(struct redis_client *c, const char *text)
{
    struct msg *m = c->head, *e = msg_get(c->w);

    if (e == NULL) {
        msg_fail(c->w, m, "%s", text);
        return NULL;
    }
    if (rbuf_printf(&e->reply, "-%s\r\n", text) != 0)
        e->reply.len = 0;
    e->client = c;
    e->refs = 1;
    e->done = 1;
    e->start_us = m->start_us;
    e->unpin = m->unpin;
    e->cnext = m->cnext;
    if (c->tail == &m->cnext)
        c->tail = &e->cnext;
    c->head = e;
    m->cnext = NULL;
    m->client = NULL;
    m->orphan = 1;
    m->late_reply = orphan_reply;
    msg_unref(c->w, m);   /* its connection holds it until the reply */
    return e;
}

static void time_out_head(struct redis_client *c)
{
    struct msg *m = c->head;
    struct redis_server *s = m->server;

    if (blocked_on_pin(c, m)) {
        /* past its own timeout and server_timeout: not the server's
         * failure.  The client gets its error; the command is unblocked
         * (or, its client gone, the connection half-closed) and left to end
         * alone; the client keeps the connection while it holds a WATCH or
         * MULTI there, else it is parked until the command's reply */
        struct backend_conn *pin = c->pin;
        char text[512];
        struct msg *e;
        snprintf(text, sizeof text, "ERR coproxy: timeout: no reply from server %s (%s) to a blocking command "
                 "within its own timeout and server_timeout (%d ms)", s->conf->name, s->conf->addr.text,
                 c->pool->conf->server_timeout);
        if (c->left_told || backend_unblock(c->w, pin) != 0)
            backend_half_close(pin);
        if ((e = give_up_head(c, text)) != NULL && !c->watching && !c->multi) {
            e->unpin = 0;
            c->pin = NULL;
            c->pin_holds = 0;
            c->pin_selected = 0;
            backend_park(c->w, pin);
        }
        return;
    }

    for (uint32_t i = 0; i < m->nfrags && !m->done; i++) {
        if (!m->frags[i]->done) {
            s = m->frags[i]->server;
            backend_timed_out(c->w, m->frags[i]);
        }
    }
    if (m->nfrags == 0)
        backend_timed_out(c->w, m);
    msg_fail(c->w, m, "ERR coproxy: timeout: no reply from server %s (%s) within %d ms",
             s ? s->conf->name : "?", s ? s->conf->addr.text : "?", c->pool->conf->server_timeout);
}

/*
 * A client that leaves while its blocking command waits (its FIN, a reset,
 * its idle kick) must not have anything popped for it.  Its leaving is
 * passed on to the server at once: CLIENT UNBLOCK for the command's own
 * connection (the command ends with a nil reply, nothing taken), or where
 * that cannot be sent, a FIN on that connection (backend_half_close), which
 * the server takes as the client closing.  What the server took just
 * before is given back (give_back).  A command sent after the FIN had come
 * (with it, `nc -N` style) is answered as Redis answers it, then the
 * client is closed.
 */
#define UNBLOCK_AGAIN_MS 20

/* CLIENT UNBLOCK goes on another connection than the command: it may reach
 * the server first, find nothing blocked, and the command block after it.
 * So it is sent again every UNBLOCK_AGAIN_MS until the command ends. */
static void unblock_head(struct redis_client *c, uint64_t now)
{
    struct msg *m = c->head;

    if (m == NULL || !blocked_on_pin(c, m) || m->done || c->pin_holds == 0)
        return;
    if (m->unblock_sent && (c->pin->fin_pending || c->pin->fin_sent || now < c->unblock_at))
        return;
    m->unblock_sent = 1;
    c->unblock_at = now + UNBLOCK_AGAIN_MS;
    if (backend_unblock(c->w, c->pin) != 0)
        backend_half_close(c->pin);
}

static void client_left_blocked(struct redis_client *c)
{
    if (c->left_told)
        return;
    c->left_told = 1;
    for (struct msg *m = c->head; m != NULL; m = m->cnext)
        if (blocked_on_pin(c, m) && !m->done && !m->after_fin) {
            m->orphan = 1;
            m->late_reply = orphan_reply;
        }
    unblock_head(c, worker_now_ms());
}

/* The client's socket changed while a blocking command waited: gone, or
 * just more requests (pipelined after it: they wait their turn). */
static void client_hup(int fd, short revents, void *arg)
{
    struct redis_client *c = arg;
    char b;
    ssize_t n = recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);

    c->hup_watch = 0;
    if (n == 0 && !(revents & (POLLHUP | POLLERR | POLLNVAL))) {
        /* its FIN: told to the server now, before anything another client
         * sends after it (a push that would wake the command) is routed */
        c->hup = 1;
        client_left_blocked(c);
        client_wake_up(c);
    } else if ((n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
               || (revents & (POLLHUP | POLLERR | POLLNVAL))) {
        c->gone = 1;
        client_left_blocked(c);
        client_wake_up(c);
    } else if (co_fd_watch(fd, POLLRDHUP, client_hup, c) == 0) {
        c->hup_watch = 1;
    }
}

/* A nil reply (a blocking command that timed out or was unblocked). */
static int is_nil(const struct rbuf *r)
{
    return r->len == 5 && (memcmp(r->data, "*-1\r\n", 5) == 0 || memcmp(r->data, "$-1\r\n", 5) == 0);
}

/* m is a blocking command its client left while it waited: not written. */
static int client_left_it(const struct redis_client *c, const struct msg *m)
{
    return c->left_told && (m->unanswered || m->orphan || (m->unblock_sent && is_nil(&m->reply)));
}

/* Waits for the head's reply (or its deadline); 0, or -1 to close the client. */
static int wait_head(struct redis_client *c)
{
    struct msg *m = c->head;
    uint64_t now = worker_now_ms(), until;
    int r, left = 0;

    if (now >= m->deadline) {
        time_out_head(c);
        return 0;
    }
    if (c->cond == NULL && (c->cond = co_cond_alloc()) == NULL)
        return -1;
    if (m->blocking && (c->hup || c->gone || c->kicked || c->overflow)) {
        /* it left (or is being closed): the server ends the command; the
         * wait for that is bounded by server_timeout */
        client_left_blocked(c);
        unblock_head(c, now);   /* again, or a later one pipelined behind the first */
        if (m->deadline > now + (uint64_t)c->pool->conf->server_timeout)
            m->deadline = now + (uint64_t)c->pool->conf->server_timeout;
        left = 1;
    } else if (c->overflow) {
        return -1;
    }
    /* a blocked command may wait for ever: notice the client leaving meanwhile */
    if (m->blocking && !c->hup && !c->gone && !c->hup_watch && co_fd_watch(c->fd, POLLRDHUP, client_hup, c) == 0)
        c->hup_watch = 1;
    /* (UNBLOCK is sent again while it may have come first; not once a FIN went) */
    until = left && blocked_on_pin(c, m) && !c->pin->fin_pending && !c->pin->fin_sent && c->unblock_at > now
            && c->unblock_at < m->deadline ? c->unblock_at : m->deadline;
    c->waiting = 1;
    r = co_cond_timedwait(c->cond, until <= now ? 1 : until - now > INT32_MAX ? -1 : (int)(until - now));
    c->waiting = 0;
    if (c->hup_watch) {
        co_fd_unwatch(c->fd);
        c->hup_watch = 0;
    }
    return r == 0 || r == -ETIMEDOUT ? 0 : -1;
}

/* Writes replies in request order as they complete, until the queue is empty.
 * 0, or -1 if the client cannot be written to (or has left). */
static __attribute__((noinline)) int flush_replies(struct redis_client *c)
{
    static const char oom[] = "-ERR coproxy: out of memory for this reply\r\n";

    while (c->head != NULL) {
        struct iovec iov[IOV_BATCH];
        struct msg *m = c->head;
        struct msghdr mh = { .msg_iov = iov };
        size_t total = 0;
        uint64_t now_us;
        int n = 0, niov = 0, lost;

        if (m->wait == 1 && !m->done) {   /* a WAIT goes out once all before it is answered */
            wait_dispatch(c, m);
            continue;
        }
        if (m->reset && !m->done) {
            client_reset(c);
            c->reset_pending = 0;
            if (rbuf_append(&m->reply, "+RESET\r\n", 8) != 0)
                m->reply.len = 0;
            m->done = 1;
            continue;
        }
        if (!m->done) {
            if (wait_head(c) != 0)
                return -1;
            continue;
        }
        if (client_left_it(c, m)) {
            /* its client left while it waited: nothing reaches the client
             * (what the server took went back: orphan_reply) */
            if (m->unpin && c->pin_holds > 0)
                c->pin_holds--;
            if (m->counted)
                c->reply_bytes -= m->reply.len;
            c->head = m->cnext;
            if (c->head == NULL)
                c->tail = &c->head;
            c->nqueued--;
            m->cnext = NULL;
            m->client = NULL;
            msg_unref(c->w, m);
            c->gone = 1;   /* what follows is not written either; a later blocked command is unblocked */
            continue;
        }
        for (m = c->head; m != NULL && m->done && !client_left_it(c, m) && n < IOV_BATCH; m = m->cnext, n++) {
            if (m->silent)
                continue;
            if (m->reply.len > 0) {
                iov[niov].iov_base = m->reply.data;
                iov[niov].iov_len = m->reply.len;
            } else {
                iov[niov].iov_base = (void *)oom;
                iov[niov].iov_len = sizeof oom - 1;
            }
            total += iov[niov++].iov_len;
        }
        mh.msg_iovlen = (size_t)niov;
        /* blocking (hooked): all of it, or the client is gone */
        lost = c->kicked || c->overflow || c->gone
               || (niov > 0 && sendmsg(c->fd, &mh, MSG_NOSIGNAL) != (ssize_t)total);
        if (lost && c->pin_holds == 0)
            return -1;
        if (lost) {   /* a blocked command waits still: see it ended (and undone) first */
            c->gone = 1;
            client_left_blocked(c);
        } else {
            c->pool->stats->bytes_out += total;
        }
        now_us = worker_now_us();
        while (n-- > 0) {
            m = c->head;
            if (m->push)
                c->push_bytes -= m->reply.len;
            else if (!lost)
                stats_latency_add(&c->pool->stats->latency, now_us - m->start_us);
            if (m->counted)
                c->reply_bytes -= m->reply.len;
            if (m->quit)
                c->closing = 1;
            if (m->wait)
                wait_release(c, 0);
            if (m->unpin && c->pin_holds > 0 && --c->pin_holds == 0 && !c->watching && !c->multi) {
                release_pin(c, pin_lost(c));   /* its blocking command is answered */
                if (c->w->stopping)
                    shutdown(c->fd, SHUT_RD);   /* shutting down: it was let wait for this */
            }
            c->head = m->cnext;
            c->nqueued--;
            m->cnext = NULL;
            m->client = NULL;
            msg_unref(c->w, m);
        }
        if (c->head == NULL)
            c->tail = &c->head;
        if (c->reply_bytes <= c->pool->conf->client_output_soft_limit)
            c->soft_since = 0;
    }
    return c->gone ? -1 : 0;
}

/* ---- the client's life ------------------------------------------------------------ */

/* Buffers go back to the worker when nothing is left in them. */
static __attribute__((noinline)) void release_input(struct redis_client *c)
{
    if (c->in_off > 0) {
        memmove(c->in.data, c->in.data + c->in_off, c->in.len - c->in_off);
        c->in.len -= c->in_off;
        c->in_off = 0;
    }
    if (c->in.len == 0 && c->in.data != NULL) {
        worker_ibuf_put(c->w, c->in.data, c->in.cap);
        c->in.data = NULL;
        c->in.cap = 0;
    }
    if (c->in.len == 0 && c->req.args != NULL) {
        worker_args_put(c->w, c->req.args, c->req.cap);
        c->req.args = NULL;
        c->req.cap = 0;
    }
}

/* Reads more input.  1: got some; 0: nothing yet (wait); -1: the client is gone. */
static __attribute__((noinline)) int read_input(struct redis_client *c, int *ready)
{
    ssize_t n;
    size_t room;

    if (c->in.data == NULL) {
        c->in.data = worker_ibuf_get(c->w, &c->in.cap);
        if (c->in.data == NULL)
            return -1;
    }
    if (c->in.len == c->in.cap && rbuf_reserve(&c->in, c->in.cap) != 0)
        return -1;   /* a request bigger than memory allows */
    room = c->in.cap - c->in.len;
    n = recv(c->fd, c->in.data + c->in.len, room, MSG_DONTWAIT);
    if (n > 0) {
        c->in.len += (size_t)n;
        c->pool->stats->bytes_in += (uint64_t)n;
        c->partial = 0;
        *ready = (size_t)n == room || c->hup;   /* a short read drained the socket */
        if (c->idle && (c->ps == NULL || pubsub_count(c) == 0))   /* subscribers are not idle */
            co_timer_arm(c->idle, c->pool->conf->client_idle_timeout);
        return 1;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        *ready = 0;
        return 0;
    }
    return -1;
}

enum { CLIENT_DONE, CLIENT_SHED };

/* A subscriber's socket is readable (or closed). */
static void subscriber_input(int fd, short revents, void *arg)
{
    struct redis_client *c = arg;

    (void)fd;
    c->input_ready = 1;
    if (revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL))
        c->hup = 1;
    client_wake_up(c);
}

/* Subscribed, messages come unasked: waits for input or for one. 0, or -1. */
static __attribute__((noinline)) int subscriber_wait(struct redis_client *c)
{
    int r;

    if (c->cond == NULL && (c->cond = co_cond_alloc()) == NULL)
        return -1;
    c->input_ready = 0;
    if (co_fd_watch(c->fd, POLLIN | POLLRDHUP, subscriber_input, c) != 0)
        return -1;
    c->sub_waiting = 1;
    r = co_cond_timedwait(c->cond, -1);
    c->sub_waiting = 0;
    if (!c->input_ready)
        co_fd_unwatch(c->fd);
    return r == 0 || r == -ETIMEDOUT ? 0 : -1;
}

/* The loop an idle client parks in: the steps it calls are not inlined, so
 * their locals (an iovec array, ...) are not part of the parked frames that
 * a shared stack saves for every idle client.  CLIENT_SHED: idle for
 * CLIENT_SHED_MS with nothing held -- the coroutine can end and a watch
 * on the socket bring a new one. */
static int client_serve(struct redis_client *c)
{
    int ready = 1;   /* data may be waiting already: read before waiting */

    for (;;) {
        if (c->in_off < c->in.len && !c->partial) {
            process_input(c);
            /* the requests' bytes went on to the servers: the buffer is not
             * held while the replies are awaited */
            release_input(c);
            if (flush_replies(c) != 0 || c->closing)
                return CLIENT_DONE;
            continue;
        }
        release_input(c);
        if (!ready && c->ps != NULL && pubsub_count(c) > 0) {
            if (c->head != NULL) {   /* messages came */
                if (flush_replies(c) != 0 || c->closing)
                    return CLIENT_DONE;
                continue;
            }
            if (c->closing || c->kicked || subscriber_wait(c) != 0)
                return CLIENT_DONE;
            ready = c->input_ready;
            if (!ready)
                continue;
        } else if (!ready) {
            struct pollfd p = { .fd = c->fd, .events = POLLIN | POLLRDHUP };
            int idle = c->in.data == NULL && c->head == NULL;
            int n = co_poll_edge(&p, 1, idle ? CLIENT_SHED_MS : -1);
            if (n < 0 && errno != EINTR)
                return CLIENT_DONE;
            if (n == 0 && idle && !c->kicked)
                return CLIENT_SHED;
            if (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL))
                c->hup = 1;
            ready = 1;
        }
        if (c->kicked)
            return CLIENT_DONE;
        switch (read_input(c, &ready)) {
        case -1:
            return CLIENT_DONE;
        case 0:
            if (c->in.len == 0)
                release_input(c);
            break;
        default:
            break;
        }
    }
}

/* The client is gone: what is still in flight is abandoned (late replies are dropped). */
static void client_close(struct redis_client *c)
{
    struct redis_pool *p = c->pool;
    struct worker *w = c->w;

    if (c->kicked) {
        p->rt->stats.client_kicked++;
        log_debug("pool %s: client idle for %d ms, closed", p->conf->name, p->conf->client_idle_timeout);
    }
    while (c->head) {
        struct msg *m = c->head;
        c->head = m->cnext;
        m->cnext = NULL;
        msg_abandon(w, m);
        msg_unref(w, m);
    }
    pubsub_release(c);
    wait_release(c, 1);
    /* the server may hold a WATCH, a MULTI or a blocked command for it: that connection goes */
    if (c->pin != NULL)
        release_pin(c, c->multi || c->watching || c->pin->inflight > 0 || pin_lost(c));
    rbuf_free(&c->deferred);
    c->in_off = c->in.len = 0;
    release_input(c);
    free(c->req.args);
    co_timer_free(c->idle);
    co_timer_free(c->soft_timer);
    co_cond_free(c->cond);
    close(c->fd);
    free(c->name);
    if (c->prev)
        c->prev->next = c->next;
    else
        p->clients = c->next;
    if (c->next)
        c->next->prev = c->prev;
    if (p->conf->client_connections > 0)
        __atomic_sub_fetch(&p->rt->shared->clients, 1, __ATOMIC_RELAXED);
    w->conns--;
    p->stats->client_connections--;
    free(c);
}

/* An idle client without a coroutine has something to read (or is closed): serve it again. */
static void client_wake(int fd, short revents, void *arg)
{
    struct redis_client *c = arg;
    struct stCoRoutineAttr_t attr = { .stack_size = 0, .share_stack = c->w->share };
    struct stCoRoutine_t *co;

    (void)fd;
    if (revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL))
        c->hup = 1;
    if (co_create(&co, &attr, redis_client_main, c) != 0) {
        log_error("pool %s: out of memory for a client's coroutine: closing it", c->pool->conf->name);
        client_close(c);
        return;
    }
    co_resume(co);
}

void *redis_client_main(void *arg)
{
    struct redis_client *c = arg;
    struct redis_pool *p = c->pool;
    struct worker *w = c->w;

    co_enable_hook_sys();
    if (!c->started) {
        int one = 1;
        c->started = 1;
        c->next = p->clients;
        if (c->next)
            c->next->prev = c;
        p->clients = c;
        setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (p->conf->client_idle_timeout > 0 && (c->idle = co_timer_new(on_idle, c)) != NULL)
            co_timer_arm(c->idle, p->conf->client_idle_timeout);
    }
    if (client_serve(c) != CLIENT_SHED || co_fd_watch(c->fd, POLLIN | POLLRDHUP, client_wake, c) != 0) {
        client_close(c);
    } else {
        co_cond_free(c->cond);   /* nobody waits on it while the client is idle */
        c->cond = NULL;
        w->activity++;           /* memory was freed: the worker trims after this */
    }
    worker_retire(w, co_self());   /* released by the worker once finished */
    return NULL;
}
