/* admin.c — the admin socket: a thread of its own answering PING, STATS, INFO, METRICS and tables over RESP. */
#define _GNU_SOURCE
#include <errno.h>
#include <libgen.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "admin.h"
#include "costack.h"
#include "log.h"
#include "report.h"
#include "worker.h"

/*
 * The admin side never touches a worker's memory except through
 * worker_snapshot (a copy taken under a lock the worker holds ten times a
 * second).  It runs its own event loop in its own thread, one coroutine per
 * admin client, so a slow or hostile admin client harms nobody: requests
 * are small and bounded, and garbage closes that client.
 */

#define ADMIN_MAX_REQUEST 4096
#define ADMIN_MAX_CLIENTS 64

static struct {
    struct daemon *d;
    pthread_t thread;
    int fd;
    int clients;
    struct stCoRoutine_t *done[ADMIN_MAX_CLIENTS];   /* finished clients, released each turn */
    int ndone;
    uint64_t started_ms;
    char path[108];
} admin = { .fd = -1 };

static int reply(int fd, struct rbuf *o)
{
    return send(fd, o->data, o->len, MSG_NOSIGNAL) == (ssize_t)o->len ? 0 : -1;
}

/* The command in r (args into req): its reply appended to o. */
static void answer(const char *req, const struct resp_request *r, struct rbuf *o, int *quit)
{
    const struct resp_arg *a = r->args;
    char cmd[16], section[32] = "";
    struct report rep;
    struct rbuf body = { 0 };
    int err;

    snprintf(cmd, sizeof cmd, "%.*s", (int)(a[0].len < 15 ? a[0].len : 15), req + a[0].off);
    if (r->argc > 1)
        snprintf(section, sizeof section, "%.*s", (int)(a[1].len < 31 ? a[1].len : 31), req + a[1].off);
    if (strcasecmp(cmd, "PING") == 0) {
        rbuf_printf(o, "+PONG\r\n");
        return;
    }
    if (strcasecmp(cmd, "QUIT") == 0) {
        rbuf_printf(o, "+OK\r\n");
        *quit = 1;
        return;
    }
    if (strcasecmp(cmd, "STATS") != 0 && strcasecmp(cmd, "INFO") != 0 && strcasecmp(cmd, "METRICS") != 0
        && strcasecmp(cmd, "POOLS") != 0 && strcasecmp(cmd, "BACKENDS") != 0 && strcasecmp(cmd, "THREADS") != 0) {
        rbuf_printf(o, "-ERR unknown admin command '%s' (PING, STATS, INFO [section], METRICS, POOLS, "
                    "BACKENDS, THREADS, QUIT)\r\n", cmd);
        return;
    }
    if (report_gather(&rep, admin.d, admin.started_ms) != 0) {
        rbuf_printf(o, "-ERR out of memory\r\n");
        return;
    }
    if (strcasecmp(cmd, "STATS") == 0)
        err = report_json(&rep, &body);
    else if (strcasecmp(cmd, "INFO") == 0)
        err = report_info(&rep, r->argc > 1 ? section : NULL, &body);
    else if (strcasecmp(cmd, "POOLS") == 0)
        err = report_pools(&rep, &body);
    else if (strcasecmp(cmd, "BACKENDS") == 0)
        err = report_backends(&rep, &body);
    else if (strcasecmp(cmd, "THREADS") == 0)
        err = report_threads(&rep, &body);
    else
        err = report_metrics(&rep, &body);
    report_free(&rep);
    if (err == 0 && rbuf_reserve(o, resp_write_bulk_len(body.len)) == 0)
        o->len += resp_write_bulk(o->data + o->len, body.data, body.len);
    else
        rbuf_printf(o, "-ERR out of memory\r\n");
    rbuf_free(&body);
}

