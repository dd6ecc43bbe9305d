/* SPDX-License-Identifier: Apache-2.0 */
/* handover.c — an upgrade's new process: the listening sockets its old process handed it, and telling it we are ready. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "costack.h"
#include "handover.h"
#include "log.h"

#define HANDOVER_MAX 4096

static struct {
    pthread_mutex_t lock;
    int fds[HANDOVER_MAX];           /* -1 once taken */
    int n;
    int ready_fd;
    int from;
} ho = { PTHREAD_MUTEX_INITIALIZER, { 0 }, 0, -1, 0 };

int handover_init(void)
{
    const char *fds = getenv(HANDOVER_ENV_FDS), *ready = getenv(HANDOVER_ENV_READY), *from = getenv(HANDOVER_ENV_FROM);

    if (fds != NULL) {
        for (const char *p = fds; *p && ho.n < HANDOVER_MAX;) {
            char *end;
            long fd = strtol(p, &end, 10);
            if (end == p)
                break;
            if (fd >= 0 && fcntl((int)fd, F_SETFD, FD_CLOEXEC) == 0)   /* (not into a later upgrade's exec) */
                ho.fds[ho.n++] = (int)fd;
            p = *end == ',' ? end + 1 : end;
        }
    }
    if (ready != NULL) {
        ho.ready_fd = atoi(ready);
        if (fcntl(ho.ready_fd, F_SETFD, FD_CLOEXEC) != 0)
            ho.ready_fd = -1;
    }
    ho.from = from != NULL ? atoi(from) : 0;
    unsetenv(HANDOVER_ENV_FDS);
    unsetenv(HANDOVER_ENV_READY);
    unsetenv(HANDOVER_ENV_FROM);
    return ho.from;
}

/* Is fd a listening socket bound to addr? */
static int listens_on(int fd, const struct proxy_addr *addr)
{
    struct proxy_addr got;
    int listening = 0;
    socklen_t len = sizeof listening;

    memset(&got, 0, sizeof got);
    got.len = sizeof got.ss;
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 || !listening
        || getsockname(fd, &got.sa, &got.len) != 0)
        return 0;
    got.family = got.sa.sa_family;
    if (got.family != addr->family)
        return 0;
    if (got.family == AF_UNIX)
        return strcmp(got.un.sun_path, addr->un.sun_path) == 0;
    if (got.family == AF_INET) {
        const struct sockaddr_in *x = (const struct sockaddr_in *)&got.ss, *y = (const struct sockaddr_in *)&addr->ss;
        return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    const struct sockaddr_in6 *x = (const struct sockaddr_in6 *)&got.ss, *y = (const struct sockaddr_in6 *)&addr->ss;
    return x->sin6_port == y->sin6_port && memcmp(&x->sin6_addr, &y->sin6_addr, sizeof x->sin6_addr) == 0;
}

int handover_has(const struct proxy_addr *addr)
{
    int has = 0;

    pthread_mutex_lock(&ho.lock);
    for (int i = 0; i < ho.n && !has; i++)
        has = ho.fds[i] >= 0 && listens_on(ho.fds[i], addr);
    pthread_mutex_unlock(&ho.lock);
    return has;
}

int handover_take(const struct proxy_addr *addr)
{
    int fd = -1, err;

    pthread_mutex_lock(&ho.lock);
    for (int i = 0; i < ho.n && fd < 0; i++)
        if (ho.fds[i] >= 0 && listens_on(ho.fds[i], addr)) {
            fd = ho.fds[i];
            ho.fds[i] = -1;
        }
    pthread_mutex_unlock(&ho.lock);
    /* the old process's runtime set O_NONBLOCK on this open file: ours must
     * still park on it, not take the flag for our own choice */
    if (fd >= 0 && (err = co_fd_adopt_blocking(fd)) != 0)
        log_warn("upgrade: an inherited listener (fd %d) cannot be watched: %s", fd, strerror(-err));
    return fd;
}

int handover_close_rest(void)
{
    int closed = 0;

    pthread_mutex_lock(&ho.lock);
    for (int i = 0; i < ho.n; i++)
        if (ho.fds[i] >= 0) {
            char where[80];
            log_warn("upgrade: an inherited listener on %s is not needed (fewer workers): closed, the connects "
                     "waiting in it are refused", addr_local(ho.fds[i], where, sizeof where));
            close(ho.fds[i]);
            ho.fds[i] = -1;
            closed++;
        }
    pthread_mutex_unlock(&ho.lock);
    return closed;
}

void handover_ready(void)
{
    if (ho.ready_fd < 0)
        return;
    if (write(ho.ready_fd, "R", 1) != 1)
        log_warn("upgrade: cannot tell pid %d we are ready: %s", ho.from, strerror(errno));
    close(ho.ready_fd);
    ho.ready_fd = -1;
}
