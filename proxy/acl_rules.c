/* SPDX-License-Identifier: Apache-2.0 */
/* acl_rules.c — users built from Redis's ACL rules ("on >secret ~app:* +@read"), and shown again without their secrets. */
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "acl.h"

#define ERR(...) (snprintf(err, errlen, __VA_ARGS__), -1)

/* SHA-256 fetched once: EVP_sha256() in each EVP_Digest would look the
 * algorithm up in OpenSSL's providers at every AUTH (about 200,000
 * instructions, most of an AUTH's cost). */
static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void sha256_fetch(void)
{
    sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

static int sha256(const char *s, size_t len, uint8_t out[ACL_HASH_LEN])
{
    unsigned n = 0;

    pthread_once(&sha256_once, sha256_fetch);
    return EVP_Digest(s, len, out, &n, sha256_md != NULL ? sha256_md : EVP_sha256(), NULL) == 1
           && n == ACL_HASH_LEN ? 0 : -1;
}

/* "#<64 lower-case hex digits>"'s hash: 0, or -1 if it is not one. */
static int parse_hash(const char *hex, size_t len, uint8_t out[ACL_HASH_LEN])
{
    if (len != 2 * ACL_HASH_LEN)
        return -1;
    for (size_t i = 0; i < len; i++) {
        char c = hex[i];
        int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (v < 0)
            return -1;
        if (i % 2 == 0)
            out[i / 2] = (uint8_t)(v << 4);
        else
            out[i / 2] |= (uint8_t)v;
    }
    return 0;
}

static int hash_add(struct acl_user *u, const uint8_t h[ACL_HASH_LEN])
{
    void *n;

    for (int i = 0; i < u->nhashes; i++)
        if (memcmp(u->hashes[i], h, ACL_HASH_LEN) == 0)
            return 0;
    if ((n = realloc(u->hashes, (size_t)(u->nhashes + 1) * ACL_HASH_LEN)) == NULL)
        return -1;
    u->hashes = n;
    memcpy(u->hashes[u->nhashes++], h, ACL_HASH_LEN);
    u->nopass = 0;
    return 0;
}

/* 0, or -1 if u has no such password. */
static int hash_remove(struct acl_user *u, const uint8_t h[ACL_HASH_LEN])
{
    for (int i = 0; i < u->nhashes; i++)
        if (memcmp(u->hashes[i], h, ACL_HASH_LEN) == 0) {
            memmove(u->hashes[i], u->hashes[i + 1], (size_t)(u->nhashes - i - 1) * ACL_HASH_LEN);
            u->nhashes--;
            return 0;
        }
    return -1;
}

static void patterns_free(struct acl_pattern **v, int *n)
{
    for (int i = 0; i < *n; i++)
        free((*v)[i].text);
    free(*v);
    *v = NULL;
    *n = 0;
}

static uint8_t pattern_kind(const char *text, size_t len)
{
    size_t special = len;

    for (size_t i = 0; i < len && special == len; i++)
        if (text[i] == '*' || text[i] == '?' || text[i] == '[' || text[i] == '\\')
            special = i;
    if (special == len)
        return ACL_PATTERN_EXACT;
    return special == len - 1 && text[special] == '*' ? ACL_PATTERN_PREFIX : ACL_PATTERN_GLOB;
}

static int pattern_add(struct acl_pattern **v, int *n, const char *text, size_t len, uint8_t flags)
{
    struct acl_pattern *nv;

    for (int i = 0; i < *n; i++)
        if ((*v)[i].len == len && memcmp((*v)[i].text, text, len) == 0) {
            (*v)[i].flags |= flags;
            return 0;
        }
    if ((nv = realloc(*v, (size_t)(*n + 1) * sizeof **v)) == NULL)
        return -1;
    *v = nv;
    if ((nv[*n].text = malloc(len + 1)) == NULL)
        return -1;
    memcpy(nv[*n].text, text, len);
    nv[*n].text[len] = '\0';
    nv[*n].len = (uint32_t)len;
    nv[*n].flags = flags;
    nv[*n].kind = pattern_kind(text, len);
    nv[*n].fixed = (uint32_t)(nv[*n].kind == ACL_PATTERN_PREFIX ? len - 1 : len);
    nv[*n].head = nv[*n].head_mask = 0;
    for (uint32_t i = 0; i < nv[*n].fixed && i < 8; i++) {   /* (a little-endian load of the key) */
        nv[*n].head |= (uint64_t)(unsigned char)text[i] << (8 * i);
        nv[*n].head_mask |= (uint64_t)0xff << (8 * i);
    }
    (*n)++;
    return 0;
}

/* The command rules as ACL LIST shows them: "+@all" or "-@all", then what
 * followed. */
static int commands_note(struct acl_user *u, const char *rule, size_t len, int restart)
{
    size_t have = restart || u->commands == NULL ? 0 : strlen(u->commands);
    char *n = realloc(restart ? NULL : u->commands, have + len + 2);

    if (n == NULL)
        return -1;
    if (restart)
        free(u->commands);
    if (have > 0)
        n[have++] = ' ';
    for (size_t i = 0; i < len; i++)
        n[have + i] = (char)tolower((unsigned char)rule[i]);
    n[have + len] = '\0';
    u->commands = n;
    return 0;
}

static void set_bit(struct acl_user *u, int id, int on)
{
    if (on)
        u->allowed[id / 64] |= 1ull << (id % 64);
    else
        u->allowed[id / 64] &= ~(1ull << (id % 64));
}

/* +NAME / -NAME / +NAME|SUB / +@CAT / -@CAT. */
static int command_rule(struct acl_user *u, const char *rule, size_t len, char *err, size_t errlen)
{
    int on = rule[0] == '+';
    const char *name = rule + 1;
    size_t nlen = len - 1;

    if (nlen > 0 && name[0] == '@') {
        int cat;
        if (nlen == 4 && strncasecmp(name, "@all", 4) == 0) {
            memset(u->allowed, on ? 0xff : 0, sizeof u->allowed);
            return commands_note(u, on ? "+@all" : "-@all", 5, 1) == 0 ? 0 : ERR("out of memory");
        }
        if ((cat = acl_category_id(name + 1, nlen - 1)) < 0)
            return ERR("Unknown command or category name in ACL");
        for (int i = 0; i < ACL_NCOMMANDS; i++)
            if (acl_commands[i].categories & (1u << cat))
                set_bit(u, i, on);
    } else {
        int id = acl_command_id(name, nlen);
        const char *bar = memchr(name, '|', nlen);
        if (id < 0 && bar != NULL && acl_command_id(name, (size_t)(bar - name)) >= 0)
            return ERR("coproxy does not take first-argument rules (such as +select|0); allow or deny the "
                       "whole command");
        if (id < 0)
            return ERR("Unknown command or category name in ACL");
        set_bit(u, id, on);
        if (bar == NULL) {   /* a container: its subcommands too */
            size_t n = strlen(acl_commands[id].name);
            for (int i = 0; i < ACL_NCOMMANDS; i++)
                if (strncmp(acl_commands[i].name, acl_commands[id].name, n) == 0 && acl_commands[i].name[n] == '|')
                    set_bit(u, i, on);
        }
    }
    return commands_note(u, rule, len, 0) == 0 ? 0 : ERR("out of memory");
}

/* ~PAT, %R~PAT, %W~PAT, %RW~PAT. */
static int key_rule(struct acl_user *u, const char *rule, size_t len, char *err, size_t errlen)
{
    uint8_t flags = 0;
    size_t i = 0;

    if (rule[0] == '%') {
        for (i = 1; i < len && rule[i] != '~'; i++) {
            if (rule[i] == 'R' || rule[i] == 'r')
                flags |= ACL_KEY_READ;
            else if (rule[i] == 'W' || rule[i] == 'w')
                flags |= ACL_KEY_WRITE;
            else
                return ERR("Syntax error");
        }
        if (i == len || flags == 0)
            return ERR("Syntax error");
    } else {
        flags = ACL_KEY_READ | ACL_KEY_WRITE;
    }
    i++;   /* past '~' */
    if (u->allkeys)
        return ERR("Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have "
                   "any effect. Try 'resetkeys' to start with an empty list of patterns");
    if (len - i == 1 && rule[i] == '*' && flags == (ACL_KEY_READ | ACL_KEY_WRITE)) {
        patterns_free(&u->keys, &u->nkeys);
        u->allkeys = 1;
        return 0;
    }
    return pattern_add(&u->keys, &u->nkeys, rule + i, len - i, flags) == 0 ? 0 : ERR("out of memory");
}

static int channel_rule(struct acl_user *u, const char *rule, size_t len, char *err, size_t errlen)
{
    if (u->allchannels)
        return ERR("Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not "
                   "have any effect. Try 'resetchannels' to start with an empty list of channels");
    if (len == 2 && rule[1] == '*') {
        patterns_free(&u->channels, &u->nchannels);
        u->allchannels = 1;
        return 0;
    }
    return pattern_add(&u->channels, &u->nchannels, rule + 1, len - 1, 0) == 0 ? 0 : ERR("out of memory");
}

static int word(const char *rule, size_t len, const char *w)
{
    return strlen(w) == len && strncasecmp(rule, w, len) == 0;
}

int acl_user_rule(struct acl_user *u, const char *rule, size_t len, char *err, size_t errlen)
{
    uint8_t h[ACL_HASH_LEN];

    if (len == 0)
        return ERR("Syntax error");
    switch (rule[0]) {
    case '>':
        if (sha256(rule + 1, len - 1, h) != 0 || hash_add(u, h) != 0)
            return ERR("out of memory");
        return 0;
    case '<':
        if (sha256(rule + 1, len - 1, h) != 0)
            return ERR("out of memory");
        return hash_remove(u, h) == 0 ? 0 : ERR("The password you are trying to remove from the user does not exist");
    case '#':
    case '!':
        if (parse_hash(rule + 1, len - 1, h) != 0)
            return ERR("The password hash must be exactly 64 characters and contain only lowercase hexadecimal "
                       "characters");
        if (rule[0] == '!')
            return hash_remove(u, h) == 0 ? 0 : ERR("The password you are trying to remove from the user does not "
                                                   "exist");
        return hash_add(u, h) == 0 ? 0 : ERR("out of memory");
    case '~':
    case '%':
        return key_rule(u, rule, len, err, errlen);
    case '&':
        return channel_rule(u, rule, len, err, errlen);
    case '+':
    case '-':
        return command_rule(u, rule, len, err, errlen);
    case '(':
        return ERR("selectors (rules in parentheses) are not supported by coproxy");
    }
    if (word(rule, len, "on") || word(rule, len, "off")) {
        u->on = rule[1] == 'n' || rule[1] == 'N';
    } else if (word(rule, len, "nopass")) {
        u->nopass = 1;
        free(u->hashes);
        u->hashes = NULL;
        u->nhashes = 0;
    } else if (word(rule, len, "resetpass")) {
        u->nopass = 0;
        free(u->hashes);
        u->hashes = NULL;
        u->nhashes = 0;
    } else if (word(rule, len, "allkeys")) {
        return key_rule(u, "~*", 2, err, errlen);
    } else if (word(rule, len, "resetkeys")) {
        patterns_free(&u->keys, &u->nkeys);
        u->allkeys = 0;
    } else if (word(rule, len, "allchannels")) {
        return channel_rule(u, "&*", 2, err, errlen);
    } else if (word(rule, len, "resetchannels")) {
        patterns_free(&u->channels, &u->nchannels);
        u->allchannels = 0;
    } else if (word(rule, len, "allcommands")) {
        return command_rule(u, "+@all", 5, err, errlen);
    } else if (word(rule, len, "nocommands")) {
        return command_rule(u, "-@all", 5, err, errlen);
    } else if (word(rule, len, "reset")) {
        static const char *const all[] = { "resetpass", "resetkeys", "resetchannels", "off", "-@all" };
        for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
            if (acl_user_rule(u, all[i], strlen(all[i]), err, errlen) != 0)
                return -1;
    } else if (word(rule, len, "sanitize-payload") || word(rule, len, "skip-sanitize-payload")
               || word(rule, len, "clearselectors")) {
        /* RESTORE's payload checks are the servers' (they run as the pool's backend user) */
    } else {
        return ERR("Syntax error");
    }
    return 0;
}

static void user_free(struct acl_user *u)
{
    free(u->name);
    if (u->hashes != NULL)
        OPENSSL_cleanse(u->hashes, (size_t)u->nhashes * ACL_HASH_LEN);
    free(u->hashes);
    patterns_free(&u->keys, &u->nkeys);
    patterns_free(&u->channels, &u->nchannels);
    free(u->commands);
}

static int name_ok(const char *s, size_t len)
{
    if (len == 0 || len > ACL_NAME_MAX)
        return 0;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] >= 127)
            return 0;
    return 1;
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* The next word of *p: its start and length, *p past it; 0 at the end. */
static size_t next_word(const char **p, const char **start)
{
    const char *s = *p;

    while (is_space(*s))
        s++;
    *start = s;
    while (*s != '\0' && !is_space(*s))
        s++;
    *p = s;
    return (size_t)(s - *start);
}

