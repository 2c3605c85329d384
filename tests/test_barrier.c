/*
 * Barriers: every behaviour and error code of conc/barrier.h, including the
 * cases where the action is still running (arrivals, timeouts, abort, reset
 * and destroy during the action).
 */
#include "conc/barrier.h"

#include "core/waitq.h"
#include "os/os.h"
#include "helpers.h"

#define SHORT CONC_MS(20)

/* A helper party: arrives once with its timeout, records what it got. */
struct party {
    conc_barrier_t *b;
    int64_t timeout;
    int rc;
    int64_t elapsed;
    conc__os_thread_t t;
};

static void *party_thread(void *arg)
{
    struct party *p = arg;
    int64_t start = conc_now_ns();

    p->rc = conc_barrier_wait(p->b, p->timeout);
    p->elapsed = conc_now_ns() - start;
    return NULL;
}

static void start(struct party *p, conc_barrier_t *b, int64_t timeout)
{
    *p = (struct party){ .b = b, .timeout = timeout, .rc = 99 };
    assert_rc(0, conc__os_thread_start(&p->t, party_thread, p, 0, false));
}

static int join(struct party *p)
{
    assert_rc(0, conc__os_thread_join(p->t, NULL));
    return p->rc;
}

static void wait_until(bool (*cond)(conc_barrier_t *, int), conc_barrier_t *b, int n)
{
    int64_t give_up = conc_now_ns() + CONC_SEC(10);

    while (!cond(b, n)) {
        assert_true(conc_now_ns() < give_up);
        conc_sleep(CONC_US(100));
    }
}

static bool n_waiting_is(conc_barrier_t *b, int n)
{
    return conc_barrier_n_waiting(b) == n;
}

static bool entering_is(conc_barrier_t *b, int n)
{
    int k = 0;

    conc__os_lock(&b->lock_);
    for (conc__waiter_t *w = conc__waitq_first(&b->entry_); w; w = w->next)
        k++;
    conc__os_unlock(&b->lock_);
    return k == n;
}

/* ---- actions -------------------------------------------------------------- */

struct record {
    int runs;
    uintptr_t runner;
    int64_t sleep_ns;     /* how long the action takes */
    _Atomic bool hold;    /* the action waits while this is true */
    _Atomic bool holding; /* set while the action waits */
    int result;           /* what the action returns */
    conc_barrier_t *b;    /* for actions calling back into the barrier */
    int rc_inside;
};

static void hold_if_asked(struct record *r)
{
    atomic_store(&r->holding, true);
    while (atomic_load(&r->hold))
        conc_sleep(CONC_US(100));
    atomic_store(&r->holding, false);
}

static int record_action(void *arg)
{
    struct record *r = arg;

    r->runs++;
    r->runner = conc__context_id();
    if (r->sleep_ns)
        conc_sleep(r->sleep_ns);
    hold_if_asked(r);
    return r->result;
}

static int wait_inside_action(void *arg)
{
    struct record *r = arg;

    r->runs++;
    r->rc_inside = conc_barrier_wait(r->b, CONC_FOREVER);
    return 0;
}

static int abort_inside_action(void *arg)
{
    struct record *r = arg;

    r->runs++;
    r->rc_inside = conc_barrier_abort(r->b);
    return 0;
}

static int abort_and_reset_inside_action(void *arg)
{
    struct record *r = arg;

    r->runs++;
    assert_rc(0, conc_barrier_abort(r->b));
    r->rc_inside = conc_barrier_reset(r->b);
    return 0;
}

static int destroy_inside_action(void *arg)
{
    struct record *r = arg;

    r->runs++;
    r->rc_inside = conc_barrier_destroy(r->b);
    return 0;
}

/* ---- tests ---------------------------------------------------------------- */

static void barrier_init_with_fewer_than_one_party_is_einval(void **state)
{
    conc_barrier_t b;

    assert_rc(CONC_EINVAL, conc_barrier_init(&b, 0, NULL, NULL));
    assert_rc(CONC_EINVAL, conc_barrier_init(&b, -3, NULL, NULL));
    assert_rc(CONC_EINVAL, conc_barrier_init(NULL, 2, NULL, NULL));
}

