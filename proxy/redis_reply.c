/* SPDX-License-Identifier: Apache-2.0 */
/* redis_reply.c — redis mode: the replies coproxy makes itself (errors, statuses, bulks, integers), queued done. */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "redis_msg.h"
#include "redis_reply.h"



/* A reply made here: appended to the queue already done. */
void reply_raw(struct redis_client *c, const char *p, size_t n)
{
    struct msg *m = msg_queue(c);

    if (m == NULL)
        return;
    if (rbuf_append(&m->reply, p, n) != 0)
        m->reply.len = 0;
    m->done = 1;
    c->pool->stats->local_replies++;
}

void reply_str(struct redis_client *c, const char *s)
{
    reply_raw(c, s, strlen(s));
}

void reply_error(struct redis_client *c, const char *fmt, ...)
{
    struct msg *m = msg_queue(c);
    char text[512];
    va_list ap;

    if (m == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    if (rbuf_printf(&m->reply, "-%s\r\n", text) != 0)
        m->reply.len = 0;
    m->done = 1;
    c->pool->stats->local_replies++;
}

void reply_bulk(struct redis_client *c, const char *s, size_t n)
{
    struct msg *m = msg_queue(c);

    if (m == NULL)
        return;
    if (rbuf_reserve(&m->reply, resp_write_bulk_len(n)) == 0)
        m->reply.len = resp_write_bulk(m->reply.data, s, n);
    m->done = 1;
    c->pool->stats->local_replies++;
}

void reply_null(struct redis_client *c)
{
    reply_str(c, c->resp3 ? "_\r\n" : "$-1\r\n");
}

void reply_verbatim(struct redis_client *c, const char *s, size_t n)
{
    struct msg *m;

    if (!c->resp3) {
        reply_bulk(c, s, n);
        return;
    }
    if ((m = msg_queue(c)) == NULL)
        return;
    if (rbuf_printf(&m->reply, "=%zu\r\ntxt:", n + 4) != 0 || rbuf_append(&m->reply, s, n) != 0
        || rbuf_append(&m->reply, "\r\n", 2) != 0)
        m->reply.len = 0;
    m->done = 1;
    c->pool->stats->local_replies++;
}

void reply_int(struct redis_client *c, int64_t v)
{
    char out[RESP_INT_MAX_LEN];

    reply_raw(c, out, resp_write_int(out, ':', v));
}

/* A command name fit for an error message: printable, at most 64 bytes. */
const char *reply_printable(const char *s, size_t n, char out[72])
{
    size_t i;

    for (i = 0; i < n && i < 64; i++)
        out[i] = isprint((unsigned char)s[i]) && s[i] != '\'' ? s[i] : '?';
    out[i] = '\0';
    return out;
}

const char *reply_lower_name(const char *s, char out[40])
{
    size_t i;

    for (i = 0; s[i] && i < 39; i++)
        out[i] = (char)tolower((unsigned char)s[i]);
    out[i] = '\0';
    return out;
}
