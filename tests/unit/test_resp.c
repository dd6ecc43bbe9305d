/* SPDX-License-Identifier: Apache-2.0 */
/* test_resp.c — the RESP2 parsers fed whole, split at every byte and byte by byte; limits; writers. */
#include "unit.h"

#include "resp.h"

/* Bytes with their length: the inputs hold NULs and CRLFs. */
struct bytes {
    const char *s;
    size_t n;
};
#define B(lit) { lit, sizeof(lit) - 1 }

/* What is being checked, printed if a CHECK exits. */
static const char *cur_case, *cur_mode;
static size_t cur_cut;

static void report_case(void)
{
    if (cur_case != NULL)
        fprintf(stderr, "  while checking \"%s\" (%s, cut %zu)\n", cur_case, cur_mode, cur_cut);
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    CHECK(p != NULL);
    return p;
}

/* ---- how the bytes arrive ----------------------------------------------------
 * WHOLE: one call.  SPLIT: `cut` bytes, then the rest.  BYTES: one more byte
 * per call.  Every call gets a fresh buffer of exactly the bytes it may read
 * (the caller may move them), so an overread shows under ASan and valgrind. */
enum feed_mode { WHOLE, SPLIT, BYTES };

static size_t feed_next(enum feed_mode mode, size_t have, size_t cut, size_t n, int first)
{
    if (mode == WHOLE)
        return n;
    if (mode == SPLIT)
        return first ? cut : n;
    return first ? 0 : have + 1;
}

/*
 * Feeds in[] to a fresh request parser; every call before the last must say
 * RESP_AGAIN.  Returns the last call's result; *bufp is the buffer it got
 * (the request's arguments point into it), *have its length.
 */
static int req_feed(struct resp_request *r, const struct bytes *in, enum feed_mode mode, size_t cut,
                    const struct resp_limits *lim, char **bufp, size_t *have)
{
    char *buf = NULL;
    size_t n = feed_next(mode, 0, cut, in->n, 1);
    int rc;

    for (;;) {
        free(buf);
        buf = xmalloc(n);
        memcpy(buf, in->s, n);
        rc = resp_parse_request(r, buf, n, lim);
        if (rc != RESP_AGAIN || n == in->n)
            break;
        n = feed_next(mode, n, cut, in->n, 0);
    }
    *bufp = buf;
    *have = n;
    return rc;
}

/* ---- valid requests -------------------------------------------------------- */

#define MAX_ARGS 8
struct req_case {
    const char *name;
    struct bytes in;                 /* exactly one request */
    uint32_t argc;
    struct bytes argv[MAX_ARGS];
};

static const struct req_case req_ok[] = {
    {"multibulk PING", B("*1\r\n$4\r\nPING\r\n"), 1, {B("PING")}},
    {"multibulk SET", B("*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n"), 3,
     {B("SET"), B("key"), B("value")}},
    {"empty bulk", B("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n"), 3, {B("SET"), B("k"), B("")}},
    {"NUL and CRLF inside bulk data", B("*2\r\n$4\r\nECHO\r\n$7\r\n\0\r\n$1\r\n\r\n"), 2,
     {B("ECHO"), B("\0\r\n$1\r\n")}},
    {"every byte value kept", B("*1\r\n$6\r\n\xff\x80\x01*$\n\r\n"), 1, {B("\xff\x80\x01*$\n")}},
    {"ten-byte length", B("*1\r\n$10\r\n0123456789\r\n"), 1, {B("0123456789")}},
    {"*0 is an empty request", B("*0\r\n"), 0, {{0, 0}}},
    {"*-1 is an empty request", B("*-1\r\n"), 0, {{0, 0}}},
    {"*-5 is an empty request", B("*-5\r\n"), 0, {{0, 0}}},
    {"inline CRLF", B("PING\r\n"), 1, {B("PING")}},
    {"inline LF", B("PING\n"), 1, {B("PING")}},
    {"inline words", B("set key value\r\n"), 3, {B("set"), B("key"), B("value")}},
    {"inline blanks", B("\f\v set \t key   value  \r\n"), 3, {B("set"), B("key"), B("value")}},
    {"inline: \\f ends no word", B("a\fb c\n"), 2, {B("a\fb"), B("c")}},
    {"inline: \\v inside a word is part of it", B("a\vb\n"), 1, {B("a\vb")}},
    {"inline: CR inside the line separates", B("a\rb\n"), 2, {B("a"), B("b")}},
    {"inline: only the last CR is dropped", B("get k\r\r\n"), 2, {B("get"), B("k")}},
    {"inline empty line", B("\r\n"), 0, {{0, 0}}},
    {"inline empty LF", B("\n"), 0, {{0, 0}}},
    {"inline blank line", B("  \t \r\n"), 0, {{0, 0}}},
    {"double quotes", B("set \"a b\" c\r\n"), 3, {B("set"), B("a b"), B("c")}},
    {"single quotes", B("set 'a b' 'c'\n"), 3, {B("set"), B("a b"), B("c")}},
    {"double-quote escapes", B("echo \"\\x41\\x7a\\n\\r\\t\\b\\a\\\\\\\"\\q\"\n"), 2,
     {B("echo"), B("Az\n\r\t\b\a\\\"q")}},
    {"\\x without two hex digits", B("echo \"\\xZ1\" \"\\x4\"\n"), 3, {B("echo"), B("xZ1"), B("x4")}},
    {"\\x00 gives a NUL", B("echo \"a\\x00b\"\n"), 2, {B("echo"), B("a\0b")}},
    {"single quotes: only \\' escapes", B("echo 'it\\'s \\n'\n"), 2, {B("echo"), B("it's \\n")}},
    {"empty quoted arguments", B("echo \"\" ''\n"), 3, {B("echo"), B(""), B("")}},
    {"quote inside a word opens", B("a\"b c\" d\n"), 2, {B("ab c"), B("d")}},
    {"closing quote then tab", B("echo \"a\"\tb\n"), 3, {B("echo"), B("a"), B("b")}},
    {"closing quote at the end", B("echo 'a'\r\n"), 2, {B("echo"), B("a")}},
    {"backslash outside quotes is literal", B("echo a\\x b\\\n"), 3, {B("echo"), B("a\\x"), B("b\\")}},
    {"NUL ends an inline line (sdssplitargs)", B("echo a\0b c\n"), 2, {B("echo"), B("a")}},
    {"inline binary bytes", B("echo \x01\xff\n"), 2, {B("echo"), B("\x01\xff")}},
};

