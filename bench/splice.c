/* SPDX-License-Identifier: Apache-2.0 */
/* splice.c — relaying bulk TCP: read/write through a user buffer vs splice(2) through a pipe. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/*
 * What bench/tcp's bulk case does inside the proxy, isolated: a sender
 * thread writes 256 KiB blocks for SECONDS into a loopback connection, the
 * relay (this thread) moves them to a second connection, a sink thread
 * reads them.  Reported: Gbit/s and the relay's CPU-seconds per GB, for a
 * 64 KiB user buffer (what coproxy does) and for splice(2) via a pipe.
 *   splice [SECONDS]
 */

static int seconds = 3;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double thread_cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void tcp_pair(int *a, int *b)
{
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof addr;
    int l = socket(AF_INET, SOCK_STREAM, 0);

    bind(l, (struct sockaddr *)&addr, sizeof addr);
    listen(l, 1);
    getsockname(l, (struct sockaddr *)&addr, &len);
    *a = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(*a, (struct sockaddr *)&addr, sizeof addr) != 0)
        exit(1);
    *b = accept(l, NULL, NULL);
    close(l);
}

static void *sender(void *arg)
{
    static char buf[1 << 18];
    int fd = *(int *)arg;
    double end = now() + seconds;

    while (now() < end)
        if (write(fd, buf, sizeof buf) <= 0)
            break;
    shutdown(fd, SHUT_WR);
    return NULL;
}

static void *sink(void *arg)
{
    static char buf[1 << 18];
    int fd = *(int *)arg;

    while (read(fd, buf, sizeof buf) > 0)
        ;
    return NULL;
}

static void run(int use_splice)
{
    int s_out, r_in, r_out, k_in, p[2];
    pthread_t ts, tk;
    long long bytes = 0;
    char *buf = malloc(64 * 1024);
    double t0, c0;

    tcp_pair(&s_out, &r_in);
    tcp_pair(&r_out, &k_in);
    if (pipe2(p, 0) != 0)
        exit(1);
    fcntl(p[1], F_SETPIPE_SZ, 1 << 20);
    pthread_create(&ts, NULL, sender, &s_out);
    pthread_create(&tk, NULL, sink, &k_in);
    t0 = now();
    c0 = thread_cpu();
    for (;;) {
        ssize_t n;
        if (use_splice) {
            n = splice(r_in, NULL, p[1], NULL, 1 << 20, SPLICE_F_MOVE);
            if (n <= 0)
                break;
            for (ssize_t left = n; left > 0;) {
                ssize_t m = splice(p[0], NULL, r_out, NULL, (size_t)left, SPLICE_F_MOVE);
                if (m <= 0)
                    exit(1);
                left -= m;
            }
        } else {
            n = read(r_in, buf, 64 * 1024);
            if (n <= 0)
                break;
            if (write(r_out, buf, (size_t)n) != n)
                exit(1);
        }
        bytes += n;
    }
    double t = now() - t0, cpu = thread_cpu() - c0;
    shutdown(r_out, SHUT_WR);
    pthread_join(ts, NULL);
    pthread_join(tk, NULL);
    printf("%-28s %6.2f Gbit/s  %6.3f relay CPU-s per GB\n",
           use_splice ? "splice via a pipe" : "read/write, 64 KiB buffer",
           (double)bytes * 8 / t / 1e9, cpu / ((double)bytes / 1e9));
    close(s_out); close(r_in); close(r_out); close(k_in); close(p[0]); close(p[1]);
    free(buf);
}

int main(int argc, char **argv)
{
    if (argc > 1)
        seconds = atoi(argv[1]);
    for (int r = 0; r < 2; r++) {
        run(0);
        run(1);
    }
    return 0;
}
