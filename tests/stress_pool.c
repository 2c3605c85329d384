/*
 * Pool stress with exact accounting: a million tiny tasks, cancels racing
 * workers, shutdown(cancel_pending) racing submitters, and a dynamic pool
 * whose workers come and go while work streams in.
 */
#include <stdatomic.h>
#include <stdlib.h>

#include "conc/pool.h"
#include "helpers.h"
#include "os/os.h"

static _Atomic long sum;

static int add_arg(void *arg, void **result)
{
    atomic_fetch_add_explicit(&sum, (long)(uintptr_t)arg, memory_order_relaxed);
    return 0;
}

static int bump(void *arg, void **result)
{
    atomic_fetch_add_explicit((_Atomic long *)arg, 1, memory_order_relaxed);
    *result = arg;
    return 0;
}

struct submitter {
    conc_pool_t *pool;
    long first, count;
};

static void *submit_range(void *arg)
{
    struct submitter *s = arg;

    for (long i = s->first; i < s->first + s->count; i++)
        assert_rc(0, conc_pool_submit(s->pool, add_arg, (void *)(uintptr_t)i, NULL));
    return NULL;
}

static void a_million_tiny_tasks_sum_exactly(void **state)
{
    conc_pool_t p;
    long n = 1000000 * test_stress_scale();
    struct submitter s[2] = { { &p, 0, n / 2 }, { &p, n / 2, n - n / 2 } };
    int64_t start = conc_now_ns();

    atomic_store(&sum, 0);
    assert_rc(0, conc_pool_init(&p, NULL));
    test_run_threads(2, submit_range, s, sizeof s[0]);
    assert_rc(0, conc_pool_destroy(&p));
    assert_int_equal(n * (n - 1) / 2, atomic_load(&sum));
    print_message("%ld tasks from 2 submitters in %.0f ms\n", n, (conc_now_ns() - start) / 1e6);
}

/* ---- cancels racing workers ---------------------------------------------- */

struct canceller {
    conc_future_t *futures;
    long n;
    long cancelled;
};

static void *cancel_every_other(void *arg)
{
    struct canceller *c = arg;

    for (long i = c->n - 1; i >= 0; i -= 2)
        if (conc_future_cancel(&c->futures[i]) == 0)
            c->cancelled++;
    return NULL;
}

static void cancels_racing_workers_account_exactly(void **state)
{
    conc_pool_t p;
    _Atomic long ran = 0;
    long n = 300000 * test_stress_scale(), cancelled = 0, not_run = 0;
    conc_future_t *f = malloc((size_t)n * sizeof *f);
    struct canceller c = { f, 0, 0 };
    conc__os_thread_t t;

    assert_rc(0, conc_pool_init(&p, NULL));
    for (long i = 0; i < n; i++)
        assert_rc(0, conc_pool_submit(&p, bump, &ran, &f[i]));
    c.n = n;
    assert_rc(0, conc__os_thread_start(&t, cancel_every_other, &c, 0, false));
    assert_rc(0, conc__os_thread_join(t, NULL));
    for (long i = 0; i < n; i++) {
        void *v = NULL;
        int rc = conc_future_result(&f[i], &v, CONC_FOREVER);

        if (rc == CONC_ECANCELED) {
            not_run++;
            cancelled += conc_future_cancelled(&f[i]);
        } else {
            assert_rc(0, rc);
            assert_ptr_equal(&ran, v);
        }
        assert_rc(0, conc_future_destroy(&f[i]));
    }
    assert_rc(0, conc_pool_destroy(&p));
    assert_int_equal(c.cancelled, cancelled);
    assert_int_equal(n - not_run, atomic_load(&ran));
    free(f);
}

/* ---- shutdown(cancel_pending) racing submitters ---------------------------- */

struct racer {
    conc_pool_t *pool;
    _Atomic long *ran;
    conc_future_t *futures;
    long n;
    long accepted;
};

static void *submit_until_closed(void *arg)
{
    struct racer *r = arg;

    for (long i = 0; i < r->n; i++) {
        int rc = conc_pool_submit(r->pool, bump, r->ran, &r->futures[i]);

        if (rc == CONC_ECLOSED)
            break;
        assert_rc(0, rc);
        r->accepted++;
    }
    return NULL;
}

