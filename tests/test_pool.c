/*
 * The thread pool: results and errors through futures, cancel before and
 * after start, done-callbacks, map, shutdown with pending work, dynamic
 * worker counts, the default pool, and every error code.
 */
#include <stdatomic.h>
#include <stdlib.h>

#include "conc/pool.h"
#include "helpers.h"
#include "os/os.h"

/* An error code of the application's own (any negative value works). */
#define CONC_ERANGE_FOR_TEST (-1000)

/* A gate that work items wait at until the test opens it. */
struct gate {
    _Atomic int entered;
    _Atomic int open;
};

static void wait_until(_Atomic int *v, int value)
{
    int64_t limit = conc_now_ns() + CONC_SEC(5);

    while (atomic_load(v) < value) {
        assert_true(conc_now_ns() < limit);
        conc_sleep(CONC_US(50));
    }
}

static int wait_at_gate(void *arg, void **result)
{
    struct gate *g = arg;

    atomic_fetch_add(&g->entered, 1);
    while (!atomic_load(&g->open))
        conc_sleep(CONC_US(100));
    *result = g;
    return 0;
}

static int square(void *arg, void **result)
{
    uintptr_t x = (uintptr_t)arg;

    *result = (void *)(x * x);
    return 0;
}

static int fail_with_eio(void *arg, void **result)
{
    return CONC_EIO;
}

static int count(void *arg, void **result)
{
    atomic_fetch_add((_Atomic long *)arg, 1);
    return 0;
}

static conc_pool_t *fixed_pool(int workers, size_t capacity)
{
    static conc_pool_t p;
    conc_pool_attr_t attr = CONC_POOL_ATTR_INIT;

    attr.max_workers = workers;
    attr.queue_capacity = capacity;
    assert_rc(0, conc_pool_init(&p, &attr));
    return &p;
}

/* ---- arguments ------------------------------------------------------------ */

static void init_rejects_bad_attributes(void **state)
{
    conc_pool_t p;
    conc_pool_attr_t attr = CONC_POOL_ATTR_INIT;

    assert_rc(CONC_EINVAL, conc_pool_init(NULL, NULL));
    attr.max_workers = -1;
    assert_rc(CONC_EINVAL, conc_pool_init(&p, &attr));
    attr.max_workers = 2;
    attr.min_workers = 3;
    assert_rc(CONC_EINVAL, conc_pool_init(&p, &attr));
}

static void calls_on_a_bad_or_destroyed_pool_are_einval(void **state)
{
    conc_pool_t *p = fixed_pool(1, 0);
    conc_future_t f;
    void *v;

    assert_rc(CONC_EINVAL, conc_pool_submit(p, NULL, NULL, NULL));
    assert_rc(CONC_EINVAL, conc_pool_map(p, NULL, NULL, NULL, 0));
    assert_rc(CONC_EINVAL, conc_pool_map(p, square, NULL, NULL, 3));
    assert_rc(0, conc_pool_map(p, square, NULL, NULL, 0));
    assert_int_equal(1, conc_pool_workers(p));
    assert_rc(0, conc_pool_destroy(p));
    assert_rc(CONC_EINVAL, conc_pool_destroy(p));
    assert_rc(CONC_EINVAL, conc_pool_submit(p, square, NULL, &f));
    assert_rc(CONC_EINVAL, conc_future_result(&f, &v, 0)); /* the future got the error */
    assert_rc(0, conc_future_destroy(&f));
    assert_rc(CONC_EINVAL, conc_pool_shutdown(p, true, false));
    assert_rc(CONC_EINVAL, conc_pool_shutdown(NULL, true, false));
    assert_rc(CONC_EINVAL, conc_pool_submit(NULL, square, NULL, NULL));
    assert_int_equal(0, conc_pool_workers(NULL));
}

/* ---- submit and futures ----------------------------------------------------- */

static void submitted_work_delivers_its_result_to_the_future(void **state)
{
    conc_pool_t *p = fixed_pool(2, 0);
    conc_future_t f[16];
    void *v;

    for (uintptr_t i = 0; i < 16; i++)
        assert_rc(0, conc_pool_submit(p, square, (void *)i, &f[i]));
    for (uintptr_t i = 0; i < 16; i++) {
        assert_rc(0, conc_future_result(&f[i], &v, CONC_SEC(5)));
        assert_int_equal(i * i, (uintptr_t)v);
        assert_rc(0, conc_future_destroy(&f[i]));
    }
    assert_rc(0, conc_pool_destroy(p));
}

