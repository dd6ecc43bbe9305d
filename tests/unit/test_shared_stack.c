/* SPDX-License-Identifier: Apache-2.0 */
/* test_shared_stack.c — coroutines taking turns on shared stacks keep their frames intact. */
#include <errno.h>
#include <stdint.h>
#include <sys/mman.h>
#include "unit.h"
#include "costack.h"

/* xorshift: reproducible "random" interleavings */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rng(void)
{
    return unit_xorshift(&rng_state);
}

struct worker {
    struct stCoRoutine_t *co;
    int id;
    int rounds;
    int verified;
};

static uint64_t fill(volatile uint64_t *a, int n, uint64_t seed)
{
    uint64_t sum = 0;
    for (int i = 0; i < n; i++) {
        a[i] = seed * 0x100000001b3ull + (uint64_t)i * 0x9e3779b97f4a7c15ull;
        sum += a[i] ^ (uint64_t)i;
    }
    return sum;
}

static uint64_t sum_of(volatile uint64_t *a, int n)
{
    uint64_t sum = 0;
    for (int i = 0; i < n; i++)
        sum += a[i] ^ (uint64_t)i;
    return sum;
}

/* Each level keeps a checksummed array; the deepest level yields. */
static void recurse(struct worker *w, int level, int round)
{
    volatile uint64_t local[24];
    uint64_t expect = fill(local, 24, ((uint64_t)w->id << 32) ^ ((uint64_t)level << 16) ^ (uint64_t)round);

    if (level > 0)
        recurse(w, level - 1, round);
    else
        co_yield_ct();
    CHECK(sum_of(local, 24) == expect);
    w->verified++;
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;

    for (int round = 0; round < w->rounds; round++)
        recurse(w, (int)(rng() % 40), round);
    return NULL;
}

static void test_many_coroutines_random_interleaving(void)
{
    enum { N = 1000, STACKS = 4 };
    struct stShareStack_t *share = co_alloc_sharestack(STACKS, 128 * 1024);
    struct stCoRoutineAttr_t attr = { .stack_size = 0, .share_stack = share };
    static struct worker w[N];
    struct co_counters before = co_get_counters(), after;
    int alive = N, i;

    CHECK(share != NULL);
    for (i = 0; i < N; i++) {
        w[i].id = i;
        w[i].rounds = 1 + (int)(rng() % 8);
        w[i].verified = 0;
        CHECK_EQ(co_create(&w[i].co, &attr, worker_main, &w[i]), 0);
    }
    while (alive > 0) {
        struct worker *x = &w[rng() % N];
        if (co_is_finished(x->co))
            continue;
        co_resume(x->co);
        if (co_is_finished(x->co))
            alive--;
    }
    after = co_get_counters();
    CHECK(after.copies_out - before.copies_out > (uint64_t)N);
    CHECK(after.copies_in - before.copies_in > (uint64_t)N);
    CHECK(after.bytes_copied > before.bytes_copied);
    CHECK_EQ(after.shared_stacks - before.shared_stacks, STACKS);
    CHECK_EQ(co_free_sharestack(share), -16);     /* -EBUSY: coroutines remain */
    for (i = 0; i < N; i++) {
        CHECK(w[i].verified > 0);
        co_release(w[i].co);
    }
    after = co_get_counters();
    CHECK_EQ(after.save_bytes_held, before.save_bytes_held);
    CHECK_EQ(after.shared_occupied, before.shared_occupied);
    CHECK_EQ(co_free_sharestack(share), 0);
}

/* Two coroutines with ~4 KiB live alternate on one run stack. */
static void *big_frames(void *arg)
{
    volatile unsigned char buf[4096];
    unsigned char tag = (unsigned char)(uintptr_t)arg;

    for (int round = 0; round < 100; round++) {
        for (int i = 0; i < 4096; i++)
            buf[i] = (unsigned char)(tag + i + round);
        co_yield_ct();
        for (int i = 0; i < 4096; i++)
            CHECK(buf[i] == (unsigned char)(tag + i + round));
    }
    return NULL;
}

