/* SPDX-License-Identifier: Apache-2.0 */
/* conf_pins.c — the configuration generations a worker still points into, counted. */
#include <stdlib.h>

#include "conf_pins.h"

void conf_pins_hold(struct conf_pins *p, unsigned gen)
{
    for (int i = p->n - 1; i >= 0; i--)   /* the newest is the usual one, and it is mostly last */
        if (p->v[i].gen == gen) {
            p->v[i].refs++;
            return;
        }
    if (p->n == p->cap) {
        int cap = p->cap ? 2 * p->cap : 4;
        struct conf_pin *v = realloc(p->v, (size_t)cap * sizeof *v);
        if (v == NULL) {
            p->lost = p->changed = 1;
            return;
        }
        p->v = v;
        p->cap = cap;
    }
    p->v[p->n++] = (struct conf_pin){ .gen = gen, .refs = 1 };
    p->changed = 1;
}

void conf_pins_drop(struct conf_pins *p, unsigned gen)
{
    for (int i = p->n - 1; i >= 0; i--)
        if (p->v[i].gen == gen) {
            if (--p->v[i].refs == 0) {
                p->v[i] = p->v[--p->n];
                p->changed = 1;
            }
            return;
        }
}

int conf_pins_held(const struct conf_pins *p, unsigned gen)
{
    if (p->lost)
        return 1;
    for (int i = 0; i < p->n; i++)
        if (p->v[i].gen == gen)
            return 1;
    return 0;
}

void conf_pins_free(struct conf_pins *p)
{
    free(p->v);
    *p = (struct conf_pins){ 0 };
}
