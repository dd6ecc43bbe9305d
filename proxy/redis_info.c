/* SPDX-License-Identifier: Apache-2.0 */
/* redis_info.c — INFO through the proxy: the servers' sections merged into one
 * text in Redis's own field format (counts summed, the rest from the first
 * server), with coproxy's own fields in the Server and Clients sections. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redis_info.h"

/* One "key:value" line of a section, merged over the servers. */
struct info_field {
    char key[64];
    char first[256];                 /* the first server's value */
    long long isum;                  /* integer values summed */
    double fsum;                     /* float values summed (cpu) */
    int all_int, all_float, seen;
    struct { char name[24]; long long v; } sub[8];   /* "calls=1,usec=2,...": summed per name */
    int nsub, subbed;
};

struct info_section {
    char name[32];
    struct info_field *f;
    int n, cap;
};

static int is_int(const char *v)
{
    char *end;

    if (*v == '\0')
        return 0;
    strtoll(v, &end, 10);
    return *end == '\0';
}

static int is_float(const char *v)
{
    char *end;

    if (*v == '\0')
        return 0;
    strtod(v, &end);
    return *end == '\0';
}

static struct info_field *field(struct info_section *s, const char *key, size_t klen)
{
    for (int i = 0; i < s->n; i++)
        if (strlen(s->f[i].key) == klen && memcmp(s->f[i].key, key, klen) == 0)
            return &s->f[i];
    if (s->n == s->cap) {
        int cap = s->cap ? 2 * s->cap : 32;
        struct info_field *g = realloc(s->f, (size_t)cap * sizeof *g);
        if (g == NULL)
            return NULL;
        s->f = g;
        s->cap = cap;
    }
    memset(&s->f[s->n], 0, sizeof s->f[s->n]);
    snprintf(s->f[s->n].key, sizeof s->f[s->n].key, "%.*s", (int)klen, key);
    s->f[s->n].all_int = s->f[s->n].all_float = 1;
    return &s->f[s->n++];
}

/* "calls=3,usec=10,usec_per_call=3.33": the integer parts summed by name. */
static void add_subfields(struct info_field *f, const char *v)
{
    f->subbed = 1;
    for (const char *p = v; *p;) {
        const char *eq = strchr(p, '='), *comma = strchr(p, ',');
        const char *end = comma ? comma : p + strlen(p);
        int k;
        if (eq == NULL || eq > end)
            break;
        for (k = 0; k < f->nsub; k++)
            if (strlen(f->sub[k].name) == (size_t)(eq - p) && memcmp(f->sub[k].name, p, (size_t)(eq - p)) == 0)
                break;
        if (k == f->nsub && f->nsub < 8)
            snprintf(f->sub[f->nsub++].name, sizeof f->sub[0].name, "%.*s", (int)(eq - p), p);
        if (k < f->nsub)
            f->sub[k].v += strtoll(eq + 1, NULL, 10);
        p = comma ? comma + 1 : end;
    }
}

static void add_line(struct info_section *s, const char *line, size_t len)
{
    const char *colon = memchr(line, ':', len);
    char v[256];
    struct info_field *f;

    if (colon == NULL || (f = field(s, line, (size_t)(colon - line))) == NULL)
        return;
    snprintf(v, sizeof v, "%.*s", (int)(len - (size_t)(colon - line) - 1), colon + 1);
    if (!f->seen)
        snprintf(f->first, sizeof f->first, "%s", v);
    f->seen++;
    f->all_int &= is_int(v);
    f->all_float &= is_float(v);
    if (f->all_int)
        f->isum += strtoll(v, NULL, 10);
    if (f->all_float)
        f->fsum += strtod(v, NULL);
    if (!strncmp(f->key, "cmdstat_", 8) || !strncmp(f->key, "errorstat_", 10) || !strcmp(s->name, "Keyspace"))
        add_subfields(f, v);
}

/* Redis's bytesToHuman: "1.50M". */
static void human(long long n, char *out, size_t cap)
{
    double d = (double)n;

    if (n < 1024)
        snprintf(out, cap, "%lldB", n);
    else if (n < 1024LL * 1024)
        snprintf(out, cap, "%.2fK", d / 1024);
    else if (n < 1024LL * 1024 * 1024)
        snprintf(out, cap, "%.2fM", d / (1024 * 1024));
    else if (n < 1024LL * 1024 * 1024 * 1024)
        snprintf(out, cap, "%.2fG", d / (1024.0 * 1024 * 1024));
    else
        snprintf(out, cap, "%.2fT", d / (1024.0 * 1024 * 1024 * 1024));
}