static void work_that_fails_delivers_its_error(void **state)
{
    conc_pool_t *p = fixed_pool(1, 0);
    conc_future_t f;

    assert_rc(0, conc_pool_submit(p, fail_with_eio, NULL, &f));
    assert_rc(CONC_EIO, conc_future_result(&f, NULL, CONC_SEC(5)));
    assert_false(conc_future_cancelled(&f));
    assert_rc(0, conc_future_destroy(&f));
    assert_rc(0, conc_pool_destroy(p));
}

static void work_without_a_future_runs(void **state)
{
    conc_pool_t *p = fixed_pool(2, 0);
    _Atomic long n = 0;

    for (int i = 0; i < 1000; i++)
        assert_rc(0, conc_pool_submit(p, count, &n, NULL));
    assert_rc(0, conc_pool_destroy(p)); /* runs what is queued first */
    assert_int_equal(1000, atomic_load(&n));
}

static void cancel_before_start_means_the_work_never_runs(void **state)
{
    conc_pool_t *p = fixed_pool(1, 0);
    struct gate g = { 0 };
    conc_future_t busy, f;
    _Atomic long n = 0;

    assert_rc(0, conc_pool_submit(p, wait_at_gate, &g, &busy));
    wait_until(&g.entered, 1);
    assert_rc(0, conc_pool_submit(p, count, &n, &f));
    assert_rc(0, conc_future_cancel(&f));
    assert_rc(CONC_ECANCELED, conc_future_result(&f, NULL, 0));
    atomic_store(&g.open, 1);
    /* Waits until the worker has dropped the cancelled item. */
    assert_rc(0, conc_future_destroy(&f));
    assert_rc(0, conc_future_result(&busy, NULL, CONC_SEC(5)));
    assert_rc(0, conc_future_destroy(&busy));
    assert_rc(0, conc_pool_destroy(p));
    assert_int_equal(0, atomic_load(&n));
}

static void cancel_after_start_is_ebusy(void **state)
{
    conc_pool_t *p = fixed_pool(1, 0);
    struct gate g = { 0 };
    conc_future_t f;
    void *v = NULL;

    assert_rc(0, conc_pool_submit(p, wait_at_gate, &g, &f));
    wait_until(&g.entered, 1);
    assert_true(conc_future_running(&f));
    assert_rc(CONC_EBUSY, conc_future_cancel(&f));
    assert_rc(CONC_EBUSY, conc_future_destroy(&f)); /* the pool still runs it */
    atomic_store(&g.open, 1);
    assert_rc(0, conc_future_result(&f, &v, CONC_SEC(5)));
    assert_ptr_equal(&g, v);
    assert_rc(0, conc_future_destroy(&f));
    assert_rc(0, conc_pool_destroy(p));
}

static void on_done(conc_future_t *f, void *arg)
{
    void *v = NULL;

    assert_rc(0, conc_future_result(f, &v, CONC_NOWAIT));
    atomic_store((_Atomic uintptr_t *)arg, (uintptr_t)v);
}

static void done_callback_runs_when_the_work_completes(void **state)
{
    conc_pool_t *p = fixed_pool(1, 0);
    struct gate g = { 0 };
    conc_future_t f;
    _Atomic uintptr_t seen = 0;

    assert_rc(0, conc_pool_submit(p, wait_at_gate, &g, &f));
    assert_rc(0, conc_future_add_done_callback(&f, on_done, &seen));
    atomic_store(&g.open, 1);
    assert_rc(0, conc_future_wait(&f, CONC_SEC(5)));
    assert_rc(0, conc_future_destroy(&f)); /* waits for the callback too */
    assert_int_equal((uintptr_t)&g, atomic_load(&seen));
    assert_rc(0, conc_pool_destroy(p));
}

