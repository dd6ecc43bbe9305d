/* SPDX-License-Identifier: Apache-2.0 */
/* acl_table.h — Redis's commands as its ACL sees them: categories, and what each command's keys are for. */
#ifndef COPROXY_ACL_TABLE_H
#define COPROXY_ACL_TABLE_H

#include <stdint.h>

/* Redis 7.0's categories, in ACL CAT's order (a bit each). */
enum acl_category {
    ACL_CAT_KEYSPACE, ACL_CAT_READ, ACL_CAT_WRITE, ACL_CAT_SET, ACL_CAT_SORTEDSET, ACL_CAT_LIST,
    ACL_CAT_HASH, ACL_CAT_STRING, ACL_CAT_BITMAP, ACL_CAT_HYPERLOGLOG, ACL_CAT_GEO, ACL_CAT_STREAM,
    ACL_CAT_PUBSUB, ACL_CAT_ADMIN, ACL_CAT_FAST, ACL_CAT_SLOW, ACL_CAT_BLOCKING, ACL_CAT_DANGEROUS,
    ACL_CAT_CONNECTION, ACL_CAT_TRANSACTION, ACL_CAT_SCRIPTING,
    ACL_NCATEGORIES
};

/* What a command does with a key, as %R~ and %W~ patterns grant it: read
 * (Redis's "access": the value may be returned), write (insert, delete or
 * update).  Neither (EXISTS, TYPE): any key pattern that matches will do. */
#define ACL_KEY_READ  0x1
#define ACL_KEY_WRITE 0x2

struct acl_command {
    const char *name;        /* lower case; a subcommand as "config|get" */
    uint32_t categories;     /* 1 << ACL_CAT_* */
    uint8_t first_key;       /* ACL_KEY_* of its first key */
    uint8_t other_keys;      /* ... and of the others (a destination after sources, or
                                the reverse: each command's specs say which) */
};

/* Every command and subcommand, sorted by name; the index is its id in a
 * user's bitmap of allowed commands. */
#define ACL_NCOMMANDS 366
extern const struct acl_command acl_commands[ACL_NCOMMANDS];
extern const char *const acl_category_names[ACL_NCATEGORIES];

#endif
