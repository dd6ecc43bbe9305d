/* SPDX-License-Identifier: Apache-2.0 */
/* config_tls.h — a pool's tls and server_tls groups: their settings read and their contexts built. */
#ifndef COPROXY_CONFIG_TLS_H
#define COPROXY_CONFIG_TLS_H

#include "config_value.h"

struct tls_conf;

/*
 * The pool p's group `name`: "tls" (server = 1: its listeners) or
 * "server_tls" (server = 0: its connections to its servers).  NULL when
 * absent or wrong (c says why: a bad certificate names the setting, the
 * file and OpenSSL's reason).
 */
struct tls_conf *config_tls_parse(struct config_ctx *c, const config_setting_t *p, const char *pool_prefix,
                                  const char *name, int server);

#endif
