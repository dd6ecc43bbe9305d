/* SPDX-License-Identifier: Apache-2.0 */
/* backend_prologue.h — what a new redis server connection says first (AUTH, HELLO, SELECT, READONLY, its CLIENT ID). */
#ifndef COPROXY_BACKEND_PROLOGUE_H
#define COPROXY_BACKEND_PROLOGUE_H

#include "redis.h"

/*
 * Puts the connect-time commands of bc (the pool's redis_auth, HELLO 3 on a
 * RESP3 connection, SELECT, READONLY for replica reads, a pinned
 * connection's CLIENT ID and CLIENT UNBLOCK) ahead of what clients queued:
 * in its output and in its queue, as internal messages whose replies the
 * reader consumes.  0, or -1 when out of memory (nothing changed).
 */
int backend_prologue(struct worker *w, struct backend_conn *bc);

#endif
