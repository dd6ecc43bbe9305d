/* SPDX-License-Identifier: Apache-2.0 */
/* hotkeys.h — the most requested keys of a pool, per worker: a count-min sketch and its top entries (hotkeys.c). */
#ifndef COPROXY_HOTKEYS_H
#define COPROXY_HOTKEYS_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#define HOTKEYS_TOP 32               /* candidates kept per worker and pool */
#define HOTKEYS_KEEP 128             /* key bytes kept for each */
#define HOTKEYS_ROWS 4
#define HOTKEYS_WIDTH 1024           /* counters per row (a power of two) */
#define HOTKEYS_SAMPLES 1024         /* counted requests a second aims at, at most */
#define HOTKEYS_PERIOD_MIN 16        /* and never more than one in this many */
#define HOTKEYS_CANDIDATE 3          /* counts a key needs in a window to enter the top */
#define HOTKEYS_STEP_MS 500          /* the window: the last two steps, sliding by one */
#define HOTKEYS_WINDOW_MS (2 * HOTKEYS_STEP_MS)

struct hotkey {
    uint64_t hash;
    uint64_t count;                  /* estimated, in counted requests */
    uint32_t len;                    /* the key's whole length */
    char key[HOTKEYS_KEEP];          /* its first bytes */
    char server[64];                 /* where it lives (published entries) */
};

/*
 * The sketch and its top entries are the worker's alone.  At the end of
 * each step (HOTKEYS_STEP_MS) it publishes the rates over that step and
 * the one before -- a window of a second that slides by half of one -- and
 * counts the next step afresh.  Counting
 * one request in `period` keeps a busy worker's cost bounded: the counts
 * are scaled back up when published (so a key needs some 50 requests a
 * second to be seen).  Memory: about 33 KiB each.
 */
struct hotkeys {
    uint32_t countdown;              /* requests until the next one counted */
    uint32_t period;
    uint64_t window_ms;              /* when this window began */
    uint64_t requests_at;            /* the pool's request counter then */
    uint32_t ntop;
    uint64_t top_min;                /* the least count in top (once full) */
    struct hotkey top[HOTKEYS_TOP];
    uint32_t cms[HOTKEYS_ROWS][HOTKEYS_WIDTH];
    /* the step before: its top entries, count = estimated requests */
    struct hotkey prev[HOTKEYS_TOP];
    uint32_t nprev;
    uint64_t prev_span;              /* ms */
    /* the last whole window */
    pthread_mutex_t lock;
    struct hotkey pub[HOTKEYS_TOP];  /* by count, highest first; count = requests per second */
    uint32_t npub;
    uint64_t pub_ms;                 /* when published (0: never) */
};

void hotkeys_init(struct hotkeys *h, uint64_t now_ms);
void hotkeys_fini(struct hotkeys *h);

/* A request with key[0..len): counted now and then (1 in period). */
void hotkeys_count(struct hotkeys *h, const char *key, size_t len);
static inline void hotkeys_request(struct hotkeys *h, const char *key, size_t len)
{
    if (--h->countdown == 0)
        hotkeys_count(h, key, len);
}

/* At the worker's tick: a step that is over is published, each entry
 * given its server by server_of (which fills name, size 64); requests: the
 * pool's requests so far (a counter), which sets how many the next step counts. */
void hotkeys_tick(struct hotkeys *h, uint64_t now_ms, uint64_t requests,
                  void (*server_of)(void *arg, const char *key, size_t len, char *name), void *arg);

/* Copies the published entries (rates per second) into out[HOTKEYS_TOP]; returns how many. */
size_t hotkeys_copy(struct hotkeys *h, struct hotkey *out);

#endif
