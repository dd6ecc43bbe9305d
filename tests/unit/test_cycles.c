/* SPDX-License-Identifier: Apache-2.0 */
/* test_cycles.c — a million create/run/release cycles leave nothing behind. */
#include <stdint.h>
#include "unit.h"
#include "costack.h"

static void *touch_and_yield(void *arg)
{
    volatile char buf[256];
    buf[0] = 1;
    ++*(long *)arg;
    co_yield_ct();
    ++*(long *)arg;
    return (void *)(long)buf[0];
}

static long cycles(void)
{
    const char *env = getenv("CO_TEST_CYCLES");   /* smaller under valgrind */
    return env ? atol(env) : 1000000;
}

static void test_private_cycles(void)
{
    struct co_counters before = co_get_counters(), after;
    long n = 0, i, total = cycles();

    for (i = 0; i < total; i++) {
        struct stCoRoutine_t *co;
        CHECK_EQ(co_create(&co, NULL, touch_and_yield, &n), 0);
        co_resume(co);
        if (i % 2)
            co_resume(co);   /* half finish, half are released while parked */
        co_release(co);
    }
    after = co_get_counters();
    CHECK_EQ(n, total + total / 2);
    CHECK_EQ(after.live, before.live);
    CHECK_EQ(after.created - before.created, total);
    CHECK(after.stacks_mapped <= before.stacks_mapped + 1);   /* reused, not remapped */
}

static void test_shared_cycles(void)
{
    /* one run stack: each new coroutine evicts the parked one */
    struct stShareStack_t *share = co_alloc_sharestack(1, 64 * 1024);
    struct stCoRoutineAttr_t attr = { .stack_size = 0, .share_stack = share };
    struct co_counters before = co_get_counters(), after;
    struct stCoRoutine_t *prev = NULL;
    long n = 0, i, total = cycles();

    for (i = 0; i < total; i++) {
        struct stCoRoutine_t *co;
        CHECK_EQ(co_create(&co, &attr, touch_and_yield, &n), 0);
        co_resume(co);
        if (prev) {              /* keep one parked so saves happen */
            co_resume(prev);
            co_release(prev);
        }
        prev = co;
    }
    co_release(prev);
    after = co_get_counters();
    CHECK_EQ(n, 2 * total - 1);
    CHECK(after.copies_out - before.copies_out >= (uint64_t)total - 1);
    CHECK(after.copies_in - before.copies_in >= (uint64_t)total - 1);
    CHECK_EQ(after.live, before.live);
    CHECK_EQ(after.save_bytes_held, before.save_bytes_held);
    CHECK_EQ(after.shared_occupied, before.shared_occupied);
    CHECK_EQ(co_free_sharestack(share), 0);
}

int main(void)
{
    RUN(test_private_cycles);
    RUN(test_shared_cycles);
    return 0;
}
