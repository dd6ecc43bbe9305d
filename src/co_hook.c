/* SPDX-License-Identifier: Apache-2.0 */
/* co_hook.c — blocking socket calls that park only the calling coroutine. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "co_io.h"
#include "costack.h"

/*
 * These functions interpose libc's.  Each one decides first whether it has
 * anything to do: only sockets, and only those whose blocking behaviour the
 * runtime took over.  A socket created or first used by a coroutine with
 * hooks on is switched to O_NONBLOCK (remembering whether the program asked
 * for that itself); from then on a call that would block
 *   - in a hooked coroutine: parks the coroutine until the loop sees the fd
 *     ready (co_wait_fd), honouring SO_RCVTIMEO / SO_SNDTIMEO;
 *   - anywhere else: waits in a real poll(), so the program still sees the
 *     blocking socket it created.
 * Every other fd, and a socket the program made non-blocking, gets exactly
 * the libc call.  The real functions come from dlsym(RTLD_NEXT, ...).
 */

#define REAL(name) ((name##_fn)real_sym((void **)&real_##name, #name))
#define DECLARE(ret, name, args) typedef ret (*name##_fn) args; static name##_fn real_##name

DECLARE(int, socket, (int, int, int));
DECLARE(int, connect, (int, const struct sockaddr *, socklen_t));
DECLARE(int, accept, (int, struct sockaddr *, socklen_t *));
DECLARE(int, accept4, (int, struct sockaddr *, socklen_t *, int));
DECLARE(ssize_t, read, (int, void *, size_t));
DECLARE(ssize_t, write, (int, const void *, size_t));
DECLARE(ssize_t, readv, (int, const struct iovec *, int));
DECLARE(ssize_t, writev, (int, const struct iovec *, int));
DECLARE(ssize_t, recv, (int, void *, size_t, int));
DECLARE(ssize_t, recvfrom, (int, void *, size_t, int, struct sockaddr *, socklen_t *));
DECLARE(ssize_t, recvmsg, (int, struct msghdr *, int));
DECLARE(ssize_t, send, (int, const void *, size_t, int));
DECLARE(ssize_t, sendto, (int, const void *, size_t, int, const struct sockaddr *, socklen_t));
DECLARE(ssize_t, sendmsg, (int, const struct msghdr *, int));
DECLARE(int, poll, (struct pollfd *, nfds_t, int));
DECLARE(int, close, (int));
DECLARE(int, fcntl, (int, int, ...));
DECLARE(int, setsockopt, (int, int, int, const void *, socklen_t));
DECLARE(unsigned, sleep, (unsigned));
DECLARE(int, usleep, (useconds_t));
DECLARE(int, nanosleep, (const struct timespec *, struct timespec *));

static void *resolve(const char *name)
{
    void *fn = dlsym(RTLD_NEXT, name);

    if (fn == NULL)
        co_die("cannot find libc's %s (dlsym: %s)", name, dlerror());
    return fn;
}

/* The libc function for a hook; resolved on first use (even before our constructor). */
static inline void *real_sym(void **slot, const char *name)
{
    void *fn = *slot;

    if (CO_UNLIKELY(fn == NULL))
        *slot = fn = resolve(name);
    return fn;
}

/* Resolved at load time, before any coroutine exists. */
__attribute__((constructor)) void co_hook_init(void)
{
    (void)REAL(socket); (void)REAL(connect); (void)REAL(accept); (void)REAL(accept4);
    (void)REAL(read); (void)REAL(write); (void)REAL(readv); (void)REAL(writev);
    (void)REAL(recv); (void)REAL(recvfrom); (void)REAL(recvmsg);
    (void)REAL(send); (void)REAL(sendto); (void)REAL(sendmsg);
    (void)REAL(poll); (void)REAL(close); (void)REAL(fcntl); (void)REAL(setsockopt);
    (void)REAL(sleep); (void)REAL(usleep); (void)REAL(nanosleep);
}

int co_real_poll(struct pollfd *fds, nfds_t n, int timeout) CO_HIDDEN;
int co_real_poll(struct pollfd *fds, nfds_t n, int timeout)
{
    return REAL(poll)(fds, n, timeout);
}

/* Is the running coroutine one with hooks on? */
int co_hooked(void)
{
    struct stCoRoutine_t *co = co_env_tls->current;

    return !co->is_main && co->hooks;
}

void co_enable_hook_sys(void)
{
    struct co_env *env = co_env_get();

    if (env && !env->current->is_main)
        env->current->hooks = 1;
}

