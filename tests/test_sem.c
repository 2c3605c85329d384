/*
 * Counting and bounded semaphores: every behaviour and error code of
 * conc/sem.h. The waiter-queue checks peek at the private queue to know when
 * a helper thread is really asleep, instead of guessing with sleeps.
 */
#include "conc/sem.h"

#include "core/waitq.h"
#include "helpers.h"

#define SHORT CONC_MS(20)

static int queued(conc_sem_t *s)
{
    int n = 0;

    conc__os_lock(&s->lock_);
    for (conc__waiter_t *w = conc__waitq_first(&s->waiters_); w; w = w->next)
        n++;
    conc__os_unlock(&s->lock_);
    return n;
}

static void wait_until_queued(conc_sem_t *s, int n)
{
    int64_t give_up = conc_now_ns() + CONC_SEC(10);

    while (queued(s) != n) {
        assert_true(conc_now_ns() < give_up);
        conc_sleep(CONC_US(100));
    }
}

static conc__os_thread_t start(test_thread_fn fn, void *arg)
{
    conc__os_thread_t t;

    assert_rc(0, conc__os_thread_start(&t, fn, arg, 0, false));
    return t;
}

static void *join(conc__os_thread_t t)
{
    void *result = NULL;

    assert_rc(0, conc__os_thread_join(t, &result));
    return result;
}

/* A helper thread that acquires once, forever, and records the order. */
struct taker {
    conc_sem_t *s;
    _Atomic int *order;
    _Atomic int rank; /* -1 until served */
    int rc;
};

static void *take_forever(void *arg)
{
    struct taker *t = arg;

    t->rc = conc_sem_acquire(t->s, CONC_FOREVER);
    atomic_store(&t->rank, atomic_fetch_add(t->order, 1));
    return NULL;
}

static void sem_init_with_negative_value_is_einval(void **state)
{
    conc_sem_t s;

    assert_rc(CONC_EINVAL, conc_sem_init(&s, -1));
    assert_rc(CONC_EINVAL, conc_sem_init_bounded(&s, -5));
    assert_rc(CONC_EINVAL, conc_sem_init(NULL, 1));
    assert_rc(CONC_EINVAL, conc_sem_init_bounded(NULL, 1));
}

static void sem_calls_on_null_return_einval(void **state)
{
    assert_rc(CONC_EINVAL, conc_sem_acquire(NULL, CONC_NOWAIT));
    assert_rc(CONC_EINVAL, conc_sem_acquire(NULL, CONC_FOREVER));
    assert_rc(CONC_EINVAL, conc_sem_release(NULL, 1));
    assert_rc(CONC_EINVAL, conc_sem_value(NULL));
    assert_rc(CONC_EINVAL, conc_sem_destroy(NULL));
}

static void sem_static_initializer_holds_its_value(void **state)
{
    conc_sem_t s = CONC_SEM_INIT(2);

    assert_int_equal(2, conc_sem_value(&s));
    assert_rc(0, conc_sem_acquire(&s, CONC_NOWAIT));
    assert_rc(0, conc_sem_acquire(&s, CONC_NOWAIT));
    assert_rc(CONC_EAGAIN, conc_sem_acquire(&s, CONC_NOWAIT));
    assert_rc(0, conc_sem_release(&s, 5));
    assert_int_equal(5, conc_sem_value(&s));
    assert_rc(0, conc_sem_destroy(&s));
}

static void sem_bounded_static_initializer_limits_releases(void **state)
{
    conc_sem_t s = CONC_SEM_BOUNDED_INIT(1);

    assert_rc(CONC_EOVERFLOW, conc_sem_release(&s, 1));
    assert_rc(0, conc_sem_acquire(&s, CONC_NOWAIT));
    assert_rc(0, conc_sem_release(&s, 1));
    assert_int_equal(1, conc_sem_value(&s));
}

static void sem_acquire_takes_one_permit(void **state)
{
    conc_sem_t s;

    assert_rc(0, conc_sem_init(&s, 3));
    assert_rc(0, conc_sem_acquire(&s, CONC_FOREVER));
    assert_int_equal(2, conc_sem_value(&s));
    assert_rc(0, conc_sem_acquire(&s, SHORT));
    assert_int_equal(1, conc_sem_value(&s));
    assert_rc(0, conc_sem_destroy(&s));
}

static void sem_acquire_nowait_without_permit_is_eagain_and_never_blocks(void **state)
{
    conc_sem_t s;
    int64_t start;

    assert_rc(0, conc_sem_init(&s, 0));
    start = conc_now_ns();
    for (int i = 0; i < 1000; i++)
        assert_rc(CONC_EAGAIN, conc_sem_acquire(&s, CONC_NOWAIT));
    /* A thousand tries in well under a millisecond each: nothing slept. */
    assert_true(conc_now_ns() - start < CONC_MS(500));
    assert_int_equal(0, queued(&s));
    assert_rc(0, conc_sem_destroy(&s));
}

