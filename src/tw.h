/* SPDX-License-Identifier: Apache-2.0 */
/* tw.h — a hierarchical timing wheel: 1 ms ticks, O(1) add and cancel, lazy re-arm. */
#ifndef COSTACK_TW_H
#define COSTACK_TW_H

#include <stdint.h>

/*
 * Five levels: 256 slots of 1 ms, then 64 slots each of 256 ms, 16.4 s,
 * 17.5 min and 18.6 h, so deadlines up to 49 days sit in a slot; later
 * ones wait in the last slot and are placed again when it comes round.
 * A timer is in exactly one slot list (or the `due` list of timers whose
 * deadline had already passed when added).  The wheel never allocates:
 * timers are embedded in their owners.
 */
#define TW_L0_BITS 8
#define TW_LN_BITS 6
#define TW_LEVELS  5
#define TW_L0_SLOTS (1u << TW_L0_BITS)
#define TW_LN_SLOTS (1u << TW_LN_BITS)
#define TW_SLOTS   (TW_L0_SLOTS + (TW_LEVELS - 1) * TW_LN_SLOTS)
#define TW_DUE     TW_SLOTS          /* index of the due list */

struct tw_timer {
    struct tw_timer *next;
    struct tw_timer **pprev;         /* NULL: not armed */
    uint64_t expires;                /* deadline, in wheel ms */
    uint32_t slot;                   /* list it is on */
    uint32_t tag;                    /* the owner's: the wheel never reads it */
};

struct tw_wheel {
    uint64_t now;                    /* every tick up to this one is processed */
    uint64_t count;                  /* armed timers */
    uint64_t fired;                  /* timers fired, ever */
    uint64_t map[TW_L0_SLOTS / 64 + TW_LEVELS - 1];   /* non-empty slots */
    struct tw_timer *slots[TW_SLOTS + 1];
};

typedef void tw_fire_fn(struct tw_timer *t, void *arg);

/* Starts an empty wheel whose clock reads now_ms. */
void tw_init(struct tw_wheel *w, uint64_t now_ms);

/* Arms t (not armed) to fire at expires_ms; a deadline already passed fires
 * at the next tw_advance.  O(1). */
void tw_add(struct tw_wheel *w, struct tw_timer *t, uint64_t expires_ms);

/* Disarms t if armed.  O(1). */
void tw_cancel(struct tw_wheel *w, struct tw_timer *t);

static inline int tw_armed(const struct tw_timer *t)
{
    return t->pprev != 0;
}

/*
 * Moves an armed timer's deadline.  A later deadline -- an idle timeout
 * pushed back by activity, the common case -- only stores the new value:
 * the timer stays in its slot and is placed again when that slot comes
 * round.  An earlier one moves it.
 */
static inline void tw_rearm(struct tw_wheel *w, struct tw_timer *t, uint64_t expires_ms)
{
    if (t->pprev && expires_ms >= t->expires) {
        t->expires = expires_ms;
        return;
    }
    tw_cancel(w, t);
    tw_add(w, t, expires_ms);
}

/*
 * Advances the clock to now_ms, calling fire(t, arg) for every timer whose
 * deadline is <= now_ms, in deadline order per tick; a timer is disarmed
 * before its callback, which may arm it again.  Returns the number fired.
 */
uint64_t tw_advance(struct tw_wheel *w, uint64_t now_ms, tw_fire_fn *fire, void *arg);

/*
 * Milliseconds from the wheel's clock until tw_advance has work (0: now),
 * or -1 when no timer is armed.  Never later than the first deadline; may
 * be earlier (when a higher level must be spread down).
 */
int64_t tw_next(const struct tw_wheel *w);

#endif
