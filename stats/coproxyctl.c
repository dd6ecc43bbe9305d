/* SPDX-License-Identifier: Apache-2.0 */
/* coproxyctl.c — the command-line client of coproxy's admin socket. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_SOCKET "/run/coproxy/admin.sock"   /* the daemon's default too (config.h) */

/* Where the admin side is, and the password for its TCP port. */
struct target {
    const char *path;             /* the Unix socket, unless host is set */
    const char *host, *port;
    const char *password;
    char name[300];               /* for messages */
};

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: coproxyctl [-s SOCKET | -H HOST -p PORT [-a PASSWORD]] [--json] COMMAND\n"
            "  -s, --socket PATH    the admin socket (default " DEFAULT_SOCKET ")\n"
            "  -H, --host HOST      the admin TCP port's host (admin.listen)...\n"
            "  -p, --port PORT      ...and port\n"
            "  -a, --password PASS  admin.password (or set COPROXYCTL_AUTH, which ps cannot see)\n"
            "  -j, --json           pools, backends, threads, kernel, slowlog, hotkeys, bigkeys: JSON instead of a table\n"
            "  -h, --help           this help\n"
            "Commands:\n"
            "  ping               is the daemon there?\n"
            "  stats              every counter, as one JSON document\n"
            "  info [SECTION]     the same as key:value lines (server, runtime, pools, kernel)\n"
            "  metrics            Prometheus text format\n"
            "  pools | backends | threads   tables\n"
            "  kernel             the kernel's TCP figures for coproxy's sockets (BPF), or why there are none\n"
            "  watch [-i SECONDS] [-n COUNT]  rates per second, refreshed until interrupted\n"
            "  slowlog [COUNT] | slowlog len | slowlog reset   the proxy's slow log, newest first\n"
            "  hotkeys POOL [COUNT]   the pool's most requested keys (requests per second)\n"
            "  bigkeys POOL [COUNT] | bigkeys POOL reset   its biggest requests and replies\n"
            "  top [-i SECONDS] [-n COUNT]  rates, latency, hot keys and slowest requests, redrawn until interrupted\n"
            "  upgrade            start the binary again with the listening sockets handed over; waits until\n"
            "                     the new process serves (or says why it does not)\n"
            "See coproxyctl(1).\n");
}

