/* SPDX-License-Identifier: Apache-2.0 */
/* redis_tracking.h — redis mode: a tracking client's own connections (redis_tracking.c). */
#ifndef COPROXY_REDIS_TRACKING_H
#define COPROXY_REDIS_TRACKING_H

#include <stddef.h>
#include <stdint.h>

#include "rbuf.h"
#include "redis.h"

struct worker;

#define TRACKING_MAX_ONS 64           /* CLIENT TRACKING ON requests kept (replayed on a new connection) */

struct tracking_conn {
    struct redis_server *srv;
    struct backend_conn *bc;          /* the client's requests to srv, tracked there */
    struct backend_conn *sink;        /* RESP2 with REDIRECT: where srv sends the invalidations */
    uint32_t drops;                   /* bc->drops when tracking was last turned on there */
    int64_t sink_id;                  /* the sink's id when it was */
    uint8_t used;                     /* the request being routed went here */
};

/* One CLIENT TRACKING ON's arguments after ON, REDIRECT taken out, as bulk strings. */
struct tracking_on {
    char *args;
    size_t len;
    uint32_t argc;
};

struct redis_tracking {
    struct tracking_on ons[TRACKING_MAX_ONS];   /* since tracking was turned on, in order */
    uint32_t nons;
    uint64_t redirect;                /* the client (coproxy id) its invalidations go to; 0: itself */
    struct tracking_conn *v;
    uint32_t n, cap;
    uint8_t caching;                  /* 2: CLIENT CACHING was just routed; 1: the request after it is */
};

/* The connection a tracking client's request m to s goes on: its own to s
 * (opened, and tracking turned on there, on first use).  NULL after m
 * failed with the reason. */
struct backend_conn *tracking_pick(struct redis_client *c, struct redis_server *s, struct msg *m);
/* As tracking_pick, for a request a Redis Cluster redirected (called from
 * a connection's reader, it never waits): NULL, m untouched, when the
 * client's connection to s cannot be had at once. */
struct backend_conn *tracking_pick_now(struct redis_client *c, struct redis_server *s, struct msg *m);
/* The client's tracking connection to s, for its transaction or WATCH
 * (NULL with *why if it cannot have one). */
struct backend_conn *tracking_conn(struct redis_client *c, struct redis_server *s, const char **why);
/* bc, the client's tracking connection, is closed (its transaction's
 * state on the server must go): forgotten here, the client told that
 * everything it read is invalid. */
void tracking_let_go(struct redis_client *c, struct backend_conn *bc);
/* CLIENT LIST's redir=: the REDIRECT target's id, 0 without one, -1 when not tracking. */
long long tracking_redirect(const struct redis_client *c);
/* The client SELECTed another database: its connections do too. */
void tracking_select(struct redis_client *c);
/* After each request of a tracking client: CLIENT CACHING applies to the next one only. */
void tracking_after_request(struct redis_client *c);
/* Tracking ends (OFF, RESET, the client leaves): its connections close
 * once their replies are in. */
void tracking_release(struct redis_client *c);

/* What a tracking client's connection hands back: a push on bc; bc was lost. */
void tracking_push(struct worker *w, struct backend_conn *bc, const char *p, size_t n);
void tracking_lost(struct backend_conn *bc);
/* An invalidation (p[0..n), what follows "invalidate") for client id of
 * worker w, sent from another worker. */
void tracking_deliver(struct worker *w, uint64_t id, const char *p, size_t n);

/* For CLIENT TRACKING ON (redis_tracking_cmd.c): the client's entry for s
 * (NULL: out of memory); its sink ready (RESP2 with REDIRECT; the
 * coroutine waits), 0 or -1 with *why; the server id its connection
 * redirects to (0: none); one ON's request; a client of this worker. */
struct tracking_conn *tracking_entry(struct redis_tracking *trk, struct redis_server *s);
int tracking_sink_ready(struct redis_client *c, struct tracking_conn *e, const char **why);
int64_t tracking_sink_id(const struct redis_client *c, const struct tracking_conn *e);
int tracking_write_on(struct rbuf *out, const struct tracking_on *on, int64_t sink_id);
struct redis_client *tracking_find_client(struct worker *w, uint64_t id);

#endif