static void user_restrict(struct acl_user *u)
{
    int all = 1;

    for (int i = 0; i < ACL_NCOMMANDS && all; i++)
        all = acl_allows_command(u, i);
    u->unrestricted = (uint8_t)(all && u->allkeys && u->allchannels);
}

int acl_add_line(struct acl *a, const char *line, char *err, size_t errlen)
{
    struct acl_user u = { 0 }, *n;
    const char *p = line, *w;
    size_t len = next_word(&p, &w);

    if (len == 4 && memcmp(w, "user", 4) == 0)   /* Redis's ACL file form */
        len = next_word(&p, &w);
    if (len == 0)
        return ERR("a user needs a name");
    if (!name_ok(w, len))
        return ERR("user names are 1 to %d printable characters without spaces", ACL_NAME_MAX);
    if (acl_find(a, w, len) != NULL)
        return ERR("user '%.*s' is defined twice", (int)len, w);
    if ((u.name = strndup(w, len)) == NULL || commands_note(&u, "-@all", 5, 1) != 0) {
        user_free(&u);
        return ERR("out of memory");
    }
    while ((len = next_word(&p, &w)) > 0) {
        char why[256];
        if (acl_user_rule(&u, w, len, why, sizeof why) != 0) {
            /* a password is never shown, even a malformed rule's */
            if (w[0] == '>' || w[0] == '<')
                snprintf(err, errlen, "user '%s': a password rule: %s", u.name, why);
            else
                snprintf(err, errlen, "user '%s': rule '%.*s': %s", u.name, (int)(len > 64 ? 64 : len), w, why);
            user_free(&u);
            return -1;
        }
    }
    user_restrict(&u);
    if ((n = realloc(a->users, (size_t)(a->nusers + 1) * sizeof *n)) == NULL) {
        user_free(&u);
        return ERR("out of memory");
    }
    a->users = n;
    a->users[a->nusers++] = u;
    return 0;
}

