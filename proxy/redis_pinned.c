/* SPDX-License-Identifier: Apache-2.0 */
/* redis_pinned.c — redis mode: a connection of the client's own for transactions, WATCH and blocking commands. */
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
#include "redis_msg.h"
#include "redis_orphan.h"
#include "redis_pinned.h"
#include "redis_pushback.h"
#include "redis_reply.h"
#include "redis_route.h"
#include "redis_tracking.h"
#include "resp_append.h"
#include "tls.h"
#include "worker_ctx.h"

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
        reply_error(c, "ERR coproxy: out of memory");
        return -1;
    }
    n = cmd->first == 0 && cmd->numkeys_at == 0 ? 0 : redis_cmd_keys(cmd, req, r->args, r->argc, keys, &err);
    if (n < 0) {
        reply_error(c, "%s", err);
        rc = -1;
    } else if (n == 0 && cmd->route == ROUTE_KEYS && r->argc > 1) {   /* EVAL with no keys */
        *out = route_of_key(c->pool, req + r->args[1].off, r->args[1].len, 0).server;
    }
    for (int i = 0; i < n && rc == 0; i++) {
        struct route rt = route_of_key(c->pool, req + r->args[keys[i]].off, r->args[keys[i]].len, 0);
        struct redis_server *k = rt.server;
        if (i == 0)
            slot1 = rt.slot1;
        if (i > 0 && c->pool->cluster != NULL && rt.slot1 != slot1) {
            reply_error(c, "CROSSSLOT Keys in request don't hash to the same slot");
            rc = -1;
        } else if (i > 0 && k != *out) {
            reply_error(c, "ERR coproxy: the keys of '%s' are on different servers "
                        "(a hash tag such as {user1} keeps keys together)", reply_lower_name(cmd->name, name));
            rc = -1;
        }
        *out = k;
    }
    if (keys != stack_keys)
        free(keys);
    return rc;
}

int pinned_lost(const struct redis_client *c)
{
    return c->pin != NULL && c->pin->drops != c->pin_drops;
}

static int select_on_pin(struct redis_client *c, int db);

/* Takes a connection of s for the client (txn: for a transaction or a
 * WATCH, which a tracking client runs on its tracking connection, so the
 * server tracks what the transaction reads); -1 after the error reply. */
static int take_pin(struct redis_client *c, struct redis_server *s, int txn)
{
    if (s == NULL) {
        reply_error(c, "ERR coproxy: no server available in pool %s", c->pool->conf->name);
        return -1;
    }
    if (txn && c->trk != NULL) {
        const char *why = "out of memory";
        if ((c->pin = tracking_conn(c, s, &why)) == NULL) {
            reply_error(c, "ERR coproxy: client tracking to server %s: %s", s->conf->name, why);
            return -1;
        }
        c->pin_tracking = 1;
        c->pin->movable = 0;   /* (what a transaction holds there cannot move) */
        c->pin_drops = c->pin->drops;
        return 0;
    }
    if ((c->pin = backend_pin(c->w, s, c->resp3)) == NULL) {
        c->pool->stats->errors_refused++;
        if (c->pool->conf->server_pinned_connections == 0)
            reply_error(c, "ERR coproxy: transactions and blocking commands are off in pool %s "
                        "(server_pinned_connections = 0)", c->pool->conf->name);
        else
            reply_error(c, "ERR coproxy: all %d pinned connections to server %s are in use "
                        "(server_pinned_connections); try again later",
                        c->pool->conf->server_pinned_connections, s->conf->name);
        return -1;
    }
    c->pin_drops = c->pin->drops;
    if (c->db >= 0 && select_on_pin(c, c->db) != 0) {
        pinned_release(c, 1);
        reply_error(c, "ERR coproxy: out of memory");
        return -1;
    }
    return 0;
}

