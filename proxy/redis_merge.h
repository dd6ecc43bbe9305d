/* SPDX-License-Identifier: Apache-2.0 */
/* redis_merge.h — one reply from a split request's fragments (redis_merge.c). */
#ifndef COPROXY_REDIS_MERGE_H
#define COPROXY_REDIS_MERGE_H

#include <stddef.h>
#include <stdint.h>

#include "redis.h"

/* redis_merge.c: one reply from a split request's fragments */
void redis_merge(struct msg *m);

#endif
