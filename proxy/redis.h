/* SPDX-License-Identifier: Apache-2.0 */
/* redis.h — redis mode's shared types: requests in flight, backend connections, a pool's routing. */
#ifndef COPROXY_REDIS_H
#define COPROXY_REDIS_H

#include <stddef.h>
#include <stdint.h>

#include "co_routine.h"
#include "config_file.h"
#include "dist.h"
#include "hashkit.h"
#include "rbuf.h"
#include "resp.h"
#include "counters.h"

struct ssl_st;
struct ssl_session_st;

struct worker;
struct pool_rt;
struct redis_client;
struct acl_user;
struct redis_server;
struct redis_monitor;

/*
 * The pipelining queues.  A client's requests are queued in its own order
 * (cnext); each one routed to a server is also queued, with its bytes, on
 * one of that server's connections (bnext), whose replies come back in the
 * order sent.  A multi-key request is split into fragments, one per server,
 * merged when the last one is answered.
 *
 *   client A: m1 -> m2 -> m3            backend conn s0: m1 -> b2 -> f3a
 *   client B: b1 -> b2                  backend conn s1: b1 -> m2 -> f3b
 *                                       (m3 = f3a + f3b, an MGET over both)
 *
 * The client writes replies from its head while they are done, and waits
 * (its cond) for the head otherwise.  A message is freed when nobody
 * holds it: refs counts the client's queue, the backend's queue and, for a
 * fragment, its parent.
 */

enum merge_kind { MERGE_NONE, MERGE_MGET, MERGE_SUM, MERGE_OK, MERGE_CONCAT, MERGE_RANDOM, MERGE_SCAN, MERGE_INFO,
                  MERGE_MAX,      /* PUBSUB NUMPAT: the largest integer */
                  MERGE_MIN,      /* WAIT: the smallest */
                  MERGE_ALL,      /* SCRIPT EXISTS: 1 where every server says 1 */
                  MERGE_KEEP,     /* (P)(UN)SUBSCRIBE: the reply made here, once every server acknowledged */
                  MERGE_SAME,     /* CONFIG GET: the servers' reply when they all agree */
                  MERGE_ANY_OK,   /* SCRIPT KILL: +OK if one server did it, else the servers' error */
                  MERGE_SLOWLOG,  /* SLOWLOG GET: every server's entries, newest first, each naming its server */
                  MERGE_SLOWLOG_LEN,   /* SLOWLOG LEN: the servers' and the proxy's entries */
                  MERGE_RUNNING,  /* FUNCTION STATS: the server running a function, else the first */
                  MERGE_TEXT,     /* MEMORY DOCTOR: the servers' texts, each under its server's name */
                  MERGE_PER_SERVER };/* MEMORY STATS: a map of server name to its reply */

