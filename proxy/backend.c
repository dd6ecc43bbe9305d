/* SPDX-License-Identifier: Apache-2.0 */
/* backend.c — a worker's connections to a redis server: pipelined writes, replies matched in order, reconnects. */
#define _GNU_SOURCE
#include <errno.h>
#include <stddef.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "addr.h"
#include "backend.h"
#include "backend_prologue.h"
#include "log.h"
#include "redis_msg.h"
#include "resp_append.h"
#include "tls.h"
#include "tls_pool.h"
#include "worker_ctx.h"

/*
 * Each connection has a writer coroutine, for its whole life, and a reader
 * coroutine per established connection.  Clients append request bytes to
 * `out` and their messages to the queue, then wake the writer, which runs
 * after them in the same loop turn: the requests of every client served in
 * that turn leave in one send.  The reader parses replies and completes the
 * queue's head, in order.  When the connection breaks, every message on it
 * fails with an error reply and the writer reconnects, backing off, the
 * next time there is something to send.
 */

#define BACKEND_READ_BUF (64 * 1024)
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 2000

static const char *server_desc(const struct redis_server *s)
{
    return s->conf->name;
}

/* Fails every queued message and drops the connection; the next connect
 * waits out the back-off unless `now` says to reconnect at once. */
static void backend_fail_ex(struct worker *w, struct backend_conn *bc, const char *why, int now);

/* Every state change goes through here: the server's gauges follow it. */
static void set_state(struct backend_conn *bc, enum backend_state st)
{
    struct server_stats *ss = bc->srv->stats;

    ss->connections -= bc->state == BC_UP;
    ss->connecting -= bc->state == BC_CONNECTING;
    bc->state = st;
    ss->connections += st == BC_UP;
    ss->connecting += st == BC_CONNECTING;
}

static void backend_fail(struct worker *w, struct backend_conn *bc, const char *why)
{
    backend_fail_ex(w, bc, why, 0);
}

static void backend_fail_ex(struct worker *w, struct backend_conn *bc, const char *why, int now)
{
    struct redis_server *s = bc->srv;
    struct msg *m;
    uint64_t sent;
    int had = bc->inflight > 0 || bc->state == BC_UP;
    /* a connection half-closed for a client that left ends as asked */
    int half = bc->fin_pending || bc->fin_sent, quiet = bc->quiet || half;

    snprintf(bc->why, sizeof bc->why, "%s", why);
    tls_free(bc->tls);   /* (its reader and writer look at gen before they touch it again) */
    bc->tls = NULL;
    if (bc->fd >= 0) {
        close(bc->fd);   /* wakes a writer or reader parked on it */
        bc->fd = -1;
    }
    bc->gen++;
    bc->drops++;
    bc->tracked = 0;   /* (the server forgot what it tracked for it) */
    bc->fin_pending = bc->fin_sent = bc->unblocked = 0;   /* a new connection is a new client there */
    if (bc->state == BC_UP && !s->retired && !quiet)
        log_warn("pool %s: server %s (%s): %s", s->pool->conf->name, s->conf->name,
                 s->conf->addr.text, why);
    set_state(bc, BC_DOWN);
    if (now || half) {   /* (a half-closed one ended as asked: the next client may use it at once) */
        bc->retry_at = 0;
    } else {
        bc->retry_at = worker_now_ms() + (uint64_t)bc->backoff_ms;
        bc->backoff_ms = bc->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : bc->backoff_ms * 2;
    }
    sent = bc->seq_base + bc->out_off;   /* the requests from there on never went out */
    bc->seq_base += bc->out.len;
    bc->out.len = bc->out_off = bc->enq_mark = 0;
    while ((m = bc->head) != NULL) {
        bc->head = m->bnext;
        m->bnext = NULL;
        if (m->cluster_map) {
            s->pool->ops->map_failed(s->pool);
        } else if (!m->internal && !m->done && s->pool->ops->unsent != NULL && m->seq >= sent
                   && s->pool->ops->unsent(m) == 0) {
            /* a cluster node lost: the request waits for the map to name another */
        } else if (!m->internal && !m->done && half) {
            m->unanswered = 1;   /* the server freed its client first: nothing ran for it */
            msg_fail(w, m, "ERR coproxy: server %s: its connection was closed after a blocking command its client "
                     "left or gave up", server_desc(s));
        } else if (!m->internal && !m->done) {
            s->pool->stats->errors_backend++;
            msg_fail(w, m, "ERR coproxy: server %s: %s", server_desc(s), why);
        }
        msg_unref(w, m);
    }
    bc->tail = &bc->head;
    bc->inflight = 0;
    if (bc->tracker != NULL)
        s->pool->ops->tracked_lost(bc);
    else if (bc->subscriber != NULL)
        s->pool->ops->lost(bc);
    if (had && !s->retired && !quiet)   /* closing a removed server's or a pin is no failure */
        s->pool->ops->failed(s);
    if (bc->parked) {   /* nothing is left to wait for */
        bc->parked = 0;
        backend_unpin(w, bc, 0);
    }
}

