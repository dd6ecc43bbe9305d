/* SPDX-License-Identifier: Apache-2.0 */
/* co_epoll.c — the per-thread event loop: epoll, the timing wheel, waits, co_poll. */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "co_io.h"

/* libc's poll, not the hook: co_poll's readiness checks are non-blocking. */
extern int co_real_poll(struct pollfd *fds, nfds_t n, int timeout) CO_HIDDEN;

#define WAIT_CHUNK 64

struct wait_chunk {
    struct wait_chunk *next;
    struct co_wait w[WAIT_CHUNK];
};

uint64_t co_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

struct stCoEpoll_t *co_loop_get(struct co_env *env)
{
    struct stCoEpoll_t *loop = env->loop;

    if (CO_LIKELY(loop != NULL))
        return loop;
    loop = calloc(1, sizeof *loop);
    if (loop == NULL)
        return NULL;
    loop->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (loop->epfd < 0) {
        free(loop);
        return NULL;
    }
    loop->env = env;
    loop->ready_tail = &loop->ready_head;
    tw_init(&loop->wheel, co_now_ms());
    env->loop = loop;
    return loop;
}

/* Frees the loop of a thread that is exiting (from env_destroy). */
void co_loop_free(struct co_env *env)
{
    struct stCoEpoll_t *loop = env->loop;
    struct wait_chunk *c;

    if (loop == NULL)
        return;
    co_fd_loop_gone(loop);   /* a later close of one of its fds must not reach into it */
    while ((c = (struct wait_chunk *)loop->wait_chunks) != NULL) {
        loop->wait_chunks = (struct co_wait *)c->next;
        free(c);
    }
    close(loop->epfd);
    free(loop);
    env->loop = NULL;
}

struct stCoEpoll_t *co_get_epoll_ct(void)
{
    struct co_env *env = co_env_get();

    return env ? co_loop_get(env) : NULL;
}

struct co_wait *co_wait_get(struct stCoEpoll_t *loop)
{
    struct co_wait *w = loop->free_waits;

    if (CO_UNLIKELY(w == NULL)) {
        struct wait_chunk *c = malloc(sizeof *c);
        if (c == NULL)
            return NULL;
        c->next = (struct wait_chunk *)loop->wait_chunks;
        loop->wait_chunks = (struct co_wait *)c;
        for (int i = WAIT_CHUNK - 1; i >= 0; i--) {
            c->w[i].pooled = 1;
            c->w[i].next = loop->free_waits;
            loop->free_waits = &c->w[i];
        }
        w = loop->free_waits;
    }
    loop->free_waits = w->next;
    memset(w, 0, sizeof *w);
    w->fd = -1;
    return w;
}

void co_wait_put(struct stCoEpoll_t *loop, struct co_wait *w)
{
    co_wait_unlink(loop, w);
    w->pooled = 1;
    w->next = loop->free_waits;
    loop->free_waits = w;
}

void co_trim(void)
{
    struct co_env *env = co_env_get();
    struct stCoEpoll_t *loop = env ? env->loop : NULL;
    struct wait_chunk *c, *keep = NULL;

    if (env == NULL)
        return;
    co_stack_cache_drain(env);
    if (loop == NULL)
        return;
    /* chunks whose waits are all free go; the free list is rebuilt from the rest */
    loop->free_waits = NULL;
    while ((c = (struct wait_chunk *)loop->wait_chunks) != NULL) {
        int used = 0;
        loop->wait_chunks = (struct co_wait *)c->next;
        for (int i = 0; i < WAIT_CHUNK; i++)
            used += !c->w[i].pooled;
        if (used == 0) {
            free(c);
            continue;
        }
        for (int i = 0; i < WAIT_CHUNK; i++) {
            if (c->w[i].pooled) {
                c->w[i].next = loop->free_waits;
                loop->free_waits = &c->w[i];
            }
        }
        c->next = keep;
        keep = c;
    }
    loop->wait_chunks = (struct co_wait *)keep;
}

/* Takes w off its fd or condition list and disarms its timer. */
void co_wait_unlink(struct stCoEpoll_t *loop, struct co_wait *w)
{
    if (w->pprev) {
        if (w->cond && w->cond->tail == &w->next)
            w->cond->tail = w->pprev;
        *w->pprev = w->next;
        if (w->next)
            w->next->pprev = w->pprev;
        w->pprev = NULL;
        w->next = NULL;
    }
    tw_cancel(&loop->wheel, &w->timer);
}

/*
 * Queues w's coroutine to run in this loop turn (once, however often it is
 * woken).  An fd wait stays on its fd's list until its coroutine takes it
 * back: more events may come for it before the coroutine runs, and
 * co_poll_edge reads their revents from every wait of the group.
 */