static void barrier_static_initializer_gives_a_working_barrier(void **state)
{
    static struct record r;
    static conc_barrier_t b = CONC_BARRIER_INIT(1, record_action, &r);

    assert_int_equal(1, conc_barrier_parties(&b));
    assert_int_equal(0, conc_barrier_wait(&b, CONC_FOREVER));
    assert_int_equal(1, r.runs);
    assert_rc(0, conc_barrier_destroy(&b));
}

static void barrier_of_one_party_passes_at_once_and_runs_the_action_each_time(void **state)
{
    struct record r = { 0 };
    conc_barrier_t b;

    assert_rc(0, conc_barrier_init(&b, 1, record_action, &r));
    for (int i = 0; i < 3; i++)
        assert_int_equal(0, conc_barrier_wait(&b, CONC_NOWAIT));
    assert_int_equal(3, r.runs);
    assert_int_equal(conc__context_id(), r.runner);
    assert_rc(0, conc_barrier_destroy(&b));
}

static void barrier_wait_returns_each_arrival_index_once_per_cycle(void **state)
{
    enum { N = 4, CYCLES = 3 };
    conc_barrier_t b;
    struct party p[N - 1];

    assert_rc(0, conc_barrier_init(&b, N, NULL, NULL));
    for (int c = 0; c < CYCLES; c++) {
        for (int i = 0; i < N - 1; i++) {
            start(&p[i], &b, CONC_FOREVER);
            wait_until(n_waiting_is, &b, i + 1); /* arrivals in a known order */
        }
        assert_int_equal(N - 1, conc_barrier_wait(&b, CONC_FOREVER));
        for (int i = 0; i < N - 1; i++)
            assert_int_equal(i, join(&p[i]));
        assert_int_equal(0, conc_barrier_n_waiting(&b));
    }
    assert_rc(0, conc_barrier_destroy(&b));
}

static void barrier_action_runs_once_in_the_last_party_before_anybody_is_released(void **state)
{
    struct record r = { .sleep_ns = CONC_MS(10) };
    conc_barrier_t b;
    struct party p[2];

    assert_rc(0, conc_barrier_init(&b, 3, record_action, &r));
    start(&p[0], &b, CONC_FOREVER);
    start(&p[1], &b, CONC_FOREVER);
    wait_until(n_waiting_is, &b, 2);
    assert_int_equal(0, r.runs);
    assert_int_equal(2, conc_barrier_wait(&b, CONC_FOREVER));
    assert_int_equal(1, r.runs);
    assert_int_equal(conc__context_id(), r.runner); /* the last party's context */
    for (int i = 0; i < 2; i++) {
        assert_true(join(&p[i]) >= 0);
        assert_true(p[i].elapsed >= CONC_MS(10)); /* held until the action ended */
    }
    assert_false(conc_barrier_broken(&b));
    assert_rc(0, conc_barrier_destroy(&b));
}

static void barrier_failing_action_breaks_it_for_every_party(void **state)
{
    struct record r = { .result = -1 };
    conc_barrier_t b;
    struct party p[2];

    assert_rc(0, conc_barrier_init(&b, 3, record_action, &r));
    start(&p[0], &b, CONC_FOREVER);
    start(&p[1], &b, CONC_FOREVER);
    wait_until(n_waiting_is, &b, 2);
    assert_rc(CONC_EBROKEN, conc_barrier_wait(&b, CONC_FOREVER));
    assert_rc(CONC_EBROKEN, join(&p[0]));
    assert_rc(CONC_EBROKEN, join(&p[1]));
    assert_true(conc_barrier_broken(&b));
    assert_rc(CONC_EBROKEN, conc_barrier_wait(&b, CONC_FOREVER));
    assert_int_equal(1, r.runs);
    assert_rc(0, conc_barrier_destroy(&b));
}

static void barrier_timeout_breaks_it_and_never_comes_early(void **state)
{
    conc_barrier_t b;
    int64_t start_ns;

    assert_rc(0, conc_barrier_init(&b, 2, NULL, NULL));
    start_ns = conc_now_ns();
    assert_rc(CONC_ETIMEDOUT, conc_barrier_wait(&b, SHORT));
    assert_true(conc_now_ns() - start_ns >= SHORT);
    assert_true(conc_barrier_broken(&b));
    assert_int_equal(0, conc_barrier_n_waiting(&b));
    assert_rc(CONC_EBROKEN, conc_barrier_wait(&b, CONC_FOREVER));
    assert_rc(0, conc_barrier_destroy(&b));
}

