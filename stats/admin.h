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
/* The admin side's listening sockets (the Unix socket, the TCP port) into
 * fds[0..max), for an upgrade to hand over; how many. */
int admin_listen_fds(int *fds, int max);
/* They were handed over: the Unix socket's path is left in place at exit. */
void admin_handed_over(void);

#endif