static void test_two_alternate_with_copies(void)
{
    struct stShareStack_t *share = co_alloc_sharestack(1, 64 * 1024);
    struct stCoRoutineAttr_t attr = { .stack_size = 0, .share_stack = share };
    struct stCoRoutine_t *a, *b;
    struct co_counters before, after;

    CHECK_EQ(co_create(&a, &attr, big_frames, (void *)1), 0);
    CHECK_EQ(co_create(&b, &attr, big_frames, (void *)77), 0);
    before = co_get_counters();
    while (!co_is_finished(a) || !co_is_finished(b)) {
        if (!co_is_finished(a))
            co_resume(a);
        if (!co_is_finished(b))
            co_resume(b);
        if (!co_is_finished(a)) {
            CHECK(co_saved_bytes(a) >= 4096);      /* a was evicted by b */
            CHECK(co_saved_bytes(a) < 8192);       /* only the used part is saved */
        }
    }
    after = co_get_counters();
    CHECK(after.copies_out - before.copies_out >= 199);
    CHECK(after.bytes_copied - before.bytes_copied >= 199 * 2 * 4096ull);
    co_release(a);
    co_release(b);
    CHECK_EQ(co_free_sharestack(share), 0);
}

/*
 * Every size of saved frames from the least to past 4 KiB, 16 bytes apart:
 * the copy takes different paths by size (and by multiples of 256), so
 * each byte of a live array must come back at every one of them.
 */
struct sized {
    size_t len;
    unsigned char tag;
    int rounds_done;
};

static void *sized_frames(void *arg)
{
    struct sized *z = arg;
    volatile unsigned char buf[z->len];

    for (int round = 0; round < 3; round++) {
        for (size_t i = 0; i < z->len; i++)
            buf[i] = (unsigned char)(z->tag * 31 + i * 7 + (size_t)round);
        co_yield_ct();
        for (size_t i = 0; i < z->len; i++)
            CHECK(buf[i] == (unsigned char)(z->tag * 31 + i * 7 + (size_t)round));
        z->rounds_done++;
    }
    return NULL;
}

static void test_every_size_comes_back(void)
{
    struct stShareStack_t *share = co_alloc_sharestack(1, 64 * 1024);
    struct stCoRoutineAttr_t attr = { .stack_size = 0, .share_stack = share };
    size_t sizes_seen[2] = { (size_t)-1, 0 };

    for (size_t len = 1; len <= 4400; len += 16) {
        struct sized za = { len, 1, 0 }, zb = { len + 8, 2, 0 };
        struct stCoRoutine_t *a, *b;

        CHECK_EQ(co_create(&a, &attr, sized_frames, &za), 0);
        CHECK_EQ(co_create(&b, &attr, sized_frames, &zb), 0);
        while (!co_is_finished(a) || !co_is_finished(b)) {
            if (!co_is_finished(a))
                co_resume(a);
            if (!co_is_finished(b))
                co_resume(b);
            if (!co_is_finished(a)) {   /* a evicted by b */
                size_t saved = co_saved_bytes(a);
                if (saved < sizes_seen[0])
                    sizes_seen[0] = saved;
                if (saved > sizes_seen[1])
                    sizes_seen[1] = saved;
            }
        }
        CHECK_EQ(za.rounds_done, 3);
        CHECK_EQ(zb.rounds_done, 3);
        co_release(a);
        co_release(b);
    }
    CHECK(sizes_seen[0] <= 512);    /* from small frames (aarch64's are bigger) ... */
    CHECK(sizes_seen[1] >= 4400);   /* ... to past 4 KiB */
    CHECK_EQ(co_free_sharestack(share), 0);
}

/* A resumes B on the same run stack: A's frames are copied while A is running. */
static struct stCoRoutine_t *inner;

static void *inner_main(void *arg)
{
    volatile char pad[1000];
    for (int i = 0; i < 1000; i++)
        pad[i] = (char)i;
    co_yield_ct();
    for (int i = 0; i < 1000; i++)
        CHECK(pad[i] == (char)i);
    return NULL;
}

static void *outer_main(void *arg)
{
    volatile uint64_t mine[64];
    uint64_t expect = fill(mine, 64, 12345);

    co_resume(inner);                /* evicts us from our own run stack */
    CHECK(sum_of(mine, 64) == expect);
    co_yield_ct();
    co_resume(inner);                /* inner finishes; we get our stack back */
    CHECK(sum_of(mine, 64) == expect);
    return NULL;
}

