/* SPDX-License-Identifier: Apache-2.0 */
/* co_envlist.c — per-coroutine environment variables (co_set_env_list) and co_log_err. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "co_io.h"

/*
 * After co_set_env_list(names), getenv/setenv/unsetenv of one of those
 * names in a hooked coroutine read and write that coroutine's own copy
 * (taken from the process environment on its first use); other names,
 * and every call outside hooked coroutines, reach libc.  The copy is held
 * in coroutine-local storage and freed with the coroutine.
 */

typedef char *(*getenv_fn)(const char *);
typedef int (*setenv_fn)(const char *, const char *, int);
typedef int (*unsetenv_fn)(const char *);
static getenv_fn real_getenv;
static setenv_fn real_setenv;
static unsetenv_fn real_unsetenv;

static char **names;
static size_t nnames;
static pthread_key_t vars_key;
static pthread_once_t vars_once = PTHREAD_ONCE_INIT;

struct vars {
    size_t n;
    char *value[];   /* index: position in names */
};

static void vars_free(void *p)
{
    struct vars *v = p;

    if (v == NULL)
        return;
    for (size_t i = 0; i < v->n; i++)
        free(v->value[i]);
    free(v);
}

static void vars_init(void)
{
    real_getenv = (getenv_fn)dlsym(RTLD_NEXT, "getenv");
    real_setenv = (setenv_fn)dlsym(RTLD_NEXT, "setenv");
    real_unsetenv = (unsetenv_fn)dlsym(RTLD_NEXT, "unsetenv");
    if (pthread_key_create(&vars_key, NULL) == 0)
        co_specific_set_cleanup(vars_key, vars_free);
}

void co_set_env_list(const char *name[], size_t cnt)
{
    pthread_once(&vars_once, vars_init);
    if (names != NULL || cnt == 0)
        return;   /* once per process, as libco */
    names = calloc(cnt, sizeof *names);
    if (names == NULL)
        return;
    for (size_t i = 0; i < cnt; i++)
        if ((names[nnames] = strdup(name[i])) != NULL)
            nnames++;
}

static int listed(const char *name)
{
    for (size_t i = 0; name && i < nnames; i++)
        if (strcmp(names[i], name) == 0)
            return (int)i;
    return -1;
}

/* The running coroutine's copy, made on first use; NULL outside hooked coroutines. */
static struct vars *own_vars(void)
{
    struct vars *v;

    if (nnames == 0 || !co_hooked())
        return NULL;
    v = co_getspecific(vars_key);
    if (v == NULL) {
        v = calloc(1, sizeof *v + nnames * sizeof v->value[0]);
        if (v == NULL)
            return NULL;
        v->n = nnames;
        for (size_t i = 0; i < nnames; i++) {
            const char *val = real_getenv(names[i]);
            v->value[i] = val ? strdup(val) : NULL;
        }
        if (co_setspecific(vars_key, v) != 0) {
            vars_free(v);
            return NULL;
        }
    }
    return v;
}

CO_EXPORT char *getenv(const char *name)
{
    struct vars *v;
    int i;

    pthread_once(&vars_once, vars_init);
    if ((i = listed(name)) < 0 || (v = own_vars()) == NULL)
        return real_getenv(name);
    return v->value[i];
}

CO_EXPORT int setenv(const char *name, const char *value, int overwrite)
{
    struct vars *v;
    char *copy;
    int i;

    pthread_once(&vars_once, vars_init);
    if ((i = listed(name)) < 0 || (v = own_vars()) == NULL)
        return real_setenv(name, value, overwrite);
    if (v->value[i] && !overwrite)
        return 0;
    if ((copy = strdup(value)) == NULL) {
        errno = ENOMEM;
        return -1;
    }
    free(v->value[i]);
    v->value[i] = copy;
    return 0;
}

CO_EXPORT int unsetenv(const char *name)
{
    struct vars *v;
    int i;

    pthread_once(&vars_once, vars_init);
    if ((i = listed(name)) < 0 || (v = own_vars()) == NULL)
        return real_unsetenv(name);
    free(v->value[i]);
    v->value[i] = NULL;
    return 0;
}

void co_log_err(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fputs("costack: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}
