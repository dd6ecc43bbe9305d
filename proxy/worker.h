/* worker.h — one worker thread per core: its loop, listeners, connections and buffers. */
#ifndef COPROXY_WORKER_H
#define COPROXY_WORKER_H

#include <stdint.h>

#include "co_routine.h"
#include "costack.h"
#include "daemon.h"
#include "rbuf.h"
#include "resp.h"
#include "counters.h"

/* Relay buffers: big enough that bulk transfers take few system calls. */
/* How long accepting pauses when file descriptors run out. */
#define FD_PRESSURE_PAUSE_MS 100
#define WORKER_BUF_SIZE (64 * 1024)
#define WORKER_BUF_CACHE 64
/* Pipes for splice(2): the relay moves socket data through one without
 * copying it into user space.  A pipe is asked to hold 1 MiB, or what
 * fs.pipe-max-size allows if less: a splice moves at most one slot per page
 * or skb fragment, 16 slots by default, so the bigger pipe takes a quarter
 * of the calls (bench/README.md: a third less CPU per GB, and faster).
 * Pipes count against the user's pipe-page budget (fs.pipe-user-pages-soft,
 * 64 MiB, unless the daemon has CAP_SYS_RESOURCE or CAP_SYS_ADMIN): few are
 * kept for reuse, none once the worker is idle, and past the budget the
 * relay copies. */
#define WORKER_PIPE_SIZE (1024 * 1024)
#define WORKER_PIPE_MIN (64 * 1024)
#define WORKER_PIPE_CACHE 4
#define WORKER_PIPE_PAUSE_MS 1000
/* Redis clients read into smaller buffers: a request rarely needs more, and a
 * bigger one grows its buffer. */
/* The redis backend connections' coroutines (a writer each, a reader while
 * connected) share these run stacks, handed out in turn: deeper than an
 * idle client's, so not on the clients' shared stacks; enough that a
 * worker's first 32 connections switch without a copy; and a pool of
 * 50,000 servers maps no more than 16 servers do. */
#define WORKER_BACKEND_STACKS 64
#define WORKER_BACKEND_STACK (64 * 1024)
#define WORKER_IBUF_SIZE (16 * 1024)
#define WORKER_IBUF_CACHE 16
#define WORKER_ARGV_CACHE 16

/* Per pool, in one worker: backend choice state and counters. */
struct pool_rt {
    struct pool_conf *conf;          /* the worker's own copy (reload replaces it) */
    struct pool_shared *shared;
    int listen_fd;
    unsigned rr;                     /* round-robin position */
    int *active;                     /* leastconn: open connections per server */
    unsigned server_gen;             /* +1 when a reload changes the server list (tcp) */
    struct pool_stats stats;         /* this worker's share of the pool's counters */
    struct server_stats *server_stats;   /* per server, in the config's order */
    struct redis_pool *redis;        /* redis mode: servers, routing, clients */
    struct tcp_health *health;       /* tcp mode: its servers' passive health (tcp.c's) */
};

