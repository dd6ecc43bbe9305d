/* SPDX-License-Identifier: Apache-2.0 */
/* worker.c — worker threads: listeners, the accept coroutines, the loop, shutdown. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cluster.h"
#include "config_file.h"
#include "handover.h"
#include "log.h"
#include "rbuf.h"
#include "redis_acl.h"
#include "redis_client.h"
#include "redis_msg.h"
#include "redis_monitor.h"
#include "redis_pool.h"
#include "redis_route.h"
#include "redis_server.h"
#include "redis_tracking.h"
#include "tcp.h"
#include "tls.h"
#include "worker.h"
#include "worker_ctx.h"
#include "worker_publish.h"


/* Are the process's memory mappings (nearly) at vm.max_map_count?  Then an
 * mmap's ENOMEM is that, not a lack of memory. */
static int worker_maps_exhausted(void)
{
    FILE *f = fopen("/proc/sys/vm/max_map_count", "re");
    long limit = -1, maps = 0;
    int ch;

    if (f == NULL)
        return 0;
    if (fscanf(f, "%ld", &limit) != 1)
        limit = -1;
    fclose(f);
    if (limit <= 0 || (f = fopen("/proc/self/maps", "re")) == NULL)
        return 0;
    while ((ch = getc(f)) != EOF)
        maps += ch == '\n';
    fclose(f);
    return maps + 64 >= limit;
}

/*
 * The pool's listening socket in this worker: TCP listeners are opened by
 * every worker with SO_REUSEPORT, so the kernel spreads connections; a Unix
 * socket has one listener, in worker 0.  -1 (logged) on failure.
 */
