/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ssl_state.c — how much memory OpenSSL keeps per idle TLS server connection,
 * set up as coproxy's listeners are (TLS 1.3, released buffers, read-ahead,
 * no session cache): the floor under any proxy's memory per idle TLS client
 * that keeps one SSL per connection.
 *
 *   bench/ssl_state [CONNECTIONS]
 *
 * Every allocation OpenSSL makes goes through counting functions
 * (CRYPTO_set_mem_functions); N server connections complete a handshake and
 * one round trip with clients over memory BIO pairs, then the clients are
 * freed and what the servers still hold is counted, by size class.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

/* Each block carries its size and whose it is in a 16-byte header. */
enum { OWNER_OTHER, OWNER_SERVER };
static int owner = OWNER_OTHER;
static long server_bytes, server_blocks;
static long by_class[32], count_by_class[32];

struct head {
    size_t size;
    int owner;
    int pad;
};

static int size_class(size_t n)
{
    int c = 0;

    while (n > 1 && c < 31) {
        n >>= 1;
        c++;
    }
    return c;
}

static void account(size_t n, int who, int sign)
{
    if (who != OWNER_SERVER)
        return;
    server_bytes += sign * (long)n;
    server_blocks += sign;
    by_class[size_class(n)] += sign * (long)n;
    count_by_class[size_class(n)] += sign;
}

static void *counted_malloc(size_t n, const char *file, int line)
{
    struct head *h = malloc(sizeof *h + n);

    (void)file, (void)line;
    if (h == NULL)
        return NULL;
    h->size = n;
    h->owner = owner;
    account(n, owner, 1);
    return h + 1;
}

static void counted_free(void *p, const char *file, int line)
{
    struct head *h;

    (void)file, (void)line;
    if (p == NULL)
        return;
    h = (struct head *)p - 1;
    account(h->size, h->owner, -1);
    free(h);
}

static void *counted_realloc(void *p, size_t n, const char *file, int line)
{
    struct head *h;

    if (p == NULL)
        return counted_malloc(n, file, line);
    h = (struct head *)p - 1;
    account(h->size, h->owner, -1);
    h = realloc(h, sizeof *h + n);
    if (h == NULL)
        return NULL;
    h->size = n;
    account(n, h->owner, 1);
    return h + 1;
}

/* A self-signed RSA-2048 certificate and its key, made here. */
static int make_identity(SSL_CTX *ctx)
{
    EVP_PKEY *key = EVP_RSA_gen(2048);
    X509 *x = X509_new();
    int ok;

    if (key == NULL || x == NULL)
        return -1;
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_set_pubkey(x, key);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC, (const unsigned char *)"ssl_state", -1,
                               -1, 0);
    X509_set_issuer_name(x, X509_get_subject_name(x));
    ok = X509_sign(x, key, EVP_sha256()) > 0 && SSL_CTX_use_certificate(ctx, x) == 1
         && SSL_CTX_use_PrivateKey(ctx, key) == 1;
    X509_free(x);
    EVP_PKEY_free(key);
    return ok ? 0 : -1;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 100;
    SSL_CTX *sc, *cc;
    SSL **servers;

    if (n < 1 || CRYPTO_set_mem_functions(counted_malloc, counted_realloc, counted_free) != 1) {
        fprintf(stderr, "usage: ssl_state [CONNECTIONS]\n");
        return 2;
    }
    sc = SSL_CTX_new(TLS_server_method());
    cc = SSL_CTX_new(TLS_client_method());
    servers = calloc((size_t)n + 1, sizeof *servers);
    if (sc == NULL || cc == NULL || servers == NULL || make_identity(sc) != 0) {
        fprintf(stderr, "ssl_state: cannot set up OpenSSL\n");
        return 1;
    }
    SSL_CTX_set_min_proto_version(sc, TLS1_3_VERSION);
    SSL_CTX_set_mode(sc, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_mode(cc, SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_read_ahead(sc, 1);
    SSL_CTX_set_session_cache_mode(sc, SSL_SESS_CACHE_OFF);
    /* connection 0 warms OpenSSL's lazily made tables up and is not counted */
    for (int i = 0; i <= n; i++) {
        BIO *sb, *cb;
        SSL *c;
        char buf[16];

        owner = OWNER_OTHER;
        if (BIO_new_bio_pair(&sb, 20000, &cb, 20000) != 1 || (c = SSL_new(cc)) == NULL) {
            fprintf(stderr, "ssl_state: out of memory\n");
            return 1;
        }
        owner = i > 0 ? OWNER_SERVER : OWNER_OTHER;
        servers[i] = SSL_new(sc);
        SSL_set_bio(servers[i], sb, sb);
        SSL_set_accept_state(servers[i]);
        owner = OWNER_OTHER;
        SSL_set_bio(c, cb, cb);
        SSL_set_connect_state(c);
        for (int k = 0; k < 20 && !(SSL_is_init_finished(c) && SSL_is_init_finished(servers[i])); k++) {
            owner = OWNER_OTHER;
            SSL_do_handshake(c);
            owner = i > 0 ? OWNER_SERVER : OWNER_OTHER;
            SSL_do_handshake(servers[i]);
        }
        owner = OWNER_OTHER;
        SSL_write(c, "PING\r\n", 6);
        owner = i > 0 ? OWNER_SERVER : OWNER_OTHER;
        if (SSL_read(servers[i], buf, sizeof buf) != 6 || SSL_write(servers[i], "+PONG\r\n", 7) != 7) {
            fprintf(stderr, "ssl_state: the handshake or the round trip failed\n");
            return 1;
        }
        SSL_read(servers[i], buf, sizeof buf);   /* (nothing more: its buffers go) */
        owner = OWNER_OTHER;
        SSL_read(c, buf, sizeof buf);
        SSL_free(c);   /* (and the bio pair's client half) */
    }
    /* (the BIO pairs' buffers are made with the pair, before the server: not counted) */
    printf("OpenSSL %s, %d idle TLS 1.3 server connections: %ld B in %.1f blocks each\n",
           OpenSSL_version(OPENSSL_VERSION_STRING), n, server_bytes / n, (double)server_blocks / n);
    for (int c = 0; c < 32; c++)
        if (count_by_class[c] != 0)
            printf("  %7ld .. %7ld B: %5.1f blocks, %6ld B\n", 1L << c, (2L << c) - 1,
                   (double)count_by_class[c] / n, by_class[c] / n);
    for (int i = 0; i <= n; i++)
        SSL_free(servers[i]);
    SSL_CTX_free(sc);
    SSL_CTX_free(cc);
    free(servers);
    return 0;
}
