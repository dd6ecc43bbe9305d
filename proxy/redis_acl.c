/* SPDX-License-Identifier: Apache-2.0 */
/* redis_acl.c — redis mode: users at the proxy: AUTH and its lockout, NOPERM before anything reaches a server, the ACL command. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "acl.h"
#include "addr.h"
#include "auth_guard.h"
#include "log.h"
#include "redis_acl.h"
#include "redis_acl_check.h"
#include "redis_reply.h"
#include "redis_route.h"
#include "resp_append.h"
#include "worker_ctx.h"

#define WRONGPASS "WRONGPASS invalid username-password pair or user is disabled."

/* A guessing client must not fill the log: each failure is a line, but at
 * most AUTH_LOG_BURST a second per worker, with a count of the rest. */
#define AUTH_LOG_BURST 20
static __thread uint64_t log_second;
static __thread unsigned log_lines;
static __thread uint64_t log_skipped;

/* A user name for the log: printable ASCII, the rest as \xHH, cut at 64 bytes. */
static const char *loggable(const char *s, size_t n, char out[300])
{
    size_t o = 0;

    for (size_t i = 0; i < n && i < 64; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch >= ' ' && ch < 127 && ch != '\\' && ch != '\'')
            out[o++] = (char)ch;
        else
            o += (size_t)sprintf(out + o, "\\x%02x", ch);
    }
    strcpy(out + o, n > 64 ? "..." : "");
    return out;
}

static void peer_host(int fd, char *host, size_t n)
{
    char *colon;

    addr_peer(fd, host, n);
    if ((colon = strrchr(host, ':')) != NULL && colon != host)
        *colon = '\0';
}

static int log_allowed(uint64_t now)
{
    if (now / 1000 != log_second) {
        if (log_skipped > 0)
            log_warn("AUTH: %llu more failures not logged in the last second", (unsigned long long)log_skipped);
        log_second = now / 1000;
        log_lines = 0;
        log_skipped = 0;
    }
    if (log_lines >= AUTH_LOG_BURST) {
        log_skipped++;
        return 0;
    }
    log_lines++;
    return 1;
}

int acl_auth(struct redis_client *c, const char *req, const struct resp_arg *user, const struct resp_arg *pass)
{
    const struct pool_conf *pc = c->pool->conf;
    const struct acl_user *u = user != NULL ? acl_find(pc->acl, req + user->off, user->len) : pc->acl->deflt;
    uint64_t now = worker_now_ms();
    char host[80], name[300];
    unsigned n;
    int locked = 0;

    peer_host(c->fd, host, sizeof host);
    if (pc->auth_max_failures > 0 && auth_guard_failures(host, now, 0) >= (unsigned)pc->auth_max_failures) {
        locked = 1;
        c->pool->stats->auth_lockouts++;
        if (pc->auth_lockout_close) {
            if (log_allowed(now))
                log_warn("pool %s: AUTH from %s refused and closed: %d failures from this address in the last "
                         "%d s", pc->name, host, pc->auth_max_failures, AUTH_GUARD_FORGET_MS / 1000);
            reply_error(c, "ERR coproxy: too many failed AUTH attempts from this address; try again later");
            c->closing = 1;
            return -1;
        }
        usleep((useconds_t)pc->auth_delay * 1000);   /* parks this client only */
        if (c->kicked || c->hup || c->gone) {   /* (a pipeline of guesses must not keep it for ever) */
            c->closing = 1;
            return -1;
        }
        now = worker_now_ms();
        pc = c->pool->conf;   /* (a reload may have come meanwhile) */
        u = user != NULL ? acl_find(pc->acl, req + user->off, user->len) : pc->acl->deflt;
    }
    if (u != NULL && acl_password_ok(u, req + pass->off, pass->len)) {
        c->user = u;
        return 0;
    }
    c->pool->stats->auth_failures++;
    n = auth_guard_failures(host, now, 1);
    if (log_allowed(now))
        log_warn("pool %s: AUTH failed from %s as user '%s'%s (%u failures from this address in the last %d s)",
                 pc->name, host, user != NULL ? loggable(req + user->off, user->len, name) : "default",
                 u == NULL ? ", which does not exist" : !u->on ? ", which is off" : "", n,
                 AUTH_GUARD_FORGET_MS / 1000);
    reply_error(c, WRONGPASS);
    if (locked)   /* one delayed guess per connection: a pipeline of them must not hold it for ever */
        c->closing = 1;
    return -1;
}

