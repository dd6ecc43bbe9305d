/* SPDX-License-Identifier: Apache-2.0 */
/* config_acl.c — a redis pool's users (users = ( ... ) or acl_file) and its AUTH brute-force limits. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acl.h"
#include "config_acl.h"
#include "config_file.h"

/* The lines of a users list. */
static void from_list(struct config_ctx *c, const config_setting_t *list, const char *prefix, struct acl *a)
{
    char path[160], err[512];

    if (config_setting_type(list) != CONFIG_TYPE_LIST && config_setting_type(list) != CONFIG_TYPE_ARRAY) {
        snprintf(path, sizeof path, "%susers", prefix);
        config_fail(c, list, path, "must be a list of rule lines ( \"app on >secret ~app:* +@all\", ... )");
        return;
    }
    for (int i = 0; i < config_setting_length(list) && !c->failed; i++) {
        const config_setting_t *e = config_setting_get_elem(list, (unsigned)i);
        const char *line = config_setting_get_string(e);
        snprintf(path, sizeof path, "%susers.[%d]", prefix, i);
        if (line == NULL)
            config_fail(c, e, path, "must be a string of rules (\"app on >secret ~app:* +@all\")");
        else if (acl_add_line(a, line, err, sizeof err) != 0)
            config_fail(c, e, path, "%s", err);
    }
}

/* The lines of an ACL file: blank lines and lines starting with '#' skipped. */
static void from_file(struct config_ctx *c, const config_setting_t *s, const char *prefix, const char *file,
                      struct acl *a)
{
    char path[160], err[512], *line = NULL;
    size_t cap = 0;
    int lineno = 0;
    FILE *f = fopen(file, "r");

    snprintf(path, sizeof path, "%sacl_file", prefix);
    if (f == NULL) {
        config_fail(c, s, path, "%s: %s", file, strerror(errno));
        return;
    }
    while (!c->failed && getline(&line, &cap, f) >= 0) {
        const char *p = line;
        lineno++;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '\0' || *p == '\n' || *p == '\r' || *p == '#')
            continue;
        if (acl_add_line(a, p, err, sizeof err) != 0)
            config_fail(c, s, path, "%s:%d: %s", file, lineno, err);
    }
    if (line != NULL)
        memset(line, 0, cap);   /* it held passwords */
    free(line);
    fclose(f);
}

void config_acl_parse(struct config_ctx *c, const config_setting_t *p, const char *prefix, struct pool_conf *out)
{
    const config_setting_t *users = config_setting_get_member(p, "users");
    const config_setting_t *file = config_setting_get_member(p, "acl_file");
    struct acl *a = calloc(1, sizeof *a);
    char path[160];
    const char *v;

    out->auth_max_failures = config_get_int(c, p, prefix, "auth_max_failures", 10, 0, 1000000);
    v = config_get_str(c, p, prefix, "auth_lockout", "delay", (const char *const[]){ "delay", "close", NULL });
    out->auth_lockout_close = strcmp(v, "close") == 0;
    out->auth_delay = config_get_int(c, p, prefix, "auth_delay", 1000, 1, 60000);
    config_get_text(c, p, prefix, "redis_user", out->redis_user, sizeof out->redis_user);
    config_get_text(c, p, prefix, "acl_file", out->acl_file, sizeof out->acl_file);
    if (a == NULL) {
        config_fail(c, p, prefix, "out of memory for the users");
        return;
    }
    if (out->mode != MODE_REDIS && (users != NULL || file != NULL)) {
        snprintf(path, sizeof path, "%s%s", prefix, users != NULL ? "users" : "acl_file");
        config_fail(c, users != NULL ? users : file, path, "users apply to redis pools (mode = \"redis\")");
    } else if (users != NULL && file != NULL) {
        snprintf(path, sizeof path, "%sacl_file", prefix);
        config_fail(c, file, path, "set users or acl_file, not both");
    } else if (users != NULL) {
        from_list(c, users, prefix, a);
    } else if (file != NULL && !c->failed) {
        from_file(c, file, prefix, out->acl_file, a);
    }
    if (!c->failed && out->password[0] != '\0' && acl_find(a, "default", 7) != NULL) {
        snprintf(path, sizeof path, "%spassword", prefix);
        config_fail(c, config_setting_get_member(p, "password"), path,
                    "the users name \"default\": give it its password there (\">secret\") instead");
    }
    if (!c->failed && out->redis_user[0] != '\0' && out->redis_auth[0] == '\0') {
        snprintf(path, sizeof path, "%sredis_user", prefix);
        config_fail(c, config_setting_get_member(p, "redis_user"), path, "needs redis_auth (its password)");
    }
    if (!c->failed && acl_finish(a, out->password) != 0)
        config_fail(c, p, prefix, "out of memory for the users");
    if (c->failed) {
        acl_free(a);
        return;
    }
    out->acl = a;
}
