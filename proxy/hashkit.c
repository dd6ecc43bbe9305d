/* SPDX-License-Identifier: Apache-2.0 */
/* hashkit.c — twemproxy 0.5.0's twelve key hashes and MD5, reproduced bit for bit. */
#include <stdint.h>
#include <string.h>

#include "hashkit.h"

/*
 * Signedness.  twemproxy reads keys through `const char *`, and char is
 * signed on the platforms it is deployed on (x86-64): where it converts a
 * byte straight to a wider unsigned type, a byte >= 0x80 sign-extends
 * (0x80 becomes 0xffffff80).  SBYTE() reproduces that conversion whatever
 * the compiler's char is, so the hashes agree with a twemproxy built on
 * x86-64 even on aarch64 (where char is unsigned).  UBYTE() is for the
 * places where twemproxy reads through an unsigned type or masks the value.
 */
#define SBYTE(p, i) ((uint32_t)(int32_t)(int8_t)((const uint8_t *)(p))[i])
#define UBYTE(p, i) ((uint32_t)((const uint8_t *)(p))[i])

static const char *const hash_names[HASH_KINDS] = {
    [HASH_ONE_AT_A_TIME] = "one_at_a_time",
    [HASH_MD5] = "md5",
    [HASH_CRC16] = "crc16",
    [HASH_CRC32] = "crc32",
    [HASH_CRC32A] = "crc32a",
    [HASH_FNV1_64] = "fnv1_64",
    [HASH_FNV1A_64] = "fnv1a_64",
    [HASH_FNV1_32] = "fnv1_32",
    [HASH_FNV1A_32] = "fnv1a_32",
    [HASH_HSIEH] = "hsieh",
    [HASH_MURMUR] = "murmur",
    [HASH_JENKINS] = "jenkins",
};

int hash_parse(const char *name)
{
    int k;

    for (k = 0; k < HASH_KINDS; k++)
        if (strcmp(name, hash_names[k]) == 0)
            return k;
    return -1;
}

const char *hash_name(enum hash_kind kind)
{
    return (unsigned)kind < HASH_KINDS ? hash_names[kind] : "?";
}

/* ---- MD5 (RFC 1321) --------------------------------------------------------- */

struct md5 {
    uint32_t s[4];
    uint64_t nbytes;
    unsigned char buf[64];
};

/* T[i] = floor(|sin(i + 1)| * 2^32), written out so no libm rounding enters. */
static const uint32_t md5_t[64] = {
    0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
    0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
    0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
    0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
    0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
    0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
    0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
    0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391,
};

/* Left-rotation amounts: four per round, repeated over the round's 16 steps. */
static const unsigned char md5_r[4][4] = {
    { 7, 12, 17, 22 }, { 5, 9, 14, 20 }, { 4, 11, 16, 23 }, { 6, 10, 15, 21 },
};

static inline uint32_t rotl32(uint32_t x, unsigned k)
{
    return (x << k) | (x >> (32 - k));
}

static inline uint32_t load_le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void md5_block(uint32_t s[4], const unsigned char block[64])
{
    uint32_t m[16], a = s[0], b = s[1], c = s[2], d = s[3];
    unsigned i;

    for (i = 0; i < 16; i++)
        m[i] = load_le32(block + 4 * i);
    for (i = 0; i < 64; i++) {
        unsigned round = i / 16, g;
        uint32_t f, t;

        switch (round) {
        case 0:  f = (b & c) | (~b & d); g = i;                break;
        case 1:  f = (d & b) | (~d & c); g = (5 * i + 1) % 16; break;
        case 2:  f = b ^ c ^ d;          g = (3 * i + 5) % 16; break;
        default: f = c ^ (b | ~d);       g = (7 * i) % 16;     break;
        }
        t = d;
        d = c;
        c = b;
        b = b + rotl32(a + f + md5_t[i] + m[g], md5_r[round][i % 4]);
        a = t;
    }
    s[0] += a;
    s[1] += b;
    s[2] += c;
    s[3] += d;
}

static void md5_init(struct md5 *m)
{
    m->s[0] = 0x67452301;
    m->s[1] = 0xefcdab89;
    m->s[2] = 0x98badcfe;
    m->s[3] = 0x10325476;
    m->nbytes = 0;
}

