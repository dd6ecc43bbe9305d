/* SPDX-License-Identifier: Apache-2.0 */
/* co_env.c — the per-thread environment: created on first use, freed at thread exit. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dlfcn.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "co_internal.h"
#include "co_sanitizer.h"

/*
 * A thread without an env points at co_env_none, so the fast paths need no
 * NULL test: co_resume's thread check fails for every coroutine, and
 * co_yield_ct finds co_no_resumer, whose gate sends it to its slow path.
 */
struct stCoRoutine_t co_no_resumer = { .gate = CO_EVICTED | CO_FINISHED, .is_main = 1 };

struct co_env co_env_none = {
    .current = &co_env_none.main,
    .main = { .is_main = 1, .gate = CO_RUNNING, .resumer = &co_no_resumer },
};

__thread struct co_env *co_env_tls __attribute__((tls_model("initial-exec"))) = &co_env_none;

static pthread_key_t env_key;
static pthread_once_t env_key_once = PTHREAD_ONCE_INIT;

static void env_destroy(void *arg)
{
    struct co_env *env = arg;

    co_loop_free(env);
    co_stack_cache_drain(env);
    if (env->scratch)
        co_stack_unmap(&(struct co_stack){ .base = env->scratch, .map_size = env->scratch_size,
                                           .vg_id = env->scratch_vg_id });
    co_guard_thread_fini(env);
    co_specific_free(&env->main);
    if (co_env_tls == env)
        co_env_tls = &co_env_none;
    /*
     * Coroutines the thread never released, or shares it used, still hold
     * this address.  Freeing it would let the next thread's env take the
     * same address, and a stale coroutine would pass the thread check; so
     * it stays, marked dead, until its last share is freed.
     */
    if (env->counters.live != 0 || env->counters.shared_stacks != 0)
        env->dead = 1;
    else
        free(env);
}

/* A dead env whose last share was just freed (and with no coroutines left) goes. */
void co_env_release_zombie(struct co_env *env)
{
    if (env->dead && env->counters.live == 0 && env->counters.shared_stacks == 0)
        free(env);
}

static void env_key_init(void)
{
    if (pthread_key_create(&env_key, env_destroy) != 0)
        co_die("cannot create the thread-exit key for coroutine environments");
}

static void env_find_thread_stack(struct co_env *env)
{
    pthread_attr_t attr;
    void *lo;
    size_t size;

    if (pthread_getattr_np(pthread_self(), &attr) != 0)
        return;
    if (pthread_attr_getstack(&attr, &lo, &size) == 0) {
        env->main_stack_lo = lo;
        env->main_stack_size = size;
    }
    pthread_attr_destroy(&attr);
}

struct co_env *co_env_get(void)
{
    struct co_env *env = co_env_tls;

    if (CO_LIKELY(env != &co_env_none))
        return env;
    pthread_once(&env_key_once, env_key_init);
    env = aligned_alloc(_Alignof(struct co_env), sizeof *env);
    if (env != NULL)
        memset(env, 0, sizeof *env);
    if (env == NULL)
        return NULL;
    env->main.gate = (uintptr_t)env | CO_RUNNING;
    env->main.is_main = 1;
    env->main.resumer = &co_no_resumer;
    env->current = &env->main;
    env->depth_left = CO_MAX_DEPTH - 1;
    env->thread_id = (unsigned long)syscall(SYS_gettid);
    env_find_thread_stack(env);
    if (co_guard_thread_init(env) != 0) {
        free(env);
        return NULL;
    }
    pthread_setspecific(env_key, env);
    co_env_tls = env;
    return env;
}

struct co_counters co_get_counters(void)
{
    struct co_env *env = co_env_tls;

    if (env == &co_env_none)
        return (struct co_counters){ 0 };
    return env->counters;
}

/* "coroutine 0x... (routine name+off, thread N)" for messages. */
const char *co_describe(const struct stCoRoutine_t *co, char *buf, size_t len)
{
    Dl_info info;

    if (co->is_main) {
        snprintf(buf, len, "the main context of thread %lu", co_env_of(co)->thread_id);
        return buf;
    }
    if (dladdr((void *)co->fn, &info) && info.dli_sname)
        snprintf(buf, len, "coroutine %p (routine %s, thread %lu)", (const void *)co,
                 info.dli_sname, co_env_of(co)->thread_id);
    else
        snprintf(buf, len, "coroutine %p (routine %p, thread %lu)", (const void *)co,
                 (void *)co->fn, co_env_of(co)->thread_id);
    return buf;
}

void co_die(const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    int n;

    n = snprintf(msg, sizeof msg, "costack: ");
    va_start(ap, fmt);
    vsnprintf(msg + n, sizeof msg - (size_t)n - 1, fmt, ap);
    va_end(ap);
    strcat(msg, "\n");
    co_raw_write(STDERR_FILENO, msg, strlen(msg));
    abort();
}

void co_raw_write(int fd, const char *p, size_t n)
{
    while (n > 0) {
        long w = syscall(SYS_write, fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;   /* nothing better to do on the way out */
        p += w;
        n -= (size_t)w;
    }
}
