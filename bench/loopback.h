/* SPDX-License-Identifier: Apache-2.0 */
/* loopback.h — the listener the plain-epoll benchmark peers share. */
#ifndef COSTACK_BENCH_LOOPBACK_H
#define COSTACK_BENCH_LOOPBACK_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>

/*
 * Raises the fd limit to its hard limit, listens on 127.0.0.1:port (0: any
 * free port) without blocking, registers the listener in epfd for EPOLLIN
 * with data.ptr NULL, and prints "listening on 127.0.0.1:PORT" for the
 * driver to read.  The listener's fd, or -1 (perror'd as `who`).
 */
static inline int loopback_listen(int epfd, int port, const char *who)
{
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof addr;
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
    struct rlimit rl;
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0
        || bind(lfd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(lfd, 4096) != 0
        || getsockname(lfd, (struct sockaddr *)&addr, &len) != 0
        || epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &ev) != 0) {
        perror(who);
        return -1;
    }
    printf("listening on 127.0.0.1:%d\n", ntohs(addr.sin_port));
    fflush(stdout);
    return lfd;
}

#endif
