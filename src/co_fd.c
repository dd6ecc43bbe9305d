/* SPDX-License-Identifier: Apache-2.0 */
/* co_fd.c — per-fd state for the syscall hooks, in a two-level table indexed by fd. */
#include <stdlib.h>
#include <string.h>

#include "co_io.h"

/*
 * 4096 chunks of 1024 slots: fds up to 4 Mi without reserving memory for
 * them; a chunk is allocated on the first use of one of its fds.  Chunks
 * are installed with a compare-and-swap, so threads may race to create
 * one; a slot itself belongs to the thread that uses the fd.
 */
#define CHUNK_BITS 10
#define CHUNK_SLOTS (1 << CHUNK_BITS)
#define CHUNKS 4096

static struct co_fd *chunks[CHUNKS];

struct co_fd *co_fd_peek(int fd)
{
    struct co_fd *chunk;

    if (fd < 0 || (fd >> CHUNK_BITS) >= CHUNKS)
        return NULL;
    chunk = __atomic_load_n(&chunks[fd >> CHUNK_BITS], __ATOMIC_ACQUIRE);
    if (chunk == NULL)
        return NULL;
    return &chunk[fd & (CHUNK_SLOTS - 1)];
}

struct co_fd *co_fd_get(int fd)
{
    struct co_fd *chunk, *fresh, *expected = NULL;
    int i;

    if (fd < 0 || (fd >> CHUNK_BITS) >= CHUNKS)
        return NULL;
    chunk = __atomic_load_n(&chunks[fd >> CHUNK_BITS], __ATOMIC_ACQUIRE);
    if (chunk == NULL) {
        fresh = calloc(CHUNK_SLOTS, sizeof *fresh);
        if (fresh == NULL)
            return NULL;
        for (i = 0; i < CHUNK_SLOTS; i++)
            fresh[i].rcv_timeout_ms = fresh[i].snd_timeout_ms = -1;
        if (__atomic_compare_exchange_n(&chunks[fd >> CHUNK_BITS], &expected, fresh, 0,
                                        __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
            chunk = fresh;
        } else {
            free(fresh);
            chunk = expected;
        }
    }
    return &chunk[fd & (CHUNK_SLOTS - 1)];
}

/* The fd number is being closed: its next user starts from scratch. */
void co_fd_forget(int fd)
{
    struct co_fd *f = co_fd_peek(fd);

    if (f == NULL)
        return;
    memset(f, 0, sizeof *f);
    f->rcv_timeout_ms = f->snd_timeout_ms = -1;
}

/* loop is going with its thread: no slot may point at it, or at the waits in its memory. */
void co_fd_loop_gone(struct stCoEpoll_t *loop)
{
    for (int c = 0; c < CHUNKS; c++) {
        struct co_fd *chunk = __atomic_load_n(&chunks[c], __ATOMIC_ACQUIRE);
        if (chunk == NULL)
            continue;
        for (int i = 0; i < CHUNK_SLOTS; i++)
            if (chunk[i].loop == loop) {
                chunk[i].loop = NULL;
                chunk[i].registered = 0;   /* (its epoll set closes with it) */
                chunk[i].waiters = NULL;
            }
    }
}
