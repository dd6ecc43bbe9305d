/* SPDX-License-Identifier: Apache-2.0 */
/* resp_append.h — RESP written into a growing buffer (resp_append.c). */
#ifndef COPROXY_RESP_APPEND_H
#define COPROXY_RESP_APPEND_H

#include <stddef.h>
#include <stdint.h>

#include "rbuf.h"
#include "resp.h"

/* Request helpers. */
int resp_arg_is(const char *req, const struct resp_arg *a, const char *word);
int resp_append_bulk(struct rbuf *b, const char *p, size_t n);
int resp_append_header(struct rbuf *b, char type, int64_t n);
int resp_append_request(struct rbuf *b, const char *req, const struct resp_request *r);

#endif
