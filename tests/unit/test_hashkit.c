/* SPDX-License-Identifier: Apache-2.0 */
/* test_hashkit.c — known answers for twemproxy's twelve hashes, MD5, hash tags and the distributions. */
#include <stdint.h>
#include <string.h>

#include "unit.h"
#include "dist.h"
#include "hashkit.h"

#define K(s) s, sizeof(s) - 1

/*
 * Every hash of every key, in enum hash_kind order: one_at_a_time, md5,
 * crc16, crc32, crc32a, fnv1_64 / fnv1a_64, fnv1_32, fnv1a_32, hsieh,
 * murmur, jenkins.  The values come from an independent model of
 * twemproxy 0.5.0's sources and agree with nutcracker's key placement
 * (tests/integration/test_key_placement.py).  The keys with bytes >= 0x80
 * pin twemproxy's sign extension (one_at_a_time, the four FNVs, and the last
 * byte of a 3-byte tail in hsieh); the 7-byte one is hsieh's 3-byte tail.
 * The empty key is 0 for every kind: twemproxy never hashes it.
 */
static const struct {
    const char *key;
    size_t len;
    uint32_t want[HASH_KINDS];
} vectors[] = {
    { K(""),
      { 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000,
        0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000 } },
    { K("a"),
      { 0xca2e9442, 0xb975c10c, 0x00007c87, 0x000068b7, 0xe8b7be43, 0x8601b7be,
        0x8601ec8c, 0x050c5d7e, 0xe40c292c, 0x93642e87, 0x4b41757c, 0xe0a38690 } },
    { K("foo"),
      { 0x238678dd, 0xdb18bdac, 0x0c3caf96, 0x00000c73, 0x8c736521, 0x6ba13533,
        0xfed9d577, 0x408f5e13, 0xa9f37ed7, 0x76d4d427, 0xc4e0338f, 0x99f84f99 } },
    { K("foobar"),
      { 0xf952fde7, 0x22f65838, 0x9effb025, 0x00001ef6, 0x9ef61f95, 0xa4dda9c2,
        0xf73967e8, 0x31f0b262, 0xbf9cf968, 0x07a5862c, 0xabecff17, 0x0fdd8b60 } },
    { K("123456789"),
      { 0xc66b58c5, 0x94e7f925, 0x869031c3, 0x00004bf4, 0xcbf43926, 0x2bf916d6,
        0x23c6cdfc, 0x24148816, 0xbb86b11c, 0xe4fc1670, 0xb7760690, 0x19777af6 } },
    { K("hello world!"),
      { 0x9bd919d3, 0x8ef93ffc, 0x063b577b, 0x000003b4, 0x03b4c26d, 0xb97b86bc,
        0xcd5a2672, 0x8a01b99c, 0xb034fff2, 0x13724f63, 0x7f8cfcad, 0x1bc66602 } },
    { K("0123456789abcdef"),
      { 0xf02202c7, 0x8daf3240, 0xd663e8a5, 0x000068c4, 0x68c4f033, 0x3b82ecc1,
        0xe5ad677d, 0x9e1b6f41, 0x87bc333d, 0xb89ff08b, 0x02923d2d, 0xe022e949 } },
    { K("The quick brown fox jumps over the lazy dog"),
      { 0x519e91f5, 0x9d7d109e, 0x22a3f0c8, 0x0000414f, 0x414fa339, 0x7de37ace,
        0xe7e47110, 0xe9c86c6e, 0x048fff90, 0x1c19ee97, 0x30c79125, 0x12b8163c } },
    { K("\x80"),
      { 0xc31d4e27, 0x7edd398d, 0x00009188, 0x00003fba, 0x3fba6cad, 0x79fe485f,
        0x79fdec5f, 0xfaf3a29f, 0x04f3b29f, 0xd6f4cb32, 0x90556245, 0xb16fde48 } },
    { K("\xff\xfe\xfd"),
      { 0x475549b8, 0xc24e6789, 0x1e0dc11f, 0x000008ea, 0x08eaaf6d, 0x93edf087,
        0x8f0e92d7, 0x914c9107, 0xbf6d4517, 0xd989515e, 0xc2e4b7ff, 0x222bd93e } },
    { K("ab\xe9"),
      { 0x7c6c3def, 0x8c72c1c8, 0x7c74ad14, 0x00003849, 0x38492bfc, 0x94505241,
        0xfabde399, 0xbc63d0c1, 0xb1b7c519, 0x125794e5, 0x6baf059f, 0x8927b2b4 } },
    { K("caf\xc3\xa9"),
      { 0xd99c709e, 0xe47f1107, 0xf6269667, 0x000018ad, 0x98ad42b5, 0x8a06fef1,
        0xcef6bb89, 0xd682f171, 0x7572c049, 0xde3f8855, 0xda11981f, 0xcb6225ad } },
    { K("\xc0\xc1\xc2\xc3\xc4\xc5\xc6"),
      { 0x32e12625, 0x6c8e8654, 0x645578da, 0x00002ec4, 0x2ec40da5, 0x552a1a26,
        0xd941cfc8, 0xfcfcd346, 0x1439bdc8, 0x277c3a63, 0x16692bd4, 0xcd8ae583 } },
    { K("key\xff\x80\x7f\x01\xfe"),
      { 0x565971d2, 0xc0331688, 0x4c29d29a, 0x0000268e, 0x268eec4f, 0xa56163bf,
        0x40b1b8db, 0x0bea52bf, 0xf24287db, 0x53783e44, 0xa9f4ad25, 0x665caca3 } },
    { K("user:{1000}:name"),
      { 0x45cc0cf2, 0x3f68bfcd, 0x3e0f5bec, 0x0000088a, 0x088a760f, 0x2117eeba,
        0x4470a87c, 0x7b7b2b3a, 0xa1b8001c, 0xb43402d6, 0x0b18b3be, 0x234281cb } },
    { K("a\x00""b"),
      { 0x5b21e716, 0x600f3570, 0x7c38e0bf, 0x000015e8, 0x15e87871, 0x6bafe70c,
        0x042666b2, 0x659c64cc, 0x10f3abd2, 0x2cf9fbca, 0xff35e903, 0xc5da18dd } },
    { K("\x80\x81\x82\x83\x84\x85\x86\x87\x88\x89\x8a\x8b\x8c\x8d\x8e"
        "\x8f\x90\x91\x92\x93\x94\x95\x96\x97\x98\x99\x9a\x9b\x9c"),
      { 0xcae87751, 0x35e891a4, 0xf051c5e1, 0x00005306, 0x53069b38, 0x8f6aa0af,
        0xdb1f012f, 0xfa7e3e6f, 0x843fea6f, 0x261d6809, 0x0d62253a, 0xd61d9875 } },
};

