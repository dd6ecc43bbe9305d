/* SPDX-License-Identifier: Apache-2.0 */
/* co_routine.h — libcostack's libco-compatible API: coroutines and shared stacks. */
#ifndef __CO_ROUTINE_H__
#define __CO_ROUTINE_H__

/*
 * Programs written for Tencent's libco build against this header unchanged.
 * Everything here has libco's name, signature and meaning; where libco left
 * a behaviour undefined (resuming a finished coroutine, resuming one from
 * another thread, nesting too deep) libcostack stops the program with a
 * message on stderr instead of corrupting memory.  The native additions
 * (counters, co_is_finished, ...) are in costack.h.
 *
 * Threads: a coroutine belongs to the thread that created it.  Each thread
 * has its own environment (call stack, stack caches, counters), created on
 * its first coroutine.
 *
 * Shared stacks: a coroutine created with attr.share_stack runs on one of
 * that share's run stacks; when another coroutine needs the run stack, the
 * used part is copied out to a buffer sized to fit, and copied back before
 * it runs again.  So the address of a local variable of a parked
 * shared-stack coroutine is NOT valid from any other coroutine: pass heap
 * memory (or copy the data) between coroutines, never pointers into a
 * shared-stack coroutine's frames.
 */

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#  if defined(__x86_64__) && !defined(__clang__)
/* Calls go through the GOT, not a PLT stub: one jump less per switch. */
#    define CO_API __attribute__((visibility("default"), noplt))
#  else
#    define CO_API __attribute__((visibility("default")))
#  endif
#else
#  define CO_API
#endif

struct stCoRoutine_t;
struct stShareStack_t;

/* Creation attributes, laid out as libco lays them out (packed). */
struct stCoRoutineAttr_t {
    int stack_size;                       /* private stack size in bytes */
    struct stShareStack_t *share_stack;   /* non-NULL: run on this share */
#ifdef __cplusplus
    stCoRoutineAttr_t() : stack_size(128 * 1024), share_stack(NULL) {}
#endif
} __attribute__((packed));

typedef struct stCoRoutine_t stCoRoutine_t;
typedef struct stShareStack_t stShareStack_t;
typedef struct stCoRoutineAttr_t stCoRoutineAttr_t;
typedef void *(*pfn_co_routine_t)(void *);

/*
 * Creates a coroutine that will run routine(arg) when first resumed.
 * attr NULL: a private stack of 128 KiB.  attr->stack_size <= 0 means
 * 128 KiB, is capped at 8 MiB and rounded up to whole pages; the memory is
 * reserved, and only the pages the coroutine touches become resident.
 * Returns 0 and stores the coroutine in *co, or a negative errno (-ENOMEM,
 * -EINVAL) and leaves *co alone.
 */
CO_API int co_create(struct stCoRoutine_t **co, const struct stCoRoutineAttr_t *attr,
                     void *(*routine)(void *), void *arg);

/*
 * Runs co until it yields or its routine returns, then returns.  co must
 * belong to this thread, be parked or new (not running, not finished), and
 * the nesting of resumes is limited to CO_MAX_DEPTH (128) levels.
 */
CO_API void co_resume(struct stCoRoutine_t *co);

/* Returns to whoever resumed the running coroutine (co's thread must be this one). */
CO_API void co_yield(struct stCoRoutine_t *co);

/* Returns to whoever resumed the running coroutine. */
CO_API void co_yield_ct(void);

/*
 * Frees co and gives its stack back to the thread's cache.  co must not be
 * running (it may be new, parked mid-routine, or finished); a parked
 * coroutine is simply dropped: its frames are not unwound.
 */
CO_API void co_release(struct stCoRoutine_t *co);

/* Makes a parked or finished co start its routine afresh on the next resume. */
CO_API void co_reset(struct stCoRoutine_t *co);

/* The running coroutine (the thread's main one outside coroutines), or NULL if
 * this thread has never created one. */
CO_API struct stCoRoutine_t *co_self(void);
CO_API struct stCoRoutine_t *co_get_current(void);

/*
 * Coroutine-local storage, keyed by pthread keys.  Inside a coroutine each
 * coroutine sees its own values (NULL until set); outside coroutines these
 * are pthread_setspecific/pthread_getspecific.  Returns 0 or an errno value.
 */
CO_API int co_setspecific(pthread_key_t key, const void *value);
CO_API void *co_getspecific(pthread_key_t key);

/*
 * Allocates a share of count run stacks of stack_size bytes each; coroutines
 * created on it are spread over the run stacks in turn.  Returns NULL on
 * failure.  The share may be used by the coroutines of one thread only.
 */
CO_API struct stShareStack_t *co_alloc_sharestack(int count, int stack_size);

/* ---- the event loop, waits and hooks ------------------------------------- */

#include <poll.h>

struct stCoEpoll_t;
struct stCoCond_t;
typedef struct stCoEpoll_t stCoEpoll_t;
typedef struct stCoCond_t stCoCond_t;
typedef int (*pfn_co_eventloop_t)(void *);

/*
 * The calling thread's event loop (created on first use): an epoll
 * instance, a timing wheel (1 ms ticks) and the list of coroutines ready to
 * run.  NULL if it cannot be created.
 */
CO_API struct stCoEpoll_t *co_get_epoll_ct(void);

/*
 * Runs the loop in the thread's main context, forever or until pfn(arg)
 * returns non-zero; pfn is called once per turn, and with a pfn a turn
 * waits at most 100 ms.  Each turn waits for fds (bounded by the next
 * timer), resumes the coroutines whose fds are ready, fires expired
 * timers, and resumes the coroutines that conditions woke.
 */
CO_API void co_eventloop(struct stCoEpoll_t *ctx, pfn_co_eventloop_t pfn, void *arg);

/*
 * poll(2) for the running coroutine: returns the number of ready fds with
 * their revents filled, 0 on timeout, -1 with errno; timeout_ms 0 does not
 * wait, -1 waits without limit.  Only the coroutine waits; outside a
 * coroutine this is a plain blocking poll.  ctx NULL: this thread's loop.
 */
CO_API int co_poll(struct stCoEpoll_t *ctx, struct pollfd fds[], nfds_t nfds, int timeout_ms);

/*
 * Syscall hooks for the running coroutine (off by default): socket I/O,
 * connect, accept, poll, sleeps and name resolution then park only this
 * coroutine.  Outside coroutines, on non-socket fds, or with hooks off,
 * they are libc's calls.
 */
CO_API void co_enable_hook_sys(void);
CO_API void co_disable_hook_sys(void);
CO_API bool co_is_enable_sys_hook(void);

/*
 * Condition variables between the coroutines of one thread.  A woken
 * waiter runs in the loop's next turn.  timedwait returns 0 when
 * signalled and -ETIMEDOUT when timeout_ms (> 0; <= 0: no limit) passed.
 */
CO_API struct stCoCond_t *co_cond_alloc(void);
CO_API int co_cond_free(struct stCoCond_t *cond);
CO_API int co_cond_signal(struct stCoCond_t *cond);
CO_API int co_cond_broadcast(struct stCoCond_t *cond);
CO_API int co_cond_timedwait(struct stCoCond_t *cond, int timeout_ms);

/* Makes getenv/setenv/unsetenv of these names per coroutine in hooked coroutines. */
CO_API void co_set_env_list(const char *name[], size_t cnt);

/* Writes a line to stderr (libco's logging helper). */
CO_API void co_log_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#ifdef __cplusplus
}
#endif
#endif /* __CO_ROUTINE_H__ */
