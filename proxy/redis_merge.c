/* SPDX-License-Identifier: Apache-2.0 */
/* redis_merge.c — one reply for a request split over servers, from its fragments' replies. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unistd.h>

#include "redis_info.h"
#include "redis_merge.h"
#include "redis_monitor.h"
#include "resp_append.h"
#include "worker_ctx.h"

/* The first fragment reply that is an error, or NULL. */
static const struct rbuf *first_error(const struct msg *m)
{
    for (uint32_t i = 0; i < m->nfrags; i++) {
        const struct rbuf *r = &m->frags[i]->reply;
        if (r->len == 0 || r->data[0] == '-')
            return r;
    }
    return NULL;
}

static void set_reply(struct msg *m, const char *p, size_t n)
{
    m->reply.len = 0;
    if (n == 0) {
        p = "-ERR coproxy: no reply from a server\r\n";
        n = strlen(p);
    }
    if (rbuf_append(&m->reply, p, n) != 0)
        m->reply.len = 0;
}

static void set_error(struct msg *m, const char *text)
{
    m->reply.len = 0;
    if (rbuf_printf(&m->reply, "-%s\r\n", text) != 0)
        m->reply.len = 0;
}

/* MGET: each fragment's array holds its keys' values; the client's array is in key order. */
static void merge_mget(struct msg *m)
{
    struct { const char *p; size_t n; } *slot = calloc(m->nkeys, sizeof *slot);
    char hdr[RESP_INT_MAX_LEN];
    size_t total, hdr_len;

    if (slot == NULL) {
        set_error(m, "ERR coproxy: out of memory merging MGET");
        return;
    }
    total = hdr_len = resp_write_int(hdr, '*', m->nkeys);
    for (uint32_t i = 0; i < m->nfrags; i++) {
        const struct msg *f = m->frags[i];
        const char *p = f->reply.data;
        size_t len = f->reply.len, hl, off;
        int64_t n;

        if (resp_header_int(p, len, &n, &hl) != 0 || p[0] != '*' || n != (int64_t)f->nkeys) {
            set_error(m, "ERR coproxy: unexpected MGET reply from a server");
            goto out;
        }
        off = hl;
        for (uint32_t k = 0; k < f->nkeys; k++) {
            long vl = resp_value_len(p + off, len - off);
            if (vl < 0) {
                set_error(m, "ERR coproxy: unexpected MGET reply from a server");
                goto out;
            }
            slot[f->keypos[k]].p = p + off;
            slot[f->keypos[k]].n = (size_t)vl;
            off += (size_t)vl;
            total += (size_t)vl;
        }
    }
    m->reply.len = 0;
    if (rbuf_reserve(&m->reply, total) != 0) {
        set_error(m, "ERR coproxy: out of memory merging MGET");
        goto out;
    }
    rbuf_append(&m->reply, hdr, hdr_len);
    for (uint32_t k = 0; k < m->nkeys; k++)
        rbuf_append(&m->reply, slot[k].p, slot[k].n);
out:
    free(slot);
}

/* DEL, UNLINK, EXISTS, TOUCH, DBSIZE: the sum of the integers (PUBSUB NUMPAT: the largest,
 * WAIT: the smallest). */
static void merge_sum(struct msg *m)
{
    char out[RESP_INT_MAX_LEN];
    int64_t sum = 0;

    for (uint32_t i = 0; i < m->nfrags; i++) {
        const struct rbuf *r = &m->frags[i]->reply;
        int64_t v;
        size_t hl;
        if (resp_header_int(r->data, r->len, &v, &hl) != 0 || r->data[0] != ':') {
            set_error(m, "ERR coproxy: unexpected reply from a server (expected an integer)");
            return;
        }
        if (m->merge == MERGE_MAX)
            sum = i == 0 || v > sum ? v : sum;
        else if (m->merge == MERGE_MIN)
            sum = i == 0 || v < sum ? v : sum;
        else
            sum += v;
    }
    if (m->merge == MERGE_SLOWLOG_LEN && m->client != NULL)   /* the proxy's own entries count too */
        sum += (int64_t)monitor_pool_slowlog_len(m->client->pool);
    set_reply(m, out, resp_write_int(out, ':', sum));
}

