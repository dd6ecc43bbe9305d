/* SPDX-License-Identifier: Apache-2.0 */
/* admin.c — the admin socket and port: a thread of its own answering PING, STATS, INFO, METRICS and tables over RESP. */
#define _GNU_SOURCE
#include <errno.h>
#include <libgen.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "admin.h"
#include "admin_http.h"
#include "handover.h"
#include "costack.h"
#include "log.h"
#include "monitor_report.h"
#include "rbuf.h"
#include "report.h"
#include "resp.h"
#include "worker.h"
#include "worker_ctx.h"

/*
 * The admin side never touches a worker's memory except through
 * worker_snapshot (a copy taken under a lock the worker holds ten times a
 * second).  It runs its own event loop in its own thread, one coroutine per
 * admin client, so a slow or hostile admin client harms nobody: requests
 * are small and bounded, and garbage closes that client.
 */

#define ADMIN_MAX_REQUEST 4096
#define ADMIN_MAX_CLIENTS 64
#define ADMIN_TCP_CLIENTS 48      /* the rest are kept for the Unix socket */
#define ADMIN_IDLE_MS 300000      /* an authenticated client with nothing pending */
#define ADMIN_PARTIAL_MS 10000    /* a half-sent request */
#define ADMIN_AUTH_MS 10000       /* from connect: to authenticate, or to send an HTTP head */
#define ADMIN_AUTH_TRIES 3        /* wrong passwords before the connection is closed */

struct admin_listener {
    int fd;
    int tcp;                      /* the TCP port: password and HTTP apply */
};

static struct {
    struct daemon *d;
    pthread_t thread;
    int running;
    struct admin_listener l[2];
    int nl;
    int clients, tcp_clients;     /* slots held: from accept to release */
    struct { struct stCoRoutine_t *co; int tcp; } done[ADMIN_MAX_CLIENTS];   /* finished, released each turn */
    int ndone;
    struct stCoRoutine_t *resuming;   /* a client being resumed by its acceptor */
    uint64_t started_ms;
    char path[108];               /* the Unix socket we made, removed at exit if still ours */
    dev_t dev;
    ino_t ino;
    int handed_over;              /* an upgrade took our sockets: the path stays */
} admin;

static int reply(int fd, struct rbuf *o)
{
    return send(fd, o->data, o->len, MSG_NOSIGNAL) == (ssize_t)o->len ? 0 : -1;
}

