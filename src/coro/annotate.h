/*
 * Telling the tools about stack switches, so that AddressSanitizer,
 * ThreadSanitizer and Valgrind keep working inside coroutines on the fast
 * (assembly) path as well as on the ucontext one.
 *
 * Every switch is bracketed the same way:
 *   resumer:   anno_enter(co)   -> switch -> anno_back(fake)
 *   coroutine: anno_arrived(co) ... anno_leave(co, final) -> switch
 * The tools' hooks are compiled in only when the tool is: in a plain build
 * every function below is empty and inlines to nothing. This header is the
 * one place of the module that tests for tools.
 */
#ifndef CONC_CORO_ANNOTATE_H
#define CONC_CORO_ANNOTATE_H

#include <stdbool.h>
#include <stddef.h>

#include "conc/coro.h"

#ifndef __has_feature
#    define __has_feature(x) 0
#endif
#ifndef __has_include
#    define __has_include(x) 0
#endif

/* ---- AddressSanitizer: which stack is current, and fake stacks ---------- */
#if defined(__SANITIZE_ADDRESS__) || __has_feature(address_sanitizer)
#    define CONC_CORO_ASAN 1
#    include <sanitizer/asan_interface.h>
#    include <sanitizer/common_interface_defs.h>

static inline void asan_start(void **fake_save, const void *lo, size_t size)
{
    __sanitizer_start_switch_fiber(fake_save, lo, size);
}

static inline void asan_finish(void *fake, const void **old_lo, size_t *old_size)
{
    __sanitizer_finish_switch_fiber(fake, old_lo, old_size);
}

/* A stack given up while frames were live keeps their poisoned red zones:
 * clear them before the memory serves another coroutine. */
static inline void asan_forget_stack(void *lo, void *hi)
{
    __asan_unpoison_memory_region(lo, (size_t)((char *)hi - (char *)lo));
}
#else
#    define CONC_CORO_ASAN 0
static inline void asan_start(void **fake_save, const void *lo, size_t size)
{
    (void)fake_save, (void)lo, (void)size;
}

static inline void asan_finish(void *fake, const void **old_lo, size_t *old_size)
{
    (void)fake, (void)old_lo, (void)old_size;
}

static inline void asan_forget_stack(void *lo, void *hi)
{
    (void)lo, (void)hi;
}
#endif

/* ---- ThreadSanitizer: one fiber per coroutine --------------------------
 * __tsan_switch_to_fiber() must be the last thing before the switch: the
 * functions calling it (coro.c's switch helpers) are kept free of TSan's
 * memory-access instrumentation with CONC_CORO_NO_TSAN, and each returns on
 * the fiber it was entered on, so TSan's shadow call stacks stay balanced.
 * Switches synchronise (flags 0): a coroutine handed to another thread is
 * seen as ordered after what it did on the first. */
#if defined(__SANITIZE_THREAD__) || __has_feature(thread_sanitizer)
#    include <sanitizer/tsan_interface.h>

#    define CONC_CORO_TSAN 1
#    define CONC_CORO_NO_TSAN __attribute__((no_sanitize("thread")))

static inline void *tsan_fiber_create(void)
{
    return __tsan_create_fiber(0);
}

static inline void tsan_fiber_destroy(void *fiber)
{
    __tsan_destroy_fiber(fiber);
}

static inline void *tsan_fiber_current(void)
{
    return __tsan_get_current_fiber();
}

static inline void tsan_switch_to(void *fiber)
{
    __tsan_switch_to_fiber(fiber, 0);
}
#else
#    define CONC_CORO_TSAN 0
#    define CONC_CORO_NO_TSAN

static inline void *tsan_fiber_create(void)
{
    return NULL;
}

static inline void tsan_fiber_destroy(void *fiber)
{
    (void)fiber;
}

static inline void *tsan_fiber_current(void)
{
    return NULL;
}

static inline void tsan_switch_to(void *fiber)
{
    (void)fiber;
}
#endif

/* ---- Valgrind: register each stack so memcheck follows the switches ------
 * The client requests cost a few instructions natively and nothing at all
 * where valgrind.h is not installed. */
#if __has_include(<valgrind/valgrind.h>)
#    include <valgrind/valgrind.h>

static inline unsigned valgrind_stack_register(void *lo, void *hi)
{
    return VALGRIND_STACK_REGISTER(lo, hi);
}

static inline void valgrind_stack_deregister(unsigned id)
{
    VALGRIND_STACK_DEREGISTER(id);
}
#else
static inline unsigned valgrind_stack_register(void *lo, void *hi)
{
    (void)lo, (void)hi;
    return 0;
}

static inline void valgrind_stack_deregister(unsigned id)
{
    (void)id;
}
#endif

/* ---- the hooks coro.c calls -------------------------------------------- */

/* With ASan or TSan, code must run on the new stack right after each switch
 * (anno_back, anno_arrived): coro.c then calls the switch instead of
 * jumping to it as its last act. */
#define CONC_CORO_ANNOTATED (CONC_CORO_ASAN || CONC_CORO_TSAN)

static inline void anno_create(conc_coro_t *co)
{
    co->tsan_fiber_ = tsan_fiber_create();
    co->valgrind_stack_id_ = valgrind_stack_register(co->stack_lo_, co->stack_hi_);
}

static inline void anno_destroy(conc_coro_t *co)
{
    if (co->tsan_fiber_)
        tsan_fiber_destroy(co->tsan_fiber_);
    valgrind_stack_deregister(co->valgrind_stack_id_);
    asan_forget_stack(co->stack_lo_, co->stack_hi_);
}

/* Resumer side, just before switching into co; *fake keeps the resumer's
 * fake stack until anno_back(). */
static inline void anno_enter(conc_coro_t *co, void **fake)
{
    asan_start(fake, co->stack_lo_, (size_t)((char *)co->stack_hi_ - (char *)co->stack_lo_));
    co->tsan_back_fiber_ = tsan_fiber_current();
    tsan_switch_to(co->tsan_fiber_);
}

/* Resumer side, back from the coroutine. */
static inline void anno_back(void *fake)
{
    asan_finish(fake, NULL, NULL);
}

/* Coroutine side, after arriving on its stack: learn the resumer's stack. */
static inline void anno_arrived(conc_coro_t *co)
{
    asan_finish(co->asan_fake_stack_, &co->back_stack_lo_, &co->back_stack_size_);
}

/* Coroutine side, before switching back; `final` when it never runs again,
 * so ASan drops its fake stack. */
static inline void anno_leave(conc_coro_t *co, bool final)
{
    asan_start(final ? NULL : &co->asan_fake_stack_, co->back_stack_lo_, co->back_stack_size_);
    tsan_switch_to(co->tsan_back_fiber_);
}

#endif /* CONC_CORO_ANNOTATE_H */