static void req_check_ok(const struct req_case *c, const struct resp_request *r, int rc,
                         const char *buf, size_t have)
{
    uint32_t i;

    CHECK_EQ(rc, RESP_OK);
    CHECK_EQ(have, c->in.n);
    CHECK_EQ(r->size, c->in.n);
    CHECK_EQ(r->inline_cmd, c->in.s[0] != '*');
    CHECK_EQ(r->argc, c->argc);
    for (i = 0; i < c->argc; i++) {
        CHECK_EQ(r->args[i].len, c->argv[i].n);
        CHECK((size_t)r->args[i].off + r->args[i].len <= r->size);
        CHECK(memcmp(buf + r->args[i].off, c->argv[i].s, c->argv[i].n) == 0);
    }
}

static void test_request_valid(void)
{
    size_t i, cut;
    struct resp_request r;
    char *buf;
    size_t have;
    int rc;

    memset(&r, 0, sizeof r);
    for (i = 0; i < sizeof req_ok / sizeof req_ok[0]; i++) {
        const struct req_case *c = &req_ok[i];

        cur_case = c->name;
        cur_mode = "whole";
        cur_cut = 0;
        rc = req_feed(&r, &c->in, WHOLE, 0, NULL, &buf, &have);
        req_check_ok(c, &r, rc, buf, have);
        /* a parsed request stays parsed until reset */
        CHECK_EQ(resp_parse_request(&r, buf, have, NULL), RESP_OK);
        free(buf);
        resp_request_reset(&r);

        cur_mode = "split in two";
        for (cut = 0; cut <= c->in.n; cut++) {
            cur_cut = cut;
            rc = req_feed(&r, &c->in, SPLIT, cut, NULL, &buf, &have);
            req_check_ok(c, &r, rc, buf, have);
            free(buf);
            resp_request_reset(&r);
        }

        cur_mode = "byte by byte";
        cur_cut = 0;
        rc = req_feed(&r, &c->in, BYTES, 0, NULL, &buf, &have);
        req_check_ok(c, &r, rc, buf, have);
        free(buf);
        resp_request_reset(&r);
    }
    cur_case = NULL;
    resp_request_free(&r);
}

/* ---- malformed requests ------------------------------------------------------ */

struct req_bad {
    const char *name;
    struct bytes in;
    struct resp_limits lim;          /* all zero: NULL, the defaults */
    const char *error;
};

#define NOLIM {0, 0, 0}
static const struct req_bad req_bad[] = {
    {"count not a number", B("*abc\r\n"), NOLIM, "invalid multibulk length"},
    {"count with '+'", B("*+1\r\n$1\r\na\r\n"), NOLIM, "invalid multibulk length"},
    {"count with a space", B("* 1\r\n$1\r\na\r\n"), NOLIM, "invalid multibulk length"},
    {"count empty", B("*\r\n"), NOLIM, "invalid multibulk length"},
    {"count with a leading zero", B("*01\r\n$1\r\na\r\n"), NOLIM, "invalid multibulk length"},
    {"count -0", B("*-0\r\n"), NOLIM, "invalid multibulk length"},
    {"count out of range", B("*3000000000\r\n"), NOLIM, "invalid multibulk length"},
    {"count past int64", B("*99999999999999999999\r\n"), NOLIM, "invalid multibulk length"},
    {"count line ends in LF only", B("*1\n$1\r\na\r\n"), NOLIM, "invalid multibulk length"},
    {"count CR without LF", B("*1\rx$1\r\na\r\n"), NOLIM, "invalid multibulk length"},
    {"count over max_multibulk", B("*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n"), {2, 0, 0},
     "invalid multibulk length"},
    {"no '$' (Redis's test)", B("*3\r\n$3\r\nSET\r\n$1\r\nx\r\nfooz\r\n"), NOLIM, "expected '$', got 'f'"},
    {"argument not a bulk", B("*1\r\nfoo\r\n"), NOLIM, "expected '$', got 'f'"},
    {"'$' missing, CR instead", B("*1\r\n\r\n"), NOLIM, "expected '$', got ' '"},
    {"bulk length negative", B("*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$-10\r\n"), NOLIM, "invalid bulk length"},
    {"bulk length -1", B("*1\r\n$-1\r\n"), NOLIM, "invalid bulk length"},
    {"bulk length not a number", B("*1\r\n$blabla\r\n"), NOLIM, "invalid bulk length"},
    {"bulk length with '+'", B("*1\r\n$+1\r\na\r\n"), NOLIM, "invalid bulk length"},
    {"bulk length with a space", B("*1\r\n$ 1\r\na\r\n"), NOLIM, "invalid bulk length"},
    {"bulk length trailing space", B("*1\r\n$1 \r\na\r\n"), NOLIM, "invalid bulk length"},
    {"bulk length empty", B("*1\r\n$\r\n\r\n"), NOLIM, "invalid bulk length"},
    {"bulk length CR without LF", B("*1\r\n$1\rxa\r\n"), NOLIM, "invalid bulk length"},
    {"bulk length over proto-max-bulk-len", B("*1\r\n$2000000000\r\n"), NOLIM, "invalid bulk length"},
    {"bulk length over max_bulk", B("*1\r\n$5\r\nhello\r\n"), {0, 4, 0}, "invalid bulk length"},
    {"bulk data too long", B("*1\r\n$3\r\nabcd\r\n"), NOLIM, "CRLF"},
    {"bulk data without CR", B("*1\r\n$3\r\nabc\n\r"), NOLIM, "CRLF"},
    {"bulk data CR without LF", B("*1\r\n$3\r\nabc\rx"), NOLIM, "CRLF"},
    {"unterminated double quote", B("set \"abc\n"), NOLIM, "unbalanced quotes in request"},
    {"unterminated single quote", B("set 'abc\r\n"), NOLIM, "unbalanced quotes in request"},
    {"Redis's unbalanced test", B("set \"\"\"test-key\"\"\" test-value\r\n"), NOLIM,
     "unbalanced quotes in request"},
    {"closing quote before a letter", B("set \"a\"b\n"), NOLIM, "unbalanced quotes in request"},
    {"closing single quote before a letter", B("set 'a'b\n"), NOLIM, "unbalanced quotes in request"},
    {"escaped closing quote", B("set \"a\\\"\n"), NOLIM, "unbalanced quotes in request"},
    {"NUL inside quotes", B("set \"a\0\"\n"), NOLIM, "unbalanced quotes in request"},
    {"inline over max_inline", B("123456789\n"), {0, 0, 8}, "too big inline request"},
    {"inline over max_inline, CRLF", B("12345678\r\n"), {0, 0, 8}, "too big inline request"},
};