void pinned_release(struct redis_client *c, int dirty)
{
    if (c->pin == NULL)
        return;
    if (c->pin_tracking) {   /* it stays the client's tracking connection, or goes closed */
        if (dirty || c->pin_tracking == 2) {
            if (c->pin_tracking == 1)
                tracking_let_go(c, c->pin);
            backend_park(c->w, c->pin);
        } else {
            c->pin->movable = 1;
        }
        c->pin_tracking = 0;
        c->pin = NULL;
        c->pin_selected = 0;
        c->watching = 0;
        c->pin_holds = 0;
        return;
    }
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
    for (uint32_t i = 0; i < count; i++) {
        struct msg *m = msg_get(c->w);
        int err;
        if (m == NULL)
            return -1;   /* the connection would be out of step: the caller drops it */
        m->internal = 1;
        m->server = bc->srv;
        m->refs = 1;
        /* the bytes go with the first; the others are their replies' places */
        err = backend_send_bytes(bc, m, bytes, i == 0 ? n : 0);
        msg_unref(c->w, m);   /* its only holder now: the connection */
        if (err != 0)
            return -1;
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
struct msg *pinned_send(struct redis_client *c, const char *req, const struct resp_request *r)
{
    struct msg *m = msg_queue(c);
    struct backend_conn *bc;

    if (m == NULL)
        return NULL;
    route_set_deadline(c, m);
    if (c->writing)   /* for WAIT */
        c->wrote |= c->pin->srv->index < 64 ? (uint64_t)1 << c->pin->srv->index : ~(uint64_t)0;
    if ((bc = backend_pick_pinned(c->w, c->pin, m)) != NULL)
        backend_send_request(bc, m, req, r);
    return m;
}

/* The client's state on its pin has ended: the pin goes back, unless a
 * blocking command still waits on it (then when that is answered). */
static void unpin_when_idle(struct redis_client *c)
{
    c->watching = 0;
    if (c->pin != NULL && c->pin_holds == 0)
        pinned_release(c, 0);
}

void pinned_abort_multi(struct redis_client *c)
{
    c->multi_abort = 1;
}

/* The transaction's server is known now: pin it and open the transaction
 * there with what was queued before.  -1 after the error reply. */
static int open_multi_on(struct redis_client *c, struct redis_server *s)
{
    static const char multi[] = "*1\r\n$5\r\nMULTI\r\n";

    if (take_pin(c, s, 1) != 0)
        return -1;
    if (send_internal(c, c->pin, multi, sizeof multi - 1, 1) != 0
        || send_internal(c, c->pin, c->deferred.data, c->deferred.len, c->ndeferred) != 0) {
        pinned_release(c, 1);
        reply_error(c, "ERR coproxy: out of memory");
        return -1;
    }
    rbuf_free(&c->deferred);
    c->ndeferred = 0;
    return 0;
}

/* A request inside MULTI: queued on the transaction's server. */
void pinned_queue_in_multi(struct redis_client *c, const struct redis_cmd *cmd, const char *req,
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
            pinned_abort_multi(c);
            return;
        }
        break;
    case ROUTE_LOCAL:
        if (strcmp(cmd->name, "QUIT") == 0) {
            reply_str(c, "+OK\r\n");
            c->closing = 1;
            return;
        }
        if (strcmp(cmd->name, "PING") == 0 || strcmp(cmd->name, "ECHO") == 0)
            break;   /* any server answers it: the transaction's */
        if (strcmp(cmd->name, "SELECT") == 0) {   /* runs in EXEC: the client's database from then on */
            char num[24], *end;
            long v;
            snprintf(num, sizeof num, "%.*s", (int)(r->args[1].len < 23 ? r->args[1].len : 23),
                     req + r->args[1].off);
            v = strtol(num, &end, 10);
            if (r->args[1].len > 0 && *end == '\0' && v >= 0 && v < c->pool->conf->databases
                && (c->pool->cluster == NULL || v == 0))
                c->multi_db = (int32_t)v + 1;   /* (else the server's error, in EXEC's reply) */
            break;
        }
        /* fall through */
    default:
        c->pool->stats->errors_refused++;
        reply_error(c, "ERR coproxy: '%s' cannot be queued in a transaction", reply_lower_name(cmd->name, name));
        pinned_abort_multi(c);
        return;
    }
    if (c->pin == NULL && s == NULL) {   /* no key yet: queued here until one says where */
        if (resp_append_request(&c->deferred, req, r) != 0) {
            reply_error(c, "ERR coproxy: out of memory");
            pinned_abort_multi(c);
            return;
        }
        c->ndeferred++;
        reply_str(c, "+QUEUED\r\n");
        return;
    }
    if (c->pin == NULL && open_multi_on(c, s) != 0) {
        pinned_abort_multi(c);
        return;
    }
    if (s != NULL && s != c->pin->srv) {
        reply_error(c, "ERR coproxy: the keys of '%s' are on server %s, this transaction's on server %s "
                    "(a hash tag such as {user1} keeps keys together)", reply_lower_name(cmd->name, name), s->conf->name,
                    c->pin->srv->conf->name);
        pinned_abort_multi(c);
        return;
    }
    if (pinned_lost(c)) {
        reply_error(c, "ERR coproxy: the connection holding this transaction was lost");
        pinned_abort_multi(c);
        return;
    }
    pinned_send(c, req, r);
}

