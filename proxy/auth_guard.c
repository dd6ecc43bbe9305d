/* SPDX-License-Identifier: Apache-2.0 */
/* auth_guard.c — failed AUTHs counted per client address, across workers: what a brute-force lockout needs. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "auth_guard.h"

/*
 * One table for the process, under a lock: a failed AUTH is rare next to
 * requests, and an address spreading its attempts over several workers
 * must still be seen as one.  A full table gives a slot up by age: an
 * attacker cycling through many addresses can evict old entries, but each
 * of its addresses is still limited.
 */
#define SLOTS 4096
#define PROBE 16
#define HOST_MAX 64

struct entry {
    char host[HOST_MAX];
    unsigned failures;
    uint64_t last_ms;
};

static struct entry table[SLOTS];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static uint32_t hash(const char *s)
{
    uint32_t h = 2166136261u;

    while (*s)
        h = (h ^ (unsigned char)*s++) * 16777619u;
    return h;
}

/* host's entry (made with add, else NULL); stale ones count as empty. */
static struct entry *find(const char *host, uint64_t now, int add)
{
    uint32_t h = hash(host);
    struct entry *victim = NULL;
    int victim_stale = 0;

    for (uint32_t i = 0; i < PROBE; i++) {
        struct entry *e = &table[(h + i) % SLOTS];
        int stale = e->host[0] == '\0' || now - e->last_ms > AUTH_GUARD_FORGET_MS;
        if (!stale && strcmp(e->host, host) == 0)
            return e;
        if (stale && !victim_stale) {
            victim = e;
            victim_stale = 1;
        } else if (!stale && !victim_stale && (victim == NULL || e->last_ms < victim->last_ms)) {
            victim = e;
        }
    }
    if (!add)
        return NULL;
    snprintf(victim->host, sizeof victim->host, "%s", host);
    victim->failures = 0;
    return victim;
}

unsigned auth_guard_failures(const char *host, uint64_t now_ms, int fail)
{
    struct entry *e;
    unsigned n = 0;

    pthread_mutex_lock(&lock);
    if ((e = find(host, now_ms, fail)) != NULL) {
        if (fail) {
            e->failures++;
            e->last_ms = now_ms;
        }
        n = e->failures;
    }
    pthread_mutex_unlock(&lock);
    return n;
}