static void md5_update(struct md5 *m, const unsigned char *p, size_t len)
{
    size_t have = (size_t)(m->nbytes % 64);

    m->nbytes += len;
    if (have > 0) {
        size_t take = 64 - have < len ? 64 - have : len;

        memcpy(m->buf + have, p, take);
        p += take;
        len -= take;
        if (have + take < 64)
            return;
        md5_block(m->s, m->buf);
    }
    for (; len >= 64; p += 64, len -= 64)
        md5_block(m->s, p);
    memcpy(m->buf, p, len);
}

static void md5_final(struct md5 *m, unsigned char out[16])
{
    static const unsigned char pad[64] = { 0x80 };
    unsigned char lenbytes[8];
    uint64_t bits = m->nbytes * 8;
    size_t have = (size_t)(m->nbytes % 64);
    int i;

    for (i = 0; i < 8; i++)
        lenbytes[i] = (unsigned char)(bits >> (8 * i));
    /* pad to 56 mod 64, then the message length in bits, little-endian */
    md5_update(m, pad, have < 56 ? 56 - have : 120 - have);
    md5_update(m, lenbytes, 8);
    for (i = 0; i < 4; i++) {
        out[4 * i] = (unsigned char)m->s[i];
        out[4 * i + 1] = (unsigned char)(m->s[i] >> 8);
        out[4 * i + 2] = (unsigned char)(m->s[i] >> 16);
        out[4 * i + 3] = (unsigned char)(m->s[i] >> 24);
    }
}

void hash_md5(const void *data, size_t len, unsigned char out[16])
{
    struct md5 m;

    md5_init(&m);
    md5_update(&m, data, len);
    md5_final(&m, out);
}

/* ---- the key hashes ---------------------------------------------------------- */

/* Jenkins' one-at-a-time; bytes sign-extended. */
static uint32_t hash_one_at_a_time(const char *key, size_t len)
{
    uint32_t h = 0;
    size_t i;

    for (i = 0; i < len; i++) {
        h += SBYTE(key, i);
        h += h << 10;
        h ^= h >> 6;
    }
    h += h << 3;
    h ^= h >> 11;
    h += h << 15;
    return h;
}

/* The digest's first four bytes as a little-endian number. */
static uint32_t hash_md5_key(const char *key, size_t len)
{
    unsigned char d[16];

    hash_md5(key, len, d);
    return load_le32(d);
}

/*
 * CRC tables, filled once before main(): crc16 uses the CCITT polynomial
 * 0x1021, most significant bit first (XMODEM); crc32 and crc32a share the
 * reflected IEEE 802.3 table.
 */
static uint16_t crc16_table[256];
static uint32_t crc32_table[256];

__attribute__((constructor)) static void hashkit_tables(void)
{
    uint32_t n, c16, c32;
    int k;

    for (n = 0; n < 256; n++) {
        c16 = n << 8;
        c32 = n;
        for (k = 0; k < 8; k++) {
            c16 = (c16 & 0x8000) ? (c16 << 1) ^ 0x1021u : c16 << 1;
            c32 = (c32 & 1) ? (c32 >> 1) ^ 0xedb88320u : c32 >> 1;
        }
        crc16_table[n] = (uint16_t)c16;
        crc32_table[n] = c32;
    }
}

/*
 * CRC-16/XMODEM (initial value 0) as twemproxy writes it: in a 32-bit
 * register that is never masked to 16 bits, so the bits shifted out on the
 * left stay and the result is wider than 16 bits.  Its low 16 bits are the
 * real CRC (redis cluster's slot CRC); the whole value picks the server.
 */
static uint32_t hash_crc16(const char *key, size_t len)
{
    uint32_t crc = 0;
    size_t i;

    for (i = 0; i < len; i++)
        crc = (crc << 8) ^ crc16_table[((crc >> 8) ^ UBYTE(key, i)) & 0xff];
    return crc;
}

/* The standard CRC-32 of the key (crc32a), before the final inversion. */
static uint32_t crc32_raw(const char *key, size_t len)
{
    uint32_t crc = UINT32_MAX;
    size_t i;

    for (i = 0; i < len; i++)
        crc = (crc >> 8) ^ crc32_table[(crc ^ UBYTE(key, i)) & 0xff];
    return crc;
}

