/*
 * Futures: results, errors, timeouts, cancel before and after start,
 * done-callbacks, destroy rules, and completion racing waiters and callback
 * registration.
 */
#include <stdatomic.h>
#include <stdlib.h>

#include "conc/future.h"
#include "core/future_internal.h"
#include "os/os.h"
#include "helpers.h"

static void *complete_later(void *arg)
{
    conc_future_t *f = arg;

    conc_sleep(CONC_MS(5));
    assert_rc(0, conc_future_set_result(f, (void *)(uintptr_t)42));
    return NULL;
}

static void result_waits_for_the_value_set_by_another_thread(void **state)
{
    conc_future_t f;
    conc__os_thread_t t;
    void *v = NULL;

    assert_rc(0, conc_future_init(&f));
    assert_false(conc_future_done(&f));
    assert_rc(0, conc__os_thread_start(&t, complete_later, &f, 0, false));
    assert_rc(0, conc_future_result(&f, &v, CONC_FOREVER));
    assert_int_equal(42, (uintptr_t)v);
    assert_true(conc_future_done(&f));
    assert_false(conc_future_cancelled(&f));
    assert_rc(0, conc__os_thread_join(t, NULL));
    assert_rc(0, conc_future_destroy(&f));
}

static void result_returns_the_error_set(void **state)
{
    conc_future_t f = CONC_FUTURE_INIT;
    void *v = (void *)1;

    assert_rc(0, conc_future_set_error(&f, CONC_EIO));
    assert_rc(CONC_EIO, conc_future_result(&f, &v, CONC_NOWAIT));
    assert_ptr_equal((void *)1, v); /* untouched on error */
    assert_true(conc_future_done(&f));
    assert_rc(0, conc_future_destroy(&f));
}

static void result_times_out_never_early_and_nowait_is_eagain(void **state)
{
    conc_future_t f = CONC_FUTURE_INIT;
    int64_t start = conc_now_ns();

    assert_rc(CONC_ETIMEDOUT, conc_future_result(&f, NULL, CONC_MS(3)));
    assert_true(conc_now_ns() - start >= CONC_MS(3));
    assert_rc(CONC_EAGAIN, conc_future_result(&f, NULL, CONC_NOWAIT));
    assert_rc(CONC_EAGAIN, conc_future_wait(&f, CONC_NOWAIT));
    start = conc_now_ns();
    assert_rc(CONC_ETIMEDOUT, conc_future_wait(&f, CONC_MS(2)));
    assert_true(conc_now_ns() - start >= CONC_MS(2));
    assert_rc(0, conc_future_destroy(&f));
}

static void *cancel_later(void *arg)
{
    conc_sleep(CONC_MS(5));
    assert_rc(0, conc_future_cancel(arg));
    return NULL;
}

static void cancel_of_a_pending_future_wakes_waiters_with_ecanceled(void **state)
{
    conc_future_t f = CONC_FUTURE_INIT;
    conc__os_thread_t t;

    assert_rc(0, conc__os_thread_start(&t, cancel_later, &f, 0, false));
    assert_rc(CONC_ECANCELED, conc_future_result(&f, NULL, CONC_FOREVER));
    assert_true(conc_future_cancelled(&f));
    assert_true(conc_future_done(&f));
    assert_rc(0, conc_future_cancel(&f)); /* again: still cancelled */
    assert_rc(0, conc_future_wait(&f, CONC_NOWAIT));
    assert_rc(0, conc__os_thread_join(t, NULL));
    assert_rc(0, conc_future_destroy(&f));
}

static void cancel_fails_with_ebusy_once_running_or_done(void **state)
{
    conc_future_t f = CONC_FUTURE_INIT;

    assert_rc(0, conc_future_set_running(&f));
    assert_true(conc_future_running(&f));
    assert_rc(CONC_EBUSY, conc_future_cancel(&f));
    assert_rc(0, conc_future_set_result(&f, NULL));
    assert_false(conc_future_running(&f));
    assert_rc(CONC_EBUSY, conc_future_cancel(&f));
    assert_false(conc_future_cancelled(&f));
    assert_rc(0, conc_future_destroy(&f));
}

static void set_running_reports_a_cancel_and_refuses_twice(void **state)
{
    conc_future_t f = CONC_FUTURE_INIT;

    assert_rc(0, conc_future_set_running(&f));
    assert_rc(CONC_EBUSY, conc_future_set_running(&f));
    assert_rc(0, conc_future_destroy(&f));
    assert_rc(0, conc_future_init(&f));
    assert_rc(0, conc_future_cancel(&f));
    assert_rc(CONC_ECANCELED, conc_future_set_running(&f));
    assert_rc(0, conc_future_destroy(&f));
}

