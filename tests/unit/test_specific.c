/* SPDX-License-Identifier: Apache-2.0 */
/* test_specific.c — coroutine-local storage: each coroutine sees its own values. */
#include <pthread.h>
#include "unit.h"
#include "costack.h"

static pthread_key_t key_a, key_b;

static void *local_values(void *arg)
{
    long id = (long)arg;

    CHECK(co_getspecific(key_a) == NULL);           /* unset: NULL, not main's */
    CHECK_EQ(co_setspecific(key_a, (void *)(id * 10)), 0);
    CHECK_EQ(co_setspecific(key_b, (void *)(id * 100)), 0);
    for (int i = 0; i < 5; i++) {
        co_yield_ct();
        CHECK(co_getspecific(key_a) == (void *)(id * 10));
        CHECK(co_getspecific(key_b) == (void *)(id * 100));
    }
    CHECK_EQ(co_setspecific(key_a, NULL), 0);
    CHECK(co_getspecific(key_a) == NULL);
    return NULL;
}

static void test_values_are_per_coroutine(void)
{
    struct stShareStack_t *share = co_alloc_sharestack(1, 64 * 1024);
    struct stCoRoutineAttr_t attr = { .stack_size = 0, .share_stack = share };
    struct stCoRoutine_t *co[4];
    long i;
    int r;

    CHECK_EQ(pthread_key_create(&key_a, NULL), 0);
    CHECK_EQ(pthread_key_create(&key_b, NULL), 0);
    CHECK_EQ(co_setspecific(key_a, (void *)7), 0);   /* main: the thread's value */
    for (i = 0; i < 4; i++)
        CHECK_EQ(co_create(&co[i], i % 2 ? &attr : NULL, local_values, (void *)(i + 1)), 0);
    for (r = 0; r < 6; r++)
        for (i = 0; i < 4; i++)
            co_resume(co[i]);
    for (i = 0; i < 4; i++) {
        CHECK(co_is_finished(co[i]));
        co_release(co[i]);
    }
    CHECK(co_getspecific(key_a) == (void *)7);
    CHECK(pthread_getspecific(key_a) == (void *)7);
    CHECK_EQ(co_free_sharestack(share), 0);
}

int main(void)
{
    RUN(test_values_are_per_coroutine);
    return 0;
}
