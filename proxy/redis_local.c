/* SPDX-License-Identifier: Apache-2.0 */
/* redis_local.c — redis mode: the commands coproxy answers itself (AUTH, HELLO, CLIENT, RESET, ...). */
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

#include "acl.h"
#include "addr.h"
#include "rbuf.h"
#include "redis_acl.h"
#include "redis_local.h"
#include "redis_msg.h"
#include "redis_pinned.h"
#include "redis_pubsub.h"
#include "redis_reply.h"
#include "redis_route.h"
#include "redis_tracking_cmd.h"
#include "redis_tracking.h"
#include "resp_append.h"
#include "worker_ctx.h"

/* ---- commands answered here ------------------------------------------------ */

/* A client name as CLIENT SETNAME and HELLO SETNAME take it: 0, or -1 (refused, answered). */
static int set_name(struct redis_client *c, const char *req, const struct resp_arg *a)
{
    char *name = NULL;

    for (uint32_t i = 0; i < a->len; i++) {
        if (req[a->off + i] <= ' ' || req[a->off + i] > '~') {
            reply_error(c, "ERR Client names cannot contain spaces, newlines or special characters.");
            return -1;
        }
    }
    if (a->len > 0 && (name = strndup(req + a->off, a->len)) == NULL) {
        reply_error(c, "ERR coproxy: out of memory");
        return -1;
    }
    free(c->name);
    c->name = name;
    return 0;
}

/* HELLO's reply, in the protocol just chosen: Redis 7's fields (the servers'
 * version once one has told it), and "proxy", which names coproxy. */
static void hello_reply(struct redis_client *c)
{
    const char *ver = c->pool->server_version[0] ? c->pool->server_version : "7.0.0";
    struct msg *m = msg_queue(c);
    char proxy[48];

    if (m == NULL)
        return;
    snprintf(proxy, sizeof proxy, "coproxy %s", COPROXY_VERSION);
    if (rbuf_printf(&m->reply, c->resp3 ? "%%8\r\n" : "*16\r\n") != 0
        || rbuf_printf(&m->reply, "$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$%zu\r\n%s\r\n"
                       "$5\r\nproto\r\n:%d\r\n$2\r\nid\r\n:%llu\r\n$4\r\nmode\r\n$10\r\nstandalone\r\n"
                       "$4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n$5\r\nproxy\r\n$%zu\r\n%s\r\n",
                       strlen(ver), ver, c->resp3 ? 3 : 2, (unsigned long long)c->id, strlen(proxy), proxy) != 0)
        m->reply.len = 0;
    m->done = 1;
}

/* HELLO [2|3 [AUTH user pass] [SETNAME name]], as Redis 7 takes it: the
 * options are checked before anything changes; the reply is in the
 * protocol chosen. */
static void cmd_hello(struct redis_client *c, const char *req, const struct resp_request *r)
{
    const struct resp_arg *setname = NULL;
    int proto = c->resp3 ? 3 : 2;

    if (r->argc >= 2) {
        const struct resp_arg *a = &r->args[1];
        char num[24], *end;
        long v;
        snprintf(num, sizeof num, "%.*s", (int)(a->len < 23 ? a->len : 23), req + a->off);
        v = strtol(num, &end, 10);
        if (a->len == 0 || a->len > 20 || *end != '\0') {
            reply_error(c, "ERR Protocol version is not an integer or out of range");
            return;
        }
        if (v != 2 && v != 3) {
            reply_error(c, "NOPROTO unsupported protocol version");
            return;
        }
        proto = (int)v;
    }
    for (uint32_t i = 2; i < r->argc; i++) {
        if (resp_arg_is(req, &r->args[i], "AUTH") && i + 2 < r->argc) {
            if (acl_auth(c, req, &r->args[i + 1], &r->args[i + 2]) != 0)
                return;
            i += 2;
        } else if (resp_arg_is(req, &r->args[i], "SETNAME") && i + 1 < r->argc) {
            setname = &r->args[++i];
        } else {
            char name[72];
            reply_error(c, "ERR Syntax error in HELLO option '%s'",
                        reply_printable(req + r->args[i].off, r->args[i].len, name));
            return;
        }
    }
    if (c->user == NULL) {
        reply_error(c, "NOAUTH HELLO must be called with the client already authenticated, otherwise the "
                    "HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client");
        return;
    }
    if ((proto == 3) != c->resp3 && (c->pin != NULL || c->trk != NULL || (c->ps != NULL && pubsub_subscribed(c) > 0))) {
        /* what it holds on its own connections speaks the protocol it opened them with */
        reply_error(c, "ERR coproxy: HELLO cannot change the protocol while a transaction, a WATCH, a blocking "
                    "command, a subscription or CLIENT TRACKING holds a connection of this client's own");
        return;
    }
    if (setname != NULL && set_name(c, req, setname) != 0)
        return;
    c->resp3 = proto == 3;
    hello_reply(c);
}

