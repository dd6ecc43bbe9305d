/* SPDX-License-Identifier: Apache-2.0 */
/* redis_pinned.h — redis mode: the client's own connection (redis_pinned.c). */
#ifndef COPROXY_REDIS_PINNED_H
#define COPROXY_REDIS_PINNED_H

#include <stddef.h>
#include <stdint.h>

#include "redis.h"
#include "redis_cmd.h"

struct redis_client;

int pinned_lost(const struct redis_client *c);
void pinned_release(struct redis_client *c, int dirty);
struct msg *pinned_send(struct redis_client *c, const char *req, const struct resp_request *r);
void pinned_abort_multi(struct redis_client *c);
void pinned_queue_in_multi(struct redis_client *c, const struct redis_cmd *cmd, const char *req,
                           const struct resp_request *r);
void pinned_txn_command(struct redis_client *c, const struct redis_cmd *cmd, const char *req,
                        const struct resp_request *r);
void pinned_route_blocking(struct redis_client *c, const struct redis_cmd *cmd, const char *req,
                           const struct resp_request *r);
void pinned_route_xread(struct redis_client *c, const struct redis_cmd *cmd, const char *req,
                        const struct resp_request *r);

/* m, an EXEC with a SELECT queued before it, is answered: the client's
 * database is the SELECTed one if the transaction ran; parsing goes on. */
void pinned_exec_selected(struct redis_client *c, struct msg *m);
/* m is a blocking command waiting on the client's own connection (not a WAIT). */
int pinned_blocked_on(const struct redis_client *c, const struct msg *m);
/* The client's head is overdue: a blocking command on the client's own
 * connection is given up (1: done), else 0. */
int pinned_time_out(struct redis_client *c);
/* The client left while a blocking command waits: its server is told (see redis_pinned.c). */
void pinned_client_left(struct redis_client *c);
/* CLIENT UNBLOCK for the head, again every UNBLOCK_AGAIN_MS while it may have come first. */
void pinned_unblock_head(struct redis_client *c, uint64_t now);

#endif