static void *admin_client(void *arg)
{
    int fd = (int)(intptr_t)arg, quit = 0;
    struct resp_limits lim = { .max_multibulk = 8, .max_bulk = 256, .max_inline = ADMIN_MAX_REQUEST };
    struct resp_request r = { 0 };
    char buf[ADMIN_MAX_REQUEST];
    size_t len = 0;

    co_enable_hook_sys();
    while (!quit) {
        ssize_t n = recv(fd, buf + len, sizeof buf - len, 0);   /* parks this client only */
        size_t off = 0;
        struct rbuf out = { 0 };

        if (n <= 0)
            break;
        len += (size_t)n;
        for (;;) {
            int st = resp_parse_request(&r, buf + off, len - off, &lim);
            if (st == RESP_AGAIN)
                break;
            if (st == RESP_ERROR) {
                rbuf_printf(&out, "-ERR Protocol error: %s\r\n", r.error ? r.error : "malformed request");
                quit = 1;
                break;
            }
            if (r.argc > 0)
                answer(buf + off, &r, &out, &quit);
            off += r.size;
            resp_request_reset(&r);
            if (quit)
                break;
        }
        if (out.len > 0 && reply(fd, &out) != 0)
            quit = 1;
        rbuf_free(&out);
        memmove(buf, buf + off, len - off);
        len -= off;
        if (len == sizeof buf) {   /* a request that cannot be this long */
            static const char big[] = "-ERR Protocol error: request too long\r\n";
            (void)!send(fd, big, sizeof big - 1, MSG_NOSIGNAL);
            break;
        }
    }
    resp_request_free(&r);
    close(fd);
    admin.clients--;
    admin.done[admin.ndone++] = co_self();   /* at most one per client slot */
    return NULL;
}

static void *admin_accept(void *arg)
{
    (void)arg;
    co_enable_hook_sys();
    for (;;) {
        int fd = accept4(admin.fd, NULL, NULL, SOCK_CLOEXEC);
        struct stCoRoutine_t *co;

        if (fd < 0) {
            if (errno == EBADF || errno == EINVAL)
                break;
            usleep(100 * 1000);   /* out of fds: try again later, without spinning */
            continue;
        }
        if (admin.clients >= ADMIN_MAX_CLIENTS || co_create(&co, NULL, admin_client, (void *)(intptr_t)fd) != 0) {
            static const char busy[] = "-ERR too many admin clients\r\n";
            (void)!send(fd, busy, sizeof busy - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
            close(fd);
            continue;
        }
        admin.clients++;
        co_resume(co);
    }
    return NULL;
}

static int admin_tick(void *arg)
{
    (void)arg;
    while (admin.ndone > 0)   /* their stacks go back to the thread's cache */
        co_release(admin.done[--admin.ndone]);
    return __atomic_load_n(&admin.d->stop, __ATOMIC_RELAXED) != 0;
}

static void *admin_main(void *arg)
{
    struct stCoRoutine_t *acceptor;

    (void)arg;
    log_set_thread("admin");
    if (co_create(&acceptor, NULL, admin_accept, NULL) != 0) {
        log_error("admin: out of memory");
        return NULL;
    }
    co_resume(acceptor);
    co_eventloop(co_get_epoll_ct(), admin_tick, NULL);
    return NULL;
}

/* Makes the socket's directory (one level, as /run/coproxy) if it is missing. */
static void make_parent(const char *path)
{
    char dir[108];

    snprintf(dir, sizeof dir, "%s", path);
    if (mkdir(dirname(dir), 0755) != 0 && errno != EEXIST)
        log_warn("admin: cannot create the directory of %s: %s", path, strerror(errno));
}

int admin_start(struct daemon *d)
{
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    const char *path = d->cfg.admin_socket;
    struct stat st;

    if (path[0] == '\0')
        return 0;   /* no admin socket configured */
    admin.d = d;
    admin.started_ms = worker_now_ms();
    snprintf(admin.path, sizeof admin.path, "%s", path);
    snprintf(sun.sun_path, sizeof sun.sun_path, "%s", path);
    make_parent(path);
    if (stat(path, &st) == 0 && S_ISSOCK(st.st_mode))
        unlink(path);   /* a stale socket from an earlier run */
    admin.fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (admin.fd < 0 || bind(admin.fd, (struct sockaddr *)&sun, sizeof sun) != 0
        || chmod(path, (mode_t)d->cfg.admin_mode) != 0 || listen(admin.fd, 64) != 0) {
        log_error("admin: cannot listen on %s: %s", path, strerror(errno));
        if (admin.fd >= 0)
            close(admin.fd);
        admin.fd = -1;
        return -1;
    }
    if (pthread_create(&admin.thread, NULL, admin_main, NULL) != 0) {
        log_error("admin: cannot start its thread");
        close(admin.fd);
        admin.fd = -1;
        return -1;
    }
    log_info("admin socket on %s (mode %03o)", path, d->cfg.admin_mode);
    return 0;
}

void admin_stop(void)
{
    if (admin.fd < 0)
        return;
    pthread_join(admin.thread, NULL);   /* its loop ends once d->stop is set */
    close(admin.fd);
    unlink(admin.path);
    admin.fd = -1;
}