struct msg {
    struct msg *cnext;               /* next in the client's queue */
    struct msg *bnext;               /* next in the backend connection's queue */
    struct redis_client *client;     /* a request's client; NULL once it left */
    struct msg *parent;              /* a fragment's request; NULL once it gave up */
    struct msg **frags;              /* a split request's fragments */
    uint32_t *keypos;                /* an MGET fragment: which of the parent's keys */
    struct redis_server *server;     /* where it was sent (for error messages) */
    struct backend_conn *conn;       /* the connection it was queued on */
    struct rbuf reply;               /* the reply, complete once done */
    uint64_t deadline;               /* ms: server_timeout */
    uint64_t start_us;               /* when it was parsed (0: internal) */
    uint32_t nfrags, frags_left, nkeys;
    uint32_t scan_server, scan_nservers;   /* SCAN: which server, of how many */
    uint8_t refs;
    uint8_t done;
    uint8_t merge;                   /* enum merge_kind */
    uint8_t internal;                /* AUTH/SELECT sent on connect: checked, not forwarded;
                                        2: its reply, whatever it is, dropped */
    uint8_t aside;                   /* SCRIPT/FUNCTION KILL: on the server's spare connection,
                                        not queued behind the script it is to stop */
    uint8_t resp3;                   /* its client speaks RESP3: it goes on a RESP3 connection,
                                        whose replies need no conversion */
    uint8_t blocking;                /* a blocking command: watch the client while it waits */
    uint8_t unpin;                   /* its reply written, the client's blocking pin may go */
    uint8_t silent;                  /* CLIENT REPLY OFF/SKIP: not written to the client */
    uint8_t quit;                    /* close the client once this reply is written */
    uint8_t push;                    /* a pub/sub message pushed to a subscriber */
    uint8_t wait;                    /* WAIT: 1 until the client's earlier replies are in, 2 sent */
    uint32_t wait_ms;                /* WAIT: its timeout (0: none) */
    uint64_t wait_servers;           /* WAIT: the servers written to before it (bit: index) */
    uint8_t reset;                   /* RESET: carried out when it reaches the queue's head */
    uint8_t exec_select;             /* an EXEC with a SELECT of database `db` queued before it */
    /* a blocking command whose client leaves (see redis_pushback.h) */
    uint8_t pop_kind;                /* enum pop_kind: what its reply takes from the server */
    uint8_t after_fin;               /* sent after its client's FIN: the reply is still written */
    uint8_t orphan;                  /* its client left or gave up: what its reply took goes back */
    /* its reply, whatever became of its client, is handed here first (the
     * connection calls no feature by name: its owner sets this) */
    void (*late_reply)(struct worker *w, struct msg *m, const char *p, size_t n);
    int32_t db;                      /* a blocking command's database (-1: the pool's), to give back in */
    uint8_t unanswered;              /* its connection was half-closed and ended without its reply */
    uint8_t counted;                 /* its reply's bytes are in the client's reply_bytes */
    uint8_t unblock_sent;            /* its client left: CLIENT UNBLOCK (or a FIN) went to the server */
    uint8_t id_probe;                /* enum probe: sent on a pinned connection's connect */
    /* Redis Cluster pools (cluster.c) */
    struct rbuf req;                 /* the request's bytes, to send again after a redirect */
    uint64_t retry_at;               /* ms: on the retry list until then */
    uint64_t seq;                    /* its first byte's sequence number on its connection */
    uint16_t slot1;                  /* its keys' slot + 1 (0: none, it goes to one node) */
    uint8_t redirects;               /* MOVED/ASK followed so far */
    uint8_t cluster_map;             /* a CLUSTER SLOTS of the pool's own */
    /* what the slow log and big keys name it by (redis_monitor.h), set as it is queued */
    const char *cmd_name;
    uint32_t argc;
    uint32_t key_len;                /* its first key's whole length (0: none) */
    uint64_t backend_us;             /* its batch's arrival -> its reply read from a server */
    char key[48];                    /* that key's first bytes (MONITOR_KEY_BRIEF); last: a
                                        recycled message is cleared up to here */
};

/* Per worker, per server. */
struct redis_server {
    struct redis_pool *pool;
    const struct server_conf *conf;  /* in the worker's view of the pool's list, or own_conf */
    int index;
    struct backend_conn *conns;      /* server_connections of them */
    struct backend_conn *conns3;     /* as many speaking RESP3, made when a RESP3 client first
                                        needs one (NULL until then) */
    int failures;                    /* in a row */
    uint64_t ejected_until;          /* ms; 0: in the distribution */
    int retired;                     /* a reload removed it: its connections close once idle */
    struct backend_conn *pinned_free;   /* pinned connections no client holds */
    struct backend_conn *pinned_free3;  /* the same, speaking RESP3 */
    struct backend_conn *spare[2];   /* for what must not wait behind the shared ones'
                                        queues (SCRIPT KILL), RESP2 and RESP3, made on first use */
    struct backend_conn **db_conns;  /* [2 * databases]: shared connections for a SELECTed
                                        database (RESP2, RESP3), made on first use */
    int npinned;                     /* pinned connections made (held or free) */
    struct server_stats *stats;      /* = &own: the worker's counters for this server */
    struct server_stats own;
    uint8_t cluster_replica;         /* cluster: a replica in the last slot map */
    uint8_t cluster_absent;          /* cluster: not in the last slot map (gone, or failed) */
    struct server_conf *own_conf;    /* its settings when no configuration lists them: a
                                        node the slot map found (the config names only the
                                        seeds), a seed or a server a reload removed */
    struct ssl_session_st *tls_session;   /* server_tls: the last session it gave (resumed by the
                                        next connection's handshake), or NULL */
    unsigned tls_session_conf;       /* the id of the server_tls it was made under */
};

/*
 * What a backend connection hands to the pool that owns it: the connection
 * is a transport and calls no feature by name (the cluster's redirects
 * and slot map, pub/sub pushes, the pool's failure count go through here).
 * The cluster's members are NULL in a plain pool.
 */
