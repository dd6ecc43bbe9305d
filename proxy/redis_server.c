/* SPDX-License-Identifier: Apache-2.0 */
/* redis_server.c — a pool's server objects: made at start and on reload, or
 * added when a cluster's slot map names a new node. */
#include <errno.h>
#include <stdlib.h>

#include "backend.h"
#include "redis_server.h"

/* A server of the pool, its connections' coroutines started (they connect on first use). */
struct redis_server *redis_server_new(struct redis_pool *p, const struct server_conf *sc, int index)
{
    struct redis_server *s = calloc(1, sizeof *s);

    if (s == NULL)
        return NULL;
    s->pool = p;
    s->conf = sc;
    s->index = index;
    s->stats = &s->own;
    s->conns = calloc((size_t)p->conf->server_connections, sizeof *s->conns);
    if (s->conns == NULL) {
        free(s);
        return NULL;
    }
    for (int k = 0; k < p->conf->server_connections; k++)
        if (backend_start(p->w, &s->conns[k], s) != 0)
            return NULL;   /* out of memory: what started stays parked */
    return s;
}

int redis_server_own_conf(struct redis_server *s)
{
    struct server_conf *own;

    if (s->own_conf != NULL)
        return 0;
    if ((own = malloc(sizeof *own)) == NULL)
        return -ENOMEM;
    *own = *s->conf;
    s->conf = s->own_conf = own;
    return 0;
}

/* A node the slot map names, added to the pool's servers (sc: allocated by
 * the caller, owned by the server from now, freed here on failure). */
struct redis_server *redis_server_add(struct redis_pool *p, struct server_conf *sc)
{
    struct redis_server **grown = realloc(p->servers, ((size_t)p->nservers + 1) * sizeof *grown);
    struct redis_server *s;

    if (grown == NULL) {
        free(sc);
        return NULL;
    }
    p->servers = grown;
    if ((s = redis_server_new(p, sc, p->nservers)) == NULL) {
        free(sc);
        return NULL;
    }
    s->own_conf = sc;
    p->servers[p->nservers++] = s;
    return s;
}
