/*
 * The timer structure (core/timerheap.h) and the timer service (conc/timer.h):
 * ordering, phase of periodic timers, cancel/restart reports, callbacks that
 * cancel, restart or destroy their own timer, never-early firing, lateness.
 */
#include <stdio.h>
#include <stdlib.h>

#include "conc/timer.h"
#include "core/timerheap.h"
#include "helpers.h"

/* Poll until *flag reaches value (bounded: fails after 5 s). */
static void wait_for(_Atomic int *flag, int value)
{
    int64_t limit = conc_now_ns() + CONC_SEC(5);

    while (atomic_load(flag) < value) {
        assert_true(conc_now_ns() < limit);
        conc_sleep(CONC_US(50));
    }
}

/* ---- the timer structure ------------------------------------------------ */

static void timerheap_pops_in_deadline_order_ties_in_insertion_order(void **state)
{
    conc__timerheap_t h = CONC__TIMERHEAP_INIT;
    conc__tnode_t n[200] = { 0 };
    unsigned seed = 1;

    for (int i = 0; i < 200; i++)
        assert_rc(0, conc__timerheap_insert(&h, &n[i], (int64_t)(rand_r(&seed) % 20)));
    int64_t last = -1;
    uint64_t last_seq = 0;
    for (int i = 0; i < 200; i++) {
        conc__tnode_t *p = conc__timerheap_pop_expired(&h, INT64_MAX);
        assert_non_null(p);
        assert_false(conc__tnode_queued(p));
        assert_true(p->deadline_ > last || (p->deadline_ == last && p->seq_ > last_seq));
        last = p->deadline_;
        last_seq = p->seq_;
    }
    assert_null(conc__timerheap_pop_expired(&h, INT64_MAX));
    conc__timerheap_destroy(&h);
}

static void timerheap_pop_expired_never_returns_a_future_deadline(void **state)
{
    conc__timerheap_t h = CONC__TIMERHEAP_INIT;
    conc__tnode_t a = { 0 }, b = { 0 };

    assert_int_equal(CONC_FOREVER, conc__timerheap_next(&h));
    assert_rc(0, conc__timerheap_insert(&h, &a, 100));
    assert_rc(0, conc__timerheap_insert(&h, &b, 50));
    assert_int_equal(50, conc__timerheap_next(&h));
    assert_null(conc__timerheap_pop_expired(&h, 49));
    assert_ptr_equal(&b, conc__timerheap_pop_expired(&h, 50));
    assert_null(conc__timerheap_pop_expired(&h, 99));
    assert_ptr_equal(&a, conc__timerheap_pop_expired(&h, 1000));
    conc__timerheap_destroy(&h);
}

static int cmp_node(const void *a, const void *b)
{
    const conc__tnode_t *x = *(conc__tnode_t *const *)a, *y = *(conc__tnode_t *const *)b;

    if (x->deadline_ != y->deadline_)
        return x->deadline_ < y->deadline_ ? -1 : 1;
    return x->seq_ < y->seq_ ? -1 : 1;
}

static void timerheap_remove_anywhere_keeps_the_order_of_the_rest(void **state)
{
    enum { N = 5000 };
    conc__timerheap_t h = CONC__TIMERHEAP_INIT;
    conc__tnode_t *n = calloc(N, sizeof *n);
    conc__tnode_t **left = calloc(N, sizeof *left);
    unsigned seed = 7;
    size_t kept = 0;

    for (int i = 0; i < N; i++)
        assert_rc(0, conc__timerheap_insert(&h, &n[i], (int64_t)(rand_r(&seed) % 1000)));
    for (int i = 0; i < N; i++) {
        if (i % 3 == 0) {
            assert_true(conc__timerheap_remove(&h, &n[i]));
            assert_false(conc__timerheap_remove(&h, &n[i]));
        } else {
            left[kept++] = &n[i];
        }
    }
    assert_int_equal(kept, conc__timerheap_count(&h));
    qsort(left, kept, sizeof *left, cmp_node);
    for (size_t i = 0; i < kept; i++)
        assert_ptr_equal(left[i], conc__timerheap_pop_expired(&h, INT64_MAX));
    conc__timerheap_destroy(&h);
    free(left);
    free(n);
}

