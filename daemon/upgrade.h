/* SPDX-License-Identifier: Apache-2.0 */
/* upgrade.h — SIGUSR2: the binary started again with our listening sockets; we drain once it serves (upgrade.c). */
#ifndef COPROXY_UPGRADE_H
#define COPROXY_UPGRADE_H

#include "daemon.h"

/* At start: remembers the binary's path and our arguments (after a
 * package upgrade the path names the new binary). */
void upgrade_remember(char **argv);
/*
 * Checks the configuration with the binary (-t), starts it with every
 * listening socket of ours handed over, and waits for it to say it serves.
 * 1: it does, the caller stops accepting and drains; 0: it did not (why is
 * logged), the caller keeps serving as before.
 */
int upgrade_run(struct daemon *d, const char *config_file);

#endif
