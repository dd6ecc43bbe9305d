/* SPDX-License-Identifier: Apache-2.0 */
/* config_file.c — reads coproxy.conf with libconfig and validates every setting. */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <libconfig.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "acl.h"
#include "config_acl.h"
#include "config_file.h"
#include "config_syntax.h"
#include "config_tls.h"
#include "config_value.h"
#include "log.h"
#include "resp.h"
#include "tls.h"

static const char *const modes[] = { "tcp", "redis", NULL };
static const char *const balances[] = { "roundrobin", "leastconn", "random", "hash", NULL };
static const char *const distributions[] = { "ketama", "modula", "random", "cluster", NULL };
static const char *const hashes[] = { "one_at_a_time", "md5", "crc16", "crc32", "crc32a", "fnv1_64",
                                      "fnv1a_64", "fnv1_32", "fnv1a_32", "hsieh", "murmur", "jenkins",
                                      NULL };
static const char *const levels[] = { "error", "warn", "info", "debug", NULL };

/* "host:port[:weight] [name]" as twemproxy users write servers. */
static void parse_server(struct config_ctx *c, const config_setting_t *s, const char *path,
                         struct server_conf *out)
{
    char buf[256], *space, *weight, *colon, err[200];
    const char *v;

    if (config_setting_type(s) != CONFIG_TYPE_STRING) {
        config_fail(c, s, path, "a server is a string \"host:port:weight name\", not %s",
             config_type_name(config_setting_type(s)));
        return;
    }
    v = config_setting_get_string(s);
    snprintf(buf, sizeof buf, "%s", v);
    out->weight = 1;
    space = strchr(buf, ' ');
    if (space) {
        *space++ = '\0';
        while (*space == ' ')
            space++;
        snprintf(out->name, sizeof out->name, "%.63s", space);
    }
    /* host:port:weight -- the weight is the last field when there are three */
    colon = strrchr(buf, ':');
    if (colon && buf[0] != '[' && strchr(buf, ':') != colon) {
        weight = colon + 1;
        *colon = '\0';
        char *end;
        long w = strtol(weight, &end, 10);
        if (*weight == '\0' || *end != '\0' || w < 1 || w > 1000000) {
            config_fail(c, s, path, "bad weight '%s' in '%s' (1 to 1000000)", weight, v);
            return;
        }
        out->weight = (int)w;
    } else if (buf[0] == '[') {
        char *close = strchr(buf, ']');
        if (close && close[1] == ':' && strchr(close + 2, ':')) {
            colon = strrchr(close + 2, ':');
            *colon = '\0';
            char *end;
            long w = strtol(colon + 1, &end, 10);
            if (colon[1] == '\0' || *end != '\0' || w < 1 || w > 1000000) {
                config_fail(c, s, path, "bad weight '%s' in '%s' (1 to 1000000)", colon + 1, v);
                return;
            }
            out->weight = (int)w;
        }
    }
    if (addr_parse(buf, &out->addr, err, sizeof err) != 0) {
        config_fail(c, s, path, "%s", err);
        return;
    }
    if (out->addr.family == AF_UNIX) {
        config_fail(c, s, path, "servers are host:port addresses");
        return;
    }
    if (out->name[0] != '\0')
        snprintf(out->dist_name, sizeof out->dist_name, "%s", out->name);
    else if (addr_port(&out->addr) == 11211 && (colon = strrchr(buf, ':')) != NULL)
        snprintf(out->dist_name, sizeof out->dist_name, "%.*s", (int)(colon - buf), buf);
    else
        snprintf(out->dist_name, sizeof out->dist_name, "%.63s", buf);
    if (out->name[0] == '\0')
        snprintf(out->name, sizeof out->name, "%.63s", buf);
}

/* Orders servers by name, then by where they are in the list. */
static int by_name(const void *a, const void *b)
{
    const struct server_conf *x = *(const struct server_conf *const *)a, *y = *(const struct server_conf *const *)b;
    int d = strcmp(x->name, y->name);

    return d != 0 ? d : (x > y) - (x < y);
}

