/* SPDX-License-Identifier: Apache-2.0 */
/* slowlog.h — the proxy's slow log: a bounded ring of slow requests per worker and pool (slowlog.c). */
#ifndef COPROXY_SLOWLOG_H
#define COPROXY_SLOWLOG_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

/* Key bytes a request keeps for the monitors (the rest is counted, not kept). */
#define MONITOR_KEY_BRIEF 48

struct slowlog_entry {
    uint64_t id;                     /* one sequence for the whole daemon: newest is highest */
    uint64_t unix_ms;                /* when its reply was written */
    uint64_t total_us;               /* its batch's first byte in -> its reply's last byte out */
    uint64_t backend_us;             /* that arrival -> its reply read from the server (0: none) */
    uint32_t argc;
    uint32_t key_len;                /* the first key's whole length (0: no key) */
    int pool_index;                  /* in the configuration */
    char cmd[32];
    char key[MONITOR_KEY_BRIEF];     /* its first bytes; values are never kept */
    char server[64];                 /* "" when several or none */
    char client[64];                 /* address:port */
    char name[64];                   /* CLIENT SETNAME */
    char user[32];
};

/*
 * Written by one worker (slowlog_add, rare: only slow requests), read and
 * reset by the admin thread; the lock is never taken on a fast request.
 */
struct slowlog {
    pthread_mutex_t lock;
    struct slowlog_entry *ring;
    uint32_t cap, len, next;         /* next: where the following entry goes */
};

void slowlog_init(struct slowlog *s);
void slowlog_fini(struct slowlog *s);
/* Adds e (its id given here), keeping the newest `cap` entries; a changed
 * cap (reload) resizes the ring, emptying it. */
void slowlog_add(struct slowlog *s, struct slowlog_entry *e, uint32_t cap);
/* Copies up to max entries, newest first, into out; returns how many. */
size_t slowlog_copy(struct slowlog *s, struct slowlog_entry *out, size_t max);
uint32_t slowlog_len(struct slowlog *s);
void slowlog_reset(struct slowlog *s);

struct rbuf;
/* An entry's arguments as Redis's SLOWLOG shows them (a RESP array): the
 * command, its first key (shortened past 48 bytes), and "... (N more
 * arguments)".  0, or -1 (out of memory). */
int slowlog_args_resp(struct rbuf *o, const struct slowlog_entry *e);

#endif