/* The command in r (args into req): its reply appended to o. */
static void answer(const char *req, const struct resp_request *r, struct rbuf *o, int *quit, int *authed,
                   int *tries)
{
    const struct resp_arg *a = r->args;
    char cmd[16], section[32] = "";
    struct report rep;
    struct rbuf body = { 0 };
    int err;

    snprintf(cmd, sizeof cmd, "%.*s", (int)(a[0].len < 15 ? a[0].len : 15), req + a[0].off);
    if (r->argc > 1)
        snprintf(section, sizeof section, "%.*s", (int)(a[1].len < 31 ? a[1].len : 31), req + a[1].off);
    if (strcasecmp(cmd, "QUIT") == 0) {
        rbuf_printf(o, "+OK\r\n");
        *quit = 1;
        return;
    }
    if (strcasecmp(cmd, "AUTH") == 0) {   /* AUTH password, or AUTH user password as Redis 6 takes it */
        const struct resp_arg *pw = &a[r->argc - 1];
        if (r->argc < 2 || r->argc > 3)
            rbuf_printf(o, "-ERR wrong number of arguments for 'auth' command\r\n");
        else if (admin.d->cfg.admin_password[0] == '\0')
            rbuf_printf(o, "-ERR AUTH called without any password configured for the admin port\r\n");
        else if (admin_password_equal(req + pw->off, pw->len, admin.d->cfg.admin_password))
            rbuf_printf(o, "+OK\r\n"), *authed = 1;
        else
            rbuf_printf(o, "-WRONGPASS invalid password\r\n");
        if (!*authed && ++*tries >= ADMIN_AUTH_TRIES)
            *quit = 1;   /* guessing costs a new connection every few tries */
        return;
    }
    if (!*authed) {
        rbuf_printf(o, "-NOAUTH Authentication required.\r\n");
        if (++*tries >= ADMIN_AUTH_TRIES)
            *quit = 1;
        return;
    }
    if (strcasecmp(cmd, "PING") == 0) {
        rbuf_printf(o, "+PONG\r\n");
        return;
    }
    if (strcasecmp(cmd, "UPGRADE") == 0) {   /* main takes it as SIGUSR2 */
        if (__atomic_load_n(&admin.d->upgrade, __ATOMIC_ACQUIRE) == UPGRADE_RUNNING)
            rbuf_printf(o, "-ERR an upgrade is running already\r\n");
        else if (kill(getpid(), SIGUSR2) != 0)
            rbuf_printf(o, "-ERR cannot signal the daemon: %s\r\n", strerror(errno));
        else
            rbuf_printf(o, "+OK upgrading: STATS shows the new pid once it serves (the log says why if it does not)\r\n");
        return;
    }
    if (monitor_answer(admin.d, req, r, o))
        return;
    if (strcasecmp(cmd, "STATS") != 0 && strcasecmp(cmd, "INFO") != 0 && strcasecmp(cmd, "METRICS") != 0
        && strcasecmp(cmd, "POOLS") != 0 && strcasecmp(cmd, "BACKENDS") != 0 && strcasecmp(cmd, "THREADS") != 0
        && strcasecmp(cmd, "KERNEL") != 0) {
        rbuf_printf(o, "-ERR unknown admin command '%s' (PING, STATS, INFO [section], METRICS, POOLS, "
                    "BACKENDS, THREADS, KERNEL, SLOWLOG, HOTKEYS, BIGKEYS, TOP, UPGRADE, QUIT)\r\n", cmd);
        return;
    }
    /* the configuration stays put while the report reads it (reload takes this lock) */
    pthread_mutex_lock(&admin.d->cfg_lock);
    if (report_gather(&rep, admin.d, admin.started_ms) != 0) {
        pthread_mutex_unlock(&admin.d->cfg_lock);
        rbuf_printf(o, "-ERR out of memory\r\n");
        return;
    }
    if (r->argc > 1 && strcasecmp(section, "JSON") == 0
        && (strcasecmp(cmd, "POOLS") == 0 || strcasecmp(cmd, "BACKENDS") == 0 || strcasecmp(cmd, "THREADS") == 0
            || strcasecmp(cmd, "KERNEL") == 0)) {
        for (char *c = cmd; *c; c++)
            *c = (char)(*c | 0x20);   /* the table's name, in lower case */
        err = report_json_table(&rep, cmd, &body);
    } else if (strcasecmp(cmd, "STATS") == 0)
        err = report_json(&rep, &body);
    else if (strcasecmp(cmd, "INFO") == 0)
        err = report_info(&rep, r->argc > 1 ? section : NULL, &body);
    else if (strcasecmp(cmd, "POOLS") == 0)
        err = report_pools(&rep, &body);
    else if (strcasecmp(cmd, "BACKENDS") == 0)
        err = report_backends(&rep, &body);
    else if (strcasecmp(cmd, "THREADS") == 0)
        err = report_threads(&rep, &body);
    else if (strcasecmp(cmd, "KERNEL") == 0)
        err = report_kernel(&rep, &body);
    else
        err = report_metrics(&rep, &body) || monitor_metrics(admin.d, &body);
    report_free(&rep);
    pthread_mutex_unlock(&admin.d->cfg_lock);
    if (err == 0 && rbuf_reserve(o, resp_write_bulk_len(body.len)) == 0)
        o->len += resp_write_bulk(o->data + o->len, body.data, body.len);
    else
        rbuf_printf(o, "-ERR out of memory\r\n");
    rbuf_free(&body);
}

