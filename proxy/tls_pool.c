/* SPDX-License-Identifier: Apache-2.0 */
/* tls_pool.c — a pool's TLS handshakes, with clients and with its servers: counted and logged. */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

#include "addr.h"
#include "log.h"
#include "tls_pool.h"
#include "worker.h"
#include "worker_ctx.h"

/* A failed handshake is a line in the log, but a scan of the port must not
 * fill it: at most one line a second per worker, with a count of the rest. */
#define TLS_LOG_MS 1000

static __thread uint64_t log_at;
static __thread uint64_t log_skipped;

static const char *const fail_names[] = {
    [TLS_FAIL_NONE] = "", [TLS_FAIL_PROTOCOL] = "protocol", [TLS_FAIL_CERTIFICATE] = "certificate",
    [TLS_FAIL_TIMEOUT] = "timeout", [TLS_FAIL_CLOSED] = "closed", [TLS_FAIL_RESOURCE] = "resource",
};

int tls_accepted(struct pool_rt *p, SSL *ssl, int fd, uint64_t deadline_ms)
{
    enum tls_fail why = TLS_FAIL_NONE;
    char err[256] = "", peer[64];
    uint64_t now;

    if (tls_handshake(ssl, fd, deadline_ms, &why, err, sizeof err) == 0) {
        p->stats.tls_handshakes++;
        p->stats.tls_resumed += (uint64_t)tls_resumed(ssl);
        if (tls_version(ssl) == 13)
            p->stats.tls_v1_3++;
        else
            p->stats.tls_v1_2++;
        return 0;
    }
    switch (why) {
    case TLS_FAIL_CERTIFICATE: p->stats.tls_fail_certificate++; break;
    case TLS_FAIL_TIMEOUT: p->stats.tls_fail_timeout++; break;
    case TLS_FAIL_CLOSED: p->stats.tls_fail_closed++; break;
    default: p->stats.tls_fail_protocol++; break;
    }
    now = worker_now_ms();
    if (log_at != 0 && now - log_at < TLS_LOG_MS) {
        log_skipped++;
        return -1;
    }
    addr_peer(fd, peer, sizeof peer);
    if (log_skipped > 0)
        log_warn("pool %s: TLS handshake with client %s failed (%s): %s; closed (and %llu more failed handshakes "
                 "since the last line)", p->conf->name, peer, fail_names[why], err, (unsigned long long)log_skipped);
    else
        log_warn("pool %s: TLS handshake with client %s failed (%s): %s; closed", p->conf->name, peer,
                 fail_names[why], err);
    log_at = now;
    log_skipped = 0;
    return -1;
}

int tls_connected(struct server_stats *st, SSL *ssl, int fd, uint64_t deadline_ms, char *why, size_t whylen)
{
    enum tls_fail kind = TLS_FAIL_NONE;
    char err[256] = "";

    if (tls_handshake(ssl, fd, deadline_ms, &kind, err, sizeof err) == 0) {
        st->tls_handshakes++;
        st->tls_resumed += (uint64_t)tls_resumed(ssl);
        return 0;
    }
    st->tls_failures++;
    snprintf(why, whylen, "TLS handshake failed (%s): %s", fail_names[kind], err);
    return -1;
}
