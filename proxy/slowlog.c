/* SPDX-License-Identifier: Apache-2.0 */
/* slowlog.c — the proxy's slow log: a bounded ring of slow requests per worker and pool. */
#include <stdlib.h>
#include <string.h>

#include "slowlog.h"

static uint64_t next_id;   /* atomic: ids order entries across workers */

void slowlog_init(struct slowlog *s)
{
    memset(s, 0, sizeof *s);
    pthread_mutex_init(&s->lock, NULL);
}

void slowlog_fini(struct slowlog *s)
{
    free(s->ring);
    pthread_mutex_destroy(&s->lock);
}

void slowlog_add(struct slowlog *s, struct slowlog_entry *e, uint32_t cap)
{
    e->id = __atomic_fetch_add(&next_id, 1, __ATOMIC_RELAXED);
    pthread_mutex_lock(&s->lock);
    if (cap != s->cap) {
        struct slowlog_entry *ring = cap ? malloc((size_t)cap * sizeof *ring) : NULL;
        free(s->ring);
        s->ring = ring;
        s->cap = ring ? cap : 0;   /* out of memory: nothing kept, nothing harmed */
        s->len = s->next = 0;
    }
    if (s->cap > 0) {
        s->ring[s->next] = *e;
        s->next = (s->next + 1) % s->cap;
        if (s->len < s->cap)
            s->len++;
    }
    pthread_mutex_unlock(&s->lock);
}

size_t slowlog_copy(struct slowlog *s, struct slowlog_entry *out, size_t max)
{
    size_t n = 0;

    pthread_mutex_lock(&s->lock);
    for (uint32_t k = 1; k <= s->len && n < max; k++)
        out[n++] = s->ring[(s->next + s->cap - k) % s->cap];
    pthread_mutex_unlock(&s->lock);
    return n;
}

uint32_t slowlog_len(struct slowlog *s)
{
    uint32_t n;

    pthread_mutex_lock(&s->lock);
    n = s->len;
    pthread_mutex_unlock(&s->lock);
    return n;
}

void slowlog_reset(struct slowlog *s)
{
    pthread_mutex_lock(&s->lock);
    s->len = s->next = 0;
    pthread_mutex_unlock(&s->lock);
}
