/* SPDX-License-Identifier: Apache-2.0 */
/* acl_match.c — what a user's rules allow: a command's id in the table, a key or channel against the user's patterns. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "acl.h"

#define COMMAND_NAME_MAX 64

int acl_command_id(const char *name, size_t len)
{
    char low[COMMAND_NAME_MAX + 1];
    int lo = 0, hi = ACL_NCOMMANDS - 1;

    if (len == 0 || len > COMMAND_NAME_MAX)
        return -1;
    for (size_t i = 0; i < len; i++)
        low[i] = name[i] >= 'A' && name[i] <= 'Z' ? (char)(name[i] - 'A' + 'a') : name[i];
    low[len] = '\0';
    if (memchr(low, '\0', len) != NULL)
        return -1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2, c = strcmp(acl_commands[mid].name, low);
        if (c == 0)
            return mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return -1;
}

int acl_category_id(const char *name, size_t len)
{
    for (int i = 0; i < ACL_NCATEGORIES; i++)
        if (strlen(acl_category_names[i]) == len && strncasecmp(acl_category_names[i], name, len) == 0)
            return i;
    return -1;
}

int acl_channel_allowed(const struct acl_user *u, const char *channel, size_t len, int pattern)
{
    if (u->allchannels)
        return 1;
    for (int i = 0; i < u->nchannels; i++) {
        const struct acl_pattern *c = &u->channels[i];
        if (pattern ? c->len == len && memcmp(c->text, channel, len) == 0 : acl_pattern_match(c, channel, len))
            return 1;
    }
    return 0;
}
