/*
 * Events: every behaviour and error code of conc/event.h, and set/clear
 * storms against waiters (no lost wake-up, exact hand-shake counts).
 */
#include "conc/event.h"

#include "core/waitq.h"
#include "os/os.h"
#include "helpers.h"

#define SHORT CONC_MS(20)

static int queued(conc_event_t *e)
{
    int n = 0;

    conc__os_lock(&e->lock_);
    for (conc__waiter_t *w = conc__waitq_first(&e->waiters_); w; w = w->next)
        n++;
    conc__os_unlock(&e->lock_);
    return n;
}

static void wait_until_queued(conc_event_t *e, int n)
{
    int64_t give_up = conc_now_ns() + CONC_SEC(10);

    while (queued(e) != n) {
        assert_true(conc_now_ns() < give_up);
        conc_sleep(CONC_US(100));
    }
}

struct waiter {
    conc_event_t *e;
    int rc;
};

static void *wait_forever(void *arg)
{
    struct waiter *w = arg;

    w->rc = conc_event_wait(w->e, CONC_FOREVER);
    return NULL;
}

static void start_waiters(struct waiter *w, conc__os_thread_t *t, int n, conc_event_t *e)
{
    for (int i = 0; i < n; i++) {
        w[i] = (struct waiter){ e, 99 };
        assert_rc(0, conc__os_thread_start(&t[i], wait_forever, &w[i], 0, false));
    }
    wait_until_queued(e, n);
}

static void join_waiters(struct waiter *w, conc__os_thread_t *t, int n, int expected)
{
    for (int i = 0; i < n; i++) {
        assert_rc(0, conc__os_thread_join(t[i], NULL));
        assert_rc(expected, w[i].rc);
    }
}

static void event_starts_clear(void **state)
{
    conc_event_t s = CONC_EVENT_INIT;
    conc_event_t e;

    assert_false(conc_event_is_set(&s));
    assert_rc(0, conc_event_init(&e));
    assert_false(conc_event_is_set(&e));
    assert_rc(0, conc_event_destroy(&e));
}

static void event_set_and_clear_change_is_set(void **state)
{
    conc_event_t e = CONC_EVENT_INIT;

    assert_rc(0, conc_event_set(&e));
    assert_true(conc_event_is_set(&e));
    assert_rc(0, conc_event_set(&e)); /* setting twice is harmless */
    assert_true(conc_event_is_set(&e));
    assert_rc(0, conc_event_clear(&e));
    assert_false(conc_event_is_set(&e));
    assert_rc(0, conc_event_clear(&e)); /* clearing twice too */
    assert_false(conc_event_is_set(&e));
}

static void event_wait_on_a_set_event_returns_at_once(void **state)
{
    conc_event_t e = CONC_EVENT_INIT;

    assert_rc(0, conc_event_set(&e));
    assert_rc(0, conc_event_wait(&e, CONC_NOWAIT));
    assert_rc(0, conc_event_wait(&e, SHORT));
    assert_rc(0, conc_event_wait(&e, CONC_FOREVER));
    assert_true(conc_event_is_set(&e)); /* waiting does not consume it */
}

static void event_wait_nowait_on_a_clear_event_is_eagain_and_never_blocks(void **state)
{
    conc_event_t e = CONC_EVENT_INIT;
    int64_t start = conc_now_ns();

    for (int i = 0; i < 1000; i++)
        assert_rc(CONC_EAGAIN, conc_event_wait(&e, CONC_NOWAIT));
    assert_true(conc_now_ns() - start < CONC_MS(500));
    assert_int_equal(0, queued(&e));
}

static void event_wait_times_out_not_early(void **state)
{
    conc_event_t e = CONC_EVENT_INIT;
    int64_t start = conc_now_ns();

    assert_rc(CONC_ETIMEDOUT, conc_event_wait(&e, SHORT));
    assert_true(conc_now_ns() - start >= SHORT);
    assert_int_equal(0, queued(&e));
    /* A set after the timed-out waiter left still works. */
    assert_rc(0, conc_event_set(&e));
    assert_rc(0, conc_event_wait(&e, CONC_NOWAIT));
}