/* A subscriber's connection sends pushes between replies; Redis writes
 * them in this one form (RESP2). */
static int is_pubsub_message(const char *p, size_t n)
{
    /* (a RESP3 connection sends them as pushes: '>' for '*') */
    static const char msg[] = "3\r\n$7\r\nmessage\r\n", pmsg[] = "4\r\n$8\r\npmessage\r\n",
                      smsg[] = "3\r\n$8\r\nsmessage\r\n";

    if (n < 2 || (p[0] != '*' && p[0] != '>'))
        return 0;
    return (n > sizeof msg && memcmp(p + 1, msg, sizeof msg - 1) == 0)
           || (n > sizeof pmsg && memcmp(p + 1, pmsg, sizeof pmsg - 1) == 0)
           || (n > sizeof smsg && memcmp(p + 1, smsg, sizeof smsg - 1) == 0);
}

/* Can a reply on bc be a push?  Only once what was owed before the
 * subscriber took it (a previous holder's EXEC) is answered: the head is
 * none, or the subscriber's own (un)subscribe. */
static int is_subscribed(const struct backend_conn *bc)
{
    const struct msg *h = bc->head;

    return bc->subscriber != NULL && (h == NULL || (h->parent != NULL && h->parent->client == bc->subscriber));
}

struct reader_arg {
    struct worker *w;
    struct backend_conn *bc;
};

/* Completes the queue's head with the reply bytes p[0..n) (the rest of them,
 * if a long reply was streamed into the message already). */
static int complete_head(struct worker *w, struct backend_conn *bc, const char *p, size_t n, uint64_t now_us)
{
    struct msg *m = bc->head;

    bc->head = m->bnext;
    if (bc->head == NULL)
        bc->tail = &bc->head;
    m->bnext = NULL;
    bc->inflight--;
    bc->srv->failures = 0;
    if (m->start_us != 0) {
        m->backend_us = now_us - m->start_us;
        stats_latency_add(&bc->srv->stats->latency, m->backend_us);
    }
    if (m->cluster_map) {
        bc->srv->pool->ops->map_reply(bc->srv->pool, p, n);
        msg_unref(w, m);
        return 0;
    }
    if (n > 0 && p[0] == '-' && bc->srv->pool->ops->error_reply != NULL
        && bc->srv->pool->ops->error_reply(w, m, p, n) == 0) {
        msg_unref(w, m);   /* sent again elsewhere, or waiting: that holds it now */
        return 0;
    }
    if (m->late_reply != NULL)
        m->late_reply(w, m, p, n);   /* (its owner's: a reply its client will not take) */
    if (m->internal && m->id_probe == PROBE_HELLO && n > 0 && p[0] != '-' && p[0] != '!') {
        /* its "version", which coproxy's own HELLO reply gives its clients */
        resp_bulk_field(p, n, "version", bc->srv->pool->server_version, sizeof bc->srv->pool->server_version);
        msg_unref(w, m);
        return 0;
    }
    if (m->internal && m->id_probe && m->id_probe != PROBE_HELLO) {
        /* CLIENT ID: what CLIENT UNBLOCK names it by; then CLIENT UNBLOCK 0,
         * to know it is allowed (an ACL user without @admin, Redis < 5):
         * either refused, and a client leaving is told with a FIN instead */
        if (m->id_probe == PROBE_ID)
            bc->server_id = n > 1 && p[0] == ':' ? strtoll(p + 1, NULL, 10) : 0;
        else if (n == 0 || p[0] != ':')
            bc->server_id = 0;
        msg_unref(w, m);
        return 0;
    }
    if (m->internal == 2) {   /* (a client's CLIENT TRACKING replayed: its reply was given once) */
        msg_unref(w, m);
        return 0;
    }
    if (m->internal) {
        int ok = n > 0 && (p[0] == '+' || p[0] == ':') && m->reply.len == 0;   /* OK, QUEUED; PUBLISH's count */
        msg_unref(w, m);
        if (!ok) {
            char why[96];
            int show = n > 2 ? (int)(n - 2) : 0;
            snprintf(why, sizeof why, "%s refused: %.*s", bc->pinned ? "a command coproxy sent for a client"
                     : "connect-time AUTH/SELECT/READONLY/HELLO", show > 60 ? 60 : show, p);
            log_error("pool %s: server %s: %s", bc->srv->pool->conf->name, bc->srv->conf->name, why);
            backend_fail(w, bc, why);
            return -1;
        }
        return 0;
    }
    if (!m->done && (m->client != NULL || m->parent != NULL)) {
        if (rbuf_append(&m->reply, p, n) != 0) {
            m->reply.len = 0;
            msg_fail(w, m, "ERR coproxy: out of memory for a reply");
        } else {
            msg_finish(w, m);
        }
    } else {
        m->done = 1;   /* nobody wants it any more */
    }
    msg_unref(w, m);
    if (bc->parked && bc->head == NULL) {   /* the last reply its client gave up on */
        bc->parked = 0;
        backend_unpin(w, bc, 1);
    }
    return 0;
}

