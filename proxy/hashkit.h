/* SPDX-License-Identifier: Apache-2.0 */
/* hashkit.h — the key hash functions twemproxy users configure, bit for bit. */
#ifndef COPROXY_HASHKIT_H
#define COPROXY_HASHKIT_H

#include <stddef.h>
#include <stdint.h>

/* In the order of the `hash` setting's documented choices. */
enum hash_kind {
    HASH_ONE_AT_A_TIME,
    HASH_MD5,
    HASH_CRC16,
    HASH_CRC32,
    HASH_CRC32A,
    HASH_FNV1_64,
    HASH_FNV1A_64,
    HASH_FNV1_32,
    HASH_FNV1A_32,
    HASH_HSIEH,
    HASH_MURMUR,
    HASH_JENKINS,
    HASH_KINDS
};

/* The kind named `name` ("fnv1a_64", ...), or -1 if there is none. */
int hash_parse(const char *name);
const char *hash_name(enum hash_kind kind);

/*
 * The 32-bit hash of key[0..len) as twemproxy 0.5.0 computes it for the same
 * setting (quirks included: its fnv1a_64 is a 32-bit FNV with truncated
 * 64-bit constants, its crc32 keeps 15 bits), so keys land where they did.
 * An empty key is 0 for every kind: twemproxy routes it without hashing.
 */
uint32_t hash_key(enum hash_kind kind, const char *key, size_t len);

/* MD5 of data[0..len) into out (ketama builds its points with it). */
void hash_md5(const void *data, size_t len, unsigned char out[16]);

/*
 * The part of a key that is hashed: with a two-character hash_tag such as
 * "{}", the bytes between the first `{` and the next `}` after it, when
 * that is not empty; otherwise the whole key.  tag may be NULL or "".
 */
const char *hash_tag_part(const char *tag, const char *key, size_t len, size_t *part_len);

#endif