/* MSET, FLUSHDB, SCRIPT LOAD: every server said the same (+OK, or the same SHA). */
static void merge_ok(struct msg *m)
{
    const struct rbuf *first = &m->frags[0]->reply;

    for (uint32_t i = 1; i < m->nfrags; i++) {
        const struct rbuf *r = &m->frags[i]->reply;
        if (r->len != first->len || memcmp(r->data, first->data, r->len) != 0) {
            set_error(m, "ERR coproxy: the servers replied differently");
            return;
        }
    }
    set_reply(m, first->data, first->len);
}

/* KEYS: the arrays one after the other. */
static void merge_concat(struct msg *m)
{
    char hdr[RESP_INT_MAX_LEN];
    int64_t count = 0;

    for (uint32_t i = 0; i < m->nfrags; i++) {
        const struct rbuf *r = &m->frags[i]->reply;
        int64_t n;
        size_t hl;
        if (resp_header_int(r->data, r->len, &n, &hl) != 0 || r->data[0] != '*') {
            set_error(m, "ERR coproxy: unexpected reply from a server (expected an array)");
            return;
        }
        count += n > 0 ? n : 0;
    }
    m->reply.len = 0;
    if (rbuf_append(&m->reply, hdr, resp_write_int(hdr, '*', count)) != 0)
        goto oom;
    for (uint32_t i = 0; i < m->nfrags; i++) {
        const struct rbuf *r = &m->frags[i]->reply;
        int64_t n;
        size_t hl;
        resp_header_int(r->data, r->len, &n, &hl);
        if (n > 0 && rbuf_append(&m->reply, r->data + hl, r->len - hl) != 0)
            goto oom;
    }
    return;
oom:
    set_error(m, "ERR coproxy: out of memory merging replies");
}

/* SCRIPT EXISTS: arrays of 0/1, one per script; 1 where every server has it. */
static void merge_all(struct msg *m)
{
    int64_t n0 = -1, *all = NULL;
    char num[RESP_INT_MAX_LEN];

    for (uint32_t i = 0; i < m->nfrags; i++) {
        const struct rbuf *r = &m->frags[i]->reply;
        int64_t n, v;
        size_t off;
        if (resp_header_int(r->data, r->len, &n, &off) != 0 || r->data[0] != '*' || n < 0 || (i > 0 && n != n0))
            goto bad;
        if (i == 0 && (all = calloc((size_t)n + 1, sizeof *all)) == NULL)
            goto oom;
        n0 = n;
        for (int64_t k = 0; k < n; k++) {
            size_t hl;
            if (resp_header_int(r->data + off, r->len - off, &v, &hl) != 0 || r->data[off] != ':')
                goto bad;
            all[k] = i == 0 ? v != 0 : all[k] && v != 0;
            off += hl;
        }
    }
    m->reply.len = 0;
    if (rbuf_append(&m->reply, num, resp_write_int(num, '*', n0)) != 0)
        goto oom;
    for (int64_t k = 0; k < n0; k++)
        if (rbuf_append(&m->reply, all[k] ? ":1\r\n" : ":0\r\n", 4) != 0)
            goto oom;
    free(all);
    return;
bad:
    free(all);
    set_error(m, "ERR coproxy: unexpected SCRIPT EXISTS reply from a server");
    return;
oom:
    free(all);
    set_error(m, "ERR coproxy: out of memory merging replies");
}

/* RANDOMKEY: one of the keys the servers named, at random (nil if none). */
static void merge_random(struct msg *m)
{
    uint32_t named = 0, pick;

    for (uint32_t i = 0; i < m->nfrags; i++)
        named += m->frags[i]->reply.data[0] == '$' && m->frags[i]->reply.data[1] != '-';
    if (named == 0) {
        set_reply(m, m->resp3 ? "_\r\n" : "$-1\r\n", m->resp3 ? 3 : 5);
        return;
    }
    pick = (uint32_t)random() % named;
    for (uint32_t i = 0; i < m->nfrags; i++) {
        const struct rbuf *r = &m->frags[i]->reply;
        if (r->data[0] == '$' && r->data[1] != '-' && pick-- == 0) {
            set_reply(m, r->data, r->len);
            return;
        }
    }
}

