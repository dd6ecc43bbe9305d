/* SPDX-License-Identifier: Apache-2.0 */
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

#include "backend.h"
#include "log.h"
#include "acl.h"
#include "redis_acl.h"
#include "redis_admin.h"
#include "redis_client.h"
#include "redis_guard.h"
#include "redis_local.h"
#include "redis_monitor.h"
#include "redis_msg.h"
#include "redis_pinned.h"
#include "redis_pubsub.h"
#include "redis_reply.h"
#include "redis_route.h"
#include "redis_tracking.h"
#include "redis_wait.h"
#include "tls.h"
#include "tls_pool.h"
#include "worker_ctx.h"

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


struct redis_client *redis_client_new(struct worker *w, struct pool_rt *p, int fd, SSL *tls)
{
    struct redis_client *c = calloc(1, sizeof *c);

    if (c == NULL)
        return NULL;
    c->w = w;
    c->pool = p->redis;
    c->fd = fd;
    c->tls = tls;
    if (tls != NULL)
        c->tls_deadline = worker_now_ms() + (uint64_t)p->conf->tls->handshake_timeout;
    c->tail = &c->head;
    c->id = next_client_id(w);
    c->since_ms = worker_now_ms();
    c->user = acl_new_client_user(c->pool);
    c->db = -1;
    return c;
}

void redis_client_stop_all(struct redis_pool *p)
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

    c->kicked = KICKED_IDLE;
    shutdown(c->fd, SHUT_RDWR);   /* wakes the client wherever it waits */
}

/* A request admitted: to the file that serves its kind of command. */
static void dispatch(struct redis_client *c, const struct redis_cmd *cmd, const char *req,
                     const struct resp_request *r)
{
    const struct resp_arg *a0 = &r->args[0];
    char name[72];

    switch (cmd->route) {
    case ROUTE_TXN:
        pinned_txn_command(c, cmd, req, r);
        break;
    case ROUTE_BLOCKING:
        pinned_route_blocking(c, cmd, req, r);
        break;
    case ROUTE_XREAD:
        pinned_route_xread(c, cmd, req, r);
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
    case ROUTE_ADMIN:
        admin_command(c, cmd, req, r);
        break;
    case ROUTE_REFUSED:
        c->pool->stats->errors_refused++;
        reply_error(c, "ERR coproxy: %s", cmd->reason ? cmd->reason : "command refused");
        break;
    default:
        c->pool->stats->errors_refused++;
        reply_error(c, "ERR unsupported command '%s'", reply_printable(req + a0->off, a0->len, name));
        break;
    }
}

/* A command nobody knows: Redis's own words (its name, and the first
 * arguments up to 128 bytes, quoted; line ends as spaces). */
static __attribute__((noinline, cold)) void unknown_command(struct redis_client *c, const char *req,
                                                             const struct resp_request *r)
{
    char args[300], name[140];
    size_t n = 0;

    snprintf(name, sizeof name, "%.*s", (int)(r->args[0].len < 128 ? r->args[0].len : 128), req + r->args[0].off);
    args[0] = '\0';
    for (uint32_t i = 1; i < r->argc && n < 128; i++)
        n += (size_t)snprintf(args + n, sizeof args - n, "'%.*s' ",
                              (int)(r->args[i].len < 128 - n ? r->args[i].len : 128 - n), req + r->args[i].off);
    for (char *p = name; *p; p++)
        if (*p == '\r' || *p == '\n')
            *p = ' ';
    for (char *p = args; *p; p++)
        if (*p == '\r' || *p == '\n')
            *p = ' ';
    reply_error(c, "ERR unknown command '%s', with args beginning with: %s", name, args);
}