static void test_nested_resume_same_stack(void)
{
    struct stShareStack_t *share = co_alloc_sharestack(1, 64 * 1024);
    struct stCoRoutineAttr_t attr = { .stack_size = 0, .share_stack = share };
    struct stCoRoutine_t *outer;

    CHECK_EQ(co_create(&outer, &attr, outer_main, NULL), 0);
    CHECK_EQ(co_create(&inner, &attr, inner_main, NULL), 0);
    co_resume(outer);
    co_resume(outer);
    CHECK(co_is_finished(outer));
    CHECK(co_is_finished(inner));
    co_release(outer);
    co_release(inner);
    CHECK_EQ(co_free_sharestack(share), 0);
}

/* Shared and private coroutines mixed, reset of a parked shared one. */
static int starts[6];
static long counters[6];

static void *count_up(void *arg)
{
    starts[(long *)arg - counters]++;   /* how often the routine started from the top */
    for (;;) {
        ++*(long *)arg;
        co_yield_ct();
    }
    return NULL;
}

static void test_mixed_and_reset(void)
{
    struct stShareStack_t *share = co_alloc_sharestack(2, 32 * 1024);
    struct stCoRoutineAttr_t shared = { .stack_size = 0, .share_stack = share };
    struct stCoRoutine_t *co[6];
    long *n = counters;
    int i, r;

    for (i = 0; i < 6; i++)
        CHECK_EQ(co_create(&co[i], i % 2 ? &shared : NULL, count_up, &n[i]), 0);
    for (r = 0; r < 50; r++)
        for (i = 0; i < 6; i++)
            co_resume(co[(i * 5 + r) % 6]);
    for (i = 0; i < 6; i++)
        CHECK_EQ(n[i], 50);
    CHECK_EQ(starts[1], 1);
    co_reset(co[1]);          /* parked, evicted shared coroutine: starts over */
    co_reset(co[2]);          /* parked private one too */
    co_resume(co[1]);
    co_resume(co[2]);
    co_resume(co[3]);
    CHECK_EQ(starts[1], 2);
    CHECK_EQ(starts[2], 2);
    CHECK_EQ(starts[3], 1);
    CHECK_EQ(n[1], 51);
    CHECK_EQ(n[3], 51);
    for (i = 0; i < 6; i++)
        co_release(co[i]);
    CHECK_EQ(co_free_sharestack(share), 0);
}

/* ---- co_sharestack_trim: free pages go back, parked frames stay ---- */

static uintptr_t deep_low;   /* the lowest byte the deep routine touched */

static __attribute__((noinline)) void touch_deep(void)
{
    volatile char big[48 * 1024];
    for (size_t i = 0; i < sizeof big; i += 512)
        big[i] = (char)i;
    deep_low = (uintptr_t)&big[0];
}

static void *deep_then_park(void *arg)
{
    volatile char mine[256];

    touch_deep();                      /* 48 KiB of the run stack in use once */
    for (int i = 0; i < 256; i++)
        mine[i] = (char)(i ^ 0x5a);
    CHECK_EQ(co_sharestack_trim(arg), -EDEADLK);   /* not from a coroutine */
    co_yield_ct();                     /* parked: its frames must survive a trim */
    for (int i = 0; i < 256; i++)
        CHECK_EQ(mine[i], (char)(i ^ 0x5a));
    return NULL;
}

static int resident(uintptr_t p)
{
    unsigned char v;
    long page = sysconf(_SC_PAGESIZE);
    CHECK_EQ(mincore((void *)(p & ~(uintptr_t)(page - 1)), 1, &v), 0);
    return v & 1;
}

static void test_trim_gives_back_unused_pages(void)
{
    struct stShareStack_t *share = co_alloc_sharestack(1, 128 * 1024);
    struct stCoRoutineAttr_t attr = { .stack_size = 0, .share_stack = share };
    struct stCoRoutine_t *co;

    CHECK_EQ(co_create(&co, &attr, deep_then_park, share), 0);
    co_resume(co);
    CHECK(resident(deep_low));
    CHECK_EQ(co_sharestack_trim(share), 0);
    CHECK(!resident(deep_low));        /* below the parked frames: given back */
    co_resume(co);                     /* its frames are intact (checked inside) */
    CHECK(co_is_finished(co));
    co_release(co);
    CHECK_EQ(co_sharestack_trim(share), 0);
    co_trim();
    CHECK_EQ(co_free_sharestack(share), 0);
}

int main(void)
{
    RUN(test_many_coroutines_random_interleaving);
    RUN(test_two_alternate_with_copies);
    RUN(test_every_size_comes_back);
    RUN(test_nested_resume_same_stack);
    RUN(test_mixed_and_reset);
    RUN(test_trim_gives_back_unused_pages);
    return 0;
}