static void barrier_timeout_of_one_party_releases_the_others_with_ebroken(void **state)
{
    conc_barrier_t b;
    struct party p[2];

    assert_rc(0, conc_barrier_init(&b, 4, NULL, NULL));
    start(&p[0], &b, CONC_FOREVER);
    start(&p[1], &b, CONC_FOREVER);
    wait_until(n_waiting_is, &b, 2);
    assert_rc(CONC_ETIMEDOUT, conc_barrier_wait(&b, SHORT));
    assert_rc(CONC_EBROKEN, join(&p[0]));
    assert_rc(CONC_EBROKEN, join(&p[1]));
    assert_true(conc_barrier_broken(&b));
    assert_rc(0, conc_barrier_destroy(&b));
}

static void barrier_nowait_of_a_party_that_would_wait_is_eagain_and_breaks_it(void **state)
{
    conc_barrier_t b;
    struct party p;
    int64_t start_ns;

    assert_rc(0, conc_barrier_init(&b, 3, NULL, NULL));
    start(&p, &b, CONC_FOREVER);
    wait_until(n_waiting_is, &b, 1);
    start_ns = conc_now_ns();
    assert_rc(CONC_EAGAIN, conc_barrier_wait(&b, CONC_NOWAIT));
    assert_true(conc_now_ns() - start_ns < CONC_MS(500));
    assert_rc(CONC_EBROKEN, join(&p));
    assert_true(conc_barrier_broken(&b));
    assert_rc(0, conc_barrier_destroy(&b));
}

static void barrier_nowait_of_the_last_party_trips_it(void **state)
{
    conc_barrier_t b;
    struct party p;

    assert_rc(0, conc_barrier_init(&b, 2, NULL, NULL));
    start(&p, &b, CONC_FOREVER);
    wait_until(n_waiting_is, &b, 1);
    assert_int_equal(1, conc_barrier_wait(&b, CONC_NOWAIT));
    assert_int_equal(0, join(&p));
    assert_false(conc_barrier_broken(&b));
    assert_rc(0, conc_barrier_destroy(&b));
}

static void barrier_abort_breaks_current_and_future_waiters(void **state)
{
    conc_barrier_t b;
    struct party p[2];

    assert_rc(0, conc_barrier_init(&b, 3, NULL, NULL));
    start(&p[0], &b, CONC_FOREVER);
    start(&p[1], &b, CONC_FOREVER);
    wait_until(n_waiting_is, &b, 2);
    assert_rc(0, conc_barrier_abort(&b));
    assert_rc(CONC_EBROKEN, join(&p[0]));
    assert_rc(CONC_EBROKEN, join(&p[1]));
    assert_true(conc_barrier_broken(&b));
    assert_int_equal(0, conc_barrier_n_waiting(&b));
    assert_rc(CONC_EBROKEN, conc_barrier_wait(&b, CONC_FOREVER));
    assert_rc(CONC_EBROKEN, conc_barrier_wait(&b, CONC_NOWAIT));
    assert_rc(0, conc_barrier_abort(&b)); /* aborting twice is harmless */
    assert_rc(0, conc_barrier_destroy(&b));
}

static void barrier_reset_releases_current_waiters_with_ebroken_and_stays_usable(void **state)
{
    conc_barrier_t b;
    struct party p[2];

    assert_rc(0, conc_barrier_init(&b, 3, NULL, NULL));
    start(&p[0], &b, CONC_FOREVER);
    start(&p[1], &b, CONC_FOREVER);
    wait_until(n_waiting_is, &b, 2);
    assert_rc(0, conc_barrier_reset(&b));
    assert_rc(CONC_EBROKEN, join(&p[0]));
    assert_rc(CONC_EBROKEN, join(&p[1]));
    assert_false(conc_barrier_broken(&b));
    assert_int_equal(0, conc_barrier_n_waiting(&b));
    /* A full new cycle works, with fresh indices. */
    start(&p[0], &b, CONC_FOREVER);
    start(&p[1], &b, CONC_FOREVER);
    wait_until(n_waiting_is, &b, 2);
    assert_int_equal(2, conc_barrier_wait(&b, CONC_FOREVER));
    assert_true(join(&p[0]) >= 0);
    assert_true(join(&p[1]) >= 0);
    assert_rc(0, conc_barrier_destroy(&b));
}

