/*
 * The process pool: results, errors, a worker that crashes (its job fails
 * with CONC_EIO, a new worker replaces it, nobody hangs), map, both kinds of
 * shutdown, submission from a task, bad arguments, and no process or
 * descriptor left behind.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conc/procpool.h"
#include "helpers.h"
#include "proc/procpool_internal.h"

/* ---- work run in the workers ---------------------------------------------- */

/* A long in, its square and the worker's pid out. */
static int square(const void *arg, size_t len, void *out, size_t cap, size_t *out_len)
{
    long x, r[2];

    if (len != sizeof x || cap < sizeof r)
        return CONC_EINVAL;
    memcpy(&x, arg, sizeof x);
    r[0] = x * x;
    r[1] = (long)getpid();
    memcpy(out, r, sizeof r);
    *out_len = sizeof r;
    return 0;
}

/* Fails with -1000 - x for odd x. */
static int fail_odd(const void *arg, size_t len, void *out, size_t cap, size_t *out_len)
{
    long x;

    (void)len;
    (void)cap;
    memcpy(&x, arg, sizeof x);
    if (x % 2)
        return (int)(-1000 - x);
    memcpy(out, &x, sizeof x);
    *out_len = sizeof x;
    return 0;
}

/* Dies of SIGKILL on 13, else echoes. */
static int crash_on_13(const void *arg, size_t len, void *out, size_t cap, size_t *out_len)
{
    long x;

    (void)cap;
    memcpy(&x, arg, sizeof x);
    if (x == 13)
        raise(SIGKILL);
    memcpy(out, arg, len);
    *out_len = len;
    return 0;
}

static int sleepy(const void *arg, size_t len, void *out, size_t cap, size_t *out_len)
{
    (void)arg;
    (void)len;
    (void)out;
    (void)cap;
    usleep(20000);
    *out_len = 0;
    return 0;
}

static long result_long(conc_future_t *f, int index)
{
    void *v;

    assert_rc(0, conc_future_result(f, &v, CONC_MS(20000)));
    conc_procpool_result_t *r = v;
    long out[2];
    assert_true(r->len >= sizeof(long) * (size_t)(index + 1));
    memcpy(out, r->data, r->len < sizeof out ? r->len : sizeof out);
    free(r);
    return out[index];
}

/* ---- tests ------------------------------------------------------------------- */

static void procpool_bad_arguments_are_rejected(void **state)
{
    conc_procpool_t p;
    conc_procpool_attr_t a = CONC_PROCPOOL_ATTR_INIT;
    conc_future_t f;
    long x = 1;

    (void)state;
    assert_rc(CONC_EINVAL, conc_procpool_init(NULL, NULL));
    a.workers = -1;
    assert_rc(CONC_EINVAL, conc_procpool_init(&p, &a));
    a.workers = 100000;
    assert_rc(CONC_EINVAL, conc_procpool_init(&p, &a));
    a.workers = 1;
    a.max_arg = 16;
    assert_rc(0, conc_procpool_init(&p, &a));
    assert_int_equal(1, conc_procpool_workers(&p));
    assert_rc(CONC_EINVAL, conc_procpool_submit(&p, NULL, &x, sizeof x, NULL));
    assert_rc(CONC_EINVAL, conc_procpool_submit(&p, square, NULL, 8, NULL));
    assert_rc(CONC_EINVAL, conc_procpool_submit(NULL, square, &x, sizeof x, &f));
    assert_rc(CONC_EINVAL, conc_future_result(&f, NULL, CONC_NOWAIT));
    conc_future_destroy(&f);
    char big[17] = { 0 };
    assert_rc(CONC_EOVERFLOW, conc_procpool_submit(&p, square, big, sizeof big, &f));
    assert_rc(CONC_EOVERFLOW, conc_future_result(&f, NULL, CONC_NOWAIT));
    conc_future_destroy(&f);
    assert_rc(CONC_EINVAL, conc_procpool_map(&p, square, NULL, 8, 3, NULL, 0, NULL));
    assert_rc(CONC_EINVAL, conc_procpool_map(&p, square, &x, 0, 1, NULL, 0, NULL));
    assert_rc(CONC_EOVERFLOW, conc_procpool_map(&p, square, big, sizeof big, 1, NULL, 0, NULL));
    assert_rc(0, conc_procpool_destroy(&p));
    assert_rc(CONC_EINVAL, conc_procpool_destroy(NULL));
    assert_rc(CONC_EINVAL, conc_procpool_shutdown(NULL, true));
    assert_int_equal(0, conc_procpool_workers(NULL));
    test_assert_no_children();
}

