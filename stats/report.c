/* SPDX-License-Identifier: Apache-2.0 */
/* report.c — the counters of every worker, summed and rendered: JSON, INFO, Prometheus. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "kstats.h"
#include "rbuf.h"
#include "report.h"
#include "tls.h"
#include "worker.h"
#include "worker_ctx.h"
#include "worker_publish.h"

/* A string literal appended (its length counted by the compiler). */
#define rbuf_lit(o, s) rbuf_append(o, s, sizeof s - 1)

/* The kernel's figures for each pool's listener and each server (when counted). */
static int kernel_gather(struct report *r)
{
    const struct config *cfg = &r->d->cfg;

    if ((r->kernel_off = kstats_unavailable()) != NULL)
        return 0;
    r->kclients = calloc((size_t)r->npools, sizeof *r->kclients);
    r->kservers = calloc((size_t)r->npools, sizeof *r->kservers);
    if (r->kclients == NULL || r->kservers == NULL)
        goto oom;
    for (int p = 0; p < r->npools; p++) {
        kstats_read(KSTATS_CLIENT, &cfg->pools[p].listen, &r->kclients[p]);
        if ((r->kservers[p] = calloc((size_t)cfg->pools[p].nservers, sizeof *r->kservers[p])) == NULL)
            goto oom;
        for (int i = 0; i < cfg->pools[p].nservers; i++)
            kstats_read(KSTATS_SERVER, &cfg->pools[p].servers[i].addr, &r->kservers[p][i]);
    }
    kstats_read(KSTATS_SERVER, NULL, &r->kunlisted);
    return 0;
oom:
    report_free(r);
    return -ENOMEM;
}

int report_gather(struct report *r, struct daemon *d, uint64_t started_ms)
{
    int nw = d->cfg.threads, np = d->cfg.npools;

    memset(r, 0, sizeof *r);
    r->d = d;
    r->nworkers = nw;
    r->npools = np;
    r->uptime_ms = worker_now_ms() - started_ms;
    r->co = calloc((size_t)nw, sizeof *r->co);
    r->pools = calloc((size_t)(nw * np), sizeof *r->pools);
    r->servers = calloc((size_t)(nw * np), sizeof *r->servers);
    if (r->co == NULL || r->pools == NULL || r->servers == NULL)
        goto oom;
    for (int k = 0; k < nw * np; k++)
        if ((r->servers[k] = calloc((size_t)d->cfg.pools[k % np].nservers, sizeof *r->servers[k])) == NULL)
            goto oom;
    for (int w = 0; w < nw; w++)
        worker_snapshot(&d->workers[w], &r->co[w], &r->pools[w * np], &r->servers[w * np]);
    return kernel_gather(r);
oom:
    report_free(r);
    return -ENOMEM;
}

void report_free(struct report *r)
{
    for (int k = 0; r->servers && k < r->nworkers * r->npools; k++)
        free(r->servers[k]);
    free(r->servers);
    for (int p = 0; r->kservers && p < r->npools; p++)
        free(r->kservers[p]);
    free(r->kservers);
    free(r->kclients);
    free(r->pools);
    free(r->co);
    memset(r, 0, sizeof *r);
}

static void latency_sum(struct stats_latency *t, const struct stats_latency *s)
{
    t->count += s->count;
    t->sum_us += s->sum_us;
    for (int k = 0; k < STATS_LATENCY_BUCKETS; k++)
        t->bucket[k] += s->bucket[k];
}

/* The q-quantile in microseconds: the upper bound of the bucket it falls in (0 if empty). */
static uint64_t latency_quantile(const struct stats_latency *l, double q)
{
    uint64_t want = (uint64_t)((double)l->count * q + 0.999999), seen = 0;

    if (l->count == 0)
        return 0;
    for (int k = 0; k < STATS_LATENCY_BUCKETS; k++) {
        seen += l->bucket[k];
        if (seen >= want)
            return (uint64_t)2 << k;
    }
    return (uint64_t)2 << (STATS_LATENCY_BUCKETS - 1);
}

/* Pool p over every worker: its requests, open clients and latency quantiles (us; q: 0.5, 0.99, 0.999). */
void report_pool_summary(const struct report *r, int p, uint64_t *requests, uint64_t *clients, uint64_t q_us[3])
{
    struct pool_stats t = { 0 };

    for (int w = 0; w < r->nworkers; w++) {
        t.requests += r->pools[w * r->npools + p].requests;
        t.client_connections += r->pools[w * r->npools + p].client_connections;
        latency_sum(&t.latency, &r->pools[w * r->npools + p].latency);
    }
    *requests = t.requests;
    *clients = t.client_connections;
    q_us[0] = latency_quantile(&t.latency, 0.5);
    q_us[1] = latency_quantile(&t.latency, 0.99);
    q_us[2] = latency_quantile(&t.latency, 0.999);
}