static void try_submit_on_a_full_queue_is_eagain(void **state)
{
    conc_pool_t *p = fixed_pool(1, 1);
    struct gate g = { 0 };
    conc_future_t f;

    assert_rc(0, conc_pool_submit(p, wait_at_gate, &g, NULL));
    wait_until(&g.entered, 1);
    assert_rc(0, conc_pool_try_submit(p, wait_at_gate, &g, NULL)); /* fills the queue */
    assert_rc(CONC_EAGAIN, conc_pool_try_submit(p, square, NULL, &f));
    assert_rc(CONC_EAGAIN, conc_future_result(&f, NULL, 0));
    assert_true(conc_future_done(&f));
    assert_rc(0, conc_future_destroy(&f));
    atomic_store(&g.open, 1);
    assert_rc(0, conc_pool_destroy(p));
    assert_int_equal(2, atomic_load(&g.entered));
}

/* ---- shutdown --------------------------------------------------------------- */

static void submit_after_shutdown_is_eclosed(void **state)
{
    conc_pool_t *p = fixed_pool(1, 0);
    conc_future_t f;

    assert_rc(0, conc_pool_shutdown(p, false, false));
    assert_rc(CONC_ECLOSED, conc_pool_submit(p, square, NULL, &f));
    assert_rc(CONC_ECLOSED, conc_future_result(&f, NULL, 0));
    assert_rc(0, conc_future_destroy(&f));
    assert_rc(CONC_ECLOSED, conc_pool_try_submit(p, square, NULL, NULL));
    assert_rc(CONC_ECLOSED, conc_pool_map(p, square, (void *const[]){ NULL }, NULL, 1));
    assert_rc(0, conc_pool_shutdown(p, true, false)); /* again, now waiting */
    assert_int_equal(0, conc_pool_workers(p));
    assert_rc(0, conc_pool_destroy(p));
}

static void shutdown_runs_pending_work_and_waits(void **state)
{
    conc_pool_t *p = fixed_pool(1, 0);
    struct gate g = { 0 };
    _Atomic long n = 0;

    assert_rc(0, conc_pool_submit(p, wait_at_gate, &g, NULL));
    wait_until(&g.entered, 1);
    for (int i = 0; i < 50; i++)
        assert_rc(0, conc_pool_submit(p, count, &n, NULL));
    atomic_store(&g.open, 1);
    assert_rc(0, conc_pool_shutdown(p, true, false));
    assert_int_equal(50, atomic_load(&n));
    assert_rc(0, conc_pool_destroy(p));
}

static void shutdown_cancel_pending_cancels_queued_work_only(void **state)
{
    conc_pool_t *p = fixed_pool(1, 0);
    struct gate g = { 0 };
    conc_future_t running, queued[10];
    _Atomic long n = 0;

    assert_rc(0, conc_pool_submit(p, wait_at_gate, &g, &running));
    wait_until(&g.entered, 1);
    for (int i = 0; i < 10; i++) {
        assert_rc(0, conc_pool_submit(p, count, &n, &queued[i]));
        assert_rc(0, conc_pool_submit(p, count, &n, NULL));
    }
    assert_rc(0, conc_pool_shutdown(p, false, true));
    for (int i = 0; i < 10; i++) {
        assert_true(conc_future_cancelled(&queued[i]));
        assert_rc(CONC_ECANCELED, conc_future_result(&queued[i], NULL, 0));
        assert_rc(0, conc_future_destroy(&queued[i]));
    }
    assert_false(conc_future_done(&running)); /* running work is not interrupted */
    atomic_store(&g.open, 1);
    assert_rc(0, conc_pool_shutdown(p, true, true));
    assert_rc(0, conc_future_result(&running, NULL, 0));
    assert_rc(0, conc_future_destroy(&running));
    assert_int_equal(0, atomic_load(&n));
    assert_rc(0, conc_pool_destroy(p));
}

struct self_call {
    conc_pool_t *pool;
    int shutdown_rc, destroy_rc;
};

static int shutdown_from_worker(void *arg, void **result)
{
    struct self_call *s = arg;

    s->destroy_rc = conc_pool_destroy(s->pool);
    s->shutdown_rc = conc_pool_shutdown(s->pool, true, false);
    return 0;
}