static void barrier_reset_repairs_a_broken_barrier(void **state)
{
    conc_barrier_t b;
    struct party p;

    assert_rc(0, conc_barrier_init(&b, 2, NULL, NULL));
    assert_rc(0, conc_barrier_abort(&b));
    assert_true(conc_barrier_broken(&b));
    assert_rc(0, conc_barrier_reset(&b));
    assert_false(conc_barrier_broken(&b));
    start(&p, &b, CONC_FOREVER);
    wait_until(n_waiting_is, &b, 1);
    assert_int_equal(1, conc_barrier_wait(&b, CONC_FOREVER));
    assert_int_equal(0, join(&p));
    assert_rc(0, conc_barrier_destroy(&b));
}

static void barrier_n_waiting_counts_the_parties_waiting(void **state)
{
    conc_barrier_t b;
    struct party p[3];

    assert_rc(0, conc_barrier_init(&b, 4, NULL, NULL));
    assert_int_equal(0, conc_barrier_n_waiting(&b));
    for (int i = 0; i < 3; i++) {
        start(&p[i], &b, CONC_FOREVER);
        wait_until(n_waiting_is, &b, i + 1);
    }
    assert_int_equal(3, conc_barrier_n_waiting(&b));
    assert_int_equal(3, conc_barrier_wait(&b, CONC_FOREVER));
    assert_int_equal(0, conc_barrier_n_waiting(&b));
    for (int i = 0; i < 3; i++)
        assert_int_equal(i, join(&p[i]));
    assert_rc(0, conc_barrier_destroy(&b));
}

static void barrier_parties_reports_the_number_of_parties(void **state)
{
    conc_barrier_t b;

    assert_rc(0, conc_barrier_init(&b, 7, NULL, NULL));
    assert_int_equal(7, conc_barrier_parties(&b));
    assert_rc(0, conc_barrier_abort(&b));
    assert_int_equal(7, conc_barrier_parties(&b));
    assert_rc(0, conc_barrier_destroy(&b));
}

static void barrier_destroy_with_waiters_is_ebusy_and_changes_nothing(void **state)
{
    conc_barrier_t b;
    struct party p;

    assert_rc(0, conc_barrier_init(&b, 2, NULL, NULL));
    start(&p, &b, CONC_FOREVER);
    wait_until(n_waiting_is, &b, 1);
    assert_rc(CONC_EBUSY, conc_barrier_destroy(&b));
    assert_int_equal(1, conc_barrier_n_waiting(&b));
    assert_int_equal(1, conc_barrier_wait(&b, CONC_FOREVER));
    assert_int_equal(0, join(&p));
    assert_rc(0, conc_barrier_destroy(&b));
}

static void barrier_calls_on_null_or_destroyed_barrier_return_einval(void **state)
{
    conc_barrier_t b;

    assert_rc(CONC_EINVAL, conc_barrier_wait(NULL, CONC_NOWAIT));
    assert_rc(CONC_EINVAL, conc_barrier_abort(NULL));
    assert_rc(CONC_EINVAL, conc_barrier_reset(NULL));
    assert_rc(CONC_EINVAL, conc_barrier_n_waiting(NULL));
    assert_rc(CONC_EINVAL, conc_barrier_parties(NULL));
    assert_rc(CONC_EINVAL, conc_barrier_destroy(NULL));
    assert_false(conc_barrier_broken(NULL));

    assert_rc(0, conc_barrier_init(&b, 2, NULL, NULL));
    assert_rc(0, conc_barrier_destroy(&b));
    assert_rc(CONC_EINVAL, conc_barrier_wait(&b, CONC_NOWAIT));
    assert_rc(CONC_EINVAL, conc_barrier_wait(&b, CONC_FOREVER));
    assert_rc(CONC_EINVAL, conc_barrier_abort(&b));
    assert_rc(CONC_EINVAL, conc_barrier_reset(&b));
    assert_rc(CONC_EINVAL, conc_barrier_n_waiting(&b));
    assert_rc(CONC_EINVAL, conc_barrier_parties(&b));
    assert_rc(CONC_EINVAL, conc_barrier_destroy(&b));
    assert_false(conc_barrier_broken(&b));
    assert_rc(0, conc_barrier_init(&b, 1, NULL, NULL)); /* usable again */
    assert_int_equal(0, conc_barrier_wait(&b, CONC_NOWAIT));
    assert_rc(0, conc_barrier_destroy(&b));
}

