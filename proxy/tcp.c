/* SPDX-License-Identifier: Apache-2.0 */
/* tcp.c — tcp mode: one coroutine per client, a backend per client, bytes relayed both ways. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "tcp.h"
#include "tls.h"
#include "tls_pool.h"
#include "worker_ctx.h"

/*
 * Written as blocking code -- connect(), poll(), write() -- running in a
 * coroutine with hooks on, so each call parks only this connection.  The
 * connection holds no buffer while it waits: a relay buffer is taken from
 * the worker for one read and its write, then given back.  The idle
 * deadline is a timer re-armed on traffic (a store when pushed back); when
 * it fires it shuts the client socket down, which wakes the relay.
 */

/*
 * One direction of the relay.  Sends are non-blocking: what the receiving
 * socket will not take yet stays in the direction's buffer, and the
 * direction waits for room (POLLOUT) instead of for input, while the other
 * direction goes on -- a blocking write here could deadlock with a peer
 * that writes back before it reads.  A direction holds a buffer only while
 * it has unsent bytes.
 */
struct direction {
    int *from, *to;                  /* the connection's fds (a reset clears one) */
    char *buf;                       /* unsent bytes [off, len), or NULL */
    uint32_t off, len;
    int pipe[2];                     /* spliced bytes not yet sent (pend), or -1 */
    uint32_t pend;
    uint8_t open;                    /* still relaying */
    uint8_t ready;                   /* `from` may have data: read before waiting */
    uint8_t end;                     /* the peer's FIN or an error was signalled: read
                                        until recv says so, a short read is not the end */
    uint8_t drain;                   /* edges on `from` may have been missed (it was not
                                        watched while output was pending): read to EAGAIN */
    uint8_t bulk;                    /* a read filled the buffer: splice until drained */
    SSL **rtls, **wtls;              /* `from`'s and `to`'s TLS (NULL inside: plaintext) */
    short rwant, wwant;              /* what a TLS read or write that would block waits for */
    uint8_t tls_dry;                 /* the last TLS read ended at EAGAIN */
};

struct tcp_conn {
    struct direction dir[2];         /* client -> backend, backend -> client */
    struct worker *w;
    struct pool_rt *p;
    struct co_timer *idle;
    int cfd, bfd;
    int server;                      /* index of the backend in use, -1 none */
    unsigned server_gen;             /* the pool's server list it indexes */
    const struct server_conf *sc;    /* its server, in the list of configuration
                                        generation sc_gen: held while it is open (a
                                        reload does not free it under the connection) */
    unsigned sc_gen;
    unsigned peer_hash;              /* of the client's address, for balance = hash */
    uint8_t kicked;
    uint8_t out_of_fds;              /* no backend socket: the worker logged it */
    uint8_t copy;                    /* the sockets cannot splice: relay through buffers */
    SSL *ctls, *btls;                /* the client's and the backend's TLS, or NULL */
};

/* FNV-1a over the client's IP address (not its port): a client sticks to a backend. */
/* The server a tcp connection made before a reload used, in the pool's
 * current list (same name and address), or -1. */
static void *tcp_conn_main(void *arg);   /* one client connection, start to end */

static int tcp_server_index(const struct pool_rt *p, const struct server_conf *sc)
{
    for (int i = 0; i < p->conf->nservers; i++)
        if (config_server_same(&p->conf->servers[i], sc))
            return i;
    return -1;
}

static unsigned hash_peer(const struct sockaddr *peer, unsigned len)
{
    const unsigned char *b = (const unsigned char *)peer;
    unsigned h = 2166136261u;
    size_t off = 0, n = 0;

    if (peer->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
        off = offsetof(struct sockaddr_in, sin_addr);
        n = sizeof(struct in_addr);
    } else if (peer->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
        off = offsetof(struct sockaddr_in6, sin6_addr);
        n = sizeof(struct in6_addr);
    }
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[off + i]) * 16777619u;
    return h;
}

