/* SPDX-License-Identifier: Apache-2.0 */
/* rbuf.c — growable byte buffers (requests and replies on their way, reports). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rbuf.h"

int rbuf_reserve(struct rbuf *b, size_t more)
{
    size_t want = b->len + more, cap;
    char *grown;

    if (want <= b->cap)
        return 0;
    cap = b->cap ? b->cap : 64;
    while (cap < want)
        cap = cap < ((size_t)1 << 62) ? cap * 2 : want;
    if ((grown = realloc(b->data, cap)) == NULL)
        return -ENOMEM;
    b->data = grown;
    b->cap = cap;
    return 0;
}

int rbuf_append(struct rbuf *b, const void *p, size_t n)
{
    if (n == 0)
        return 0;   /* (memcpy may not be given a null pointer, even for nothing) */
    if (rbuf_reserve(b, n) != 0)
        return -ENOMEM;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

int rbuf_printf(struct rbuf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || rbuf_reserve(b, (size_t)n + 1) != 0)
        return -ENOMEM;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

void rbuf_free(struct rbuf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}
