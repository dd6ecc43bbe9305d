/* SPDX-License-Identifier: Apache-2.0 */
/* redis_admin.c — redis mode: the servers' administration commands through the
 * proxy -- to every server and merged, to the server of a key, or answered here. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redis_admin.h"
#include "redis_monitor.h"
#include "redis_msg.h"
#include "redis_reply.h"
#include "redis_route.h"
#include "resp_append.h"

enum how {
    ALL_SAME,       /* every server; one reply when they agree (CONFIG GET) */
    ALL_OK,         /* every server; +OK when each says so */
    ALL_SUM,        /* every server; integers summed */
    ALL_CONCAT,     /* every server; arrays concatenated */
    ALL_SLOWLOG,    /* every server; entries merged by time, the proxy's own among them */
    SLOWLOG_LEN,    /* every server; summed, with the proxy's own entries */
    SLOWLOG_RESET,  /* every server, and the proxy's own slow log */
    ALL_TEXT,       /* every server; texts under each server's name */
    PER_SERVER,     /* every server; a map of server name to its reply */
    BY_KEY,         /* the server of the key at argument 2 */
    ONE,            /* one server, always the same: what every server answers alike */
};

struct admin_sub {
    const char *cmd, *sub;
    enum how how;
    int changes;                     /* changes the servers: refused with allow_admin = false */
};

/* What each subcommand needs.  What is missing is refused with a message
 * saying which ones work (ask a server directly for the rest). */
static const struct admin_sub subs[] = {
    { "CONFIG", "GET", ALL_SAME, 0 },         { "CONFIG", "SET", ALL_OK, 1 },
    { "CONFIG", "RESETSTAT", ALL_OK, 1 },     { "CONFIG", "REWRITE", ALL_OK, 1 },
    { "CONFIG", "HELP", ONE, 0 },
    { "SLOWLOG", "GET", ALL_SLOWLOG, 0 },     { "SLOWLOG", "LEN", SLOWLOG_LEN, 0 },
    { "SLOWLOG", "RESET", SLOWLOG_RESET, 1 },        { "SLOWLOG", "HELP", ONE, 0 },
    { "LATENCY", "LATEST", ALL_CONCAT, 0 },   { "LATENCY", "HISTORY", ALL_CONCAT, 0 },
    { "LATENCY", "RESET", ALL_SUM, 1 },       { "LATENCY", "HELP", ONE, 0 },
    { "LATENCY", "DOCTOR", ALL_TEXT, 0 },     { "LATENCY", "GRAPH", ALL_TEXT, 0 },
    { "LATENCY", "HISTOGRAM", PER_SERVER, 0 },
    { "MEMORY", "USAGE", BY_KEY, 0 },         { "MEMORY", "PURGE", ALL_OK, 1 },
    { "MEMORY", "HELP", ONE, 0 },             { "MEMORY", "DOCTOR", ALL_TEXT, 0 },
    { "MEMORY", "MALLOC-STATS", ALL_TEXT, 0 }, { "MEMORY", "STATS", PER_SERVER, 0 },
    { "DEBUG", "OBJECT", BY_KEY, 0 },         { "DEBUG", "SLEEP", ONE, 1 },
};

static void refuse(struct redis_client *c, const struct redis_cmd *cmd, const char *req, const struct resp_arg *sub)
{
    char name[72], list[256] = "";
    size_t n = 0;

    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++)
        if (strcmp(subs[i].cmd, cmd->name) == 0)
            n += (size_t)snprintf(list + n, n < sizeof list ? sizeof list - n : 0, "%s%s", n ? ", " : "",
                                  subs[i].sub);
    c->pool->stats->errors_refused++;
    reply_error(c, "ERR coproxy: '%s %s' is not supported through the proxy (it does %s); ask a server directly",
                cmd->name, reply_printable(req + sub->off, sub->len, name), list);
}

/* SLOWLOG GET's count: 10 by default, -1 for all; -2 if not a number. */
static int64_t slowlog_count(const char *req, const struct resp_request *r)
{
    char num[24], *end;
    long long v;

    if (r->argc < 3)
        return 10;
    snprintf(num, sizeof num, "%.*s", (int)(r->args[2].len < 23 ? r->args[2].len : 23), req + r->args[2].off);
    v = strtoll(num, &end, 10);
    if (r->args[2].len == 0 || *end != '\0' || v < -1)
        return -2;
    return v;
}

void admin_command(struct redis_client *c, const struct redis_cmd *cmd, const char *req,
                   const struct resp_request *r)
{
    const struct resp_arg *sub = &r->args[1];
    const struct admin_sub *a = NULL;
    struct route rt;
    struct msg *m;
    int64_t count = 0;

    for (size_t i = 0; i < sizeof subs / sizeof subs[0] && a == NULL; i++)
        if (strcmp(subs[i].cmd, cmd->name) == 0 && resp_arg_is(req, sub, subs[i].sub))
            a = &subs[i];
    if (a == NULL) {
        refuse(c, cmd, req, sub);
        return;
    }
    if (a->changes && !c->pool->conf->allow_admin) {
        c->pool->stats->errors_refused++;
        reply_error(c, "ERR coproxy: %s %s is turned off in pool %s (allow_admin = false)", cmd->name, a->sub,
                    c->pool->conf->name);
        return;
    }
    if (a->how == BY_KEY && r->argc < 3) {
        reply_error(c, "ERR wrong number of arguments for '%s|%.*s' command", cmd->name, (int)sub->len,
                    req + sub->off);
        return;
    }
    if (a->how == ALL_SLOWLOG && (count = slowlog_count(req, r)) == -2) {
        reply_error(c, "ERR count should be greater than or equal to -1");
        return;
    }
    if ((m = msg_queue(c)) == NULL)
        return;
    route_set_deadline(c, m);
    switch (a->how) {
    case BY_KEY:
        rt = route_of_key(c->pool, req + r->args[2].off, r->args[2].len, 0);
        route_send_whole(c, m, rt.server, rt.slot1, req, r);
        return;
    case ONE:
        rt = route_of_key(c->pool, "", 0, 0);
        route_send_whole(c, m, rt.server, rt.slot1, req, r);
        return;
    case ALL_SLOWLOG:
        /* every server sends its newest `count`: the merge keeps the newest of them all */
        m->scan_server = count < 0 ? UINT32_MAX : count > UINT32_MAX - 1 ? UINT32_MAX - 1 : (uint32_t)count;
        m->merge = MERGE_SLOWLOG;
        break;
    case SLOWLOG_RESET:
        monitor_pool_slowlog_reset(c->pool);
        m->merge = MERGE_OK;
        break;
    default:
        m->merge = a->how == ALL_SAME ? MERGE_SAME : a->how == ALL_SUM ? MERGE_SUM : a->how == SLOWLOG_LEN ? MERGE_SLOWLOG_LEN
                   : a->how == ALL_CONCAT ? MERGE_CONCAT : a->how == ALL_TEXT ? MERGE_TEXT
                   : a->how == PER_SERVER ? MERGE_PER_SERVER : MERGE_OK;
        break;
    }
    route_send_everywhere(c, m, req, r);
}