/* ---- argument checks ---------------------------------------------------- */

static void noop(conc_timer_t *t, void *arg)
{
    (void)t;
    (void)arg;
}

static void timer_rejects_bad_arguments(void **state)
{
    conc_timer_t t;

    assert_rc(CONC_EINVAL, conc_timer_init(NULL, noop, NULL));
    assert_rc(CONC_EINVAL, conc_timer_init(&t, NULL, NULL));
    assert_rc(0, conc_timer_init(&t, noop, NULL));
    assert_rc(CONC_EINVAL, conc_timer_start(NULL, 0, 0));
    assert_rc(CONC_EINVAL, conc_timer_start(&t, -1, 0));
    assert_rc(CONC_EINVAL, conc_timer_start(&t, 0, -1));
    assert_rc(CONC_EINVAL, conc_timer_restart(&t, -1, 0));
    assert_rc(CONC_EINVAL, conc_timer_restart(&t, 0, -5));
    assert_rc(CONC_EINVAL, conc_timer_restart(NULL, 0, 0));
    assert_rc(CONC_EINVAL, conc_timer_cancel(NULL));
    assert_rc(CONC_EINVAL, conc_timer_state(NULL));
    assert_rc(CONC_EINVAL, conc_timer_destroy(NULL));
    assert_int_equal(CONC_TIMER_IDLE, conc_timer_state(&t));
    assert_rc(0, conc_timer_destroy(&t));
}

static void timer_destroyed_twice_or_used_after_destroy_returns_einval(void **state)
{
    conc_timer_t t;

    assert_rc(0, conc_timer_init(&t, noop, NULL));
    assert_rc(0, conc_timer_start(&t, CONC_SEC(10), 0));
    assert_rc(0, conc_timer_destroy(&t));
    assert_rc(CONC_EINVAL, conc_timer_destroy(&t));
    assert_rc(CONC_EINVAL, conc_timer_start(&t, 0, 0));
    assert_rc(CONC_EINVAL, conc_timer_cancel(&t));
    assert_rc(CONC_EINVAL, conc_timer_state(&t));
    assert_int_equal(CONC_FOREVER, conc_timer_deadline(&t));
}

static void timer_start_while_pending_is_busy_and_restart_replaces(void **state)
{
    conc_timer_t t;

    assert_rc(0, conc_timer_init(&t, noop, NULL));
    assert_rc(0, conc_timer_start(&t, CONC_SEC(10), 0));
    int64_t first = conc_timer_deadline(&t);
    assert_rc(CONC_EBUSY, conc_timer_start(&t, CONC_SEC(1), 0));
    assert_int_equal(first, conc_timer_deadline(&t));
    assert_int_equal(CONC_TIMER_PENDING, conc_timer_restart(&t, CONC_SEC(20), 0));
    assert_true(conc_timer_deadline(&t) > first);
    assert_int_equal(CONC_TIMER_PENDING, conc_timer_cancel(&t));
    assert_int_equal(CONC_TIMER_IDLE, conc_timer_cancel(&t));
    assert_int_equal(CONC_FOREVER, conc_timer_deadline(&t));
    assert_rc(0, conc_timer_destroy(&t));
}

/* ---- firing -------------------------------------------------------------- */

struct shot {
    _Atomic int runs;
    int64_t deadline;
    int64_t fired_at;
};

static void record_shot(conc_timer_t *t, void *arg)
{
    struct shot *s = arg;

    (void)t;
    s->fired_at = conc_now_ns();
    atomic_fetch_add(&s->runs, 1);
}

static void one_shot_fires_once_never_before_its_deadline(void **state)
{
    struct shot s = { 0 };
    conc_timer_t t;

    assert_rc(0, conc_timer_init(&t, record_shot, &s));
    s.deadline = conc_now_ns() + CONC_MS(3); /* the deadline is at least this */
    assert_rc(0, conc_timer_start(&t, CONC_MS(3), 0));
    wait_for(&s.runs, 1);
    assert_true(s.fired_at >= s.deadline);
    conc_sleep(CONC_MS(5));
    assert_int_equal(1, atomic_load(&s.runs));
    assert_int_equal(CONC_TIMER_FIRED, conc_timer_state(&t));
    assert_int_equal(CONC_TIMER_FIRED, conc_timer_cancel(&t));
    assert_int_equal(CONC_TIMER_IDLE, conc_timer_state(&t));
    assert_rc(0, conc_timer_destroy(&t));
}