static void barrier_wait_from_its_own_action_is_edeadlk(void **state)
{
    struct record r = { 0 };
    conc_barrier_t b;

    assert_rc(0, conc_barrier_init(&b, 1, wait_inside_action, &r));
    r.b = &b;
    assert_int_equal(0, conc_barrier_wait(&b, CONC_FOREVER));
    assert_rc(CONC_EDEADLK, r.rc_inside);
    assert_int_equal(1, r.runs);
    assert_false(conc_barrier_broken(&b));
    assert_rc(0, conc_barrier_destroy(&b));
}

static void barrier_abort_from_the_action_lets_the_cycle_complete_then_breaks(void **state)
{
    struct record r = { 0 };
    conc_barrier_t b;
    struct party p;

    assert_rc(0, conc_barrier_init(&b, 2, abort_inside_action, &r));
    r.b = &b;
    start(&p, &b, CONC_FOREVER);
    wait_until(n_waiting_is, &b, 1);
    assert_int_equal(1, conc_barrier_wait(&b, CONC_FOREVER));
    assert_int_equal(0, join(&p));
    assert_rc(0, r.rc_inside);
    assert_true(conc_barrier_broken(&b));
    assert_rc(CONC_EBROKEN, conc_barrier_wait(&b, CONC_FOREVER));
    assert_rc(0, conc_barrier_destroy(&b));
}

static void barrier_reset_from_the_action_cancels_its_pending_abort(void **state)
{
    struct record r = { 0 };
    conc_barrier_t b;

    assert_rc(0, conc_barrier_init(&b, 1, abort_and_reset_inside_action, &r));
    r.b = &b;
    assert_int_equal(0, conc_barrier_wait(&b, CONC_FOREVER));
    assert_rc(0, r.rc_inside);
    assert_false(conc_barrier_broken(&b));
    assert_int_equal(0, conc_barrier_wait(&b, CONC_FOREVER));
    assert_int_equal(2, r.runs);
    assert_rc(0, conc_barrier_destroy(&b));
}

static void barrier_destroy_while_the_action_runs_is_ebusy(void **state)
{
    struct record r = { 0 };
    conc_barrier_t b;

    assert_rc(0, conc_barrier_init(&b, 1, destroy_inside_action, &r));
    r.b = &b;
    assert_int_equal(0, conc_barrier_wait(&b, CONC_FOREVER));
    assert_rc(CONC_EBUSY, r.rc_inside);
    assert_rc(0, conc_barrier_destroy(&b));
}

static void barrier_party_arriving_during_the_action_joins_the_next_cycle(void **state)
{
    struct record r = { .hold = true };
    conc_barrier_t b;
    struct party p[3];

    assert_rc(0, conc_barrier_init(&b, 2, record_action, &r));
    start(&p[0], &b, CONC_FOREVER);
    wait_until(n_waiting_is, &b, 1);
    start(&p[1], &b, CONC_FOREVER); /* last: runs the action, which holds */
    while (!atomic_load(&r.holding))
        conc_sleep(CONC_US(100));
    assert_int_equal(0, conc_barrier_n_waiting(&b));
    start(&p[2], &b, CONC_FOREVER); /* comes while the action runs */
    wait_until(entering_is, &b, 1);
    assert_int_equal(0, conc_barrier_n_waiting(&b));
    atomic_store(&r.hold, false);
    assert_int_equal(0, join(&p[0]));
    assert_int_equal(1, join(&p[1]));
    wait_until(n_waiting_is, &b, 1); /* p[2] now waits in the next cycle */
    assert_int_equal(1, conc_barrier_wait(&b, CONC_FOREVER));
    assert_int_equal(0, join(&p[2]));
    assert_int_equal(2, r.runs);
    assert_rc(0, conc_barrier_destroy(&b));
}

static void barrier_party_timing_out_during_the_action_still_passes(void **state)
{
    struct record r = { .sleep_ns = 3 * SHORT };
    conc_barrier_t b;
    struct party p;

    assert_rc(0, conc_barrier_init(&b, 2, record_action, &r));
    start(&p, &b, SHORT);
    wait_until(n_waiting_is, &b, 1);
    /* The action outlasts p's deadline; p had arrived in time, so it is
     * released with the cycle, not timed out. */
    assert_int_equal(1, conc_barrier_wait(&b, CONC_FOREVER));
    assert_int_equal(0, join(&p));
    assert_false(conc_barrier_broken(&b));
    assert_rc(0, conc_barrier_destroy(&b));
}