static void test_request_malformed(void)
{
    size_t i, cut;
    struct resp_request r;
    char *buf;
    size_t have;
    int rc;

    memset(&r, 0, sizeof r);
    for (i = 0; i < sizeof req_bad / sizeof req_bad[0]; i++) {
        const struct req_bad *c = &req_bad[i];
        const struct resp_limits *lim = c->lim.max_multibulk || c->lim.max_bulk || c->lim.max_inline
                                            ? &c->lim : NULL;
        struct resp_limits full;
        enum feed_mode mode;

        /* a zero in a case's limits stands for the default */
        if (lim != NULL) {
            full.max_multibulk = c->lim.max_multibulk ? c->lim.max_multibulk : RESP_MAX_MULTIBULK_DEFAULT;
            full.max_bulk = c->lim.max_bulk ? c->lim.max_bulk : RESP_MAX_BULK_DEFAULT;
            full.max_inline = c->lim.max_inline ? c->lim.max_inline : RESP_MAX_INLINE_DEFAULT;
            lim = &full;
        }
        cur_case = c->name;
        for (mode = WHOLE; mode <= BYTES; mode++) {
            size_t cuts = mode == SPLIT ? c->in.n : 0;
            cur_mode = mode == WHOLE ? "whole" : mode == SPLIT ? "split in two" : "byte by byte";
            for (cut = 0; cut <= cuts; cut++) {
                cur_cut = cut;
                rc = req_feed(&r, &c->in, mode, cut, lim, &buf, &have);
                CHECK_EQ(rc, RESP_ERROR);
                CHECK(r.error != NULL);
                if (strstr(r.error, c->error) == NULL) {
                    fprintf(stderr, "error \"%s\", expected \"%s\"\n", r.error, c->error);
                    CHECK(!"the expected error");
                }
                /* the client is to be closed: the parser stays failed */
                CHECK_EQ(resp_parse_request(&r, buf, have, lim), RESP_ERROR);
                free(buf);
                resp_request_reset(&r);
            }
        }
    }
    cur_case = NULL;
    resp_request_free(&r);
}

/* The limits are inclusive: a request right at each of them parses. */
static void test_request_limits(void)
{
    static const struct req_case at_limit[] = {
        {"2 arguments, max_multibulk 2", B("*2\r\n$1\r\na\r\n$1\r\nb\r\n"), 2, {B("a"), B("b")}},
        {"4 bytes, max_bulk 4", B("*1\r\n$4\r\nabcd\r\n"), 1, {B("abcd")}},
        {"8-byte line, max_inline 8", B("12345678\n"), 1, {B("12345678")}},
        {"8-byte line with its CR, max_inline 8", B("1234567\r\n"), 1, {B("1234567")}},
    };
    const struct resp_limits lim = {2, 4, 8};
    struct resp_request r;
    char *buf;
    size_t have, i;
    int rc;

    memset(&r, 0, sizeof r);
    for (i = 0; i < sizeof at_limit / sizeof at_limit[0]; i++) {
        cur_case = at_limit[i].name;
        cur_mode = "byte by byte";
        rc = req_feed(&r, &at_limit[i].in, BYTES, 0, &lim, &buf, &have);
        req_check_ok(&at_limit[i], &r, rc, buf, have);
        free(buf);
        resp_request_reset(&r);
    }
    cur_case = NULL;
    resp_request_free(&r);
}

/*
 * Feeds buf[0..n) in `chunk`-byte steps, all in one buffer that grows by
 * realloc (it may move); returns the final result.
 */
static int req_feed_chunks(struct resp_request *r, const char *in, size_t n, size_t chunk,
                           const struct resp_limits *lim, char **bufp, size_t *have)
{
    char *buf = NULL;
    size_t got = 0, prev;
    int rc;

    do {
        prev = got;
        got = got + chunk < n ? got + chunk : n;
        buf = realloc(buf, got);
        CHECK(buf != NULL);
        memcpy(buf + prev, in + prev, got - prev);
        rc = resp_parse_request(r, buf, got, lim);
    } while (rc == RESP_AGAIN && got < n);
    *bufp = buf;
    *have = got;
    return rc;
}

/* Headers longer than Redis's 64 KiB without their CR: Redis's own errors. */
static void test_request_long_lines(void)
{
    size_t n = 70000, have;
    char *in = xmalloc(n + 2), *buf;
    struct resp_request r;
    size_t chunks[] = {70002, 16384, 1000};
    size_t k;

    memset(&r, 0, sizeof r);

    /* the limits exactly: 64 KiB without the line's end is waited on, one byte more is not */
    memset(in, '1', n);
    in[0] = '*';
    CHECK_EQ(resp_parse_request(&r, in, 65536, NULL), RESP_AGAIN);
    CHECK_EQ(resp_parse_request(&r, in, 65537, NULL), RESP_ERROR);
    CHECK(strcmp(r.error, "too big mbulk count string") == 0);
    resp_request_reset(&r);
    memcpy(in, "*1\r\n$", 5);
    CHECK_EQ(resp_parse_request(&r, in, 4 + 65536, NULL), RESP_AGAIN);
    CHECK_EQ(resp_parse_request(&r, in, 4 + 65537, NULL), RESP_ERROR);
    CHECK(strcmp(r.error, "too big bulk count string") == 0);
    resp_request_reset(&r);
    memset(in, 'a', n);
    CHECK_EQ(resp_parse_request(&r, in, 65536, NULL), RESP_AGAIN);
    CHECK_EQ(resp_parse_request(&r, in, 65537, NULL), RESP_ERROR);
    CHECK(strcmp(r.error, "too big inline request") == 0);
    resp_request_reset(&r);

    for (k = 0; k < sizeof chunks / sizeof chunks[0]; k++) {
        /* "*111...": no CR yet */
        memset(in, '1', n);
        in[0] = '*';
        CHECK_EQ(req_feed_chunks(&r, in, n, chunks[k], NULL, &buf, &have), RESP_ERROR);
        CHECK(strcmp(r.error, "too big mbulk count string") == 0);
        free(buf);
        resp_request_reset(&r);

        /* a 64 KiB line is still read (and found wrong) */
        in[65536] = '\r';
        in[65537] = '\n';
        CHECK_EQ(req_feed_chunks(&r, in, 65538, chunks[k], NULL, &buf, &have), RESP_ERROR);
        CHECK(strcmp(r.error, "invalid multibulk length") == 0);
        free(buf);
        resp_request_reset(&r);

        /* one byte more is too much, even with its CRLF there */
        memset(in, '1', n);
        in[0] = '*';
        in[65537] = '\r';
        in[65538] = '\n';
        CHECK_EQ(req_feed_chunks(&r, in, 65539, chunks[k], NULL, &buf, &have), RESP_ERROR);
        CHECK(strcmp(r.error, "too big mbulk count string") == 0);
        free(buf);
        resp_request_reset(&r);

        /* "*1\r\n$xxx...": no CR */
        memset(in, 'x', n);
        memcpy(in, "*1\r\n$", 5);
        CHECK_EQ(req_feed_chunks(&r, in, n, chunks[k], NULL, &buf, &have), RESP_ERROR);
        CHECK(strcmp(r.error, "too big bulk count string") == 0);
        free(buf);
        resp_request_reset(&r);

        /* an inline line over 64 KiB (the default max_inline) with no LF */
        memset(in, 'a', n);
        CHECK_EQ(req_feed_chunks(&r, in, n, chunks[k], NULL, &buf, &have), RESP_ERROR);
        CHECK(strcmp(r.error, "too big inline request") == 0);
        free(buf);
        resp_request_reset(&r);

        /* and one of 64 KiB exactly (its CR included) is a command */
        memset(in, 'a', n);
        memcpy(in, "SET k ", 6);
        in[65535] = '\r';
        in[65536] = '\n';
        CHECK_EQ(req_feed_chunks(&r, in, 65537, chunks[k], NULL, &buf, &have), RESP_OK);
        CHECK_EQ(r.argc, 3);
        CHECK_EQ(r.args[2].off, 6);
        CHECK_EQ(r.args[2].len, 65535 - 6);
        CHECK_EQ(r.size, 65537);
        free(buf);
        resp_request_reset(&r);

        /* one byte more is too much, even with its LF there */
        in[65535] = 'a';
        in[65536] = '\r';
        in[65537] = '\n';
        CHECK_EQ(req_feed_chunks(&r, in, 65538, chunks[k], NULL, &buf, &have), RESP_ERROR);
        CHECK(strcmp(r.error, "too big inline request") == 0);
        free(buf);
        resp_request_reset(&r);
    }
    resp_request_free(&r);
    free(in);
}

