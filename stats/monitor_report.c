/* SPDX-License-Identifier: Apache-2.0 */
/* monitor_report.c — the admin side of the slow log, hot keys and big keys: SLOWLOG, HOTKEYS, BIGKEYS, their metrics. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "config_file.h"
#include "monitor_report.h"
#include "redis_monitor.h"
#include "report.h"
#include "worker.h"

#define DEFAULT_COUNT 10
#define TOP_ROWS 5          /* hot keys and slow entries per pool in TOP */

enum { FMT_RESP, FMT_JSON, FMT_TABLE };
#define METRIC_HOTKEYS 10   /* per pool, in METRICS */

/* The pool's monitor on worker w (NULL: not a redis pool). */
static struct redis_monitor *mon_of(struct daemon *d, int w, int p)
{
    struct redis_pool *rp = d->workers[w].pools ? d->workers[w].pools[p].redis : NULL;

    return rp != NULL ? rp->mon : NULL;
}

static int pool_index(struct daemon *d, const char *name, size_t n)
{
    for (int p = 0; p < d->cfg.npools; p++)
        if (strlen(d->cfg.pools[p].name) == n && memcmp(d->cfg.pools[p].name, name, n) == 0)
            return p;
    return -1;
}

/* ---- writers: RESP bulk, JSON string, both binary-safe ---- */

static int bulk(struct rbuf *o, const char *s, size_t n)
{
    return rbuf_printf(o, "$%zu\r\n", n) || rbuf_append(o, s, n) || rbuf_append(o, "\r\n", 2);
}

static int bulk_str(struct rbuf *o, const char *s)
{
    return bulk(o, s, strlen(s));
}

/* Any bytes as a JSON string: quotes, backslashes, control and non-ASCII bytes escaped. */
static int json_bytes(struct rbuf *o, const char *s, size_t n)
{
    int err = rbuf_append(o, "\"", 1);

    for (size_t i = 0; i < n && !err; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '"' || ch == '\\')
            err = rbuf_printf(o, "\\%c", ch);
        else if (ch < 0x20 || ch >= 0x7f)
            err = rbuf_printf(o, "\\u%04x", ch);
        else
            err = rbuf_append(o, s + i, 1);
    }
    return err || rbuf_append(o, "\"", 1);
}

static int json_str(struct rbuf *o, const char *s)
{
    return json_bytes(o, s, strlen(s));
}

/* Bytes for a terminal: printable ASCII as it is, the rest as \xNN; at most width shown, then "...". */
static int text_bytes(struct rbuf *o, const char *s, size_t n, size_t width)
{
    size_t shown = 0;
    int err = 0;

    for (size_t i = 0; i < n && !err; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (shown >= width)
            return rbuf_printf(o, "...");
        if (ch >= 0x20 && ch < 0x7f && ch != '\\') {
            err = rbuf_append(o, s + i, 1);
            shown++;
        } else {
            err = rbuf_printf(o, "\\x%02x", ch);
            shown += 4;
        }
    }
    return err;
}

/* A duration for people: us below 10 ms, else ms. */
static int text_us(struct rbuf *o, int width, uint64_t us)
{
    char v[32];

    if (us < 10000)
        snprintf(v, sizeof v, "%llu us", (unsigned long long)us);
    else
        snprintf(v, sizeof v, "%llu ms", (unsigned long long)(us / 1000));
    return rbuf_printf(o, "%*s ", width, v);
}

/* ---- SLOWLOG ---- */

static int by_id(const void *a, const void *b)
{
    const struct slowlog_entry *x = a, *y = b;

    return x->id > y->id ? -1 : x->id < y->id;
}

/* Every worker's and pool's entries, newest first, at most max; *n set. NULL: out of memory. */
static struct slowlog_entry *slow_gather(struct daemon *d, long max, size_t *n)
{
    size_t cap = 0, got = 0;
    struct slowlog_entry *v;

