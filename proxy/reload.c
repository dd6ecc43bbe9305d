/* SPDX-License-Identifier: Apache-2.0 */
/* reload.c — SIGHUP: reads the configuration again and hands the workers what may change live. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "reload.h"
#include "tls.h"
#include "worker.h"
#include "worker_publish.h"

/*
 * The pools a reload replaced are freed once no worker holds their
 * configuration generation: a worker's view moves on at its next loop
 * turn, and what outlives it -- a tcp connection that connected under an
 * older server list, a health table, the lists published for the admin
 * thread -- holds its generation while it points into it (conf_pins.h).
 * A removed redis server keeps a copy of its own settings.
 */
struct retired {
    struct pool_conf *pools;
    int npools;
    unsigned gen;                    /* the generation they were published as */
};

static struct retired *retired;
static int nretired;

static void retired_free(struct retired *r)
{
    struct config c = { .pools = r->pools, .npools = r->npools };

    config_free(&c);
}

static void retire(struct config *c, unsigned gen)
{
    struct retired *r = realloc(retired, (size_t)(nretired + 1) * sizeof *r);

    if (r == NULL) {
        log_warn("reload: out of memory keeping the old configuration until the workers leave it (a few KiB leak)");
        return;
    }
    retired = r;
    retired[nretired++] = (struct retired){ .pools = c->pools, .npools = c->npools, .gen = gen };
}

void reload_collect(struct daemon *d)
{
    int kept = 0, freed = 0;

    for (int i = 0; i < nretired; i++) {
        int held = 0;
        for (int k = 0; k < d->cfg.threads && !held; k++)
            held = worker_holds(&d->workers[k], retired[i].gen);
        if (held) {
            retired[kept++] = retired[i];
        } else {
            retired_free(&retired[i]);
            freed++;
        }
    }
    nretired = kept;
    if (freed > 0)
        log_debug("reload: %d replaced configuration(s) freed, %d still in use", freed, kept);
}

void reload_free(void)
{
    for (int i = 0; i < nretired; i++)
        retired_free(&retired[i]);
    free(retired);
    retired = NULL;
    nretired = 0;
}

/* Logs a setting that changed but needs a restart; counts it. */
#define NEEDS_RESTART(cond, ...)                                          \
    do {                                                                  \
        if (cond) {                                                       \
            log_warn("reload: " __VA_ARGS__);                             \
            restart++;                                                    \
        }                                                                 \
    } while (0)

/* The same addresses, each plaintext or TLS as before. */
static int same_listeners(const struct pool_conf *a, const struct pool_conf *b)
{
    if (a->nlistens != b->nlistens)
        return 0;
    for (int i = 0; i < a->nlistens; i++)
        if (!addr_equal(&a->listens[i].addr, &b->listens[i].addr) || a->listens[i].tls != b->listens[i].tls)
            return 0;
    return 1;
}