int acl_finish(struct acl *a, const char *password)
{
    char line[256], err[128];
    struct acl_user *d;

    if ((d = acl_find(a, "default", 7)) == NULL) {
        if (password[0] != '\0')
            snprintf(line, sizeof line, "default on ~* &* +@all");
        else
            snprintf(line, sizeof line, "default on nopass ~* &* +@all");
        if (acl_add_line(a, line, err, sizeof err) != 0)
            return -1;
        d = &a->users[a->nusers - 1];
        if (password[0] != '\0') {   /* (hashed here: never in a rule's text) */
            uint8_t h[ACL_HASH_LEN];
            if (sha256(password, strlen(password), h) != 0 || hash_add(d, h) != 0)
                return -1;
        }
    }
    a->deflt = d;
    return 0;
}

void acl_free(struct acl *a)
{
    if (a == NULL)
        return;
    for (int i = 0; i < a->nusers; i++)
        user_free(&a->users[i]);
    free(a->users);
    free(a);
}

struct acl_user *acl_find(const struct acl *a, const char *name, size_t len)
{
    for (int i = 0; i < a->nusers; i++)
        if (strlen(a->users[i].name) == len && memcmp(a->users[i].name, name, len) == 0)
            return &a->users[i];
    return NULL;
}

int acl_password_ok(const struct acl_user *u, const char *pass, size_t len)
{
    uint8_t h[ACL_HASH_LEN];
    int ok = 0;

    if (!u->on)
        return 0;
    if (u->nopass)
        return 1;
    if (sha256(pass, len, h) != 0)
        return 0;
    for (int i = 0; i < u->nhashes; i++)
        ok |= CRYPTO_memcmp(u->hashes[i], h, ACL_HASH_LEN) == 0;
    return ok;
}

