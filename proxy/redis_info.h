/* SPDX-License-Identifier: Apache-2.0 */
/* redis_info.h — INFO's sections merged over the servers (redis_info.c). */
#ifndef COPROXY_REDIS_INFO_H
#define COPROXY_REDIS_INFO_H

#include "rbuf.h"

/* What coproxy puts in place of one server's own figures. */
struct info_extra {
    int pid, port, clients, workers;
    const char *version, *pool;
};

/* The servers' INFO texts (n of them) as one, in Redis's field format:
 * counts summed, commandstats/errorstats/keyspace summed per field, sizes
 * "in human" from the sums, CPU seconds summed, the rest (and the Server and
 * Replication sections) from the first server; process_id, tcp_port and
 * connected_clients are coproxy's, and the Server section ends with
 * coproxy's own fields.  Appends to text: 0, or -1 (out of memory). */
int info_merge(const struct rbuf *const *replies, int n, const struct info_extra *x, struct rbuf *text);

#endif
