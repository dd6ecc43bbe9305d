/* SPDX-License-Identifier: Apache-2.0 */
/* bigkeys.c — the biggest requests and replies of a pool, per worker, by key and command. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bigkeys.h"

void bigkeys_init(struct bigkeys *b)
{
    memset(b, 0, sizeof *b);
    pthread_mutex_init(&b->lock, NULL);
}

void bigkeys_fini(struct bigkeys *b)
{
    pthread_mutex_destroy(&b->lock);
}

void bigkeys_note(struct bigkeys *b, const char *cmd, int reply, const char *key, size_t kept, size_t len,
                  uint64_t size, uint64_t unix_ms)
{
    struct bigkey *e = NULL;
    uint32_t i;

    if (kept > MONITOR_KEY_BRIEF)
        kept = MONITOR_KEY_BRIEF;
    pthread_mutex_lock(&b->lock);
    for (i = 0; i < b->n && e == NULL; i++)
        if (b->top[i].reply == reply && b->top[i].len == len && strcmp(b->top[i].cmd, cmd) == 0
            && memcmp(b->top[i].key, key, kept) == 0)
            e = &b->top[i];
    if (e == NULL) {
        if (b->n < BIGKEYS_TOP) {
            e = &b->top[b->n++];
        } else {   /* the smallest goes, if this one is bigger */
            e = &b->top[0];
            for (i = 1; i < b->n; i++)
                if (b->top[i].size_max < e->size_max)
                    e = &b->top[i];
            if (e->size_max >= size) {
                pthread_mutex_unlock(&b->lock);
                return;
            }
        }
        memset(e, 0, sizeof *e);
        snprintf(e->cmd, sizeof e->cmd, "%s", cmd);
        e->reply = (uint8_t)reply;
        e->len = (uint32_t)(len < UINT32_MAX ? len : UINT32_MAX);
        memcpy(e->key, key, kept);
    }
    e->count++;
    e->size_last = size;
    if (size > e->size_max)
        e->size_max = size;
    e->last_ms = unix_ms;
    pthread_mutex_unlock(&b->lock);
}

static int by_size(const void *a, const void *b)
{
    const struct bigkey *x = a, *y = b;

    return x->size_max > y->size_max ? -1 : x->size_max < y->size_max;
}

size_t bigkeys_copy(struct bigkeys *b, struct bigkey *out)
{
    size_t n;

    pthread_mutex_lock(&b->lock);
    n = b->n;
    memcpy(out, b->top, n * sizeof *out);
    pthread_mutex_unlock(&b->lock);
    qsort(out, n, sizeof *out, by_size);
    return n;
}

void bigkeys_reset(struct bigkeys *b)
{
    pthread_mutex_lock(&b->lock);
    b->n = 0;
    pthread_mutex_unlock(&b->lock);
}