void co_wait_wake(struct stCoEpoll_t *loop, struct co_wait *w)
{
    if (w->leader)
        w = w->leader;
    if (w->queued)
        return;
    if (w->cond)
        co_wait_unlink(loop, w);   /* a signal takes it off the condition */
    else
        tw_cancel(&loop->wheel, &w->timer);
    w->queued = 1;
    w->ready_next = NULL;
    *loop->ready_tail = w;
    loop->ready_tail = &w->ready_next;
}

#define TIMER_TAG_USER 1   /* a co_timer; 0: a wait's deadline */

struct co_timer {
    struct tw_timer t;
    struct stCoEpoll_t *loop;
    void (*fn)(void *);
    void *arg;
};

static void on_timer(struct tw_timer *t, void *arg)
{
    if (t->tag == TIMER_TAG_USER) {
        struct co_timer *ct = (struct co_timer *)t;
        ct->fn(ct->arg);
        return;
    }
    struct co_wait *w = (struct co_wait *)((char *)t - offsetof(struct co_wait, timer));
    w->timed_out = 1;
    co_wait_wake(arg, w);
}

size_t co_timer_size(void)
{
    return sizeof(struct co_timer);
}

struct co_timer *co_timer_init(void *mem, void (*fn)(void *), void *arg)
{
    struct co_env *env = co_env_get();
    struct stCoEpoll_t *loop = env ? co_loop_get(env) : NULL;
    struct co_timer *t = mem;

    if (loop == NULL || t == NULL)
        return NULL;
    memset(t, 0, sizeof *t);
    t->t.tag = TIMER_TAG_USER;
    t->loop = loop;
    t->fn = fn;
    t->arg = arg;
    return t;
}

struct co_timer *co_timer_new(void (*fn)(void *), void *arg)
{
    struct co_timer *t = malloc(sizeof *t);

    if (t != NULL && co_timer_init(t, fn, arg) == NULL) {
        free(t);
        t = NULL;
    }
    return t;
}

void co_timer_arm(struct co_timer *t, int64_t ms_from_now)
{
    uint64_t at = co_now_ms() + (uint64_t)(ms_from_now < 0 ? 0 : ms_from_now);

    tw_rearm(&t->loop->wheel, &t->t, at);
}

void co_timer_cancel(struct co_timer *t)
{
    tw_cancel(&t->loop->wheel, &t->t);
}

void co_timer_free(struct co_timer *t)
{
    if (t == NULL)
        return;
    tw_cancel(&t->loop->wheel, &t->t);
    free(t);
}

void co_wait_arm(struct stCoEpoll_t *loop, struct co_wait *w, int timeout_ms)
{
    if (timeout_ms >= 0)
        tw_add(&loop->wheel, &w->timer, co_now_ms() + (uint64_t)timeout_ms);
}

static void link_fd_wait(struct co_fd *f, struct co_wait *w)
{
    w->next = f->waiters;
    if (w->next)
        w->next->pprev = &w->next;
    w->pprev = &f->waiters;
    f->waiters = w;
}

void co_fd_wake_closed(struct co_fd *f)
{
    struct co_wait *w;

    while ((w = f->waiters) != NULL) {
        co_wait_unlink(f->loop, w);
        w->closed = 1;
        w->revents = POLLNVAL;
        co_wait_wake(f->loop, w);
    }
}

void co_fd_unregister(struct co_fd *f, int fd)
{
    if (f->registered && f->loop != NULL)
        epoll_ctl(f->loop->epfd, EPOLL_CTL_DEL, fd, NULL);
    f->registered = 0;
}

/* Registers a socket with the loop once: edge-triggered, both directions. */
static int register_fd(struct stCoEpoll_t *loop, struct co_fd *f, int fd)
{
    struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.fd = fd };

    if (f->registered && f->loop == loop)
        return 0;
    if (f->registered)   /* another thread's loop had it: move it here */
        epoll_ctl(f->loop->epfd, EPOLL_CTL_DEL, fd, NULL);
    if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) != 0 && errno != EEXIST)
        return -errno;
    f->registered = 1;
    f->loop = loop;
    return 0;
}

/* Makes w co's wait for pfd on f, in the group whose first wait leads it. */
static void join_group(struct co_wait *w, struct co_fd *f, const struct pollfd *pfd,
                       struct stCoRoutine_t *co, struct co_wait **leader)
{
    w->co = co;
    w->fd = pfd->fd;
    w->events = (uint32_t)pfd->events;
    if (*leader == NULL)
        *leader = w;
    else
        w->leader = *leader;
    link_fd_wait(f, w);
}

