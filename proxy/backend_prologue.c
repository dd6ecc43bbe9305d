/* SPDX-License-Identifier: Apache-2.0 */
/* backend_prologue.c — what a new redis server connection says first (AUTH, HELLO, SELECT, READONLY, its CLIENT ID). */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

#include "backend_prologue.h"
#include "redis_msg.h"

/* The connect-time commands into pro (AUTH, SELECT, READONLY; on a pinned
 * connection its CLIENT ID, at *probe, then CLIENT UNBLOCK 0; on a RESP3
 * one HELLO 3, at *hello): how many, or -1 (out of memory). */
static int prologue(const struct backend_conn *bc, struct rbuf *pro, int *probe, int *hello)
{
    const struct redis_server *s = bc->srv;
    const struct pool_conf *pc = s->pool->conf;
    int nint = 0;

    *probe = *hello = -1;
    if (pc->redis_user[0]) {   /* the pool's own user: clients' passwords never go further */
        if (rbuf_printf(pro, "*3\r\n$4\r\nAUTH\r\n$%zu\r\n%s\r\n$%zu\r\n%s\r\n", strlen(pc->redis_user),
                        pc->redis_user, strlen(pc->redis_auth), pc->redis_auth) != 0)
            return -1;
        nint++;
    } else if (pc->redis_auth[0]) {
        if (rbuf_printf(pro, "*2\r\n$4\r\nAUTH\r\n$%zu\r\n%s\r\n", strlen(pc->redis_auth),
                        pc->redis_auth) != 0)
            return -1;
        nint++;
    }
    if (bc->resp3) {   /* the replies it carries are the RESP3 client's as they come */
        if (rbuf_printf(pro, "*2\r\n$5\r\nHELLO\r\n$1\r\n3\r\n") != 0)
            return -1;
        *hello = nint++;
    }
    if (pc->redis_db != 0 || bc->db >= 0) {
        char db[16];
        snprintf(db, sizeof db, "%d", bc->db >= 0 ? bc->db : pc->redis_db);
        if (rbuf_printf(pro, "*2\r\n$6\r\nSELECT\r\n$%zu\r\n%s\r\n", strlen(db), db) != 0)
            return -1;
        nint++;
    }
    if (s->pool->cluster != NULL && pc->read_from != 0 && !bc->pinned) {   /* reads from replicas (harmless on a master) */
        if (rbuf_printf(pro, "*1\r\n$8\r\nREADONLY\r\n") != 0)
            return -1;
        nint++;
    }
    if (bc->pinned) {   /* its id, so that a client leaving can unblock it (backend_unblock) */
        if (rbuf_printf(pro, "*2\r\n$6\r\nCLIENT\r\n$2\r\nID\r\n*3\r\n$6\r\nCLIENT\r\n$7\r\nUNBLOCK\r\n$1\r\n0\r\n") != 0)
            return -1;
        *probe = nint;
        nint += 2;
    }
    return nint;
}

/* The prologue's nint commands (pro) go first, in the bytes and in the
 * queue: what was queued keeps its sequence numbers.  0, or -1 (out of
 * memory: nothing changed). */
static int put_first(struct worker *w, struct backend_conn *bc, struct rbuf *pro, int nint, int probe, int hello)
{
    struct msg *first = NULL, **link = &first;
    size_t plen = pro->len;

    for (int i = 0; i < nint; i++) {
        struct msg *m = msg_get(w);
        if (m == NULL)
            goto oom;
        m->internal = 1;
        m->id_probe = i == hello ? PROBE_HELLO : probe < 0 ? 0 : i == probe ? PROBE_ID : i == probe + 1 ? PROBE_UNBLOCK : 0;
        m->refs = 1;
        m->server = bc->srv;
        *link = m;
        link = &m->bnext;
    }
    if (rbuf_reserve(pro, bc->out.len - bc->out_off) != 0)
        goto oom;
    rbuf_append(pro, bc->out.data + bc->out_off, bc->out.len - bc->out_off);
    rbuf_free(&bc->out);
    bc->out = *pro;
    *pro = (struct rbuf){ 0 };
    bc->seq_base = bc->seq_base + bc->out_off - plen;   /* the prologue goes just before */
    bc->out_off = 0;
    bc->enq_mark = bc->out.len;
    *link = bc->head;
    if (bc->head == NULL)
        bc->tail = link;
    bc->head = first;
    bc->inflight += (uint32_t)nint;
    return 0;
oom:
    while (first) {
        struct msg *m = first;
        first = m->bnext;
        msg_unref(w, m);
    }
    return -1;
}

int backend_prologue(struct worker *w, struct backend_conn *bc)
{
    struct rbuf pro = { 0 };
    int probe, hello, nint = prologue(bc, &pro, &probe, &hello);

    if (nint < 0 || (nint > 0 && put_first(w, bc, &pro, nint, probe, hello) != 0)) {
        rbuf_free(&pro);
        return -1;
    }
    return 0;
}
