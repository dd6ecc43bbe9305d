/* SPDX-License-Identifier: Apache-2.0 */
/* co_resolve.c — name resolution that parks the coroutine instead of stalling its thread. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "co_io.h"

/*
 * glibc's resolver makes its socket calls internally, out of the hooks'
 * reach, so a lookup in a hooked coroutine runs on a short-lived helper
 * thread instead; the coroutine parks on an eventfd the helper signals.
 * The thread's other coroutines keep running meanwhile.  Outside hooked
 * coroutines these are libc's functions, unchanged.
 */

typedef int (*getaddrinfo_fn)(const char *, const char *, const struct addrinfo *, struct addrinfo **);
typedef int (*gethostbyname_r_fn)(const char *, struct hostent *, char *, size_t, struct hostent **, int *);

static getaddrinfo_fn real_getaddrinfo;
static gethostbyname_r_fn real_gethostbyname_r;
typedef struct hostent *(*gethostbyname_fn)(const char *);
static gethostbyname_fn real_gethostbyname;

__attribute__((constructor)) static void resolve_init(void)
{
    real_getaddrinfo = (getaddrinfo_fn)dlsym(RTLD_NEXT, "getaddrinfo");
    real_gethostbyname = (gethostbyname_fn)dlsym(RTLD_NEXT, "gethostbyname");
    real_gethostbyname_r = (gethostbyname_r_fn)dlsym(RTLD_NEXT, "gethostbyname_r");
}

struct lookup {
    int efd;
    /* getaddrinfo */
    const char *node, *service;
    const struct addrinfo *hints;
    struct addrinfo *res;
    /* gethostbyname */
    const char *name;
    struct hostent *host, *host_res;
    char *buf;
    size_t buflen;
    int herr;
    int rc;
};

static void *lookup_main(void *arg)
{
    struct lookup *l = arg;
    uint64_t one = 1;

    if (l->name)
        l->rc = real_gethostbyname_r(l->name, l->host, l->buf, l->buflen, &l->host_res, &l->herr);
    else
        l->rc = real_getaddrinfo(l->node, l->service, l->hints, &l->res);
    /* Not a hooked thread: this is libc's write. */
    if (write(l->efd, &one, sizeof one) < 0)
        abort();   /* an eventfd write of 1 cannot fail; the waiter would hang */
    return NULL;
}

/* Runs l on a helper thread and parks until it is done.  0, or -1 if it could not start. */
static int run_lookup(struct lookup *l)
{
    pthread_attr_t attr;
    pthread_t t;
    struct pollfd p;
    int err;

    l->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (l->efd < 0)
        return -1;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    err = pthread_create(&t, &attr, lookup_main, l);
    pthread_attr_destroy(&attr);
    if (err != 0) {
        close(l->efd);
        return -1;
    }
    p.fd = l->efd;
    p.events = POLLIN;
    while (co_poll(NULL, &p, 1, -1) <= 0) {
        /* only a completed lookup makes it readable */
    }
    close(l->efd);
    return 0;
}

/*
 * The lookup record is on the heap: the helper thread writes into it while
 * the coroutine is parked, and a parked shared-stack coroutine's stack is
 * not its own.  The arguments are copied into it for the same reason.
 */
static struct lookup *lookup_new(const char *a, const char *b)
{
    size_t la = a ? strlen(a) + 1 : 0, lb = b ? strlen(b) + 1 : 0;
    struct lookup *l = calloc(1, sizeof *l + la + lb + sizeof(struct addrinfo));
    char *p;

    if (l == NULL)
        return NULL;
    p = (char *)(l + 1) + sizeof(struct addrinfo);
    if (a)
        l->node = memcpy(p, a, la);
    if (b)
        l->service = memcpy(p + la, b, lb);
    return l;
}

CO_EXPORT int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                struct addrinfo **res)
{
    struct lookup *l;
    int rc;

    if (!co_hooked() || (l = lookup_new(node, service)) == NULL)
        return real_getaddrinfo(node, service, hints, res);
    if (hints) {
        struct addrinfo *h = (struct addrinfo *)(l + 1);
        *h = *hints;
        h->ai_addr = NULL;      /* hints carry flags, family, type and protocol only */
        h->ai_canonname = NULL;
        h->ai_next = NULL;
        l->hints = h;
    }
    if (run_lookup(l) != 0) {
        free(l);
        return real_getaddrinfo(node, service, hints, res);
    }
    *res = l->res;
    rc = l->rc;
    free(l);
    return rc;
}

/* gethostbyname's result lives in per-thread storage, as glibc's does: valid
 * until the thread's next call (another coroutine's included). */
struct host_store {
    struct hostent host;
    char buf[8192];
};
static __thread struct host_store *host_store;

CO_EXPORT struct hostent *gethostbyname(const char *name)
{
    struct lookup *l;
    struct hostent *h;

    if (!co_hooked() || name == NULL)
        return real_gethostbyname(name);
    if (host_store == NULL && (host_store = calloc(1, sizeof *host_store)) == NULL)
        return real_gethostbyname(name);
    if ((l = lookup_new(name, NULL)) == NULL)
        return real_gethostbyname(name);
    l->name = l->node;
    l->node = NULL;
    l->host = &host_store->host;
    l->buf = host_store->buf;
    l->buflen = sizeof host_store->buf;
    if (run_lookup(l) != 0) {
        free(l);
        return real_gethostbyname(name);
    }
    h = l->rc == 0 ? l->host_res : NULL;
    if (h == NULL)
        h_errno = l->herr;
    free(l);
    return h;
}
