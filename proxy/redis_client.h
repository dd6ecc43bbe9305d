/* redis_client.h — one redis-mode client: its state, and the helpers the
 * parts that answer it (redis_client.c, redis_pubsub.c) share. */
#ifndef COPROXY_REDIS_CLIENT_H
#define COPROXY_REDIS_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "redis.h"
#include "redis_cmd.h"

struct redis_pubsub;

struct redis_client {
    struct worker *w;
    struct redis_pool *pool;
    struct redis_client *prev, *next;    /* the pool's open clients */
    struct co_timer *idle;
    struct stCoCond_t *cond;             /* waits for the head's reply (made on first use) */
    struct rbuf in;                      /* input; [in_off, in.len) not parsed yet */
    size_t in_off;
    struct resp_request req;
    struct msg *head, **tail;            /* requests in order, until their replies are written */
    uint32_t nqueued;
    uint64_t batch_us;                   /* when the requests being parsed arrived */
    int fd;
    char *name;                          /* CLIENT SETNAME */
    uint64_t id;
    uint8_t authed;
    uint8_t waiting;                     /* parked on cond for the head */
    uint8_t partial;                     /* the buffer ends inside a request */
    uint8_t closing;                     /* QUIT or a protocol error: close once answered */
    uint8_t kicked;
    uint8_t started;
    uint8_t hup;                         /* the peer's FIN or an error was signalled: read to
                                            EOF, a short read no longer means drained */
    uint8_t gone;                        /* it closed while a blocking command waited */
    uint8_t hup_watch;                   /* a watch for that is armed on fd */
    uint8_t left_told;                   /* its leaving was passed on to its blocked command's server */
    uint64_t unblock_at;                 /* ms: CLIENT UNBLOCK is sent again then (it may have come first) */
    uint8_t overflow;                    /* past client_output_limit: being closed */
    uint64_t reply_bytes;                /* replies done, not yet written (client_output_limit) */
    uint64_t soft_since;                 /* ms: over client_output_soft_limit since (0: not over) */
    struct co_timer *soft_timer;         /* fires client_output_soft_time after soft_since */
    /* a connection of its own (issue: transactions, blocking commands) */
    struct backend_conn *pin;
    uint32_t pin_drops;                  /* pin->drops when its server-side state began */
    uint32_t pin_holds;                  /* blocking commands in flight on the pin */
    uint8_t watching;                    /* WATCH sent on the pin */
    uint8_t multi;                       /* inside MULTI */
    uint8_t multi_abort;                 /* EXEC answers EXECABORT */
    struct rbuf deferred;                /* MULTI before any key: the queued requests' bytes */
    uint32_t ndeferred;
    int db;                              /* SELECTed database; -1: the pool's redis_db */
    uint8_t pin_selected;                /* a SELECT went on the pin: restore it when done */
    uint8_t reply_off;                   /* CLIENT REPLY OFF: replies are not written */
    uint8_t reply_skip;                  /* CLIENT REPLY SKIP: the next one is not */
    const char *last_cmd;                /* for CLIENT INFO/LIST */
    /* pub/sub (redis_pubsub.c) */
    struct redis_pubsub *ps;             /* its subscriptions; NULL: none yet */
    size_t push_bytes;                   /* messages queued for it, not yet written */
    uint8_t sub_waiting;                 /* subscribed and idle: parked on cond for input or a message */
    uint8_t input_ready;                 /* its socket became readable meanwhile */
    uint8_t reset_pending;               /* a RESET waits for what came before it: parsing
                                            stops until it is carried out */
    /* WAIT (redis_wait.c) */
    uint8_t writing;                     /* the request being routed may write */
    uint8_t route_read;                  /* the request being routed only reads (read_from) */
    uint64_t wrote;                      /* servers (bit: index; all bits: 64 and more) written to
                                            since the last WAIT */
    struct backend_conn **wait_pins;     /* a WAIT's connections */
    uint32_t nwait_pins;
};

/* A new message at the tail of the client's queue (NULL: out of memory, the client is closed). */
struct msg *client_queue_msg(struct redis_client *c);
/* Replies made here, appended to the queue already done. */
void client_reply_raw(struct redis_client *c, const char *p, size_t n);
void client_reply_str(struct redis_client *c, const char *s);
void client_reply_error(struct redis_client *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* m's deadline: server_timeout from when its batch arrived. */
void client_set_deadline(struct redis_client *c, struct msg *m);
/* A fragment of m (its frags array sized already) for server s; NULL if out of memory. */
struct msg *client_add_frag(struct redis_client *c, struct msg *m, struct redis_server *s);
/* f's request, bytes[0..n), to f's server (f failed if it cannot go). */
void client_send_frag(struct redis_client *c, struct msg *f, const char *bytes, size_t n);
/* The client's request to every server, as fragments merged into m (m->merge set). */
void client_send_everywhere(struct redis_client *c, struct msg *m, const char *req, const struct resp_request *r);
/* Wakes the client if it waits for its head or, subscribed, for anything. */
void client_wake_up(struct redis_client *c);

/* The client's number within its worker: spreads clients over a server's
 * connections (the id's low bits are the worker's). */
static inline uint64_t client_seq(const struct redis_client *c)
{
    return c->id / 1024;
}
/* The client's address, "host:port" ("unix:0" on a Unix socket): for CLIENT LIST and logs. */
const char *client_addr(const struct redis_client *c, char *out, size_t n);
/* Replies made here: a bulk string, an integer. */
void client_reply_bulk(struct redis_client *c, const char *s, size_t n);
void client_reply_int(struct redis_client *c, int64_t v);
/* s[0..n) fit to print in an error message (at most 71 characters). */
const char *client_printable(const char *s, size_t n, char out[72]);

/* Request helpers. */
int redis_arg_is(const char *req, const struct resp_arg *a, const char *word);
const char *redis_lower_name(const char *s, char out[40]);
int redis_append_bulk(struct rbuf *b, const char *p, size_t n);
int redis_append_header(struct rbuf *b, char type, int64_t n);

/* redis_pubsub.c: SUBSCRIBE and kin, on connections of the client's own */
void pubsub_command(struct redis_client *c, const struct redis_cmd *cmd, const char *req,
                    const struct resp_request *r);
/* PUBSUB CHANNELS / NUMSUB / NUMPAT, across the servers. */
void pubsub_introspect(struct redis_client *c, const char *req, const struct resp_request *r);
/* Channels and patterns the client is subscribed to (0: not in subscribed mode). */
uint32_t pubsub_count(const struct redis_client *c);
uint32_t pubsub_channels(const struct redis_client *c);
uint32_t pubsub_patterns(const struct redis_client *c);
/* The client leaves (or RESETs): every subscription ends, its connections close. */
void pubsub_release(struct redis_client *c);

/* redis_wait.c: WAIT */
void wait_command(struct redis_client *c, const char *req, const struct resp_request *r);
/* m, a WAIT, is the client's head: every earlier request is answered, it goes out. */
void wait_dispatch(struct redis_client *c, struct msg *m);
/* The WAIT is answered (or the client left: dirty) and its connections go back. */
void wait_release(struct redis_client *c, int dirty);

#endif