void co_disable_hook_sys(void)
{
    struct stCoRoutine_t *co = co_env_tls->current;

    if (!co->is_main)
        co->hooks = 0;
}

bool co_is_enable_sys_hook(void)
{
    return co_hooked() != 0;
}

/* Takes over a socket's blocking: O_NONBLOCK underneath, the program's wish recorded. */
/*
 * The slot of a new fd number, emptied of what an earlier fd with that
 * number left there: one closed where no hook saw it, or one the hooks
 * never classified (co_poll registers an eventfd or a pipe as it is), would
 * otherwise hand the new socket its registration and the edges it missed.
 */
static struct co_fd *fresh_slot(int fd)
{
    struct co_fd *f = co_fd_get(fd);

    if (f != NULL && (f->kind != CO_FD_UNKNOWN || f->loop != NULL || f->missed != 0)) {
        if (f->waiters)
            co_fd_wake_closed(f);
        co_fd_forget(fd);
    }
    return f;
}

static void adopt_socket(struct co_fd *f, int fd, int user_nonblock)
{
    f->kind = CO_FD_SOCKET;
    f->user_nonblock = (uint8_t)(user_nonblock != 0);
    if (!user_nonblock) {
        int fl = REAL(fcntl)(fd, F_GETFL);
        if (fl >= 0)
            REAL(fcntl)(fd, F_SETFL, fl | O_NONBLOCK);
    }
}

/*
 * The slot of a socket whose blocking the runtime manages, or NULL when the
 * call should go straight to libc.  A hooked coroutine's first use of an
 * fd it did not create classifies it (one fstat).
 */
static struct co_fd *classify(int fd, int always)
{
    struct co_fd *f = co_fd_peek(fd);

    if (f && f->kind == CO_FD_SOCKET)
        return f->user_nonblock ? NULL : f;
    if ((f == NULL || f->kind == CO_FD_UNKNOWN) && (always || co_hooked())) {
        struct stat st;
        int fl;
        if ((f = co_fd_get(fd)) == NULL || fstat(fd, &st) != 0)
            return NULL;
        if (!S_ISSOCK(st.st_mode)) {
            f->kind = CO_FD_OTHER;
            return NULL;
        }
        fl = REAL(fcntl)(fd, F_GETFL);
        adopt_socket(f, fd, fl >= 0 && (fl & O_NONBLOCK));
        return f->user_nonblock ? NULL : f;
    }
    return NULL;
}

static struct co_fd *managed(int fd)
{
    return classify(fd, 0);
}

/* The slot of fd if it is a socket (classifying it on first sight, even
 * outside a hooked coroutine), else NULL. */
struct co_fd *co_fd_socket(int fd)
{
    struct co_fd *f;

    classify(fd, 1);   /* classifies, adopts a socket */
    f = co_fd_peek(fd);
    return f && f->kind == CO_FD_SOCKET ? f : NULL;
}

int co_fd_adopt_blocking(int fd)
{
    struct co_fd *f;
    struct stat st;

    if (fstat(fd, &st) != 0)
        return -errno;
    if (!S_ISSOCK(st.st_mode))
        return -ENOTSOCK;
    if ((f = co_fd_get(fd)) == NULL)
        return -ENOMEM;
    adopt_socket(f, fd, 0);
    return 0;
}

/* Waits for fd: parks a hooked coroutine, else blocks the thread in poll. 0 or -errno. */
static int wait_ready(int fd, uint32_t events, int timeout_ms)
{
    struct pollfd p = { .fd = fd, .events = (short)events };
    int r;

    if (co_hooked())
        return co_wait_fd(fd, events, timeout_ms);
    do
        r = REAL(poll)(&p, 1, timeout_ms);
    while (r < 0 && errno == EINTR);
    return r > 0 ? 0 : r == 0 ? -ETIMEDOUT : -errno;
}

/* errno after a failed wait: a timeout is EAGAIN, as for a blocking socket with SO_*TIMEO. */
static void wait_failed(int err)
{
    errno = err == -ETIMEDOUT ? EAGAIN : -err;
}

