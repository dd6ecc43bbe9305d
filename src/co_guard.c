/* SPDX-License-Identifier: Apache-2.0 */
/* co_guard.c — reports a coroutine stack overflow (a fault in a guard page) by name. */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "co_internal.h"

/*
 * Every coroutine stack has a PROT_NONE page below it.  Running into it
 * raises SIGSEGV on the very stack that is full, so the handler runs on an
 * alternate signal stack (one per thread), checks whether the fault address
 * is in the guard page of the running coroutine's stack, and if so names
 * the coroutine and aborts.  Any other SIGSEGV goes to the handler that was
 * installed before ours, or gets the default action.
 */

#define CO_ALTSTACK_SIZE (64 * 1024)

static struct sigaction prev_segv;
static pthread_once_t handler_once = PTHREAD_ONCE_INIT;

static void chain_to_previous(int sig, siginfo_t *si, void *uctx)
{
    if ((prev_segv.sa_flags & SA_SIGINFO) && prev_segv.sa_sigaction != NULL) {
        prev_segv.sa_sigaction(sig, si, uctx);
    } else if (prev_segv.sa_handler != SIG_DFL && prev_segv.sa_handler != SIG_IGN) {
        prev_segv.sa_handler(sig);
    } else {
        /* Default action: a real fault re-executes and kills us; a sent one is re-raised. */
        signal(sig, SIG_DFL);
        if (si->si_code <= 0)
            raise(sig);
    }
}

static void guard_handler(int sig, siginfo_t *si, void *uctx)
{
    struct co_env *env = co_env_tls;
    const char *addr = si->si_addr;
    long page = sysconf(_SC_PAGESIZE);

    if (env != &co_env_none && si->si_code > 0) {
        struct stCoRoutine_t *co = env->current;
        const struct co_stack *stack = co->on_shared ? &co->shared->stack : co->stack;

        if (stack && addr < stack->base && addr >= stack->base - page) {
            char who[160], msg[400];
            int n = snprintf(msg, sizeof msg,
                             "costack: stack overflow in %s: its %zu-byte %s stack is full "
                             "(fault at %p, in the guard page)\n",
                             co_describe(co, who, sizeof who), stack->size,
                             co->on_shared ? "shared" : "private", (const void *)addr);
            if (n > 0)
                co_raw_write(STDERR_FILENO, msg, (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1);
            signal(SIGABRT, SIG_DFL);
            abort();
        }
    }
    chain_to_previous(sig, si, uctx);
}

static void install_handler(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = guard_handler;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, &prev_segv);
}

/* Gives this thread a signal stack (unless it has one) and installs the handler once. */
int co_guard_thread_init(struct co_env *env)
{
    stack_t old, ss;

    pthread_once(&handler_once, install_handler);
    if (sigaltstack(NULL, &old) == 0 && !(old.ss_flags & SS_DISABLE))
        return 0;   /* the thread (or a sanitizer) already has one */
    ss.ss_sp = mmap(NULL, CO_ALTSTACK_SIZE, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (ss.ss_sp == MAP_FAILED)
        return -1;
    ss.ss_size = CO_ALTSTACK_SIZE;
    ss.ss_flags = 0;
    if (sigaltstack(&ss, NULL) != 0) {
        munmap(ss.ss_sp, CO_ALTSTACK_SIZE);
        return -1;
    }
    env->altstack = ss.ss_sp;
    env->altstack_size = CO_ALTSTACK_SIZE;
    return 0;
}

void co_guard_thread_fini(struct co_env *env)
{
    stack_t ss = { .ss_flags = SS_DISABLE };

    if (env->altstack == NULL)
        return;
    sigaltstack(&ss, NULL);
    munmap(env->altstack, env->altstack_size);
    env->altstack = NULL;
}
