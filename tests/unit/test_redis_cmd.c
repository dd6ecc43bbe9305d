/* SPDX-License-Identifier: Apache-2.0 */
/* test_redis_cmd.c — the command table: lookup, arity, key positions and Redis's numkeys errors. */
/*
 * By hand, against a real server (arities and first/last/step; OBJECT, XINFO
 * and XGROUP differ on purpose: key at 2 here, 0 0 0 in Redis; so does
 * PUBLISH: its channel routes as a key here):
 *
 *   redis-server --port 7379 --save '' &
 *   ./tests/unit/test_redis_cmd --table > ours.txt
 *   redis-cli -p 7379 --json COMMAND INFO $(cut -d' ' -f1 ours.txt) |
 *     python3 -c 'import json,sys; [print(c[0].upper(), *c[1:2], *c[3:6]) for c in json.load(sys.stdin)]' |
 *     diff ours.txt -
 */
#include <pthread.h>

#include "unit.h"
#include "redis_cmd.h"

/* A request as the parser leaves it: arguments as offsets into its bytes. */
struct req {
    char bytes[512];
    struct resp_arg args[32];
    uint32_t argc;
};

/* Splits line at spaces into r's arguments. */
static void req_make(struct req *r, const char *line)
{
    size_t len = strlen(line);
    uint32_t start = 0;

    CHECK(len < sizeof r->bytes);
    memcpy(r->bytes, line, len + 1);
    r->argc = 0;
    for (uint32_t i = 0; i <= len; i++) {
        if (line[i] != ' ' && line[i] != '\0')
            continue;
        if (i > start) {
            CHECK(r->argc < 32);
            r->args[r->argc].off = start;
            r->args[r->argc].len = i - start;
            r->argc++;
        }
        start = i + 1;
    }
}

static const struct redis_cmd *lookup(const char *name)
{
    return redis_cmd_lookup(name, strlen(name));
}

/* Several threads making the very first lookups: the table is built once. */
static void *lookup_thread(void *arg)
{
    const struct redis_cmd **found = arg;

    *found = lookup("get");
    for (int i = 0; i < 1000; i++)
        if (lookup("GET") != *found || lookup("zunionstore") == NULL || lookup("nope") != NULL)
            *found = NULL;
    return NULL;
}

static void test_first_lookups_from_threads(void)
{
    const struct redis_cmd *found[8];
    pthread_t t[8];

    for (int i = 0; i < 8; i++)
        CHECK(pthread_create(&t[i], NULL, lookup_thread, &found[i]) == 0);
    for (int i = 0; i < 8; i++) {
        CHECK(pthread_join(t[i], NULL) == 0);
        CHECK(found[i] != NULL);
        CHECK(found[i] == found[0]);
    }
}

static void test_lookup_any_case(void)
{
    const struct redis_cmd *get = lookup("GET");

    CHECK(get != NULL);
    CHECK(strcmp(get->name, "GET") == 0);
    CHECK(lookup("get") == get);
    CHECK(lookup("gEt") == get);
    CHECK(redis_cmd_lookup("GETSET", 3) == get);      /* only len bytes count */
    CHECK(strcmp(lookup("georadiusbymember_ro")->name, "GEORADIUSBYMEMBER_RO") == 0);
    CHECK(strcmp(lookup("Eval_Ro")->name, "EVAL_RO") == 0);
    /* every entry, by its name and in lower case */
    for (int i = 0; i < redis_cmd_count(); i++) {
        const struct redis_cmd *c = redis_cmd_at(i);
        char lower[64];
        size_t n = strlen(c->name);
        CHECK(n < sizeof lower);
        for (size_t j = 0; j <= n; j++)
            lower[j] = (char)(c->name[j] >= 'A' && c->name[j] <= 'Z' ? c->name[j] + 32 : c->name[j]);
        CHECK(lookup(c->name) == c);
        CHECK(lookup(lower) == c);
    }
}

