/* SPDX-License-Identifier: Apache-2.0 */
/* log.c — one line per event on stderr (journald adds the time) or in a log file, reopened for logrotate. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

int log_level_max = LOG_INFO;
static int log_fd = STDERR_FILENO;
static int to_journal;           /* stderr is journald's stream: "<N>" priority prefixes, no time */
static char log_path[512];
static __thread char thread_name[16] = "main";
static const char *const level_names[] = { "ERROR", "WARN", "INFO", "DEBUG" };

void log_set_thread(const char *name)
{
    snprintf(thread_name, sizeof thread_name, "%s", name);
}

int log_level_parse(const char *s)
{
    static const char *const names[] = { "error", "warn", "info", "debug" };

    for (int i = 0; i < 4; i++)
        if (strcmp(s, names[i]) == 0)
            return i;
    return -1;
}

/* systemd sets JOURNAL_STREAM to "DEV:INODE" of the stream it gave as stderr. */
static int stderr_is_journal(void)
{
    const char *js = getenv("JOURNAL_STREAM");
    unsigned long long dev, ino;
    struct stat st;

    return js && sscanf(js, "%llu:%llu", &dev, &ino) == 2 && fstat(STDERR_FILENO, &st) == 0
           && (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void log_init(void)
{
    to_journal = log_path[0] == '\0' && stderr_is_journal();
}

int log_open(const char *path)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);

    if (fd < 0)
        return -errno;
    if (log_fd != STDERR_FILENO)
        close(log_fd);
    log_fd = fd;
    snprintf(log_path, sizeof log_path, "%s", path);
    to_journal = 0;
    return 0;
}

int log_reopen(void)
{
    int fd;

    if (log_path[0] == '\0')
        return 0;   /* stderr: nothing to reopen */
    fd = open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0)
        return -errno;
    /* dup3 swaps the file under the same number: a worker writing now
     * writes whole lines to the old file or to the new one. */
    if (dup3(fd, log_fd, O_CLOEXEC) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    close(fd);
    return 0;
}

void log_msg(int level, const char *fmt, ...)
{
    static const int syslog_prio[] = { 3, 4, 6, 7 };   /* err, warning, info, debug */
    char line[1024];
    struct timeval tv;
    struct tm tm;
    va_list ap;
    int n;

    if (level > log_level_max)
        return;
    if (to_journal) {
        n = snprintf(line, sizeof line, "<%d>%-5s [%s] ", syslog_prio[level], level_names[level], thread_name);
    } else {
        gettimeofday(&tv, NULL);
        localtime_r(&tv.tv_sec, &tm);
        n = snprintf(line, sizeof line, "%04d-%02d-%02d %02d:%02d:%02d.%03d %-5s [%s] ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     (int)(tv.tv_usec / 1000), level_names[level], thread_name);
    }
    va_start(ap, fmt);
    n += vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (n > (int)sizeof line - 2)
        n = (int)sizeof line - 2;
    line[n++] = '\n';
    /* one write per line: lines from workers do not interleave */
    if (write(log_fd, line, (size_t)n) < 0) {
        /* nowhere else to report it */
    }
}