    for (int w = 0; w < d->cfg.threads; w++)
        for (int p = 0; p < d->cfg.npools; p++)
            if (mon_of(d, w, p) != NULL)
                cap += slowlog_len(&mon_of(d, w, p)->slow) + 16;   /* (it may grow meanwhile) */
    v = malloc((cap ? cap : 1) * sizeof *v);
    if (v == NULL)
        return NULL;
    for (int w = 0; w < d->cfg.threads; w++)
        for (int p = 0; p < d->cfg.npools; p++)
            if (mon_of(d, w, p) != NULL && got < cap)
                got += slowlog_copy(&mon_of(d, w, p)->slow, v + got, cap - got);
    qsort(v, got, sizeof *v, by_id);
    *n = max >= 0 && (size_t)max < got ? (size_t)max : got;
    return v;
}

static int slow_entry_json(struct rbuf *o, const struct slowlog_entry *e, const char *pool)
{
    size_t kept = e->key_len < MONITOR_KEY_BRIEF ? e->key_len : MONITOR_KEY_BRIEF;
    int err = rbuf_printf(o, "{\"id\":%llu,\"time_ms\":%llu,\"duration_us\":%llu,\"backend_us\":%llu,\"command\":",
                          (unsigned long long)e->id, (unsigned long long)e->unix_ms,
                          (unsigned long long)e->total_us, (unsigned long long)e->backend_us);
    err = err || json_str(o, e->cmd);
    err = err || rbuf_printf(o, ",\"key\":");
    err = err || (e->key_len > 0 ? json_bytes(o, e->key, kept) : rbuf_printf(o, "null"));
    err = err || rbuf_printf(o, ",\"key_bytes\":%u,\"arguments\":%u,\"pool\":", e->key_len, e->argc);
    err = err || json_str(o, pool);
    err = err || rbuf_printf(o, ",\"server\":") || json_str(o, e->server);
    err = err || rbuf_printf(o, ",\"client\":") || json_str(o, e->client);
    err = err || rbuf_printf(o, ",\"client_name\":") || json_str(o, e->name);
    err = err || rbuf_printf(o, ",\"user\":") || json_str(o, e->user);
    return err || rbuf_printf(o, "}");
}

static int slow_entry_text(struct rbuf *o, const struct slowlog_entry *e, const char *pool)
{
    char when[32];
    time_t t = (time_t)(e->unix_ms / 1000);
    struct tm tm;
    size_t kept = e->key_len < MONITOR_KEY_BRIEF ? e->key_len : MONITOR_KEY_BRIEF;
    uint32_t shown = 1 + (e->key_len > 0);
    int err;

    localtime_r(&t, &tm);
    strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
    err = rbuf_printf(o, "%-8llu %-19s ", (unsigned long long)e->id, when) || text_us(o, 10, e->total_us)
          || text_us(o, 10, e->backend_us) || rbuf_printf(o, " ") || rbuf_printf(o, "%-12s %-16s %-22s %s", pool, e->server, e->client, e->cmd);
    if (e->key_len > 0)
        err = err || rbuf_printf(o, " ") || text_bytes(o, e->key, kept, 40) || (kept < e->key_len && rbuf_printf(o, "..."));
    if (e->argc > shown)
        err = err || rbuf_printf(o, " (+%u arguments)", e->argc - shown);
    return err || rbuf_printf(o, "\n");
}