/* Orders servers by address (as addr_equal compares them), then by place. */
static int by_addr(const void *a, const void *b)
{
    const struct server_conf *x = *(const struct server_conf *const *)a, *y = *(const struct server_conf *const *)b;
    int d = x->addr.family != y->addr.family ? (x->addr.family > y->addr.family ? 1 : -1)
            : x->addr.len != y->addr.len ? (x->addr.len > y->addr.len ? 1 : -1)
            : memcmp(&x->addr.ss, &y->addr.ss, x->addr.len);

    return d != 0 ? d : (x > y) - (x < y);
}

static int same_name(const struct server_conf *a, const struct server_conf *b)
{
    return strcmp(a->name, b->name) == 0;
}

static int same_addr(const struct server_conf *a, const struct server_conf *b)
{
    return addr_equal(&a->addr, &b->addr);
}

/*
 * The first server (in list order) that repeats an earlier one's name or
 * address (cmp orders by it, same tells it equal): names decide where
 * ketama puts keys and label the counters, and one server twice is a typo,
 * not a weight.  Sorting keeps 50,000 servers quick.  *dup is the repeat,
 * *orig the earlier one.  Returns 0, -1 for none, or -ENOMEM.
 */
static int find_duplicate(const struct pool_conf *pc, int (*cmp)(const void *, const void *),
                          int (*same)(const struct server_conf *, const struct server_conf *), int *dup, int *orig)
{
    const struct server_conf **v = malloc((size_t)pc->nservers * sizeof *v);

    *dup = -1;
    if (v == NULL)
        return -ENOMEM;
    for (int i = 0; i < pc->nservers; i++)
        v[i] = &pc->servers[i];
    qsort(v, (size_t)pc->nservers, sizeof *v, cmp);
    for (int i = 1; i < pc->nservers; i++) {
        /* equals sort in list order: the pair's second repeats its first */
        if (same(v[i - 1], v[i]) && (*dup < 0 || v[i] - pc->servers < *dup)) {
            *dup = (int)(v[i] - pc->servers);
            *orig = (int)(v[i - 1] - pc->servers);
        }
    }
    free(v);
    return *dup >= 0 ? 0 : -1;
}

/* Refuses two servers of one pool with the same name or the same address. */
static void check_duplicates(struct config_ctx *c, const config_setting_t *servers, const char *prefix,
                             const struct pool_conf *pc)
{
    int name_dup, name_orig = 0, addr_dup, addr_orig = 0;
    char path[160];

    if (find_duplicate(pc, by_name, same_name, &name_dup, &name_orig) == -ENOMEM
        || find_duplicate(pc, by_addr, same_addr, &addr_dup, &addr_orig) == -ENOMEM) {
        snprintf(path, sizeof path, "%sservers", prefix);
        config_fail(c, servers, path, "out of memory checking %d servers", pc->nservers);
        return;
    }
    /* an unnamed server's name is its address: a repeat of both is told as an address */
    if (addr_dup >= 0 && (name_dup < 0 || addr_dup <= name_dup)) {
        snprintf(path, sizeof path, "%sservers.[%d]", prefix, addr_dup);
        config_fail(c, config_setting_get_elem(servers, (unsigned)addr_dup), path,
             "duplicate server address '%s': %sservers.[%d] is the same server ('%s')",
             pc->servers[addr_dup].addr.text, prefix, addr_orig, pc->servers[addr_orig].addr.text);
    } else if (name_dup >= 0) {
        snprintf(path, sizeof path, "%sservers.[%d]", prefix, name_dup);
        config_fail(c, config_setting_get_elem(servers, (unsigned)name_dup), path,
             "duplicate server name '%s': %sservers.[%d] has it already (names place keys and "
             "label counters: each server needs its own)", pc->servers[name_dup].name, prefix, name_orig);
    }
}

/*
 * `listen`: an address, or a list of up to POOL_MAX_LISTEN.  With a `tls`
 * group, an address is a TLS listener; "plain://ADDR" keeps one plaintext
 * beside it, and "tls://ADDR" says TLS outright (an error without `tls`).
 */