/* Server i of pool p over every worker: requests sent and its latency quantiles (as above). */
void report_server_summary(const struct report *r, int p, int i, uint64_t *requests, uint64_t q_us[3])
{
    struct stats_latency l = { 0 };

    *requests = 0;
    for (int w = 0; w < r->nworkers; w++) {
        const struct server_stats *s = r->servers[w * r->npools + p];
        if (s == NULL)
            continue;
        *requests += s[i].requests;
        latency_sum(&l, &s[i].latency);
    }
    q_us[0] = latency_quantile(&l, 0.5);
    q_us[1] = latency_quantile(&l, 0.99);
    q_us[2] = latency_quantile(&l, 0.999);
}

static const struct { const char *name; double q; } quantiles[] = {
    { "p50", 0.5 }, { "p90", 0.9 }, { "p99", 0.99 }, { "p999", 0.999 },
};
#define NQUANTILES (sizeof quantiles / sizeof quantiles[0])

static int json_latency(struct rbuf *o, const struct stats_latency *l)
{
    int err = rbuf_printf(o, ",\"latency_us\":{\"count\":%llu", (unsigned long long)l->count);

    for (size_t i = 0; i < NQUANTILES && !err; i++)
        err = rbuf_printf(o, ",\"%s\":%llu", quantiles[i].name, (unsigned long long)latency_quantile(l, quantiles[i].q));
    return err ? err : rbuf_lit(o, "}");
}

/* Pool p's counters summed over the workers. */
static struct pool_stats pool_total(const struct report *r, int p)
{
    struct pool_stats t = { 0 };

    for (int w = 0; w < r->nworkers; w++) {
        const struct pool_stats *s = &r->pools[w * r->npools + p];
#define ADD(f_, type, help) t.f_ += s->f_;
        STATS_POOL(ADD)
#undef ADD
        latency_sum(&t.latency, &s->latency);
    }
    return t;
}

/* Server i of pool p, summed over the workers ("ejected": by how many workers). */
static struct server_stats server_total(const struct report *r, int p, int i)
{
    struct server_stats t = { 0 };

    for (int w = 0; w < r->nworkers; w++) {
        const struct server_stats *s = &r->servers[w * r->npools + p][i];
#define ADD(f_, type, help) t.f_ += s->f_;
        STATS_SERVER(ADD)
#undef ADD
        latency_sum(&t.latency, &s->latency);
    }
    return t;
}

static struct co_counters runtime_total(const struct report *r)
{
    struct co_counters t = { 0 };

    for (int w = 0; w < r->nworkers; w++) {
#define ADD(f_, desc) t.f_ += r->co[w].f_;
        CO_COUNTERS(ADD)
#undef ADD
    }
    return t;
}

/* Pool and server names come from the config: quote them safely anyway. */
static int json_str(struct rbuf *o, const char *s)
{
    if (rbuf_lit(o, "\"") != 0)
        return -ENOMEM;
    for (; *s; s++) {
        int err;
        if (*s == '"' || *s == '\\')
            err = rbuf_printf(o, "\\%c", *s);
        else if ((unsigned char)*s < 0x20)
            err = rbuf_printf(o, "\\u%04x", (unsigned char)*s);
        else
            err = rbuf_append(o, s, 1);
        if (err)
            return -ENOMEM;
    }
    return rbuf_lit(o, "\"");
}

static int json_runtime(struct rbuf *o, const struct co_counters *c)
{
    int err = rbuf_lit(o, "{");
    const char *sep = "";
#define ONE(f_, desc) err = err ? err : rbuf_printf(o, "%s\"%s\":%llu", sep, #f_, (unsigned long long)c->f_); sep = ",";
    CO_COUNTERS(ONE)
#undef ONE
    return err ? err : rbuf_lit(o, "}");
}

static int json_pool(struct rbuf *o, const struct pool_stats *s)
{
    int err = 0;
#define ONE(f_, type, help) err = err ? err : rbuf_printf(o, ",\"%s\":%llu", #f_, (unsigned long long)s->f_);
    STATS_POOL(ONE)
#undef ONE
    return err ? err : json_latency(o, &s->latency);
}

static int json_server(struct rbuf *o, const struct server_stats *s)
{
    int err = 0;
#define ONE(f_, type, help) err = err ? err : rbuf_printf(o, ",\"%s\":%llu", #f_, (unsigned long long)s->f_);
    STATS_SERVER(ONE)
#undef ONE
    return err ? err : json_latency(o, &s->latency);
}

static int json_threads(const struct report *r, struct rbuf *o)
{
    int err = rbuf_lit(o, "[");

    for (int w = 0; w < r->nworkers && !err; w++) {
        err = rbuf_printf(o, "%s{\"worker\":%d,\"runtime\":", w ? "," : "", w);
        err = err ? err : json_runtime(o, &r->co[w]);
        err = err ? err : rbuf_lit(o, "}");
    }
    return err ? err : rbuf_lit(o, "]");
}

/* A server's state over all workers: ejected by any, else up while a
 * connection is open, connecting, or idle (none open now). */
