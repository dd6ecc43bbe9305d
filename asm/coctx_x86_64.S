/* SPDX-License-Identifier: Apache-2.0 */
/* coctx_x86_64.S — the coroutine context switch for x86-64 (System V ABI). */

/*
 * Contract
 * --------
 *   void coctx_switch(struct coctx *to, struct coctx *from);
 *   void coctx_switch_via(struct coctx *to, struct coctx *from,
 *                         void (*fn)(void *), void *arg, void *scratch_top);
 *   void coctx_trampoline(void);
 *
 * Saved: exactly what the System V ABI makes a callee preserve, plus the
 * control state of the floating-point units:
 *   rbx rbp r12 r13 r14 r15      pushed on the stack being left
 *   return address               already there (pushed by the call)
 *   rsp                          stored in to/from->sp (struct coctx, offset 0)
 *   MXCSR, x87 control word      in the red zone just below the saved rsp
 * The frame layout, as offsets from the saved rsp, is in coctx.h
 * (CO_CTX_OFF_*); C builds initial frames from those constants.
 *
 * Not saved, on purpose:
 *   - caller-saved registers (rax rcx rdx rsi rdi r8-r11, xmm0-15, x87
 *     stack): the caller of a function already assumes they are lost;
 *   - the status flags and the MXCSR/x87 *status* bits: not preserved across
 *     calls by the ABI either;
 *   - the signal mask: a coroutine switch is not a thread switch, and saving
 *     it would cost two system calls (this is what makes swapcontext slow);
 *   - fs/gs bases: every coroutine of a thread shares its TLS.
 * The MXCSR (SSE rounding, flush-to-zero, exception masks) and the x87
 * control word (precision, rounding) are callee-saved by the ABI; a
 * coroutine that changes its rounding mode must not change another's.
 *
 * Alignment: at a call rsp is 16-aligned, so on entry rsp = 8 mod 16; after
 * six pushes the saved rsp is 8 mod 16.  Initial frames (coctx_make) are
 * built so that coctx_trampoline starts with rsp 16-aligned.
 *
 * Status flags: MXCSR's sticky exception flags (bits 0-5) are cleared in
 * the saved copy, so every context loads the same value unless a rounding
 * or masking mode really differs.  Measured on Xeon: a stmxcsr that follows
 * an ldmxcsr which changed the register costs about 100 ns, so letting the
 * flags of two contexts differ (one did a floating-point division, the
 * other did not) made every round trip ten times slower.  The ABI does not
 * preserve status flags across calls, so clearing them is allowed.
 *
 * Red zone: the two control words live in the 128-byte red zone below the
 * saved rsp.  The kernel never writes there when it delivers a signal, and
 * nothing else runs on a parked stack, so they survive until the context is
 * resumed.  This saves the two instructions that would move rsp around
 * them.  Consequence: a parked context occupies [sp - 8, top), and the
 * shared-stack copy saves from sp - CO_CTX_BELOW_SP.
 *
 * Signal safety: rsp always points into a live stack whose used part is
 * above it; the switch never points rsp at memory it is still writing.
 *
 * Return: with ret.  The return address belongs to the other context, so
 * the return-stack predictor misses; pop + indirect jmp would let the
 * indirect predictor learn the pattern instead, at one more instruction per
 * switch.  bench/switch measured no gain from it on Xeon, and instructions
 * per round trip are what the runtime's budget counts (bench/README.md).
 */

#include "coctx.h"

        .text

        .globl  coctx_switch
        .hidden coctx_switch
        .type   coctx_switch, @function
        .p2align 4
coctx_switch:
        .cfi_startproc
        COCTX_SWITCH_X86_64
        .cfi_endproc
        .size   coctx_switch, .-coctx_switch

        .globl  coctx_switch_via
        .hidden coctx_switch_via
        .type   coctx_switch_via, @function
        .p2align 4
coctx_switch_via:
        .cfi_startproc
        /* rax = fn, rdi = arg, rdx = to; rsi (from) as LEAVE wants it */
        movq    %rdx, %rax
        movq    %rcx, %rdx
        xchgq   %rdi, %rdx              /* rdi = arg, rdx = to */
        COCTX_LEAVE_X86_64
        movq    %rdx, %rbx              /* callee-saved, and ours are saved */
        movq    %r8, %rsp
        callq   *%rax
        movq    CO_CTX_SP_OFFSET(%rbx), %rsp
        COCTX_ENTER_X86_64
        .cfi_endproc
        .size   coctx_switch_via, .-coctx_switch_via

/*
 * Entered by the first switch into a coroutine, with rsp 16-aligned and
 * rbx = self, r12 = arg, r13 = entry, r14 = exit (see coctx_make).
 * Unwinders stop here: there is no caller.
 */
        .globl  coctx_trampoline
        .hidden coctx_trampoline
        .type   coctx_trampoline, @function
        .p2align 4
coctx_trampoline:
        .cfi_startproc
        .cfi_undefined rip
        movq    %r12, %rdi
        callq   *%r13
        movq    %rbx, %rdi
        movq    %rax, %rsi
        callq   *%r14
        ud2
        .cfi_endproc
        .size   coctx_trampoline, .-coctx_trampoline

        .section .note.GNU-stack, "", @progbits