/* Prometheus' scrape over HTTP: what METRICS answers. */
static int metrics_body(struct rbuf *out)
{
    struct report rep;
    int err;

    pthread_mutex_lock(&admin.d->cfg_lock);
    err = report_gather(&rep, admin.d, admin.started_ms);
    if (err == 0) {
        err = report_metrics(&rep, out) || monitor_metrics(admin.d, out);
        report_free(&rep);
    }
    pthread_mutex_unlock(&admin.d->cfg_lock);
    return err;
}

/* A client with nothing left to say is dropped after a while; one that is
 * mid-request, or has yet to give the password, sooner.  (The hooks honour
 * SO_RCVTIMEO: recv gives up with EAGAIN.) */
static void set_timeout(int fd, int opt, int ms)
{
    struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

    setsockopt(fd, SOL_SOCKET, opt, &tv, sizeof tv);
}

static void *admin_client(void *arg)
{
    int fd = (int)((intptr_t)arg >> 1), tcp = (int)((intptr_t)arg & 1), quit = 0, first = 1, tries = 0;
    int authed = !tcp || admin.d->cfg.admin_password[0] == '\0', timeout = -1;
    struct resp_limits lim = { .max_multibulk = 8, .max_bulk = 256, .max_inline = ADMIN_MAX_REQUEST };
    struct resp_request r = { 0 };
    char buf[ADMIN_MAX_REQUEST + 1];   /* + 1: room for the HTTP side's terminating NUL */
    size_t len = 0;
    /* an absolute limit, not a per-read one: a client trickling bytes
     * cannot hold a slot without authenticating */
    uint64_t auth_deadline = worker_now_ms() + ADMIN_AUTH_MS;

    co_enable_hook_sys();
    set_timeout(fd, SO_SNDTIMEO, ADMIN_PARTIAL_MS);   /* a client that does not read its replies */
    while (!quit) {
        int want = len > 0 ? ADMIN_PARTIAL_MS : ADMIN_IDLE_MS;
        ssize_t n;
        size_t off = 0;
        struct rbuf out = { 0 };

        if (!authed || (first && tcp)) {
            uint64_t now = worker_now_ms();
            if (now >= auth_deadline)
                break;
            if ((int)(auth_deadline - now) < want)
                want = (int)(auth_deadline - now);
        }
        if (want != timeout)
            set_timeout(fd, SO_RCVTIMEO, timeout = want);
        n = recv(fd, buf + len, ADMIN_MAX_REQUEST - len, 0);   /* parks this client only */
        if (n <= 0)
            break;
        len += (size_t)n;
        if (first && tcp) {   /* Prometheus scrapes the TCP port over HTTP */
            int http = admin_http_sniff(buf, len);
            if (http < 0)
                continue;
            if (http > 0) {
                admin_http_serve(fd, buf, len, sizeof buf, admin.d->cfg.admin_password, auth_deadline, metrics_body);
                break;
            }
        }
        first = 0;
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
                answer(buf + off, &r, &out, &quit, &authed, &tries);
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
        if (len == ADMIN_MAX_REQUEST) {   /* a request that cannot be this long */
            static const char big[] = "-ERR Protocol error: request too long\r\n";
            (void)!send(fd, big, sizeof big - 1, MSG_NOSIGNAL);
            break;
        }
    }
    resp_request_free(&r);
    close(fd);
    /* Released by whoever resumed it: its acceptor at once, or the loop's
     * tick.  Its slot counts until then, so done[] never overflows. */
    if (admin.resuming != co_self()) {
        admin.done[admin.ndone].co = co_self();
        admin.done[admin.ndone++].tcp = tcp;
    }
    return NULL;
}

/* A client's slot, given back as its coroutine is released. */
static void release_client(struct stCoRoutine_t *co, int tcp)
{
    co_release(co);
    admin.clients--;
    admin.tcp_clients -= tcp;
}

