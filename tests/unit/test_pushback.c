/* SPDX-License-Identifier: Apache-2.0 */
/* test_pushback.c — the request that gives back what a blocking pop took: one row per reply shape. */
#include <errno.h>

#include "rbuf.h"
#include "redis_pushback.h"
#include "unit.h"

struct row {
    enum pop_kind kind;
    const char *reply;
    int rc;
    const char *request;   /* when rc == 1 */
};

static const struct row rows[] = {
    /* BLPOP / BRPOP: [key, element] */
    { POP_LIST_LEFT, "*2\r\n$1\r\nq\r\n$3\r\njob\r\n", 1, "*3\r\n$5\r\nLPUSH\r\n$1\r\nq\r\n$3\r\njob\r\n" },
    { POP_LIST_RIGHT, "*2\r\n$1\r\nq\r\n$0\r\n\r\n", 1, "*3\r\n$5\r\nRPUSH\r\n$1\r\nq\r\n$0\r\n\r\n" },
    /* BLMPOP: [key, [e1, e2]]: e2 goes back first, so e1 ends where it was */
    { POP_LIST_LEFT, "*2\r\n$1\r\nq\r\n*2\r\n$1\r\na\r\n$1\r\nb\r\n", 1,
      "*4\r\n$5\r\nLPUSH\r\n$1\r\nq\r\n$1\r\nb\r\n$1\r\na\r\n" },
    { POP_LIST_RIGHT, "*2\r\n$1\r\nq\r\n*2\r\n$1\r\nz\r\n$1\r\ny\r\n", 1,
      "*4\r\n$5\r\nRPUSH\r\n$1\r\nq\r\n$1\r\ny\r\n$1\r\nz\r\n" },
    /* BZPOPMIN: [key, member, score]; BZMPOP: [key, [[member, score], ...]] */
    { POP_ZSET, "*3\r\n$1\r\nz\r\n$1\r\nm\r\n$3\r\n1.5\r\n", 1, "*4\r\n$4\r\nZADD\r\n$1\r\nz\r\n$3\r\n1.5\r\n$1\r\nm\r\n" },
    { POP_ZSET, "*2\r\n$1\r\nz\r\n*2\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n*2\r\n$1\r\nb\r\n$1\r\n2\r\n", 1,
      "*6\r\n$4\r\nZADD\r\n$1\r\nz\r\n$1\r\n2\r\n$1\r\nb\r\n$1\r\n1\r\n$1\r\na\r\n" },
    /* nothing was taken: timed out (nil), or refused */
    { POP_LIST_LEFT, "*-1\r\n", 0, NULL },
    { POP_LIST_LEFT, "$-1\r\n", 0, NULL },
    { POP_ZSET, "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n", 0, NULL },
    /* kinds whose elements are not lost */
    { POP_MOVED, "$3\r\njob\r\n", 0, NULL },
    { POP_GROUP, "*1\r\n*2\r\n$1\r\ns\r\n*0\r\n", 0, NULL },
    { POP_NONE, "*2\r\n$1\r\nq\r\n$1\r\na\r\n", 0, NULL },
    /* not the shape a pop answers with */
    { POP_LIST_LEFT, "*3\r\n$1\r\nq\r\n$1\r\na\r\n$1\r\nb\r\n", -EINVAL, NULL },
    { POP_LIST_LEFT, "*2\r\n:1\r\n$1\r\na\r\n", -EINVAL, NULL },
    { POP_LIST_LEFT, "*2\r\n$1\r\nq\r\n$9\r\nshort\r\n", -EINVAL, NULL },
    { POP_LIST_LEFT, "$3\r\njob\r\n", -EINVAL, NULL },            /* a part of a reply: not "nothing taken" */
    { POP_LIST_LEFT, "\r\n$3\r\njob\r\n", -EINVAL, NULL },
    { POP_ZSET, "*2\r\n$1\r\nz\r\n*1\r\n$1\r\na\r\n", -EINVAL, NULL },
};

static void test_rows(void)
{
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        const struct row *t = &rows[i];
        struct rbuf out = { 0 };
        const char *key = NULL;
        size_t keylen = 0;
        int rc;

        rbuf_append(&out, "x", 1);   /* what was there before stays */
        rc = pushback_request(t->kind, t->reply, strlen(t->reply), &out, &key, &keylen);
        if (rc != t->rc)
            fprintf(stderr, "row %zu: rc %d, want %d\n", i, rc, t->rc);
        CHECK_EQ(rc, t->rc);
        if (rc == 1) {
            CHECK_EQ(out.len, 1 + strlen(t->request));
            CHECK(memcmp(out.data + 1, t->request, out.len - 1) == 0);
            CHECK(key != NULL && keylen >= 1);
        } else {
            CHECK_EQ(out.len, 1);
        }
        rbuf_free(&out);
    }
}

/* Splits line at spaces into r's arguments (args: room for 8). */
static void split_args(const char *line, struct resp_request *r, struct resp_arg *args)
{
    uint32_t start = 0, len = (uint32_t)strlen(line);

    r->args = args;
    r->argc = 0;
    for (uint32_t i = 0; i <= len; i++)
        if (line[i] == ' ' || line[i] == '\0') {
            CHECK(r->argc < 8);
            args[r->argc++] = (struct resp_arg){ .off = start, .len = i - start };
            start = i + 1;
        }
}

static void test_kinds(void)
{
    static const char req[] = "BLMPOP 0 2 a b RIGHT COUNT 2";
    static const char req2[] = "BLMPOP 0 2 left right LEFT";
    struct resp_arg args[8], args2[8];
    struct resp_request r, r2;

    split_args(req, &r, args);
    CHECK_EQ(pushback_kind("BLMPOP", req, &r), POP_LIST_RIGHT);
    split_args(req2, &r2, args2);   /* a key named "right" is a key, not the direction */
    CHECK_EQ(pushback_kind("BLMPOP", req2, &r2), POP_LIST_LEFT);
    r.argc = 5;   /* BLMPOP 0 2 a b (LEFT is the default reading) */
    CHECK_EQ(pushback_kind("BLMPOP", req, &r), POP_LIST_LEFT);
    CHECK_EQ(pushback_kind("BLPOP", req, &r), POP_LIST_LEFT);
    CHECK_EQ(pushback_kind("BRPOP", req, &r), POP_LIST_RIGHT);
    CHECK_EQ(pushback_kind("BZPOPMAX", req, &r), POP_ZSET);
    CHECK_EQ(pushback_kind("BZMPOP", req, &r), POP_ZSET);
    CHECK_EQ(pushback_kind("BLMOVE", req, &r), POP_MOVED);
    CHECK_EQ(pushback_kind("XREADGROUP", req, &r), POP_GROUP);
    CHECK_EQ(pushback_kind("XREAD", req, &r), POP_NONE);
}

int main(void)
{
    test_rows();
    test_kinds();
    printf("test_pushback: ok\n");
    return 0;
}
