/* SPDX-License-Identifier: Apache-2.0 */
/* redis_route.h — redis mode: where a request goes (redis_route.c). */
#ifndef COPROXY_REDIS_ROUTE_H
#define COPROXY_REDIS_ROUTE_H

#include <stddef.h>
#include <stdint.h>

#include "redis.h"
#include "redis_cmd.h"

struct redis_client;

/* The route of a key (hash tag applied); read: the request only reads (a
 * cluster's replicas may serve it, read_from). */
struct route route_of_key(struct redis_pool *p, const char *key, size_t len, int read);

void route_send_whole(struct redis_client *c, struct msg *m, struct redis_server *s, uint16_t slot1,
                       const char *req, const struct resp_request *r);
void route_keys(struct redis_client *c, const struct redis_cmd *cmd, const char *req,
                       const struct resp_request *r);
void route_split(struct redis_client *c, const struct redis_cmd *cmd, const char *req,
                        const struct resp_request *r);
void route_one(struct redis_client *c, const char *req, const struct resp_request *r);
void route_info(struct redis_client *c, const char *req, const struct resp_request *r);
void route_scan(struct redis_client *c, const char *req, const struct resp_request *r);
void route_fanout(struct redis_client *c, const struct redis_cmd *cmd, const char *req,
                         const struct resp_request *r);

/* m's deadline: server_timeout from when its batch arrived. */
void route_set_deadline(struct redis_client *c, struct msg *m);
/* A fragment of m (its frags array sized already) for server s; NULL if out of memory. */
struct msg *route_add_frag(struct redis_client *c, struct msg *m, struct redis_server *s);
/* f's request, bytes[0..n), to f's server (f failed if it cannot go). */
void route_send_frag(struct redis_client *c, struct msg *f, const char *bytes, size_t n);
/* The client's request to every server, as fragments merged into m (m->merge set). */
void route_send_everywhere(struct redis_client *c, struct msg *m, const char *req, const struct resp_request *r);
/* m's fragments, one for every server (a cluster's masters), not sent yet:
 * 0, or -1 after m failed (out of memory, no server). */
int route_frags_everywhere(struct redis_client *c, struct msg *m);

#endif
