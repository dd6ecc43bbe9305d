/* SPDX-License-Identifier: Apache-2.0 */
/* dist.c — twemproxy's ketama, modula and random continuums, built point for point. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dist.h"
#include "hashkit.h"

#define KETAMA_POINTS_PER_SERVER 160
#define KETAMA_POINTS_PER_HASH   4      /* one MD5 digest gives four points */

static const char *const dist_names[] = {
    [DIST_KETAMA] = "ketama",
    [DIST_MODULA] = "modula",
    [DIST_RANDOM] = "random",
};

int dist_parse(const char *name)
{
    int k;

    for (k = 0; k < (int)(sizeof dist_names / sizeof dist_names[0]); k++)
        if (strcmp(name, dist_names[k]) == 0)
            return k;
    return -1;
}

/*
 * A server's share of the ketama continuum, in points (a multiple of 4).
 * The arithmetic is twemproxy's, types included: the share is a float, the
 * product is formed in float, the epsilon added in double, and the sum
 * rounded back to float before floorf().  A different evaluation order can
 * move a server's point count by 4 for some weight mixes.
 */
static uint32_t ketama_points(uint32_t weight, uint32_t total_weight, uint32_t nlive)
{
    float pct = (float)weight / (float)total_weight;
    float groups = (float)(pct * KETAMA_POINTS_PER_SERVER / 4 * (float)nlive + 0.0000000001);

    return (uint32_t)(floorf(groups) * 4);
}

/*
 * Server order.  twemproxy sorts a pool's servers by name when it checks the
 * configuration for duplicates, and builds every continuum in that order:
 * shorter names first, equal lengths bytewise.  That order decides where
 * each server's modula points sit (and breaks ketama ties), so it is
 * reproduced here; dist_pick still answers with indexes into servers[].
 */
struct ranked {
    const char *name;
    size_t len;
    uint32_t index;     /* in servers[] */
};

static int ranked_cmp(const void *x, const void *y)
{
    const struct ranked *a = x, *b = y;
    int c;

    if (a->len != b->len)
        return a->len < b->len ? -1 : 1;
    c = strcmp(a->name, b->name);
    if (c != 0)
        return c;
    return (a->index > b->index) - (a->index < b->index);   /* duplicates: config order */
}

/* Ascending by value; equal values in server order, as glibc's (merge sort)
 * qsort leaves them in twemproxy.  Here .server still holds the rank. */
static int ketama_cmp(const void *x, const void *y)
{
    const struct dist_point *a = x, *b = y;

    if (a->value != b->value)
        return a->value < b->value ? -1 : 1;
    return (a->server > b->server) - (a->server < b->server);
}

/* Fills pts with the ketama points of the live servers (ranked[0..nlive)),
 * tagged with their rank; returns how many. */
static uint32_t ketama_fill(struct dist_point *pts, const struct ranked *ranked, uint32_t nlive,
                            const struct dist_server *servers, uint32_t total_weight)
{
    uint32_t np = 0, r;

    for (r = 0; r < nlive; r++) {
        const struct dist_server *srv = &servers[ranked[r].index];
        uint32_t points = ketama_points((uint32_t)srv->weight, total_weight, nlive), group;

        for (group = 0; group < points / KETAMA_POINTS_PER_HASH; group++) {
            unsigned char digest[16];
            char label[512];
            int len = snprintf(label, sizeof label, "%s-%u", srv->name, group);
            int x;

            /* names are config strings; longer ones are cut, never overrun */
            if (len < 0)
                len = 0;
            if ((size_t)len >= sizeof label)
                len = (int)sizeof label - 1;
            hash_md5(label, (size_t)len, digest);
            for (x = 0; x < KETAMA_POINTS_PER_HASH; x++) {
                const unsigned char *d = digest + 4 * x;

                pts[np].value = (uint32_t)d[0] | (uint32_t)d[1] << 8 | (uint32_t)d[2] << 16 |
                                (uint32_t)d[3] << 24;
                pts[np].server = r;
                np++;
            }
        }
    }
    qsort(pts, np, sizeof *pts, ketama_cmp);
    return np;
}

int dist_build(struct dist *d, enum dist_kind kind, const struct dist_server *servers, int n)
{
    struct dist_point *pts = NULL;
    struct ranked *ranked = NULL;
    uint32_t nlive = 0, total_weight = 0, cap = 0, np = 0, r, i;
    int s;

    for (s = 0; s < n; s++) {
        if (!servers[s].live)
            continue;
        nlive++;
        total_weight += (uint32_t)servers[s].weight;
    }
    if (nlive > 0) {
        switch (kind) {
        case DIST_KETAMA:
            /* each server's floor() share is at most its exact share plus
             * float rounding, so 4 extra points per server always suffice */
            cap = nlive * (KETAMA_POINTS_PER_SERVER + KETAMA_POINTS_PER_HASH);
            break;
        case DIST_MODULA:
            cap = total_weight;     /* one point per unit of weight */
            break;
        case DIST_RANDOM:
        default:
            cap = nlive;
            break;
        }
        pts = calloc(cap, sizeof *pts);
        ranked = calloc(nlive, sizeof *ranked);
        if (pts == NULL || ranked == NULL) {
            free(pts);
            free(ranked);
            return -ENOMEM;
        }
        for (r = 0, s = 0; s < n; s++) {
            if (!servers[s].live)
                continue;
            ranked[r].name = servers[s].name;
            ranked[r].len = strlen(servers[s].name);
            ranked[r].index = (uint32_t)s;
            r++;
        }
        qsort(ranked, nlive, sizeof *ranked, ranked_cmp);
    }
    if (kind == DIST_KETAMA && nlive > 0) {
        np = ketama_fill(pts, ranked, nlive, servers, total_weight);
    } else {
        for (r = 0; r < nlive; r++) {
            int w = kind == DIST_MODULA ? servers[ranked[r].index].weight : 1;

            for (; w > 0; w--) {
                pts[np].value = 0;
                pts[np].server = r;
                np++;
            }
        }
    }
    for (i = 0; i < np; i++)
        pts[i].server = ranked[pts[i].server].index;
    free(ranked);
    free(d->points);
    d->kind = kind;
    d->points = pts;
    d->npoints = np;
    return 0;
}

/* Per-thread xorshift for `random`: no lock, no shared cache line. */
static uint32_t dist_random(void)
{
    static __thread uint64_t state;

    if (state == 0) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        state = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^ (uint64_t)(uintptr_t)&ts;
        if (state == 0)
            state = 0x9e3779b97f4a7c15ull;
    }
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return (uint32_t)(state >> 32);
}

int dist_pick(const struct dist *d, uint32_t hash)
{
    uint32_t lo, hi;

    if (d->npoints == 0)
        return -1;
    switch (d->kind) {
    case DIST_MODULA:
        return (int)d->points[hash % d->npoints].server;
    case DIST_RANDOM:
        return (int)d->points[dist_random() % d->npoints].server;
    case DIST_KETAMA:
    default:
        break;
    }
    /* the first point whose value is >= hash; past the last, the first */
    lo = 0;
    hi = d->npoints;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;

        if (d->points[mid].value < hash)
            lo = mid + 1;
        else
            hi = mid;
    }
    return (int)d->points[lo == d->npoints ? 0 : lo].server;
}

void dist_free(struct dist *d)
{
    free(d->points);
    d->points = NULL;
    d->npoints = 0;
}
