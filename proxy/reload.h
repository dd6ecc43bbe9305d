/* SPDX-License-Identifier: Apache-2.0 */
/* reload.h — SIGHUP: the configuration read again, what can change live applied, the rest logged. */
#ifndef COPROXY_RELOAD_H
#define COPROXY_RELOAD_H

#include "daemon.h"

/* Reads file again.  A broken file changes nothing (its error is logged).
 * Otherwise the log level, shutdown_timeout and every pool's timeouts,
 * limits, passwords, balance, hash, distribution, server lists and weights
 * apply at each worker's next loop turn without touching open connections;
 * what needs a restart (threads, stacks, admin, listen addresses, modes,
 * pools added or removed, a redis pool's server_connections) is logged and
 * keeps its running value. */
void reload(struct daemon *d, const char *file);

/* Frees the server lists earlier reloads replaced that no worker holds
 * any more (worker_holds): main calls it once the workers have taken a
 * reload, and each reload does. */
void reload_collect(struct daemon *d);
/* Frees all of them (at exit, the workers gone). */
void reload_free(void);

#endif