/* 10,000 arguments and a 4 MB one, arriving in 16 KiB pieces (and 1000-byte ones). */
static void test_request_big(void)
{
    const uint32_t nargs = 10000;
    const size_t big = 4u << 20;
    size_t cap = 32 + (size_t)nargs * 16, n = 0, have, i, k;
    int rc;
    size_t chunks[] = {16384, 1000};
    char *in = xmalloc(cap), *buf;
    struct resp_request r;

    memset(&r, 0, sizeof r);
    n += (size_t)sprintf(in + n, "*%u\r\n", nargs);
    for (i = 0; i < nargs; i++)
        n += (size_t)sprintf(in + n, "$5\r\nk%04zu\r\n", i);
    for (k = 0; k < 2; k++) {
        CHECK_EQ(req_feed_chunks(&r, in, n, chunks[k], NULL, &buf, &have), RESP_OK);
        CHECK_EQ(r.argc, nargs);
        CHECK_EQ(r.size, n);
        CHECK(r.cap >= nargs);
        for (i = 0; i < nargs; i++) {
            char want[8];
            sprintf(want, "k%04zu", i);
            CHECK_EQ(r.args[i].len, 5);
            CHECK(memcmp(buf + r.args[i].off, want, 5) == 0);
        }
        free(buf);
        resp_request_reset(&r);
    }
    /* one byte per call, in one buffer: what was parsed is not parsed again
       (rescanning from the request's start would be n^2/2, 6e9 steps here) */
    for (have = 1; (rc = resp_parse_request(&r, in, have, NULL)) == RESP_AGAIN; have++)
        CHECK(have < n);
    CHECK_EQ(rc, RESP_OK);
    CHECK_EQ(have, n);
    CHECK_EQ(r.argc, nargs);
    CHECK(memcmp(in + r.args[nargs - 1].off, "k9999", 5) == 0);
    resp_request_reset(&r);
    free(in);

    in = xmalloc(big + 64);
    n = (size_t)sprintf(in, "*2\r\n$3\r\nSET\r\n$%zu\r\n", big);
    for (i = 0; i < big; i++)
        in[n + i] = (char)(i * 7 + (i >> 12));
    n += big;
    memcpy(in + n, "\r\n", 2);
    n += 2;
    for (k = 0; k < 2; k++) {
        CHECK_EQ(req_feed_chunks(&r, in, n, chunks[k], NULL, &buf, &have), RESP_OK);
        CHECK_EQ(r.argc, 2);
        CHECK_EQ(r.args[1].len, big);
        CHECK(memcmp(buf + r.args[1].off, in + n - 2 - big, big) == 0);
        free(buf);
        resp_request_reset(&r);
    }
    /* a wrong byte where its CR should be is seen as soon as it arrives */
    in[n - 2] = 'x';
    CHECK_EQ(req_feed_chunks(&r, in, n - 1, 16384, NULL, &buf, &have), RESP_ERROR);
    CHECK(strstr(r.error, "CRLF") != NULL);
    free(buf);
    resp_request_free(&r);
    free(in);
}

/* Several requests in one buffer: the caller advances by r.size and resets. */
static void test_request_pipeline(void)
{
    static const char in[] =
        "*1\r\n$4\r\nPING\r\n"
        "PING\r\n"
        "\r\n"
        "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"
        "*0\r\n"
        "set a 'b c'\n"
        "*1\r\n$4\r\nQUIT\r\n";
    static const struct {
        uint32_t argc;
        const char *first, *last;
        int inline_cmd;
    } want[] = {
        {1, "PING", "PING", 0}, {1, "PING", "PING", 1}, {0, NULL, NULL, 1},
        {2, "GET", "k", 0},     {0, NULL, NULL, 0},     {3, "set", "b c", 1},
        {1, "QUIT", "QUIT", 0},
    };
    char *buf = xmalloc(sizeof in);
    size_t off = 0, i;
    struct resp_request r;
    struct resp_arg *args = NULL;

    memcpy(buf, in, sizeof in - 1);
    memset(&r, 0, sizeof r);
    for (i = 0; i < sizeof want / sizeof want[0]; i++) {
        CHECK_EQ(resp_parse_request(&r, buf + off, sizeof in - 1 - off, NULL), RESP_OK);
        CHECK_EQ(r.argc, want[i].argc);
        CHECK_EQ(r.inline_cmd, want[i].inline_cmd);
        if (r.argc > 0) {
            const struct resp_arg *a = &r.args[0], *z = &r.args[r.argc - 1];
            CHECK(a->len == strlen(want[i].first) && memcmp(buf + off + a->off, want[i].first, a->len) == 0);
            CHECK(z->len == strlen(want[i].last) && memcmp(buf + off + z->off, want[i].last, z->len) == 0);
            /* reset keeps the argv array */
            if (args != NULL)
                CHECK(r.args == args);
            args = r.args;
        }
        off += r.size;
        resp_request_reset(&r);
        CHECK_EQ(r.argc, 0);
    }
    CHECK_EQ(off, sizeof in - 1);
    CHECK_EQ(resp_parse_request(&r, buf + off, 0, NULL), RESP_AGAIN);
    resp_request_free(&r);
    CHECK(r.args == NULL);
    free(buf);
}

