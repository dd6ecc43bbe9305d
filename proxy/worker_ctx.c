/* SPDX-License-Identifier: Apache-2.0 */
/* worker_ctx.c — what a worker's code below it uses: the clock, buffer and pipe caches, fd pressure, retiring coroutines. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "worker_ctx.h"

uint64_t worker_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t worker_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

char *worker_buf_get(struct worker *w)
{
    return w->nbufs > 0 ? w->bufs[--w->nbufs] : malloc(WORKER_BUF_SIZE);
}

void worker_buf_put(struct worker *w, char *buf)
{
    if (buf == NULL)
        return;
    if (w->nbufs < WORKER_BUF_CACHE)
        w->bufs[w->nbufs++] = buf;
    else
        free(buf);
}

char *worker_ibuf_get(struct worker *w, size_t *cap)
{
    *cap = WORKER_IBUF_SIZE;
    return w->nibufs > 0 ? w->ibufs[--w->nibufs] : malloc(WORKER_IBUF_SIZE);
}

void worker_ibuf_put(struct worker *w, char *buf, size_t cap)
{
    if (cap == WORKER_IBUF_SIZE && w->nibufs < WORKER_IBUF_CACHE)
        w->ibufs[w->nibufs++] = buf;
    else
        free(buf);   /* grown for a big request: not kept */
}

void worker_args_get(struct worker *w, struct resp_arg **args, uint32_t *cap)
{
    if (w->nargvs > 0) {
        w->nargvs--;
        *args = w->argvs[w->nargvs];
        *cap = w->argv_caps[w->nargvs];
    } else {
        *args = NULL;   /* the parser allocates one */
        *cap = 0;
    }
}

void worker_args_put(struct worker *w, struct resp_arg *args, uint32_t cap)
{
    if (cap <= 1024 && w->nargvs < WORKER_ARGV_CACHE) {
        w->argvs[w->nargvs] = args;
        w->argv_caps[w->nargvs] = cap;
        w->nargvs++;
    } else {
        free(args);
    }
}

/* The size to grow pipes to: WORKER_PIPE_SIZE, or fs.pipe-max-size if
 * that is less (without CAP_SYS_RESOURCE a pipe cannot grow past it). */
int worker_pipe_size_allowed(void)
{
    FILE *f = fopen("/proc/sys/fs/pipe-max-size", "r");
    long max = 0;

    if (f != NULL) {
        if (fscanf(f, "%ld", &max) != 1)
            max = 0;
        fclose(f);
    }
    return max >= 4096 && max < WORKER_PIPE_SIZE ? (int)max : WORKER_PIPE_SIZE;
}

int worker_pipe_get(struct worker *w, int p[2])
{
    uint64_t now;

    if (w->npipes > 0) {
        w->npipes--;
        p[0] = w->pipes[w->npipes][0];
        p[1] = w->pipes[w->npipes][1];
        return 0;
    }
    if (w->pipes_refused_until != 0 && worker_now_ms() < w->pipes_refused_until)
        return -1;
    if (pipe2(p, O_CLOEXEC | O_NONBLOCK) == 0) {
        int min = w->pipe_size < WORKER_PIPE_MIN ? w->pipe_size : WORKER_PIPE_MIN;
        /* past the user's pipe budget the kernel refuses to grow it, and
         * made it tiny (two slots): copying is then faster than splicing */
        if (fcntl(p[1], F_SETPIPE_SZ, w->pipe_size) >= 0 || fcntl(p[1], F_GETPIPE_SZ) >= min)
            return 0;
        close(p[0]);
        close(p[1]);
        p[0] = p[1] = -1;
        now = worker_now_ms();
        if (w->last_pipe_log == 0 || now - w->last_pipe_log >= 60000) {
            log_warn("tcp relay: this user's pipe budget is spent (sysctl fs.pipe-user-pages-soft); "
                     "copying instead of splice(2) for now");
            w->last_pipe_log = now;
        }
    } else {
        now = worker_now_ms();   /* (out of fds: the accept loop says so) */
    }
    w->pipes_refused_until = now + WORKER_PIPE_PAUSE_MS;
    return -1;
}

/* Closes the pipes kept for reuse (they count against the user's pipe budget). */
void worker_pipes_close(struct worker *w)
{
    while (w->npipes > 0) {
        w->npipes--;
        close(w->pipes[w->npipes][0]);
        close(w->pipes[w->npipes][1]);
    }
}

void worker_pipe_put(struct worker *w, int p[2], int empty)
{
    if (p[0] < 0)
        return;
    if (empty && w->npipes < WORKER_PIPE_CACHE) {
        w->pipes[w->npipes][0] = p[0];
        w->pipes[w->npipes][1] = p[1];
        w->npipes++;
    } else {
        close(p[0]);
        close(p[1]);
    }
    p[0] = p[1] = -1;
}

void worker_out_of_fds(struct worker *w, const char *pool, const char *what, int err)
{
    uint64_t now = worker_now_ms();

    w->fd_pressure_until = now + FD_PRESSURE_PAUSE_MS;
    if (now - w->last_emfile_log >= 1000) {
        log_error("pool %s: out of file descriptors (%s: %s); pausing accept "
                  "(raise LimitNOFILE / ulimit -n)", pool, what, strerror(err));
        w->last_emfile_log = now;
    }
}

