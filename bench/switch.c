/* SPDX-License-Identifier: Apache-2.0 */
/* switch.c — ns and instructions per context switch: libcostack (private, shared) vs swapcontext and libaco. */
#include <stdint.h>
#include <ucontext.h>

#include "config.h"
#include "costack.h"
#include "bench.h"
#ifdef HAVE_VALGRIND_VALGRIND_H
#include <valgrind/callgrind.h>
#else
#define CALLGRIND_ZERO_STATS
#define CALLGRIND_DUMP_STATS_AT(s) ((void)(s))
#define RUNNING_ON_VALGRIND 0
#endif

/*
 * Each case times round trips: the main context resumes a coroutine, which
 * yields straight back.  ns per switch = round trip / 2.
 *   private       one coroutine on its own 128 KiB stack
 *   shared/0      one coroutine on a shared stack it alone uses: no copies
 *   shared/N      two coroutines alternating on one shared stack, each parked
 *                 with N bytes of frames: every resume saves one and
 *                 restores the other (N from 64 to 4000)
 *   swapcontext   glibc ucontext, the same round trip
 * Under callgrind (bench/run.sh) each case dumps its own instruction count.
 */

static volatile int sink;

/* The sizes of frames the shared-stack curve is measured at. */
static const int live_sizes[] = { 64, 128, 200, 300, 500, 1000, 2000, 4000 };
#define NSIZES ((int)(sizeof live_sizes / sizeof live_sizes[0]))

/*
 * libaco's published curve (its README, AWS c5d.large, ns per aco_resume
 * round trip, copy_stack_size in bytes), to read ours next to it.
 */
static const struct { int bytes; double ns; } libaco_published[] = {
    { 8, 33.2 }, { 24, 33.7 }, { 40, 33.9 }, { 56, 34.2 }, { 120, 38.4 }, { 136, 47.2 },
    { 152, 53.6 }, { 232, 59.9 }, { 488, 92.6 }, { 1000, 210.9 }, { 2024, 351.4 }, { 4072, 594.0 },
};

/* libaco's published ns at `bytes`, interpolated between its points. */
static double libaco_ns(double bytes)
{
    int n = (int)(sizeof libaco_published / sizeof libaco_published[0]);

    if (bytes <= libaco_published[0].bytes)
        return libaco_published[0].ns;
    for (int i = 1; i < n; i++)
        if (bytes <= libaco_published[i].bytes) {
            double x0 = libaco_published[i - 1].bytes, x1 = libaco_published[i].bytes;
            double y0 = libaco_published[i - 1].ns, y1 = libaco_published[i].ns;
            return y0 + (y1 - y0) * (bytes - x0) / (x1 - x0);
        }
    return libaco_published[n - 1].ns;
}

static void *yield_loop(void *arg)
{
    for (;;)
        co_yield_ct();
    return NULL;
}

/* Parks with about *arg bytes of its own (a live array) under its frame. */
static void *yield_loop_live(void *arg)
{
    size_t len = *(size_t *)arg;
    volatile char live[len > 0 ? len : 1];

    live[0] = 1;
    for (;;) {
        co_yield_ct();
        sink += live[0];
    }
    return NULL;
}

static double run_one(struct stCoRoutine_t *co, long n)
{
    double t0 = bench_now();
    for (long i = 0; i < n; i++)
        co_resume(co);
    return bench_now() - t0;
}

static double run_pair(struct stCoRoutine_t *a, struct stCoRoutine_t *b, long n)
{
    double t0 = bench_now();
    for (long i = 0; i < n; i += 2) {
        co_resume(a);
        co_resume(b);
    }
    return bench_now() - t0;
}

static ucontext_t uc_main, uc_co;

static void uc_loop(void)
{
    for (;;)
        swapcontext(&uc_co, &uc_main);
}

static double run_ucontext(long n)
{
    double t0 = bench_now();
    for (long i = 0; i < n; i++)
        swapcontext(&uc_main, &uc_co);
    return bench_now() - t0;
}

static double best_of(double (*fn)(void *, long), void *arg, long n)
{
    double best = 1e9;
    fn(arg, n / 10);      /* warm up */
    for (int r = 0; r < 5; r++) {
        double t = fn(arg, n);
        if (t < best)
            best = t;
    }
    return best / (double)n * 1e9;
}

struct pair {
    struct stCoRoutine_t *a, *b;
    size_t len;           /* each one's live array */
    size_t saved;         /* the frames each parks with, as measured */
};

static double fn_one(void *arg, long n) { return run_one(arg, n); }
static double fn_pair(void *arg, long n) { struct pair *p = arg; return run_pair(p->a, p->b, n); }
static double fn_uc(void *arg, long n) { return run_ucontext(n); }

