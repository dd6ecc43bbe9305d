/* SPDX-License-Identifier: Apache-2.0 */
/* co_routine.c — coroutine lifecycle and the resume/yield switch paths. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "co_internal.h"
#include "co_sanitizer.h"

/*
 * The call stack is a chain: each running coroutine points at its resumer
 * and env->current at the innermost one; env->depth_left bounds its length.
 *
 * The fast paths (co_resume, co_yield_ct) are what every switch pays, so
 * they test one word each: co_resume needs the target's gate to equal the
 * thread's env (its thread, parked, frames in place), co_yield_ct needs
 * the resumer not CO_EVICTED.
 * Everything else -- a shared-stack restore, misuse, the depth limit --
 * is sorted out on the slow paths.  The switch counter is bumped by two
 * per resume: the switch in and the one that will come back.
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

    co_die("%s from thread %lu on %s: a coroutine may only be used by the thread that created it%s",
           op, env == &co_env_none ? (unsigned long)gettid() : env->thread_id,
           co_describe(co, who, sizeof who),
           co_env_of(co)->dead ? " (which has exited)" : "");
}

#ifdef CO_ASAN
static void stack_bounds(const struct stCoRoutine_t *co, const void **lo, size_t *size)
{
    if (co->is_main) {
        *lo = co_env_of(co)->main_stack_lo;
        *size = co_env_of(co)->main_stack_size;
    } else if (co->on_shared) {
        *lo = co->shared->stack.base;
        *size = co->shared->stack.size;
    } else {
        *lo = co->stack->base;
        *size = co->stack->size;
    }
}

static void asan_leave(struct stCoRoutine_t *from, const struct stCoRoutine_t *to)
{
    const void *lo;
    size_t size;

    stack_bounds(to, &lo, &size);
    co_asan_start_switch(from ? &from->asan_fake : NULL, lo, size);
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
#define ASAN_LEAVE(from, to) asan_leave((from), (to))
#define ASAN_ARRIVE(self) co_asan_finish_switch((self)->asan_fake)
#else
#define CO_ENTRY(co) ((co)->fn)
#define CO_ENTRY_ARG(co) ((co)->arg)
#define ASAN_LEAVE(from, to) ((void)0)
#define ASAN_ARRIVE(self) ((void)0)
#endif

_Static_assert(offsetof(struct stCoRoutine_t, ctx) == 0, "ctx first");
_Static_assert(offsetof(struct stCoRoutine_t, gate) == CO_OFF_CO_GATE, "CO_OFF_CO_GATE");
_Static_assert(offsetof(struct stCoRoutine_t, resumer) == CO_OFF_CO_RESUMER, "CO_OFF_CO_RESUMER");
_Static_assert(sizeof(((struct stCoRoutine_t *)0)->gate) == 8, "gate is a pointer-sized word");
_Static_assert(_Alignof(struct co_env) > CO_GATE_FLAGS, "env pointers leave the flag bits free");
#ifndef CO_ASAN
/* With an 80-byte save area, a parked coroutine is one 160-byte block. */
_Static_assert(sizeof(struct stCoRoutine_t) <= 80, "coroutine struct grew past 80 bytes");
#endif
_Static_assert(sizeof(struct stCoRoutine_t) % 16 == 0, "the inline save area that follows is 16-aligned");
_Static_assert(offsetof(struct co_env, current) == CO_OFF_ENV_CURRENT, "CO_OFF_ENV_CURRENT");
_Static_assert(offsetof(struct co_env, depth_left) == CO_OFF_ENV_DEPTH_LEFT, "CO_OFF_ENV_DEPTH_LEFT");
_Static_assert(offsetof(struct co_env, counters.switches) == CO_OFF_ENV_SWITCHES, "CO_OFF_ENV_SWITCHES");
_Static_assert(offsetof(struct co_env, handoff) == CO_OFF_ENV_HANDOFF, "CO_OFF_ENV_HANDOFF");
_Static_assert(offsetof(struct co_env, scratch_top) == CO_OFF_ENV_SCRATCH_TOP, "CO_OFF_ENV_SCRATCH_TOP");