static void *admin_accept(void *arg)
{
    const struct admin_listener *l = arg;

    co_enable_hook_sys();
    for (;;) {
        int fd = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC);
        struct stCoRoutine_t *co;

        if (fd < 0) {
            if (errno == EBADF || errno == EINVAL)
                break;
            usleep(100 * 1000);   /* out of fds: try again later, without spinning */
            continue;
        }
        if (admin.clients >= ADMIN_MAX_CLIENTS || (l->tcp && admin.tcp_clients >= ADMIN_TCP_CLIENTS)
            || co_create(&co, NULL, admin_client, (void *)(intptr_t)((fd << 1) | l->tcp)) != 0) {
            static const char busy[] = "-ERR too many admin clients\r\n";
            (void)!send(fd, busy, sizeof busy - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
            close(fd);
            continue;
        }
        admin.clients++;
        admin.tcp_clients += l->tcp;
        admin.resuming = co;
        co_resume(co);
        admin.resuming = NULL;
        if (co_is_finished(co))   /* it ran to its end without waiting */
            release_client(co, l->tcp);
    }
    return NULL;
}

static int admin_tick(void *arg)
{
    (void)arg;
    while (admin.ndone > 0) {   /* their stacks go back to the thread's cache */
        admin.ndone--;
        release_client(admin.done[admin.ndone].co, admin.done[admin.ndone].tcp);
    }
    return __atomic_load_n(&admin.d->stop, __ATOMIC_RELAXED) != 0;
}

static void *admin_main(void *arg)
{
    (void)arg;
    log_set_thread("admin");
    for (int i = 0; i < admin.nl; i++) {
        struct stCoRoutine_t *acceptor;
        if (co_create(&acceptor, NULL, admin_accept, &admin.l[i]) != 0) {
            log_error("admin: out of memory");
            return NULL;
        }
        co_resume(acceptor);
    }
    co_eventloop(co_get_epoll_ct(), admin_tick, NULL);
    /* closed here: the acceptors parked on them belong to this thread's loop,
     * which goes with the thread */
    for (int i = 0; i < admin.nl; i++) {
        close(admin.l[i].fd);
        admin.l[i].fd = -1;
    }
    return NULL;
}

/* Makes the socket's directory (one level, as /run/coproxy) if it is missing. */
static int make_parent(const char *path)
{
    char dir[108];

    snprintf(dir, sizeof dir, "%s", path);
    return mkdir(dirname(dir), 0755) != 0 && errno != EEXIST ? -1 : 0;
}

/* Is a daemon answering on the Unix socket at path? */
static int socket_in_use(const struct sockaddr_un *sun)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), live;

    if (fd < 0)
        return 0;
    live = connect(fd, (const struct sockaddr *)sun, sizeof *sun) == 0;
    close(fd);
    return live;
}

/* What a file that is not a socket is, for the log. */
static const char *file_kind(mode_t mode)
{
    return S_ISREG(mode) ? "a regular file" : S_ISDIR(mode) ? "a directory" : S_ISLNK(mode) ? "a symbolic link"
           : S_ISFIFO(mode) ? "a FIFO" : S_ISCHR(mode) || S_ISBLK(mode) ? "a device" : "some other file";
}

/* The Unix admin socket an upgrade handed us, if any (-1). */
static int admin_inherited_unix(const struct sockaddr_un *sun)
{
    struct proxy_addr a;

    memset(&a, 0, sizeof a);
    a.family = AF_UNIX;
    a.len = sizeof a.un;
    a.un = *sun;
    return handover_take(&a);
}

/* The Unix socket.  0 when it listens (or, for the default path, when it
 * cannot and the daemon goes on without it), -1 when it must not start.
 * Only a socket is ever replaced at the path (lstat: a symbolic link is not
 * followed): anything else there may be someone's data. */