/* Two coroutines on one shared stack, parked with `want` bytes of frames each (or the least they can). */
static void pair_make(struct pair *p, size_t want)
{
    struct stCoRoutineAttr_t attr = { .stack_size = 128 * 1024, .share_stack = co_alloc_sharestack(1, 128 * 1024) };

    /* The least: no live array (the array's own frame needs more). */
    co_create(&p->a, &attr, yield_loop, NULL);
    co_create(&p->b, &attr, yield_loop, NULL);
    co_resume(p->a);
    co_resume(p->b);
    co_resume(p->a);
    p->len = 0;
    p->saved = co_saved_bytes(p->b);
    if (p->saved >= want)
        return;
    co_release(p->a);
    co_release(p->b);
    p->len = 16;
    for (int tries = 0; tries < 4; tries++) {
        co_create(&p->a, &attr, yield_loop_live, &p->len);
        co_create(&p->b, &attr, yield_loop_live, &p->len);
        co_resume(p->a);
        co_resume(p->b);
        co_resume(p->a);   /* b's frames evicted: their size is what every switch copies */
        p->saved = co_saved_bytes(p->b);
        if (p->saved == want || (p->saved > want && p->len <= 16) || tries == 3)
            return;
        co_release(p->a);
        co_release(p->b);
        p->len = p->saved > want + p->len - 16 ? 16 : p->len + want - p->saved;
    }
}

/* Under callgrind: count instructions of exactly n round trips of a case. */
static void count_case(const char *name, double (*fn)(void *, long), void *arg, long n)
{
    fn(arg, 1000);
    CALLGRIND_ZERO_STATS;
    fn(arg, n);
    CALLGRIND_DUMP_STATS_AT(name);
}

int main(int argc, char **argv)
{
    long n = argc > 1 && strcmp(argv[1], "sweep") != 0 ? atol(argv[1]) : 10000000;
    int callgrind = RUNNING_ON_VALGRIND;
    struct stShareStack_t *solo = co_alloc_sharestack(1, 128 * 1024);
    struct stCoRoutineAttr_t attr = { .stack_size = 128 * 1024, .share_stack = NULL };
    struct stCoRoutine_t *priv, *shared0;
    struct pair pairs[NSIZES];
    static char uc_stack[128 * 1024];

    co_create(&priv, NULL, yield_loop, NULL);
    attr.share_stack = solo;
    co_create(&shared0, &attr, yield_loop, NULL);
    for (int i = 0; i < NSIZES; i++)
        pair_make(&pairs[i], (size_t)live_sizes[i]);
    getcontext(&uc_co);
    uc_co.uc_stack.ss_sp = uc_stack;
    uc_co.uc_stack.ss_size = sizeof uc_stack;
    uc_co.uc_link = NULL;
    makecontext(&uc_co, uc_loop, 0);

    if (callgrind && argc > 1 && strcmp(argv[1], "sweep") == 0) {
        /* every size of frames, 16 bytes apart, from the least to 4 KiB */
        struct pair p;
        char name[32];
        size_t last = 0;
        for (size_t want = 16; want <= 4096; want += 16) {
            pair_make(&p, want);
            if (p.saved == last || p.saved > 4096)
                continue;
            last = p.saved;
            snprintf(name, sizeof name, "shared/%zu", p.saved);
            count_case(name, fn_pair, &p, 2000);
        }
        printf("callgrind: %d round trips per case\n", 2000);
        return 0;
    }
    if (callgrind) {
        long m = argc > 1 ? n : 100000;
        char name[32];
        count_case("private", fn_one, priv, m);
        count_case("shared/0", fn_one, shared0, m);
        for (int i = 0; i < NSIZES; i++) {
            snprintf(name, sizeof name, "shared/%zu", pairs[i].saved);
            count_case(name, fn_pair, &pairs[i], m);
        }
        count_case("swapcontext", fn_uc, NULL, m);
        printf("callgrind: %ld round trips per case\n", m);
        return 0;
    }

    double priv_ns = best_of(fn_one, priv, n);
    double solo_ns = best_of(fn_one, shared0, n);
    double uc = best_of(fn_uc, NULL, n / 20);

    printf("%-44s %12s %12s %14s\n", "case", "ns/switch", "ns/roundtrip", "swapcontext/x");
    printf("%-44s %12.2f %12.2f %13.1fx\n", "libcostack private stack", priv_ns / 2, priv_ns, uc / priv_ns);
    printf("%-44s %12.2f %12.2f %13.1fx\n", "libcostack shared stack, no copy", solo_ns / 2, solo_ns, uc / solo_ns);
    printf("%-44s %12.2f %12.2f %13.1fx\n", "glibc swapcontext", uc / 2, uc, 1.0);

    printf("\nshared stack, 2 coroutines alternating: every resume saves one's frames and restores the other's\n");
    printf("%10s %10s %14s %24s\n", "live B", "saved B", "ns/roundtrip", "libaco published ns (*)");
    for (int i = 0; i < NSIZES; i++) {
        struct pair *p = &pairs[i];
        long m = n / (4 + (long)p->saved / 256);
        double ns = best_of(fn_pair, p, m);
        printf("%10d %10zu %14.2f %24.1f\n", live_sizes[i], p->saved, ns, libaco_ns((double)p->saved));
    }
    printf("(*) libaco's README, AWS c5d.large, interpolated between its points:");
    for (unsigned i = 0; i < sizeof libaco_published / sizeof libaco_published[0]; i++)
        printf(" %d B %.1f%s", libaco_published[i].bytes, libaco_published[i].ns,
               i + 1 < sizeof libaco_published / sizeof libaco_published[0] ? "," : "\n");

    struct co_counters c = co_get_counters();
    printf("(stack copies: %llu out, %llu in, %llu bytes)\n", (unsigned long long)c.copies_out,
           (unsigned long long)c.copies_in, (unsigned long long)c.bytes_copied);
    return 0;
}
