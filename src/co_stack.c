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
        if (rs->env)
            rs->env->counters.shared_stacks--;
        co_stack_unmap(&rs->stack);
    }
    free(share);
    return 0;
}

/*
 * Copies the frames of co, parked on its run stack, into its save buffer:
 * [sp - CO_CTX_BELOW_SP, top).  The buffer is sized to the frames (grown as
 * needed, shrunk when far too big) and kept while co lives, so coroutines
 * that take turns on one stack do not allocate on every switch.
 */
static void stack_save(struct co_env *env, struct stCoRoutine_t *co, char *top)
{
    char *lo = (char *)co->ctx.sp - CO_CTX_BELOW_SP;
    size_t len = (size_t)(top - lo);

    if (len > co->save_cap || (co->save_cap > 1024 && co->save_cap / 4 > len)) {
        size_t cap = (len + 15) & ~(size_t)15;
        free(co->save_buf);
        env->counters.save_bytes_held -= co->save_cap;
        co->save_buf = malloc(cap);
        if (co->save_buf == NULL) {
            char who[160];
            co_die("out of memory saving %zu bytes of stack of %s", len,
                   co_describe(co, who, sizeof who));
        }
        co->save_cap = (uint32_t)cap;
        env->counters.save_bytes_held += cap;
    }
    co_asan_unpoison(lo, len);
    memcpy(co->save_buf, lo, len);
    co->save_len = (uint32_t)len;
    env->counters.copies_out++;
    env->counters.bytes_copied += len;
}

static void stack_restore(struct co_env *env, struct stCoRoutine_t *co)
{
    char *lo = (char *)co->ctx.sp - CO_CTX_BELOW_SP;

    co_vg_make_undefined(lo, co->save_len);
    co_asan_unpoison(lo, co->save_len);
    memcpy(lo, co->save_buf, co->save_len);
    env->counters.copies_in++;
    env->counters.bytes_copied += co->save_len;
}

/*
 * Runs on the env's scratch stack, between leaving one context and entering
 * handoff_to, so it may rewrite the run stack of either:
 *
 *   run stack of `to`            save buffers
 *   +-----------------+ top
 *   | owner's frames  | ----save---->  owner->save_buf
 *   |                 | <--restore---  to->save_buf
 *   +-----------------+ sp - CO_CTX_BELOW_SP
 */
static void stack_handoff(void *arg)
{
    struct co_env *env = arg;
    struct stCoRoutine_t *to = env->handoff_to;
    struct co_run_stack *rs = to->shared;
    char *top = rs->stack.base + rs->stack.size;

    if (rs->owner != NULL) {
        stack_save(env, rs->owner, top);
        rs->owner->gate |= CO_EVICTED;
    } else {
        env->counters.shared_occupied++;
    }
    if (to->gate & CO_FRESH)
        to->ctx.sp = co_frame_make(to, top);
    else
        stack_restore(env, to);
    to->gate &= ~(uintptr_t)(CO_EVICTED | CO_FRESH);
    rs->owner = to;
}

/* Switches to `to` (CO_EVICTED): its run stack holds someone else's frames, or none. */
void co_switch_shared(struct co_env *env, struct stCoRoutine_t *to, struct stCoRoutine_t *from)
{
    if (CO_UNLIKELY(env->scratch == NULL)) {
        struct co_stack scratch;
        if (co_stack_map(&scratch, CO_SCRATCH_SIZE) != 0)
            co_die("out of memory mapping the shared-stack scratch stack");
        env->scratch = scratch.base;
        env->scratch_size = scratch.size;
        env->scratch_vg_id = scratch.vg_id;
    }
    env->handoff_to = to;
    coctx_switch_via(&to->ctx, &from->ctx, stack_handoff, env, env->scratch + env->scratch_size);
}

/* co no longer needs its frames (finished, reset or released): forget them. */
void co_shared_drop(struct stCoRoutine_t *co)
{
    struct co_env *env = co_env_of(co);
    struct co_run_stack *rs = co->shared;

    if (rs->owner == co) {
        rs->owner = NULL;
        env->counters.shared_occupied--;
    }
    free(co->save_buf);
    env->counters.save_bytes_held -= co->save_cap;
    co->save_buf = NULL;
    co->save_len = co->save_cap = 0;
}