static void parse_listen(struct config_ctx *c, const config_setting_t *p, const char *prefix, struct pool_conf *out)
{
    const config_setting_t *l = config_setting_get_member(p, "listen");
    char path[160], err[200];
    int n;

    snprintf(path, sizeof path, "%slisten", prefix);
    if (l == NULL) {
        config_fail(c, p, path, "every pool needs a listen address");
        return;
    }
    if (config_setting_type(l) == CONFIG_TYPE_STRING) {
        n = 1;
    } else if (config_setting_type(l) == CONFIG_TYPE_LIST || config_setting_type(l) == CONFIG_TYPE_ARRAY) {
        n = config_setting_length(l);
        if (n < 1 || n > POOL_MAX_LISTEN) {
            config_fail(c, l, path, "give 1 to %d addresses, not %d", POOL_MAX_LISTEN, n);
            return;
        }
    } else {
        config_fail(c, l, path, "must be an address or a list of addresses, not %s", config_type_name(config_setting_type(l)));
        return;
    }
    for (int i = 0; i < n && !c->failed; i++) {
        const config_setting_t *e = config_setting_type(l) == CONFIG_TYPE_STRING ? l
                                    : config_setting_get_elem(l, (unsigned)i);
        const char *v = config_setting_get_string(e);
        struct pool_listen *pl = &out->listens[i];

        if (config_setting_type(l) != CONFIG_TYPE_STRING)
            snprintf(path, sizeof path, "%slisten.[%d]", prefix, i);
        if (v == NULL) {
            config_fail(c, e, path, "must be a string such as \"127.0.0.1:6379\"");
            return;
        }
        pl->tls = out->tls != NULL;
        if (strncmp(v, "tls://", 6) == 0) {
            v += 6;
            if (out->tls == NULL) {
                config_fail(c, e, path, "a TLS listener needs the pool's tls = { certificate = ...; key = ...; }");
                return;
            }
        } else if (strncmp(v, "plain://", 8) == 0) {
            v += 8;
            pl->tls = 0;
        }
        if (addr_parse(v, &pl->addr, err, sizeof err) != 0) {
            config_fail(c, e, path, "%s", err);
            return;
        }
        for (int j = 0; j < i; j++)
            if (addr_equal(&out->listens[j].addr, &pl->addr))
                config_fail(c, e, path, "'%s' is listed twice", pl->addr.text);
    }
    out->nlistens = n;
    out->listen = out->listens[0].addr;
}