/* One CLIENT LIST line about client o. */
/* One CLIENT LIST line about client o, in Redis 7.0's fields and order
 * (what coproxy does not hold reads 0, as for a client with nothing
 * pending), then coproxy's own: its worker, and whether it WATCHes. */
static int client_line(const struct redis_client *o, struct rbuf *out)
{
    char addr[80], laddr[80], name[40], flags[12], *f = flags;
    uint64_t now = worker_now_ms(), last = o->batch_us ? o->batch_us / 1000 : o->since_ms;
    size_t qbuf = o->in.len - o->in_off;

    if (o->ps != NULL && pubsub_subscribed(o) > 0)
        *f++ = 'P';
    if (o->multi)
        *f++ = 'x';
    if (o->pin_holds > 0)
        *f++ = 'b';
    if (o->closing)
        *f++ = 'c';
    if (o->trk != NULL)
        *f++ = 't';
    if (f == flags)
        *f++ = 'N';
    *f = '\0';
    return rbuf_printf(out, "id=%llu addr=%s laddr=%s fd=%d name=%s age=%llu idle=%llu flags=%s db=%d sub=%u "
                       "psub=%u ssub=%u multi=%d qbuf=%zu qbuf-free=%zu argv-mem=0 multi-mem=%zu rbs=%zu rbp=%zu "
                       "obl=0 oll=%u omem=%llu tot-mem=%zu events=r cmd=%s%s%s user=%s redir=%lld resp=%d "
                       "worker=%d watch=%d\n",
                       (unsigned long long)o->id, addr_peer(o->fd, addr, sizeof addr),
                       addr_local(o->fd, laddr, sizeof laddr), o->fd, o->name ? o->name : "",
                       (unsigned long long)(now > o->since_ms ? (now - o->since_ms) / 1000 : 0),
                       (unsigned long long)(now > last ? (now - last) / 1000 : 0), flags,
                       o->db >= 0 ? o->db : o->pool->conf->redis_db, pubsub_channels(o), pubsub_patterns(o), pubsub_shards(o),
                       o->multi ? (int)o->ndeferred : -1, qbuf, o->in.cap - o->in.len, o->deferred.len,
                       o->in.cap, o->in.cap, o->nqueued, (unsigned long long)o->reply_bytes,
                       sizeof *o + o->in.cap + o->deferred.cap + (size_t)o->reply_bytes,
                       o->last_cmd ? reply_lower_name(o->last_cmd, name) : "NULL", o->last_sub ? "|" : "",
                       o->last_sub ? o->last_sub : "", o->user != NULL ? o->user->name : "default",
                       tracking_redirect(o), o->resp3 ? 3 : 2,
                       o->w->id, o->watching);
}

int local_client_list(struct redis_pool *p, struct rbuf *out)
{
    for (struct redis_client *o = p->clients; o != NULL; o = o->next)
        if (client_line(o, out) != 0)
            return -1;
    return 0;
}

void local_kill(struct redis_pool *p, uint64_t id)
{
    for (struct redis_client *o = p->clients; o != NULL; o = o->next)
        if (o->id == id) {
            o->kicked = KICKED_KILL;
            shutdown(o->fd, SHUT_RDWR);   /* wakes it wherever it waits */
        }
}

/* A CLIENT LIST line's field ("id=" ...) as text, into out. */
static const char *line_field(const char *line, const char *end, const char *key, char *out, size_t n)
{
    size_t klen = strlen(key);

    for (const char *p = line; p < end;) {
        const char *sp = memchr(p, ' ', (size_t)(end - p));
        if ((size_t)(end - p) > klen && memcmp(p, key, klen) == 0) {
            snprintf(out, n, "%.*s", (int)((sp ? sp : end) - (p + klen)), p + klen);
            return out;
        }
        p = sp ? sp + 1 : end;
    }
    out[0] = '\0';
    return out;
}

struct kill_filter {
    const char *req;
    const struct resp_arg *id, *addr, *laddr, *user, *type, *maxage;
    int skipme;
};

