/* SPDX-License-Identifier: Apache-2.0 */
/* test_registers.c — a switch preserves every callee-saved register and the FP control state. */
#include <fenv.h>
#include "config.h"
#include "unit.h"
#ifdef HAVE_VALGRIND_VALGRIND_H
#include <valgrind/valgrind.h>
#else
#define RUNNING_ON_VALGRIND 0
#endif
#include "costack.h"

unsigned regs_check_across(void (*fn)(void));
void regs_clobber_and_call(void (*fn)(void));

static struct stCoRoutine_t *clobberer, *checker;
static volatile int stop;
static unsigned checker_result = ~0u;

static void yield(void) { co_yield_ct(); }
static void resume_clobberer(void) { co_resume(clobberer); }

static void *clobber_main(void *arg)
{
    while (!stop)
        regs_clobber_and_call(yield);
    return NULL;
}

static void *check_main(void *arg)
{
    checker_result = regs_check_across(yield);
    return NULL;
}

static void run_both(struct stCoRoutineAttr_t *attr)
{
    unsigned mask;
    int i;

    stop = 0;
    checker_result = ~0u;
    CHECK_EQ(co_create(&clobberer, attr, clobber_main, NULL), 0);
    CHECK_EQ(co_create(&checker, attr, check_main, NULL), 0);
    /* main's registers survive a round trip into a clobbering coroutine */
    for (i = 0; i < 10; i++) {
        mask = regs_check_across(resume_clobberer);
        if (mask != 0)
            fprintf(stderr, "main lost callee-saved registers, mask %#x\n", mask);
        CHECK_EQ(mask, 0);
    }
    /* a coroutine's registers survive while main and another coroutine clobber */
    co_resume(checker);
    regs_clobber_and_call(resume_clobberer);
    co_resume(checker);
    if (checker_result != 0)
        fprintf(stderr, "coroutine lost callee-saved registers, mask %#x\n", checker_result);
    CHECK_EQ(checker_result, 0);
    stop = 1;
    co_resume(clobberer);
    CHECK(co_is_finished(clobberer) && co_is_finished(checker));
    co_release(clobberer);
    co_release(checker);
}

static void test_callee_saved_private(void)
{
    run_both(NULL);
}

static void test_callee_saved_shared(void)
{
    struct stShareStack_t *share = co_alloc_sharestack(1, 64 * 1024);
    struct stCoRoutineAttr_t attr = { .stack_size = 0, .share_stack = share };

    run_both(&attr);           /* every switch goes through a stack copy */
    CHECK_EQ(co_free_sharestack(share), 0);
}

/* Rounding mode (MXCSR and the x87 control word; FPCR on AArch64) is per coroutine. */
static void *round_up(void *arg)
{
    CHECK_EQ(fesetround(FE_UPWARD), 0);
    for (int i = 0; i < 3; i++) {
        volatile double one = 1.0, three = 3.0;
        CHECK_EQ(fegetround(), FE_UPWARD);
        *(double *)arg = one / three;
        co_yield_ct();
    }
    return NULL;
}

static void test_fp_control_per_coroutine(void)
{
    struct stCoRoutine_t *co;
    double up = 0, near;
    volatile double one = 1.0, three = 3.0;

    CHECK_EQ(fegetround(), FE_TONEAREST);
    CHECK_EQ(co_create(&co, NULL, round_up, &up), 0);
    for (int i = 0; i < 3; i++) {
        co_resume(co);
        CHECK_EQ(fegetround(), FE_TONEAREST);
        near = one / three;
        /* 1/3 to nearest rounds down; upward is above it.  (valgrind does
         * not emulate SSE rounding modes, only the register's contents.) */
        if (!RUNNING_ON_VALGRIND)
            CHECK(up > near);
    }
    co_resume(co);
    CHECK(co_is_finished(co));
    CHECK_EQ(fegetround(), FE_TONEAREST);
    co_release(co);
}

/* The same on a shared stack, where the control words sit below the saved sp. */
static void test_fp_control_shared_stack(void)
{
    struct stShareStack_t *share = co_alloc_sharestack(1, 64 * 1024);
    struct stCoRoutineAttr_t attr = { .stack_size = 0, .share_stack = share };
    struct stCoRoutine_t *co, *other;
    double up = 0, unused = 0;

    CHECK_EQ(co_create(&co, &attr, round_up, &up), 0);
    CHECK_EQ(co_create(&other, &attr, round_up, &unused), 0);
    for (int i = 0; i < 3; i++) {
        co_resume(co);          /* evicts `other` after the first turn */
        CHECK_EQ(fegetround(), FE_TONEAREST);
        co_resume(other);       /* evicts `co`: its saved words travel with its frames */
        CHECK_EQ(fegetround(), FE_TONEAREST);
    }
    co_release(co);
    co_release(other);
    CHECK_EQ(co_free_sharestack(share), 0);
}

/* A new coroutine starts with its creator's rounding mode, not its first resumer's. */
static int seen_mode;
static void *note_mode(void *arg)
{
    seen_mode = fegetround();
    return NULL;
}

static void test_fp_control_inherited_from_creator(void)
{
    struct stShareStack_t *share = co_alloc_sharestack(1, 64 * 1024);
    struct stCoRoutineAttr_t shared = { .stack_size = 0, .share_stack = share };
    struct stCoRoutine_t *priv, *shr;

    CHECK_EQ(fesetround(FE_DOWNWARD), 0);
    CHECK_EQ(co_create(&priv, NULL, note_mode, NULL), 0);
    CHECK_EQ(co_create(&shr, &shared, note_mode, NULL), 0);
    CHECK_EQ(fesetround(FE_TONEAREST), 0);
    seen_mode = -1;
    co_resume(priv);
    CHECK_EQ(seen_mode, FE_DOWNWARD);
    seen_mode = -1;
    co_resume(shr);
    CHECK_EQ(seen_mode, FE_DOWNWARD);
    CHECK_EQ(fegetround(), FE_TONEAREST);
    co_release(priv);
    co_release(shr);
    CHECK_EQ(co_free_sharestack(share), 0);
}

int main(void)
{
    RUN(test_fp_control_shared_stack);
    RUN(test_fp_control_inherited_from_creator);
    RUN(test_callee_saved_private);
    RUN(test_callee_saved_shared);
    RUN(test_fp_control_per_coroutine);
    return 0;
}
