/* SPDX-License-Identifier: Apache-2.0 */
/* redis_cmd.c — the command table: Redis 7.0's names, arities and key positions, and how coproxy routes each. */
#include <limits.h>
#include <pthread.h>
#include <string.h>
#include <strings.h>

#include "redis_cmd.h"

/*
 * Where the keys are beyond first..last..step (the table's keys_how):
 *   KEYS_RANGE      just first..last..step, or numkeys (numkeys_at > 0);
 *   KEYS_SORT       SORT's "STORE dest" names a key too (the last STORE wins,
 *                   as in SORT).  Keys named by BY and GET patterns are not
 *                   keys here: those patterns read the server SORT runs on;
 *   KEYS_GEORADIUS  GEORADIUS(BYMEMBER)'s "STORE dest" or "STOREDIST dest",
 *                   the last one (the one written), found past the |arity|
 *                   fixed arguments.
 * The numkeys styles check the count as Redis does and give its words:
 *   NK_EVAL  0 allowed; "value is not an integer", "can't be negative",
 *            "can't be greater than number of args";
 *   NK_ZSET  ZUNIONSTORE, ZUNION, ZINTERCARD...: 1 at least ("at least 1 input
 *            key is needed for '<name>' command"), too many: "syntax error";
 *   NK_CARD  SINTERCARD: "numkeys should be greater than 0", too many as EVAL;
 *   NK_MPOP  LMPOP, ZMPOP: as NK_CARD, but an argument (LEFT, MIN...) must
 *            follow the keys, else "syntax error".
 */
enum { KEYS_RANGE, KEYS_SORT, KEYS_GEORADIUS };
enum { NK_EVAL, NK_ZSET, NK_CARD, NK_MPOP };

#define ERR_NOT_INT "ERR value is not an integer or out of range"
#define ERR_NEGATIVE "ERR Number of keys can't be negative"
#define ERR_TOO_MANY "ERR Number of keys can't be greater than number of args"
#define ERR_NUMKEYS_ZERO "ERR numkeys should be greater than 0"
#define ERR_SYNTAX "ERR syntax error"
#define ZSET_LOW(name) "ERR at least 1 input key is needed for '" name "' command"

/* A table entry: the public part first, so that a redis_cmd pointer into the
 * table is a cmd_def pointer too (cmd_def_of). */
struct cmd_def {
    struct redis_cmd cmd;
    uint8_t keys_how;          /* KEYS_* */
    uint8_t nk_style;          /* NK_*, with numkeys_at > 0 */
    const char *nk_low;        /* NK_ZSET: the reply to numkeys < 1, which names the command */
};