struct worker {
    int id;
    pthread_t thread;
    struct daemon *d;
    struct stShareStack_t *share;
    struct stShareStack_t *backend_share;   /* run stacks of the redis backend connections'
                                               coroutines: memory mappings do not grow with
                                               workers x servers */
    struct pool_rt *pools;
    struct pool_conf *confs;         /* [npools]: this worker's copy of the pools' settings */
    unsigned cfg_gen;                /* atomic: the configuration generation applied */
    int shutdown_timeout;
    int conns;                       /* open client connections */
    uint64_t stop_deadline;          /* ms, once stopping */
    int stopping;
    char *bufs[WORKER_BUF_CACHE];    /* free relay buffers */
    int nbufs;
    int pipes[WORKER_PIPE_CACHE][2]; /* free, empty pipes */
    int npipes;
    int pipe_size;                   /* what a pipe is grown to */
    uint64_t pipes_refused_until;    /* ms: no pipe to be had, no splice until then */
    uint64_t last_pipe_log;          /* ms: "pipe budget spent" at most once a minute */
    uint64_t last_emfile_log;        /* ms: "out of fds" at most once a second */
    uint64_t fd_pressure_until;      /* ms: accepting pauses until then */
    struct stCoRoutine_t **dead;     /* finished connection coroutines, released each turn */
    int ndead, dead_cap;
    /* redis mode */
    char *ibufs[WORKER_IBUF_CACHE];  /* free client input buffers (WORKER_IBUF_SIZE) */
    int nibufs;
    struct resp_arg *argvs[WORKER_ARGV_CACHE];   /* free argument arrays */
    uint32_t argv_caps[WORKER_ARGV_CACHE];
    int nargvs;
    struct msg *free_msgs;
    int nfree_msgs;
    uint64_t client_seq;
    /* after a burst, memory goes back once the worker is idle */
    uint64_t activity;               /* bumped per batch of requests */
    uint64_t activity_seen, idle_since;
    uint8_t trimmed;
    /* the counters as of the last publication, for the admin thread */
    pthread_mutex_t snap_lock;
    uint64_t snap_at;                /* ms of the last publication */
    struct co_counters snap_co;
    struct pool_stats *snap_pools;       /* [npools] */
    struct server_stats **snap_servers;  /* [npools][snap_nservers[i]] */
    int *snap_nservers;
    const struct server_conf **snap_conf;   /* [npools]: the server list published */
    /* CLIENT LIST asked on another worker: it bumps list_req, this worker
     * writes its redis clients' lines (per pool) at its next turn */
    unsigned list_req, list_done;    /* under snap_lock (list_req read atomically too) */
    struct rbuf *list_out;           /* [npools], under snap_lock */
    struct rbuf *snap_cluster;       /* [npools]: a cluster pool's map figures (JSON), under snap_lock */
};

/* Copies the worker's counters as of its last publication (at most 100 ms
 * old): the runtime's, and per pool and server (arrays sized by d->cfg,
 * read under cfg_lock; a server list the worker has yet to take reads as
 * zeros where it differs). */
void worker_snapshot(struct worker *w, struct co_counters *co, struct pool_stats *pools,
                     struct server_stats **servers);

/* Appends the CLIENT LIST lines of pool `pool`'s clients on every worker
 * but `self` (asked of them; one that does not answer within 2 s is left
 * out).  Parks the calling coroutine meanwhile.  0, or -1 (out of memory). */
int worker_client_lists(struct worker *self, int pool, struct rbuf *out);

/* Appends worker w's figures for cluster pool `pool` as a JSON object ("null" if none yet). */
int worker_cluster_json(struct worker *w, int pool, struct rbuf *out);

/* A redis client's input buffer, and its argument array, from the worker's caches. */
char *worker_ibuf_get(struct worker *w, size_t *cap);
void worker_ibuf_put(struct worker *w, char *buf, size_t cap);
void worker_args_get(struct worker *w, struct resp_arg **args, uint32_t *cap);
void worker_args_put(struct worker *w, struct resp_arg *args, uint32_t cap);

/* Out of file descriptors (what: where it showed): logs at most once a
 * second and makes the worker's accept loops pause a little. */
void worker_out_of_fds(struct worker *w, const char *pool, const char *what, int err);

/* Called by a connection coroutine as it ends: the worker releases it between turns. */
void worker_retire(struct worker *w, struct stCoRoutine_t *co);

/* A relay buffer from the worker's cache (NULL if out of memory); give it back soon. */
char *worker_buf_get(struct worker *w);
/* The size the relay's pipes grow to (fs.pipe-max-size if under WORKER_PIPE_SIZE). */
int worker_pipe_size_allowed(void);
/* Closes the worker's kept pipes. */
void worker_pipes_close(struct worker *w);
void worker_buf_put(struct worker *w, char *buf);
/* An empty pipe from the worker's cache (or a new one); 0 or -1.  Give back
 * only empty pipes (pending data: close them instead). */
int worker_pipe_get(struct worker *w, int p[2]);
void worker_pipe_put(struct worker *w, int p[2], int empty);
uint64_t worker_now_ms(void);
uint64_t worker_now_us(void);

/* The index in p's current server list of server sc (same name and
 * address), or -1: for connections made before a reload. */
int worker_server_index(const struct pool_rt *p, const struct server_conf *sc);

/* tcp.c: one client connection, start to end (a coroutine's routine). */
void *tcp_conn_main(void *arg);
/* A client's coroutine, its state in the same allocation (one per
 * connection): 0, or -1 when out of memory. */
int tcp_conn_start(struct worker *w, struct pool_rt *p, int fd, const struct sockaddr *peer, unsigned peer_len,
                   const struct stCoRoutineAttr_t *attr, struct stCoRoutine_t **co);

#endif
