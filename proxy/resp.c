/* SPDX-License-Identifier: Apache-2.0 */
/* resp.c — RESP: resumable request and reply parsers (RESP2 and RESP3 replies; state kept in the struct), reply writers. */
#define _GNU_SOURCE   /* memmem */
#include "resp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A violated caller contract here would make the parser read outside its buffer. */
#define RESP_ASSERT(cond)                                                     \
    do {                                                                      \
        if (__builtin_expect(!(cond), 0)) {                                   \
            fprintf(stderr, "resp: assertion failed: %s (%s:%d)\n", #cond,    \
                    __FILE__, __LINE__);                                      \
            abort();                                                          \
        }                                                                     \
    } while (0)

/* Redis's PROTO_INLINE_MAX_SIZE, fixed there for "*<n>" and "$<n>" lines. */
#define RESP_HEADER_MAX (64 * 1024)
/* "-9223372036854775808": no valid number is longer. */
#define RESP_NUM_MAX 20
#define RESP_ARGS_INITIAL 8

static const struct resp_limits resp_default_limits = {
    RESP_MAX_MULTIBULK_DEFAULT, RESP_MAX_BULK_DEFAULT, RESP_MAX_INLINE_DEFAULT
};

/*
 * "expected '$', got '<c>'" for every byte, built at compile time so that the
 * error stays a constant string (no buffer in the struct, no thread-local).
 * CR and LF become spaces as in Redis's addReplyErrorFormat: the caller may
 * put the text in a reply line as it is.
 */
#define RESP_GOT(c)                                                           \
    { 'e', 'x', 'p', 'e', 'c', 't', 'e', 'd', ' ', '\'', '$', '\'', ',', ' ', \
      'g', 'o', 't', ' ', '\'',                                               \
      (c) == '\r' || (c) == '\n' ? ' ' : (char)(c), '\'', '\0' }
#define RESP_GOT4(n)  RESP_GOT(n), RESP_GOT(n + 1), RESP_GOT(n + 2), RESP_GOT(n + 3)
#define RESP_GOT16(n) RESP_GOT4(n), RESP_GOT4(n + 4), RESP_GOT4(n + 8), RESP_GOT4(n + 12)
#define RESP_GOT64(n) RESP_GOT16(n), RESP_GOT16(n + 16), RESP_GOT16(n + 32), RESP_GOT16(n + 48)
static const char resp_expected_dollar[256][22] = {
    RESP_GOT64(0), RESP_GOT64(64), RESP_GOT64(128), RESP_GOT64(192)
};

/*
 * s[0..n) as Redis's string2ll reads it: an optional '-', then digits with
 * no leading zero ("0" alone is fine, "-0" is not), no '+', no spaces, in
 * int64 range.  Returns 0 and *out, or -1.
 */
