/* SPDX-License-Identifier: Apache-2.0 */
/* echo_client.c — many blocking-style echo clients at once, as coroutines with hooks on. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "co_routine.h"
#include "costack.h"

/*
 *   echo_client -p PORT [-c CONNECTIONS] [-n MESSAGES] [-m SIZE]
 * opens CONNECTIONS connections (all open at once: each waits until every
 * one is connected), sends MESSAGES messages of SIZE bytes on each, checks
 * that every byte comes back, and prints a summary.  Exit 0 only if every
 * connection verified all of its bytes.
 */

static int port, conns = 100, msgs = 100, size = 64;
static int connected, done, failed, active;
static struct stCoCond_t *all_connected;
static long long bytes;

static void fill(char *buf, int id, int msg)
{
    for (int i = 0; i < size; i++)
        buf[i] = (char)(id * 31 + msg * 7 + i);
}

static void *client(void *arg)
{
    int id = (int)(long)arg, fd, one = 1, ok = 1;
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    char *out = malloc((size_t)size), *in = malloc((size_t)size);

    co_enable_hook_sys();
    fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        fprintf(stderr, "echo_client: connection %d: %s\n", id, strerror(errno));
        ok = 0;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (++connected == conns)
        co_cond_broadcast(all_connected);
    else
        while (connected < conns && co_cond_timedwait(all_connected, 1000) != 0)
            ;
    for (int m = 0; ok && m < msgs; m++) {
        fill(out, id, m);
        if (write(fd, out, (size_t)size) != size) {
            ok = 0;
            break;
        }
        for (int got = 0; got < size;) {
            ssize_t n = read(fd, in + got, (size_t)(size - got));
            if (n <= 0) {
                ok = 0;
                break;
            }
            got += (int)n;
        }
        if (ok && memcmp(in, out, (size_t)size) != 0)
            ok = 0;
        bytes += ok ? 2 * size : 0;
    }
    if (fd >= 0)
        close(fd);
    free(out);
    free(in);
    if (ok)
        done++;
    else
        failed++;
    active--;
    return NULL;
}

static int finished(void *arg)
{
    (void)arg;
    return active == 0;
}

int main(int argc, char **argv)
{
    struct stShareStack_t *share;
    struct stCoRoutine_t **cos;
    struct timespec t0, t1;
    struct rlimit rl;
    int opt;

    while ((opt = getopt(argc, argv, "p:c:n:m:")) != -1) {
        switch (opt) {
        case 'p': port = atoi(optarg); break;
        case 'c': conns = atoi(optarg); break;
        case 'n': msgs = atoi(optarg); break;
        case 'm': size = atoi(optarg); break;
        default:
            fprintf(stderr, "usage: %s -p PORT [-c CONNECTIONS] [-n MESSAGES] [-m SIZE]\n", argv[0]);
            return 2;
        }
    }
    if (port <= 0 || conns <= 0 || msgs < 0 || size <= 0) {
        fprintf(stderr, "echo_client: -p PORT is required; counts must be positive\n");
        return 2;
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    share = co_alloc_sharestack(64, 128 * 1024);
    all_connected = co_cond_alloc();
    cos = calloc((size_t)conns, sizeof *cos);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < conns; i++) {
        struct stCoRoutineAttr_t attr = { .stack_size = 0, .share_stack = share };
        co_create(&cos[i], &attr, client, (void *)(long)i);
        active++;
        co_resume(cos[i]);
    }
    co_eventloop(co_get_epoll_ct(), finished, NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
    printf("%d connections verified, %d failed; %lld bytes echoed in %.2f s\n", done, failed, bytes, secs);
    for (int i = 0; i < conns; i++)
        co_release(cos[i]);
    free(cos);
    co_cond_free(all_connected);
    co_free_sharestack(share);
    return failed == 0 && done == conns ? 0 : 1;
}