static int write_field(struct rbuf *out, const struct info_section *s, const struct info_field *f,
                       const struct info_extra *x)
{
    char v[300];

    if (!strcmp(s->name, "Server") && !strcmp(f->key, "process_id"))
        snprintf(v, sizeof v, "%d", x->pid);
    else if (!strcmp(s->name, "Server") && !strcmp(f->key, "tcp_port"))
        snprintf(v, sizeof v, "%d", x->port);
    else if (!strcmp(s->name, "Clients") && !strcmp(f->key, "connected_clients"))
        snprintf(v, sizeof v, "%d", x->clients);
    else if (f->subbed && f->nsub > 0) {
        size_t n = 0;
        long long calls = 0, usec = 0;
        for (int k = 0; k < f->nsub; k++) {
            if (!strcmp(f->sub[k].name, "calls"))
                calls = f->sub[k].v;
            if (!strcmp(f->sub[k].name, "usec"))
                usec = f->sub[k].v;
        }
        for (int k = 0; k < f->nsub && n < sizeof v; k++) {
            if (!strcmp(f->sub[k].name, "usec_per_call"))
                n += (size_t)snprintf(v + n, sizeof v - n, "%susec_per_call=%.2f", k ? "," : "",
                                      calls ? (double)usec / (double)calls : 0.0);
            else if (!strcmp(f->sub[k].name, "avg_ttl"))
                n += (size_t)snprintf(v + n, sizeof v - n, "%savg_ttl=0", k ? "," : "");
            else
                n += (size_t)snprintf(v + n, sizeof v - n, "%s%s=%lld", k ? "," : "", f->sub[k].name, f->sub[k].v);
        }
    } else if (!strcmp(s->name, "Server") || !strcmp(s->name, "Replication"))
        snprintf(v, sizeof v, "%s", f->first);   /* one server's identity, not a sum */
    else if (f->all_int && strcmp(f->key, "maxclients") != 0)   /* (each server's limit, not a total) */
        snprintf(v, sizeof v, "%lld", f->isum);
    else if (f->all_float && !strcmp(s->name, "CPU"))
        snprintf(v, sizeof v, "%.6f", f->fsum);
    else {
        /* a size "in human" next to a summed one: from the sum */
        size_t kl = strlen(f->key);
        snprintf(v, sizeof v, "%s", f->first);
        if (kl > 6 && !strcmp(f->key + kl - 6, "_human"))
            for (int i = 0; i < s->n; i++)
                if (strlen(s->f[i].key) == kl - 6 && !strncmp(s->f[i].key, f->key, kl - 6) && s->f[i].all_int)
                    human(s->f[i].isum, v, sizeof v);
    }
    return rbuf_printf(out, "%s:%s\r\n", f->key, v);
}

int info_merge(const struct rbuf *const *replies, int n, const struct info_extra *x, struct rbuf *text)
{
    struct info_section *sec = NULL;
    int nsec = 0, err = 0;

    for (int i = 0; i < n; i++) {
        const char *p = replies[i]->data, *end = p + replies[i]->len;
        struct info_section *cur = NULL;
        while (p < end) {
            const char *nl = memchr(p, '\n', (size_t)(end - p)), *e = nl ? nl : end;
            size_t len = (size_t)(e - p);
            if (len > 0 && p[len - 1] == '\r')
                len--;
            if (len > 2 && p[0] == '#' && p[1] == ' ') {
                cur = NULL;
                for (int k = 0; k < nsec && cur == NULL; k++)
                    if (strlen(sec[k].name) == len - 2 && !memcmp(sec[k].name, p + 2, len - 2))
                        cur = &sec[k];
                if (cur == NULL) {
                    struct info_section *g = realloc(sec, (size_t)(nsec + 1) * sizeof *g);
                    if (g == NULL) {
                        err = -1;
                        goto out;
                    }
                    sec = g;
                    cur = &sec[nsec++];
                    memset(cur, 0, sizeof *cur);
                    snprintf(cur->name, sizeof cur->name, "%.*s", (int)(len - 2), p + 2);
                }
            } else if (len > 0 && cur != NULL) {
                add_line(cur, p, len);
            }
            p = nl ? nl + 1 : end;
        }
    }
    for (int k = 0; k < nsec && !err; k++) {
        struct info_section *s = &sec[k];
        err = rbuf_printf(text, "%s# %s\r\n", k ? "\r\n" : "", s->name);
        for (int i = 0; i < s->n && !err; i++)
            err = write_field(text, s, &s->f[i], x);
        if (!err && !strcmp(s->name, "Server"))
            err = rbuf_printf(text, "coproxy_version:%s\r\nproxy_mode:redis\r\npool:%s\r\nservers:%d\r\nworkers:%d\r\n",
                              x->version, x->pool, n, x->workers);
    }
out:
    for (int k = 0; k < nsec; k++)
        free(sec[k].f);
    free(sec);
    return err;
}