static int kill_matches(const struct kill_filter *k, const char *line, const char *end)
{
    char v[80];

    if (k->id && !resp_arg_is(k->req, k->id, line_field(line, end, "id=", v, sizeof v)))
        return 0;
    if (k->addr && !resp_arg_is(k->req, k->addr, line_field(line, end, "addr=", v, sizeof v)))
        return 0;
    if (k->laddr && !resp_arg_is(k->req, k->laddr, line_field(line, end, "laddr=", v, sizeof v)))
        return 0;
    if (k->user && !resp_arg_is(k->req, k->user, "default"))
        return 0;
    if (k->type) {
        int pubsub = strchr(line_field(line, end, "flags=", v, sizeof v), 'P') != NULL;
        if (!(resp_arg_is(k->req, k->type, "normal") && !pubsub) && !(resp_arg_is(k->req, k->type, "pubsub") && pubsub))
            return 0;
    }
    if (k->maxage) {
        char num[24];
        snprintf(num, sizeof num, "%.*s", (int)(k->maxage->len < 23 ? k->maxage->len : 23), k->req + k->maxage->off);
        if (strtoull(line_field(line, end, "age=", v, sizeof v), NULL, 10) < strtoull(num, NULL, 10))
            return 0;
    }
    return 1;
}

/* CLIENT KILL addr:port, or CLIENT KILL <filter value>...: the pool's
 * clients on every worker that match (the caller too with SKIPME no, after
 * its reply).  Another worker closes its own at its next turn. */
static void client_kill(struct redis_client *c, const char *req, const struct resp_request *r)
{
    struct kill_filter k = { .req = req, .skipme = 1 };
    struct rbuf all = { 0 };
    int old = r->argc == 3, n = 0;
    char v[32];

    if (old)
        k.addr = &r->args[2];
    for (uint32_t i = 2; !old && i < r->argc; i += 2) {
        const struct resp_arg *f = &r->args[i], *val = i + 1 < r->argc ? &r->args[i + 1] : NULL;
        if (val == NULL) {
            reply_error(c, "ERR syntax error");
            return;
        }
        if (resp_arg_is(req, f, "ID"))
            k.id = val;
        else if (resp_arg_is(req, f, "ADDR"))
            k.addr = val;
        else if (resp_arg_is(req, f, "LADDR"))
            k.laddr = val;
        else if (resp_arg_is(req, f, "USER"))
            k.user = val;
        else if (resp_arg_is(req, f, "TYPE"))
            k.type = val;
        else if (resp_arg_is(req, f, "MAXAGE"))
            k.maxage = val;
        else if (resp_arg_is(req, f, "SKIPME") && (resp_arg_is(req, val, "yes") || resp_arg_is(req, val, "no")))
            k.skipme = resp_arg_is(req, val, "yes");
        else {
            reply_error(c, "ERR syntax error");
            return;
        }
    }
    if (local_client_list(c->pool, &all) != 0
        || worker_client_lists(c->w, (int)(c->pool->rt - c->w->pools), &all) != 0) {
        rbuf_free(&all);
        reply_error(c, "ERR coproxy: out of memory");
        return;
    }
    for (const char *line = all.data, *end; line != NULL && line < all.data + all.len; line = end + 1) {
        uint64_t id;
        end = memchr(line, '\n', (size_t)(all.data + all.len - line));
        if (end == NULL)
            end = all.data + all.len;
        if (!kill_matches(&k, line, end))
            continue;
        id = strtoull(line_field(line, end, "id=", v, sizeof v), NULL, 10);
        if (id == c->id) {
            if (k.skipme && !old)
                continue;
            c->closing = 1;   /* after this reply, as Redis does */
        } else if (id % 1024 == (uint64_t)c->w->id) {
            local_kill(c->pool, id);
        } else if (worker_kill_client(c->w, id) != 0) {
            continue;
        }
        n++;
    }
    rbuf_free(&all);
    if (!old)
        reply_int(c, n);
    else if (n > 0)
        reply_str(c, "+OK\r\n");
    else
        reply_error(c, "ERR No such client");
}

/* A CLIENT subcommand not answered above: Redis's own errors (a known one
 * with the wrong arguments, an unknown one), or UNBLOCK's refusal. */
static void client_unknown(struct redis_client *c, const char *req, const struct resp_request *r)
{
    static const char *const known[] = { "CACHING", "GETNAME", "GETREDIR", "HELP", "ID", "INFO", "KILL", "LIST",
                                         "NO-EVICT", "PAUSE", "REPLY", "SETNAME", "TRACKING", "TRACKINGINFO",
                                         "UNPAUSE", "SETINFO" };
    const struct resp_arg *sub = &r->args[1];
    char name[72], lower[40];

    reply_printable(req + sub->off, sub->len, name);
    if (resp_arg_is(req, sub, "UNBLOCK")) {
        reply_error(c, "ERR coproxy: CLIENT UNBLOCK is not supported through the proxy (a blocked client is "
                    "unblocked when it closes its connection)");
        return;
    }
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (resp_arg_is(req, sub, known[i])) {
            reply_error(c, "ERR wrong number of arguments for 'client|%s' command", reply_lower_name(known[i], lower));
            return;
        }
    reply_error(c, "ERR unknown subcommand '%s'. Try CLIENT HELP.", name);
}