static void test_every_hash_known_answers(void)
{
    size_t i;
    int k;

    for (i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
        for (k = 0; k < HASH_KINDS; k++) {
            uint32_t got = hash_key((enum hash_kind)k, vectors[i].key, vectors[i].len);

            if (got != vectors[i].want[k])
                fprintf(stderr, "vector %zu (%zu bytes), %s: got 0x%08x, want 0x%08x\n", i,
                        vectors[i].len, hash_name((enum hash_kind)k), got, vectors[i].want[k]);
            CHECK_EQ(got, vectors[i].want[k]);
        }
    }
}

/* Published check values of the underlying algorithms, where one exists. */
static void test_hashes_match_published_check_values(void)
{
    static const struct {
        enum hash_kind kind;
        const char *key;
        size_t len;
        uint32_t want, mask;
    } cases[] = {
        { HASH_CRC32A, K("123456789"), 0xcbf43926, 0xffffffff },          /* CRC-32 */
        { HASH_CRC32, K("123456789"), 0xcbf43926 >> 16 & 0x7fff, 0xffffffff },
        { HASH_CRC16, K("123456789"), 0x31c3, 0xffff },                   /* CRC-16/XMODEM */
        { HASH_FNV1_32, K("foobar"), 0x31f0b262, 0xffffffff },
        { HASH_FNV1A_32, K("foobar"), 0xbf9cf968, 0xffffffff },
        { HASH_FNV1_64, K("foobar"), 0xa4dda9c2, 0xffffffff },            /* of 0x340d8765a4dda9c2 */
        { HASH_ONE_AT_A_TIME, K("a"), 0xca2e9442, 0xffffffff },
        { HASH_ONE_AT_A_TIME, K("The quick brown fox jumps over the lazy dog"), 0x519e91f5,
          0xffffffff },
    };
    size_t i;

    for (i = 0; i < sizeof cases / sizeof cases[0]; i++)
        CHECK_EQ(hash_key(cases[i].kind, cases[i].key, cases[i].len) & cases[i].mask,
                 cases[i].want);
}

