/* SPDX-License-Identifier: Apache-2.0 */
/* tls_io.c — a TLS connection over a hooked socket: handshake, reads and writes that park the coroutine. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "costack.h"
#include "tls.h"
#include "worker_ctx.h"

/*
 * OpenSSL reads and writes the socket through this BIO, never blocking:
 * recv/send with MSG_DONTWAIT (the hooks then make the plain non-blocking
 * call), so SSL_read/SSL_write come back with WANT_READ/WANT_WRITE and the
 * caller parks on the event loop (co_poll_edge) as for a plain socket.
 * MSG_NOSIGNAL: a peer that left is an error, not a SIGPIPE.
 */
static BIO_METHOD *sock_method;

/* The BIO's data is the fd, shifted, and in bit 0 whether the last recv
 * drained the socket (a short read or EAGAIN): no memory of its own. */
static int bio_fd(BIO *b)
{
    return (int)((intptr_t)BIO_get_data(b) >> 1);
}

static void bio_set(BIO *b, int fd, int drained)
{
    BIO_set_data(b, (void *)(((intptr_t)fd << 1) | (drained != 0)));
}

static int bio_write(BIO *b, const char *buf, int len)
{
    ssize_t n = send(bio_fd(b), buf, (size_t)len, MSG_DONTWAIT | MSG_NOSIGNAL);

    BIO_clear_retry_flags(b);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        BIO_set_retry_write(b);
    return (int)n;
}

static int bio_read(BIO *b, char *buf, int len)
{
    ssize_t n = recv(bio_fd(b), buf, (size_t)len, MSG_DONTWAIT);

    bio_set(b, bio_fd(b), n < len);
    BIO_clear_retry_flags(b);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        BIO_set_retry_read(b);
    return (int)n;
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    (void)b, (void)num, (void)ptr;
    return cmd == BIO_CTRL_FLUSH ? 1 : 0;   /* nothing is buffered here */
}

static int bio_create(BIO *b)
{
    BIO_set_init(b, 1);
    return 1;
}

static void make_method(void)
{
    BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "coproxy socket");

    if (m != NULL && (BIO_meth_set_write(m, bio_write) != 1 || BIO_meth_set_read(m, bio_read) != 1
                      || BIO_meth_set_ctrl(m, bio_ctrl) != 1 || BIO_meth_set_create(m, bio_create) != 1)) {
        BIO_meth_free(m);
        m = NULL;
    }
    sock_method = m;
}

static BIO *sock_bio(int fd)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    BIO *b;

    pthread_once(&once, make_method);   /* by whichever worker first needs it */
    if (sock_method == NULL)
        return NULL;
    if ((b = BIO_new(sock_method)) != NULL)
        bio_set(b, fd, 0);
    return b;
}

static SSL *new_ssl(SSL_CTX *ctx, int fd)
{
    SSL *ssl = SSL_new(ctx);
    BIO *b = ssl ? sock_bio(fd) : NULL;

    if (b == NULL) {
        SSL_free(ssl);
        return NULL;
    }
    SSL_set_bio(ssl, b, b);
    return ssl;
}

SSL *tls_new_server(const struct tls_conf *t, int fd)
{
    SSL *ssl = new_ssl(t->certs[0].ctx, fd);

    if (ssl != NULL)
        SSL_set_accept_state(ssl);
    return ssl;
}

SSL *tls_new_client(const struct tls_conf *t, int fd, const char *host, SSL_SESSION **session)
{
    SSL *ssl = new_ssl(t->client, fd);
    const char *name = t->server_name[0] ? t->server_name : host;
    unsigned char ip[16];
    int is_ip = inet_pton(AF_INET, name, ip) == 1 || inet_pton(AF_INET6, name, ip) == 1;

    if (ssl == NULL)
        return NULL;
    SSL_set_connect_state(ssl);
    /* SNI carries host names only (RFC 6066); the certificate is checked
     * against the name, or the address when it is one */
    if ((!is_ip && SSL_set_tlsext_host_name(ssl, name) != 1)
        || (t->verify && (is_ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name)
                                : SSL_set1_host(ssl, name)) != 1)) {
        SSL_free(ssl);
        return NULL;
    }
    if (session != NULL && *session != NULL)
        SSL_set_session(ssl, *session);
    SSL_set_app_data(ssl, session);   /* where tls_conf.c's keep_session puts new ones */
    return ssl;
}

/* The poll event an SSL call that returned r waits for; 0: it failed. */
static short wants(SSL *ssl, int r)
{
    switch (SSL_get_error(ssl, r)) {
    case SSL_ERROR_WANT_READ: return POLLIN;
    case SSL_ERROR_WANT_WRITE: return POLLOUT;
    default: return 0;
    }
}

/* The peer's certificate, or what it said of ours. */
static int is_certificate_failure(SSL *ssl)
{
    unsigned long e = ERR_peek_last_error();
    int reason = ERR_GET_REASON(e);

    if (SSL_get_verify_result(ssl) != X509_V_OK)
        return 1;
    return reason == SSL_R_CERTIFICATE_VERIFY_FAILED || reason == SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE
           || reason == SSL_R_SSLV3_ALERT_BAD_CERTIFICATE || reason == SSL_R_TLSV1_ALERT_UNKNOWN_CA
           || reason == SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED || reason == SSL_R_TLSV1_ALERT_DECRYPT_ERROR
           || reason == SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN || reason == SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED;
}

