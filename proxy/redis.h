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

struct worker;
struct pool_rt;
struct redis_client;
struct redis_server;

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
                  MERGE_KEEP };   /* (P)(UN)SUBSCRIBE: the reply made here, once every server acknowledged */

struct msg {
    struct msg *cnext;               /* next in the client's queue */
    struct msg *bnext;               /* next in the backend connection's queue */
    struct redis_client *client;     /* a request's client; NULL once it left */
    /* the client's: msg_finish calls it when the reply is final (it counts
     * the reply and wakes the client), so messages call no client code by name */
    void (*finished)(struct redis_client *c, struct msg *m);
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
    uint8_t info_want;               /* INFO: 1 server section, 2 keyspace */
    uint8_t refs;
    uint8_t done;
    uint8_t merge;                   /* enum merge_kind */
    uint8_t internal;                /* AUTH/SELECT sent on connect: checked, not forwarded */
    uint8_t blocking;                /* a blocking command: watch the client while it waits */
    uint8_t unpin;                   /* its reply written, the client's blocking pin may go */
    uint8_t silent;                  /* CLIENT REPLY OFF/SKIP: not written to the client */
    uint8_t quit;                    /* close the client once this reply is written */
    uint8_t push;                    /* a pub/sub message pushed to a subscriber */
    uint8_t wait;                    /* WAIT: 1 until the client's earlier replies are in, 2 sent */
    uint32_t wait_ms;                /* WAIT: its timeout (0: none) */
    uint64_t wait_servers;           /* WAIT: the servers written to before it (bit: index) */
    uint8_t reset;                   /* RESET: carried out when it reaches the queue's head */
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
};

/* Per worker, per server. */
struct redis_server {
    struct redis_pool *pool;
    const struct server_conf *conf;
    int index;
    struct backend_conn *conns;      /* server_connections of them */
    int failures;                    /* in a row */
    uint64_t ejected_until;          /* ms; 0: in the distribution */
    int retired;                     /* a reload removed it: its connections close once idle */
    struct backend_conn *pinned_free;   /* pinned connections no client holds */
    struct backend_conn **db_conns;  /* [databases]: shared connections for a SELECTed
                                        database, made on first use */
    int npinned;                     /* pinned connections made (held or free) */
    struct server_stats *stats;      /* = &own: the worker's counters for this server */
    struct server_stats own;
    uint8_t cluster_replica;         /* cluster: a replica in the last slot map */
    uint8_t cluster_absent;          /* cluster: not in the last slot map (gone, or failed) */
    struct server_conf *cluster_conf;   /* cluster: a node found in the slot map, its own
                                           settings (the config names only the seeds) */
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
};

enum backend_state { BC_DOWN, BC_CONNECTING, BC_UP };
enum probe { PROBE_NONE, PROBE_ID, PROBE_UNBLOCK };   /* CLIENT ID; CLIENT UNBLOCK allowed? */

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
    char why[96];                    /* the last failure, for error replies */
};

/* redis_msg.c: messages come from a per-worker free list */
struct msg *msg_get(struct worker *w);
void msg_unref(struct worker *w, struct msg *m);
/* m's reply is final: marks it done, merges a parent whose last fragment
 * this is, and wakes the client waiting for it. */
