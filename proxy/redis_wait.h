/* SPDX-License-Identifier: Apache-2.0 */
/* redis_wait.h — WAIT (redis_wait.c). */
#ifndef COPROXY_REDIS_WAIT_H
#define COPROXY_REDIS_WAIT_H

#include <stddef.h>
#include <stdint.h>

#include "redis.h"

/* redis_wait.c: WAIT */
void wait_command(struct redis_client *c, const char *req, const struct resp_request *r);
/* m, a WAIT, is the client's head: every earlier request is answered, it goes out. */
void wait_dispatch(struct redis_client *c, struct msg *m);
/* The WAIT is answered (or the client left: dirty) and its connections go back. */
void wait_release(struct redis_client *c, int dirty);

#endif
