/* SPDX-License-Identifier: Apache-2.0 */
/* redis_tracking_cmd.h — redis mode: CLIENT TRACKING and kin (redis_tracking_cmd.c). */
#ifndef COPROXY_REDIS_TRACKING_CMD_H
#define COPROXY_REDIS_TRACKING_CMD_H

#include "redis.h"

/* CLIENT TRACKING, CACHING, GETREDIR, TRACKINGINFO. */
void redis_tracking_command(struct redis_client *c, const char *req, const struct resp_request *r);

#endif
