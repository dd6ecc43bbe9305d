/* SPDX-License-Identifier: Apache-2.0 */
/* test_coroutine.c — resume/yield ordering, nesting, finishing, release, reset, misuse. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "unit.h"
#include "costack.h"

static char trace[64];
static int ntrace;
static void mark(char c) { trace[ntrace++] = c; trace[ntrace] = '\0'; }

static void *steps(void *arg)
{
    CHECK(arg == (void *)trace);
    mark('a');
    co_yield_ct();
    mark('c');
    co_yield_ct();
    mark('e');
    return NULL;
}

static void test_resume_yield_order(void)
{
    struct stCoRoutine_t *co;

    ntrace = 0;
    CHECK_EQ(co_create(&co, NULL, steps, trace), 0);
    CHECK(ntrace == 0);                 /* creating does not run it */
    co_resume(co);
    mark('b');
    co_resume(co);
    mark('d');
    CHECK(!co_is_finished(co));
    co_resume(co);
    CHECK(co_is_finished(co));
    CHECK(strcmp(trace, "abcde") == 0);
    co_release(co);
}

static struct stCoRoutine_t *nest[3];

static void *nest_c(void *arg)
{
    CHECK(co_self() == nest[2]);
    mark('C');
    co_yield_ct();                      /* back to B, not to main */
    mark('c');
    return NULL;
}

static void *nest_b(void *arg)
{
    CHECK(co_self() == nest[1]);
    mark('B');
    co_resume(nest[2]);
    CHECK(co_self() == nest[1]);
    mark('b');
    co_yield_ct();                      /* back to A */
    co_resume(nest[2]);                 /* C finishes, back here */
    CHECK(co_is_finished(nest[2]));
    mark('x');
    return NULL;
}

static void *nest_a(void *arg)
{
    mark('A');
    co_resume(nest[1]);
    CHECK(co_self() == nest[0]);
    mark('a');
    co_yield_ct();                      /* back to main */
    co_resume(nest[1]);
    mark('y');
    return NULL;
}

static void test_nested_resumes(void)
{
    struct stCoRoutine_t *main_co;
    int i;

    ntrace = 0;
    CHECK_EQ(co_create(&nest[0], NULL, nest_a, NULL), 0);
    CHECK_EQ(co_create(&nest[1], NULL, nest_b, NULL), 0);
    CHECK_EQ(co_create(&nest[2], NULL, nest_c, NULL), 0);
    main_co = co_self();
    CHECK(main_co != NULL);
    co_resume(nest[0]);
    CHECK(co_self() == main_co);
    CHECK(strcmp(trace, "ABCba") == 0);
    co_resume(nest[0]);
    CHECK(strcmp(trace, "ABCbacxy") == 0);
    for (i = 0; i < 3; i++) {
        CHECK(co_is_finished(nest[i]));
        co_release(nest[i]);
    }
}

static void *returns_value(void *arg)
{
    *(int *)arg += 1;
    return arg;
}

static void test_return_finishes(void)
{
    struct stCoRoutine_t *co;
    int x = 41;

    CHECK_EQ(co_create(&co, NULL, returns_value, &x), 0);
    co_resume(co);
    CHECK_EQ(x, 42);
    CHECK(co_is_finished(co));
    /* reset makes it start afresh */
    co_reset(co);
    CHECK(!co_is_finished(co));
    co_resume(co);
    CHECK_EQ(x, 43);
    co_release(co);
}

static void *forever(void *arg)
{
    for (;;) {
        ++*(long *)arg;
        co_yield_ct();
    }
    return NULL;
}

static void test_release_states(void)
{
    struct co_counters before = co_get_counters(), after;
    struct stCoRoutine_t *unstarted, *parked, *finished;
    long n = 0;
    int x = 0;

    CHECK_EQ(co_create(&unstarted, NULL, forever, &n), 0);
    CHECK_EQ(co_create(&parked, NULL, forever, &n), 0);
    CHECK_EQ(co_create(&finished, NULL, returns_value, &x), 0);
    co_resume(parked);
    co_resume(parked);
    co_resume(finished);
    CHECK_EQ(n, 2);
    after = co_get_counters();
    CHECK_EQ(after.live, before.live + 3);
    CHECK_EQ(after.created, before.created + 3);
    co_release(unstarted);
    co_release(parked);
    co_release(finished);
    after = co_get_counters();
    CHECK_EQ(after.live, before.live);
    CHECK(after.peak_live >= before.live + 3);
    co_release(NULL);                   /* like free(NULL) */
}

static void test_switch_counter(void)
{
    struct stCoRoutine_t *co;
    struct co_counters before, after;
    long n = 0;
    int i;

    CHECK_EQ(co_create(&co, NULL, forever, &n), 0);
    before = co_get_counters();
    for (i = 0; i < 1000; i++)
        co_resume(co);
    after = co_get_counters();
    CHECK_EQ(after.switches - before.switches, 2000);
    CHECK_EQ(n, 1000);
    co_release(co);
}

static void test_attr_stack_sizes(void)
{
    struct stCoRoutineAttr_t attr = { .stack_size = 0, .share_stack = NULL };
    struct stCoRoutine_t *co;
    long n = 0;
    int sizes[] = { -1, 0, 1, 4096, 100000, 64 << 20 };
    unsigned i;

    for (i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        attr.stack_size = sizes[i];
        CHECK_EQ(co_create(&co, &attr, forever, &n), 0);
        co_resume(co);
        co_release(co);
    }
    CHECK_EQ(n, 6);
    CHECK_EQ(co_create(NULL, NULL, forever, &n), -22);
    CHECK_EQ(co_create(&co, NULL, NULL, &n), -22);
}

