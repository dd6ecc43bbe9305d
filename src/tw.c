/* SPDX-License-Identifier: Apache-2.0 */
/* tw.c — the hierarchical timing wheel (see tw.h). */
#include <stddef.h>
#include <string.h>

#include "tw.h"

/* Level l >= 1 covers ticks in units of 2^(8 + 6(l-1)). */
#define LEVEL_SHIFT(l) (TW_L0_BITS + TW_LN_BITS * ((l) - 1))
#define LEVEL_BASE(l)  (TW_L0_SLOTS + TW_LN_SLOTS * ((l) - 1))
#define MAX_SPAN       ((uint64_t)1 << (TW_L0_BITS + TW_LN_BITS * (TW_LEVELS - 1)))

static inline void map_set(struct tw_wheel *w, uint32_t slot)
{
    w->map[slot / 64] |= (uint64_t)1 << (slot % 64);
}

static inline void map_clear(struct tw_wheel *w, uint32_t slot)
{
    w->map[slot / 64] &= ~((uint64_t)1 << (slot % 64));
}

void tw_init(struct tw_wheel *w, uint64_t now_ms)
{
    memset(w, 0, sizeof *w);
    w->now = now_ms;
}

static inline void link_slot(struct tw_wheel *w, struct tw_timer *t, uint32_t slot)
{
    struct tw_timer **head = &w->slots[slot];

    t->slot = slot;
    t->next = *head;
    if (t->next)
        t->next->pprev = &t->next;
    t->pprev = head;
    *head = t;
    if (slot != TW_DUE)
        map_set(w, slot);
}

/* The slot for a deadline, relative to the wheel's clock. */
static inline uint32_t slot_for(const struct tw_wheel *w, uint64_t expires)
{
    uint64_t delta = expires - w->now;
    int l;

    if (expires <= w->now)
        return TW_DUE;
    if (delta < TW_L0_SLOTS)
        return (uint32_t)(expires & (TW_L0_SLOTS - 1));
    if (delta >= MAX_SPAN)    /* beyond the wheel: park in the farthest slot */
        expires = w->now + MAX_SPAN - 1;
    for (l = 1; l < TW_LEVELS - 1; l++)
        if (delta < ((uint64_t)1 << LEVEL_SHIFT(l + 1)))
            break;
    return LEVEL_BASE(l) + (uint32_t)((expires >> LEVEL_SHIFT(l)) & (TW_LN_SLOTS - 1));
}

void tw_add(struct tw_wheel *w, struct tw_timer *t, uint64_t expires_ms)
{
    t->expires = expires_ms;
    link_slot(w, t, slot_for(w, expires_ms));
    w->count++;
}

static inline void unlink_timer(struct tw_wheel *w, struct tw_timer *t)
{
    *t->pprev = t->next;
    if (t->next)
        t->next->pprev = t->pprev;
    if (w->slots[t->slot] == NULL && t->slot != TW_DUE)
        map_clear(w, t->slot);
    t->pprev = NULL;
    t->next = NULL;
}

void tw_cancel(struct tw_wheel *w, struct tw_timer *t)
{
    if (t->pprev == NULL)
        return;
    unlink_timer(w, t);
    w->count--;
}

/* Takes a whole slot list off the wheel. */
static struct tw_timer *take_slot(struct tw_wheel *w, uint32_t slot)
{
    struct tw_timer *list = w->slots[slot];

    w->slots[slot] = NULL;
    if (slot != TW_DUE)
        map_clear(w, slot);
    return list;
}

/* Fires what is due at w->now from a list, placing the rest again. */
static uint64_t run_list(struct tw_wheel *w, struct tw_timer *list, tw_fire_fn *fire, void *arg)
{
    uint64_t fired = 0;

    while (list) {
        struct tw_timer *t = list;
        list = t->next;
        t->pprev = NULL;
        t->next = NULL;
        if (t->expires <= w->now) {
            w->count--;
            fired++;
            fire(t, arg);
        } else {
            link_slot(w, t, slot_for(w, t->expires));   /* re-armed later, or spread down */
        }
    }
    return fired;
}