static void test_lookup_unknown(void)
{
    char longname[40];

    CHECK(lookup("GETX") == NULL);
    CHECK(lookup("GE") == NULL);
    CHECK(lookup("") == NULL);
    CHECK(redis_cmd_lookup("GET\0", 4) == NULL);      /* a NUL inside is part of the name */
    CHECK(lookup("G\xc9T") == NULL);
    CHECK(lookup("\xe7\xe5\xf4") == NULL);            /* "get" | 0x80: no ASCII folding tricks */
    CHECK(lookup("ASKING") == NULL);                  /* Redis has it; coproxy does not */
    /* 32 bytes: looked up; 33: too long for any command, NULL */
    memset(longname, 'A', sizeof longname);
    CHECK(redis_cmd_lookup(longname, 32) == NULL);
    CHECK(redis_cmd_lookup(longname, 33) == NULL);
    CHECK(redis_cmd_lookup(longname, sizeof longname) == NULL);
}

static void test_table_is_well_formed(void)
{
    int n = redis_cmd_count();

    CHECK(n > 200);
    CHECK(redis_cmd_at(-1) == NULL);
    CHECK(redis_cmd_at(n) == NULL);
    for (int i = 0; i < n; i++) {
        const struct redis_cmd *c = redis_cmd_at(i);
        CHECK(c != NULL);
        CHECK(c->name[0] != '\0');
        for (const char *p = c->name; *p; p++)
            CHECK((*p >= 'A' && *p <= 'Z') || *p == '_');
        for (int j = 0; j < i; j++)
            CHECK(strcmp(redis_cmd_at(j)->name, c->name) != 0);
        CHECK(c->arity != 0);
        CHECK(c->route <= ROUTE_UNSUPPORTED);
        /* the client sees "-ERR coproxy: <reason>" */
        if (c->route == ROUTE_REFUSED)
            CHECK(c->reason != NULL && strlen(c->reason) > 10 && strncmp(c->reason, "ERR", 3) != 0);
        else
            CHECK(c->reason == NULL);
        /* a keyed command without keys (EVAL s 0, OBJECT HELP) is routed by its argument 1 */
        if (c->route == ROUTE_KEYS)
            CHECK(c->arity >= 2 || c->arity <= -2);
        /* keys: none, or a sane range, or a count */
        if (c->first == 0)
            CHECK(c->last == 0 && c->step == 0);
        else
            CHECK(c->first > 0 && c->step > 0 && (c->last < 0 || c->last >= c->first));
        if (c->numkeys_at > 0)
            CHECK((c->route == ROUTE_KEYS || c->route == ROUTE_BLOCKING) && c->numkeys_at > c->first);
        /* commands that carry keys to servers have keys */
        if (c->route == ROUTE_KEYS || c->route == ROUTE_SPLIT_MGET || c->route == ROUTE_SPLIT_SUM ||
            c->route == ROUTE_SPLIT_MSET || c->route == ROUTE_BLOCKING)
            CHECK(c->first > 0 || c->numkeys_at > 0);
        if (c->route == ROUTE_SPLIT_MSET)
            CHECK(c->step == 2 && c->last == -1);
        if (c->flags & CMD_NOAUTH)
            CHECK(c->route == ROUTE_LOCAL);
    }
}

static void check_route(const char *names, int route)
{
    char buf[1024];

    CHECK(strlen(names) < sizeof buf);
    strcpy(buf, names);
    for (char *save, *name = strtok_r(buf, " ", &save); name; name = strtok_r(NULL, " ", &save)) {
        const struct redis_cmd *c = lookup(name);
        if (c == NULL || c->route != route) {
            fprintf(stderr, "%s: route %d, expected %d\n", name, c ? c->route : -1, route);
            CHECK(!"route");
        }
    }
}