static int park_current(struct co_env *env)
{
    if (env->current->is_main)
        return -EDEADLK;   /* the main context cannot wait for its own loop */
    return 0;
}

int co_wait_fd(int fd, uint32_t events, int timeout_ms)
{
    struct co_env *env = co_env_tls;
    struct stCoEpoll_t *loop;
    struct co_fd *f;
    struct co_wait *w;
    int err;

    if ((err = park_current(env)) != 0)
        return err;
    loop = co_loop_get(env);
    f = co_fd_get(fd);
    if (loop == NULL || f == NULL)
        return -ENOMEM;
    if ((err = register_fd(loop, f, fd)) != 0)
        return err;
    w = co_wait_get(loop);
    if (w == NULL)
        return -ENOMEM;
    w->co = env->current;
    w->fd = fd;
    w->events = events;
    link_fd_wait(f, w);
    f->missed &= ~(events | EPOLLERR | EPOLLHUP);   /* the caller just saw EAGAIN: older edges are stale */
    co_wait_arm(loop, w, timeout_ms);
    env->counters.fd_waits++;
    co_yield_ct();
    err = w->closed ? -EBADF : w->timed_out ? -ETIMEDOUT : 0;
    co_wait_put(loop, w);
    return err;
}

void co_sleep_ms(int64_t ms)
{
    struct co_env *env = co_env_tls;
    struct stCoEpoll_t *loop;
    struct co_wait *w;

    if (park_current(env) != 0 || (loop = co_loop_get(env)) == NULL || (w = co_wait_get(loop)) == NULL)
        return;
    w->co = env->current;
    co_wait_arm(loop, w, ms < 0 ? 0 : ms > INT32_MAX ? INT32_MAX : (int)ms);
    co_yield_ct();
    co_wait_put(loop, w);
}

/*
 * poll(2) for the running coroutine: a non-blocking poll first; if nothing
 * is ready, one wait per fd, all answering to the first one (the group
 * leader), and the timer on the leader; when woken, a second non-blocking
 * poll fills revents.  Sockets stay registered with the loop; other fds
 * (pipes, eventfds) are registered for the wait only.
 */
int co_poll(struct stCoEpoll_t *loop, struct pollfd fds[], nfds_t n, int timeout_ms)
{
    struct co_env *env = co_env_tls;
    /* few fds is the common case; the array lives in the parked frames */
    struct co_wait *waits[4], **w = waits;
    uint64_t deadline = 0;
    nfds_t i;
    int ready, err = 0;

    if (loop == NULL)
        loop = co_loop_get(env);
    ready = co_real_poll(fds, n, 0);
    if (ready != 0 || timeout_ms == 0)
        return ready;
    if (loop == NULL || env->current->is_main || loop->env != env)
        return co_real_poll(fds, n, timeout_ms);   /* not in a coroutine of this loop: block */
    if (n > sizeof waits / sizeof waits[0] && (w = malloc(n * sizeof *w)) == NULL) {
        errno = ENOMEM;
        return -1;
    }
    if (timeout_ms > 0)
        deadline = co_now_ms() + (uint64_t)timeout_ms;
    for (i = 0; i < n; i++)
        w[i] = NULL;   /* the clean-up below may see entries a failed pass never reached */
    for (;;) {
        struct co_wait *leader = NULL;
        for (i = 0; i < n; i++) {
            struct co_fd *f;
            w[i] = NULL;
            if (fds[i].fd < 0)
                continue;
            f = co_fd_get(fds[i].fd);
            w[i] = co_wait_get(loop);
            if (f == NULL || w[i] == NULL) {
                err = ENOMEM;
                break;
            }
            if (f->kind == CO_FD_SOCKET) {
                if (register_fd(loop, f, fds[i].fd) != 0)
                    f = NULL;
            } else if (f->waiters == NULL) {
                struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
                                          .data.fd = fds[i].fd };
                if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fds[i].fd, &ev) != 0 && errno != EEXIST)
                    f = NULL;
                else
                    f->loop = loop;
            }
            if (f == NULL) {   /* cannot be waited for: let poll report it */
                co_wait_put(loop, w[i]);
                w[i] = NULL;
                continue;
            }
            join_group(w[i], f, &fds[i], env->current, &leader);
        }
        if (err == 0 && leader != NULL) {
            if (timeout_ms > 0) {
                uint64_t now = co_now_ms();
                co_wait_arm(loop, leader, now >= deadline ? 0 : (int)(deadline - now));
            }
            env->counters.fd_waits++;
            co_yield_ct();
        }
        for (i = 0; i < n; i++) {
            struct co_fd *f;
            if (w[i] == NULL)
                continue;
            co_wait_put(loop, w[i]);
            w[i] = NULL;   /* a later pass that fails early must not put it again */
            f = co_fd_peek(fds[i].fd);
            if (f && f->kind != CO_FD_SOCKET && f->waiters == NULL && f->loop == loop)
                epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fds[i].fd, NULL);
        }
        if (err == 0 && leader == NULL) {
            /* nothing to wait for (no fds: libco's "poll(NULL, 0, ms)" sleep) */
            uint64_t now = co_now_ms();
            if (timeout_ms < 0)
                co_sleep_ms(INT32_MAX);
            else if (now < deadline)
                co_sleep_ms((int64_t)(deadline - now));
            ready = co_real_poll(fds, n, 0);
            break;
        }
        if (err != 0)
            break;
        ready = co_real_poll(fds, n, 0);
        if (ready != 0 || (timeout_ms > 0 && co_now_ms() >= deadline))
            break;
        /* a wake-up that poll does not confirm (an edge for another event): wait again */
    }
    if (w != waits)
        free(w);
    if (err) {
        errno = err;
        return -1;
    }
    return ready;
}

