/* SPDX-License-Identifier: Apache-2.0 */
/* acl_glob.h — Redis's glob over bytes: what key and channel patterns that are more than a prefix go through. */
#ifndef COPROXY_ACL_GLOB_H
#define COPROXY_ACL_GLOB_H

#include <stddef.h>

/* Redis's glob (*, ?, [a-z], [^a], \x) over bytes, NULs included: 1 or 0. */
int acl_glob(const char *pat, size_t plen, const char *s, size_t slen);

#endif
