/* SPDX-License-Identifier: Apache-2.0 */
/* co_io.h — the event loop's private structures: waits, the fd table, the loop. */
#ifndef COSTACK_IO_H
#define COSTACK_IO_H

#include <stdint.h>
#include <sys/epoll.h>

#include "co_internal.h"
#include "tw.h"

/*
 * A parked coroutine's reason to wake: fd events, a deadline, a condition
 * signal.  Waits come from a per-loop pool, never from the waiting
 * coroutine's stack: a shared-stack coroutine's stack is not addressable
 * while it is parked, and the loop must reach the wait then.
 */
struct co_wait {
    struct stCoRoutine_t *co;
    struct co_wait *next;           /* on an fd's or a condition's list */
    struct co_wait **pprev;         /* NULL: on no list */
    struct co_wait *ready_next;     /* on the loop's ready list */
    struct co_wait *leader;         /* co_poll: the wait that stands for the group */
    struct stCoCond_t *cond;        /* the condition whose list it is on, if any */
    struct tw_timer timer;          /* armed when the wait has a deadline */
    void (*watch_fn)(int fd, short revents, void *arg);   /* co_fd_watch: no coroutine */
    void *watch_arg;
    int fd;
    uint32_t events;                /* EPOLLIN/EPOLLOUT... wanted */
    uint32_t revents;               /* what woke it */
    uint8_t queued;                 /* on the ready list */
    uint8_t timed_out;
    uint8_t closed;                 /* its fd was closed under it */
    uint8_t pooled;                 /* on the loop's free list */
};

/* Per-fd state for the hooks: one slot per fd number, process-wide. */
struct co_fd {
    uint8_t kind;                   /* CO_FD_UNKNOWN, _SOCKET, _OTHER */
    uint8_t user_nonblock;          /* the program asked for O_NONBLOCK */
    uint8_t registered;             /* in `loop`'s epoll, edge-triggered, for good */
    uint32_t missed;                /* edges that came while no wait wanted them: the
                                       next co_poll_edge for them returns at once */
    int rcv_timeout_ms;             /* SO_RCVTIMEO; -1: none */
    int snd_timeout_ms;             /* SO_SNDTIMEO; -1: none */
    struct stCoEpoll_t *loop;
    struct co_wait *waiters;
};

#define CO_FD_UNKNOWN 0
#define CO_FD_SOCKET  1
#define CO_FD_OTHER   2

#define CO_LOOP_EVENTS 1024
/* With a per-turn callback, a turn waits at most this long, so the
 * callback runs regularly even when nothing happens (libco: 1 ms). */
#define CO_LOOP_MAX_WAIT_MS 100

struct stCoEpoll_t {
    int epfd;
    struct co_env *env;
    struct tw_wheel wheel;
    struct co_wait *ready_head;
    struct co_wait **ready_tail;
    struct co_wait *free_waits;
    struct co_wait *wait_chunks;    /* every chunk allocated, for freeing */
    struct epoll_event events[CO_LOOP_EVENTS];
};

struct stCoCond_t {
    struct co_wait *head;
    struct co_wait **tail;
};

/* co_fd.c: loop is freed (its thread ends): slots forget it and its waits */
CO_HIDDEN void co_fd_loop_gone(struct stCoEpoll_t *loop);

/* co_epoll.c: f (fd's slot) out of its loop's epoll set, if it is in one */
CO_HIDDEN void co_fd_unregister(struct co_fd *f, int fd);

/* co_fd.c: the slot for fd (created on first use), or NULL if fd < 0 or out of memory */
CO_HIDDEN struct co_fd *co_fd_get(int fd);
/* the slot if it exists, else NULL */
CO_HIDDEN struct co_fd *co_fd_peek(int fd);
CO_HIDDEN void co_fd_forget(int fd);

/* co_epoll.c */
CO_HIDDEN struct stCoEpoll_t *co_loop_get(struct co_env *env);
CO_HIDDEN uint64_t co_now_ms(void);
CO_HIDDEN struct co_wait *co_wait_get(struct stCoEpoll_t *loop);
CO_HIDDEN void co_wait_put(struct stCoEpoll_t *loop, struct co_wait *w);
CO_HIDDEN void co_wait_wake(struct stCoEpoll_t *loop, struct co_wait *w);
CO_HIDDEN void co_wait_arm(struct stCoEpoll_t *loop, struct co_wait *w, int timeout_ms);
CO_HIDDEN void co_wait_unlink(struct stCoEpoll_t *loop, struct co_wait *w);
/*
 * Parks the running coroutine until fd has one of `events` (edge-triggered
 * registration, made once per fd), timeout_ms passes (-1: never) or fd is
 * closed.  Returns 0, -ETIMEDOUT, -EBADF, or -errno from epoll_ctl.
 */
CO_HIDDEN int co_wait_fd(int fd, uint32_t events, int timeout_ms);
/* Parks the running coroutine for ms milliseconds. */
CO_HIDDEN void co_sleep_ms(int64_t ms);
/* Wakes every wait on fd with `closed` (its fd is going away). */
CO_HIDDEN void co_fd_wake_closed(struct co_fd *f);

/* co_hook.c: the libc functions behind the hooks */
CO_HIDDEN int co_hooked(void);
CO_HIDDEN struct co_fd *co_fd_socket(int fd);
CO_HIDDEN void co_hook_init(void);

#endif