/* The connection's state, then its idle timer: both in its coroutine's one allocation. */
#define TCP_CONN_SIZE ((sizeof(struct tcp_conn) + 15) & ~(size_t)15)

int tcp_conn_start(struct worker *w, struct pool_rt *p, int fd, SSL *tls, const struct sockaddr *peer,
                   unsigned peer_len, const struct stCoRoutineAttr_t *attr, struct stCoRoutine_t **co)
{
    struct tcp_conn *c;
    void *mem;

    if (co_create_with(co, attr, tcp_conn_main, TCP_CONN_SIZE + co_timer_size(), &mem) != 0)
        return -1;
    c = mem;   /* zeroed */
    c->w = w;
    c->p = p;
    c->cfd = fd;
    c->ctls = tls;
    c->copy = tls != NULL;   /* TLS bytes are decrypted in user space: no splice */
    c->bfd = -1;
    c->server = -1;
    c->peer_hash = hash_peer(peer, peer_len);
    return 0;
}

/*
 * Passive health, per worker and server.  Connect failures in a row
 * (refused, timed out) take a server out of the balance after
 * server_failure_limit of them, for server_retry_timeout; then one
 * connection tries it again, and a connect that works puts it back.  While
 * every server is out, a client still gets one try (the balance's pick), so
 * that it is closed promptly and a server that came back is found.
 *
 * The log says when a server starts failing, when it is taken out, and when
 * it is back -- never a line per connection: the failures in between are
 * counted, and reported at most once a minute while they go on.
 */
#define TCP_REPORT_MS 60000

enum backend_state {
    BACKEND_UP,
    BACKEND_FAILING,                 /* failed (logged), still in the balance */
    BACKEND_OUT,                     /* out of the balance until retry_at */
};

struct tcp_backend {
    enum backend_state state;
    int fails;                       /* connect failures in a row */
    uint64_t retry_at;               /* ms, while out: when a connection may try it again
                                        (pushed back as one does: one try at a time) */
    uint64_t unlogged;               /* failures since the last line about it */
    uint64_t logged_at;              /* ms of that line */
};

struct tcp_health {
    unsigned gen;                    /* the pool's server_gen it is indexed by */
    const struct server_conf *servers;   /* that list, of configuration generation
                                            conf_gen (held while the table is) */
    unsigned conf_gen;
    int nservers;
    uint64_t unreachable;            /* clients closed with no backend, unlogged */
    uint64_t unreachable_at;         /* ms of the last line about them */
    struct tcp_backend b[];          /* [nservers] */
};

/* p's health table (in worker w) for its current server list: rebuilt
 * after a reload changed the list, each kept server (same name and address)
 * keeping its state.  NULL when out of memory (every server then counts as up). */
static __attribute__((noinline)) struct tcp_health *health_of(struct worker *w, struct pool_rt *p)
{
    const struct pool_conf *pc = p->conf;
    struct tcp_health *h = p->health, *n;

    if (h != NULL && h->gen == p->server_gen)
        return h;
    n = calloc(1, sizeof *n + (size_t)pc->nservers * sizeof n->b[0]);
    if (n == NULL)
        return NULL;
    n->gen = p->server_gen;
    n->servers = pc->servers;
    n->conf_gen = p->conf_gen;
    conf_pins_hold(&w->pins, n->conf_gen);
    n->nservers = pc->nservers;
    for (int i = 0; h != NULL && i < n->nservers; i++)
        for (int j = 0; j < h->nservers; j++)
            if (config_server_same(&n->servers[i], &h->servers[j]))
                n->b[i] = h->b[j];
    if (h != NULL) {
        n->unreachable = h->unreachable;
        n->unreachable_at = h->unreachable_at;
        conf_pins_drop(&w->pins, h->conf_gen);
    }
    free(h);
    p->health = n;
    return n;
}

/* May server s get a connection now?  Not while out, but for the one that
 * tries it again once its retry time has come. */
