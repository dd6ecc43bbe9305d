/* SPDX-License-Identifier: Apache-2.0 */
/* kstats.h — optional kernel-side TCP figures (libbpf) for the daemon's own sockets, per pool and per server. */
#ifndef COPROXY_KSTATS_H
#define COPROXY_KSTATS_H

#include <linux/types.h>
#include <stdint.h>

#include "addr.h"
#include "daemon.h"   /* (and through it proxy/config_file.h) */
#include "kstats_bpf.h"

#define KSTATS_FIELD(name, type, help) uint64_t name;

struct kstats_figures {
    KSTATS_FIELDS(KSTATS_FIELD)
};

/*
 * Loads and attaches the kernel side when cfg->bpf is set and this build has
 * it, and registers the pools' listeners.  Call before the workers listen or
 * connect: sockets made earlier are not followed.  Never fails the daemon:
 * when the kernel side cannot be had it logs one line saying why, and
 * kstats_unavailable() says it from then on.
 */
void kstats_start(const struct config *cfg);

/* After a reload: numbers the servers it added (until then, and when the
 * slots run out, they count among the unlisted). */
void kstats_update(const struct config *cfg);

/* Detaches and frees the kernel side (at exit). */
void kstats_stop(void);

/* NULL while the figures are counted; else why they are not (a sentence). */
const char *kstats_unavailable(void);

/*
 * The figures of a pool's clients (kind KSTATS_CLIENT, a: its listen
 * address) or of coproxy's connections to a server (KSTATS_SERVER, a: the
 * server's address; NULL: the servers the configuration does not list, as
 * a cluster's nodes), summed over the CPUs.  Zeros where nothing was counted.
 * 0, -ENODEV when unavailable, -EAFNOSUPPORT for a Unix path.
 */
int kstats_read(int kind, const struct proxy_addr *a, struct kstats_figures *out);

#endif
