/* SPDX-License-Identifier: Apache-2.0 */
/* upgrade.c — SIGUSR2: the binary started again with our listening sockets; we drain once it serves. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "admin.h"
#include "handover.h"
#include "log.h"
#include "notify.h"
#include "upgrade.h"
#include "worker.h"

#define UPGRADE_CHECK_MS 30000       /* the new binary's -t */
#define UPGRADE_READY_MS 60000       /* from its start to serving */
#define UPGRADE_MAX_FDS 4096

extern char **environ;

static char exe[PATH_MAX];
static char **args;

void upgrade_remember(char **argv)
{
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);

    exe[n > 0 ? n : 0] = '\0';
    args = argv;
}

static uint64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Waits up to ms for pid; its wait status, or -1 (still running: killed). */
static int wait_or_kill(pid_t pid, int ms)
{
    int st;
    uint64_t until = now_ms() + (uint64_t)ms;

    while (now_ms() < until) {
        if (waitpid(pid, &st, WNOHANG) == pid)
            return st;
        usleep(10000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
    return -1;
}

static void describe_status(int st, char *out, size_t n)
{
    if (st == -1)
        snprintf(out, n, "did not finish in time (killed)");
    else if (WIFEXITED(st))
        snprintf(out, n, "exited with status %d", WEXITSTATUS(st));
    else if (WIFSIGNALED(st))
        snprintf(out, n, "was killed by signal %d (%s)", WTERMSIG(st), strsignal(WTERMSIG(st)));
    else
        snprintf(out, n, "stopped");
}

/* Forks and execs exe with argv and envp, our signal mask cleared, keep[] inherited. */
static pid_t spawn(char *const argv[], char *const envp[], const int *keep, int nkeep, int out_fd)
{
    sigset_t none;
    pid_t pid;

    sigemptyset(&none);
    pid = fork();
    if (pid != 0)
        return pid;
    /* the child: only async-signal-safe calls until exec */
    for (int i = 0; i < nkeep; i++)
        fcntl(keep[i], F_SETFD, 0);
    if (out_fd >= 0) {
        dup2(out_fd, STDOUT_FILENO);
        dup2(out_fd, STDERR_FILENO);
    }
    pthread_sigmask(SIG_SETMASK, &none, NULL);
    execve(exe, argv, envp);
    _exit(127);
}

/* `exe -t -c file`: 0 if it accepts the configuration, else -1 (its words logged). */
static int check_config(const char *file)
{
    char *argv[] = { exe, "-t", "-c", (char *)file, NULL }, out[1024], why[96];
    int p[2], st;
    ssize_t n, got = 0;
    pid_t pid;

    if (pipe2(p, O_CLOEXEC) != 0)
        return -1;
    pid = spawn(argv, environ, NULL, 0, p[1]);
    close(p[1]);
    if (pid < 0) {
        close(p[0]);
        log_error("upgrade: cannot start %s: %s; still serving", exe, strerror(errno));
        return -1;
    }
    while (got < (ssize_t)sizeof out - 1 && (n = read(p[0], out + got, sizeof out - 1 - (size_t)got)) > 0)
        got += n;
    out[got] = '\0';
    close(p[0]);
    st = wait_or_kill(pid, UPGRADE_CHECK_MS);
    if (st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0)
        return 0;
    out[strcspn(out, "\n")] = '\0';
    describe_status(st, why, sizeof why);
    log_error("upgrade: %s -t %s (%s)%s%s; still serving", exe, why, file, out[0] ? ": " : "", out);
    return -1;
}

int upgrade_run(struct daemon *d, const char *config_file)
{
    static int fds[UPGRADE_MAX_FDS];
    char fd_list[UPGRADE_MAX_FDS * 8], ready_env[48], from_env[48], fds_env[sizeof fd_list + 32], why[96];
    char **envp;
    int nfds = 0, p[2], nenv = 0, st;
    size_t off = 0;
    pid_t pid;
    uint64_t until;

    if (exe[0] == '\0') {
        log_error("upgrade: the binary's path is unknown (no /proc/self/exe); still serving");
        return 0;
    }
    log_info("upgrade: starting %s", exe);
    if (check_config(config_file) != 0)
        return 0;
    /* every listening socket: each worker's per pool, and the admin port */
    for (int w = 0; w < d->cfg.threads; w++)
        for (int i = 0; i < d->cfg.npools; i++)
            for (int k = 0; k < POOL_MAX_LISTEN && nfds < UPGRADE_MAX_FDS - 1; k++)
                if (d->workers[w].pools != NULL && d->workers[w].pools[i].listen_fds[k] >= 0)
                    fds[nfds++] = d->workers[w].pools[i].listen_fds[k];
    nfds += admin_listen_fds(fds + nfds, UPGRADE_MAX_FDS - 1 - nfds);
    fd_list[0] = '\0';
    for (int i = 0; i < nfds; i++)
        off += (size_t)snprintf(fd_list + off, sizeof fd_list - off, "%s%d", i ? "," : "", fds[i]);
    if (pipe2(p, O_CLOEXEC) != 0) {
        log_error("upgrade: pipe: %s; still serving", strerror(errno));
        return 0;
    }
    snprintf(fds_env, sizeof fds_env, "%s=%s", HANDOVER_ENV_FDS, fd_list);
    snprintf(ready_env, sizeof ready_env, "%s=%d", HANDOVER_ENV_READY, p[1]);
    snprintf(from_env, sizeof from_env, "%s=%d", HANDOVER_ENV_FROM, (int)getpid());
    for (char **e = environ; *e; e++)
        nenv++;
    if ((envp = calloc((size_t)nenv + 4, sizeof *envp)) == NULL) {
        close(p[0]);
        close(p[1]);
        return 0;
    }
    nenv = 0;
    for (char **e = environ; *e; e++)
        if (strncmp(*e, "COPROXY_INHERIT_FDS=", 20) != 0 && strncmp(*e, "COPROXY_READY_FD=", 17) != 0
            && strncmp(*e, "COPROXY_UPGRADE_FROM=", 21) != 0)
            envp[nenv++] = *e;
    envp[nenv++] = fds_env;
    envp[nenv++] = ready_env;
    envp[nenv++] = from_env;
    fds[nfds] = p[1];
    pid = spawn(args, envp, fds, nfds + 1, -1);
    free(envp);
    close(p[1]);
    if (pid < 0) {
        close(p[0]);
        log_error("upgrade: cannot start %s: %s; still serving", exe, strerror(errno));
        return 0;
    }
    /* one byte once it serves; EOF if it ends first */
    until = now_ms() + UPGRADE_READY_MS;
    for (;;) {
        struct pollfd pf = { p[0], POLLIN, 0 };
        char b;
        uint64_t now = now_ms();
        if (now >= until) {
            close(p[0]);
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            log_error("upgrade: pid %d did not become ready within %d s: killed; still serving", (int)pid,
                      UPGRADE_READY_MS / 1000);
            return 0;
        }
        if (poll(&pf, 1, (int)(until - now)) <= 0)
            continue;
        if (read(p[0], &b, 1) == 1 && b == 'R')
            break;
        close(p[0]);
        st = wait_or_kill(pid, 5000);
        describe_status(st, why, sizeof why);
        log_error("upgrade: pid %d %s before it was ready; still serving", (int)pid, why);
        return 0;
    }
    close(p[0]);
    admin_handed_over();
    notify("MAINPID=%d\nSTATUS=upgraded: pid %d serves", (int)pid, (int)pid);   /* (only the main pid may say so) */
    log_info("upgrade: pid %d serves: this process (pid %d) stops accepting and drains its connections",
             (int)pid, (int)getpid());
    return 1;
}
