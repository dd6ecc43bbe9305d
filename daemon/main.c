/* SPDX-License-Identifier: Apache-2.0 */
/* main.c — coproxy: options, configuration, workers, signals. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "admin.h"
#include "config_file.h"
#include "addr_owner.h"
#include "daemon.h"
#include "handover.h"
#include "kstats.h"
#include "log.h"
#include "notify.h"
#include "reload.h"
#include "upgrade.h"
#include "worker.h"

/*
 * jemalloc's options (read at its start; unused with --without-jemalloc).
 * Memory a burst of connections used goes back to the system within about
 * a second -- by jemalloc's background thread, since an idle daemon makes
 * no allocator calls that would purge it.
 */
const char *malloc_conf = "background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0";

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: coproxy -c FILE [-t] [-L LOGFILE]\n"
            "  -c, --config FILE   configuration file (libconfig syntax)\n"
            "  -t, --test          check the configuration and exit\n"
            "  -L, --log-file FILE log to FILE (reopened on SIGUSR1) instead of stderr\n"
            "  -v, --version       print the version and exit\n"
            "  -h, --help          print this help and exit\n"
            "A per-core TCP and Redis-protocol proxy.  See coproxy(8).\n");
}

/*
 * Signals the daemon has no use for, whose default action would end or
 * stop it without a word: blocked in every thread and taken by main's
 * sigwait like the ones it uses, so they are ignored and logged (once each)
 * from a plain thread, not a handler.  Real-time signals are added by
 * range.  Left at their defaults: the faults (SIGSEGV, SIGBUS, ...),
 * SIGQUIT (a core on demand), SIGXCPU (the CPU limit asked for), job
 * control (SIGTSTP, SIGCONT), and those ignored by default (SIGCHLD,
 * SIGURG, SIGWINCH).  SIGUSR2 upgrades (upgrade.c).
 */
static const struct {
    int sig;
    const char *name;
} ignored_signals[] = {
    { SIGALRM, "SIGALRM" },
    { SIGVTALRM, "SIGVTALRM" },
    { SIGPROF, "SIGPROF" },
    { SIGIO, "SIGIO" },         /* also SIGPOLL */
    { SIGPWR, "SIGPWR" },
    { SIGSTKFLT, "SIGSTKFLT" },
    { SIGXFSZ, "SIGXFSZ" },     /* a log write past the file size limit fails (EFBIG) instead */
    { SIGTTIN, "SIGTTIN" },     /* blocked, these no longer stop a daemon started in the */
    { SIGTTOU, "SIGTTOU" },     /* background of a shell: its log still reaches the tty */
};

/* An ignored signal arrived: says so the first time (logged: those seen). */
static void signal_ignored(int sig, sigset_t *logged)
{
    const char *name = NULL;
    char buf[16];

    if (sigismember(logged, sig) == 1)
        return;   /* (not even at debug level: a log write past RLIMIT_FSIZE raises SIGXFSZ again) */
    sigaddset(logged, sig);
    for (size_t i = 0; i < sizeof ignored_signals / sizeof ignored_signals[0]; i++)
        if (ignored_signals[i].sig == sig)
            name = ignored_signals[i].name;
    if (name == NULL) {   /* a real-time signal */
        if (sig == SIGRTMIN)
            snprintf(buf, sizeof buf, "SIGRTMIN");
        else if (sig == SIGRTMAX)
            snprintf(buf, sizeof buf, "SIGRTMAX");
        else if (sig > SIGRTMIN && sig < SIGRTMAX)
            snprintf(buf, sizeof buf, "SIGRTMIN+%d", sig - SIGRTMIN);
        else
            snprintf(buf, sizeof buf, "signal %d", sig);
        name = buf;
    }
    log_warn("ignoring %s (coproxy has no use for it; later ones are not logged)", name);
}

