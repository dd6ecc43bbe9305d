/* SPDX-License-Identifier: Apache-2.0 */
/* acl_glob.c — Redis's glob over bytes: what key and channel patterns that are more than a prefix go through. */
#include "acl_glob.h"

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
