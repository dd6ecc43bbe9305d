/* SPDX-License-Identifier: Apache-2.0 */
/* dist.h — key distribution over weighted servers: ketama, modula, random (as twemproxy). */
#ifndef COPROXY_DIST_H
#define COPROXY_DIST_H

#include <stdint.h>

enum dist_kind { DIST_KETAMA, DIST_MODULA, DIST_RANDOM };

/* A server as the distribution sees it. */
struct dist_server {
    const char *name;   /* ketama hashes it: the name after the address, or "host:port"
                           ("host" alone for port 11211), as twemproxy does */
    int weight;         /* >= 1 */
    int live;           /* 0: ejected, left out of the distribution */
};

struct dist_point {
    uint32_t value;
    uint32_t server;
};

struct dist {
    enum dist_kind kind;
    struct dist_point *points;       /* ketama: sorted by value; modula/random: in order */
    uint32_t npoints;
};

/* Kind named `name` ("ketama", ...), or -1. */
int dist_parse(const char *name);

/*
 * (Re)builds d over servers[0..n) with only the live ones, the way twemproxy
 * builds its continuum (same points, same order).  0, or -ENOMEM (d unchanged).
 * d must be zeroed before its first build.  Like twemproxy, it lays the
 * servers out sorted by name (shorter first, then bytewise), which decides
 * modula's placement; points and picks still name indexes into servers[].
 */
int dist_build(struct dist *d, enum dist_kind kind, const struct dist_server *servers, int n);

/* The index of the server for a key hash, or -1 when no server is live.
 * `random` ignores the hash. */
int dist_pick(const struct dist *d, uint32_t hash);

void dist_free(struct dist *d);

#endif