const struct acl_user *acl_new_client_user(const struct redis_pool *p)
{
    const struct acl_user *d = p->conf->acl->deflt;

    return d->on && d->nopass ? d : NULL;
}

int acl_refuse(struct redis_client *c, const struct redis_cmd *cmd, const char *req, const struct resp_request *r)
{
    struct acl_denial d;
    enum acl_verdict v = redis_acl_check(c->user, cmd, req, r->args, r->argc, &d);

    if (v == ACL_OK)
        return 0;
    c->pool->stats->acl_denied++;
    switch (v) {
    case ACL_DENIED_COMMAND:
        reply_error(c, "NOPERM this user has no permissions to run the '%s' command", d.command);
        break;
    case ACL_DENIED_KEY:
        reply_error(c, "NOPERM this user has no permissions to access one of the keys used as arguments");
        break;
    case ACL_DENIED_CHANNEL:
        reply_error(c, "NOPERM this user has no permissions to access one of the channels used as arguments");
        break;
    case ACL_DENIED_SORT_BY:
        reply_error(c, "ERR BY option of SORT denied due to insufficient ACL permissions.");
        break;
    default:
        reply_error(c, "ERR GET option of SORT denied due to insufficient ACL permissions.");
        break;
    }
    return 1;
}

/* ---- the ACL command ------------------------------------------------------------ */

/* A reply built here, as one message. */
static void reply_built(struct redis_client *c, struct rbuf *b, int failed)
{
    if (failed)
        reply_error(c, "ERR coproxy: out of memory");
    else
        reply_raw(c, b->data, b->len);
    rbuf_free(b);
}

static int append_str(struct rbuf *b, const char *s)
{
    return resp_append_bulk(b, s, strlen(s));
}

static void acl_cat(struct redis_client *c, const char *req, const struct resp_request *r)
{
    struct rbuf b = { 0 };
    int failed = 0, cat = -1, n = 0;
    char name[72];

    if (r->argc == 3 && (cat = acl_category_id(req + r->args[2].off, r->args[2].len)) < 0) {
        reply_error(c, "ERR Unknown category '%s'", reply_printable(req + r->args[2].off, r->args[2].len, name));
        return;
    }
    if (cat < 0) {
        failed |= resp_append_header(&b, '*', ACL_NCATEGORIES);
        for (int i = 0; i < ACL_NCATEGORIES; i++)
            failed |= append_str(&b, acl_category_names[i]);
    } else {
        for (int i = 0; i < ACL_NCOMMANDS; i++)
            n += (acl_commands[i].categories >> cat) & 1;
        failed |= resp_append_header(&b, '*', n);
        for (int i = 0; i < ACL_NCOMMANDS; i++)
            if ((acl_commands[i].categories >> cat) & 1)
                failed |= append_str(&b, acl_commands[i].name);
    }
    reply_built(c, &b, failed);
}

static void acl_list(struct redis_client *c, int names_only)
{
    const struct acl *a = c->pool->conf->acl;
    struct rbuf b = { 0 };
    int failed = resp_append_header(&b, '*', a->nusers);
    char line[4096];

    for (int i = 0; i < a->nusers; i++) {
        if (names_only)
            failed |= append_str(&b, a->users[i].name);
        else
            failed |= resp_append_bulk(&b, line, acl_describe(&a->users[i], line, sizeof line));
    }
    reply_built(c, &b, failed);
}