static void procpool_runs_jobs_in_several_processes_with_exact_results(void **state)
{
    enum { N = 400 };
    conc_procpool_t p;
    conc_procpool_attr_t a = CONC_PROCPOOL_ATTR_INIT;
    conc_future_t *f = calloc(N, sizeof *f);
    long pids[N];
    int fds = test_count_fds();

    (void)state;
    assert_non_null(f);
    a.workers = 4;
    assert_rc(0, conc_procpool_init(&p, &a));
    for (long i = 0; i < N; i++)
        assert_rc(0, conc_procpool_submit(&p, square, &i, sizeof i, &f[i]));
    for (long i = 0; i < N; i++) {
        void *v;
        assert_rc(0, conc_future_result(&f[i], &v, CONC_MS(20000)));
        conc_procpool_result_t *r = v;
        long out[2];
        assert_int_equal(sizeof out, r->len);
        memcpy(out, r->data, sizeof out);
        assert_int_equal(i * i, out[0]);
        assert_true(out[1] != (long)getpid());
        pids[i] = out[1];
        free(r);
        conc_future_destroy(&f[i]);
    }
    int distinct = 0;
    for (int i = 0; i < N; i++) {
        bool seen = false;
        for (int k = 0; k < i && !seen; k++)
            seen = pids[k] == pids[i];
        distinct += !seen;
    }
    assert_true(distinct >= 1 && distinct <= 4);
    assert_rc(0, conc_procpool_destroy(&p));
    assert_int_equal(fds, test_count_fds());
    test_assert_no_children();
    free(f);
}

static void procpool_job_errors_become_future_errors(void **state)
{
    conc_procpool_t p;
    conc_procpool_attr_t a = CONC_PROCPOOL_ATTR_INIT;
    conc_future_t f[6];

    (void)state;
    a.workers = 2;
    assert_rc(0, conc_procpool_init(&p, &a));
    for (long i = 0; i < 6; i++)
        assert_rc(0, conc_procpool_submit(&p, fail_odd, &i, sizeof i, &f[i]));
    for (long i = 0; i < 6; i++) {
        void *v;
        int rc = conc_future_result(&f[i], &v, CONC_MS(20000));
        if (i % 2) {
            assert_int_equal(-1000 - i, rc);
        } else {
            assert_rc(0, rc);
            free(v);
        }
        conc_future_destroy(&f[i]);
    }
    assert_rc(0, conc_procpool_destroy(&p));
}

static void procpool_worker_crash_fails_its_job_and_is_replaced(void **state)
{
    enum { N = 40 };
    conc_procpool_t p;
    conc_procpool_attr_t a = CONC_PROCPOOL_ATTR_INIT;
    conc_future_t f[N];
    int fds = test_count_fds();

    (void)state;
    a.workers = 2;
    assert_rc(0, conc_procpool_init(&p, &a));
    for (long i = 0; i < N; i++)
        assert_rc(0, conc_procpool_submit(&p, crash_on_13, &i, sizeof i, &f[i]));
    for (long i = 0; i < N; i++) {
        void *v;
        int rc = conc_future_result(&f[i], &v, CONC_MS(20000));
        if (i == 13) {
            assert_rc(CONC_EIO, rc);
        } else {
            assert_rc(0, rc);
            conc_procpool_result_t *r = v;
            long x;
            memcpy(&x, r->data, sizeof x);
            assert_int_equal(i, x);
            free(r);
        }
        conc_future_destroy(&f[i]);
    }
    assert_int_equal(1, conc_procpool_replaced(&p));
    /* Still two working workers. */
    long x = 7;
    assert_rc(0, conc_procpool_submit(&p, square, &x, sizeof x, &f[0]));
    assert_int_equal(49, result_long(&f[0], 0));
    conc_future_destroy(&f[0]);
    assert_rc(0, conc_procpool_destroy(&p));
    assert_int_equal(fds, test_count_fds());
    test_assert_no_children();
}

static int always_crash(const void *arg, size_t len, void *out, size_t cap, size_t *out_len)
{
    (void)arg;
    (void)len;
    (void)out;
    (void)cap;
    (void)out_len;
    raise(SIGKILL);
    return 0;
}

static int refuse_restart(void)
{
    return CONC_ELIMIT;
}

