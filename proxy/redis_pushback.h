/* SPDX-License-Identifier: Apache-2.0 */
/* redis_pushback.h — what a blocking pop took for a client that had left, given back. */
#ifndef COPROXY_REDIS_PUSHBACK_H
#define COPROXY_REDIS_PUSHBACK_H

#include <stddef.h>

#include "rbuf.h"
#include "resp.h"

/*
 * A client that closes while its BLPOP waits must not lose what the server
 * pops for it in the moment before the server learns that it left: the
 * proxy forwards the client's FIN on the blocked command's own connection
 * (the server then frees its client, as Redis frees one that closed), and
 * a reply that was already on its way is undone here -- the elements are
 * pushed back where they were taken from.
 */
enum pop_kind {
    POP_NONE,          /* takes nothing (XREAD): nothing to give back */
    POP_LIST_LEFT,     /* BLPOP, BLMPOP ... LEFT: LPUSH them back */
    POP_LIST_RIGHT,    /* BRPOP, BLMPOP ... RIGHT: RPUSH them back */
    POP_ZSET,          /* BZPOPMIN/MAX, BZMPOP: ZADD them back with their scores */
    POP_MOVED,         /* BRPOPLPUSH, BLMOVE: the element sits in the destination */
    POP_GROUP,         /* XREADGROUP: the entries wait in the group's pending list */
};

/* What the blocking command `name` (the request req, r) takes from the server when answered. */
enum pop_kind pushback_kind(const char *name, const char *req, const struct resp_request *r);

/*
 * The request that gives back what the reply p[0..n) (complete, RESP2, to
 * a command of kind k) took, appended to out; *key, *keylen point to its
 * key inside p.  1: appended; 0: nothing to give back (a nil or error
 * reply, or a kind whose elements are not lost); -ENOMEM, or -EINVAL for a
 * reply not of the expected shape (out unchanged).
 */
int pushback_request(enum pop_kind k, const char *p, size_t n, struct rbuf *out, const char **key, size_t *keylen);

#endif
