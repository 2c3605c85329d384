/*
 * Coroutines: every API behaviour and error code, nesting, generators,
 * stack modes and the stack cache, overflow detection (in forked children),
 * frame-chain termination, and the callee-saved registers across switches.
 */
#include <execinfo.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conc/coro.h"
#include "coro_regs.h"
#include "helpers.h"
#include "os/os.h"

static conc_coro_attr_t attr_of(int mode, size_t size, void *buf)
{
    conc_coro_attr_t a = CONC_CORO_ATTR_INIT;

    a.stack_mode = mode;
    a.stack_size = size;
    a.stack = buf;
    return a;
}

static void *return_arg(void *arg, void *in)
{
    (void)in;
    return arg;
}

static void *return_in(void *arg, void *in)
{
    (void)arg;
    return in;
}

/* ---- creation and its errors --------------------------------------------- */

static void create_rejects_null_object_and_entry(void **state)
{
    conc_coro_t co;

    (void)state;
    assert_rc(CONC_EINVAL, conc_coro_create(NULL, NULL, return_arg, NULL));
    assert_rc(CONC_EINVAL, conc_coro_create(&co, NULL, NULL, NULL));
}

static void create_rejects_stack_smaller_than_minimum(void **state)
{
    static char buf[CONC_CORO_STACK_MIN];
    conc_coro_t co;
    conc_coro_attr_t a;

    (void)state;
    a = attr_of(CONC_CORO_STACK_GUARD, CONC_CORO_STACK_MIN - 1, NULL);
    assert_rc(CONC_EINVAL, conc_coro_create(&co, &a, return_arg, NULL));
    a = attr_of(CONC_CORO_STACK_CANARY, 4096, NULL);
    assert_rc(CONC_EINVAL, conc_coro_create(&co, &a, return_arg, NULL));
    /* The buffer also holds the canary and alignment: exactly the minimum
     * is too small. */
    a = attr_of(CONC_CORO_STACK_BUFFER, sizeof buf, buf);
    assert_rc(CONC_EINVAL, conc_coro_create(&co, &a, return_arg, NULL));
}

static void create_rejects_bad_mode_and_misplaced_buffer(void **state)
{
    static char buf[4 * CONC_CORO_STACK_MIN];
    conc_coro_t co;
    conc_coro_attr_t a;

    (void)state;
    a = attr_of(7, 0, NULL);
    assert_rc(CONC_EINVAL, conc_coro_create(&co, &a, return_arg, NULL));
    a = attr_of(CONC_CORO_STACK_BUFFER, sizeof buf, NULL);
    assert_rc(CONC_EINVAL, conc_coro_create(&co, &a, return_arg, NULL));
    a = attr_of(CONC_CORO_STACK_BUFFER, 0, buf);
    assert_rc(CONC_EINVAL, conc_coro_create(&co, &a, return_arg, NULL));
    a = attr_of(CONC_CORO_STACK_GUARD, sizeof buf, buf);
    assert_rc(CONC_EINVAL, conc_coro_create(&co, &a, return_arg, NULL));
    a = attr_of(CONC_CORO_STACK_CANARY, sizeof buf, buf);
    assert_rc(CONC_EINVAL, conc_coro_create(&co, &a, return_arg, NULL));
}

static void create_of_unmappable_stack_is_enomem(void **state)
{
    conc_coro_t co;
    /* Larger than any address space can hold, yet roundable to pages. */
    conc_coro_attr_t a = attr_of(CONC_CORO_STACK_GUARD, SIZE_MAX / 4 * 3, NULL);

    (void)state;
    assert_rc(CONC_ENOMEM, conc_coro_create(&co, &a, return_arg, NULL));
}

static int ran;

static void *count_run(void *arg, void *in)
{
    (void)arg, (void)in;
    ran++;
    return NULL;
}

static void new_coroutine_is_suspended_and_runs_nothing(void **state)
{
    conc_coro_t co;

    (void)state;
    ran = 0;
    assert_rc(0, conc_coro_create(&co, NULL, count_run, NULL));
    assert_int_equal(CONC_CORO_SUSPENDED, conc_coro_status(&co));
    assert_int_equal(0, ran);
    assert_rc(0, conc_coro_destroy(&co));
    assert_int_equal(0, ran);
}