static void multi_command(struct redis_client *c, const char *req, const struct resp_request *r)
{
    if (c->multi) {
        reply_error(c, "ERR MULTI calls can not be nested");
        return;
    }
    c->multi = 1;
    c->multi_abort = 0;
    c->multi_db = 0;
    if (c->pin != NULL && !pinned_lost(c)) {
        pinned_send(c, req, r);   /* pinned already (WATCH, a blocking command): opened there */
    } else if (c->pin != NULL) {
        reply_str(c, "+OK\r\n");
        pinned_abort_multi(c);   /* its WATCH is gone: EXEC cannot be right */
    } else {
        reply_str(c, "+OK\r\n");   /* opened on the server at the first key */
    }
}

/* EXEC (exec) or DISCARD. */
static void end_multi(struct redis_client *c, int exec, const char *req, const struct resp_request *r)
{
    struct redis_server *s;

    if (!c->multi) {
        reply_error(c, exec ? "ERR EXEC without MULTI" : "ERR DISCARD without MULTI");
        return;
    }
    c->multi = 0;
    if (c->pin == NULL || (c->pin->drops == c->pin_drops && !(exec && c->multi_abort))) {
        if (c->pin == NULL && exec && !c->multi_abort) {
            /* nothing named a key: any server runs it, the same one each time */
            s = route_of_key(c->pool, "", 0, 0).server;
            if (open_multi_on(c, s) != 0) {
                rbuf_free(&c->deferred);
                c->ndeferred = 0;
                return;   /* the error is EXEC's reply */
            }
        }
        if (c->pin != NULL && exec && c->multi_db > 0) {
            struct msg *m;
            c->pin_selected = 1;   /* the pin's database changes with it */
            if ((m = pinned_send(c, req, r)) != NULL) {
                m->exec_select = 1;
                m->db = c->multi_db - 1;
                c->parse_paused = 1;
            }
        } else if (c->pin != NULL)
            pinned_send(c, req, r);
        else if (exec)
            reply_error(c, "EXECABORT Transaction discarded because of previous errors.");
        else
            reply_str(c, "+OK\r\n");
        unpin_when_idle(c);   /* EXEC and DISCARD end the WATCH too */
    } else {
        /* aborted, or its connection was lost: nothing runs */
        static const char discard[] = "*1\r\n$7\r\nDISCARD\r\n";
        int lost = pinned_lost(c);
        if (exec)
            reply_error(c, "EXECABORT Transaction discarded because of previous errors.");
        else
            reply_str(c, "+OK\r\n");
        /* the server's MULTI (if it got one) is discarded behind what it queued */
        if (c->pin != NULL && (lost || send_internal(c, c->pin, discard, sizeof discard - 1, 1) != 0))
            pinned_release(c, 1);
        else
            unpin_when_idle(c);
    }
    rbuf_free(&c->deferred);
    c->ndeferred = 0;
    c->multi_abort = 0;
    c->multi_db = 0;
}

