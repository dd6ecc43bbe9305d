/* SPDX-License-Identifier: Apache-2.0 */
/* tls.h — TLS with OpenSSL on the hooked sockets: the pools' contexts and the connections' I/O. */
#ifndef COPROXY_TLS_H
#define COPROXY_TLS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include <openssl/ssl.h>

/*
 * A pool's `tls` group (its listeners: the proxy is the TLS server) or its
 * `server_tls` group (its backend connections: the proxy is the client),
 * read and built when the configuration is loaded: every certificate and
 * key is loaded then, so `coproxy -t` and a reload check them, and a
 * reload with a bad one keeps the running configuration (and its
 * certificates) with the reason.  The contexts are shared by the workers
 * (OpenSSL's SSL_CTX may be used from several threads); a connection
 * holds a reference to its context, so a reload can free the old one.
 */
#define TLS_MAX_CERTS 16             /* per listener: the default and the SNI ones */
#define TLS_MAX_ALPN 8
/* The least coroutine stack a TLS handshake is run on (chain checks, RSA). */
#define TLS_STACK_MIN (64 * 1024)

struct tls_cert {
    SSL_CTX *ctx;                    /* serves this certificate (SNI picks it) */
    char file[256];                  /* the certificate (chain) */
    char key[256];                   /* its key ("" = in file) */
    time_t not_after;                /* the certificate's expiry */
};

struct tls_conf {
    unsigned id;                     /* unique per build (a reload makes new ones) */
    int server;                      /* 1: accepts (tls), 0: connects (server_tls) */
    struct tls_cert certs[TLS_MAX_CERTS];   /* [0] the default; server side */
    int ncerts;
    SSL_CTX *client;                 /* client side */
    char ca[256];                    /* CA file or directory (server side: "" = none) */
    int verify;                      /* client side: check the server's certificate */
    int verify_client;               /* server side: ask for and check a client certificate */
    char server_name[256];           /* client side: SNI and the name checked ("" = the address's host) */
    int handshake_timeout;           /* ms */
    int min_tls13;                   /* TLS 1.3 only (else 1.2 and 1.3) */
    unsigned char alpn[TLS_MAX_ALPN * 32];   /* wire format: length-prefixed names */
    unsigned alpn_len;
    char failed_setting[32];         /* a failed build: the setting at fault ("key", "sni.[0].certificate") */
};

/* Why a handshake failed: counted per reason. */
enum tls_fail {
    TLS_FAIL_NONE,
    TLS_FAIL_PROTOCOL,               /* not TLS, or a malformed or refused handshake */
    TLS_FAIL_CERTIFICATE,            /* the peer's certificate was refused */
    TLS_FAIL_TIMEOUT,                /* not done within handshake_timeout */
    TLS_FAIL_CLOSED,                 /* the peer closed or reset half-way */
    TLS_FAIL_RESOURCE,               /* out of memory */
};

/* Builds a tls group's contexts from the loaded settings: 0, or -1 with err
 * naming the file and OpenSSL's reason (config_file.c reads the settings). */
int tls_conf_build(struct tls_conf *t, char *err, size_t errlen);
void tls_conf_free(struct tls_conf *t);
/* One more owner of a built t (a configuration that keeps another's): each tls_conf_free's. */
void tls_conf_hold(struct tls_conf *t);

/*
 * A connection's TLS: made from a context, over a socket.  A client's
 * certificate check is against host (or server_name); *session, if given,
 * is resumed, and the sessions the server hands out replace it (the
 * caller owns it: SSL_SESSION_free; one thread uses it).
 */
SSL *tls_new_server(const struct tls_conf *t, int fd);
SSL *tls_new_client(const struct tls_conf *t, int fd, const char *host, SSL_SESSION **session);

/*
 * The handshake, in the calling coroutine (it parks on the event loop while
 * OpenSSL wants the socket), until deadline_ms (worker clock).  0, or -1
 * with *why set and a reason (OpenSSL's, or what happened) in err.
 */
int tls_handshake(SSL *ssl, int fd, uint64_t deadline_ms, enum tls_fail *why, char *err, size_t errlen);

/*
 * Non-blocking I/O, like recv/send with MSG_DONTWAIT: bytes, 0 at the end
 * (read: the peer's close_notify or FIN), or -1 with errno EAGAIN, and
 * *want set to the poll event to wait for (POLLIN or POLLOUT: TLS may have
 * to write to read, or read to write), or another errno.
 */
ssize_t tls_read(SSL *ssl, void *buf, size_t len, short *want);
ssize_t tls_write(SSL *ssl, const void *buf, size_t len, short *want);

/* Like tls_read, but what it returns stays to be read (MSG_PEEK): tells
 * a client's next request from its close_notify, never waiting. */
ssize_t tls_peek(SSL *ssl, void *buf, size_t len);

/* Writes all of buf, parking as needed.  0, or -1 (the connection is broken). */
int tls_write_all(SSL *ssl, int fd, const void *buf, size_t len);

/* Decrypted bytes held in OpenSSL that a read would return without the socket. */
int tls_pending(SSL *ssl);

/* Nothing held in OpenSSL and the last read of the socket drained it (a
 * short read): as after a short plain recv, new data brings a new edge. */
int tls_drained(SSL *ssl);

/* Sends close_notify, if the socket takes it now (never waits). */
void tls_close_notify(SSL *ssl);

/* Frees a connection's TLS (NULL: nothing); a session it completed stays resumable. */
void tls_free(SSL *ssl);

/* What was negotiated, for the counters: 12 or 13 (TLS 1.2 / 1.3), resumed. */
int tls_version(const SSL *ssl);
int tls_resumed(const SSL *ssl);

/* Why the last call failed, in OpenSSL's words ("" if it did not say). */
void tls_error_text(char *buf, size_t len);

#endif