/* ---- resume, yield, return ------------------------------------------------ */

/* Yields in+1 for every value sent in, until it receives 0. */
static void *increment(void *arg, void *in)
{
    (void)arg;
    while ((intptr_t)in != 0)
        assert_rc(0, conc_coro_yield((void *)((intptr_t)in + 1), &in));
    return (void *)(intptr_t)-1;
}

static void resume_passes_value_in_and_yield_passes_value_out(void **state)
{
    conc_coro_t co;
    void *out = NULL;

    (void)state;
    assert_rc(0, conc_coro_create(&co, NULL, increment, NULL));
    for (intptr_t i = 1; i <= 100; i++) {
        assert_rc(0, conc_coro_resume(&co, (void *)i, &out));
        assert_int_equal(i + 1, (intptr_t)out);
        assert_int_equal(CONC_CORO_SUSPENDED, conc_coro_status(&co));
    }
    assert_rc(0, conc_coro_resume(&co, (void *)0, &out));
    assert_int_equal(-1, (intptr_t)out);
    assert_rc(0, conc_coro_destroy(&co));
}

static void entry_gets_arg_and_first_value_and_returns_final_result(void **state)
{
    conc_coro_t co;
    void *out = NULL;
    int x;

    (void)state;
    assert_rc(0, conc_coro_create(&co, NULL, return_arg, &x));
    assert_rc(0, conc_coro_resume(&co, NULL, &out));
    assert_ptr_equal(&x, out);
    assert_int_equal(CONC_CORO_DONE, conc_coro_status(&co));
    assert_rc(0, conc_coro_destroy(&co));

    assert_rc(0, conc_coro_create(&co, NULL, return_in, NULL));
    assert_rc(0, conc_coro_resume(&co, &x, NULL)); /* out may be NULL */
    assert_int_equal(CONC_CORO_DONE, conc_coro_status(&co));
    assert_rc(0, conc_coro_destroy(&co));
}

static void resume_of_done_coroutine_is_einval(void **state)
{
    conc_coro_t co;
    void *out = &co;

    (void)state;
    assert_rc(0, conc_coro_create(&co, NULL, return_arg, NULL));
    assert_rc(0, conc_coro_resume(&co, NULL, &out));
    assert_rc(CONC_EINVAL, conc_coro_resume(&co, NULL, &out));
    assert_null(out); /* untouched by the failed call */
    assert_int_equal(CONC_CORO_DONE, conc_coro_status(&co));
    assert_rc(0, conc_coro_destroy(&co));
}

static void *resume_self(void *arg, void *in)
{
    conc_coro_t *self = conc_coro_current();

    (void)arg, (void)in;
    return (void *)(intptr_t)conc_coro_resume(self, NULL, NULL);
}

static void resume_of_running_coroutine_is_ebusy(void **state)
{
    conc_coro_t co;
    void *out = NULL;

    (void)state;
    assert_rc(0, conc_coro_create(&co, NULL, resume_self, NULL));
    assert_rc(0, conc_coro_resume(&co, NULL, &out));
    assert_rc(CONC_EBUSY, (int)(intptr_t)out);
    assert_rc(0, conc_coro_destroy(&co));
}

static void yield_outside_coroutine_is_eperm(void **state)
{
    void *in = &in;

    (void)state;
    assert_null(conc_coro_current());
    assert_rc(CONC_EPERM, conc_coro_yield(NULL, &in));
    assert_ptr_equal(&in, in);
}

static void calls_on_destroyed_or_null_coroutine_are_einval(void **state)
{
    conc_coro_t co;

    (void)state;
    assert_rc(CONC_EINVAL, conc_coro_status(NULL));
    assert_rc(CONC_EINVAL, conc_coro_resume(NULL, NULL, NULL));
    assert_rc(CONC_EINVAL, conc_coro_destroy(NULL));
    assert_rc(0, conc_coro_create(&co, NULL, return_arg, NULL));
    assert_rc(0, conc_coro_destroy(&co));
    assert_rc(CONC_EINVAL, conc_coro_status(&co));
    assert_rc(CONC_EINVAL, conc_coro_resume(&co, NULL, NULL));
    assert_rc(CONC_EINVAL, conc_coro_destroy(&co));
}

