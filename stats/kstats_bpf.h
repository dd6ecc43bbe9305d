/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/* kstats_bpf.h — what the kernel-side program and the daemon share: map keys, values and the figures' table. */
#ifndef COPROXY_KSTATS_BPF_H
#define COPROXY_KSTATS_BPF_H

/*
 * Included by stats/kstats.bpf.c (types from vmlinux.h) and by
 * stats/kstats.c (types from <linux/types.h>): plain __u8..__u64 only.
 *
 * The kernel side keys its counters by endpoint: the local address of a
 * pool's listener (its clients' sockets) or the remote address of a server
 * (coproxy's connections to it).  Two pools naming the same server address
 * therefore share that server's kernel figures.
 */
#define KSTATS_CLIENT 1              /* key: a listener's local address */
#define KSTATS_SERVER 2              /* key: a server's remote address */

struct kstats_endpoint {
    __u8 kind;                       /* KSTATS_CLIENT or KSTATS_SERVER */
    __u8 pad;
    __u16 family;                    /* AF_INET or AF_INET6 */
    __u16 port;                      /* host order */
    __u16 pad2;
    __u8 addr[16];                   /* IPv4 in the first 4 bytes */
};

/*
 * The figures, one X-macro table: X(name, type, help).  A field of the
 * per-CPU counters (the daemon sums the CPUs) and a key in STATS, INFO and
 * METRICS.  rtt_us is the last smoothed RTT any CPU saw (rtt_ns says when);
 * sockets is opened - closed.
 */
#define KSTATS_FIELDS(X)                                                                        \
    X(retransmits,     COUNTER, "TCP segments retransmitted (as the kernel counts them)")       \
    X(rtt_us,          GAUGE,   "smoothed round-trip time in microseconds, as last seen")       \
    X(resets_sent,     COUNTER, "TCP resets sent")                                             \
    X(resets_received, COUNTER, "TCP resets received")                                         \
    X(rcvqueue_full,   COUNTER, "segments dropped for want of receive room (Linux 6.11+)")    \
    X(buffer_limit,    COUNTER, "buffer memory refused: tcp_mem or the memory cgroup at its limit") \
    X(bytes_sent,      COUNTER, "bytes sent and acknowledged, as the kernel saw them")         \
    X(bytes_received,  COUNTER, "bytes received, as the kernel saw them")                      \
    X(sockets,         GAUGE,   "sockets open")                                                \
    X(untracked,       COUNTER, "sockets not followed: the kernel's socket table was full")

struct kstats_counters {
    __u64 retransmits, rtt_us, resets_sent, resets_received, rcvqueue_full, buffer_limit, bytes_sent,
        bytes_received, opened, closed, untracked;
    __u64 rtt_ns;                    /* bpf_ktime_get_ns() of rtt_us */
};

/* One followed socket: where its figures go, and what was counted of it.
 * While it is established, each segment it receives moves the counts by
 * its sequence numbers (last_ack, last_seq); at the end the kernel's own
 * totals settle them. */
struct kstats_sock {
    __u32 id;                        /* its endpoint's slot in the counters */
    __u32 closed;                    /* reached CLOSE; kept until destroyed (a reset may follow) */
    __u32 synced;                    /* last_ack and last_seq are set */
    __u32 last_ack;                  /* the highest ACK seen: bytes sent up to it are counted */
    __u32 last_seq;                  /* the end of the bytes received counted */
    __u32 pad;
    __u64 sent;                      /* bytes counted as sent (acknowledged) */
    __u64 received;                  /* bytes counted as received */
};

/* Counter slots: the daemon numbers its listeners and configured servers
 * from 1; slot 0 counts the servers it connects to without listing them (a
 * cluster's nodes found by redirects). */
#define KSTATS_SLOT_NONE 0

#endif
