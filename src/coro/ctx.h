/*
 * The context switch: one implementation per ABI (ctx_<arch>.S) or the
 * portable ucontext one (ctx_ucontext.c); src/coro/meson.build picks exactly
 * one. A context is named by an opaque pointer, its saved stack pointer.
 */
#ifndef CONC_CORO_CTX_H
#define CONC_CORO_CTX_H

#include <stddef.h>

/*
 * Prepare a context on the stack [lo, hi) (hi 16-byte aligned) that, when
 * first switched to, calls fn(arg) on that stack with a terminated frame
 * chain (debuggers and backtrace() stop there). fn must never return: it
 * leaves by switching away for good. The floating-point control state (MXCSR,
 * x87 control word, ...) starts as the caller's. Returns the context, to be
 * passed to conc__ctx_switch().
 */
void *conc__ctx_make(void *lo, void *hi, void (*fn)(void *), void *arg);

/*
 * Save the ABI's callee-saved state of the caller on its own stack, store its
 * context in *save, and continue the context `to`. Returns 0 when another
 * switch continues the context stored in *save.
 *
 * Called as a tail call (`return conc__ctx_switch(...)`), the saved context
 * is "return 0 to my caller's caller": the other context then continues
 * straight in the code that called resume or yield, and no return
 * instruction ever crosses from one context into another (a return whose
 * target the CPU's return-stack predictor always gets wrong). The assembly
 * switches also continue a context by jump, not by return, for that reason.
 */
int conc__ctx_switch(void **save, void *to);

#endif /* CONC_CORO_CTX_H */
