/* SPDX-License-Identifier: Apache-2.0 */
/* admin_http.c — the admin port's HTTP side: GET /metrics for Prometheus, with the admin password as HTTP auth. */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "admin_http.h"
#include "rbuf.h"
#include "worker.h"
#include "worker_ctx.h"

/*
 * Just enough HTTP/1.x for a scraper: one request per connection, its head
 * read whole (bounded by the caller's buffer), the answer sent with
 * Connection: close.  A password, when set, is taken from Basic auth (any
 * user name, as Prometheus' basic_auth sends it) or a Bearer token.
 */

int admin_http_sniff(const char *buf, size_t len)
{
    static const char *const methods[] = { "GET ", "HEAD " };

    for (size_t i = 0; i < sizeof methods / sizeof *methods; i++) {
        size_t m = strlen(methods[i]);
        if (memcmp(buf, methods[i], len < m ? len : m) == 0)
            return len < m ? -1 : 1;
    }
    return 0;
}

/* Compares without an early exit, so the time taken says nothing of where
 * a guess first differs. */
int admin_password_equal(const char *given, size_t len, const char *password)
{
    size_t plen = strlen(password);
    unsigned char diff = (unsigned char)(len != plen);

    for (size_t i = 0; i < len; i++)
        diff |= (unsigned char)(given[i] ^ password[i < plen ? i : 0]);
    return plen > 0 && diff == 0;
}

static int b64_value(char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

/* Decodes base64 from s (n chars, '=' padding allowed) into out; its
 * length, or -1 when malformed or too long. */
static long b64_decode(const char *s, size_t n, char *out, size_t cap)
{
    unsigned acc = 0;
    int bits = 0;
    size_t len = 0;

    for (size_t i = 0; i < n && s[i] != '='; i++) {
        int v = b64_value(s[i]);
        if (v < 0)
            return -1;
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (len == cap)
                return -1;
            out[len++] = (char)((acc >> bits) & 0xff);
        }
    }
    return (long)len;
}

/* The header's value (up to the line's end) in head, or NULL. */
static const char *header(const char *head, const char *name, size_t *len)
{
    size_t n = strlen(name);

    for (const char *p = strstr(head, "\r\n"); p != NULL; p = strstr(p, "\r\n")) {
        p += 2;
        if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
            const char *v = p + n + 1, *end = strstr(v, "\r\n");
            while (*v == ' ' || *v == '\t')
                v++;
            *len = end ? (size_t)(end - v) : strlen(v);
            while (*len > 0 && (v[*len - 1] == ' ' || v[*len - 1] == '\t'))
                (*len)--;
            return v;
        }
    }
    return NULL;
}

static int authorized(const char *head, const char *password)
{
    size_t len;
    const char *v = header(head, "Authorization", &len);
    char cred[512];
    long n;
    const char *colon;

    if (password[0] == '\0')
        return 1;
    if (v == NULL)
        return 0;
    if (len > 7 && strncasecmp(v, "Bearer ", 7) == 0)
        return admin_password_equal(v + 7, len - 7, password);
    if (len <= 6 || strncasecmp(v, "Basic ", 6) != 0)
        return 0;
    n = b64_decode(v + 6, len - 6, cred, sizeof cred);
    if (n < 0 || (colon = memchr(cred, ':', (size_t)n)) == NULL)
        return 0;
    return admin_password_equal(colon + 1, (size_t)(cred + n - colon - 1), password);
}

static void respond(int fd, int head_only, const char *status, const char *type, const char *extra,
                    const char *body, size_t len)
{
    char h[512];
    int n = snprintf(h, sizeof h,
                     "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%sConnection: close\r\n\r\n",
                     status, type, len, extra);

    if (send(fd, h, (size_t)n, MSG_NOSIGNAL | (head_only || len == 0 ? 0 : MSG_MORE)) != n)
        return;
    if (!head_only && len > 0)
        (void)!send(fd, body, len, MSG_NOSIGNAL);
}

void admin_http_serve(int fd, char *buf, size_t len, size_t cap, const char *password, uint64_t deadline_ms,
                int (*metrics)(struct rbuf *out))
{
    static const char text[] = "text/plain; charset=utf-8";
    char *end;
    int head_only = strncmp(buf, "HEAD ", 5) == 0;
    char path[64];
    const char *p, *q;
    struct rbuf body = { 0 };

    /* The head is read whole first, by deadline_ms. */
    for (;;) {
        buf[len] = '\0';
        if ((end = strstr(buf, "\r\n\r\n")) != NULL || (end = strstr(buf, "\n\n")) != NULL)
            break;
        if (len + 1 >= cap) {
            static const char msg[] = "request head too large\n";
            respond(fd, 0, "431 Request Header Fields Too Large", text, "", msg, sizeof msg - 1);
            return;
        }
        uint64_t now = worker_now_ms();
        struct timeval tv;
        ssize_t n;
        if (now >= deadline_ms)
            return;   /* the whole head within the deadline, however it trickles */
        tv = (struct timeval){ (time_t)((deadline_ms - now) / 1000), (suseconds_t)((deadline_ms - now) % 1000) * 1000 };
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        n = recv(fd, buf + len, cap - 1 - len, 0);
        if (n <= 0)
            return;
        len += (size_t)n;
    }
    *end = '\0';
    p = strchr(buf, ' ') + 1;   /* admin_http_sniff saw the method and its space */
    q = p + strcspn(p, " \r\n");
    snprintf(path, sizeof path, "%.*s", (int)(q - p < 63 ? q - p : 63), p);
    if (strncmp(q, " HTTP/1.", 8) != 0) {
        static const char msg[] = "bad request line\n";
        respond(fd, 0, "400 Bad Request", text, "", msg, sizeof msg - 1);
        return;
    }
    if (!authorized(buf, password)) {
        static const char msg[] = "the admin password is required (basic auth or a bearer token)\n";
        respond(fd, head_only, "401 Unauthorized", text, "WWW-Authenticate: Basic realm=\"coproxy\"\r\n", msg,
                sizeof msg - 1);
        return;
    }
    if (strcmp(path, "/metrics") != 0 && strncmp(path, "/metrics?", 9) != 0) {
        static const char msg[] = "not found: coproxy serves /metrics\n";
        respond(fd, head_only, "404 Not Found", text, "", msg, sizeof msg - 1);
        return;
    }
    if (metrics(&body) != 0) {
        static const char msg[] = "out of memory\n";
        respond(fd, head_only, "500 Internal Server Error", text, "", msg, sizeof msg - 1);
    } else {
        respond(fd, head_only, "200 OK", "text/plain; version=0.0.4; charset=utf-8", "", body.data, body.len);
    }
    rbuf_free(&body);
}