static int slowlog_get(struct daemon *d, long max, int json, struct rbuf *o)
{
    size_t n;
    struct slowlog_entry *v = slow_gather(d, max, &n);
    struct rbuf j = { 0 };
    int err = 0;

    if (v == NULL)
        return -1;
    if (json == FMT_JSON)
        err = rbuf_printf(&j, "[");
    else if (json == FMT_TABLE)
        err = rbuf_printf(&j, "%-8s %-19s %10s %10s  %-12s %-16s %-22s %s\n", "id", "time", "duration", "backend",
                          "pool", "server", "client", "command");
    else
        err = rbuf_printf(o, "*%zu\r\n", n);
    for (size_t k = 0; k < n && !err; k++) {
        const struct slowlog_entry *e = &v[k];
        const char *pool = d->cfg.pools[e->pool_index].name;
        if (json == FMT_TABLE) {
            err = slow_entry_text(&j, e, pool);
            continue;
        }
        if (json == FMT_JSON) {
            err = (k > 0 && rbuf_printf(&j, ",")) || slow_entry_json(&j, e, pool);
            continue;
        }
        /* Redis's six fields first (id, time, microseconds, arguments, client, name), then coproxy's */
        err = rbuf_printf(o, "*10\r\n:%llu\r\n:%llu\r\n:%llu\r\n", (unsigned long long)e->id,
                          (unsigned long long)(e->unix_ms / 1000), (unsigned long long)e->total_us)
              || slowlog_args_resp(o, e) || bulk_str(o, e->client) || bulk_str(o, e->name) || bulk_str(o, pool)
              || bulk_str(o, e->server) || rbuf_printf(o, ":%llu\r\n", (unsigned long long)e->backend_us)
              || bulk_str(o, e->user);
    }
    if (json == FMT_JSON && !err)
        err = rbuf_printf(&j, "]\n");
    if (json != FMT_RESP && !err)
        err = bulk(o, j.data, j.len);
    rbuf_free(&j);
    free(v);
    return err;
}

/* ---- HOTKEYS ---- */

static int by_rate(const void *a, const void *b)
{
    const struct hotkey *x = a, *y = b;

    return x->count > y->count ? -1 : x->count < y->count;
}

/* The pool's hot keys over every worker, hottest first; *n of them. NULL: out of memory. */
static struct hotkey *hot_gather(struct daemon *d, int p, size_t *n)
{
    struct hotkey *all = malloc((size_t)(d->cfg.threads ? d->cfg.threads : 1) * HOTKEYS_TOP * sizeof *all);
    struct hotkey one[HOTKEYS_TOP];
    size_t got = 0;

    if (all == NULL)
        return NULL;
    for (int w = 0; w < d->cfg.threads; w++) {
        struct redis_monitor *m = mon_of(d, w, p);
        size_t k = m ? hotkeys_copy(&m->hot, one) : 0;
        for (size_t i = 0; i < k; i++) {
            size_t j, kept = one[i].len < HOTKEYS_KEEP ? one[i].len : HOTKEYS_KEEP;
            for (j = 0; j < got; j++)   /* the same key on another worker: its rates add up */
                if (all[j].hash == one[i].hash && all[j].len == one[i].len && memcmp(all[j].key, one[i].key, kept) == 0)
                    break;
            if (j < got)
                all[j].count += one[i].count;
            else
                all[got++] = one[i];
        }
    }
    qsort(all, got, sizeof *all, by_rate);
    *n = got;
    return all;
}

