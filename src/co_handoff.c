/* SPDX-License-Identifier: Apache-2.0 */
/* co_handoff.c — the shared-stack handoff: save the owner's frames, restore the incoming ones. */
#include <stdlib.h>
#include <string.h>

#include "co_internal.h"
#include "co_sanitizer.h"

/*
 * Runs on the env's scratch stack, between leaving one context and entering
 * `to`, so it may rewrite the run stack of either:
 *
 *   run stack of `to`            save buffers
 *   +-----------------+ top
 *   | owner's frames  | ----save---->  owner->save_buf
 *   |                 | <--restore---  to->save_buf
 *   +-----------------+ sp - CO_CTX_BELOW_SP
 *
 * Only the used part, [sp - CO_CTX_BELOW_SP, top), is copied.  This and
 * the copy loop are the whole cost of a shared-stack switch, so they are
 * compiled twice -- for AVX2 and for the baseline ISA -- and each thread
 * picks one when it creates its first shared coroutine.
 */

#ifdef CO_ASAN
/* The frames carry the previous owner's redzones; copying them is not a bug. */
#define CO_NO_ASAN __attribute__((no_sanitize_address))
#else
#define CO_NO_ASAN
#endif

/* A save buffer may waste this much before it is shrunk to fit. */
#define CO_SAVE_SLACK 4096u

typedef char co_vec __attribute__((vector_size(32), aligned(1), may_alias));
typedef char co_v16 __attribute__((vector_size(16), aligned(1), may_alias));

#define LD(p)     (*(const co_vec *)(p))
#define ST(p, v)  (*(co_vec *)(p) = (v))

/*
 * Copies n bytes (n a multiple of 16, at least 16) between buffers that do
 * not overlap.  Short copies load everything from both ends first (the
 * overlap is copied twice, harmlessly); longer ones move 256 bytes a turn
 * from the front and finish with the last 256 bytes, so a copy of n bytes
 * costs about 18 instructions per 256 plus a constant: no 32-byte loop
 * for the rest, which made 300 B cost as much as 1 KiB.
 */
static inline __attribute__((always_inline)) CO_NO_ASAN
void co_copy(char *d, const char *s, size_t n)
{
    if (CO_LIKELY(n > 256)) {
        /* Whole turns end where the last 256 bytes begin (or overlap them);
         * one pointer walks the source, the destination is at a fixed distance. */
        const char *end = s + ((n - 1) & ~(size_t)255), *se = s + n - 256;
        ptrdiff_t to = d - s;

        for (const char *p = s; p != end; p += 256) {
#pragma GCC unroll 8
            for (int k = 0; k < 256; k += 32)
                ST(p + to + k, LD(p + k));
        }
#pragma GCC unroll 8
        for (int k = 0; k < 256; k += 32)
            ST(se + to + k, LD(se + k));
        return;
    }
    if (n > 128) {
        co_vec a = LD(s), b = LD(s + 32), c = LD(s + 64), e = LD(s + 96);
        co_vec f = LD(s + n - 128), g = LD(s + n - 96), h = LD(s + n - 64), k = LD(s + n - 32);
        ST(d, a); ST(d + 32, b); ST(d + 64, c); ST(d + 96, e);
        ST(d + n - 128, f); ST(d + n - 96, g); ST(d + n - 64, h); ST(d + n - 32, k);
    } else if (n > 64) {
        co_vec a = LD(s), b = LD(s + 32), c = LD(s + n - 64), e = LD(s + n - 32);
        ST(d, a); ST(d + 32, b); ST(d + n - 64, c); ST(d + n - 32, e);
    } else if (n > 32) {
        co_vec a = LD(s), b = LD(s + n - 32);
        ST(d, a); ST(d + n - 32, b);
    } else {
        co_v16 a = *(const co_v16 *)s, b = *(const co_v16 *)(s + n - 16);
        *(co_v16 *)d = a;
        *(co_v16 *)(d + n - 16) = b;
    }
}

static int under_memcheck;

/* Largest inline save area a share hands its new coroutines. */
#define CO_INLINE_SAVE_MAX 1024u

/* Goes back to the inline save area (possibly none), freeing a heap buffer. */
void co_save_buf_drop(struct co_env *env, struct stCoRoutine_t *co)
{
    if (co->save_buf != co_inline_save(co))
        free(co->save_buf);
    env->counters.save_bytes_held -= co->save_cap - co->inline_cap;
    co->save_buf = co->inline_cap ? co_inline_save(co) : NULL;
    co->save_cap = co->inline_cap;
    co->save_len = 0;
}

/*
 * Gives co a save buffer of at least len bytes, or shrinks a far larger
 * one: its inline area when that fits, else the heap.  The share learns the
 * size, so the coroutines it creates next get an inline area that fits.
 */