static int resp_parse_ll(const char *s, size_t n, int64_t *out)
{
    const char *p = s, *end = s + n;
    int neg = 0;
    uint64_t v;

    if (n == 0 || n > RESP_NUM_MAX)
        return -1;
    if (*p == '-') {
        neg = 1;
        if (++p == end)
            return -1;
    }
    if (*p == '0') {
        if (n != 1)
            return -1;
        *out = 0;
        return 0;
    }
    v = 0;
    for (; p < end; p++) {
        unsigned d = (unsigned)(unsigned char)*p - '0';
        if (d > 9 || v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    if (neg) {
        if (v > (uint64_t)INT64_MAX + 1)
            return -1;
        *out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
    } else {
        if (v > (uint64_t)INT64_MAX)
            return -1;
        *out = (int64_t)v;
    }
    return 0;
}

/*
 * The common case, a short plain length ("3\r\n" after the '$') all in the
 * buffer, read in one pass: 1 with *v and *cr (where its '\r' is), else 0
 * and the caller takes the general path (line search, resp_parse_ll), which
 * also words the errors.
 */
static inline int resp_quick_len(const char *buf, size_t at, size_t len, int64_t *v, size_t *cr)
{
    size_t q = at, end = len - at > 10 ? at + 10 : len;     /* 9 digits and the '\r' */
    int64_t n = 0;

    if (q >= end || buf[q] < '1' || buf[q] > '9')
        return 0;                       /* "0", "-1", no digit: the general path */
    for (; q < end && buf[q] >= '0' && buf[q] <= '9'; q++)
        n = n * 10 + (buf[q] - '0');
    if (q + 1 >= len || buf[q] != '\r' || buf[q + 1] != '\n')
        return 0;
    *v = n;
    *cr = q;
    return 1;
}

/* ---- requests ------------------------------------------------------------ */

enum {
    RQ_START = 0,  /* nothing looked at yet (a zeroed struct) */
    RQ_INLINE,     /* looking for the '\n' that ends the line at 0 */
    RQ_COUNT,      /* "*<n>\r\n" at 0 */
    RQ_LEN,        /* "$<n>\r\n" at pos */
    RQ_DATA,       /* r->bulk bytes and "\r\n" at pos */
    RQ_DONE,
    RQ_FAILED
};

static int req_fail(struct resp_request *r, const char *why)
{
    r->error = why;
    r->state = RQ_FAILED;
    return RESP_ERROR;
}

static int req_push(struct resp_request *r, uint32_t off, uint32_t len)
{
    if (r->argc == r->cap) {
        uint32_t cap = r->cap ? r->cap * 2 : RESP_ARGS_INITIAL;
        struct resp_arg *args = realloc(r->args, (size_t)cap * sizeof *args);
        if (args == NULL)
            return -1;
        r->args = args;
        r->cap = cap;
    }
    r->args[r->argc].off = off;
    r->args[r->argc].len = len;
    r->argc++;
    return 0;
}

/*
 * The '\r' of the header line that starts at r->pos, searching only bytes
 * not searched before (r->seen counts them).  RESP_OK with *cr when its
 * '\n' slot has arrived too; RESP_AGAIN; RESP_ERROR when the line is longer
 * than Redis allows (`too_big`).
 */
static int req_line(struct resp_request *r, const char *buf, uint32_t len, uint32_t *cr,
                    const char *too_big)
{
    uint32_t from = r->pos + r->seen;
    const char *p = memchr(buf + from, '\r', len - from);
    uint32_t at;

    if (p == NULL) {
        r->seen = len - r->pos;
        return r->seen > RESP_HEADER_MAX ? req_fail(r, too_big) : RESP_AGAIN;
    }
    at = (uint32_t)(p - buf);
    /* Redis decides on what it has buffered; the line's own length decides
       here, so that the answer does not depend on how the bytes arrived. */
    if (at - r->pos > RESP_HEADER_MAX)
        return req_fail(r, too_big);
    if (at + 1 >= len) {
        r->seen = at - r->pos;      /* the '\r' is searched again: cheap */
        return RESP_AGAIN;
    }
    r->seen = 0;
    *cr = at;
    return RESP_OK;
}

/* Whether c is a blank for sdssplitargs (isspace in the C locale). */
static inline int req_space(char c)
{
    return c == ' ' || (c >= '\t' && c <= '\r');
}

static inline int req_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static inline int req_hexval(char c)
{
    return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}

/*
 * Splits the line buf[0..end) into r->args as Redis's sdssplitargs does,
 * unquoting in place: each argument is rewritten from its first byte on,
 * never longer than its source, so it stays an offset into the request.
 * sdssplitargs reads a C string: a NUL ends the line there, as in Redis.
 */
static int req_split_inline(struct resp_request *r, char *buf, uint32_t end)
{
#define AT(i) ((i) < end ? buf[i] : '\0')
    uint32_t p = 0;

    for (;;) {
        uint32_t start, w;
        int inq = 0, insq = 0, done = 0;

        while (p < end && buf[p] != '\0' && req_space(buf[p]))
            p++;
        if (AT(p) == '\0')
            return RESP_OK;
        start = w = p;
        while (!done) {
            char c = AT(p);
            if (inq) {
                if (c == '\\' && AT(p + 1) == 'x' && req_hex(AT(p + 2)) && req_hex(AT(p + 3))) {
                    buf[w++] = (char)(req_hexval(buf[p + 2]) * 16 + req_hexval(buf[p + 3]));
                    p += 4;
                } else if (c == '\\' && AT(p + 1) != '\0') {
                    char e = buf[p + 1];
                    switch (e) {
                    case 'n': e = '\n'; break;
                    case 'r': e = '\r'; break;
                    case 't': e = '\t'; break;
                    case 'b': e = '\b'; break;
                    case 'a': e = '\a'; break;
                    default: break;
                    }
                    buf[w++] = e;
                    p += 2;
                } else if (c == '"') {
                    /* a closing quote must be followed by a blank or the end */
                    if (AT(p + 1) != '\0' && !req_space(buf[p + 1]))
                        return req_fail(r, "unbalanced quotes in request");
                    p++;
                    done = 1;
                } else if (c == '\0') {
                    return req_fail(r, "unbalanced quotes in request");
                } else {
                    buf[w++] = c;
                    p++;
                }
            } else if (insq) {
                if (c == '\\' && AT(p + 1) == '\'') {
                    buf[w++] = '\'';
                    p += 2;
                } else if (c == '\'') {
                    if (AT(p + 1) != '\0' && !req_space(buf[p + 1]))
                        return req_fail(r, "unbalanced quotes in request");
                    p++;
                    done = 1;
                } else if (c == '\0') {
                    return req_fail(r, "unbalanced quotes in request");
                } else {
                    buf[w++] = c;
                    p++;
                }
            } else {
                switch (c) {
                case ' ': case '\n': case '\r': case '\t':
                    p++;
                    done = 1;
                    break;
                case '\0':
                    done = 1;
                    break;
                case '"':
                    inq = 1;
                    p++;
                    break;
                case '\'':
                    insq = 1;
                    p++;
                    break;
                default:
                    buf[w++] = c;
                    p++;
                    break;
                }
            }
        }
        if (req_push(r, start, w - start) != 0)
            return req_fail(r, "out of memory");
    }
#undef AT
}

static int req_inline(struct resp_request *r, char *buf, uint32_t len, const struct resp_limits *lim)
{
    const char *nl = memchr(buf + r->seen, '\n', len - r->seen);
    uint32_t end;

    if (nl == NULL) {
        r->seen = len;
        return len > lim->max_inline ? req_fail(r, "too big inline request") : RESP_AGAIN;
    }
    end = (uint32_t)(nl - buf);
    /* the line's length decides, not how much of it had arrived (as in req_line) */
    if (end > lim->max_inline)
        return req_fail(r, "too big inline request");
    r->size = end + 1;
    if (end > 0 && buf[end - 1] == '\r')
        end--;
    if (req_split_inline(r, buf, end) != RESP_OK)
        return RESP_ERROR;
    r->pos = r->size;
    r->seen = 0;
    r->state = RQ_DONE;
    return RESP_OK;
}

static int req_multibulk(struct resp_request *r, const char *buf, uint32_t len,
                         const struct resp_limits *lim)
{
    uint32_t pos, cr;
    size_t q;
    int64_t v;
    int rc;

    if (r->state == RQ_COUNT) {
        if (resp_quick_len(buf, 1, len, &v, &q)) {
            cr = (uint32_t)q;
            r->seen = 0;
        } else {
            if ((rc = req_line(r, buf, len, &cr, "too big mbulk count string")) != RESP_OK)
                return rc;
            if (buf[cr + 1] != '\n' || resp_parse_ll(buf + 1, cr - 1, &v) != 0)
                return req_fail(r, "invalid multibulk length");
        }
        if (v > (int64_t)lim->max_multibulk)
            return req_fail(r, "invalid multibulk length");
        r->pos = cr + 2;
        if (v <= 0) {               /* Redis: an empty request */
            r->size = r->pos;
            r->state = RQ_DONE;
            return RESP_OK;
        }
        r->want = (uint32_t)v;
        r->state = RQ_LEN;
    }

    pos = r->pos;
    for (;;) {
        uint64_t stop;

        if (r->state == RQ_LEN) {
            if (pos >= len)
                break;
            /* Redis waits for the line before looking; the first byte is enough */
            if (buf[pos] != '$')
                return req_fail(r, resp_expected_dollar[(unsigned char)buf[pos]]);
            if (resp_quick_len(buf, pos + 1, len, &v, &q)) {
                cr = (uint32_t)q;
                r->seen = 0;
            } else {
                r->pos = pos;
                if ((rc = req_line(r, buf, len, &cr, "too big bulk count string")) != RESP_OK)
                    return rc;
                if (buf[cr + 1] != '\n' || resp_parse_ll(buf + pos + 1, cr - pos - 1, &v) != 0)
                    return req_fail(r, "invalid bulk length");
            }
            if (v < 0 || (uint64_t)v > lim->max_bulk)
                return req_fail(r, "invalid bulk length");
            /* offsets and sizes are 32-bit */
            if ((uint64_t)cr + 2 + (uint64_t)v + 2 > UINT32_MAX)
                return req_fail(r, "too big request");
            pos = cr + 2;
            r->bulk = (uint64_t)v;
            r->state = RQ_DATA;
        }
        /* RQ_DATA: the bytes are taken on trust, their CRLF is checked */
        stop = pos + r->bulk;
        if (stop + 2 > len) {
            if (stop < len && buf[stop] != '\r')
                return req_fail(r, "expected CRLF after bulk data");
            break;
        }
        if (buf[stop] != '\r' || buf[stop + 1] != '\n')
            return req_fail(r, "expected CRLF after bulk data");
        if (req_push(r, pos, (uint32_t)r->bulk) != 0)
            return req_fail(r, "out of memory");
        pos = (uint32_t)stop + 2;
        if (r->argc == r->want) {
            r->pos = r->size = pos;
            r->state = RQ_DONE;
            return RESP_OK;
        }
        r->state = RQ_LEN;
    }
    r->pos = pos;
    return RESP_AGAIN;
}

int resp_parse_request(struct resp_request *r, char *buf, size_t len, const struct resp_limits *lim)
{
    /* a request is at most 4 GiB (32-bit offsets): bytes past that are not its */
    uint32_t n = len > UINT32_MAX ? UINT32_MAX : (uint32_t)len;

    if (lim == NULL)
        lim = &resp_default_limits;
    switch (r->state) {
    case RQ_START:
        if (n == 0)
            return RESP_AGAIN;
        r->inline_cmd = buf[0] != '*';
        r->state = r->inline_cmd ? RQ_INLINE : RQ_COUNT;
        return r->inline_cmd ? req_inline(r, buf, n, lim) : req_multibulk(r, buf, n, lim);
    case RQ_INLINE:
        return req_inline(r, buf, n, lim);
    case RQ_COUNT:
    case RQ_LEN:
    case RQ_DATA:
        return req_multibulk(r, buf, n, lim);
    case RQ_DONE:
        return RESP_OK;
    default:
        return RESP_ERROR;
    }
}

void resp_request_reset(struct resp_request *r)
{
    struct resp_arg *args = r->args;
    uint32_t cap = r->cap;

    memset(r, 0, sizeof *r);
    r->args = args;
    r->cap = cap;
}

void resp_request_free(struct resp_request *r)
{
    free(r->args);
    memset(r, 0, sizeof *r);
}

/* ---- replies ------------------------------------------------------------- */

enum {
    RP_VALUE = 0,  /* a value's first line starts at pos */
    RP_BULK,       /* inside a bulk: r->bulk bytes, its "\r\n" included, to come */
    RP_DONE,
    RP_FAILED
};

static int rep_fail(struct resp_reply *r, const char *why)
{
    r->error = why;
    r->state = RP_FAILED;
    return RESP_ERROR;
}

/* RESP3's types, with RESP2's: how the first line of each reads (one load
 * per value on the reply path). */
enum { T_NONE, T_LINE, T_INT, T_STRING, T_AGGREGATE };
static const uint8_t reply_kind[256] = {
    ['+'] = T_LINE, ['-'] = T_LINE, [','] = T_LINE, ['('] = T_LINE, ['#'] = T_LINE, ['_'] = T_LINE,
    [':'] = T_INT, ['$'] = T_STRING, ['!'] = T_STRING, ['='] = T_STRING,
    ['*'] = T_AGGREGATE, ['~'] = T_AGGREGATE, ['>'] = T_AGGREGATE, ['%'] = T_AGGREGATE, ['|'] = T_AGGREGATE,
};

/* Values a reply may still owe: past this, the counts are not a real reply. */
#define RP_EXPECTED_MAX ((uint64_t)1 << 62)

int resp_parse_reply(struct resp_reply *r, const char *buf, size_t len)
{
    uint64_t pos = r->pos;

    /* most replies are one whole "$<n>\r\n<n bytes>\r\n" or "+<line>\r\n",
     * in the buffer already: taken at once */
    if (r->state == RP_VALUE && r->expected == 1 && r->seen == 0 && pos < len) {
        int64_t v;
        size_t cr;
        if (buf[pos] == '$' && resp_quick_len(buf, pos + 1, len, &v, &cr) && (uint64_t)v + 4 <= len - cr
            && buf[cr + 2 + (size_t)v] == '\r' && buf[cr + 3 + (size_t)v] == '\n') {
            r->pos = cr + 4 + (size_t)v;
            r->expected = 0;
            r->state = RP_DONE;
            return RESP_OK;
        }
        if (buf[pos] == '+') {
            const char *p = memchr(buf + pos + 1, '\r', len - pos - 1);
            if (p != NULL && (size_t)(p - buf) + 1 < len && p[1] == '\n') {
                r->pos = (size_t)(p - buf) + 2;
                r->expected = 0;
                r->state = RP_DONE;
                return RESP_OK;
            }
        }
    }
    for (;;) {
        if (r->state == RP_VALUE) {
            const char *p, *why;
            size_t cr;
            int64_t v = 0;
            char type;
            int kind, line;

            if (pos >= len)
                break;
            type = buf[pos];
            kind = reply_kind[(uint8_t)type];
            line = kind == T_LINE;
            if (kind == T_NONE)
                return rep_fail(r, "unknown reply type");
            why = kind == T_INT ? "invalid integer" : kind == T_STRING ? "invalid bulk length"
                                                    : "invalid multibulk length";
            if (!line && resp_quick_len(buf, pos + 1, len, &v, &cr)) {
                r->seen = 0;
            } else {
                p = memchr(buf + pos + 1 + r->seen, '\r', len - pos - 1 - r->seen);
                if (p == NULL) {
                    r->seen = len - pos - 1;
                    /* no number is that long: fail now rather than wait for the line */
                    if (r->seen > RESP_NUM_MAX && !line)
                        return rep_fail(r, why);
                    break;
                }
                cr = (size_t)(p - buf);
                /* as above, however the bytes came */
                if (cr - pos - 1 > RESP_NUM_MAX && !line)
                    return rep_fail(r, why);
                if (cr + 1 >= len) {
                    r->seen = cr - pos - 1;
                    break;
                }
                if (buf[cr + 1] != '\n')
                    return rep_fail(r, "expected CRLF");
                r->seen = 0;
                if (!line && resp_parse_ll(buf + pos + 1, cr - pos - 1, &v) != 0)
                    return rep_fail(r, why);
            }
            pos = cr + 2;
            if (kind == T_STRING) {
                if (v < -1 || (v == -1 && type != '$'))
                    return rep_fail(r, why);
                if (v >= 0) {
                    r->bulk = (uint64_t)v + 2;
                    r->state = RP_BULK;
                    continue;
                }
            } else if (kind == T_AGGREGATE) {
                /* a map or an attribute counts key and value; an attribute
                 * comes before the value it describes, which is still owed */
                uint64_t n = type == '%' || type == '|' ? 2 * (uint64_t)v : (uint64_t)v;
                if (v < -1 || (v == -1 && type != '*') || v > (int64_t)RP_EXPECTED_MAX
                    || r->expected + n > RP_EXPECTED_MAX)
                    return rep_fail(r, why);
                if (type == '|') {
                    r->expected += n;
                    continue;
                }
                if (v > 0) {
                    r->expected += n - 1;   /* its elements, in its place */
                    continue;
                }
            }
        } else if (r->state == RP_BULK) {
            uint64_t avail = len > pos ? len - pos : 0;

            /* the payload is skipped, not looked at; pos follows it */
            if (r->bulk > 2) {
                uint64_t take = avail < r->bulk - 2 ? avail : r->bulk - 2;
                pos += take;
                r->bulk -= take;
                avail -= take;
            }
            for (; r->bulk > 0 && avail > 0; r->bulk--, avail--, pos++)
                if (buf[pos] != (r->bulk == 2 ? '\r' : '\n'))
                    return rep_fail(r, "expected CRLF after bulk data");
            if (r->bulk > 0)
                break;
            r->state = RP_VALUE;
        } else if (r->state == RP_DONE) {
            return RESP_OK;
        } else {
            return RESP_ERROR;
        }

        /* a value ended: the reply with it, once nothing more is owed */
        if (--r->expected == 0) {
            r->pos = pos;
            r->state = RP_DONE;
            return RESP_OK;
        }
    }
    r->pos = pos;
    return RESP_AGAIN;
}

void resp_reply_shift(struct resp_reply *r, uint64_t n)
{
    RESP_ASSERT(n <= r->pos);
    r->pos -= n;
}

void resp_reply_reset(struct resp_reply *r)
{
    r->pos = 0;
    r->state = RP_VALUE;
    r->expected = 1;
    r->bulk = 0;
    r->error = NULL;
    r->seen = 0;
}

long resp_value_len(const char *buf, size_t len)
{
    struct resp_reply r;

    resp_reply_reset(&r);
    return resp_parse_reply(&r, buf, len) == RESP_OK ? (long)r.pos : -1;
}

int resp_header_int(const char *buf, size_t len, int64_t *out, size_t *hdr_len)
{
    const char *cr;
    int64_t v;

    if (len < 4 || strchr(":*$=%~>", buf[0]) == NULL || buf[0] == '\0')
        return -1;
    /* the '\r' of a valid header is within its first RESP_NUM_MAX + 2 bytes */
    cr = memchr(buf + 1, '\r', len - 1 < RESP_NUM_MAX + 1 ? len - 1 : RESP_NUM_MAX + 1);
    if (cr == NULL || cr + 1 >= buf + len || cr[1] != '\n')
        return -1;
    if (resp_parse_ll(buf + 1, (size_t)(cr - buf - 1), &v) != 0 || (buf[0] != ':' && v < -1))
        return -1;
    if (out != NULL)
        *out = v;
    if (hdr_len != NULL)
        *hdr_len = (size_t)(cr - buf) + 2;
    return 0;
}

int resp_bulk_field(const char *reply, size_t n, const char *key, char *out, size_t cap)
{
    char pat[80];
    int plen = snprintf(pat, sizeof pat, "$%zu\r\n%s\r\n$", strlen(key), key);
    const char *at = plen > 0 && (size_t)plen < sizeof pat ? memmem(reply, n, pat, (size_t)plen) : NULL;
    int64_t len;
    size_t hl;

    if (at == NULL)
        return -1;
    at += plen - 1;   /* at the value's "$" */
    if (resp_header_int(at, n - (size_t)(at - reply), &len, &hl) != 0 || len < 0 || (uint64_t)len >= cap
        || (size_t)(at - reply) + hl + (size_t)len > n)
        return -1;
    memcpy(out, at + hl, (size_t)len);
    out[len] = '\0';
    return 0;
}

/* ---- writers ------------------------------------------------------------- */

/* The decimal digits of v at out; returns how many. */
static size_t resp_write_u64(char *out, uint64_t v)
{
    char tmp[20];
    size_t n = 0, i;

    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    for (i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    return n;
}

size_t resp_write_int(char *out, char type, int64_t v)
{
    size_t n = 0;

    out[n++] = type;
    if (v < 0) {
        out[n++] = '-';
        n += resp_write_u64(out + n, -(uint64_t)v);   /* INT64_MIN included */
    } else {
        n += resp_write_u64(out + n, (uint64_t)v);
    }
    out[n++] = '\r';
    out[n++] = '\n';
    return n;
}

size_t resp_write_bulk_len(uint64_t len)
{
    size_t digits = 1;
    uint64_t v;

    for (v = len; v >= 10; v /= 10)
        digits++;
    return 1 + digits + 2 + len + 2;
}

size_t resp_write_bulk(char *out, const char *s, size_t len)
{
    size_t n = 0;

    out[n++] = '$';
    n += resp_write_u64(out + n, len);
    out[n++] = '\r';
    out[n++] = '\n';
    if (len > 0)
        memcpy(out + n, s, len);
    n += len;
    out[n++] = '\r';
    out[n++] = '\n';
    return n;
}