/*
 * SCAN: the server's reply, with the client's cursor in place of the
 * server's: server cursor * nservers + server index, or the next server's
 * index once this one is done (0 after the last), so that one cursor walks
 * every server in turn.
 */
static void merge_scan(struct msg *m)
{
    const struct rbuf *r = &m->frags[0]->reply;
    uint64_t n = m->scan_nservers, i = m->scan_server, sc, cursor;
    int64_t count, blen;
    size_t hl, bl;
    char num[24], *end;

    if (resp_header_int(r->data, r->len, &count, &hl) != 0 || r->data[0] != '*' || count != 2
        || resp_header_int(r->data + hl, r->len - hl, &blen, &bl) != 0 || r->data[hl] != '$'
        || blen <= 0 || blen > 20 || hl + bl + (size_t)blen + 2 > r->len) {
        set_error(m, "ERR coproxy: unexpected SCAN reply from a server");
        return;
    }
    snprintf(num, sizeof num, "%.*s", (int)blen, r->data + hl + bl);
    sc = strtoull(num, &end, 10);
    if (*end != '\0') {
        set_error(m, "ERR coproxy: unexpected SCAN cursor from a server");
        return;
    }
    if (sc == 0)
        cursor = i + 1 < n ? i + 1 : 0;
    else if (sc > (UINT64_MAX - i) / n) {
        set_error(m, "ERR coproxy: a server's SCAN cursor is too large to carry the server's index");
        return;
    } else
        cursor = sc * n + i;
    m->reply.len = 0;
    snprintf(num, sizeof num, "%llu", (unsigned long long)cursor);
    if (rbuf_printf(&m->reply, "*2\r\n$%zu\r\n%s\r\n", strlen(num), num) != 0
        || rbuf_append(&m->reply, r->data + hl + bl + (size_t)blen + 2, r->len - (hl + bl + (size_t)blen + 2)) != 0)
        m->reply.len = 0;
}

/* INFO: the servers' texts (bulk strings; RESP3: verbatim) merged as one. */
static void merge_info(struct msg *m)
{
    const struct redis_pool *p = m->frags[0]->server->pool;
    const struct rbuf **texts = calloc(m->nfrags, sizeof *texts);
    struct rbuf *bodies = calloc(m->nfrags, sizeof *bodies), text = { 0 };
    struct info_extra x = { .pid = (int)getpid(), .port = addr_port(&p->conf->listen),
                            .clients = worker_pool_clients(p->w, (int)(p->rt - p->w->pools)),
                            .workers = p->w->d->cfg.threads, .version = COPROXY_VERSION, .pool = p->conf->name };
    int err = texts == NULL || bodies == NULL;

    for (uint32_t i = 0; i < m->nfrags && !err; i++) {
        const struct rbuf *r = &m->frags[i]->reply;
        int64_t blen;
        size_t hl;
        if (resp_header_int(r->data, r->len, &blen, &hl) != 0 || (r->data[0] != '$' && r->data[0] != '=')
            || blen < 0 || hl + (size_t)blen > r->len) {
            set_error(m, "ERR coproxy: unexpected INFO reply from a server");
            goto out;
        }
        if (r->data[0] == '=' && blen >= 4) {   /* RESP3: a verbatim string, "txt:" first */
            hl += 4;
            blen -= 4;
        }
        bodies[i] = (struct rbuf){ (char *)r->data + hl, (size_t)blen, (size_t)blen };
        texts[i] = &bodies[i];
    }
    err = err || info_merge(texts, (int)m->nfrags, &x, &text) != 0;
    m->reply.len = 0;
    if (err || rbuf_printf(&m->reply, m->resp3 ? "=%zu\r\ntxt:" : "$%zu\r\n", text.len + (m->resp3 ? 4 : 0)) != 0
        || rbuf_append(&m->reply, text.data, text.len) != 0 || rbuf_append(&m->reply, "\r\n", 2) != 0)
        set_error(m, "ERR coproxy: out of memory merging INFO");
out:
    rbuf_free(&text);
    free(texts);
    free(bodies);
}

