/* SPDX-License-Identifier: Apache-2.0 */
/* redis_reply.h — the replies coproxy makes itself (redis_reply.c). */
#ifndef COPROXY_REDIS_REPLY_H
#define COPROXY_REDIS_REPLY_H

#include <stddef.h>
#include <stdint.h>

#include "redis.h"

/* Replies made here, appended to the queue already done. */
void reply_raw(struct redis_client *c, const char *p, size_t n);
void reply_str(struct redis_client *c, const char *s);
void reply_error(struct redis_client *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Replies made here: a bulk string, an integer. */
void reply_bulk(struct redis_client *c, const char *s, size_t n);
void reply_int(struct redis_client *c, int64_t v);
/* s[0..n) fit to print in an error message (at most 71 characters). */
const char *reply_printable(const char *s, size_t n, char out[72]);
const char *reply_lower_name(const char *s, char out[40]);

/* A null ("$-1" in RESP2, "_" in RESP3). */
void reply_null(struct redis_client *c);
/* Text as Redis sends INFO and CLIENT LIST: a bulk string in RESP2, a
 * verbatim string ("txt") in RESP3. */
void reply_verbatim(struct redis_client *c, const char *s, size_t n);

#endif