static void hex16(const unsigned char d[16], char out[33])
{
    int i;

    for (i = 0; i < 16; i++)
        sprintf(out + 2 * i, "%02x", d[i]);
}

/* RFC 1321's test suite, and lengths around the 56- and 64-byte padding edges. */
static void test_md5_rfc1321_and_padding_edges(void)
{
    static const struct {
        const char *in;
        const char *want;
    } rfc[] = {
        { "", "d41d8cd98f00b204e9800998ecf8427e" },
        { "a", "0cc175b9c0f1b6a831c399e269772661" },
        { "abc", "900150983cd24fb0d6963f7d28e17f72" },
        { "message digest", "f96b697d7cb7938d525a2f31aaf161d0" },
        { "abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b" },
        { "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
          "d174ab98d277d9f5a5611c2c9f419d9f" },
        { "1234567890123456789012345678901234567890123456789012345678901234567890123456789"
          "0", "57edf4a22be3c955ac49da2e2107b67a" },
    };
    static const struct {
        size_t len;
        const char *want;
    } edges[] = {
        { 55, "52c0e574e1198de5fe3f8f11440dcb1b" },
        { 56, "46c9907fc908ee68b1e7b8e71286a518" },
        { 63, "a62f6d59e837867693f042f5b8f5a236" },
        { 64, "7160b8fb5e9e4023d549c3971fbaeead" },
        { 65, "70bd662e7aefbda85a0f7244167b7897" },
        { 1000, "10046f077f2082ac19676b8079f1cb1a" },
    };
    unsigned char d[16], buf[1000];
    char hex[33];
    size_t i;

    for (i = 0; i < sizeof rfc / sizeof rfc[0]; i++) {
        hash_md5(rfc[i].in, strlen(rfc[i].in), d);
        hex16(d, hex);
        CHECK(strcmp(hex, rfc[i].want) == 0);
    }
    for (i = 0; i < sizeof buf; i++)
        buf[i] = (unsigned char)(i * 7 + 3);
    for (i = 0; i < sizeof edges / sizeof edges[0]; i++) {
        hash_md5(buf, edges[i].len, d);
        hex16(d, hex);
        CHECK(strcmp(hex, edges[i].want) == 0);
    }
    /* the md5 key hash is the digest's first four bytes, little-endian */
    CHECK_EQ(hash_key(HASH_MD5, "abc", 3), 0x98500190);
}

static void test_hash_and_dist_names(void)
{
    static const char *const names[HASH_KINDS] = {
        "one_at_a_time", "md5", "crc16", "crc32", "crc32a", "fnv1_64", "fnv1a_64",
        "fnv1_32", "fnv1a_32", "hsieh", "murmur", "jenkins",
    };
    int k;

    for (k = 0; k < HASH_KINDS; k++) {
        CHECK_EQ(hash_parse(names[k]), k);
        CHECK(strcmp(hash_name((enum hash_kind)k), names[k]) == 0);
    }
    CHECK_EQ(hash_parse("fnv1a"), -1);
    CHECK_EQ(hash_parse("MD5"), -1);
    CHECK_EQ(hash_parse(""), -1);
    CHECK_EQ(dist_parse("ketama"), DIST_KETAMA);
    CHECK_EQ(dist_parse("modula"), DIST_MODULA);
    CHECK_EQ(dist_parse("random"), DIST_RANDOM);
    CHECK_EQ(dist_parse("vnode"), -1);
}

static void test_hash_tag_part(void)
{
    static const struct {
        const char *tag;
        const char *key;
        const char *want;   /* NULL: the whole key */
    } cases[] = {
        { "{}", "abc", NULL },
        { "{}", "{a}", "a" },
        { "{}", "x{tag}y", "tag" },
        { "{}", "user:{1000}:name", "1000" },
        { "{}", "a{b}c{d}", "b" },          /* the first tag only */
        { "{}", "{{a}}", "{a" },            /* from the first '{' to the next '}' */
        { "{}", "}{a}", "a" },
        { "{}", "{}x", NULL },              /* empty tag: the whole key */
        { "{}", "{}{a}", NULL },            /* ... even with a later tag */
        { "{}", "a}b{c", NULL },
        { "{}", "{", NULL },
        { "{}", "", NULL },
        { "$$", "a$b$c", "b" },
        { "", "{a}", NULL },
        { NULL, "{a}", NULL },
    };
    size_t i, plen;

    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *key = cases[i].key;
        const char *part = hash_tag_part(cases[i].tag, key, strlen(key), &plen);

        if (cases[i].want == NULL) {
            CHECK(part == key);
            CHECK_EQ(plen, strlen(key));
        } else {
            CHECK(part > key && part + plen <= key + strlen(key));
            CHECK_EQ(plen, strlen(cases[i].want));
            CHECK(memcmp(part, cases[i].want, plen) == 0);
        }
    }
    /* the tag ends the search at the key's length, not at a NUL */
    CHECK(hash_tag_part("{}", "ab{c}", 3, &plen) != NULL && plen == 3);
}