static void event_set_wakes_all_current_waiters(void **state)
{
    enum { N = 4 };
    conc_event_t e = CONC_EVENT_INIT;
    struct waiter w[N];
    conc__os_thread_t t[N];

    start_waiters(w, t, N, &e);
    assert_rc(0, conc_event_set(&e));
    join_waiters(w, t, N, 0);
    assert_int_equal(0, queued(&e));
    assert_true(conc_event_is_set(&e));
}

static void event_waiter_woken_by_set_returns_0_even_if_cleared_right_after(void **state)
{
    enum { N = 3 };
    conc_event_t e = CONC_EVENT_INIT;
    struct waiter w[N];
    conc__os_thread_t t[N];

    start_waiters(w, t, N, &e);
    assert_rc(0, conc_event_set(&e));
    assert_rc(0, conc_event_clear(&e)); /* before any waiter can have run */
    join_waiters(w, t, N, 0);
    assert_false(conc_event_is_set(&e));
}

static void event_clear_does_not_release_waiters(void **state)
{
    conc_event_t e = CONC_EVENT_INIT;
    struct waiter w[1];
    conc__os_thread_t t[1];

    start_waiters(w, t, 1, &e);
    assert_rc(0, conc_event_clear(&e));
    conc_sleep(CONC_MS(2));
    assert_int_equal(1, queued(&e));
    assert_rc(0, conc_event_set(&e));
    join_waiters(w, t, 1, 0);
}

static void event_destroy_with_waiters_is_ebusy_and_changes_nothing(void **state)
{
    conc_event_t e;
    struct waiter w[1];
    conc__os_thread_t t[1];

    assert_rc(0, conc_event_init(&e));
    start_waiters(w, t, 1, &e);
    assert_rc(CONC_EBUSY, conc_event_destroy(&e));
    assert_int_equal(1, queued(&e));
    assert_false(conc_event_is_set(&e));
    assert_rc(0, conc_event_set(&e));
    join_waiters(w, t, 1, 0);
    assert_rc(0, conc_event_destroy(&e));
}

static void event_calls_on_null_or_destroyed_event_return_einval(void **state)
{
    conc_event_t e;

    assert_rc(CONC_EINVAL, conc_event_init(NULL));
    assert_rc(CONC_EINVAL, conc_event_destroy(NULL));
    assert_rc(CONC_EINVAL, conc_event_set(NULL));
    assert_rc(CONC_EINVAL, conc_event_clear(NULL));
    assert_rc(CONC_EINVAL, conc_event_wait(NULL, CONC_NOWAIT));
    assert_false(conc_event_is_set(NULL));

    assert_rc(0, conc_event_init(&e));
    assert_rc(0, conc_event_set(&e));
    assert_rc(0, conc_event_destroy(&e));
    assert_rc(CONC_EINVAL, conc_event_destroy(&e));
    assert_rc(CONC_EINVAL, conc_event_set(&e));
    assert_rc(CONC_EINVAL, conc_event_clear(&e));
    assert_rc(CONC_EINVAL, conc_event_wait(&e, CONC_NOWAIT));
    assert_rc(CONC_EINVAL, conc_event_wait(&e, SHORT));
    assert_false(conc_event_is_set(&e));
    assert_rc(0, conc_event_init(&e)); /* usable again */
    assert_rc(0, conc_event_set(&e));
    assert_rc(0, conc_event_destroy(&e));
}

/* ---- storms --------------------------------------------------------------- */

struct storm {
    conc_event_t e;
    _Atomic bool done;
    long rounds;
};

static void *storm_waiter(void *arg)
{
    struct storm *s = arg;

    for (long i = 0; i < s->rounds; i++)
        assert_rc(0, conc_event_wait(&s->e, CONC_FOREVER));
    return NULL;
}

static void *storm_maker(void *arg)
{
    struct storm *s = arg;

    while (!atomic_load(&s->done)) {
        assert_rc(0, conc_event_set(&s->e));
        assert_rc(0, conc_event_clear(&s->e));
    }
    return NULL;
}