static int hotkeys_reply(struct daemon *d, int p, long max, int json, struct rbuf *o)
{
    size_t n;
    struct hotkey *v = hot_gather(d, p, &n);
    struct rbuf j = { 0 };
    int err = 0;

    if (v == NULL)
        return -1;
    if (max >= 0 && (size_t)max < n)
        n = (size_t)max;
    if (json == FMT_TABLE) {
        err = rbuf_printf(&j, "%-44s %12s  %s\n", "key", "requests/s", "server");
        for (size_t k = 0; k < n && !err; k++) {
            size_t before = j.len;
            err = text_bytes(&j, v[k].key, v[k].len < HOTKEYS_KEEP ? v[k].len : HOTKEYS_KEEP, 40);
            err = err || rbuf_printf(&j, "%*s %12llu  %s\n", (int)(44 - (j.len - before < 44 ? j.len - before : 44)), "",
                                     (unsigned long long)v[k].count, v[k].server);
        }
        err = err || bulk(o, j.data, j.len);
    } else if (json == FMT_JSON) {
        err = rbuf_printf(&j, "{\"pool\":") || json_str(&j, d->cfg.pools[p].name)
              || rbuf_printf(&j, ",\"window_ms\":%d,\"enabled\":%s,\"keys\":[", HOTKEYS_WINDOW_MS,
                             d->cfg.pools[p].hotkeys ? "true" : "false");
        for (size_t k = 0; k < n && !err; k++) {
            size_t kept = v[k].len < HOTKEYS_KEEP ? v[k].len : HOTKEYS_KEEP;
            err = (k > 0 && rbuf_printf(&j, ",")) || rbuf_printf(&j, "{\"key\":") || json_bytes(&j, v[k].key, kept)
                  || rbuf_printf(&j, ",\"key_bytes\":%u,\"truncated\":%s,\"requests_per_second\":%llu,\"server\":",
                                 v[k].len, kept < v[k].len ? "true" : "false", (unsigned long long)v[k].count)
                  || json_str(&j, v[k].server) || rbuf_printf(&j, "}");
        }
        err = err || rbuf_printf(&j, "]}\n") || bulk(o, j.data, j.len);
    } else {
        /* each: key (its first bytes), requests per second, server, the key's whole length */
        err = rbuf_printf(o, "*%zu\r\n", n);
        for (size_t k = 0; k < n && !err; k++)
            err = rbuf_printf(o, "*4\r\n") || bulk(o, v[k].key, v[k].len < HOTKEYS_KEEP ? v[k].len : HOTKEYS_KEEP)
                  || rbuf_printf(o, ":%llu\r\n", (unsigned long long)v[k].count) || bulk_str(o, v[k].server)
                  || rbuf_printf(o, ":%u\r\n", v[k].len);
    }
    rbuf_free(&j);
    free(v);
    return err;
}

/* ---- BIGKEYS ---- */

static struct bigkey *big_gather(struct daemon *d, int p, size_t *n)
{
    struct bigkey *all = malloc((size_t)(d->cfg.threads ? d->cfg.threads : 1) * BIGKEYS_TOP * sizeof *all);
    struct bigkey one[BIGKEYS_TOP];
    size_t got = 0;

    if (all == NULL)
        return NULL;
    for (int w = 0; w < d->cfg.threads; w++) {
        struct redis_monitor *m = mon_of(d, w, p);
        size_t k = m ? bigkeys_copy(&m->big, one) : 0;
        for (size_t i = 0; i < k; i++) {
            size_t j, kept = one[i].len < MONITOR_KEY_BRIEF ? one[i].len : MONITOR_KEY_BRIEF;
            for (j = 0; j < got; j++)
                if (all[j].reply == one[i].reply && all[j].len == one[i].len && strcmp(all[j].cmd, one[i].cmd) == 0
                    && memcmp(all[j].key, one[i].key, kept) == 0)
                    break;
            if (j < got) {
                all[j].count += one[i].count;
                if (one[i].size_max > all[j].size_max)
                    all[j].size_max = one[i].size_max;
                if (one[i].last_ms > all[j].last_ms) {
                    all[j].last_ms = one[i].last_ms;
                    all[j].size_last = one[i].size_last;
                }
            } else {
                all[got++] = one[i];
            }
        }
    }
    *n = got;
    return all;
}

static int by_size(const void *a, const void *b)
{
    const struct bigkey *x = a, *y = b;

    return x->size_max > y->size_max ? -1 : x->size_max < y->size_max;
}

