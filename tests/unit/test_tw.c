/* SPDX-License-Identifier: Apache-2.0 */
/* test_tw.c — the timing wheel against a fake clock: order, accuracy, cancel, re-arm, a million timers. */
#include <stdint.h>
#include "unit.h"
#include "tw.h"

struct probe {
    struct tw_timer t;
    uint64_t want;        /* deadline it must fire at */
    uint64_t fired_at;    /* 0: not fired */
    int fired;
};

static uint64_t clock_now;
static uint64_t last_fire;

static void on_fire(struct tw_timer *t, void *arg)
{
    struct probe *p = (struct probe *)t;

    (void)arg;
    CHECK(!tw_armed(t));
    p->fired++;
    p->fired_at = clock_now;
    CHECK(clock_now >= p->want);            /* never early */
    CHECK(clock_now >= last_fire);          /* in time order */
    last_fire = clock_now;
}

static uint64_t rng_state = 88172645463325252ull;
static uint64_t rng(void)
{
    return unit_xorshift(&rng_state);
}

/* Runs the clock the way an event loop does: sleep until tw_next, advance. */
static void run_until_empty(struct tw_wheel *w, uint64_t limit)
{
    while (w->count > 0 && clock_now < limit) {
        int64_t next = tw_next(w);
        CHECK(next >= 0);
        clock_now += next > 0 ? (uint64_t)next : 1;
        tw_advance(w, clock_now, on_fire, NULL);
    }
}

static void test_fires_at_deadline_in_order(void)
{
    static struct probe p[2000];
    static struct tw_wheel w;
    int i;

    clock_now = 1000000;
    last_fire = 0;
    tw_init(&w, clock_now);
    for (i = 0; i < 2000; i++) {
        /* deadlines across every level: 1 ms .. ~3 days */
        uint64_t span = (uint64_t)1 << (rng() % 28);
        p[i] = (struct probe){ .want = clock_now + 1 + rng() % span };
        tw_add(&w, &p[i].t, p[i].want);
    }
    CHECK_EQ(w.count, 2000);
    run_until_empty(&w, clock_now + 4ull * 24 * 3600 * 1000);
    for (i = 0; i < 2000; i++) {
        CHECK_EQ(p[i].fired, 1);
        CHECK_EQ(p[i].fired_at, p[i].want);  /* the loop woke in time: exactly on the tick */
    }
    CHECK_EQ(w.count, 0);
    CHECK_EQ(tw_next(&w), -1);
}

static void test_coarse_steps_at_most_one_step_late(void)
{
    static struct probe p[500];
    static struct tw_wheel w;
    int i;

    clock_now = 5;
    last_fire = 0;
    tw_init(&w, clock_now);
    for (i = 0; i < 500; i++) {
        p[i] = (struct probe){ .want = clock_now + 1 + rng() % 100000 };
        tw_add(&w, &p[i].t, p[i].want);
    }
    while (w.count > 0) {           /* an overloaded loop: 7 ms between turns */
        clock_now += 7;
        tw_advance(&w, clock_now, on_fire, NULL);
    }
    for (i = 0; i < 500; i++) {
        CHECK_EQ(p[i].fired, 1);
        CHECK(p[i].fired_at - p[i].want < 7);
    }
}

static void test_cancel_and_rearm(void)
{
    static struct tw_wheel w;
    struct probe a = { .want = 0 }, b = { .want = 0 }, c = { .want = 0 }, d = { .want = 0 };

    clock_now = 0;
    last_fire = 0;
    tw_init(&w, 0);
    a.want = 10;
    tw_add(&w, &a.t, 10);
    b.want = 20;
    tw_add(&w, &b.t, 20);
    tw_cancel(&w, &a.t);
    tw_cancel(&w, &a.t);             /* twice is harmless */
    CHECK(!tw_armed(&a.t));
    CHECK_EQ(w.count, 1);
    /* later deadline: lazy, stays in its slot, fires at the new time */
    c.want = 100000;
    tw_add(&w, &c.t, 50);
    tw_rearm(&w, &c.t, 100000);
    CHECK_EQ(c.t.expires, 100000);
    /* earlier deadline: moves */
    d.want = 5;
    tw_add(&w, &d.t, 300000);
    tw_rearm(&w, &d.t, 5);
    run_until_empty(&w, 200000);
    CHECK_EQ(a.fired, 0);
    CHECK_EQ(b.fired_at, 20);
    CHECK_EQ(c.fired_at, 100000);
    CHECK_EQ(d.fired_at, 5);
    /* a deadline already passed fires at the next advance */
    b.want = clock_now;
    tw_add(&w, &b.t, clock_now - 3);
    CHECK_EQ(tw_next(&w), 0);
    tw_advance(&w, clock_now, on_fire, NULL);
    CHECK_EQ(b.fired, 2);
}

static void rearm_from_callback(struct tw_timer *t, void *arg)
{
    struct tw_wheel *w = arg;
    struct probe *p = (struct probe *)t;

    p->fired++;
    p->fired_at = clock_now;
    if (p->fired < 5)
        tw_add(w, t, clock_now + 1000);   /* periodic */
}

static void test_periodic_from_callback(void)
{
    static struct tw_wheel w;
    struct probe p = { .want = 0 };

    clock_now = 0;
    tw_init(&w, 0);
    tw_add(&w, &p.t, 1000);
    while (w.count > 0) {
        clock_now += (uint64_t)tw_next(&w);
        tw_advance(&w, clock_now, rearm_from_callback, &w);
    }
    CHECK_EQ(p.fired, 5);
    CHECK_EQ(p.fired_at, 5000);
}

/* A million timers, a third cancelled, a third pushed back lazily. */
static void test_million_timers(void)
{
    enum { N = 1000000 };
    static struct probe p[N];
    static struct tw_wheel w;
    uint64_t start = 123456789;
    long i, fired = 0, expect = 0;

    clock_now = start;
    last_fire = 0;
    tw_init(&w, start);
    for (i = 0; i < N; i++) {
        uint64_t span = (uint64_t)1 << (1 + rng() % 27);    /* up to ~1.5 days */
        p[i] = (struct probe){ .want = start + 1 + rng() % span };
        tw_add(&w, &p[i].t, p[i].want);
    }
    for (i = 0; i < N; i += 3)
        tw_cancel(&w, &p[i].t);
    for (i = 1; i < N; i += 3) {
        p[i].want += 1 + rng() % 100000;
        tw_rearm(&w, &p[i].t, p[i].want);
    }
    CHECK_EQ(w.count, N - (N + 2) / 3);
    run_until_empty(&w, start + 3ull * 24 * 3600 * 1000);
    for (i = 0; i < N; i++) {
        if (i % 3 == 0) {
            CHECK_EQ(p[i].fired, 0);
            continue;
        }
        expect++;
        fired += p[i].fired;
        CHECK_EQ(p[i].fired, 1);
        CHECK_EQ(p[i].fired_at, p[i].want);
    }
    CHECK_EQ(fired, expect);
    CHECK_EQ((long)w.fired, expect);
}

int main(void)
{
    RUN(test_fires_at_deadline_in_order);
    RUN(test_coarse_steps_at_most_one_step_late);
    RUN(test_cancel_and_rearm);
    RUN(test_periodic_from_callback);
    RUN(test_million_timers);
    return 0;
}
