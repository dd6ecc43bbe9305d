/* SPDX-License-Identifier: Apache-2.0 */
/* handover.h — an upgrade's new process: the listening sockets its old process handed it, and telling it we are ready (handover.c). */
#ifndef COPROXY_HANDOVER_H
#define COPROXY_HANDOVER_H

#include "addr.h"

/* The environment an upgrade sets for the new process. */
#define HANDOVER_ENV_FDS "COPROXY_INHERIT_FDS"      /* "3,4,7": listening sockets */
#define HANDOVER_ENV_READY "COPROXY_READY_FD"       /* a pipe: one byte once ready */
#define HANDOVER_ENV_FROM "COPROXY_UPGRADE_FROM"    /* the old process's pid */

/* At start: takes the sockets named in the environment (marked close-on-exec
 * again) and clears it.  The pid upgraded from, or 0 when not an upgrade. */
int handover_init(void);
/* Was a socket listening on addr handed over (and not taken yet)? */
int handover_has(const struct proxy_addr *addr);
/* An inherited socket listening on addr, taken (each is given once), or -1. */
int handover_take(const struct proxy_addr *addr);
/* Once every listener is open: the inherited sockets nobody took (fewer
 * workers than before) are closed, and how many; what waited in their
 * queues is lost, so each is logged. */
int handover_close_rest(void);
/* Tells the old process we serve (it then stops accepting and drains). */
void handover_ready(void);

#endif
