/* SPDX-License-Identifier: Apache-2.0 */
/* addr.c — parsing of listen and server addresses. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netdb.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"

int addr_parse(const char *s, struct proxy_addr *out, char *err, size_t errlen)
{
    char host[256];
    const char *port;
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV }, *res;
    char *end;
    long p;
    int rc;

    memset(out, 0, sizeof *out);
    snprintf(out->text, sizeof out->text, "%s", s);
    if (s[0] == '/') {
        if (strlen(s) >= sizeof out->un.sun_path) {
            snprintf(err, errlen, "Unix socket path '%s' is too long (at most %zu bytes)", s,
                     sizeof out->un.sun_path - 1);
            return -1;
        }
        out->family = AF_UNIX;
        out->un.sun_family = AF_UNIX;
        strcpy(out->un.sun_path, s);
        out->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(s) + 1);
        return 0;
    }
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (close == NULL || close[1] != ':' || (size_t)(close - s - 1) >= sizeof host) {
            snprintf(err, errlen, "bad address '%s' (expected [ipv6]:port)", s);
            return -1;
        }
        memcpy(host, s + 1, (size_t)(close - s - 1));
        host[close - s - 1] = '\0';
        port = close + 2;
        hints.ai_family = AF_INET6;
    } else {
        const char *colon = strrchr(s, ':');
        if (colon == NULL || colon == s || (size_t)(colon - s) >= sizeof host) {
            snprintf(err, errlen, "bad address '%s' (expected host:port, [ipv6]:port or /path)", s);
            return -1;
        }
        memcpy(host, s, (size_t)(colon - s));
        host[colon - s] = '\0';
        port = colon + 1;
        if (strchr(host, ':')) {
            snprintf(err, errlen, "bad address '%s' (write IPv6 addresses as [addr]:port)", s);
            return -1;
        }
    }
    p = strtol(port, &end, 10);
    if (*port == '\0' || *end != '\0' || p < 1 || p > 65535) {
        snprintf(err, errlen, "bad port in '%s' (1 to 65535)", s);
        return -1;
    }
    rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0) {
        snprintf(err, errlen, "cannot resolve '%s': %s", host, gai_strerror(rc));
        return -1;
    }
    out->family = res->ai_family;
    out->len = res->ai_addrlen;
    memcpy(&out->ss, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    return 0;
}

int addr_equal(const struct proxy_addr *a, const struct proxy_addr *b)
{
    return a->family == b->family && a->len == b->len && memcmp(&a->ss, &b->ss, a->len) == 0;
}

int addr_port(const struct proxy_addr *a)
{
    if (a->family == AF_INET)
        return ntohs(((const struct sockaddr_in *)&a->ss)->sin_port);
    if (a->family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)&a->ss)->sin6_port);
    return 0;
}

int addr_is_loopback(const struct proxy_addr *a)
{
    if (a->family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)&a->ss;
        return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    }
    if (a->family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&a->ss;
        return IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
    }
    return a->family == AF_UNIX;
}

/* A socket's end (peer or local) as "host:port". */
static const char *addr_end(int fd, int local, char *out, size_t n)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    char host[INET6_ADDRSTRLEN] = "?";
    int port = 0;

    if ((local ? getsockname(fd, (struct sockaddr *)&ss, &len) : getpeername(fd, (struct sockaddr *)&ss, &len)) == 0) {
        if (ss.ss_family == AF_INET) {
            inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, host, sizeof host);
            port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        } else if (ss.ss_family == AF_INET6) {
            inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, host, sizeof host);
            port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
        } else {
            snprintf(host, sizeof host, "unix");
        }
    }
    snprintf(out, n, "%s:%d", host, port);
    return out;
}

const char *addr_peer(int fd, char *out, size_t n)
{
    return addr_end(fd, 0, out, n);
}

const char *addr_local(int fd, char *out, size_t n)
{
    return addr_end(fd, 1, out, n);
}

const char *addr_host(const struct proxy_addr *a, char *out, size_t n)
{
    const char *t = a->text, *colon = strrchr(t, ':');
    size_t len = colon && a->family != AF_UNIX ? (size_t)(colon - t) : strlen(t);

    if (len >= 2 && t[0] == '[' && t[len - 1] == ']') {
        t++;
        len -= 2;
    }
    snprintf(out, n, "%.*s", (int)len, t);
    return out;
}
