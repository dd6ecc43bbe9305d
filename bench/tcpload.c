/* SPDX-License-Identifier: Apache-2.0 */
/* tcpload.c — load for bench/tcp: a discard sink, a bulk sender, a request/response driver. */
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
#include <time.h>
#include <unistd.h>

#include "loopback.h"

/*
 *   tcpload sink                     discard server; prints "listening on 127.0.0.1:PORT"
 *   tcpload bulk -p PORT [-t S]      one connection sending 256 KiB writes for S seconds
 *   tcpload rr -p PORT [-t S] [-c N] [-m SIZE]
 *                                    N connections ping-ponging SIZE-byte messages with an
 *                                    echo server for S seconds
 * bulk and rr print one line: "bytes=... seconds=... gbit_per_s=..." or
 * "round_trips=... seconds=... per_s=...".  Plain epoll, no runtime: the
 * load must cost the same whatever it talks to.
 */

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int dial(int port)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        perror("tcpload: connect");
        exit(1);
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

static int sink(void)
{
    struct epoll_event ev, events[64];
    static char buf[1 << 18];
    int ep = epoll_create1(0), lfd = loopback_listen(ep, 0, "tcpload sink");

    if (lfd < 0)
        return 1;
    for (;;) {
        int n = epoll_wait(ep, events, 64, -1);
        for (int i = 0; i < n; i++) {
            int fd = (int)events[i].data.u64;
            if (events[i].data.ptr == NULL) {   /* the listener */
                int c;
                while ((c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                    ev.events = EPOLLIN;
                    ev.data.u64 = (uint64_t)c;
                    epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev);
                }
                continue;
            }
            ssize_t r;
            while ((r = read(fd, buf, sizeof buf)) > 0)
                ;
            if (r == 0 || (r < 0 && errno != EAGAIN))
                close(fd);
        }
    }
}

static int bulk(int port, int seconds)
{
    static char buf[1 << 18];
    long long bytes = 0;
    int fd = dial(port);
    double t0 = now(), end = t0 + seconds, t;

    memset(buf, 'b', sizeof buf);
    while (now() < end) {
        ssize_t n = write(fd, buf, sizeof buf);
        if (n <= 0) {
            perror("tcpload bulk: write");
            return 1;
        }
        bytes += n;
    }
    t = now() - t0;
    close(fd);
    printf("bytes=%lld seconds=%.3f gbit_per_s=%.2f\n", bytes, t, (double)bytes * 8 / t / 1e9);
    return 0;
}

struct rr_conn {
    int fd;
    int got;
};

static int rr(int port, int seconds, int conns, int size)
{
    struct rr_conn *c = calloc((size_t)conns, sizeof *c);
    char *msg = malloc((size_t)size), *buf = malloc((size_t)size);
    struct epoll_event ev, events[256];
    int ep = epoll_create1(0);
    long long trips = 0;
    double t0, end;

    memset(msg, 'r', (size_t)size);
    for (int i = 0; i < conns; i++) {
        c[i].fd = dial(port);
        fcntl(c[i].fd, F_SETFL, O_NONBLOCK);
        ev.events = EPOLLIN;
        ev.data.ptr = &c[i];
        epoll_ctl(ep, EPOLL_CTL_ADD, c[i].fd, &ev);
    }
    t0 = now();
    end = t0 + seconds;
    for (int i = 0; i < conns; i++)
        if (write(c[i].fd, msg, (size_t)size) != size)
            return 1;
    while (now() < end) {
        int n = epoll_wait(ep, events, 256, 100);
        for (int i = 0; i < n; i++) {
            struct rr_conn *k = events[i].data.ptr;
            ssize_t r = read(k->fd, buf, (size_t)(size - k->got));
            if (r <= 0)
                continue;
            k->got += (int)r;
            if (k->got == size) {
                k->got = 0;
                trips++;
                if (write(k->fd, msg, (size_t)size) != size)
                    return 1;
            }
        }
    }
    double t = now() - t0;
    printf("round_trips=%lld seconds=%.3f per_s=%.0f\n", trips, t, (double)trips / t);
    return 0;
}

int main(int argc, char **argv)
{
    int port = 0, seconds = 5, conns = 50, size = 64, opt;

    if (argc < 2) {
        fprintf(stderr, "usage: tcpload sink | bulk -p PORT [-t S] | rr -p PORT [-t S] [-c N] [-m SIZE]\n");
        return 2;
    }
    optind = 2;
    while ((opt = getopt(argc, argv, "p:t:c:m:")) != -1) {
        switch (opt) {
        case 'p': port = atoi(optarg); break;
        case 't': seconds = atoi(optarg); break;
        case 'c': conns = atoi(optarg); break;
        case 'm': size = atoi(optarg); break;
        default: return 2;
        }
    }
    if (strcmp(argv[1], "sink") == 0)
        return sink();
    if (strcmp(argv[1], "bulk") == 0)
        return bulk(port, seconds);
    if (strcmp(argv[1], "rr") == 0)
        return rr(port, seconds, conns, size);
    fprintf(stderr, "tcpload: unknown mode '%s'\n", argv[1]);
    return 2;
}
