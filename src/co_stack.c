/* SPDX-License-Identifier: Apache-2.0 */
/* co_stack.c — coroutine stacks: private stacks with guard pages, and shared run stacks. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "co_internal.h"
#include "co_sanitizer.h"

/* Private stacks kept for reuse per thread; beyond this they are unmapped. */
#define CO_STACK_CACHE_MAX 256
/* The stack the shared-stack copy runs on (memcpy needs little). */
#define CO_SCRATCH_SIZE (64 * 1024)

static size_t page_size(void)
{
    static size_t page;

    if (page == 0)
        page = (size_t)sysconf(_SC_PAGESIZE);
    return page;
}

/*
 * Maps size usable bytes (a multiple of the page size) with one PROT_NONE
 * guard page below them; the pages are reserved, not committed, so only
 * what the coroutine touches becomes resident.  Returns 0 or -errno.
 */
int co_stack_map(struct co_stack *stack, size_t size)
{
    size_t guard = page_size();
    char *map;

    map = mmap(NULL, size + guard, PROT_READ | PROT_WRITE,
               MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (map == MAP_FAILED)
        return -errno;
    if (mprotect(map, guard, PROT_NONE) != 0) {
        int err = -errno;
        munmap(map, size + guard);
        return err;
    }
    stack->base = map + guard;
    stack->size = size;
    stack->map_size = size;
    stack->next_free = NULL;
    stack->vg_id = co_vg_stack_register(stack->base, stack->base + size);
    return 0;
}

void co_stack_unmap(struct co_stack *stack)
{
    co_vg_stack_deregister(stack->vg_id);
    munmap(stack->base - page_size(), stack->map_size + page_size());
}

/*
 * A private stack of size bytes (page multiple), from the thread's cache or
 * freshly mapped; NULL if out of memory (or out of mappings:
 * vm.max_map_count bounds how many stacks a process can have).  The struct
 * lives in the stack's own top bytes, so a stack costs no heap allocation.
 */
struct co_stack *co_stack_get(struct co_env *env, size_t size)
{
    struct co_stack **link, *stack, tmp;

    for (link = &env->stack_cache; (stack = *link) != NULL; link = &stack->next_free) {
        if (stack->map_size == size) {
            *link = stack->next_free;
            env->counters.stacks_cached--;
            return stack;
        }
    }
    if (co_stack_map(&tmp, size) != 0)
        return NULL;
    stack = (struct co_stack *)(tmp.base + size) - 1;
    *stack = tmp;
    stack->size = (size_t)((char *)stack - stack->base) & ~(size_t)15;   /* 16-aligned top */
    env->counters.stacks_mapped++;
    return stack;
}

void co_stack_put(struct co_env *env, struct co_stack *stack)
{
    co_asan_unpoison(stack->base, stack->size);   /* a parked owner's redzones */
    if (env->counters.stacks_cached >= CO_STACK_CACHE_MAX) {
        struct co_stack whole = *stack;   /* the struct goes with the mapping */
        env->counters.stacks_mapped--;
        co_stack_unmap(&whole);
        return;
    }
    stack->next_free = env->stack_cache;
    env->stack_cache = stack;
    env->counters.stacks_cached++;
}

void co_stack_cache_drain(struct co_env *env)
{
    struct co_stack *stack;

    while ((stack = env->stack_cache) != NULL) {
        struct co_stack whole = *stack;
        env->stack_cache = stack->next_free;
        env->counters.stacks_cached--;
        env->counters.stacks_mapped--;
        co_stack_unmap(&whole);
    }
}

/* ---- shared stacks ------------------------------------------------------ */

struct stShareStack_t *co_alloc_sharestack(int count, int stack_size)
{
    struct stShareStack_t *share;
    size_t size;
    int i;

    if (count <= 0)
        return NULL;
    if (stack_size <= 0)
        stack_size = CO_DEFAULT_STACK;
    if (stack_size > CO_MAX_STACK)
        stack_size = CO_MAX_STACK;
    size = ((size_t)stack_size + page_size() - 1) & ~(page_size() - 1);
    share = calloc(1, sizeof *share + (size_t)count * sizeof share->run[0]);
    if (share == NULL)
        return NULL;
    share->count = count;
    share->stack_size = size;
    for (i = 0; i < count; i++) {
        if (co_stack_map(&share->run[i].stack, size) != 0) {
            while (i-- > 0)
                co_stack_unmap(&share->run[i].stack);
            free(share);
            return NULL;
        }
        share->run[i].share = share;
        share->run[i].top = share->run[i].stack.base + share->run[i].stack.size;
    }
    return share;
}

int co_free_sharestack(struct stShareStack_t *share)
{
    int i;

    if (share == NULL)
        return 0;
    if (share->users != 0)
        return -EBUSY;
    for (i = 0; i < share->count; i++) {
        struct co_run_stack *rs = &share->run[i];
        co_stack_unmap(&rs->stack);
        if (rs->env) {
            rs->env->counters.shared_stacks--;
            co_env_release_zombie(rs->env);
        }
    }
    free(share);
    return 0;
}

int co_sharestack_trim(struct stShareStack_t *share)
{
    struct co_env *env = co_env_get();

    if (share == NULL || env == NULL)
        return -EINVAL;
    if (!env->current->is_main)
        return -EDEADLK;   /* a coroutine may be running on one of them */
    for (int i = 0; i < share->count; i++) {
        struct co_run_stack *rs = &share->run[i];
        uintptr_t lo = ((uintptr_t)rs->stack.base + page_size() - 1) & ~(uintptr_t)(page_size() - 1);
        uintptr_t hi = (uintptr_t)rs->top;

        if (rs->env != env && rs->env != NULL)
            return -EPERM;   /* another thread's share */
        if (rs->owner != NULL)   /* its parked frames stay; below them is free */
            hi = (uintptr_t)rs->owner->ctx.sp - CO_CTX_BELOW_SP - 128;
        hi &= ~(uintptr_t)(page_size() - 1);
        if (hi > lo)
            madvise((void *)lo, hi - lo, MADV_DONTNEED);
    }
    return 0;
}

/* Maps the thread's scratch stack and picks its handoff; before its first shared coroutine. */
int co_shared_env_init(struct co_env *env)
{
    struct co_stack scratch;
    int err;

    if (env->scratch_top != NULL)
        return 0;
    err = co_stack_map(&scratch, CO_SCRATCH_SIZE);
    if (err != 0)
        return err;
    env->scratch = scratch.base;
    env->scratch_size = scratch.size;
    env->scratch_vg_id = scratch.vg_id;
    env->scratch_top = scratch.base + scratch.size;
    env->handoff = co_handoff_select();
    return 0;
}

/* Switches to `to` (CO_EVICTED): its run stack holds someone else's frames, or none. */
void co_switch_shared(struct co_env *env, struct stCoRoutine_t *to, struct stCoRoutine_t *from)
{
    coctx_switch_via(&to->ctx, &from->ctx, (void (*)(void *))env->handoff, to, env->scratch_top);
}

/* co no longer needs its frames (finished, reset or released): forget them. */
void co_shared_drop(struct stCoRoutine_t *co)
{
    struct co_env *env = co_env_of(co);
    struct co_run_stack *rs = co->shared;

    if (rs->owner == co) {
        co_asan_unpoison(rs->stack.base, rs->stack.size);
        rs->owner = NULL;
        env->counters.shared_occupied--;
    }
    co_save_buf_drop(env, co);
}