static int connect_unix(const struct target *t)
{
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    int fd;

    if (strlen(t->path) >= sizeof sun.sun_path) {
        fprintf(stderr, "coproxyctl: %s: path too long for a Unix socket\n", t->path);
        return -1;
    }
    strcpy(sun.sun_path, t->path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof sun) != 0) {
        int e = errno;
        fprintf(stderr, "coproxyctl: cannot connect to %s: %s%s\n", t->path, strerror(e),
                e == ENOENT || e == ECONNREFUSED ? " (is coproxy running, with admin.socket set to this path?)"
                : e == EACCES || e == EPERM      ? " (the socket's mode keeps you out: run as root or as a member "
                                                   "of the socket's group)"
                                                 : "");
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

static int connect_tcp(const struct target *t)
{
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *ai;
    int rc = getaddrinfo(t->host, t->port, &hints, &res), fd = -1, e = 0;

    if (rc != 0) {
        fprintf(stderr, "coproxyctl: %s: %s\n", t->name, gai_strerror(rc));
        return -1;
    }
    for (ai = res; ai != NULL && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
            e = errno;
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    if (fd < 0)
        fprintf(stderr, "coproxyctl: cannot connect to %s: %s%s\n", t->name, strerror(e),
                e == ECONNREFUSED ? " (is coproxy running, with admin.listen set to this address?)" : "");
    return fd;
}

static int call(int fd, int argc, char **argv, char **out, size_t *outlen);

/* Connected (and authenticated, for the TCP port with a password), or -1. */
static int connect_admin(const struct target *t)
{
    int fd = t->host ? connect_tcp(t) : connect_unix(t);
    char *argv[] = { "AUTH", (char *)t->password }, *out = NULL;
    size_t outlen;
    int st;

    if (fd < 0 || t->password == NULL || t->password[0] == '\0')
        return fd;
    st = call(fd, 2, argv, &out, &outlen);
    if (st != 0) {
        fprintf(stderr, "coproxyctl: %s: %s\n", t->name, st < 0 ? "no reply to AUTH" : out);
        free(out);
        close(fd);
        return -1;
    }
    free(out);
    return fd;
}

/* Sends the command (words as a RESP array) and reads one reply: a status,
 * an error or a bulk string, returned in *out (malloc'ed).  0 for a
 * non-error reply, 1 for an error reply, -1 when the exchange failed. */
static int call(int fd, int argc, char **argv, char **out, size_t *outlen)
{
    char *req = NULL, *buf = NULL;
    size_t reqlen = 0, len = 0, cap = 0;
    FILE *f = open_memstream(&req, &reqlen);
    long want = -1;
    size_t hdr = 0;

    fprintf(f, "*%d\r\n", argc);
    for (int i = 0; i < argc; i++)
        fprintf(f, "$%zu\r\n%s\r\n", strlen(argv[i]), argv[i]);
    fclose(f);
    if (send(fd, req, reqlen, MSG_NOSIGNAL) != (ssize_t)reqlen) {
        free(req);
        return -1;
    }
    free(req);
    for (;;) {
        ssize_t n;
        char *nl;
        if (len == cap) {
            cap = cap ? cap * 2 : 65536;
            if ((buf = realloc(buf, cap + 1)) == NULL)
                return -1;
        }
        n = recv(fd, buf + len, cap - len, 0);
        if (n <= 0) {
            free(buf);
            return -1;
        }
        len += (size_t)n;
        buf[len] = '\0';
        if (want < 0 && (nl = strstr(buf, "\r\n")) != NULL) {
            if (buf[0] != '$') {   /* +status or -error: one line */
                int is_error = buf[0] == '-';
                *nl = '\0';
                *outlen = (size_t)(nl - buf - 1);
                memmove(buf, buf + 1, *outlen + 1);
                *out = buf;
                return is_error;
            }
            want = strtol(buf + 1, NULL, 10);
            hdr = (size_t)(nl - buf) + 2;
        }
        if (want >= 0 && len >= hdr + (size_t)want + 2) {
            memmove(buf, buf + hdr, (size_t)want);
            buf[want] = '\0';
            *out = buf;
            *outlen = (size_t)want;
            return 0;
        }
    }
}

/* One command, its reply on stdout.  Exit status: 0, or 1. */
static int run_one(const struct target *t, int argc, char **argv)
{
    char *out = NULL;
    size_t outlen = 0;
    int fd = connect_admin(t), st;

    if (fd < 0)
        return 1;
    st = call(fd, argc, argv, &out, &outlen);
    close(fd);
    if (st < 0) {
        fprintf(stderr, "coproxyctl: %s: no reply (the daemon closed the connection)\n", t->name);
        return 1;
    }
    if (st == 1) {
        fprintf(stderr, "coproxyctl: %s\n", out);
        free(out);
        return 1;
    }
    fwrite(out, 1, outlen, stdout);
    if (outlen == 0 || out[outlen - 1] != '\n')
        putchar('\n');
    free(out);
    return 0;
}

/* A counter from INFO text ("key:value" lines), or 0. */
static unsigned long long info_value(const char *info, const char *key)
{
    size_t k = strlen(key);

    for (const char *p = info; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
        if (strncmp(p, key, k) == 0 && p[k] == ':')
            return strtoull(p + k + 1, NULL, 10);
    return 0;
}

/* Sums the "<pool>_<suffix>:N" lines of INFO text over its pools (not the
 * "<pool>_server_..." lines). */
static unsigned long long info_sum(const char *info, const char *suffix)
{
    unsigned long long sum = 0;
    size_t s = strlen(suffix);

    for (const char *p = info; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        const char *colon = strchr(p, ':'), *nl = strchr(p, '\n');
        char key[256];
        size_t k;
        if (colon == NULL || (nl && colon > nl) || (k = (size_t)(colon - p)) <= s || k >= sizeof key)
            continue;
        memcpy(key, p, k);
        key[k] = '\0';
        if (strcmp(key + k - s, suffix) == 0 && strstr(key, "_server_") == NULL)
            sum += strtoull(colon + 1, NULL, 10);
    }
    return sum;
}

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
}

/* Rates per second, like redis-cli --stat. */
static int watch(const struct target *t, double interval, long count)
{
    char *argv[] = { "INFO" }, *prev = NULL;
    struct timespec ts = { (time_t)interval, (long)((interval - (double)(time_t)interval) * 1e9) };
    int lines = 0;

    signal(SIGINT, on_sigint);
    for (long i = 0; !interrupted && (count <= 0 || i <= count); i++) {
        char *out = NULL;
        size_t outlen;
        int fd = connect_admin(t);
        if (fd < 0)
            return 1;
        if (call(fd, 1, argv, &out, &outlen) != 0) {
            close(fd);
            fprintf(stderr, "coproxyctl: %s: no reply\n", t->name);
            return 1;
        }
        close(fd);
        if (prev != NULL) {
            if (lines++ % 20 == 0)
                printf("%12s %10s %14s %12s %12s\n", "requests/s", "clients", "switches/s", "copies/s", "accepts/s");
            printf("%12.0f %10llu %14.0f %12.0f %12.0f\n",
                   (double)(info_sum(out, "_requests") - info_sum(prev, "_requests")) / interval,
                   info_sum(out, "_client_connections"),
                   (double)(info_value(out, "switches") - info_value(prev, "switches")) / interval,
                   (double)(info_value(out, "copies_out") - info_value(prev, "copies_out")) / interval,
                   (double)(info_sum(out, "_client_accepted") - info_sum(prev, "_client_accepted")) / interval);
            fflush(stdout);
        }
        free(prev);
        prev = out;
        if (count > 0 && i == count)
            break;
        nanosleep(&ts, NULL);
    }
    free(prev);
    return 0;
}

/* The number after "key": in a STATS document, or -1. */
static long stats_number(const char *doc, const char *key)
{
    const char *p = strstr(doc, key);

    return p ? strtol(p + strlen(key), NULL, 10) : -1;
}

/* One command on a connection of its own: call()'s status (*out set), or
 * -2 when the admin side cannot be reached (said on stderr). */
static int ask(const struct target *t, char *cmd, char **out, size_t *outlen)
{
    int fd = connect_admin(t), st;

    *out = NULL;
    if (fd < 0)
        return -2;
    st = call(fd, 1, &cmd, out, outlen);
    close(fd);
    return st;
}

/* ask(), with a failure said on stderr: 0, or -1 (out freed). */
static int ask_or_say(const struct target *t, char *cmd, char **out, size_t *outlen)
{
    int st = ask(t, cmd, out, outlen);

    if (st == 0)
        return 0;
    if (st != -2)
        fprintf(stderr, "coproxyctl: %s: %s\n", t->name, st < 0 ? "no reply" : *out);
    free(*out);
    *out = NULL;
    return -1;
}

/* UPGRADE, then STATS until another pid answers (done) or ours says the upgrade failed. */
static int upgrade(const struct target *t)
{
    char *out = NULL;
    size_t outlen;
    long old_pid = -1;

    if (ask_or_say(t, "STATS", &out, &outlen) != 0)
        return 1;
    old_pid = stats_number(out, "\"pid\":");
    free(out);
    if (ask_or_say(t, "UPGRADE", &out, &outlen) != 0)
        return 1;
    free(out);
    for (int i = 0; i < 900; i++) {   /* 90 s: the daemon gives its new process 60 */
        struct timespec ts = { 0, 100 * 1000000L };
        nanosleep(&ts, NULL);
        if (ask(t, "STATS", &out, &outlen) == 0) {
            long pid = stats_number(out, "\"pid\":");
            int failed = strstr(out, "\"upgrade\":\"failed\"") != NULL;
            free(out);
            if (pid > 0 && pid != old_pid) {
                printf("upgraded: pid %ld now serves (was %ld, which drains its connections and exits)\n", pid, old_pid);
                return 0;
            }
            if (failed) {
                fprintf(stderr, "coproxyctl: the upgrade failed; pid %ld still serves (its log says why)\n", old_pid);
                return 1;
            }
        } else {
            free(out);
        }
    }
    fprintf(stderr, "coproxyctl: no new process after 90 s; pid %ld still serves (see its log)\n", old_pid);
    return 1;
}

/* slowlog / hotkeys / bigkeys: the admin command with its format (TABLE or JSON) last. */
static int monitor_command(const struct target *t, int argc, char **argv, int json)
{
    char *cmd[5];
    int n = 0;

    if (strcasecmp(argv[0], "slowlog") == 0) {
        if (argc > 2) {
            usage(stderr);
            return 2;
        }
        cmd[n++] = "SLOWLOG";
        if (argc == 2 && (strcasecmp(argv[1], "len") == 0 || strcasecmp(argv[1], "reset") == 0)) {
            cmd[n++] = argv[1];
            return run_one(t, n, cmd);
        }
        cmd[n++] = "GET";
        if (argc == 2)
            cmd[n++] = argv[1];
    } else {
        if (argc < 2 || argc > 3) {
            fprintf(stderr, "coproxyctl: %s needs a pool name: %s POOL [COUNT]\n", argv[0], argv[0]);
            return 2;
        }
        cmd[n++] = argv[0];
        cmd[n++] = argv[1];
        if (argc == 3)
            cmd[n++] = argv[2];
        if (argc == 3 && strcasecmp(argv[2], "reset") == 0)
            return run_one(t, n, cmd);
    }
    cmd[n++] = json ? "JSON" : "TABLE";
    return run_one(t, n, cmd);
}

/* The admin side's TOP screen, redrawn every interval (like top or redis-cli --stat). */
static int top(const struct target *t, double interval, long count)
{
    struct timespec ts = { (time_t)interval, (long)((interval - (double)(time_t)interval) * 1e9) };
    int tty = isatty(STDOUT_FILENO);

    signal(SIGINT, on_sigint);
    for (long i = 0; !interrupted && (count <= 0 || i <= count); i++) {
        char *out = NULL;
        size_t outlen;
        if (ask_or_say(t, "TOP", &out, &outlen) != 0)
            return 1;
        if (i > 0) {   /* the first screen has no rates yet: it only starts the count */
            time_t now = time(NULL);
            char when[32];
            strftime(when, sizeof when, "%H:%M:%S", localtime(&now));
            if (tty)
                fputs("\033[H\033[2J", stdout);   /* home, clear */
            printf("coproxy top  %s  every %.1f s  %s\n\n", when, interval, t->name);
            fwrite(out, 1, outlen, stdout);
            if (!tty)
                putchar('\n');
            fflush(stdout);
        }
        free(out);
        if (count > 0 && i == count)
            break;
        nanosleep(&ts, NULL);
    }
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = { { "socket", required_argument, NULL, 's' },
                                          { "host", required_argument, NULL, 'H' },
                                          { "port", required_argument, NULL, 'p' },
                                          { "password", required_argument, NULL, 'a' },
                                          { "json", no_argument, NULL, 'j' },
                                          { "help", no_argument, NULL, 'h' },
                                          { NULL, 0, NULL, 0 } };
    struct target t = { .path = DEFAULT_SOCKET, .password = getenv("COPROXYCTL_AUTH") };
    int c, json = 0, socket_set = 0;
    char *cmd[3];

    while ((c = getopt_long(argc, argv, "+s:H:p:a:jh", opts, NULL)) != -1) {
        switch (c) {
        case 's': t.path = optarg; socket_set = 1; break;
        case 'H': t.host = optarg; break;
        case 'p': t.port = optarg; break;
        case 'a': t.password = optarg; break;
        case 'j': json = 1; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (t.port != NULL && t.host == NULL)
        t.host = "127.0.0.1";
    if (t.host != NULL && (t.port == NULL || socket_set)) {
        fprintf(stderr, "coproxyctl: %s\n", socket_set ? "-s and -H/-p name two different admin endpoints: "
                                                        "give one" : "-H needs -p PORT (admin.listen's port)");
        return 2;
    }
    if (t.host)
        snprintf(t.name, sizeof t.name, strchr(t.host, ':') ? "[%s]:%s" : "%s:%s", t.host, t.port);
    else
        snprintf(t.name, sizeof t.name, "%s", t.path);
    if (optind >= argc) {
        usage(stderr);
        return 2;
    }
    if (strcasecmp(argv[optind], "watch") == 0 || strcasecmp(argv[optind], "top") == 0) {
        int is_top = strcasecmp(argv[optind], "top") == 0;
        double interval = 1.0;
        long count = 0;
        optind++;
        while ((c = getopt(argc, argv, "i:n:")) != -1) {
            if (c == 'i')
                interval = atof(optarg);
            else if (c == 'n')
                count = atol(optarg);
            else
                return 2;
        }
        if (interval <= 0)
            interval = 1.0;
        return is_top ? top(&t, interval, count) : watch(&t, interval, count);
    }
    if (strcasecmp(argv[optind], "upgrade") == 0)
        return argc - optind == 1 ? upgrade(&t) : (usage(stderr), 2);
    if (strcasecmp(argv[optind], "slowlog") == 0 || strcasecmp(argv[optind], "hotkeys") == 0
        || strcasecmp(argv[optind], "bigkeys") == 0)
        return monitor_command(&t, argc - optind, argv + optind, json);
    if (json && (strcasecmp(argv[optind], "pools") == 0 || strcasecmp(argv[optind], "backends") == 0
                 || strcasecmp(argv[optind], "threads") == 0 || strcasecmp(argv[optind], "kernel") == 0)) {
        if (argc - optind != 1) {
            usage(stderr);
            return 2;
        }
        cmd[0] = argv[optind];
        cmd[1] = "JSON";
        return run_one(&t, 2, cmd);
    }
    if (json && strcasecmp(argv[optind], "stats") != 0) {   /* stats is JSON already */
        fprintf(stderr, "coproxyctl: --json applies to stats, pools, backends, threads, kernel, slowlog, hotkeys and bigkeys\n");
        return 2;
    }
    for (const char *const *ok = (const char *const[]){ "ping", "stats", "info", "metrics", "pools", "backends",
                                                      "threads", "kernel", NULL };
         *ok; ok++)
        if (strcasecmp(argv[optind], *ok) == 0)
            return run_one(&t, argc - optind, argv + optind);
    fprintf(stderr, "coproxyctl: unknown command '%s'\n", argv[optind]);
    usage(stderr);
    return 2;
}
