/* SPDX-License-Identifier: Apache-2.0 */
/* kstats.c — loads the kernel-side program (stats/kstats.bpf.c) and reads its per-CPU figures for the admin side. */
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kstats.h"
#include "log.h"

#ifdef COPROXY_BPF
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "kstats.skel.h"
#endif

static struct {
    char why[256];                   /* "" while on */
#ifdef COPROXY_BPF
    struct kstats_bpf *skel;
    int ncpus;
    __u32 nslots, next_slot;         /* counter slots: how many, the next one free */
    int full_logged;                 /* "no slot left" said once */
#endif
} ks = { .why = "not started" };

static void set_why(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void set_why(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(ks.why, sizeof ks.why, fmt, ap);
    va_end(ap);
}

/* a's address as the kernel side keys it; -EAFNOSUPPORT for a Unix path. */
static int endpoint_key(int kind, const struct proxy_addr *a, struct kstats_endpoint *ep)
{
    memset(ep, 0, sizeof *ep);
    ep->kind = (__u8)kind;
    ep->family = (__u16)a->family;
    ep->port = (__u16)addr_port(a);
    if (a->family == AF_INET)
        memcpy(ep->addr, &((const struct sockaddr_in *)&a->ss)->sin_addr, 4);
    else if (a->family == AF_INET6)
        memcpy(ep->addr, &((const struct sockaddr_in6 *)&a->ss)->sin6_addr, 16);
    else
        return -EAFNOSUPPORT;
    return 0;
}

#ifdef COPROXY_BPF
/* libbpf's own messages: detail for whoever runs at log_level = debug. */
static int libbpf_log(enum libbpf_print_level level, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
static int libbpf_log(enum libbpf_print_level level, const char *fmt, va_list ap)
{
    char line[512];
    size_t n;

    if (level == LIBBPF_DEBUG)
        return 0;
    vsnprintf(line, sizeof line, fmt, ap);
    n = strlen(line);
    if (n && line[n - 1] == '\n')
        line[n - 1] = '\0';
    log_debug("libbpf: %s", line);
    return 0;
}

/* The number of arguments of tracepoint name in the running kernel's BTF
 * (its btf_trace_NAME typedef, the hidden context argument not counted),
 * or -1 where it has none. */
static int tracepoint_args(const char *name)
{
    struct btf *btf = btf__load_vmlinux_btf();
    const struct btf_type *t;
    char type[128];
    int id, n = -1;

    if (btf == NULL)
        return -1;
    snprintf(type, sizeof type, "btf_trace_%s", name);
    if ((id = btf__find_by_name_kind(btf, type, BTF_KIND_TYPEDEF)) >= 0
        && (t = btf__type_by_id(btf, btf__type_by_id(btf, id)->type)) != NULL && btf_is_ptr(t)
        && (t = btf__type_by_id(btf, t->type)) != NULL && btf_is_func_proto(t))
        n = btf_vlen(t) - 1;
    btf__free(btf);
    return n;
}

/* Opens, sizes and loads the program: the socket table allocated as it
 * fills (kernels since 6.1 allow that in tracepoint programs), else
 * preallocated.  0, or -errno. */
static int load(const struct config *cfg, int prealloc)
{
    struct stat ns, net;
    struct rlimit fds;
    int endpoints = 0, nslots, err;
    __u32 socks;

    ks.skel = kstats_bpf__open();
    if (ks.skel == NULL)
        return -errno;
    if (stat("/proc/self/ns/pid", &ns) != 0 || stat("/proc/self/ns/net", &net) != 0)
        return -errno;
    ks.skel->rodata->target_tgid = (__u32)getpid();
    ks.skel->rodata->pidns_dev = (__u64)ns.st_dev;
    ks.skel->rodata->pidns_ino = (__u64)ns.st_ino;
    ks.skel->rodata->netns_ino = (__u32)net.st_ino;
    /* receive drops are told by socket only where kfree_skb names it (6.11) */
    if (tracepoint_args("kfree_skb") < 4)
        bpf_program__set_autoload(ks.skel->progs.kstats_rcv_drop, false);
    for (int p = 0; p < cfg->npools; p++)
        endpoints += 1 + cfg->pools[p].nservers;
    /* slot 0, the configured endpoints, and room for servers reloads add
     * (per CPU: each slot costs 96 B on every possible CPU) */
    nslots = endpoints + 64;
    ks.nslots = (__u32)nslots;
    ks.next_slot = 1;
    bpf_map__set_max_entries(ks.skel->maps.counters, (__u32)nslots);
    bpf_map__set_max_entries(ks.skel->maps.endpoints, (__u32)nslots);
    /* one entry per socket the daemon can have open (its fd limit), at most
     * 2^20; 2^16 when preallocated */
    socks = getrlimit(RLIMIT_NOFILE, &fds) == 0 && fds.rlim_cur < (1u << 20) ? (__u32)fds.rlim_cur : 1u << 20;
    if (prealloc && socks > (1u << 16))
        socks = 1u << 16;
    bpf_map__set_max_entries(ks.skel->maps.socks, socks < 1024 ? 1024 : socks);
    if (!prealloc)
        bpf_map__set_map_flags(ks.skel->maps.socks, bpf_map__map_flags(ks.skel->maps.socks) | BPF_F_NO_PREALLOC);
    err = kstats_bpf__load(ks.skel);
    return err ? (err < 0 ? err : -err) : 0;
}

/* Numbers the pools' listeners and servers not numbered yet (from slot 1,
 * while slots last): the kernel side counts under those. */
static int register_endpoints(const struct config *cfg)
{
    int fd = bpf_map__fd(ks.skel->maps.endpoints);

    for (int p = 0; p < cfg->npools; p++)
        for (int i = -1; i < cfg->pools[p].nservers; i++) {
            struct kstats_endpoint ep;
            __u32 slot;
            if (i < 0 ? endpoint_key(KSTATS_CLIENT, &cfg->pools[p].listen, &ep) != 0
                      : endpoint_key(KSTATS_SERVER, &cfg->pools[p].servers[i].addr, &ep) != 0)
                continue;   /* a Unix socket: no TCP figures */
            if (bpf_map_lookup_elem(fd, &ep, &slot) == 0)
                continue;   /* numbered already (two pools naming one server share its slot) */
            if (ks.next_slot >= ks.nslots) {
                if (!ks.full_logged++)
                    log_warn("kernel stats: no counter slot left for server %s of pool %s and any added after "
                             "it (%u slots; a restart numbers them afresh): they count as unlisted",
                             i < 0 ? cfg->pools[p].listen.text : cfg->pools[p].servers[i].name, cfg->pools[p].name,
                             ks.nslots);
                return 0;
            }
            if (bpf_map_update_elem(fd, &ep, &ks.next_slot, BPF_NOEXIST) != 0)
                return -errno;
            ks.next_slot++;
        }
    return 0;
}

void kstats_update(const struct config *cfg)
{
    int err;

    if (ks.skel != NULL && (err = register_endpoints(cfg)) != 0)
        log_warn("kernel stats: cannot number the new servers (%s): their figures count as unlisted", strerror(-err));
}

void kstats_start(const struct config *cfg)
{
    int err;

    if (!cfg->bpf) {
        set_why("off in the configuration (bpf = false)");
        log_info("kernel stats: %s", ks.why);
        return;
    }
    libbpf_set_print(libbpf_log);
    if (access("/sys/kernel/btf/vmlinux", R_OK) != 0) {
        set_why("the kernel has no BTF (/sys/kernel/btf/vmlinux: %s); it needs CONFIG_DEBUG_INFO_BTF", strerror(errno));
        goto off;
    }
    err = load(cfg, 0);
    if (err != 0 && err != -EPERM && err != -EACCES) {
        kstats_bpf__destroy(ks.skel);
        err = load(cfg, 1);
    }
    if (err == -EPERM || err == -EACCES) {
        set_why("no privilege to load BPF: it needs root, or CAP_BPF and CAP_PERFMON (%s; before Linux 5.11 "
                "also enough RLIMIT_MEMLOCK)", strerror(-err));
        goto off;
    }
    if (err != 0) {
        set_why("the kernel refused the BPF program (%s); log_level = debug shows libbpf's messages", strerror(-err));
        goto off;
    }
    if ((err = register_endpoints(cfg)) != 0) {
        set_why("cannot fill the endpoint table (%s)", strerror(-err));
        goto off;
    }
    if ((err = kstats_bpf__attach(ks.skel)) != 0) {
        set_why("cannot attach to the kernel's TCP tracepoints (%s): the kernel may be too old (5.8 or later needed)",
                strerror(err < 0 ? -err : err));
        goto off;
    }
    ks.ncpus = libbpf_num_possible_cpus();
    if (ks.ncpus <= 0) {
        set_why("cannot count the CPUs (%s)", strerror(-ks.ncpus));
        goto off;
    }
    ks.why[0] = '\0';
    log_info("kernel stats: on (BPF on the kernel's TCP tracepoints, for this process's sockets)");
    return;
off:
    kstats_bpf__destroy(ks.skel);
    ks.skel = NULL;
    log_warn("kernel stats: off: %s", ks.why);
}

void kstats_stop(void)
{
    kstats_bpf__destroy(ks.skel);
    ks.skel = NULL;
    set_why("stopped");
}

int kstats_read(int kind, const struct proxy_addr *a, struct kstats_figures *out)
{
    struct kstats_endpoint ep;
    struct kstats_counters *v;
    uint64_t newest = 0, opened = 0, closed = 0;
    __u32 slot;
    int err;

    memset(out, 0, sizeof *out);
    if (ks.skel == NULL)
        return -ENODEV;
    if (a == NULL)
        slot = KSTATS_SLOT_NONE;
    else if ((err = endpoint_key(kind, a, &ep)) != 0)
        return err;
    if ((v = calloc((size_t)ks.ncpus, sizeof *v)) == NULL)
        return -ENOMEM;
    if ((a != NULL && bpf_map_lookup_elem(bpf_map__fd(ks.skel->maps.endpoints), &ep, &slot) != 0)
        || bpf_map_lookup_elem(bpf_map__fd(ks.skel->maps.counters), &slot, v) != 0) {
        err = errno == ENOENT ? 0 : -errno;   /* nothing counted yet */
        free(v);
        return err;
    }
    for (int c = 0; c < ks.ncpus; c++) {
        out->retransmits += v[c].retransmits;
        out->resets_sent += v[c].resets_sent;
        out->resets_received += v[c].resets_received;
        out->rcvqueue_full += v[c].rcvqueue_full;
        out->buffer_limit += v[c].buffer_limit;
        out->bytes_sent += v[c].bytes_sent;
        out->bytes_received += v[c].bytes_received;
        out->untracked += v[c].untracked;
        opened += v[c].opened;
        closed += v[c].closed;
        if (v[c].rtt_ns > newest) {
            newest = v[c].rtt_ns;
            out->rtt_us = v[c].rtt_us;
        }
    }
    out->sockets = opened > closed ? opened - closed : 0;
    free(v);
    return 0;
}

#else /* !COPROXY_BPF */

void kstats_update(const struct config *cfg)
{
}

void kstats_start(const struct config *cfg)
{
    if (!cfg->bpf)
        set_why("off in the configuration (bpf = false)");
    else
        set_why("this coproxy was built without BPF (configure found no libbpf, clang or bpftool, or had --disable-bpf)");
    log_info("kernel stats: %s", ks.why);
}

void kstats_stop(void)
{
}

int kstats_read(int kind, const struct proxy_addr *a, struct kstats_figures *out)
{
    struct kstats_endpoint ep;

    memset(out, 0, sizeof *out);
    return a != NULL && endpoint_key(kind, a, &ep) != 0 ? -EAFNOSUPPORT : -ENODEV;
}

#endif

const char *kstats_unavailable(void)
{
    return ks.why[0] ? ks.why : NULL;
}
