/* SPDX-License-Identifier: Apache-2.0 */
/* config_syntax.h — a configuration file read with libconfig, its syntax checked first (config_syntax.c). */
#ifndef COPROXY_CONFIG_SYNTAX_H
#define COPROXY_CONFIG_SYNTAX_H

#include <libconfig.h>
#include <stddef.h>

/* Reads file into lc (initialized here): 0, to be config_destroy'ed by the
 * caller; or -1 with err set to "FILE:LINE: what" (or "FILE: cannot read:
 * why") and nothing left to free -- a syntax error found by a check of
 * its own before libconfig 1.5 could lose memory on it (config_syntax.c). */
int config_syntax_read(config_t *lc, const char *file, char *err, size_t errlen);

#endif