/*
 * Edge-triggered poll for sockets, with no system call: the caller has
 * already seen each fd not ready (EAGAIN, or a short read), so only a
 * change after that can wake it -- an edge that came meanwhile, with no
 * wait to take it, was kept in f->missed -- and revents come from the
 * loop's epoll events.  Anything else -- non-sockets, more than 4 fds, outside a
 * coroutine -- is co_poll.
 */
int co_poll_edge(struct pollfd fds[], nfds_t n, int timeout_ms)
{
    struct co_env *env = co_env_tls;
    struct stCoEpoll_t *loop;
    struct co_wait *w[4] = { NULL }, *leader = NULL;
    nfds_t i;
    int ready = 0;

    if (n > 4 || env->current->is_main || (loop = co_loop_get(env)) == NULL)
        return co_poll(NULL, fds, n, timeout_ms);
    /* an edge that came while nobody waited for it is not lost: it answers now */
    for (i = 0; i < n; i++) {
        struct co_fd *f = fds[i].fd >= 0 ? co_fd_peek(fds[i].fd) : NULL;
        uint32_t got = f && f->loop == loop ? f->missed & ((uint32_t)fds[i].events | POLLERR | POLLHUP) : 0;
        fds[i].revents = (short)got;
        if (got) {
            f->missed &= ~((uint32_t)fds[i].events | POLLERR | POLLHUP);
            ready++;
        }
    }
    if (ready > 0)
        return ready;
    for (i = 0; i < n; i++) {
        struct co_fd *f = fds[i].fd >= 0 ? co_fd_socket(fds[i].fd) : NULL;
        fds[i].revents = 0;
        if (fds[i].fd < 0)
            continue;
        if (f == NULL || register_fd(loop, f, fds[i].fd) != 0
            || (w[i] = co_wait_get(loop)) == NULL) {
            for (nfds_t j = 0; j < i; j++)
                if (w[j])
                    co_wait_put(loop, w[j]);
            return co_poll(NULL, fds, n, timeout_ms);
        }
        join_group(w[i], f, &fds[i], env->current, &leader);
    }
    if (leader == NULL)
        return co_poll(NULL, fds, n, timeout_ms);
    if (timeout_ms >= 0)
        co_wait_arm(loop, leader, timeout_ms);
    env->counters.fd_waits++;
    co_yield_ct();
    for (i = 0; i < n; i++) {
        if (w[i] == NULL)
            continue;
        fds[i].revents = (short)(w[i]->closed ? POLLNVAL
                                 : w[i]->revents & ((uint32_t)fds[i].events | POLLERR | POLLHUP));
        ready += fds[i].revents != 0;
        co_wait_put(loop, w[i]);
    }
    return ready;
}

int co_fd_watch(int fd, short events, void (*fn)(int fd, short revents, void *arg), void *arg)
{
    struct co_env *env = co_env_get();
    struct stCoEpoll_t *loop;
    struct co_fd *f;
    struct co_wait *w;
    uint32_t got;
    int err;

    if (env == NULL || (loop = co_loop_get(env)) == NULL)
        return -ENOMEM;
    if (fd < 0 || fn == NULL || (f = co_fd_socket(fd)) == NULL)
        return -EINVAL;
    if ((err = register_fd(loop, f, fd)) != 0)
        return err;
    for (w = f->waiters; w; w = w->next)
        if (w->co == NULL && w->watch_fn != NULL)
            return -EBUSY;
    if ((w = co_wait_get(loop)) == NULL)
        return -ENOMEM;
    w->fd = fd;
    w->events = (uint32_t)events;
    w->watch_fn = fn;
    w->watch_arg = arg;
    link_fd_wait(f, w);
    got = f->missed & ((uint32_t)events | POLLERR | POLLHUP);
    if (got) {   /* it came while nobody waited: the callback runs in this turn */
        f->missed &= ~((uint32_t)events | POLLERR | POLLHUP);
        w->revents = got;
        co_wait_wake(loop, w);
    }
    return 0;
}