void pinned_exec_selected(struct redis_client *c, struct msg *m)
{
    const char *p = m->reply.data;

    c->parse_paused = 0;
    m->exec_select = 0;
    /* an array: the transaction ran (nil: a WATCHed key changed, nothing ran) */
    if (m->reply.len > 2 && p[0] == '*' && p[1] != '-') {
        c->db = m->db == c->pool->conf->redis_db ? -1 : m->db;
        if (c->trk != NULL)
            tracking_select(c);
    }
}

static void watch_command(struct redis_client *c, const struct redis_cmd *cmd, const char *req,
                          const struct resp_request *r)
{
    struct redis_server *s;

    if (c->multi) {
        reply_error(c, "ERR WATCH inside MULTI is not allowed");
        return;
    }
    if (keys_server(c, cmd, req, r, &s) != 0)
        return;
    if (c->pin != NULL && c->pin->srv != s) {
        reply_error(c, "ERR coproxy: the keys of 'watch' are on server %s, this client's watched keys "
                    "(or its blocked command) on server %s", s ? s->conf->name : "?", c->pin->srv->conf->name);
        return;
    }
    if (c->pin != NULL && pinned_lost(c)) {
        reply_error(c, "ERR coproxy: the connection holding this client's WATCH was lost; UNWATCH and "
                    "start again");
        return;
    }
    if (c->pin == NULL && take_pin(c, s, 1) != 0)
        return;
    c->watching = 1;
    pinned_send(c, req, r);
}

static void unwatch_command(struct redis_client *c, const char *req, const struct resp_request *r)
{
    if (c->multi) {   /* queued like any command */
        pinned_queue_in_multi(c, &(struct redis_cmd){ .name = "PING", .route = ROUTE_LOCAL }, req, r);
        return;
    }
    if (c->pin != NULL && c->watching) {
        if (!pinned_lost(c))
            pinned_send(c, req, r);
        else
            reply_str(c, "+OK\r\n");
        if (pinned_lost(c))
            pinned_release(c, 1);
        else
            unpin_when_idle(c);
    } else {
        reply_str(c, "+OK\r\n");
    }
}

void pinned_txn_command(struct redis_client *c, const struct redis_cmd *cmd, const char *req,
                        const struct resp_request *r)
{
    if (strcmp(cmd->name, "MULTI") == 0)
        multi_command(c, req, r);
    else if (strcmp(cmd->name, "EXEC") == 0 || strcmp(cmd->name, "DISCARD") == 0)
        end_multi(c, cmd->name[0] == 'E', req, r);
    else if (strcmp(cmd->name, "WATCH") == 0)
        watch_command(c, cmd, req, r);
    else
        unwatch_command(c, req, r);
}

/* A blocking request for server s whose own timeout is `ms` (<= 0: none):
 * on the client's pinned connection, without server_timeout meanwhile. */