static void *destroy_self(void *arg, void *in)
{
    (void)arg, (void)in;
    return (void *)(intptr_t)conc_coro_destroy(conc_coro_current());
}

static void destroy_of_running_coroutine_is_ebusy(void **state)
{
    conc_coro_t co;
    void *out = NULL;

    (void)state;
    assert_rc(0, conc_coro_create(&co, NULL, destroy_self, NULL));
    assert_rc(0, conc_coro_resume(&co, NULL, &out));
    assert_rc(CONC_EBUSY, (int)(intptr_t)out);
    assert_int_equal(CONC_CORO_DONE, conc_coro_status(&co));
    assert_rc(0, conc_coro_destroy(&co));
}

/* ---- nesting and current ------------------------------------------------- */

struct nest {
    conc_coro_t outer, inner;
    int inner_status_seen_by_inner, outer_status_seen_by_inner;
    int resume_outer_from_inner;
    conc_coro_t *current_in_inner, *current_in_outer_after;
};

static void *inner_fn(void *arg, void *in)
{
    struct nest *n = arg;

    (void)in;
    n->current_in_inner = conc_coro_current();
    n->inner_status_seen_by_inner = conc_coro_status(&n->inner);
    n->outer_status_seen_by_inner = conc_coro_status(&n->outer);
    n->resume_outer_from_inner = conc_coro_resume(&n->outer, NULL, NULL);
    assert_rc(0, conc_coro_yield((void *)(intptr_t)10, NULL));
    return (void *)(intptr_t)20;
}

static void *outer_fn(void *arg, void *in)
{
    struct nest *n = arg;
    void *v = NULL;
    intptr_t sum = 0;

    (void)in;
    assert_rc(0, conc_coro_create(&n->inner, NULL, inner_fn, n));
    assert_rc(0, conc_coro_resume(&n->inner, NULL, &v)); /* inner yields 10 to us */
    sum += (intptr_t)v;
    n->current_in_outer_after = conc_coro_current();
    assert_rc(0, conc_coro_yield((void *)sum, NULL));    /* to the thread */
    assert_rc(0, conc_coro_resume(&n->inner, NULL, &v)); /* inner returns 20 */
    sum += (intptr_t)v;
    assert_rc(0, conc_coro_destroy(&n->inner));
    return (void *)sum;
}

static void nested_coroutine_yields_to_its_resumer(void **state)
{
    struct nest n;
    void *v = NULL;

    (void)state;
    memset(&n, 0, sizeof n);
    assert_rc(0, conc_coro_create(&n.outer, NULL, outer_fn, &n));
    assert_rc(0, conc_coro_resume(&n.outer, NULL, &v));
    assert_int_equal(10, (intptr_t)v);
    assert_ptr_equal(&n.inner, n.current_in_inner);
    assert_ptr_equal(&n.outer, n.current_in_outer_after);
    assert_int_equal(CONC_CORO_RUNNING, n.inner_status_seen_by_inner);
    assert_int_equal(CONC_CORO_RUNNING, n.outer_status_seen_by_inner);
    assert_rc(CONC_EBUSY, n.resume_outer_from_inner);
    assert_null(conc_coro_current());
    assert_rc(0, conc_coro_resume(&n.outer, NULL, &v));
    assert_int_equal(30, (intptr_t)v);
    assert_int_equal(CONC_CORO_DONE, conc_coro_status(&n.outer));
    assert_rc(0, conc_coro_destroy(&n.outer));
}

/* ---- generators ----------------------------------------------------------- */

static void *fibonacci(void *arg, void *in)
{
    long a = 0, b = 1, n = *(long *)arg;

    (void)in;
    for (long i = 0; i < n; i++) {
        long next = a + b;
        conc_coro_yield(&a, NULL);
        a = b;
        b = next;
    }
    return NULL;
}