static int backend_usable(const struct tcp_health *h, int s, uint64_t now)
{
    return h == NULL || h->b[s].state != BACKEND_OUT || now >= h->b[s].retry_at;
}

/* The first backend to try, by the pool's balance, among those usable now
 * (h NULL: all of them); -1 when none is. */
static __attribute__((noinline)) int pick_first(struct tcp_conn *c, const struct tcp_health *h, uint64_t now)
{
    struct pool_rt *p = c->p;
    int n = p->conf->nservers, best = -1, live = 0;

    switch (p->conf->balance) {
    case BALANCE_LEASTCONN:
        /* from the round-robin position: ties go around */
        for (int i = 0; i < n; i++) {
            int s = (int)((p->rr + (unsigned)i) % (unsigned)n);
            if (!backend_usable(h, s, now))
                continue;
            if (best < 0 || p->active[s] * p->conf->servers[best].weight
                                < p->active[best] * p->conf->servers[s].weight)
                best = s;
        }
        p->rr++;
        return best;
    case BALANCE_RANDOM:
        for (int i = 0; i < n; i++)
            live += backend_usable(h, i, now);
        if (live == 0)
            return -1;
        live = rand() % live;
        for (int i = 0; i < n; i++)
            if (backend_usable(h, i, now) && live-- == 0)
                return i;
        return -1;
    case BALANCE_HASH:
        /* a server out passes its clients to the next one: the others stay where they are */
        for (int i = 0; i < n; i++) {
            int s = (int)((c->peer_hash + (unsigned)i) % (unsigned)n);
            if (backend_usable(h, s, now))
                return s;
        }
        return -1;
    default: {
        /* weighted round-robin over the expanded ring of the usable servers' weights */
        unsigned total = 0, k;
        for (int i = 0; i < n; i++)
            if (backend_usable(h, i, now))
                total += (unsigned)p->conf->servers[i].weight;
        if (total == 0)
            return -1;
        k = p->rr++ % total;
        for (int i = 0; i < n; i++) {
            if (!backend_usable(h, i, now))
                continue;
            if (k < (unsigned)p->conf->servers[i].weight)
                return i;
            k -= (unsigned)p->conf->servers[i].weight;
        }
        return -1;
    }
    }
}

/* A connect to server s (of h's list; sc) failed with err: counts it, logs
 * what changed, and takes the server out of the balance at the limit. */
static void backend_failed(struct pool_rt *p, struct tcp_health *h, int s, const struct server_conf *sc, int err)
{
    const struct pool_conf *pc = p->conf;
    const char *why = err == ETIMEDOUT ? "connect timed out" : strerror(err);
    struct tcp_backend *b = &h->b[s];
    uint64_t now = worker_now_ms();

    b->fails++;
    if (b->state == BACKEND_UP) {
        b->state = BACKEND_FAILING;
        b->unlogged = 0;
        b->logged_at = now;
        log_warn("pool %s: backend %s (%s): %s", pc->name, sc->name, sc->addr.text, why);
    } else {
        b->unlogged++;
    }
    if (b->state == BACKEND_FAILING && b->fails >= pc->server_failure_limit) {
        b->state = BACKEND_OUT;
        p->server_stats[s].ejections++;
        p->server_stats[s].ejected = 1;
        log_warn("pool %s: backend %s (%s) out of the balance after %d failed connects in a row; "
                 "tried again every %d ms", pc->name, sc->name, sc->addr.text, b->fails, pc->server_retry_timeout);
    }
    if (b->state == BACKEND_OUT)
        b->retry_at = now + (uint64_t)pc->server_retry_timeout;   /* a failed try keeps it out */
    if (b->unlogged > 0 && now - b->logged_at >= TCP_REPORT_MS) {
        log_warn("pool %s: backend %s (%s) still failing: %llu more failed connect(s) in %llu s (last: %s)",
                 pc->name, sc->name, sc->addr.text, (unsigned long long)b->unlogged,
                 (unsigned long long)(now - b->logged_at) / 1000, why);
        b->unlogged = 0;
        b->logged_at = now;
    }
}

