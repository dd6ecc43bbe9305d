/* SPDX-License-Identifier: Apache-2.0 */
/* addr.h — listen and server addresses as users write them (host:port, [v6]:port, /path). */
#ifndef COPROXY_ADDR_H
#define COPROXY_ADDR_H

#include <sys/socket.h>
#include <sys/un.h>

struct proxy_addr {
    int family;                      /* AF_INET, AF_INET6, AF_UNIX */
    socklen_t len;
    union {
        struct sockaddr sa;
        struct sockaddr_storage ss;
        struct sockaddr_un un;
    };
    char text[128];                  /* as written, for logs and messages */
};

/*
 * Parses "host:port", "[v6addr]:port" or a Unix socket path (starting with
 * '/').  Host names are resolved now.  Returns 0, or -1 with a message in err.
 */
int addr_parse(const char *s, struct proxy_addr *out, char *err, size_t errlen);

/* The port of an IPv4/IPv6 address (0 for a Unix path). */
int addr_port(const struct proxy_addr *a);

/* The host as written ("redis.example", "10.0.0.1", "::1": no port, no
 * brackets), into out[0..n): the name a TLS certificate is checked against. */
const char *addr_host(const struct proxy_addr *a, char *out, size_t n);

/* Same address (family, bytes and port)? */
int addr_equal(const struct proxy_addr *a, const struct proxy_addr *b);

/* 127.0.0.0/8, ::1 (or a Unix path): reachable from this host only. */
int addr_is_loopback(const struct proxy_addr *a);
/* The peer of connected socket fd as "host:port" ("unix:0" on a Unix socket,
 * "?:0" if unknown), into out[0..n): for CLIENT LIST and logs. */
const char *addr_peer(int fd, char *out, size_t n);
/* The same for the socket's own end (CLIENT LIST's laddr). */
const char *addr_local(int fd, char *out, size_t n);

#endif