/* libmemcached's crc32: bits 16..30 of the real CRC-32 only. */
static uint32_t hash_crc32(const char *key, size_t len)
{
    return (~crc32_raw(key, len) >> 16) & 0x7fff;
}

static uint32_t hash_crc32a(const char *key, size_t len)
{
    return ~crc32_raw(key, len);
}

/*
 * FNV.  Both 64-bit settings keep 32 bits; fnv1_64 computes in 64 bits and
 * truncates, fnv1a_64 is really a 32-bit FNV-1a whose offset basis and prime
 * are the 64-bit ones truncated (0x84222325 and 0x1b3).  Bytes sign-extend.
 */
#define FNV32_BASIS 2166136261u
#define FNV32_PRIME 16777619u
#define FNV64_BASIS UINT64_C(0xcbf29ce484222325)
#define FNV64_PRIME UINT64_C(0x100000001b3)

static uint32_t hash_fnv1_64(const char *key, size_t len)
{
    uint64_t h = FNV64_BASIS;
    size_t i;

    for (i = 0; i < len; i++) {
        h *= FNV64_PRIME;
        h ^= (uint64_t)(int64_t)(int8_t)UBYTE(key, i);
    }
    return (uint32_t)h;
}

static uint32_t hash_fnv1a_64(const char *key, size_t len)
{
    uint32_t h = (uint32_t)FNV64_BASIS;
    size_t i;

    for (i = 0; i < len; i++) {
        h ^= SBYTE(key, i);
        h *= (uint32_t)FNV64_PRIME;
    }
    return h;
}

static uint32_t hash_fnv1_32(const char *key, size_t len)
{
    uint32_t h = FNV32_BASIS;
    size_t i;

    for (i = 0; i < len; i++) {
        h *= FNV32_PRIME;
        h ^= SBYTE(key, i);
    }
    return h;
}

static uint32_t hash_fnv1a_32(const char *key, size_t len)
{
    uint32_t h = FNV32_BASIS;
    size_t i;

    for (i = 0; i < len; i++) {
        h ^= SBYTE(key, i);
        h *= FNV32_PRIME;
    }
    return h;
}

/*
 * Paul Hsieh's SuperFastHash: 16-bit little-endian reads; in a 3-byte tail
 * the last byte is read signed (the only signed read).  Empty key: 0.
 */
static inline uint32_t le16(const char *p)
{
    return UBYTE(p, 0) | UBYTE(p, 1) << 8;
}

static uint32_t hash_hsieh(const char *key, size_t len)
{
    uint32_t h = 0, tmp;
    size_t blocks = len / 4;

    if (len == 0)
        return 0;
    for (; blocks > 0; blocks--, key += 4) {
        h += le16(key);
        tmp = (le16(key + 2) << 11) ^ h;
        h = (h << 16) ^ tmp;
        h += h >> 11;
    }
    switch (len % 4) {
    case 3:
        h += le16(key);
        h ^= h << 16;
        h ^= SBYTE(key, 2) << 18;
        h += h >> 11;
        break;
    case 2:
        h += le16(key);
        h ^= h << 11;
        h += h >> 17;
        break;
    case 1:
        h += UBYTE(key, 0);
        h ^= h << 10;
        h += h >> 1;
        break;
    default:
        break;
    }
    h ^= h << 3;
    h += h >> 5;
    h ^= h << 4;
    h += h >> 17;
    h ^= h << 25;
    h += h >> 6;
    return h;
}

/* MurmurHash2 with twemproxy's seed, 0xdeadbeef times the length. */
static uint32_t hash_murmur(const char *key, size_t len)
{
    const uint32_t m = 0x5bd1e995;
    uint32_t h = (0xdeadbeefu * (uint32_t)len) ^ (uint32_t)len;
    size_t i = 0;

    for (; len - i >= 4; i += 4) {
        uint32_t k = load_le32((const unsigned char *)key + i);

        k *= m;
        k ^= k >> 24;
        k *= m;
        h *= m;
        h ^= k;
    }
    switch (len - i) {
    case 3:
        h ^= UBYTE(key, i + 2) << 16;
        /* fall through */
    case 2:
        h ^= UBYTE(key, i + 1) << 8;
        /* fall through */
    case 1:
        h ^= UBYTE(key, i);
        h *= m;
        break;
    default:
        break;
    }
    h ^= h >> 13;
    h *= m;
    h ^= h >> 15;
    return h;
}