static void static_initializer_makes_a_usable_timer(void **state)
{
    static struct shot s;
    static conc_timer_t t = CONC_TIMER_INITIALIZER(record_shot, &s);

    assert_rc(0, conc_timer_start(&t, 0, 0));
    wait_for(&s.runs, 1);
    assert_rc(0, conc_timer_destroy(&t));
}

struct order {
    _Atomic int next;
    _Atomic int recorded; /* published after seen[] is written */
    int seen[64];
};

struct ordered_timer {
    conc_timer_t timer;
    struct order *order;
    int id;
};

static void record_order(conc_timer_t *t, void *arg)
{
    struct ordered_timer *o = arg;

    (void)t;
    o->order->seen[atomic_fetch_add(&o->order->next, 1)] = o->id;
    atomic_fetch_add(&o->order->recorded, 1);
}

static void timers_fire_in_deadline_order(void **state)
{
    enum { N = 32 };
    struct order order = { 0 };
    struct ordered_timer o[N];
    int slot_of[N];
    unsigned seed = 3;

    /* A random permutation of deadlines 1 ms apart. */
    for (int i = 0; i < N; i++)
        slot_of[i] = i;
    for (int i = N - 1; i > 0; i--) {
        int j = rand_r(&seed) % (i + 1), x = slot_of[i];
        slot_of[i] = slot_of[j];
        slot_of[j] = x;
    }
    for (int i = 0; i < N; i++) {
        o[i] = (struct ordered_timer){ .order = &order, .id = slot_of[i] };
        assert_rc(0, conc_timer_init(&o[i].timer, record_order, &o[i]));
    }
    /* Delays are taken against one base, so a slow start loop (emulators,
     * sanitizers) cannot reorder the absolute deadlines. */
    int64_t base = conc_now_ns() + CONC_MS(50);
    for (int i = 0; i < N; i++) {
        int64_t delay = base + CONC_MS(slot_of[i]) - conc_now_ns();
        assert_rc(0, conc_timer_start(&o[i].timer, delay > 0 ? delay : 0, 0));
    }
    wait_for(&order.recorded, N);
    for (int i = 0; i < N; i++)
        assert_int_equal(i, order.seen[i]);
    for (int i = 0; i < N; i++)
        assert_rc(0, conc_timer_destroy(&o[i].timer));
}

static void timers_started_with_equal_delays_fire_in_start_order(void **state)
{
    enum { N = 64 };
    struct order order = { 0 };
    struct ordered_timer o[N];

    /* (Exact ties are the timer structure's test above; here the deadlines
     * are equal or increasing, and the service must keep that order.) */
    for (int i = 0; i < N; i++) {
        o[i] = (struct ordered_timer){ .order = &order, .id = i };
        assert_rc(0, conc_timer_init(&o[i].timer, record_order, &o[i]));
    }
    for (int i = 0; i < N; i++)
        assert_rc(0, conc_timer_start(&o[i].timer, CONC_MS(2), 0));
    wait_for(&order.recorded, N);
    for (int i = 0; i < N; i++)
        assert_int_equal(i, order.seen[i]);
    for (int i = 0; i < N; i++)
        assert_rc(0, conc_timer_destroy(&o[i].timer));
}

/* ---- periodic timers ------------------------------------------------------- */

struct ticker {
    _Atomic int runs;
    int stop_at;  /* cancel itself on this run (0: never) */
    int slow_run; /* this run sleeps slow_ns */
    int64_t slow_ns;
    int64_t fired_at[64];
    int64_t next_deadline[64];
    int cancel_rc;
};

static void tick(conc_timer_t *t, void *arg)
{
    struct ticker *k = arg;
    int n = atomic_load(&k->runs);

    k->fired_at[n] = conc_now_ns();
    k->next_deadline[n] = conc_timer_deadline(t);
    if (n + 1 == k->slow_run)
        conc_sleep(k->slow_ns);
    if (n + 1 == k->stop_at)
        k->cancel_rc = conc_timer_cancel(t);
    atomic_fetch_add(&k->runs, 1);
}