int tls_handshake(SSL *ssl, int fd, uint64_t deadline_ms, enum tls_fail *why, char *err, size_t errlen)
{
    for (;;) {
        int r, e;
        short ev;

        ERR_clear_error();
        errno = 0;
        r = SSL_do_handshake(ssl);
        if (r == 1)
            return 0;
        if ((ev = wants(ssl, r)) != 0) {
            uint64_t now = worker_now_ms();
            struct pollfd p = { .fd = fd, .events = ev };
            int n = now >= deadline_ms ? 0 : co_poll_edge(&p, 1, (int)(deadline_ms - now));
            if (n == 0 && worker_now_ms() >= deadline_ms) {
                *why = TLS_FAIL_TIMEOUT;
                snprintf(err, errlen, "handshake not done in time");
                return -1;
            }
            if (n < 0 && errno != EINTR) {
                *why = TLS_FAIL_RESOURCE;
                snprintf(err, errlen, "cannot wait: %s", strerror(errno));
                return -1;
            }
            continue;
        }
        e = SSL_get_error(ssl, r);
        if (e == SSL_ERROR_SSL && is_certificate_failure(ssl)) {
            long v = SSL_get_verify_result(ssl);
            *why = TLS_FAIL_CERTIFICATE;
            if (v != X509_V_OK) {
                snprintf(err, errlen, "certificate refused: %s", X509_verify_cert_error_string(v));
                ERR_clear_error();
            } else {
                tls_error_text(err, errlen);
            }
        } else if (e == SSL_ERROR_SSL) {
            *why = TLS_FAIL_PROTOCOL;
            tls_error_text(err, errlen);
        } else {   /* SSL_ERROR_SYSCALL, ZERO_RETURN: the socket ended */
            *why = TLS_FAIL_CLOSED;
            snprintf(err, errlen, "connection %s during the handshake", errno ? strerror(errno) : "closed");
            ERR_clear_error();
        }
        if (err[0] == '\0')
            snprintf(err, errlen, "handshake failed");
        return -1;
    }
}

/* SSL_read_ex or SSL_peek_ex, with recv's answers (see tls_read). */
static ssize_t take(SSL *ssl, void *buf, size_t len, short *want, int (*op)(SSL *, void *, size_t, size_t *))
{
    size_t n = 0;
    int r, e;

    ERR_clear_error();
    errno = 0;
    if ((r = op(ssl, buf, len, &n)) == 1)
        return (ssize_t)n;
    e = SSL_get_error(ssl, r);
    if (e == SSL_ERROR_ZERO_RETURN)
        return 0;   /* close_notify */
    if ((*want = wants(ssl, r)) != 0) {
        errno = EAGAIN;
        return -1;
    }
    if (e == SSL_ERROR_SYSCALL && errno == 0)
        return 0;   /* a FIN without close_notify: an end, as most clients end */
    ERR_clear_error();
    if (errno == 0 || errno == EAGAIN)
        errno = EPROTO;
    return -1;
}

ssize_t tls_read(SSL *ssl, void *buf, size_t len, short *want)
{
    return take(ssl, buf, len, want, SSL_read_ex);
}

ssize_t tls_peek(SSL *ssl, void *buf, size_t len)
{
    short want;

    return take(ssl, buf, len, &want, SSL_peek_ex);
}

ssize_t tls_write(SSL *ssl, const void *buf, size_t len, short *want)
{
    size_t n = 0;
    int r;

    if (len == 0)
        return 0;
    ERR_clear_error();
    errno = 0;
    if ((r = SSL_write_ex(ssl, buf, len, &n)) == 1)
        return (ssize_t)n;
    if ((*want = wants(ssl, r)) != 0) {
        errno = EAGAIN;
        return -1;
    }
    ERR_clear_error();
    if (errno == 0 || errno == EAGAIN)
        errno = EPIPE;
    return -1;
}

int tls_write_all(SSL *ssl, int fd, const void *buf, size_t len)
{
    const char *p = buf;

    while (len > 0) {
        short want = 0;
        ssize_t n = tls_write(ssl, p, len, &want);
        if (n > 0) {
            p += n;
            len -= (size_t)n;
            continue;
        }
        if (n < 0 && errno == EAGAIN) {
            struct pollfd pf = { .fd = fd, .events = want };
            if (co_poll_edge(&pf, 1, -1) < 0 && errno != EINTR)
                return -1;
            continue;
        }
        return -1;
    }
    return 0;
}

int tls_pending(SSL *ssl)
{
    return SSL_pending(ssl) > 0;   /* (SSL_has_pending counts a record's first bytes too) */
}

int tls_drained(SSL *ssl)
{
    return !SSL_has_pending(ssl) && ((intptr_t)BIO_get_data(SSL_get_rbio(ssl)) & 1);
}

void tls_close_notify(SSL *ssl)
{
    ERR_clear_error();
    if (SSL_is_init_finished(ssl))
        (void)SSL_shutdown(ssl);
    ERR_clear_error();
}

void tls_free(SSL *ssl)
{
    /* OpenSSL takes a connection freed without a close_notify for a broken
     * session and spoils it for resumption; a peer that went away after a
     * good handshake says nothing against the session */
    if (ssl != NULL && SSL_is_init_finished(ssl))
        SSL_set_shutdown(ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
    SSL_free(ssl);
}

int tls_version(const SSL *ssl)
{
    return SSL_version(ssl) == TLS1_3_VERSION ? 13 : 12;
}

int tls_resumed(const SSL *ssl)
{
    return SSL_session_reused(ssl);
}
