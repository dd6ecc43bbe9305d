/* SPDX-License-Identifier: Apache-2.0 */
/* echo_epoll.c — the peer for bench/echo: an echo server hand-written on epoll callbacks. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "loopback.h"

/*
 * What an experienced C programmer writes without a runtime: non-blocking
 * sockets registered once, edge-triggered; on readable, read until EAGAIN
 * and write back, keeping what the socket would not take until writable.
 *   echo_epoll [-p PORT]   prints "listening on 127.0.0.1:PORT".
 */

#define BUF_SIZE 16384

struct conn {
    int fd;
    size_t pending, off;     /* bytes read but not yet written back */
    char buf[BUF_SIZE];
};

static int epfd;

static void conn_close(struct conn *c)
{
    close(c->fd);
    free(c);
}

/* Writes what is pending; 0 done, 1 would block, -1 error. */
static int flush_pending(struct conn *c)
{
    while (c->pending > 0) {
        ssize_t n = write(c->fd, c->buf + c->off, c->pending);
        if (n < 0)
            return errno == EAGAIN ? 1 : -1;
        c->off += (size_t)n;
        c->pending -= (size_t)n;
    }
    c->off = 0;
    return 0;
}

static void on_ready(struct conn *c, uint32_t ev)
{
    if (ev & (EPOLLERR | EPOLLHUP)) {
        conn_close(c);
        return;
    }
    for (;;) {
        int f = flush_pending(c);
        ssize_t n;
        if (f < 0) {
            conn_close(c);
            return;
        }
        if (f > 0)
            return;    /* EPOLLOUT (edge) brings us back */
        n = read(c->fd, c->buf, BUF_SIZE);
        if (n == 0 || (n < 0 && errno != EAGAIN)) {
            conn_close(c);
            return;
        }
        if (n < 0)
            return;
        c->pending = (size_t)n;
    }
}

int main(int argc, char **argv)
{
    struct epoll_event events[1024], ev;
    int lfd, one = 1, opt, port = 0;

    while ((opt = getopt(argc, argv, "p:")) != -1)
        if (opt == 'p')
            port = atoi(optarg);
    epfd = epoll_create1(0);
    if ((lfd = loopback_listen(epfd, port, "echo_epoll")) < 0)   /* data.ptr NULL: the listener */
        return 1;
    for (;;) {
        int n = epoll_wait(epfd, events, 1024, -1);
        for (int i = 0; i < n; i++) {
            if (events[i].data.ptr == NULL) {
                int fd;
                while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                    struct conn *c = malloc(sizeof *c);
                    c->fd = fd;
                    c->pending = c->off = 0;
                    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
                    ev.data.ptr = c;
                    epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
                }
                continue;
            }
            on_ready(events[i].data.ptr, events[i].events);
        }
    }
}