static void periodic_timer_keeps_its_phase(void **state)
{
    static struct ticker k;
    const int64_t period = CONC_MS(3);
    conc_timer_t t;

    k = (struct ticker){ .stop_at = 20, .slow_run = 5, .slow_ns = CONC_MS(1) };
    assert_rc(0, conc_timer_init(&t, tick, &k));
    assert_rc(0, conc_timer_start(&t, CONC_MS(10), period));
    int64_t d0 = conc_timer_deadline(&t);
    wait_for(&k.runs, 20);
    int64_t own = d0;
    for (int i = 0; i < 19; i++) {
        /* Every deadline is first + n * period exactly: no drift from the
         * callback's time, even after the slow run; no run is early. (On a
         * very busy machine a period may be skipped, never shifted.) */
        assert_true(k.next_deadline[i] > own);
        assert_int_equal(0, (k.next_deadline[i] - d0) % period);
        assert_true(k.fired_at[i] >= own);
        own = k.next_deadline[i];
    }
    assert_int_equal(CONC_TIMER_RUNNING | CONC_TIMER_PENDING, k.cancel_rc);
    assert_rc(0, conc_timer_destroy(&t));
}

static void periodic_timer_skips_missed_periods_instead_of_bursting(void **state)
{
    static struct ticker k;
    const int64_t period = CONC_MS(2);
    conc_timer_t t;

    /* The second run (index 1, due at d0 + P) takes 3.5 periods, so it ends
     * after d0 + 4.5 P: the expiry due at d0 + 2 P runs once, late, and the
     * ones at 3 P and 4 P are skipped; the next is d0 + 5 P. */
    k = (struct ticker){ .stop_at = 6, .slow_run = 2, .slow_ns = CONC_US(7000) };
    assert_rc(0, conc_timer_init(&t, tick, &k));
    assert_rc(0, conc_timer_start(&t, CONC_MS(10), period));
    int64_t d0 = conc_timer_deadline(&t);
    wait_for(&k.runs, 6);
    assert_true(k.next_deadline[2] >= d0 + 5 * period);
    int64_t own = d0;
    for (int i = 0; i < 6; i++) {
        assert_int_equal(0, (k.next_deadline[i] - d0) % period);
        assert_true(k.fired_at[i] >= own);
        own = k.next_deadline[i];
    }
    assert_rc(0, conc_timer_destroy(&t));
}

static void callback_cancels_its_own_periodic_timer(void **state)
{
    static struct ticker k;
    conc_timer_t t;

    k = (struct ticker){ .stop_at = 3 };
    assert_rc(0, conc_timer_init(&t, tick, &k));
    assert_rc(0, conc_timer_start(&t, 0, CONC_MS(1)));
    wait_for(&k.runs, 3);
    conc_sleep(CONC_MS(5));
    assert_int_equal(3, atomic_load(&k.runs));
    assert_int_equal(CONC_TIMER_RUNNING | CONC_TIMER_PENDING, k.cancel_rc);
    assert_int_equal(CONC_TIMER_FIRED, conc_timer_state(&t));
    assert_rc(0, conc_timer_destroy(&t));
}

struct rearm {
    _Atomic int runs;
    int times;
};

static void restart_self(conc_timer_t *t, void *arg)
{
    struct rearm *r = arg;

    if (atomic_fetch_add(&r->runs, 1) + 1 < r->times)
        assert_int_equal(CONC_TIMER_RUNNING, conc_timer_restart(t, CONC_US(200), 0));
}

static void callback_restarts_its_own_one_shot_timer(void **state)
{
    struct rearm r = { .times = 5 };
    conc_timer_t t;

    assert_rc(0, conc_timer_init(&t, restart_self, &r));
    assert_rc(0, conc_timer_start(&t, 0, 0));
    wait_for(&r.runs, 5);
    conc_sleep(CONC_MS(3));
    assert_int_equal(5, atomic_load(&r.runs));
    assert_rc(0, conc_timer_destroy(&t));
}

