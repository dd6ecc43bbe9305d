/* SPDX-License-Identifier: Apache-2.0 */
/* test_guard.c — a stack overflow is reported as such, naming the coroutine. */
#include "unit.h"
#include "costack.h"

static int sink;

/* Exported (see -export-dynamic in Makefile.am) so the report can name it. */
int overflow_routine_depth(int n);
int overflow_routine_depth(int n)
{
    volatile char frame[512];
    frame[0] = (char)n;
    sink += frame[0];
    if (n > 100000000)       /* never reached: the stack ends long before */
        return 0;
    return overflow_routine_depth(n + 1) + frame[511];
}

void *overflowing_routine(void *arg);
void *overflowing_routine(void *arg)
{
    overflow_routine_depth(0);
    return NULL;
}

static void overflow_private(void)
{
    struct stCoRoutineAttr_t attr = { .stack_size = 16 * 1024, .share_stack = NULL };
    struct stCoRoutine_t *co;
    co_create(&co, &attr, overflowing_routine, NULL);
    co_resume(co);
}

/* As the daemon's coroutines: hooks on, so write() on a socket is the
 * runtime's own, which may park the coroutine -- the report must not use it. */
void *overflowing_hooked_routine(void *arg);
void *overflowing_hooked_routine(void *arg)
{
    co_enable_hook_sys();
    overflow_routine_depth(0);
    return arg;
}

static void overflow_hooked_to_socket(void)
{
    struct stCoRoutineAttr_t attr = { .stack_size = 16 * 1024, .share_stack = NULL };
    struct stCoRoutine_t *co;
    co_create(&co, &attr, overflowing_hooked_routine, NULL);
    co_resume(co);
}

static void overflow_shared(void)
{
    struct stCoRoutineAttr_t attr = { .stack_size = 0, .share_stack = co_alloc_sharestack(1, 16 * 1024) };
    struct stCoRoutine_t *co;
    co_create(&co, &attr, overflowing_routine, NULL);
    co_resume(co);
}

static void *null_deref(void *arg)
{
    volatile int *p = arg;
    *p = 1;
    return NULL;
}

static void plain_segv_in_coroutine(void)
{
    struct stCoRoutine_t *co;
    co_create(&co, NULL, null_deref, NULL);
    co_resume(co);
}

static void test_private_overflow_named(void)
{
    expect_death(overflow_private, "stack overflow in coroutine");
    expect_death(overflow_private, "overflowing_routine");
    expect_death(overflow_private, "private stack is full");
}

static void test_shared_overflow_named(void)
{
    expect_death(overflow_shared, "shared stack is full");
}

static void test_overflow_reported_when_stderr_is_a_socket(void)
{
    expect_death_on(overflow_hooked_to_socket, "stack overflow in coroutine", 1);
    expect_death_on(overflow_hooked_to_socket, "overflowing_hooked_routine", 1);
    expect_death_on(overflow_hooked_to_socket, "stack overflow in coroutine", 2);   /* and it is full */
}

static void test_other_faults_are_not_overflows(void)
{
    expect_death(plain_segv_in_coroutine, NULL);
}

int main(void)
{
    RUN(test_private_overflow_named);
    RUN(test_shared_overflow_named);
    RUN(test_overflow_reported_when_stderr_is_a_socket);
    RUN(test_other_faults_are_not_overflows);
    return 0;
}