/* ---- replies ----------------------------------------------------------------- */

struct rep_case {
    const char *name;
    struct bytes in;                 /* exactly one reply */
    const char *error;               /* NULL: valid */
};

static const struct rep_case rep_cases[] = {
    {"status", B("+OK\r\n"), NULL},
    {"empty status", B("+\r\n"), NULL},
    {"error", B("-ERR unknown command 'foo'\r\n"), NULL},
    {"WRONGTYPE", B("-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"), NULL},
    {"integer 0", B(":0\r\n"), NULL},
    {"integer -1", B(":-1\r\n"), NULL},
    {"integer max", B(":9223372036854775807\r\n"), NULL},
    {"integer min", B(":-9223372036854775808\r\n"), NULL},
    {"bulk", B("$5\r\nhello\r\n"), NULL},
    {"empty bulk", B("$0\r\n\r\n"), NULL},
    {"null bulk", B("$-1\r\n"), NULL},
    {"bulk of CRLFs", B("$4\r\n\r\n\r\n\r\n"), NULL},
    {"bulk with NUL", B("$3\r\na\0b\r\n"), NULL},
    {"bulk ending in CR LF CR LF", B("$4\r\nab\r\n\r\n"), NULL},
    {"status holding a CR", B("+a\rb\r\n"), "CRLF"},
    {"empty array", B("*0\r\n"), NULL},
    {"null array", B("*-1\r\n"), NULL},
    {"array of bulks", B("*2\r\n$3\r\nfoo\r\n$-1\r\n"), NULL},
    {"array of every type",
     B("*7\r\n+OK\r\n-ERR x\r\n:42\r\n$1\r\nx\r\n$-1\r\n*0\r\n*-1\r\n"), NULL},
    {"nested arrays", B("*3\r\n:1\r\n*2\r\n+a\r\n-b\r\n$1\r\nx\r\n"), NULL},
    {"empty and null inner arrays", B("*2\r\n*-1\r\n*0\r\n"), NULL},
    {"arrays closing together", B("*1\r\n*1\r\n*1\r\n:7\r\n"), NULL},
    {"arrays closing, then more", B("*2\r\n*1\r\n*1\r\n:7\r\n:8\r\n"), NULL},
    {"EXEC-like", B("*2\r\n+OK\r\n*2\r\n$1\r\na\r\n$1\r\nb\r\n"), NULL},
    /* RESP3 (HELLO 3): every type Redis 7 sends */
    {"null", B("_\r\n"), NULL},
    {"booleans", B("*2\r\n#t\r\n#f\r\n"), NULL},
    {"doubles", B("*4\r\n,1.5\r\n,inf\r\n,-inf\r\n,nan\r\n"), NULL},
    {"big number", B("(3492890328409238509324850943850943825024385\r\n"), NULL},
    {"blob error", B("!21\r\nSYNTAX invalid syntax\r\n"), NULL},
    {"verbatim string", B("=15\r\ntxt:Some string\r\n"), NULL},
    {"map", B("%2\r\n+first\r\n:1\r\n+second\r\n:2\r\n"), NULL},
    {"empty map", B("%0\r\n"), NULL},
    {"set", B("~3\r\n$1\r\na\r\n$1\r\nb\r\n_\r\n"), NULL},
    {"push", B(">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n"), NULL},
    {"attribute, then its value", B("|1\r\n+ttl\r\n:3600\r\n*2\r\n:1\r\n:2\r\n"), NULL},
    {"attribute inside an array", B("*2\r\n|1\r\n+a\r\n:1\r\n$1\r\nx\r\n:2\r\n"), NULL},
    {"HELLO 3 reply", B("%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$5\r\n7.0.0\r\n"
                        "$5\r\nproto\r\n:3\r\n$2\r\nid\r\n:5\r\n$4\r\nmode\r\n$10\r\nstandalone\r\n"
                        "$4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n"), NULL},
    {"map of sets of maps", B("%1\r\n$1\r\nk\r\n~1\r\n%1\r\n:1\r\n#t\r\n"), NULL},

    {"unknown type", B("?x\r\n"), "unknown"},
    {"unknown type inside an array", B("*2\r\n:1\r\n?\r\n"), "unknown"},
    {"integer not a number", B(":abc\r\n"), "invalid integer"},
    {"integer with '+'", B(":+1\r\n"), "invalid integer"},
    {"integer with a space", B(": 1\r\n"), "invalid integer"},
    {"integer empty", B(":\r\n"), "invalid integer"},
    {"integer leading zero", B(":01\r\n"), "invalid integer"},
    {"integer -0", B(":-0\r\n"), "invalid integer"},
    {"integer over int64", B(":9223372036854775808\r\n"), "invalid integer"},
    {"integer under int64", B(":-9223372036854775809\r\n"), "invalid integer"},
    {"integer too long, no CR", B(":123456789012345678901234567890"), "invalid integer"},
    {"bulk length -2", B("$-2\r\n"), "invalid bulk length"},
    {"bulk length not a number", B("$abc\r\n"), "invalid bulk length"},
    {"array length -2", B("*-2\r\n"), "invalid multibulk length"},
    {"array length not a number", B("*x\r\n"), "invalid multibulk length"},
    {"bulk length too long, no CR", B("$123456789012345678901"), "invalid bulk length"},
    {"bulk data too long", B("$3\r\nabcd\r\n"), "CRLF"},
    {"bulk data LF LF", B("$3\r\nabc\n\n"), "CRLF"},
    {"bulk data CR CR", B("$3\r\nabc\r\r"), "CRLF"},
    {"status CR without LF", B("+OK\rX\r\n"), "CRLF"},
    {"header CR without LF", B("$1\r$x\r\n"), "CRLF"},
    {"null blob error", B("!-1\r\n"), "invalid bulk length"},
    {"null verbatim string", B("=-1\r\n"), "invalid bulk length"},
    {"map length -1", B("%-1\r\n"), "invalid multibulk length"},
    {"set length -1", B("~-1\r\n"), "invalid multibulk length"},
    {"map length not a number", B("%x\r\n"), "invalid multibulk length"},
    {"streamed string (never sent by Redis)", B("$?\r\n;4\r\nHell\r\n;0\r\n"), "invalid bulk length"},
    {"counts past any real reply", B("*4611686018427387904\r\n"), "invalid multibulk length"},
    {"map counts past any real reply", B("%2305843009213693952\r\n%2305843009213693952\r\n"),
     "invalid multibulk length"},
};

