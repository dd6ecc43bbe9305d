/* SPDX-License-Identifier: Apache-2.0 */
/* redis_orphan.c — a blocking command whose client left or gave up: what the server took for it goes back. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "cluster.h"
#include "log.h"
#include "redis_msg.h"
#include "redis_orphan.h"
#include "redis_pushback.h"

/* The request that undoes the pop, sent on a shared connection of the
 * server it came from, in the database it ran in.  0, or -1 (logged). */
static int send_back(struct worker *w, struct msg *m, const struct rbuf *req, const char *key, size_t keylen)
{
    struct redis_server *s = m->server;
    struct backend_conn *bc;
    struct msg *g = msg_get(w);

    if (g == NULL)
        return -1;
    g->refs = 1;   /* its reply is nobody's: dropped when it comes */
    if (s->pool->cluster != NULL)
        g->slot1 = (uint16_t)(cluster_slot(key, keylen) + 1);
    bc = m->db >= 0 ? backend_pick_db(w, s, g, m->db) : backend_pick(w, s, g, 0);
    if (bc == NULL || backend_send_bytes(bc, g, req->data, req->len) != 0) {
        msg_unref(w, g);
        return -1;
    }
    msg_unref(w, g);   /* the connection's reference is the one left */
    return 0;
}

void orphan_reply(struct worker *w, struct msg *m, const char *p, size_t n)
{
    struct redis_server *s = m->server;
    struct rbuf whole = { 0 }, req = { 0 };
    const char *key = NULL;
    size_t keylen = 0;
    int rc;

    if (m->reply.len > 0 && !m->done) {   /* a long reply streamed into the message so far */
        if (rbuf_append(&whole, m->reply.data, m->reply.len) != 0 || rbuf_append(&whole, p, n) != 0) {
            rbuf_free(&whole);
            log_error("pool %s: server %s popped for a client that left; out of memory to push it back",
                      s->pool->conf->name, s->conf->name);
            return;
        }
        p = whole.data;
        n = whole.len;
    }
    rc = pushback_request((enum pop_kind)m->pop_kind, p, n, &req, &key, &keylen);
    if (rc == 0 && (m->pop_kind == POP_MOVED || m->pop_kind == POP_GROUP) && n > 0 && p[0] != '-'
        && !(n >= 3 && p[1] == '-'))
        log_info("pool %s: a blocking command's client left; what server %s gave it stays in %s",
                 s->pool->conf->name, s->conf->name,
                 m->pop_kind == POP_MOVED ? "the destination list" : "the group's pending entries");
    if (rc > 0 && send_back(w, m, &req, key, keylen) == 0) {
        s->pool->stats->blocked_given_back++;
        log_info("pool %s: server %s popped from %.*s for a client that had left: pushed back",
                 s->pool->conf->name, s->conf->name, (int)(keylen > 64 ? 64 : keylen), key);
    } else if (rc != 0) {
        log_error("pool %s: server %s popped for a client that had left, and it cannot be pushed back (%s)",
                  s->pool->conf->name, s->conf->name, rc < 0 ? strerror(-rc) : "server unavailable");
    }
    rbuf_free(&req);
    rbuf_free(&whole);
}
