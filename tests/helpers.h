/*
 * The small helper library shared by every test program: CMocka includes,
 * stress sizing, timing checks and thread helpers that do not depend on the
 * module under test.
 */
#ifndef CONC_TEST_HELPERS_H
#define CONC_TEST_HELPERS_H

#include <setjmp.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs setjmp.h, stdarg.h, stddef.h and stdint.h first. */
#include <cmocka.h>

#include "conc.h"
#include "core/waitq.h"

/* Which sanitizer instruments this build: TSan allows about 8128 fibers
 * (coroutines, tasks) alive and slows everything ~10x; ASan maps memory of
 * its own per stack; neither runs under an address-space limit. Tests size
 * themselves by these. */
#ifndef __has_feature
#    define __has_feature(x) 0
#endif
#if defined(__SANITIZE_THREAD__) || __has_feature(thread_sanitizer)
#    define UNDER_TSAN 1
#else
#    define UNDER_TSAN 0
#endif
#if defined(__SANITIZE_ADDRESS__) || __has_feature(address_sanitizer)
#    define UNDER_ASAN 1
#else
#    define UNDER_ASAN 0
#endif
#define UNDER_SANITIZER (UNDER_TSAN || UNDER_ASAN)

/* Multiplier for stress sizes: CONC_STRESS_SCALE in the environment, else
 * the build's stress_scale option. Stress tests stay a few seconds at 1. */
long test_stress_scale(void);

/* True when the test runs under a user-mode emulator (meson's exe wrapper,
 * qemu-user for the cross targets). qemu-user does not emulate some kernel
 * services: the robust futex list that recovers a lock whose holder died,
 * and address-space limits (RLIMIT_AS applies to the emulator itself). The
 * few tests that need those run natively (x86_64 plain, ASan, TSan) and say
 * so when skipped under the emulator. */
bool test_under_emulator(void);

/* Assert a return code, printing both names on failure. */
#define assert_rc(expected, actual) test_assert_rc_((expected), (actual), __FILE__, __LINE__)
void test_assert_rc_(int expected, int actual, const char *file, int line);

/*
 * Soft checks, for code where a failing assert_*() must not longjmp: inside
 * a coroutine task or a loop callback (it would leave the loop running), on
 * a helper thread. They print the first failures and count them all; the
 * test asserts test_soft_failures() == 0 at its end (reset it in setup).
 */
#define CK(expected, actual) test_check_rc_((expected), (actual), #actual, __FILE__, __LINE__)
#define CKT(cond) test_check_true_((cond), #cond, __FILE__, __LINE__)
void test_check_rc_(long expected, long actual, const char *what, const char *file, int line);
bool test_check_true_(bool ok, const char *what, const char *file, int line);
int test_soft_failures(void);
void test_soft_reset(void);

/* Open descriptors of this process (the directory's own one included, the
 * same way every time): compare before and after to find a leak. */
int test_count_fds(void);
/* Assert that this process has no child left, not even a zombie. */
void test_assert_no_children(void);
/* How many waiters a wait queue guarded by lock holds now, and a wait
 * (polling) until it holds at least n: how a test knows that a thread or
 * task has gone to sleep in a primitive. */
int test_waiters(conc__os_lock_t *lock, conc__waitq_t *wq);
void test_wait_for_waiters(conc__os_lock_t *lock, conc__waitq_t *wq, int n);

/* CMocka setup and teardown for tests of processes and descriptors: the
 * teardown fails the test if it left a child, a descriptor or a soft
 * failure behind. */
int test_leak_setup(void **state);
int test_leak_teardown(void **state);

/* Run fn(arg) on n raw helper threads (created through the OS layer, so the
 * tests of conc_thread do not depend on themselves) and join them all. */
typedef void *(*test_thread_fn)(void *arg);
void test_run_threads(int n, test_thread_fn fn, void *args, size_t arg_size);

/* A one-shot gate: threads wait (polling, so it needs no primitive under
 * test) until the test opens it. */
struct test_gate {
    _Atomic int open;
};
void test_gate_wait(struct test_gate *g);
void test_gate_open(struct test_gate *g);

/*
 * A task-like context, installed on the calling thread through the hook the
 * loop module will use (conc__context_switch): its own identity (so it owns
 * locks apart from its thread), blocking on the thread's parker, optionally
 * cancelled (every cancellable block then returns CONC_ECANCELED), and an
 * optional hook run instead of a timed block, to stage races.
 */
struct test_task {
    void *parker;
    _Atomic bool cancelled;
    int (*timed_block)(struct test_task *t, int64_t deadline);
    void *arg;
    struct {
        const void *ops;
        void *ctx;
    } prev;
};
void test_task_enter(struct test_task *t);
void test_task_leave(struct test_task *t);

#endif /* CONC_TEST_HELPERS_H */
