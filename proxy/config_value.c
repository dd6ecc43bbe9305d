/* SPDX-License-Identifier: Apache-2.0 */
/* config_value.c — reading one setting of the configuration: its type, its range, and an error naming file, line and path. */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_value.h"

void config_fail(struct config_ctx *c, const config_setting_t *s, const char *path, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (c->failed)
        return;

    c->failed = 1;
    int line = s ? (int)config_setting_source_line(s) : 0;
    /* a setting from an @include'd file is reported there */
    const char *file = s && config_setting_source_file(s) ? config_setting_source_file(s) : c->file;

    if (line > 0)
        n = snprintf(c->err, c->errlen, "%s:%d: %s: ", file, line, path);
    else   /* a setting that is missing has no line */
        n = snprintf(c->err, c->errlen, "%s: %s: ", c->file, path);
    if (n < 0 || (size_t)n >= c->errlen)
        return;   /* the message is cut at the prefix (a very long path) */
    va_start(ap, fmt);
    vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
    va_end(ap);
}

const char *config_type_name(int type)
{
    switch (type) {
    case CONFIG_TYPE_INT: case CONFIG_TYPE_INT64: return "a number";
    case CONFIG_TYPE_FLOAT: return "a decimal number";
    case CONFIG_TYPE_STRING: return "a string";
    case CONFIG_TYPE_BOOL: return "true or false";
    case CONFIG_TYPE_GROUP: return "a group { ... }";
    case CONFIG_TYPE_ARRAY: return "an array [ ... ]";
    case CONFIG_TYPE_LIST: return "a list ( ... )";
    default: return "something else";
    }
}

/* Rejects settings of a group that are not in `known`. */
void config_check_known(struct config_ctx *c, const config_setting_t *group, const char *prefix,
                        const char *const *known)
{
    for (int i = 0; i < config_setting_length(group); i++) {
        const config_setting_t *s = config_setting_get_elem(group, (unsigned)i);
        const char *name = config_setting_name(s);
        int ok = 0;
        char path[160];
        for (const char *const *k = known; *k; k++)
            ok |= strcmp(*k, name) == 0;
        if (!ok) {
            snprintf(path, sizeof path, "%s%s", prefix, name);
            config_fail(c, s, path, "unknown setting");
            return;
        }
    }
}

/*
 * libconfig before 1.6 keeps only the low 32 bits of an integer written
 * without an L suffix ("server_timeout = 4294967396" reads as 100), so the
 * value it hands back cannot be trusted for a big number.  The file's text
 * can: scan_wide() finds the literals of `name = number` that do not fit 32
 * bits, and config_get_int64() takes the value from there.
 */

/*
 * Reads the integer literal t[0..len) (libconfig's syntax: [+-]digits, 0x
 * hex, an optional L or LL).  Returns 1 with *v set when it lies outside
 * INT32_MIN..INT32_MAX, -ERANGE when it does not fit 64 bits either, and 0
 * when it fits 32 bits or is not an integer (a float).
 */
static int parse_wide(const char *t, size_t len, long long *v)
{
    char buf[64], *end;
    int hex;

    while (len > 0 && t[len - 1] == 'L')
        len--;
    if (len == 0)
        return 0;
    if (len >= sizeof buf)
        return -ERANGE;   /* no 64-bit number is written that long */
    memcpy(buf, t, len);
    buf[len] = '\0';
    hex = len > 2 && buf[0] == '0' && (buf[1] == 'x' || buf[1] == 'X');
    if (strpbrk(buf, hex ? "." : ".eE") != NULL)
        return 0;   /* a float: get_int64 says "must be a number" */
    errno = 0;
    if (hex) {
        unsigned long long u = strtoull(buf, &end, 16);
        if (*end != '\0')
            return 0;
        if (errno == ERANGE || u > LLONG_MAX)
            return -ERANGE;
        *v = (long long)u;
    } else {
        *v = strtoll(buf, &end, 10);
        if (*end != '\0')
            return 0;
        if (errno == ERANGE)
            return -ERANGE;
    }
    return *v < INT32_MIN || *v > INT32_MAX;
}

/*
 * Reads `file` (libconfig's name for it) and records each `name = number`
 * whose number does not fit 32 bits, with the line of the name (the line
 * libconfig gives the setting).  Comments and strings are skipped as
 * libconfig's scanner skips them.  Returns 0 or -errno; a file that cannot
 * be read is simply not checked (libconfig has just read it).
 */