/* Both workers die and neither can be replaced: every queued job fails with
 * CONC_EIO instead of waiting forever, and so does every later submit. */
static void procpool_that_cannot_replace_any_worker_fails_every_job(void **state)
{
    enum { N = 12 };
    conc_procpool_t p;
    conc_procpool_attr_t a = CONC_PROCPOOL_ATTR_INIT;
    conc_future_t f[N], late;
    int fds = test_count_fds();

    (void)state;
    a.workers = 2;
    assert_rc(0, conc_procpool_init(&p, &a));
    conc__procpool_restart_fault = refuse_restart;
    for (long i = 0; i < N; i++)
        assert_rc(0, conc_procpool_submit(&p, always_crash, &i, sizeof i, &f[i]));
    for (long i = 0; i < N; i++) {
        void *v;
        assert_rc(CONC_EIO, conc_future_result(&f[i], &v, CONC_MS(20000)));
        conc_future_destroy(&f[i]);
    }
    long x = 3;
    assert_rc(CONC_EIO, conc_procpool_submit(&p, square, &x, sizeof x, &late));
    void *v;
    assert_rc(CONC_EIO, conc_future_result(&late, &v, CONC_NOWAIT));
    conc_future_destroy(&late);
    assert_rc(CONC_EIO, conc_procpool_map(&p, square, &x, sizeof x, 1, NULL, 0, NULL));
    assert_int_equal(0, conc_procpool_replaced(&p));
    conc__procpool_restart_fault = NULL;
    assert_rc(0, conc_procpool_destroy(&p));
    assert_int_equal(fds, test_count_fds());
    test_assert_no_children();
}

static void procpool_map_returns_results_in_order(void **state)
{
    enum { N = 1000 };
    conc_procpool_t p;
    conc_procpool_attr_t a = CONC_PROCPOOL_ATTR_INIT;
    long args[N], results[N][2];
    int statuses[N];

    (void)state;
    a.workers = 3;
    assert_rc(0, conc_procpool_init(&p, &a));
    for (long i = 0; i < N; i++)
        args[i] = i;
    assert_rc(0, conc_procpool_map(&p, square, args, sizeof args[0], N, results, sizeof results[0],
                                   statuses));
    for (long i = 0; i < N; i++) {
        assert_int_equal(i * i, results[i][0]);
        assert_int_equal(0, statuses[i]);
    }
    /* The lowest failing index decides; every job still ran. */
    long r1[N];
    assert_int_equal(-1001, conc_procpool_map(&p, fail_odd, args, sizeof args[0], N, r1,
                                              sizeof r1[0], statuses));
    for (long i = 0; i < N; i++)
        assert_int_equal(i % 2 ? -1000 - i : 0, statuses[i]);
    /* A result longer than its slot. */
    long small[2];
    assert_rc(CONC_EOVERFLOW,
              conc_procpool_map(&p, square, args, sizeof args[0], 2, small, sizeof small[0], NULL));
    assert_rc(0, conc_procpool_map(&p, square, args, sizeof args[0], 0, NULL, 0, NULL));
    assert_rc(0, conc_procpool_destroy(&p));
}

static void procpool_shutdown_with_wait_finishes_every_queued_job(void **state)
{
    enum { N = 20 };
    conc_procpool_t p;
    conc_procpool_attr_t a = CONC_PROCPOOL_ATTR_INIT;
    conc_future_t f[N];
    long x = 3;

    (void)state;
    a.workers = 2;
    assert_rc(0, conc_procpool_init(&p, &a));
    for (int i = 0; i < N; i++)
        assert_rc(0, conc_procpool_submit(&p, sleepy, &x, sizeof x, &f[i]));
    assert_rc(0, conc_procpool_shutdown(&p, true));
    assert_rc(0, conc_procpool_shutdown(&p, true));
    for (int i = 0; i < N; i++) {
        void *v;
        assert_true(conc_future_done(&f[i]));
        assert_rc(0, conc_future_result(&f[i], &v, CONC_NOWAIT));
        free(v);
        conc_future_destroy(&f[i]);
    }
    assert_rc(CONC_ECLOSED, conc_procpool_submit(&p, square, &x, sizeof x, &f[0]));
    assert_rc(CONC_ECLOSED, conc_future_result(&f[0], NULL, CONC_NOWAIT));
    conc_future_destroy(&f[0]);
    assert_rc(CONC_ECLOSED, conc_procpool_map(&p, square, &x, sizeof x, 1, NULL, 0, NULL));
    assert_rc(0, conc_procpool_destroy(&p));
    test_assert_no_children();
}