/*
 * Feeds in[] to a fresh reply parser as feed_next says; with `shift`, the
 * caller drops the consumed bytes (resp_reply_shift) after each call, and
 * the next call gets only the rest.  Returns the last result and, in
 * *consumed, where the reply ended counted from the input's start.
 */
static int rep_feed(struct resp_reply *r, const struct bytes *in, enum feed_mode mode, size_t cut,
                    int shift, uint64_t *consumed)
{
    size_t base = 0, upto = feed_next(mode, 0, cut, in->n, 1);
    int rc;

    for (;;) {
        size_t n = upto - base;
        char *buf = xmalloc(n);

        memcpy(buf, in->s + base, n);
        rc = resp_parse_reply(r, buf, n);
        free(buf);
        CHECK(r->pos <= n);
        if (rc != RESP_AGAIN || upto == in->n)
            break;
        if (shift) {
            base += r->pos;
            resp_reply_shift(r, r->pos);
            CHECK_EQ(r->pos, 0);
        }
        upto = feed_next(mode, upto, cut, in->n, 0);
    }
    *consumed = base + r->pos;
    return rc;
}

static void rep_check(const struct rep_case *c, const struct resp_reply *r, int rc, uint64_t consumed)
{
    if (c->error == NULL) {
        CHECK_EQ(rc, RESP_OK);
        CHECK_EQ(consumed, c->in.n);
        CHECK_EQ(r->expected, 0);
        return;
    }
    CHECK_EQ(rc, RESP_ERROR);
    CHECK(r->error != NULL);
    if (strstr(r->error, c->error) == NULL) {
        fprintf(stderr, "error \"%s\", expected \"%s\"\n", r->error, c->error);
        CHECK(!"the expected error");
    }
}

static void test_reply_cases(void)
{
    struct resp_reply r;
    uint64_t consumed;
    size_t i, cut;
    int shift, rc;

    resp_reply_reset(&r);
    for (i = 0; i < sizeof rep_cases / sizeof rep_cases[0]; i++) {
        const struct rep_case *c = &rep_cases[i];
        char *tail;

        cur_case = c->name;
        for (shift = 0; shift <= 1; shift++) {
            cur_mode = shift ? "whole" : "whole, no shift";
            cur_cut = 0;
            rc = rep_feed(&r, &c->in, WHOLE, 0, shift, &consumed);
            rep_check(c, &r, rc, consumed);
            resp_reply_reset(&r);

            cur_mode = shift ? "split in two, consumed bytes dropped" : "split in two";
            for (cut = 0; cut <= c->in.n; cut++) {
                cur_cut = cut;
                rc = rep_feed(&r, &c->in, SPLIT, cut, shift, &consumed);
                rep_check(c, &r, rc, consumed);
                resp_reply_reset(&r);
            }

            cur_mode = shift ? "byte by byte, consumed bytes dropped" : "byte by byte";
            cur_cut = 0;
            rc = rep_feed(&r, &c->in, BYTES, 0, shift, &consumed);
            rep_check(c, &r, rc, consumed);
            resp_reply_reset(&r);
        }

        /* resp_value_len: the value's length, whatever follows; -1 until whole */
        cur_mode = "resp_value_len";
        tail = xmalloc(c->in.n + 5);
        memcpy(tail, c->in.s, c->in.n);
        memcpy(tail + c->in.n, "+OK\r\n", 5);
        CHECK_EQ(resp_value_len(tail, c->in.n + 5), c->error ? -1 : (long)c->in.n);
        for (cut = 0; cut <= c->in.n; cut++) {
            cur_cut = cut;
            CHECK_EQ(resp_value_len(c->in.s, cut), c->error || cut < c->in.n ? -1 : (long)c->in.n);
        }
        free(tail);
    }
    cur_case = NULL;
}

/* Replies nest as deep as they go (a Lua script can return 100,000 levels):
 * the parser keeps a count, not a stack. */
static void test_reply_depth(void)
{
    enum { LEVELS = 100000 };
    char *in = xmalloc(LEVELS * 4 + 8);
    struct bytes b;
    struct resp_reply r;
    uint64_t consumed;
    size_t n = 0;
    int i;

    for (i = 0; i < LEVELS; i++)
        n += (size_t)sprintf(in + n, i % 3 == 0 ? "*1\r\n" : i % 3 == 1 ? "~1\r\n" : ">1\r\n");
    n += (size_t)sprintf(in + n, ":1\r\n");
    b.s = in;
    b.n = n;
    resp_reply_reset(&r);
    CHECK_EQ(rep_feed(&r, &b, WHOLE, 0, 1, &consumed), RESP_OK);
    CHECK_EQ(consumed, n);
    CHECK_EQ(r.expected, 0);
    resp_reply_reset(&r);
    CHECK_EQ(rep_feed(&r, &b, SPLIT, n / 2, 1, &consumed), RESP_OK);
    CHECK_EQ(consumed, n);
    resp_reply_reset(&r);
    CHECK_EQ(resp_value_len(in, n), (long)n);
    /* one value short: not complete */
    CHECK_EQ(resp_value_len(in, n - 4), -1);
    /* an empty array innermost ends it all the same */
    memcpy(in + n - 4, "*0\r\n", 4);
    CHECK_EQ(resp_value_len(in, n), (long)n);
    free(in);
}

/*
 * A 1 MB bulk streams through a window that keeps only what the parser has
 * not consumed: inside the payload pos follows the bytes as they come, so
 * the window never holds more than one chunk.
 */