static int bigkeys_reply(struct daemon *d, int p, long max, int json, struct rbuf *o)
{
    size_t n;
    struct bigkey *v = big_gather(d, p, &n);
    struct rbuf j = { 0 };
    int err = 0;

    if (v == NULL)
        return -1;
    qsort(v, n, sizeof *v, by_size);
    if (max >= 0 && (size_t)max < n)
        n = (size_t)max;
    if (json == FMT_TABLE) {
        err = rbuf_printf(&j, "%-44s %-12s %-8s %12s %8s\n", "key", "command", "side", "bytes", "times");
        for (size_t k = 0; k < n && !err; k++) {
            size_t before = j.len;
            err = text_bytes(&j, v[k].key, v[k].len < MONITOR_KEY_BRIEF ? v[k].len : MONITOR_KEY_BRIEF, 40);
            err = err || rbuf_printf(&j, "%*s %-12s %-8s %12llu %8llu\n", (int)(44 - (j.len - before < 44 ? j.len - before : 44)),
                                     "", v[k].cmd, v[k].reply ? "reply" : "request", (unsigned long long)v[k].size_max,
                                     (unsigned long long)v[k].count);
        }
        err = err || bulk(o, j.data, j.len);
    } else if (json == FMT_JSON) {
        err = rbuf_printf(&j, "{\"pool\":") || json_str(&j, d->cfg.pools[p].name)
              || rbuf_printf(&j, ",\"threshold\":%llu,\"keys\":[", (unsigned long long)d->cfg.pools[p].bigkey_threshold);
        for (size_t k = 0; k < n && !err; k++) {
            size_t kept = v[k].len < MONITOR_KEY_BRIEF ? v[k].len : MONITOR_KEY_BRIEF;
            err = (k > 0 && rbuf_printf(&j, ",")) || rbuf_printf(&j, "{\"key\":")
                  || (v[k].len > 0 ? json_bytes(&j, v[k].key, kept) : rbuf_printf(&j, "null"))
                  || rbuf_printf(&j, ",\"key_bytes\":%u,\"truncated\":%s,\"command\":", v[k].len,
                                 kept < v[k].len ? "true" : "false")
                  || json_str(&j, v[k].cmd)
                  || rbuf_printf(&j, ",\"side\":\"%s\",\"bytes_max\":%llu,\"bytes_last\":%llu,\"count\":%llu,"
                                     "\"last_ms\":%llu}", v[k].reply ? "reply" : "request",
                                 (unsigned long long)v[k].size_max, (unsigned long long)v[k].size_last,
                                 (unsigned long long)v[k].count, (unsigned long long)v[k].last_ms);
        }
        err = err || rbuf_printf(&j, "]}\n") || bulk(o, j.data, j.len);
    } else {
        /* each: key (its first bytes), command, "request" or "reply", largest bytes, times seen, key length */
        err = rbuf_printf(o, "*%zu\r\n", n);
        for (size_t k = 0; k < n && !err; k++)
            err = rbuf_printf(o, "*6\r\n") || bulk(o, v[k].key, v[k].len < MONITOR_KEY_BRIEF ? v[k].len : MONITOR_KEY_BRIEF)
                  || bulk_str(o, v[k].cmd) || bulk_str(o, v[k].reply ? "reply" : "request")
                  || rbuf_printf(o, ":%llu\r\n:%llu\r\n:%u\r\n", (unsigned long long)v[k].size_max,
                                 (unsigned long long)v[k].count, v[k].len);
    }
    rbuf_free(&j);
    free(v);
    return err;
}

/* ---- TOP: one screen of coproxyctl top ---- */

static struct {
    uint64_t at_ms;
    uint64_t *pool_req;              /* [npools] */
    uint64_t **server_req;           /* [npools][server_n[p]] */
    int *server_n;
    int npools;
} top_prev;