void worker_retire(struct worker *w, struct stCoRoutine_t *co)
{
    if (w->ndead == w->dead_cap) {
        int cap = w->dead_cap ? w->dead_cap * 2 : 64;
        struct stCoRoutine_t **grown = realloc(w->dead, (size_t)cap * sizeof *grown);
        if (grown == NULL)
            return;   /* leaks one finished coroutine rather than fail */
        w->dead = grown;
        w->dead_cap = cap;
    }
    w->dead[w->ndead++] = co;
}

/* This worker's client asks every worker for its CLIENT LIST lines (the
 * other workers answer from their loop: worker_publish_clients). */
int worker_client_lists(struct worker *self, int pool, struct rbuf *out)
{
    struct daemon *d = self->d;
    unsigned *want = calloc((size_t)d->cfg.threads, sizeof *want);
    uint64_t deadline = worker_now_ms() + 2000;
    int rc = 0;

    if (want == NULL)
        return -1;
    for (int i = 0; i < d->cfg.threads; i++) {
        struct worker *o = &d->workers[i];
        if (o == self)
            continue;
        pthread_mutex_lock(&o->snap_lock);
        want[i] = o->list_req + 1;
        __atomic_store_n(&o->list_req, want[i], __ATOMIC_RELEASE);
        pthread_mutex_unlock(&o->snap_lock);
    }
    for (int i = 0; i < d->cfg.threads && rc == 0; i++) {
        struct worker *o = &d->workers[i];
        for (int answered = o == self; !answered;) {
            pthread_mutex_lock(&o->snap_lock);
            if ((int)(o->list_done - want[i]) >= 0) {
                answered = 1;
                if (o->list_out != NULL)
                    rc = rbuf_append(out, o->list_out[pool].data, o->list_out[pool].len);
            }
            pthread_mutex_unlock(&o->snap_lock);
            if (answered || worker_now_ms() >= deadline)
                break;
            usleep(5 * 1000);   /* hooked: parks this coroutine only */
        }
    }
    free(want);
    return rc;
}

int worker_kill_client(struct worker *self, uint64_t id)
{
    struct worker *o = &self->d->workers[id % 1024 % (uint64_t)self->d->cfg.threads];
    int rc = 0;

    pthread_mutex_lock(&o->snap_lock);
    if (o->nkill == o->cap_kill) {
        uint32_t cap = o->cap_kill ? 2 * o->cap_kill : 8;
        uint64_t *grown = realloc(o->kill_ids, cap * sizeof *grown);
        if (grown == NULL)
            rc = -1;
        else {
            o->kill_ids = grown;
            o->cap_kill = cap;
        }
    }
    if (rc == 0) {
        o->kill_ids[o->nkill] = id;
        __atomic_store_n(&o->nkill, o->nkill + 1, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&o->snap_lock);
    return rc;
}

int worker_send_invalidation(struct worker *self, uint64_t id, const char *p, size_t n)
{
    struct worker *o = &self->d->workers[id % 1024 % (uint64_t)self->d->cfg.threads];
    uint32_t len = (uint32_t)n;
    int rc;

    pthread_mutex_lock(&o->snap_lock);
    rc = rbuf_reserve(&o->inval, sizeof id + sizeof len + n);
    if (rc == 0) {
        rbuf_append(&o->inval, &id, sizeof id);
        rbuf_append(&o->inval, &len, sizeof len);
        rbuf_append(&o->inval, p, n);
        __atomic_store_n(&o->ninval, o->ninval + 1, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&o->snap_lock);
    return rc;
}

void worker_take_invalidations(struct worker *w, void (*deliver)(struct worker *w, uint64_t id, const char *p,
                                                                 size_t n))
{
    struct rbuf got;
    size_t at = 0;

    pthread_mutex_lock(&w->snap_lock);
    got = w->inval;
    w->inval = (struct rbuf){ 0 };
    __atomic_store_n(&w->ninval, 0, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&w->snap_lock);
    while (at + sizeof(uint64_t) + sizeof(uint32_t) <= got.len) {
        uint64_t id;
        uint32_t len;
        memcpy(&id, got.data + at, sizeof id);
        memcpy(&len, got.data + at + sizeof id, sizeof len);
        at += sizeof id + sizeof len;
        deliver(w, id, got.data + at, len);
        at += len;
    }
    rbuf_free(&got);
}

int worker_pool_clients(struct worker *self, int pool)
{
    long n = (long)self->pools[pool].stats.client_connections;

    for (int i = 0; i < self->d->cfg.threads; i++) {
        struct worker *o = &self->d->workers[i];
        if (o == self)
            continue;
        pthread_mutex_lock(&o->snap_lock);
        if (o->snap_pools != NULL)
            n += (long)o->snap_pools[pool].client_connections;
        pthread_mutex_unlock(&o->snap_lock);
    }
    return (int)n;
}