static void cmd_client(struct redis_client *c, const char *req, const struct resp_request *r)
{
    const struct resp_arg *sub = &r->args[1];

    if (resp_arg_is(req, sub, "SETNAME") && r->argc == 3) {
        if (set_name(c, req, &r->args[2]) == 0)
            reply_str(c, "+OK\r\n");
    } else if (resp_arg_is(req, sub, "GETNAME") && r->argc == 2) {
        if (c->name)
            reply_bulk(c, c->name, strlen(c->name));
        else
            reply_null(c);
    } else if (resp_arg_is(req, sub, "ID") && r->argc == 2) {
        reply_int(c, (int64_t)c->id);
    } else if (resp_arg_is(req, sub, "KILL") && r->argc >= 3) {
        client_kill(c, req, r);
    } else if (((resp_arg_is(req, sub, "PAUSE") && r->argc >= 3) || (resp_arg_is(req, sub, "UNPAUSE") && r->argc == 2))
               && !c->pool->conf->allow_admin) {
        c->pool->stats->errors_refused++;
        reply_error(c, "ERR coproxy: CLIENT PAUSE is turned off in pool %s (allow_admin = false)", c->pool->conf->name);
    } else if ((resp_arg_is(req, sub, "PAUSE") && r->argc >= 3) || (resp_arg_is(req, sub, "UNPAUSE") && r->argc == 2)) {
        struct msg *m = msg_queue(c);   /* the servers pause their clients: coproxy's connections among them */
        if (m != NULL) {
            route_set_deadline(c, m);
            m->merge = MERGE_OK;
            route_send_everywhere(c, m, req, r);
        }
    } else if (resp_arg_is(req, sub, "TRACKING") || resp_arg_is(req, sub, "CACHING")
               || resp_arg_is(req, sub, "GETREDIR") || (resp_arg_is(req, sub, "TRACKINGINFO") && r->argc == 2)) {
        redis_tracking_command(c, req, r);
    } else if (resp_arg_is(req, sub, "SETINFO") && r->argc == 4) {
        reply_str(c, "+OK\r\n");
    } else if (resp_arg_is(req, sub, "NO-EVICT") && r->argc == 3) {
        reply_str(c, "+OK\r\n");   /* the proxy holds no data to evict */
    } else if (resp_arg_is(req, sub, "REPLY") && r->argc == 3) {
        const struct resp_arg *a = &r->args[2];
        if (resp_arg_is(req, a, "ON")) {
            c->reply_off = 0;
            c->reply_skip = 0;
            reply_str(c, "+OK\r\n");
        } else if (resp_arg_is(req, a, "OFF") || resp_arg_is(req, a, "SKIP")) {
            if (resp_arg_is(req, a, "OFF"))
                c->reply_off = 1;
            else
                c->reply_skip = 2;   /* this command's reply and the next one's */
            reply_str(c, "+OK\r\n");   /* not written: OFF and SKIP are silent */
        } else {
            reply_error(c, "ERR syntax error");
        }
    } else if ((resp_arg_is(req, sub, "INFO") && r->argc == 2) || (resp_arg_is(req, sub, "LIST") && r->argc == 2)) {
        struct rbuf line = { 0 };
        int err = 0;
        if (resp_arg_is(req, sub, "INFO"))
            err = client_line(c, &line);
        else   /* this worker's clients, then the others' (worker= says which) */
            err = local_client_list(c->pool, &line) != 0
                  || worker_client_lists(c->w, (int)(c->pool->rt - c->w->pools), &line) != 0;
        if (err)
            reply_error(c, "ERR coproxy: out of memory");
        else
            reply_verbatim(c, line.data ? line.data : "", line.len);
        rbuf_free(&line);
    } else if (resp_arg_is(req, sub, "HELP") && r->argc == 2) {
        route_one(c, req, r);   /* the servers' own text */
    } else {
        client_unknown(c, req, r);
    }
}

/* RESET: the client's state as a new connection's (subscriptions, a
 * transaction, WATCH, SELECT, CLIENT REPLY, its name; AUTH again if a
 * password is set). */
