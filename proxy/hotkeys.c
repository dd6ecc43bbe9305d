/* SPDX-License-Identifier: Apache-2.0 */
/* hotkeys.c — the most requested keys of a pool, per worker: a count-min sketch and its top entries. */
#include <stdlib.h>
#include <string.h>

#include "hotkeys.h"

/* A key's hash: its first 256 bytes and its length (a 512 MB key costs no more to count). */
static uint64_t key_hash(const char *p, size_t n)
{
    uint64_t h = 0x9e3779b97f4a7c15ull ^ (n * 0xff51afd7ed558ccdull);
    size_t m = n < 256 ? n : 256;

    for (; m >= 8; p += 8, m -= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        h = (h ^ v) * 0xff51afd7ed558ccdull;
        h ^= h >> 32;
    }
    if (m > 0) {
        uint64_t v = 0;
        memcpy(&v, p, m);
        h = (h ^ v) * 0xc4ceb9fe1a85ec53ull;
    }
    h ^= h >> 29;
    h *= 0x9e3779b97f4a7c15ull;
    return h ^ (h >> 32);
}

void hotkeys_init(struct hotkeys *h, uint64_t now_ms)
{
    memset(h, 0, sizeof *h);
    h->period = h->countdown = HOTKEYS_PERIOD_MIN;
    h->window_ms = now_ms;
    pthread_mutex_init(&h->lock, NULL);
}

void hotkeys_fini(struct hotkeys *h)
{
    pthread_mutex_destroy(&h->lock);
}

static void find_min(struct hotkeys *h)
{
    h->top_min = UINT64_MAX;
    for (uint32_t i = 0; i < h->ntop; i++)
        if (h->top[i].count < h->top_min)
            h->top_min = h->top[i].count;
}

void hotkeys_count(struct hotkeys *h, const char *key, size_t len)
{
    uint64_t x = key_hash(key, len), est;
    size_t kept = len < HOTKEYS_KEEP ? len : HOTKEYS_KEEP;
    uint32_t i, least = 0;

    h->countdown = h->period;
    /* one row per 16 bits of the hash (written out: the loop cost a third more) */
    uint32_t c0 = ++h->cms[0][x & (HOTKEYS_WIDTH - 1)];
    uint32_t c1 = ++h->cms[1][(x >> 16) & (HOTKEYS_WIDTH - 1)];
    uint32_t c2 = ++h->cms[2][(x >> 32) & (HOTKEYS_WIDTH - 1)];
    uint32_t c3 = ++h->cms[3][(x >> 48) & (HOTKEYS_WIDTH - 1)];
    est = c0 < c1 ? c0 : c1;
    est = est < c2 ? est : c2;
    est = est < c3 ? est : c3;
    if (est < HOTKEYS_CANDIDATE || (h->ntop == HOTKEYS_TOP && est <= h->top_min))
        return;   /* not among the heaviest: the common case for a cold key */
    for (i = 0; i < h->ntop; i++)
        if (h->top[i].hash == x && h->top[i].len == len && memcmp(h->top[i].key, key, kept) == 0) {
            uint64_t was = h->top[i].count;
            h->top[i].count = est;
            if (was == h->top_min && h->ntop == HOTKEYS_TOP)
                find_min(h);
            return;
        }
    if (h->ntop < HOTKEYS_TOP) {
        i = h->ntop++;
    } else {
        for (i = 0; i < h->ntop; i++)
            if (h->top[i].count == h->top_min)
                break;
        least = i;
        i = least;
    }
    h->top[i].hash = x;
    h->top[i].count = est;
    h->top[i].len = (uint32_t)(len < UINT32_MAX ? len : UINT32_MAX);
    memcpy(h->top[i].key, key, kept);
    if (h->ntop == HOTKEYS_TOP)
        find_min(h);
}

static int by_count(const void *a, const void *b)
{
    const struct hotkey *x = a, *y = b;

    return x->count > y->count ? -1 : x->count < y->count;
}

/* The step's entries (estimated requests: counts times the period) with
 * the step before's, as rates over both, the heaviest first, into out[2 *
 * HOTKEYS_TOP]: how many. */
static uint32_t over_window(const struct hotkeys *h, uint64_t span, struct hotkey *out)
{
    uint64_t total = span + h->prev_span;
    uint32_t n = 0;

    for (uint32_t i = 0; i < h->ntop; i++) {
        out[n] = h->top[i];
        out[n++].count = h->top[i].count * h->period;
    }
    for (uint32_t j = 0; j < h->nprev; j++) {
        uint32_t i;
        for (i = 0; i < h->ntop; i++)
            if (out[i].hash == h->prev[j].hash && out[i].len == h->prev[j].len)
                break;
        if (i < h->ntop)
            out[i].count += h->prev[j].count;
        else
            out[n++] = h->prev[j];   /* (its server found then) */
    }
    for (uint32_t i = 0; i < n; i++)
        out[i].count = (out[i].count * 1000 + total / 2) / total;
    qsort(out, n, sizeof out[0], by_count);
    return n;
}

void hotkeys_tick(struct hotkeys *h, uint64_t now_ms, uint64_t requests,
                  void (*server_of)(void *arg, const char *key, size_t len, char *name), void *arg)
{
    uint64_t span = now_ms - h->window_ms, target;
    struct hotkey all[2 * HOTKEYS_TOP];
    uint32_t n;

    if (span < HOTKEYS_STEP_MS)
        return;
    for (uint32_t i = 0; i < h->ntop; i++)
        server_of(arg, h->top[i].key, h->top[i].len < HOTKEYS_KEEP ? h->top[i].len : HOTKEYS_KEEP,
                  h->top[i].server);
    n = over_window(h, span, all);
    while (n > 0 && all[n - 1].count == 0)   /* less than one a second: not hot */
        n--;
    if (n > HOTKEYS_TOP)
        n = HOTKEYS_TOP;
    pthread_mutex_lock(&h->lock);
    memcpy(h->pub, all, n * sizeof all[0]);
    h->npub = n;
    h->pub_ms = now_ms;
    pthread_mutex_unlock(&h->lock);
    /* this step becomes the one before */
    for (uint32_t i = 0; i < h->ntop; i++) {
        h->prev[i] = h->top[i];
        h->prev[i].count = h->top[i].count * h->period;
    }
    h->nprev = h->ntop;
    h->prev_span = span;
    /* the next steps count about HOTKEYS_SAMPLES a second, of as many as this one had */
    target = (requests - h->requests_at) * 1000 / span / HOTKEYS_SAMPLES;
    h->period = HOTKEYS_PERIOD_MIN;
    while (h->period <= target && h->period < (1u << 20))
        h->period <<= 1;
    h->countdown = h->period;
    h->requests_at = requests;
    h->ntop = 0;
    h->top_min = 0;
    h->window_ms = now_ms;
    memset(h->cms, 0, sizeof h->cms);
}

size_t hotkeys_copy(struct hotkeys *h, struct hotkey *out)
{
    size_t n;

    pthread_mutex_lock(&h->lock);
    n = h->npub;
    memcpy(out, h->pub, n * sizeof *out);
    pthread_mutex_unlock(&h->lock);
    return n;
}
