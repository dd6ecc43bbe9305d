/* SPDX-License-Identifier: Apache-2.0 */
/* switch.c — ns and instructions per context switch: libcostack (private, shared) vs swapcontext. */
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
 *   shared/200    two coroutines alternating on one shared stack, each with
 *                 200 B of frames: every resume saves one and restores the other
 *   shared/4096   the same with 4096 B of frames
 *   swapcontext   glibc ucontext, the same round trip
 * Under callgrind (bench/run.sh) each case dumps its own instruction count.
 */

static volatile int sink;

static void *yield_loop(void *arg)
{
    for (;;)
        co_yield_ct();
    return NULL;
}

static void *yield_loop_200(void *arg)
{
    volatile char live[120];   /* 200 B of frames saved, all told */
    live[0] = 1;
    for (;;) {
        co_yield_ct();
        sink += live[0];
    }
    return NULL;
}

static void *yield_loop_4k(void *arg)
{
    volatile char live[4016];  /* 4096 B of frames saved, all told */
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

struct result {
    const char *name;
    double ns_round_trip;
};

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

struct pair { struct stCoRoutine_t *a, *b; };
static double fn_one(void *arg, long n) { return run_one(arg, n); }
static double fn_pair(void *arg, long n) { struct pair *p = arg; return run_pair(p->a, p->b, n); }
static double fn_uc(void *arg, long n) { return run_ucontext(n); }

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
    long n = argc > 1 ? atol(argv[1]) : 10000000;
    int callgrind = RUNNING_ON_VALGRIND;
    struct stShareStack_t *solo = co_alloc_sharestack(1, 128 * 1024);
    struct stShareStack_t *duo200 = co_alloc_sharestack(1, 128 * 1024);
    struct stShareStack_t *duo4k = co_alloc_sharestack(1, 128 * 1024);
    struct stCoRoutineAttr_t attr = { .stack_size = 128 * 1024, .share_stack = NULL };
    struct stCoRoutine_t *priv, *shared0;
    struct pair p200, p4k;
    static char uc_stack[128 * 1024];

    co_create(&priv, NULL, yield_loop, NULL);
    attr.share_stack = solo;
    co_create(&shared0, &attr, yield_loop, NULL);
    attr.share_stack = duo200;
    co_create(&p200.a, &attr, yield_loop_200, NULL);
    co_create(&p200.b, &attr, yield_loop_200, NULL);
    attr.share_stack = duo4k;
    co_create(&p4k.a, &attr, yield_loop_4k, NULL);
    co_create(&p4k.b, &attr, yield_loop_4k, NULL);
    getcontext(&uc_co);
    uc_co.uc_stack.ss_sp = uc_stack;
    uc_co.uc_stack.ss_size = sizeof uc_stack;
    uc_co.uc_link = NULL;
    makecontext(&uc_co, uc_loop, 0);

    if (callgrind) {
        long m = argc > 1 ? n : 100000;
        count_case("private", fn_one, priv, m);
        count_case("shared/0", fn_one, shared0, m);
        count_case("shared/200", fn_pair, &p200, m);
        count_case("shared/4096", fn_pair, &p4k, m);
        count_case("swapcontext", fn_uc, NULL, m);
        printf("callgrind: %ld round trips per case\n", m);
        return 0;
    }

    struct result r[] = {
        { "libcostack private stack", best_of(fn_one, priv, n) },
        { "libcostack shared stack, no copy", best_of(fn_one, shared0, n) },
        { "libcostack shared, 2 alternating, 200 B live", best_of(fn_pair, &p200, n / 4) },
        { "libcostack shared, 2 alternating, 4 KiB live", best_of(fn_pair, &p4k, n / 16) },
        { "glibc swapcontext", best_of(fn_uc, NULL, n / 20) },
    };
    double uc = r[4].ns_round_trip;
    co_resume(p200.a);   /* a parked, b evicted: measure b's saved frames */
    size_t saved200 = co_saved_bytes(p200.b);
    co_resume(p4k.a);
    size_t saved4k = co_saved_bytes(p4k.b);
    struct co_counters c = co_get_counters();

    printf("%-48s %12s %12s %14s\n", "case", "ns/switch", "ns/roundtrip", "swapcontext/x");
    for (unsigned i = 0; i < sizeof r / sizeof r[0]; i++)
        printf("%-48s %12.2f %12.2f %13.1fx\n", r[i].name, r[i].ns_round_trip / 2,
               r[i].ns_round_trip, uc / r[i].ns_round_trip);
    printf("(saved frames per coroutine: %zu B and %zu B; stack copies: %llu out, %llu in, %llu bytes)\n",
           saved200, saved4k,
           (unsigned long long)c.copies_out, (unsigned long long)c.copies_in,
           (unsigned long long)c.bytes_copied);
    return 0;
}