static void sem_acquire_times_out_not_early(void **state)
{
    conc_sem_t s;
    int64_t start;

    assert_rc(0, conc_sem_init(&s, 0));
    start = conc_now_ns();
    assert_rc(CONC_ETIMEDOUT, conc_sem_acquire(&s, SHORT));
    assert_true(conc_now_ns() - start >= SHORT);
    assert_int_equal(0, queued(&s));
    assert_int_equal(0, conc_sem_value(&s));
    /* The flag the timed-out waiter left behind does not lose a release. */
    assert_rc(0, conc_sem_release(&s, 1));
    assert_int_equal(1, conc_sem_value(&s));
    assert_rc(0, conc_sem_acquire(&s, CONC_NOWAIT));
    assert_rc(0, conc_sem_destroy(&s));
}

static void sem_release_of_zero_or_negative_is_einval(void **state)
{
    conc_sem_t s;

    assert_rc(0, conc_sem_init(&s, 1));
    assert_rc(CONC_EINVAL, conc_sem_release(&s, 0));
    assert_rc(CONC_EINVAL, conc_sem_release(&s, -3));
    assert_int_equal(1, conc_sem_value(&s));
    assert_rc(0, conc_sem_destroy(&s));
}

static void sem_release_n_adds_n_permits(void **state)
{
    conc_sem_t s;

    assert_rc(0, conc_sem_init(&s, 0));
    assert_rc(0, conc_sem_release(&s, 4));
    assert_int_equal(4, conc_sem_value(&s));
    for (int i = 0; i < 4; i++)
        assert_rc(0, conc_sem_acquire(&s, CONC_NOWAIT));
    assert_rc(CONC_EAGAIN, conc_sem_acquire(&s, CONC_NOWAIT));
    assert_rc(0, conc_sem_destroy(&s));
}

static void sem_release_overflowing_the_count_is_eoverflow_and_changes_nothing(void **state)
{
    conc_sem_t s;

    assert_rc(0, conc_sem_init(&s, CONC_SEM_VALUE_MAX - 1));
    assert_rc(CONC_EOVERFLOW, conc_sem_release(&s, 2));
    assert_int_equal(CONC_SEM_VALUE_MAX - 1, conc_sem_value(&s));
    assert_rc(CONC_EOVERFLOW, conc_sem_release(&s, CONC_SEM_VALUE_MAX));
    assert_rc(0, conc_sem_release(&s, 1));
    assert_int_equal(CONC_SEM_VALUE_MAX, conc_sem_value(&s));
    assert_rc(CONC_EOVERFLOW, conc_sem_release(&s, 1));
    assert_int_equal(CONC_SEM_VALUE_MAX, conc_sem_value(&s));
    assert_rc(0, conc_sem_destroy(&s));
}

static void bounded_sem_release_above_initial_value_is_eoverflow_and_changes_nothing(void **state)
{
    conc_sem_t s;

    assert_rc(0, conc_sem_init_bounded(&s, 2));
    assert_rc(CONC_EOVERFLOW, conc_sem_release(&s, 1));
    assert_int_equal(2, conc_sem_value(&s));
    assert_rc(0, conc_sem_acquire(&s, CONC_NOWAIT));
    assert_rc(0, conc_sem_release(&s, 1));
    assert_rc(CONC_EOVERFLOW, conc_sem_release(&s, 1));
    assert_int_equal(2, conc_sem_value(&s));
    assert_rc(0, conc_sem_destroy(&s));
}

static void bounded_sem_release_n_partly_above_the_limit_changes_nothing(void **state)
{
    conc_sem_t s;

    assert_rc(0, conc_sem_init_bounded(&s, 3));
    assert_rc(0, conc_sem_acquire(&s, CONC_NOWAIT));
    assert_rc(0, conc_sem_acquire(&s, CONC_NOWAIT));
    assert_rc(CONC_EOVERFLOW, conc_sem_release(&s, 3)); /* 1 + 3 > 3 */
    assert_int_equal(1, conc_sem_value(&s));
    assert_rc(0, conc_sem_release(&s, 2));
    assert_int_equal(3, conc_sem_value(&s));
    assert_rc(0, conc_sem_destroy(&s));
}