static void generator_produces_values_until_it_returns(void **state)
{
    static const long expect[] = { 0, 1, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89 };
    long n = 12, got = 0;
    conc_coro_t co;
    void *v;

    (void)state;
    assert_rc(0, conc_coro_create(&co, NULL, fibonacci, &n));
    for (;;) {
        assert_rc(0, conc_coro_resume(&co, NULL, &v));
        if (conc_coro_status(&co) == CONC_CORO_DONE)
            break;
        assert_int_equal(expect[got], *(long *)v);
        got++;
    }
    assert_int_equal(12, got);
    assert_null(v);
    assert_rc(0, conc_coro_destroy(&co));
}

/* Consumes the values sent in, yields the running total, stops at NULL. */
static void *summer(void *arg, void *in)
{
    long total = 0;

    (void)arg;
    while (in) {
        total += *(long *)in;
        conc_coro_yield((void *)(intptr_t)total, &in);
    }
    return (void *)(intptr_t)-total;
}

static void consumer_receives_every_value_sent_in(void **state)
{
    conc_coro_t co;
    void *v;
    long vals[1000], expect = 0;

    (void)state;
    assert_rc(0, conc_coro_create(&co, NULL, summer, NULL));
    for (long i = 0; i < 1000; i++) {
        vals[i] = i * 7 - 3;
        expect += vals[i];
        assert_rc(0, conc_coro_resume(&co, &vals[i], &v));
        assert_int_equal(expect, (intptr_t)v);
    }
    assert_rc(0, conc_coro_resume(&co, NULL, &v));
    assert_int_equal(-expect, (intptr_t)v);
    assert_rc(0, conc_coro_destroy(&co));
}

/* ---- stacks ---------------------------------------------------------------- */

static void *yield_forever(void *arg, void *in)
{
    (void)arg, (void)in;
    for (;;)
        conc_coro_yield(NULL, NULL);
    return NULL;
}

static void destroy_of_suspended_coroutine_releases_its_stack(void **state)
{
    static const int modes[] = { CONC_CORO_STACK_GUARD, CONC_CORO_STACK_CANARY };

    (void)state;
    for (int m = 0; m < 2; m++) {
        conc_coro_attr_t a = attr_of(modes[m], 0, NULL);
        conc_coro_t co;
        void *lo;

        assert_rc(0, conc_coro_create(&co, &a, yield_forever, NULL));
        assert_rc(0, conc_coro_resume(&co, NULL, NULL));
        assert_rc(0, conc_coro_resume(&co, NULL, NULL));
        lo = co.stack_lo_;
        assert_rc(0, conc_coro_destroy(&co));
        /* The freed stack is cached: the next creation gets it back. */
        assert_rc(0, conc_coro_create(&co, &a, return_arg, NULL));
        assert_ptr_equal(lo, co.stack_lo_);
        assert_rc(0, conc_coro_resume(&co, NULL, NULL));
        assert_rc(0, conc_coro_destroy(&co));
    }
}

static void *touch_stack(void *arg, void *in)
{
    size_t size = *(size_t *)arg;
    char *lo = conc_coro_current()->stack_lo_;
    volatile char *p = lo;
    char *here = __builtin_frame_address(0);

    (void)in;
    /* The whole requested size lies below this frame and is writable. */
    assert_true(size <= (size_t)(here - lo));
    for (size_t i = 0; i < size - 4096; i += 512)
        p[i] = (char)i;
    return NULL;
}

static void stack_holds_at_least_the_requested_size(void **state)
{
    static const int modes[] = { CONC_CORO_STACK_GUARD, CONC_CORO_STACK_CANARY };
    static const size_t sizes[] = { CONC_CORO_STACK_MIN, 100000, 1 << 20 };

    (void)state;
    for (int m = 0; m < 2; m++) {
        for (int s = 0; s < 3; s++) {
            conc_coro_attr_t a = attr_of(modes[m], sizes[s], NULL);
            size_t want = sizes[s] - 2048; /* minus this test's own frames */
            conc_coro_t co;

            assert_rc(0, conc_coro_create(&co, &a, touch_stack, &want));
            assert_true((size_t)((char *)co.stack_hi_ - (char *)co.stack_lo_) >= sizes[s]);
            assert_rc(0, conc_coro_resume(&co, NULL, NULL));
            assert_rc(0, conc_coro_destroy(&co));
        }
    }
}

