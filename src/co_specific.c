/* SPDX-License-Identifier: Apache-2.0 */
/* co_specific.c — coroutine-local storage (co_setspecific/co_getspecific). */
#include <errno.h>
#include <stdlib.h>

#include "co_internal.h"

/*
 * A coroutine's values sit in a small array allocated on its first
 * co_setspecific, searched linearly: programs use a handful of keys, and a
 * coroutine that uses none pays nothing (libco reserves 1024 slots, 8 KiB,
 * in every coroutine).
 */
struct co_specific {
    unsigned n, cap;
    struct { pthread_key_t key; const void *value; } slot[];
};

static struct stCoRoutine_t *running_coroutine(void)
{
    struct co_env *env = co_env_tls;

    return env->current->is_main ? NULL : env->current;
}

int co_setspecific(pthread_key_t key, const void *value)
{
    struct stCoRoutine_t *co = running_coroutine();
    struct co_specific *sp;
    unsigned i;

    if (co == NULL)
        return pthread_setspecific(key, value);
    sp = co->specific;
    for (i = 0; sp && i < sp->n; i++) {
        if (sp->slot[i].key == key) {
            sp->slot[i].value = value;
            return 0;
        }
    }
    if (value == NULL)
        return 0;
    if (sp == NULL || sp->n == sp->cap) {
        unsigned cap = sp ? sp->cap * 2 : 4;
        struct co_specific *grown = realloc(sp, sizeof *sp + cap * sizeof sp->slot[0]);
        if (grown == NULL)
            return ENOMEM;
        if (sp == NULL)
            grown->n = 0;
        grown->cap = cap;
        co->specific = sp = grown;
    }
    sp->slot[sp->n].key = key;
    sp->slot[sp->n].value = value;
    sp->n++;
    return 0;
}

void *co_getspecific(pthread_key_t key)
{
    struct stCoRoutine_t *co = running_coroutine();
    struct co_specific *sp;
    unsigned i;

    if (co == NULL)
        return pthread_getspecific(key);
    sp = co->specific;
    for (i = 0; sp && i < sp->n; i++)
        if (sp->slot[i].key == key)
            return (void *)sp->slot[i].value;
    return NULL;
}

/* One key of the runtime's own whose values are freed with their coroutine. */
static pthread_key_t cleanup_key;
static void (*cleanup_fn)(void *);

void co_specific_set_cleanup(pthread_key_t key, void (*fn)(void *))
{
    cleanup_key = key;
    cleanup_fn = fn;
}

void co_specific_free(struct stCoRoutine_t *co)
{
    struct co_specific *sp = co->specific;

    for (unsigned i = 0; sp && cleanup_fn && i < sp->n; i++)
        if (sp->slot[i].key == cleanup_key)
            cleanup_fn((void *)sp->slot[i].value);
    free(sp);
    co->specific = NULL;
}