static void test_routes(void)
{
    check_route("GET SET LCS MSETNX BITOP HSET LMOVE LMPOP SMOVE SINTERCARD ZUNIONSTORE ZMPOP "
                "PFCOUNT GEOSEARCHSTORE XADD XGROUP XINFO OBJECT SORT RENAME COPY EVAL EVALSHA_RO",
                ROUTE_KEYS);
    check_route("MGET", ROUTE_SPLIT_MGET);
    check_route("MSET", ROUTE_SPLIT_MSET);
    check_route("DEL UNLINK EXISTS TOUCH", ROUTE_SPLIT_SUM);
    check_route("DBSIZE", ROUTE_FANOUT_SUM);
    check_route("KEYS", ROUTE_FANOUT_CONCAT);
    check_route("FLUSHDB FLUSHALL SCRIPT", ROUTE_FANOUT_OK);
    check_route("WAIT", ROUTE_WAIT);
    check_route("INFO", ROUTE_INFO);
    check_route("XREAD XREADGROUP", ROUTE_XREAD);
    check_route("SCAN", ROUTE_SCAN);
    check_route("RANDOMKEY", ROUTE_FANOUT_RANDOM);
    check_route("TIME LASTSAVE COMMAND", ROUTE_ONE);
    check_route("FUNCTION", ROUTE_FANOUT_OK);
    check_route("FCALL FCALL_RO", ROUTE_KEYS);
    check_route("PING ECHO QUIT SELECT AUTH HELLO CLIENT RESET", ROUTE_LOCAL);
    check_route("SUBSCRIBE UNSUBSCRIBE PSUBSCRIBE PUNSUBSCRIBE SSUBSCRIBE SUNSUBSCRIBE", ROUTE_PUBSUB);
    check_route("PUBSUB", ROUTE_PUBSUB_INFO);
    check_route("PUBLISH SPUBLISH", ROUTE_KEYS);
    check_route("MULTI EXEC DISCARD WATCH UNWATCH", ROUTE_TXN);
    check_route("BLPOP BRPOP BRPOPLPUSH BLMOVE BLMPOP BZPOPMIN BZPOPMAX BZMPOP", ROUTE_BLOCKING);
    check_route("MOVE MONITOR SHUTDOWN SAVE BGSAVE "
                "BGREWRITEAOF SLAVEOF REPLICAOF SYNC PSYNC CLUSTER READONLY "
                "READWRITE MIGRATE SWAPDB MODULE ROLE FAILOVER", ROUTE_UNSUPPORTED);
    check_route("CONFIG SLOWLOG LATENCY MEMORY DEBUG", ROUTE_ADMIN);
    check_route("ACL", ROUTE_LOCAL);   /* the pool's own users */
    CHECK(lookup("SORT")->flags & CMD_PATTERNS);
    CHECK(lookup("SORT_RO")->flags & CMD_PATTERNS);
    CHECK(!(lookup("GET")->flags & CMD_PATTERNS));
    /* subscribed mode allows these only, as Redis does */
    for (const char *const *n = (const char *const[]){ "SUBSCRIBE", "UNSUBSCRIBE", "PSUBSCRIBE", "PUNSUBSCRIBE",
                                                       "SSUBSCRIBE", "SUNSUBSCRIBE", "PING", "QUIT", "RESET",
                                                       NULL }; *n; n++)
        CHECK(lookup(*n)->flags & CMD_SUBSCRIBED);
    CHECK(!(lookup("GET")->flags & CMD_SUBSCRIBED));
    /* CLIENT LIST names a container's subcommand as Redis does */
    CHECK(lookup("CLIENT")->flags & CMD_CONTAINER);
    CHECK(!(lookup("GET")->flags & CMD_CONTAINER));
    CHECK(redis_cmd_subname("LIST", 4) != NULL && strcmp(redis_cmd_subname("LIST", 4), "list") == 0);
    CHECK(redis_cmd_subname("nosuch", 6) == NULL);
    CHECK(!(lookup("PUBLISH")->flags & CMD_SUBSCRIBED));
    CHECK(lookup("EVAL")->flags & CMD_MAY_WRITE);
    CHECK(lookup("PING")->flags & CMD_NOAUTH);
    CHECK(lookup("AUTH")->flags & CMD_NOAUTH);
    CHECK(lookup("HELLO")->flags & CMD_NOAUTH);
    CHECK(lookup("QUIT")->flags & CMD_NOAUTH);
    CHECK(!(lookup("SELECT")->flags & CMD_NOAUTH));
    CHECK(!(lookup("GET")->flags & CMD_NOAUTH));
    CHECK(lookup("SET")->flags & CMD_WRITE);
    CHECK(lookup("ZUNIONSTORE")->flags & CMD_WRITE);
    CHECK(!(lookup("GET")->flags & CMD_WRITE));
}

