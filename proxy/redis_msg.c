/* redis_msg.c — requests in flight: the per-worker message cache, completion. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redis.h"
#include "worker.h"

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
    memset(m, 0, sizeof *m);
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
    } else if (m->client != NULL && m->finished != NULL) {
        m->finished(m->client, m);
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