static void event_set_clear_storm_never_strands_a_waiter(void **state)
{
    enum { WAITERS = 4 };
    struct storm s = { CONC_EVENT_INIT, false, 5000 * test_stress_scale() };
    conc__os_thread_t maker, t[WAITERS];

    assert_rc(0, conc__os_thread_start(&maker, storm_maker, &s, 0, false));
    for (int i = 0; i < WAITERS; i++)
        assert_rc(0, conc__os_thread_start(&t[i], storm_waiter, &s, 0, false));
    /* Every wait() ends although the event is set only for an instant each
     * time: a waiter queued before a set() is woken by it, cleared or not. */
    for (int i = 0; i < WAITERS; i++)
        assert_rc(0, conc__os_thread_join(t[i], NULL));
    atomic_store(&s.done, true);
    assert_rc(0, conc__os_thread_join(maker, NULL));
    assert_int_equal(0, queued(&s.e));
}

struct handshake {
    conc_event_t go, ack;
    long rounds;
    long counter; /* plain: the events alone order the accesses */
};

static void *handshake_peer(void *arg)
{
    struct handshake *h = arg;

    for (long i = 0; i < h->rounds; i++) {
        assert_rc(0, conc_event_wait(&h->go, CONC_FOREVER));
        assert_rc(0, conc_event_clear(&h->go));
        h->counter++;
        assert_rc(0, conc_event_set(&h->ack));
    }
    return NULL;
}

static void event_ping_pong_between_two_threads_keeps_exact_counts(void **state)
{
    struct handshake h = { CONC_EVENT_INIT, CONC_EVENT_INIT, 10000 * test_stress_scale(), 0 };
    conc__os_thread_t t;

    assert_rc(0, conc__os_thread_start(&t, handshake_peer, &h, 0, false));
    for (long i = 0; i < h.rounds; i++) {
        assert_rc(0, conc_event_set(&h.go));
        assert_rc(0, conc_event_wait(&h.ack, CONC_FOREVER));
        assert_rc(0, conc_event_clear(&h.ack));
        assert_int_equal(i + 1, h.counter);
    }
    assert_rc(0, conc__os_thread_join(t, NULL));
}

static void event_wait_in_a_cancelled_task_returns_ecanceled(void **state)
{
    struct test_task task = { 0 };
    conc_event_t e;
    int rc;

    assert_rc(0, conc_event_init(&e));
    atomic_store(&task.cancelled, true);
    test_task_enter(&task);
    rc = conc_event_wait(&e, CONC_FOREVER);
    test_task_leave(&task);
    assert_rc(CONC_ECANCELED, rc);
    assert_false(conc_event_is_set(&e));
    assert_rc(0, conc_event_set(&e));
    assert_rc(0, conc_event_wait(&e, CONC_NOWAIT));
    assert_rc(0, conc_event_destroy(&e)); /* no waiter was left queued */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(event_wait_in_a_cancelled_task_returns_ecanceled),
        cmocka_unit_test(event_starts_clear),
        cmocka_unit_test(event_set_and_clear_change_is_set),
        cmocka_unit_test(event_wait_on_a_set_event_returns_at_once),
        cmocka_unit_test(event_wait_nowait_on_a_clear_event_is_eagain_and_never_blocks),
        cmocka_unit_test(event_wait_times_out_not_early),
        cmocka_unit_test(event_set_wakes_all_current_waiters),
        cmocka_unit_test(event_waiter_woken_by_set_returns_0_even_if_cleared_right_after),
        cmocka_unit_test(event_clear_does_not_release_waiters),
        cmocka_unit_test(event_destroy_with_waiters_is_ebusy_and_changes_nothing),
        cmocka_unit_test(event_calls_on_null_or_destroyed_event_return_einval),
        cmocka_unit_test(event_set_clear_storm_never_strands_a_waiter),
        cmocka_unit_test(event_ping_pong_between_two_threads_keeps_exact_counts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
