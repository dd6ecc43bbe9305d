/* SPDX-License-Identifier: Apache-2.0 */
/* redis_pushback.c — what a blocking pop took for a client that had left, given back. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "redis_pushback.h"

static int arg_is(const char *req, const struct resp_arg *a, const char *word)
{
    return a->len == strlen(word) && strncasecmp(req + a->off, word, a->len) == 0;
}

enum pop_kind pushback_kind(const char *name, const char *req, const struct resp_request *r)
{
    if (strcmp(name, "BLPOP") == 0)
        return POP_LIST_LEFT;
    if (strcmp(name, "BRPOP") == 0)
        return POP_LIST_RIGHT;
    if (strcmp(name, "BZPOPMIN") == 0 || strcmp(name, "BZPOPMAX") == 0 || strcmp(name, "BZMPOP") == 0)
        return POP_ZSET;
    if (strcmp(name, "BRPOPLPUSH") == 0 || strcmp(name, "BLMOVE") == 0)
        return POP_MOVED;
    if (strcmp(name, "XREADGROUP") == 0)
        return POP_GROUP;
    if (strcmp(name, "BLMPOP") == 0 && r->argc > 3) {   /* BLMPOP timeout numkeys key... LEFT|RIGHT [COUNT n] */
        unsigned long long nkeys = strtoull(req + r->args[2].off, NULL, 10);   /* (the server checked it) */
        return nkeys < r->argc - 3 && arg_is(req, &r->args[3 + nkeys], "RIGHT") ? POP_LIST_RIGHT : POP_LIST_LEFT;
    }
    return POP_NONE;
}

/* A cursor over one complete RESP2 reply. */
struct walk {
    const char *p, *end;
};

/* The next element's type byte and number ("*3" -> '*', 3); -1 if malformed. */
static int next_header(struct walk *w, char *type, long long *n)
{
    const char *nl = memchr(w->p, '\n', (size_t)(w->end - w->p));
    char *e;

    if (nl == NULL || nl - w->p < 3 || nl[-1] != '\r')
        return -1;
    *type = w->p[0];
    *n = strtoll(w->p + 1, &e, 10);
    if (e != nl - 1)
        return -1;
    w->p = nl + 1;
    return 0;
}

/* A bulk string's bytes; -1 if the next element is not one. */
static int next_bulk(struct walk *w, const char **s, size_t *len)
{
    char type;
    long long n;

    if (next_header(w, &type, &n) != 0 || type != '$' || n < 0 || n > w->end - w->p - 2)
        return -1;
    *s = w->p;
    *len = (size_t)n;
    w->p += n + 2;
    return 0;
}

/* Up to 2 levels: the elements of [key, [e1, e2, ...]] or [key, e1, ...]. */
#define PUSHBACK_MAX 4096

int pushback_request(enum pop_kind k, const char *p, size_t n, struct rbuf *out, const char **key, size_t *keylen)
{
    struct walk w = { p, p + n };
    const char **item;
    size_t *ilen, mark = out->len;
    long long top, count, per = k == POP_ZSET ? 2 : 1, nitems;
    char type;
    int rc = -EINVAL, nested;

    if (k != POP_LIST_LEFT && k != POP_LIST_RIGHT && k != POP_ZSET)
        return 0;
    if (n == 0 || p[0] == '-' || (n >= 3 && p[0] == '$' && p[1] == '-'))
        return 0;   /* an error, or nil: nothing was taken */
    if (p[0] != '*' || next_header(&w, &type, &top) != 0)
        return -EINVAL;
    if (top <= 0)
        return 0;   /* nil (timed out) */
    if ((top != 2 && top != 1 + per) || next_bulk(&w, key, keylen) != 0)
        return -EINVAL;
    nested = top == 2 && w.p < w.end && w.p[0] == '*';   /* [key, [elements]] (BLMPOP, BZMPOP) */
    if (!nested && top != 1 + per)
        return -EINVAL;
    count = 1;   /* [key, member(, score)]: one taken */
    if (nested) {
        if (next_header(&w, &type, &count) != 0 || type != '*' || count <= 0 || count > PUSHBACK_MAX)
            return -EINVAL;
    }
    nitems = count * per;
    item = malloc((size_t)nitems * sizeof *item);
    ilen = malloc((size_t)nitems * sizeof *ilen);
    if (item == NULL || ilen == NULL) {
        rc = -ENOMEM;
        goto out;
    }
    for (long long i = 0; i < count; i++) {
        long long pair;
        if (nested && per == 2 && (next_header(&w, &type, &pair) != 0 || type != '*' || pair != 2))
            goto out;
        for (long long j = 0; j < per; j++)
            if (next_bulk(&w, &item[i * per + j], &ilen[i * per + j]) != 0)
                goto out;
    }
    rc = -ENOMEM;
    if (rbuf_reserve(out, RESP_INT_MAX_LEN + resp_write_bulk_len(5) + resp_write_bulk_len(*keylen)) != 0)
        goto out;
    out->len += resp_write_int(out->data + out->len, '*', 2 + nitems);
    out->len += resp_write_bulk(out->data + out->len, k == POP_ZSET ? "ZADD" : k == POP_LIST_LEFT ? "LPUSH" : "RPUSH",
                                k == POP_ZSET ? 4 : 5);
    out->len += resp_write_bulk(out->data + out->len, *key, *keylen);
    /* the last taken goes back first, so the first taken ends where it was */
    for (long long i = count - 1; i >= 0; i--) {
        if (k == POP_ZSET) {   /* ZADD key score member */
            if (rbuf_reserve(out, resp_write_bulk_len(ilen[i * 2 + 1]) + resp_write_bulk_len(ilen[i * 2])) != 0)
                goto out;
            out->len += resp_write_bulk(out->data + out->len, item[i * 2 + 1], ilen[i * 2 + 1]);
            out->len += resp_write_bulk(out->data + out->len, item[i * 2], ilen[i * 2]);
        } else {
            if (rbuf_reserve(out, resp_write_bulk_len(ilen[i])) != 0)
                goto out;
            out->len += resp_write_bulk(out->data + out->len, item[i], ilen[i]);
        }
    }
    rc = 1;
out:
    if (rc != 1)
        out->len = mark;
    free(item);
    free(ilen);
    return rc;
}