struct backend_ops {
    /* m's reply p[0..n) is an error: 0 if the owner took m on (sent it
     * again elsewhere, or waits), -1 to give it to its client */
    int (*error_reply)(struct worker *w, struct msg *m, const char *p, size_t n);
    /* m's connection was lost before m was sent: 0 if the owner keeps it, -1: fail it */
    int (*unsent)(struct msg *m);
    /* the reply to the owner's own request (a CLUSTER SLOTS), or its loss */
    void (*map_reply)(struct redis_pool *p, const char *reply, size_t n);
    void (*map_failed)(struct redis_pool *p);
    /* a pushed message on a subscriber's connection; it answered all it
     * owed; it was lost */
    void (*push)(struct worker *w, struct backend_conn *bc, const char *p, size_t n);
    void (*idle)(struct backend_conn *bc);
    void (*lost)(struct backend_conn *bc);
    /* the same for a tracking client's connection: an invalidation; it was lost */
    void (*tracked_push)(struct worker *w, struct backend_conn *bc, const char *p, size_t n);
    void (*tracked_lost)(struct backend_conn *bc);
    /* a failure talking to s (connect, lost, silent past server_timeout) */
    void (*failed)(struct redis_server *s);
    /* requests keep their bytes, to be sent again after a redirect */
    uint8_t keeps_requests;
};

/* Per worker, per redis pool: its servers and where keys go. */
struct redis_pool {
    const struct backend_ops *ops;   /* given to its connections */
    struct worker *w;
    struct pool_rt *rt;
    const struct pool_conf *conf;
    struct redis_server **servers;   /* in the config's order; each allocated once and
                                        kept while messages may point to it */
    int nservers;
    enum hash_kind hash;
    struct dist dist;
    struct dist_server *dist_servers;
    uint64_t next_rebuild;           /* ms: an ejected server comes back (0: none) */
    struct resp_limits limits;
    struct redis_client *clients;    /* open clients, to wake them at shutdown */
    struct pool_stats *stats;        /* the worker's counters for this pool */
    struct cluster *cluster;         /* distribution = "cluster": the slot map */
    char server_version[24];         /* what a server's HELLO said ("" until one did) */
    /* slow log, hot keys, big keys (redis_monitor.h); thresholds from the settings */
    struct redis_monitor *mon;
    uint64_t slow_us;                /* UINT64_MAX: off */
    uint64_t big_bytes;              /* UINT64_MAX: off */
    uint8_t hotkeys_on;
};

enum backend_state { BC_DOWN, BC_CONNECTING, BC_UP };
enum probe { PROBE_NONE, PROBE_ID, PROBE_UNBLOCK,   /* CLIENT ID; CLIENT UNBLOCK allowed? */
             PROBE_HELLO };                         /* HELLO 3 on a RESP3 connection */

/* One connection to a server, shared by the worker's clients (pipelined). */
struct backend_conn {
    struct redis_server *srv;
    int fd;
    uint8_t state;                   /* enum backend_state */
    uint8_t writer_idle;             /* the writer waits on `wake` */
    uint32_t gen;                    /* +1 per connection: a reader of an older one stops */
    struct rbuf out;                 /* request bytes not yet sent: [out_off, out.len) */
    size_t out_off;
    struct msg *head, **tail;        /* requests awaiting replies, in the order sent */
    uint32_t inflight;
    struct stCoCond_t *wake;
    struct stCoRoutine_t *writer;
    uint64_t retry_at;               /* ms: reconnecting waits until then */
    int backoff_ms;
    uint32_t drops;                  /* +1 per failure: a pinned client's server-side state is gone */
    uint8_t pinned;                  /* a client's own (transactions, blocking), not shared */
    uint8_t resp3;                   /* opened with HELLO 3: it speaks RESP3 */
    int db;                          /* the database it SELECTs on connect; -1: redis_db */
    uint8_t quiet;                   /* closing it is no server failure */
    uint8_t parked;                  /* pinned, its client gave up on it: closed once its last reply is in */
    uint8_t fin_pending;             /* a FIN follows what is queued (its client left) */
    uint8_t unblocked;               /* a CLIENT UNBLOCK was sent for it on this connection */
    uint8_t fin_sent;                /* half-closed: the server answers what it ran, then closes */
    uint64_t struck_ms;              /* ms: a silence was last counted as a failure */
    int64_t server_id;               /* pinned: the server's CLIENT ID for it (0: unknown) */
    uint64_t heard_ms;               /* the server last showed life on it: a reply read, or
                                        its queue starting from empty */
    size_t enq_mark;                 /* out: where the next request's bytes start */
    uint64_t seq_base;               /* the byte sequence number of out[0]: a request whose
                                        first byte's number is at least seq_base + out_off
                                        was never sent */
    struct backend_conn *next_free;  /* pinned: in the server's free list */
    struct redis_client *subscriber; /* pinned by a subscribed client: pushed messages go to it */
    struct redis_client *tracker;    /* pinned by a client with CLIENT TRACKING on: its
                                        invalidations ('>' pushes) go to redis_tracking.c */
    uint8_t movable;                 /* pinned, yet a request a cluster redirects may go on
                                        elsewhere (a tracking client's, outside a transaction) */
    uint8_t tracked;                 /* the server may push invalidations on it (until it is
                                        closed): a '>' is never a reply (dropped if no tracker) */
    char why[160];                   /* the last failure, for error replies */
    struct ssl_st *tls;              /* server_tls: the connection's TLS (NULL: plaintext) */
};