/*
 * CONFIG GET: one reply when every server has the same settings (each
 * lists name/value pairs -- an array in RESP2, a map in RESP3 -- in its own
 * order); else an error naming the first setting they disagree on.
 */
struct setting {
    const char *name, *value;     /* each a whole value, header included */
    size_t nlen, vlen;
};

static int by_name(const void *x, const void *y)
{
    const struct setting *a = x, *b = y;
    int d = memcmp(a->name, b->name, a->nlen < b->nlen ? a->nlen : b->nlen);

    return d ? d : (a->nlen > b->nlen) - (a->nlen < b->nlen);
}

/* The reply's pairs, sorted by name: their number, or -1. */
static long settings_of(const struct rbuf *r, struct setting **out)
{
    int64_t n;
    size_t off;
    struct setting *v;

    if (resp_header_int(r->data, r->len, &n, &off) != 0 || n < 0 || (r->data[0] == '*' && n % 2 != 0))
        return -1;
    if (r->data[0] == '*')
        n /= 2;
    if ((v = calloc((size_t)n + 1, sizeof *v)) == NULL)
        return -1;
    for (int64_t k = 0; k < n; k++) {
        long nl = resp_value_len(r->data + off, r->len - off), vl;
        if (nl < 0 || (vl = resp_value_len(r->data + off + nl, r->len - off - (size_t)nl)) < 0) {
            free(v);
            return -1;
        }
        v[k] = (struct setting){ r->data + off, r->data + off + nl, (size_t)nl, (size_t)vl };
        off += (size_t)(nl + vl);
    }
    qsort(v, (size_t)n, sizeof *v, by_name);
    *out = v;
    return (long)n;
}

/* A bulk value's text, for a message. */
static const char *text_of(const char *p, size_t n, char out[64])
{
    int64_t l;
    size_t h;

    if (resp_header_int(p, n, &l, &h) != 0 || l < 0)
        snprintf(out, 64, "(nil)");
    else
        snprintf(out, 64, "%.*s", (int)(l < 60 ? l : 60), p + h);
    return out;
}

static void merge_same(struct msg *m)
{
    const struct msg *a = m->frags[0];
    struct setting *va = NULL, *vb = NULL;
    long na = settings_of(&a->reply, &va);
    char text[400], x[64], y[64], name[64];
    int bad = na < 0;

    for (uint32_t i = 1; i < m->nfrags && !bad; i++) {
        const struct msg *b = m->frags[i];
        long nb = settings_of(&b->reply, &vb), k;
        if (nb < 0) {
            bad = 1;
            break;
        }
        for (k = 0; k < na && k < nb; k++) {
            if (by_name(&va[k], &vb[k]) != 0) {   /* one has a setting the other lacks */
                snprintf(text, sizeof text, "ERR coproxy: '%s' is known to %s, not to %s; ask each directly",
                         text_of(by_name(&va[k], &vb[k]) < 0 ? va[k].name : vb[k].name,
                                 by_name(&va[k], &vb[k]) < 0 ? va[k].nlen : vb[k].nlen, name),
                         by_name(&va[k], &vb[k]) < 0 ? a->server->conf->name : b->server->conf->name,
                         by_name(&va[k], &vb[k]) < 0 ? b->server->conf->name : a->server->conf->name);
                goto differ;
            }
            if (va[k].vlen != vb[k].vlen || memcmp(va[k].value, vb[k].value, va[k].vlen) != 0) {
                snprintf(text, sizeof text, "ERR coproxy: the servers disagree on '%s': '%s' on %s, '%s' on %s; "
                         "ask each directly or make them agree (CONFIG SET goes to every server)",
                         text_of(va[k].name, va[k].nlen, name), text_of(va[k].value, va[k].vlen, x),
                         a->server->conf->name, text_of(vb[k].value, vb[k].vlen, y), b->server->conf->name);
                goto differ;
            }
        }
        if (na != nb) {
            snprintf(text, sizeof text, "ERR coproxy: servers %s and %s know different settings; ask each directly",
                     a->server->conf->name, b->server->conf->name);
            goto differ;
        }
        free(vb);
        vb = NULL;
    }
    if (bad) {
        free(va);
        set_error(m, "ERR coproxy: unexpected CONFIG GET reply from a server");
        return;
    }
    free(va);
    set_reply(m, a->reply.data, a->reply.len);
    return;
differ:
    free(va);
    free(vb);
    set_error(m, text);
}

