/* SPDX-License-Identifier: Apache-2.0 */
/* echo_server.c — an echo server in plain blocking style: a coroutine per connection, hooks on. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "co_routine.h"

/*
 * The code reads like a thread-per-connection server -- accept(), read(),
 * write() that block -- but every connection is a coroutine on one of a few
 * shared stacks, and the blocking calls park only the coroutine that makes
 * them (co_enable_hook_sys).  One thread, one epoll loop.
 *
 *   echo_server [-p PORT] [-s SHARED_STACKS]
 * prints "listening on 127.0.0.1:PORT" once it accepts connections.
 */

#define BUF_SIZE 16384

static struct stShareStack_t *share;
static struct stCoRoutine_t *finished[1024];   /* released by the loop, between turns */
static int nfinished;

static void *serve(void *arg)
{
    int fd = (int)(long)arg;
    char *buf = malloc(BUF_SIZE);   /* on the heap: a parked connection saves a small stack */
    ssize_t n;

    co_enable_hook_sys();
    while (buf && (n = read(fd, buf, BUF_SIZE)) > 0)
        if (write(fd, buf, (size_t)n) != n)
            break;
    free(buf);
    close(fd);
    while (nfinished == (int)(sizeof finished / sizeof finished[0]))
        usleep(1000);   /* the loop frees slots every turn */
    finished[nfinished++] = co_self();
    return NULL;
}

static void *accept_loop(void *arg)
{
    int lfd = (int)(long)arg;

    co_enable_hook_sys();
    for (;;) {
        struct stCoRoutineAttr_t attr = { .stack_size = 0, .share_stack = share };
        struct stCoRoutine_t *co;
        int one = 1, fd = accept(lfd, NULL, NULL);

        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE) {
                fprintf(stderr, "echo_server: out of file descriptors, pausing accept\n");
                usleep(100 * 1000);
            }
            continue;
        }
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (co_create(&co, &attr, serve, (void *)(long)fd) != 0) {
            close(fd);
            continue;
        }
        co_resume(co);
    }
    return NULL;
}

static int reap(void *arg)
{
    (void)arg;
    while (nfinished > 0)
        co_release(finished[--nfinished]);
    return 0;
}

int main(int argc, char **argv)
{
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof addr;
    struct stCoRoutine_t *acceptor;
    struct rlimit rl;
    int opt, port = 0, stacks = 64, lfd, one = 1;

    while ((opt = getopt(argc, argv, "p:s:")) != -1) {
        if (opt == 'p')
            port = atoi(optarg);
        else if (opt == 's')
            stacks = atoi(optarg);
        else {
            fprintf(stderr, "usage: %s [-p PORT] [-s SHARED_STACKS]\n", argv[0]);
            return 2;
        }
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {   /* one fd per connection */
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    share = co_alloc_sharestack(stacks, 128 * 1024);
    lfd = socket(AF_INET, SOCK_STREAM, 0);
    addr.sin_port = htons((uint16_t)port);
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (share == NULL || lfd < 0 || bind(lfd, (struct sockaddr *)&addr, sizeof addr) != 0
        || listen(lfd, 4096) != 0 || getsockname(lfd, (struct sockaddr *)&addr, &len) != 0) {
        perror("echo_server");
        return 1;
    }
    printf("listening on 127.0.0.1:%d\n", ntohs(addr.sin_port));
    fflush(stdout);
    co_create(&acceptor, NULL, accept_loop, (void *)(long)lfd);
    co_resume(acceptor);
    co_eventloop(co_get_epoll_ct(), reap, NULL);
    return 0;
}