/*
 * At a level-0 wrap, spreads down the current slot of each level that
 * wrapped too, highest first, so that what a higher level hands down to a
 * lower one is still spread in this turn.
 */
static void cascade(struct tw_wheel *w)
{
    int top = 1;

    while (top < TW_LEVELS - 1 && ((w->now >> LEVEL_SHIFT(top)) & (TW_LN_SLOTS - 1)) == 0)
        top++;
    for (int l = top; l >= 1; l--) {
        uint32_t idx = (uint32_t)((w->now >> LEVEL_SHIFT(l)) & (TW_LN_SLOTS - 1));
        struct tw_timer *list = take_slot(w, LEVEL_BASE(l) + idx);

        while (list) {
            struct tw_timer *t = list;
            list = t->next;
            t->pprev = NULL;
            link_slot(w, t, slot_for(w, t->expires));
        }
    }
}

/* First non-empty level-0 slot at or after tick `from` (same 256-tick turn), or -1. */
static int next_l0(const struct tw_wheel *w, uint32_t from)
{
    for (uint32_t word = from / 64; word < TW_L0_SLOTS / 64; word++) {
        uint64_t bits = w->map[word];
        if (word == from / 64)
            bits &= ~(uint64_t)0 << (from % 64);
        if (bits)
            return (int)(word * 64 + (uint32_t)__builtin_ctzll(bits));
    }
    return -1;
}

static int higher_levels_empty(const struct tw_wheel *w)
{
    for (unsigned i = TW_L0_SLOTS / 64; i < sizeof w->map / sizeof w->map[0]; i++)
        if (w->map[i])
            return 0;
    return 1;
}

uint64_t tw_advance(struct tw_wheel *w, uint64_t now_ms, tw_fire_fn *fire, void *arg)
{
    uint64_t fired = run_list(w, take_slot(w, TW_DUE), fire, arg);

    while (w->now < now_ms) {
        uint32_t idx = (uint32_t)((w->now + 1) & (TW_L0_SLOTS - 1));
        int next;

        if (idx != 0) {
            /* Skip empty ticks up to the next busy slot or the wrap. */
            next = next_l0(w, idx);
            if (next < 0) {
                uint64_t wrap = (w->now | (TW_L0_SLOTS - 1));   /* last tick of this turn */
                w->now = wrap < now_ms ? wrap : now_ms;
                continue;
            }
            uint64_t tick = (w->now & ~(uint64_t)(TW_L0_SLOTS - 1)) + (uint64_t)next;
            if (tick > now_ms) {
                w->now = now_ms;
                break;
            }
            w->now = tick;
        } else {
            w->now++;
            if (!higher_levels_empty(w))
                cascade(w);
        }
        fired += run_list(w, take_slot(w, (uint32_t)(w->now & (TW_L0_SLOTS - 1))), fire, arg);
    }
    fired += run_list(w, take_slot(w, TW_DUE), fire, arg);   /* added by callbacks, already due */
    w->fired += fired;
    return fired;
}

int64_t tw_next(const struct tw_wheel *w)
{
    int next;

    if (w->count == 0)
        return -1;
    if (w->slots[TW_DUE])
        return 0;
    next = next_l0(w, (uint32_t)((w->now + 1) & (TW_L0_SLOTS - 1)));
    if (next >= 0 && (uint32_t)next > (w->now & (TW_L0_SLOTS - 1)))
        return (int64_t)(((w->now & ~(uint64_t)(TW_L0_SLOTS - 1)) + (uint64_t)next) - w->now);
    /* Nothing before the wrap (or the wrap itself is next): wake at the wrap,
     * where level 0 starts a new turn and higher levels spread down. */
    return (int64_t)((w->now | (TW_L0_SLOTS - 1)) + 1 - w->now);
}