static void second_set_is_ebusy_and_the_first_outcome_stays(void **state)
{
    conc_future_t f = CONC_FUTURE_INIT;
    void *v = NULL;

    assert_rc(0, conc_future_set_result(&f, (void *)7));
    assert_rc(CONC_EBUSY, conc_future_set_result(&f, (void *)8));
    assert_rc(CONC_EBUSY, conc_future_set_error(&f, CONC_EIO));
    assert_rc(CONC_EBUSY, conc_future_set_running(&f));
    assert_rc(0, conc_future_result(&f, &v, 0));
    assert_ptr_equal((void *)7, v);
    assert_rc(0, conc_future_destroy(&f));
}

static void set_on_a_cancelled_future_is_ecanceled(void **state)
{
    conc_future_t f = CONC_FUTURE_INIT;

    assert_rc(0, conc_future_cancel(&f));
    assert_rc(CONC_ECANCELED, conc_future_set_result(&f, NULL));
    assert_rc(CONC_ECANCELED, conc_future_set_error(&f, CONC_EIO));
    assert_rc(CONC_ECANCELED, conc_future_result(&f, NULL, 0));
    assert_rc(0, conc_future_destroy(&f));
}

static void bad_arguments_are_einval(void **state)
{
    conc_future_t f = CONC_FUTURE_INIT;

    assert_rc(CONC_EINVAL, conc_future_init(NULL));
    assert_rc(CONC_EINVAL, conc_future_destroy(NULL));
    assert_rc(CONC_EINVAL, conc_future_result(NULL, NULL, 0));
    assert_rc(CONC_EINVAL, conc_future_wait(NULL, 0));
    assert_rc(CONC_EINVAL, conc_future_cancel(NULL));
    assert_rc(CONC_EINVAL, conc_future_set_running(NULL));
    assert_rc(CONC_EINVAL, conc_future_set_result(NULL, NULL));
    assert_rc(CONC_EINVAL, conc_future_set_error(NULL, CONC_EIO));
    assert_rc(CONC_EINVAL, conc_future_set_error(&f, 0));
    assert_rc(CONC_EINVAL, conc_future_set_error(&f, 5));
    assert_rc(CONC_EINVAL, conc_future_add_done_callback(NULL, NULL, NULL));
    assert_rc(CONC_EINVAL, conc_future_add_done_callback(&f, NULL, NULL));
    assert_false(conc_future_done(NULL));
    assert_false(conc_future_cancelled(NULL));
    assert_false(conc_future_running(NULL));
    assert_rc(0, conc_future_destroy(&f));
}

static void cb_count(conc_future_t *f, void *arg);

static void destroyed_future_refuses_everything(void **state)
{
    conc_future_t f = CONC_FUTURE_INIT;

    assert_rc(0, conc_future_destroy(&f));
    assert_rc(CONC_EINVAL, conc_future_destroy(&f));
    assert_rc(CONC_EINVAL, conc_future_result(&f, NULL, CONC_MS(1)));
    assert_rc(CONC_EINVAL, conc_future_cancel(&f));
    assert_rc(CONC_EINVAL, conc_future_set_running(&f));
    assert_rc(CONC_EINVAL, conc_future_set_result(&f, NULL));
    assert_rc(CONC_EINVAL, conc_future_add_done_callback(&f, cb_count, NULL));
    assert_rc(0, conc_future_init(&f)); /* the storage may be reused */
    assert_rc(0, conc_future_destroy(&f));
}

static void cb_count(conc_future_t *f, void *arg)
{
    atomic_fetch_add((_Atomic long *)arg, 1);
}

/* ---- done-callbacks ----------------------------------------------------- */

struct calls {
    int order[8];
    int n;
    void *seen_value;
};

struct tag {
    struct calls *calls;
    int id;
};

static void cb_record(conc_future_t *f, void *arg)
{
    struct tag *t = arg;
    struct calls *c = t->calls;

    c->order[c->n++] = t->id;
    if (!conc_future_cancelled(f))
        assert_rc(0, conc_future_result(f, &c->seen_value, CONC_NOWAIT));
}

static void done_callbacks_run_once_in_registration_order(void **state)
{
    conc_future_t f = CONC_FUTURE_INIT;
    struct calls c = { 0 };
    struct tag tags[5];

    for (int i = 0; i < 5; i++)
        tags[i] = (struct tag){ &c, i };
    for (int i = 0; i < 4; i++)
        assert_rc(0, conc_future_add_done_callback(&f, cb_record, &tags[i]));
    assert_int_equal(0, c.n);
    assert_rc(0, conc_future_set_result(&f, (void *)9));
    assert_int_equal(4, c.n);
    for (int i = 0; i < 4; i++)
        assert_int_equal(i, c.order[i]);
    assert_ptr_equal((void *)9, c.seen_value);
    /* Added after completion: runs at once, in the caller. */
    assert_rc(0, conc_future_add_done_callback(&f, cb_record, &tags[4]));
    assert_int_equal(5, c.n);
    assert_int_equal(4, c.order[4]);
    assert_rc(0, conc_future_destroy(&f));
    assert_int_equal(5, c.n);
}

