/* SPDX-License-Identifier: Apache-2.0 */
/* tls_pool.h — a pool's TLS handshakes, with clients and with its servers: counted and logged. */
#ifndef COPROXY_TLS_POOL_H
#define COPROXY_TLS_POOL_H

#include <stdint.h>

#include "tls.h"

struct pool_rt;
struct server_stats;

/* A client's handshake on a TLS listener, until deadline_ms: 0, or -1
 * (counted by reason and logged with the client's address; close it). */
int tls_accepted(struct pool_rt *p, SSL *ssl, int fd, uint64_t deadline_ms);

/* A handshake with a server: 0, or -1 with why (for the caller's log). */
int tls_connected(struct server_stats *st, SSL *ssl, int fd, uint64_t deadline_ms, char *why, size_t whylen);

#endif
