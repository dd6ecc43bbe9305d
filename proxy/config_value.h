/* SPDX-License-Identifier: Apache-2.0 */
/* config_value.h — reading one setting of the configuration: its type, its range, and an error naming file, line and path. */
#ifndef COPROXY_CONFIG_VALUE_H
#define COPROXY_CONFIG_VALUE_H

#include <libconfig.h>
#include <stddef.h>

/*
 * Errors name the file, the line and the setting's path as the user wrote
 * it ("pools.[1].listen"), then what is wrong.  The first error stops the
 * check: one clear message beats a cascade.
 */

/* An integer literal that does not fit 32 bits, where a setting's value was written. */
struct wide_literal {
    const char *file;                /* libconfig's name for the file */
    int line;                        /* the setting's name's line */
    char name[64];
    char text[32];                   /* as written (cut if longer) */
    long long value;
    int overflow;                    /* beyond 64 bits: value is meaningless */
};

struct config_ctx {
    const char *file;
    char *err;
    size_t errlen;
    int failed;
    struct wide_literal *wide;       /* of the files scanned so far */
    int nwide;
    const char **scanned;            /* files scanned (libconfig's names) */
    int nscanned;
};

/* The first error, as "FILE:LINE: path: what" into c->err (later ones are dropped). */
void config_fail(struct config_ctx *c, const config_setting_t *s, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
const char *config_type_name(int type);
/* Rejects settings of a group that are not in `known` (NULL-terminated). */
void config_check_known(struct config_ctx *c, const config_setting_t *group, const char *prefix,
                        const char *const *known);

/* group's setting `name` (its path: prefix + name), checked; absent: def.
 * Integers in [lo, hi] (numbers libconfig cut to 32 bits are read from
 * the file's text); strings limited to `choices` if given; get_text
 * copies into out[size], too long being an error. */
long long config_get_int64(struct config_ctx *c, const config_setting_t *group, const char *prefix,
                           const char *name, long long def, long long lo, long long hi);
int config_get_int(struct config_ctx *c, const config_setting_t *group, const char *prefix,
                   const char *name, int def, int lo, int hi);
int config_get_bool(struct config_ctx *c, const config_setting_t *group, const char *prefix,
                    const char *name, int def);
const char *config_get_str(struct config_ctx *c, const config_setting_t *group, const char *prefix,
                           const char *name, const char *def, const char *const *choices);
void config_get_text(struct config_ctx *c, const config_setting_t *group, const char *prefix,
                     const char *name, char *out, size_t size);

#endif