/* ACL GETUSER: Redis 7.0's fields, the passwords' list left empty (secrets stay in the configuration). */
static void acl_getuser(struct redis_client *c, const char *req, const struct resp_request *r)
{
    const struct acl_user *u = acl_find(c->pool->conf->acl, req + r->args[2].off, r->args[2].len);
    struct rbuf b = { 0 };
    char text[2048];
    int failed;

    if (u == NULL) {
        reply_null(c);
        return;
    }
    failed = resp_append_header(&b, c->resp3 ? '%' : '*', c->resp3 ? 6 : 12);
    failed |= append_str(&b, "flags") | resp_append_header(&b, c->resp3 ? '~' : '*', 1 + u->nopass);
    failed |= append_str(&b, u->on ? "on" : "off");
    if (u->nopass)
        failed |= append_str(&b, "nopass");
    failed |= append_str(&b, "passwords") | resp_append_header(&b, '*', 0);
    failed |= append_str(&b, "commands") | append_str(&b, u->commands);
    acl_describe_patterns(u, 0, text, sizeof text);
    failed |= append_str(&b, "keys") | append_str(&b, text);
    acl_describe_patterns(u, 1, text, sizeof text);
    failed |= append_str(&b, "channels") | append_str(&b, text);
    failed |= append_str(&b, "selectors") | resp_append_header(&b, '*', 0);
    reply_built(c, &b, failed);
}

/* ACL DRYRUN user command [arg ...]: Redis's words for each refusal. */
static void acl_dryrun(struct redis_client *c, const char *req, const struct resp_request *r)
{
    const struct acl_user *u = acl_find(c->pool->conf->acl, req + r->args[2].off, r->args[2].len);
    const struct resp_arg *a = &r->args[3];
    const struct redis_cmd *cmd = redis_cmd_lookup(req + a->off, a->len);
    struct acl_denial d;
    char name[72], text[512], lname[40];
    enum acl_verdict v;
    int n = 0;

    if (u == NULL) {
        reply_error(c, "ERR User '%s' not found", reply_printable(req + r->args[2].off, r->args[2].len, name));
        return;
    }
    if (cmd == NULL) {
        reply_error(c, "ERR Command '%s' not found", reply_printable(req + a->off, a->len, name));
        return;
    }
    if (!redis_cmd_arity_ok(cmd, r->argc - 3)) {
        reply_error(c, "ERR wrong number of arguments for '%s' command", reply_lower_name(cmd->name, lname));
        return;
    }
    switch ((v = redis_acl_check(u, cmd, req, r->args + 3, r->argc - 3, &d))) {
    case ACL_OK:
    case ACL_DENIED_SORT_BY:   /* (Redis refuses these when SORT runs, not in DRYRUN) */
    case ACL_DENIED_SORT_GET:
        reply_str(c, "+OK\r\n");
        return;
    case ACL_DENIED_COMMAND:
        n = snprintf(text, sizeof text, "This user has no permissions to run the '%s' command", d.command);
        break;
    case ACL_DENIED_KEY:
    case ACL_DENIED_CHANNEL:
        a = &r->args[3 + d.arg];
        n = snprintf(text, sizeof text, "This user has no permissions to access the '%.*s' %s",
                     (int)(a->len < 256 ? a->len : 256), req + a->off,
                     v == ACL_DENIED_CHANNEL ? "channel" : "key");
        break;
    }
    reply_bulk(c, text, n > 0 && (size_t)n < sizeof text ? (size_t)n : strlen(text));
}

static void acl_genpass(struct redis_client *c, const char *req, const struct resp_request *r)
{
    unsigned char raw[512];
    char hex[1025], num[16], *end;
    long bits = 256;

    if (r->argc == 3) {
        snprintf(num, sizeof num, "%.*s", (int)(r->args[2].len < 15 ? r->args[2].len : 15), req + r->args[2].off);
        bits = strtol(num, &end, 10);
        if (*end != '\0' || bits <= 0 || bits > 4096) {
            reply_error(c, "ERR ACL GENPASS argument must be the number of bits for the output password, a "
                        "positive number up to 4096");
            return;
        }
    }
    if (getrandom(raw, (size_t)(bits + 7) / 8, 0) != (ssize_t)((bits + 7) / 8)) {
        reply_error(c, "ERR coproxy: no random bytes from the kernel");
        return;
    }
    for (long i = 0; i < (bits + 3) / 4; i++)
        hex[i] = "0123456789abcdef"[i % 2 == 0 ? raw[i / 2] >> 4 : raw[i / 2] & 15];
    reply_bulk(c, hex, (size_t)(bits + 3) / 4);
}