/* Raises the soft fd limit to the hard one: a connection costs two fds. */
static void raise_fd_limit(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

/* Workers inherit this mask: the signals are taken by main, with sigwait --
 * the ones we use, and the ones we ignore (so that they are logged). */
static void block_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGHUP);
    sigaddset(set, SIGUSR1);
    sigaddset(set, SIGUSR2);
    for (size_t i = 0; i < sizeof ignored_signals / sizeof ignored_signals[0]; i++)
        sigaddset(set, ignored_signals[i].sig);
    for (int s = SIGRTMIN; s <= SIGRTMAX; s++)
        sigaddset(set, s);
    pthread_sigmask(SIG_BLOCK, set, NULL);
}

/* SIGHUP: the configuration file again, told to systemd as a reload. */
static void on_sighup(struct daemon *d, const char *file)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    notify("RELOADING=1\nMONOTONIC_USEC=%llu",
           (unsigned long long)ts.tv_sec * 1000000ull + (unsigned long long)ts.tv_nsec / 1000);
    reload(d, file);
    kstats_update(&d->cfg);
    /* ready again once every worker runs with it (each takes it within a loop turn) */
    for (int i = 0; i < 300 && !worker_all_applied(d, __atomic_load_n(&d->cfg_gen, __ATOMIC_ACQUIRE)); i++)
        usleep(10 * 1000);
    reload_collect(d);   /* what the workers just left */
    notify("READY=1\nSTATUS=%d pool(s), %d worker(s), reloaded", d->cfg.npools, d->cfg.threads);
}

