/* SPDX-License-Identifier: Apache-2.0 */
/* redis_msg.h — messages: a request and its reply in flight (redis_msg.c). */
#ifndef COPROXY_REDIS_MSG_H
#define COPROXY_REDIS_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "redis.h"

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

/* A new message at the tail of the client's queue (NULL: out of memory, the client is closed). */
struct msg *msg_queue(struct redis_client *c);
/* A client that stops reading what is pushed to it is closed once this
 * much waits for it (Redis's client-output-buffer-limit for pubsub
 * clients, hard limit). */
#define MSG_PUSH_LIMIT ((size_t)32 << 20)
/* A message pushed to c unasked (a pub/sub message, an invalidation):
 * head[0..nhead) then body[0..nbody), written before the first reply c is
 * still owed on bc (NULL: after what is queued), as one connection orders them. */
void msg_push(struct worker *w, struct redis_client *c, const struct backend_conn *bc, const char *head,
              size_t nhead, const char *body, size_t nbody);
/* How msg_wake_client gives an idle client without a coroutine one again. */
void msg_set_reviver(void (*revive)(struct redis_client *c));
/* Wakes the client if it waits for its head or, subscribed, for anything. */
void msg_wake_client(struct redis_client *c);

#endif
