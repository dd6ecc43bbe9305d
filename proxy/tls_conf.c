/* SPDX-License-Identifier: Apache-2.0 */
/* tls_conf.c — a pool's TLS contexts: certificates, keys, CAs, versions, ciphers, SNI and ALPN. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "tls.h"

/*
 * TLS 1.2 and 1.3 only.  For 1.2, forward-secret AEAD suites only (what
 * Mozilla calls "intermediate"); 1.3's suites are all AEAD and stay
 * OpenSSL's.  Renegotiation is refused (a CPU sink a client could drive),
 * compression is off (CRIME).  Partial writes and moving write buffers
 * let a write that would block be retried from wherever the rest of the
 * bytes are; released buffers let an idle connection keep little memory.
 */
#define TLS12_CIPHERS "ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL:!eNULL"
#define TLS_OPTIONS (SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE \
                     | SSL_OP_IGNORE_UNEXPECTED_EOF)
#define TLS_MODES (SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER)

void tls_error_text(char *buf, size_t len)
{
    unsigned long e = ERR_peek_last_error();

    if (len == 0)
        return;
    buf[0] = '\0';
    if (e != 0)
        ERR_error_string_n(e, buf, len);
    ERR_clear_error();
}

/* "FILE: what OpenSSL said" (or the system, for a file it cannot read), into err. */
static int failed(const char *what, const char *file, char *err, size_t errlen)
{
    char why[256];

    tls_error_text(why, sizeof why);
    if (file[0] && access(file, R_OK) != 0)
        snprintf(why, sizeof why, "%s", strerror(errno));
    snprintf(err, errlen, "%s %s: %s", what, file, why[0] ? why : "rejected by OpenSSL");
    return -1;
}

static int no_passphrase(char *buf, int size, int rwflag, void *arg)
{
    (void)buf, (void)size, (void)rwflag, (void)arg;
    return 0;
}

static SSL_CTX *new_ctx(const struct tls_conf *t, char *err, size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(t->server ? TLS_server_method() : TLS_client_method());

    if (ctx == NULL) {
        failed("cannot make a TLS context", "", err, errlen);
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, t->min_tls13 ? TLS1_3_VERSION : TLS1_2_VERSION);
    SSL_CTX_set_default_passwd_cb(ctx, no_passphrase);   /* never a prompt on the terminal */
    SSL_CTX_set_options(ctx, TLS_OPTIONS);
    SSL_CTX_set_mode(ctx, TLS_MODES);
    SSL_CTX_set_read_ahead(ctx, 1);   /* a record in one recv, not its header and then its body */
    if (SSL_CTX_set_cipher_list(ctx, TLS12_CIPHERS) != 1) {
        SSL_CTX_free(ctx);
        failed("cannot set the ciphers", TLS12_CIPHERS, err, errlen);
        return NULL;
    }
    return ctx;
}

/* A CA file, or a directory of hashed certificates (c_rehash). */
static int load_ca(struct tls_conf *t, SSL_CTX *ctx, const char *ca, char *err, size_t errlen)
{
    struct stat st;
    int dir = stat(ca, &st) == 0 && S_ISDIR(st.st_mode);

    if (SSL_CTX_load_verify_locations(ctx, dir ? NULL : ca, dir ? ca : NULL) != 1) {
        snprintf(t->failed_setting, sizeof t->failed_setting, "ca");
        return failed("cannot load the CA", ca, err, errlen);
    }
    return 0;
}

/* Certificate i's chain and key ([0]: the group's own; else sni.[i - 1]). */
static int load_pair(struct tls_conf *t, int i, SSL_CTX *ctx, char *err, size_t errlen)
{
    const char *cert = t->certs[i].file, *key = t->certs[i].key[0] ? t->certs[i].key : cert;
    char at[24] = "";

    if (i > 0)
        snprintf(at, sizeof at, "sni.[%d].", i - 1);
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
        snprintf(t->failed_setting, sizeof t->failed_setting, "%scertificate", at);
        return failed("cannot load the certificate", cert, err, errlen);
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
        int mismatch = ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH;
        snprintf(t->failed_setting, sizeof t->failed_setting, "%skey", at);
        return failed(mismatch ? "the key does not match the certificate"
                               : "cannot load the key (a key with a passphrase cannot be read)", key, err, errlen);
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        snprintf(t->failed_setting, sizeof t->failed_setting, "%skey", at);
        return failed("the key does not match the certificate", key, err, errlen);
    }
    return 0;
}

static time_t not_after(SSL_CTX *ctx)
{
    X509 *x = SSL_CTX_get0_certificate(ctx);
    struct tm tm;

    if (x == NULL || ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm) != 1)
        return 0;
    return timegm(&tm);
}

/* SNI: the certificate whose names match the one the client asked for
 * (the default one when none does, or when it asked for none). */
static int pick_by_name(SSL *ssl, int *alert, void *arg)
{
    const struct tls_conf *t = arg;
    const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);

    (void)alert;
    if (name == NULL)
        return SSL_TLSEXT_ERR_NOACK;
    for (int i = 1; i < t->ncerts; i++) {
        X509 *x = SSL_CTX_get0_certificate(t->certs[i].ctx);
        if (x != NULL && X509_check_host(x, name, 0, 0, NULL) == 1) {
            SSL_set_SSL_CTX(ssl, t->certs[i].ctx);
            return SSL_TLSEXT_ERR_OK;
        }
    }
    return SSL_TLSEXT_ERR_OK;   /* the default certificate */
}

