#include "helpers.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

#include "core/waitq.h"
#include "os/os.h"

long test_stress_scale(void)
{
    const char *env = getenv("CONC_STRESS_SCALE");
    long scale = env ? strtol(env, NULL, 10) : CONC_TEST_STRESS_SCALE;

    return scale > 0 ? scale : 1;
}

void test_assert_rc_(int expected, int actual, const char *file, int line)
{
    if (expected == actual)
        return;
    print_error("%s:%d: expected %s (%d), got %s (%d: %s)\n", file, line,
                conc_strerror_name(expected), expected, conc_strerror_name(actual), actual,
                conc_strerror(actual));
    fail();
}

bool test_under_emulator(void)
{
    const char *w = getenv("MESON_EXE_WRAPPER");

    return w && *w;
}

void test_run_threads(int n, test_thread_fn fn, void *args, size_t arg_size)
{
    conc__os_thread_t *t = calloc((size_t)n, sizeof *t);

    assert_non_null(t);
    for (int i = 0; i < n; i++)
        assert_int_equal(
            0, conc__os_thread_start(&t[i], fn, (char *)args + (size_t)i * arg_size, 0, false));
    for (int i = 0; i < n; i++)
        assert_int_equal(0, conc__os_thread_join(t[i], NULL));
    free(t);
}

void test_gate_wait(struct test_gate *g)
{
    while (!atomic_load(&g->open))
        conc_sleep(CONC_US(100));
}

void test_gate_open(struct test_gate *g)
{
    atomic_store(&g->open, 1);
}

static int test_task_block(void *ctx, int64_t deadline, bool cancellable)
{
    struct test_task *t = ctx;

    if (cancellable && atomic_load(&t->cancelled))
        return CONC_ECANCELED;
    if (t->timed_block && deadline >= 0)
        return t->timed_block(t, deadline);
    return conc__os_park(t->parker, deadline);
}

static void test_task_wake(void *ctx)
{
    conc__os_unpark(((struct test_task *)ctx)->parker);
}

static int test_task_wait_fd(void *ctx, int fd, unsigned events, int64_t deadline, bool cancellable)
{
    struct test_task *t = ctx;

    if (cancellable && atomic_load(&t->cancelled))
        return CONC_ECANCELED;
    return conc__os_fd_wait(fd, events, deadline);
}

static const conc__context_ops_t test_task_ops = { test_task_block, test_task_wake,
                                                   test_task_wait_fd, NULL, NULL };

void test_task_enter(struct test_task *t)
{
    conc__context_t prev;

    t->parker = conc__os_parker_self();
    prev = conc__context_switch((conc__context_t){ &test_task_ops, t });
    t->prev.ops = prev.ops;
    t->prev.ctx = prev.ctx;
}

void test_task_leave(struct test_task *t)
{
    conc__context_switch((conc__context_t){ t->prev.ops, t->prev.ctx });
}

/* ---- soft checks ---- */

static _Atomic int soft_failures;

/* The error name of a negative code, else "value". */
static const char *name_of(long v)
{
    return v < 0 && v >= -100 ? conc_strerror_name((int)v) : "value";
}

void test_check_rc_(long expected, long actual, const char *what, const char *file, int line)
{
    if (expected == actual)
        return;
    if (atomic_fetch_add(&soft_failures, 1) < 20)
        fprintf(stderr, "%s:%d: %s: expected %ld (%s), got %ld (%s)\n", file, line, what, expected,
                name_of(expected), actual, name_of(actual));
}

bool test_check_true_(bool ok, const char *what, const char *file, int line)
{
    if (!ok && atomic_fetch_add(&soft_failures, 1) < 20)
        fprintf(stderr, "%s:%d: check failed: %s\n", file, line, what);
    return ok;
}

int test_soft_failures(void)
{
    return atomic_load(&soft_failures);
}

void test_soft_reset(void)
{
    atomic_store(&soft_failures, 0);
}

/* ---- processes and descriptors ---- */

int test_count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;

    if (!d)
        d = opendir("/dev/fd");
    assert_non_null(d);
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

void test_assert_no_children(void)
{
    errno = 0;
    assert_int_equal(-1, waitpid(-1, NULL, WNOHANG));
    assert_int_equal(ECHILD, errno);
}

int test_waiters(conc__os_lock_t *lock, conc__waitq_t *wq)
{
    int n = 0;

    conc__os_lock(lock);
    for (conc__waiter_t *w = conc__waitq_first(wq); w; w = w->next)
        n++;
    conc__os_unlock(lock);
    return n;
}

void test_wait_for_waiters(conc__os_lock_t *lock, conc__waitq_t *wq, int n)
{
    while (test_waiters(lock, wq) < n)
        conc_sleep(CONC_US(100));
}

static int fds_before;

int test_leak_setup(void **state)
{
    (void)state;
    test_soft_reset();
    fds_before = test_count_fds();
    return 0;
}

int test_leak_teardown(void **state)
{
    (void)state;
    test_assert_no_children();
    assert_int_equal(fds_before, test_count_fds());
    assert_int_equal(0, test_soft_failures());
    return 0;
}
