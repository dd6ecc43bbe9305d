/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
/* kstats.bpf.c — the kernel side of coproxy's TCP figures: what the kernel sees on the daemon's own sockets. */
/*
 * Raw tracepoints (no tracefs, no fentry needed; CO-RE against the running
 * kernel's BTF).  A socket is followed from the moment it becomes one of
 * coproxy's:
 *
 *   connect() by the daemon's process   CLOSE -> SYN_SENT       by: remote address
 *   accepted on a pool's listener       SYN_RECV -> ESTABLISHED by: listener's address
 *
 * until it is destroyed; every event on a followed socket is counted in
 * its endpoint's slot of a per-CPU table that the daemon sums.  Licensed GPL-compatible
 * (dual BSD/GPL) because the kernel gives bpf_probe_read_kernel only to such
 * programs.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>

#include "kstats_bpf.h"

#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6
#define TCPHDR_ACK 0x10

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Set by the daemon before loading: its process, as its own pid namespace
 * names it, and its network namespace (a listener's address is only its
 * own there: other namespaces may use the same). */
const volatile __u32 target_tgid = 0;
const volatile __u64 pidns_dev = 0;
const volatile __u64 pidns_ino = 0;
const volatile __u32 netns_ino = 0;
/* Endpoint -> counter slot, filled by the daemon: its listeners and servers. */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 16384);
    __type(key, struct kstats_endpoint);
    __type(value, __u32);
} endpoints SEC(".maps");

/* Followed sockets, by struct sock address (size and preallocation set by the daemon). */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 65536);
    __type(key, __u64);
    __type(value, struct kstats_sock);
} socks SEC(".maps");

/* The figures, per CPU, per slot (sized by the daemon). */
struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 256);
    __type(key, __u32);
    __type(value, struct kstats_counters);
} counters SEC(".maps");

static __always_inline int is_ours(void)
{
    struct bpf_pidns_info ns = {};

    if (bpf_get_ns_current_pid_tgid(pidns_dev, pidns_ino, &ns, sizeof ns) != 0)
        return 0;
    return ns.tgid == target_tgid;
}

/* The local (remote = 0) or remote address of sk. */
static __always_inline void endpoint_of(const struct sock *sk, int remote, struct kstats_endpoint *ep)
{
    __builtin_memset(ep, 0, sizeof *ep);
    ep->family = BPF_CORE_READ(sk, __sk_common.skc_family);
    if (remote) {
        ep->port = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
        if (ep->family == AF_INET)
            BPF_CORE_READ_INTO((__u32 *)ep->addr, sk, __sk_common.skc_daddr);
        else if (bpf_core_field_exists(sk->__sk_common.skc_v6_daddr))   /* (a kernel without IPv6 has none) */
            BPF_CORE_READ_INTO(&ep->addr, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr8);
    } else {
        ep->port = BPF_CORE_READ(sk, __sk_common.skc_num);
        if (ep->family == AF_INET)
            BPF_CORE_READ_INTO((__u32 *)ep->addr, sk, __sk_common.skc_rcv_saddr);
        else if (bpf_core_field_exists(sk->__sk_common.skc_v6_rcv_saddr))
            BPF_CORE_READ_INTO(&ep->addr, sk, __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8);
    }
}

/*
 * Counters are per CPU, but a program in process context (a connect, a
 * close, a backlog processed by release_sock) can be interrupted on its CPU
 * by one in softirq: adds are atomic so that neither is lost.
 */
#define ADD(field, n) __sync_fetch_and_add(&(field), (n))

static __always_inline struct kstats_counters *counters_at(__u32 slot)
{
    return bpf_map_lookup_elem(&counters, &slot);
}

static __always_inline struct kstats_sock *sock_of(const void *sk)
{
    __u64 key = (__u64)sk;

    return bpf_map_lookup_elem(&socks, &key);
}

/* A server's slot: the daemon's number for it, or slot 0 (servers it does not list). */
static __always_inline __u32 server_slot(const struct kstats_endpoint *ep)
{
    __u32 *known = bpf_map_lookup_elem(&endpoints, ep);

    return known != NULL ? *known : KSTATS_SLOT_NONE;
}

