/* SPDX-License-Identifier: Apache-2.0 */
/* test_thread.c — coroutines are bound to their thread; threads have separate envs. */
#include <pthread.h>
#include "unit.h"
#include "costack.h"

static struct stCoRoutine_t *foreign;

static void *count_up(void *arg)
{
    for (;;) {
        ++*(long *)arg;
        co_yield_ct();
    }
    return NULL;
}

static void *resume_foreign(void *arg)
{
    co_resume(foreign);
    return NULL;
}

static void *release_foreign(void *arg)
{
    co_release(foreign);
    return NULL;
}

static void cross_thread(void *(*fn)(void *))
{
    pthread_t t;
    long n = 0;
    co_create(&foreign, NULL, count_up, &n);
    pthread_create(&t, NULL, fn, NULL);
    pthread_join(t, NULL);
}

static void resume_from_other_thread(void) { cross_thread(resume_foreign); }
static void release_from_other_thread(void) { cross_thread(release_foreign); }

static void test_cross_thread_misuse_detected(void)
{
    expect_death(resume_from_other_thread,
                 "co_resume from thread");
    expect_death(resume_from_other_thread,
                 "may only be used by the thread that created it");
    expect_death(release_from_other_thread, "co_release from thread");
}

/* Threads running their own coroutines side by side, then exiting (env freed). */
static void *thread_work(void *arg)
{
    struct stShareStack_t *share = co_alloc_sharestack(2, 64 * 1024);
    struct stCoRoutineAttr_t attr = { .stack_size = 0, .share_stack = share };
    struct stCoRoutine_t *co[8];
    long n[8] = { 0 };
    int i, r;

    CHECK(co_self() == NULL);          /* no env until the first coroutine */
    for (i = 0; i < 8; i++)
        CHECK_EQ(co_create(&co[i], i % 2 ? &attr : NULL, count_up, &n[i]), 0);
    for (r = 0; r < 20000; r++)
        co_resume(co[r % 8]);
    for (i = 0; i < 8; i++) {
        CHECK_EQ(n[i], 2500);
        co_release(co[i]);
    }
    CHECK_EQ(co_get_counters().live, 0);
    CHECK_EQ(co_get_counters().created, 8);
    CHECK_EQ(co_free_sharestack(share), 0);
    return NULL;
}

static void test_threads_have_own_envs(void)
{
    pthread_t t[4];
    int i;

    for (i = 0; i < 4; i++)
        CHECK_EQ(pthread_create(&t[i], NULL, thread_work, NULL), 0);
    for (i = 0; i < 4; i++)
        CHECK_EQ(pthread_join(t[i], NULL), 0);
}

/* A thread that exits leaving a coroutine and a share behind. */
static struct stCoRoutine_t *orphan;
static struct stShareStack_t *orphan_share;

static void *leave_behind(void *arg)
{
    static long n;
    struct stCoRoutineAttr_t attr = { .stack_size = 0, .share_stack = NULL };

    orphan_share = co_alloc_sharestack(1, 64 * 1024);
    attr.share_stack = orphan_share;
    CHECK_EQ(co_create(&orphan, &attr, count_up, &n), 0);
    co_resume(orphan);
    return NULL;
}

static void resume_orphan(void)
{
    pthread_t t;
    pthread_create(&t, NULL, leave_behind, NULL);
    pthread_join(t, NULL);
    /* a new thread's env must not take the dead one's place */
    pthread_create(&t, NULL, thread_work, NULL);
    pthread_join(t, NULL);
    co_resume(orphan);
}

static void test_exited_threads_coroutines_detected(void)
{
    expect_death(resume_orphan, "(which has exited)");
}

static struct stShareStack_t *used_share;

static void *use_share_and_exit(void *arg)
{
    struct stCoRoutineAttr_t attr = { .stack_size = 0, .share_stack = used_share };
    struct stCoRoutine_t *co;
    long n = 0;

    CHECK_EQ(co_create(&co, &attr, count_up, &n), 0);
    co_resume(co);
    co_release(co);
    return NULL;   /* the env outlives the thread while the share points at it */
}

static void test_share_freed_after_its_thread_exits(void)
{
    pthread_t t;

    used_share = co_alloc_sharestack(2, 64 * 1024);
    CHECK_EQ(pthread_create(&t, NULL, use_share_and_exit, NULL), 0);
    CHECK_EQ(pthread_join(t, NULL), 0);
    /* valgrind and ASan check that this touches no freed memory */
    CHECK_EQ(co_free_sharestack(used_share), 0);
}

int main(void)
{
    RUN(test_exited_threads_coroutines_detected);
    RUN(test_share_freed_after_its_thread_exits);
    RUN(test_cross_thread_misuse_detected);
    RUN(test_threads_have_own_envs);
    return 0;
}