static void *where_am_i(void *arg, void *in)
{
    (void)in;
    *(uintptr_t *)arg = (uintptr_t)__builtin_frame_address(0);
    return NULL;
}

static void buffer_stack_is_used_and_never_freed(void **state)
{
    static _Alignas(64) char buf[64 * 1024];
    conc_coro_attr_t a = attr_of(CONC_CORO_STACK_BUFFER, sizeof buf, buf);
    conc_coro_t co;
    uintptr_t where_addr;
    char *where;

    (void)state;
    for (int round = 0; round < 3; round++) {
        assert_rc(0, conc_coro_create(&co, &a, where_am_i, &where_addr));
        assert_rc(0, conc_coro_resume(&co, NULL, NULL));
        where = (char *)where_addr;
        assert_true((char *)where > buf && (char *)where < buf + sizeof buf);
        assert_rc(0, conc_coro_destroy(&co));
    }
    /* An unaligned buffer works too: libconc aligns inside it. */
    a = attr_of(CONC_CORO_STACK_BUFFER, sizeof buf - 3, buf + 3);
    assert_rc(0, conc_coro_create(&co, &a, where_am_i, &where_addr));
    assert_rc(0, conc_coro_resume(&co, NULL, NULL));
    where = (char *)where_addr;
    assert_true((char *)where > buf + 3 && (char *)where < buf + sizeof buf);
    assert_rc(0, conc_coro_destroy(&co));
}

/* 10,000 live canary-mode coroutines, resumed round-robin. ThreadSanitizer
 * counts every coroutine (a fiber) against its limit of 8128 threads. */
#ifndef __has_feature
#    define __has_feature(x) 0
#endif
#if defined(__SANITIZE_THREAD__) || __has_feature(thread_sanitizer)
#    define MANY 4000
#else
#    define MANY 10000
#endif
#define MANY_ROUNDS 5

static void *count_rounds(void *arg, void *in)
{
    long *counter = arg;

    (void)in;
    for (int r = 0; r < MANY_ROUNDS; r++) {
        (*counter)++;
        conc_coro_yield(counter, NULL);
    }
    return NULL;
}

static void many_coroutines_live_and_run_interleaved(void **state)
{
    conc_coro_attr_t a = attr_of(CONC_CORO_STACK_CANARY, 0, NULL);
    conc_coro_t *co = calloc(MANY, sizeof *co);
    long *counters = calloc(MANY, sizeof *counters);

    (void)state;
    assert_non_null(co);
    assert_non_null(counters);
    for (int i = 0; i < MANY; i++)
        assert_rc(0, conc_coro_create(&co[i], &a, count_rounds, &counters[i]));
    for (int r = 0; r <= MANY_ROUNDS; r++) {
        for (int i = 0; i < MANY; i++) {
            void *out;
            assert_rc(0, conc_coro_resume(&co[i], NULL, &out));
            assert_ptr_equal(r < MANY_ROUNDS ? &counters[i] : NULL, out);
        }
    }
    for (int i = 0; i < MANY; i++) {
        assert_int_equal(MANY_ROUNDS, counters[i]);
        assert_int_equal(CONC_CORO_DONE, conc_coro_status(&co[i]));
        assert_rc(0, conc_coro_destroy(&co[i]));
    }
    free(co);
    free(counters);
}

/* The compiler trusts the ABI's stack alignment to place this variable: on
 * a misaligned stack its address would be misaligned too. */
static __attribute__((noinline)) uintptr_t aligned_local_address(void)
{
    _Alignas(16) volatile char v[16];
    uintptr_t a = (uintptr_t)&v[0];

    v[0] = 1;
    __asm__ volatile("" : "+r"(a)); /* hide the address from constant folding */
    return a;
}

static void *report_alignment(void *arg, void *in)
{
    uintptr_t *misaligned = arg;

    (void)in;
    *misaligned |= aligned_local_address() & 15;
    conc_coro_yield(NULL, NULL);
    *misaligned |= aligned_local_address() & 15;
    return NULL;
}

