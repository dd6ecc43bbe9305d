/* SPDX-License-Identifier: Apache-2.0 */
/* co_offsets.h — struct offsets and flags that the assembly fast paths use (checked in C). */
#ifndef COSTACK_OFFSETS_H
#define COSTACK_OFFSETS_H

/*
 * stCoRoutine_t.gate: the coroutine's env pointer (16-aligned) with these
 * flags in its low bits.  co_resume's fast path switches only when gate
 * equals the calling thread's env -- the right thread, parked, frames in
 * place -- so one comparison checks all three.  Any flag sends it to the
 * slow path, which restores the frames (EVICTED) or reports the misuse.
 */
#define CO_GATE_FLAGS 15
#define CO_RUNNING  1   /* on the call stack */
#define CO_FINISHED 2   /* its routine returned */
#define CO_EVICTED  4   /* shared stack: its frames are in save_buf, or not built yet */
#define CO_FRESH    8   /* shared stack: not started, no frames anywhere yet */

/* struct stCoRoutine_t */
#define CO_OFF_CO_GATE        8
#define CO_OFF_CO_RESUMER     16
/* struct co_env */
#define CO_OFF_ENV_CURRENT    0
#define CO_OFF_ENV_DEPTH_LEFT 8
#define CO_OFF_ENV_HANDOFF    16
#define CO_OFF_ENV_SCRATCH_TOP 24
#define CO_OFF_ENV_SWITCHES   32

/* The x86-64 fast paths are assembly; ASan builds keep the C ones, which
 * announce every switch to ASan. */
#if defined(__x86_64__) && !defined(CO_ASAN)
#define CO_FASTPATH_ASM 1
#endif

#endif
