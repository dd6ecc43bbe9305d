/* SPDX-License-Identifier: Apache-2.0 */
/* auth_guard.h — failed AUTHs counted per client address, across workers: what a brute-force lockout needs. */
#ifndef COPROXY_AUTH_GUARD_H
#define COPROXY_AUTH_GUARD_H

#include <stdint.h>

/* An address is forgotten this long after its last failure. */
#define AUTH_GUARD_FORGET_MS 60000

/* The failures from host (an address's text, no port) in the last
 * AUTH_GUARD_FORGET_MS before now_ms, counting one more first if fail. */
unsigned auth_guard_failures(const char *host, uint64_t now_ms, int fail);

#endif