/* SCRIPT KILL, FUNCTION KILL: +OK if a server stopped one; else (none ran)
 * the first server's error, which says so (NOTBUSY). */
static void merge_any_ok(struct msg *m)
{
    for (uint32_t i = 0; i < m->nfrags; i++) {
        const struct rbuf *r = &m->frags[i]->reply;
        if (r->len > 0 && r->data[0] == '+') {
            set_reply(m, r->data, r->len);
            return;
        }
    }
    set_reply(m, m->frags[0]->reply.data, m->frags[0]->reply.len);
}

/* FUNCTION STATS: the reply of the server whose running_script is not
 * null (a function runs there), else the first server's. */
static void merge_running(struct msg *m)
{
    static const char key[] = "running_script\r\n";

    for (uint32_t i = 0; i < m->nfrags; i++) {
        const struct rbuf *r = &m->frags[i]->reply;
        const char *at = memmem(r->data, r->len, key, sizeof key - 1);
        size_t off = at ? (size_t)(at - r->data) + sizeof key - 1 : r->len;
        if (off < r->len && r->data[off] != '_' && !(off + 1 < r->len && r->data[off + 1] == '-')) {
            set_reply(m, r->data, r->len);
            return;
        }
    }
    set_reply(m, m->frags[0]->reply.data, m->frags[0]->reply.len);
}

/*
 * SLOWLOG GET [count]: the servers' entries, newest first (by their
 * timestamp), at most count of them (10 by default, -1: all); each entry
 * gets a 7th element, the name of its server (clients read the first six).
 */
struct slow_entry {
    int64_t ts, id, elems;
    const char *p;
    size_t n;
    const char *server;
};

static int by_time(const void *x, const void *y)
{
    const struct slow_entry *a = x, *b = y;

    if (a->ts != b->ts)
        return a->ts > b->ts ? -1 : 1;
    return a->id > b->id ? -1 : a->id < b->id;
}

/*
 * The proxy's own slow log for the client's pool (every worker's), as
 * entries named "coproxy": Redis's six fields, rendered into own (which
 * the entries point into), appended to v.  0, or -1 (out of memory).
 */
static int own_entries(struct msg *m, struct rbuf *own, struct slow_entry **v, size_t *n, size_t *cap)
{
    size_t nmine = 0, *at;
    struct slowlog_entry *mine = m->client ? monitor_pool_slowlog(m->client->pool, &nmine) : NULL;
    int err = 0;

    if (mine == NULL)
        return 0;
    if ((at = malloc((nmine + 1) * sizeof *at)) == NULL) {
        free(mine);
        return -1;
    }
    for (size_t k = 0; k < nmine && !err; k++) {   /* rendered first: own moves as it grows */
        const struct slowlog_entry *e = &mine[k];
        at[k] = own->len;
        err = rbuf_printf(own, ":%llu\r\n:%llu\r\n:%llu\r\n", (unsigned long long)e->id,
                          (unsigned long long)(e->unix_ms / 1000), (unsigned long long)e->total_us)
              || slowlog_args_resp(own, e)
              || rbuf_printf(own, "$%zu\r\n%s\r\n$%zu\r\n%s\r\n", strlen(e->client), e->client, strlen(e->name),
                             e->name);
    }
    at[nmine] = own->len;
    if (!err && *n + nmine > *cap) {
        struct slow_entry *g = realloc(*v, (*n + nmine) * sizeof **v);
        if (g == NULL)
            err = 1;
        else
            *v = g, *cap = *n + nmine;
    }
    for (size_t k = 0; k < nmine && !err; k++)
        (*v)[(*n)++] = (struct slow_entry){ (int64_t)(mine[k].unix_ms / 1000), (int64_t)mine[k].id, 6,
                                            own->data + at[k], at[k + 1] - at[k], "coproxy" };
    free(at);
    free(mine);
    return err ? -1 : 0;
}

