/* SPDX-License-Identifier: Apache-2.0 */
/* cluster.h — Redis Cluster pools: the slot map and redirects (cluster.c). */
#ifndef COPROXY_CLUSTER_H
#define COPROXY_CLUSTER_H

#include <stddef.h>
#include <stdint.h>

#include "redis.h"

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

#endif