static void test_arity(void)
{
    static const struct { const char *name; uint32_t argc; int ok; } cases[] = {
        {"GET", 2, 1}, {"GET", 1, 0}, {"GET", 3, 0}, {"GET", 0, 0},
        {"SET", 3, 1}, {"SET", 2, 0}, {"SET", 9, 1},
        {"PING", 1, 1}, {"PING", 2, 1}, {"PING", 0, 0},
        {"DBSIZE", 1, 1}, {"DBSIZE", 2, 0},
        {"EVAL", 3, 1}, {"EVAL", 2, 0},
        {"HSET", 4, 1}, {"HSET", 3, 0}, {"HSET", 5, 1},   /* HSET's pairs: the server checks */
        /* MSET, MSETNX: pairs must be whole, as Redis checks */
        {"MSET", 3, 1}, {"MSET", 2, 0}, {"MSET", 4, 0}, {"MSET", 5, 1}, {"MSET", 6, 0},
        {"MSETNX", 3, 1}, {"MSETNX", 4, 0}, {"MSETNX", 7, 1},
        {"OBJECT", 2, 1}, {"OBJECT", 1, 0},
        {"GEOSEARCHSTORE", 8, 1}, {"GEOSEARCHSTORE", 7, 0},
        {"LMOVE", 5, 1}, {"LMOVE", 6, 0},
        {"ZUNIONSTORE", 4, 1}, {"ZUNIONSTORE", 3, 0},
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct redis_cmd *c = lookup(cases[i].name);
        CHECK(c != NULL);
        if (redis_cmd_arity_ok(c, cases[i].argc) != cases[i].ok) {
            fprintf(stderr, "%s argc %u: expected %d\n", cases[i].name, cases[i].argc, cases[i].ok);
            CHECK(!"arity");
        }
    }
}

/* The keys of a request, as a string of indexes ("1 3"), or "-ERR..." */
static const char *keys_of(const char *line, char *out, size_t outlen)
{
    struct req r;
    uint32_t keys[32];
    const char *err = NULL;
    const struct redis_cmd *c;
    size_t pos = 0;
    int n;

    req_make(&r, line);
    c = redis_cmd_lookup(r.bytes + r.args[0].off, r.args[0].len);
    CHECK(c != NULL);
    n = redis_cmd_keys(c, r.bytes, r.args, r.argc, keys, &err);
    if (n < 0) {
        CHECK(err != NULL);
        snprintf(out, outlen, "-%s", err);
        return out;
    }
    CHECK((uint32_t)n <= r.argc);
    out[0] = '\0';
    for (int i = 0; i < n; i++) {
        CHECK(keys[i] > 0 && keys[i] < r.argc);
        CHECK(i == 0 || keys[i] > keys[i - 1]);
        pos += (size_t)snprintf(out + pos, outlen - pos, "%s%u", i ? " " : "", keys[i]);
        CHECK(pos < outlen);
    }
    return out;
}

/* Each family's key layout, as COMMAND GETKEYS on redis-server 7.0.15 gives it,
 * but for GEORADIUS with both STORE and STOREDIST: Redis lists both, the
 * command writes only the last, the one given here. */
