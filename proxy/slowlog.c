/* SPDX-License-Identifier: Apache-2.0 */
/* slowlog.c — the proxy's slow log: a bounded ring of slow requests per worker and pool. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rbuf.h"
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

static int bulk(struct rbuf *o, const char *s, size_t n)
{
    return rbuf_printf(o, "$%zu\r\n", n) || rbuf_append(o, s, n) || rbuf_append(o, "\r\n", 2);
}

int slowlog_args_resp(struct rbuf *o, const struct slowlog_entry *e)
{
    size_t kept = e->key_len < MONITOR_KEY_BRIEF ? e->key_len : MONITOR_KEY_BRIEF;
    uint32_t shown = 1 + (e->key_len > 0), more = e->argc > shown ? e->argc - shown : 0;
    char tail[64];
    int err = rbuf_printf(o, "*%u\r\n", shown + (more > 0)) || bulk(o, e->cmd, strlen(e->cmd));

    if (e->key_len > 0) {
        if (kept < e->key_len) {   /* as Redis shortens an argument */
            char buf[MONITOR_KEY_BRIEF + 48];
            int k = snprintf(buf, sizeof buf, "%.*s... (%u more bytes)", (int)kept, e->key, e->key_len - (uint32_t)kept);
            memcpy(buf, e->key, kept);   /* (binary bytes as they are) */
            err = err || bulk(o, buf, (size_t)k);
        } else {
            err = err || bulk(o, e->key, kept);
        }
    }
    if (more > 0) {
        snprintf(tail, sizeof tail, "... (%u more arguments)", more);
        err = err || bulk(o, tail, strlen(tail));
    }
    return err;
}