void co_save_buf_resize(struct co_env *env, struct stCoRoutine_t *co, size_t len)
{
    size_t cap = (len + 15) & ~(size_t)15;

    co_save_buf_drop(env, co);
    if (cap > co->inline_cap) {
        co->save_buf = malloc(cap);
        if (co->save_buf == NULL) {
            char who[160];
            co_die("out of memory saving %zu bytes of stack of %s", len,
                   co_describe(co, who, sizeof who));
        }
        co->save_cap = (uint32_t)cap;
        env->counters.save_bytes_held += cap - co->inline_cap;
    }
    if (cap <= CO_INLINE_SAVE_MAX)
        co->shared->share->save_hint = (uint32_t)cap;
}

/* Every case: first switch (build the frames), empty run stack, buffer resize, tools. */
static __attribute__((noinline)) CO_NO_ASAN void handoff_general(struct stCoRoutine_t *to)
{
    struct co_run_stack *rs = to->shared;
    struct co_env *env = rs->env;
    struct stCoRoutine_t *owner = rs->owner;
    char *top = rs->top;

    if (owner != NULL) {
        char *lo = (char *)owner->ctx.sp - CO_CTX_BELOW_SP;
        uint32_t len = (uint32_t)(top - lo);

        if (owner->save_cap - len > CO_SAVE_SLACK)   /* too small, or far too big */
            co_save_buf_resize(env, owner, len);
        co_asan_unpoison(lo, len);
        memcpy(owner->save_buf, lo, len);
        owner->save_len = len;
        owner->gate |= CO_EVICTED;
        env->counters.copies_out++;
        env->counters.bytes_copied += len;
    } else {
        env->counters.shared_occupied++;
    }
    if (to->gate & CO_FRESH) {
        to->ctx.sp = co_frame_make(to, top, (uint64_t)(uintptr_t)to->ctx.sp);   /* see shared_start_over */
    } else {
        char *lo = (char *)to->ctx.sp - CO_CTX_BELOW_SP;
        if (under_memcheck)
            co_vg_make_undefined(lo, to->save_len);
        co_asan_unpoison(lo, to->save_len);
        memcpy(lo, to->save_buf, to->save_len);
        env->counters.copies_in++;
        env->counters.bytes_copied += to->save_len;
    }
    to->gate &= ~(uintptr_t)(CO_EVICTED | CO_FRESH);
    rs->owner = to;
}

/*
 * The case that repeats: an owner to evict into a buffer that fits, and
 * saved frames to restore.  A leaf function (anything else goes to
 * handoff_general), so it needs no frame and no saved registers.
 */
static inline __attribute__((always_inline)) CO_NO_ASAN
void handoff_body(struct stCoRoutine_t *to)
{
#ifdef CO_ASAN
    handoff_general(to);
#else
    struct co_run_stack *rs = to->shared;
    struct stCoRoutine_t *owner = rs->owner;
    char *olo, *tlo;
    uint32_t olen, tlen;

    if (CO_UNLIKELY(owner == NULL || (to->gate & CO_FRESH))) {
        handoff_general(to);
        return;
    }
    olo = (char *)owner->ctx.sp - CO_CTX_BELOW_SP;
    olen = (uint32_t)(rs->top - olo);
    if (CO_UNLIKELY(owner->save_cap - olen > CO_SAVE_SLACK)) {
        handoff_general(to);
        return;
    }
    co_copy(owner->save_buf, olo, olen);
    owner->save_len = olen;
    owner->gate |= CO_EVICTED;
    tlo = (char *)to->ctx.sp - CO_CTX_BELOW_SP;
    tlen = to->save_len;
    co_copy(tlo, to->save_buf, tlen);
    to->gate &= ~(uintptr_t)CO_EVICTED;
    rs->owner = to;
    rs->env->counters.copies_out++;
    rs->env->counters.bytes_copied += (uint64_t)olen + tlen;
    rs->env->counters.copies_in++;
#endif
}

static CO_NO_ASAN void handoff_generic(struct stCoRoutine_t *to)
{
    handoff_body(to);
}

#if defined(__x86_64__)
static __attribute__((target("avx2"))) CO_NO_ASAN void handoff_avx2(struct stCoRoutine_t *to)
{
    handoff_body(to);
}
#endif

void (*co_handoff_select(void))(struct stCoRoutine_t *to)
{
#if defined(HAVE_VALGRIND_VALGRIND_H)
    /* valgrind preloads its tool's helper library: vgpreload_<tool>-<arch>.so */
    const char *preload = getenv("LD_PRELOAD");
    under_memcheck = RUNNING_ON_VALGRIND && preload && strstr(preload, "vgpreload_memcheck");
    if (under_memcheck)
        return handoff_general;
#endif
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2"))
        return handoff_avx2;
#endif
    return handoff_generic;
}