static void bounded_sem_with_waiters_still_checks_the_limit(void **state)
{
    conc_sem_t s;
    _Atomic int order = 0;
    struct taker t = { &s, &order, -1, -1 };
    conc__os_thread_t th;

    assert_rc(0, conc_sem_init_bounded(&s, 1));
    assert_rc(0, conc_sem_acquire(&s, CONC_NOWAIT));
    th = start(take_forever, &t);
    wait_until_queued(&s, 1);
    assert_rc(CONC_EOVERFLOW, conc_sem_release(&s, 2));
    assert_int_equal(1, queued(&s)); /* nobody was woken */
    assert_rc(0, conc_sem_release(&s, 1));
    join(th);
    assert_rc(0, t.rc);
    assert_int_equal(0, conc_sem_value(&s));
    assert_rc(0, conc_sem_destroy(&s));
}

static void bounded_sem_of_zero_rejects_every_release(void **state)
{
    conc_sem_t s;

    assert_rc(0, conc_sem_init_bounded(&s, 0));
    assert_rc(CONC_EOVERFLOW, conc_sem_release(&s, 1));
    assert_int_equal(0, conc_sem_value(&s));
    assert_rc(CONC_EAGAIN, conc_sem_acquire(&s, CONC_NOWAIT));
    assert_rc(0, conc_sem_destroy(&s));
}

static void sem_release_wakes_a_blocked_waiter(void **state)
{
    conc_sem_t s;
    _Atomic int order = 0;
    struct taker t = { &s, &order, -1, -1 };
    conc__os_thread_t th;

    assert_rc(0, conc_sem_init(&s, 0));
    th = start(take_forever, &t);
    wait_until_queued(&s, 1);
    assert_rc(0, conc_sem_release(&s, 1));
    join(th);
    assert_rc(0, t.rc);
    assert_int_equal(0, conc_sem_value(&s));
    assert_rc(0, conc_sem_destroy(&s));
}

static void sem_waiters_get_permits_in_fifo_order(void **state)
{
    enum { N = 4 };
    conc_sem_t s;
    _Atomic int order = 0;
    struct taker t[N];
    conc__os_thread_t th[N];

    assert_rc(0, conc_sem_init(&s, 0));
    for (int i = 0; i < N; i++) {
        t[i] = (struct taker){ &s, &order, -1, -1 };
        th[i] = start(take_forever, &t[i]);
        wait_until_queued(&s, i + 1);
    }
    for (int i = 0; i < N; i++) {
        assert_rc(0, conc_sem_release(&s, 1));
        while (atomic_load(&t[i].rank) < 0)
            conc_sleep(CONC_US(50));
        /* The i-th to queue was served i-th, and nobody behind it. */
        assert_int_equal(i, atomic_load(&t[i].rank));
        for (int j = i + 1; j < N; j++)
            assert_int_equal(-1, atomic_load(&t[j].rank));
    }
    for (int i = 0; i < N; i++) {
        join(th[i]);
        assert_rc(0, t[i].rc);
    }
    assert_rc(0, conc_sem_destroy(&s));
}

static void sem_release_n_wakes_n_waiters_and_keeps_the_rest(void **state)
{
    enum { N = 3 };
    conc_sem_t s;
    _Atomic int order = 0;
    struct taker t[N];
    conc__os_thread_t th[N];

    assert_rc(0, conc_sem_init(&s, 0));
    for (int i = 0; i < N; i++) {
        t[i] = (struct taker){ &s, &order, -1, -1 };
        th[i] = start(take_forever, &t[i]);
    }
    wait_until_queued(&s, N);
    assert_rc(0, conc_sem_release(&s, N + 2));
    for (int i = 0; i < N; i++) {
        join(th[i]);
        assert_rc(0, t[i].rc);
    }
    assert_int_equal(2, conc_sem_value(&s));
    assert_rc(0, conc_sem_destroy(&s));
}

static void sem_permit_handed_to_a_waiter_cannot_be_taken_by_a_newcomer(void **state)
{
    conc_sem_t s;
    _Atomic int order = 0;
    struct taker t = { &s, &order, -1, -1 };
    conc__os_thread_t th;

    assert_rc(0, conc_sem_init(&s, 0));
    th = start(take_forever, &t);
    wait_until_queued(&s, 1);
    assert_rc(0, conc_sem_release(&s, 1));
    /* Whether or not the waiter has run yet, the permit is already its own. */
    assert_rc(CONC_EAGAIN, conc_sem_acquire(&s, CONC_NOWAIT));
    assert_int_equal(0, conc_sem_value(&s));
    join(th);
    assert_rc(0, t.rc);
    assert_rc(0, conc_sem_destroy(&s));
}

static void sem_value_is_zero_while_waiters_queue(void **state)
{
    conc_sem_t s;
    _Atomic int order = 0;
    struct taker t = { &s, &order, -1, -1 };
    conc__os_thread_t th;

    assert_rc(0, conc_sem_init(&s, 0));
    th = start(take_forever, &t);
    wait_until_queued(&s, 1);
    assert_int_equal(0, conc_sem_value(&s));
    assert_rc(0, conc_sem_release(&s, 1));
    join(th);
    assert_rc(0, conc_sem_destroy(&s));
}

