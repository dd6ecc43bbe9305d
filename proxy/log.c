/* log.c — one line per event on stderr: journald adds the rest. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

int log_level_max = LOG_INFO;
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

void log_msg(int level, const char *fmt, ...)
{
    char line[1024];
    struct timeval tv;
    struct tm tm;
    va_list ap;
    int n;

    if (level > log_level_max)
        return;
    gettimeofday(&tv, NULL);
    localtime_r(&tv.tv_sec, &tm);
    n = snprintf(line, sizeof line, "%04d-%02d-%02d %02d:%02d:%02d.%03d %-5s [%s] ",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                 (int)(tv.tv_usec / 1000), level_names[level], thread_name);
    va_start(ap, fmt);
    n += vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (n > (int)sizeof line - 2)
        n = (int)sizeof line - 2;
    line[n++] = '\n';
    /* one write per line: lines from workers do not interleave */
    if (write(STDERR_FILENO, line, (size_t)n) < 0) {
        /* nowhere else to report it */
    }
}