static void barrier_arrival_timing_out_while_the_action_runs_breaks_the_next_cycle(void **state)
{
    struct record r = { .hold = true };
    conc_barrier_t b;
    struct party p[3];

    assert_rc(0, conc_barrier_init(&b, 2, record_action, &r));
    start(&p[0], &b, CONC_FOREVER);
    wait_until(n_waiting_is, &b, 1);
    start(&p[1], &b, CONC_FOREVER);
    while (!atomic_load(&r.holding))
        conc_sleep(CONC_US(100));
    start(&p[2], &b, SHORT);
    assert_rc(CONC_ETIMEDOUT, join(&p[2]));
    assert_true(p[2].elapsed >= SHORT);
    atomic_store(&r.hold, false);
    /* The cycle of the action completes; the barrier is broken after it. */
    assert_int_equal(0, join(&p[0]));
    assert_int_equal(1, join(&p[1]));
    assert_true(conc_barrier_broken(&b));
    assert_rc(0, conc_barrier_destroy(&b));
}

/* Cancellation breaks the barrier as a timeout does (Python semantics). */
static void barrier_wait_in_a_cancelled_task_returns_ecanceled_and_breaks_it(void **state)
{
    struct test_task task = { 0 };
    conc_barrier_t b;
    int rc;

    assert_rc(0, conc_barrier_init(&b, 2, NULL, NULL));
    atomic_store(&task.cancelled, true);
    test_task_enter(&task);
    rc = conc_barrier_wait(&b, CONC_FOREVER);
    test_task_leave(&task);
    assert_rc(CONC_ECANCELED, rc);
    assert_true(conc_barrier_broken(&b));
    assert_int_equal(0, conc_barrier_n_waiting(&b));
    assert_rc(CONC_EBROKEN, conc_barrier_wait(&b, CONC_NOWAIT));
    assert_rc(0, conc_barrier_reset(&b));
    assert_false(conc_barrier_broken(&b));
    assert_rc(0, conc_barrier_destroy(&b));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(barrier_wait_in_a_cancelled_task_returns_ecanceled_and_breaks_it),
        cmocka_unit_test(barrier_init_with_fewer_than_one_party_is_einval),
        cmocka_unit_test(barrier_static_initializer_gives_a_working_barrier),
        cmocka_unit_test(barrier_of_one_party_passes_at_once_and_runs_the_action_each_time),
        cmocka_unit_test(barrier_wait_returns_each_arrival_index_once_per_cycle),
        cmocka_unit_test(barrier_action_runs_once_in_the_last_party_before_anybody_is_released),
        cmocka_unit_test(barrier_failing_action_breaks_it_for_every_party),
        cmocka_unit_test(barrier_timeout_breaks_it_and_never_comes_early),
        cmocka_unit_test(barrier_timeout_of_one_party_releases_the_others_with_ebroken),
        cmocka_unit_test(barrier_nowait_of_a_party_that_would_wait_is_eagain_and_breaks_it),
        cmocka_unit_test(barrier_nowait_of_the_last_party_trips_it),
        cmocka_unit_test(barrier_abort_breaks_current_and_future_waiters),
        cmocka_unit_test(barrier_reset_releases_current_waiters_with_ebroken_and_stays_usable),
        cmocka_unit_test(barrier_reset_repairs_a_broken_barrier),
        cmocka_unit_test(barrier_n_waiting_counts_the_parties_waiting),
        cmocka_unit_test(barrier_parties_reports_the_number_of_parties),
        cmocka_unit_test(barrier_destroy_with_waiters_is_ebusy_and_changes_nothing),
        cmocka_unit_test(barrier_calls_on_null_or_destroyed_barrier_return_einval),
        cmocka_unit_test(barrier_wait_from_its_own_action_is_edeadlk),
        cmocka_unit_test(barrier_abort_from_the_action_lets_the_cycle_complete_then_breaks),
        cmocka_unit_test(barrier_reset_from_the_action_cancels_its_pending_abort),
        cmocka_unit_test(barrier_destroy_while_the_action_runs_is_ebusy),
        cmocka_unit_test(barrier_party_arriving_during_the_action_joins_the_next_cycle),
        cmocka_unit_test(barrier_party_timing_out_during_the_action_still_passes),
        cmocka_unit_test(barrier_arrival_timing_out_while_the_action_runs_breaks_the_next_cycle),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
