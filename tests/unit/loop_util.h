/* SPDX-License-Identifier: Apache-2.0 */
/* loop_util.h — helpers for tests that run coroutines on the event loop. */
#ifndef COSTACK_TEST_LOOP_UTIL_H
#define COSTACK_TEST_LOOP_UTIL_H

#include <stdint.h>
#include <time.h>
#include "unit.h"
#include "costack.h"

/* Coroutines still running: each test routine decrements it as it ends,
 * and run_loop() returns when it reaches 0. */
static int active;
static struct stCoRoutine_t *spawned[16];
static int nspawned;

static inline int until_done(void *arg)
{
    (void)arg;
    return active == 0;
}

static inline uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Starts fn(arg) on attr (NULL: a private stack); it runs until it first parks. */
static inline void spawn_on(struct stCoRoutineAttr_t *attr, void *(*fn)(void *), void *arg)
{
    struct stCoRoutine_t *co;
    CHECK_EQ(co_create(&co, attr, fn, arg), 0);
    CHECK(nspawned < 16);
    spawned[nspawned++] = co;
    active++;
    co_resume(co);
}

/* Runs the loop until every spawned coroutine has ended, then releases them. */
static inline void run_loop(void)
{
    co_eventloop(co_get_epoll_ct(), until_done, NULL);
    while (nspawned > 0) {
        struct stCoRoutine_t *co = spawned[--nspawned];
        CHECK(co_is_finished(co));
        co_release(co);
    }
}

#endif
