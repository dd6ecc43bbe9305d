/* SPDX-License-Identifier: Apache-2.0 */
/* co_ctx.c — builds the initial frame a new coroutine is first switched into. */
#include <stdint.h>
#include <string.h>

#include "co_internal.h"

/* The frame offsets used below are the assembly's; check they fit together. */
#if defined(__x86_64__)
_Static_assert(CO_CTX_OFF_RET + 8 == CO_CTX_ABOVE_SP, "x86-64: return address tops the frame");
_Static_assert(CO_CTX_OFF_MXCSR == -CO_CTX_BELOW_SP, "x86-64: MXCSR is the lowest saved word");
_Static_assert(CO_CTX_ABOVE_SP % 16 == 8, "x86-64: the trampoline must start 16-aligned");
#elif defined(__aarch64__)
_Static_assert(CO_CTX_ABOVE_SP % 16 == 0, "aarch64: frame keeps sp 16-aligned");
_Static_assert(CO_CTX_OFF_FPCR + 16 == CO_CTX_ABOVE_SP, "aarch64: FPCR tops the frame");
_Static_assert(CO_CTX_OFF_D8 == CO_CTX_OFF_X19 + 80, "aarch64: d8 follows x19..x28");
#endif

static void put_word(char *sp, int off, uintptr_t value)
{
    memcpy(sp + off, &value, sizeof value);
}

/* The running context's floating-point control state, as coctx_make takes it. */
uint64_t coctx_fpstate(void)
{
#if defined(__x86_64__)
    uint32_t mxcsr;
    uint16_t fpucw;
    __asm__ volatile("stmxcsr %0" : "=m"(mxcsr));
    __asm__ volatile("fnstcw %0" : "=m"(fpucw));
    return (mxcsr & CO_MXCSR_CONTROL) | (uint64_t)fpucw << 32;
#elif defined(__aarch64__)
    uint64_t fpcr;
    __asm__ volatile("mrs %0, fpcr" : "=r"(fpcr));
    return fpcr;
#endif
}

/*
 * Writes below top (16-aligned) a frame that coctx_switch "returns" from
 * into coctx_trampoline, which calls entry(arg) and then exit_fn(self, ret).
 * fpstate (from coctx_fpstate) is the creator's floating-point control
 * state: a new coroutine inherits it, as a new thread does.  Returns the sp
 * to store in the context.
 */
void *coctx_make(char *top, struct stCoRoutine_t *self, void *(*entry)(void *), void *arg,
                 void (*exit_fn)(struct stCoRoutine_t *, void *), uint64_t fpstate)
{
    char *sp = top - CO_CTX_ABOVE_SP;

    for (int off = -CO_CTX_BELOW_SP; off < CO_CTX_ABOVE_SP; off += 8)
        put_word(sp, off, 0);
#if defined(__x86_64__)
    uint32_t mxcsr = (uint32_t)fpstate;
    uint16_t fpucw = (uint16_t)(fpstate >> 32);
    memcpy(sp + CO_CTX_OFF_MXCSR, &mxcsr, sizeof mxcsr);
    memcpy(sp + CO_CTX_OFF_FPUCW, &fpucw, sizeof fpucw);
    put_word(sp, CO_CTX_OFF_RBX, (uintptr_t)self);
    put_word(sp, CO_CTX_OFF_R12, (uintptr_t)arg);
    put_word(sp, CO_CTX_OFF_R13, (uintptr_t)entry);
    put_word(sp, CO_CTX_OFF_R14, (uintptr_t)exit_fn);
    put_word(sp, CO_CTX_OFF_RET, (uintptr_t)coctx_trampoline);
#elif defined(__aarch64__)
    put_word(sp, CO_CTX_OFF_FPCR, fpstate);
    put_word(sp, CO_CTX_OFF_LR, (uintptr_t)coctx_trampoline);
    put_word(sp, CO_CTX_OFF_X19, (uintptr_t)self);
    put_word(sp, CO_CTX_OFF_X19 + 8, (uintptr_t)arg);
    put_word(sp, CO_CTX_OFF_X19 + 16, (uintptr_t)entry);
    put_word(sp, CO_CTX_OFF_X19 + 24, (uintptr_t)exit_fn);
#endif
    return sp;
}
