/* SPDX-License-Identifier: Apache-2.0 */
/* redis_acl_check.c — whether a user may run one request: its command, its keys, its channels, SORT's patterns. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "redis_acl_check.h"
#include "resp_append.h"

/* What the channels of a command are (Redis's getChannelsFromCommand). */
enum { CHAN_NONE, CHAN_FIRST, CHAN_ALL, CHAN_ALL_PATTERNS };
/* Where its keys are: the common one key at 1 found without redis_cmd_keys;
 * SET and BITFIELD read or write by their options. */
enum { KEYS_GENERIC, KEYS_ONE, KEYS_XREAD, KEYS_SET, KEYS_BITFIELD };

#define MAX_TABLE 256
static int16_t ids[MAX_TABLE];         /* coproxy's command i: its id in acl_commands */
static uint8_t chans[MAX_TABLE];
static uint8_t keys_how[MAX_TABLE];
static pthread_once_t ids_once = PTHREAD_ONCE_INIT;
static int ids_built;                  /* (read first: pthread_once costs a call per request) */

static void ids_build(void)
{
    for (int i = 0; i < redis_cmd_count() && i < MAX_TABLE; i++) {
        const struct redis_cmd *cmd = redis_cmd_at(i);
        const char *name = cmd->name;
        ids[i] = (int16_t)acl_command_id(name, strlen(name));
        if (strcmp(name, "PUBLISH") == 0 || strcmp(name, "SPUBLISH") == 0)
            chans[i] = CHAN_FIRST;
        else if (strcmp(name, "SUBSCRIBE") == 0 || strcmp(name, "SSUBSCRIBE") == 0)
            chans[i] = CHAN_ALL;
        else if (strcmp(name, "PSUBSCRIBE") == 0)
            chans[i] = CHAN_ALL_PATTERNS;
        if (strcmp(name, "SET") == 0)
            keys_how[i] = KEYS_SET;
        else if (strcmp(name, "BITFIELD") == 0)
            keys_how[i] = KEYS_BITFIELD;
        else if (cmd->route == ROUTE_XREAD)
            keys_how[i] = KEYS_XREAD;
        else if (cmd->first == 1 && cmd->last == 1 && cmd->numkeys_at == 0 && !(cmd->flags & CMD_PATTERNS)
                 && strncmp(name, "GEORADIUS", 9) != 0)   /* (SORT and GEORADIUS may STORE) */
            keys_how[i] = KEYS_ONE;
    }
    __atomic_store_n(&ids_built, 1, __ATOMIC_RELEASE);
}

/* The command's id, its subcommand's for a container (the container's own
 * if the subcommand is unknown: the command replies to that). */
static int command_id(int idx, const struct redis_cmd *cmd, const char *req, const struct resp_arg *args,
                      uint32_t argc)
{
    char full[72];
    size_t n;
    int id;

    if (!(cmd->flags & CMD_CONTAINER) || argc < 2 || args[1].len > 32)
        return ids[idx];
    n = (size_t)snprintf(full, sizeof full, "%s|%.*s", cmd->name, (int)args[1].len, req + args[1].off);
    id = acl_command_id(full, n);
    return id >= 0 ? id : ids[idx];
}

/* Whether any argument from `from` on is word (any case). */
static int has_word(const char *req, const struct resp_arg *args, uint32_t argc, uint32_t from, const char *word)
{
    for (uint32_t i = from; i < argc; i++)
        if (resp_arg_is(req, &args[i], word))
            return 1;
    return 0;
}

/* What the command does with its i-th key; SET and BITFIELD by their
 * options, as Redis's own key functions flag them. */
static unsigned key_flags(int how, int id, const char *req, const struct resp_arg *args, uint32_t argc, uint32_t i)
{
    if (how == KEYS_SET)
        return has_word(req, args, argc, 3, "GET") ? ACL_KEY_READ | ACL_KEY_WRITE : ACL_KEY_WRITE;
    if (how == KEYS_BITFIELD)
        return has_word(req, args, argc, 2, "SET") || has_word(req, args, argc, 2, "INCRBY")
               ? ACL_KEY_READ | ACL_KEY_WRITE : ACL_KEY_READ;
    return i == 0 ? acl_commands[id].first_key : acl_commands[id].other_keys;
}

/* Keys anywhere (several, counted, after STREAMS...): apart, so that the
 * one-key path below needs no variable-length array in its frame. */