void co_fd_unwatch(int fd)
{
    struct co_fd *f = co_fd_peek(fd);

    for (struct co_wait *w = f ? f->waiters : NULL; w; w = w->next) {
        if (w->co == NULL && w->watch_fn != NULL) {
            w->watch_fn = NULL;   /* if it is queued already, it runs nothing */
            if (!w->queued)
                co_wait_put(f->loop, w);
            return;
        }
    }
}

/*
 * Routes an fd event to the waits on that fd; a co_poll wait wakes its
 * leader.  Waking unlinks the leader, which may be the next wait on this
 * very list, so after a wake the walk starts over: every matching wait
 * gets its revents (co_poll_edge reads them), and each wake queues a new
 * coroutine, so the walk ends.
 */
static void dispatch(struct stCoEpoll_t *loop, const struct epoll_event *ev)
{
    struct co_fd *f = co_fd_peek(ev->data.fd);
    struct co_wait *w;
    uint32_t got = ev->events, taken = 0;

    if (f == NULL)
        return;
    if (f->loop != loop) {
        /* a registration that outlived its fd: the open file lives on
         * elsewhere (dup, fork, a socket handed to another process) and the
         * number now names something of another loop's, or nothing */
        epoll_ctl(loop->epfd, EPOLL_CTL_DEL, ev->data.fd, NULL);
        return;
    }
again:
    for (w = f->waiters; w; w = w->next) {
        struct co_wait *target = w->leader ? w->leader : w;
        if (!(got & (w->events | EPOLLERR | EPOLLHUP)))
            continue;
        taken |= w->events;
        w->revents = got;
        if (!target->queued) {
            co_wait_wake(loop, w);
            goto again;
        }
    }
    f->missed |= got & ~taken;
}

void co_eventloop(struct stCoEpoll_t *loop, pfn_co_eventloop_t fn, void *arg)
{
    struct co_env *env = co_env_get();

    if (env == NULL)
        return;
    if (!env->current->is_main)
        co_die("co_eventloop: must run in a thread's main context, not in a coroutine");
    if (loop == NULL)
        loop = co_loop_get(env);
    if (loop == NULL || loop->env != env)
        co_die("co_eventloop: the loop belongs to another thread (use co_get_epoll_ct())");
    for (;;) {
        int timeout = -1, n, i;
        struct co_wait *w;

        if (loop->ready_head) {
            timeout = 0;
        } else {
            int64_t next = tw_next(&loop->wheel);
            if (next >= 0) {
                int64_t at = (int64_t)(loop->wheel.now + (uint64_t)next) - (int64_t)co_now_ms();
                timeout = at < 0 ? 0 : at > INT32_MAX ? INT32_MAX : (int)at;
            }
            if (fn && (timeout < 0 || timeout > CO_LOOP_MAX_WAIT_MS))
                timeout = CO_LOOP_MAX_WAIT_MS;
        }
        n = epoll_wait(loop->epfd, loop->events, CO_LOOP_EVENTS, timeout);
        env->counters.loop_waits++;
        for (i = 0; i < n; i++)
            dispatch(loop, &loop->events[i]);
        if (n > 0)
            env->counters.loop_events += (uint64_t)n;
        env->counters.timers_fired += tw_advance(&loop->wheel, co_now_ms(), on_timer, loop);
        while ((w = loop->ready_head) != NULL) {
            loop->ready_head = w->ready_next;
            if (loop->ready_head == NULL)
                loop->ready_tail = &loop->ready_head;
            w->ready_next = NULL;
            w->queued = 0;
            if (w->co == NULL) {   /* a watch: its callback, in the main context */
                void (*watch)(int, short, void *) = w->watch_fn;
                void *warg = w->watch_arg;
                int fd = w->fd;
                short rev = (short)(w->closed ? POLLNVAL : w->revents & (w->events | POLLERR | POLLHUP));
                co_wait_put(loop, w);
                if (watch)
                    watch(fd, rev, warg);
                continue;
            }
            co_resume(w->co);
        }
        if (fn && fn(arg) != 0)
            break;
    }
}
