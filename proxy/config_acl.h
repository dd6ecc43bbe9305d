/* SPDX-License-Identifier: Apache-2.0 */
/* config_acl.h — a redis pool's users (users = ( ... ) or acl_file) and its AUTH brute-force limits. */
#ifndef COPROXY_CONFIG_ACL_H
#define COPROXY_CONFIG_ACL_H

#include "config_value.h"

struct pool_conf;

/*
 * Reads the pool p's users, from `users` (a list of rule lines) or
 * `acl_file` (a file of them, Redis's "user NAME ..." lines too), into
 * out->acl; `password` (already read) becomes the default user's when the
 * lines do not name "default".  Then the AUTH limits (auth_max_failures,
 * auth_lockout, auth_delay).  Errors name the setting, and the file's line.
 */
void config_acl_parse(struct config_ctx *c, const config_setting_t *p, const char *prefix, struct pool_conf *out);

#endif
