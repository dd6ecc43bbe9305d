/* tcp.c — tcp mode: one coroutine per client, a backend per client, bytes relayed both ways. */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "costack.h"
#include "log.h"
#include "worker.h"

/*
 * Written as blocking code -- connect(), poll(), write() -- running in a
 * coroutine with hooks on, so each call parks only this connection.  The
 * connection holds no buffer while it waits: a relay buffer is taken from
 * the worker for one read and its write, then given back.  The idle
 * deadline is a timer re-armed on traffic (a store when pushed back); when
 * it fires it shuts the client socket down, which wakes the relay.
 */

struct tcp_conn {
    struct worker *w;
    struct pool_rt *p;
    int cfd, bfd;
    int server;                      /* index of the backend in use, -1 none */
    int kicked;
    struct co_timer *idle;
    struct sockaddr_storage peer;
    unsigned peer_len;
};

struct tcp_conn *tcp_conn_new(struct worker *w, struct pool_rt *p, int fd,
                              const struct sockaddr *peer, unsigned peer_len)
{
    struct tcp_conn *c = calloc(1, sizeof *c);

    if (c == NULL)
        return NULL;
    c->w = w;
    c->p = p;
    c->cfd = fd;
    c->bfd = -1;
    c->server = -1;
    if (peer_len <= sizeof c->peer) {
        memcpy(&c->peer, peer, peer_len);
        c->peer_len = peer_len;
    }
    return c;
}

static unsigned hash_peer(const struct tcp_conn *c)
{
    const unsigned char *b = (const unsigned char *)&c->peer;
    unsigned h = 2166136261u;
    size_t off = 0, len = 0;

    if (c->peer.ss_family == AF_INET) {
        off = offsetof(struct sockaddr_in, sin_addr);
        len = sizeof(struct in_addr);
    } else if (c->peer.ss_family == AF_INET6) {
        off = offsetof(struct sockaddr_in6, sin6_addr);
        len = sizeof(struct in6_addr);
    }
    for (size_t i = 0; i < len; i++)
        h = (h ^ b[off + i]) * 16777619u;   /* FNV-1a over the client's address */
    return h;
}

/* The first backend to try, by the pool's balance. */
static int pick_first(struct tcp_conn *c)
{
    struct pool_rt *p = c->p;
    int n = p->conf->nservers, best = 0;

    switch (p->conf->balance) {
    case BALANCE_LEASTCONN:
        for (int i = 1; i < n; i++) {
            int s = (int)((p->rr + (unsigned)i) % (unsigned)n);
            if (p->active[s] * p->conf->servers[best].weight < p->active[best] * p->conf->servers[s].weight)
                best = s;
        }
        p->rr++;
        return best;
    case BALANCE_RANDOM:
        return rand() % n;
    case BALANCE_HASH:
        return (int)(hash_peer(c) % (unsigned)n);
    default: {
        /* weighted round-robin over the expanded ring of weights */
        unsigned total = 0, k;
        for (int i = 0; i < n; i++)
            total += (unsigned)p->conf->servers[i].weight;
        k = p->rr++ % total;
        for (int i = 0; i < n; i++) {
            if (k < (unsigned)p->conf->servers[i].weight)
                return i;
            k -= (unsigned)p->conf->servers[i].weight;
        }
        return 0;
    }
    }
}

/* Connects to a backend: the chosen one, then the next ones, each within connect_timeout. */
static int connect_backend(struct tcp_conn *c)
{
    struct pool_conf *pc = c->p->conf;
    int first = pick_first(c);
    struct timeval tv = { .tv_sec = pc->connect_timeout / 1000,
                          .tv_usec = (pc->connect_timeout % 1000) * 1000 };

    for (int attempt = 0; attempt < pc->nservers && !c->kicked; attempt++) {
        int s = (first + attempt) % pc->nservers, one = 1;
        struct server_conf *sc = &pc->servers[s];
        int fd = socket(sc->addr.family, SOCK_STREAM | SOCK_CLOEXEC, 0);

        if (fd < 0) {
            log_error("pool %s: socket for backend %s: %s", pc->name, sc->name, strerror(errno));
            return -1;
        }
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        if (connect(fd, &sc->addr.sa, sc->addr.len) == 0) {
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            c->bfd = fd;
            c->server = s;
            c->p->active[s]++;
            return 0;
        }
        c->p->backend_errors++;
        log_warn("pool %s: backend %s (%s): %s", pc->name, sc->name, sc->addr.text,
                 errno == EINPROGRESS ? "connect timed out" : strerror(errno));
        close(fd);
    }
    return -1;
}

