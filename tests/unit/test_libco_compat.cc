/* SPDX-License-Identifier: Apache-2.0 */
// test_libco_compat.cc — a C++ program written for libco builds and runs unchanged.
#include "co_routine.h"
#include "costack.h"   // only for co_free_sharestack at the end (libco never frees shares)

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "unit.h"   // CHECK

struct Task {
    stCoRoutine_t *co;
    int id;
    std::string log;
};

static void *RoutineFunc(void *arg)
{
    Task *task = static_cast<Task *>(arg);
    for (int i = 0; i < 3; i++) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%d:%d ", task->id, i);
        task->log += buf;           // heap-allocating C++ code inside a coroutine
        co_yield_ct();
    }
    return NULL;
}

int main()
{
    // libco's attribute type: packed, defaults from its constructor
    stCoRoutineAttr_t attr;
    CHECK(attr.stack_size == 128 * 1024);
    CHECK(attr.share_stack == NULL);
    CHECK(sizeof(stCoRoutineAttr_t) == sizeof(int) + sizeof(void *));

    attr.share_stack = co_alloc_sharestack(2, 1024 * 128);
    CHECK(attr.share_stack != NULL);

    std::vector<Task> tasks(10);
    for (int i = 0; i < 10; i++) {
        tasks[i].id = i;
        pfn_co_routine_t fn = RoutineFunc;
        CHECK(co_create(&tasks[i].co, i % 2 ? &attr : NULL, fn, &tasks[i]) == 0);
    }
    for (int round = 0; round < 4; round++)
        for (int i = 0; i < 10; i++)
            co_resume(tasks[i].co);
    for (int i = 0; i < 10; i++) {
        char expect[64];
        std::snprintf(expect, sizeof expect, "%d:0 %d:1 %d:2 ", i, i, i);
        CHECK(tasks[i].log == expect);
        co_release(tasks[i].co);
    }
    CHECK(co_self() != NULL);      // the main context
    CHECK(co_free_sharestack(attr.share_stack) == 0);
    std::printf("libco-style C++ program ran\n");
    return 0;
}