static void test_keys(void)
{
    static const struct { const char *req, *keys; } cases[] = {
        {"GET k", "1"},
        {"PING", ""},
        {"PING hello", ""},
        {"SET k v EX 10", "1"},
        {"LCS a b", "1 2"},
        {"MGET a b c", "1 2 3"},
        {"MSET k1 v1 k2 v2", "1 3"},
        {"MSET k1 v1", "1"},
        {"MSETNX a 1 b 2 c 3", "1 3 5"},
        {"DEL a b", "1 2"},
        {"EXISTS a", "1"},
        {"BITOP AND d a b", "2 3 4"},
        {"BITOP NOT d a", "2 3"},
        {"HSET h f v f2 v2", "1"},
        {"RPOPLPUSH a b", "1 2"},
        {"LMOVE a b LEFT RIGHT", "1 2"},
        {"LMPOP 2 a b LEFT", "2 3"},
        {"LMPOP 1 a RIGHT COUNT 2", "2"},
        {"SMOVE a b m", "1 2"},
        {"SINTER a b c", "1 2 3"},
        {"SUNIONSTORE d a b", "1 2 3"},
        {"SINTERCARD 2 a b LIMIT 1", "2 3"},
        {"ZRANGESTORE d s 0 -1", "1 2"},
        {"ZUNIONSTORE d 2 a b WEIGHTS 1 2", "1 3 4"},
        {"ZDIFFSTORE d 1 a", "1 3"},
        {"ZUNION 2 a b WITHSCORES", "2 3"},
        {"ZINTERCARD 1 a", "2"},
        {"ZMPOP 1 a MIN", "2"},
        {"PFCOUNT a b", "1 2"},
        {"PFMERGE d a b", "1 2 3"},
        {"GEOSEARCHSTORE d s FROMMEMBER m BYRADIUS 1 km", "1 2"},
        {"GEORADIUS k 1 2 3 m", "1"},
        {"GEORADIUS k 1 2 3 m WITHDIST STORE d", "1 8"},
        {"GEORADIUS k 1 2 3 m COUNT 5 ANY STOREDIST d", "1 10"},
        {"GEORADIUS k 1 2 3 m STORE d STOREDIST e", "1 9"},  /* the one GEORADIUS writes */
        {"GEORADIUS k 1 2 3 m STORE", "1"},
        {"GEORADIUSBYMEMBER k m 3 m store d", "1 6"},
        {"GEORADIUS_RO k 1 2 3 m STORE d", "1"},
        {"XADD s * f v", "1"},
        {"XINFO STREAM k", "2"},
        {"XINFO HELP", ""},
        {"XGROUP CREATE k g $ MKSTREAM", "2"},
        {"OBJECT ENCODING k", "2"},
        {"OBJECT HELP", ""},
        {"SORT k", "1"},
        {"SORT k LIMIT 0 1 STORE d", "1 6"},
        {"SORT k STORE d1 STORE d2", "1 5"},
        {"SORT k BY store GET store STORE d", "1 7"},
        {"SORT k LIMIT 0 STORE d", "1"},
        {"SORT k STORE", "1"},
        {"SORT_RO k STORE d", "1"},
        {"RENAME a b", "1 2"},
        {"COPY a b DB 1", "1 2"},
        {"EVAL s 2 a b x", "3 4"},
        {"EVAL s 0", ""},
        {"EVAL s 0 x y", ""},
        {"EVALSHA sha 1 k a", "3"},
        {"EVAL_RO s 1 k", "3"},
        {"KEYS *", ""},
        {"DBSIZE", ""},
    };
    char out[128];

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        keys_of(cases[i].req, out, sizeof out);
        if (strcmp(out, cases[i].keys) != 0) {
            fprintf(stderr, "%s: keys \"%s\", expected \"%s\"\n", cases[i].req, out, cases[i].keys);
            CHECK(!"keys");
        }
    }
}