static void on_idle(void *arg)
{
    struct tcp_conn *c = arg;

    c->kicked = 1;
    shutdown(c->cfd, SHUT_RDWR);   /* the relay wakes and sees `kicked` */
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

enum { RELAY_MORE, RELAY_DRAINED, RELAY_EOF, RELAY_RESET, RELAY_FAILED };

/*
 * Moves what `from` has now to `to`.  RELAY_MORE: moved a full buffer, there
 * may be more; RELAY_DRAINED: moved less than a buffer, or nothing -- `from`
 * is drained, and with edge-triggered waits any later data wakes us.
 */
static int relay_once(struct tcp_conn *c, int from, int to)
{
    char *buf = worker_buf_get(c->w);
    ssize_t n;
    int r = RELAY_MORE;

    if (buf == NULL)
        return RELAY_FAILED;
    n = recv(from, buf, WORKER_BUF_SIZE, MSG_DONTWAIT);
    if (n > 0) {
        touch(c);
        if (write(to, buf, (size_t)n) != n)   /* parks until all is written */
            r = RELAY_FAILED;
        else if (n < WORKER_BUF_SIZE)
            r = RELAY_DRAINED;
    } else if (n == 0) {
        r = RELAY_EOF;
    } else if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
        r = RELAY_DRAINED;
    } else {
        r = errno == ECONNRESET ? RELAY_RESET : RELAY_FAILED;
    }
    worker_buf_put(c->w, buf);
    return r;
}

/*
 * Both directions until both are done: an EOF is passed on as a half-close
 * (shutdown SHUT_WR), a reset as a reset, any other error closes both.
 */
static void relay(struct tcp_conn *c)
{
    int up = 1, down = 1;               /* client->backend, backend->client still open */
    int up_ready = 1, down_ready = 1;   /* may have data: read before waiting */
    int up_end = 0, down_end = 0;       /* the peer's FIN (or an error) was signalled:
                                           read until recv says so, a short read is not the end */

    while ((up || down) && !c->kicked) {
        int r;

        if ((!up || !up_ready) && (!down || !down_ready)) {
            /* both drained: wait for the next edge on either (no system call) */
            struct pollfd p[2] = { { .fd = up ? c->cfd : -1, .events = POLLIN | POLLRDHUP },
                                   { .fd = down ? c->bfd : -1, .events = POLLIN | POLLRDHUP } };
            if (co_poll_edge(p, 2, -1) < 0 && errno != EINTR)
                break;
            if (c->kicked)
                break;
            up_ready = p[0].revents != 0;
            down_ready = p[1].revents != 0;
            up_end |= (p[0].revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
            down_end |= (p[1].revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
        }
        if (up && up_ready) {
            r = relay_once(c, c->cfd, c->bfd);
            if (r == RELAY_DRAINED) {
                up_ready = up_end;
            } else if (r == RELAY_EOF) {
                shutdown(c->bfd, SHUT_WR);
                up = 0;
            } else if (r == RELAY_RESET) {
                close_reset(c->bfd);
                c->bfd = -1;
                return;
            } else if (r == RELAY_FAILED) {
                return;
            }
        }
        if (down && down_ready) {
            r = relay_once(c, c->bfd, c->cfd);
            if (r == RELAY_DRAINED) {
                down_ready = down_end;
            } else if (r == RELAY_EOF) {
                shutdown(c->cfd, SHUT_WR);
                down = 0;
            } else if (r == RELAY_RESET) {
                close_reset(c->cfd);
                c->cfd = -1;
                return;
            } else if (r == RELAY_FAILED) {
                return;
            }
        }
    }
}

void *tcp_conn_main(void *arg)
{
    struct tcp_conn *c = arg;
    struct pool_rt *p = c->p;
    struct worker *w = c->w;
    int one = 1;

    co_enable_hook_sys();
    setsockopt(c->cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (p->conf->client_idle_timeout > 0) {
        c->idle = co_timer_new(on_idle, c);
        touch(c);
    }
    if (connect_backend(c) != 0) {
        if (!c->kicked)
            log_warn("pool %s: no backend reachable, closing the client", p->conf->name);
    } else {
        relay(c);
    }
    if (c->kicked) {
        p->kicked++;
        log_debug("pool %s: client idle for %d ms, closed", p->conf->name, p->conf->client_idle_timeout);
    }
    co_timer_free(c->idle);
    if (c->bfd >= 0)
        close(c->bfd);
    if (c->cfd >= 0)
        close(c->cfd);
    if (c->server >= 0)
        p->active[c->server]--;
    if (p->conf->client_connections > 0)
        __atomic_sub_fetch(&p->shared->clients, 1, __ATOMIC_RELAXED);
    w->conns--;
    free(c);
    worker_retire(w, co_self());   /* released by the worker once finished */
    return NULL;
}