void msg_finish(struct worker *w, struct msg *m);
/* Finishes m with the error "-<text>\r\n" (text: "ERR ..."), if not done yet. */
void msg_fail(struct worker *w, struct msg *m, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The client gives m up (it left, or m timed out): its fragments are orphaned. */
void msg_abandon(struct worker *w, struct msg *m);
void msg_cache_free(struct worker *w);

/* redis_merge.c: one reply from a split request's fragments */
void redis_merge(struct msg *m);

/* redis_pool.c */
struct redis_pool *redis_pool_new(struct worker *w, struct pool_rt *rt);
/* After a reload replaced the pool's settings: new weights, hash,
 * distribution and limits take effect, and a new server list -- servers
 * kept (same name and address) keep their connections and counters, new
 * ones connect on first use, removed ones stop getting requests and close
 * their connections once the requests they hold are answered. */
void redis_pool_reconfigure(struct redis_pool *p);
/* Where a key goes: its server (NULL: none is live) and, in a cluster, the
 * key's slot + 1 (0 elsewhere), which a request keeps to be sent again
 * after a redirect. */
struct route {
    struct redis_server *server;
    uint16_t slot1;
};
/* The route of a key (hash tag applied); read: the request only reads (a
 * cluster's replicas may serve it, read_from). */
struct route redis_pool_route(struct redis_pool *p, const char *key, size_t len, int read);
/* A failure talking to s (connect, connection lost, timeout): counts
 * towards ejection when auto_eject_hosts is on. */
void redis_server_failed(struct redis_server *s);
/* Idle: the backend connections' emptied send buffers go back. */
void redis_pool_trim(struct redis_pool *p);

/* backend.c */
int backend_start(struct worker *w, struct backend_conn *bc, struct redis_server *s);
/*
 * The connection of s to send m on, or NULL (m failed with the reason) if
 * s cannot take requests now.  A client's requests to a server all take
 * the same connection (affinity: its id), so they run in the order sent.  The caller appends m's request bytes to the
 * returned connection's `out`, then calls backend_enqueue.
 */
struct backend_conn *backend_pick(struct worker *w, struct redis_server *s, struct msg *m, uint64_t affinity);
void backend_enqueue(struct backend_conn *bc, struct msg *m);
/* A connection of s for one client alone (NULL when
 * server_pinned_connections are all held, or out of memory). */
struct backend_conn *backend_pin(struct worker *w, struct redis_server *s);
/* The client is done with it.  dirty: the server may still hold state for
 * it (a transaction, a WATCH, a blocked command): the connection is closed
 * (quietly) and reconnects on its next use. */
void backend_unpin(struct worker *w, struct backend_conn *bc, int dirty);
/* As backend_pick, for a client that SELECTed database db (not redis_db):
 * a connection of s that has selected it. */
struct backend_conn *backend_pick_db(struct worker *w, struct redis_server *s, struct msg *m, int db);
/* As backend_pick, for the client's pinned connection. */
struct backend_conn *backend_pick_pinned(struct worker *w, struct backend_conn *bc, struct msg *m);
/* A connection of a server a reload removed: closed now if it holds no
 * request, else by its reader after the last reply. */
void backend_retire(struct worker *w, struct backend_conn *bc);
/* m, queued on its connection, got no reply within server_timeout; the
 * caller fails m alone (its reply is skipped when it comes).  While the
 * server answers on that connection, that is all.  A server silent there
 * for server_timeout counts a failure (once per silence), and once no
 * request on the connection can still be answered in time it is truly
 * unresponsive: the connection is dropped and reopened. */
void backend_timed_out(struct worker *w, struct msg *m);
/* The client of bc, a pinned connection, left: a FIN goes to the server
 * after the bytes queued, so that it frees its client as Redis frees a
 * client that closed (a blocked command ends, nothing more is popped for
 * it).  The server answers what it ran before, then closes: requests it
 * did not answer end `unanswered`.  Not a server failure. */
void backend_half_close(struct backend_conn *bc);
/* The client of pin, a pinned connection with a blocking command in
 * flight, left: CLIENT UNBLOCK goes to the server on a shared connection,
 * so the command ends now (a nil reply) with nothing taken, or its reply
 * -- taken just before -- still arrives on pin, which stays open.  0 if
 * sent; -1 if it cannot be (the id unknown, no shared connection up). */
int backend_unblock(struct worker *w, struct backend_conn *pin);
/* The client of pin gave up on what it holds (a blocking command past its
 * deadline): the connection stays open until its replies are in (an
 * orphan's is given back), then closes quietly and is free again. */
void backend_park(struct worker *w, struct backend_conn *pin);

/* redis_orphan.c: m's reply p[0..n) came for a blocking command whose
 * client left or gave up: the elements it took are pushed back. */
void orphan_reply(struct worker *w, struct msg *m, const char *p, size_t n);

/* redis_pool.c: a node the slot map names, added to the pool's servers */
struct redis_server *redis_pool_add_server(struct redis_pool *p, struct server_conf *sc);

/* cluster.c: Redis Cluster pools */
struct cluster *cluster_new(void);
void cluster_free(struct cluster *cl);
/* The slot of a key, as Redis Cluster computes it ({hash tag} included). */
uint16_t cluster_slot(const char *key, size_t len);
/* The node for a slot: its master, or a replica for a read when read_from
 * says so; before the map is known, a seed (a redirect corrects it). */
struct redis_server *cluster_route(struct redis_pool *p, uint16_t slot, int read);
/* m's reply p[0..n) is an error: a redirect (MOVED, ASK) or a retry
 * (TRYAGAIN, CLUSTERDOWN) takes m on (0: sent again or waiting), else -1. */
int cluster_redirect(struct worker *w, struct msg *m, const char *p, size_t n);
/* m's connection was lost before m was sent: m waits for the map to say
 * where to go, until its deadline (0), or -1: fail it.  (One that went out
 * may have run: it is never sent twice.) */
int cluster_lost(struct msg *m);
/* The reply to the pool's own CLUSTER SLOTS. */
void cluster_map_reply(struct redis_pool *p, const char *reply, size_t n);
/* The masters of the map into out[] (room for p->nservers), ordered by
 * address (the same order in every worker); their number. */
int cluster_masters(struct redis_pool *p, struct redis_server **out);
/* The pool's CLUSTER SLOTS got no answer (its connection failed). */
void cluster_map_failed(struct redis_pool *p);
/* Each loop turn: retries due, a refresh due. */
void cluster_tick(struct redis_pool *p, uint64_t now);
/* The worker's figures for the admin STATS document, as a JSON object. */
int cluster_stats_json(const struct redis_pool *p, struct rbuf *out);

/* redis_pubsub.c: what a subscriber's connection hands back */
/* A message (p[0..n), as the server sent it) for bc's subscriber. */
void redis_pubsub_message(struct worker *w, struct backend_conn *bc, const char *p, size_t n);
/* bc has answered everything sent on it: the subscriber may give it back. */
void redis_pubsub_idle(struct backend_conn *bc);
/* bc was lost: its subscriber's subscriptions there are gone. */
void redis_pubsub_lost(struct backend_conn *bc);

/* redis_client.c: one client connection, start to end (a coroutine's routine) */
void *redis_client_main(void *arg);
struct redis_client *redis_client_new(struct worker *w, struct pool_rt *p, int fd);
/* Appends a CLIENT LIST line for each of the pool's clients. 0, or -1 (out of memory). */
int redis_pool_client_list(struct redis_pool *p, struct rbuf *out);
/* Shutdown: wakes every idle client of the pool so it ends. */
void redis_pool_stop_clients(struct redis_pool *p);

#endif
