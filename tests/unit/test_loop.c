/* SPDX-License-Identifier: Apache-2.0 */
/* test_loop.c — the event loop: co_poll, condition variables, sleeps, timers. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <time.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include "loop_util.h"

/* Starts fn(arg) as a coroutine on the given attributes. */
static void spawn(void *(*fn)(void *), void *arg, struct stCoRoutineAttr_t *attr)
{
    spawn_on(attr, fn, arg);
}

/* ---- co_poll ---- */

static int pfd[2];
static int poll_result[4];

static void *poll_ready(void *arg)
{
    struct pollfd p = { .fd = pfd[0], .events = POLLIN };
    CHECK(write(pfd[1], "x", 1) == 1);
    poll_result[0] = co_poll(co_get_epoll_ct(), &p, 1, 1000);   /* ready: no wait */
    CHECK(p.revents & POLLIN);
    char c;
    CHECK(read(pfd[0], &c, 1) == 1);
    active--;
    return NULL;
}

static void *poll_timeout(void *arg)
{
    struct pollfd p = { .fd = pfd[0], .events = POLLIN };
    uint64_t t0 = now_ms();
    poll_result[1] = co_poll(co_get_epoll_ct(), &p, 1, 50);      /* not ready: times out */
    CHECK(now_ms() - t0 >= 50);
    CHECK_EQ(p.revents, 0);
    poll_result[2] = co_poll(co_get_epoll_ct(), &p, 1, 0);       /* timeout 0: just looks */
    active--;
    return NULL;
}

static void *poll_forever(void *arg)
{
    struct pollfd p[2] = { { .fd = pfd[0], .events = POLLIN }, { .fd = -1 } };
    poll_result[3] = co_poll(co_get_epoll_ct(), p, 2, -1);       /* woken by the writer */
    CHECK(p[0].revents & POLLIN);
    CHECK_EQ(p[1].revents, 0);
    active--;
    return NULL;
}

static void *late_writer(void *arg)
{
    co_enable_hook_sys();
    usleep(30000);
    CHECK(write(pfd[1], "y", 1) == 1);
    active--;
    return NULL;
}

static void test_co_poll(void)
{
    CHECK_EQ(pipe(pfd), 0);
    spawn(poll_ready, NULL, NULL);
    run_loop();
    CHECK_EQ(poll_result[0], 1);
    spawn(poll_timeout, NULL, NULL);
    run_loop();
    CHECK_EQ(poll_result[1], 0);
    CHECK_EQ(poll_result[2], 0);
    spawn(poll_forever, NULL, NULL);
    spawn(late_writer, NULL, NULL);
    run_loop();
    CHECK_EQ(poll_result[3], 1);
    close(pfd[0]);
    close(pfd[1]);
}

/* POLLOUT, and POLLHUP / POLLRDHUP when the peer goes away. */
static int sk[2];

static void *poll_out_and_hangup(void *arg)
{
    struct pollfd p = { .fd = sk[0], .events = POLLOUT };
    CHECK_EQ(co_poll(co_get_epoll_ct(), &p, 1, 1000), 1);       /* writable at once */
    CHECK(p.revents & POLLOUT);
    p.events = POLLIN | POLLRDHUP;
    CHECK_EQ(co_poll(co_get_epoll_ct(), &p, 1, 5000), 1);       /* the closer runs meanwhile */
    CHECK(p.revents & (POLLHUP | POLLRDHUP));
    active--;
    return NULL;
}

static void *peer_closer(void *arg)
{
    co_enable_hook_sys();
    usleep(20000);
    close(sk[1]);
    active--;
    return NULL;
}

static void test_co_poll_out_and_hangup(void)
{
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sk), 0);
    spawn(poll_out_and_hangup, NULL, NULL);
    spawn(peer_closer, NULL, NULL);
    run_loop();
    close(sk[0]);
}

/* ---- condition variables ---- */

/*
 * A closed fd whose open file lives on (a dup here; a fork or a socket
 * handed to another process in the daemon): the loop must not go on
 * reporting it under its old number, which now names another socket.
 */
static int old_pair[2], new_pair[2], kept_dup;

static void *read_once_on_old(void *arg)
{
    char c;

    co_enable_hook_sys();
    CHECK(read(old_pair[0], &c, 1) == 1);       /* parks: the socket joins the loop's epoll set for good */
    active--;
    return NULL;
}