#define CMD(name, arity, route, flags, first, last, step) \
    { { name, arity, ROUTE_##route, flags, first, last, step, 0, 0, NULL }, KEYS_RANGE, 0, NULL }
#define CMD_OPT(name, arity, route, flags, first, last, step, how) \
    { { name, arity, ROUTE_##route, flags, first, last, step, 0, 0, NULL }, how, 0, NULL }
/* numkeys at numkeys_at, the keys right after it; first 1: a destination key there too */
#define CMD_NK(name, arity, route, flags, first, numkeys_at, style, low) \
    { { name, arity, ROUTE_##route, flags, first, first, first, numkeys_at, 0, NULL }, \
      KEYS_RANGE, style, low }
#define CMD_REFUSED(name, arity, reason) \
    { { name, arity, ROUTE_REFUSED, 0, 0, 0, 0, 0, 0, reason }, KEYS_RANGE, 0, NULL }

/*
 * Arities and first/last/step are Redis 7.0's (COMMAND INFO), but for the
 * container commands OBJECT, XINFO and XGROUP: Redis gives 0 0 0 there (each
 * subcommand has its own), every keyed subcommand has its key at 2, and
 * their HELP has none (no key at 2: none returned).  CMD_WRITE where Redis
 * says "write".
 */
static struct cmd_def cmd_table[] = {   /* (written once: each entry's index, hash_build) */
    /* strings */
    CMD("GET",                      2, KEYS,          0,                      1,  1,  1),
    CMD("SET",                     -3, KEYS,          CMD_WRITE,              1,  1,  1),
    CMD("SETNX",                    3, KEYS,          CMD_WRITE,              1,  1,  1),
    CMD("SETEX",                    4, KEYS,          CMD_WRITE,              1,  1,  1),
    CMD("PSETEX",                   4, KEYS,          CMD_WRITE,              1,  1,  1),
    CMD("GETSET",                   3, KEYS,          CMD_WRITE,              1,  1,  1),
    CMD("GETDEL",                   2, KEYS,          CMD_WRITE,              1,  1,  1),
    CMD("GETEX",                   -2, KEYS,          CMD_WRITE,              1,  1,  1),
    CMD("APPEND",                   3, KEYS,          CMD_WRITE,              1,  1,  1),
    CMD("STRLEN",                   2, KEYS,          0,                      1,  1,  1),
    CMD("INCR",                     2, KEYS,          CMD_WRITE,              1,  1,  1),
    CMD("DECR",                     2, KEYS,          CMD_WRITE,              1,  1,  1),
    CMD("INCRBY",                   3, KEYS,          CMD_WRITE,              1,  1,  1),
    CMD("DECRBY",                   3, KEYS,          CMD_WRITE,              1,  1,  1),
    CMD("INCRBYFLOAT",              3, KEYS,          CMD_WRITE,              1,  1,  1),
    CMD("SETRANGE",                 4, KEYS,          CMD_WRITE,              1,  1,  1),
    CMD("GETRANGE",                 4, KEYS,          0,                      1,  1,  1),
    CMD("SUBSTR",                   4, KEYS,          0,                      1,  1,  1),
    CMD("LCS",                     -3, KEYS,          0,                      1,  2,  1),
    /* strings: MGET, MSET split by server; MSETNX must stay on one server */
    CMD("MGET",                    -2, SPLIT_MGET,    0,                      1, -1,  1),
    CMD("MSET",                    -3, SPLIT_MSET,    CMD_WRITE,              1, -1,  2),
    CMD("MSETNX",                  -3, KEYS,          CMD_WRITE,              1, -1,  2),
    /* bitmaps */
    CMD("SETBIT",                   4, KEYS,          CMD_WRITE,              1,  1,  1),
    CMD("GETBIT",                   3, KEYS,          0,                      1,  1,  1),
    CMD("BITCOUNT",                -2, KEYS,          0,                      1,  1,  1),
    CMD("BITPOS",                  -3, KEYS,          0,                      1,  1,  1),
    CMD("BITFIELD",                -2, KEYS,          CMD_WRITE,              1,  1,  1),
    CMD("BITFIELD_RO",             -2, KEYS,          0,                      1,  1,  1),
    CMD("BITOP",                   -4, KEYS,          CMD_WRITE,              2, -1,  1),
    /* hashes */
    CMD("HSET",                    -4, KEYS,          CMD_WRITE,              1,  1,  1),
    CMD("HSETNX",                   4, KEYS,          CMD_WRITE,              1,  1,  1),
    CMD("HGET",                     3, KEYS,          0,                      1,  1,  1),
    CMD("HMSET",                   -4, KEYS,          CMD_WRITE,              1,  1,  1),
    CMD("HMGET",                   -3, KEYS,          0,                      1,  1,  1),
    CMD("HDEL",                    -3, KEYS,          CMD_WRITE,              1,  1,  1),
    CMD("HLEN",                     2, KEYS,          0,                      1,  1,  1),
    CMD("HSTRLEN",                  3, KEYS,          0,                      1,  1,  1),
    CMD("HKEYS",                    2, KEYS,          0,                      1,  1,  1),
    CMD("HVALS",                    2, KEYS,          0,                      1,  1,  1),
    CMD("HGETALL",                  2, KEYS,          0,                      1,  1,  1),
    CMD("HEXISTS",                  3, KEYS,          0,                      1,  1,  1),
    CMD("HINCRBY",                  4, KEYS,          CMD_WRITE,              1,  1,  1),
    CMD("HINCRBYFLOAT",             4, KEYS,          CMD_WRITE,              1,  1,  1),
    CMD("HRANDFIELD",              -2, KEYS,          0,                      1,  1,  1),
    CMD("HSCAN",                   -3, KEYS,          0,                      1,  1,  1),
    /* lists */
    CMD("LPUSH",                   -3, KEYS,          CMD_WRITE,              1,  1,  1),
    CMD("RPUSH",                   -3, KEYS,          CMD_WRITE,              1,  1,  1),
    CMD("LPUSHX",                  -3, KEYS,          CMD_WRITE,              1,  1,  1),
    CMD("RPUSHX",                  -3, KEYS,          CMD_WRITE,              1,  1,  1),
    CMD("LPOP",                    -2, KEYS,          CMD_WRITE,              1,  1,  1),
    CMD("RPOP",                    -2, KEYS,          CMD_WRITE,              1,  1,  1),
    CMD("LLEN",                     2, KEYS,          0,                      1,  1,  1),
    CMD("LINDEX",                   3, KEYS,          0,                      1,  1,  1),
    CMD("LSET",                     4, KEYS,          CMD_WRITE,              1,  1,  1),
    CMD("LRANGE",                   4, KEYS,          0,                      1,  1,  1),
    CMD("LTRIM",                    4, KEYS,          CMD_WRITE,              1,  1,  1),
    CMD("LREM",                     4, KEYS,          CMD_WRITE,              1,  1,  1),
    CMD("LINSERT",                  5, KEYS,          CMD_WRITE,              1,  1,  1),
    CMD("LPOS",                    -3, KEYS,          0,                      1,  1,  1),
    CMD("RPOPLPUSH",                3, KEYS,          CMD_WRITE,              1,  2,  1),
    CMD("LMOVE",                    5, KEYS,          CMD_WRITE,              1,  2,  1),
    CMD_NK("LMPOP",                -4, KEYS,          CMD_WRITE,              0,  1, NK_MPOP, NULL),
    /* sets */
    CMD("SADD",                    -3, KEYS,          CMD_WRITE,              1,  1,  1),
    CMD("SREM",                    -3, KEYS,          CMD_WRITE,              1,  1,  1),
    CMD("SCARD",                    2, KEYS,          0,                      1,  1,  1),
    CMD("SISMEMBER",                3, KEYS,          0,                      1,  1,  1),
    CMD("SMISMEMBER",              -3, KEYS,          0,                      1,  1,  1),
    CMD("SMEMBERS",                 2, KEYS,          0,                      1,  1,  1),
    CMD("SRANDMEMBER",             -2, KEYS,          0,                      1,  1,  1),
    CMD("SPOP",                    -2, KEYS,          CMD_WRITE,              1,  1,  1),
    CMD("SSCAN",                   -3, KEYS,          0,                      1,  1,  1),
    CMD("SMOVE",                    4, KEYS,          CMD_WRITE,              1,  2,  1),
    CMD("SINTER",                  -2, KEYS,          0,                      1, -1,  1),
    CMD("SINTERSTORE",             -3, KEYS,          CMD_WRITE,              1, -1,  1),
    CMD_NK("SINTERCARD",           -3, KEYS,          0,                      0,  1, NK_CARD, NULL),
    CMD("SUNION",                  -2, KEYS,          0,                      1, -1,  1),
    CMD("SUNIONSTORE",             -3, KEYS,          CMD_WRITE,              1, -1,  1),
    CMD("SDIFF",                   -2, KEYS,          0,                      1, -1,  1),
    CMD("SDIFFSTORE",              -3, KEYS,          CMD_WRITE,              1, -1,  1),
    /* sorted sets */
    CMD("ZADD",                    -4, KEYS,          CMD_WRITE,              1,  1,  1),
    CMD("ZINCRBY",                  4, KEYS,          CMD_WRITE,              1,  1,  1),
    CMD("ZREM",                    -3, KEYS,          CMD_WRITE,              1,  1,  1),
    CMD("ZCARD",                    2, KEYS,          0,                      1,  1,  1),
    CMD("ZCOUNT",                   4, KEYS,          0,                      1,  1,  1),
    CMD("ZSCORE",                   3, KEYS,          0,                      1,  1,  1),
    CMD("ZMSCORE",                 -3, KEYS,          0,                      1,  1,  1),
    CMD("ZRANK",                    3, KEYS,          0,                      1,  1,  1),
    CMD("ZREVRANK",                 3, KEYS,          0,                      1,  1,  1),
    CMD("ZRANGE",                  -4, KEYS,          0,                      1,  1,  1),
    CMD("ZRANGEBYSCORE",           -4, KEYS,          0,                      1,  1,  1),
    CMD("ZREVRANGEBYSCORE",        -4, KEYS,          0,                      1,  1,  1),
    CMD("ZRANGEBYLEX",             -4, KEYS,          0,                      1,  1,  1),
    CMD("ZREVRANGEBYLEX",          -4, KEYS,          0,                      1,  1,  1),
    CMD("ZREVRANGE",               -4, KEYS,          0,                      1,  1,  1),
    CMD("ZREMRANGEBYRANK",          4, KEYS,          CMD_WRITE,              1,  1,  1),
    CMD("ZREMRANGEBYSCORE",         4, KEYS,          CMD_WRITE,              1,  1,  1),
    CMD("ZREMRANGEBYLEX",           4, KEYS,          CMD_WRITE,              1,  1,  1),
    CMD("ZLEXCOUNT",                4, KEYS,          0,                      1,  1,  1),
    CMD("ZPOPMIN",                 -2, KEYS,          CMD_WRITE,              1,  1,  1),
    CMD("ZPOPMAX",                 -2, KEYS,          CMD_WRITE,              1,  1,  1),
    CMD("ZRANDMEMBER",             -2, KEYS,          0,                      1,  1,  1),
    CMD("ZSCAN",                   -3, KEYS,          0,                      1,  1,  1),
    CMD("ZRANGESTORE",             -5, KEYS,          CMD_WRITE,              1,  2,  1),
    CMD_NK("ZUNIONSTORE",          -4, KEYS,          CMD_WRITE,              1,  2, NK_ZSET, ZSET_LOW("zunionstore")),
    CMD_NK("ZINTERSTORE",          -4, KEYS,          CMD_WRITE,              1,  2, NK_ZSET, ZSET_LOW("zinterstore")),
    CMD_NK("ZDIFFSTORE",           -4, KEYS,          CMD_WRITE,              1,  2, NK_ZSET, ZSET_LOW("zdiffstore")),
    CMD_NK("ZUNION",               -3, KEYS,          0,                      0,  1, NK_ZSET, ZSET_LOW("zunion")),
    CMD_NK("ZINTER",               -3, KEYS,          0,                      0,  1, NK_ZSET, ZSET_LOW("zinter")),
    CMD_NK("ZDIFF",                -3, KEYS,          0,                      0,  1, NK_ZSET, ZSET_LOW("zdiff")),
    CMD_NK("ZINTERCARD",           -3, KEYS,          0,                      0,  1, NK_ZSET, ZSET_LOW("zintercard")),
    CMD_NK("ZMPOP",                -4, KEYS,          CMD_WRITE,              0,  1, NK_MPOP, NULL),
    /* HyperLogLog */
    CMD("PFADD",                   -2, KEYS,          CMD_WRITE,              1,  1,  1),
    CMD("PFCOUNT",                 -2, KEYS,          0,                      1, -1,  1),
    CMD("PFMERGE",                 -2, KEYS,          CMD_WRITE,              1, -1,  1),
    /* geo */
    CMD("GEOADD",                  -5, KEYS,          CMD_WRITE,              1,  1,  1),
    CMD("GEODIST",                 -4, KEYS,          0,                      1,  1,  1),
    CMD("GEOHASH",                 -2, KEYS,          0,                      1,  1,  1),
    CMD("GEOPOS",                  -2, KEYS,          0,                      1,  1,  1),
    CMD_OPT("GEORADIUS",           -6, KEYS,          CMD_WRITE,              1,  1,  1, KEYS_GEORADIUS),
    CMD_OPT("GEORADIUSBYMEMBER",   -5, KEYS,          CMD_WRITE,              1,  1,  1, KEYS_GEORADIUS),
    CMD("GEORADIUS_RO",            -6, KEYS,          0,                      1,  1,  1),
    CMD("GEORADIUSBYMEMBER_RO",    -5, KEYS,          0,                      1,  1,  1),
    CMD("GEOSEARCH",               -7, KEYS,          0,                      1,  1,  1),
    CMD("GEOSEARCHSTORE",          -8, KEYS,          CMD_WRITE,              1,  2,  1),
    /* streams */
    CMD("XADD",                    -5, KEYS,          CMD_WRITE,              1,  1,  1),
    CMD("XLEN",                     2, KEYS,          0,                      1,  1,  1),
    CMD("XRANGE",                  -4, KEYS,          0,                      1,  1,  1),
    CMD("XREVRANGE",               -4, KEYS,          0,                      1,  1,  1),
    CMD("XDEL",                    -3, KEYS,          CMD_WRITE,              1,  1,  1),
    CMD("XTRIM",                   -4, KEYS,          CMD_WRITE,              1,  1,  1),
    CMD("XACK",                    -4, KEYS,          CMD_WRITE,              1,  1,  1),
    CMD("XCLAIM",                  -6, KEYS,          CMD_WRITE,              1,  1,  1),
    CMD("XAUTOCLAIM",              -6, KEYS,          CMD_WRITE,              1,  1,  1),
    CMD("XPENDING",                -3, KEYS,          0,                      1,  1,  1),
    CMD("XSETID",                  -3, KEYS,          CMD_WRITE,              1,  1,  1),
    CMD("XGROUP",                  -2, KEYS,          CMD_CONTAINER,          2,  2,  1),
    CMD("XINFO",                   -2, KEYS,          CMD_CONTAINER,          2,  2,  1),
    /* keys */
    CMD("DEL",                     -2, SPLIT_SUM,     CMD_WRITE,              1, -1,  1),
    CMD("UNLINK",                  -2, SPLIT_SUM,     CMD_WRITE,              1, -1,  1),
    CMD("EXISTS",                  -2, SPLIT_SUM,     0,                      1, -1,  1),
    CMD("TOUCH",                   -2, SPLIT_SUM,     0,                      1, -1,  1),
    CMD("EXPIRE",                  -3, KEYS,          CMD_WRITE,              1,  1,  1),
    CMD("PEXPIRE",                 -3, KEYS,          CMD_WRITE,              1,  1,  1),
    CMD("EXPIREAT",                -3, KEYS,          CMD_WRITE,              1,  1,  1),
    CMD("PEXPIREAT",               -3, KEYS,          CMD_WRITE,              1,  1,  1),
    CMD("EXPIRETIME",               2, KEYS,          0,                      1,  1,  1),
    CMD("PEXPIRETIME",              2, KEYS,          0,                      1,  1,  1),
    CMD("TTL",                      2, KEYS,          0,                      1,  1,  1),
    CMD("PTTL",                     2, KEYS,          0,                      1,  1,  1),
    CMD("TYPE",                     2, KEYS,          0,                      1,  1,  1),
    CMD("PERSIST",                  2, KEYS,          CMD_WRITE,              1,  1,  1),
    CMD("DUMP",                     2, KEYS,          0,                      1,  1,  1),
    CMD("RESTORE",                 -4, KEYS,          CMD_WRITE,              1,  1,  1),
    CMD("OBJECT",                  -2, KEYS,          CMD_CONTAINER,          2,  2,  1),
    CMD_OPT("SORT",                -2, KEYS,          CMD_WRITE | CMD_PATTERNS, 1,  1,  1, KEYS_SORT),
    CMD("SORT_RO",                 -2, KEYS,          CMD_PATTERNS,           1,  1,  1),
    CMD("RENAME",                   3, KEYS,          CMD_WRITE,              1,  2,  1),
    CMD("RENAMENX",                 3, KEYS,          CMD_WRITE,              1,  2,  1),
    CMD("COPY",                    -3, KEYS,          CMD_WRITE,              1,  2,  1),
    /* scripting */
    CMD_NK("EVAL",                 -3, KEYS,          CMD_MAY_WRITE,          0,  2, NK_EVAL, NULL),
    CMD_NK("EVALSHA",              -3, KEYS,          CMD_MAY_WRITE,          0,  2, NK_EVAL, NULL),
    CMD_NK("EVAL_RO",              -3, KEYS,          0,                      0,  2, NK_EVAL, NULL),
    CMD_NK("EVALSHA_RO",           -3, KEYS,          0,                      0,  2, NK_EVAL, NULL),
    CMD("SCRIPT",                  -2, FANOUT_OK,     CMD_CONTAINER,          0,  0,  0),
    /* every server */
    CMD("DBSIZE",                   1, FANOUT_SUM,    0,                      0,  0,  0),
    CMD("KEYS",                     2, FANOUT_CONCAT, 0,                      0,  0,  0),
    CMD("FLUSHDB",                 -1, FANOUT_OK,     CMD_WRITE,              0,  0,  0),
    CMD("FLUSHALL",                -1, FANOUT_OK,     CMD_WRITE,              0,  0,  0),
    /* across servers in their own ways */
    CMD("SCAN",                    -2, SCAN,          0,                      0,  0,  0),
    CMD("RANDOMKEY",                1, FANOUT_RANDOM, 0,                      0,  0,  0),
    CMD("TIME",                     1, ONE,           0,                      0,  0,  0),
    CMD("LASTSAVE",                 1, ONE,           0,                      0,  0,  0),
    CMD("FUNCTION",                -2, FANOUT_OK,     CMD_WRITE | CMD_CONTAINER, 0, 0, 0),
    CMD_NK("FCALL",                -3, KEYS,          CMD_WRITE,              0,  2, NK_EVAL, NULL),
    CMD_NK("FCALL_RO",             -3, KEYS,          0,                      0,  2, NK_EVAL, NULL),
    CMD("INFO",                    -1, INFO,          0,                      0,  0,  0),
    /* the replicas that saw the client's writes */
    CMD("WAIT",                     3, WAIT,          0,                      0,  0,  0),
    /* answered by coproxy */
    CMD("PING",                    -1, LOCAL,         CMD_NOAUTH | CMD_SUBSCRIBED, 0, 0, 0),
    CMD("ECHO",                     2, LOCAL,         0,                      0,  0,  0),
    CMD("QUIT",                    -1, LOCAL,         CMD_NOAUTH | CMD_SUBSCRIBED, 0, 0, 0),
    CMD("RESET",                    1, LOCAL,         CMD_NOAUTH | CMD_SUBSCRIBED, 0, 0, 0),
    CMD("SELECT",                   2, LOCAL,         0,                      0,  0,  0),
    CMD("AUTH",                    -2, LOCAL,         CMD_NOAUTH,             0,  0,  0),
    CMD("HELLO",                   -1, LOCAL,         CMD_NOAUTH,             0,  0,  0),
    CMD("COMMAND",                 -1, ONE,           CMD_CONTAINER,          0,  0,  0),   /* the servers' own table */
    CMD("CLIENT",                  -2, LOCAL,         CMD_CONTAINER,          0,  0,  0),
    /* transactions and blocking commands: a pinned connection each */
    CMD("MULTI",                    1, TXN,           0,                      0,  0,  0),
    CMD("EXEC",                     1, TXN,           0,                      0,  0,  0),
    CMD("DISCARD",                  1, TXN,           0,                      0,  0,  0),
    CMD("WATCH",                   -2, TXN,           0,                      1, -1,  1),
    CMD("UNWATCH",                  1, TXN,           0,                      0,  0,  0),
    CMD("BLPOP",                   -3, BLOCKING,      CMD_WRITE,              1, -2,  1),
    CMD("BRPOP",                   -3, BLOCKING,      CMD_WRITE,              1, -2,  1),
    CMD("BRPOPLPUSH",               4, BLOCKING,      CMD_WRITE,              1,  2,  1),
    CMD("BLMOVE",                   6, BLOCKING,      CMD_WRITE,              1,  2,  1),
    CMD_NK("BLMPOP",               -5, BLOCKING,      CMD_WRITE,              0,  2, NK_MPOP, NULL),
    CMD("BZPOPMIN",                -3, BLOCKING,      CMD_WRITE,              1, -2,  1),
    CMD("BZPOPMAX",                -3, BLOCKING,      CMD_WRITE,              1, -2,  1),
    CMD_NK("BZMPOP",               -5, BLOCKING,      CMD_WRITE,              0,  2, NK_MPOP, NULL),
    CMD("XREAD",                   -4, XREAD,         0,                      0,  0,  0),
    CMD("XREADGROUP",              -7, XREAD,         CMD_WRITE,              0,  0,  0),
    /* pub/sub: a channel lives on the server its name maps to, as a key */
    CMD("PUBLISH",                  3, KEYS,          CMD_MAY_WRITE,          1,  1,  1),   /* replicated: WAIT counts it */
    CMD("SUBSCRIBE",               -2, PUBSUB,        CMD_SUBSCRIBED,         0,  0,  0),
    CMD("UNSUBSCRIBE",             -1, PUBSUB,        CMD_SUBSCRIBED,         0,  0,  0),
    CMD("PSUBSCRIBE",              -2, PUBSUB,        CMD_SUBSCRIBED,         0,  0,  0),
    CMD("PUNSUBSCRIBE",            -1, PUBSUB,        CMD_SUBSCRIBED,         0,  0,  0),
    CMD("PUBSUB",                  -2, PUBSUB_INFO,   CMD_CONTAINER,          0,  0,  0),
    /* the servers' administration: by subcommand (redis_admin.c) */
    CMD("CONFIG",                  -2, ADMIN,         CMD_CONTAINER,          0,  0,  0),
    CMD("DEBUG",                   -2, ADMIN,         0,                      0,  0,  0),
    CMD("SLOWLOG",                 -2, ADMIN,         CMD_CONTAINER,          0,  0,  0),
    CMD("LATENCY",                 -2, ADMIN,         CMD_CONTAINER,          0,  0,  0),
    CMD("MEMORY",                  -2, ADMIN,         CMD_CONTAINER,          0,  0,  0),
    CMD("ACL",                     -2, LOCAL,         CMD_CONTAINER,          0,  0,  0),   /* the pool's users */
    /* unsupported */
    CMD("MOVE",                     3, UNSUPPORTED,   CMD_WRITE,              1,  1,  1),
    CMD("SSUBSCRIBE",              -2, PUBSUB,        CMD_SUBSCRIBED,         0,  0,  0),
    CMD("SUNSUBSCRIBE",            -1, PUBSUB,        CMD_SUBSCRIBED,         0,  0,  0),
    CMD("SPUBLISH",                 3, KEYS,          CMD_MAY_WRITE,          1,  1,  1),   /* to its channel's server */
    CMD("MONITOR",                  1, UNSUPPORTED,   0,                      0,  0,  0),
    CMD("SHUTDOWN",                -1, UNSUPPORTED,   0,                      0,  0,  0),
    CMD("SAVE",                     1, UNSUPPORTED,   0,                      0,  0,  0),
    CMD("BGSAVE",                  -1, UNSUPPORTED,   0,                      0,  0,  0),
    CMD("BGREWRITEAOF",             1, UNSUPPORTED,   0,                      0,  0,  0),
    CMD("SLAVEOF",                  3, UNSUPPORTED,   0,                      0,  0,  0),
    CMD("REPLICAOF",                3, UNSUPPORTED,   0,                      0,  0,  0),
    CMD("SYNC",                     1, UNSUPPORTED,   0,                      0,  0,  0),
    CMD("PSYNC",                   -3, UNSUPPORTED,   0,                      0,  0,  0),
    CMD("CLUSTER",                 -2, UNSUPPORTED,   CMD_CONTAINER,          0,  0,  0),
    CMD("READONLY",                 1, UNSUPPORTED,   0,                      0,  0,  0),
    CMD("READWRITE",                1, UNSUPPORTED,   0,                      0,  0,  0),
    CMD("MIGRATE",                 -6, UNSUPPORTED,   CMD_WRITE,              3,  3,  1),
    CMD("SWAPDB",                   3, UNSUPPORTED,   CMD_WRITE,              0,  0,  0),
    CMD("MODULE",                  -2, UNSUPPORTED,   CMD_CONTAINER,          0,  0,  0),
    CMD("ROLE",                     1, UNSUPPORTED,   0,                      0,  0,  0),
    CMD("FAILOVER",                -1, UNSUPPORTED,   0,                      0,  0,  0),
};

#define CMD_COUNT ((int)(sizeof cmd_table / sizeof cmd_table[0]))

/* Lookup: open addressing over the upper-cased name's FNV-1a hash, built once;
 * at most half full so that misses stop early. */
#define NAME_MAX_LEN 32
#define HASH_SLOTS 512
_Static_assert(CMD_COUNT * 2 <= HASH_SLOTS, "HASH_SLOTS too small for the table");
_Static_assert((HASH_SLOTS & (HASH_SLOTS - 1)) == 0, "HASH_SLOTS must be a power of two");

static uint16_t hash_slot[HASH_SLOTS];      /* table index + 1; 0: empty */
static uint8_t name_len[CMD_COUNT];
static pthread_once_t hash_once = PTHREAD_ONCE_INIT;

static uint32_t fnv1a_step(uint32_t h, unsigned char c)
{
    return (h ^ c) * 16777619u;
}

static void hash_build(void)
{
    for (int i = 0; i < CMD_COUNT; i++) {
        const char *name = cmd_table[i].cmd.name;
        uint32_t h = 2166136261u;
        size_t len = strlen(name);

        for (size_t j = 0; j < len; j++)
            h = fnv1a_step(h, (unsigned char)name[j]);
        name_len[i] = (uint8_t)len;
        for (h &= HASH_SLOTS - 1; hash_slot[h] != 0; h = (h + 1) & (HASH_SLOTS - 1))
            ;
        hash_slot[h] = (uint16_t)(i + 1);
        cmd_table[i].cmd.index = (uint16_t)i;
    }
}

static unsigned char ascii_upper(unsigned char c)
{
    return c >= 'a' && c <= 'z' ? (unsigned char)(c - 'a' + 'A') : c;
}

const struct redis_cmd *redis_cmd_lookup(const char *name, size_t len)
{
    unsigned char up[NAME_MAX_LEN];
    uint32_t h = 2166136261u;

    if (len == 0 || len > NAME_MAX_LEN)
        return NULL;
    for (size_t i = 0; i < len; i++) {
        up[i] = ascii_upper((unsigned char)name[i]);
        h = fnv1a_step(h, up[i]);
    }
    pthread_once(&hash_once, hash_build);
    for (h &= HASH_SLOTS - 1; hash_slot[h] != 0; h = (h + 1) & (HASH_SLOTS - 1)) {
        int i = hash_slot[h] - 1;
        if (name_len[i] == len && memcmp(cmd_table[i].cmd.name, up, len) == 0)
            return &cmd_table[i].cmd;
    }
    return NULL;
}

int redis_cmd_count(void)
{
    return CMD_COUNT;
}

const struct redis_cmd *redis_cmd_at(int i)
{
    pthread_once(&hash_once, hash_build);
    return i >= 0 && i < CMD_COUNT ? &cmd_table[i].cmd : NULL;
}

int redis_cmd_arity_ok(const struct redis_cmd *cmd, uint32_t argc)
{
    if (cmd->arity >= 0 ? argc != (uint32_t)cmd->arity : argc < (uint32_t)-cmd->arity)
        return 0;
    /* key-value pairs to the end (MSET, MSETNX): Redis replies its arity
       error to a missing value too */
    if (cmd->step > 1 && cmd->last < 0 && cmd->first > 0 &&
        (argc - (uint32_t)cmd->first) % (uint32_t)cmd->step != 0)
        return 0;
    return 1;
}

/* The table entry cmd is, or NULL for a redis_cmd from elsewhere. */
static const struct cmd_def *cmd_def_of(const struct redis_cmd *cmd)
{
    uintptr_t p = (uintptr_t)cmd, lo = (uintptr_t)cmd_table;

    if (p < lo || p >= (uintptr_t)(cmd_table + CMD_COUNT) || (p - lo) % sizeof cmd_table[0] != 0)
        return NULL;
    return (const struct cmd_def *)cmd;
}

/* Whether the argument is word (upper case), in any case. */
static int arg_is(const char *req, const struct resp_arg *arg, const char *word)
{
    size_t len = strlen(word);

    if (arg->len != len)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (ascii_upper((unsigned char)req[arg->off + i]) != (unsigned char)word[i])
            return 0;
    return 1;
}

/* A decimal integer as Redis's string2ll reads it (no sign "+", no spaces,
 * no leading zeros, no "-0"): 0 and *out, or -1. */
static int parse_ll(const char *s, uint32_t len, long long *out)
{
    unsigned long long v = 0, limit;
    uint32_t i = 0;
    int neg = 0;

    if (len == 0 || len > 20)
        return -1;
    if (len == 1 && s[0] == '0') {
        *out = 0;
        return 0;
    }
    if (s[0] == '-') {
        neg = 1;
        i = 1;
    }
    if (i >= len || s[i] < '1' || s[i] > '9')
        return -1;
    limit = neg ? (unsigned long long)LLONG_MAX + 1 : (unsigned long long)LLONG_MAX;
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        if (v > (limit - (unsigned long long)(s[i] - '0')) / 10)
            return -1;
        v = v * 10 + (unsigned long long)(s[i] - '0');
    }
    *out = neg ? (long long)(0 - v) : (long long)v;
    return 0;
}

/* The destination of SORT's last STORE option, or 0 (options read as SORT reads them). */
static uint32_t sort_store(const char *req, const struct resp_arg *args, uint32_t argc)
{
    uint32_t store = 0;

    for (uint32_t j = 2; j < argc; j++) {
        uint32_t left = argc - j - 1;
        if (arg_is(req, &args[j], "LIMIT") && left >= 2) {
            j += 2;
        } else if (arg_is(req, &args[j], "STORE") && left >= 1) {
            store = ++j;
        } else if ((arg_is(req, &args[j], "BY") || arg_is(req, &args[j], "GET")) && left >= 1) {
            j++;
        }
    }
    return store;
}

/* The destination of GEORADIUS(BYMEMBER)'s last STORE or STOREDIST, or 0. */
static uint32_t georadius_store(const char *req, const struct resp_arg *args, uint32_t argc,
                                uint32_t options)
{
    uint32_t store = 0;

    for (uint32_t j = options; j < argc; j++) {
        if (j + 1 >= argc)
            break;
        if (arg_is(req, &args[j], "STORE") || arg_is(req, &args[j], "STOREDIST"))
            store = ++j;
        else if (arg_is(req, &args[j], "COUNT"))
            j++;
    }
    return store;
}

/* Keys counted at numkeys_at (EVAL, ZUNIONSTORE, LMPOP...), after a
 * destination at first when first > 0. */
static int numkeys_keys(const struct redis_cmd *cmd, const struct cmd_def *def, const char *req,
                        const struct resp_arg *args, uint32_t argc, uint32_t *keys,
                        const char **err)
{
    uint32_t at = (uint32_t)cmd->numkeys_at, n = 0, room, after;
    int style = def != NULL ? def->nk_style : NK_EVAL;
    long long numkeys;

    if (at >= argc)
        return 0;               /* no count there: the server replies */
    if (parse_ll(req + args[at].off, args[at].len, &numkeys) != 0) {
        *err = style == NK_CARD || style == NK_MPOP ? ERR_NUMKEYS_ZERO : ERR_NOT_INT;
        return -1;
    }
    if (numkeys < (style == NK_EVAL ? 0 : 1)) {
        *err = style == NK_EVAL ? ERR_NEGATIVE : style == NK_ZSET ? def->nk_low : ERR_NUMKEYS_ZERO;
        return -1;
    }
    /* arguments after the count, less LMPOP's LEFT|RIGHT (ZMPOP's MIN|MAX) */
    room = argc - at - 1;
    after = style == NK_MPOP ? 1 : 0;
    room = room > after ? room - after : 0;
    if ((unsigned long long)numkeys > room) {
        *err = style == NK_EVAL || style == NK_CARD ? ERR_TOO_MANY : ERR_SYNTAX;
        return -1;
    }
    if (cmd->first > 0 && (uint32_t)cmd->first < at)
        keys[n++] = (uint32_t)cmd->first;
    for (uint32_t j = at + 1; j <= at + (uint32_t)numkeys; j++)
        keys[n++] = j;
    return (int)n;
}

int redis_cmd_keys(const struct redis_cmd *cmd, const char *req, const struct resp_arg *args,
                   uint32_t argc, uint32_t *keys, const char **err)
{
    const struct cmd_def *def = cmd_def_of(cmd);
    uint32_t n = 0, store = 0;
    int64_t first = cmd->first, last = cmd->last, step = cmd->step > 0 ? cmd->step : 1;

    if (cmd->numkeys_at > 0)
        return numkeys_keys(cmd, def, req, args, argc, keys, err);
    if (first <= 0)
        return 0;
    if (last < 0)
        last += argc;
    /* a key past the end (OBJECT HELP): none, as Redis; the server replies */
    if (last >= (int64_t)argc)
        return 0;
    if (cmd->last < 0 && step > 1 && ((int64_t)argc - first) % step != 0) {
        *err = "ERR wrong number of arguments";     /* arity_ok refuses these first */
        return -1;
    }
    for (int64_t j = first; j <= last; j += step)
        keys[n++] = (uint32_t)j;
    if (def != NULL && def->keys_how == KEYS_SORT)
        store = sort_store(req, args, argc);
    else if (def != NULL && def->keys_how == KEYS_GEORADIUS && cmd->arity < 0)
        store = georadius_store(req, args, argc, (uint32_t)-cmd->arity);
    if (store > 0)
        keys[n++] = store;
    return (int)n;
}

/* Redis 7's subcommand names (of ACL, CLIENT, CLUSTER, COMMAND, CONFIG,
 * FUNCTION, LATENCY, MEMORY, MODULE, OBJECT, PUBSUB, SCRIPT, SLOWLOG,
 * XGROUP, XINFO). */
static const char *const subnames[] = {
    "cat", "deluser", "dryrun", "genpass", "getuser", "list", "load", "log", "save", "setuser", "users",
    "whoami", "caching", "getname", "getredir", "id", "info", "kill", "no-evict", "no-touch", "pause", "reply",
    "setinfo", "setname", "tracking", "trackinginfo", "unblock", "unpause", "count", "docs", "getkeys",
    "getkeysandflags", "get", "set", "resetstat", "rewrite", "delete", "dump", "flush", "restore", "stats",
    "doctor", "graph", "histogram", "history", "latest", "reset", "malloc-stats", "purge", "usage", "encoding",
    "freq", "idletime", "refcount", "channels", "numpat", "numsub", "shardchannels", "shardnumsub", "exists",
    "help", "len", "create", "createconsumer", "delconsumer", "destroy", "setid", "consumers", "groups",
    "stream", "slots", "shards", "nodes", "keyslot", "myid", "loadex", "unload",
};

const char *redis_cmd_subname(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof subnames / sizeof subnames[0]; i++)
        if (strlen(subnames[i]) == len && strncasecmp(subnames[i], name, len) == 0)
            return subnames[i];
    return NULL;
}
