/* SPDX-License-Identifier: Apache-2.0 */
/* addr_owner.h — whether another process already listens on an address, and which (addr_owner.c). */
#ifndef COPROXY_ADDR_OWNER_H
#define COPROXY_ADDR_OWNER_H

#include <stddef.h>

#include "addr.h"

/*
 * 1 if a socket already listens on a (TCP: a bind there fails, TIME_WAIT
 * aside; a Unix path: a connect there succeeds), with who in who[0..n):
 * "pid 1234 (coproxy)" when /proc tells, else "another process"; 0 if not.
 */
int addr_owner(const struct proxy_addr *a, char *who, size_t n);

#endif