static void merge_slowlog(struct msg *m)
{
    struct rbuf own = { 0 };
    struct slow_entry *v = NULL;
    size_t n = 0, cap = 0;
    int64_t want = m->scan_server == UINT32_MAX ? -1 : (int64_t)m->scan_server;   /* (set by admin_command) */
    char hdr[RESP_INT_MAX_LEN];

    for (uint32_t i = 0; i < m->nfrags; i++) {
        const struct rbuf *r = &m->frags[i]->reply;
        int64_t count, e6, id, ts;
        size_t hl, off, eh, ih, th;
        if (resp_header_int(r->data, r->len, &count, &hl) != 0 || r->data[0] != '*')
            goto bad;
        off = hl;
        for (int64_t k = 0; k < count; k++) {
            long len = resp_value_len(r->data + off, r->len - off);
            const char *e = r->data + off;
            if (len < 0 || resp_header_int(e, (size_t)len, &e6, &eh) != 0 || e[0] != '*' || e6 < 2
                || resp_header_int(e + eh, (size_t)len - eh, &id, &ih) != 0
                || resp_header_int(e + eh + ih, (size_t)len - eh - ih, &ts, &th) != 0)
                goto bad;
            if (n == cap) {
                struct slow_entry *g = realloc(v, (cap = cap ? 2 * cap : 64) * sizeof *v);
                if (g == NULL)
                    goto oom;
                v = g;
            }
            v[n++] = (struct slow_entry){ ts, id, e6, e + eh, (size_t)len - eh, m->frags[i]->server->conf->name };
            off += (size_t)len;
        }
    }
    if (own_entries(m, &own, &v, &n, &cap) != 0)
        goto oom;
    qsort(v, n, sizeof *v, by_time);
    if (want >= 0 && (uint64_t)want < n)
        n = (size_t)want;
    m->reply.len = 0;
    if (rbuf_append(&m->reply, hdr, resp_write_int(hdr, '*', (int64_t)n)) != 0)
        goto oom;
    for (size_t k = 0; k < n; k++) {
        if (rbuf_append(&m->reply, hdr, resp_write_int(hdr, '*', v[k].elems + 1)) != 0
            || rbuf_append(&m->reply, v[k].p, v[k].n) != 0
            || rbuf_printf(&m->reply, "$%zu\r\n%s\r\n", strlen(v[k].server), v[k].server) != 0)
            goto oom;
    }
    free(v);
    rbuf_free(&own);
    return;
bad:
    free(v);
    rbuf_free(&own);
    set_error(m, "ERR coproxy: unexpected SLOWLOG GET reply from a server");
    return;
oom:
    free(v);
    rbuf_free(&own);
    set_error(m, "ERR coproxy: out of memory merging SLOWLOG GET");
}

/* The text of a bulk or verbatim string reply (a verbatim's "txt:" left out); -1 if neither. */
static long text_of_reply(const struct rbuf *r, const char **text)
{
    const char *p = r->data, *nl;
    long n;

    if (r->len < 4 || (p[0] != '$' && p[0] != '=') || (nl = memchr(p, '\n', r->len)) == NULL)
        return -1;
    n = strtol(p + 1, NULL, 10);
    *text = nl + 1;
    if (n < 0 || (size_t)(nl + 1 - p) + (size_t)n + 2 > r->len)
        return -1;
    if (p[0] == '=' && n >= 4) {
        *text += 4;
        n -= 4;
    }
    return n;
}

