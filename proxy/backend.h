/* SPDX-License-Identifier: Apache-2.0 */
/* backend.h — a connection to one redis server: the transport (backend.c). */
#ifndef COPROXY_BACKEND_H
#define COPROXY_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "redis.h"

/* backend.c */
int backend_start(struct worker *w, struct backend_conn *bc, struct redis_server *s);
/*
 * The connection of s to send m on, or NULL (m failed with the reason) if
 * s cannot take requests now.  A client's requests to a server all take
 * the same connection (affinity: its id), so they run in the order sent.  The caller sends m
 * on it with backend_send.
 */
struct backend_conn *backend_pick(struct worker *w, struct redis_server *s, struct msg *m, uint64_t affinity);
/* Writes a request's bytes at the end of out: 0, or -1 (out of memory). */
typedef int (*backend_write_fn)(struct rbuf *out, const void *arg);
/* Sends m on bc (from backend_pick and kin): write(out, arg) appends m's
 * request to the connection's output, and m is queued for its reply.  If
 * the append fails, what it wrote is taken back (a half request would
 * shift the replies that follow), m is failed ("out of memory") and -1
 * returned. */
int backend_send(struct backend_conn *bc, struct msg *m, backend_write_fn write, const void *arg);
/* backend_send of bytes[0..n) (n may be 0: m's request went with the message before it). */
int backend_send_bytes(struct backend_conn *bc, struct msg *m, const char *bytes, size_t n);
/* backend_send of a client's request as it came (an inline command as a multibulk). */
int backend_send_request(struct backend_conn *bc, struct msg *m, const char *req, const struct resp_request *r);
/* Idle: an emptied send buffer goes back. */
void backend_trim(struct backend_conn *bc);
/* A connection of s for one client alone, speaking RESP3 if resp3 (NULL when
 * server_pinned_connections are all held, or out of memory). */
struct backend_conn *backend_pin(struct worker *w, struct redis_server *s, int resp3);
/* The client is done with it.  dirty: the server may still hold state for
 * it (a transaction, a WATCH, a blocked command): the connection is closed
 * (quietly) and reconnects on its next use. */
void backend_unpin(struct worker *w, struct backend_conn *bc, int dirty);
/* As backend_pick, for a client that SELECTed database db (not redis_db):
 * a connection of s that has selected it. */
struct backend_conn *backend_pick_db(struct worker *w, struct redis_server *s, struct msg *m, int db);
/* As backend_pick, on s's spare connection: for what must not wait behind
 * the shared connections' queues (SCRIPT KILL, while a script runs on the
 * server and the request that started it holds its connection). */
struct backend_conn *backend_pick_spare(struct worker *w, struct redis_server *s, struct msg *m);
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

#endif