static void test_reply_stream(void)
{
    const size_t big = 1u << 20, chunk = 16384;
    size_t n, total, sent = 0, held = 0, most = 0, i;
    char *in = xmalloc(big + 64), *win = xmalloc(chunk + 64);
    struct resp_reply r;
    int rc = RESP_AGAIN;

    n = (size_t)sprintf(in, "*3\r\n+OK\r\n$%zu\r\n", big);
    for (i = 0; i < big; i++)
        in[n + i] = (char)(i * 13 + 1);
    n += big;
    n += (size_t)sprintf(in + n, "\r\n:42\r\n");
    total = n;

    resp_reply_reset(&r);
    while (rc == RESP_AGAIN && sent < total) {
        size_t take = total - sent < chunk ? total - sent : chunk;
        CHECK(held + take <= chunk + 64);
        memcpy(win + held, in + sent, take);
        sent += take;
        held += take;
        most = held > most ? held : most;
        rc = resp_parse_reply(&r, win, held);
        CHECK(r.pos <= held);
        if (rc == RESP_AGAIN) {
            /* in the payload everything given is consumed */
            if (sent > 40 && sent < total - 8)
                CHECK_EQ(r.pos, held);
            memmove(win, win + r.pos, held - r.pos);
            held -= r.pos;
            resp_reply_shift(&r, r.pos);
        }
    }
    CHECK_EQ(rc, RESP_OK);
    CHECK_EQ(sent, total);
    CHECK_EQ(r.pos, held);
    CHECK(most <= chunk + 64);
    free(in);
    free(win);
}

/* Replies one after another in one buffer: the caller advances by pos and resets. */
static void test_reply_pipeline(void)
{
    static const char in[] = "+OK\r\n:1\r\n*2\r\n$1\r\na\r\n*-1\r\n$-1\r\n-ERR no\r\n";
    static const size_t ends[] = {5, 9, 25, 30, 39};
    struct resp_reply r;
    size_t off = 0, i;

    resp_reply_reset(&r);
    for (i = 0; i < sizeof ends / sizeof ends[0]; i++) {
        CHECK_EQ(resp_parse_reply(&r, in + off, sizeof in - 1 - off), RESP_OK);
        off += r.pos;
        CHECK_EQ(off, ends[i]);
        resp_reply_reset(&r);
    }
    CHECK_EQ(off, sizeof in - 1);
    CHECK_EQ(resp_parse_reply(&r, in + off, 0), RESP_AGAIN);
    CHECK_EQ(r.pos, 0);
}

static void test_value_len(void)
{
    static const char nested[] = "*2\r\n*1\r\n$3\r\nfoo\r\n:1\r\n+OK\r\n";

    CHECK_EQ(resp_value_len(nested, sizeof nested - 1), 21);
    CHECK_EQ(resp_value_len(nested, 21), 21);
    CHECK_EQ(resp_value_len(nested, 20), -1);
    CHECK_EQ(resp_value_len(nested + 4, sizeof nested - 5), 13);
    CHECK_EQ(resp_value_len("", 0), -1);
    CHECK_EQ(resp_value_len("*1\r\n*1\r\n", 8), -1);
    CHECK_EQ(resp_value_len("*1\r\n!\r\n", 7), -1);
}

/* ---- random damage: the result never depends on how the bytes arrive ------- */

/* Overwrites 1 to 3 bytes of in[0..n), mostly with the protocol's own characters. */
static void fuzz_damage(char *in, size_t n, uint64_t *seed)
{
    static const char alphabet[] = "*$:+-\r\n\r\n0123456789 \"'\\x\0";
    int k, times = 1 + (int)(unit_xorshift(seed) % 3);

    for (k = 0; k < times && n > 0; k++) {
        uint64_t x = unit_xorshift(seed);
        in[x % n] = (x >> 32) % 4 == 0 ? (char)(x >> 40) : alphabet[(x >> 40) % (sizeof alphabet - 1)];
    }
}

static void test_request_fuzz(void)
{
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    struct resp_request a, b;
    char in[256], *abuf, *bbuf;
    size_t ahave, bhave, i;
    int iter, arc, brc;

    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    cur_case = "damaged requests";
    for (iter = 0; iter < 3000; iter++) {
        const struct req_case *c = &req_ok[unit_xorshift(&seed) % (sizeof req_ok / sizeof req_ok[0])];
        struct bytes in_b = {in, c->in.n};
        enum feed_mode mode = unit_xorshift(&seed) % 2 ? BYTES : SPLIT;
        size_t cut = (size_t)(unit_xorshift(&seed) % (c->in.n + 1));

        memcpy(in, c->in.s, c->in.n);
        fuzz_damage(in, c->in.n, &seed);
        cur_mode = mode == BYTES ? "whole vs byte by byte" : "whole vs split";
        cur_cut = (size_t)iter;
        arc = req_feed(&a, &in_b, WHOLE, 0, NULL, &abuf, &ahave);
        brc = req_feed(&b, &in_b, mode, cut, NULL, &bbuf, &bhave);
        CHECK_EQ(arc, brc);
        if (arc == RESP_OK) {
            CHECK_EQ(a.size, b.size);
            CHECK_EQ(a.argc, b.argc);
            CHECK(a.size <= c->in.n);
            for (i = 0; i < a.argc; i++) {
                CHECK_EQ(a.args[i].off, b.args[i].off);
                CHECK_EQ(a.args[i].len, b.args[i].len);
                CHECK((size_t)a.args[i].off + a.args[i].len <= a.size);
                CHECK(memcmp(abuf + a.args[i].off, bbuf + b.args[i].off, a.args[i].len) == 0);
            }
        } else if (arc == RESP_ERROR) {
            CHECK(strcmp(a.error, b.error) == 0);
        }
        free(abuf);
        free(bbuf);
        resp_request_reset(&a);
        resp_request_reset(&b);
    }
    cur_case = NULL;
    resp_request_free(&a);
    resp_request_free(&b);
}

static void test_reply_fuzz(void)
{
    uint64_t seed = 0x2545f4914f6cdd1dull;
    struct resp_reply a, b;
    uint64_t aend, bend;
    char in[256];
    int iter, arc, brc;

    resp_reply_reset(&a);
    resp_reply_reset(&b);
    cur_case = "damaged replies";
    for (iter = 0; iter < 3000; iter++) {
        const struct rep_case *c = &rep_cases[unit_xorshift(&seed) % (sizeof rep_cases / sizeof rep_cases[0])];
        struct bytes in_b = {in, c->in.n};

        memcpy(in, c->in.s, c->in.n);
        fuzz_damage(in, c->in.n, &seed);
        cur_mode = "whole vs byte by byte, consumed bytes dropped";
        cur_cut = (size_t)iter;
        arc = rep_feed(&a, &in_b, WHOLE, 0, 0, &aend);
        brc = rep_feed(&b, &in_b, BYTES, 0, 1, &bend);
        CHECK_EQ(arc, brc);
        if (arc == RESP_OK) {
            CHECK_EQ(aend, bend);
            CHECK_EQ(resp_value_len(in, c->in.n), (long)aend);
        } else if (arc == RESP_ERROR) {
            CHECK(strcmp(a.error, b.error) == 0);
        }
        resp_reply_reset(&a);
        resp_reply_reset(&b);
    }
    cur_case = NULL;
}

