/* co_routine.c — coroutine lifecycle and the resume/yield switch paths. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "co_internal.h"
#include "co_sanitizer.h"

/*
 * The call stack is a chain: each running coroutine points at its resumer,
 * env->current at the innermost one, and depth counts the chain (main = 1).
 * A parked coroutine has depth 0, a finished one CO_DEPTH_FINISHED, so
 * co_resume checks "runnable" with one comparison.
 */

static void describe_and_die(const char *op, const char *why, const struct stCoRoutine_t *co)
    __attribute__((noreturn, cold, noinline));
static void describe_and_die(const char *op, const char *why, const struct stCoRoutine_t *co)
{
    char who[160];

    co_die("%s: %s: %s", op, why, co_describe(co, who, sizeof who));
}

static void die_foreign(const char *op, const struct stCoRoutine_t *co)
    __attribute__((noreturn, cold, noinline));
static void die_foreign(const char *op, const struct stCoRoutine_t *co)
{
    char who[160];
    struct co_env *env = co_env_tls;

    co_die("%s from thread %lu on %s: a coroutine may only be used by the thread that created it",
           op, env == &co_env_none ? (unsigned long)gettid() : env->thread_id,
           co_describe(co, who, sizeof who));
}

static void die_resume(const struct stCoRoutine_t *co)
    __attribute__((noreturn, cold, noinline));
static void die_resume(const struct stCoRoutine_t *co)
{
    if (co->depth == CO_DEPTH_FINISHED)
        describe_and_die("co_resume", "the coroutine has finished", co);
    if (co->is_main)
        describe_and_die("co_resume", "a thread's main context cannot be resumed", co);
    if (co->depth != CO_DEPTH_PARKED)
        describe_and_die("co_resume", "the coroutine is already running", co);
    co_die("co_resume: coroutine call stack deeper than %d (CO_MAX_DEPTH): runaway nested resumes?",
           CO_MAX_DEPTH);
}

#ifdef CO_ASAN
static void stack_bounds(const struct stCoRoutine_t *co, const void **lo, size_t *size)
{
    if (co->is_main) {
        *lo = co->env->main_stack_lo;
        *size = co->env->main_stack_size;
    } else if (co->shared) {
        *lo = co->shared->stack.base;
        *size = co->shared->stack.size;
    } else {
        *lo = co->stack->base;
        *size = co->stack->size;
    }
}

/* ASan builds enter coroutines here so the first switch is announced as finished. */
static void *entry_asan(void *arg)
{
    struct stCoRoutine_t *co = arg;

    co_asan_finish_switch(NULL);
    return co->fn(co->arg);
}
#define CO_ENTRY(co) entry_asan
#define CO_ENTRY_ARG(co) (co)
#else
#define CO_ENTRY(co) ((co)->fn)
#define CO_ENTRY_ARG(co) ((co)->arg)
#endif

/* Leaves `from` (running) for `to` (parked), whose frames may need restoring. */
static inline void co_switch(struct co_env *env, struct stCoRoutine_t *to, struct stCoRoutine_t *from)
{
    struct co_run_stack *rs = to->shared;

    env->counters.switches++;
#ifdef CO_ASAN
    const void *lo;
    size_t size;
    stack_bounds(to, &lo, &size);
    co_asan_start_switch(&from->asan_fake, lo, size);
#endif
    if (CO_UNLIKELY(rs != NULL && rs->owner != to))
        co_switch_shared(env, to, from);
    else
        coctx_switch(&to->ctx, &from->ctx);
#ifdef CO_ASAN
    co_asan_finish_switch(from->asan_fake);
#endif
}

void co_resume(struct stCoRoutine_t *co)
{
    struct co_env *env = co->env;
    struct stCoRoutine_t *from;
    unsigned depth;

    if (CO_UNLIKELY(env != co_env_tls))
        die_foreign("co_resume", co);
    from = env->current;
    depth = from->depth + 1u;
    if (CO_UNLIKELY(co->depth != CO_DEPTH_PARKED || depth > CO_MAX_DEPTH))
        die_resume(co);
    co->depth = (uint16_t)depth;
    co->resumer = from;
    env->current = co;
    co_switch(env, co, from);
}

void co_yield_ct(void)
{
    struct co_env *env = co_env_tls;
    struct stCoRoutine_t *cur = env->current;
    struct stCoRoutine_t *to = cur->resumer;

    if (CO_UNLIKELY(to == NULL))
        co_die("co_yield_ct: called outside a coroutine (in a thread's main context)");
    cur->depth = CO_DEPTH_PARKED;
    env->current = to;
    co_switch(env, to, cur);
}

void co_yield(struct stCoRoutine_t *co)
{
    if (CO_UNLIKELY(co->env != co_env_tls))
        die_foreign("co_yield", co);
    co_yield_ct();
}