/* Where a key goes: its server (NULL: none is live) and, in a cluster, the
 * key's slot + 1 (0 elsewhere), which a request keeps to be sent again
 * after a redirect. */
struct route {
    struct redis_server *server;
    uint16_t slot1;
};

/* One redis-mode client: its state, shared by the files that serve it
 * (redis_client.c reads and dispatches, the others route and answer). */
struct redis_pubsub;

/* Why the proxy closes a client (redis_client.kicked). */
#define KICKED_IDLE 1                    /* client_idle_timeout */
#define KICKED_USER 2                    /* its user was removed or changed by a reload */
#define KICKED_KILL 3                    /* CLIENT KILL */

struct redis_client {
    struct worker *w;
    struct redis_pool *pool;
    struct redis_client *prev, *next;    /* the pool's open clients */
    struct co_timer *idle;
    struct stCoCond_t *cond;             /* waits for the head's reply (made on first use) */
    struct rbuf in;                      /* input; [in_off, in.len) not parsed yet */
    size_t in_off;
    struct resp_request req;
    struct msg *head, **tail;            /* requests in order, until their replies are written */
    uint32_t nqueued;
    uint64_t batch_us;                   /* when the requests being parsed arrived */
    int fd;
    char *name;                          /* CLIENT SETNAME */
    uint64_t since_ms;                   /* connected then (CLIENT LIST's age) */
    uint64_t id;
    const struct acl_user *user;         /* who it AUTHed as (NULL: nobody yet); points into
                                            pool->conf->acl, moved on by acl_users_changed */
    uint8_t resp3;                       /* HELLO 3: it speaks RESP3 (RESET: RESP2 again) */
    uint8_t waiting;                     /* parked on cond for the head */
    uint8_t partial;                     /* the buffer ends inside a request */
    uint8_t closing;                     /* QUIT or a protocol error: close once answered */
    uint8_t kicked;                      /* being closed by the proxy: KICKED_* */
    uint8_t started;
    uint8_t hup;                         /* the peer's FIN or an error was signalled: read to
                                            EOF, a short read no longer means drained */
    uint8_t gone;                        /* it closed while a blocking command waited */
    uint8_t hup_watch;                   /* a watch for that is armed on fd */
    uint8_t left_told;                   /* its leaving was passed on to its blocked command's server */
    uint64_t unblock_at;                 /* ms: CLIENT UNBLOCK is sent again then (it may have come first) */
    uint8_t overflow;                    /* past client_output_limit: being closed */
    uint64_t reply_bytes;                /* replies done, not yet written (client_output_limit) */
    uint64_t soft_since;                 /* ms: over client_output_soft_limit since (0: not over) */
    struct co_timer *soft_timer;         /* fires client_output_soft_time after soft_since */
    /* a connection of its own (issue: transactions, blocking commands) */
    struct backend_conn *pin;
    uint32_t pin_drops;                  /* pin->drops when its server-side state began */
    uint32_t pin_holds;                  /* blocking commands in flight on the pin */
    uint8_t watching;                    /* WATCH sent on the pin */
    uint8_t multi;                       /* inside MULTI */
    uint8_t multi_abort;                 /* EXEC answers EXECABORT */
    int32_t multi_db;                    /* a SELECT queued in the transaction: its database + 1 */
    struct rbuf deferred;                /* MULTI before any key: the queued requests' bytes */
    uint32_t ndeferred;
    int db;                              /* SELECTed database; -1: the pool's redis_db */
    uint8_t pin_selected;                /* a SELECT went on the pin: restore it when done */
    uint8_t pin_tracking;                /* the pin is its CLIENT TRACKING connection to that server
                                            (a transaction's reads are tracked): 1; 2: tracking
                                            ended meanwhile, the pin is closed when let go */
    uint8_t reply_off;                   /* CLIENT REPLY OFF: replies are not written */
    uint8_t reply_skip;                  /* CLIENT REPLY SKIP: the next one is not */
    const char *last_cmd;                /* for CLIENT INFO/LIST */
    const char *last_sub;                /* its subcommand (NULL: none) */
    const char *brief_key;               /* the request being routed: its first key (NULL: none), */
    uint32_t brief_len;                  /* for the messages it makes (redis_monitor.h) */
    uint32_t brief_argc;
    /* pub/sub (redis_pubsub.c) */
    struct redis_pubsub *ps;             /* its subscriptions; NULL: none yet */
    size_t push_bytes;                   /* messages queued for it, not yet written */
    uint8_t sub_waiting;                 /* subscribed and idle: parked on cond for input or a message */
    uint8_t input_ready;                 /* its socket became readable meanwhile */
    uint8_t parse_paused;                /* parsing waits for what came before: a RESET to be
                                            carried out, or an EXEC with a SELECT to be answered
                                            (whether it ran says the database after it) */
    /* WAIT (redis_wait.c) */
    uint8_t writing;                     /* the request being routed may write */
    uint8_t route_read;                  /* the request being routed only reads (read_from) */
    uint64_t wrote;                      /* servers (bit: index; all bits: 64 and more) written to
                                            since the last WAIT */
    struct backend_conn **wait_pins;     /* a WAIT's connections */
    uint32_t nwait_pins;
    /* CLIENT TRACKING (redis_tracking.c) */
    struct redis_tracking *trk;          /* NULL: off */
    uint8_t pushes;                      /* pushes may come unasked (tracking, or the REDIRECT
                                            target of another client): idle, it waits for them too */
    uint8_t shed;                        /* idle without a coroutine: a watch on fd brings one */
    /* TLS (tls.h): NULL on a plaintext listener */
    struct ssl_st *tls;                  /* (OpenSSL's SSL) */
    uint64_t tls_deadline;               /* ms: the handshake is given up then */
    short tls_want;                      /* what the last read waits for (TLS may write to read) */
};