/* A bad numkeys gets the words redis-server 7.0.15 replies with. */
static void test_numkeys_errors(void)
{
    static const struct { const char *req, *err; } cases[] = {
        {"EVAL s x", "ERR value is not an integer or out of range"},
        {"EVAL s 02 a", "ERR value is not an integer or out of range"},
        {"EVAL s +1 a", "ERR value is not an integer or out of range"},
        {"EVAL s -0", "ERR value is not an integer or out of range"},
        {"EVAL s 1a a", "ERR value is not an integer or out of range"},
        {"EVAL s 99999999999999999999 a", "ERR value is not an integer or out of range"},
        {"EVAL s 9223372036854775808 a", "ERR value is not an integer or out of range"},
        {"EVAL s -1", "ERR Number of keys can't be negative"},
        {"EVAL s -9223372036854775808", "ERR Number of keys can't be negative"},
        {"EVAL s 2 a", "ERR Number of keys can't be greater than number of args"},
        {"EVAL s 9223372036854775807 a", "ERR Number of keys can't be greater than number of args"},
        {"EVALSHA sha 1", "ERR Number of keys can't be greater than number of args"},
        {"ZUNIONSTORE d 0 a", "ERR at least 1 input key is needed for 'zunionstore' command"},
        {"ZUNIONSTORE d -1 a", "ERR at least 1 input key is needed for 'zunionstore' command"},
        {"ZINTERSTORE d 0 a", "ERR at least 1 input key is needed for 'zinterstore' command"},
        {"ZDIFFSTORE d 0 a", "ERR at least 1 input key is needed for 'zdiffstore' command"},
        {"ZUNION 0 a", "ERR at least 1 input key is needed for 'zunion' command"},
        {"ZINTER 0 a", "ERR at least 1 input key is needed for 'zinter' command"},
        {"ZDIFF 0 a", "ERR at least 1 input key is needed for 'zdiff' command"},
        {"ZINTERCARD 0 a", "ERR at least 1 input key is needed for 'zintercard' command"},
        {"ZUNIONSTORE d x a", "ERR value is not an integer or out of range"},
        {"ZUNIONSTORE d 3 a", "ERR syntax error"},
        {"ZDIFF 3 a", "ERR syntax error"},
        {"ZINTERCARD 3 a", "ERR syntax error"},
        {"SINTERCARD 0 a", "ERR numkeys should be greater than 0"},
        {"SINTERCARD x a", "ERR numkeys should be greater than 0"},
        {"SINTERCARD -1 a", "ERR numkeys should be greater than 0"},
        {"SINTERCARD 3 a", "ERR Number of keys can't be greater than number of args"},
        {"LMPOP 0 a LEFT", "ERR numkeys should be greater than 0"},
        {"LMPOP x a LEFT", "ERR numkeys should be greater than 0"},
        {"LMPOP -1 a LEFT", "ERR numkeys should be greater than 0"},
        {"LMPOP 2 a LEFT", "ERR syntax error"},     /* LEFT|RIGHT must follow the keys */
        {"LMPOP 3 a LEFT", "ERR syntax error"},
        {"ZMPOP 2 a MIN", "ERR syntax error"},
        {"ZMPOP 0 a MIN", "ERR numkeys should be greater than 0"},
        {"ZMPOP x a MIN", "ERR numkeys should be greater than 0"},
        /* not reachable after redis_cmd_arity_ok, but still not a wrong key */
        {"MSET a 1 b", "ERR wrong number of arguments"},
    };
    char out[128];

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        keys_of(cases[i].req, out, sizeof out);
        if (out[0] != '-' || strcmp(out + 1, cases[i].err) != 0) {
            fprintf(stderr, "%s: \"%s\", expected \"-%s\"\n", cases[i].req, out, cases[i].err);
            CHECK(!"numkeys error");
        }
    }
}

/* A redis_cmd that is not from the table still gets its range and count keys. */
static void test_keys_of_a_foreign_cmd(void)
{
    struct redis_cmd range = {"X", -2, ROUTE_KEYS, 0, 1, -2, 1, 0, 0, NULL};
    struct redis_cmd count = {"Y", -3, ROUTE_KEYS, 0, 0, 0, 0, 2, 0, NULL};
    uint32_t keys[8];
    const char *err = NULL;
    struct req r;

    req_make(&r, "X a b c 5");
    CHECK_EQ(redis_cmd_keys(&range, r.bytes, r.args, r.argc, keys, &err), 3);
    CHECK_EQ(keys[0], 1);
    CHECK_EQ(keys[2], 3);
    req_make(&r, "Y s 1 k");
    CHECK_EQ(redis_cmd_keys(&count, r.bytes, r.args, r.argc, keys, &err), 1);
    CHECK_EQ(keys[0], 3);
    req_make(&r, "Y s 2 k");
    CHECK_EQ(redis_cmd_keys(&count, r.bytes, r.args, r.argc, keys, &err), -1);
    CHECK(strcmp(err, "ERR Number of keys can't be greater than number of args") == 0);
}

/* --table: NAME ARITY FIRST LAST STEP, one a line, to compare with a server by hand. */
static void print_table(void)
{
    for (int i = 0; i < redis_cmd_count(); i++) {
        const struct redis_cmd *c = redis_cmd_at(i);
        printf("%s %d %d %d %d\n", c->name, c->arity, c->first, c->last, c->step);
    }
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--table") == 0) {
        print_table();
        return 0;
    }
    RUN(test_first_lookups_from_threads);
    RUN(test_lookup_any_case);
    RUN(test_lookup_unknown);
    RUN(test_table_is_well_formed);
    RUN(test_routes);
    RUN(test_arity);
    RUN(test_keys);
    RUN(test_numkeys_errors);
    RUN(test_keys_of_a_foreign_cmd);
    return 0;
}
