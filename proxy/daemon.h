/* SPDX-License-Identifier: Apache-2.0 */
/* daemon.h — the process-wide state shared by main and the workers (read-mostly). */
#ifndef COPROXY_DAEMON_H
#define COPROXY_DAEMON_H

#include <pthread.h>
#include <stdint.h>

#include "config_file.h"

struct worker;

/* Per pool, across workers: only the client-connection count, touched once
 * per connection (never per request). */
struct pool_shared {
    int clients;                     /* atomic */
};

struct daemon {
    /* Main replaces the pools' settings on reload, under cfg_lock, and bumps
     * cfg_gen; each worker copies them into its own at its next loop turn
     * (never on the request path).  The admin side reads cfg under the lock. */
    struct config cfg;
    pthread_mutex_t cfg_lock;
    unsigned cfg_gen;                /* atomic */
    struct pool_shared *pools;
    struct worker *workers;
    int stop;                        /* atomic: SIGTERM/SIGINT seen */
    int listening;                   /* atomic: workers whose listeners are open */
    int failed;                      /* atomic: a worker could not start */
    int upgraded_from;               /* the pid this process took over from (0: none) */
    int upgrade;                     /* atomic: enum upgrade_state, this process's last upgrade */
};

enum upgrade_state { UPGRADE_NONE, UPGRADE_RUNNING, UPGRADE_FAILED, UPGRADE_DONE };

#endif
