/* SPDX-License-Identifier: Apache-2.0 */
/* notify.c — systemd's readiness protocol: libsystemd's sd_notify, or the datagram written here without it. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "notify.h"

#ifdef HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>
#endif

#ifndef HAVE_LIBSYSTEMD
/* The protocol is one datagram of "KEY=value" lines to the Unix socket in
 * $NOTIFY_SOCKET (a leading '@' is the abstract namespace). */
static void send_notify(const char *msg)
{
    const char *path = getenv("NOTIFY_SOCKET");
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    size_t len;
    int fd;

    if (path == NULL || (path[0] != '/' && path[0] != '@') || (len = strlen(path)) >= sizeof sun.sun_path)
        return;
    memcpy(sun.sun_path, path, len);
    if (sun.sun_path[0] == '@')
        sun.sun_path[0] = '\0';
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return;
    (void)!sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&sun,
                  (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len));
    close(fd);
}
#endif

void notify(const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    if (getenv("NOTIFY_SOCKET") == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
#ifdef HAVE_LIBSYSTEMD
    sd_notify(0, msg);
#else
    send_notify(msg);
#endif
}