static void parse_pool(struct config_ctx *c, const config_setting_t *p, int idx, struct pool_conf *out)
{
    static const char *const known[] = { "name", "listen", "mode", "balance", "connect_timeout",
                                         "client_idle_timeout", "client_connections", "server_timeout",
                                         "server_connections", "server_pinned_connections", "auto_eject_hosts", "server_failure_limit",
                                         "server_retry_timeout", "distribution", "hash", "hash_tag",
                                         "servers", "preconnect", "redis_auth", "redis_db", "databases", "allow_flush", "allow_admin", "client_output_limit", "client_output_soft_limit", "client_output_soft_time", "read_from",
                                         "cluster_refresh_interval", "cluster_max_redirects",
                                         "password", "max_multibulk_length", "max_bulk_length",
                                         "max_inline_length", "slowlog_slower_than", "slowlog_max_len",
                                         "hotkeys", "bigkey_threshold", "tls", "server_tls", "users", "acl_file",
                                         "auth_max_failures", "auth_lockout", "auth_delay", "redis_user", NULL };
    char prefix[64], path[128];
    const config_setting_t *servers;
    const char *v;

    snprintf(prefix, sizeof prefix, "pools.[%d].", idx);
    if (config_setting_type(p) != CONFIG_TYPE_GROUP) {
        snprintf(path, sizeof path, "pools.[%d]", idx);
        config_fail(c, p, path, "a pool is a group { name = ...; listen = ...; ... }");
        return;
    }
    config_check_known(c, p, prefix, known);
    v = config_get_str(c, p, prefix, "name", NULL, NULL);
    if (v == NULL || v[0] == '\0') {
        snprintf(path, sizeof path, "%sname", prefix);
        config_fail(c, p, path, "every pool needs a name");
        return;
    }
    snprintf(out->name, sizeof out->name, "%s", v);
    out->tls = config_tls_parse(c, p, prefix, "tls", 1);
    out->server_tls = config_tls_parse(c, p, prefix, "server_tls", 0);
    parse_listen(c, p, prefix, out);
    if (c->failed)
        return;
    v = config_get_str(c, p, prefix, "mode", "tcp", modes);
    out->mode = strcmp(v, "redis") == 0 ? MODE_REDIS : MODE_TCP;
    v = config_get_str(c, p, prefix, "balance", "roundrobin", balances);
    for (int i = 0; balances[i]; i++)
        if (strcmp(v, balances[i]) == 0)
            out->balance = (enum balance)i;
    out->connect_timeout = config_get_int(c, p, prefix, "connect_timeout", 1000, 1, 3600000);
    out->client_idle_timeout = config_get_int(c, p, prefix, "client_idle_timeout", 0, 0, INT32_MAX);
    out->client_connections = config_get_int(c, p, prefix, "client_connections", 0, 0, 100000000);
    out->server_timeout = config_get_int(c, p, prefix, "server_timeout", 400, 1, 3600000);
    out->server_connections = config_get_int(c, p, prefix, "server_connections", 1, 1, 1024);
    out->server_pinned_connections = config_get_int(c, p, prefix, "server_pinned_connections", 64, 0, 65536);
    out->auto_eject_hosts = config_get_bool(c, p, prefix, "auto_eject_hosts", 0);
    out->server_failure_limit = config_get_int(c, p, prefix, "server_failure_limit", 2, 1, 1000000);
    out->server_retry_timeout = config_get_int(c, p, prefix, "server_retry_timeout", 30000, 1, 86400000);
    snprintf(out->distribution, sizeof out->distribution, "%s",
             config_get_str(c, p, prefix, "distribution", "ketama", distributions));
    snprintf(out->hash, sizeof out->hash, "%s", config_get_str(c, p, prefix, "hash", "fnv1a_64", hashes));
    v = config_get_str(c, p, prefix, "hash_tag", "", NULL);
    snprintf(path, sizeof path, "%shash_tag", prefix);
    if (strlen(v) != 0 && strlen(v) != 2)
        config_fail(c, config_setting_get_member(p, "hash_tag"), path, "must be two characters, such as \"{}\"");
    snprintf(out->hash_tag, sizeof out->hash_tag, "%s", v);
    config_get_bool(c, p, prefix, "preconnect", 0);
    config_get_text(c, p, prefix, "redis_auth", out->redis_auth, sizeof out->redis_auth);
    config_get_text(c, p, prefix, "password", out->password, sizeof out->password);
    config_acl_parse(c, p, prefix, out);
    out->redis_db = config_get_int(c, p, prefix, "redis_db", 0, 0, 1000000);
    out->databases = config_get_int(c, p, prefix, "databases", 16, 1, 1000000);
    out->allow_flush = config_get_bool(c, p, prefix, "allow_flush", 1);
    out->allow_admin = config_get_bool(c, p, prefix, "allow_admin", 1);
    out->client_output_limit = (uint64_t)config_get_int64(c, p, prefix, "client_output_limit", 1LL << 30, 0, LLONG_MAX);
    out->client_output_soft_limit = (uint64_t)config_get_int64(c, p, prefix, "client_output_soft_limit", 0, 0, LLONG_MAX);
    out->client_output_soft_time = config_get_int(c, p, prefix, "client_output_soft_time", 60000, 0, 86400000);
    if (!c->failed && out->redis_db >= out->databases) {
        snprintf(path, sizeof path, "%sredis_db", prefix);
        config_fail(c, config_setting_get_member(p, "redis_db"), path, "%d is not below databases (%d)", out->redis_db,
             out->databases);
    }
    out->max_multibulk_length = (uint32_t)config_get_int(c, p, prefix, "max_multibulk_length",
                                                  RESP_MAX_MULTIBULK_DEFAULT, 1, INT32_MAX);
    out->max_bulk_length = (uint64_t)config_get_int(c, p, prefix, "max_bulk_length",
                                             (int)RESP_MAX_BULK_DEFAULT, 1, INT32_MAX);
    out->max_inline_length = (uint32_t)config_get_int(c, p, prefix, "max_inline_length",
                                               RESP_MAX_INLINE_DEFAULT, 16, INT32_MAX);
    out->slowlog_slower_than = config_get_int64(c, p, prefix, "slowlog_slower_than", 10000, -1, LLONG_MAX);
    out->slowlog_max_len = config_get_int(c, p, prefix, "slowlog_max_len", 128, 0, 1000000);
    out->hotkeys = config_get_bool(c, p, prefix, "hotkeys", 1);
    out->bigkey_threshold = (uint64_t)config_get_int64(c, p, prefix, "bigkey_threshold", 1 << 20, 0, LLONG_MAX);
    v = config_get_str(c, p, prefix, "read_from", "master", (const char *const[]){ "master", "replica", "prefer_replica", NULL });
    out->read_from = strcmp(v, "replica") == 0 ? 1 : strcmp(v, "prefer_replica") == 0 ? 2 : 0;
    out->cluster_refresh_interval = config_get_int(c, p, prefix, "cluster_refresh_interval", 10000, 0, 86400000);
    out->cluster_max_redirects = config_get_int(c, p, prefix, "cluster_max_redirects", 5, 1, 100);

    servers = config_setting_get_member(p, "servers");
    snprintf(path, sizeof path, "%sservers", prefix);
    if (servers == NULL) {
        config_fail(c, p, path, "every pool needs servers");
        return;
    }
    if (config_setting_type(servers) != CONFIG_TYPE_LIST && config_setting_type(servers) != CONFIG_TYPE_ARRAY) {
        config_fail(c, servers, path, "must be a list ( \"host:port:weight name\", ... )");
        return;
    }
    out->nservers = config_setting_length(servers);
    if (out->nservers == 0) {
        config_fail(c, servers, path, "a pool needs at least one server");
        return;
    }
    out->servers = calloc((size_t)out->nservers, sizeof *out->servers);
    if (out->servers == NULL) {
        config_fail(c, servers, path, "out of memory for %d servers", out->nservers);
        return;
    }
    for (int i = 0; i < out->nservers && !c->failed; i++) {
        snprintf(path, sizeof path, "%sservers.[%d]", prefix, i);
        parse_server(c, config_setting_get_elem(servers, (unsigned)i), path, &out->servers[i]);
    }
    if (!c->failed)
        check_duplicates(c, servers, prefix, out);
}