/* A connect to server s (of h's list; sc) worked: back in the balance if it was failing. */
static void backend_ok(struct pool_rt *p, struct tcp_health *h, int s, const struct server_conf *sc)
{
    struct tcp_backend *b = &h->b[s];

    if (b->state != BACKEND_UP)
        log_info("pool %s: backend %s (%s) connects again%s (%llu failed connect(s) since the last line about it)",
                 p->conf->name, sc->name, sc->addr.text, b->state == BACKEND_OUT ? ", back in the balance" : "",
                 (unsigned long long)b->unlogged);
    if (b->state == BACKEND_OUT)
        p->server_stats[s].ejected = 0;
    *b = (struct tcp_backend){ .state = BACKEND_UP };
}

/*
 * Connecting to a backend is split in two around the wait, which
 * tcp_conn_main does itself: so a connect parks the coroutine at the same
 * depth as the relay does, and the inline save area the runtime sizes for
 * its coroutines (the depth they last parked at) fits both.
 */

/* Opens a non-blocking socket to server s of pc (h: its health, or NULL)
 * and starts its connect: the fd, with *status 0 (connected at once),
 * EINPROGRESS or the errno it failed with at once; or -1 (logged;
 * c->out_of_fds when fds ran out). */
static __attribute__((noinline)) int connect_begin(struct tcp_conn *c, const struct pool_conf *pc,
                                                   struct tcp_health *h, int s, int *status)
{
    const struct server_conf *sc = &pc->servers[s];
    int fd = socket(sc->addr.family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

    if (fd < 0) {
        if (errno == EMFILE || errno == ENFILE)
            worker_out_of_fds(c->w, pc->name, "socket for a backend", errno);
        else
            log_error("pool %s: socket for backend %s: %s", pc->name, sc->name, strerror(errno));
        c->out_of_fds = 1;
        return -1;
    }
    c->p->server_stats[s].connecting++;
    if (h != NULL && h->b[s].state == BACKEND_OUT)   /* its one try: others pass it by meanwhile */
        h->b[s].retry_at = worker_now_ms() + (uint64_t)pc->server_retry_timeout;
    /* the list may be replaced while the connect waits, and the connection
     * finds its server again by name as it closes: the entry stays valid */
    if (c->sc != NULL)
        conf_pins_drop(&c->w->pins, c->sc_gen);   /* the last try's */
    c->sc = sc;
    c->sc_gen = c->p->conf_gen;   /* (pc is c->p->conf) */
    conf_pins_hold(&c->w->pins, c->sc_gen);
    *status = connect(fd, &sc->addr.sa, sc->addr.len) == 0 ? 0 : errno;
    return fd;
}

/* The connect on fd to server s ended (status: as connect_begin gave it),
 * or its wait did (revents 0: timed out).  0 with the backend in use, or -1
 * (logged, fd closed).  gen: the pool's server list when it began (a reload
 * may replace it meanwhile: the old list stays valid, but indexes into the
 * pool's arrays only while the generation holds). */
static __attribute__((noinline)) int connect_end(struct tcp_conn *c, const struct pool_conf *pc, int s, unsigned gen,
                                                 int fd, int status, short revents)
{
    const struct server_conf *sc = c->sc;   /* as connect_begin found it: pc's list may be another now */
    struct tcp_health *h;
    int err = status, one = 1, now_s;
    socklen_t len = sizeof err;

    if (c->p->server_gen == gen)
        c->p->server_stats[s].connecting--;
    if (status == EINPROGRESS && revents == 0)
        err = ETIMEDOUT;
    else if (status == EINPROGRESS && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
        err = errno;
    /* the server in the pool's list now (a reload came during the connect: by name), or -1 */
    now_s = c->p->server_gen == gen ? s : tcp_server_index(c->p, sc);
    h = now_s >= 0 ? health_of(c->w, c->p) : NULL;
    if (err == 0) {
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        c->bfd = fd;   /* (it stays non-blocking: the relay never blocks on it) */
        if (now_s >= 0) {
            c->p->active[now_s]++;
            c->p->server_stats[now_s].requests++;
            c->p->server_stats[now_s].connections++;
            if (h != NULL)
                backend_ok(c->p, h, now_s, sc);
        }
        c->server_gen = c->p->server_gen;
        c->server = now_s;
        return 0;
    }
    if (now_s >= 0)
        c->p->server_stats[now_s].failures++;
    if (h != NULL)
        backend_failed(c->p, h, now_s, sc, err);
    else   /* a server a reload removed, or no memory for its health: each failure is news */
        log_warn("pool %s: backend %s (%s): %s", pc->name, sc->name, sc->addr.text,
                 err == ETIMEDOUT ? "connect timed out" : strerror(err));
    close(fd);
    return -1;
}

/* Connects to a backend: the chosen one, then the next ones in the balance,
 * each within connect_timeout; with every one out of the balance, the
 * balance's pick alone. */
static inline __attribute__((always_inline)) int connect_backend(struct tcp_conn *c)
{
    const struct pool_conf *pc = c->p->conf;   /* (a reload changes what it holds, not where) */
    struct tcp_health *h = health_of(c->w, c->p);
    int first = pick_first(c, h, worker_now_ms()), all_out = first < 0;

    if (all_out)
        first = pick_first(c, NULL, 0);
    for (int attempt = 0; attempt < (all_out ? 1 : pc->nservers) && !c->kicked; attempt++) {
        int s = (first + attempt) % pc->nservers, status;
        unsigned gen = c->p->server_gen;
        struct pollfd pfd = { .events = POLLOUT };

        if (attempt > 0 && !backend_usable(h = health_of(c->w, c->p), s, worker_now_ms()))
            continue;   /* (the table is fetched again: the last wait may have seen a reload) */
        pfd.fd = connect_begin(c, pc, h, s, &status);
        if (pfd.fd < 0)
            return -1;
        if (status == EINPROGRESS && co_poll_edge(&pfd, 1, pc->connect_timeout) < 0)
            pfd.revents = 0;
        if (connect_end(c, pc, s, gen, pfd.fd, status, pfd.revents) == 0)
            return 0;
    }
    return -1;
}

/* A client is closed for want of a backend: said the first time, then at
 * most once a minute with a count (never a line per client). */
static __attribute__((noinline)) void unreachable(struct worker *w, struct pool_rt *p)
{
    struct tcp_health *h = health_of(w, p);
    uint64_t now = worker_now_ms();

    if (h == NULL) {
        log_warn("pool %s: no backend reachable, closing the client", p->conf->name);
        return;
    }
    if (h->unreachable_at != 0 && now - h->unreachable_at < TCP_REPORT_MS) {
        h->unreachable++;
        return;
    }
    if (h->unreachable == 0)
        log_warn("pool %s: no backend reachable, closing the client", p->conf->name);
    else
        log_warn("pool %s: no backend reachable, closing the client (and %llu more in %llu s)", p->conf->name,
                 (unsigned long long)h->unreachable, (unsigned long long)(now - h->unreachable_at) / 1000);
    h->unreachable = 0;
    h->unreachable_at = now;
}

static void on_idle(void *arg)
{
    struct tcp_conn *c = arg;

    c->kicked = 1;
    /* the relay may be waiting on either socket: wake it through both */
    shutdown(c->cfd, SHUT_RDWR);
    if (c->bfd >= 0)
        shutdown(c->bfd, SHUT_RDWR);
}

static void touch(struct tcp_conn *c)
{
    if (c->idle)
        co_timer_arm(c->idle, c->p->conf->client_idle_timeout);
}

/* Closes a socket with a reset (RST) rather than a FIN: passes a reset on. */
static void close_reset(int fd)
{
    struct linger lg = { .l_onoff = 1, .l_linger = 0 };

    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(fd);
}

enum { STEP_OK, STEP_OVER };

/* Sends what is pending.  1 if all went out, 0 if `to` is full, -1 on error. */
static int flush_pending(struct tcp_conn *c, struct direction *d)
{
    while (d->pend > 0) {          /* in the pipe: spliced out, never copied */
        ssize_t n = splice(d->pipe[0], NULL, *d->to, NULL, d->pend, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
        if (n > 0) {
            d->pend -= (uint32_t)n;
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return 0;
        return -1;
    }
    while (d->off < d->len) {
        ssize_t n = *d->wtls ? tls_write(*d->wtls, d->buf + d->off, d->len - d->off, &d->wwant)
                             : send(*d->to, d->buf + d->off, d->len - d->off, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n > 0) {
            d->off += (uint32_t)n;
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
            return 0;
        return -1;
    }
    worker_pipe_put(c->w, d->pipe, 1);
    worker_buf_put(c->w, d->buf);
    d->buf = NULL;
    d->off = d->len = 0;
    return 1;
}

/*
 * Reads what `from` has: small messages with recv into a buffer (one copy,
 * and a short read tells that the socket is drained); once a read fills
 * the buffer -- a bulk transfer -- with splice into the direction's pipe,
 * no copy, until the socket runs dry (bench/splice: a quarter of the CPU
 * per GB).  A splice moves whole socket buffers, so its size says nothing
 * about what is left: in bulk mode the direction reads until EAGAIN.
 * Like recv: bytes, 0 at EOF, -1 errno.
 */
/* TLS: a read returns one record (16 KiB at most): the buffer is filled
 * with what the socket has, so that one send passes several on.  Like recv. */
static ssize_t tls_take(struct direction *d)
{
    ssize_t n = 0, got = 0;

    d->tls_dry = 0;
    while (got < WORKER_BUF_SIZE && (n = tls_read(*d->rtls, d->buf + got, WORKER_BUF_SIZE - (size_t)got, &d->rwant)) > 0) {
        got += n;
        if (tls_drained(*d->rtls)) {   /* a short read of the socket: the next data brings an edge */
            d->tls_dry = 1;
            break;
        }
    }
    d->tls_dry |= n < 0 && errno == EAGAIN;
    return got > 0 ? got : n;   /* (an end or an error after data shows at the next read) */
}

static ssize_t take_input(struct tcp_conn *c, struct direction *d)
{
    ssize_t n;

    if (d->bulk && !c->copy && worker_pipe_get(c->w, d->pipe) == 0) {   /* no pipe: copy */
        n = splice(*d->from, NULL, d->pipe[1], NULL, WORKER_PIPE_SIZE, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
        if (n > 0) {
            d->pend = (uint32_t)n;
            return n;
        }
        worker_pipe_put(c->w, d->pipe, 1);
        if (n == 0 || errno != EINVAL)
            return n;
        c->copy = 1;               /* this socket cannot splice: copy from now on */
    }
    if ((d->buf = worker_buf_get(c->w)) == NULL) {
        errno = ENOMEM;
        return -1;
    }
    n = *d->rtls ? tls_take(d) : recv(*d->from, d->buf, WORKER_BUF_SIZE, MSG_DONTWAIT);
    if (n > 0) {
        d->len = (uint32_t)n;
        d->bulk = n == WORKER_BUF_SIZE;
        return n;
    }
    worker_buf_put(c->w, d->buf);
    d->buf = NULL;
    return n;
}

/* Moves what this direction can now.  STEP_OVER when the relay must end. */
/* not inlined: its locals would sit in the parked relay frame of every idle connection */
static __attribute__((noinline)) int direction_step(struct tcp_conn *c, struct direction *d)
{
    ssize_t n;
    int f;

    if (d->pend || d->buf) {
        f = flush_pending(c, d);
        if (f <= 0)
            return f < 0 ? STEP_OVER : STEP_OK;
        d->ready = d->drain = 1;   /* `from` went unwatched meanwhile */
    }
    if (!d->ready || !d->open)
        return STEP_OK;
    n = take_input(c, d);
    if (n > 0) {
        touch(c);
        c->w->activity++;
        if (d == &c->dir[0])   /* client -> backend */
            c->p->stats.bytes_in += (uint64_t)n;
        else
            c->p->stats.bytes_out += (uint64_t)n;
        if (d->buf && n < WORKER_BUF_SIZE && *d->rtls == NULL)
            d->ready = d->end || d->drain;   /* drained: later data brings a new edge */
        else if (*d->rtls != NULL && d->tls_dry)
            d->ready = d->drain = 0;         /* TLS: a short read says nothing, an EAGAIN does */
        return flush_pending(c, d) < 0 ? STEP_OVER : STEP_OK;
    }
    if (n == 0) {
        if (*d->wtls)
            tls_close_notify(*d->wtls);
        shutdown(*d->to, SHUT_WR);   /* a half-close, passed on */
        d->open = 0;
        return STEP_OK;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
        d->ready = d->drain = d->bulk = 0;   /* truly empty: the next edge is ours */
        return STEP_OK;
    }
    if (errno == ECONNRESET) {
        close_reset(*d->to);         /* a reset, passed on */
        *d->to = -1;
    }
    return STEP_OVER;
}

/* Does direction d need to wait, and for what?  0: it can go on now. */
static short direction_wait(const struct direction *d, int *fd)
{
    if (!d->open && d->buf == NULL && d->pend == 0)
        return 0;
    if (d->buf || d->pend) {
        *fd = *d->to;
        return *d->wtls && d->wwant == POLLIN ? POLLIN : POLLOUT;
    }
    if (d->ready)
        return 0;
    *fd = *d->from;
    return *d->rtls && d->rwant == POLLOUT ? POLLOUT : POLLIN | POLLRDHUP;
}

/*
 * Both directions until both are done: an EOF is passed on as a half-close
 * (shutdown SHUT_WR), a reset as a reset, any other error closes both.
 * Waits are edge-triggered: a direction waits only once drained, or full.
 */
static void relay(struct tcp_conn *c)
{
    struct direction *dir = c->dir;   /* in the connection, not in the parked frames */

    /* drain: events before the relay (the connect's wait took the backend's
     * first one, which may carry its FIN) are not known, so read to EAGAIN */
    dir[0] = (struct direction){ .from = &c->cfd, .to = &c->bfd, .open = 1, .ready = 1,
                                 .drain = 1, .pipe = { -1, -1 }, .rtls = &c->ctls, .wtls = &c->btls };
    dir[1] = (struct direction){ .from = &c->bfd, .to = &c->cfd, .open = 1, .ready = 1,
                                 .drain = 1, .pipe = { -1, -1 }, .rtls = &c->btls, .wtls = &c->ctls };

    while ((dir[0].open || dir[0].buf || dir[0].pend || dir[1].open || dir[1].buf || dir[1].pend)
           && !c->kicked) {
        struct pollfd p[2];
        int waiting = 0;

        for (int i = 0; i < 2; i++) {
            p[i].fd = -1;
            p[i].events = direction_wait(&dir[i], &p[i].fd);
            waiting += p[i].events != 0 || (!dir[i].open && !dir[i].buf && !dir[i].pend);
        }
        if (waiting == 2) {
            /* nothing to do in either direction: wait for the next edge (no system call) */
            if (co_poll_edge(p, 2, -1) < 0 && errno != EINTR)
                break;
            if (c->kicked)
                break;
            for (int i = 0; i < 2; i++) {
                if (p[i].revents == 0)
                    continue;
                if (dir[i].buf == NULL && dir[i].pend == 0) {
                    dir[i].ready = 1;
                    dir[i].end |= (p[i].revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
                }
            }
        }
        for (int i = 0; i < 2; i++)
            if ((dir[i].open || dir[i].buf || dir[i].pend) && direction_step(c, &dir[i]) == STEP_OVER)
                goto over;
    }
over:
    for (int i = 0; i < 2; i++) {
        worker_buf_put(c->w, dir[i].buf);
        worker_pipe_put(c->w, dir[i].pipe, dir[i].pend == 0);
    }
}

/* TLS to the backend just connected (server_tls): 0, or -1 (counted;
 * logged at most once a second per worker). */
static __attribute__((noinline)) int backend_tls(struct tcp_conn *c)
{
    static __thread uint64_t logged_at;
    const struct pool_conf *pc = c->p->conf;
    struct server_stats counted = { 0 };
    char host[128], why[320];
    int ok, s;

    c->copy = 1;   /* bytes to it are encrypted in user space: no splice */
    c->btls = tls_new_client(pc->server_tls, c->bfd, addr_host(&c->sc->addr, host, sizeof host), NULL);
    if (c->btls == NULL) {
        log_error("pool %s: out of memory for TLS to backend %s", pc->name, c->sc->name);
        return -1;
    }
    ok = tls_connected(&counted, c->btls, c->bfd, worker_now_ms() + (uint64_t)pc->server_tls->handshake_timeout,
                       why, sizeof why) == 0;
    /* counted now: a reload during the handshake may have replaced the server list */
    if ((s = c->server_gen == c->p->server_gen ? c->server : tcp_server_index(c->p, c->sc)) >= 0) {
        c->p->server_stats[s].tls_handshakes += counted.tls_handshakes;
        c->p->server_stats[s].tls_resumed += counted.tls_resumed;
        c->p->server_stats[s].tls_failures += counted.tls_failures;
    }
    if (ok)
        return 0;
    if (worker_now_ms() - logged_at >= 1000) {
        logged_at = worker_now_ms();
        log_warn("pool %s: backend %s (%s): %s; closing the client", pc->name, c->sc->name, c->sc->addr.text, why);
    }
    return -1;
}

static void *tcp_conn_main(void *arg)
{
    struct tcp_conn *c = arg;
    struct pool_rt *p = c->p;
    struct worker *w = c->w;
    int one = 1;

    co_enable_hook_sys();
    setsockopt(c->cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (p->conf->client_idle_timeout > 0) {
        c->idle = co_timer_init((char *)c + TCP_CONN_SIZE, on_idle, c);
        touch(c);
    }
    if (c->ctls != NULL   /* (a failure is counted and logged there) */
        && tls_accepted(p, c->ctls, c->cfd, worker_now_ms() + (uint64_t)p->conf->tls->handshake_timeout) != 0)
        c->copy = 1;
    else if (connect_backend(c) != 0) {
        if (!c->kicked && !c->out_of_fds)
            unreachable(w, p);
    } else if (p->conf->server_tls == NULL || backend_tls(c) == 0) {
        relay(c);
    }
    if (c->kicked) {
        p->stats.client_kicked++;
        log_debug("pool %s: client idle for %d ms, closed", p->conf->name, p->conf->client_idle_timeout);
    }
    if (c->idle != NULL)
        co_timer_cancel(c->idle);   /* its memory goes with the coroutine's */
    tls_free(c->btls);
    tls_free(c->ctls);
    if (c->bfd >= 0)
        close(c->bfd);
    if (c->cfd >= 0)
        close(c->cfd);
    if (c->server >= 0) {
        /* after a reload, its server is found again by name (or is gone) */
        int s = c->server_gen == p->server_gen ? c->server : tcp_server_index(p, c->sc);
        if (s >= 0) {
            p->active[s]--;
            p->server_stats[s].connections--;
        }
    }
    if (c->sc != NULL)
        conf_pins_drop(&w->pins, c->sc_gen);
    if (p->conf->client_connections > 0)
        __atomic_sub_fetch(&p->shared->clients, 1, __ATOMIC_RELAXED);
    w->conns--;
    p->stats.client_connections--;
    worker_retire(w, co_self());   /* released by the worker once finished, c with it */
    return NULL;
}
