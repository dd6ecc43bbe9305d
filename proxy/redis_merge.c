/* redis_merge.c — one reply for a request split over servers, from its fragments' replies. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redis_merge.h"

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

/*
 * INFO: coproxy's sections are in m->reply already (text); the servers'
 * "dbN:keys=K,expires=E,avg_ttl=T" lines are summed per database under
 * # Keyspace, and the whole becomes one bulk string (RESP3: a verbatim one).
 */
#define INFO_MAX_DBS 1024
static void merge_info(struct msg *m)
{
    struct { unsigned long long keys, expires; } *db = calloc(INFO_MAX_DBS, sizeof *db);
    struct rbuf text = { 0 };
    int err;

    if (db == NULL) {
        set_error(m, "ERR coproxy: out of memory merging INFO");
        return;
    }
    for (uint32_t i = 0; i < m->nfrags; i++) {
        const struct rbuf *r = &m->frags[i]->reply;
        int64_t blen;
        size_t hl;
        if (resp_header_int(r->data, r->len, &blen, &hl) != 0 || (r->data[0] != '$' && r->data[0] != '=')
            || blen < 0 || hl + (size_t)blen > r->len)
            continue;
        if (r->data[0] == '=' && blen >= 4) {   /* RESP3: a verbatim string, "txt:" first */
            hl += 4;
            blen -= 4;
        }
        for (const char *p = r->data + hl, *end = p + blen; p < end;) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            unsigned n;
            unsigned long long k, e;
            if (sscanf(p, "db%u:keys=%llu,expires=%llu", &n, &k, &e) == 3 && n < INFO_MAX_DBS) {
                db[n].keys += k;
                db[n].expires += e;
            }
            p = nl ? nl + 1 : end;
        }
    }
    err = rbuf_append(&text, m->reply.data, m->reply.len);
    if (!err && (m->info_want & 1)) {   /* the first server's version: clients check it */
        const struct rbuf *r = &m->frags[0]->reply;
        const char *v = memmem(r->data, r->len, "redis_version:", 14);
        const char *e = v ? memchr(v, '\r', (size_t)(r->data + r->len - v)) : NULL;
        if (v && e)
            err = rbuf_append(&text, v, (size_t)(e - v));
        err = err ? err : rbuf_printf(&text, "%s\r\n", v && e ? "" : "redis_version:unknown");
        err = err ? err : rbuf_append(&text, "\r\n", 2);
    }
    if (!err && (m->info_want & 2))
        err = rbuf_printf(&text, "# Keyspace\r\n");
    for (int n = 0; n < INFO_MAX_DBS && !err && (m->info_want & 2); n++)
        if (db[n].keys > 0)
            err = rbuf_printf(&text, "db%d:keys=%llu,expires=%llu,avg_ttl=0\r\n", n, db[n].keys, db[n].expires);
    m->reply.len = 0;
    if (err || rbuf_printf(&m->reply, m->resp3 ? "=%zu\r\ntxt:" : "$%zu\r\n", text.len + (m->resp3 ? 4 : 0)) != 0
        || rbuf_append(&m->reply, text.data, text.len) != 0
        || rbuf_append(&m->reply, "\r\n", 2) != 0)
        set_error(m, "ERR coproxy: out of memory merging INFO");
    rbuf_free(&text);
    free(db);
}

void redis_merge(struct msg *m)
{
    const struct rbuf *err = first_error(m);

    if (err != NULL) {   /* one part failed: the client sees that error */
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
    default:
        merge_ok(m);
        break;
    }
}