/* The whole replies in buf[*start, len), each to its message (or to the
 * subscriber, or the pool's callbacks); *start moves past them.  0, or -1:
 * the connection failed or was let go (the reader ends). */
static int take_replies(struct worker *w, struct backend_conn *bc, const char *buf, size_t len, size_t *start,
                        struct resp_reply *rp, uint64_t now_us, uint32_t gen)
{
    while (*start < len) {
        int r;
        if (bc->head == NULL && bc->subscriber == NULL && !bc->tracked) {
            backend_fail(w, bc, "sent a reply nobody asked for");
            return -1;
        }
        r = resp_parse_reply(rp, buf + *start, len - *start);
        if (r == RESP_AGAIN)
            break;
        if (r == RESP_ERROR) {
            char why[96];
            snprintf(why, sizeof why, "sent a malformed reply (%s)", rp->error ? rp->error : "?");
            backend_fail(w, bc, why);
            return -1;
        }
        if (bc->tracked && buf[*start] == '>') {   /* (no reply to a tracker's commands is a push) */
            if (bc->tracker != NULL)
                bc->srv->pool->ops->tracked_push(w, bc, buf + *start, (size_t)rp->pos);
        } else if (is_subscribed(bc) && is_pubsub_message(buf + *start, (size_t)rp->pos)) {
            bc->srv->pool->ops->push(w, bc, buf + *start, (size_t)rp->pos);
        } else if (bc->head == NULL) {
            backend_fail(w, bc, "sent a reply nobody asked for");
            return -1;
        } else if (complete_head(w, bc, buf + *start, (size_t)rp->pos, now_us) != 0) {
            return -1;
        } else if (bc->subscriber != NULL && bc->head == NULL) {
            bc->srv->pool->ops->idle(bc);
        }
        *start += (size_t)rp->pos;
        resp_reply_reset(rp);
        if (bc->gen != gen)
            return -1;   /* the subscriber let it go, closed */
    }
    return 0;
}

/* The read buffer is full: what the parser has passed of the one reply that
 * fills it moves to its message (a 100 MB value needs no 100 MB buffer),
 * else the buffer grows.  0, or -1 (the connection failed). */
static int make_room(struct worker *w, struct backend_conn *bc, char **buf, size_t *cap, size_t *len,
                     struct resp_reply *rp)
{
    size_t k = (size_t)rp->pos;
    struct msg *m = bc->head;

    if (k > 0 && bc->subscriber == NULL && !(bc->tracked && (*buf)[0] == '>')) {   /* (a push: whole) */
        if (!m->done && (m->client != NULL || m->parent != NULL || m->late_reply != NULL)
            && rbuf_append(&m->reply, *buf, k) != 0) {
            backend_fail(w, bc, "out of memory for a reply");
            return -1;
        }
        memmove(*buf, *buf + k, *len - k);
        *len -= k;
        resp_reply_shift(rp, k);
    } else {
        char *grown = realloc(*buf, *cap * 2);
        if (grown == NULL) {
            backend_fail(w, bc, "out of memory for a read buffer");
            return -1;
        }
        *buf = grown;
        *cap *= 2;
    }
    return 0;
}

