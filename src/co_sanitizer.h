/* SPDX-License-Identifier: Apache-2.0 */
/* co_sanitizer.h — tells AddressSanitizer and valgrind about stacks and stack switches. */
#ifndef COSTACK_SANITIZER_H
#define COSTACK_SANITIZER_H

#include <stddef.h>
#include "config.h"

/*
 * ASan: every switch is announced with the fiber-switch interface, so ASan
 * knows which stack is current; shared-stack copies unpoison the bytes they
 * move (the frames' redzones are the previous owner's, not the new one's).
 * valgrind: every stack is registered, so a switch is not taken for a huge
 * stack frame, and restored bytes are made addressable before the copy.
 * Both compile to nothing in a normal build.
 */
#ifdef CO_ASAN
void __sanitizer_start_switch_fiber(void **fake_stack_save, const void *bottom, size_t size);
void __sanitizer_finish_switch_fiber(void *fake_stack_save, const void **bottom_old, size_t *size_old);
void __asan_unpoison_memory_region(void const volatile *addr, size_t size);
#define co_asan_start_switch(save, lo, size) __sanitizer_start_switch_fiber((save), (lo), (size))
#define co_asan_finish_switch(fake) __sanitizer_finish_switch_fiber((fake), NULL, NULL)
#define co_asan_unpoison(addr, size) __asan_unpoison_memory_region((addr), (size))
#else
#define co_asan_start_switch(save, lo, size) ((void)0)
#define co_asan_finish_switch(fake) ((void)0)
#define co_asan_unpoison(addr, size) ((void)0)
#endif

#if defined(HAVE_VALGRIND_VALGRIND_H) && defined(HAVE_VALGRIND_MEMCHECK_H)
#include <valgrind/valgrind.h>
#include <valgrind/memcheck.h>
#define co_vg_stack_register(lo, hi) VALGRIND_STACK_REGISTER((lo), (hi))
#define co_vg_stack_deregister(id) VALGRIND_STACK_DEREGISTER(id)
#define co_vg_make_undefined(addr, len) VALGRIND_MAKE_MEM_UNDEFINED((addr), (len))
#else
#define co_vg_stack_register(lo, hi) 0u
#define co_vg_stack_deregister(id) ((void)(id))
#define co_vg_make_undefined(addr, len) ((void)0)
#endif

#endif