static int count_server(const struct dist *d, uint32_t server)
{
    uint32_t i;
    int n = 0;

    for (i = 0; i < d->npoints; i++)
        n += d->points[i].server == server;
    return n;
}

/* Three equal servers: 160 points each, sorted, and the picks around known points. */
static void test_ketama_known_continuum(void)
{
    struct dist_server s[] = {
        { "127.0.0.1:6379", 1, 1 }, { "127.0.0.1:6380", 1, 1 }, { "127.0.0.1:6381", 1, 1 },
    };
    static const struct {
        uint32_t hash;
        int want;
    } picks[] = {
        { 0, 0 },
        { 0x0132528e, 0 },          /* exactly the first point */
        { 0x0132528f, 1 },          /* just past it: the next point */
        { 0xfed9d577, 2 },          /* fnv1a_64("foo") */
        { 0xffa67730, 2 },          /* the last point */
        { 0xffa67731, 0 },          /* past the last point: wraps to the first */
        { UINT32_MAX, 0 },
    };
    struct dist d = { 0 };
    uint32_t i;

    CHECK_EQ(dist_build(&d, DIST_KETAMA, s, 3), 0);
    CHECK_EQ(d.npoints, 480);
    for (i = 0; i < 3; i++)
        CHECK_EQ(count_server(&d, i), 160);
    for (i = 1; i < d.npoints; i++)
        CHECK(d.points[i - 1].value <= d.points[i].value);
    CHECK_EQ(d.points[0].value, 0x0132528e);
    CHECK_EQ(d.points[0].server, 0);
    CHECK_EQ(d.points[1].value, 0x016533c4);
    CHECK_EQ(d.points[1].server, 1);
    CHECK_EQ(d.points[479].value, 0xffa67730);
    CHECK_EQ(d.points[479].server, 2);
    for (i = 0; i < sizeof picks / sizeof picks[0]; i++)
        CHECK_EQ(dist_pick(&d, picks[i].hash), picks[i].want);
    CHECK_EQ(dist_pick(&d, hash_key(HASH_FNV1A_64, "foo", 3)), 2);

    /* rebuilt over the same struct with server 1 ejected: its points go */
    s[1].live = 0;
    CHECK_EQ(dist_build(&d, DIST_KETAMA, s, 3), 0);
    CHECK_EQ(d.npoints, 320);
    CHECK_EQ(count_server(&d, 0), 160);
    CHECK_EQ(count_server(&d, 1), 0);
    CHECK_EQ(count_server(&d, 2), 160);
    dist_free(&d);
}

/*
 * Weights 1,1,3,10,10: twemproxy's float arithmetic gives the weight-1
 * servers 28 points (the exact share is 32) and the weight-3 one 92 (96),
 * 788 in all.  Servers are hashed by name; the 11211 rule is dist_probe's.
 */
static void test_ketama_weights_use_float_arithmetic(void)
{
    struct dist_server s[] = {
        { "10.0.0.1:6379", 1, 1 }, { "10.0.0.2:6379", 1, 1 }, { "10.0.0.3:6379", 3, 1 },
        { "10.0.0.4:6379", 10, 1 }, { "10.0.0.5:6379", 10, 1 },
    };
    static const int want[] = { 28, 28, 92, 320, 320 };
    struct dist d = { 0 };
    uint32_t i;

    CHECK_EQ(dist_build(&d, DIST_KETAMA, s, 5), 0);
    CHECK_EQ(d.npoints, 788);
    for (i = 0; i < 5; i++)
        CHECK_EQ(count_server(&d, i), want[i]);
    dist_free(&d);
}

