/* SPDX-License-Identifier: Apache-2.0 */
/* echo.c — CPU per message: the coroutine echo server (examples/) vs a hand-written epoll one. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/*
 *   echo [-c CONNECTIONS] [-m SIZE] [-t SECONDS] [-r ROUNDS] CORO_SERVER EPOLL_SERVER
 * Starts each server in turn (a child process on an ephemeral loopback
 * port), drives it with the same load -- CONNECTIONS ping-pong connections,
 * each sending SIZE-byte messages and waiting for the echo -- for SECONDS,
 * then stops it and reads its CPU time (user + system) from wait4.  The
 * servers alternate for ROUNDS rounds; the best round of each is reported.
 * The load generator is a plain epoll client, the same for both.
 */

static int conns = 50, size = 64, seconds = 3, rounds = 3;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static pid_t start_server(const char *path, int *port)
{
    int out[2];
    char line[128] = { 0 };
    ssize_t n, got = 0;
    pid_t pid;

    if (pipe(out) != 0)
        exit(1);
    pid = fork();
    if (pid == 0) {
        dup2(out[1], STDOUT_FILENO);
        close(out[0]);
        execl(path, path, "-p", "0", (char *)NULL);
        perror(path);
        _exit(127);
    }
    close(out[1]);
    while (got < (ssize_t)sizeof line - 1 && (n = read(out[0], line + got, sizeof line - 1 - (size_t)got)) > 0) {
        got += n;
        if (strchr(line, '\n'))
            break;
    }
    close(out[0]);
    if (sscanf(line, "listening on 127.0.0.1:%d", port) != 1) {
        fprintf(stderr, "echo: %s did not start (%s)\n", path, line);
        exit(1);
    }
    return pid;
}

struct client {
    int fd;
    size_t sent, got;
};

/* Ping-pong over conns connections for `seconds`; returns messages echoed. */
static long drive(int port)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    struct client *cl = calloc((size_t)conns, sizeof *cl);
    char *msg = malloc((size_t)size), *buf = malloc((size_t)size);
    struct epoll_event ev, events[256];
    int epfd = epoll_create1(0), one = 1;
    long messages = 0;
    double end;

    memset(msg, 'x', (size_t)size);
    for (int i = 0; i < conns; i++) {
        cl[i].fd = socket(AF_INET, SOCK_STREAM, 0);
        if (connect(cl[i].fd, (struct sockaddr *)&a, sizeof a) != 0) {
            perror("echo: connect");
            exit(1);
        }
        setsockopt(cl[i].fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        fcntl(cl[i].fd, F_SETFL, O_NONBLOCK);
        ev.events = EPOLLIN;
        ev.data.ptr = &cl[i];
        epoll_ctl(epfd, EPOLL_CTL_ADD, cl[i].fd, &ev);
        if (write(cl[i].fd, msg, (size_t)size) != size)
            exit(1);
    }
    end = now() + seconds;
    while (now() < end) {
        int n = epoll_wait(epfd, events, 256, 100);
        for (int i = 0; i < n; i++) {
            struct client *c = events[i].data.ptr;
            ssize_t r = read(c->fd, buf, (size_t)size - c->got);
            if (r <= 0)
                continue;
            c->got += (size_t)r;
            if (c->got == (size_t)size) {
                c->got = 0;
                messages++;
                if (write(c->fd, msg, (size_t)size) != size)
                    exit(1);
            }
        }
    }
    for (int i = 0; i < conns; i++)
        close(cl[i].fd);
    close(epfd);
    free(cl);
    free(msg);
    free(buf);
    return messages;
}

struct result {
    double msgs_per_s;
    double cpu_s_per_million;
};

static struct result run_one(const char *server)
{
    struct rusage ru;
    struct result r;
    int port, status;
    pid_t pid = start_server(server, &port);
    long msgs = drive(port);

    kill(pid, SIGTERM);
    if (wait4(pid, &status, 0, &ru) != pid)
        exit(1);
    double cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6
               + (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
    r.msgs_per_s = (double)msgs / seconds;
    r.cpu_s_per_million = msgs ? cpu / ((double)msgs / 1e6) : 0;
    return r;
}

int main(int argc, char **argv)
{
    struct result best[2] = { { 0, 1e9 }, { 0, 1e9 } };
    const char *names[2] = { "coroutine echo server (examples/echo_server)",
                             "hand-written epoll echo server (bench/echo_epoll)" };
    int opt;

    while ((opt = getopt(argc, argv, "c:m:t:r:")) != -1) {
        switch (opt) {
        case 'c': conns = atoi(optarg); break;
        case 'm': size = atoi(optarg); break;
        case 't': seconds = atoi(optarg); break;
        case 'r': rounds = atoi(optarg); break;
        default: goto usage;
        }
    }
    if (argc - optind != 2) {
usage:
        fprintf(stderr, "usage: %s [-c CONNS] [-m SIZE] [-t SECONDS] [-r ROUNDS] CORO_SERVER EPOLL_SERVER\n", argv[0]);
        return 2;
    }
    for (int round = 0; round < rounds; round++) {
        for (int s = 0; s < 2; s++) {
            struct result r = run_one(argv[optind + s]);
            printf("round %d  %-50s %10.0f msg/s  %6.3f CPU-s per million messages\n",
                   round + 1, names[s], r.msgs_per_s, r.cpu_s_per_million);
            if (r.cpu_s_per_million < best[s].cpu_s_per_million)
                best[s] = r;
        }
    }
    printf("best: coroutine %.3f, epoll %.3f CPU-s per million messages: coroutine/epoll = %.3f\n",
           best[0].cpu_s_per_million, best[1].cpu_s_per_million,
           best[0].cpu_s_per_million / best[1].cpu_s_per_million);
    return 0;
}