static __attribute__((noinline)) enum acl_verdict check_keys_generic(const struct acl_user *u,
                                                                     const struct redis_cmd *cmd, int how, int id,
                                                                     const char *req, const struct resp_arg *args,
                                                                     uint32_t argc, struct acl_denial *d)
{
    uint32_t keys[argc], n = 0, streams = 0;
    const char *err = NULL;
    int got;

    if (how == KEYS_XREAD) {   /* the first half of what follows STREAMS */
        for (uint32_t i = 1; i < argc && streams == 0; i++)
            if (resp_arg_is(req, &args[i], "STREAMS"))
                streams = i;
        for (uint32_t i = 0; streams > 0 && i < (argc - streams - 1) / 2; i++)
            keys[n++] = streams + 1 + i;
    } else if ((got = redis_cmd_keys(cmd, req, args, argc, keys, &err)) > 0) {
        n = (uint32_t)got;
    }
    for (uint32_t i = 0; i < n; i++) {
        const struct resp_arg *k = &args[keys[i]];
        if (!acl_key_allowed(u, req + k->off, k->len, key_flags(how, id, req, args, argc, i))) {
            d->arg = keys[i];
            return ACL_DENIED_KEY;
        }
    }
    return ACL_OK;
}

static enum acl_verdict check_keys(const struct acl_user *u, const struct redis_cmd *cmd, int idx, int id,
                                   const char *req, const struct resp_arg *args, uint32_t argc,
                                   struct acl_denial *d)
{
    int how = keys_how[idx];

    if (how != KEYS_ONE && how != KEYS_SET && how != KEYS_BITFIELD)
        return check_keys_generic(u, cmd, how, id, req, args, argc, d);
    /* one key, at 1 */
    if (argc < 2 || acl_key_allowed(u, req + args[1].off, args[1].len,
                                    how == KEYS_ONE ? acl_commands[id].first_key
                                    : key_flags(how, id, req, args, argc, 0)))
        return ACL_OK;
    d->arg = 1;
    return ACL_DENIED_KEY;
}

static enum acl_verdict check_channels(const struct acl_user *u, int how, const char *req,
                                       const struct resp_arg *args, uint32_t argc, struct acl_denial *d)
{
    uint32_t last = how == CHAN_FIRST ? 1 : argc - 1;

    for (uint32_t i = 1; i <= last && i < argc; i++)
        if (!acl_channel_allowed(u, req + args[i].off, args[i].len, how == CHAN_ALL_PATTERNS)) {
            d->arg = i;
            return ACL_DENIED_CHANNEL;
        }
    return ACL_OK;
}

/* SORT's options in SORT's order: BY with a '*' and any GET read keys the
 * command names nowhere else. */
static enum acl_verdict check_sort(const struct acl_user *u, const char *req, const struct resp_arg *args,
                                   uint32_t argc)
{
    int full = acl_key_allowed(u, "*", 1, ACL_KEY_READ);

    for (uint32_t j = 2; j < argc && !full; j++) {
        uint32_t left = argc - j - 1;
        if (resp_arg_is(req, &args[j], "LIMIT") && left >= 2) {
            j += 2;
        } else if (resp_arg_is(req, &args[j], "STORE") && left >= 1) {
            j++;
        } else if (resp_arg_is(req, &args[j], "BY") && left >= 1) {
            if (memchr(req + args[j + 1].off, '*', args[j + 1].len) != NULL)
                return ACL_DENIED_SORT_BY;
            j++;
        } else if (resp_arg_is(req, &args[j], "GET") && left >= 1) {
            return ACL_DENIED_SORT_GET;
        }
    }
    return ACL_OK;
}

enum acl_verdict redis_acl_check(const struct acl_user *u, const struct redis_cmd *cmd, const char *req,
                                 const struct resp_arg *args, uint32_t argc, struct acl_denial *d)
{
    int idx = redis_cmd_index(cmd), id;
    enum acl_verdict v;

    if (!__atomic_load_n(&ids_built, __ATOMIC_ACQUIRE))
        pthread_once(&ids_once, ids_build);
    if (idx < 0 || idx >= MAX_TABLE || ids[idx] < 0) {   /* (every command coproxy knows is Redis's) */
        d->command = cmd->name;
        return ACL_DENIED_COMMAND;
    }
    id = command_id(idx, cmd, req, args, argc);
    d->command = acl_commands[id].name;   /* (a store: cheaper than a branch to skip it) */
    if (!acl_allows_command(u, id))
        return ACL_DENIED_COMMAND;
    /* (PUBLISH's channel is routed as a key, but it is a channel) */
    if (!u->allkeys && chans[idx] == CHAN_NONE && (v = check_keys(u, cmd, idx, id, req, args, argc, d)) != ACL_OK)
        return v;
    if (!u->allchannels && chans[idx] != CHAN_NONE && (v = check_channels(u, chans[idx], req, args, argc, d)) != ACL_OK)
        return v;
    if (cmd->flags & CMD_PATTERNS)
        return check_sort(u, req, args, argc);
    return ACL_OK;
}
