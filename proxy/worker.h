/* SPDX-License-Identifier: Apache-2.0 */
/* worker.h — one worker thread per core: its loop, listeners, connections and buffers. */
#ifndef COPROXY_WORKER_H
#define COPROXY_WORKER_H

#include <stdint.h>

#include "co_routine.h"
#include "conf_pins.h"
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
    unsigned conf_gen;               /* the configuration generation conf's server list
                                        belongs to (main frees it once no worker is there) */
    unsigned snap_gen;               /* that of the list published for the admin thread
                                        (snap_conf): a pin while it is published */
    struct pool_shared *shared;
    int listen_fds[POOL_MAX_LISTEN];   /* per listens[] entry, -1 none (-2 not this worker's) */
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
    struct conf_pins pins;           /* what outlives the view it was made under holds
                                        its generation here (conf_pins.h) */
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
    /* the configuration generations it may point into (its pools' and its
     * pins'), for main to free the others (reload_collect), under snap_lock */
    unsigned *held;
    int nheld, cap_held;
    uint8_t held_all;                /* out of memory: take it as holding every one */
    /* CLIENT LIST asked on another worker: it bumps list_req, this worker
     * writes its redis clients' lines (per pool) at its next turn */
    unsigned list_req, list_done;    /* under snap_lock (list_req read atomically too) */
    struct rbuf *list_out;           /* [npools], under snap_lock */
    /* CLIENT KILL on another worker: the ids of this worker's clients to
     * close, under snap_lock (nkill read atomically too), at its next turn */
    uint64_t *kill_ids;
    uint32_t nkill, cap_kill;
    /* invalidations for this worker's clients (REDIRECT targets) from other
     * workers: records of (client id, length, bytes), under snap_lock
     * (ninval read atomically too), delivered at its next turn */
    struct rbuf inval;
    uint32_t ninval;
    struct rbuf *snap_cluster;       /* [npools]: a cluster pool's map figures (JSON), under snap_lock */
};

/* worker.c */
int worker_start_all(struct daemon *d);
void worker_join_all(struct daemon *d);
/* Have all workers taken configuration generation gen? */
int worker_all_applied(struct daemon *d, unsigned gen);

#endif