static void coroutine_stack_keeps_the_abi_alignment(void **state)
{
    static const int modes[] = { CONC_CORO_STACK_GUARD, CONC_CORO_STACK_CANARY,
                                 CONC_CORO_STACK_BUFFER };
    static char buf[64 * 1024 + 7];

    (void)state;
    for (int m = 0; m < 3; m++) {
        /* An odd buffer address and size: libconc must align inside it. */
        conc_coro_attr_t a =
            attr_of(modes[m], m == 2 ? sizeof buf - 1 : 0, m == 2 ? buf + 1 : NULL);
        uintptr_t misaligned = 0;
        conc_coro_t co;

        assert_rc(0, conc_coro_create(&co, &a, report_alignment, &misaligned));
        assert_rc(0, conc_coro_resume(&co, NULL, NULL));
        assert_rc(0, conc_coro_resume(&co, NULL, NULL));
        assert_int_equal(0, misaligned);
        assert_rc(0, conc_coro_destroy(&co));
    }
}

/* ---- overflow detection, in forked children --------------------------------- */

enum { NO_REAL_STACK = 5 };

/* 4 KiB of stack, written all over. (alloca, not an array: AddressSanitizer
 * may move arrays to its "fake stack" on the heap.) */
static int smash(void)
{
    volatile char *big = __builtin_alloca(4096);
    const conc_coro_t *self = conc_coro_current();

    /* Clang's AddressSanitizer with detect_stack_use_after_return moves
     * even alloca() to its fake stack: no overflow possible from C then. */
    uintptr_t at = (uintptr_t)big;

    if (at > (uintptr_t)self->stack_hi_ || at < (uintptr_t)self->stack_lo_ - 8192)
        _exit(NO_REAL_STACK);
    for (size_t i = 0; i < 4096; i++)
        big[i] = (char)i;
    return big[100];
}

/* Recurse with small frames until one lies below `floor`, then smash. */
static int overflow(uintptr_t floor, int depth)
{
    volatile char buf[64];

    buf[0] = (char)depth;
    if ((uintptr_t)__builtin_frame_address(0) < floor)
        return smash() + buf[0];
    return overflow(floor, depth + 1) + buf[0];
}

static void *overflow_entry(void *arg, void *in)
{
    /* With a guard page: far below the stack, the fault comes first. With
     * a canary: 2 KiB above the stack's bottom, so that smash()'s frame
     * reaches 2 KiB below it, across the canary. */
    uintptr_t lo = (uintptr_t)conc_coro_current()->stack_lo_;
    uintptr_t floor = arg ? lo + 2048 : lo - (1 << 20);

    (void)in;
    return (void *)(intptr_t)overflow(floor, 0);
}

/* Run fn in a child; return its wait status and what it wrote to stderr. */
static int in_child(void (*fn)(int mode), int mode, char *err, size_t errlen)
{
    int fds[2], status = 0;
    ssize_t n, got = 0;
    pid_t pid;

    assert_int_equal(0, pipe(fds));
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* Die of the signal itself, not of a sanitizer's report of it. */
        signal(SIGSEGV, SIG_DFL);
        signal(SIGBUS, SIG_DFL);
        dup2(fds[1], 2);
        fn(mode);
        _exit(0);
    }
    close(fds[1]);
    while ((size_t)got + 1 < errlen && (n = read(fds[0], err + got, errlen - 1 - (size_t)got)) > 0)
        got += n;
    err[got] = '\0';
    close(fds[0]);
    assert_int_equal(pid, waitpid(pid, &status, 0));
    return status;
}

static void overflow_child(int mode)
{
    static _Alignas(16) char buf[128 * 1024];
    conc_coro_attr_t a = attr_of(mode, CONC_CORO_STACK_MIN, NULL);
    conc_coro_t co;

    if (mode == CONC_CORO_STACK_BUFFER)
        a = attr_of(mode, sizeof buf / 2, buf + sizeof buf / 2);
    if (conc_coro_create(&co, &a, overflow_entry, mode == CONC_CORO_STACK_GUARD ? NULL : &co))
        _exit(3);
    conc_coro_resume(&co, NULL, NULL);
    _exit(4); /* overflow went unnoticed */
}

