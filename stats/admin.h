/* SPDX-License-Identifier: Apache-2.0 */
/* admin.h — the admin socket (PING, STATS, INFO, METRICS), served by a thread of its own. */
#ifndef COPROXY_ADMIN_H
#define COPROXY_ADMIN_H

#include "daemon.h"

/* Opens cfg.admin_socket (if set: its directory made, a stale socket
 * replaced, cfg.admin_mode applied) and starts the admin thread.  0, or -1
 * (logged). */
int admin_start(struct daemon *d);

/* After d->stop is set: waits for the admin thread and removes the socket. */
void admin_stop(void);

#endif