/* One input call, retried after each wait until it does not say EAGAIN. */
#define INPUT_CALL(fd, call)                                                  \
    do {                                                                      \
        struct co_fd *f_ = managed(fd);                                       \
        ssize_t r_;                                                           \
        if (f_ == NULL)                                                       \
            return call;                                                      \
        for (;;) {                                                            \
            int e_;                                                           \
            r_ = call;                                                        \
            if (r_ >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK))         \
                return r_;                                                    \
            if ((e_ = wait_ready(fd, EPOLLIN, f_->rcv_timeout_ms)) != 0) {    \
                wait_failed(e_);                                              \
                return -1;                                                    \
            }                                                                 \
        }                                                                     \
    } while (0)

CO_EXPORT ssize_t read(int fd, void *buf, size_t n)
{
    INPUT_CALL(fd, REAL(read)(fd, buf, n));
}

CO_EXPORT ssize_t readv(int fd, const struct iovec *iov, int cnt)
{
    INPUT_CALL(fd, REAL(readv)(fd, iov, cnt));
}

CO_EXPORT ssize_t recv(int fd, void *buf, size_t n, int flags)
{
    if (flags & MSG_DONTWAIT)
        return REAL(recv)(fd, buf, n, flags);
    INPUT_CALL(fd, REAL(recv)(fd, buf, n, flags));
}

CO_EXPORT ssize_t recvfrom(int fd, void *buf, size_t n, int flags, struct sockaddr *from, socklen_t *len)
{
    if (flags & MSG_DONTWAIT)
        return REAL(recvfrom)(fd, buf, n, flags, from, len);
    INPUT_CALL(fd, REAL(recvfrom)(fd, buf, n, flags, from, len));
}

CO_EXPORT ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
    if (flags & MSG_DONTWAIT)
        return REAL(recvmsg)(fd, msg, flags);
    INPUT_CALL(fd, REAL(recvmsg)(fd, msg, flags));
}

/*
 * Output: a blocking write returns only when everything is written (or an
 * error or timeout stops it, reporting what was written), so partial
 * writes of the non-blocking socket underneath are completed here.
 * send_at(done) writes the rest from byte `done` on.
 */
struct out_op {
    int fd;
    const char *buf;
    size_t len;
    int flags;
    const struct sockaddr *to;
    socklen_t tolen;
    int kind;   /* 0 write, 1 send, 2 sendto */
};

static ssize_t out_once(const struct out_op *op, size_t done)
{
    switch (op->kind) {
    case 0:
        return REAL(write)(op->fd, op->buf + done, op->len - done);
    case 1:
        return REAL(send)(op->fd, op->buf + done, op->len - done, op->flags);
    default:
        return REAL(sendto)(op->fd, op->buf + done, op->len - done, op->flags, op->to, op->tolen);
    }
}

static ssize_t output_all(struct co_fd *f, const struct out_op *op)
{
    size_t done = 0;

    for (;;) {
        ssize_t r = out_once(op, done);
        int e;
        if (r > 0) {
            done += (size_t)r;
            if (done == op->len)
                return (ssize_t)done;
            continue;
        }
        if (r == 0)
            return (ssize_t)done;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return done ? (ssize_t)done : -1;
        if ((e = wait_ready(op->fd, EPOLLOUT, f->snd_timeout_ms)) != 0) {
            if (done)
                return (ssize_t)done;
            wait_failed(e);
            return -1;
        }
    }
}

CO_EXPORT ssize_t write(int fd, const void *buf, size_t n)
{
    struct co_fd *f = managed(fd);
    struct out_op op = { .fd = fd, .buf = buf, .len = n, .kind = 0 };

    return f ? output_all(f, &op) : REAL(write)(fd, buf, n);
}

CO_EXPORT ssize_t send(int fd, const void *buf, size_t n, int flags)
{
    struct co_fd *f = (flags & MSG_DONTWAIT) ? NULL : managed(fd);
    struct out_op op = { .fd = fd, .buf = buf, .len = n, .flags = flags, .kind = 1 };

    return f ? output_all(f, &op) : REAL(send)(fd, buf, n, flags);
}

CO_EXPORT ssize_t sendto(int fd, const void *buf, size_t n, int flags, const struct sockaddr *to, socklen_t tolen)
{
    struct co_fd *f = (flags & MSG_DONTWAIT) ? NULL : managed(fd);
    struct out_op op = { .fd = fd, .buf = buf, .len = n, .flags = flags, .to = to, .tolen = tolen,
                         .kind = 2 };

    return f ? output_all(f, &op) : REAL(sendto)(fd, buf, n, flags, to, tolen);
}

