/* SPDX-License-Identifier: Apache-2.0 */
/* dist_probe.c — prints, for each key read from stdin, the server twemproxy would send it to. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dist.h"
#include "hashkit.h"

/*
 * usage: dist_probe DISTRIBUTION HASH HASH_TAG SERVER...
 *
 * SERVER is written as in a twemproxy pool: "host:port:weight [name]".
 * Keys are read one per line (the line's bytes without its '\n', so a key
 * cannot hold a newline; "" lines are the empty key); for each, the index
 * of its server among the SERVER arguments is printed on its own line.
 */

static void usage(void)
{
    fprintf(stderr, "usage: dist_probe DISTRIBUTION HASH HASH_TAG 'host:port:weight [name]'...\n");
    exit(2);
}

/*
 * Parses one server the way twemproxy's conf_add_server does, from the end:
 * the name after the last space, the weight after the last ':', the port
 * before it.  With no name, ketama uses the "host:port" text, or "host"
 * alone when the port is 11211 (libmemcached compatibility).  Returns the
 * copy of spec that out->name points into (the caller frees it); exits on
 * a malformed spec.
 */
static char *parse_server(const char *spec, struct dist_server *out)
{
    char *s = strdup(spec), *space, *wcolon, *pcolon, *end;
    long weight, port;

    if (s == NULL) {
        perror("strdup");
        exit(1);
    }
    space = strrchr(s, ' ');
    if (space != NULL)
        *space = '\0';
    wcolon = strrchr(s, ':');
    if (wcolon == NULL)
        goto bad;
    *wcolon = '\0';
    pcolon = strrchr(s, ':');
    if (pcolon == NULL || pcolon == s)
        goto bad;
    weight = strtol(wcolon + 1, &end, 10);
    if (wcolon[1] == '\0' || *end != '\0' || weight < 1)
        goto bad;
    port = strtol(pcolon + 1, &end, 10);
    if (pcolon[1] == '\0' || *end != '\0' || port < 1 || port > 65535)
        goto bad;
    if (space != NULL) {
        out->name = space + 1;
    } else {
        if (port == 11211)
            *pcolon = '\0';
        out->name = s;              /* "host:port" (the weight cut off above) */
    }
    out->weight = (int)weight;
    out->live = 1;
    return s;
bad:
    fprintf(stderr, "dist_probe: bad server '%s' (expected host:port:weight [name])\n", spec);
    exit(2);
}

int main(int argc, char **argv)
{
    struct dist d = { 0 };
    struct dist_server *servers;
    char **specs;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int dist, hash, nserver, i;
    const char *tag;

    if (argc < 5)
        usage();
    dist = dist_parse(argv[1]);
    hash = hash_parse(argv[2]);
    tag = argv[3];
    if (dist < 0 || hash < 0) {
        fprintf(stderr, "dist_probe: unknown %s '%s'\n", dist < 0 ? "distribution" : "hash",
                dist < 0 ? argv[1] : argv[2]);
        return 2;
    }
    if (tag[0] != '\0' && strlen(tag) != 2) {
        fprintf(stderr, "dist_probe: hash tag '%s' is not two characters\n", tag);
        return 2;
    }
    nserver = argc - 4;
    servers = calloc((size_t)nserver, sizeof *servers);
    specs = calloc((size_t)nserver, sizeof *specs);
    if (servers == NULL || specs == NULL) {
        perror("calloc");
        return 1;
    }
    for (i = 0; i < nserver; i++)
        specs[i] = parse_server(argv[4 + i], &servers[i]);
    if (dist_build(&d, (enum dist_kind)dist, servers, nserver) != 0) {
        fprintf(stderr, "dist_probe: out of memory\n");
        return 1;
    }
    while ((n = getline(&line, &cap, stdin)) >= 0) {
        const char *part;
        size_t len = (size_t)n, plen;

        if (len > 0 && line[len - 1] == '\n')
            len--;
        part = hash_tag_part(tag, line, len, &plen);
        /* twemproxy skips hashing when the pool has a single server */
        printf("%d\n", nserver == 1 ? 0
                                    : dist_pick(&d, hash_key((enum hash_kind)hash, part, plen)));
    }
    free(line);
    dist_free(&d);
    for (i = 0; i < nserver; i++)
        free(specs[i]);
    free(specs);
    free(servers);
    return ferror(stdout) || fflush(stdout) != 0 ? 1 : 0;
}