static const char *server_state(const struct server_stats *t)
{
    return t->ejected ? "ejected" : t->connections ? "up" : t->connecting ? "connecting" : "idle";
}

/* One server of pool p, its pool named too when `pool` (the flat backends list). */
static int json_one_server(const struct report *r, struct rbuf *o, int p, int i, int pool)
{
    const struct pool_conf *pc = &r->d->cfg.pools[p];
    struct server_stats st = server_total(r, p, i);
    int err = rbuf_lit(o, "{\"name\":");

    err = err ? err : json_str(o, pc->servers[i].name);
    if (pool) {
        err = err ? err : rbuf_lit(o, ",\"pool\":");
        err = err ? err : json_str(o, pc->name);
    }
    err = err ? err : rbuf_lit(o, ",\"addr\":");
    err = err ? err : json_str(o, pc->servers[i].addr.text);
    err = err ? err : rbuf_printf(o, ",\"state\":\"%s\"", server_state(&st));
    err = err ? err : json_server(o, &st);
    return err ? err : rbuf_lit(o, "}");
}

/* A certificate's file and expiry (seconds since the epoch; 0: unknown). */
static int json_certificate(struct rbuf *o, const struct tls_cert *c, int first)
{
    int err = rbuf_printf(o, "%s{\"file\":", first ? "" : ",");

    err = err ? err : json_str(o, c->file);
    return err ? err : rbuf_printf(o, ",\"not_after\":%lld}", (long long)c->not_after);
}

/* ,"listeners":[{"address","tls"}],"tls":{"certificates":[..]}|null,"server_tls":{..}|null */
static int json_tls(struct rbuf *o, const struct pool_conf *pc)
{
    int err = rbuf_lit(o, ",\"listeners\":[");

    for (int k = 0; k < pc->nlistens && !err; k++) {
        err = rbuf_printf(o, "%s{\"address\":", k ? "," : "");
        err = err ? err : json_str(o, pc->listens[k].addr.text);
        err = err ? err : rbuf_printf(o, ",\"tls\":%s}", pc->listens[k].tls ? "true" : "false");
    }
    err = err ? err : rbuf_lit(o, "],\"tls\":");
    if (pc->tls == NULL) {
        err = err ? err : rbuf_lit(o, "null");
    } else {
        err = err ? err : rbuf_printf(o, "{\"verify_client\":%s,\"certificates\":[", pc->tls->verify_client ? "true" : "false");
        for (int i = 0; i < pc->tls->ncerts && !err; i++)
            err = json_certificate(o, &pc->tls->certs[i], i == 0);
        err = err ? err : rbuf_lit(o, "]}");
    }
    err = err ? err : rbuf_lit(o, ",\"server_tls\":");
    if (pc->server_tls == NULL)
        return err ? err : rbuf_lit(o, "null");
    err = err ? err : rbuf_printf(o, "{\"verify\":%s,\"certificates\":[", pc->server_tls->verify ? "true" : "false");
    if (pc->server_tls->ncerts > 0)
        err = err ? err : json_certificate(o, &pc->server_tls->certs[0], 1);
    return err ? err : rbuf_lit(o, "]}");
}

static int json_pools(const struct report *r, struct rbuf *o)
{
    int err = rbuf_lit(o, "[");

    for (int p = 0; p < r->npools && !err; p++) {
        const struct pool_conf *pc = &r->d->cfg.pools[p];
        struct pool_stats t = pool_total(r, p);
        err = rbuf_printf(o, "%s{\"name\":", p ? "," : "");
        err = err ? err : json_str(o, pc->name);
        err = err ? err : rbuf_printf(o, ",\"mode\":\"%s\",\"listen\":", pc->mode == MODE_REDIS ? "redis" : "tcp");
        err = err ? err : json_str(o, pc->listen.text);
        err = err ? err : json_tls(o, pc);
        err = err ? err : json_pool(o, &t);
        err = err ? err : rbuf_lit(o, ",\"servers\":[");
        for (int i = 0; i < pc->nservers && !err; i++) {
            err = i ? rbuf_lit(o, ",") : 0;
            err = err ? err : json_one_server(r, o, p, i, 0);
        }
        err = err ? err : rbuf_lit(o, "],\"cluster\":");
        if (pc->mode == MODE_REDIS && strcmp(pc->distribution, "cluster") == 0) {   /* each worker's map */
            err = err ? err : rbuf_lit(o, "[");
            for (int w = 0; w < r->nworkers && !err; w++) {
                err = w ? rbuf_lit(o, ",") : 0;
                err = err ? err : worker_cluster_json(&r->d->workers[w], p, o);
            }
            err = err ? err : rbuf_lit(o, "]}");
        } else {
            err = err ? err : rbuf_lit(o, "null}");
        }
    }
    return err ? err : rbuf_lit(o, "]");
}