static void procpool_shutdown_without_wait_cancels_what_is_queued(void **state)
{
    enum { N = 60 };
    conc_procpool_t p;
    conc_procpool_attr_t a = CONC_PROCPOOL_ATTR_INIT;
    conc_future_t f[N];
    long x = 3;
    int ran = 0, cancelled = 0;

    (void)state;
    a.workers = 2;
    assert_rc(0, conc_procpool_init(&p, &a));
    for (int i = 0; i < N; i++)
        assert_rc(0, conc_procpool_submit(&p, sleepy, &x, sizeof x, &f[i]));
    assert_rc(0, conc_procpool_shutdown(&p, false));
    for (int i = 0; i < N; i++) {
        void *v;
        assert_true(conc_future_done(&f[i]));
        int rc = conc_future_result(&f[i], &v, CONC_NOWAIT);
        if (rc == 0) {
            ran++;
            free(v);
        } else {
            assert_rc(CONC_ECANCELED, rc);
            assert_true(conc_future_cancelled(&f[i]));
            cancelled++;
        }
        conc_future_destroy(&f[i]);
    }
    assert_int_equal(N, ran + cancelled);
    assert_true(cancelled > 0); /* 60 x 20 ms on 2 workers: most were queued */
    assert_rc(0, conc_procpool_destroy(&p));
    test_assert_no_children();
}

static void procpool_future_cancelled_before_a_worker_takes_it_never_runs(void **state)
{
    conc_procpool_t p;
    conc_procpool_attr_t a = CONC_PROCPOOL_ATTR_INIT;
    conc_future_t busy, f;
    long x = 5;

    (void)state;
    a.workers = 1;
    assert_rc(0, conc_procpool_init(&p, &a));
    assert_rc(0, conc_procpool_submit(&p, sleepy, &x, sizeof x, &busy));
    assert_rc(0, conc_procpool_submit(&p, square, &x, sizeof x, &f));
    if (conc_future_cancel(&f) == 0)
        assert_rc(CONC_ECANCELED, conc_future_result(&f, NULL, CONC_MS(20000)));
    void *v;
    assert_rc(0, conc_future_result(&busy, &v, CONC_MS(20000)));
    free(v);
    assert_rc(0, conc_procpool_destroy(&p));
    conc_future_destroy(&busy);
    conc_future_destroy(&f);
}

static conc_procpool_t *task_pool;

static int submit_from_task(void *arg, void **result)
{
    conc_future_t f;
    long x = 12;

    (void)arg;
    (void)result;
    int rc = conc_procpool_submit(task_pool, square, &x, sizeof x, &f);
    if (rc != 0)
        return rc;
    void *v;
    rc = conc_future_result(&f, &v, CONC_MS(20000));
    if (rc == 0) {
        conc_procpool_result_t *r = v;
        long out;
        memcpy(&out, r->data, sizeof out);
        rc = out == 144 ? 0 : -1;
        free(r);
    }
    conc_future_destroy(&f);
    return rc;
}

static void procpool_submit_and_result_from_a_task(void **state)
{
    conc_procpool_t p;
    conc_procpool_attr_t a = CONC_PROCPOOL_ATTR_INIT;
    void *res;

    (void)state;
    a.workers = 1;
    assert_rc(0, conc_procpool_init(&p, &a));
    task_pool = &p;
    assert_rc(0, conc_run(submit_from_task, NULL, &res));
    assert_rc(0, conc_procpool_destroy(&p));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(procpool_bad_arguments_are_rejected),
        cmocka_unit_test(procpool_runs_jobs_in_several_processes_with_exact_results),
        cmocka_unit_test(procpool_job_errors_become_future_errors),
        cmocka_unit_test(procpool_worker_crash_fails_its_job_and_is_replaced),
        cmocka_unit_test(procpool_that_cannot_replace_any_worker_fails_every_job),
        cmocka_unit_test(procpool_map_returns_results_in_order),
        cmocka_unit_test(procpool_shutdown_with_wait_finishes_every_queued_job),
        cmocka_unit_test(procpool_shutdown_without_wait_cancels_what_is_queued),
        cmocka_unit_test(procpool_future_cancelled_before_a_worker_takes_it_never_runs),
        cmocka_unit_test(procpool_submit_and_result_from_a_task),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