/* Where a routine's return lands (via coctx_trampoline): finish, leave for good. */
void co_exit(struct stCoRoutine_t *co, void *ret)
{
    struct co_env *env = co->env;
    struct stCoRoutine_t *to = co->resumer;

    (void)ret;
    co->depth = CO_DEPTH_FINISHED;
    env->current = to;
    env->counters.switches++;
    if (co->shared)
        co_shared_drop(co);
#ifdef CO_ASAN
    const void *lo;
    size_t size;
    stack_bounds(to, &lo, &size);
    co_asan_start_switch(NULL, lo, size);
#endif
    if (to->shared != NULL && to->shared->owner != to)
        co_switch_shared(env, to, co);
    else
        coctx_switch(&to->ctx, &co->ctx);
    co_die("a finished coroutine was resumed");
}

/* Builds co's initial frame below top; returns the sp for its context. */
void *co_frame_make(struct stCoRoutine_t *co, char *top)
{
    return coctx_make(top, co, CO_ENTRY(co), CO_ENTRY_ARG(co), co_exit);
}

static size_t stack_size_of(const struct stCoRoutineAttr_t *attr)
{
    long page = sysconf(_SC_PAGESIZE);
    size_t size = attr ? (size_t)(attr->stack_size > 0 ? attr->stack_size : CO_DEFAULT_STACK)
                       : CO_DEFAULT_STACK;

    if (size > CO_MAX_STACK)
        size = CO_MAX_STACK;
    /* The stack's bookkeeping takes its top bytes; round up past them. */
    size += sizeof(struct co_stack);
    return (size + (size_t)page - 1) & ~((size_t)page - 1);
}

int co_create(struct stCoRoutine_t **out, const struct stCoRoutineAttr_t *attr,
              void *(*routine)(void *), void *arg)
{
    struct co_env *env = co_env_get();
    struct stShareStack_t *share = attr ? attr->share_stack : NULL;
    struct stCoRoutine_t *co;

    if (env == NULL)
        return -ENOMEM;
    if (out == NULL || routine == NULL)
        return -EINVAL;
    co = calloc(1, sizeof *co);
    if (co == NULL)
        return -ENOMEM;
    co->env = env;
    co->fn = routine;
    co->arg = arg;
    if (share != NULL) {
        struct co_run_stack *rs = &share->run[share->next++ % (unsigned)share->count];
        if (rs->env == NULL) {
            rs->env = env;
            env->counters.shared_stacks++;
        } else if (rs->env != env) {
            free(co);
            return -EINVAL;   /* a run stack serves one thread */
        }
        co->shared = rs;
        co->fresh = 1;
        /* The initial frame is built on the run stack when first switched to. */
        co->ctx.sp = rs->stack.base + rs->stack.size - CO_CTX_ABOVE_SP;
        share->users++;
    } else {
        co->stack = co_stack_get(env, stack_size_of(attr));
        if (co->stack == NULL) {
            free(co);
            return -ENOMEM;
        }
        co->ctx.sp = co_frame_make(co, co->stack->base + co->stack->size);
    }
    env->counters.created++;
    if (++env->counters.live > env->counters.peak_live)
        env->counters.peak_live = env->counters.live;
    *out = co;
    return 0;
}

static void check_not_running(const char *op, struct stCoRoutine_t *co)
{
    if (CO_UNLIKELY(co->env != co_env_tls))
        die_foreign(op, co);
    if (CO_UNLIKELY(co->is_main))
        describe_and_die(op, "the thread's main context cannot be released or reset", co);
    if (CO_UNLIKELY(co->depth != CO_DEPTH_PARKED && co->depth != CO_DEPTH_FINISHED))
        describe_and_die(op, "the coroutine is running (it is on the call stack)", co);
}

void co_release(struct stCoRoutine_t *co)
{
    struct co_env *env;

    if (co == NULL)
        return;
    check_not_running("co_release", co);
    env = co->env;
    if (co->shared) {
        co_shared_drop(co);
        co->shared->share->users--;
    } else {
        co_stack_put(env, co->stack);
    }
    co_specific_free(co);
    env->counters.live--;
    free(co);
}

void co_reset(struct stCoRoutine_t *co)
{
    check_not_running("co_reset", co);
    co->depth = CO_DEPTH_PARKED;
    if (co->shared) {
        co_shared_drop(co);
        co->fresh = 1;
        co->ctx.sp = co->shared->stack.base + co->shared->stack.size - CO_CTX_ABOVE_SP;
    } else {
        co->ctx.sp = co_frame_make(co, co->stack->base + co->stack->size);
    }
}

struct stCoRoutine_t *co_self(void)
{
    struct co_env *env = co_env_tls;

    return env == &co_env_none ? NULL : env->current;
}

struct stCoRoutine_t *co_get_current(void)
{
    return co_self();
}

int co_is_finished(const struct stCoRoutine_t *co)
{
    return co->depth == CO_DEPTH_FINISHED;
}

size_t co_saved_bytes(const struct stCoRoutine_t *co)
{
    return co->shared && co->shared->owner != co ? co->save_len : 0;
}