/* The figures as JSON members, after a comma unless first. */
static int json_kfigures(struct rbuf *o, const struct kstats_figures *k, int first)
{
    int err = 0;
#define ONE(f_, type, help)                                                                             \
    err = err ? err : rbuf_printf(o, "%s\"%s\":%llu", first ? "" : ",", #f_, (unsigned long long)k->f_); \
    first = 0;
    KSTATS_FIELDS(ONE)
#undef ONE
    return err;
}

/* {"available":true,"pools":[{"name","listen","clients":{..},"servers":[{"name","addr",..}]}]},
 * or {"available":false,"reason":".."} */
static int json_kernel(const struct report *r, struct rbuf *o)
{
    int err;

    if (r->kernel_off) {
        err = rbuf_lit(o, "{\"available\":false,\"reason\":");
        err = err ? err : json_str(o, r->kernel_off);
        return err ? err : rbuf_lit(o, "}");
    }
    err = rbuf_lit(o, "{\"available\":true,\"pools\":[");
    for (int p = 0; p < r->npools && !err; p++) {
        const struct pool_conf *pc = &r->d->cfg.pools[p];
        err = rbuf_printf(o, "%s{\"name\":", p ? "," : "");
        err = err ? err : json_str(o, pc->name);
        err = err ? err : rbuf_lit(o, ",\"listen\":");
        err = err ? err : json_str(o, pc->listen.text);
        err = err ? err : rbuf_printf(o, ",\"clients\":{\"tcp\":%s", pc->listen.family == AF_UNIX ? "false" : "true");
        err = err ? err : json_kfigures(o, &r->kclients[p], 0);
        err = err ? err : rbuf_lit(o, "},\"servers\":[");
        for (int i = 0; i < pc->nservers && !err; i++) {
            err = rbuf_printf(o, "%s{\"name\":", i ? "," : "");
            err = err ? err : json_str(o, pc->servers[i].name);
            err = err ? err : rbuf_lit(o, ",\"addr\":");
            err = err ? err : json_str(o, pc->servers[i].addr.text);
            err = err ? err : json_kfigures(o, &r->kservers[p][i], 0);
            err = err ? err : rbuf_lit(o, "}");
        }
        err = err ? err : rbuf_lit(o, "]}");
    }
    err = err ? err : rbuf_lit(o, "],\"unlisted\":{");
    err = err ? err : json_kfigures(o, &r->kunlisted, 1);
    return err ? err : rbuf_lit(o, "}}");
}

static int json_backends(const struct report *r, struct rbuf *o)
{
    int err = rbuf_lit(o, "["), n = 0;

    for (int p = 0; p < r->npools && !err; p++)
        for (int i = 0; i < r->d->cfg.pools[p].nservers && !err; i++) {
            err = n++ ? rbuf_lit(o, ",") : 0;
            err = err ? err : json_one_server(r, o, p, i, 1);
        }
    return err ? err : rbuf_lit(o, "]");
}

/* This process's last upgrade, as STATS and INFO say it. */
static const char *upgrade_name(const struct daemon *d)
{
    static const char *const names[] = { "none", "running", "failed", "done" };
    int u = __atomic_load_n(&d->upgrade, __ATOMIC_ACQUIRE);

    return u >= 0 && u < 4 ? names[u] : "?";
}

int report_json(const struct report *r, struct rbuf *o)
{
    struct co_counters rt = runtime_total(r);
    int err;

    err = rbuf_printf(o, "{\"version\":\"%s\",\"pid\":%d,\"uptime_ms\":%llu,\"upgraded_from\":%d,\"upgrade\":\"%s\","
                         "\"workers\":%d,\"runtime\":",
                      COPROXY_VERSION, (int)getpid(), (unsigned long long)r->uptime_ms, r->d->upgraded_from,
                      upgrade_name(r->d), r->nworkers);
    err = err ? err : json_runtime(o, &rt);
    err = err ? err : rbuf_lit(o, ",\"threads\":");
    err = err ? err : json_threads(r, o);
    err = err ? err : rbuf_lit(o, ",\"pools\":");
    err = err ? err : json_pools(r, o);
    err = err ? err : rbuf_lit(o, ",\"kernel\":");
    err = err ? err : json_kernel(r, o);
    return err ? err : rbuf_lit(o, "}\n");
}

int report_json_table(const struct report *r, const char *table, struct rbuf *o)
{
    int err = strcmp(table, "pools") == 0      ? json_pools(r, o)
              : strcmp(table, "backends") == 0 ? json_backends(r, o)
              : strcmp(table, "kernel") == 0   ? json_kernel(r, o)
                                               : json_threads(r, o);
    return err ? err : rbuf_lit(o, "\n");
}

static int want(const char *section, const char *name)
{
    return section == NULL || strcasecmp(section, "all") == 0 || strcasecmp(section, "everything") == 0
           || strcasecmp(section, name) == 0;
}

int report_info(const struct report *r, const char *section, struct rbuf *o)
{
    int err = 0;

    if (want(section, "server"))
        err = rbuf_printf(o, "# Server\r\ncoproxy_version:%s\r\nprocess_id:%d\r\nuptime_in_seconds:%llu\r\n"
                             "upgraded_from:%d\r\nupgrade:%s\r\nworkers:%d\r\npools:%d\r\n\r\n",
                          COPROXY_VERSION, (int)getpid(), (unsigned long long)(r->uptime_ms / 1000),
                          r->d->upgraded_from, upgrade_name(r->d), r->nworkers, r->npools);
    if (!err && want(section, "runtime")) {
        struct co_counters t = runtime_total(r);
        err = rbuf_printf(o, "# Runtime\r\n");
#define ONE(f_, desc) err = err ? err : rbuf_printf(o, "%s:%llu\r\n", #f_, (unsigned long long)t.f_);
        CO_COUNTERS(ONE)
#undef ONE
        err = err ? err : rbuf_printf(o, "\r\n");
    }
    if (!err && want(section, "pools")) {
        err = rbuf_printf(o, "# Pools\r\n");
        for (int p = 0; p < r->npools && !err; p++) {
            const struct pool_conf *pc = &r->d->cfg.pools[p];
            struct pool_stats t = pool_total(r, p);
#define ONE(f_, type, help) err = err ? err : rbuf_printf(o, "%s_%s:%llu\r\n", pc->name, #f_, (unsigned long long)t.f_);
            STATS_POOL(ONE)
#undef ONE
            err = err ? err : rbuf_printf(o, "%s_latency_count:%llu\r\n", pc->name, (unsigned long long)t.latency.count);
            for (size_t q = 0; q < NQUANTILES && !err; q++)
                err = rbuf_printf(o, "%s_latency_%s_us:%llu\r\n", pc->name, quantiles[q].name,
                                  (unsigned long long)latency_quantile(&t.latency, quantiles[q].q));
            for (int i = 0; i < pc->nservers && !err; i++) {
                struct server_stats s = server_total(r, p, i);
#define ONE(f_, type, help) err = err ? err : rbuf_printf(o, "%s_server_%s_%s:%llu\r\n", pc->name, pc->servers[i].name, #f_, (unsigned long long)s.f_);
                STATS_SERVER(ONE)
#undef ONE
            }
        }
        err = err ? err : rbuf_printf(o, "\r\n");
    }
    if (!err && want(section, "kernel")) {
        err = rbuf_printf(o, "# Kernel\r\nkernel_stats:%s\r\n", r->kernel_off ? "off" : "on");
        if (r->kernel_off)
            err = err ? err : rbuf_printf(o, "kernel_stats_reason:%s\r\n", r->kernel_off);
        for (int p = 0; p < r->npools && !err && !r->kernel_off; p++) {
            const struct pool_conf *pc = &r->d->cfg.pools[p];
#define ONE(f_, type, help) err = err ? err : rbuf_printf(o, "%s_kernel_%s:%llu\r\n", pc->name, #f_, (unsigned long long)r->kclients[p].f_);
            KSTATS_FIELDS(ONE)
#undef ONE
            for (int i = 0; i < pc->nservers && !err; i++) {
#define ONE(f_, type, help) err = err ? err : rbuf_printf(o, "%s_server_%s_kernel_%s:%llu\r\n", pc->name, pc->servers[i].name, #f_, (unsigned long long)r->kservers[p][i].f_);
                KSTATS_FIELDS(ONE)
#undef ONE
            }
        }
#define ONE(f_, type, help) err = err || r->kernel_off ? err : rbuf_printf(o, "kernel_unlisted_%s:%llu\r\n", #f_, (unsigned long long)r->kunlisted.f_);
        KSTATS_FIELDS(ONE)
#undef ONE
        err = err ? err : rbuf_printf(o, "\r\n");
    }
    return err;
}

/* A label value in the Prometheus text format: \, " and newline escaped. */
static int prom_label(struct rbuf *o, const char *s)
{
    int err = 0;

    for (; *s && !err; s++)
        err = *s == '\\' || *s == '"' ? rbuf_printf(o, "\\%c", *s)
              : *s == '\n'            ? rbuf_printf(o, "\\n")
                                      : rbuf_append(o, s, 1);
    return err;
}

static int prom_head(struct rbuf *o, const char *metric, const char *type, const char *help)
{
    return rbuf_printf(o, "# HELP %s %s\n# TYPE %s %s\n", metric, help, metric, type);
}

/* pool="..",[server="..",]worker="N" into buf, escaped; 0, or -1 when it does not fit. */
static int prom_labels(char *buf, size_t len, const char *pool, const char *server, int worker)
{
    struct rbuf b = { 0 };
    int err = rbuf_lit(&b, "pool=\"");

    err = err ? err : prom_label(&b, pool);
    if (server) {
        err = err ? err : rbuf_lit(&b, "\",server=\"");
        err = err ? err : prom_label(&b, server);
    }
    err = err ? err : rbuf_printf(&b, "\",worker=\"%d\"", worker);
    if (!err && b.len < len) {
        memcpy(buf, b.data, b.len);
        buf[b.len] = '\0';
    } else {
        err = -1;
    }
    rbuf_free(&b);
    return err;
}

/* One histogram's samples: cumulative buckets (upper bounds 2^(k+1) us, in
 * seconds), +Inf, the sum and the count. */
static int prom_histogram(struct rbuf *o, const char *metric, const char *labels, const struct stats_latency *l)
{
    uint64_t cum = 0;
    int err = 0;

    for (int k = 0; k < STATS_LATENCY_BUCKETS - 1 && !err; k++) {
        cum += l->bucket[k];
        err = rbuf_printf(o, "%s_bucket{%s,le=\"%.6f\"} %llu\n", metric, labels, (double)(2ull << k) / 1e6,
                          (unsigned long long)cum);
    }
    err = err ? err : rbuf_printf(o, "%s_bucket{%s,le=\"+Inf\"} %llu\n", metric, labels, (unsigned long long)l->count);
    err = err ? err : rbuf_printf(o, "%s_sum{%s} %.6f\n", metric, labels, (double)l->sum_us / 1e6);
    return err ? err : rbuf_printf(o, "%s_count{%s} %llu\n", metric, labels, (unsigned long long)l->count);
}

/* coproxy_kernel_available, and while it is 1 the figures: coproxy_kernel_pool_*{pool}
 * (the pool's clients) and coproxy_kernel_server_*{pool,server}. */
static int kernel_metrics(const struct report *r, struct rbuf *o)
{
    char metric[128];
    int err = prom_head(o, "coproxy_kernel_available", "gauge", "1 while the kernel's TCP figures are counted (BPF)");

    err = err ? err : rbuf_printf(o, "coproxy_kernel_available %d\n", r->kernel_off ? 0 : 1);
    if (r->kernel_off)
        return err;
#define ONE(f_, type, help)                                                                       \
    snprintf(metric, sizeof metric, "coproxy_kernel_pool_%s%s", #f_, strcmp(#type, "COUNTER") == 0 ? "_total" : ""); \
    err = err ? err : prom_head(o, metric, strcmp(#type, "COUNTER") == 0 ? "counter" : "gauge", help " (clients)"); \
    for (int p = 0; p < r->npools && !err; p++) {                                                   \
        err = rbuf_printf(o, "%s{pool=\"", metric);                                                 \
        err = err ? err : prom_label(o, r->d->cfg.pools[p].name);                                   \
        err = err ? err : rbuf_printf(o, "\"} %llu\n", (unsigned long long)r->kclients[p].f_);       \
    }                                                                                               \
    snprintf(metric, sizeof metric, "coproxy_kernel_server_%s%s", #f_, strcmp(#type, "COUNTER") == 0 ? "_total" : ""); \
    err = err ? err : prom_head(o, metric, strcmp(#type, "COUNTER") == 0 ? "counter" : "gauge", help " (to the server)"); \
    for (int p = 0; p < r->npools && !err; p++)                                                     \
        for (int i = 0; i < r->d->cfg.pools[p].nservers && !err; i++) {                             \
            err = rbuf_printf(o, "%s{pool=\"", metric);                                             \
            err = err ? err : prom_label(o, r->d->cfg.pools[p].name);                               \
            err = err ? err : rbuf_lit(o, "\",server=\"");                                          \
            err = err ? err : prom_label(o, r->d->cfg.pools[p].servers[i].name);                    \
            err = err ? err : rbuf_printf(o, "\"} %llu\n", (unsigned long long)r->kservers[p][i].f_); \
        }                                                                                           \
    err = err ? err : rbuf_printf(o, "%s{pool=\"\",server=\"(unlisted)\"} %llu\n", metric,             \
                                  (unsigned long long)r->kunlisted.f_);
    KSTATS_FIELDS(ONE)
#undef ONE
    return err;
}

/* Each loaded certificate's expiry, so that an operator can alert before it
 * comes (not_after - time() < 14 days, say). */
static int tls_metrics(const struct report *r, struct rbuf *o)
{
    static const char metric[] = "coproxy_tls_certificate_expiry_timestamp_seconds";
    int err = prom_head(o, metric, "gauge", "when a loaded certificate expires (its notAfter), seconds since the epoch");

    for (int p = 0; p < r->npools && !err; p++) {
        const struct pool_conf *pc = &r->d->cfg.pools[p];
        for (int side = 0; side < 2 && !err; side++) {
            const struct tls_conf *t = side ? pc->server_tls : pc->tls;
            for (int i = 0; t != NULL && i < t->ncerts && !err; i++) {
                err = rbuf_printf(o, "%s{pool=\"", metric);
                err = err ? err : prom_label(o, pc->name);
                err = err ? err : rbuf_printf(o, "\",role=\"%s\",file=\"", side ? "server_tls" : "listener");
                err = err ? err : prom_label(o, t->certs[i].file);
                err = err ? err : rbuf_printf(o, "\"} %lld\n", (long long)t->certs[i].not_after);
            }
        }
    }
    return err;
}

int report_metrics(const struct report *r, struct rbuf *o)
{
    int err = 0;
    char metric[128];

    /* runtime: per worker */
#define ONE(f_, desc)                                                                         \
    snprintf(metric, sizeof metric, "coproxy_runtime_%s", #f_);                               \
    err = err ? err : prom_head(o, metric, "gauge", desc);                                      \
    for (int w = 0; w < r->nworkers && !err; w++)                                               \
        err = rbuf_printf(o, "%s{worker=\"%d\"} %llu\n", metric, w, (unsigned long long)r->co[w].f_);
    CO_COUNTERS(ONE)
#undef ONE
    /* pools and servers: per worker, labelled */
#define ONE(f_, type, help)                                                                   \
    snprintf(metric, sizeof metric, "coproxy_pool_%s%s", #f_,                                 \
             strcmp(#type, "COUNTER") == 0 ? "_total" : "");                                    \
    err = err ? err : prom_head(o, metric, strcmp(#type, "COUNTER") == 0 ? "counter" : "gauge", help); \
    for (int p = 0; p < r->npools && !err; p++)                                                 \
        for (int w = 0; w < r->nworkers && !err; w++) {                                         \
            err = rbuf_printf(o, "%s{pool=\"", metric);                                         \
            err = err ? err : prom_label(o, r->d->cfg.pools[p].name);                           \
            err = err ? err : rbuf_printf(o, "\",worker=\"%d\"} %llu\n", w,                     \
                                          (unsigned long long)r->pools[w * r->npools + p].f_); \
        }
    STATS_POOL(ONE)
#undef ONE
#define ONE(f_, type, help)                                                                   \
    snprintf(metric, sizeof metric, "coproxy_server_%s%s", #f_,                               \
             strcmp(#type, "COUNTER") == 0 ? "_total" : "");                                    \
    err = err ? err : prom_head(o, metric, strcmp(#type, "COUNTER") == 0 ? "counter" : "gauge", help); \
    for (int p = 0; p < r->npools && !err; p++)                                                 \
        for (int i = 0; i < r->d->cfg.pools[p].nservers && !err; i++)                           \
            for (int w = 0; w < r->nworkers && !err; w++) {                                     \
                err = rbuf_printf(o, "%s{pool=\"", metric);                                     \
                err = err ? err : prom_label(o, r->d->cfg.pools[p].name);                       \
                err = err ? err : rbuf_printf(o, "\",server=\"");                               \
                err = err ? err : prom_label(o, r->d->cfg.pools[p].servers[i].name);            \
                err = err ? err : rbuf_printf(o, "\",worker=\"%d\"} %llu\n", w,                 \
                                              (unsigned long long)r->servers[w * r->npools + p][i].f_); \
            }
    STATS_SERVER(ONE)
#undef ONE
    /* latency: Prometheus histograms (pool and server), and the pools' quantiles */
    err = err ? err : prom_head(o, "coproxy_pool_latency_seconds", "histogram",
                                "request parsed to its reply written (power-of-two microsecond buckets)");
    for (int p = 0; p < r->npools && !err; p++)
        for (int w = 0; w < r->nworkers && !err; w++) {
            char labels[256];
            if (prom_labels(labels, sizeof labels, r->d->cfg.pools[p].name, NULL, w) != 0)
                return -ENOMEM;
            err = prom_histogram(o, "coproxy_pool_latency_seconds", labels, &r->pools[w * r->npools + p].latency);
        }
    err = err ? err : prom_head(o, "coproxy_server_latency_seconds", "histogram",
                                "request queued to its reply read (power-of-two microsecond buckets)");
    for (int p = 0; p < r->npools && !err; p++)
        for (int i = 0; i < r->d->cfg.pools[p].nservers && !err; i++)
            for (int w = 0; w < r->nworkers && !err; w++) {
                char labels[256];
                if (prom_labels(labels, sizeof labels, r->d->cfg.pools[p].name, r->d->cfg.pools[p].servers[i].name,
                                w) != 0)
                    return -ENOMEM;
                err = prom_histogram(o, "coproxy_server_latency_seconds", labels,
                                     &r->servers[w * r->npools + p][i].latency);
            }
    err = err ? err : kernel_metrics(r, o);
    err = err ? err : tls_metrics(r, o);
    for (size_t q = 0; q < NQUANTILES && !err; q++) {
        snprintf(metric, sizeof metric, "coproxy_pool_latency_%s_microseconds", quantiles[q].name);
        err = prom_head(o, metric, "gauge", "request latency quantile (upper bound of its power-of-two bucket)");
        for (int p = 0; p < r->npools && !err; p++)
            for (int w = 0; w < r->nworkers && !err; w++) {
                err = rbuf_printf(o, "%s{pool=\"", metric);
                err = err ? err : prom_label(o, r->d->cfg.pools[p].name);
                err = err ? err : rbuf_printf(o, "\",worker=\"%d\"} %llu\n", w,
                                              (unsigned long long)latency_quantile(&r->pools[w * r->npools + p].latency,
                                                                                   quantiles[q].q));
            }
    }
    return err;
}

int report_pools(const struct report *r, struct rbuf *o)
{
    int err = rbuf_printf(o, "%-16s %-5s %-24s %8s %10s %12s %8s %8s %8s\n", "POOL", "MODE", "LISTEN", "CLIENTS",
                          "ACCEPTED", "REQUESTS", "TIMEOUTS", "BACKEND", "REFUSED");

    for (int p = 0; p < r->npools && !err; p++) {
        const struct pool_conf *pc = &r->d->cfg.pools[p];
        struct pool_stats t = pool_total(r, p);
        err = rbuf_printf(o, "%-16s %-5s %-24s %8llu %10llu %12llu %8llu %8llu %8llu\n", pc->name,
                          pc->mode == MODE_REDIS ? "redis" : "tcp", pc->listen.text,
                          (unsigned long long)t.client_connections, (unsigned long long)t.client_accepted,
                          (unsigned long long)t.requests, (unsigned long long)t.errors_timeout,
                          (unsigned long long)t.errors_backend, (unsigned long long)t.errors_refused);
    }
    return err;
}

int report_backends(const struct report *r, struct rbuf *o)
{
    int err = rbuf_printf(o, "%-16s %-16s %-24s %-10s %6s %12s %9s %9s %10s\n", "POOL", "SERVER", "ADDRESS", "STATE",
                          "CONNS", "REQUESTS", "FAILURES", "TIMEOUTS", "EJECTIONS");

    for (int p = 0; p < r->npools && !err; p++) {
        const struct pool_conf *pc = &r->d->cfg.pools[p];
        for (int i = 0; i < pc->nservers && !err; i++) {
            struct server_stats t = server_total(r, p, i);
            err = rbuf_printf(o, "%-16s %-16s %-24s %-10s %6llu %12llu %9llu %9llu %10llu\n", pc->name,
                              pc->servers[i].name, pc->servers[i].addr.text, server_state(&t),
                              (unsigned long long)t.connections, (unsigned long long)t.requests,
                              (unsigned long long)t.failures, (unsigned long long)t.timeouts,
                              (unsigned long long)t.ejections);
        }
    }
    return err;
}

int report_threads(const struct report *r, struct rbuf *o)
{
    int err = rbuf_printf(o, "%-6s %14s %10s %8s %12s %12s %14s %12s\n", "WORKER", "SWITCHES", "CREATED", "LIVE",
                          "COPIES_OUT", "COPIES_IN", "BYTES_COPIED", "LOOP_WAITS");

    for (int w = 0; w < r->nworkers && !err; w++) {
        const struct co_counters *c = &r->co[w];
        err = rbuf_printf(o, "%-6d %14llu %10llu %8llu %12llu %12llu %14llu %12llu\n", w,
                          (unsigned long long)c->switches, (unsigned long long)c->created,
                          (unsigned long long)c->live, (unsigned long long)c->copies_out,
                          (unsigned long long)c->copies_in, (unsigned long long)c->bytes_copied,
                          (unsigned long long)c->loop_waits);
    }
    return err;
}

static int kernel_row(struct rbuf *o, const char *pool, const char *side, const struct kstats_figures *k)
{
    return rbuf_printf(o, "%-16s %-16s %8llu %9llu %8llu %8llu %9llu %9llu %14llu %14llu %8llu\n", pool, side,
                       (unsigned long long)k->retransmits, (unsigned long long)k->rtt_us,
                       (unsigned long long)k->resets_sent, (unsigned long long)k->resets_received,
                       (unsigned long long)k->rcvqueue_full, (unsigned long long)k->buffer_limit,
                       (unsigned long long)k->bytes_sent, (unsigned long long)k->bytes_received,
                       (unsigned long long)k->sockets);
}

int report_kernel(const struct report *r, struct rbuf *o)
{
    int err;

    if (r->kernel_off)
        return rbuf_printf(o, "kernel stats are off: %s\n", r->kernel_off);
    err = rbuf_printf(o, "%-16s %-16s %8s %9s %8s %8s %9s %9s %14s %14s %8s\n", "POOL", "SIDE", "RETRANS", "RTT_US",
                      "RST_OUT", "RST_IN", "RCVQ_FULL", "BUF_LIMIT", "BYTES_SENT", "BYTES_RECV", "SOCKETS");
    for (int p = 0; p < r->npools && !err; p++) {
        const struct pool_conf *pc = &r->d->cfg.pools[p];
        for (int i = -1; i < pc->nservers && !err; i++)
            err = kernel_row(o, pc->name, i < 0 ? "(clients)" : pc->servers[i].name,
                             i < 0 ? &r->kclients[p] : &r->kservers[p][i]);
    }
    /* servers no pool lists (a cluster's nodes): a line once there are any */
    if (!err && (r->kunlisted.sockets || r->kunlisted.bytes_sent || r->kunlisted.bytes_received))
        err = kernel_row(o, "-", "(unlisted)", &r->kunlisted);
    return err;
}