/* ALPN: the first of the client's protocols that the pool speaks; none in
 * common is a failed handshake, as RFC 7301 asks. */
static int pick_protocol(SSL *ssl, const unsigned char **out, unsigned char *outlen, const unsigned char *in,
                         unsigned inlen, void *arg)
{
    const struct tls_conf *t = arg;
    unsigned char *o;

    (void)ssl;
    if (SSL_select_next_proto(&o, outlen, t->alpn, t->alpn_len, in, inlen) != OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    *out = o;
    return SSL_TLSEXT_ERR_OK;
}

/*
 * The settings (read by config_file.c into t) become contexts.  t is owned
 * by its first context from here on: connections hold references to their
 * contexts, so t lives while a connection made under it does, whatever a
 * reload frees (tls_conf_free drops the configuration's reference).
 */
static int owner_index = -1;
static unsigned build_ids;           /* (configurations are loaded by one thread) */

static void free_owned(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
    struct tls_conf *t = ptr;

    (void)parent, (void)ad, (void)idx, (void)argl, (void)argp;
    if (t == NULL)
        return;
    for (int i = 1; i < t->ncerts; i++)
        SSL_CTX_free(t->certs[i].ctx);
    free(t);
}

static SSL_CTX *owner_ctx(const struct tls_conf *t)
{
    return t->server ? t->certs[0].ctx : t->client;
}

static int build_server(struct tls_conf *t, char *err, size_t errlen)
{
    for (int i = 0; i < t->ncerts; i++) {
        SSL_CTX *ctx = new_ctx(t, err, errlen);
        if (ctx == NULL)
            return -1;
        t->certs[i].ctx = ctx;
        if (load_pair(t, i, ctx, err, errlen) != 0)
            return -1;
        t->certs[i].not_after = not_after(ctx);
        /* sessions resume by tickets, whose keys the workers share (the
         * context's): no session cache, whose lock every worker would take
         * for every full handshake */
        SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"coproxy", 7);
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
        if (t->ca[0] && load_ca(t, ctx, t->ca, err, errlen) != 0)
            return -1;
        if (t->verify_client) {
            STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(t->ca);
            if (names != NULL)
                SSL_CTX_set_client_CA_list(ctx, names);
            SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
        }
        if (t->alpn_len > 0)
            SSL_CTX_set_alpn_select_cb(ctx, pick_protocol, t);
    }
    if (t->ncerts > 1)
        SSL_CTX_set_tlsext_servername_callback(t->certs[0].ctx, pick_by_name);
    SSL_CTX_set_tlsext_servername_arg(t->certs[0].ctx, t);
    return 0;
}

/* A session the server handed out (TLS 1.3: after the handshake): kept
 * where the connection's maker asked (tls_new_client), for the next one. */
static int keep_session(SSL *ssl, SSL_SESSION *sess)
{
    SSL_SESSION **slot = SSL_get_app_data(ssl);

    if (slot == NULL)
        return 0;
    SSL_SESSION_free(*slot);
    *slot = sess;
    return 1;   /* the reference is ours */
}

static int build_client(struct tls_conf *t, char *err, size_t errlen)
{
    SSL_CTX *ctx = new_ctx(t, err, errlen);

    if (ctx == NULL)
        return -1;
    t->client = ctx;
    if (t->ca[0] ? load_ca(t, ctx, t->ca, err, errlen) != 0 : SSL_CTX_set_default_verify_paths(ctx) != 1)
        return -1;
    if (t->certs[0].file[0]) {
        if (load_pair(t, 0, ctx, err, errlen) != 0)
            return -1;
        t->certs[0].not_after = not_after(ctx);
        t->ncerts = 1;
    }
    SSL_CTX_set_verify(ctx, t->verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
    /* sessions are kept by whoever connects (tls_new_client's resume) */
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(ctx, keep_session);
    if (t->alpn_len > 0 && SSL_CTX_set_alpn_protos(ctx, t->alpn, t->alpn_len) != 0)
        return failed("cannot set ALPN", "", err, errlen);
    return 0;
}

int tls_conf_build(struct tls_conf *t, char *err, size_t errlen)
{
    int r;

    ERR_clear_error();
    if (owner_index < 0) {   /* (configurations are loaded by one thread) */
        owner_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, free_owned);
        if (owner_index < 0)
            return failed("cannot set up TLS", "", err, errlen);
    }
    t->id = ++build_ids;
    r = t->server ? build_server(t, err, errlen) : build_client(t, err, errlen);
    if (r == 0 && SSL_CTX_set_ex_data(owner_ctx(t), owner_index, t) != 1)
        r = failed("cannot set up TLS", "", err, errlen);
    return r;
}

void tls_conf_hold(struct tls_conf *t)
{
    if (t != NULL)
        SSL_CTX_up_ref(owner_ctx(t));
}

void tls_conf_free(struct tls_conf *t)
{
    SSL_CTX *owner;

    if (t == NULL)
        return;
    owner = owner_ctx(t);
    if (owner != NULL && SSL_CTX_get_ex_data(owner, owner_index) == t) {
        SSL_CTX_free(owner);   /* t goes with the last connection's reference */
        return;
    }
    /* never built whole: nobody else holds it */
    for (int i = 0; i < t->ncerts; i++)
        SSL_CTX_free(t->certs[i].ctx);
    SSL_CTX_free(t->client);
    free(t);
}
