/* SPDX-License-Identifier: Apache-2.0 */
/* test_hooks.c — blocking socket calls in hooked coroutines park only the caller. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include "loop_util.h"

static struct stShareStack_t *share;

/* A coroutine on the shared stacks (each test routine turns its hooks on). */
static void spawn(void *(*fn)(void *), void *arg)
{
    struct stCoRoutineAttr_t attr = { .stack_size = 0, .share_stack = share };
    spawn_on(&attr, fn, arg);
}

/* The kernel's view of an fd's flags, bypassing the fcntl hook. */
static long real_flags(int fd)
{
    return syscall(SYS_fcntl, fd, F_GETFL);
}

/* ---- a megabyte through a socketpair, writer and reader in one thread ---- */

#define BIG (1 << 20)
static int sp[2];
static unsigned char *big_out, *big_in;

static void *big_writer(void *arg)
{
    co_enable_hook_sys();
    /* one blocking write: the socket buffer takes far less, so the hook parks
     * and completes the partial writes */
    CHECK_EQ(write(sp[0], big_out, BIG), BIG);
    active--;
    return NULL;
}

static void *big_reader(void *arg)
{
    size_t got = 0;
    co_enable_hook_sys();
    while (got < BIG) {
        ssize_t n = read(sp[1], big_in + got, BIG - got);
        CHECK(n > 0);
        got += (size_t)n;
    }
    active--;
    return NULL;
}

static void test_socketpair_read_write(void)
{
    struct co_counters before = co_get_counters();

    big_out = malloc(BIG);
    big_in = calloc(1, BIG);
    for (int i = 0; i < BIG; i++)
        big_out[i] = (unsigned char)(i * 7 + (i >> 9));
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
    spawn(big_writer, NULL);
    spawn(big_reader, NULL);
    run_loop();
    CHECK(memcmp(big_out, big_in, BIG) == 0);
    CHECK(co_get_counters().fd_waits > before.fd_waits);   /* it did park */
    CHECK(!(fcntl(sp[0], F_GETFL) & O_NONBLOCK));       /* the program still sees blocking */
    CHECK(real_flags(sp[0]) & O_NONBLOCK);               /* the kernel does not */
    close(sp[0]);
    close(sp[1]);
    free(big_out);
    free(big_in);
}

/* ---- loopback TCP: accept, connect, echo ---- */

static int listen_fd;
static int port;

static int listen_loopback(int backlog)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    CHECK(fd >= 0);
    CHECK_EQ(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    CHECK_EQ(listen(fd, backlog), 0);
    CHECK_EQ(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    port = ntohs(a.sin_port);
    return fd;
}

static int connect_loopback(int to_port)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)to_port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    CHECK(fd >= 0);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

static void *echo_once(void *arg)
{
    char buf[64];
    ssize_t n;
    int c;

    co_enable_hook_sys();
    c = accept(listen_fd, NULL, NULL);
    CHECK(c >= 0);
    while ((n = read(c, buf, sizeof buf)) > 0)
        CHECK_EQ(write(c, buf, (size_t)n), n);
    close(c);
    active--;
    return NULL;
}

static void *tcp_client(void *arg)
{
    char buf[32] = { 0 };
    int fd;

    co_enable_hook_sys();
    fd = connect_loopback(port);
    CHECK(fd >= 0);
    CHECK_EQ(send(fd, "hello, loopback", 15, 0), 15);
    CHECK_EQ(recv(fd, buf, 15, MSG_WAITALL), 15);
    CHECK(memcmp(buf, "hello, loopback", 15) == 0);
    close(fd);
    active--;
    return NULL;
}

static void test_loopback_tcp(void)
{
    listen_fd = listen_loopback(16);
    spawn(echo_once, NULL);     /* parks in accept */
    spawn(tcp_client, NULL);
    run_loop();
    close(listen_fd);
}

/* ---- errors and timeouts ---- */

