/* redis_reply.c — redis mode: a client's queue of replies, the replies coproxy makes, and its output limits. */
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

#include "costack.h"
#include "log.h"
#include "redis.h"
#include "redis_client.h"
#include "redis_cmd.h"
#include "redis_local.h"
#include "redis_pinned.h"
#include "redis_pushback.h"
#include "redis_route.h"
#include "worker.h"


/* The client's address, "host:port" ("unix:0" on a Unix socket; "?:0" if unknown): for CLIENT LIST and logs. */
const char *client_addr(const struct redis_client *c, char *out, size_t n)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    char host[INET6_ADDRSTRLEN] = "?";
    int port = 0;

    if (getpeername(c->fd, (struct sockaddr *)&ss, &len) == 0) {
        if (ss.ss_family == AF_INET) {
            inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, host, sizeof host);
            port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        } else if (ss.ss_family == AF_INET6) {
            inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, host, sizeof host);
            port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
        } else {
            snprintf(host, sizeof host, "unix");
        }
    }
    snprintf(out, n, "%s:%d", host, port);
    return out;
}

/* Replies pile up for a client that does not read them: past the pool's
 * limits it is closed (its socket shut down wakes it wherever it waits). */
static void client_output_check(struct redis_client *c);

static void soft_limit_due(void *arg)
{
    struct redis_client *c = arg;

    if (c->soft_since != 0)
        client_output_check(c);
}

static void client_output_check(struct redis_client *c)
{
    const struct pool_conf *pc = c->pool->conf;
    uint64_t now;
    char addr[80];

    if (c->overflow)
        return;
    if (pc->client_output_limit == 0 || c->reply_bytes <= pc->client_output_limit) {
        if (pc->client_output_soft_limit == 0 || c->reply_bytes <= pc->client_output_soft_limit) {
            c->soft_since = 0;
            return;
        }
        now = worker_now_ms();
        if (c->soft_since == 0) {
            /* over from now: looked at again when the time is up, whether
             * or not more replies come meanwhile */
            c->soft_since = now;
            if (c->soft_timer == NULL)
                c->soft_timer = co_timer_new(soft_limit_due, c);
            if (c->soft_timer != NULL)
                co_timer_arm(c->soft_timer, pc->client_output_soft_time);
        }
        if (now - c->soft_since < (uint64_t)pc->client_output_soft_time)
            return;
    }
    c->overflow = 1;
    c->pool->stats->client_output_closed++;
    log_warn("pool %s: client %s closed: %llu bytes of replies it has not read (client_output_limit %llu, "
             "client_output_soft_limit %llu for %d ms)", pc->name, client_addr(c, addr, sizeof addr),
             (unsigned long long)c->reply_bytes, (unsigned long long)pc->client_output_limit,
             (unsigned long long)pc->client_output_soft_limit, pc->client_output_soft_time);
    shutdown(c->fd, SHUT_RDWR);
    client_wake_up(c);
}

/* m's reply is final (msg_finish): counted, and the client woken if it waits for it. */
static void client_reply_done(struct redis_client *c, struct msg *m)
{
    const struct pool_conf *pc = c->pool->conf;

    if (!m->counted && !m->silent) {
        m->counted = 1;
        c->reply_bytes += m->reply.len;
        if ((pc->client_output_limit != 0 && c->reply_bytes > pc->client_output_limit)
            || (pc->client_output_soft_limit != 0 && c->reply_bytes > pc->client_output_soft_limit))
            client_output_check(c);
    }
    if (c->waiting && m == c->head) {
        c->waiting = 0;
        co_cond_signal(c->cond);
    }
}

void client_wake_up(struct redis_client *c)
{
    if (c->waiting || c->sub_waiting) {
        c->waiting = c->sub_waiting = 0;
        co_cond_signal(c->cond);
    }
}

/* ---- the client's queue --------------------------------------------------- */

/* A new message at the tail of the client's queue (NULL: out of memory, the
 * client is closed). */
struct msg *client_queue_msg(struct redis_client *c)
{
    struct msg *m = msg_get(c->w);

    if (m == NULL) {
        c->closing = 1;
        return NULL;
    }
    m->client = c;
    m->finished = client_reply_done;
    m->refs = 1;
    m->start_us = c->batch_us;
    m->silent = c->reply_off || c->reply_skip > 0;   /* CLIENT REPLY OFF / SKIP */
    if (c->reply_skip > 0)
        c->reply_skip--;
    *c->tail = m;
    c->tail = &m->cnext;
    c->nqueued++;
    return m;
}

/* A reply made here: appended to the queue already done. */
void client_reply_raw(struct redis_client *c, const char *p, size_t n)
{
    struct msg *m = client_queue_msg(c);

    if (m == NULL)
        return;
    if (rbuf_append(&m->reply, p, n) != 0)
        m->reply.len = 0;
    m->done = 1;
    c->pool->stats->local_replies++;
}

void client_reply_str(struct redis_client *c, const char *s)
{
    client_reply_raw(c, s, strlen(s));
}

void client_reply_error(struct redis_client *c, const char *fmt, ...)
{
    struct msg *m = client_queue_msg(c);
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

void client_reply_bulk(struct redis_client *c, const char *s, size_t n)
{
    struct msg *m = client_queue_msg(c);

    if (m == NULL)
        return;
    if (rbuf_reserve(&m->reply, resp_write_bulk_len(n)) == 0)
        m->reply.len = resp_write_bulk(m->reply.data, s, n);
    m->done = 1;
    c->pool->stats->local_replies++;
}

void client_reply_int(struct redis_client *c, int64_t v)
{
    char out[RESP_INT_MAX_LEN];

    client_reply_raw(c, out, resp_write_int(out, ':', v));
}

/* A command name fit for an error message: printable, at most 64 bytes. */
const char *client_printable(const char *s, size_t n, char out[72])
{
    size_t i;

    for (i = 0; i < n && i < 64; i++)
        out[i] = isprint((unsigned char)s[i]) && s[i] != '\'' ? s[i] : '?';
    out[i] = '\0';
    return out;
}

const char *redis_lower_name(const char *s, char out[40])
{
    size_t i;

    for (i = 0; s[i] && i < 39; i++)
        out[i] = (char)tolower((unsigned char)s[i]);
    out[i] = '\0';
    return out;
}
