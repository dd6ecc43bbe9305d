/* SPDX-License-Identifier: Apache-2.0 */
/* conf_pins.h — the configuration generations a worker still points into, counted, so that main frees only the others. */
#ifndef COPROXY_CONF_PINS_H
#define COPROXY_CONF_PINS_H

/*
 * Each SIGHUP that is applied makes a new configuration generation; the
 * server lists of the one it replaced stay valid while a worker may point
 * into them.  A worker's own view of the settings moves on at its next loop
 * turn, but a few things made under an older view outlive it (a tcp
 * connection's server, a health table's server list, the lists published
 * for the admin thread): each of those holds its generation here while it
 * points into it.  Worker-local: no lock, no atomic; the worker publishes
 * the generations it holds when `changed` says they did (worker_publish.h).
 */
struct conf_pin {
    unsigned gen;
    unsigned refs;
};

struct conf_pins {
    struct conf_pin *v;              /* the generations held, in no order: few (one per
                                        reload that something still open has outlived) */
    int n, cap;
    int changed;                     /* a generation came or went since the worker last
                                        published them (it clears this) */
    int lost;                        /* out of memory holding one: it is not known which
                                        are held, so all of them are, for good (a leak,
                                        never a use after free) */
};

/* One more reference into generation gen.  Never fails (see `lost`). */
void conf_pins_hold(struct conf_pins *p, unsigned gen);
/* One reference into gen fewer (a generation not held is ignored). */
void conf_pins_drop(struct conf_pins *p, unsigned gen);
/* Is gen held? */
int conf_pins_held(const struct conf_pins *p, unsigned gen);
void conf_pins_free(struct conf_pins *p);

#endif
