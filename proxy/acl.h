/* SPDX-License-Identifier: Apache-2.0 */
/* acl.h — a pool's users in Redis's ACL rule syntax: who may log in, and which commands, keys and channels each may use. */
#ifndef COPROXY_ACL_H
#define COPROXY_ACL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "acl_glob.h"
#include "acl_table.h"

#define ACL_CMD_WORDS ((ACL_NCOMMANDS + 63) / 64)
#define ACL_HASH_LEN 32            /* SHA-256, as Redis keeps passwords */
#define ACL_NAME_MAX 128

/* How a pattern is matched: most are a prefix and one '*' ("app:*") or
 * plain text, compared without the glob. */
enum acl_pattern_kind { ACL_PATTERN_GLOB, ACL_PATTERN_PREFIX, ACL_PATTERN_EXACT };

/* A key (~, %R~, %W~) or channel (&) pattern. */
struct acl_pattern {
    char *text;
    uint32_t len;
    uint8_t flags;                 /* keys: ACL_KEY_READ | ACL_KEY_WRITE it grants */
    uint8_t kind;                  /* enum acl_pattern_kind */
    uint32_t fixed;                /* PREFIX, EXACT: the bytes compared as they are */
    uint64_t head, head_mask;      /* ... the first 8 of them, as one word (masked) */
};

struct acl_user {
    char *name;
    uint8_t on;
    uint8_t nopass;
    uint8_t allkeys;               /* ~* (or %RW~*) */
    uint8_t allchannels;           /* &* */
    uint8_t unrestricted;          /* every command, key and channel: nothing to check */
    uint8_t (*hashes)[ACL_HASH_LEN];
    int nhashes;
    uint64_t allowed[ACL_CMD_WORDS];   /* bit i: acl_commands[i] */
    struct acl_pattern *keys;
    int nkeys;
    struct acl_pattern *channels;
    int nchannels;
    char *commands;                /* the command rules as given since the last reset
                                      ("+@all -@dangerous"), for ACL LIST and GETUSER */
};

/* A pool's users, read with its configuration and never changed after:
 * a reload makes a new one. */
struct acl {
    struct acl_user *users;
    int nusers;
    struct acl_user *deflt;        /* "default": who a new connection is */
};

/* Applies one rule ("on", ">secret", "~app:*", "+@read", ...) to u, in
 * Redis's syntax.  0, or -1 with a message in err that never repeats a
 * password. */
int acl_user_rule(struct acl_user *u, const char *rule, size_t len, char *err, size_t errlen);

/* Adds a user from a line "NAME RULE ..." (or Redis's ACL file form "user
 * NAME RULE ...") to a, starting from Redis's new user: off, no password,
 * no keys, no channels, no commands.  0, or -1 with err. */
int acl_add_line(struct acl *a, const char *line, char *err, size_t errlen);

/* Adds "default" unless a's lines named it: every command, key and
 * channel, with password as its password ("" = nopass).  0 or -1 (ENOMEM). */
int acl_finish(struct acl *a, const char *password);

void acl_free(struct acl *a);

/* The user named name[0..len), or NULL. */
struct acl_user *acl_find(const struct acl *a, const char *name, size_t len);

/* Whether pass opens u (on, and nopass or one of its passwords): 1 or 0. */
int acl_password_ok(const struct acl_user *u, const char *pass, size_t len);

/* The id of a command name ("get", "config|get", any case), or -1. */
int acl_command_id(const char *name, size_t len);
/* The category named name[0..len) (without '@'), or -1. */
int acl_category_id(const char *name, size_t len);

static inline int acl_allows_command(const struct acl_user *u, int id)
{
    return (int)((u->allowed[id / 64] >> (id % 64)) & 1);
}

/* Whether s matches p.  Every request of a user with key patterns comes
 * here for each key: the usual patterns ("app:*", "config") are compared a
 * word at a time, without the glob. */
static inline int acl_pattern_match(const struct acl_pattern *p, const char *s, size_t len)
{
    uint64_t w = 0;

    if (p->kind == ACL_PATTERN_GLOB)
        return acl_glob(p->text, p->len, s, len);
    if (len < p->fixed || (p->kind == ACL_PATTERN_EXACT && len != p->fixed))
        return 0;
    if (len >= 8)
        memcpy(&w, s, 8);
    else
        for (size_t i = 0; i < len; i++)
            w |= (uint64_t)(unsigned char)s[i] << (8 * i);
    if (__BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__ && len >= 8)
        w = __builtin_bswap64(w);   /* (head is in little-endian order) */
    if ((w & p->head_mask) != p->head)
        return 0;
    return p->fixed <= 8 || memcmp(p->text + 8, s + 8, p->fixed - 8) == 0;
}

/* Whether u may touch key for what flags (ACL_KEY_*) says: 1 or 0. */
static inline int acl_key_allowed(const struct acl_user *u, const char *key, size_t len, unsigned flags)
{
    if (u->allkeys)
        return 1;
    for (int i = 0; i < u->nkeys; i++)
        if ((u->keys[i].flags & flags) == flags && acl_pattern_match(&u->keys[i], key, len))
            return 1;
    return 0;
}
/* Whether u may use channel (pattern: a PSUBSCRIBE pattern, which must be
 * one of u's own, as Redis checks it): 1 or 0. */
int acl_channel_allowed(const struct acl_user *u, const char *channel, size_t len, int pattern);

/* u as ACL LIST shows it, without its passwords ("user app on ~app:* &*
 * +@all -@dangerous"), into out; the length written. */
size_t acl_describe(const struct acl_user *u, char *out, size_t outlen);
/* u's key or channel patterns as one string ("~app:* %R~r:*", "&*"). */
size_t acl_describe_patterns(const struct acl_user *u, int channels, char *out, size_t outlen);

#endif