static void restart_changes_the_period(void **state)
{
    static struct ticker k;
    conc_timer_t t;

    k = (struct ticker){ 0 };
    assert_rc(0, conc_timer_init(&t, tick, &k));
    assert_rc(0, conc_timer_start(&t, CONC_SEC(5), CONC_SEC(5)));
    assert_int_equal(CONC_TIMER_PENDING, conc_timer_restart(&t, 0, CONC_MS(1)));
    wait_for(&k.runs, 4);
    assert_true(conc_timer_cancel(&t) & CONC_TIMER_PENDING);
    assert_rc(0, conc_timer_destroy(&t));
}

/* ---- a callback running while other threads act ----------------------- */

struct blocker {
    _Atomic int entered;
    _Atomic int release;
    _Atomic int finished;
};

static void block_until_released(conc_timer_t *t, void *arg)
{
    struct blocker *b = arg;

    (void)t;
    atomic_store(&b->entered, 1);
    while (!atomic_load(&b->release))
        conc_sleep(CONC_US(100));
    conc_sleep(CONC_MS(5));
    atomic_store(&b->finished, 1);
}

static void cancel_reports_a_running_callback_and_a_pending_rearm(void **state)
{
    struct blocker b = { 0 };
    conc_timer_t t;

    assert_rc(0, conc_timer_init(&t, block_until_released, &b));
    assert_rc(0, conc_timer_start(&t, 0, 0));
    wait_for(&b.entered, 1);
    assert_int_equal(CONC_TIMER_RUNNING, conc_timer_state(&t));
    /* Re-armed while running: a cancel reports both, the pending expiry is gone. */
    assert_int_equal(CONC_TIMER_RUNNING, conc_timer_restart(&t, CONC_SEC(10), 0));
    assert_int_equal(CONC_TIMER_RUNNING | CONC_TIMER_PENDING, conc_timer_state(&t));
    assert_int_equal(CONC_TIMER_RUNNING | CONC_TIMER_PENDING, conc_timer_cancel(&t));
    assert_int_equal(CONC_TIMER_RUNNING, conc_timer_cancel(&t));
    atomic_store(&b.release, 1);
    wait_for(&b.finished, 1);
    assert_rc(0, conc_timer_destroy(&t));
}

static void *release_later(void *arg)
{
    struct blocker *b = arg;

    conc_sleep(CONC_MS(10));
    atomic_store(&b->release, 1);
    return NULL;
}

static void destroy_waits_for_a_running_callback(void **state)
{
    struct blocker b = { 0 };
    conc_timer_t t;
    conc__os_thread_t helper;

    assert_rc(0, conc_timer_init(&t, block_until_released, &b));
    assert_rc(0, conc_timer_start(&t, 0, CONC_MS(1)));
    wait_for(&b.entered, 1);
    assert_rc(0, conc__os_thread_start(&helper, release_later, &b, 0, false));
    assert_rc(0, conc_timer_destroy(&t));
    assert_int_equal(1, atomic_load(&b.finished));
    assert_rc(0, conc__os_thread_join(helper, NULL));
}

struct self_destruct {
    _Atomic int done;
    int rc;
};

static void destroy_and_free_self(conc_timer_t *t, void *arg)
{
    struct self_destruct *s = arg;

    s->rc = conc_timer_destroy(t);
    free(t);
    atomic_store(&s->done, 1);
}

static void callback_may_destroy_and_free_its_own_timer(void **state)
{
    struct self_destruct s = { 0 };
    conc_timer_t *t = malloc(sizeof *t);
    struct shot after = { 0 };
    conc_timer_t t2;

    assert_rc(0, conc_timer_init(t, destroy_and_free_self, &s));
    assert_rc(0, conc_timer_start(t, 0, CONC_MS(1)));
    wait_for(&s.done, 1);
    assert_rc(0, s.rc);
    /* The service carries on. */
    assert_rc(0, conc_timer_init(&t2, record_shot, &after));
    assert_rc(0, conc_timer_start(&t2, 0, 0));
    wait_for(&after.runs, 1);
    assert_rc(0, conc_timer_destroy(&t2));
}

/* ---- conc_timer_once ------------------------------------------------------ */

static void count_call(void *arg)
{
    atomic_fetch_add((_Atomic int *)arg, 1);
}