/* An address both pools listen on, or NULL. */
static const struct proxy_addr *shared_listen(const struct pool_conf *a, const struct pool_conf *b)
{
    for (int i = 0; i < a->nlistens; i++)
        for (int j = 0; j < b->nlistens; j++)
            if (addr_equal(&a->listens[i].addr, &b->listens[j].addr))
                return &a->listens[i].addr;
    return NULL;
}

/* The admin group: the Unix socket, its mode, and the optional TCP port. */
static void parse_admin(struct config_ctx *c, const config_setting_t *s, struct config *cfg)
{
    static const char *const known[] = { "socket", "mode", "listen", "password", NULL };
    const char *v;
    char err[256];

    config_check_known(c, s, "admin.", known);
    if (config_setting_get_member(s, "socket")) {
        v = config_get_str(c, s, "admin.", "socket", "", NULL);
        if (v[0] != '\0' && v[0] != '/')
            config_fail(c, config_setting_get_member(s, "socket"), "admin.socket",
                 "'%s' is not an absolute path (\"\" for no admin socket)", v);
        else if (strlen(v) >= sizeof cfg->admin_socket)
            config_fail(c, config_setting_get_member(s, "socket"), "admin.socket",
                 "'%s' is too long for a Unix socket (at most %zu bytes)", v, sizeof cfg->admin_socket - 1);
        snprintf(cfg->admin_socket, sizeof cfg->admin_socket, "%s", v);
        cfg->admin_socket_default = 0;
    }
    v = config_get_str(c, s, "admin.", "mode", "0660", NULL);
    {   /* octal, as chmod takes it: libconfig has no octal numbers */
        char *end;
        long m = strtol(v, &end, 8);
        if (*v == '\0' || *end != '\0' || m < 0 || m > 0777)
            config_fail(c, config_setting_get_member(s, "mode"), "admin.mode",
                 "'%s' is not an octal file mode such as \"0660\"", v);
        cfg->admin_mode = (int)m;
    }
    v = config_get_str(c, s, "admin.", "password", "", NULL);
    snprintf(cfg->admin_password, sizeof cfg->admin_password, "%s", v);
    if (strlen(v) >= sizeof cfg->admin_password)
        config_fail(c, config_setting_get_member(s, "password"), "admin.password",
             "too long (at most %zu bytes)", sizeof cfg->admin_password - 1);
    v = config_get_str(c, s, "admin.", "listen", "", NULL);
    if (v[0] == '\0' || c->failed)
        return;
    if (v[0] == '/' || addr_parse(v, &cfg->admin_listen, err, sizeof err) != 0) {
        config_fail(c, config_setting_get_member(s, "listen"), "admin.listen", "%s",
             v[0] == '/' ? "a TCP address (host:port); the Unix socket is admin.socket" : err);
        return;
    }
    /* Anyone who can reach a non-loopback port could read the statistics. */
    if (!addr_is_loopback(&cfg->admin_listen) && cfg->admin_password[0] == '\0')
        config_fail(c, config_setting_get_member(s, "listen"), "admin.listen",
             "'%s' is not a loopback address: set admin.password to expose the admin port", v);
    cfg->admin_has_listen = 1;
}