static uint64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Per second since the previous TOP (the admin thread's alone), or 0 the first time. */
static double top_rate(uint64_t now, uint64_t prev, uint64_t dt_ms)
{
    return dt_ms > 0 && now >= prev ? (double)(now - prev) * 1000.0 / (double)dt_ms : 0.0;
}

static int top_screen(struct daemon *d, struct rbuf *o)
{
    struct report rep;
    struct rbuf t = { 0 };
    uint64_t now = mono_ms(), dt = top_prev.at_ms ? now - top_prev.at_ms : 0;
    int err = 0, np;

    pthread_mutex_lock(&d->cfg_lock);
    if (report_gather(&rep, d, 0) != 0) {
        pthread_mutex_unlock(&d->cfg_lock);
        return -1;
    }
    np = d->cfg.npools;
    if (top_prev.npools != np) {   /* the first time (pools change only with a restart) */
        top_prev.pool_req = calloc((size_t)np, sizeof *top_prev.pool_req);
        top_prev.server_req = calloc((size_t)np, sizeof *top_prev.server_req);
        top_prev.server_n = calloc((size_t)np, sizeof *top_prev.server_n);
        top_prev.npools = top_prev.pool_req && top_prev.server_req && top_prev.server_n ? np : 0;
        dt = 0;
    }
    for (int p = 0; p < np && !err && top_prev.npools == np; p++) {
        const struct pool_conf *pc = &d->cfg.pools[p];
        uint64_t req, clients, q[3];
        uint64_t *sprev = top_prev.server_req[p];
        report_pool_summary(&rep, p, &req, &clients, q);
        err = rbuf_printf(&t, "%spool %s (%s, %s): %.0f requests/s, %llu clients, latency p50 %llu us, p99 %llu us, "
                              "p99.9 %llu us\n", p ? "\n" : "", pc->name, pc->mode == MODE_REDIS ? "redis" : "tcp",
                          pc->listen.text, top_rate(req, top_prev.pool_req[p], dt), (unsigned long long)clients,
                          (unsigned long long)q[0], (unsigned long long)q[1], (unsigned long long)q[2]);
        top_prev.pool_req[p] = req;
        if (top_prev.server_n[p] != pc->nservers) {   /* the first time, or a reload changed the list */
            uint64_t *fresh = calloc((size_t)pc->nservers, sizeof *fresh);
            if (fresh == NULL) {
                err = -1;
                break;
            }
            free(top_prev.server_req[p]);
            sprev = top_prev.server_req[p] = fresh;
            top_prev.server_n[p] = pc->nservers;
        }
        err = err || rbuf_printf(&t, "  %-20s %-24s %12s %10s %10s\n", "server", "address", "requests/s", "p50 us", "p99 us");
        for (int i = 0; i < pc->nservers && !err; i++) {
            uint64_t sreq, sq[3];
            report_server_summary(&rep, p, i, &sreq, sq);
            err = rbuf_printf(&t, "  %-20s %-24s %12.0f %10llu %10llu\n", pc->servers[i].name, pc->servers[i].addr.text,
                              top_rate(sreq, sprev[i], dt), (unsigned long long)sq[0], (unsigned long long)sq[1]);
            sprev[i] = sreq;
        }
        if (pc->mode != MODE_REDIS)
            continue;
        size_t n;
        struct hotkey *hv = hot_gather(d, p, &n);
        if (hv == NULL) {
            err = -1;
            break;
        }
        err = rbuf_printf(&t, "  hot keys%s\n", n ? "" : ": none counted yet");
        for (size_t k = 0; k < n && k < TOP_ROWS && !err; k++) {
            size_t before = t.len;
            err = rbuf_printf(&t, "    ") || text_bytes(&t, hv[k].key, hv[k].len < HOTKEYS_KEEP ? hv[k].len : HOTKEYS_KEEP, 40);
            err = err || rbuf_printf(&t, "%*s %10llu/s  %s\n", (int)(48 - (t.len - before < 48 ? t.len - before : 48)), "",
                                     (unsigned long long)hv[k].count, hv[k].server);
        }
        free(hv);
    }
    /* the slowest of the slow log, over all pools */
    if (!err) {
        size_t n;
        struct slowlog_entry *v = slow_gather(d, -1, &n);
        if (v == NULL) {
            err = -1;
        } else {
            for (size_t a = 0; a < n; a++)   /* by duration, longest first (few entries) */
                for (size_t b = a + 1; b < n; b++)
                    if (v[b].total_us > v[a].total_us) {
                        struct slowlog_entry x = v[a];
                        v[a] = v[b];
                        v[b] = x;
                    }
            err = rbuf_printf(&t, "\nslowest requests in the slow log%s\n", n ? "" : ": none");
            if (n)
                err = err || rbuf_printf(&t, "%-8s %-19s %10s %10s  %-12s %-16s %-22s %s\n", "id", "time", "duration",
                                         "backend", "pool", "server", "client", "command");
            for (size_t k = 0; k < n && k < TOP_ROWS && !err; k++)
                err = slow_entry_text(&t, &v[k], d->cfg.pools[v[k].pool_index].name);
            free(v);
        }
    }
    top_prev.at_ms = now;
    report_free(&rep);
    pthread_mutex_unlock(&d->cfg_lock);
    err = err || bulk(o, t.data, t.len);
    rbuf_free(&t);
    return err;
}

/* ---- the commands ---- */

static int arg_is(const char *req, const struct resp_arg *a, const char *word)
{
    return a->len == strlen(word) && strncasecmp(req + a->off, word, a->len) == 0;
}

/* A count argument: a number (-1: all); -2 if it is not one. */
static long count_arg(const char *req, const struct resp_arg *a)
{
    char buf[24], *end;
    long v;

    if (a->len == 0 || a->len >= sizeof buf)
        return -2;
    memcpy(buf, req + a->off, a->len);
    buf[a->len] = '\0';
    v = strtol(buf, &end, 10);
    return *end != '\0' || v < -1 ? -2 : v;
}

int monitor_answer(struct daemon *d, const char *req, const struct resp_request *r, struct rbuf *o)
{
    const struct resp_arg *a = r->args;
    uint32_t argc = r->argc;
    int json = argc > 1 && arg_is(req, &a[argc - 1], "JSON") ? FMT_JSON
               : argc > 1 && arg_is(req, &a[argc - 1], "TABLE") ? FMT_TABLE : FMT_RESP;
    int err = 0, p;
    long max = DEFAULT_COUNT;

    if (arg_is(req, &a[0], "TOP")) {
        if (top_screen(d, o) != 0) {
            o->len = 0;
            rbuf_printf(o, "-ERR out of memory\r\n");
        }
        return 1;
    }
    if (json != FMT_RESP)
        argc--;
    if (arg_is(req, &a[0], "SLOWLOG")) {
        if (argc >= 2 && arg_is(req, &a[1], "GET") && argc <= 3) {
            if (argc == 3 && (max = count_arg(req, &a[2])) == -2)
                return rbuf_printf(o, "-ERR count should be an integer, -1 for all\r\n"), 1;
            err = slowlog_get(d, max, json, o);
        } else if (argc == 2 && arg_is(req, &a[1], "LEN")) {
            long long n = 0;
            for (int w = 0; w < d->cfg.threads; w++)
                for (int q = 0; q < d->cfg.npools; q++)
                    if (mon_of(d, w, q) != NULL)
                        n += slowlog_len(&mon_of(d, w, q)->slow);
            err = rbuf_printf(o, ":%lld\r\n", n);
        } else if (argc == 2 && arg_is(req, &a[1], "RESET")) {
            for (int w = 0; w < d->cfg.threads; w++)
                for (int q = 0; q < d->cfg.npools; q++)
                    if (mon_of(d, w, q) != NULL)
                        slowlog_reset(&mon_of(d, w, q)->slow);
            err = rbuf_printf(o, "+OK\r\n");
        } else {
            err = rbuf_printf(o, "-ERR usage: SLOWLOG GET [count] [JSON|TABLE] | SLOWLOG LEN | SLOWLOG RESET\r\n");
        }
        return err ? (o->len = 0, rbuf_printf(o, "-ERR out of memory\r\n"), 1) : 1;
    }
    if (!arg_is(req, &a[0], "HOTKEYS") && !arg_is(req, &a[0], "BIGKEYS"))
        return 0;
    if (argc < 2 || argc > 3) {
        rbuf_printf(o, "-ERR usage: %s POOL [count] [JSON|TABLE]%s\r\n", arg_is(req, &a[0], "HOTKEYS") ? "HOTKEYS" : "BIGKEYS",
                    arg_is(req, &a[0], "BIGKEYS") ? " | BIGKEYS POOL RESET" : "");
        return 1;
    }
    if ((p = pool_index(d, req + a[1].off, a[1].len)) < 0) {
        rbuf_printf(o, "-ERR no pool named '%.*s'\r\n", (int)(a[1].len < 64 ? a[1].len : 64), req + a[1].off);
        return 1;
    }
    if (d->cfg.pools[p].mode != MODE_REDIS) {
        rbuf_printf(o, "-ERR pool '%s' is in tcp mode: it sees no keys\r\n", d->cfg.pools[p].name);
        return 1;
    }
    if (argc == 3 && arg_is(req, &a[0], "BIGKEYS") && arg_is(req, &a[2], "RESET")) {
        for (int w = 0; w < d->cfg.threads; w++)
            if (mon_of(d, w, p) != NULL)
                bigkeys_reset(&mon_of(d, w, p)->big);
        rbuf_printf(o, "+OK\r\n");
        return 1;
    }
    if (argc == 3 && (max = count_arg(req, &a[2])) == -2) {
        rbuf_printf(o, "-ERR count should be an integer, -1 for all\r\n");
        return 1;
    }
    err = arg_is(req, &a[0], "HOTKEYS") ? hotkeys_reply(d, p, max, json, o) : bigkeys_reply(d, p, max, json, o);
    if (err) {
        o->len = 0;
        rbuf_printf(o, "-ERR out of memory\r\n");
    }
    return 1;
}

/* Bytes as a Prometheus label value: \\, \" and \n as the format has them; other control and non-ASCII bytes as \xNN. */
static int prom_bytes(struct rbuf *o, const char *s, size_t n)
{
    int err = 0;

    for (size_t i = 0; i < n && !err; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '\\' || ch == '"')
            err = rbuf_printf(o, "\\%c", ch);
        else if (ch == '\n')
            err = rbuf_printf(o, "\\n");
        else if (ch < 0x20 || ch >= 0x7f)
            err = rbuf_printf(o, "\\\\x%02x", ch);
        else
            err = rbuf_append(o, s + i, 1);
    }
    return err;
}