static int open_listener(struct worker *w, const struct pool_conf *pc, const struct proxy_addr *a)
{
    int one = 1, fd;

    if (a->family == AF_UNIX && w->id != 0)
        return -2;   /* not this worker's */
    if ((fd = handover_take(a)) >= 0)
        return fd;   /* the same socket as the process we upgrade: nothing waiting in it is lost */
    fd = socket(a->family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        log_error("pool %s: socket: %s", pc->name, strerror(errno));
        return -1;
    }
    if (a->family == AF_UNIX) {
        struct stat st;
        if (stat(a->un.sun_path, &st) == 0 && S_ISSOCK(st.st_mode))
            unlink(a->un.sun_path);   /* a stale socket from an earlier run */
    } else {
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
        if (a->family == AF_INET6)
            setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    }
    if (bind(fd, &a->sa, a->len) != 0 || listen(fd, 4096) != 0) {
        log_error("pool %s: cannot listen on %s: %s", pc->name, a->text, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

struct acceptor {
    struct worker *w;
    struct pool_rt *p;
    int idx;                         /* which of the pool's listeners */
};

/* Accepts clients until the listener is closed, one coroutine each. */
static void *accept_main(void *arg)
{
    struct acceptor *a = arg;
    struct worker *w = a->w;
    struct pool_rt *p = a->p;

    co_enable_hook_sys();
    for (;;) {
        struct sockaddr_storage peer;
        socklen_t len = sizeof peer;
        struct stCoRoutineAttr_t attr = { .stack_size = 0, .share_stack = w->share };
        struct stCoRoutine_t *co;
        void *conn = NULL;
        SSL *ssl;
        int fd, ok;

        while (!w->stopping && worker_now_ms() < w->fd_pressure_until)
            usleep(FD_PRESSURE_PAUSE_MS * 1000);   /* parks this coroutine only */
        fd = accept4(p->listen_fds[a->idx], (struct sockaddr *)&peer, &len, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EBADF || errno == EINVAL || w->stopping)
                break;   /* the listener was closed: shutting down */
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
                worker_out_of_fds(w, p->conf->name, "accept", errno);
            continue;
        }
        if (p->conf->client_connections > 0
            && __atomic_add_fetch(&p->shared->clients, 1, __ATOMIC_RELAXED) > p->conf->client_connections) {
            static const char full[] = "-ERR max number of clients reached\r\n";
            __atomic_sub_fetch(&p->shared->clients, 1, __ATOMIC_RELAXED);
            p->stats.client_rejected++;
            log_debug("pool %s: client limit %d reached, closing a new client", p->conf->name,
                      p->conf->client_connections);
            if (p->conf->mode == MODE_REDIS)   /* tell it why, as Redis does */
                (void)!send(fd, full, sizeof full - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
            close(fd);
            continue;
        }
        p->stats.client_accepted++;
        /* made now, under the configuration it was accepted under (its
         * certificates: the connection holds them whatever a reload does) */
        ssl = p->conf->listens[a->idx].tls ? tls_new_server(p->conf->tls, fd) : NULL;
        ok = ssl != NULL || !p->conf->listens[a->idx].tls;
        if (ok && p->conf->mode == MODE_REDIS) {
            conn = redis_client_new(w, p, fd, ssl);
            ok = conn != NULL && co_create(&co, &attr, redis_client_main, conn) == 0;
        } else if (ok) {
            ok = tcp_conn_start(w, p, fd, ssl, (struct sockaddr *)&peer, len, &attr, &co) == 0;
        }
        if (!ok) {
            log_error("pool %s: out of memory for a new client", p->conf->name);
            tls_free(ssl);
            free(conn);
            if (p->conf->client_connections > 0)
                __atomic_sub_fetch(&p->shared->clients, 1, __ATOMIC_RELAXED);
            close(fd);
            continue;
        }
        w->conns++;
        p->stats.client_connections++;
        log_debug("pool %s: accepted client %d", p->conf->name, fd);
        co_resume(co);
    }
    return NULL;
}

/* jemalloc's control interface when it is the allocator (weak: NULL with libc's). */
extern int mallctl(const char *name, void *oldp, size_t *oldlenp, void *newp, size_t newlen)
    __attribute__((weak));

/* The worker's free buffers, argument arrays, pipes and messages go. */
static void drop_caches(struct worker *w)
{
    while (w->nbufs > 0)
        free(w->bufs[--w->nbufs]);
    while (w->nibufs > 0)
        free(w->ibufs[--w->nibufs]);
    while (w->nargvs > 0)
        free(w->argvs[--w->nargvs]);
    worker_pipes_close(w);
    msg_cache_free(w);
}

/* The worker has been idle a while: what its caches and the allocator's
 * thread cache kept from a burst goes back (to jemalloc, which returns it to
 * the system within a second). */
static void worker_trim(struct worker *w)
{
    drop_caches(w);
    for (int i = 0; i < w->d->cfg.npools; i++)
        if (w->pools[i].redis)
            redis_pool_trim(w->pools[i].redis);
    co_sharestack_trim(w->share);
    co_sharestack_trim(w->backend_share);
    co_trim();
    if (mallctl)
        mallctl("thread.tcache.flush", NULL, NULL, NULL, 0);
    log_debug("idle: caches trimmed");
}

/* Same servers, in the same order (weights aside)? */
static int same_servers(const struct pool_conf *a, const struct pool_conf *b)
{
    if (a->nservers != b->nservers)
        return 0;
    for (int i = 0; i < a->nservers; i++)
        if (!config_server_same(&a->servers[i], &b->servers[i]))
            return 0;
    return 1;
}

/* A tcp pool's new server list: the arrays indexed by server are rebuilt,
 * each kept server (same name and address) keeping its counters and its
 * open connections' count (those connections find it again by name as
 * they close). */
static int tcp_new_servers(struct pool_rt *p, const struct pool_conf *old)
{
    const struct pool_conf *pc = p->conf;
    int *active = calloc((size_t)pc->nservers, sizeof *active);
    struct server_stats *st = calloc((size_t)pc->nservers, sizeof *st);

    if (active == NULL || st == NULL) {
        free(active);
        free(st);
        return -1;
    }
    for (int i = 0; i < pc->nservers; i++)
        for (int j = 0; j < old->nservers; j++)
            if (config_server_same(&pc->servers[i], &old->servers[j])) {
                st[i] = p->server_stats[j];
                active[i] = p->active[j];
                st[i].connecting = 0;   /* a connect in progress counts where it started */
            }
    free(p->active);
    free(p->server_stats);
    p->active = active;
    p->server_stats = st;
    p->server_gen++;
    return 0;
}

/* Takes the pools' settings main published on reload.  The lists it
 * replaces stay valid while the worker says it holds them (worker_publish_held):
 * main frees a configuration no worker holds.  Never waits: if the admin
 * side holds the lock for a report, the next turn tries again. */
static void worker_apply_config(struct worker *w)
{
    struct daemon *d = w->d;
    unsigned gen;

    if (pthread_mutex_trylock(&d->cfg_lock) != 0)
        return;
    gen = d->cfg_gen;
    w->shutdown_timeout = d->cfg.shutdown_timeout;
    for (int i = 0; i < d->cfg.npools; i++) {
        struct pool_rt *p = &w->pools[i];
        struct pool_conf old = *p->conf;
        *p->conf = d->cfg.pools[i];
        if (p->redis) {
            if (redis_pool_reconfigure(p->redis) != 0) {   /* out of memory: it kept its servers */
                conf_pins_hold(&w->pins, gen);   /* for good: servers it made point into gen */
                *p->conf = old;
                continue;
            }
            if (p->conf->acl != old.acl)   /* (the old users stay readable until worker_publish_held) */
                acl_users_changed(p->redis);
        } else if (!same_servers(&old, p->conf) && tcp_new_servers(p, &old) != 0) {
            log_error("pool %s: out of memory for the new server list; keeping the old one", p->conf->name);
            *p->conf = old;
            continue;
        }
        p->conf_gen = gen;
    }
    worker_publish_held(w);   /* the new lists, and the old ones the pins still hold */
    pthread_mutex_unlock(&d->cfg_lock);
    worker_publish_counters(w, worker_now_ms());   /* the admin thread's lists: the new ones */
    worker_publish_held(w);   /* (main may free what the old ones were) */
    __atomic_store_n(&w->cfg_gen, gen, __ATOMIC_RELEASE);
    log_debug("configuration generation %u applied", gen);
}

int worker_all_applied(struct daemon *d, unsigned gen)
{
    for (int i = 0; i < d->cfg.threads; i++)
        if (__atomic_load_n(&d->workers[i].cfg_gen, __ATOMIC_ACQUIRE) != gen)
            return 0;
    return 1;
}

/* Where a hot key lives, for the hot keys' report. */
static void hot_key_server(void *pool, const char *key, size_t len, char *name)
{
    struct route r = route_of_key(pool, key, len, 0);

    snprintf(name, 64, "%s", r.server != NULL ? r.server->conf->name : "");
}

#define WORKER_TRIM_IDLE_MS 1000
#define WORKER_PUBLISH_MS 100

/* Once per loop turn (at most 100 ms apart): releases finished connections,
 * trims caches when idle, notices shutdown and ends the loop when drained. */
static int worker_tick(void *arg)
{
    struct worker *w = arg;
    uint64_t now = worker_now_ms();

    while (w->ndead > 0)
        co_release(w->dead[--w->ndead]);
    if (__atomic_load_n(&w->d->cfg_gen, __ATOMIC_ACQUIRE) != w->cfg_gen)
        worker_apply_config(w);
    if (now - w->snap_at >= WORKER_PUBLISH_MS)
        worker_publish_counters(w, now);
    if (w->pins.changed)   /* (connections that ended let go of theirs) */
        worker_publish_held(w);
    if (__atomic_load_n(&w->list_req, __ATOMIC_ACQUIRE) != w->list_done)
        worker_publish_clients(w);
    if (__atomic_load_n(&w->nkill, __ATOMIC_ACQUIRE) != 0)
        worker_publish_kills(w);
    if (__atomic_load_n(&w->ninval, __ATOMIC_ACQUIRE) != 0)
        worker_take_invalidations(w, tracking_deliver);
    for (int i = 0; i < w->d->cfg.npools; i++) {
        if (w->pools[i].redis != NULL && w->pools[i].redis->cluster != NULL)
            cluster_tick(w->pools[i].redis, now);
        if (w->pools[i].redis != NULL)
            monitor_tick(w->pools[i].redis, now, hot_key_server);
    }
    if (w->activity != w->activity_seen) {
        w->activity_seen = w->activity;
        w->idle_since = now;
        w->trimmed = 0;
    } else if (!w->trimmed && now - w->idle_since >= WORKER_TRIM_IDLE_MS) {
        worker_trim(w);
        w->trimmed = 1;
    }

    if (!w->stopping && __atomic_load_n(&w->d->stop, __ATOMIC_RELAXED)) {
        w->stopping = 1;
        w->stop_deadline = worker_now_ms() + (uint64_t)w->shutdown_timeout;
        for (int i = 0; i < w->d->cfg.npools; i++) {
            for (int k = 0; k < POOL_MAX_LISTEN; k++)
                if (w->pools[i].listen_fds[k] >= 0) {
                    close(w->pools[i].listen_fds[k]);   /* wakes the accept coroutine with EBADF */
                    w->pools[i].listen_fds[k] = -1;
                }
        }
        for (int i = 0; i < w->d->cfg.npools; i++)
            if (w->pools[i].redis)
                redis_client_stop_all(w->pools[i].redis);
        log_info("stopping: %d connection(s) open, waiting up to %d ms", w->conns,
                 w->shutdown_timeout);
    }
    if (w->stopping) {
        if (w->conns == 0)
            return 1;
        if (worker_now_ms() >= w->stop_deadline) {
            log_warn("shutdown timeout: exiting with %d connection(s) still open", w->conns);
            return 1;
        }
    }
    return 0;
}

/* pin_threads: worker i runs on CPU i (modulo the CPUs online). */
static void pin_to_cpu(struct worker *w)
{
    cpu_set_t set;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    CPU_ZERO(&set);
    CPU_SET((int)(w->id % (ncpu > 0 ? ncpu : 1)), &set);
    int e = pthread_setaffinity_np(pthread_self(), sizeof set, &set);
    if (e != 0)
        log_warn("cannot pin to CPU %ld: %s%s", w->id % (ncpu > 0 ? ncpu : 1), strerror(e),
                 e == EPERM ? " (under systemd, allow it: SystemCallFilter=sched_setaffinity)" : "");
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct daemon *d = w->d;
    char name[16];
    struct stCoRoutine_t **acceptors;
    struct acceptor *acc;
    int ok = 1;

    snprintf(name, sizeof name, "w%d", w->id);
    log_set_thread(name);
    w->pipe_size = worker_pipe_size_allowed();
    if (d->cfg.pin_threads)
        pin_to_cpu(w);
    w->share = co_alloc_sharestack(d->cfg.shared_stacks, d->cfg.stack_size);
    w->backend_share = co_alloc_sharestack(WORKER_BACKEND_STACKS, WORKER_BACKEND_STACK);
    w->pools = calloc((size_t)d->cfg.npools, sizeof *w->pools);
    pthread_mutex_lock(&d->cfg_lock);
    w->confs = malloc((size_t)d->cfg.npools * sizeof *w->confs);
    if (w->confs)
        memcpy(w->confs, d->cfg.pools, (size_t)d->cfg.npools * sizeof *w->confs);
    w->shutdown_timeout = d->cfg.shutdown_timeout;
    w->cfg_gen = d->cfg_gen;
    for (int i = 0; w->pools != NULL && i < d->cfg.npools; i++)
        w->pools[i].conf_gen = w->cfg_gen;
    if (w->pools != NULL)
        worker_publish_held(w);   /* (before main may replace them) */
    pthread_mutex_unlock(&d->cfg_lock);
    acceptors = calloc((size_t)d->cfg.npools * POOL_MAX_LISTEN, sizeof *acceptors);
    acc = calloc((size_t)d->cfg.npools * POOL_MAX_LISTEN, sizeof *acc);
    if (w->share == NULL || w->backend_share == NULL || w->pools == NULL || w->confs == NULL || acceptors == NULL || acc == NULL) {
        log_error("out of memory starting the worker%s", worker_maps_exhausted() ? ": the process has used up its "
                  "memory mappings (sysctl vm.max_map_count); use fewer threads or coroutines.shared_stacks" : "");
        __atomic_store_n(&d->failed, 1, __ATOMIC_RELAXED);
        return NULL;
    }
    for (int i = 0; i < d->cfg.npools; i++) {
        struct pool_rt *p = &w->pools[i];
        p->conf = &w->confs[i];
        p->shared = &d->pools[i];
        p->rr = (unsigned)w->id;   /* workers start their round-robin apart */
        p->active = calloc((size_t)p->conf->nservers, sizeof *p->active);
        p->server_stats = calloc((size_t)p->conf->nservers, sizeof *p->server_stats);
        if (p->active == NULL || p->server_stats == NULL)
            ok = 0;
        for (int k = 0; k < POOL_MAX_LISTEN; k++) {
            p->listen_fds[k] = k < p->conf->nlistens ? open_listener(w, p->conf, &p->conf->listens[k].addr) : -1;
            if (p->listen_fds[k] == -1 && k < p->conf->nlistens)
                ok = 0;
        }
        if (ok && p->conf->mode == MODE_REDIS
            && ((p->redis = redis_pool_new(w, p)) == NULL || (p->redis->mon = redis_monitor_new()) == NULL))
            ok = 0;
    }
    if (!ok) {
        __atomic_store_n(&d->failed, 1, __ATOMIC_RELAXED);
        __atomic_add_fetch(&d->listening, 1, __ATOMIC_RELEASE);
        return NULL;
    }
    worker_publish_init(w);   /* (a failure only costs the admin view) */
    for (int i = 0; i < d->cfg.npools * POOL_MAX_LISTEN; i++) {
        struct pool_rt *p = &w->pools[i / POOL_MAX_LISTEN];
        if (p->listen_fds[i % POOL_MAX_LISTEN] < 0)
            continue;
        acc[i] = (struct acceptor){ w, p, i % POOL_MAX_LISTEN };
        co_create(&acceptors[i], NULL, accept_main, &acc[i]);
        co_resume(acceptors[i]);
    }
    __atomic_add_fetch(&d->listening, 1, __ATOMIC_RELEASE);
    co_eventloop(co_get_epoll_ct(), worker_tick, w);
    for (int i = 0; i < d->cfg.npools * POOL_MAX_LISTEN; i++)
        if (acceptors[i] && co_is_finished(acceptors[i]))
            co_release(acceptors[i]);
    while (w->ndead > 0)
        co_release(w->dead[--w->ndead]);
    drop_caches(w);
    worker_publish_fini(w);
    conf_pins_free(&w->pins);
    return NULL;
}

int worker_start_all(struct daemon *d)
{
    d->workers = calloc((size_t)d->cfg.threads, sizeof *d->workers);
    if (d->workers == NULL)
        return -1;
    for (int i = 0; i < d->cfg.threads; i++) {
        struct worker *w = &d->workers[i];
        w->id = i;
        w->d = d;
        pthread_mutex_init(&w->snap_lock, NULL);
        if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
            log_error("cannot start worker %d: %s", i, strerror(errno));
            return -1;
        }
    }
    while (__atomic_load_n(&d->listening, __ATOMIC_ACQUIRE) < d->cfg.threads)
        usleep(1000);
    return __atomic_load_n(&d->failed, __ATOMIC_RELAXED) ? -1 : 0;
}

void worker_join_all(struct daemon *d)
{
    for (int i = 0; i < d->cfg.threads; i++)
        pthread_join(d->workers[i].thread, NULL);
}
