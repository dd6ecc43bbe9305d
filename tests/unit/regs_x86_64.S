/* SPDX-License-Identifier: Apache-2.0 */
/* regs_x86_64.S — test helpers that plant and check every callee-saved register. */

/* unsigned regs_check_across(void (*fn)(void)):
 * sets rbx rbp r12-r15 to known values, calls fn, and returns a bitmask of
 * the registers whose value fn did not preserve (0: all preserved). */
        .text
        .globl  regs_check_across
        .type   regs_check_across, @function
regs_check_across:
        pushq   %rbp
        pushq   %rbx
        pushq   %r12
        pushq   %r13
        pushq   %r14
        pushq   %r15
        subq    $8, %rsp
        movabsq $0x1111111111111111, %rbx
        movabsq $0x2222222222222222, %rbp
        movabsq $0x3333333333333333, %r12
        movabsq $0x4444444444444444, %r13
        movabsq $0x5555555555555555, %r14
        movabsq $0x6666666666666666, %r15
        callq   *%rdi
        xorl    %eax, %eax
        movabsq $0x1111111111111111, %rcx
        cmpq    %rcx, %rbx
        je      1f
        orl     $1, %eax
1:      movabsq $0x2222222222222222, %rcx
        cmpq    %rcx, %rbp
        je      2f
        orl     $2, %eax
2:      movabsq $0x3333333333333333, %rcx
        cmpq    %rcx, %r12
        je      3f
        orl     $4, %eax
3:      movabsq $0x4444444444444444, %rcx
        cmpq    %rcx, %r13
        je      4f
        orl     $8, %eax
4:      movabsq $0x5555555555555555, %rcx
        cmpq    %rcx, %r14
        je      5f
        orl     $16, %eax
5:      movabsq $0x6666666666666666, %rcx
        cmpq    %rcx, %r15
        je      6f
        orl     $32, %eax
6:      addq    $8, %rsp
        popq    %r15
        popq    %r14
        popq    %r13
        popq    %r12
        popq    %rbx
        popq    %rbp
        ret
        .size   regs_check_across, .-regs_check_across

/* void regs_clobber_and_call(void (*fn)(void)):
 * puts garbage in every callee-saved register, calls fn, restores them. */
        .globl  regs_clobber_and_call
        .type   regs_clobber_and_call, @function
regs_clobber_and_call:
        pushq   %rbp
        pushq   %rbx
        pushq   %r12
        pushq   %r13
        pushq   %r14
        pushq   %r15
        subq    $8, %rsp
        movabsq $0xdeadbeefdeadbee1, %rbx
        movabsq $0xdeadbeefdeadbee2, %rbp
        movabsq $0xdeadbeefdeadbee3, %r12
        movabsq $0xdeadbeefdeadbee4, %r13
        movabsq $0xdeadbeefdeadbee5, %r14
        movabsq $0xdeadbeefdeadbee6, %r15
        callq   *%rdi
        addq    $8, %rsp
        popq    %r15
        popq    %r14
        popq    %r13
        popq    %r12
        popq    %rbx
        popq    %rbp
        ret
        .size   regs_clobber_and_call, .-regs_clobber_and_call

        .section .note.GNU-stack, "", @progbits