/* One whole request: answer it here, or send it on. */
static void handle_request(struct redis_client *c, const char *req, const struct resp_request *r)
{
    const struct resp_arg *a0 = &r->args[0];
    const struct redis_cmd *cmd = redis_cmd_lookup(req + a0->off, a0->len);
    char name[72];

    c->pool->stats->requests++;
    if (guard_http(c, req + a0->off, a0->len))
        return;
    if (cmd == NULL) {
        c->pool->stats->errors_refused++;
        unknown_command(c, req, r);
        if (c->multi)
            pinned_abort_multi(c);
        return;
    }
    if (c->user == NULL && !(cmd->flags & CMD_NOAUTH)) {
        reply_error(c, "NOAUTH Authentication required.");
        return;
    }
    c->last_cmd = cmd->name;
    c->last_sub = (cmd->flags & CMD_CONTAINER) && r->argc > 1
                  ? redis_cmd_subname(req + r->args[1].off, r->args[1].len) : NULL;
    c->writing = (cmd->flags & (CMD_WRITE | CMD_MAY_WRITE)) != 0;
    /* replicas serve plain reads only: not a transaction's, a WATCHing or pinned client's */
    c->route_read = !c->writing && !c->multi && c->pin == NULL && c->trk == NULL
                    && (cmd->route == ROUTE_KEYS || cmd->route == ROUTE_SPLIT_MGET || cmd->route == ROUTE_SPLIT_SUM);
    if (!redis_cmd_arity_ok(cmd, r->argc)) {
        reply_error(c, "ERR wrong number of arguments for '%s' command", reply_lower_name(cmd->name, name));
        if (c->multi)
            pinned_abort_multi(c);
        return;
    }
    if (c->user != NULL && !c->user->unrestricted && acl_refuse(c, cmd, req, r)) {
        if (c->multi)
            pinned_abort_multi(c);   /* as Redis: EXEC answers EXECABORT */
        return;
    }
    if (cmd->first > 0 && r->argc > (uint32_t)cmd->first) {
        c->brief_key = req + r->args[cmd->first].off;
        c->brief_len = r->args[cmd->first].len;
    }
    c->brief_argc = r->argc;
    monitor_request(c, r->size);
    if (guard_script(c, cmd, req, r)) {
        if (c->multi)
            pinned_abort_multi(c);
        return;
    }
    if (c->ps != NULL && !c->resp3 && !(cmd->flags & CMD_SUBSCRIBED) && pubsub_subscribed(c) > 0) {
        reply_error(c, "ERR Can't execute '%s': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET "
                           "are allowed in this context", reply_lower_name(cmd->name, name));
        return;
    }
    if (c->multi && cmd->route != ROUTE_TXN && strcmp(cmd->name, "RESET") != 0) {   /* RESET runs at once */
        pinned_queue_in_multi(c, cmd, req, r);
        return;
    }
    dispatch(c, cmd, req, r);
}

/* Parses and routes every whole request buffered, up to the queue's bound. */
static __attribute__((noinline)) void process_input(struct redis_client *c)
{
    c->w->activity++;
    c->batch_us = worker_now_us();   /* one clock read for the batch: deadlines, latency */
    while (c->in_off < c->in.len && !c->closing && !c->parse_paused && c->nqueued < CLIENT_MAX_QUEUED) {
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
            reply_error(c, "ERR Protocol error: %s", c->req.error ? c->req.error : "malformed request");
            log_debug("pool %s: protocol error from client %d: %s", c->pool->conf->name, c->fd,
                      c->req.error ? c->req.error : "?");
            c->closing = 1;
            return;
        }
        if (c->req.argc > 0) {
            handle_request(c, req, &c->req);
            c->brief_key = NULL;   /* (it points into the input) */
            if (c->trk != NULL)
                tracking_after_request(c);
        }
        c->in_off += c->req.size;
        resp_request_reset(&c->req);
    }
}

/* ---- replies ------------------------------------------------------------------ */


/*
 * The head is overdue: the connections it waits on are dropped, which fails
 * it (and what queued behind it) with a timeout error.  A request that
 * waits on no connection cannot be overdue, but gets the error anyway.
 */
