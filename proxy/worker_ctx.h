/* SPDX-License-Identifier: Apache-2.0 */
/* worker_ctx.h — what code below a worker uses: clock, caches, fd pressure, retiring coroutines (worker_ctx.c). */
#ifndef COPROXY_WORKER_CTX_H
#define COPROXY_WORKER_CTX_H

#include <stddef.h>
#include <stdint.h>

#include "worker.h"

/* Appends the CLIENT LIST lines of pool `pool`'s clients on every worker
 * but `self` (asked of them; one that does not answer within 2 s is left
 * out).  Parks the calling coroutine meanwhile.  0, or -1 (out of memory). */
int worker_client_lists(struct worker *self, int pool, struct rbuf *out);
/* CLIENT KILL: the client with this id, on whichever worker holds it (the
 * id's low bits), is closed at that worker's next turn.  0, or -1 (out of memory). */
int worker_kill_client(struct worker *self, uint64_t id);
/* An invalidation (p[0..n): what follows "invalidate" in Redis's push) for
 * client `id` on another worker, delivered at that worker's next turn.
 * 0, or -1 (out of memory). */
int worker_send_invalidation(struct worker *self, uint64_t id, const char *p, size_t n);
/* Called by the worker's tick when invalidations came: each to deliver(). */
void worker_take_invalidations(struct worker *w, void (*deliver)(struct worker *w, uint64_t id, const char *p,
                                                                 size_t n));
/* The client connections open in pool `pool` on every worker (the others'
 * as last published, at most 100 ms old): INFO's connected_clients. */
int worker_pool_clients(struct worker *self, int pool);
/* A redis client's input buffer, and its argument array, from the worker's caches. */
char *worker_ibuf_get(struct worker *w, size_t *cap);
void worker_ibuf_put(struct worker *w, char *buf, size_t cap);
void worker_args_get(struct worker *w, struct resp_arg **args, uint32_t *cap);
void worker_args_put(struct worker *w, struct resp_arg *args, uint32_t cap);
/* Out of file descriptors (what: where it showed): logs at most once a
 * second and makes the worker's accept loops pause a little. */
void worker_out_of_fds(struct worker *w, const char *pool, const char *what, int err);
/* Called by a connection coroutine as it ends: the worker releases it between turns. */
void worker_retire(struct worker *w, struct stCoRoutine_t *co);
/* A relay buffer from the worker's cache (NULL if out of memory); give it back soon. */
char *worker_buf_get(struct worker *w);
/* The size the relay's pipes grow to (fs.pipe-max-size if under WORKER_PIPE_SIZE). */
int worker_pipe_size_allowed(void);
/* Closes the worker's kept pipes. */
void worker_pipes_close(struct worker *w);
void worker_buf_put(struct worker *w, char *buf);
/* An empty pipe from the worker's cache (or a new one); 0 or -1.  Give back
 * only empty pipes (pending data: close them instead). */
int worker_pipe_get(struct worker *w, int p[2]);
void worker_pipe_put(struct worker *w, int p[2], int empty);
uint64_t worker_now_ms(void);
uint64_t worker_now_us(void);

#endif
