/* SPDX-License-Identifier: Apache-2.0 */
/* co_internal.h — libcostack's private structures, shared by the runtime's files. */
#ifndef COSTACK_INTERNAL_H
#define COSTACK_INTERNAL_H

#include "config.h"
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>

#include "coctx.h"
#include "co_offsets.h"
#include "costack.h"

#define CO_LIKELY(x)   __builtin_expect(!!(x), 1)
#define CO_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define CO_HIDDEN      __attribute__((visibility("hidden")))
/* The libc functions the runtime interposes must be exported to do so. */
#define CO_EXPORT      __attribute__((visibility("default")))

/* Always-on check for invariants whose violation would corrupt memory. */
#define CO_ASSERT(cond)                                                       \
    do {                                                                      \
        if (CO_UNLIKELY(!(cond)))                                             \
            co_die("assertion failed: %s (%s:%d)", #cond, __FILE__, __LINE__);\
    } while (0)


#define CO_DEFAULT_STACK  (128 * 1024)
#define CO_MAX_STACK      (8 * 1024 * 1024)

/* A mapped stack: [base, base + size) usable, one guard page below base. */
struct co_stack {
    char *base;
    size_t size;                  /* usable bytes from base */
    size_t map_size;              /* bytes mapped from base (size + bookkeeping) */
    struct co_stack *next_free;   /* in the env's cache */
    unsigned vg_id;               /* valgrind's id for the stack */
};

/* One run stack of a share, and which coroutine's frames are on it now. */
struct co_run_stack {
    struct co_stack stack;
    char *top;                    /* stack.base + stack.size */
    struct stCoRoutine_t *owner;
    struct co_env *env;           /* the thread using it; set by its first coroutine */
    struct stShareStack_t *share;
};

struct stShareStack_t {
    unsigned next;                /* run stack for the next coroutine */
    int count;
    size_t stack_size;
    unsigned users;               /* coroutines created on it, not yet released */
    uint32_t save_hint;           /* inline save area for its new coroutines (co_handoff.c) */
    struct co_run_stack run[];
};

struct co_specific;

struct __attribute__((aligned(16))) stCoRoutine_t {
    struct coctx ctx;             /* first: its address is the coroutine's */
    uintptr_t gate;               /* its env | CO_* flags (co_offsets.h) */
    struct stCoRoutine_t *resumer;  /* who resumed it; valid while CO_RUNNING */
    union {
        struct co_run_stack *shared;  /* on_shared: the run stack it runs on */
        struct co_stack *stack;       /* else: its private stack (NULL for main) */
    };
    void *(*fn)(void *);
    void *arg;
    char *save_buf;               /* shared: frames saved while evicted (co_inline_save or heap) */
    struct co_specific *specific;
    uint32_t save_len;            /* bytes of frames in save_buf */
    uint32_t save_cap;            /* bytes allocated in save_buf */
    uint16_t inline_cap;          /* bytes of co_inline_save */
    uint8_t on_shared;
    uint8_t is_main;
    uint8_t hooks;                /* syscall hooks enabled (used by the I/O layer) */
#ifdef CO_ASAN
    void *asan_fake;
#endif
};

/*
 * Shared stacks: a save area allocated with the coroutine, right after the
 * struct, sized to what its share's coroutines park with, so a parked
 * coroutine is one block (inline_cap bytes; 0 for none).
 */
static inline char *co_inline_save(struct stCoRoutine_t *co)
{
    return (char *)(co + 1);
}

struct __attribute__((aligned(CO_GATE_FLAGS + 1))) co_env {
    struct stCoRoutine_t *current;  /* first: the fast paths reach it at offset 0 */
    int depth_left;                 /* nested resumes still allowed */
    void (*handoff)(struct stCoRoutine_t *to);  /* shared-stack copy, per CPU level */
    char *scratch_top;              /* stack the handoff runs on (NULL until needed) */
    struct co_counters counters;
    struct stCoRoutine_t main;      /* the thread's own context */
    struct co_stack *stack_cache;   /* private stacks ready for reuse */
    char *scratch;                  /* stack the shared-stack copy runs on */
    size_t scratch_size;
    unsigned scratch_vg_id;
    void *altstack;                 /* signal stack for overflow reports */
    size_t altstack_size;
    char *main_stack_lo;            /* the thread's own stack, for ASan */
    size_t main_stack_size;
    unsigned long thread_id;        /* for messages */
    struct stCoEpoll_t *loop;       /* the thread's event loop, once asked for */
    int dead;                       /* its thread exited while coroutines or shares
                                       still pointed here: kept, so that no new env
                                       takes its address (see env_destroy) */
};

/* The calling thread's env; &co_env_none (never NULL) until it has one. */
extern __thread struct co_env *co_env_tls
    __attribute__((tls_model("initial-exec"))) CO_HIDDEN;
extern struct co_env co_env_none CO_HIDDEN;
/* The resumer of every main context: a yield from main lands on its slow path. */
extern struct stCoRoutine_t co_no_resumer CO_HIDDEN;

static inline struct co_env *co_env_of(const struct stCoRoutine_t *co)
{
    return (struct co_env *)(co->gate & ~(uintptr_t)CO_GATE_FLAGS);
}

static inline unsigned co_flags(const struct stCoRoutine_t *co)
{
    return (unsigned)(co->gate & CO_GATE_FLAGS);
}

static inline void co_set_flags(struct stCoRoutine_t *co, unsigned flags)
{
    co->gate = (co->gate & ~(uintptr_t)CO_GATE_FLAGS) | flags;
}

/* co_env.c */
CO_HIDDEN struct co_env *co_env_get(void);    /* creates it on first use; NULL if out of memory */
CO_HIDDEN void co_env_release_zombie(struct co_env *env);
/* Writes all of p[0..n) to fd with the raw system call, never the hooked
 * write() (which may allocate, or park the coroutine: not in a signal
 * handler, not on the way to abort).  Async-signal-safe; best effort. */
CO_HIDDEN void co_raw_write(int fd, const char *p, size_t n);
CO_HIDDEN void co_die(const char *fmt, ...)
    __attribute__((noreturn, format(printf, 1, 2), cold));
CO_HIDDEN const char *co_describe(const struct stCoRoutine_t *co, char *buf, size_t len);

/* co_ctx.c: builds the initial frame below top; returns the context's sp */
CO_HIDDEN void *coctx_make(char *top, struct stCoRoutine_t *self,
                           void *(*entry)(void *), void *arg,
                           void (*exit_fn)(struct stCoRoutine_t *, void *), uint64_t fpstate);
CO_HIDDEN uint64_t coctx_fpstate(void);

/* co_stack.c */
CO_HIDDEN struct co_stack *co_stack_get(struct co_env *env, size_t size);
CO_HIDDEN void co_stack_put(struct co_env *env, struct co_stack *stack);
CO_HIDDEN void co_stack_cache_drain(struct co_env *env);
CO_HIDDEN int co_stack_map(struct co_stack *stack, size_t size);
CO_HIDDEN void co_stack_unmap(struct co_stack *stack);
CO_HIDDEN int co_shared_env_init(struct co_env *env);
CO_HIDDEN void co_switch_shared(struct co_env *env, struct stCoRoutine_t *to,
                                struct stCoRoutine_t *from);

/* co_handoff.c: the shared-stack copy for this CPU (runs on the scratch stack) */
CO_HIDDEN void (*co_handoff_select(void))(struct stCoRoutine_t *to);
CO_HIDDEN void co_save_buf_resize(struct co_env *env, struct stCoRoutine_t *co, size_t len);
CO_HIDDEN void co_save_buf_drop(struct co_env *env, struct stCoRoutine_t *co);
CO_HIDDEN void co_shared_drop(struct stCoRoutine_t *co);

/* co_epoll.c */
CO_HIDDEN void co_loop_free(struct co_env *env);

/* co_guard.c */
CO_HIDDEN int co_guard_thread_init(struct co_env *env);
CO_HIDDEN void co_guard_thread_fini(struct co_env *env);

/* co_specific.c */
CO_HIDDEN void co_specific_free(struct stCoRoutine_t *co);
CO_HIDDEN void co_specific_set_cleanup(pthread_key_t key, void (*fn)(void *));

/* co_routine.c: the fast paths' slow halves (also called from co_fastpath_*.S) */
CO_HIDDEN void co_resume_slow(struct stCoRoutine_t *co);
CO_HIDDEN void co_yield_slow(struct co_env *env, struct stCoRoutine_t *cur, struct stCoRoutine_t *to);
CO_HIDDEN void co_exit(struct stCoRoutine_t *co, void *ret) __attribute__((noreturn));
CO_HIDDEN void *co_frame_make(struct stCoRoutine_t *co, char *top, uint64_t fpstate);

#endif
