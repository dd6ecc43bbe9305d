/* SPDX-License-Identifier: Apache-2.0 */
/* park.c — memory and time per coroutine parked on shared stacks (N = 1e6, 1e7). */
#include <stdint.h>

#include "costack.h"
#include "bench.h"

/*
 * Each coroutine runs once and parks in co_yield_ct, so its frames are
 * saved in a buffer when the next coroutine takes its run stack: this is
 * the state of an idle connection.  Pass 1 measures resident memory per
 * parked coroutine; the coroutines are released, and pass 2 (memory now
 * warm) measures create + first resume time.
 */

/*
 * The timed pass must run on memory the first pass faulted in ("warm"), so
 * jemalloc is asked to keep freed pages (no decay) and to reuse them even
 * when they have coalesced into one large free extent (by default it will
 * not split an extent 64 times larger than the request, and maps new
 * memory instead: every page faults again).
 */
const char *malloc_conf = "dirty_decay_ms:-1,muzzy_decay_ms:-1,lg_extent_max_active_fit:63";

static void *park(void *arg)
{
    co_yield_ct();
    return NULL;
}

static double one_pass(struct stCoRoutine_t **cos, long n, struct stCoRoutineAttr_t *attr,
                       long *rss_delta)
{
    long rss0 = bench_rss();
    double t0 = bench_now();

    for (long i = 0; i < n; i++) {
        if (co_create(&cos[i], attr, park, NULL) != 0) {
            fprintf(stderr, "co_create failed at %ld\n", i);
            exit(1);
        }
        co_resume(cos[i]);
    }
    double t = bench_now() - t0;
    *rss_delta = bench_rss() - rss0;
    return t;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 1000000;
    int stacks = argc > 2 ? atoi(argv[2]) : 64;
    struct stShareStack_t *share = co_alloc_sharestack(stacks, 128 * 1024);
    struct stCoRoutineAttr_t attr = { .stack_size = 0, .share_stack = share };
    struct stCoRoutine_t **cos = malloc((size_t)n * sizeof *cos);
    long rss, rss_warm;

    if (n <= 0 || share == NULL || cos == NULL) {
        fprintf(stderr, "usage: park [coroutines [shared stacks]]\n");
        return 2;
    }
    /* The pointer array is the benchmark's, not the coroutines': fault it in first. */
    memset(cos, 0, (size_t)n * sizeof *cos);
    one_pass(cos, n, &attr, &rss);
    struct co_counters c = co_get_counters();
    double saved = (double)c.save_bytes_held / (double)n;
    for (long i = 0; i < n; i++)
        co_release(cos[i]);
    double t = one_pass(cos, n, &attr, &rss_warm);
    printf("%ld coroutines parked on %d shared stacks: RSS %.1f B each (%.1f MiB in all), "
           "%.1f B of frames saved each; create + first resume %.1f ns each (warm)\n",
           n, stacks, (double)rss / (double)n, (double)rss / 1048576.0, saved,
           t / (double)n * 1e9);
    for (long i = 0; i < n; i++)
        co_release(cos[i]);
    free(cos);
    return co_free_sharestack(share) == 0 ? 0 : 1;
}