void local_reset(struct redis_client *c)
{
    pubsub_release(c);
    tracking_release(c);
    if (c->pin != NULL)
        pinned_release(c, c->multi || c->watching || c->pin_holds > 0 || pinned_lost(c));
    c->multi = c->multi_abort = 0;
    c->multi_db = 0;
    rbuf_free(&c->deferred);
    c->ndeferred = 0;
    c->db = -1;
    c->reply_off = c->reply_skip = 0;
    free(c->name);
    c->name = NULL;
    c->resp3 = 0;   /* RESP2 again */
    c->user = acl_new_client_user(c->pool);
    if (c->idle != NULL)
        co_timer_arm(c->idle, c->pool->conf->client_idle_timeout);
}

void local_command(struct redis_client *c, const struct redis_cmd *cmd, const char *req,
                          const struct resp_request *r)
{
    const char *name = cmd->name;

    if (strcmp(name, "PING") == 0) {
        if (r->argc <= 2 && !c->resp3 && c->ps != NULL && pubsub_subscribed(c) > 0) {   /* subscribed (RESP2) */
            struct rbuf b = { 0 };
            const char *arg = r->argc == 2 ? req + r->args[1].off : "";
            if (resp_append_header(&b, '*', 2) != 0 || resp_append_bulk(&b, "pong", 4) != 0
                || resp_append_bulk(&b, arg, r->argc == 2 ? r->args[1].len : 0) != 0)
                reply_error(c, "ERR coproxy: out of memory");
            else
                reply_raw(c, b.data, b.len);
            rbuf_free(&b);
        } else if (r->argc == 1)
            reply_str(c, "+PONG\r\n");
        else if (r->argc == 2)
            reply_bulk(c, req + r->args[1].off, r->args[1].len);
        else
            reply_error(c, "ERR wrong number of arguments for 'ping' command");
    } else if (strcmp(name, "ECHO") == 0) {
        reply_bulk(c, req + r->args[1].off, r->args[1].len);
    } else if (strcmp(name, "QUIT") == 0) {
        reply_str(c, "+OK\r\n");
        c->closing = 1;
    } else if (strcmp(name, "RESET") == 0) {
        /* carried out when what came before it is answered (a SUBSCRIBE's
         * acknowledgement, an EXEC), and what follows it sees its effect */
        struct msg *m = msg_queue(c);
        if (m != NULL) {
            m->reset = 1;
            c->parse_paused = 1;
        }
    } else if (strcmp(name, "SELECT") == 0) {
        const struct resp_arg *a = &r->args[1];
        char *end, num[24];
        long v;
        snprintf(num, sizeof num, "%.*s", (int)(a->len < 23 ? a->len : 23), req + a->off);
        v = strtol(num, &end, 10);
        if (a->len == 0 || a->len > 20 || *end != '\0') {
            reply_error(c, "ERR value is not an integer or out of range");
        } else if (c->pool->cluster != NULL && v != 0) {
            reply_error(c, "ERR SELECT is not allowed in cluster mode");
        } else if (v < 0 || v >= c->pool->conf->databases) {
            reply_error(c, "ERR DB index is out of range");
        } else {
            /* the servers' database v: shared connections that selected it, or the pin */
            c->db = v == c->pool->conf->redis_db ? -1 : (int)v;
            if (c->trk != NULL)   /* (its connections to every server) */
                tracking_select(c);
            if (c->pin != NULL) {
                c->pin_selected = 1;
                pinned_send(c, req, r);
            } else {
                reply_str(c, "+OK\r\n");
            }
        }
    } else if (strcmp(name, "AUTH") == 0) {
        const struct acl_user *d = c->pool->conf->acl->deflt;
        if (d->nopass && d->on && r->argc == 2)
            reply_error(c, "ERR AUTH <password> called without any password configured for the default user. "
                        "Are you sure your configuration is correct?");
        else if (r->argc > 3)
            reply_error(c, "ERR syntax error");
        else if (acl_auth(c, req, r->argc == 3 ? &r->args[1] : NULL, &r->args[r->argc - 1]) == 0)
            reply_str(c, "+OK\r\n");
    } else if (strcmp(name, "HELLO") == 0) {
        cmd_hello(c, req, r);
    } else if (strcmp(name, "CLIENT") == 0) {
        cmd_client(c, req, r);
    } else if (strcmp(name, "ACL") == 0) {
        acl_command(c, req, r);
    } else {
        char lname[40];
        reply_error(c, "ERR unsupported command '%s'", reply_lower_name(name, lname));
    }
}
