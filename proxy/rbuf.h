/* SPDX-License-Identifier: Apache-2.0 */
/* rbuf.h — a growable byte buffer. */
#ifndef COPROXY_RBUF_H
#define COPROXY_RBUF_H

#include <stddef.h>

struct rbuf {
    char *data;
    size_t len, cap;
};

int rbuf_reserve(struct rbuf *b, size_t more);   /* 0 or -ENOMEM */
int rbuf_append(struct rbuf *b, const void *p, size_t n);
int rbuf_printf(struct rbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void rbuf_free(struct rbuf *b);

#endif
