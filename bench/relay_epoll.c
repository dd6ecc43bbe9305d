/* SPDX-License-Identifier: Apache-2.0 */
/* relay_epoll.c — the floor for bench/tcp: a tcp relay hand-written on epoll callbacks. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "loopback.h"

/*
 * The least a user-space relay can do per message, to measure a proxy
 * against: sockets registered once, edge-triggered; on readable, one read
 * (a short read means the socket is empty: more data raises a new edge)
 * and one write to the other side, keeping what it would not take until
 * that side is writable.  No timeouts, no balancing, no statistics, a
 * blocking connect: a benchmark peer, not a proxy.
 *   relay_epoll -b BACKEND_PORT [-p PORT]   prints "listening on 127.0.0.1:PORT".
 */

#define BUF_SIZE 16384

struct side {
    int fd;
    struct side *peer;
    size_t pending, off;     /* bytes read from this side, not yet written to the peer */
    char buf[BUF_SIZE];
};

static struct side *closed[1024];   /* pairs closed in this batch of events */
static int nclosed;

/* Closes both sides; freed after the batch, which may still name the other side. */
static void pair_close(struct side *s)
{
    struct side *p = s->peer;

    close(s->fd);
    close(p->fd);
    s->fd = p->fd = -1;
    closed[nclosed++] = s < p ? s : p;     /* both sides are one allocation */
}

/* Writes s's pending bytes to its peer: 0 done, 1 would block, -1 error. */
static int flush(struct side *s)
{
    while (s->pending > 0) {
        ssize_t n = write(s->peer->fd, s->buf + s->off, s->pending);
        if (n < 0)
            return errno == EAGAIN ? 1 : -1;
        s->off += (size_t)n;
        s->pending -= (size_t)n;
    }
    s->off = 0;
    return 0;
}

/* Moves what s has to read over to its peer; -1 when the pair is done. */
static int relay(struct side *s)
{
    for (;;) {
        int f = flush(s);
        ssize_t n;
        if (f != 0)
            return f;
        n = read(s->fd, s->buf, BUF_SIZE);
        if (n == 0 || (n < 0 && errno != EAGAIN))
            return -1;
        if (n < 0)
            return 0;
        s->pending = (size_t)n;
        if (n < BUF_SIZE)
            return flush(s) < 0 ? -1 : 0;
    }
}

static void on_ready(struct side *s, uint32_t ev)
{
    if (s->fd < 0)
        return;
    if ((ev & EPOLLERR) || ((ev & EPOLLIN) && relay(s) < 0)
        || ((ev & EPOLLOUT) && s->peer->pending > 0 && relay(s->peer) < 0))
        pair_close(s);
}

static int dial(int port)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0)
        return fd;
    if (fd >= 0)
        close(fd);
    return -1;
}

static void watch(int epfd, struct side *s)
{
    struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLET, .data.ptr = s };
    int one = 1;

    setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    epoll_ctl(epfd, EPOLL_CTL_ADD, s->fd, &ev);
}

int main(int argc, char **argv)
{
    struct epoll_event events[1024];
    int lfd, epfd, opt, port = 0, backend = 0;

    while ((opt = getopt(argc, argv, "p:b:")) != -1) {
        if (opt == 'p')
            port = atoi(optarg);
        else if (opt == 'b')
            backend = atoi(optarg);
    }
    if (backend <= 0) {
        fprintf(stderr, "usage: relay_epoll -b BACKEND_PORT [-p PORT]\n");
        return 2;
    }
    epfd = epoll_create1(0);
    if ((lfd = loopback_listen(epfd, port, "relay_epoll")) < 0)   /* data.ptr NULL: the listener */
        return 1;
    for (;;) {
        int n = epoll_wait(epfd, events, 1024, -1);
        for (int i = 0; i < n; i++) {
            struct side *pair;
            int fd, bfd;
            if (events[i].data.ptr != NULL) {
                on_ready(events[i].data.ptr, events[i].events);
                continue;
            }
            while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                if ((bfd = dial(backend)) < 0 || (pair = calloc(2, sizeof *pair)) == NULL) {
                    close(fd);
                    if (bfd >= 0)
                        close(bfd);
                    continue;
                }
                if (fcntl(bfd, F_SETFL, O_NONBLOCK) != 0)
                    perror("relay_epoll: fcntl");
                pair[0].fd = fd;
                pair[1].fd = bfd;
                pair[0].peer = &pair[1];
                pair[1].peer = &pair[0];
                watch(epfd, &pair[0]);
                watch(epfd, &pair[1]);
            }
        }
        while (nclosed > 0)
            free(closed[--nclosed]);
    }
}