void acl_command(struct redis_client *c, const char *req, const struct resp_request *r)
{
    const struct resp_arg *sub = &r->args[1];
    char name[72];

    if (resp_arg_is(req, sub, "WHOAMI") && r->argc == 2) {
        reply_bulk(c, c->user->name, strlen(c->user->name));
    } else if (resp_arg_is(req, sub, "CAT") && r->argc <= 3) {
        acl_cat(c, req, r);
    } else if ((resp_arg_is(req, sub, "LIST") || resp_arg_is(req, sub, "USERS")) && r->argc == 2) {
        acl_list(c, resp_arg_is(req, sub, "USERS"));
    } else if (resp_arg_is(req, sub, "GETUSER") && r->argc == 3) {
        acl_getuser(c, req, r);
    } else if (resp_arg_is(req, sub, "DRYRUN") && r->argc >= 4) {
        acl_dryrun(c, req, r);
    } else if (resp_arg_is(req, sub, "GENPASS") && r->argc <= 3) {
        acl_genpass(c, req, r);
    } else if (resp_arg_is(req, sub, "HELP") && r->argc == 2) {
        route_one(c, req, r);   /* the servers' own text */
    } else if (resp_arg_is(req, sub, "SETUSER") || resp_arg_is(req, sub, "DELUSER") || resp_arg_is(req, sub, "LOAD")
               || resp_arg_is(req, sub, "SAVE") || resp_arg_is(req, sub, "LOG")) {
        c->pool->stats->errors_refused++;
        reply_error(c, "ERR coproxy: the users of pool %s are set in its configuration (users or acl_file): edit "
                    "it and reload (SIGHUP); refusals and failed AUTHs are in coproxy's log and STATS",
                    c->pool->conf->name);
    } else if (redis_cmd_subname(req + sub->off, sub->len) != NULL) {
        reply_error(c, "ERR wrong number of arguments for 'acl|%s' command",
                    redis_cmd_subname(req + sub->off, sub->len));
    } else {
        reply_error(c, "ERR unknown subcommand '%s'. Try ACL HELP.", reply_printable(req + sub->off, sub->len, name));
    }
}

/* ---- reload ----------------------------------------------------------------------- */

/* Whether u may keep every subscription c holds (a subscriber sends no
 * command that the new rules could refuse: Redis closes it instead). */
static int subscriptions_allowed(const struct redis_client *c, const struct acl_user *u)
{
    const struct redis_pubsub *ps = c->ps;

    if (ps == NULL || u->allchannels)
        return 1;
    for (uint32_t i = 0; i < ps->channels.n; i++)
        if (!acl_channel_allowed(u, ps->channels.v[i].name, ps->channels.v[i].len, 0))
            return 0;
    for (uint32_t i = 0; i < ps->shards.n; i++)
        if (!acl_channel_allowed(u, ps->shards.v[i].name, ps->shards.v[i].len, 0))
            return 0;
    for (uint32_t i = 0; i < ps->patterns.n; i++)
        if (!acl_channel_allowed(u, ps->patterns.v[i].name, ps->patterns.v[i].len, 1))
            return 0;
    return 1;
}

void acl_users_changed(struct redis_pool *p)
{
    const struct acl *a = p->conf->acl;
    char name[300];

    for (struct redis_client *c = p->clients; c != NULL; c = c->next) {
        const struct acl_user *now;
        if (c->user == NULL)
            continue;
        now = acl_find(a, c->user->name, strlen(c->user->name));
        if (now != NULL && now->on && subscriptions_allowed(c, now)) {
            c->user = now;   /* its next command is checked against the new rules */
            continue;
        }
        log_info("pool %s: client %llu closed: its user '%s' was %s by the reload", p->conf->name,
                 (unsigned long long)c->id, loggable(c->user->name, strlen(c->user->name), name),
                 now == NULL ? "removed" : !now->on ? "turned off" : "denied a channel it is subscribed to");
        c->user = NULL;
        c->kicked = KICKED_USER;
        shutdown(c->fd, SHUT_RDWR);   /* wakes it wherever it waits */
    }
}