static void sem_destroy_with_waiters_is_ebusy_and_changes_nothing(void **state)
{
    conc_sem_t s;
    _Atomic int order = 0;
    struct taker t = { &s, &order, -1, -1 };
    conc__os_thread_t th;

    assert_rc(0, conc_sem_init(&s, 0));
    th = start(take_forever, &t);
    wait_until_queued(&s, 1);
    assert_rc(CONC_EBUSY, conc_sem_destroy(&s));
    assert_int_equal(1, queued(&s));
    assert_rc(0, conc_sem_release(&s, 1)); /* still fully usable */
    join(th);
    assert_rc(0, t.rc);
    assert_rc(0, conc_sem_destroy(&s));
}

static void sem_calls_on_a_destroyed_sem_return_einval(void **state)
{
    conc_sem_t s;

    assert_rc(0, conc_sem_init(&s, 1));
    assert_rc(0, conc_sem_destroy(&s));
    assert_rc(CONC_EINVAL, conc_sem_acquire(&s, CONC_NOWAIT));
    assert_rc(CONC_EINVAL, conc_sem_acquire(&s, SHORT));
    assert_rc(CONC_EINVAL, conc_sem_release(&s, 1));
    assert_rc(CONC_EINVAL, conc_sem_value(&s));
    assert_rc(CONC_EINVAL, conc_sem_destroy(&s));
    /* And it can be initialised again. */
    assert_rc(0, conc_sem_init(&s, 1));
    assert_rc(0, conc_sem_acquire(&s, CONC_NOWAIT));
    assert_rc(0, conc_sem_destroy(&s));
}

/* A cancelled task's acquire takes no permit and leaves no waiter behind. */
static void sem_acquire_in_a_cancelled_task_returns_ecanceled_and_takes_nothing(void **state)
{
    struct test_task task = { 0 };
    conc_sem_t s;
    int rc, rc_timed;

    assert_rc(0, conc_sem_init(&s, 0));
    atomic_store(&task.cancelled, true);
    test_task_enter(&task);
    rc = conc_sem_acquire(&s, CONC_FOREVER);
    rc_timed = conc_sem_acquire(&s, CONC_SEC(30));
    test_task_leave(&task);
    assert_rc(CONC_ECANCELED, rc);
    assert_rc(CONC_ECANCELED, rc_timed);
    assert_int_equal(0, conc_sem_value(&s));
    assert_rc(0, conc_sem_release(&s, 1));
    assert_rc(0, conc_sem_acquire(&s, CONC_NOWAIT));
    assert_rc(0, conc_sem_destroy(&s)); /* no waiter was left queued */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sem_acquire_in_a_cancelled_task_returns_ecanceled_and_takes_nothing),
        cmocka_unit_test(sem_init_with_negative_value_is_einval),
        cmocka_unit_test(sem_calls_on_null_return_einval),
        cmocka_unit_test(sem_static_initializer_holds_its_value),
        cmocka_unit_test(sem_bounded_static_initializer_limits_releases),
        cmocka_unit_test(sem_acquire_takes_one_permit),
        cmocka_unit_test(sem_acquire_nowait_without_permit_is_eagain_and_never_blocks),
        cmocka_unit_test(sem_acquire_times_out_not_early),
        cmocka_unit_test(sem_release_of_zero_or_negative_is_einval),
        cmocka_unit_test(sem_release_n_adds_n_permits),
        cmocka_unit_test(sem_release_overflowing_the_count_is_eoverflow_and_changes_nothing),
        cmocka_unit_test(bounded_sem_release_above_initial_value_is_eoverflow_and_changes_nothing),
        cmocka_unit_test(bounded_sem_release_n_partly_above_the_limit_changes_nothing),
        cmocka_unit_test(bounded_sem_with_waiters_still_checks_the_limit),
        cmocka_unit_test(bounded_sem_of_zero_rejects_every_release),
        cmocka_unit_test(sem_release_wakes_a_blocked_waiter),
        cmocka_unit_test(sem_waiters_get_permits_in_fifo_order),
        cmocka_unit_test(sem_release_n_wakes_n_waiters_and_keeps_the_rest),
        cmocka_unit_test(sem_permit_handed_to_a_waiter_cannot_be_taken_by_a_newcomer),
        cmocka_unit_test(sem_value_is_zero_while_waiters_queue),
        cmocka_unit_test(sem_destroy_with_waiters_is_ebusy_and_changes_nothing),
        cmocka_unit_test(sem_calls_on_a_destroyed_sem_return_einval),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
