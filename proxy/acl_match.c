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

/* Whether c matches the one-character element of pat at *p ('?', a
 * [class], \x or a byte); *p moves past the element either way. */
static int match_one(const char *pat, size_t plen, size_t *p, unsigned char c)
{
    size_t q = *p;
    int hit = 0, neg = 0;

    if (pat[q] == '?') {
        *p = q + 1;
        return 1;
    }
    if (pat[q] == '\\' && q + 1 < plen) {
        *p = q + 2;
        return (unsigned char)pat[q + 1] == c;
    }
    if (pat[q] != '[') {
        *p = q + 1;
        return (unsigned char)pat[q] == c;
    }
    q++;
    if (q < plen && pat[q] == '^') {
        neg = 1;
        q++;
    }
    /* to the closing ']' (or the pattern's end, which closes it too, as in Redis) */
    while (q < plen && pat[q] != ']') {
        if (pat[q] == '\\' && q + 1 < plen) {
            q++;
            hit |= (unsigned char)pat[q] == c;
        } else if (q + 2 < plen && pat[q + 1] == '-') {
            unsigned char a = (unsigned char)pat[q], b = (unsigned char)pat[q + 2];
            if (a > b) {
                unsigned char t = a;
                a = b;
                b = t;
            }
            hit |= c >= a && c <= b;
            q += 2;
        } else {
            hit |= (unsigned char)pat[q] == c;
        }
        q++;
    }
    *p = q < plen ? q + 1 : q;
    return neg ? !hit : hit;
}

/* Greedy, going back only to the last '*': linear in practice, and never
 * the exponential search a recursive matcher can be driven into. */
int acl_glob(const char *pat, size_t plen, const char *s, size_t slen)
{
    size_t p = 0, i = 0, star_p = 0, star_i = 0;
    int star = 0;

    while (i < slen) {
        if (p < plen && pat[p] == '*') {
            while (p < plen && pat[p] == '*')
                p++;
            if (p == plen)
                return 1;
            star = 1;
            star_p = p;
            star_i = i;
            continue;
        }
        if (p < plen) {
            size_t next = p;
            if (match_one(pat, plen, &next, (unsigned char)s[i])) {
                p = next;
                i++;
                continue;
            }
        }
        if (!star)
            return 0;
        p = star_p;
        i = ++star_i;
    }
    while (p < plen && pat[p] == '*')
        p++;
    return p == plen;
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