int monitor_metrics(struct daemon *d, struct rbuf *o)
{
    static const char metric[] = "coproxy_hotkey_requests_per_second";
    int err = rbuf_printf(o, "# HELP %s requests per second of the pool's hottest keys (the last whole window; "
                             "the key's first %d bytes)\n# TYPE %s gauge\n", metric, HOTKEYS_KEEP, metric);

    for (int p = 0; p < d->cfg.npools && !err; p++) {
        size_t n;
        struct hotkey *v;
        if (d->cfg.pools[p].mode != MODE_REDIS)
            continue;
        if ((v = hot_gather(d, p, &n)) == NULL)
            return -1;
        for (size_t k = 0; k < n && k < METRIC_HOTKEYS && !err; k++) {
            err = rbuf_printf(o, "%s{pool=\"", metric) || prom_bytes(o, d->cfg.pools[p].name, strlen(d->cfg.pools[p].name))
                  || rbuf_printf(o, "\",server=\"") || prom_bytes(o, v[k].server, strlen(v[k].server))
                  || rbuf_printf(o, "\",rank=\"%zu\",key=\"", k + 1)
                  || prom_bytes(o, v[k].key, v[k].len < HOTKEYS_KEEP ? v[k].len : HOTKEYS_KEEP)
                  || rbuf_printf(o, "\"} %llu\n", (unsigned long long)v[k].count);
        }
        free(v);
    }
    return err;
}