static void time_out_head(struct redis_client *c)
{
    struct msg *m = c->head;
    struct redis_server *s = m->server;

    if (pinned_time_out(c))
        return;

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

/* The client's socket changed while a blocking command waited: gone, or
 * just more requests (pipelined after it: they wait their turn). */
static void client_hup(int fd, short revents, void *arg)
{
    struct redis_client *c = arg;
    char b;
    ssize_t n = recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);

    if (n > 0 && c->tls != NULL)   /* the bytes may be its close_notify (then its FIN): OpenSSL tells */
        n = tls_peek(c->tls, &b, 1);
    c->hup_watch = 0;
    if (n == 0 && !(revents & (POLLHUP | POLLERR | POLLNVAL))) {
        /* its FIN: told to the server now, before anything another client
         * sends after it (a push that would wake the command) is routed */
        c->hup = 1;
        pinned_client_left(c);
        msg_wake_client(c);
    } else if ((n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
               || (revents & (POLLHUP | POLLERR | POLLNVAL))) {
        c->gone = 1;
        pinned_client_left(c);
        msg_wake_client(c);
    } else if (co_fd_watch(fd, POLLRDHUP, client_hup, c) == 0) {
        c->hup_watch = 1;
    }
}

/* A nil reply (a blocking command that timed out or was unblocked). */
static int is_nil(const struct rbuf *r)
{
    return (r->len == 5 && (memcmp(r->data, "*-1\r\n", 5) == 0 || memcmp(r->data, "$-1\r\n", 5) == 0))
           || (r->len == 3 && memcmp(r->data, "_\r\n", 3) == 0);   /* RESP3 */
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
        pinned_client_left(c);
        pinned_unblock_head(c, now);   /* again, or a later one pipelined behind the first */
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
    until = left && pinned_blocked_on(c, m) && !c->pin->fin_pending && !c->pin->fin_sent && c->unblock_at > now
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

/* The head of the queue, not written yet: 0 if it is done and goes out
 * now; 1 once it has been moved on (a WAIT sent, a RESET carried out, its
 * reply awaited, or dropped: its client left); -1 to close the client. */
static int settle_head(struct redis_client *c, struct msg *m)
{
    if (m->wait == 1 && !m->done) {   /* a WAIT goes out once all before it is answered */
        wait_dispatch(c, m);
        return 1;
    }
    if (m->reset && !m->done) {
        local_reset(c);
        c->parse_paused = 0;
        if (rbuf_append(&m->reply, "+RESET\r\n", 8) != 0)
            m->reply.len = 0;
        m->done = 1;
        return 1;
    }
    if (!m->done) {
        if (wait_head(c) != 0)
            return -1;
        return 1;
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
        return 1;
    }
    return 0;
}

/* The first n messages of the queue went out (or not: lost): released. */
static void written(struct redis_client *c, int n, int lost)
{
    struct msg *m;
    uint64_t now_us;

    now_us = worker_now_us();
    while (n-- > 0) {
        m = c->head;
        if (m->push)
            c->push_bytes -= m->reply.len;
        else if (!lost) {
            stats_latency_add(&c->pool->stats->latency, now_us - m->start_us);
            monitor_written(c, m, now_us - m->start_us);
        }
        if (m->counted)
            c->reply_bytes -= m->reply.len;
        if (m->quit)
            c->closing = 1;
        if (m->wait)
            wait_release(c, 0);
        if (m->exec_select)   /* parsing goes on in the database the transaction left */
            pinned_exec_selected(c, m);
        if (m->unpin && c->pin_holds > 0 && --c->pin_holds == 0 && !c->watching && !c->multi) {
            pinned_release(c, pinned_lost(c));   /* its blocking command is answered */
            if (c->w->stopping)
                shutdown(c->fd, SHUT_RD);   /* shutting down: it was let wait for this */
        }
        c->head = m->cnext;
        c->nqueued--;
        m->cnext = NULL;
        m->client = NULL;
        msg_unref(c->w, m);
    }
}

/*
 * TLS: the replies are gathered into records of up to 16 KiB (a record
 * per reply would cost a MAC, a header and often a system call each); a
 * reply that big goes on its own.  Parks until all is written.  0 or -1.
 */
static int tls_send_iov(struct redis_client *c, const struct iovec *iov, int niov)
{
    size_t cap, len = 0;
    char *buf = worker_ibuf_get(c->w, &cap);
    int r = 0;

    if (buf == NULL)
        return -1;
    for (int i = 0; i < niov && r == 0; i++) {
        size_t n = iov[i].iov_len;
        if (len > 0 && len + n > cap) {
            r = tls_write_all(c->tls, c->fd, buf, len);
            len = 0;
        }
        if (n >= cap) {
            r = r ? r : tls_write_all(c->tls, c->fd, iov[i].iov_base, n);
            continue;
        }
        memcpy(buf + len, iov[i].iov_base, n);
        len += n;
    }
    if (r == 0 && len > 0)
        r = tls_write_all(c->tls, c->fd, buf, len);
    worker_ibuf_put(c->w, buf, cap);
    return r;
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
        int n = 0, niov = 0, lost, settled;

        if ((settled = settle_head(c, m)) != 0) {
            if (settled < 0)
                return -1;
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
               || (niov > 0 && (c->tls != NULL ? tls_send_iov(c, iov, niov) != 0
                                               : sendmsg(c->fd, &mh, MSG_NOSIGNAL) != (ssize_t)total));
        if (lost && c->pin_holds == 0)
            return -1;
        if (lost) {   /* a blocked command waits still: see it ended (and undone) first */
            c->gone = 1;
            pinned_client_left(c);
        } else {
            c->pool->stats->bytes_out += total;
        }
        written(c, n, lost);
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

/* What waiting for input waits for: readable, or (TLS: a read that must
 * write first, a key update's answer) writable. */
static short tls_waits(const struct redis_client *c)
{
    return c->tls != NULL && c->tls_want == POLLOUT ? POLLOUT : POLLIN | POLLRDHUP;
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
    if (c->tls != NULL)
        n = tls_read(c->tls, c->in.data + c->in.len, room, &c->tls_want);
    else
        n = recv(c->fd, c->in.data + c->in.len, room, MSG_DONTWAIT);
    if (n > 0) {
        c->in.len += (size_t)n;
        c->pool->stats->bytes_in += (uint64_t)n;
        c->partial = 0;
        /* a short read drained the socket (TLS: a read returns a record,
         * the socket's last read says) */
        *ready = (size_t)n == room || c->hup || (c->tls != NULL && !tls_drained(c->tls));
        if (c->idle && (c->ps == NULL || pubsub_subscribed(c) == 0))   /* subscribers are not idle */
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
    msg_wake_client(c);
}

/* Subscribed, messages come unasked: waits for input or for one. 0, or -1. */
static __attribute__((noinline)) int subscriber_wait(struct redis_client *c)
{
    int r;

    if (c->cond == NULL && (c->cond = co_cond_alloc()) == NULL)
        return -1;
    c->input_ready = 0;
    if (c->tls != NULL && tls_pending(c->tls)) {   /* read already, not yet decrypted */
        c->input_ready = 1;
        return 0;
    }
    if (co_fd_watch(c->fd, tls_waits(c), subscriber_input, c) != 0)
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
        if (!ready && (c->pushes || (c->ps != NULL && pubsub_subscribed(c) > 0))) {
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
            struct pollfd p = { .fd = c->fd, .events = tls_waits(c) };
            int idle = c->in.data == NULL && c->head == NULL;
            int n = co_poll_edge(&p, 1, idle ? CLIENT_SHED_MS : -1);
            if (n < 0 && errno != EINTR)
                return CLIENT_DONE;
            if (n == 0 && idle && !c->kicked && !c->pushes)
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

    if (c->kicked == KICKED_IDLE) {
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
    tracking_release(c);
    wait_release(c, 1);
    /* the server may hold a WATCH, a MULTI or a blocked command for it: that connection goes */
    if (c->pin != NULL)
        pinned_release(c, c->multi || c->watching || c->pin->inflight > 0 || pinned_lost(c));
    rbuf_free(&c->deferred);
    c->in_off = c->in.len = 0;
    release_input(c);
    free(c->req.args);
    co_timer_free(c->idle);
    co_timer_free(c->soft_timer);
    co_cond_free(c->cond);
    if (c->tls != NULL) {
        if (!c->gone && !c->kicked && c->started)
            tls_close_notify(c->tls);
        tls_free(c->tls);
    }
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
    c->shed = 0;
    if (revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL))
        c->hup = 1;
    if (co_create(&co, &attr, redis_client_main, c) != 0) {
        log_error("pool %s: out of memory for a client's coroutine: closing it", c->pool->conf->name);
        client_close(c);
        return;
    }
    co_resume(co);
}

/* A message was pushed to an idle client without a coroutine (an
 * invalidation for a REDIRECT target): it is served again to write it. */
static void client_revive(struct redis_client *c)
{
    co_fd_unwatch(c->fd);
    client_wake(c->fd, 0, c);
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
        msg_set_reviver(client_revive);
        c->next = p->clients;
        if (c->next)
            c->next->prev = c;
        p->clients = c;
        setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (p->conf->client_idle_timeout > 0 && (c->idle = co_timer_new(on_idle, c)) != NULL)
            co_timer_arm(c->idle, p->conf->client_idle_timeout);
        if (c->tls != NULL && tls_accepted(p->rt, c->tls, c->fd, c->tls_deadline) != 0) {
            client_close(c);
            worker_retire(w, co_self());
            return NULL;
        }
    }
    if (client_serve(c) != CLIENT_SHED || co_fd_watch(c->fd, tls_waits(c), client_wake, c) != 0) {
        client_close(c);
    } else {
        c->shed = 1;
        co_cond_free(c->cond);   /* nobody waits on it while the client is idle */
        c->cond = NULL;
        w->activity++;           /* memory was freed: the worker trims after this */
    }
    worker_retire(w, co_self());   /* released by the worker once finished */
    return NULL;
}
