/* SPDX-License-Identifier: Apache-2.0 */
/* coctx.h — the context-switch contract shared by asm/coctx_*.S and the C runtime. */
#ifndef COSTACK_COCTX_H
#define COSTACK_COCTX_H

/*
 * A parked context is nothing but a stack pointer: the switch pushes the
 * callee-saved registers and the return address onto the stack it leaves,
 * stores that stack pointer in struct coctx, and pops the same set from the
 * stack it enters.  All byte offsets below are relative to the saved sp.
 *
 * x86-64 (System V), a parked stack, high addresses on top:
 *
 *     sp + 56  ...caller's frame
 *     sp + 48  return address        (where the coroutine continues)
 *     sp + 40  rbp
 *     sp + 32  rbx
 *     sp + 24  r12
 *     sp + 16  r13
 *     sp +  8  r14
 *     sp +  0  r15                   <- coctx.sp
 *     sp -  4  x87 control word      (16 bits, in the red zone)
 *     sp -  8  MXCSR                 (32 bits, in the red zone)
 *
 * AArch64 (AAPCS64), a parked stack:
 *
 *     sp + 176 ...caller's frame
 *     sp + 160 FPCR (8 bytes, then 8 bytes of padding: sp stays 16-aligned)
 *     sp + 96  d8..d15
 *     sp + 16  x19..x28
 *     sp +  0  x29 (fp), x30 (lr)    <- coctx.sp
 *
 * A shared-stack copy must save [sp - CO_CTX_BELOW_SP, top): the x86-64
 * switch keeps the floating-point control words below sp (see its file).
 */
#if defined(__x86_64__)
#define CO_CTX_BELOW_SP     8   /* bytes of saved context below sp */
#define CO_CTX_ABOVE_SP     56  /* bytes of saved context from sp up, return address included */
#define CO_CTX_OFF_MXCSR    (-8)
#define CO_CTX_OFF_FPUCW    (-4)
#define CO_CTX_OFF_R15      0
#define CO_CTX_OFF_R14      8
#define CO_CTX_OFF_R13      16
#define CO_CTX_OFF_R12      24
#define CO_CTX_OFF_RBX      32
#define CO_CTX_OFF_RBP      40
#define CO_CTX_OFF_RET      48
/* MXCSR bits kept across a switch: the control bits, not the sticky status
 * flags (bits 0-5), which the ABI does not preserve across calls anyway. */
#define CO_MXCSR_CONTROL    0xffc0
#elif defined(__aarch64__)
#define CO_CTX_BELOW_SP     0
#define CO_CTX_ABOVE_SP     176
#define CO_CTX_OFF_FP       0
#define CO_CTX_OFF_LR       8
#define CO_CTX_OFF_X19      16
#define CO_CTX_OFF_D8       96
#define CO_CTX_OFF_FPCR     160
#else
#error "libcostack: no context switch for this architecture (x86-64 and AArch64 are supported)"
#endif

#define CO_CTX_SP_OFFSET    0   /* offsetof(struct coctx, sp) */

#if defined(__ASSEMBLER__) && defined(__x86_64__)
/*
 * The two halves of the switch, as macros so that the runtime's fast paths
 * (co_resume, co_yield_ct) fall into them instead of jumping: see
 * coctx_x86_64.S for the contract.  COCTX_LEAVE saves the running context
 * into *rsi (struct coctx *from); COCTX_ENTER resumes the context whose
 * saved sp is already in rsp.  Between them: movq (%rdi), %rsp.
 */
.macro COCTX_LEAVE_X86_64
        pushq   %rbp
        pushq   %rbx
        pushq   %r12
        pushq   %r13
        pushq   %r14
        pushq   %r15
        stmxcsr CO_CTX_OFF_MXCSR(%rsp)
        andl    $CO_MXCSR_CONTROL, CO_CTX_OFF_MXCSR(%rsp)
        fnstcw  CO_CTX_OFF_FPUCW(%rsp)
        movq    %rsp, CO_CTX_SP_OFFSET(%rsi)
.endm

.macro COCTX_ENTER_X86_64
        ldmxcsr CO_CTX_OFF_MXCSR(%rsp)
        fldcw   CO_CTX_OFF_FPUCW(%rsp)
        popq    %r15
        popq    %r14
        popq    %r13
        popq    %r12
        popq    %rbx
        popq    %rbp
        popq    %rcx
        jmpq    *%rcx
.endm

/* rdi = struct coctx *to, rsi = struct coctx *from */
.macro COCTX_SWITCH_X86_64
        COCTX_LEAVE_X86_64
        movq    CO_CTX_SP_OFFSET(%rdi), %rsp
        COCTX_ENTER_X86_64
.endm

/* As COCTX_SWITCH_X86_64, calling fn(rdi) on the stack at scratch_top in between. */
.macro COCTX_SWITCH_VIA_X86_64 fn, scratch_top
        COCTX_LEAVE_X86_64
        movq    %rdi, %rbx              /* callee-saved, and ours are saved */
        movq    \scratch_top, %rsp
        callq   *\fn
        movq    CO_CTX_SP_OFFSET(%rbx), %rsp
        COCTX_ENTER_X86_64
.endm
#endif

#ifndef __ASSEMBLER__
#include <stddef.h>

/* The saved state of a parked context: its stack pointer (see above). */
struct coctx {
    void *sp;
};

_Static_assert(offsetof(struct coctx, sp) == CO_CTX_SP_OFFSET, "coctx.sp offset");

/*
 * Saves the running context into *from and resumes *to.  Returns (in the
 * context saved in *from) when something switches back to it.
 */
void coctx_switch(struct coctx *to, struct coctx *from);

/*
 * As coctx_switch, but between leaving *from and entering *to it runs
 * fn(arg) on the stack whose top is scratch_top (16-aligned).  The shared-
 * stack copy runs there, because it may overwrite both stacks involved.
 */
void coctx_switch_via(struct coctx *to, struct coctx *from,
                      void (*fn)(void *), void *arg, void *scratch_top);

/*
 * First code of every coroutine: the initial frame built by
 * coctx_make() returns here; it calls entry(arg) and, if that returns,
 * exit_fn(self, return value), which must not return.
 */
void coctx_trampoline(void);

#endif /* !__ASSEMBLER__ */
#endif