static int scan_wide(struct config_ctx *c, const char *file)
{
    const char **scanned = realloc(c->scanned, (size_t)(c->nscanned + 1) * sizeof *scanned);
    const char *p, *name = NULL;
    size_t nlen = 0, size = 0, cap = 0;
    int line = 1, name_line = 0, state = 0;   /* 1: after a name, 2: after "name =" */
    char *buf = NULL;
    FILE *f;

    if (scanned == NULL)
        return -ENOMEM;
    c->scanned = scanned;
    c->scanned[c->nscanned++] = file;   /* scanned once, even when unreadable */
    if ((f = fopen(file, "re")) == NULL)
        return -errno;
    for (;;) {
        if (size + 4096 + 1 > cap) {
            char *grown = realloc(buf, cap = (cap + 4096 + 1) * 2);
            if (grown == NULL) {
                free(buf);
                fclose(f);
                return -ENOMEM;
            }
            buf = grown;
        }
        size_t n = fread(buf + size, 1, 4096, f);
        size += n;
        if (n == 0)
            break;
    }
    fclose(f);
    buf[size] = '\0';
    for (p = buf; *p != '\0';) {
        if (*p == '\n') {
            line++;
            p++;
        } else if (isspace((unsigned char)*p)) {
            p++;
        } else if (*p == '#' || (p[0] == '/' && p[1] == '/')) {
            p += strcspn(p, "\n");
        } else if (p[0] == '/' && p[1] == '*') {
            for (p += 2; *p != '\0' && !(p[0] == '*' && p[1] == '/'); p++)
                line += *p == '\n';
            p += *p != '\0' ? 2 : 0;
        } else if (*p == '"') {   /* strings may span lines */
            for (p++; *p != '\0' && *p != '"'; p++) {
                if (*p == '\\' && p[1] != '\0')
                    p++;
                line += *p == '\n';
            }
            p += *p != '\0';
            state = 0;
        } else if (isalpha((unsigned char)*p) || *p == '*') {
            name = p;
            name_line = line;
            nlen = strspn(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-*");
            p += nlen;
            state = 1;
        } else if ((*p == '=' || *p == ':') && state == 1) {
            p++;
            state = 2;
        } else if (isdigit((unsigned char)*p) || *p == '-' || *p == '+' || *p == '.') {
            const char *t = p;
            /* digits, hex digits, '.', an exponent's sign, the L suffix */
            for (p++; isalnum((unsigned char)*p) || *p == '.'
                      || ((*p == '-' || *p == '+') && (p[-1] == 'e' || p[-1] == 'E')); p++)
                ;
            long long v = 0;
            int wide = state == 2 && nlen < sizeof c->wide->name ? parse_wide(t, (size_t)(p - t), &v) : 0;
            if (wide != 0) {
                struct wide_literal *w = realloc(c->wide, (size_t)(c->nwide + 1) * sizeof *w);
                if (w == NULL) {
                    free(buf);
                    return -ENOMEM;
                }
                c->wide = w;
                w = &c->wide[c->nwide++];
                w->file = file;
                w->line = name_line;
                snprintf(w->name, sizeof w->name, "%.*s", (int)nlen, name);
                snprintf(w->text, sizeof w->text, "%.*s%s", (int)(p - t) < 28 ? (int)(p - t) : 24, t,
                         p - t < 28 ? "" : "...");
                w->value = v;
                w->overflow = wide < 0;
            }
            state = 0;
        } else {
            p++;   /* ; , { } ( ) [ ] @ */
            state = 0;
        }
    }
    free(buf);
    return 0;
}

/*
 * The literal s was written with when it does not fit 32 bits, else NULL;
 * v is libconfig's value for s, the literal's or its low 32 bits.  A
 * setting is found by file, line and name, and v tells apart two of one
 * name on one line (in two groups) unless their low 32 bits are equal.
 */
static const struct wide_literal *wide_literal(struct config_ctx *c, const config_setting_t *s, const char *name,
                                               long long v)
{
    const char *file = config_setting_source_file(s);
    int line = (int)config_setting_source_line(s), i;

    if (file == NULL || line <= 0)
        return NULL;
    for (i = 0; i < c->nscanned && strcmp(c->scanned[i], file) != 0; i++)
        ;
    if (i == c->nscanned && scan_wide(c, file) == -ENOMEM)
        return NULL;
    for (i = 0; i < c->nwide; i++)
        if (c->wide[i].line == line && strcmp(c->wide[i].name, name) == 0 && strcmp(c->wide[i].file, file) == 0
            && (c->wide[i].overflow || (uint32_t)c->wide[i].value == (uint32_t)v))
            return &c->wide[i];
    return NULL;
}

/* An integer setting in [lo, hi], read as 64 bits whatever libconfig's
 * version; absent: def.  Errors quote the number as it was written. */
long long config_get_int64(struct config_ctx *c, const config_setting_t *group, const char *prefix,
                           const char *name, long long def, long long lo, long long hi)
{
    const config_setting_t *s = config_setting_get_member(group, name);
    const struct wide_literal *w;
    char path[160], given[32];
    long long v;

    snprintf(path, sizeof path, "%s%s", prefix, name);
    if (s == NULL)
        return def;
    if (config_setting_type(s) != CONFIG_TYPE_INT && config_setting_type(s) != CONFIG_TYPE_INT64) {
        config_fail(c, s, path, "must be a number, not %s", config_type_name(config_setting_type(s)));
        return def;
    }
    v = config_setting_get_int64(s);
    snprintf(given, sizeof given, "%lld", v);
    if ((w = wide_literal(c, s, name, v)) != NULL) {   /* libconfig may have cut it: the text says */
        v = w->value;
        snprintf(given, sizeof given, "%s", w->text);
    }
    if ((w != NULL && w->overflow) || v < lo || v > hi) {
        config_fail(c, s, path, "%s is out of range (%lld to %lld)", given, lo, hi);
        return def;
    }
    return v;
}

/* An integer setting in [lo, hi], a range that fits an int; absent: def. */
int config_get_int(struct config_ctx *c, const config_setting_t *group, const char *prefix,
                   const char *name, int def, int lo, int hi)
{
    return (int)config_get_int64(c, group, prefix, name, def, lo, hi);
}

int config_get_bool(struct config_ctx *c, const config_setting_t *group, const char *prefix,
                    const char *name, int def)
{
    const config_setting_t *s = config_setting_get_member(group, name);
    char path[160];

    snprintf(path, sizeof path, "%s%s", prefix, name);
    if (s == NULL)
        return def;
    if (config_setting_type(s) != CONFIG_TYPE_BOOL) {
        config_fail(c, s, path, "must be true or false, not %s", config_type_name(config_setting_type(s)));
        return def;
    }
    return config_setting_get_bool(s);
}

/* A string setting; absent: def (may be NULL).  `choices`, if given, limits it. */
const char *config_get_str(struct config_ctx *c, const config_setting_t *group, const char *prefix,
                           const char *name, const char *def, const char *const *choices)
{
    const config_setting_t *s = config_setting_get_member(group, name);
    char path[160];
    const char *v;

    snprintf(path, sizeof path, "%s%s", prefix, name);
    if (s == NULL)
        return def;
    if (config_setting_type(s) != CONFIG_TYPE_STRING) {
        config_fail(c, s, path, "must be a string, not %s", config_type_name(config_setting_type(s)));
        return def;
    }
    v = config_setting_get_string(s);
    if (choices) {
        char list[256] = "";
        for (const char *const *ch = choices; *ch; ch++) {
            if (strcmp(*ch, v) == 0)
                return v;
            strcat(list, list[0] ? " | " : "");
            strcat(list, *ch);
        }
        config_fail(c, s, path, "'%s' is not one of: %s", v, list);
        return def;
    }
    return v;
}

/* A string setting copied into out[size]; absent: "".  Too long is an error. */
void config_get_text(struct config_ctx *c, const config_setting_t *group, const char *prefix,
                     const char *name, char *out, size_t size)
{
    const char *v = config_get_str(c, group, prefix, name, "", NULL);
    char path[160];

    if (strlen(v) >= size) {
        snprintf(path, sizeof path, "%s%s", prefix, name);
        config_fail(c, config_setting_get_member(group, name), path, "longer than %zu characters", size - 1);
        return;
    }
    snprintf(out, size, "%s", v);
}