/* Vectored output, completed the same way on a private copy of the iovec array. */
static ssize_t vector_all(struct co_fd *f, int fd, struct msghdr *msg, int flags, int is_msg)
{
    struct iovec local[64], *iov = local;
    size_t total = 0, done = 0;
    int cnt = (int)msg->msg_iovlen, first = 0;

    if (cnt > 64)
        return is_msg ? REAL(sendmsg)(fd, msg, flags) : REAL(writev)(fd, msg->msg_iov, cnt);
    memcpy(local, msg->msg_iov, (size_t)cnt * sizeof *iov);
    for (int i = 0; i < cnt; i++)
        total += iov[i].iov_len;
    for (;;) {
        ssize_t r;
        int e;
        msg->msg_iov = iov + first;
        msg->msg_iovlen = (size_t)(cnt - first);
        r = is_msg ? REAL(sendmsg)(fd, msg, flags) : REAL(writev)(fd, iov + first, cnt - first);
        if (r > 0) {
            done += (size_t)r;
            if (done == total)
                return (ssize_t)done;
            while (first < cnt && (size_t)r >= iov[first].iov_len)
                r -= (ssize_t)iov[first++].iov_len;
            if (first < cnt) {
                iov[first].iov_base = (char *)iov[first].iov_base + r;
                iov[first].iov_len -= (size_t)r;
            }
            continue;
        }
        if (r == 0)
            return (ssize_t)done;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return done ? (ssize_t)done : -1;
        if ((e = wait_ready(fd, EPOLLOUT, f->snd_timeout_ms)) != 0) {
            if (done)
                return (ssize_t)done;
            wait_failed(e);
            return -1;
        }
    }
}

CO_EXPORT ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
    struct co_fd *f = managed(fd);
    struct msghdr msg = { .msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)cnt };

    return f && cnt > 0 ? vector_all(f, fd, &msg, 0, 0) : REAL(writev)(fd, iov, cnt);
}

CO_EXPORT ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
    struct co_fd *f = (flags & MSG_DONTWAIT) ? NULL : managed(fd);
    struct msghdr copy;
    ssize_t r;

    if (f == NULL || msg->msg_iovlen == 0)
        return REAL(sendmsg)(fd, msg, flags);
    copy = *msg;
    r = vector_all(f, fd, &copy, flags, 1);
    return r;
}

CO_EXPORT int socket(int domain, int type, int protocol)
{
    int fd = REAL(socket)(domain, type, protocol);
    struct co_fd *f;

    if (fd < 0 || !co_hooked() || (f = fresh_slot(fd)) == NULL)
        return fd;
    adopt_socket(f, fd, type & SOCK_NONBLOCK);
    return fd;
}

CO_EXPORT int connect(int fd, const struct sockaddr *addr, socklen_t len)
{
    struct co_fd *f = managed(fd);
    int r, e, soerr = 0;
    socklen_t elen = sizeof soerr;

    if (f == NULL)
        return REAL(connect)(fd, addr, len);
    r = REAL(connect)(fd, addr, len);
    if (r == 0 || errno != EINPROGRESS)
        return r;
    /* As a blocking connect: SO_SNDTIMEO bounds it, and expiry says EINPROGRESS. */
    if ((e = wait_ready(fd, EPOLLOUT, f->snd_timeout_ms)) != 0) {
        errno = e == -ETIMEDOUT ? EINPROGRESS : -e;
        return -1;
    }
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &elen) != 0)
        return -1;
    if (soerr != 0) {
        errno = soerr;
        return -1;
    }
    return 0;
}

CO_EXPORT int accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
    struct co_fd *f = managed(fd);
    int hooked = co_hooked();

    for (;;) {
        int c = REAL(accept4)(fd, addr, len, hooked ? flags | SOCK_NONBLOCK : flags);
        int e;
        if (c >= 0) {
            struct co_fd *cf;
            if (hooked && (cf = fresh_slot(c)) != NULL) {
                cf->kind = CO_FD_SOCKET;
                cf->user_nonblock = (flags & SOCK_NONBLOCK) != 0;
            }
            return c;
        }
        if (f == NULL || (errno != EAGAIN && errno != EWOULDBLOCK))
            return -1;
        if ((e = wait_ready(fd, EPOLLIN, f->rcv_timeout_ms)) != 0) {
            wait_failed(e);
            return -1;
        }
    }
}

CO_EXPORT int accept(int fd, struct sockaddr *addr, socklen_t *len)
{
    return accept4(fd, addr, len, 0);
}

