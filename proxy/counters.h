/* SPDX-License-Identifier: Apache-2.0 */
/* counters.h — coproxy's counters: one table per scope, X(name, type, help); types only (the proxy writes them, stats/ reads them). */
#ifndef COPROXY_COUNTERS_H
#define COPROXY_COUNTERS_H

#include <stdint.h>

/*
 * Adding a counter is one line here: it becomes a field that the code
 * increments as a plain integer (one worker writes it), and a key in STATS,
 * INFO and METRICS.  The per-thread runtime counters are libcostack's own
 * table, CO_COUNTERS in costack.h.  type: COUNTER only grows; GAUGE is a
 * level.
 */
#define STATS_POOL(X)                                                                  \
    X(client_connections, GAUGE,   "client connections open")                          \
    X(client_accepted,    COUNTER, "client connections accepted")                      \
    X(client_rejected,    COUNTER, "clients closed at once: client_connections reached") \
    X(client_kicked,      COUNTER, "clients closed after client_idle_timeout")         \
    X(requests,           COUNTER, "requests parsed (redis mode)")                     \
    X(local_replies,      COUNTER, "requests answered by coproxy itself (redis mode)") \
    X(errors_protocol,    COUNTER, "clients closed for a protocol error")              \
    X(errors_timeout,     COUNTER, "requests that got no reply within server_timeout") \
    X(errors_backend,     COUNTER, "requests failed by an unavailable or lost server") \
    X(errors_refused,     COUNTER, "unsupported or refused commands")                  \
    X(auth_failures,      COUNTER, "failed AUTH attempts")                             \
    X(auth_lockouts,      COUNTER, "AUTH attempts delayed or closed: auth_max_failures from the address") \
    X(acl_denied,         COUNTER, "commands refused by the user's rules (NOPERM)")    \
    X(client_output_closed, COUNTER, "clients closed past client_output_limit (replies not read)") \
    X(blocked_given_back, COUNTER, "pops undone: taken for a blocked client that had left, pushed back") \
    X(security_closed,    COUNTER, "clients closed for sending HTTP (POST, Host:) to the redis port") \
    X(bytes_in,           COUNTER, "bytes received from clients")                      \
    X(bytes_out,          COUNTER, "bytes sent to clients")                            \
    X(tls_handshakes,     COUNTER, "TLS handshakes done with clients")                 \
    X(tls_resumed,        COUNTER, "of those, resumed sessions (tickets)")     \
    X(tls_v1_2,           COUNTER, "of those, TLS 1.2")                                \
    X(tls_v1_3,           COUNTER, "of those, TLS 1.3")                                \
    X(tls_fail_protocol,  COUNTER, "TLS handshakes failed: not TLS, malformed or refused") \
    X(tls_fail_certificate, COUNTER, "TLS handshakes failed: a client certificate refused") \
    X(tls_fail_timeout,   COUNTER, "TLS handshakes failed: not done within handshake_timeout") \
    X(tls_fail_closed,    COUNTER, "TLS handshakes failed: the client closed half-way")

#define STATS_SERVER(X)                                                                \
    X(requests,           COUNTER, "requests sent (redis) or connections made (tcp)")  \
    X(failures,           COUNTER, "connects refused or timed out, connections lost")  \
    X(timeouts,           COUNTER, "requests unanswered within server_timeout")        \
    X(ejections,          COUNTER, "times taken out of the distribution")              \
    X(ejected,            GAUGE,   "1 while out of the distribution")                  \
    X(connections,        GAUGE,   "connections open to it")                           \
    X(connecting,         GAUGE,   "connects in progress")                             \
    X(pinned,             GAUGE,   "connections pinned to a client (transaction, blocking command)") \
    X(tls_handshakes,     COUNTER, "TLS handshakes done with it")                      \
    X(tls_resumed,        COUNTER, "of those, resumed sessions")                       \
    X(tls_failures,       COUNTER, "TLS handshakes with it that failed (certificate, protocol, timeout)")

#define STATS_FIELD(name, type, help) uint64_t name;

/* Latency in powers of two: bucket k counts [2^k, 2^(k+1)) microseconds
 * (bucket 0 also counts 0 and 1 us, the last everything above). */
#define STATS_LATENCY_BUCKETS 24

/* Bucket k counts latencies in [2^k, 2^(k+1)) us (bucket 0 from 0); the
 * last one is open-ended. */
struct stats_latency {
    uint64_t count;
    uint64_t sum_us;
    uint64_t bucket[STATS_LATENCY_BUCKETS];
};

static inline void stats_latency_add(struct stats_latency *l, uint64_t us)
{
    int k = us < 2 ? 0 : 63 - __builtin_clzll(us);

    l->bucket[k < STATS_LATENCY_BUCKETS ? k : STATS_LATENCY_BUCKETS - 1]++;
    l->count++;
    l->sum_us += us;
}

struct pool_stats {
    STATS_POOL(STATS_FIELD)
    struct stats_latency latency;    /* request parsed -> its reply written */
};

struct server_stats {
    STATS_SERVER(STATS_FIELD)
    struct stats_latency latency;    /* request queued -> its reply read */
};

#endif