/* The continuum does not depend on the order the servers are listed in. */
static void test_ketama_ignores_config_order(void)
{
    struct dist_server a[] = { { "alpha", 1, 1 }, { "beta", 2, 1 }, { "gamma", 1, 1 } };
    struct dist_server b[] = { { "gamma", 1, 1 }, { "alpha", 1, 1 }, { "beta", 2, 1 } };
    static const int a_to_b[] = { 1, 2, 0 };
    struct dist da = { 0 }, db = { 0 };
    uint64_t rng = 0x1234567;
    int i;

    CHECK_EQ(dist_build(&da, DIST_KETAMA, a, 3), 0);
    CHECK_EQ(dist_build(&db, DIST_KETAMA, b, 3), 0);
    CHECK_EQ(da.npoints, db.npoints);
    for (i = 0; i < 10000; i++) {
        uint32_t h = (uint32_t)unit_xorshift(&rng);

        CHECK_EQ(a_to_b[dist_pick(&da, h)], dist_pick(&db, h));
    }
    dist_free(&da);
    dist_free(&db);
}

/*
 * modula: `weight` points per live server, laid out in twemproxy's server
 * order (shorter names first, then bytewise), not in config order.
 */
static void test_modula_layout_follows_twemproxy_server_order(void)
{
    struct dist_server s[] = { { "zeta", 1, 1 }, { "b", 2, 1 }, { "alpha", 3, 1 } };
    static const uint32_t layout[] = { 1, 1, 0, 2, 2, 2 };  /* b b zeta alpha alpha alpha */
    struct dist d = { 0 };
    uint32_t i;

    CHECK_EQ(dist_build(&d, DIST_MODULA, s, 3), 0);
    CHECK_EQ(d.npoints, 6);
    for (i = 0; i < 6; i++) {
        CHECK_EQ(d.points[i].server, layout[i]);
        CHECK_EQ(d.points[i].value, 0);
        CHECK_EQ(dist_pick(&d, i), layout[i]);
        CHECK_EQ(dist_pick(&d, i + 6000000), layout[i]);
    }
    CHECK_EQ(dist_pick(&d, UINT32_MAX), layout[UINT32_MAX % 6]);

    s[1].live = 0;                  /* b ejected: zeta alpha alpha alpha */
    CHECK_EQ(dist_build(&d, DIST_MODULA, s, 3), 0);
    CHECK_EQ(d.npoints, 4);
    CHECK_EQ(dist_pick(&d, 0), 0);
    CHECK_EQ(dist_pick(&d, 1), 2);
    CHECK_EQ(dist_pick(&d, 4), 0);
    dist_free(&d);
}

static void test_random_picks_only_live_servers(void)
{
    struct dist_server s[] = { { "a:1", 5, 1 }, { "b:1", 1, 0 }, { "c:1", 1, 1 } };
    struct dist d = { 0 };
    int seen[3] = { 0 }, i;

    CHECK_EQ(dist_build(&d, DIST_RANDOM, s, 3), 0);
    CHECK_EQ(d.npoints, 2);         /* one point per live server, weight ignored */
    for (i = 0; i < 1000; i++) {
        int p = dist_pick(&d, 0);

        CHECK(p == 0 || p == 2);
        seen[p]++;
    }
    CHECK(seen[0] > 0 && seen[2] > 0);
    dist_free(&d);
}

static void test_no_live_server_picks_none(void)
{
    struct dist_server s[] = { { "a:1", 1, 0 }, { "b:1", 1, 0 } };
    enum dist_kind kinds[] = { DIST_KETAMA, DIST_MODULA, DIST_RANDOM };
    struct dist d = { 0 };
    int k;

    for (k = 0; k < 3; k++) {
        CHECK_EQ(dist_build(&d, kinds[k], s, 2), 0);
        CHECK_EQ(d.npoints, 0);
        CHECK_EQ(dist_pick(&d, 12345), -1);
    }
    CHECK_EQ(dist_build(&d, DIST_KETAMA, s, 0), 0);
    CHECK_EQ(dist_pick(&d, 0), -1);
    dist_free(&d);
    dist_free(&d);                  /* idempotent */
}

int main(void)
{
    fprintf(stderr, "test_hashkit:\n");
    RUN(test_every_hash_known_answers);
    RUN(test_hashes_match_published_check_values);
    RUN(test_md5_rfc1321_and_padding_edges);
    RUN(test_hash_and_dist_names);
    RUN(test_hash_tag_part);
    RUN(test_ketama_known_continuum);
    RUN(test_ketama_weights_use_float_arithmetic);
    RUN(test_ketama_ignores_config_order);
    RUN(test_modula_layout_follows_twemproxy_server_order);
    RUN(test_random_picks_only_live_servers);
    RUN(test_no_live_server_picks_none);
    return 0;
}