static __always_inline void follow(const struct sock *sk, __u32 slot)
{
    struct kstats_counters *c = counters_at(slot);
    struct kstats_sock s = { .id = slot };
    __u64 key = (__u64)sk;

    if (c == NULL)
        return;
    if (bpf_map_update_elem(&socks, &key, &s, BPF_ANY) == 0)
        ADD(c->opened, 1);
    else
        ADD(c->untracked, 1);
}

/* The kernel's own totals (RFC 4898 byte counts; its SYN and FIN count one
 * each): what the segments did not show is added, nothing is taken back. */
static __always_inline void settle_bytes(const struct sock *sk, struct kstats_sock *s, struct kstats_counters *c)
{
    const struct tcp_sock *tp = (const struct tcp_sock *)sk;
    __u64 acked = BPF_CORE_READ(tp, bytes_acked), received = BPF_CORE_READ(tp, bytes_received);

    if (acked > s->sent) {
        ADD(c->bytes_sent, acked - s->sent);
        s->sent = acked;
    }
    if (received > s->received) {
        ADD(c->bytes_received, received - s->received);
        s->received = received;
    }
}

/* Its final byte counts, and one socket fewer open. */
static __always_inline void close_sock(const struct sock *sk, struct kstats_sock *s)
{
    struct kstats_counters *c;

    if (s->closed || (c = counters_at(s->id)) == NULL)
        return;
    settle_bytes(sk, s, c);
    ADD(c->closed, 1);
    s->closed = 1;
}

SEC("raw_tp/inet_sock_set_state")
int BPF_PROG(kstats_state, const struct sock *sk, int oldstate, int newstate)
{
    struct kstats_endpoint ep;

    if (BPF_CORE_READ_BITFIELD_PROBED(sk, sk_protocol) != IPPROTO_TCP)
        return 0;
    if (newstate == TCP_SYN_SENT) {                  /* connect(): in the connecting process */
        if (!is_ours())
            return 0;
        endpoint_of(sk, 1, &ep);
        ep.kind = KSTATS_SERVER;
        follow(sk, server_slot(&ep));
    } else if (newstate == TCP_ESTABLISHED && oldstate == TCP_SYN_RECV) {   /* a client, accepted */
        __u32 *slot;
        if (bpf_core_field_exists(sk->__sk_common.skc_net.net)   /* (none without CONFIG_NET_NS) */
            && BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum) != netns_ino)
            return 0;
        endpoint_of(sk, 0, &ep);
        ep.kind = KSTATS_CLIENT;
        if ((slot = bpf_map_lookup_elem(&endpoints, &ep)) == NULL) {
            __builtin_memset(ep.addr, 0, sizeof ep.addr);   /* a wildcard listener */
            if ((slot = bpf_map_lookup_elem(&endpoints, &ep)) == NULL)
                return 0;
        }
        follow(sk, *slot);
    } else if (newstate == TCP_CLOSE) {
        struct kstats_sock *s = sock_of(sk);
        if (s == NULL)
            return 0;
        close_sock(sk, s);   /* (forgotten when destroyed: a reset may come after) */
    }
    return 0;
}

/* A socket freed: forgotten (after CLOSE, as a reset sent by close(2) with
 * SO_LINGER 0 comes after the state change). */
SEC("raw_tp/tcp_destroy_sock")
int BPF_PROG(kstats_destroy, const struct sock *sk)
{
    struct kstats_sock *s = sock_of(sk);
    __u64 key = (__u64)sk;

    if (s == NULL)
        return 0;
    close_sock(sk, s);
    bpf_map_delete_elem(&socks, &key);
    return 0;
}

/*
 * Every segment an established socket receives, before the kernel takes it
 * in: the smoothed RTT, and the bytes this segment acknowledges or brings
 * (by sequence number, so that the last ACK of a burst shows at once, not
 * when the next segment comes).  The numbers are the kernel's own, from
 * TCP_SKB_CB (a segment queued while the socket was busy may have been
 * merged with others there: its header tells only the first).  The kernel
 * has not checked the segment yet: an ACK counts only up to what was sent,
 * data only in order and within the window, so a forged or stray segment
 * cannot move the counts (one the kernel drops anyway only runs them ahead
 * until it is sent again).
 */
