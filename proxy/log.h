/* SPDX-License-Identifier: Apache-2.0 */
/* log.h — the daemon's log lines: time, level, worker, message, on stderr or in a file. */
#ifndef COPROXY_LOG_H
#define COPROXY_LOG_H

enum log_level { LOG_ERROR = 0, LOG_WARN, LOG_INFO, LOG_DEBUG };

extern int log_level_max;   /* lines above this level are dropped */

/* Once at start: notices when stderr is journald's (then lines carry a
 * syslog priority for it instead of the time). */
void log_init(void);

/* Logs to the file at path from now on (appending).  0, or -errno. */
int log_open(const char *path);

/* Opens the log file's path again (after logrotate moved it): SIGUSR1.
 * 0 (also when logging to stderr), or -errno. */
int log_reopen(void);

/* Names this thread in its log lines ("main", "w0", "w1", ...). */
void log_set_thread(const char *name);

/* "error" | "warn" | "info" | "debug" -> level, or -1. */
int log_level_parse(const char *s);

void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) do { if (log_level_max >= LOG_DEBUG) log_msg(LOG_DEBUG, __VA_ARGS__); } while (0)

#endif