/* Reads replies for one established connection until it breaks or is replaced. */
static void *reader_main(void *arg)
{
    struct reader_arg *ra = arg;
    struct worker *w = ra->w;
    struct backend_conn *bc = ra->bc;
    uint32_t gen = bc->gen;
    int fd = bc->fd;
    size_t cap = BACKEND_READ_BUF, len = 0;
    char *buf = malloc(cap);
    struct resp_reply rp;

    co_enable_hook_sys();
    free(ra);
    resp_reply_reset(&rp);
    if (buf == NULL) {
        backend_fail(w, bc, "out of memory for a read buffer");
        goto out;
    }
    while (bc->gen == gen) {
        ssize_t n;
        size_t start = 0;
        uint64_t now_us;

        if (bc->tls != NULL) {
            short want = POLLIN;
            n = tls_read(bc->tls, buf + len, cap - len, &want);
            if (n < 0 && errno == EAGAIN) {
                struct pollfd p = { .fd = fd, .events = want };
                if (co_poll_edge(&p, 1, -1) < 0 && errno != EINTR)
                    usleep(10 * 1000);   /* out of memory for a wait: do not spin */
                continue;   /* (a failure meanwhile changed gen: the loop ends) */
            }
        } else {
            n = recv(fd, buf + len, cap - len, 0);   /* parks until there is something */
        }
        if (bc->gen != gen)
            break;
        if (n <= 0) {
            if (n < 0 && errno == EINTR)
                continue;
            backend_fail(w, bc, n == 0 ? "closed the connection" : strerror(errno));
            break;
        }
        len += (size_t)n;
        now_us = worker_now_us();   /* one clock read for the replies of this read */
        bc->heard_ms = now_us / 1000;
        if (take_replies(w, bc, buf, len, &start, &rp, now_us, gen) != 0)
            goto out;
        if (bc->srv->retired && bc->head == NULL) {   /* the last reply a removed server owed */
            backend_fail(w, bc, "removed from the configuration");
            break;
        }
        if (start > 0) {
            memmove(buf, buf + start, len - start);
            len -= start;
        }
        if (len == cap && make_room(w, bc, &buf, &cap, &len, &rp) != 0)
            break;
    }
out:
    free(buf);
    worker_retire(w, co_self());
    return NULL;
}

/* Opens the connection: connect within connect_timeout, then AUTH and SELECT
 * ahead of whatever clients queued meanwhile.  0, or -1 (all queued failed). */