static void waiting_shutdown_or_destroy_from_a_worker_is_edeadlk(void **state)
{
    conc_pool_t *p = fixed_pool(1, 0);
    struct self_call s = { p, 0, 0 };
    conc_future_t f;

    assert_rc(0, conc_pool_submit(p, shutdown_from_worker, &s, &f));
    assert_rc(0, conc_future_result(&f, NULL, CONC_SEC(5)));
    assert_rc(CONC_EDEADLK, s.destroy_rc);
    assert_rc(CONC_EDEADLK, s.shutdown_rc);
    assert_rc(CONC_ECLOSED, conc_pool_submit(p, square, NULL, NULL)); /* still shut down */
    assert_rc(0, conc_future_destroy(&f));
    assert_rc(0, conc_pool_destroy(p));
}

/* ---- map ----------------------------------------------------------------------- */

static void map_applies_fn_to_every_element_in_order(void **state)
{
    enum { N = 10000 };
    conc_pool_t *p = fixed_pool(2, 0);
    void **args = malloc(N * sizeof *args), **results = calloc(N, sizeof *results);

    for (uintptr_t i = 0; i < N; i++)
        args[i] = (void *)i;
    assert_rc(0, conc_pool_map(p, square, args, results, N));
    for (uintptr_t i = 0; i < N; i++)
        assert_int_equal(i * i, (uintptr_t)results[i]);
    assert_rc(0, conc_pool_destroy(p));
    free(args);
    free(results);
}

static int fail_at_300_and_700(void *arg, void **result)
{
    uintptr_t i = (uintptr_t)arg;

    if (i == 700)
        return CONC_EIO;
    if (i == 300)
        return CONC_ERANGE_FOR_TEST;
    *result = arg;
    return 0;
}

static void map_returns_the_error_of_the_lowest_failing_index(void **state)
{
    enum { N = 1000 };
    conc_pool_t *p = fixed_pool(2, 0);
    void *args[N], *results[N];

    for (uintptr_t i = 0; i < N; i++)
        args[i] = (void *)i;
    assert_rc(CONC_ERANGE_FOR_TEST, conc_pool_map(p, fail_at_300_and_700, args, results, N));
    /* Every item still ran. */
    assert_ptr_equal((void *)999, results[999]);
    assert_null(results[300]);
    assert_null(results[700]);
    assert_rc(0, conc_pool_destroy(p));
}

struct nested {
    conc_pool_t *pool;
    int rc;
    long sum;
};

static int map_inside(void *arg, void **result)
{
    struct nested *n = arg;
    void *args[100], *results[100];

    for (uintptr_t i = 0; i < 100; i++)
        args[i] = (void *)i;
    n->rc = conc_pool_map(n->pool, square, args, results, 100);
    for (int i = 0; i < 100; i++)
        n->sum += (long)(uintptr_t)results[i];
    return 0;
}

static void map_from_a_worker_of_the_same_pool_completes(void **state)
{
    conc_pool_t *p = fixed_pool(1, 0);
    struct nested n = { p, -1, 0 };
    conc_future_t f;

    assert_rc(0, conc_pool_submit(p, map_inside, &n, &f));
    assert_rc(0, conc_future_result(&f, NULL, CONC_SEC(10)));
    assert_rc(0, n.rc);
    assert_int_equal(328350, n.sum); /* sum of i*i for i < 100 */
    assert_rc(0, conc_future_destroy(&f));
    assert_rc(0, conc_pool_destroy(p));
}

/* ---- worker counts --------------------------------------------------------------- */

static void wait_workers(conc_pool_t *p, int n)
{
    int64_t limit = conc_now_ns() + CONC_SEC(5);

    while (conc_pool_workers(p) != n) {
        assert_true(conc_now_ns() < limit);
        conc_sleep(CONC_MS(1));
    }
}

