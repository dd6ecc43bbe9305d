/* SPDX-License-Identifier: Apache-2.0 */
/* worker_publish.h — what a worker shows other threads (worker_publish.c). */
#ifndef COPROXY_WORKER_PUBLISH_H
#define COPROXY_WORKER_PUBLISH_H

#include <stddef.h>
#include <stdint.h>

#include "worker.h"

/* Copies the worker's counters as of its last publication (at most 100 ms
 * old): the runtime's, and per pool and server (arrays sized by d->cfg,
 * read under cfg_lock; a server list the worker has yet to take reads as
 * zeros where it differs). */
void worker_snapshot(struct worker *w, struct co_counters *co, struct pool_stats *pools,
                     struct server_stats **servers);
/* Appends worker w's figures for cluster pool `pool` as a JSON object ("null" if none yet). */
int worker_cluster_json(struct worker *w, int pool, struct rbuf *out);

/* Called by the worker's tick: copies its counters where the admin thread
 * reads them (a lock taken ten times a second, never on the request path). */
void worker_publish_counters(struct worker *w, uint64_t now);
/* Tells main which configuration generations the worker may point into:
 * its pools' lists and what its pins hold (the lists published for the
 * admin thread among them).  Called as the worker takes a reload (under
 * cfg_lock, so that main never sees it holding the new lists without
 * saying so), and by its tick when its pins changed. */
void worker_publish_held(struct worker *w);
/* Called by main (reload_collect): may worker w point into generation gen? */
int worker_holds(struct worker *w, unsigned gen);
/* Called by the worker's tick when another worker asked (worker_client_lists):
 * writes this worker's CLIENT LIST lines, per pool. */
void worker_publish_clients(struct worker *w);
/* Called by the worker's tick when CLIENT KILL named its clients (worker_kill_client). */
void worker_publish_kills(struct worker *w);

/* The arrays the counters are published in, sized as the worker starts
 * (publishing starts only once all are in place), and freed as it ends. */
void worker_publish_init(struct worker *w);
void worker_publish_fini(struct worker *w);

#endif
