/* SPDX-License-Identifier: Apache-2.0 */
/* test_acl.c — users' rules (acl_rules.c), glob and patterns (acl_match.c), and a request's check (redis_acl_check.c). */
#include "unit.h"

#include "acl.h"
#include "redis_acl_check.h"

static struct acl *users(const char *const *lines)
{
    struct acl *a = calloc(1, sizeof *a);
    char err[512];

    CHECK(a != NULL);
    for (; *lines; lines++) {
        if (acl_add_line(a, *lines, err, sizeof err) != 0) {
            fprintf(stderr, "%s: %s\n", *lines, err);
            CHECK(0);
        }
    }
    CHECK(acl_finish(a, "") == 0);
    return a;
}

static void test_glob(void)
{
    static const struct { const char *pat, *s; int want; } cases[] = {
        { "*", "", 1 }, { "*", "anything", 1 }, { "a*b", "ab", 1 }, { "a*b", "axxb", 1 }, { "a*b", "abc", 0 },
        { "a?c", "abc", 1 }, { "a?c", "ac", 0 }, { "[abc]x", "bx", 1 }, { "[abc]x", "dx", 0 },
        { "[^a]x", "ax", 0 }, { "[^a]x", "bx", 1 }, { "[a-c]*", "cz", 1 }, { "[z-a]q", "bq", 1 },
        { "\\*x", "*x", 1 }, { "\\*x", "ax", 0 }, { "*a*b*c*", "aabbcc", 1 }, { "*a*b*c*", "cba", 0 },
        { "h[ae]llo", "hallo", 1 }, { "h[ae]llo", "hillo", 0 }, { "x\\", "x\\", 1 }, { "[ab", "a", 1 },
        { "app:*", "app:", 1 }, { "app:*", "ap", 0 }, { "*.txt", "a.txt", 1 }, { "*.txt", "a.txt.gz", 0 },
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int got = acl_glob(cases[i].pat, strlen(cases[i].pat), cases[i].s, strlen(cases[i].s));
        if (got != cases[i].want)
            fprintf(stderr, "glob '%s' '%s': %d\n", cases[i].pat, cases[i].s, got);
        CHECK_EQ(got, cases[i].want);
    }
    /* bytes, NULs included */
    CHECK(acl_glob("a?b", 3, "a\0b", 3));
    /* a pattern built to make a backtracking matcher explode ends at once */
    char pat[200], s[4000];
    for (int i = 0; i < 100; i++)
        pat[2 * i] = '*', pat[2 * i + 1] = 'a';
    memset(s, 'a', sizeof s);
    s[sizeof s - 1] = 'b';
    CHECK(!acl_glob(pat, 200, s, sizeof s));
}

static void test_rules(void)
{
    static const char *const lines[] = {
        "app on >secret >other ~app:* &app:* +@all -@dangerous",
        "user ro on #2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b ~* +@read",
        "rw on nopass %R~r:* %W~w:* +get +config|get -@all +set",
        "off1 off >x ~* +@all",
        NULL,
    };
    struct acl *a = users(lines);
    const struct acl_user *app = acl_find(a, "app", 3), *ro = acl_find(a, "ro", 2), *rw = acl_find(a, "rw", 2);
    char out[512], err[256];

    CHECK(app && ro && rw && a->deflt != NULL && a->deflt->unrestricted && a->deflt->nopass);
    CHECK(acl_password_ok(app, "secret", 6) && acl_password_ok(app, "other", 5) && !acl_password_ok(app, "x", 1));
    CHECK(acl_password_ok(ro, "secret", 6));   /* (that hash is sha256("secret")) */
    CHECK(!acl_password_ok(acl_find(a, "off1", 4), "x", 1));
    CHECK(acl_password_ok(rw, "", 0));
    CHECK(!app->unrestricted && !app->allkeys);
    CHECK(acl_allows_command(app, acl_command_id("get", 3)) && !acl_allows_command(app, acl_command_id("FLUSHALL", 8)));
    CHECK(!acl_allows_command(app, acl_command_id("config|set", 10)));
    CHECK(acl_allows_command(ro, acl_command_id("get", 3)) && !acl_allows_command(ro, acl_command_id("set", 3)));
    /* -@all after them: only what follows counts */
    CHECK(!acl_allows_command(rw, acl_command_id("get", 3)) && acl_allows_command(rw, acl_command_id("set", 3)));
    CHECK(acl_key_allowed(rw, "r:1", 3, ACL_KEY_READ) && !acl_key_allowed(rw, "r:1", 3, ACL_KEY_WRITE));
    CHECK(acl_key_allowed(rw, "w:1", 3, 0) && !acl_key_allowed(rw, "x", 1, 0));
    CHECK(acl_channel_allowed(app, "app:news", 8, 0) && !acl_channel_allowed(app, "news", 4, 0));
    CHECK(acl_channel_allowed(app, "app:*", 5, 1) && !acl_channel_allowed(app, "app:n*", 6, 1));
    acl_describe(app, out, sizeof out);
    CHECK(strcmp(out, "user app on ~app:* resetchannels &app:* +@all -@dangerous") == 0);
    acl_describe(a->deflt, out, sizeof out);
    CHECK(strcmp(out, "user default on nopass ~* &* +@all") == 0);
    CHECK(strstr(out, "secret") == NULL);
    /* errors never repeat a password */
    CHECK(acl_add_line(a, "bad on >hunter2 +nosuch", err, sizeof err) != 0);
    CHECK(strstr(err, "+nosuch") != NULL && strstr(err, "hunter2") == NULL);
    CHECK(acl_add_line(a, "bad2 <hunter2", err, sizeof err) != 0 && strstr(err, "hunter2") == NULL);
    CHECK(acl_add_line(a, "bad3 ~* ~x", err, sizeof err) != 0 && strstr(err, "allkeys") != NULL);
    CHECK(acl_add_line(a, "bad4 +select|0", err, sizeof err) != 0);
    CHECK(acl_add_line(a, "app on", err, sizeof err) != 0 && strstr(err, "twice") != NULL);
    CHECK(acl_add_line(a, "b\x01 on", err, sizeof err) != 0);
    CHECK(acl_find(a, "bad", 3) == NULL);
    acl_free(a);
}

