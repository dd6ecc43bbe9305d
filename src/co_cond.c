/* SPDX-License-Identifier: Apache-2.0 */
/* co_cond.c — condition variables between the coroutines of one thread. */
#include <errno.h>
#include <stdlib.h>

#include "co_io.h"

/*
 * Waiters queue in FIFO order as waits from the loop's pool; signal and
 * broadcast move them to the loop's ready list, so they run in the next
 * loop turn (after the signalling coroutine yields), never nested inside
 * co_cond_signal.
 */

struct stCoCond_t *co_cond_alloc(void)
{
    struct stCoCond_t *c = calloc(1, sizeof *c);

    if (c != NULL)
        c->tail = &c->head;
    return c;
}

int co_cond_free(struct stCoCond_t *c)
{
    if (c == NULL)
        return 0;
    if (c->head != NULL)
        return -EBUSY;   /* coroutines still wait on it */
    free(c);
    return 0;
}

int co_cond_signal(struct stCoCond_t *c)
{
    struct co_wait *w = c->head;

    if (w == NULL)
        return 0;
    co_wait_wake(co_env_of(w->co)->loop, w);   /* unlinks it from c */
    return 0;
}

int co_cond_broadcast(struct stCoCond_t *c)
{
    while (c->head != NULL)
        co_cond_signal(c);
    return 0;
}

/*
 * Parks the running coroutine until a signal or broadcast (0), or until
 * timeout_ms passes (-ETIMEDOUT); timeout_ms <= 0 waits without a limit,
 * as libco's does.  Only a coroutine can wait: -EDEADLK from main.
 */
int co_cond_timedwait(struct stCoCond_t *c, int timeout_ms)
{
    struct co_env *env = co_env_get();
    struct stCoEpoll_t *loop;
    struct co_wait *w;
    int r;

    if (env == NULL || (loop = co_loop_get(env)) == NULL)
        return -ENOMEM;
    if (env->current->is_main)
        return -EDEADLK;
    if ((w = co_wait_get(loop)) == NULL)
        return -ENOMEM;
    w->co = env->current;
    w->cond = c;
    w->pprev = c->tail;
    *c->tail = w;
    c->tail = &w->next;
    if (timeout_ms > 0)
        co_wait_arm(loop, w, timeout_ms);
    co_yield_ct();
    r = w->timed_out ? -ETIMEDOUT : 0;
    co_wait_put(loop, w);
    return r;
}