static void timer_once_runs_once_and_reports_on_cancel(void **state)
{
    _Atomic int runs = 0;
    conc_timer_handle_t h = CONC_TIMER_HANDLE_INIT;

    assert_int_equal(CONC_TIMER_IDLE, conc_timer_once_cancel(&h));
    assert_rc(0, conc_timer_once(CONC_MS(1), count_call, &runs, &h));
    wait_for(&runs, 1);
    conc_sleep(CONC_MS(2));
    assert_int_equal(CONC_TIMER_FIRED, conc_timer_once_cancel(&h));
    assert_int_equal(1, atomic_load(&runs));

    assert_rc(0, conc_timer_once(CONC_SEC(5), count_call, &runs, &h));
    assert_int_equal(CONC_TIMER_PENDING, conc_timer_once_cancel(&h));
    assert_int_equal(CONC_TIMER_IDLE, conc_timer_once_cancel(&h));
    assert_rc(0, conc_timer_once(0, count_call, &runs, NULL));
    wait_for(&runs, 2);
}

static void timer_once_rejects_bad_arguments(void **state)
{
    assert_rc(CONC_EINVAL, conc_timer_once(0, NULL, NULL, NULL));
    assert_rc(CONC_EINVAL, conc_timer_once(-1, count_call, NULL, NULL));
    assert_rc(CONC_EINVAL, conc_timer_once_cancel(NULL));
}

static void block_once(void *arg)
{
    block_until_released(NULL, arg);
}

static void timer_once_cancel_reports_a_running_call(void **state)
{
    struct blocker b = { 0 };
    conc_timer_handle_t h;

    assert_rc(0, conc_timer_once(0, block_once, &b, &h));
    wait_for(&b.entered, 1);
    assert_int_equal(CONC_TIMER_RUNNING, conc_timer_once_cancel(&h));
    atomic_store(&b.release, 1);
    wait_for(&b.finished, 1);
}

/* ---- the service ------------------------------------------------------------ */

struct in_callback {
    _Atomic int started;
    _Atomic int done;
    int shutdown_rc;
    int start_rc;
    conc_timer_t other;
};

static void try_shutdown_and_start(conc_timer_t *t, void *arg)
{
    struct in_callback *c = arg;
    int64_t limit = conc_now_ns() + CONC_SEC(5);

    (void)t;
    atomic_store(&c->started, 1);
    c->shutdown_rc = conc_timer_service_shutdown();
    /* Keep starting another timer until the main thread's shutdown has
     * begun: from then on starts are refused. */
    do {
        c->start_rc = conc_timer_start(&c->other, CONC_SEC(10), 0);
        if (c->start_rc == 0) {
            conc_timer_cancel(&c->other);
            conc_sleep(CONC_US(200));
        }
    } while (c->start_rc == 0 && conc_now_ns() < limit);
    atomic_store(&c->done, 1);
}

static void service_shutdown_from_a_callback_is_edeadlk_and_starts_during_it_eclosed(void **state)
{
    struct in_callback c = { 0 };
    conc_timer_t t;

    assert_rc(0, conc_timer_init(&t, try_shutdown_and_start, &c));
    assert_rc(0, conc_timer_init(&c.other, noop, NULL));
    assert_rc(0, conc_timer_start(&t, 0, 0));
    /* The callback must be running when shutdown begins: a fixed 2 ms
     * sleep was not always enough on a loaded machine (CI), and a timer
     * not yet fired is cancelled by the shutdown instead. */
    for (int64_t limit = conc_now_ns() + CONC_SEC(5);
         !atomic_load(&c.started) && conc_now_ns() < limit;)
        conc_sleep(CONC_US(100));
    assert_int_equal(1, atomic_load(&c.started));
    conc_sleep(CONC_MS(2));                      /* and usually inside its loop of starts */
    assert_rc(0, conc_timer_service_shutdown()); /* waits for the callback */
    assert_int_equal(1, atomic_load(&c.done));
    assert_rc(CONC_EDEADLK, c.shutdown_rc);
    assert_rc(CONC_ECLOSED, c.start_rc);
    assert_rc(0, conc_timer_destroy(&c.other));
    assert_rc(0, conc_timer_destroy(&t));
}

