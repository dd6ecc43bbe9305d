/* SPDX-License-Identifier: Apache-2.0 */
/* stacks.c — resident memory of coroutines on private stacks: what they touch, not their size. */
#include <stdint.h>

#include "costack.h"
#include "bench.h"

/*
 * N coroutines with private 128 KiB stacks each run a little and park.  The
 * stacks are reserved (mmap, MAP_NORESERVE), so resident memory should be
 * about one page per coroutine.  Every stack is two mappings (stack and
 * guard page): N = 100,000 needs vm.max_map_count above 200,000.
 */

static void *park(void *arg)
{
    volatile char buf[512];
    buf[0] = 1;
    co_yield_ct();
    return (void *)(intptr_t)buf[0];
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 100000;
    struct stCoRoutine_t **cos = calloc((size_t)n, sizeof *cos);
    long max_maps = 0;
    FILE *f = fopen("/proc/sys/vm/max_map_count", "r");

    if (f) {
        if (fscanf(f, "%ld", &max_maps) != 1)
            max_maps = 0;
        fclose(f);
    }
    if (max_maps && max_maps < 2 * n + 1000)
        fprintf(stderr, "note: vm.max_map_count is %ld; %ld stacks need about %ld "
                "(sysctl -w vm.max_map_count=%ld)\n", max_maps, n, 2 * n + 1000, 2 * n + 65536);
    long rss0 = bench_rss();
    double t0 = bench_now();
    long i;
    for (i = 0; i < n; i++) {
        if (co_create(&cos[i], NULL, park, NULL) != 0) {
            fprintf(stderr, "co_create failed after %ld coroutines (out of memory or mappings)\n", i);
            break;
        }
        co_resume(cos[i]);
    }
    double t = bench_now() - t0;
    long rss = bench_rss() - rss0;
    printf("%ld coroutines on private 128 KiB stacks: RSS %.1f MiB, %.0f B each "
           "(%.1f%% of the 128 KiB reserved), %.0f ns create+resume each\n",
           i, (double)rss / 1048576.0, (double)rss / (double)i,
           100.0 * (double)rss / (double)i / 131072.0, t / (double)i * 1e9);
    for (long j = 0; j < i; j++)
        co_release(cos[j]);
    free(cos);
    return i == n ? 0 : 1;
}
