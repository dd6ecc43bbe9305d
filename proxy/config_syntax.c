/* SPDX-License-Identifier: Apache-2.0 */
/* config_syntax.c — a configuration file read with libconfig, its syntax checked first so that nothing leaks. */
#define _GNU_SOURCE
#include <errno.h>
#include <libconfig.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config_syntax.h"

/*
 * libconfig 1.5 drops a string's buffer when a syntax error comes at the
 * string (`log_level "info";`, an '=' left out): 64 bytes or more lost
 * with each file rejected, in a daemon that may be reloaded for years.  So
 * the text is parsed first with each run of adjacent strings (one value)
 * made a plain word -- the same syntax, token for token and line for line,
 * and no string for libconfig to drop -- and a syntax error is reported from
 * that parse; the file itself is parsed only when its syntax holds, and then
 * no syntax error can come at a string.  Twice, the strings made a 0 and
 * then a false: the one check that tells a string from a number or a bool,
 * an array's elements having one type, fails in one of the two at least
 * wherever it fails in the file, so a syntax error both find is the file's
 * first error.  (A file with an @include is parsed as it is: a run could
 * go on in a file it includes.)
 */

/* Does an @include directive start at t[i], the start of a line?  (As
 * libconfig's scanner sees one: ^[ \t]*@include[ \t]+\".) */
static int include_at(const char *t, size_t len, size_t i)
{
    while (i < len && (t[i] == ' ' || t[i] == '\t'))
        i++;
    if (len - i < 9 || memcmp(t + i, "@include", 8) != 0 || (t[i + 8] != ' ' && t[i + 8] != '\t'))
        return 0;
    for (i += 8; i < len && (t[i] == ' ' || t[i] == '\t'); i++)
        ;
    return i < len && t[i] == '"';
}

/*
 * An @include of something that is not a regular file (a directory, a
 * FIFO, a device) ends libconfig's scanner with exit(): "input in flex
 * scanner failed", the daemon gone -- on a reload too.  Its line, with err
 * set, or 0.  (A missing file libconfig reports itself.)
 */
static int include_not_a_file(const char *t, size_t len, const char *file, char *err, size_t errlen)
{
    int line = 1;

    for (size_t i = 0; i < len; i++) {
        if ((i == 0 || t[i - 1] == '\n') && include_at(t, len, i)) {
            char path[4096];
            size_t k = 0, q = (size_t)((const char *)memchr(t + i, '"', len - i) - t) + 1;
            struct stat st;
            while (q < len && t[q] != '"' && t[q] != '\0' && t[q] != '\n' && k < sizeof path - 1)
                path[k++] = t[q++];
            path[k] = '\0';
            if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
                snprintf(err, errlen, "%s:%d: @include \"%s\": not a regular file", file, line, path);
                return line;
            }
        }
        if (t[i] == '\n')
            line++;
    }
    return 0;
}

/* t[0..len) with every run of strings made `word`, into out (room for
 * (strlen(word) + 6) * len / 2 + 1 bytes: "" becomes the word, a space before
 * and a comment after, so that it stays a token of its own).  Comments are
 * skipped as libconfig's scanner skips them; the newlines inside strings are
 * kept.  *include is set if t has an @include directive. */
static size_t strings_as(const char *t, size_t len, const char *word, char *out, int *include)
{
    size_t i = 0, o = 0;
    int after_string = 0;   /* the last token was a string: a string next goes on with its run */

    while (i < len) {
        if (t[i] == '"') {
            int closed = 0;
            for (i++; i < len; i++) {
                if (t[i] == '\\' && i + 1 < len && (t[i + 1] == '"' || t[i + 1] == '\\')) {
                    i++;
                } else if (t[i] == '"') {
                    closed = 1;
                    i++;
                    break;
                } else if (t[i] == '\n') {
                    out[o++] = '\n';
                }
            }
            if (closed) {   /* (a string the file ends in is no token: libconfig drops it) */
                if (!after_string)
                    o += (size_t)sprintf(out + o, " %s", word);
                memcpy(out + o, "/**/", 4);
                o += 4;
                after_string = 1;
            }
        } else if (t[i] == '#' || (t[i] == '/' && i + 1 < len && t[i + 1] == '/')) {
            while (i < len && t[i] != '\n')
                out[o++] = t[i++];
        } else if (t[i] == '/' && i + 1 < len && t[i + 1] == '*') {
            out[o++] = t[i++];
            out[o++] = t[i++];
            while (i < len && !(t[i] == '*' && i + 1 < len && t[i + 1] == '/'))
                out[o++] = t[i++];
            for (int k = 0; k < 2 && i < len; k++)
                out[o++] = t[i++];
        } else {
            if ((i == 0 || t[i - 1] == '\n') && include_at(t, len, i))
                *include = 1;
            if (t[i] == '\0' || strchr(" \t\n\r\f", t[i]) == NULL)   /* (NUL is a token to libconfig) */
                after_string = 0;
            out[o++] = t[i++];
        }
    }
    return o;
}

/* Does libconfig find a syntax error in t[0..len) with its strings made
 * `word`?  Then its line, else 0 (no error, another one, an @include, or
 * out of memory). */
static int syntax_error_line(const char *t, size_t len, const char *word)
{
    char *text = malloc((strlen(word) + 6) * len / 2 + 1);
    int line = 0, include = 0;
    size_t n;
    config_t lc;
    FILE *f;

    if (text == NULL)
        return 0;
    n = strings_as(t, len, word, text, &include);
    if (!include && (f = fmemopen(text, n, "r")) != NULL) {
        config_init(&lc);
        if (!config_read(&lc, f) && config_error_type(&lc) == CONFIG_ERR_PARSE
            && strcmp(config_error_text(&lc), "syntax error") == 0)
            line = config_error_line(&lc);
        config_destroy(&lc);
        fclose(f);
    }
    free(text);
    return line;
}

/* Is file's syntax wrong?  Then 1, with err set as libconfig says it; 0
 * when it holds, or when it cannot tell (libconfig reads the file next). */
static int syntax_error(const char *file, char *err, size_t errlen)
{
    char *text = NULL;
    size_t len = 0, cap = 0, n;
    int line = 0;
    FILE *f;

    if ((f = fopen(file, "re")) == NULL)
        return 0;
    do {
        if (len + 4096 > cap) {
            char *grown = realloc(text, cap = (cap + 4096) * 2);
            if (grown == NULL) {
                free(text);
                fclose(f);
                return 0;
            }
            text = grown;
        }
        n = fread(text + len, 1, 4096, f);
        len += n;
    } while (n > 0);
    fclose(f);
    if ((line = include_not_a_file(text, len, file, err, errlen)) > 0) {
        free(text);
        return 1;
    }
    if (len > 0 && (line = syntax_error_line(text, len, "0")) > 0
        && syntax_error_line(text, len, "false") == line)
        snprintf(err, errlen, "%s:%d: syntax error", file, line);
    else
        line = 0;
    free(text);
    return line > 0;
}

int config_syntax_read(config_t *lc, const char *file, char *err, size_t errlen)
{
    if (syntax_error(file, err, errlen))
        return -1;
    config_init(lc);
    if (config_read_file(lc, file))
        return 0;
    if (config_error_type(lc) == CONFIG_ERR_FILE_IO)
        snprintf(err, errlen, "%s: cannot read: %s", file, strerror(errno));
    else   /* "syntax error", "cannot open include file": maybe in an @include'd file */
        snprintf(err, errlen, "%s:%d: %s", config_error_file(lc) ? config_error_file(lc) : file,
                 config_error_line(lc), config_error_text(lc));
    config_destroy(lc);
    return -1;
}