SEC("raw_tp/tcp_probe")
int BPF_PROG(kstats_probe, const struct sock *sk, const struct sk_buff *skb)
{
    const struct tcp_sock *tp = (const struct tcp_sock *)sk;
    const struct tcp_skb_cb *cb = (const void *)((const char *)skb + bpf_core_field_offset(skb->cb));
    struct kstats_sock *s = sock_of(sk);
    struct kstats_counters *c;
    __u32 ack, seq, end, nxt, wnd;

    if (s == NULL || (c = counters_at(s->id)) == NULL)
        return 0;
    if (!s->synced) {                                /* the first: where the counts stand */
        settle_bytes(sk, s, c);
        s->last_ack = BPF_CORE_READ(tp, snd_una);
        s->last_seq = BPF_CORE_READ(tp, rcv_nxt);
        s->synced = 1;
    }
    ack = BPF_CORE_READ(cb, ack_seq);
    if ((BPF_CORE_READ_BITFIELD_PROBED(cb, tcp_flags) & TCPHDR_ACK) && (__s32)(ack - s->last_ack) > 0
        && (__s32)(ack - BPF_CORE_READ(tp, snd_nxt)) <= 0) {
        ADD(c->bytes_sent, ack - s->last_ack);
        s->sent += ack - s->last_ack;
        s->last_ack = ack;
    }
    end = BPF_CORE_READ(cb, end_seq);                /* (a SYN or FIN counts one, as in the kernel's totals) */
    if ((__s32)(end - s->last_seq) > 0) {
        seq = BPF_CORE_READ(cb, seq);
        nxt = BPF_CORE_READ(tp, rcv_nxt);
        wnd = BPF_CORE_READ(tp, rcv_wnd);
        if (seq == nxt && end - nxt <= wnd + 1) {
            ADD(c->bytes_received, end - s->last_seq);
            s->received += end - s->last_seq;
            s->last_seq = end;
        }
    }
    c->rtt_us = BPF_CORE_READ(tp, srtt_us) >> 3;
    c->rtt_ns = bpf_ktime_get_ns();
    return 0;
}

/* One more event of a followed socket, in field f. */
#define COUNT(sk, f)                                                                               \
    do {                                                                                           \
        struct kstats_sock *s_ = sock_of(sk);                                                      \
        struct kstats_counters *c_;                                                                \
        if (s_ != NULL && (c_ = counters_at(s_->id)) != NULL)                                      \
            ADD(c_->f, 1);                                                                         \
    } while (0)

SEC("raw_tp/tcp_retransmit_skb")
int BPF_PROG(kstats_retransmit, const struct sock *sk)
{
    COUNT(sk, retransmits);
    return 0;
}

/* (sk is NULL for a reset answering a segment that has no socket) */
SEC("raw_tp/tcp_send_reset")
int BPF_PROG(kstats_send_reset, const struct sock *sk)
{
    if (sk != NULL)
        COUNT(sk, resets_sent);
    return 0;
}

SEC("raw_tp/tcp_receive_reset")
int BPF_PROG(kstats_receive_reset, const struct sock *sk)
{
    COUNT(sk, resets_received);
    return 0;
}

/*
 * A segment dropped for want of receive room: the socket's receive buffer
 * or backlog full, or TCP's memory refused.  TCP never goes through
 * sock:sock_rcvqueue_full; kfree_skb says why and, since 6.11, for which
 * socket (the daemon loads this only where it does).
 */
SEC("raw_tp/kfree_skb")
int BPF_PROG(kstats_rcv_drop, const struct sk_buff *skb, void *location, enum skb_drop_reason reason,
             const struct sock *rx_sk)
{
    if (rx_sk == NULL)
        return 0;
    if (reason == bpf_core_enum_value(enum skb_drop_reason, SKB_DROP_REASON_PROTO_MEM)
        || reason == bpf_core_enum_value(enum skb_drop_reason, SKB_DROP_REASON_SOCKET_RCVBUFF)
        || reason == bpf_core_enum_value(enum skb_drop_reason, SKB_DROP_REASON_SOCKET_BACKLOG))
        COUNT(rx_sk, rcvqueue_full);
    return 0;
}

/* The kernel refused the socket buffer memory (tcp_mem or its memory cgroup is at its limit). */
SEC("raw_tp/sock_exceed_buf_limit")
int BPF_PROG(kstats_buffer_limit, const struct sock *sk)
{
    COUNT(sk, buffer_limit);
    return 0;
}