static void guard_page_overflow_dies_with_sigsegv(void **state)
{
    char err[512];
    int status = in_child(overflow_child, CONC_CORO_STACK_GUARD, err, sizeof err);

    (void)state;
    assert_true(WIFSIGNALED(status));
    assert_int_equal(SIGSEGV, WTERMSIG(status));
}

static void canary_overflow_aborts_at_next_switch_with_message(void **state)
{
    static const int modes[] = { CONC_CORO_STACK_CANARY, CONC_CORO_STACK_BUFFER };

    (void)state;
    for (int m = 0; m < 2; m++) {
        char err[512];
        int status = in_child(overflow_child, modes[m], err, sizeof err);

        if (WIFEXITED(status) && WEXITSTATUS(status) == NO_REAL_STACK)
            skip();
        if (!WIFSIGNALED(status))
            fail_msg("mode %d: child status %#x, stderr: %s", modes[m], status, err);
        assert_int_equal(SIGABRT, WTERMSIG(status));
        assert_non_null(strstr(err, "libconc: stack overflow in coroutine"));
    }
}

/* ---- frame chain ------------------------------------------------------------ */

static void *count_frames(void *arg, void *in)
{
    void *frames[64];

    (void)arg, (void)in;
    return (void *)(intptr_t)backtrace(frames, 64);
}

static void backtrace_in_coroutine_stops_at_its_first_frame(void **state)
{
    /* A buffer stack with fake return addresses above its top: an unwinder
     * that does not stop at the coroutine's first frame walks into them
     * (they point into count_frames, which has unwind information) and
     * fills all 64 slots. */
    static _Alignas(64) uintptr_t mem[(64 * 1024 + 4096) / sizeof(uintptr_t)];
    size_t stack_words = 64 * 1024 / sizeof(uintptr_t);
    conc_coro_attr_t a = attr_of(CONC_CORO_STACK_BUFFER, 64 * 1024, mem);
    conc_coro_t co;
    void *n = NULL;

    (void)state;
    /* Without unwind tables (ARM's EHABI needs -funwind-tables for C),
     * backtrace() finds no frame at all, on any stack. */
    if ((intptr_t)count_frames(NULL, NULL) < 1)
        skip();
    for (size_t i = stack_words; i < sizeof mem / sizeof mem[0]; i++)
        mem[i] = (uintptr_t)count_frames + 8;
    assert_rc(0, conc_coro_create(&co, &a, count_frames, NULL));
    assert_rc(0, conc_coro_resume(&co, NULL, &n));
    /* count_frames, coro_main, the start frame: a few more at most. */
    assert_true((intptr_t)n >= 1);
    assert_true((intptr_t)n <= 6);
    assert_rc(0, conc_coro_destroy(&co));
}

/* ---- callee-saved registers --------------------------------------------------- */

#if CORO_REGS_N > 0
struct regs {
    uintptr_t in[2][CORO_REGS_N], out[2][CORO_REGS_N];
};

static void yield_void(void *arg)
{
    (void)arg;
    conc_coro_yield(NULL, NULL);
}

static void resume_void(void *co)
{
    conc_coro_resume(co, NULL, NULL);
}

static void *regs_entry(void *arg, void *in)
{
    struct regs *r = arg;

    (void)in;
    test_coro_regs_call(yield_void, NULL, r->in[0], r->out[0]);
    return NULL;
}

static void callee_saved_registers_survive_switches(void **state)
{
    static const int modes[] = { CONC_CORO_STACK_GUARD, CONC_CORO_STACK_CANARY };
    struct regs r;

    (void)state;
    for (int m = 0; m < 2; m++) {
        conc_coro_attr_t a = attr_of(modes[m], 0, NULL);
        conc_coro_t co;

        memset(&r, 0, sizeof r);
        for (int side = 0; side < 2; side++)
            for (int i = 0; i < CORO_REGS_N; i++)
                r.in[side][i] = coro_regs_pattern(side, i);
        assert_rc(0, conc_coro_create(&co, &a, regs_entry, &r));
        /* The coroutine loads side 0 and yields; this side loads side 1 and
         * resumes it; it checks its registers, returns, and this side checks. */
        assert_rc(0, conc_coro_resume(&co, NULL, NULL));
        test_coro_regs_call(resume_void, &co, r.in[1], r.out[1]);
        assert_int_equal(CONC_CORO_DONE, conc_coro_status(&co));
        for (int side = 0; side < 2; side++) {
            for (int i = 0; i < CORO_REGS_N; i++) {
                if ((r.out[side][i] & coro_regs_mask[i]) != (r.in[side][i] & coro_regs_mask[i]))
                    fail_msg("side %d register slot %d: expected %#jx, got %#jx", side, i,
                             (uintmax_t)r.in[side][i], (uintmax_t)r.out[side][i]);
            }
        }
        assert_rc(0, conc_coro_destroy(&co));
    }
}
#else
static void callee_saved_registers_survive_switches(void **state)
{
    (void)state;
    skip();
}
#endif

