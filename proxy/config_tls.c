/* SPDX-License-Identifier: Apache-2.0 */
/* config_tls.c — a pool's tls and server_tls groups: their settings read and their contexts built. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_tls.h"
#include "tls.h"

/* Reads one TLS setting's file name (checked when the contexts are built). */
static void get_file(struct config_ctx *c, const config_setting_t *g, const char *prefix, const char *name, char *out,
                     size_t size, int required)
{
    char path[160];

    config_get_text(c, g, prefix, name, out, size);
    if (!c->failed && required && out[0] == '\0') {
        snprintf(path, sizeof path, "%s%s", prefix, name);
        config_fail(c, g, path, "is required");
    }
}

/* ALPN: one protocol name or a list of them, to OpenSSL's wire format. */
static void get_alpn(struct config_ctx *c, const config_setting_t *g, const char *prefix, struct tls_conf *t)
{
    const config_setting_t *a = config_setting_get_member(g, "alpn");
    char path[160];
    int n;

    if (a == NULL)
        return;
    snprintf(path, sizeof path, "%salpn", prefix);
    n = config_setting_type(a) == CONFIG_TYPE_STRING ? 1 : config_setting_length(a);
    for (int i = 0; i < n && !c->failed; i++) {
        const char *v = config_setting_type(a) == CONFIG_TYPE_STRING ? config_setting_get_string(a)
                                                                     : config_setting_get_string_elem(a, (unsigned)i);
        size_t len = v ? strlen(v) : 0;
        if (v == NULL || len == 0 || len > 31 || t->alpn_len + 1 + len > sizeof t->alpn || i >= TLS_MAX_ALPN) {
            config_fail(c, a, path, "must be a protocol name (1 to 31 characters) or a list of up to %d", TLS_MAX_ALPN);
            return;
        }
        t->alpn[t->alpn_len++] = (unsigned char)len;
        memcpy(t->alpn + t->alpn_len, v, len);
        t->alpn_len += (unsigned)len;
    }
}

/*
 * A pool's `tls` (server = 1: its listeners) or `server_tls` group (its
 * backend connections).  The certificates are loaded here: a bad one is
 * an error naming the group, the file and OpenSSL's reason.
 */
struct tls_conf *config_tls_parse(struct config_ctx *c, const config_setting_t *p, const char *pool_prefix,
                                  const char *name, int server)
{
    static const char *const known_server[] = { "certificate", "key", "ca", "verify_client", "sni", "alpn",
                                                "min_version", "handshake_timeout", NULL };
    static const char *const known_client[] = { "ca", "verify", "server_name", "certificate", "key", "alpn",
                                                "min_version", "handshake_timeout", NULL };
    const config_setting_t *g = config_setting_get_member(p, name), *sni;
    char prefix[96], path[160], err[400];
    struct tls_conf *t;

    if (g == NULL || c->failed)
        return NULL;
    snprintf(prefix, sizeof prefix, "%s%s.", pool_prefix, name);
    snprintf(path, sizeof path, "%s%s", pool_prefix, name);
    if (config_setting_type(g) != CONFIG_TYPE_GROUP) {
        config_fail(c, g, path, "must be a group { %s }", server ? "certificate = \"FILE\"; key = \"FILE\"; ..." : "ca = \"FILE\"; ...");
        return NULL;
    }
    config_check_known(c, g, prefix, server ? known_server : known_client);
    if ((t = calloc(1, sizeof *t)) == NULL) {
        config_fail(c, g, path, "out of memory");
        return NULL;
    }
    t->server = server;
    get_file(c, g, prefix, "certificate", t->certs[0].file, sizeof t->certs[0].file, server);
    get_file(c, g, prefix, "key", t->certs[0].key, sizeof t->certs[0].key, 0);
    get_file(c, g, prefix, "ca", t->ca, sizeof t->ca, !server);
    t->ncerts = server ? 1 : 0;
    if (server) {
        t->verify_client = config_get_bool(c, g, prefix, "verify_client", 0);
        if (!c->failed && t->verify_client && t->ca[0] == '\0') {
            snprintf(path, sizeof path, "%sca", prefix);
            config_fail(c, g, path, "verify_client = true needs the CA that signs the clients' certificates");
        }
    } else {
        t->verify = config_get_bool(c, g, prefix, "verify", 1);
        config_get_text(c, g, prefix, "server_name", t->server_name, sizeof t->server_name);
    }
    t->handshake_timeout = config_get_int(c, g, prefix, "handshake_timeout", 10000, 1, 3600000);
    get_alpn(c, g, prefix, t);
    if ((sni = config_setting_get_member(g, "sni")) != NULL && !c->failed) {
        int n = config_setting_length(sni);
        snprintf(path, sizeof path, "%ssni", prefix);
        if (config_setting_type(sni) != CONFIG_TYPE_LIST || n + 1 > TLS_MAX_CERTS)
            config_fail(c, sni, path, "must be a list of up to %d groups ( { certificate = \"FILE\"; key = \"FILE\"; }, ... )",
                 TLS_MAX_CERTS - 1);
        for (int i = 0; i < n && !c->failed; i++) {
            const config_setting_t *e = config_setting_get_elem(sni, (unsigned)i);
            char eprefix[128];
            snprintf(eprefix, sizeof eprefix, "%ssni.[%d].", prefix, i);
            if (config_setting_type(e) != CONFIG_TYPE_GROUP) {
                snprintf(path, sizeof path, "%ssni.[%d]", prefix, i);
                config_fail(c, e, path, "must be a group { certificate = \"FILE\"; key = \"FILE\"; }");
                break;
            }
            config_check_known(c, e, eprefix, (const char *const[]){ "certificate", "key", NULL });
            get_file(c, e, eprefix, "certificate", t->certs[t->ncerts].file, sizeof t->certs[0].file, 1);
            get_file(c, e, eprefix, "key", t->certs[t->ncerts].key, sizeof t->certs[0].key, 0);
            t->ncerts++;
        }
    }
    {
        const char *mv = config_get_str(c, g, prefix, "min_version", "TLSv1.2", (const char *const[]){ "TLSv1.2", "TLSv1.3", NULL });
        t->min_tls13 = strcmp(mv, "TLSv1.3") == 0;
    }
    if (!c->failed && tls_conf_build(t, err, sizeof err) != 0) {
        const config_setting_t *at = config_setting_lookup((config_setting_t *)g, t->failed_setting);
        snprintf(path, sizeof path, "%s%s%s%s", pool_prefix, name, at ? "." : "", at ? t->failed_setting : "");
        config_fail(c, at ? at : g, path, "%s", err);
    }
    if (c->failed) {
        tls_conf_free(t);
        return NULL;
    }
    return t;
}