/* co_resume when co->gate != env: wrong thread, flags set, or the depth used up. */
void co_resume_slow(struct stCoRoutine_t *co)
{
    struct co_env *env = co_env_tls;
    struct stCoRoutine_t *from;

    if (co_env_of(co) != env)
        die_foreign("co_resume", co);
    if (co->gate & CO_FINISHED)
        describe_and_die("co_resume", "the coroutine has finished", co);
    if (co->gate & CO_RUNNING)
        describe_and_die("co_resume", co->is_main ? "a thread's main context cannot be resumed"
                                                  : "the coroutine is already running", co);
    if (co_flags(co) == 0)   /* the fast path took a level that was not there */
        env->depth_left++;
    if (env->depth_left <= 0)
        co_die("co_resume: coroutine call stack deeper than %d (CO_MAX_DEPTH): runaway nested resumes?",
               CO_MAX_DEPTH);
    env->depth_left--;
    from = env->current;
    co->resumer = from;
    co->gate |= CO_RUNNING;
    env->current = co;
    env->counters.switches += 2;
    ASAN_LEAVE(from, co);
    co_switch_shared(env, co, from);
    ASAN_ARRIVE(from);
}

#ifndef CO_FASTPATH_ASM   /* else in co_fastpath_<arch>.S */
void co_resume(struct stCoRoutine_t *co)
{
    struct co_env *env = co_env_tls;
    struct stCoRoutine_t *from;

    if (CO_UNLIKELY(co->gate != (uintptr_t)env || --env->depth_left < 0)) {
        co_resume_slow(co);
        return;
    }
    from = env->current;
    co->resumer = from;
    co->gate = (uintptr_t)env | CO_RUNNING;
    env->current = co;
    env->counters.switches += 2;
    ASAN_LEAVE(from, co);
    coctx_switch(&co->ctx, &from->ctx);
    ASAN_ARRIVE(from);
}

#endif /* !CO_FASTPATH_ASM */

/* co_yield_ct when the resumer's frames must be restored, or there is no resumer. */
void co_yield_slow(struct co_env *env, struct stCoRoutine_t *cur, struct stCoRoutine_t *to)
{
    if (to == &co_no_resumer)
        co_die("co_yield_ct: called outside a coroutine (in a thread's main context)");
    ASAN_LEAVE(cur, to);
    co_switch_shared(env, to, cur);
    ASAN_ARRIVE(cur);
}

#ifndef CO_FASTPATH_ASM
void co_yield_ct(void)
{
    struct co_env *env = co_env_tls;
    struct stCoRoutine_t *cur = env->current;
    struct stCoRoutine_t *to = cur->resumer;

    env->current = to;
    cur->gate = (uintptr_t)env;
    env->depth_left++;
    if (CO_UNLIKELY(to->gate & CO_EVICTED)) {
        co_yield_slow(env, cur, to);
        return;
    }
    ASAN_LEAVE(cur, to);
    coctx_switch(&to->ctx, &cur->ctx);
    ASAN_ARRIVE(cur);
}
#endif /* !CO_FASTPATH_ASM */

void co_yield(struct stCoRoutine_t *co)
{
    if (CO_UNLIKELY(co_env_of(co) != co_env_tls))
        die_foreign("co_yield", co);
    co_yield_ct();
}

/* Where a routine's return lands (via coctx_trampoline): finish, leave for good. */
void co_exit(struct stCoRoutine_t *co, void *ret)
{
    struct co_env *env = co_env_of(co);
    struct stCoRoutine_t *to = co->resumer;

    (void)ret;
    co_set_flags(co, CO_FINISHED);
    env->current = to;
    env->depth_left++;
    if (co->on_shared)
        co_shared_drop(co);
    ASAN_LEAVE(NULL, to);
    if (to->gate & CO_EVICTED)
        co_switch_shared(env, to, co);
    else
        coctx_switch(&to->ctx, &co->ctx);
    co_die("a finished coroutine was resumed");
}

