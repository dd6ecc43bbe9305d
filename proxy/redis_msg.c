/* SPDX-License-Identifier: Apache-2.0 */
/* redis_msg.c — requests in flight: the per-worker message cache, a client's queue of
 * them, completion (the reply counted on its client, which is woken), output limits. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "log.h"
#include "redis_merge.h"
#include "redis_msg.h"
#include "worker_ctx.h"

/* A reply buffer up to this size stays with its message when it is recycled. */
#define MSG_KEEP_REPLY 1024
#define MSG_CACHE 1024

struct msg *msg_get(struct worker *w)
{
    struct msg *m = w->free_msgs;

    if (m != NULL) {
        w->free_msgs = m->cnext;
        w->nfree_msgs--;
        m->cnext = NULL;
        return m;
    }
    return calloc(1, sizeof *m);
}

void msg_unref(struct worker *w, struct msg *m)
{
    struct rbuf keep;

    if (--m->refs > 0)
        return;
    free(m->frags);
    free(m->keypos);
    rbuf_free(&m->req);
    keep = m->reply;
    if (keep.cap > MSG_KEEP_REPLY || w->nfree_msgs >= MSG_CACHE) {
        rbuf_free(&keep);
    }
    if (w->nfree_msgs >= MSG_CACHE) {
        free(m);
        return;
    }
    memset(m, 0, offsetof(struct msg, key));   /* (key: only its first key_len bytes are read) */
    m->reply = keep;
    m->reply.len = 0;
    m->cnext = w->free_msgs;
    w->free_msgs = m;
    w->nfree_msgs++;
}

void msg_cache_free(struct worker *w)
{
    while (w->free_msgs) {
        struct msg *m = w->free_msgs;
        w->free_msgs = m->cnext;
        rbuf_free(&m->reply);
        free(m);
    }
    w->nfree_msgs = 0;
}

/* ---- a client's replies ---------------------------------------------------- */

/* Replies pile up for a client that does not read them: past the pool's
 * limits it is closed (its socket shut down wakes it wherever it waits). */
static void output_check(struct redis_client *c);

static void soft_limit_due(void *arg)
{
    struct redis_client *c = arg;

    if (c->soft_since != 0)
        output_check(c);
}

static void output_check(struct redis_client *c)
{
    const struct pool_conf *pc = c->pool->conf;
    uint64_t now;
    char addr[80];

    if (c->overflow)
        return;
    if (pc->client_output_limit == 0 || c->reply_bytes <= pc->client_output_limit) {
        if (pc->client_output_soft_limit == 0 || c->reply_bytes <= pc->client_output_soft_limit) {
            c->soft_since = 0;
            return;
        }
        now = worker_now_ms();
        if (c->soft_since == 0) {
            /* over from now: looked at again when the time is up, whether
             * or not more replies come meanwhile */
            c->soft_since = now;
            if (c->soft_timer == NULL)
                c->soft_timer = co_timer_new(soft_limit_due, c);
            if (c->soft_timer != NULL)
                co_timer_arm(c->soft_timer, pc->client_output_soft_time);
        }
        if (now - c->soft_since < (uint64_t)pc->client_output_soft_time)
            return;
    }
    c->overflow = 1;
    c->pool->stats->client_output_closed++;
    log_warn("pool %s: client %s closed: %llu bytes of replies it has not read (client_output_limit %llu, "
             "client_output_soft_limit %llu for %d ms)", pc->name, addr_peer(c->fd, addr, sizeof addr),
             (unsigned long long)c->reply_bytes, (unsigned long long)pc->client_output_limit,
             (unsigned long long)pc->client_output_soft_limit, pc->client_output_soft_time);
    shutdown(c->fd, SHUT_RDWR);
    msg_wake_client(c);
}

/* m's reply is final: counted on its client, and the client woken if it waits for it. */
static void client_done(struct redis_client *c, struct msg *m)
{
    const struct pool_conf *pc = c->pool->conf;

    if (!m->counted && !m->silent) {
        m->counted = 1;
        c->reply_bytes += m->reply.len;
        if ((pc->client_output_limit != 0 && c->reply_bytes > pc->client_output_limit)
            || (pc->client_output_soft_limit != 0 && c->reply_bytes > pc->client_output_soft_limit))
            output_check(c);
    }
    if (c->waiting && m == c->head) {
        c->waiting = 0;
        co_cond_signal(c->cond);
    }
}

/* Brings a coroutine back to an idle client that has none (redis_client.c's). */
static void (*revive_client)(struct redis_client *c);

void msg_set_reviver(void (*revive)(struct redis_client *c))
{
    revive_client = revive;
}

void msg_wake_client(struct redis_client *c)
{
    if (c->shed && c->head != NULL && revive_client != NULL) {   /* something to write: no longer idle */
        revive_client(c);
        return;
    }
    if (c->waiting || c->sub_waiting) {
        c->waiting = c->sub_waiting = 0;
        co_cond_signal(c->cond);
    }
}