/* Takes the signals until SIGTERM or SIGINT, or an upgrade that worked (1). */
static int serve_signals(struct daemon *d, const char *file, const sigset_t *set)
{
    sigset_t logged;
    int sig, err_no;

    sigemptyset(&logged);
    for (;;) {
        if (sigwait(set, &sig) != 0)
            continue;
        if (sig == SIGTERM || sig == SIGINT)
            break;
        if (sig == SIGUSR2) {
            __atomic_store_n(&d->upgrade, UPGRADE_RUNNING, __ATOMIC_RELEASE);
            if (upgrade_run(d, file)) {
                __atomic_store_n(&d->upgrade, UPGRADE_DONE, __ATOMIC_RELEASE);
                return 1;
            }
            __atomic_store_n(&d->upgrade, UPGRADE_FAILED, __ATOMIC_RELEASE);
        } else if (sig == SIGHUP) {
            on_sighup(d, file);
        } else if (sig == SIGUSR1) {
            if ((err_no = log_reopen()) != 0)
                log_error("SIGUSR1: cannot reopen the log file: %s", strerror(-err_no));
            else
                log_info("SIGUSR1: log file reopened");
        } else {
            signal_ignored(sig, &logged);
        }
    }
    log_info("%s: stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    return 0;
}

/* A pool address another process listens on (not one an upgrade hands us): we must not share it. */
static int listen_addresses_taken(const struct config *cfg)
{
    char who[128];
    int taken = 0;

    for (int i = 0; i < cfg->npools; i++)
        for (int k = 0; k < cfg->pools[i].nlistens; k++) {
            const struct proxy_addr *a = &cfg->pools[i].listens[k].addr;
            if (!handover_has(a) && addr_owner(a, who, sizeof who)) {
                log_error("pool %s: %s is already listened on by %s; a second coproxy would take a share of its "
                          "connections (to replace a running one, upgrade it: SIGUSR2 or coproxyctl upgrade)",
                          cfg->pools[i].name, a->text, who);
                taken++;
            }
        }
    return taken;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "config", required_argument, NULL, 'c' },
        { "test", no_argument, NULL, 't' },
        { "log-file", required_argument, NULL, 'L' },
        { "version", no_argument, NULL, 'v' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    struct daemon d;
    const char *file = NULL, *log_file = NULL;
    char err[512];
    int opt, test_only = 0, err_no;
    sigset_t set;

    while ((opt = getopt_long(argc, argv, "c:tL:vh", opts, NULL)) != -1) {
        switch (opt) {
        case 'c': file = optarg; break;
        case 'L': log_file = optarg; break;
        case 't': test_only = 1; break;
        case 'v':
#ifdef COPROXY_BPF
            printf("coproxy %s\nkernel stats (BPF): built in\n", COPROXY_VERSION);
#else
            printf("coproxy %s\nkernel stats (BPF): not built\n", COPROXY_VERSION);
#endif
            return 0;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (file == NULL || optind != argc) {
        usage(stderr);
        return 2;
    }
    memset(&d, 0, sizeof d);
    pthread_mutex_init(&d.cfg_lock, NULL);
    upgrade_remember(argv);
    d.upgraded_from = handover_init();
    if (config_load(file, &d.cfg, err, sizeof err) != 0) {
        fprintf(stderr, "coproxy: %s\n", err);
        return 1;
    }
    if (test_only) {
        printf("coproxy: %s: configuration OK (%d pool%s, %d worker%s)\n", file, d.cfg.npools,
               d.cfg.npools == 1 ? "" : "s", d.cfg.threads, d.cfg.threads == 1 ? "" : "s");
        config_free(&d.cfg);
        return 0;
    }
    log_level_max = d.cfg.log_level;
    if (log_file == NULL && d.cfg.log_file[0])
        log_file = d.cfg.log_file;
    if (log_file != NULL && (err_no = log_open(log_file)) != 0) {
        fprintf(stderr, "coproxy: cannot open the log file %s: %s\n", log_file, strerror(-err_no));
        return 1;
    }
    log_init();
    raise_fd_limit();
    signal(SIGPIPE, SIG_IGN);
    block_signals(&set);
    if (listen_addresses_taken(&d.cfg)) {
        notify("STATUS=startup failed: address in use");
        return 1;
    }
    d.pools = calloc((size_t)d.cfg.npools, sizeof *d.pools);
    kstats_start(&d.cfg);   /* before any socket of ours: those are what it follows */
    if (d.pools == NULL || worker_start_all(&d) != 0) {
        log_error("startup failed");
        notify("STATUS=startup failed");
        return 1;
    }
    if (admin_start(&d) != 0) {
        log_error("startup failed");
        notify("STATUS=startup failed");
        return 1;
    }
    for (int i = 0; i < d.cfg.npools; i++) {
        const struct pool_conf *pc = &d.cfg.pools[i];
        char on[POOL_MAX_LISTEN * 80] = "";
        for (int k = 0, off = 0; k < pc->nlistens && off < (int)sizeof on; k++)
            off += snprintf(on + off, sizeof on - (size_t)off, "%s%s%s", k ? ", " : "", pc->listens[k].addr.text,
                            pc->listens[k].tls ? " (TLS)" : "");
        log_info("pool %s: %s mode, listening on %s, %d server(s)%s", pc->name, pc->mode == MODE_TCP ? "tcp" : "redis",
                 on, pc->nservers, pc->server_tls ? ", TLS to them" : "");
    }
    handover_close_rest();
    if (d.upgraded_from)
        log_info("coproxy %s ready: %d worker(s), upgraded from pid %d", COPROXY_VERSION, d.cfg.threads,
                 d.upgraded_from);
    else
        log_info("coproxy %s ready: %d worker(s)", COPROXY_VERSION, d.cfg.threads);
    handover_ready();   /* an upgrade: the old process stops accepting now */
    /* every worker listens by now: systemd may start what depends on us */
    if (!d.upgraded_from)   /* (an upgrade's old process names us the main one once we serve) */
        notify("READY=1\nSTATUS=%d pool(s), %d worker(s)\nMAINPID=%d", d.cfg.npools, d.cfg.threads, (int)getpid());
    if (!serve_signals(&d, file, &set))
        notify("STOPPING=1");   /* (after an upgrade the new process is systemd's main one) */
    __atomic_store_n(&d.stop, 1, __ATOMIC_RELAXED);
    worker_join_all(&d);
    admin_stop();
    kstats_stop();
    reload_free();
    log_info("stopped");
    return 0;
}