/* A socket to s, connected within connect_timeout: the fd, or -1 and why. */
static int open_socket(struct worker *w, struct redis_server *s, char *why, size_t n)
{
    const struct pool_conf *pc = s->pool->conf;
    struct timeval tv = { .tv_sec = pc->connect_timeout / 1000, .tv_usec = (pc->connect_timeout % 1000) * 1000 };
    struct timeval none = { 0, 0 };
    int fd = socket(s->conf->addr.family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

    if (fd < 0) {
        if (errno == EMFILE || errno == ENFILE)
            worker_out_of_fds(w, pc->name, "socket for a server", errno);
        snprintf(why, n, "cannot open a socket: %s", strerror(errno));
        return -1;
    }
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (connect(fd, &s->conf->addr.sa, s->conf->addr.len) != 0) {
        snprintf(why, n, "connect: %s", errno == EINPROGRESS ? "timed out" : strerror(errno));
        close(fd);
        return -1;
    }
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &none, sizeof none);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

/* server_tls: the handshake on the new connection, resuming the server's
 * last session.  0, or -1 with why (its failure is the server's). */
static int start_tls(struct backend_conn *bc, int fd, char *why, size_t n)
{
    struct redis_server *s = bc->srv;
    const struct tls_conf *t = s->pool->conf->server_tls;
    char host[128];
    SSL *ssl;

    if (s->tls_session != NULL && s->tls_session_conf != t->id) {   /* a reload changed the rules: */
        SSL_SESSION_free(s->tls_session);                             /* a full handshake checks them */
        s->tls_session = NULL;
    }
    s->tls_session_conf = t->id;
    /* the connection's until the handshake is done: a failure of bc meanwhile
     * (a pinned client that left) frees what bc holds, not this */
    ssl = tls_new_client(t, fd, addr_host(&s->conf->addr, host, sizeof host), &s->tls_session);
    if (ssl == NULL) {
        snprintf(why, n, "out of memory for TLS");
        return -1;
    }
    if (tls_connected(s->stats, ssl, fd, worker_now_ms() + (uint64_t)t->handshake_timeout, why, n) != 0) {
        tls_free(ssl);
        SSL_SESSION_free(s->tls_session);   /* (a failed resumption is not tried again) */
        s->tls_session = NULL;
        return -1;
    }
    bc->tls = ssl;
    return 0;
}

static int backend_connect(struct worker *w, struct backend_conn *bc)
{
    struct redis_server *s = bc->srv;
    struct stCoRoutineAttr_t attr = { .share_stack = w->backend_share };   /* see WORKER_BACKEND_STACKS */
    struct stCoRoutine_t *co;
    struct reader_arg *ra;
    int fd;
    char why[160];

    set_state(bc, BC_CONNECTING);
    if ((fd = open_socket(w, s, why, sizeof why)) < 0)
        goto fail;
    if (s->pool->conf->server_tls != NULL && start_tls(bc, fd, why, sizeof why) != 0) {
        close(fd);
        goto fail;
    }
    bc->server_id = 0;
    if (backend_prologue(w, bc) != 0) {
        tls_free(bc->tls);
        bc->tls = NULL;
        close(fd);
        snprintf(why, sizeof why, "out of memory");
        goto fail;
    }
    if (s->retired && bc->head == NULL) {   /* removed while it connected, and nothing to send */
        tls_free(bc->tls);
        bc->tls = NULL;
        close(fd);
        set_state(bc, BC_DOWN);
        return -1;
    }
    bc->fd = fd;
    set_state(bc, BC_UP);
    bc->heard_ms = worker_now_ms();
    bc->backoff_ms = BACKOFF_MIN_MS;
    bc->gen++;
    ra = malloc(sizeof *ra);
    if (ra == NULL || co_create(&co, &attr, reader_main, ra) != 0) {
        free(ra);
        backend_fail(w, bc, "out of memory for a reader");
        return -1;
    }
    *ra = (struct reader_arg){ w, bc };
    co_resume(co);
    return bc->state == BC_UP ? 0 : -1;   /* the reader may have found it closed already */

fail:
    set_state(bc, BC_UP);   /* so that backend_fail counts the failure */
    backend_fail(w, bc, why);
    return -1;
}

/* Sends what clients queued; connects first when needed.  Runs for the worker's life. */
static void *writer_main(void *arg)
{
    struct backend_conn *bc = arg;
    struct worker *w = bc->srv->pool->w;

    co_enable_hook_sys();
    for (;;) {
        short want = POLLOUT;
        ssize_t n;

        while (bc->out_off == bc->out.len) {
            if (bc->fin_pending && bc->state == BC_UP && bc->fd >= 0) {   /* all sent: now the FIN */
                shutdown(bc->fd, SHUT_WR);
                bc->fin_pending = 0;
                bc->fin_sent = 1;
            }
            bc->seq_base += bc->out.len;
            bc->out.len = bc->out_off = bc->enq_mark = 0;
            if (bc->out.cap > 4 * BACKEND_READ_BUF)
                rbuf_free(&bc->out);   /* a huge request went out: give the memory back */
            bc->writer_idle = 1;
            if (co_cond_timedwait(bc->wake, -1) != 0)
                usleep(10 * 1000);   /* out of memory for a wait: do not spin */
            bc->writer_idle = 0;
        }
        if (bc->state == BC_DOWN && backend_connect(w, bc) != 0)
            continue;
        if (bc->out_off == bc->out.len)
            continue;   /* what was queued failed meanwhile (a timeout during the connect) */
        if (bc->tls != NULL)
            n = tls_write(bc->tls, bc->out.data + bc->out_off, bc->out.len - bc->out_off, &want);
        else
            n = send(bc->fd, bc->out.data + bc->out_off, bc->out.len - bc->out_off, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n > 0) {
            bc->out_off += (size_t)n;
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
            struct pollfd p = { .fd = bc->fd, .events = want };
            if (co_poll_edge(&p, 1, -1) < 0 && errno != EINTR)
                usleep(10 * 1000);     /* out of memory for a wait: do not spin */
            /* an error shows in the next send */
            continue;
        }
        backend_fail(w, bc, strerror(n < 0 ? errno : EPIPE));
    }
    return NULL;
}

/* m goes on bc unless bc's server is down and backing off: then m fails now. */
static struct backend_conn *checked_conn(struct worker *w, struct backend_conn *bc, struct msg *m)
{
    struct redis_server *s = bc->srv;

    m->server = s;
    s->stats->requests++;
    if (bc->fin_pending || bc->fin_sent) {   /* a pin whose client left: it takes nothing more */
        msg_fail(w, m, "ERR coproxy: server %s: this connection is closing", server_desc(s));
        return NULL;
    }
    /* (a cluster node that is down: its requests wait for the map to change, see ops->unsent) */
    if (bc->state == BC_DOWN && bc->head == NULL && worker_now_ms() < bc->retry_at && s->pool->ops->unsent == NULL) {
        s->pool->stats->errors_backend++;
        msg_fail(w, m, "ERR coproxy: server %s is unavailable (%s); retrying", server_desc(s), bc->why);
        return NULL;
    }
    return bc;
}

struct backend_conn *backend_pin(struct worker *w, struct redis_server *s, int resp3)
{
    struct backend_conn **free_list = resp3 ? &s->pinned_free3 : &s->pinned_free;
    struct backend_conn *bc = *free_list;

    if (bc != NULL) {
        *free_list = bc->next_free;
        bc->next_free = NULL;
    } else {
        if (s->npinned >= s->pool->conf->server_pinned_connections || (bc = calloc(1, sizeof *bc)) == NULL)
            return NULL;
        if (backend_start(w, bc, s) != 0) {
            co_cond_free(bc->wake);
            free(bc);
            return NULL;
        }
        bc->pinned = 1;
        bc->resp3 = (uint8_t)resp3;   /* before its first connect */
        s->npinned++;
    }
    s->stats->pinned++;
    return bc;
}

void backend_unpin(struct worker *w, struct backend_conn *bc, int dirty)
{
    struct redis_server *s = bc->srv;

    /* an UNBLOCK sent for it may still be on its way: it must not end the
     * next holder's blocking command, so it closes (a new connection is a
     * new id) -- after the replies it still owes (an EXEC) */
    if (bc->unblocked && !dirty && bc->head != NULL) {
        bc->parked = 1;
        return;
    }
    dirty |= bc->unblocked;
    s->stats->pinned--;
    bc->tracked = bc->movable = 0;   /* (tracking is only ever given back closed) */
    /* (one still connecting has its requests queued: they must not go out either) */
    if (dirty && (bc->state != BC_DOWN || bc->head != NULL || bc->out.len > bc->out_off)) {
        bc->quiet = 1;
        backend_fail_ex(w, bc, "its client left with a transaction or a blocked command", 1);
        bc->quiet = 0;
    }
    /* A clean one may still carry replies due (an EXEC): whoever takes it
     * next queues behind them, in order. */
    if (bc->resp3) {
        bc->next_free = s->pinned_free3;
        s->pinned_free3 = bc;
    } else {
        bc->next_free = s->pinned_free;
        s->pinned_free = bc;
    }
}

struct backend_conn *backend_pick_db(struct worker *w, struct redis_server *s, struct msg *m, int db)
{
    struct backend_conn *bc;

    int at = 2 * db + m->resp3;

    if (s->db_conns == NULL
        && (s->db_conns = calloc(2 * (size_t)s->pool->conf->databases, sizeof *s->db_conns)) == NULL)
        goto oom;
    if ((bc = s->db_conns[at]) == NULL) {
        if ((bc = calloc(1, sizeof *bc)) == NULL)
            goto oom;
        if (backend_start(w, bc, s) != 0) {
            free(bc);
            goto oom;
        }
        bc->db = db;   /* before its first connect */
        bc->resp3 = m->resp3;
        s->db_conns[at] = bc;
    }
    return backend_pick_pinned(w, bc, m);
oom:
    m->server = s;
    msg_fail(w, m, "ERR coproxy: out of memory");
    return NULL;
}

struct backend_conn *backend_pick_spare(struct worker *w, struct redis_server *s, struct msg *m)
{
    if (s->spare[m->resp3] == NULL) {
        struct backend_conn *bc = calloc(1, sizeof *bc);
        if (bc == NULL || backend_start(w, bc, s) != 0) {
            free(bc);
            m->server = s;
            msg_fail(w, m, "ERR coproxy: out of memory");
            return NULL;
        }
        bc->resp3 = m->resp3;   /* before its first connect */
        s->spare[m->resp3] = bc;
    }
    return checked_conn(w, s->spare[m->resp3], m);
}

struct backend_conn *backend_pick_pinned(struct worker *w, struct backend_conn *bc, struct msg *m)
{
    return checked_conn(w, bc, m);
}

void backend_retire(struct worker *w, struct backend_conn *bc)
{
    if (bc->head == NULL && bc->state != BC_DOWN)
        backend_fail(w, bc, "removed from the configuration");
}

int backend_start(struct worker *w, struct backend_conn *bc, struct redis_server *s)
{
    struct stCoRoutineAttr_t attr = { .share_stack = w->backend_share };   /* see WORKER_BACKEND_STACKS */

    bc->srv = s;
    bc->fd = -1;
    bc->db = -1;   /* the pool's redis_db; a caller wanting another sets it after */
    bc->seq_base = (uint64_t)1 << 40;   /* room below for a prologue's bytes */
    bc->tail = &bc->head;
    bc->backoff_ms = BACKOFF_MIN_MS;
    bc->wake = co_cond_alloc();
    if (bc->wake == NULL || co_create(&bc->writer, &attr, writer_main, bc) != 0)
        return -1;
    co_resume(bc->writer);   /* parks at once, waiting for requests */
    return 0;
}

/* The server's RESP3 connections, made when first needed: NULL if out of memory. */
static __attribute__((noinline)) struct backend_conn *make_conns3(struct worker *w, struct redis_server *s)
{
    int n = s->pool->conf->server_connections;

    if ((s->conns3 = calloc((size_t)n, sizeof *s->conns3)) == NULL)
        return NULL;
    for (int k = 0; k < n; k++) {
        if (backend_start(w, &s->conns3[k], s) != 0)
            return s->conns3 = NULL;   /* out of memory: what started stays parked */
        s->conns3[k].resp3 = 1;   /* before its first connect */
    }
    return s->conns3;
}

struct backend_conn *backend_pick(struct worker *w, struct redis_server *s, struct msg *m, uint64_t affinity)
{
    uint64_t k = affinity % (uint64_t)s->pool->conf->server_connections;
    struct backend_conn *set = !m->resp3 ? s->conns : s->conns3 ? s->conns3 : make_conns3(w, s);

    if (set == NULL) {
        m->server = s;
        msg_fail(w, m, "ERR coproxy: out of memory");
        return NULL;
    }
    return checked_conn(w, &set[k], m);
}

/* m's request bytes are in bc's output from enq_mark on: m is queued for its reply. */
static void enqueue(struct backend_conn *bc, struct msg *m)
{
    struct redis_pool *p = bc->srv->pool;

    /* a cluster's request keeps its bytes: a redirect sends them again */
    if (bc->enq_mark > bc->out.len)
        bc->enq_mark = bc->out.len;   /* (a rollback behind an internal message's bytes) */
    m->seq = bc->seq_base + bc->enq_mark;
    /* (not on a client's own connection: what it holds there -- a
     * transaction, a blocked command, a subscription -- cannot move) */
    if (p->ops->keeps_requests && !m->internal && !m->cluster_map && (!bc->pinned || bc->movable) && bc->db < 0) {
        m->req.len = 0;
        if (rbuf_append(&m->req, bc->out.data + bc->enq_mark, bc->out.len - bc->enq_mark) != 0)
            m->req.len = 0;   /* out of memory: no redirect for it (the error reaches the client) */
    }
    bc->enq_mark = bc->out.len;
    m->conn = bc;
    m->refs++;
    m->bnext = NULL;
    if (bc->inflight == 0)   /* a reply is owed from now: the server's silence counts from here */
        bc->heard_ms = m->start_us != 0 ? m->start_us / 1000 : worker_now_ms();
    *bc->tail = m;
    bc->tail = &m->bnext;
    bc->inflight++;
    if (bc->writer_idle) {
        bc->writer_idle = 0;
        co_cond_signal(bc->wake);
    }
}

/* The append from mark on ended with err: queued, or taken back. */
static int appended(struct backend_conn *bc, struct msg *m, size_t mark, int err)
{
    if (err != 0) {
        bc->out.len = mark;   /* no half request may stay: the replies after it would shift */
        msg_fail(bc->srv->pool->w, m, "ERR coproxy: out of memory");
        return -1;
    }
    enqueue(bc, m);
    return 0;
}

int backend_send(struct backend_conn *bc, struct msg *m, backend_write_fn write, const void *arg)
{
    size_t mark = bc->out.len;

    return appended(bc, m, mark, write(&bc->out, arg));
}

int backend_send_bytes(struct backend_conn *bc, struct msg *m, const char *bytes, size_t n)
{
    size_t mark = bc->out.len;

    return appended(bc, m, mark, n > 0 ? rbuf_append(&bc->out, bytes, n) : 0);
}

int backend_send_request(struct backend_conn *bc, struct msg *m, const char *req, const struct resp_request *r)
{
    size_t mark = bc->out.len;

    return appended(bc, m, mark, resp_append_request(&bc->out, req, r));
}

void backend_timed_out(struct worker *w, struct msg *m)
{
    struct backend_conn *bc = m->conn;
    struct redis_server *s;
    const struct msg *newest;
    uint64_t now = worker_now_ms(), silent, timeout;
    char why[96];

    if (bc == NULL || m->done)
        return;
    s = bc->srv;
    timeout = (uint64_t)s->pool->conf->server_timeout;
    s->stats->timeouts++;
    s->pool->stats->errors_timeout++;
    if (bc->state != BC_UP)
        return;
    /* replies still flow (a pipeline of big values ahead of m): m alone fails */
    silent = now - bc->heard_ms;
    if (silent < timeout)
        return;
    /* silent for server_timeout: a failure of the server for each such
     * span.  A request sent later may still be answered in time (the server
     * was busy, not gone): the connection stays until the silence reaches
     * twice server_timeout, or nobody on it has time left */
    newest = (const struct msg *)(const void *)((const char *)bc->tail - offsetof(struct msg, bnext));
    if (silent < 2 * timeout && newest != m && !newest->done && newest->deadline > now) {
        if (now - bc->struck_ms >= timeout) {
            bc->struck_ms = now;
            s->pool->ops->failed(s);
        }
        return;
    }
    snprintf(why, sizeof why, "timeout: no reply within %d ms", s->pool->conf->server_timeout);
    backend_fail_ex(w, bc, why, 1);
}

int backend_unblock(struct worker *w, struct backend_conn *pin)
{
    struct redis_server *s = pin->srv;
    struct backend_conn *bc;
    struct msg *m;
    char id[24];
    size_t mark;

    if (pin->server_id <= 0 || pin->state != BC_UP || (m = msg_get(w)) == NULL)
        return -1;
    m->refs = 1;   /* its reply (1: unblocked, 0: answered already) is nobody's */
    if ((bc = backend_pick(w, s, m, 0)) == NULL || bc->pinned) {
        msg_unref(w, m);
        return -1;
    }
    snprintf(id, sizeof id, "%lld", (long long)pin->server_id);
    mark = bc->out.len;
    if (rbuf_printf(&bc->out, "*3\r\n$6\r\nCLIENT\r\n$7\r\nUNBLOCK\r\n$%zu\r\n%s\r\n", strlen(id), id) != 0) {
        bc->out.len = mark;
        msg_unref(w, m);
        return -1;
    }
    enqueue(bc, m);
    msg_unref(w, m);
    pin->unblocked = 1;
    return 0;
}

void backend_park(struct worker *w, struct backend_conn *pin)
{
    if (pin->head == NULL)
        backend_unpin(w, pin, 1);
    else
        pin->parked = 1;
}

void backend_half_close(struct backend_conn *bc)
{
    if (bc->fin_pending || bc->fin_sent || (bc->state != BC_UP && bc->head == NULL))
        return;
    bc->fin_pending = 1;
    if (bc->state == BC_UP && bc->out_off == bc->out.len && bc->fd >= 0) {
        /* now, not in the writer's turn: requests other clients queue after
         * this (a push that would wake the blocked command) reach the
         * server behind the FIN */
        shutdown(bc->fd, SHUT_WR);
        bc->fin_pending = 0;
        bc->fin_sent = 1;
    } else if (bc->writer_idle) {   /* it connects (if it must), sends what is queued, then the FIN */
        bc->writer_idle = 0;
        co_cond_signal(bc->wake);
    }
}

void backend_trim(struct backend_conn *bc)
{
    if (bc->out.len == 0)
        rbuf_free(&bc->out);
}
