/* SPDX-License-Identifier: Apache-2.0 */
/* redis_admin.h — the servers' administration commands through the proxy (redis_admin.c). */
#ifndef COPROXY_REDIS_ADMIN_H
#define COPROXY_REDIS_ADMIN_H

#include "redis.h"
#include "redis_cmd.h"

/* CONFIG, SLOWLOG, LATENCY, MEMORY, DEBUG, ACL: asked of every server and
 * merged, sent to the server of the key they name, or answered here. */
void admin_command(struct redis_client *c, const struct redis_cmd *cmd, const char *req,
                   const struct resp_request *r);

#endif