static void *write_once_to_old(void *arg)
{
    co_enable_hook_sys();
    poll(NULL, 0, 10);
    CHECK(write(old_pair[1], "y", 1) == 1);
    active--;
    return NULL;
}

/* Thread B: a coroutine reads the new socket that took the old number (nothing comes: it times out). */
static int b_done;
static ssize_t b_read = -2;

static void *read_new_in_thread_b(void *arg)
{
    struct timeval tv = { 0, 400 * 1000 };
    char c;

    co_enable_hook_sys();
    setsockopt(new_pair[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    b_read = read(new_pair[0], &c, 1);
    b_done = 1;
    return NULL;
}

static int b_until_done(void *arg)
{
    return b_done;
}

static void *thread_b(void *arg)
{
    struct stCoRoutine_t *co;

    CHECK_EQ(co_create(&co, NULL, read_new_in_thread_b, NULL), 0);
    co_resume(co);
    co_eventloop(co_get_epoll_ct(), b_until_done, NULL);
    co_release(co);
    return NULL;
}

static void *write_to_old_peer(void *arg)
{
    co_enable_hook_sys();
    poll(NULL, 0, 100);
    CHECK(write(old_pair[1], "x", 1) == 1);     /* the old, still open file gets an edge */
    poll(NULL, 0, 300);                          /* this loop turns meanwhile */
    active--;
    return NULL;
}

static void test_closed_fd_whose_file_lives_on_reports_nothing(void)
{
    pthread_t b;
    int n;

    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, old_pair), 0);
    kept_dup = dup(old_pair[0]);
    CHECK(kept_dup >= 0);
    spawn(read_once_on_old, NULL, NULL);
    spawn(write_once_to_old, NULL, NULL);
    run_loop();
    n = old_pair[0];
    CHECK_EQ(close(old_pair[0]), 0);            /* the file lives on in kept_dup */
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, new_pair), 0);
    if (new_pair[0] != n) {                     /* the old number, for the new socket */
        CHECK_EQ(dup2(new_pair[0], n), n);
        close(new_pair[0]);
        new_pair[0] = n;
    }
    /* another thread waits on the new socket; this one's loop must not hand
     * it the old file's edge (co_resume across threads: the process dies) */
    CHECK_EQ(pthread_create(&b, NULL, thread_b, NULL), 0);
    spawn(write_to_old_peer, NULL, NULL);
    run_loop();
    CHECK_EQ(pthread_join(b, NULL), 0);
    CHECK_EQ(b_read, -1);                        /* it timed out: nothing came on its socket */
    close(new_pair[0]);
    close(new_pair[1]);
    close(old_pair[1]);
    close(kept_dup);
}

static struct stCoCond_t *cond;
static char order[16];
static int norder;
static int timed_result[2];

static void *cond_waiter(void *arg)
{
    CHECK_EQ(co_cond_timedwait(cond, -1), 0);
    order[norder++] = (char)(long)arg;
    active--;
    return NULL;
}

static void *cond_timeout(void *arg)
{
    uint64_t t0 = now_ms();
    timed_result[0] = co_cond_timedwait(cond, 40);
    CHECK(now_ms() - t0 >= 40);
    active--;
    return NULL;
}

static void *cond_signalled_in_time(void *arg)
{
    timed_result[1] = co_cond_timedwait(cond, 10000);
    active--;
    return NULL;
}

static void *signaller(void *arg)
{
    co_enable_hook_sys();
    usleep(10000);
    co_cond_signal(cond);      /* first waiter (FIFO) */
    usleep(10000);
    co_cond_broadcast(cond);   /* the rest */
    active--;
    return NULL;
}

static void test_cond(void)
{
    cond = co_cond_alloc();
    CHECK(cond != NULL);
    spawn(cond_waiter, (void *)'a', NULL);
    spawn(cond_waiter, (void *)'b', NULL);
    spawn(cond_waiter, (void *)'c', NULL);
    spawn(signaller, NULL, NULL);
    run_loop();
    CHECK(strcmp(order, "abc") == 0);

    spawn(cond_timeout, NULL, NULL);
    run_loop();
    CHECK_EQ(timed_result[0], -ETIMEDOUT);

    spawn(cond_signalled_in_time, NULL, NULL);
    co_cond_signal(cond);      /* from main: it runs in the next loop turn */
    run_loop();
    CHECK_EQ(timed_result[1], 0);
    CHECK_EQ(co_cond_free(cond), 0);
}

/* ---- sleeps: one coroutine sleeps while others run ---- */

static int ticks;
static uint64_t slept_ms;