static void service_shutdown_cancels_pending_timers_and_restarts_on_use(void **state)
{
    struct shot s = { 0 };
    _Atomic int runs = 0;
    conc_timer_t t;
    conc_timer_handle_t h;

    assert_rc(0, conc_timer_init(&t, record_shot, &s));
    assert_rc(0, conc_timer_start(&t, CONC_SEC(10), CONC_SEC(1)));
    assert_rc(0, conc_timer_once(CONC_SEC(10), count_call, &runs, &h));
    assert_rc(0, conc_timer_service_shutdown());
    assert_int_equal(CONC_TIMER_IDLE, conc_timer_state(&t));
    assert_int_equal(CONC_TIMER_IDLE, conc_timer_once_cancel(&h));
    assert_rc(0, conc_timer_service_shutdown()); /* again: nothing to do */
    assert_rc(0, conc_timer_start(&t, CONC_MS(1), 0));
    wait_for(&s.runs, 1);
    assert_int_equal(0, atomic_load(&runs));
    assert_rc(0, conc_timer_destroy(&t));
}

/* ---- lateness ------------------------------------------------------------------ */

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static void timer_lateness_is_measured(void **state)
{
    enum { N = 200 };
    int64_t late[N];
    struct shot s = { 0 };
    conc_timer_t t;

    assert_rc(0, conc_timer_init(&t, record_shot, &s));
    for (int i = 0; i < N; i++) {
        int64_t delay = CONC_US(500) + CONC_US(i % 7 * 100);
        /* A lower bound of the deadline: lateness is overestimated by the
         * duration of the start call (tens of ns). */
        int64_t deadline = conc_now_ns() + delay;

        assert_rc(0, conc_timer_start(&t, delay, 0));
        wait_for(&s.runs, i + 1);
        late[i] = s.fired_at - deadline;
        assert_true(late[i] >= 0);
    }
    qsort(late, N, sizeof late[0], cmp_i64);
    print_message("timer lateness over %d one-shots: median %.1f us, p99 %.1f us, max %.1f us\n", N,
                  late[N / 2] / 1e3, late[N * 99 / 100] / 1e3, late[N - 1] / 1e3);
    assert_rc(0, conc_timer_destroy(&t));
}

static int teardown_service(void **state)
{
    return conc_timer_service_shutdown();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(timerheap_pops_in_deadline_order_ties_in_insertion_order),
        cmocka_unit_test(timerheap_pop_expired_never_returns_a_future_deadline),
        cmocka_unit_test(timerheap_remove_anywhere_keeps_the_order_of_the_rest),
        cmocka_unit_test(timer_rejects_bad_arguments),
        cmocka_unit_test(timer_destroyed_twice_or_used_after_destroy_returns_einval),
        cmocka_unit_test(timer_start_while_pending_is_busy_and_restart_replaces),
        cmocka_unit_test(one_shot_fires_once_never_before_its_deadline),
        cmocka_unit_test(static_initializer_makes_a_usable_timer),
        cmocka_unit_test(timers_fire_in_deadline_order),
        cmocka_unit_test(timers_started_with_equal_delays_fire_in_start_order),
        cmocka_unit_test(periodic_timer_keeps_its_phase),
        cmocka_unit_test(periodic_timer_skips_missed_periods_instead_of_bursting),
        cmocka_unit_test(callback_cancels_its_own_periodic_timer),
        cmocka_unit_test(callback_restarts_its_own_one_shot_timer),
        cmocka_unit_test(restart_changes_the_period),
        cmocka_unit_test(cancel_reports_a_running_callback_and_a_pending_rearm),
        cmocka_unit_test(destroy_waits_for_a_running_callback),
        cmocka_unit_test(callback_may_destroy_and_free_its_own_timer),
        cmocka_unit_test(timer_once_runs_once_and_reports_on_cancel),
        cmocka_unit_test(timer_once_rejects_bad_arguments),
        cmocka_unit_test(timer_once_cancel_reports_a_running_call),
        cmocka_unit_test(service_shutdown_from_a_callback_is_edeadlk_and_starts_during_it_eclosed),
        cmocka_unit_test(service_shutdown_cancels_pending_timers_and_restarts_on_use),
        cmocka_unit_test(timer_lateness_is_measured),
    };
    return cmocka_run_group_tests(tests, NULL, teardown_service);
}
