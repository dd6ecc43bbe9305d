/* SPDX-License-Identifier: Apache-2.0 */
/* timer.c — ns per timing-wheel add+cancel and per re-arm, with a million timers armed. */
#include <stdint.h>

#include "bench.h"
#include "tw.h"

static void noop(struct tw_timer *t, void *arg)
{
    (void)t;
    (void)arg;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 1000000;
    struct tw_timer *t = calloc((size_t)n, sizeof *t);
    static struct tw_wheel w;
    uint64_t now = 1000;
    double t0, add_cancel, rearm;
    long i;
    int r;

    tw_init(&w, now);
    for (i = 0; i < n; i++)               /* a busy wheel: n idle timeouts armed */
        tw_add(&w, &t[i], now + 1000 + (uint64_t)(i % 300000));
    t0 = bench_now();
    for (r = 0; r < 10; r++)
        for (i = 0; i < n; i++) {
            tw_cancel(&w, &t[i]);
            tw_add(&w, &t[i], now + 1 + (uint64_t)((i * 7 + r) % 600000));
        }
    add_cancel = (bench_now() - t0) / (10.0 * (double)n) * 1e9;
    t0 = bench_now();
    for (r = 0; r < 10; r++)
        for (i = 0; i < n; i++)           /* activity pushes each idle deadline back */
            tw_rearm(&w, &t[i], t[i].expires + 100);
    rearm = (bench_now() - t0) / (10.0 * (double)n) * 1e9;
    tw_advance(&w, now + 2000000, noop, NULL);
    printf("timing wheel, %ld timers armed: add+cancel %.1f ns, re-arm (later deadline) %.1f ns\n",
           n, add_cancel, rearm);
    free(t);
    return 0;
}
