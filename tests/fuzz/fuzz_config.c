/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_config.c — libFuzzer target: the configuration loader (libconfig, then every check). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <netdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config_file.h"

/* Host names are resolved at load: here only numeric ones are, so that a
 * random name costs no DNS query (this replaces libc's for the target). */
int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints, struct addrinfo **res)
{
    struct addrinfo h = hints ? *hints : (struct addrinfo){ 0 };
    int (*real)(const char *, const char *, const struct addrinfo *, struct addrinfo **);

    h.ai_flags |= AI_NUMERICHOST | AI_NUMERICSERV;
    *(void **)&real = dlsym(RTLD_NEXT, "getaddrinfo");
    return real(node, service, &h, res);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char path[64];
    struct config cfg;
    char err[512];
    FILE *f;

    if (path[0] == '\0')
        snprintf(path, sizeof path, "/tmp/coproxy-fuzz-config.%d", (int)getpid());
    if ((f = fopen(path, "w")) == NULL)
        return 0;
    fwrite(data, 1, size, f);
    fclose(f);
    memset(&cfg, 0, sizeof cfg);
    if (config_load(path, &cfg, err, sizeof err) == 0)
        config_free(&cfg);
    else if (strncmp(err, path, strlen(path)) != 0)
        abort();   /* every error names the file */
    return 0;
}