/* libco's co_accept: accept, the new socket known to the hooks. */
CO_EXPORT int co_accept(int fd, struct sockaddr *addr, socklen_t *len)
{
    return accept4(fd, addr, len, 0);
}

/* libco's programs declare co_accept themselves, in C++ (its echo server
 * does): the same function under C++'s name for int co_accept(int,
 * sockaddr *, socklen_t *) -- socklen_t is unsigned int ('j') on Linux. */
int co_accept_cplusplus(int fd, struct sockaddr *addr, socklen_t *len) __asm__("_Z9co_acceptiP8sockaddrPj");
CO_EXPORT int co_accept_cplusplus(int fd, struct sockaddr *addr, socklen_t *len)
{
    return accept4(fd, addr, len, 0);
}

CO_EXPORT int close(int fd)
{
    struct co_fd *f = co_fd_peek(fd);

    /* (an fd co_poll registered without classifying it has state too) */
    if (f != NULL && (f->kind != CO_FD_UNKNOWN || f->loop != NULL || f->missed != 0)) {
        if (f->waiters)
            co_fd_wake_closed(f);   /* a coroutine parked on it wakes with EBADF */
        /* Out of the epoll set first: closing removes it only with the open
         * file's last fd, and the file may live on elsewhere (dup, fork, a
         * socket handed to another process), still reporting under this
         * number -- which its next owner may be waiting on, in another loop. */
        co_fd_unregister(f, fd);
        co_fd_forget(fd);
    }
    return REAL(close)(fd);
}

CO_EXPORT int fcntl(int fd, int cmd, ...)
{
    va_list ap;
    void *arg;
    struct co_fd *f = co_fd_peek(fd);
    int r;

    va_start(ap, cmd);
    arg = va_arg(ap, void *);   /* int or pointer: both travel in one register */
    va_end(ap);
    if (f == NULL || f->kind != CO_FD_SOCKET)
        return REAL(fcntl)(fd, cmd, arg);
    switch (cmd) {
    case F_GETFL:
        r = REAL(fcntl)(fd, cmd);
        if (r >= 0 && !f->user_nonblock)
            r &= ~O_NONBLOCK;   /* the program sees the mode it chose */
        return r;
    case F_SETFL: {
        int fl = (int)(intptr_t)arg;
        r = REAL(fcntl)(fd, cmd, fl | O_NONBLOCK);
        if (r == 0)
            f->user_nonblock = (fl & O_NONBLOCK) != 0;
        return r;
    }
    default:
        return REAL(fcntl)(fd, cmd, arg);
    }
}

CO_EXPORT int setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
    int r = REAL(setsockopt)(fd, level, name, val, len);

    if (r == 0 && level == SOL_SOCKET && (name == SO_RCVTIMEO || name == SO_SNDTIMEO)
        && len >= (socklen_t)sizeof(struct timeval)) {
        const struct timeval *tv = val;
        struct co_fd *f = co_fd_get(fd);
        long long ms = (long long)tv->tv_sec * 1000 + tv->tv_usec / 1000;
        int t = ms <= 0 ? -1 : ms > INT32_MAX ? INT32_MAX : (int)ms;
        if (f != NULL) {
            if (name == SO_RCVTIMEO)
                f->rcv_timeout_ms = t;
            else
                f->snd_timeout_ms = t;
        }
    }
    return r;
}

CO_EXPORT int poll(struct pollfd *fds, nfds_t n, int timeout)
{
    if (!co_hooked() || timeout == 0)
        return REAL(poll)(fds, n, timeout);
    return co_poll(NULL, fds, n, timeout);
}

CO_EXPORT unsigned sleep(unsigned s)
{
    if (!co_hooked())
        return REAL(sleep)(s);
    co_sleep_ms((int64_t)s * 1000);
    return 0;
}

CO_EXPORT int usleep(useconds_t us)
{
    if (!co_hooked())
        return REAL(usleep)(us);
    co_sleep_ms((int64_t)((us + 999) / 1000));
    return 0;
}

CO_EXPORT int nanosleep(const struct timespec *req, struct timespec *rem)
{
    if (!co_hooked())
        return REAL(nanosleep)(req, rem);
    if (req == NULL || req->tv_nsec < 0 || req->tv_nsec >= 1000000000) {
        errno = EINVAL;
        return -1;
    }
    co_sleep_ms((int64_t)req->tv_sec * 1000 + (req->tv_nsec + 999999) / 1000000);
    if (rem)
        rem->tv_sec = rem->tv_nsec = 0;
    return 0;
}