/* ---- resp_header_int and the writers ------------------------------------------ */

static void test_header_int(void)
{
    static const struct {
        const char *in;
        int rc;
        int64_t v;
        size_t hdr;
    } cases[] = {
        {":42\r\n", 0, 42, 5},
        {":-5\r\nxyz", 0, -5, 5},
        {"*3\r\n$3\r\n", 0, 3, 4},
        {"$-1\r\n", 0, -1, 5},
        {"*-1\r\n", 0, -1, 5},
        {":-9223372036854775808\r\n", 0, INT64_MIN, 23},
        {"$-2\r\n", -1, 0, 0},
        {"*-2\r\n", -1, 0, 0},
        {"+OK\r\n", -1, 0, 0},
        {":12", -1, 0, 0},
        {":12\r", -1, 0, 0},
        {":1\rx", -1, 0, 0},
        {"$01\r\n", -1, 0, 0},
        {":+1\r\n", -1, 0, 0},
        {":\r\n", -1, 0, 0},
        {":1234567890123456789012345\r\n", -1, 0, 0},
        /* RESP3's aggregates and verbatim strings */
        {"%2\r\n", 0, 2, 4},
        {"~0\r\n", 0, 0, 4},
        {">3\r\n", 0, 3, 4},
        {"=15\r\ntxt:", 0, 15, 5},
        {"_\r\n\r\n", -1, 0, 0},
        {"#t\r\n", -1, 0, 0},
    };
    size_t i, hdr;
    int64_t v;

    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cur_case = cases[i].in;
        cur_mode = "resp_header_int";
        v = 12345;
        hdr = 999;
        CHECK_EQ(resp_header_int(cases[i].in, strlen(cases[i].in), &v, &hdr), cases[i].rc);
        if (cases[i].rc == 0) {
            CHECK_EQ(v, cases[i].v);
            CHECK_EQ(hdr, cases[i].hdr);
        }
    }
    cur_case = NULL;
}

/* A value by its name in a reply of pairs: HELLO's map, as Redis 7 sends it. */
static void test_bulk_field(void)
{
    static const char hello[] = "%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$6\r\n7.0.15\r\n"
                                "$5\r\nproto\r\n:3\r\n$2\r\nid\r\n:5\r\n$4\r\nmode\r\n$10\r\nstandalone\r\n"
                                "$4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n";
    char out[16];

    CHECK_EQ(resp_bulk_field(hello, sizeof hello - 1, "version", out, sizeof out), 0);
    CHECK(strcmp(out, "7.0.15") == 0);
    CHECK_EQ(resp_bulk_field(hello, sizeof hello - 1, "mode", out, sizeof out), 0);
    CHECK(strcmp(out, "standalone") == 0);
    CHECK_EQ(resp_bulk_field(hello, sizeof hello - 1, "proto", out, sizeof out), -1);   /* not a bulk */
    CHECK_EQ(resp_bulk_field(hello, sizeof hello - 1, "nosuch", out, sizeof out), -1);
    CHECK_EQ(resp_bulk_field(hello, sizeof hello - 1, "mode", out, 10), -1);             /* no room */
    CHECK_EQ(resp_bulk_field(hello, 48, "version", out, sizeof out), -1);               /* cut short */
}

static void test_writers(void)
{
    static const struct {
        char type;
        int64_t v;
        const char *want;
    } ints[] = {
        {':', 0, ":0\r\n"},
        {':', 42, ":42\r\n"},
        {':', -1, ":-1\r\n"},
        {'*', 3, "*3\r\n"},
        {'$', -1, "$-1\r\n"},
        {':', INT64_MAX, ":9223372036854775807\r\n"},
        {':', INT64_MIN, ":-9223372036854775808\r\n"},
    };
    static const struct bytes bulks[] = {B(""), B("a"), B("a\0b\r\n"), B("0123456789")};
    char out[64];
    size_t i, n;

    for (i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        memset(out, '#', sizeof out);
        n = resp_write_int(out, ints[i].type, ints[i].v);
        CHECK_EQ(n, strlen(ints[i].want));
        CHECK(n <= RESP_INT_MAX_LEN);
        CHECK(memcmp(out, ints[i].want, n) == 0);
        CHECK_EQ(out[n], '#');
    }
    for (i = 0; i < sizeof bulks / sizeof bulks[0]; i++) {
        int64_t len;
        size_t hdr;

        memset(out, '#', sizeof out);
        n = resp_write_bulk(out, bulks[i].s, bulks[i].n);
        CHECK_EQ(n, resp_write_bulk_len(bulks[i].n));
        CHECK_EQ(out[n], '#');
        CHECK_EQ(resp_value_len(out, n), (long)n);
        CHECK_EQ(resp_header_int(out, n, &len, &hdr), 0);
        CHECK_EQ(len, bulks[i].n);
        CHECK(memcmp(out + hdr, bulks[i].s, bulks[i].n) == 0);
    }
    CHECK_EQ(resp_write_bulk_len(0), 6);
    CHECK_EQ(resp_write_bulk_len(9), 15);
    CHECK_EQ(resp_write_bulk_len(10), 17);
    CHECK_EQ(resp_write_bulk_len(1u << 20), 1 + 7 + 2 + (1u << 20) + 2);
}

int main(void)
{
    atexit(report_case);
    RUN(test_request_valid);
    RUN(test_request_malformed);
    RUN(test_request_limits);
    RUN(test_request_long_lines);
    RUN(test_request_big);
    RUN(test_request_pipeline);
    RUN(test_reply_cases);
    RUN(test_reply_depth);
    RUN(test_reply_stream);
    RUN(test_reply_pipeline);
    RUN(test_request_fuzz);
    RUN(test_reply_fuzz);
    RUN(test_value_len);
    RUN(test_header_int);
    RUN(test_bulk_field);
    RUN(test_writers);
    return 0;
}