/* MEMORY DOCTOR, LATENCY DOCTOR: one server's text as it came; several,
 * each under "server NAME:", in the client's string type. */
static void merge_text(struct msg *m)
{
    struct rbuf t = { 0 };
    int err = 0;

    if (m->nfrags == 1) {
        set_reply(m, m->frags[0]->reply.data, m->frags[0]->reply.len);
        return;
    }
    for (uint32_t i = 0; i < m->nfrags && err == 0; i++) {
        const char *text;
        long n = text_of_reply(&m->frags[i]->reply, &text);
        if (n < 0) {
            set_error(m, "ERR coproxy: a server did not answer with a text");
            rbuf_free(&t);
            return;
        }
        err = rbuf_printf(&t, "%sserver %s:\n", i ? "\n" : "", m->frags[i]->server->conf->name) != 0
              || rbuf_append(&t, text, (size_t)n) != 0;
    }
    m->reply.len = 0;
    err = err || (m->resp3 ? rbuf_printf(&m->reply, "=%zu\r\ntxt:", t.len + 4) : rbuf_printf(&m->reply, "$%zu\r\n", t.len));
    err = err || rbuf_append(&m->reply, t.data, t.len) != 0 || rbuf_append(&m->reply, "\r\n", 2) != 0;
    if (err)
        set_error(m, "ERR coproxy: out of memory");
    rbuf_free(&t);
}

/* MEMORY STATS, LATENCY HISTOGRAM: one server's reply as it came; several,
 * a map (RESP2: a flat array) of each server's name to its reply. */
static void merge_per_server(struct msg *m)
{
    struct rbuf out = { 0 };
    int err;

    if (m->nfrags == 1) {
        set_reply(m, m->frags[0]->reply.data, m->frags[0]->reply.len);
        return;
    }
    err = resp_append_header(&out, m->resp3 ? '%' : '*', m->resp3 ? m->nfrags : 2 * (int64_t)m->nfrags);
    for (uint32_t i = 0; i < m->nfrags && err == 0; i++) {
        const char *name = m->frags[i]->server->conf->name;
        err = resp_append_bulk(&out, name, strlen(name)) != 0
              || rbuf_append(&out, m->frags[i]->reply.data, m->frags[i]->reply.len) != 0;
    }
    if (err)
        set_error(m, "ERR coproxy: out of memory");
    else
        set_reply(m, out.data, out.len);
    rbuf_free(&out);
}

void redis_merge(struct msg *m)
{
    const struct rbuf *err;

    if (m->merge == MERGE_ANY_OK) {   /* (the servers that had nothing to stop say so: errors) */
        merge_any_ok(m);
        return;
    }
    if ((err = first_error(m)) != NULL) {   /* one part failed: the client sees that error */
        set_reply(m, err->data, err->len);
        /* a subscription half made: the client goes, its library subscribes again */
        m->quit = m->merge == MERGE_KEEP;
        return;
    }
    switch (m->merge) {
    case MERGE_MGET:
        merge_mget(m);
        break;
    case MERGE_SUM:
    case MERGE_SLOWLOG_LEN:
    case MERGE_MAX:
    case MERGE_MIN:
        merge_sum(m);
        break;
    case MERGE_CONCAT:
        merge_concat(m);
        break;
    case MERGE_RANDOM:
        merge_random(m);
        break;
    case MERGE_SCAN:
        merge_scan(m);
        break;
    case MERGE_INFO:
        merge_info(m);
        break;
    case MERGE_KEEP:
        break;
    case MERGE_ALL:
        merge_all(m);
        break;
    case MERGE_SAME:
        merge_same(m);
        break;
    case MERGE_SLOWLOG:
        merge_slowlog(m);
        break;
    case MERGE_RUNNING:
        merge_running(m);
        break;
    case MERGE_TEXT:
        merge_text(m);
        break;
    case MERGE_PER_SERVER:
        merge_per_server(m);
        break;
    default:
        merge_ok(m);
        break;
    }
}
