/* SPDX-License-Identifier: Apache-2.0 */
/* redis_pubsub.h — SUBSCRIBE and kin (redis_pubsub.c). */
#ifndef COPROXY_REDIS_PUBSUB_H
#define COPROXY_REDIS_PUBSUB_H

#include <stddef.h>
#include <stdint.h>

#include "redis.h"
#include "redis_cmd.h"

/* redis_pubsub.c: what a subscriber's connection hands back */
/* A message (p[0..n), as the server sent it) for bc's subscriber. */
void redis_pubsub_message(struct worker *w, struct backend_conn *bc, const char *p, size_t n);
/* bc has answered everything sent on it: the subscriber may give it back. */
void redis_pubsub_idle(struct backend_conn *bc);
/* bc was lost: its subscriber's subscriptions there are gone. */
void redis_pubsub_lost(struct backend_conn *bc);
/* redis_pubsub.c: SUBSCRIBE and kin, on connections of the client's own */
void pubsub_command(struct redis_client *c, const struct redis_cmd *cmd, const char *req,
                    const struct resp_request *r);
/* PUBSUB CHANNELS / NUMSUB / NUMPAT, across the servers. */
void pubsub_introspect(struct redis_client *c, const char *req, const struct resp_request *r);

/* A subscriber's state (redis_pubsub.c's; here for the counts below). */
struct sub_pin {
    struct redis_server *srv;
    struct backend_conn *bc;         /* NULL: given back */
    uint32_t nchannels;              /* the client's channels and shard channels on srv */
    uint8_t dirty;                   /* something meant for the server did not go (out of
                                        memory): its subscriptions are not known */
};

struct sub_name {
    char *name;
    uint32_t len;
    uint32_t pin;                    /* a channel's connection: index in pins */
};

struct sub_names {
    struct sub_name *v;
    uint32_t n, cap;
};

struct redis_pubsub {
    struct sub_pin *pins;
    uint32_t npins, cap_pins;
    struct sub_names channels, patterns, shards;   /* shards: SSUBSCRIBE's */
};

/* Channels and patterns the client is subscribed to (0: not in subscribed mode). */
static inline uint32_t pubsub_channels(const struct redis_client *c)
{
    return c->ps ? c->ps->channels.n : 0;
}

static inline uint32_t pubsub_patterns(const struct redis_client *c)
{
    return c->ps ? c->ps->patterns.n : 0;
}

static inline uint32_t pubsub_count(const struct redis_client *c)
{
    return pubsub_channels(c) + pubsub_patterns(c);
}

/* Shard channels (SSUBSCRIBE), counted apart, as Redis counts them. */
static inline uint32_t pubsub_shards(const struct redis_client *c)
{
    return c->ps ? c->ps->shards.n : 0;
}

/* In subscribed mode: anything subscribed to. */
static inline uint32_t pubsub_subscribed(const struct redis_client *c)
{
    return pubsub_count(c) + pubsub_shards(c);
}

/* The client leaves (or RESETs): every subscription ends, its connections close. */
void pubsub_release(struct redis_client *c);

#endif