static int open_unix(const struct config *cfg)
{
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    const char *path = cfg->admin_socket;
    const char *why = NULL;
    char what[128];
    struct stat st;
    int fd = -1, e = 0, exists;

    snprintf(sun.sun_path, sizeof sun.sun_path, "%s", path);
    if ((fd = admin_inherited_unix(&sun)) >= 0) {   /* an upgrade: the old process's own socket */
        if (stat(path, &st) != 0)
            memset(&st, 0, sizeof st);
    } else if (make_parent(path) != 0) {
        e = errno;
        why = "cannot create its directory";
    } else if ((exists = lstat(path, &st) == 0) && !S_ISSOCK(st.st_mode)) {
        snprintf(what, sizeof what, "the path exists and is %s, not a socket (left as it is)",
                 file_kind(st.st_mode));
        why = what;
    } else if (exists && socket_in_use(&sun)) {
        why = "another process is listening on it";
    } else if (exists && unlink(path) != 0 && errno != ENOENT) {   /* a stale socket from an earlier run */
        e = errno;
        why = "cannot remove the stale socket there";
    } else {
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || bind(fd, (struct sockaddr *)&sun, sizeof sun) != 0 || chmod(path, (mode_t)cfg->admin_mode) != 0
            || listen(fd, 64) != 0 || stat(path, &st) != 0) {
            e = errno;
            why = "cannot listen";
            if (fd >= 0)
                close(fd);
            fd = -1;
        }
    }
    if (fd < 0) {
        if (cfg->admin_socket_default) {   /* not asked for: the daemon runs without it */
            log_warn("admin: no admin socket at %s: %s%s%s (set admin.socket to choose another path)", path, why,
                     e ? ": " : "", e ? strerror(e) : "");
            return 0;
        }
        log_error("admin: admin.socket %s: %s%s%s", path, why, e ? ": " : "", e ? strerror(e) : "");
        return -1;
    }
    snprintf(admin.path, sizeof admin.path, "%s", path);
    admin.dev = st.st_dev;
    admin.ino = st.st_ino;
    admin.l[admin.nl++] = (struct admin_listener){ .fd = fd, .tcp = 0 };
    log_info("admin socket on %s (mode %03o)", path, cfg->admin_mode);
    return 0;
}

static int open_tcp(const struct config *cfg)
{
    const struct proxy_addr *a = &cfg->admin_listen;
    int fd = handover_take(a), one = 1;

    if (fd >= 0) {   /* an upgrade: the old process's own socket */
        admin.l[admin.nl++] = (struct admin_listener){ fd, 1 };
        return 0;
    }
    fd = socket(a->family, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0
        || (a->family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) != 0)
        || bind(fd, &a->sa, a->len) != 0 || listen(fd, 64) != 0) {
        log_error("admin: admin.listen %s: cannot listen: %s", a->text, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    admin.l[admin.nl++] = (struct admin_listener){ .fd = fd, .tcp = 1 };
    log_info("admin port on %s (%s)", a->text,
             cfg->admin_password[0] ? "password required" : "no password: loopback only");
    return 0;
}

static void close_listeners(void)
{
    struct stat st;

    for (int i = 0; i < admin.nl; i++)
        if (admin.l[i].fd >= 0)
            close(admin.l[i].fd);
    admin.nl = 0;
    /* Removed only if it is still the socket we made (not a later daemon's),
     * and not handed over to an upgrade (the same socket serves on there). */
    if (admin.path[0] && !admin.handed_over && stat(admin.path, &st) == 0 && st.st_dev == admin.dev
        && st.st_ino == admin.ino)
        unlink(admin.path);
    admin.path[0] = '\0';
}

int admin_start(struct daemon *d)
{
    const struct config *cfg = &d->cfg;

    admin.d = d;
    admin.started_ms = worker_now_ms();
    if ((cfg->admin_socket[0] && open_unix(cfg) != 0) || (cfg->admin_has_listen && open_tcp(cfg) != 0)) {
        close_listeners();
        return -1;
    }
    if (admin.nl == 0)
        return 0;   /* nothing to serve */
    if (pthread_create(&admin.thread, NULL, admin_main, NULL) != 0) {
        log_error("admin: cannot start its thread");
        close_listeners();
        return -1;
    }
    admin.running = 1;
    return 0;
}

int admin_listen_fds(int *fds, int max)
{
    int n = 0;

    for (int i = 0; i < admin.nl && n < max; i++)
        fds[n++] = admin.l[i].fd;
    return n;
}

void admin_handed_over(void)
{
    admin.handed_over = 1;
}

void admin_stop(void)
{
    if (!admin.running)
        return;
    pthread_join(admin.thread, NULL);   /* its loop ends once d->stop is set */
    admin.running = 0;
    close_listeners();
}
