/* SPDX-License-Identifier: Apache-2.0 */
/* redis_acl_check.h — whether a user may run one request: its command, its keys, its channels, SORT's patterns. */
#ifndef COPROXY_REDIS_ACL_CHECK_H
#define COPROXY_REDIS_ACL_CHECK_H

#include <stdint.h>

#include "acl.h"
#include "redis_cmd.h"
#include "resp.h"

enum acl_verdict {
    ACL_OK,
    ACL_DENIED_COMMAND,
    ACL_DENIED_KEY,
    ACL_DENIED_CHANNEL,
    ACL_DENIED_SORT_BY,      /* SORT BY or GET with a pattern: it may read any key, */
    ACL_DENIED_SORT_GET,     /* so only a user who may read every key may use them */
};

struct acl_denial {
    const char *command;     /* Redis's full name: "get", "config|set" */
    uint32_t arg;            /* the key's or channel's argument */
};

/*
 * Checks args[0..argc) (cmd's arity already checked) as Redis checks a
 * command before it runs it: the command or subcommand, then each key for
 * what the command does with it (read, write), then each channel; then
 * SORT's BY and GET patterns, which the servers would check against the
 * pool's backend user, not u.
 */
enum acl_verdict redis_acl_check(const struct acl_user *u, const struct redis_cmd *cmd, const char *req,
                                 const struct resp_arg *args, uint32_t argc, struct acl_denial *d);

#endif