static void dynamic_pool_grows_to_max_and_shrinks_to_min_when_idle(void **state)
{
    conc_pool_t p;
    conc_pool_attr_t attr = CONC_POOL_ATTR_INIT;
    struct gate g = { 0 };

    attr.min_workers = 1;
    attr.max_workers = 4;
    attr.idle_timeout_ns = CONC_MS(20);
    assert_rc(0, conc_pool_init(&p, &attr));
    assert_int_equal(1, conc_pool_workers(&p));
    for (int i = 0; i < 6; i++)
        assert_rc(0, conc_pool_submit(&p, wait_at_gate, &g, NULL));
    wait_until(&g.entered, 4);
    assert_int_equal(4, conc_pool_workers(&p)); /* never above max */
    atomic_store(&g.open, 1);
    wait_until(&g.entered, 6);
    wait_workers(&p, 1);
    assert_rc(0, conc_pool_destroy(&p));
}

static void dynamic_pool_may_shrink_to_zero_and_start_again(void **state)
{
    conc_pool_t p;
    conc_pool_attr_t attr = CONC_POOL_ATTR_INIT;
    conc_future_t f;
    void *v;

    attr.min_workers = 0;
    attr.max_workers = 2;
    attr.idle_timeout_ns = CONC_MS(5);
    assert_rc(0, conc_pool_init(&p, &attr));
    assert_int_equal(0, conc_pool_workers(&p));
    for (int round = 0; round < 3; round++) {
        assert_rc(0, conc_pool_submit(&p, square, (void *)3, &f));
        assert_rc(0, conc_future_result(&f, &v, CONC_SEC(5)));
        assert_int_equal(9, (uintptr_t)v);
        assert_rc(0, conc_future_destroy(&f));
        wait_workers(&p, 0);
    }
    assert_rc(0, conc_pool_destroy(&p));
}

static void default_pool_is_shared_sized_to_the_cpus_and_not_destroyable(void **state)
{
    conc_pool_t *p = conc_pool_default();
    conc_future_t f;
    void *v;

    assert_non_null(p);
    assert_ptr_equal(p, conc_pool_default());
    assert_int_equal(conc__os_cpu_count(), conc_pool_workers(p));
    assert_rc(0, conc_pool_submit(p, square, (void *)5, &f));
    assert_rc(0, conc_future_result(&f, &v, CONC_SEC(5)));
    assert_int_equal(25, (uintptr_t)v);
    assert_rc(0, conc_future_destroy(&f));
    assert_rc(CONC_EPERM, conc_pool_destroy(p));
}

static void many_tiny_tasks_sum_exactly(void **state)
{
    conc_pool_t *p = fixed_pool(2, 0);
    _Atomic long n = 0;
    long tasks = 100000;

    for (long i = 0; i < tasks; i++)
        assert_rc(0, conc_pool_submit(p, count, &n, NULL));
    assert_rc(0, conc_pool_destroy(p));
    assert_int_equal(tasks, atomic_load(&n));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(init_rejects_bad_attributes),
        cmocka_unit_test(calls_on_a_bad_or_destroyed_pool_are_einval),
        cmocka_unit_test(submitted_work_delivers_its_result_to_the_future),
        cmocka_unit_test(work_that_fails_delivers_its_error),
        cmocka_unit_test(work_without_a_future_runs),
        cmocka_unit_test(cancel_before_start_means_the_work_never_runs),
        cmocka_unit_test(cancel_after_start_is_ebusy),
        cmocka_unit_test(done_callback_runs_when_the_work_completes),
        cmocka_unit_test(try_submit_on_a_full_queue_is_eagain),
        cmocka_unit_test(submit_after_shutdown_is_eclosed),
        cmocka_unit_test(shutdown_runs_pending_work_and_waits),
        cmocka_unit_test(shutdown_cancel_pending_cancels_queued_work_only),
        cmocka_unit_test(waiting_shutdown_or_destroy_from_a_worker_is_edeadlk),
        cmocka_unit_test(map_applies_fn_to_every_element_in_order),
        cmocka_unit_test(map_returns_the_error_of_the_lowest_failing_index),
        cmocka_unit_test(map_from_a_worker_of_the_same_pool_completes),
        cmocka_unit_test(dynamic_pool_grows_to_max_and_shrinks_to_min_when_idle),
        cmocka_unit_test(dynamic_pool_may_shrink_to_zero_and_start_again),
        cmocka_unit_test(default_pool_is_shared_sized_to_the_cpus_and_not_destroyable),
        cmocka_unit_test(many_tiny_tasks_sum_exactly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
