/* SPDX-License-Identifier: Apache-2.0 */
/* co_fastpath_x86_64.S — co_resume and co_yield_ct for x86-64, falling into the switch. */

/*
 * These are the C fast paths of co_routine.c written out by hand, so that a
 * resume + yield round trip through the public API stays within its
 * instruction budget (bench/README.md): each tests one word (co_resume:
 * gate == env checks thread, state and frames at once), updates the
 * call chain, and falls straight into the switch (COCTX_SWITCH_X86_64,
 * rdi = to, rsi = from).  Anything unusual -- a shared-stack restore, a
 * foreign thread, a running or finished coroutine, the depth limit, a
 * yield outside a coroutine -- jumps to the C slow path, which handles it
 * or reports it.  Offsets and flags come from co_offsets.h, checked there
 * against the C structs.
 *
 * co_env_tls is an initial-exec TLS variable: two instructions to reach
 * the thread's env, no call to __tls_get_addr.
 */

#include "config.h"
#include "coctx.h"
#include "co_offsets.h"

#ifdef CO_FASTPATH_ASM

        .text

/* void co_resume(struct stCoRoutine_t *co) */
        .globl  co_resume
        .type   co_resume, @function
        .p2align 4
co_resume:
        .cfi_startproc
        movq    co_env_tls@gottpoff(%rip), %rax
        movq    %fs:(%rax), %rax                        /* env */
        cmpq    %rax, CO_OFF_CO_GATE(%rdi)              /* this thread's, parked, frames in place? */
        jne     2f
        subl    $1, CO_OFF_ENV_DEPTH_LEFT(%rax)         /* room for one more level? */
        js      1f
        movq    CO_OFF_ENV_CURRENT(%rax), %rsi          /* from */
        addq    $CO_RUNNING, CO_OFF_CO_GATE(%rdi)
        movq    %rsi, CO_OFF_CO_RESUMER(%rdi)
        addq    $2, CO_OFF_ENV_SWITCHES(%rax)           /* the switch in and the one back */
        movq    %rdi, CO_OFF_ENV_CURRENT(%rax)
        COCTX_SWITCH_X86_64
        /* Not the plain case.  The common other one: frames evicted from a
         * shared stack (and not a fresh coroutine); the handoff restores them. */
2:      leaq    CO_EVICTED(%rax), %rdx
        cmpq    %rdx, CO_OFF_CO_GATE(%rdi)
        jne     4f
5:      subl    $1, CO_OFF_ENV_DEPTH_LEFT(%rax)
        js      3f
        movq    CO_OFF_ENV_CURRENT(%rax), %rsi
        orq     $CO_RUNNING, CO_OFF_CO_GATE(%rdi)       /* the handoff clears CO_EVICTED */
        movq    %rsi, CO_OFF_CO_RESUMER(%rdi)
        addq    $2, CO_OFF_ENV_SWITCHES(%rax)
        movq    %rdi, CO_OFF_ENV_CURRENT(%rax)
        COCTX_SWITCH_VIA_X86_64 CO_OFF_ENV_HANDOFF(%rax), CO_OFF_ENV_SCRATCH_TOP(%rax)
3:      addl    $1, CO_OFF_ENV_DEPTH_LEFT(%rax)
1:      jmp     co_resume_slow
        /* A fresh shared coroutine: the same, the handoff builds its frames. */
4:      addq    $CO_FRESH, %rdx
        cmpq    %rdx, CO_OFF_CO_GATE(%rdi)
        je      5b
        jmp     co_resume_slow
        .cfi_endproc
        .size   co_resume, .-co_resume

/* void co_yield_ct(void) */
        .globl  co_yield_ct
        .type   co_yield_ct, @function
        .p2align 4
co_yield_ct:
        .cfi_startproc
        movq    co_env_tls@gottpoff(%rip), %rax
        movq    %fs:(%rax), %rax                        /* env */
        movq    CO_OFF_ENV_CURRENT(%rax), %rsi          /* cur */
        movq    CO_OFF_CO_RESUMER(%rsi), %rdi           /* to */
        movq    %rdi, CO_OFF_ENV_CURRENT(%rax)
        movq    %rax, CO_OFF_CO_GATE(%rsi)              /* parked, frames in place */
        addl    $1, CO_OFF_ENV_DEPTH_LEFT(%rax)
        testb   $CO_EVICTED, CO_OFF_CO_GATE(%rdi)       /* resumer's frames evicted, or no resumer */
        jne     1f
        COCTX_SWITCH_X86_64
        /* The resumer's frames were evicted from its shared stack (or there
         * is no resumer: co_no_resumer is FINISHED). */
1:      testb   $(CO_FINISHED | CO_FRESH), CO_OFF_CO_GATE(%rdi)
        jne     2f
        COCTX_SWITCH_VIA_X86_64 CO_OFF_ENV_HANDOFF(%rax), CO_OFF_ENV_SCRATCH_TOP(%rax)
2:      movq    %rdi, %rdx                              /* co_yield_slow(env, cur, to) */
        movq    %rax, %rdi
        jmp     co_yield_slow
        .cfi_endproc
        .size   co_yield_ct, .-co_yield_ct

#endif /* CO_FASTPATH_ASM */

        .section .note.GNU-stack, "", @progbits
