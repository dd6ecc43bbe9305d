/* SPDX-License-Identifier: Apache-2.0 */
/* redis_guard.c — redis mode: requests refused before they run (HTTP sent to the port, scripts that flush). */
#define _GNU_SOURCE
#include <ctype.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "redis_guard.h"
#include "redis_reply.h"
#include "resp_append.h"
#include "worker_ctx.h"

/* An HTTP request sent to a redis port (a browser tricked by a web page
 * into a cross-protocol attack): its lines would run as commands.  Redis
 * closes the connection at POST or Host:, and so does coproxy. */
static int is_http_request(const char *name, size_t n)
{
    return (n == 4 && strncasecmp(name, "POST", 4) == 0) || (n == 5 && strncasecmp(name, "Host:", 5) == 0);
}

static void close_http_client(struct redis_client *c)
{
    static __thread uint64_t last_warned;   /* once a minute per worker, as an attack repeats */
    uint64_t now = worker_now_ms();
    char addr[80];

    c->pool->stats->security_closed++;
    c->closing = 1;
    if (last_warned != 0 && now - last_warned < 60000)
        return;
    last_warned = now;
    log_warn("pool %s: client %s sent an HTTP request (POST or Host:) to the redis port: possible cross-protocol "
             "attack, connection closed", c->pool->conf->name, addr_peer(c->fd, addr, sizeof addr));
}

/* With allow_flush = false, a script that names a flush (or spells a name
 * with numeric escapes, \70 or \x46) is refused.  A guard against
 * accidents, not a sandbox: a script can build a command name at run
 * time; a backend user without FLUSHALL (redis_auth) is the hard limit. */
static int script_may_flush(const char *p, size_t n, int binary)
{
    for (size_t i = 0; i < n; i++) {
        if (i + 5 <= n && strncasecmp(p + i, "flush", 5) == 0)
            return 1;
        if (!binary && p[i] == '\\' && i + 1 < n && (isdigit((unsigned char)p[i + 1]) || p[i + 1] == 'x' || p[i + 1] == 'u'))
            return 1;
    }
    return 0;
}

/* The script text a request carries (EVAL, SCRIPT LOAD, FUNCTION LOAD or
 * RESTORE), or NULL. */
static const struct resp_arg *request_script(const struct redis_cmd *cmd, const char *req, const struct resp_request *r)
{
    if ((strcmp(cmd->name, "EVAL") == 0 || strcmp(cmd->name, "EVAL_RO") == 0) && r->argc > 1)
        return &r->args[1];
    if (strcmp(cmd->name, "SCRIPT") == 0 && r->argc > 2 && resp_arg_is(req, &r->args[1], "LOAD"))
        return &r->args[2];
    if (strcmp(cmd->name, "FUNCTION") == 0 && r->argc > 2
        && (resp_arg_is(req, &r->args[1], "LOAD") || resp_arg_is(req, &r->args[1], "RESTORE")))
        return &r->args[resp_arg_is(req, &r->args[1], "LOAD") ? r->argc - 1 : 2];
    return NULL;
}

/* An HTTP request (its first line's word is the command's name): the
 * client is closed before anything of it runs.  1 if so. */
int guard_http_check(struct redis_client *c, const char *name, size_t n)
{
    if (!is_http_request(name, n))
        return 0;
    close_http_client(c);
    return 1;
}

/* With allow_flush = false, a script that may flush is refused (the error
 * reply written).  1 if so. */
int guard_script_check(struct redis_client *c, const struct redis_cmd *cmd, const char *req,
                       const struct resp_request *r)
{
    const struct resp_arg *script;

    if ((script = request_script(cmd, req, r)) == NULL
        || !script_may_flush(req + script->off, script->len, resp_arg_is(req, &r->args[1], "RESTORE")))
        return 0;
    c->pool->stats->errors_refused++;
    reply_error(c, "ERR coproxy: this script may flush a database, and flushing is turned off in pool %s "
                       "(allow_flush = false)", c->pool->conf->name);
    return 1;
}