/*
 * Memory mappings: each coroutine stack is an mmap with a PROT_NONE guard
 * page below it, two mappings (src/co_stack.c), and a process may have
 * vm.max_map_count of them; past that, mmap fails and a worker does not
 * start ("out of memory").  config_map_estimate() counts, per worker:
 *   - 2 per shared run stack (coroutines.shared_stacks, proxy/worker.c);
 *   - 2 per run stack of the redis backends' coroutines
 *     (WORKER_BACKEND_STACKS, proxy/worker.h: 64), however many servers;
 *   - 2 for the scratch stack shared-stack copies run on (co_stack.c);
 *   - 2 for the thread's stack and its guard (glibc), 1 for its signal
 *     stack (co_guard.c), 2 for its malloc arena (a heap and its reserve);
 *   - 2 per pool for its acceptor coroutine's private stack (worker.c).
 * The rest of the process (program, libraries, main and admin threads) is
 * a fixed allowance.  Measured with glibc on x86-64: 113 + 137 per worker
 * with one pool and private backend stacks.
 */
#define MAPS_PROCESS 128
#define MAPS_WORKER 7                /* scratch stack 2, thread stack 2, signal stack 1, arena 2 */
#define MAPS_PER_STACK 2
#define MAPS_BACKEND_STACKS 64       /* = WORKER_BACKEND_STACKS */

/* The mappings cfg needs; *per_worker: those of one worker. */
static unsigned long long config_map_estimate(const struct config *cfg, unsigned long long *per_worker)
{
    *per_worker = MAPS_WORKER + MAPS_PER_STACK * ((unsigned long long)cfg->shared_stacks + MAPS_BACKEND_STACKS
                                                  + (unsigned long long)cfg->npools);
    return MAPS_PROCESS + (unsigned long long)cfg->threads * *per_worker;
}

/* vm.max_map_count now, or -1 when it cannot be read (then nothing is checked). */
static long max_map_count(void)
{
    FILE *f = fopen("/proc/sys/vm/max_map_count", "re");
    long v = -1;

    if (f == NULL)
        return -1;
    if (fscanf(f, "%ld", &v) != 1)
        v = -1;
    fclose(f);
    return v;
}