/* Builds co's initial frame below top; returns the sp for its context. */
void *co_frame_make(struct stCoRoutine_t *co, char *top, uint64_t fpstate)
{
    return coctx_make(top, co, CO_ENTRY(co), CO_ENTRY_ARG(co), co_exit, fpstate);
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

/*
 * A shared coroutine's frames are built on its run stack when first
 * switched to; until then its ctx.sp holds the creator's floating-point
 * control state for them.
 */
static void shared_start_over(struct stCoRoutine_t *co)
{
    co_set_flags(co, CO_EVICTED | CO_FRESH);
    co->ctx.sp = (void *)(uintptr_t)coctx_fpstate();
}

/* The caller's bytes of co_create_with sit after the record and its inline save area. */
#define CO_DATA_ALIGN 16
static size_t data_offset(uint32_t inline_cap)
{
    return (sizeof(struct stCoRoutine_t) + inline_cap + CO_DATA_ALIGN - 1) & ~(size_t)(CO_DATA_ALIGN - 1);
}

static int create(struct stCoRoutine_t **out, const struct stCoRoutineAttr_t *attr, void *(*routine)(void *),
                  void *arg, size_t extra, void **data)
{
    struct co_env *env = co_env_tls;
    struct stShareStack_t *share = attr ? attr->share_stack : NULL;
    struct stCoRoutine_t *co;
    uint32_t inline_cap;

    if (CO_UNLIKELY(env == &co_env_none) && (env = co_env_get()) == NULL)
        return -ENOMEM;
    if (out == NULL || routine == NULL)
        return -EINVAL;
    if (share != NULL && CO_UNLIKELY(env->scratch_top == NULL) && co_shared_env_init(env) != 0)
        return -ENOMEM;
    inline_cap = share ? share->save_hint : 0;
    if (data == NULL) {
        co = malloc(sizeof *co + inline_cap);   /* every field is set below: no memset */
        if (co == NULL)
            return -ENOMEM;
    } else {
        if (extra > ((size_t)1 << 30) || (co = malloc(data_offset(inline_cap) + extra)) == NULL)
            return -ENOMEM;
        *data = (char *)co + data_offset(inline_cap);
        memset(*data, 0, extra);
        arg = *data;
    }
    /* Field by field: a compound literal compiles to rep stos, slow to start. */
    co->gate = (uintptr_t)env;
    co->resumer = NULL;
    co->stack = NULL;
    co->on_shared = share != NULL;
    co->fn = routine;
    co->arg = arg;
    co->save_buf = inline_cap ? co_inline_save(co) : NULL;
    co->specific = NULL;
    co->save_len = 0;
    co->save_cap = co->inline_cap = (uint16_t)inline_cap;
    co->is_main = co->hooks = 0;
#ifdef CO_ASAN
    co->asan_fake = NULL;
#endif
    if (share != NULL) {
        struct co_run_stack *rs = &share->run[share->next];
        if (++share->next == (unsigned)share->count)
            share->next = 0;
        if (rs->env == NULL) {
            rs->env = env;
            env->counters.shared_stacks++;
        } else if (rs->env != env) {
            free(co);
            return -EINVAL;   /* a run stack serves one thread */
        }
        co->shared = rs;
        shared_start_over(co);
        share->users++;
    } else {
        co->stack = co_stack_get(env, stack_size_of(attr));
        if (co->stack == NULL) {
            free(co);
            return -ENOMEM;
        }
        co->ctx.sp = co_frame_make(co, co->stack->base + co->stack->size, coctx_fpstate());
    }
    env->counters.save_bytes_held += inline_cap;
    env->counters.created++;
    if (++env->counters.live > env->counters.peak_live)
        env->counters.peak_live = env->counters.live;
    *out = co;
    return 0;
}

int co_create(struct stCoRoutine_t **out, const struct stCoRoutineAttr_t *attr,
              void *(*routine)(void *), void *arg)
{
    return create(out, attr, routine, arg, 0, NULL);
}

int co_create_with(struct stCoRoutine_t **out, const struct stCoRoutineAttr_t *attr,
                   void *(*routine)(void *), size_t extra, void **data)
{
    if (data == NULL)
        return -EINVAL;
    return create(out, attr, routine, NULL, extra, data);
}

static void check_not_running(const char *op, struct stCoRoutine_t *co)
{
    if (CO_UNLIKELY(co_env_of(co) != co_env_tls))
        die_foreign(op, co);
    if (CO_UNLIKELY(co->is_main))
        describe_and_die(op, "the thread's main context cannot be released or reset", co);
    if (CO_UNLIKELY(co->gate & CO_RUNNING))
        describe_and_die(op, "the coroutine is running (it is on the call stack)", co);
}

void co_release(struct stCoRoutine_t *co)
{
    struct co_env *env;

    if (co == NULL)
        return;
    check_not_running("co_release", co);
    env = co_env_of(co);
    if (co->on_shared) {
        co_shared_drop(co);
        co->shared->share->users--;
    } else {
        co_stack_put(env, co->stack);
    }
    co_specific_free(co);
    env->counters.save_bytes_held -= co->inline_cap;
    env->counters.live--;
    free(co);
}

void co_reset(struct stCoRoutine_t *co)
{
    check_not_running("co_reset", co);
    if (co->on_shared) {
        co_shared_drop(co);
        shared_start_over(co);
    } else {
        co_set_flags(co, 0);
        co_asan_unpoison(co->stack->base, co->stack->size);   /* its parked frames' redzones */
        co->ctx.sp = co_frame_make(co, co->stack->base + co->stack->size, coctx_fpstate());
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
    return (co->gate & CO_FINISHED) != 0;
}

size_t co_saved_bytes(const struct stCoRoutine_t *co)
{
    return co->on_shared && (co->gate & (CO_EVICTED | CO_FRESH | CO_FINISHED)) == CO_EVICTED
           ? co->save_len : 0;
}
