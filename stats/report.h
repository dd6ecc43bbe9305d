/* SPDX-License-Identifier: Apache-2.0 */
/* report.h — the daemon's counters gathered from every worker, as JSON, INFO text or Prometheus metrics. */
#ifndef COPROXY_REPORT_H
#define COPROXY_REPORT_H

#include <stdint.h>

#include "costack.h"
#include "daemon.h"
#include "kstats.h"
#include "redis.h"
#include "counters.h"

/* One copy of every worker's published counters. */
struct report {
    const struct daemon *d;
    int nworkers, npools;
    uint64_t uptime_ms;
    struct co_counters *co;              /* [nworkers] */
    struct pool_stats *pools;            /* [nworkers * npools] */
    struct server_stats **servers;       /* [nworkers * npools] -> [nservers] */
    const char *kernel_off;              /* NULL: the kernel's figures below were read */
    struct kstats_figures *kclients;     /* [npools]: the pool's client sockets */
    struct kstats_figures **kservers;    /* [npools] -> [nservers]: coproxy's sockets to it */
    struct kstats_figures kunlisted;     /* to servers the configuration does not list */
};

/* Gathers the counters (each worker's as of its last publication, at most
 * 100 ms old).  0, or -ENOMEM. */
int report_gather(struct report *r, struct daemon *d, uint64_t started_ms);
void report_free(struct report *r);

/* Appends the report to out: one JSON document (STATS), Redis-style
 * "key:value" sections (INFO; section NULL for all), or the Prometheus
 * text format (METRICS).  0, or -ENOMEM. */
int report_json(const struct report *r, struct rbuf *out);
int report_info(const struct report *r, const char *section, struct rbuf *out);
int report_metrics(const struct report *r, struct rbuf *out);
/* The JSON array behind a table ("pools", "backends", "threads" or "kernel"): the
 * STATS document's own parts (backends flattened, each naming its pool). */
int report_json_table(const struct report *r, const char *table, struct rbuf *o);
/* Human-readable tables, one line per pool, per server, or per worker. */
int report_pools(const struct report *r, struct rbuf *out);
int report_backends(const struct report *r, struct rbuf *out);
int report_threads(const struct report *r, struct rbuf *out);
/* The kernel's TCP figures, one line per pool's clients and per server (or why there are none). */
int report_kernel(const struct report *r, struct rbuf *out);
/* Pool p over every worker: its requests, open clients and latency quantiles (us; q: 0.5, 0.99, 0.999). */
void report_pool_summary(const struct report *r, int p, uint64_t *requests, uint64_t *clients, uint64_t q_us[3]);
/* Server i of pool p over every worker: requests sent and its latency quantiles (as above). */
void report_server_summary(const struct report *r, int p, int i, uint64_t *requests, uint64_t q_us[3]);

#endif
