/* SPDX-License-Identifier: Apache-2.0 */
/* resp.h — RESP2: a resumable parser for requests and replies, and reply writers. */
#ifndef COPROXY_RESP_H
#define COPROXY_RESP_H

#include <stddef.h>
#include <stdint.h>

/*
 * Both parsers are resumable state machines: call them with the bytes
 * received so far; RESP_AGAIN means "incomplete, call again once more bytes
 * are there" (a message may be split at any byte, inside "\r\n" or a
 * length's digits included), and the work already done is not redone.
 * Nothing is copied: a request's arguments are offsets into its bytes.
 */
enum { RESP_OK = 0, RESP_AGAIN = 1, RESP_ERROR = -1 };

/* Defaults as Redis's: proto-max-bulk-len, its multibulk limit, PROTO_INLINE_MAX_SIZE. */
#define RESP_MAX_MULTIBULK_DEFAULT (1024 * 1024)
#define RESP_MAX_BULK_DEFAULT (512LL * 1024 * 1024)
#define RESP_MAX_INLINE_DEFAULT (64 * 1024)

struct resp_limits {
    uint32_t max_multibulk;          /* most arguments in a request */
    uint64_t max_bulk;               /* longest argument */
    uint32_t max_inline;             /* longest inline command line */
};

/* An argument: bytes [off, off+len) counted from the start of its request. */
struct resp_arg {
    uint32_t off;
    uint32_t len;
};

struct resp_request {
    /* the result, valid after RESP_OK */
    struct resp_arg *args;           /* argv; grown as needed (resp_request_free frees) */
    uint32_t argc;
    uint32_t size;                   /* bytes the request takes, its "\r\n"s included */
    uint8_t inline_cmd;              /* it came as an inline command */
    /* parser state, private */
    uint32_t cap;
    uint32_t pos;
    uint32_t state;
    uint32_t want;                   /* arguments announced */
    uint64_t bulk;                   /* current argument's announced length */
    const char *error;
    uint32_t seen;                   /* bytes of the current line already searched for its end */
};

/*
 * Parses one request from buf[0..len), which starts where the request
 * starts (the same bytes as last time, maybe more of them: the caller may
 * move them, never change them, between calls).
 *   RESP_OK:    a whole request: r->args, r->argc, r->size.  An empty inline
 *               line (Redis skips those) gives argc 0 and its size.
 *   RESP_AGAIN: needs more bytes.
 *   RESP_ERROR: r->error says what, as Redis words it after "Protocol error: "
 *               (e.g. "invalid bulk length"); the client is to be closed.
 * Inline arguments may be unquoted in place ("a b" and 'a b' as Redis's
 * sdssplitargs reads them): buf is then modified inside the request.
 * lim NULL: the defaults.  A zeroed struct is ready to parse.
 */
int resp_parse_request(struct resp_request *r, char *buf, size_t len, const struct resp_limits *lim);

/* Forgets the request just parsed (keeps the argv array for the next one). */
void resp_request_reset(struct resp_request *r);
void resp_request_free(struct resp_request *r);

/* Reply types by their first byte (RESP2's, then RESP3's). */
enum resp_type {
    RESP_STATUS = '+', RESP_ERR = '-', RESP_INT = ':', RESP_BULK = '$', RESP_ARRAY = '*',
    RESP_NULL = '_', RESP_BOOL = '#', RESP_DOUBLE = ',', RESP_BIGNUM = '(', RESP_BLOB_ERR = '!',
    RESP_VERBATIM = '=', RESP_MAP = '%', RESP_SET = '~', RESP_ATTR = '|', RESP_PUSH = '>'
};

struct resp_reply {
    uint64_t pos;                    /* bytes consumed so far: the parser never looks back
                                        before pos, so the caller may drop them (resp_reply_shift) */
    uint32_t state;                  /* private */
    uint64_t expected;               /* values still owed, the one being read included: no
                                        stack, so nesting is as deep as the reply goes */
    uint64_t bulk;                   /* bulk bytes (with the "\r\n") still expected */
    const char *error;
    uint64_t seen;                   /* private: bytes after pos already searched for a line end */
};

/*
 * Parses one reply (of any RESP2 or RESP3 type, nested to any depth)
 * from buf[0..len), which starts at the reply's first byte minus whatever
 * the caller dropped with resp_reply_shift.
 *   RESP_OK:    complete; it ends at buf + r->pos.
 *   RESP_AGAIN: needs more bytes.
 *   RESP_ERROR: not RESP (r->error says how).
 */
int resp_parse_reply(struct resp_reply *r, const char *buf, size_t len);

/* The caller dropped the first n bytes (n <= r->pos) of what it passes. */
void resp_reply_shift(struct resp_reply *r, uint64_t n);

void resp_reply_reset(struct resp_reply *r);

/*
 * For a complete reply in buf[0..len): the length of the first value
 * (nested arrays included), or -1 if it is not a complete valid value.
 */
long resp_value_len(const char *buf, size_t len);

/* The integer of a ":<n>\r\n" header at buf, or the count or length of an
 * aggregate or string header ('*', '%', '~', '>', '$', '='): 0 and *out, or
 * -1 if malformed.  *hdr_len gets the header's length. */
int resp_header_int(const char *buf, size_t len, int64_t *out, size_t *hdr_len);

/* In a reply of name/value pairs (HELLO's map), the bulk value that follows
 * the bulk name `key`, into out[0..cap) NUL-terminated: 0, or -1 if absent
 * or too long. */
int resp_bulk_field(const char *reply, size_t n, const char *key, char *out, size_t cap);

/* Writers: append to a buffer the caller sized; each returns bytes written.
 * The upper bounds tell the caller how much room to make. */
#define RESP_INT_MAX_LEN 24          /* ":-9223372036854775808\r\n" */
size_t resp_write_int(char *out, char type, int64_t v);    /* ":<v>\r\n", "*<v>\r\n" or "$<v>\r\n" */
size_t resp_write_bulk_len(uint64_t len);                  /* size of "$<len>\r\n<bytes>\r\n" */
size_t resp_write_bulk(char *out, const char *s, size_t len);

#endif
