/* SPDX-License-Identifier: Apache-2.0 */
/* monitor_report.h — the admin side of the slow log, hot keys and big keys: SLOWLOG, HOTKEYS, BIGKEYS, their metrics (monitor_report.c). */
#ifndef COPROXY_MONITOR_REPORT_H
#define COPROXY_MONITOR_REPORT_H

#include "daemon.h"
#include "rbuf.h"
#include "resp.h"

/* An admin command SLOWLOG / HOTKEYS / BIGKEYS (args into req): its reply
 * appended to o (RESP; a last argument JSON: a JSON bulk string).
 * 1 if it was one of them, 0 if not (o untouched). */
int monitor_answer(struct daemon *d, const char *req, const struct resp_request *r, struct rbuf *o);
/* The hot keys' gauges (each pool's top 10) for METRICS; 0 or -1 (out of memory). */
int monitor_metrics(struct daemon *d, struct rbuf *o);

#endif
