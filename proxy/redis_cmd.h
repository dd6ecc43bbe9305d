/* SPDX-License-Identifier: Apache-2.0 */
/* redis_cmd.h — the redis commands coproxy knows: arity, where the keys are, how each is routed. */
#ifndef COPROXY_REDIS_CMD_H
#define COPROXY_REDIS_CMD_H

#include <stddef.h>
#include <stdint.h>

#include "resp.h"

/* How a command is carried out. */
enum cmd_route {
    ROUTE_KEYS,         /* to the server of its keys; with several keys they must all be
                           on one server, else refused (RENAME, SMOVE, SINTER, EVAL, ...) */
    ROUTE_SPLIT_MGET,   /* MGET: keys split by server, array replies merged in key order */
    ROUTE_SPLIT_SUM,    /* DEL, UNLINK, EXISTS, TOUCH: split, integer replies summed */
    ROUTE_SPLIT_MSET,   /* MSET: key-value pairs split, +OK when every part is OK */
    ROUTE_FANOUT_SUM,   /* DBSIZE: to every server, integers summed */
    ROUTE_FANOUT_CONCAT,/* KEYS: to every server, arrays concatenated */
    ROUTE_FANOUT_OK,    /* FLUSHDB, FLUSHALL, SCRIPT LOAD/FLUSH: to every server, +OK (or
                           the first reply when all agree) unless one fails */
    ROUTE_FANOUT_RANDOM,/* RANDOMKEY: to every server, one of the keys they name at random */
    ROUTE_SCAN,         /* SCAN: one server at a time, the server's index in the cursor */
    ROUTE_ONE,          /* TIME, LASTSAVE: to one server, always the same */
    ROUTE_INFO,         /* INFO: coproxy's own sections, the servers' keyspaces summed */
    ROUTE_LOCAL,        /* answered by coproxy itself (PING, ECHO, AUTH, SELECT, ...) */
    ROUTE_REFUSED,      /* understood, but cannot be made correct across servers:
                           refused with `reason` (WAIT) */
    ROUTE_TXN,          /* MULTI, EXEC, DISCARD, WATCH, UNWATCH: on a connection pinned to
                           the client, all keys on one server */
    ROUTE_BLOCKING,     /* BLPOP and kin: on a pinned connection, keys on one server, no
                           server_timeout while the command's own timeout runs */
    ROUTE_XREAD,        /* XREAD, XREADGROUP: keys after STREAMS on one server; with BLOCK,
                           as ROUTE_BLOCKING */
    ROUTE_PUBSUB,       /* (P)SUBSCRIBE, (P)UNSUBSCRIBE: on connections of the client's own
                           (redis_pubsub.c) */
    ROUTE_PUBSUB_INFO,  /* PUBSUB CHANNELS/NUMSUB/NUMPAT: asked of the servers, merged */
    ROUTE_WAIT,         /* WAIT: on connections of the client's own (redis_wait.c) */
    ROUTE_ADMIN,        /* CONFIG, SLOWLOG, LATENCY, MEMORY, DEBUG: by subcommand, to every
                           server and merged, or to the server of a key (redis_admin.c) */
    ROUTE_UNSUPPORTED   /* -ERR unsupported command '<name>' (MONITOR, SSUBSCRIBE...) */
};

#define CMD_NOAUTH 0x01  /* allowed before the client has authenticated */
#define CMD_WRITE  0x02  /* changes data */
#define CMD_SUBSCRIBED 0x04  /* allowed in subscribed mode */
#define CMD_MAY_WRITE  0x08  /* a script: may write (WAIT counts it) */
#define CMD_PATTERNS   0x10  /* SORT: BY/GET patterns may name other keys */
#define CMD_CONTAINER  0x20  /* has subcommands (CLIENT LIST names them: "client|list") */

struct redis_cmd {
    const char *name;   /* upper case, as Redis lists it */
    int16_t arity;      /* Redis's convention: N exactly N arguments (name included),
                           -N at least N */
    uint8_t route;      /* enum cmd_route */
    uint8_t flags;
    /* Keys, Redis-style: arguments first..last every step (last < 0 counts
       from the end, -1 = the last argument); first 0: no keys.  With
       numkeys_at > 0, argument numkeys_at holds a count of keys that follow
       it (EVAL: 2; ZUNIONSTORE: 2, its destination at `first` = 1 too). */
    int8_t first, last, step;
    int8_t numkeys_at;
    uint16_t index;     /* its place in the table (redis_cmd_at), set once it is built */
    const char *reason; /* ROUTE_REFUSED: why, for the error reply */
};

/* The command named by name[0..len), any case, or NULL if it is not known. */
const struct redis_cmd *redis_cmd_lookup(const char *name, size_t len);
/* A container's subcommand name[0..len) as Redis 7 names it (lower case),
 * or NULL if it is not one of Redis's. */
const char *redis_cmd_subname(const char *name, size_t len);

/* The number of commands in the table (COMMAND COUNT). */
int redis_cmd_count(void);

/* The i-th command of the table, 0 <= i < redis_cmd_count() (for COMMAND and
 * the tests), else NULL. */
const struct redis_cmd *redis_cmd_at(int i);

/*
 * The indexes into args[0..argc) of the request's keys, in order, into
 * keys[] (room for argc entries).  Returns how many, or -1 with *err set to
 * the error reply's text (without the leading "-" and trailing CRLF), e.g.
 * "ERR Number of keys can't be greater than number of args" or a bad
 * numkeys.  The arity was already checked (redis_cmd_arity_ok).
 * A bad numkeys gets the reply Redis gives for that command (EVAL: "ERR
 * Number of keys can't be negative"; ZUNIONSTORE 0: "ERR at least 1 input
 * key is needed for 'zunionstore' command"; LMPOP too many: "ERR syntax
 * error"...); *err is static text.  Beyond first..last: SORT's STORE and
 * GEORADIUS(BYMEMBER)'s STORE/STOREDIST destination is a key too.
 * 0 keys: the request names none (PING, EVAL with numkeys 0, OBJECT HELP:
 * no key at 2): any server can take it.
 */
int redis_cmd_keys(const struct redis_cmd *cmd, const char *req, const struct resp_arg *args,
                   uint32_t argc, uint32_t *keys, const char **err);

/* cmd's index in the table (redis_cmd_at(index) == cmd), for tables kept
 * beside it (a command from redis_cmd_lookup or redis_cmd_at). */
static inline int redis_cmd_index(const struct redis_cmd *cmd)
{
    return cmd->index;
}

/* Whether argc fits the command's arity; for key-value pairs to the end
 * (MSET, MSETNX), also whether the last pair is whole, as Redis checks it
 * (it replies its arity error to "MSET k1 v1 k2"). */
int redis_cmd_arity_ok(const struct redis_cmd *cmd, uint32_t argc);

#endif
