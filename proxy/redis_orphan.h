/* SPDX-License-Identifier: Apache-2.0 */
/* redis_orphan.h — a blocking command's late reply given back (redis_orphan.c). */
#ifndef COPROXY_REDIS_ORPHAN_H
#define COPROXY_REDIS_ORPHAN_H

#include <stddef.h>
#include <stdint.h>

#include "redis.h"

/* redis_orphan.c: m's reply p[0..n) came for a blocking command whose
 * client left or gave up: the elements it took are pushed back. */
void orphan_reply(struct worker *w, struct msg *m, const char *p, size_t n);

#endif