/* ---- another thread ------------------------------------------------------------ */

struct handoff {
    conc_coro_t co;
    long steps;
};

static void *step_coro(void *arg, void *in)
{
    long *steps = arg;

    (void)in;
    for (;;) {
        (*steps)++;
        conc_coro_yield(NULL, NULL);
    }
    return NULL;
}

static void *resume_on_thread(void *arg)
{
    struct handoff *h = arg;

    for (int i = 0; i < 100; i++)
        assert_rc(0, conc_coro_resume(&h->co, NULL, NULL));
    return NULL;
}

static void suspended_coroutine_can_be_resumed_by_another_thread(void **state)
{
    struct handoff h = { .steps = 0 };
    conc__os_thread_t t;

    (void)state;
    assert_rc(0, conc_coro_create(&h.co, NULL, step_coro, &h.steps));
    assert_rc(0, conc_coro_resume(&h.co, NULL, NULL));
    for (int round = 0; round < 3; round++) {
        /* Thread start and join order the hand-over both ways. */
        assert_rc(0, conc__os_thread_start(&t, resume_on_thread, &h, 0, false));
        assert_rc(0, conc__os_thread_join(t, NULL));
        assert_rc(0, conc_coro_resume(&h.co, NULL, NULL));
    }
    assert_int_equal(1 + 3 * 101, h.steps);
    assert_rc(0, conc_coro_destroy(&h.co));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(create_rejects_null_object_and_entry),
        cmocka_unit_test(create_rejects_stack_smaller_than_minimum),
        cmocka_unit_test(create_rejects_bad_mode_and_misplaced_buffer),
        cmocka_unit_test(create_of_unmappable_stack_is_enomem),
        cmocka_unit_test(new_coroutine_is_suspended_and_runs_nothing),
        cmocka_unit_test(resume_passes_value_in_and_yield_passes_value_out),
        cmocka_unit_test(entry_gets_arg_and_first_value_and_returns_final_result),
        cmocka_unit_test(resume_of_done_coroutine_is_einval),
        cmocka_unit_test(resume_of_running_coroutine_is_ebusy),
        cmocka_unit_test(yield_outside_coroutine_is_eperm),
        cmocka_unit_test(calls_on_destroyed_or_null_coroutine_are_einval),
        cmocka_unit_test(destroy_of_running_coroutine_is_ebusy),
        cmocka_unit_test(nested_coroutine_yields_to_its_resumer),
        cmocka_unit_test(generator_produces_values_until_it_returns),
        cmocka_unit_test(consumer_receives_every_value_sent_in),
        cmocka_unit_test(destroy_of_suspended_coroutine_releases_its_stack),
        cmocka_unit_test(stack_holds_at_least_the_requested_size),
        cmocka_unit_test(buffer_stack_is_used_and_never_freed),
        cmocka_unit_test(many_coroutines_live_and_run_interleaved),
        cmocka_unit_test(coroutine_stack_keeps_the_abi_alignment),
        cmocka_unit_test(guard_page_overflow_dies_with_sigsegv),
        cmocka_unit_test(canary_overflow_aborts_at_next_switch_with_message),
        cmocka_unit_test(backtrace_in_coroutine_stops_at_its_first_frame),
        cmocka_unit_test(callee_saved_registers_survive_switches),
        cmocka_unit_test(suspended_coroutine_can_be_resumed_by_another_thread),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