/* Refuses a configuration whose workers would run out of memory mappings. */
static void check_map_count(struct config_ctx *c, const config_setting_t *root, const struct config *cfg)
{
    unsigned long long per_worker, total = config_map_estimate(cfg, &per_worker);
    long limit = max_map_count();

    if (limit <= 0 || total <= (unsigned long long)limit)
        return;
    config_fail(c, config_setting_get_member(root, "threads"), "threads",
         "needs about %llu memory mappings, more than vm.max_map_count (%ld): threads (%d) x %llu (coroutine "
         "stacks: %d shared, %d for server connections, the pools' acceptors) + %d; use fewer threads or "
         "coroutines.shared_stacks, or raise vm.max_map_count (sysctl)", total, limit, cfg->threads, per_worker,
         cfg->shared_stacks, MAPS_BACKEND_STACKS, MAPS_PROCESS);
}

int config_load(const char *file, struct config *cfg, char *err, size_t errlen)
{
    static const char *const known[] = { "threads", "pin_threads", "log_level", "log_file", "shutdown_timeout",
                                         "bpf", "admin", "coroutines", "pools", NULL };
    static const char *const co_known[] = { "shared_stacks", "stack_size", NULL };
    struct config_ctx c = { .file = file, .err = err, .errlen = errlen };
    config_t lc;
    const config_setting_t *root, *s, *pools;
    const char *v;

    memset(cfg, 0, sizeof *cfg);
    snprintf(cfg->file, sizeof cfg->file, "%s", file);
    if (config_syntax_read(&lc, file, err, errlen) != 0)
        return -1;
    root = config_root_setting(&lc);
    config_check_known(&c, root, "", known);

    s = config_setting_get_member(root, "threads");
    if (s && config_setting_type(s) == CONFIG_TYPE_STRING) {
        if (strcmp(config_setting_get_string(s), "auto") != 0)
            config_fail(&c, s, "threads", "must be \"auto\" or a number of workers");
        cfg->threads = (int)sysconf(_SC_NPROCESSORS_ONLN);
    } else {
        cfg->threads = config_get_int(&c, root, "", "threads", 0, 1, 1024);
        if (cfg->threads == 0)   /* not set: one per CPU, as "auto" */
            cfg->threads = (int)sysconf(_SC_NPROCESSORS_ONLN);
    }
    if (cfg->threads < 1)
        cfg->threads = 1;
    cfg->pin_threads = config_get_bool(&c, root, "", "pin_threads", 0);
    v = config_get_str(&c, root, "", "log_level", "info", levels);
    cfg->log_level = log_level_parse(v);
    v = config_get_str(&c, root, "", "log_file", "", NULL);
    if (v[0] != '\0' && v[0] != '/')
        config_fail(&c, config_setting_get_member(root, "log_file"), "log_file", "'%s' is not an absolute path", v);
    snprintf(cfg->log_file, sizeof cfg->log_file, "%s", v);
    cfg->shutdown_timeout = config_get_int(&c, root, "", "shutdown_timeout", 5000, 0, 3600000);
    cfg->bpf = config_get_bool(&c, root, "", "bpf", 1);

    snprintf(cfg->admin_socket, sizeof cfg->admin_socket, "%s", CONFIG_ADMIN_SOCKET);
    cfg->admin_socket_default = 1;
    cfg->admin_mode = 0660;
    s = config_setting_get_member(root, "admin");
    if (s) {
        if (config_setting_type(s) != CONFIG_TYPE_GROUP)
            config_fail(&c, s, "admin", "must be a group { socket = ...; }");
        else
            parse_admin(&c, s, cfg);
    }
    cfg->shared_stacks = 64;
    cfg->stack_size = 131072;
    s = config_setting_get_member(root, "coroutines");
    if (s) {
        if (config_setting_type(s) != CONFIG_TYPE_GROUP) {
            config_fail(&c, s, "coroutines", "must be a group { shared_stacks = ...; stack_size = ...; }");
        } else {
            config_check_known(&c, s, "coroutines.", co_known);
            cfg->shared_stacks = config_get_int(&c, s, "coroutines.", "shared_stacks", 64, 1, 65536);
            cfg->stack_size = config_get_int(&c, s, "coroutines.", "stack_size", 131072, 16384, 8 << 20);
        }
    }
    pools = config_setting_get_member(root, "pools");
    if (!c.failed && pools == NULL)
        config_fail(&c, root, "pools", "no pools: nothing to proxy");
    if (!c.failed && config_setting_type(pools) != CONFIG_TYPE_LIST)
        config_fail(&c, pools, "pools", "must be a list ( { ... }, { ... } )");
    if (!c.failed) {
        cfg->npools = config_setting_length(pools);
        if (cfg->npools == 0)
            config_fail(&c, pools, "pools", "no pools: nothing to proxy");
        cfg->pools = calloc((size_t)cfg->npools, sizeof *cfg->pools);
        for (int i = 0; i < cfg->npools && !c.failed; i++)
            parse_pool(&c, config_setting_get_elem(pools, (unsigned)i), i, &cfg->pools[i]);
        for (int i = 0; i < cfg->npools && !c.failed; i++) {
            for (int j = 0; j < i; j++) {
                char path[64];
                if (strcmp(cfg->pools[i].name, cfg->pools[j].name) == 0) {
                    snprintf(path, sizeof path, "pools.[%d].name", i);
                    config_fail(&c, config_setting_get_member(config_setting_get_elem(pools, (unsigned)i), "name"),
                         path, "pool name '%s' is already used by pools.[%d]", cfg->pools[i].name, j);
                } else {
                    const struct proxy_addr *a = shared_listen(&cfg->pools[i], &cfg->pools[j]);
                    snprintf(path, sizeof path, "pools.[%d].listen", i);
                    if (a != NULL)
                        config_fail(&c, config_setting_get_member(config_setting_get_elem(pools, (unsigned)i), "listen"),
                             path, "'%s' is already a listen address of pool '%s'", a->text, cfg->pools[j].name);
                }
            }
            if (!c.failed && strcmp(cfg->pools[i].distribution, "cluster") == 0
                && (cfg->pools[i].mode != MODE_REDIS || cfg->pools[i].redis_db != 0)) {
                char path[64];
                int db = cfg->pools[i].mode == MODE_REDIS;
                snprintf(path, sizeof path, "pools.[%d].%s", i, db ? "redis_db" : "distribution");
                config_fail(&c, config_setting_get_member(config_setting_get_elem(pools, (unsigned)i),
                                                   db ? "redis_db" : "distribution"),
                     path, db ? "a Redis Cluster has database 0 only" : "distribution \"cluster\" needs mode = \"redis\"");
            }
        }
    }
    for (int i = 0; i < cfg->npools && !c.failed && cfg->admin_has_listen; i++)
        for (int k = 0; k < cfg->pools[i].nlistens; k++)
            if (addr_equal(&cfg->pools[i].listens[k].addr, &cfg->admin_listen))
                config_fail(&c, config_setting_get_member(config_setting_get_member(root, "admin"), "listen"), "admin.listen",
                     "'%s' is already a listen address of pool '%s'", cfg->admin_listen.text, cfg->pools[i].name);
    for (int i = 0; i < cfg->npools && !c.failed; i++)   /* OpenSSL's handshakes run on the connections' stacks */
        if ((cfg->pools[i].tls || (cfg->pools[i].server_tls && cfg->pools[i].mode == MODE_TCP))
            && cfg->stack_size < TLS_STACK_MIN)
            config_fail(&c, config_setting_lookup((config_setting_t *)root, "coroutines.stack_size"), "coroutines.stack_size",
                        "%d is too small for pool '%s''s TLS handshakes: give at least %d", cfg->stack_size,
                        cfg->pools[i].name, TLS_STACK_MIN);
    if (!c.failed)
        check_map_count(&c, root, cfg);
    free(c.wide);
    free(c.scanned);
    config_destroy(&lc);
    if (c.failed) {
        config_free(cfg);
        return -1;
    }
    return 0;
}

void config_free(struct config *cfg)
{
    for (int i = 0; i < cfg->npools; i++) {
        free(cfg->pools[i].servers);
        tls_conf_free(cfg->pools[i].tls);
        tls_conf_free(cfg->pools[i].server_tls);
        acl_free(cfg->pools[i].acl);
    }
    free(cfg->pools);
    cfg->pools = NULL;
    cfg->npools = 0;
}

int config_server_same(const struct server_conf *a, const struct server_conf *b)
{
    return strcmp(a->name, b->name) == 0 && addr_equal(&a->addr, &b->addr);
}
