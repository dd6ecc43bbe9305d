/* SPDX-License-Identifier: Apache-2.0 */
/* config_file.h — the daemon's configuration, read and validated from a libconfig file. */
#ifndef COPROXY_CONFIG_FILE_H
#define COPROXY_CONFIG_FILE_H

#include <stdint.h>

#include "addr.h"

/* Where the admin socket is when the config does not say (systemd's RuntimeDirectory). */
#define CONFIG_ADMIN_SOCKET "/run/coproxy/admin.sock"

enum pool_mode { MODE_TCP, MODE_REDIS };
enum balance { BALANCE_ROUNDROBIN, BALANCE_LEASTCONN, BALANCE_RANDOM, BALANCE_HASH };

struct server_conf {
    char name[64];                   /* from "host:port:weight name"; else host:port */
    char dist_name[64];              /* what ketama hashes, as twemproxy: the name if
                                        given, else host:port (host alone for 11211) */
    struct proxy_addr addr;
    int weight;
};

/* A pool may listen on a few addresses, each plaintext or TLS. */
#define POOL_MAX_LISTEN 4

struct pool_listen {
    struct proxy_addr addr;
    int tls;                         /* clients speak TLS here (the pool's `tls`) */
};

struct tls_conf;

struct acl;

struct pool_conf {
    char name[64];
    struct proxy_addr listen;        /* the first of listens (what INFO and the stats name) */
    struct pool_listen listens[POOL_MAX_LISTEN];
    int nlistens;
    struct tls_conf *tls;            /* its TLS listeners' certificates (NULL: none) */
    struct tls_conf *server_tls;     /* TLS to its servers (NULL: plaintext) */
    enum pool_mode mode;
    enum balance balance;
    int connect_timeout;             /* ms */
    int client_idle_timeout;         /* ms, 0 = never */
    int client_connections;          /* 0 = unlimited */
    int server_timeout;              /* ms */
    int server_connections;
    int databases;                   /* redis: SELECT takes 0 .. databases-1 */
    int allow_flush;                 /* redis: FLUSHDB/FLUSHALL reach the servers */
    int allow_admin;                 /* redis: CONFIG SET, DEBUG... reach the servers */
    int server_pinned_connections;   /* redis: per worker and server, for transactions and
                                        blocking commands; 0: those are refused */
    int auto_eject_hosts;
    int server_failure_limit;
    int server_retry_timeout;        /* ms */
    char distribution[16];           /* "cluster": a Redis Cluster, servers are seeds */
    int read_from;                   /* cluster: 0 master, 1 replica, 2 prefer_replica */
    int cluster_refresh_interval;    /* cluster: ms between slot map refreshes, 0 = only
                                        when a redirect or a lost node says so */
    int cluster_max_redirects;       /* cluster: MOVED/ASK followed per request */
    char hash[16];
    char hash_tag[3];
    char password[128];              /* clients must AUTH with it ("" = no AUTH) */
    char redis_auth[128];            /* sent to backends on connect ("" = none) */
    char redis_user[128];            /* ... as this user's password ("" = AUTH pass alone) */
    struct acl *acl;                 /* redis: its users (acl.h); "default" is password's */
    char acl_file[256];              /* where they were read ("" = users, or none) */
    int auth_max_failures;           /* failed AUTHs from one address before the lockout (0: none) */
    int auth_lockout_close;          /* past them: 1 close the connection, 0 delay the reply */
    int auth_delay;                  /* ms, the lockout's delay */
    int redis_db;                    /* SELECTed on backends on connect */
    uint32_t max_multibulk_length;   /* request limits (Redis's defaults) */
    uint64_t max_bulk_length;
    uint32_t max_inline_length;
    /* redis: replies held for a client that does not read them (Redis's
     * client-output-buffer-limit for normal clients); 0 = no limit */
    uint64_t client_output_limit;        /* bytes: closed at once past it */
    uint64_t client_output_soft_limit;   /* bytes: closed past it for ... */
    int client_output_soft_time;         /* ... this long (ms) */
    /* redis: the proxy's slow log, hot keys and big keys */
    int64_t slowlog_slower_than;     /* us; -1: off */
    int slowlog_max_len;             /* entries kept per worker */
    int hotkeys;
    uint64_t bigkey_threshold;       /* bytes; 0: off */
    struct server_conf *servers;
    int nservers;
};

struct config {
    char file[512];
    int threads;                     /* resolved: "auto" = online CPUs */
    int pin_threads;
    int log_level;
    char log_file[512];              /* "" = stderr */
    int shutdown_timeout;            /* ms */
    char admin_socket[108];          /* "" = none */
    int admin_socket_default;        /* not set: /run/coproxy/admin.sock, best effort */
    int admin_mode;                  /* the admin socket's file mode */
    int admin_has_listen;            /* the TCP admin port, if set */
    struct proxy_addr admin_listen;
    char admin_password[128];        /* required of TCP admin clients when set */
    int shared_stacks;               /* per worker */
    int stack_size;
    int bpf;                         /* kernel-side TCP figures (when built with BPF) */
    struct pool_conf *pools;
    int npools;
};

/*
 * Reads and validates FILE.  Returns 0, or -1 with err set to
 * "FILE:LINE: setting: what is wrong".  Every setting is checked: unknown
 * names, wrong types, bad addresses, duplicate listen addresses and values
 * out of range are all errors.
 */
int config_load(const char *file, struct config *cfg, char *err, size_t errlen);
void config_free(struct config *cfg);

/* The same server across two configurations: same name and same address
 * (a reload keeps its connections and counters). */
int config_server_same(const struct server_conf *a, const struct server_conf *b);

#endif