size_t acl_describe_patterns(const struct acl_user *u, int channels, char *out, size_t outlen)
{
    const struct acl_pattern *v = channels ? u->channels : u->keys;
    int n = channels ? u->nchannels : u->nkeys;
    size_t len = 0;

    out[0] = '\0';
    if (channels ? u->allchannels : u->allkeys)
        return (size_t)snprintf(out, outlen, channels ? "&*" : "~*");
    for (int i = 0; i < n && len < outlen; i++) {
        const char *how = channels ? "&" : v[i].flags == ACL_KEY_READ ? "%R~" : v[i].flags == ACL_KEY_WRITE ? "%W~" : "~";
        len += (size_t)snprintf(out + len, outlen - len, "%s%s%s", len ? " " : "", how, v[i].text);
    }
    return len < outlen ? len : outlen - 1;
}

size_t acl_describe(const struct acl_user *u, char *out, size_t outlen)
{
    char keys[1024], chans[1024];
    int n;

    acl_describe_patterns(u, 0, keys, sizeof keys);
    acl_describe_patterns(u, 1, chans, sizeof chans);
    /* as Redis 7.0 writes it: no keys, no word; no channels, "resetchannels" */
    n = snprintf(out, outlen, "user %s %s%s%s%s %s%s%s %s", u->name, u->on ? "on" : "off",
                 u->nopass ? " nopass" : "", keys[0] ? " " : "", keys, u->allchannels ? "" : "resetchannels",
                 !u->allchannels && chans[0] ? " " : "", chans, u->commands);
    return n < 0 ? 0 : (size_t)n < outlen ? (size_t)n : outlen - 1;
}