static void done_callbacks_run_on_cancel(void **state)
{
    conc_future_t f = CONC_FUTURE_INIT;
    struct calls c = { 0 };
    struct tag tag = { &c, 0 };

    assert_rc(0, conc_future_add_done_callback(&f, cb_record, &tag));
    assert_rc(0, conc_future_add_done_callback(&f, cb_record, &tag));
    assert_rc(0, conc_future_cancel(&f));
    assert_int_equal(2, c.n);
    assert_rc(0, conc_future_cancel(&f));
    assert_int_equal(2, c.n);
    assert_rc(0, conc_future_destroy(&f));
}

static void destroy_frees_callbacks_that_never_ran(void **state)
{
    conc_future_t f = CONC_FUTURE_INIT;
    struct calls c = { 0 };
    struct tag tag = { &c, 0 };

    for (int i = 0; i < 3; i++)
        assert_rc(0, conc_future_add_done_callback(&f, cb_record, &tag));
    assert_rc(0, conc_future_destroy(&f)); /* LeakSanitizer checks the rest */
    assert_int_equal(0, c.n);
}

/* ---- destroy rules ------------------------------------------------------------ */

struct waiting {
    conc_future_t *f;
    _Atomic int started;
    int rc;
};

static void *wait_result(void *arg)
{
    struct waiting *w = arg;

    atomic_store(&w->started, 1);
    w->rc = conc_future_result(w->f, NULL, CONC_FOREVER);
    return NULL;
}

static void destroy_with_a_waiter_is_ebusy(void **state)
{
    conc_future_t f = CONC_FUTURE_INIT;
    struct waiting w = { &f, 0, 1 };
    conc__os_thread_t t;

    assert_rc(0, conc__os_thread_start(&t, wait_result, &w, 0, false));
    while (!atomic_load(&w.started))
        conc_sleep(CONC_US(100));
    conc_sleep(CONC_MS(5)); /* let it block */
    assert_rc(CONC_EBUSY, conc_future_destroy(&f));
    assert_rc(0, conc_future_set_result(&f, NULL));
    assert_rc(0, conc__os_thread_join(t, NULL));
    assert_rc(0, w.rc);
    assert_rc(0, conc_future_destroy(&f));
}

struct woken {
    conc_future_t *f;
    _Atomic int started;
    int rc;
    void *value;
};

static void *wait_value(void *arg)
{
    struct woken *w = arg;

    atomic_store(&w->started, 1);
    w->rc = conc_future_result(w->f, &w->value, CONC_FOREVER);
    return NULL;
}

/* A waiter woken by the completion still gets the outcome when the future is
 * destroyed right after the set (destroy may succeed: it must not need f). */
static void woken_waiter_gets_the_outcome_when_destroy_follows_the_set(void **state)
{
    for (int i = 0; i < 20; i++) {
        conc_future_t f = CONC_FUTURE_INIT;
        struct woken w = { &f, 0, 1, NULL };
        conc__os_thread_t t;
        int rc;

        assert_rc(0, conc__os_thread_start(&t, wait_value, &w, 0, false));
        while (!atomic_load(&w.started))
            conc_sleep(CONC_US(100));
        conc_sleep(CONC_MS(2)); /* let it block */
        assert_rc(0, conc_future_set_result(&f, (void *)(uintptr_t)7));
        while ((rc = conc_future_destroy(&f)) == CONC_EBUSY)
            conc__os_thread_yield();
        assert_rc(0, rc);
        assert_rc(0, conc__os_thread_join(t, NULL));
        assert_rc(0, w.rc);
        assert_ptr_equal((void *)(uintptr_t)7, w.value);
    }
}

static void bound_future_pending_or_running_cannot_be_destroyed(void **state)
{
    conc_future_t f;

    conc__future_init_bound(&f);
    assert_rc(CONC_EBUSY, conc_future_destroy(&f));
    assert_rc(0, conc_future_set_running(&f));
    assert_rc(CONC_EBUSY, conc_future_destroy(&f));
    assert_rc(0, conc_future_set_result(&f, NULL)); /* the producer lets go */
    assert_rc(0, conc_future_destroy(&f));
}

static _Atomic int producer_released;

static void *release_later(void *arg)
{
    conc_sleep(CONC_MS(10));
    atomic_store(&producer_released, 1); /* just before the release */
    assert_rc(CONC_ECANCELED, conc_future_set_running(arg));
    return NULL;
}

/* Ordering, not time (an emulator can start the thread late): destroy
 * returns only after the producer reached its set_running(). */
