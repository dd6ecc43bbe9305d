/* SPDX-License-Identifier: Apache-2.0 */
/* coctx_aarch64.S — the coroutine context switch for AArch64 (AAPCS64). */

/*
 * Contract
 * --------
 *   void coctx_switch(struct coctx *to, struct coctx *from);        x0, x1
 *   void coctx_switch_via(struct coctx *to, struct coctx *from,
 *                         void (*fn)(void *), void *arg, void *scratch_top);
 *   void coctx_trampoline(void);
 *
 * Saved, in a 176-byte frame pushed on the stack being left (offsets from
 * the saved sp, named CO_CTX_OFF_* in coctx.h):
 *     0  x29 (fp), x30 (lr: where the context continues)
 *    16  x19 .. x28               callee-saved general registers
 *    96  d8 .. d15                low 64 bits of v8-v15, callee-saved
 *   160  FPCR                     rounding mode, flush-to-zero, default NaN
 *   sp is stored in to/from->sp (struct coctx, offset 0).
 *
 * Not saved, on purpose:
 *   - x0-x18, x16/x17 (IP0/IP1), the upper halves of v8-v15 and all of
 *     v0-v7, v16-v31: caller-saved under AAPCS64;
 *   - x18 (platform register) is left alone: Linux does not reserve it;
 *   - NZCV and FPSR: status, not preserved across calls;
 *   - the signal mask: a coroutine switch is not a thread switch (no
 *     system call here; that is what makes swapcontext slow);
 *   - tpidr_el0: the coroutines of a thread share its TLS.
 *
 * Alignment: sp is 16-aligned at all times (the architecture checks it);
 * the frame is a multiple of 16.  Red zone: AAPCS64 on Linux has none, so
 * the frame is allocated (sp lowered) before anything is stored in it, and
 * the switch never points sp at memory it is still writing.
 *
 * FPCR writes can be slow on some cores, so it is written only when the
 * incoming value differs from the current one.
 */

#include "coctx.h"

        .text

.macro  CTX_SAVE
        sub     sp, sp, #CO_CTX_ABOVE_SP
        stp     x29, x30, [sp, #CO_CTX_OFF_FP]
        stp     x19, x20, [sp, #CO_CTX_OFF_X19]
        stp     x21, x22, [sp, #CO_CTX_OFF_X19 + 16]
        stp     x23, x24, [sp, #CO_CTX_OFF_X19 + 32]
        stp     x25, x26, [sp, #CO_CTX_OFF_X19 + 48]
        stp     x27, x28, [sp, #CO_CTX_OFF_X19 + 64]
        stp     d8,  d9,  [sp, #CO_CTX_OFF_D8]
        stp     d10, d11, [sp, #CO_CTX_OFF_D8 + 16]
        stp     d12, d13, [sp, #CO_CTX_OFF_D8 + 32]
        stp     d14, d15, [sp, #CO_CTX_OFF_D8 + 48]
        mrs     x9, fpcr
        str     x9, [sp, #CO_CTX_OFF_FPCR]
.endm

.macro  CTX_RESTORE
        ldr     x9, [sp, #CO_CTX_OFF_FPCR]
        mrs     x10, fpcr
        cmp     x9, x10
        b.eq    1f
        msr     fpcr, x9
1:
        ldp     x29, x30, [sp, #CO_CTX_OFF_FP]
        ldp     x19, x20, [sp, #CO_CTX_OFF_X19]
        ldp     x21, x22, [sp, #CO_CTX_OFF_X19 + 16]
        ldp     x23, x24, [sp, #CO_CTX_OFF_X19 + 32]
        ldp     x25, x26, [sp, #CO_CTX_OFF_X19 + 48]
        ldp     x27, x28, [sp, #CO_CTX_OFF_X19 + 64]
        ldp     d8,  d9,  [sp, #CO_CTX_OFF_D8]
        ldp     d10, d11, [sp, #CO_CTX_OFF_D8 + 16]
        ldp     d12, d13, [sp, #CO_CTX_OFF_D8 + 32]
        ldp     d14, d15, [sp, #CO_CTX_OFF_D8 + 48]
        add     sp, sp, #CO_CTX_ABOVE_SP
.endm

        .globl  coctx_switch
        .hidden coctx_switch
        .type   coctx_switch, %function
        .p2align 4
coctx_switch:
        .cfi_startproc
        CTX_SAVE
        mov     x9, sp
        str     x9, [x1, #CO_CTX_SP_OFFSET]
        ldr     x9, [x0, #CO_CTX_SP_OFFSET]
        mov     sp, x9
        CTX_RESTORE
        ret
        .cfi_endproc
        .size   coctx_switch, .-coctx_switch

        .globl  coctx_switch_via
        .hidden coctx_switch_via
        .type   coctx_switch_via, %function
        .p2align 4
coctx_switch_via:
        .cfi_startproc
        CTX_SAVE
        mov     x9, sp
        str     x9, [x1, #CO_CTX_SP_OFFSET]
        /* Our callee-saved registers are saved; x19 may now hold `to`. */
        mov     x19, x0
        mov     sp, x4
        mov     x0, x3
        blr     x2
        ldr     x9, [x19, #CO_CTX_SP_OFFSET]
        mov     sp, x9
        CTX_RESTORE
        ret
        .cfi_endproc
        .size   coctx_switch_via, .-coctx_switch_via

/*
 * Entered by the first switch into a coroutine, with sp 16-aligned and
 * x19 = self, x20 = arg, x21 = entry, x22 = exit (see coctx_make).
 * Unwinders stop here: there is no caller.
 */
        .globl  coctx_trampoline
        .hidden coctx_trampoline
        .type   coctx_trampoline, %function
        .p2align 4
coctx_trampoline:
        .cfi_startproc
        .cfi_undefined x30
        mov     x0, x20
        blr     x21
        mov     x1, x0
        mov     x0, x19
        blr     x22
        brk     #0
        .cfi_endproc
        .size   coctx_trampoline, .-coctx_trampoline

        .section .note.GNU-stack, "", %progbits