static void *long_sleeper(void *arg)
{
    uint64_t t0 = now_ms();
    co_enable_hook_sys();
    sleep(0);
    usleep(150 * 1000);
    slept_ms = now_ms() - t0;
    CHECK(ticks >= 5);          /* the ticker ran meanwhile */
    active--;
    return NULL;
}

static void *ticker(void *arg)
{
    struct timespec ts = { .tv_sec = 0, .tv_nsec = 10 * 1000 * 1000 };
    co_enable_hook_sys();
    for (int i = 0; i < 5; i++) {
        CHECK_EQ(nanosleep(&ts, NULL), 0);
        ticks++;
    }
    active--;
    return NULL;
}

static void test_sleep_while_others_run(void)
{
    struct co_counters before = co_get_counters(), after;
    struct stShareStack_t *share = co_alloc_sharestack(1, 64 * 1024);
    struct stCoRoutineAttr_t attr = { .stack_size = 0, .share_stack = share };

    spawn(long_sleeper, NULL, &attr);
    spawn(ticker, NULL, &attr);
    run_loop();
    CHECK(slept_ms >= 150);
    CHECK_EQ(ticks, 5);
    after = co_get_counters();
    CHECK(after.timers_fired - before.timers_fired >= 6);
    CHECK(after.loop_waits > before.loop_waits);
    CHECK_EQ(co_free_sharestack(share), 0);
}

/* co_timer: fires once at its deadline; pushed back, it fires at the new one; cancelled, never. */
static uint64_t fired_at[3];
static uint64_t timer_t0;

static void record(void *arg)
{
    fired_at[(long)arg] = now_ms() - timer_t0;
    active--;
}

static void test_co_timer(void)
{
    struct co_timer *a = co_timer_new(record, (void *)0);
    struct co_timer *b = co_timer_new(record, (void *)1);
    struct co_timer *c = co_timer_new(record, (void *)2);

    CHECK(a && b && c);
    timer_t0 = now_ms();
    co_timer_arm(a, 30);
    co_timer_arm(b, 30);
    co_timer_arm(b, 120);      /* later: only the deadline changes */
    co_timer_arm(c, 10);
    co_timer_cancel(c);
    active = 2;
    co_eventloop(co_get_epoll_ct(), until_done, NULL);
    CHECK(fired_at[0] >= 30 && fired_at[0] < 1000);
    CHECK(fired_at[1] >= 120 && fired_at[1] < 1100);
    CHECK_EQ(fired_at[2], 0);
    co_timer_free(a);
    co_timer_free(b);
    co_timer_free(c);
}

/* co_timer_init: a timer in the caller's memory fires like any, and a
 * cancelled one leaves nothing behind when that memory goes. */
static void test_co_timer_in_callers_memory(void)
{
    char *mem = malloc(2 * co_timer_size());
    struct co_timer *a, *b;

    CHECK(mem != NULL && co_timer_size() >= sizeof(void *));
    a = co_timer_init(mem, record, (void *)0);
    b = co_timer_init(mem + co_timer_size(), record, (void *)1);
    CHECK(a == (struct co_timer *)(void *)mem && b != NULL);
    fired_at[0] = fired_at[1] = 0;
    timer_t0 = now_ms();
    co_timer_arm(a, 20);
    co_timer_arm(b, 10);
    co_timer_cancel(b);
    active = 1;
    co_eventloop(co_get_epoll_ct(), until_done, NULL);
    CHECK(fired_at[0] >= 20 && fired_at[0] < 1000);
    CHECK_EQ(fired_at[1], 0);
    co_timer_cancel(a);
    free(mem);   /* no co_timer_free: the memory is ours */
}

/* A loop callback ends the loop even when nothing else happens. */
static int calls;
static int three_calls(void *arg)
{
    return ++calls == 3;
}

static void test_loop_callback_runs_when_idle(void)
{
    uint64_t t0 = now_ms();
    co_eventloop(co_get_epoll_ct(), three_calls, NULL);
    CHECK_EQ(calls, 3);
    CHECK(now_ms() - t0 < 5000);
}

int main(void)
{
    RUN(test_co_poll);
    RUN(test_co_poll_out_and_hangup);
    RUN(test_closed_fd_whose_file_lives_on_reports_nothing);
    RUN(test_cond);
    RUN(test_sleep_while_others_run);
    RUN(test_co_timer);
    RUN(test_co_timer_in_callers_memory);
    RUN(test_loop_callback_runs_when_idle);
    return 0;
}
