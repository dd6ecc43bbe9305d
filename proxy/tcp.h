/* SPDX-License-Identifier: Apache-2.0 */
/* tcp.h — tcp mode: one client connection relayed to a server (tcp.c). */
#ifndef COPROXY_TCP_H
#define COPROXY_TCP_H

#include <stddef.h>
#include <stdint.h>

#include "worker.h"

struct ssl_st;

/* A client's coroutine, its state in the same allocation (one per
 * connection); tls: its TLS, on a TLS listener (NULL: plaintext).  0, or
 * -1 when out of memory. */
int tcp_conn_start(struct worker *w, struct pool_rt *p, int fd, struct ssl_st *tls, const struct sockaddr *peer,
                   unsigned peer_len, const struct stCoRoutineAttr_t *attr, struct stCoRoutine_t **co);

#endif