/* A new message at the tail of the client's queue (NULL: out of memory, the
 * client is closed). */
struct msg *msg_queue(struct redis_client *c)
{
    struct msg *m = msg_get(c->w);

    if (m == NULL) {
        c->closing = 1;
        return NULL;
    }
    m->client = c;
    m->refs = 1;
    m->resp3 = c->resp3;
    m->start_us = c->batch_us;
    m->cmd_name = c->last_cmd;
    m->argc = c->brief_argc;
    if (c->brief_key != NULL) {
        m->key_len = c->brief_len;
        if (c->brief_key + sizeof m->key <= c->in.data + c->in.cap)
            memcpy(m->key, c->brief_key, sizeof m->key);   /* a fixed size: three moves, no loop */
        else
            memcpy(m->key, c->brief_key, c->brief_len < sizeof m->key ? c->brief_len : sizeof m->key);
    }
    m->silent = c->reply_off || c->reply_skip > 0;   /* CLIENT REPLY OFF / SKIP */
    if (c->reply_skip > 0)
        c->reply_skip--;
    *c->tail = m;
    c->tail = &m->cnext;
    c->nqueued++;
    return m;
}

void msg_push(struct worker *w, struct redis_client *c, const struct backend_conn *bc, const char *head,
              size_t nhead, const char *body, size_t nbody)
{
    size_t n = nhead + nbody;
    struct msg *m, *before = NULL, **link;

    if (c->closing)
        return;
    if (c->push_bytes + n > MSG_PUSH_LIMIT) {
        log_warn("pool %s: a client (id %llu) fell %zu MiB of pushed messages behind: closed",
                 c->pool->conf->name, (unsigned long long)c->id, MSG_PUSH_LIMIT >> 20);
        c->closing = 1;
        shutdown(c->fd, SHUT_RDWR);   /* wakes it wherever it waits */
        msg_wake_client(c);
        return;
    }
    if ((m = msg_get(w)) == NULL || rbuf_reserve(&m->reply, n) != 0) {
        if (m != NULL)
            msg_unref(w, (m->refs = 1, m));
        log_error("pool %s: out of memory for a message pushed to a client: dropped", c->pool->conf->name);
        return;
    }
    rbuf_append(&m->reply, head, nhead);
    rbuf_append(&m->reply, body, nbody);
    m->client = c;
    m->refs = 1;
    m->done = 1;
    m->push = 1;
    c->push_bytes += n;
    /* before the first reply still owed on bc: sent later, it comes later */
    for (const struct msg *f = bc != NULL ? bc->head : NULL; f != NULL && before == NULL; f = f->bnext)
        if (f->parent != NULL && f->parent->client == c)
            before = f->parent;
        else if (f->client == c)
            before = (struct msg *)f;
    link = c->tail;
    if (before != NULL)
        for (link = &c->head; *link != NULL && *link != before; link = &(*link)->cnext)
            ;
    m->cnext = *link;
    *link = m;
    if (m->cnext == NULL)
        c->tail = &m->cnext;
    c->nqueued++;
    if (link == &c->head || c->sub_waiting)
        msg_wake_client(c);
}

void msg_finish(struct worker *w, struct msg *m)
{
    struct msg *p = m->parent;

    m->done = 1;
    if (m->nfrags > 0) {   /* given up before its fragments came back (a timeout) */
        for (uint32_t i = 0; i < m->nfrags; i++) {
            m->frags[i]->parent = NULL;
            msg_unref(w, m->frags[i]);
        }
        m->nfrags = 0;
    }
    if (p != NULL) {
        if (p->backend_us < m->backend_us)   /* a split request's time at the servers: its slowest part */
            p->backend_us = m->backend_us;
        if (--p->frags_left == 0) {
            redis_merge(p);
            /* the fragments have given everything to the merged reply */
            for (uint32_t i = 0; i < p->nfrags; i++) {
                p->frags[i]->parent = NULL;
                msg_unref(w, p->frags[i]);
            }
            p->nfrags = 0;
            msg_finish(w, p);
        }
    } else if (m->client != NULL) {
        client_done(m->client, m);
    }
}

void msg_fail(struct worker *w, struct msg *m, const char *fmt, ...)
{
    va_list ap;
    char text[512];

    if (m->done)
        return;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    for (char *c = text; *c; c++)
        if (*c == '\r' || *c == '\n')
            *c = ' ';   /* an error reply is one line */
    m->reply.len = 0;
    if (rbuf_printf(&m->reply, "-%s\r\n", text) != 0)
        m->reply.len = 0;   /* out of memory: the client gets no reply text; flush notices */
    msg_finish(w, m);
}

void msg_abandon(struct worker *w, struct msg *m)
{
    for (uint32_t i = 0; i < m->nfrags; i++) {
        m->frags[i]->parent = NULL;
        msg_unref(w, m->frags[i]);
    }
    m->nfrags = 0;
    m->client = NULL;
}