static void shutdown_cancelling_while_submitting_once(void)
{
    enum { SUBMITTERS = 2 };
    conc_pool_t p;
    _Atomic long ran = 0;
    long n = 20000, finished = 0;
    struct racer r[SUBMITTERS];
    conc__os_thread_t t[SUBMITTERS];
    conc_pool_attr_t attr = CONC_POOL_ATTR_INIT;

    attr.queue_capacity = 256;
    assert_rc(0, conc_pool_init(&p, &attr));
    for (int i = 0; i < SUBMITTERS; i++) {
        r[i] = (struct racer){ &p, &ran, malloc((size_t)n * sizeof(conc_future_t)), n, 0 };
        assert_rc(0, conc__os_thread_start(&t[i], submit_until_closed, &r[i], 0, false));
    }
    conc_sleep(CONC_US(500));
    assert_rc(0, conc_pool_shutdown(&p, true, true));
    for (int i = 0; i < SUBMITTERS; i++) {
        assert_rc(0, conc__os_thread_join(t[i], NULL));
        /* Every accepted item either ran or was cancelled, never both. */
        for (long k = 0; k < r[i].accepted; k++) {
            int rc = conc_future_result(&r[i].futures[k], NULL, CONC_FOREVER);

            assert_true(rc == 0 || rc == CONC_ECANCELED);
            finished += rc == 0;
            assert_rc(0, conc_future_destroy(&r[i].futures[k]));
        }
        /* The refused one (if any) was completed with the error. */
        if (r[i].accepted < n) {
            assert_rc(CONC_ECLOSED, conc_future_result(&r[i].futures[r[i].accepted], NULL, 0));
            assert_rc(0, conc_future_destroy(&r[i].futures[r[i].accepted]));
        }
        free(r[i].futures);
    }
    assert_rc(0, conc_pool_destroy(&p));
    assert_int_equal(finished, atomic_load(&ran));
}

static void shutdown_cancelling_while_submitting_loses_nothing(void **state)
{
    for (long round = 0; round < 20 * test_stress_scale(); round++)
        shutdown_cancelling_while_submitting_once();
}

/* ---- a dynamic pool in flux --------------------------------------------------- */

static void *submit_in_bursts(void *arg)
{
    struct racer *r = arg;

    for (long i = 0; i < r->n; i++) {
        assert_rc(0, conc_pool_submit(r->pool, bump, r->ran, NULL));
        if (i % 500 == 0)
            conc_sleep(CONC_US(300)); /* long enough for idle workers to retire */
    }
    return NULL;
}

static void dynamic_workers_coming_and_going_lose_no_work(void **state)
{
    conc_pool_t p;
    conc_pool_attr_t attr = CONC_POOL_ATTR_INIT;
    _Atomic long ran = 0;
    struct racer r[2];

    attr.min_workers = 0;
    attr.max_workers = 4;
    attr.idle_timeout_ns = CONC_US(100);
    assert_rc(0, conc_pool_init(&p, &attr));
    for (int i = 0; i < 2; i++)
        r[i] = (struct racer){ &p, &ran, NULL, 100000 * test_stress_scale(), 0 };
    test_run_threads(2, submit_in_bursts, r, sizeof r[0]);
    assert_rc(0, conc_pool_destroy(&p));
    assert_int_equal(r[0].n + r[1].n, atomic_load(&ran));
}

/* A submit racing a graceful shutdown while the dynamic pool's only worker
 * retires: work that submit accepted (returned 0) still runs before
 * shutdown(wait) returns. */
struct late_submit {
    conc_pool_t *pool;
    conc_future_t *f;
    _Atomic long *ran;
    int64_t delay;
    int rc;
};

static void *submit_late(void *arg)
{
    struct late_submit *ls = arg;

    conc_sleep(ls->delay);
    ls->rc = conc_pool_submit(ls->pool, bump, ls->ran, ls->f);
    return NULL;
}

static void shutdown_racing_a_retiring_worker_strands_no_accepted_work(void **state)
{
    for (long round = 0; round < 200 * test_stress_scale(); round++) {
        conc_pool_attr_t attr = CONC_POOL_ATTR_INIT;
        conc_pool_t p;
        conc_future_t first, late;
        _Atomic long ran = 0;
        struct late_submit ls = { &p, &late, &ran, CONC_US(100) + round % 7 * CONC_US(20), -1 };
        conc__os_thread_t t;

        attr.min_workers = 0;
        attr.max_workers = 1;
        attr.idle_timeout_ns = CONC_US(150);
        assert_rc(0, conc_pool_init(&p, &attr));
        assert_rc(0, conc_pool_submit(&p, bump, &ran, &first));
        assert_rc(0, conc_future_wait(&first, CONC_SEC(5)));
        assert_rc(0, conc__os_thread_start(&t, submit_late, &ls, 0, false));
        conc_sleep(CONC_US(100) + round % 5 * CONC_US(25));
        assert_rc(0, conc_pool_shutdown(&p, true, false));
        assert_rc(0, conc__os_thread_join(t, NULL));
        if (ls.rc == 0) {
            assert_rc(0, conc_future_wait(&late, CONC_SEC(5)));
            assert_int_equal(2, atomic_load(&ran));
        } else {
            assert_rc(CONC_ECLOSED, ls.rc);
        }
        assert_rc(0, conc_future_destroy(&late));
        assert_rc(0, conc_future_destroy(&first));
        assert_rc(0, conc_pool_destroy(&p));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_million_tiny_tasks_sum_exactly),
        cmocka_unit_test(cancels_racing_workers_account_exactly),
        cmocka_unit_test(shutdown_cancelling_while_submitting_loses_nothing),
        cmocka_unit_test(dynamic_workers_coming_and_going_lose_no_work),
        cmocka_unit_test(shutdown_racing_a_retiring_worker_strands_no_accepted_work),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