static void send_blocking(struct redis_client *c, const char *cmdname, struct redis_server *s, double ms,
                          const char *req, const struct resp_request *r)
{
    char name[40];
    struct msg *m;

    if (c->pin != NULL && c->pin->srv != s) {
        reply_error(c, "ERR coproxy: the keys of '%s' are on server %s, this client's watched keys (or its "
                    "other blocked command) on server %s", reply_lower_name(cmdname, name), s ? s->conf->name : "?",
                    c->pin->srv->conf->name);
        return;
    }
    if (c->pin == NULL && take_pin(c, s, 0) != 0)
        return;
    if ((m = pinned_send(c, req, r)) == NULL)
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
        ssize_t n = recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
        if (n > 0 && c->tls != NULL)   /* its close_notify, then the FIN? */
            n = tls_peek(c->tls, &b, 1);
        if (n == 0)
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
void pinned_route_blocking(struct redis_client *c, const struct redis_cmd *cmd, const char *req,
                           const struct resp_request *r)
{
    struct redis_server *s;

    if (keys_server(c, cmd, req, r, &s) != 0)
        return;
    send_blocking(c, cmd->name, s, 1000 * arg_number(req, &r->args[cmd->numkeys_at > 0 ? 1 : r->argc - 1]), req, r);
}

/* XREAD, XREADGROUP: the keys are the first half of what follows STREAMS;
 * BLOCK ms makes it a blocking command. */
void pinned_route_xread(struct redis_client *c, const struct redis_cmd *cmd, const char *req,
                        const struct resp_request *r)
{
    uint32_t streams = 0, block = 0, nkeys;
    uint16_t slot1 = 0;
    struct redis_server *s = NULL;
    char name[40];
    struct msg *m;

    for (uint32_t i = 1; i < r->argc && streams == 0; i++) {
        if (resp_arg_is(req, &r->args[i], "STREAMS"))
            streams = i;
        else if (resp_arg_is(req, &r->args[i], "BLOCK") && i + 1 < r->argc)
            block = ++i;
        else if ((resp_arg_is(req, &r->args[i], "COUNT") || resp_arg_is(req, &r->args[i], "GROUP")) && i + 1 < r->argc)
            i += resp_arg_is(req, &r->args[i], "GROUP") ? 2 : 1;
    }
    nkeys = streams ? (r->argc - streams - 1) / 2 : 0;
    if (streams == 0 || nkeys == 0 || (r->argc - streams - 1) % 2 != 0) {
        reply_error(c, "ERR Unbalanced '%s' list of streams: for each stream key an ID or '$' must be specified.",
                    reply_lower_name(cmd->name, name));
        return;
    }
    for (uint32_t k = 0; k < nkeys; k++) {
        const struct resp_arg *a = &r->args[streams + 1 + k];
        struct route rt = route_of_key(c->pool, req + a->off, a->len, c->route_read);
        struct redis_server *ks = rt.server;
        if (k == 0)
            slot1 = rt.slot1;
        if (k > 0 && ks != s) {
            reply_error(c, "ERR coproxy: the keys of '%s' are on different servers "
                        "(a hash tag such as {user1} keeps keys together)", reply_lower_name(cmd->name, name));
            return;
        }
        s = ks;
    }
    if (block != 0 && !c->multi) {
        send_blocking(c, cmd->name, s, arg_number(req, &r->args[block]), req, r);
        return;
    }
    if ((m = msg_queue(c)) != NULL) {
        route_set_deadline(c, m);
        route_send_whole(c, m, s, slot1, req, r);
    }
}

/* ---- a client that leaves or gives up while its blocking command waits ---- */

/* m is a blocking command waiting on the client's own connection (not a WAIT). */
int pinned_blocked_on(const struct redis_client *c, const struct msg *m)
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

/* The client's head is overdue; if it is a blocking command on the
 * client's own connection, handles that and returns 1 (else 0). */
int pinned_time_out(struct redis_client *c)
{
    struct msg *m = c->head;
    struct redis_server *s = m->server;

    if (!pinned_blocked_on(c, m))
        return 0;
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
        if (c->pin_tracking == 1)   /* (a tracking connection goes closed) */
            tracking_let_go(c, pin);
        c->pin_tracking = 0;
        backend_park(c->w, pin);
    }
    return 1;
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
void pinned_unblock_head(struct redis_client *c, uint64_t now)
{
    struct msg *m = c->head;

    if (m == NULL || !pinned_blocked_on(c, m) || m->done || c->pin_holds == 0)
        return;
    if (m->unblock_sent && (c->pin->fin_pending || c->pin->fin_sent || now < c->unblock_at))
        return;
    m->unblock_sent = 1;
    c->unblock_at = now + UNBLOCK_AGAIN_MS;
    if (backend_unblock(c->w, c->pin) != 0)
        backend_half_close(c->pin);
}

void pinned_client_left(struct redis_client *c)
{
    if (c->left_told)
        return;
    c->left_told = 1;
    for (struct msg *m = c->head; m != NULL; m = m->cnext)
        if (pinned_blocked_on(c, m) && !m->done && !m->after_fin) {
            m->orphan = 1;
            m->late_reply = orphan_reply;
        }
    pinned_unblock_head(c, worker_now_ms());
}