/* A request as RESP arguments over one buffer. */
struct req {
    char buf[512];
    struct resp_arg args[16];
    uint32_t argc;
};

static void make(struct req *r, const char *const *words)
{
    size_t off = 0;

    r->argc = 0;
    for (; *words; words++) {
        size_t n = strlen(*words);
        memcpy(r->buf + off, *words, n);
        r->args[r->argc++] = (struct resp_arg){ (uint32_t)off, (uint32_t)n };
        off += n;
    }
}

static enum acl_verdict check(const struct acl_user *u, const char *const *words)
{
    struct req r;
    struct acl_denial d;

    make(&r, words);
    return redis_acl_check(u, redis_cmd_lookup(r.buf + r.args[0].off, r.args[0].len), r.buf, r.args, r.argc, &d);
}

#define W(...) ((const char *const[]){ __VA_ARGS__, NULL })

static void test_requests(void)
{
    static const char *const lines[] = {
        "app on ~app:* &app:* +@all -@dangerous",
        "rw on %R~r:* %W~w:* +@all",
        "sorter on ~app:* +@all",
        NULL,
    };
    struct acl *a = users(lines);
    const struct acl_user *app = acl_find(a, "app", 3), *rw = acl_find(a, "rw", 2), *so = acl_find(a, "sorter", 6);

    CHECK_EQ(check(app, W("GET", "app:1")), ACL_OK);
    CHECK_EQ(check(app, W("get", "other")), ACL_DENIED_KEY);
    CHECK_EQ(check(app, W("FLUSHALL")), ACL_DENIED_COMMAND);
    CHECK_EQ(check(app, W("MGET", "app:1", "app:2", "other")), ACL_DENIED_KEY);
    CHECK_EQ(check(app, W("MSET", "app:1", "x", "other", "y")), ACL_DENIED_KEY);
    CHECK_EQ(check(app, W("EVAL", "return 1", "2", "app:1", "other")), ACL_DENIED_KEY);
    CHECK_EQ(check(app, W("EVAL", "return 1", "1", "app:1", "other")), ACL_OK);   /* ARGV is not a key */
    CHECK_EQ(check(app, W("XREAD", "STREAMS", "app:s", "other", "0", "0")), ACL_DENIED_KEY);
    CHECK_EQ(check(app, W("PUBLISH", "other", "m")), ACL_DENIED_CHANNEL);
    CHECK_EQ(check(app, W("PUBLISH", "app:c", "m")), ACL_OK);
    CHECK_EQ(check(app, W("PSUBSCRIBE", "app:*")), ACL_OK);
    CHECK_EQ(check(app, W("PSUBSCRIBE", "*")), ACL_DENIED_CHANNEL);
    CHECK_EQ(check(app, W("CONFIG", "GET", "x")), ACL_DENIED_COMMAND);
    CHECK_EQ(check(rw, W("SET", "w:1", "x")), ACL_OK);
    CHECK_EQ(check(rw, W("SET", "w:1", "x", "GET")), ACL_DENIED_KEY);
    CHECK_EQ(check(rw, W("GET", "r:1")), ACL_OK);
    CHECK_EQ(check(rw, W("GET", "w:1")), ACL_DENIED_KEY);
    CHECK_EQ(check(rw, W("EXISTS", "w:1")), ACL_OK);
    CHECK_EQ(check(rw, W("COPY", "r:1", "w:1")), ACL_OK);
    CHECK_EQ(check(rw, W("COPY", "w:1", "r:1")), ACL_DENIED_KEY);
    CHECK_EQ(check(rw, W("BITFIELD", "r:1", "GET", "u8", "0")), ACL_OK);
    CHECK_EQ(check(rw, W("BITFIELD", "r:1", "SET", "u8", "0", "1")), ACL_DENIED_KEY);
    CHECK_EQ(check(so, W("SORT", "app:l")), ACL_OK);
    CHECK_EQ(check(so, W("SORT", "app:l", "BY", "nosort")), ACL_OK);
    CHECK_EQ(check(so, W("SORT", "app:l", "BY", "w_*")), ACL_DENIED_SORT_BY);
    CHECK_EQ(check(so, W("SORT", "app:l", "GET", "#")), ACL_DENIED_SORT_GET);
    CHECK_EQ(check(so, W("SORT", "app:l", "STORE", "other")), ACL_DENIED_KEY);
    acl_free(a);
}

int main(void)
{
    test_glob();
    test_rules();
    test_requests();
    puts("test_acl: ok");
    return 0;
}