/*
 * Bob Jenkins' lookup3 hashlittle() with initval 13, read byte by byte (the
 * word-at-a-time paths of the original give the same value on little-endian
 * machines, and this one never reads past the key).
 */
#define JENKINS_INITVAL 13u

#define JENKINS_MIX(a, b, c)                                      \
    do {                                                          \
        a -= c; a ^= rotl32(c, 4);  c += b;                       \
        b -= a; b ^= rotl32(a, 6);  a += c;                       \
        c -= b; c ^= rotl32(b, 8);  b += a;                       \
        a -= c; a ^= rotl32(c, 16); c += b;                       \
        b -= a; b ^= rotl32(a, 19); a += c;                       \
        c -= b; c ^= rotl32(b, 4);  b += a;                       \
    } while (0)

#define JENKINS_FINAL(a, b, c)                                    \
    do {                                                          \
        c ^= b; c -= rotl32(b, 14);                               \
        a ^= c; a -= rotl32(c, 11);                               \
        b ^= a; b -= rotl32(a, 25);                               \
        c ^= b; c -= rotl32(b, 16);                               \
        a ^= c; a -= rotl32(c, 4);                                \
        b ^= a; b -= rotl32(a, 14);                               \
        c ^= b; c -= rotl32(b, 24);                               \
    } while (0)

/* Up to four bytes as a little-endian word (the tail of lookup3's last block). */
static uint32_t load_le_partial(const unsigned char *p, size_t n)
{
    uint32_t w = 0;
    size_t i;

    for (i = 0; i < n && i < 4; i++)
        w |= (uint32_t)p[i] << (8 * i);
    return w;
}

static uint32_t hash_jenkins(const char *key, size_t len)
{
    const unsigned char *k = (const unsigned char *)key;
    uint32_t a, b, c;

    a = b = c = 0xdeadbeefu + (uint32_t)len + JENKINS_INITVAL;
    for (; len > 12; len -= 12, k += 12) {
        a += load_le32(k);
        b += load_le32(k + 4);
        c += load_le32(k + 8);
        JENKINS_MIX(a, b, c);
    }
    if (len == 0)
        return c;       /* lookup3 skips the final mix for an empty last block */
    a += load_le_partial(k, len);
    if (len > 4)
        b += load_le_partial(k + 4, len - 4);
    if (len > 8)
        c += load_le_partial(k + 8, len - 8);
    JENKINS_FINAL(a, b, c);
    return c;
}

/* ---- dispatch ------------------------------------------------------------------ */

typedef uint32_t (*hash_fn)(const char *key, size_t len);

static const hash_fn hash_fns[HASH_KINDS] = {
    [HASH_ONE_AT_A_TIME] = hash_one_at_a_time,
    [HASH_MD5] = hash_md5_key,
    [HASH_CRC16] = hash_crc16,
    [HASH_CRC32] = hash_crc32,
    [HASH_CRC32A] = hash_crc32a,
    [HASH_FNV1_64] = hash_fnv1_64,
    [HASH_FNV1A_64] = hash_fnv1a_64,
    [HASH_FNV1_32] = hash_fnv1_32,
    [HASH_FNV1A_32] = hash_fnv1a_32,
    [HASH_HSIEH] = hash_hsieh,
    [HASH_MURMUR] = hash_murmur,
    [HASH_JENKINS] = hash_jenkins,
};

uint32_t hash_key(enum hash_kind kind, const char *key, size_t len)
{
    /* twemproxy never hashes an empty key: it goes where hash 0 goes */
    if (len == 0 || (unsigned)kind >= HASH_KINDS)
        return 0;
    return hash_fns[kind](key, len);
}

const char *hash_tag_part(const char *tag, const char *key, size_t len, size_t *part_len)
{
    const char *open, *close;

    *part_len = len;
    if (tag == NULL || tag[0] == '\0' || tag[1] == '\0' || len == 0)
        return key;
    open = memchr(key, tag[0], len);
    if (open == NULL)
        return key;
    close = memchr(open + 1, tag[1], len - (size_t)(open + 1 - key));
    if (close == NULL || close == open + 1)
        return key;
    *part_len = (size_t)(close - open - 1);
    return open + 1;
}
