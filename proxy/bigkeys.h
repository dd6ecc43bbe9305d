/* SPDX-License-Identifier: Apache-2.0 */
/* bigkeys.h — the biggest requests and replies of a pool, per worker, by key and command (bigkeys.c). */
#ifndef COPROXY_BIGKEYS_H
#define COPROXY_BIGKEYS_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "slowlog.h"   /* MONITOR_KEY_BRIEF */

#define BIGKEYS_TOP 32

struct bigkey {
    char cmd[32];
    uint8_t reply;                   /* 1: the reply was big, 0: the request */
    uint32_t len;                    /* the key's whole length (0: no key) */
    char key[MONITOR_KEY_BRIEF];     /* its first bytes */
    uint64_t size_max, size_last;    /* bytes */
    uint64_t count;                  /* times seen over the threshold */
    uint64_t last_ms;                /* unix ms, last seen */
};

/* Only requests and replies over the pool's bigkey_threshold come here
 * (rare), so the worker takes the lock; the admin thread reads and resets. */
struct bigkeys {
    pthread_mutex_t lock;
    struct bigkey top[BIGKEYS_TOP];
    uint32_t n;
};

void bigkeys_init(struct bigkeys *b);
void bigkeys_fini(struct bigkeys *b);
/* One big request or reply of `size` bytes: cmd, its key (its first kept bytes of len). */
void bigkeys_note(struct bigkeys *b, const char *cmd, int reply, const char *key, size_t kept, size_t len,
                  uint64_t size, uint64_t unix_ms);
/* Copies the entries, biggest first, into out[BIGKEYS_TOP]; returns how many. */
size_t bigkeys_copy(struct bigkeys *b, struct bigkey *out);
void bigkeys_reset(struct bigkeys *b);

#endif