static int result_errno;
static uint64_t elapsed;

static void *connect_refused(void *arg)
{
    co_enable_hook_sys();
    CHECK_EQ(connect_loopback(port), -1);
    result_errno = errno;
    active--;
    return NULL;
}

static void test_connect_refused(void)
{
    int fd = listen_loopback(1);
    close(fd);                  /* nothing listens on `port` now */
    spawn(connect_refused, NULL);
    run_loop();
    CHECK_EQ(result_errno, ECONNREFUSED);
}

static void *read_with_timeout(void *arg)
{
    struct timeval tv = { .tv_sec = 0, .tv_usec = 60 * 1000 };
    char c;
    uint64_t t0;

    co_enable_hook_sys();
    CHECK_EQ(setsockopt(sp[1], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
    t0 = now_ms();
    CHECK_EQ(read(sp[1], &c, 1), -1);
    result_errno = errno;
    elapsed = now_ms() - t0;
    active--;
    return NULL;
}

static void test_read_timeout_rcvtimeo(void)
{
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
    spawn(read_with_timeout, NULL);
    run_loop();
    CHECK_EQ(result_errno, EAGAIN);
    CHECK(elapsed >= 60);
    close(sp[0]);
    close(sp[1]);
}

static void *connect_with_timeout(void *arg)
{
    struct timeval tv = { .tv_sec = 0, .tv_usec = 80 * 1000 };
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    int fd;
    uint64_t t0;

    co_enable_hook_sys();
    fd = socket(AF_INET, SOCK_STREAM, 0);
    CHECK_EQ(setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv), 0);
    t0 = now_ms();
    CHECK_EQ(connect(fd, (struct sockaddr *)&a, sizeof a), -1);
    result_errno = errno;
    elapsed = now_ms() - t0;
    close(fd);
    active--;
    return NULL;
}

static void test_connect_timeout_sndtimeo(void)
{
    /* A listener with backlog 0 that never accepts: one connection fills its
     * queue, and the kernel drops the next SYN, so that connect hangs. */
    int l = listen_loopback(0);
    int filler = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    struct pollfd p = { .fd = filler, .events = POLLOUT };

    connect(filler, (struct sockaddr *)&a, sizeof a);
    CHECK_EQ(poll(&p, 1, 5000), 1);     /* the filler is established */
    spawn(connect_with_timeout, NULL);
    run_loop();
    CHECK_EQ(result_errno, EINPROGRESS);  /* what a blocking connect says when SO_SNDTIMEO expires */
    CHECK(elapsed >= 80);
    close(filler);
    close(l);
}

/* ---- close() of an fd another coroutine is parked on ---- */

static void *parked_reader(void *arg)
{
    char c;
    co_enable_hook_sys();
    CHECK_EQ(read(sp[1], &c, 1), -1);
    result_errno = errno;
    active--;
    return NULL;
}

static void *closer(void *arg)
{
    co_enable_hook_sys();
    usleep(20 * 1000);
    CHECK_EQ(close(sp[1]), 0);
    active--;
    return NULL;
}

static void test_close_wakes_waiter(void)
{
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
    result_errno = 0;
    spawn(parked_reader, NULL);
    spawn(closer, NULL);
    run_loop();
    CHECK_EQ(result_errno, EBADF);
    close(sp[0]);
}

/* ---- O_NONBLOCK chosen by the program is honoured ---- */

static void *user_nonblocking(void *arg)
{
    char c;
    uint64_t t0;
    struct timeval tv = { .tv_sec = 0, .tv_usec = 30 * 1000 };

    co_enable_hook_sys();
    CHECK_EQ(fcntl(sp[1], F_SETFL, fcntl(sp[1], F_GETFL) | O_NONBLOCK), 0);
    CHECK(fcntl(sp[1], F_GETFL) & O_NONBLOCK);
    t0 = now_ms();
    CHECK_EQ(read(sp[1], &c, 1), -1);          /* at once, no parking */
    CHECK_EQ(errno, EAGAIN);
    CHECK(now_ms() - t0 < 20);
    /* back to blocking: the hook parks again (here until SO_RCVTIMEO) */
    CHECK_EQ(fcntl(sp[1], F_SETFL, fcntl(sp[1], F_GETFL) & ~O_NONBLOCK), 0);
    CHECK(!(fcntl(sp[1], F_GETFL) & O_NONBLOCK));
    CHECK_EQ(setsockopt(sp[1], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
    t0 = now_ms();
    CHECK_EQ(read(sp[1], &c, 1), -1);
    CHECK(now_ms() - t0 >= 30);
    active--;
    return NULL;
}

static void test_user_nonblock(void)
{
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
    spawn(user_nonblocking, NULL);
    run_loop();
    close(sp[0]);
    close(sp[1]);
}

/* ---- hooks off: exactly libc ---- */

static int progress;

static void *counter(void *arg)
{
    co_enable_hook_sys();
    for (int i = 0; i < 100; i++) {
        progress++;
        usleep(1000);
    }
    active--;
    return NULL;
}

static void *unhooked_blocking_read(void *arg)
{
    struct timeval tv = { .tv_sec = 0, .tv_usec = 50 * 1000 };
    int fds[2], before;
    char c;

    /* no co_enable_hook_sys(): a blocking socket stays blocking */
    CHECK(!co_is_enable_sys_hook());
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    CHECK(!(real_flags(fds[1]) & O_NONBLOCK));
    CHECK_EQ(setsockopt(fds[1], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
    before = progress;
    CHECK_EQ(read(fds[1], &c, 1), -1);          /* the kernel's timeout, thread blocked */
    CHECK_EQ(errno, EAGAIN);
    CHECK_EQ(progress, before);                 /* nothing else ran meanwhile */
    close(fds[0]);
    close(fds[1]);
    active--;
    return NULL;
}

static void test_hooks_off_is_libc(void)
{
    spawn(counter, NULL);
    spawn(unhooked_blocking_read, NULL);
    run_loop();
    CHECK_EQ(progress, 100);
}

/* ---- name resolution does not stall the thread ---- */

static int lookup_done;
static int saw_lookup_in_flight;
static int wake[2];

static void *waker_watcher(void *arg)
{
    char c;
    co_enable_hook_sys();
    CHECK_EQ(read(wake[1], &c, 1), 1);         /* woken when the lookups start */
    saw_lookup_in_flight = !lookup_done;
    active--;
    return NULL;
}

static void *resolver(void *arg)
{
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *res, *ai;
    struct hostent *h;
    int loopback = 0;

    co_enable_hook_sys();
    CHECK_EQ(write(wake[0], "!", 1), 1);
    CHECK_EQ(getaddrinfo("localhost", "6379", &hints, &res), 0);
    for (ai = res; ai; ai = ai->ai_next) {
        if (ai->ai_family == AF_INET)
            loopback |= ((struct sockaddr_in *)ai->ai_addr)->sin_addr.s_addr == htonl(INADDR_LOOPBACK);
        if (ai->ai_family == AF_INET6)
            loopback |= IN6_IS_ADDR_LOOPBACK(&((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr);
        if (ai->ai_family == AF_INET)
            CHECK_EQ(ntohs(((struct sockaddr_in *)ai->ai_addr)->sin_port), 6379);
    }
    CHECK(loopback);
    freeaddrinfo(res);
    CHECK_EQ(getaddrinfo("no-such-host.invalid", NULL, &hints, &res) != 0, 1);
    h = gethostbyname("localhost");
    CHECK(h != NULL);
    CHECK(h->h_addr_list[0] != NULL);
    lookup_done = 1;
    active--;
    return NULL;
}

static void test_resolve_does_not_stall(void)
{
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, wake), 0);
    spawn(waker_watcher, NULL);
    spawn(resolver, NULL);
    run_loop();
    CHECK(lookup_done);
    CHECK(saw_lookup_in_flight);   /* the watcher ran while the lookups were in flight */
    close(wake[0]);
    close(wake[1]);
}

/* ---- co_poll_edge: woken by a change after the call, no readiness check ---- */

static int edge_result[3];

static void *edge_waiter(void *arg)
{
    struct pollfd p[2] = { { .fd = sp[1], .events = POLLIN }, { .fd = -1 } };
    char c;
    uint64_t t0;

    co_enable_hook_sys();
    CHECK_EQ(recv(sp[1], &c, 1, MSG_DONTWAIT), -1);     /* EAGAIN: now it may wait */
    t0 = now_ms();
    edge_result[0] = co_poll_edge(p, 2, 40);             /* nothing comes: timeout */
    CHECK(now_ms() - t0 >= 40);
    edge_result[1] = co_poll_edge(p, 2, 5000);           /* the writer's byte */
    CHECK(p[0].revents & POLLIN);
    CHECK_EQ(p[1].revents, 0);
    CHECK_EQ(read(sp[1], &c, 1), 1);
    edge_result[2] = c;
    active--;
    return NULL;
}

static void *edge_writer(void *arg)
{
    co_enable_hook_sys();
    usleep(80 * 1000);
    CHECK_EQ(write(sp[0], "e", 1), 1);
    active--;
    return NULL;
}

static void test_poll_edge(void)
{
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
    spawn(edge_waiter, NULL);
    spawn(edge_writer, NULL);
    run_loop();
    CHECK_EQ(edge_result[0], 0);
    CHECK_EQ(edge_result[1], 1);
    CHECK_EQ(edge_result[2], 'e');
    close(sp[0]);
    close(sp[1]);
}

/* ---- an edge that comes while the coroutine waits elsewhere is not lost ---- */

static int missed_ok;

static void *missed_waiter(void *arg)
{
    struct pollfd p = { .fd = sp[1], .events = POLLIN };
    char c;

    (void)arg;
    co_enable_hook_sys();
    CHECK_EQ(recv(sp[1], &c, 1, MSG_DONTWAIT), -1);   /* EAGAIN: registered, nothing there */
    usleep(50 * 1000);                                /* busy elsewhere while the byte comes */
    CHECK_EQ(co_poll_edge(&p, 1, 2000), 1);           /* answers at once: the edge was kept */
    CHECK(p.revents & POLLIN);
    CHECK_EQ(recv(sp[1], &c, 1, MSG_DONTWAIT), 1);
    CHECK_EQ(c, 'm');
    CHECK_EQ(co_poll_edge(&p, 1, 30), 0);             /* taken: nothing more until a new edge */
    missed_ok = 1;
    active--;
    return NULL;
}

static void *missed_writer(void *arg)
{
    (void)arg;
    co_enable_hook_sys();
    usleep(10 * 1000);
    CHECK_EQ(write(sp[0], "m", 1), 1);
    active--;
    return NULL;
}

static void test_poll_edge_keeps_missed_edges(void)
{
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
    spawn(missed_waiter, NULL);
    spawn(missed_writer, NULL);
    run_loop();
    CHECK(missed_ok);
    close(sp[0]);
    close(sp[1]);
}

/* ---- co_fd_watch: a callback at the next edge, no coroutine ---- */


static int watch_calls;
static short watch_revents;

static void on_watch(int fd, short revents, void *arg)
{
    CHECK_EQ(fd, sp[1]);
    CHECK(arg == &watch_calls);
    watch_calls++;
    watch_revents = revents;
}

static int until_called(void *arg)
{
    (void)arg;
    return watch_calls == 2;
}

static void *watch_writer(void *arg)
{
    (void)arg;
    co_enable_hook_sys();
    usleep(20 * 1000);
    CHECK_EQ(watch_calls, 0);                   /* nothing came yet */
    CHECK_EQ(write(sp[0], "w", 1), 1);
    usleep(20 * 1000);
    CHECK_EQ(watch_calls, 1);                   /* called once, from the loop */
    CHECK(watch_revents & POLLIN);
    CHECK_EQ(write(sp[0], "x", 1), 1);          /* a watch fires once */
    usleep(20 * 1000);
    CHECK_EQ(watch_calls, 1);
    /* again, then closed before any edge: POLLNVAL */
    CHECK_EQ(co_fd_watch(sp[1], POLLIN, on_watch, &watch_calls), 0);
    CHECK_EQ(co_fd_watch(sp[1], POLLIN, on_watch, &watch_calls), -EBUSY);
    co_fd_unwatch(sp[1]);
    CHECK_EQ(write(sp[0], "y", 1), 1);
    usleep(20 * 1000);
    CHECK_EQ(watch_calls, 1);                   /* unwatched: no call */
    active--;
    return NULL;
}

static void test_fd_watch(void)
{
    char buf[8];

    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
    CHECK_EQ(co_fd_watch(sp[1], POLLIN, on_watch, &watch_calls), 0);
    spawn(watch_writer, NULL);
    run_loop();
    CHECK_EQ(watch_calls, 1);
    CHECK_EQ(read(sp[1], buf, sizeof buf), 3);   /* w, x, y all there: nothing consumed them */
    /* x and y came with no wait for them: a new watch answers in the next turn */
    CHECK_EQ(co_fd_watch(sp[1], POLLIN, on_watch, &watch_calls), 0);
    co_eventloop(co_get_epoll_ct(), until_called, NULL);
    CHECK_EQ(watch_calls, 2);
    CHECK(watch_revents & POLLIN);
    /* a watch on an fd that is closed first gets POLLNVAL */
    CHECK_EQ(co_fd_watch(sp[1], POLLIN, on_watch, &watch_calls), 0);
    spawn(closer, NULL);   /* the hooked close wakes the watch */
    run_loop();
    CHECK_EQ(watch_calls, 3);
    CHECK(watch_revents & POLLNVAL);
    close(sp[0]);
    co_trim();   /* and the records of the waits just used go back */
}

/* ---- per-coroutine environment variables ---- */

static void *env_user(void *arg)
{
    const char *mine = arg;
    co_enable_hook_sys();
    CHECK(strcmp(getenv("COSTACK_TEST_VAR"), "process") == 0);   /* a copy of the process's */
    CHECK_EQ(setenv("COSTACK_TEST_VAR", mine, 1), 0);
    usleep(5000);
    CHECK(strcmp(getenv("COSTACK_TEST_VAR"), mine) == 0);         /* its own, after the other set its */
    active--;
    return NULL;
}

static void test_env_list(void)
{
    const char *names[] = { "COSTACK_TEST_VAR" };
    setenv("COSTACK_TEST_VAR", "process", 1);
    co_set_env_list(names, 1);
    spawn(env_user, "one");
    spawn(env_user, "two");
    run_loop();
    CHECK(strcmp(getenv("COSTACK_TEST_VAR"), "process") == 0);   /* main's untouched */
}

int main(void)
{
    share = co_alloc_sharestack(4, 128 * 1024);
    CHECK(share != NULL);
    RUN(test_socketpair_read_write);
    RUN(test_loopback_tcp);
    RUN(test_connect_refused);
    RUN(test_read_timeout_rcvtimeo);
    RUN(test_connect_timeout_sndtimeo);
    RUN(test_close_wakes_waiter);
    RUN(test_user_nonblock);
    RUN(test_hooks_off_is_libc);
    RUN(test_resolve_does_not_stall);
    RUN(test_poll_edge);
    RUN(test_poll_edge_keeps_missed_edges);
    RUN(test_fd_watch);
    RUN(test_env_list);
    CHECK_EQ(co_free_sharestack(share), 0);
    return 0;
}