/* A parked coroutine's frames (with their sanitizer redzones) do not
 * trouble the next user of its stack: reset, or release and reuse. */
static void *deep_locals(void *arg)
{
    volatile char a[100], b[300];
    a[0] = b[0] = 1;
    co_yield_ct();
    return (void *)(long)(a[0] + b[0]);
}

static void *other_layout(void *arg)
{
    volatile long x[7];
    volatile char y[33];
    for (int i = 0; i < 7; i++)
        x[i] = i;
    for (int i = 0; i < 33; i++)
        y[i] = (char)i;
    co_yield_ct();
    return (void *)(long)(x[6] + y[32]);
}

static void test_stack_reuse_after_parked(void)
{
    struct stShareStack_t *share = co_alloc_sharestack(1, 64 * 1024);
    struct stCoRoutineAttr_t shared = { .stack_size = 0, .share_stack = share };
    for (int s = 0; s < 2; s++) {
        struct stCoRoutineAttr_t *attr = s ? &shared : NULL;
        struct stCoRoutine_t *co;
        CHECK_EQ(co_create(&co, attr, deep_locals, NULL), 0);
        co_resume(co);
        co_reset(co);             /* parked: reset runs it from the top on the same stack */
        co_resume(co);
        co_release(co);           /* parked again: released */
        CHECK_EQ(co_create(&co, attr, other_layout, NULL), 0);
        co_resume(co);            /* a different frame layout on the reused stack */
        co_resume(co);
        CHECK(co_is_finished(co));
        co_release(co);
    }
    CHECK_EQ(co_free_sharestack(share), 0);
}

/* ---- misuse is reported, not silently corrupting ---- */

static void yield_in_main(void) { co_self(); co_yield_ct(); }

static void *self_resume(void *arg) { co_resume(co_self()); return NULL; }
static void resume_running(void)
{
    struct stCoRoutine_t *co;
    co_create(&co, NULL, self_resume, NULL);
    co_resume(co);
}

static void resume_finished(void)
{
    struct stCoRoutine_t *co;
    int x = 0;
    co_create(&co, NULL, returns_value, &x);
    co_resume(co);
    co_resume(co);
}

static void *release_self(void *arg) { co_release(co_self()); return NULL; }
static void release_running(void)
{
    struct stCoRoutine_t *co;
    co_create(&co, NULL, release_self, NULL);
    co_resume(co);
}

static void *dive(void *arg)
{
    struct stCoRoutine_t *next;
    co_create(&next, NULL, dive, NULL);
    co_resume(next);
    return NULL;
}
static void resume_too_deep(void)
{
    dive(NULL);
}

static void test_misuse_dies_with_message(void)
{
    expect_death(yield_in_main, "co_yield_ct: called outside a coroutine");
    expect_death(resume_running, "co_resume: the coroutine is already running");
    expect_death(resume_finished, "co_resume: the coroutine has finished");
    expect_death(release_running, "co_release: the coroutine is running");
    expect_death(resume_too_deep, "deeper than 128");
}

/* co_create_with: the caller's bytes come zeroed, aligned, as the routine's
 * argument, on private and shared stacks, and live until co_release. */
struct with_state {
    int ran;
    char name[40];
    double d;
};

static void *use_state(void *arg)
{
    struct with_state *st = arg;
    CHECK(st->ran == 0 && st->name[0] == '\0');   /* zeroed */
    st->ran = 1;
    co_yield_ct();
    st->ran = 2;
    return NULL;
}

static void test_create_with_state(void)
{
    struct stShareStack_t *share = co_alloc_sharestack(1, 64 * 1024);
    struct stCoRoutineAttr_t on_share = { .stack_size = 0, .share_stack = share };

    for (int shared = 0; shared < 2; shared++) {
        struct stCoRoutine_t *co;
        void *data = NULL;
        struct with_state *st;
        CHECK_EQ(co_create_with(&co, shared ? &on_share : NULL, use_state, sizeof *st + 1000, &data), 0);
        st = data;
        CHECK(st != NULL && ((uintptr_t)st & 15) == 0);
        for (size_t i = sizeof *st; i < sizeof *st + 1000; i++)
            CHECK_EQ(((char *)data)[i], 0);
        co_resume(co);
        CHECK_EQ(st->ran, 1);
        strcpy(st->name, "kept while parked");
        co_resume(co);
        CHECK(co_is_finished(co));
        CHECK_EQ(st->ran, 2);                          /* still there after the routine returned */
        CHECK(strcmp(st->name, "kept while parked") == 0);
        co_release(co);                                /* and gone with the coroutine (ASan, valgrind) */
    }
    CHECK_EQ(co_create_with(NULL, NULL, use_state, 8, NULL), -EINVAL);
    CHECK_EQ(co_free_sharestack(share), 0);
}

int main(void)
{
    RUN(test_resume_yield_order);
    RUN(test_create_with_state);
    RUN(test_nested_resumes);
    RUN(test_return_finishes);
    RUN(test_release_states);
    RUN(test_switch_counter);
    RUN(test_attr_stack_sizes);
    RUN(test_stack_reuse_after_parked);
    RUN(test_misuse_dies_with_message);
    return 0;
}
