/* SPDX-License-Identifier: Apache-2.0 */
/* regs_aarch64.S — test helpers that plant and check every callee-saved register. */

/* unsigned regs_check_across(void (*fn)(void)):
 * sets x19-x29 and d8-d15 to known values, calls fn, and returns a bitmask
 * of the registers fn did not preserve (0: all preserved). */
        .text
        .globl  regs_check_across
        .type   regs_check_across, %function
regs_check_across:
        sub     sp, sp, #176
        stp     x29, x30, [sp, #0]
        stp     x19, x20, [sp, #16]
        stp     x21, x22, [sp, #32]
        stp     x23, x24, [sp, #48]
        stp     x25, x26, [sp, #64]
        stp     x27, x28, [sp, #80]
        stp     d8, d9, [sp, #96]
        stp     d10, d11, [sp, #112]
        stp     d12, d13, [sp, #128]
        stp     d14, d15, [sp, #144]
        .irp    n, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29
        mov     x\n, #(\n * 0x101)
        movk    x\n, #0xc0de, lsl #48
        .endr
        .irp    n, 8, 9, 10, 11, 12, 13, 14, 15
        mov     x9, #(\n * 0x1001)
        movk    x9, #0xf00d, lsl #32
        fmov    d\n, x9
        .endr
        blr     x0
        mov     w0, #0
        .irp    n, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29
        mov     x9, #(\n * 0x101)
        movk    x9, #0xc0de, lsl #48
        cmp     x9, x\n
        cset    w10, ne
        orr     w0, w0, w10, lsl #(\n - 19)
        .endr
        .irp    n, 8, 9, 10, 11, 12, 13, 14, 15
        mov     x9, #(\n * 0x1001)
        movk    x9, #0xf00d, lsl #32
        fmov    x11, d\n
        cmp     x9, x11
        cset    w10, ne
        orr     w0, w0, w10, lsl #(\n + 3)
        .endr
        ldp     x29, x30, [sp, #0]
        ldp     x19, x20, [sp, #16]
        ldp     x21, x22, [sp, #32]
        ldp     x23, x24, [sp, #48]
        ldp     x25, x26, [sp, #64]
        ldp     x27, x28, [sp, #80]
        ldp     d8, d9, [sp, #96]
        ldp     d10, d11, [sp, #112]
        ldp     d12, d13, [sp, #128]
        ldp     d14, d15, [sp, #144]
        add     sp, sp, #176
        ret
        .size   regs_check_across, .-regs_check_across

/* void regs_clobber_and_call(void (*fn)(void)) */
        .globl  regs_clobber_and_call
        .type   regs_clobber_and_call, %function
regs_clobber_and_call:
        sub     sp, sp, #176
        stp     x29, x30, [sp, #0]
        stp     x19, x20, [sp, #16]
        stp     x21, x22, [sp, #32]
        stp     x23, x24, [sp, #48]
        stp     x25, x26, [sp, #64]
        stp     x27, x28, [sp, #80]
        stp     d8, d9, [sp, #96]
        stp     d10, d11, [sp, #112]
        stp     d12, d13, [sp, #128]
        stp     d14, d15, [sp, #144]
        .irp    n, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29
        mov     x\n, #0xbad
        .endr
        .irp    n, 8, 9, 10, 11, 12, 13, 14, 15
        fmov    d\n, xzr
        .endr
        blr     x0
        ldp     x29, x30, [sp, #0]
        ldp     x19, x20, [sp, #16]
        ldp     x21, x22, [sp, #32]
        ldp     x23, x24, [sp, #48]
        ldp     x25, x26, [sp, #64]
        ldp     x27, x28, [sp, #80]
        ldp     d8, d9, [sp, #96]
        ldp     d10, d11, [sp, #112]
        ldp     d12, d13, [sp, #128]
        ldp     d14, d15, [sp, #144]
        add     sp, sp, #176
        ret
        .size   regs_clobber_and_call, .-regs_clobber_and_call

        .section .note.GNU-stack, "", %progbits
