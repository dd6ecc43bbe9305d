/* redis_route.h — redis mode: where a request goes (redis_route.c). */
#ifndef COPROXY_REDIS_ROUTE_H
#define COPROXY_REDIS_ROUTE_H

#include <stddef.h>
#include <stdint.h>

#include "redis.h"
#include "redis_cmd.h"

struct redis_client;

int append_request(struct rbuf *b, const char *req, const struct resp_request *r);
void send_whole(struct redis_client *c, struct msg *m, struct redis_server *s, uint16_t slot1,
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

#endif