static void destroy_of_a_cancelled_bound_future_waits_for_the_producer(void **state)
{
    conc_future_t f;
    conc__os_thread_t t;

    atomic_store(&producer_released, 0);
    conc__future_init_bound(&f);
    assert_rc(0, conc_future_cancel(&f));
    assert_rc(0, conc__os_thread_start(&t, release_later, &f, 0, false));
    assert_rc(0, conc_future_destroy(&f));
    assert_int_equal(1, atomic_load(&producer_released));
    assert_rc(0, conc__os_thread_join(t, NULL));
}

/* ---- completion racing consumers ------------------------------------------ */

enum { RACERS = 3 };

struct race {
    conc_future_t *f;
    _Atomic long *callbacks;
    _Atomic int *go;
    int role;
    int rc;
    void *value;
};

static void *racer(void *arg)
{
    struct race *r = arg;

    while (!atomic_load(r->go))
        conc__os_cpu_relax();
    switch (r->role) {
    case 0:
        r->rc = conc_future_set_result(r->f, (void *)5);
        break;
    case 1:
        r->rc = conc_future_add_done_callback(r->f, cb_count, r->callbacks);
        r->rc |= conc_future_add_done_callback(r->f, cb_count, r->callbacks);
        break;
    default:
        r->rc = conc_future_result(r->f, &r->value, CONC_FOREVER);
        break;
    }
    return NULL;
}

static void completion_racing_waiters_and_callbacks_loses_nothing(void **state)
{
    long rounds = 300 * test_stress_scale();

    for (long i = 0; i < rounds; i++) {
        conc_future_t f = CONC_FUTURE_INIT;
        _Atomic long callbacks = 0;
        _Atomic int go = 0;
        struct race r[RACERS];
        conc__os_thread_t t[RACERS];

        for (int k = 0; k < RACERS; k++) {
            r[k] = (struct race){ &f, &callbacks, &go, k, -100, NULL };
            assert_rc(0, conc__os_thread_start(&t[k], racer, &r[k], 0, false));
        }
        atomic_store(&go, 1);
        for (int k = 0; k < RACERS; k++)
            assert_rc(0, conc__os_thread_join(t[k], NULL));
        for (int k = 0; k < RACERS; k++)
            assert_rc(0, r[k].rc);
        assert_ptr_equal((void *)5, r[2].value);
        assert_int_equal(2, atomic_load(&callbacks));
        assert_rc(0, conc_future_destroy(&f));
    }
}

static void result_in_a_cancelled_task_returns_ecanceled_and_keeps_the_future(void **state)
{
    struct test_task task = { 0 };
    conc_future_t f;
    void *value = NULL;
    int rc, rc_wait;

    assert_rc(0, conc_future_init(&f));
    atomic_store(&task.cancelled, true);
    test_task_enter(&task);
    rc = conc_future_result(&f, &value, CONC_FOREVER);
    rc_wait = conc_future_wait(&f, CONC_SEC(30));
    test_task_leave(&task);
    assert_rc(CONC_ECANCELED, rc);
    assert_rc(CONC_ECANCELED, rc_wait);
    assert_false(conc_future_done(&f));
    assert_rc(0, conc_future_set_result(&f, &task));
    assert_rc(0, conc_future_result(&f, &value, CONC_NOWAIT));
    assert_ptr_equal(&task, value);
    assert_rc(0, conc_future_destroy(&f));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(result_in_a_cancelled_task_returns_ecanceled_and_keeps_the_future),
        cmocka_unit_test(result_waits_for_the_value_set_by_another_thread),
        cmocka_unit_test(result_returns_the_error_set),
        cmocka_unit_test(result_times_out_never_early_and_nowait_is_eagain),
        cmocka_unit_test(cancel_of_a_pending_future_wakes_waiters_with_ecanceled),
        cmocka_unit_test(cancel_fails_with_ebusy_once_running_or_done),
        cmocka_unit_test(set_running_reports_a_cancel_and_refuses_twice),
        cmocka_unit_test(second_set_is_ebusy_and_the_first_outcome_stays),
        cmocka_unit_test(set_on_a_cancelled_future_is_ecanceled),
        cmocka_unit_test(bad_arguments_are_einval),
        cmocka_unit_test(destroyed_future_refuses_everything),
        cmocka_unit_test(done_callbacks_run_once_in_registration_order),
        cmocka_unit_test(done_callbacks_run_on_cancel),
        cmocka_unit_test(destroy_frees_callbacks_that_never_ran),
        cmocka_unit_test(destroy_with_a_waiter_is_ebusy),
        cmocka_unit_test(woken_waiter_gets_the_outcome_when_destroy_follows_the_set),
        cmocka_unit_test(bound_future_pending_or_running_cannot_be_destroyed),
        cmocka_unit_test(destroy_of_a_cancelled_bound_future_waits_for_the_producer),
        cmocka_unit_test(completion_racing_waiters_and_callbacks_loses_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
