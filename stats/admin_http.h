/* SPDX-License-Identifier: Apache-2.0 */
/* admin_http.h — GET /metrics over HTTP on the admin port, for Prometheus to scrape. */
#ifndef COPROXY_ADMIN_HTTP_H
#define COPROXY_ADMIN_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "rbuf.h"

/* Does a connection's first len bytes start an HTTP request (GET or HEAD)?
 * 1 yes, 0 no, -1 too few bytes to tell. */
int admin_http_sniff(const char *buf, size_t len);

/* Serves the one HTTP request whose first len bytes are in buf (cap bytes
 * of room): reads the rest of its head, checks the password (when not
 * empty), and answers GET /metrics with what metrics() appends.  A head
 * not complete by deadline_ms (worker_now_ms's clock) gets no answer.  The
 * caller closes fd. */
void admin_http_serve(int fd, char *buf, size_t len, size_t cap, const char *password, uint64_t deadline_ms,
                int (*metrics)(struct rbuf *out));

/* given (len bytes) is the password (not empty), compared in constant time. */
int admin_password_equal(const char *given, size_t len, const char *password);

#endif
