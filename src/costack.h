/* SPDX-License-Identifier: Apache-2.0 */
/* costack.h — libcostack's native additions to the libco API: counters and queries. */
#ifndef COSTACK_H
#define COSTACK_H

#include <stdint.h>
#include "co_routine.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Nesting limit of co_resume (A resumes B resumes C ...), main included. */
#define CO_MAX_DEPTH 128

/*
 * The per-thread runtime counters, one table: X(name, description).
 * Plain integers written only by the owning thread.
 */
#define CO_COUNTERS(X)                                                        \
    X(switches,          "coroutine context switches")                        \
    X(created,           "coroutines created")                                \
    X(live,              "coroutines alive now (created, not released)")      \
    X(peak_live,         "most coroutines alive at once")                     \
    X(copies_out,        "shared-stack saves (stack copied to its buffer)")   \
    X(bytes_copied,      "bytes copied by shared-stack saves and restores")   \
    X(copies_in,         "shared-stack restores (buffer copied to the stack)")\
    X(save_bytes_held,   "bytes held now in shared-stack save buffers")       \
    X(shared_stacks,     "shared run stacks in use by this thread")           \
    X(shared_occupied,   "shared run stacks holding a coroutine's frames now")\
    X(stacks_mapped,     "private stacks mapped (cached ones included)")      \
    X(stacks_cached,     "private stacks waiting in the reuse cache")        \
    X(loop_waits,        "event-loop waits (epoll_wait calls)")              \
    X(loop_events,       "fd events the event loop received")                \
    X(timers_fired,      "timers fired (timeouts, sleeps)")                  \
    X(fd_waits,          "coroutines parked waiting for an fd")

struct co_counters {
#define CO_COUNTER_FIELD(name, desc) uint64_t name;
    CO_COUNTERS(CO_COUNTER_FIELD)
#undef CO_COUNTER_FIELD
};

/*
 * co_create with the caller's state in the same allocation: extra bytes
 * (zeroed, 16-byte aligned) placed after the coroutine's record; *data
 * points to them, and the routine gets them as its argument.  They live
 * until co_release -- one allocation per connection, say, instead of a
 * record and a state apart.  0, or -ENOMEM / -EINVAL as co_create.
 */
CO_API int co_create_with(struct stCoRoutine_t **co, const struct stCoRoutineAttr_t *attr,
                          void *(*routine)(void *), size_t extra, void **data);

/* A copy of the calling thread's counters (all zero before its first coroutine). */
CO_API struct co_counters co_get_counters(void);

/* Nonzero once co's routine has returned. */
CO_API int co_is_finished(const struct stCoRoutine_t *co);

/* Bytes of co's frames currently saved in its shared-stack buffer (0 if none). */
CO_API size_t co_saved_bytes(const struct stCoRoutine_t *co);

/*
 * libco's co_accept: accept(2) through the hooks (the new socket is theirs).
 * libco declares it in no header -- its programs declare it themselves, in
 * C++ -- so the library exports it under C's and C++'s names; a C++
 * program that declares it itself must not include this header too.
 */
struct sockaddr;
CO_API int co_accept(int fd, struct sockaddr *addr, unsigned int *len);

/*
 * Frees a share from co_alloc_sharestack.  Returns 0, or -EBUSY while a
 * coroutine created on it has not been released.  Call it from the thread
 * that used the share, or after that thread has exited.
 */
CO_API int co_free_sharestack(struct stShareStack_t *share);

/*
 * Gives the kernel back the pages of a share's run stacks that hold no
 * frames now (a burst of deep calls touched them; idle, they are waste).
 * Call it from the main context of the thread using the share.  0, or
 * -EDEADLK from a coroutine, -EPERM for another thread's share.
 */
CO_API int co_sharestack_trim(struct stShareStack_t *share);

/* Frees what the calling thread's runtime keeps for reuse and holds no
 * coroutine now: cached private stacks, unused wait records. */
CO_API void co_trim(void);

/*
 * poll(2) for sockets the hooks manage, edge-triggered and without a system
 * call: call it after seeing every fd not ready (EAGAIN, or a read shorter
 * than asked).  It wakes on a change after that: an edge that came while
 * the coroutine was busy elsewhere (not waiting for it) answers the next
 * call at once, so none is lost; such an answer may be stale (the data was
 * already read), so the caller treats revents as "try again".
 * revents as poll's; returns the number of fds with events, 0 on timeout.
 * Other fds, or more than 4, fall back to co_poll.
 */
CO_API int co_poll_edge(struct pollfd fds[], nfds_t nfds, int timeout_ms);

/*
 * Watches a socket without a coroutine: fn(fd, revents, arg) runs once, in
 * the event loop's main context, at the fd's next edge for `events`
 * (POLLIN, POLLOUT, POLLRDHUP; errors and hangups always count) -- or in
 * the next loop turn if an edge came since its last wait -- and with
 * POLLNVAL if the fd is closed first.  fn may create and resume a
 * coroutine.  For connections that sit idle: a watch costs a few dozen
 * bytes where a parked coroutine costs its saved frames.  0, -EBUSY (the
 * fd has a watch), -EINVAL, -ENOMEM.  co_fd_unwatch cancels it.
 */
CO_API int co_fd_watch(int fd, short events, void (*fn)(int fd, short revents, void *arg), void *arg);
CO_API void co_fd_unwatch(int fd);

/*
 * A socket this process got from elsewhere (inherited across exec, passed
 * with SCM_RIGHTS) is to be used as a blocking one: hooked calls on it park
 * the coroutine.  Needed when its open file is shared with a process that
 * set O_NONBLOCK on it -- another program using these hooks -- since that
 * flag would otherwise read as the program's own choice.  0, -ENOTSOCK,
 * -EBADF, -ENOMEM.
 */
CO_API int co_fd_adopt_blocking(int fd);

/*
 * Timers on the calling thread's event loop: fn(arg) runs in the loop (the
 * main context) when the deadline passes.  Arming an armed timer to a later
 * deadline only stores it -- an idle timeout pushed back on every request
 * costs a comparison -- and to an earlier one moves it.  A timer belongs to
 * the thread that created it.  co_timer_new returns NULL if out of memory.
 */
struct co_timer;
CO_API struct co_timer *co_timer_new(void (*fn)(void *), void *arg);
/* A timer in memory the caller owns (co_timer_size() bytes, pointer
 * aligned: inside its own state, say): as co_timer_new otherwise, but never
 * co_timer_free'd -- co_timer_cancel it before the memory goes. */
CO_API size_t co_timer_size(void);
CO_API struct co_timer *co_timer_init(void *mem, void (*fn)(void *), void *arg);
CO_API void co_timer_arm(struct co_timer *t, int64_t ms_from_now);
CO_API void co_timer_cancel(struct co_timer *t);
CO_API void co_timer_free(struct co_timer *t);

#ifdef __cplusplus
}
#endif
#endif