void reload(struct daemon *d, const char *file)
{
    struct config nc, *oc = &d->cfg;
    char err[512];
    int restart = 0, pools_kept = 1;
    unsigned gen;

    memset(&nc, 0, sizeof nc);
    log_info("SIGHUP: reading %s again", file);
    if (config_load(file, &nc, err, sizeof err) != 0) {
        log_error("reload: %s; the running configuration stays", err);
        return;
    }
    NEEDS_RESTART(nc.threads != oc->threads, "threads (%d -> %d) needs a restart", oc->threads, nc.threads);
    NEEDS_RESTART(nc.pin_threads != oc->pin_threads, "pin_threads needs a restart");
    NEEDS_RESTART(nc.shared_stacks != oc->shared_stacks || nc.stack_size != oc->stack_size,
                  "coroutines.shared_stacks and stack_size need a restart");
    NEEDS_RESTART(strcmp(nc.admin_socket, oc->admin_socket) != 0 || nc.admin_mode != oc->admin_mode
                      || nc.admin_has_listen != oc->admin_has_listen
                      || (nc.admin_has_listen && !addr_equal(&nc.admin_listen, &oc->admin_listen))
                      || strcmp(nc.admin_password, oc->admin_password) != 0,
                  "the admin settings need a restart");
    NEEDS_RESTART(nc.bpf != oc->bpf, "bpf needs a restart");
    NEEDS_RESTART(strcmp(nc.log_file, oc->log_file) != 0, "log_file needs a restart (SIGUSR1 reopens it)");
    if (nc.npools != oc->npools) {
        NEEDS_RESTART(1, "pools added or removed (%d -> %d) need a restart; no pool setting applied", oc->npools,
                      nc.npools);
        pools_kept = 0;
    }
    for (int i = 0; i < nc.npools && pools_kept; i++)
        if (strcmp(nc.pools[i].name, oc->pools[i].name) != 0) {
            NEEDS_RESTART(1, "pools renamed or reordered need a restart; no pool setting applied");
            pools_kept = 0;
        }
    for (int i = 0; i < nc.npools && pools_kept; i++) {
        struct pool_conf *n = &nc.pools[i], *o = &oc->pools[i];
        if (n->mode != o->mode) {   /* nothing of this pool applies: keep it whole */
            NEEDS_RESTART(1, "pool %s: mode needs a restart; its settings are not applied", o->name);
            struct pool_conf t = *n;
            *n = *o;
            /* the running pools are read under cfg_lock (workers, the admin side) */
            pthread_mutex_lock(&d->cfg_lock);
            *o = t;   /* ownership swaps too: nc now holds what it frees later */
            pthread_mutex_unlock(&d->cfg_lock);
            continue;
        }
        if (!same_listeners(n, o)) {
            NEEDS_RESTART(1, "pool %s: listen (%s%s -> %s%s) needs a restart", o->name, o->listen.text,
                          o->nlistens > 1 ? ", ..." : "", n->listen.text, n->nlistens > 1 ? ", ..." : "");
            memcpy(n->listens, o->listens, sizeof n->listens);
            n->nlistens = o->nlistens;
            n->listen = o->listen;
        }
        /* the running pools are not written here (a worker may be copying
         * them): the new ones share the old contexts, each owning a reference */
        if ((n->tls == NULL) != (o->tls == NULL)) {   /* its listeners stay as they are, and so their certificates */
            NEEDS_RESTART(1, "pool %s: tls added or removed needs a restart", o->name);
            tls_conf_free(n->tls);
            tls_conf_hold(n->tls = o->tls);
        }
        if ((n->server_tls == NULL) != (o->server_tls == NULL)) {   /* open connections could not follow */
            NEEDS_RESTART(1, "pool %s: server_tls added or removed needs a restart", o->name);
            tls_conf_free(n->server_tls);
            tls_conf_hold(n->server_tls = o->server_tls);
        }
        if (n->mode == MODE_REDIS) {
            NEEDS_RESTART(n->server_connections != o->server_connections,
                          "pool %s: server_connections needs a restart", o->name);
            n->server_connections = o->server_connections;
            /* (each server's per-database connections are sized by it) */
            NEEDS_RESTART(n->databases != o->databases, "pool %s: databases (%d -> %d) needs a restart", o->name,
                          o->databases, n->databases);
            n->databases = o->databases;
            int nc_cluster = strcmp(n->distribution, "cluster") == 0, oc_cluster = strcmp(o->distribution, "cluster") == 0;
            NEEDS_RESTART(nc_cluster != oc_cluster, "pool %s: distribution to or from \"cluster\" needs a restart",
                          o->name);
            if (nc_cluster != oc_cluster)
                memcpy(n->distribution, o->distribution, sizeof n->distribution);
        }
    }

    pthread_mutex_lock(&d->cfg_lock);
    gen = d->cfg_gen;   /* the old pools' generation */
    if (pools_kept) {   /* the new pools in, the old ones out to nc (retired below) */
        struct pool_conf *t = oc->pools;
        oc->pools = nc.pools;
        nc.pools = t;
    }
    oc->log_level = nc.log_level;
    oc->shutdown_timeout = nc.shutdown_timeout;
    log_level_max = oc->log_level;   /* before the workers look: their lines follow it */
    __atomic_add_fetch(&d->cfg_gen, 1, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&d->cfg_lock);
    if (pools_kept)
        retire(&nc, gen);
    else
        config_free(&nc);   /* its pools were never published: no worker saw them */
    reload_collect(d);   /* (what earlier reloads left, once the workers moved on) */
    if (restart)
        log_warn("reload: applied; %d change(s) above wait for a restart", restart);
    else
        log_info("reload: applied");
}
