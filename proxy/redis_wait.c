/* SPDX-License-Identifier: Apache-2.0 */
/* redis_wait.c — redis mode: WAIT, on the servers a client wrote to. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "redis_msg.h"
#include "redis_reply.h"
#include "redis_route.h"
#include "redis_wait.h"
#include "resp_append.h"
#include "worker_ctx.h"

/*
 * WAIT counts the replicas that acknowledged one connection's writes, and a
 * client's writes travel on connections shared with other clients.  So
 * coproxy waits until every earlier request of the client is answered (its
 * writes are done), then, on a connection of the client's own to each
 * server it wrote to since its last WAIT, sends a PUBLISH to a channel
 * nobody listens on -- Redis replicates it, which moves that connection's
 * replication offset past the client's writes -- and the WAIT.  The reply
 * is the smallest count.  With no write since its last WAIT, the WAIT goes
 * as it is to every server.
 */

#define WAIT_CHANNEL "__coproxy__:wait"

static int parse_long(const char *req, const struct resp_arg *a, long long *out)
{
    char num[24], *end;

    if (a->len == 0 || a->len > 20)
        return -1;
    memcpy(num, req + a->off, a->len);
    num[a->len] = '\0';
    *out = strtoll(num, &end, 10);
    return *end == '\0' ? 0 : -1;
}

void wait_command(struct redis_client *c, const char *req, const struct resp_request *r)
{
    long long replicas, timeout;
    struct msg *m;

    if (parse_long(req, &r->args[1], &replicas) != 0 || parse_long(req, &r->args[2], &timeout) != 0) {
        reply_error(c, "ERR value is not an integer or out of range");
        return;
    }
    if (timeout < 0) {
        reply_error(c, "ERR timeout is negative");
        return;
    }
    if ((m = msg_queue(c)) == NULL)
        return;
    m->merge = MERGE_MIN;
    m->wait = 1;
    m->deadline = UINT64_MAX;   /* set when it goes out */
    /* kept in the reply buffer until it goes out (wait_dispatch) */
    if (resp_append_header(&m->reply, '*', 3) != 0 || resp_append_bulk(&m->reply, "WAIT", 4) != 0
        || resp_append_bulk(&m->reply, req + r->args[1].off, r->args[1].len) != 0
        || resp_append_bulk(&m->reply, req + r->args[2].off, r->args[2].len) != 0) {
        msg_fail(c->w, m, "ERR coproxy: out of memory");
        return;
    }
    m->wait_ms = timeout > UINT32_MAX ? UINT32_MAX : (uint32_t)timeout;
    m->wait_servers = c->wrote;   /* writes parsed after it are the next WAIT's */
    c->wrote = 0;
}

static int take_pins(struct redis_client *c, uint32_t n)
{
    struct backend_conn **v = realloc(c->wait_pins, n * sizeof *v);

    if (v == NULL)
        return -1;
    c->wait_pins = v;
    return 0;
}

void wait_release(struct redis_client *c, int dirty)
{
    for (uint32_t i = 0; i < c->nwait_pins; i++)
        backend_unpin(c->w, c->wait_pins[i], dirty || c->wait_pins[i]->head != NULL);
    free(c->wait_pins);
    c->wait_pins = NULL;
    c->nwait_pins = 0;
}

void wait_dispatch(struct redis_client *c, struct msg *m)
{
    static const char publish[] = "*3\r\n$7\r\nPUBLISH\r\n$16\r\n" WAIT_CHANNEL "\r\n$0\r\n\r\n";
    struct redis_pool *p = c->pool;
    struct rbuf wait = m->reply;
    uint32_t n = 0;
    uint64_t wrote = m->wait_servers;
    int all = wrote == 0;

    _Static_assert(sizeof WAIT_CHANNEL - 1 == 16, "the PUBLISH above spells the channel's length");
    m->reply = (struct rbuf){ 0 };
    m->wait = 2;   /* out */
    for (int i = 0; i < p->nservers; i++)
        n += !p->servers[i]->retired && !p->servers[i]->cluster_replica && !p->servers[i]->cluster_absent
             && (all || i >= 64 || (wrote >> i & 1));
    if (n == 0 || take_pins(c, n) != 0 || (m->frags = calloc(n, sizeof *m->frags)) == NULL) {
        msg_fail(c->w, m, n == 0 ? "ERR coproxy: no server available in pool %s" : "ERR coproxy: out of memory%s",
                 n == 0 ? p->conf->name : "");
        goto out;
    }
    for (int i = 0; i < p->nservers; i++) {
        struct redis_server *s = p->servers[i];
        struct backend_conn *bc;
        if (s->retired || s->cluster_replica || s->cluster_absent || !(all || i >= 64 || (wrote >> i & 1)))
            continue;
        if ((bc = backend_pin(c->w, s, c->resp3)) == NULL) {
            p->stats->errors_refused++;
            msg_fail(c->w, m, "ERR coproxy: all %d pinned connections to server %s are in use "
                     "(server_pinned_connections); try again later", p->conf->server_pinned_connections,
                     s->conf->name);
            goto out;
        }
        c->wait_pins[c->nwait_pins++] = bc;
        if (route_add_frag(c, m, s) == NULL) {
            msg_fail(c->w, m, "ERR coproxy: out of memory");
            goto out;
        }
    }
    m->frags_left = m->nfrags;
    m->blocking = 1;   /* the client leaving meanwhile is noticed */
    m->deadline = m->wait_ms == 0 ? UINT64_MAX : worker_now_ms() + m->wait_ms + (uint64_t)p->conf->server_timeout;
    for (uint32_t i = 0; i < m->nfrags && m->nfrags > 0; i++) {
        struct msg *f = m->frags[i];
        struct backend_conn *bc = backend_pick_pinned(c->w, c->wait_pins[i], f);
        if (bc == NULL)
            continue;
        f->deadline = m->deadline;
        if (!all) {   /* the offset past the client's writes, then the WAIT */
            struct msg *pm = msg_get(c->w);
            int err = -1;
            if (pm != NULL) {
                pm->internal = 1;
                pm->server = bc->srv;
                pm->refs = 1;
                err = backend_send_bytes(bc, pm, publish, sizeof publish - 1);
                msg_unref(c->w, pm);   /* its only holder now: the connection */
            }
            if (err != 0) {
                msg_fail(c->w, f, "ERR coproxy: out of memory");
                continue;
            }
        }
        backend_send_bytes(bc, f, wait.data, wait.len);   /* (failed: the connection is dropped when let go) */
    }
out:
    rbuf_free(&wait);
}
