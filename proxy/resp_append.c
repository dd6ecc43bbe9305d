/* SPDX-License-Identifier: Apache-2.0 */
/* resp_append.c — RESP written into a growing buffer: requests for a backend, replies made here. */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "resp_append.h"

int resp_arg_is(const char *req, const struct resp_arg *a, const char *word)
{
    return a->len == strlen(word) && strncasecmp(req + a->off, word, a->len) == 0;
}

int resp_append_bulk(struct rbuf *b, const char *p, size_t n)
{
    if (rbuf_reserve(b, resp_write_bulk_len(n)) != 0)
        return -ENOMEM;
    b->len += resp_write_bulk(b->data + b->len, p, n);
    return 0;
}

int resp_append_header(struct rbuf *b, char type, int64_t n)
{
    if (rbuf_reserve(b, RESP_INT_MAX_LEN) != 0)
        return -ENOMEM;
    b->len += resp_write_int(b->data + b->len, type, n);
    return 0;
}

/* The request's bytes for a backend: as received, or an inline command as a multibulk. */
int resp_append_request(struct rbuf *b, const char *req, const struct resp_request *r)
{
    if (!r->inline_cmd)
        return rbuf_append(b, req, r->size);
    if (resp_append_header(b, '*', r->argc) != 0)
        return -ENOMEM;
    for (uint32_t i = 0; i < r->argc; i++)
        if (resp_append_bulk(b, req + r->args[i].off, r->args[i].len) != 0)
            return -ENOMEM;
    return 0;
}