/* A subscriber's subscriptions (redis_pubsub.c keeps them; here for the
 * counts below, which the files that answer a client read). */
struct sub_pin {
    struct redis_server *srv;
    struct backend_conn *bc;         /* NULL: given back */
    uint32_t nchannels;              /* the client's channels and shard channels on srv */
    uint8_t dirty;                   /* something meant for the server did not go (out of
                                        memory): its subscriptions are not known */
};

struct sub_name {
    char *name;
    uint32_t len;
    uint32_t pin;                    /* a channel's connection: index in pins */
};

struct sub_names {
    struct sub_name *v;
    uint32_t n, cap;
};

struct redis_pubsub {
    struct sub_pin *pins;
    uint32_t npins, cap_pins;
    struct sub_names channels, patterns, shards;   /* shards: SSUBSCRIBE's */
};

/* Channels and patterns the client is subscribed to (0: not in subscribed mode). */
static inline uint32_t pubsub_channels(const struct redis_client *c)
{
    return c->ps ? c->ps->channels.n : 0;
}

static inline uint32_t pubsub_patterns(const struct redis_client *c)
{
    return c->ps ? c->ps->patterns.n : 0;
}

static inline uint32_t pubsub_count(const struct redis_client *c)
{
    return pubsub_channels(c) + pubsub_patterns(c);
}

/* Shard channels (SSUBSCRIBE), counted apart, as Redis counts them. */
static inline uint32_t pubsub_shards(const struct redis_client *c)
{
    return c->ps ? c->ps->shards.n : 0;
}

/* In subscribed mode: anything subscribed to. */
static inline uint32_t pubsub_subscribed(const struct redis_client *c)
{
    return pubsub_count(c) + pubsub_shards(c);
}

/* The client's number within its worker: spreads clients over a server's
 * connections (the id's low bits are the worker's). */
static inline uint64_t client_seq(const struct redis_client *c)
{
    return c->id / 1024;
}

#endif
