/*
 * Condition variables with plain and recursive mutexes: every behaviour and
 * error code, one test each.
 */
#include "core/mutex_internal.h"
#include "helpers.h"

#include "conc/cond.h"

/* ---- test scaffolding ---------------------------------------------------- */

static int queued(conc_cond_t *c)
{
    int n = 0;

    conc__os_lock(&c->lock_);
    for (conc__waiter_t *w = conc__waitq_first(&c->waiters_); w; w = w->next)
        n++;
    conc__os_unlock(&c->lock_);
    return n;
}

static void wait_until_queued(conc_cond_t *c, int n)
{
    while (queued(c) < n)
        conc_sleep(CONC_US(100));
}

static void start(conc__os_thread_t *t, void *(*fn)(void *), void *arg)
{
    assert_rc(0, conc__os_thread_start(t, fn, arg, 0, false));
}

static void join(conc__os_thread_t t)
{
    assert_rc(0, conc__os_thread_join(t, NULL));
}

/* Shared state of the waiter threads: a flag the predicate tests, a count
 * of returns from the wait and the codes they returned. */
struct shared {
    conc_cond_t c;
    conc_mutex_t m;
    conc_rmutex_t r;
    bool flag;
    int evaluations;
    _Atomic int woken;
    int errors;
};

/* clang-format off */
#define SHARED_INIT { CONC_COND_INIT, CONC_MUTEX_INIT, CONC_RMUTEX_INIT, false, 0, 0, 0 }
/* clang-format on */

static bool flag_is_set(void *arg)
{
    struct shared *s = arg;

    s->evaluations++;
    return s->flag;
}

/* One plain wait, forever; counts its return. */
static void *wait_once(void *arg)
{
    struct shared *s = arg;

    conc_mutex_lock(&s->m);
    if (conc_cond_wait(&s->c, &s->m, CONC_FOREVER) != 0 || !conc_mutex_owned_by_me(&s->m))
        s->errors++;
    atomic_fetch_add(&s->woken, 1);
    conc_mutex_unlock(&s->m);
    return NULL;
}

static void wait_until_woken(struct shared *s, int n)
{
    while (atomic_load(&s->woken) < n)
        conc_sleep(CONC_US(100));
}

/* Task-like contexts: struct test_task (helpers.h). */

/* ---- tests ----------------------------------------------------------------- */

static void cond_static_initializer_makes_a_usable_condition(void **state)
{
    struct shared s = SHARED_INIT;
    conc__os_thread_t t;

    start(&t, wait_once, &s);
    wait_until_queued(&s.c, 1);
    assert_rc(0, conc_cond_notify(&s.c, 1));
    join(t);
    assert_int_equal(1, atomic_load(&s.woken));
    assert_int_equal(0, s.errors);
    assert_rc(0, conc_cond_destroy(&s.c));
}

static void cond_wait_without_holding_the_mutex_returns_eperm(void **state)
{
    struct shared s = SHARED_INIT;

    assert_rc(CONC_EPERM, conc_cond_wait(&s.c, &s.m, CONC_MS(1)));
    assert_rc(CONC_EPERM, conc_cond_wait(&s.c, &s.m, CONC_NOWAIT));
    assert_rc(CONC_EPERM, conc_cond_wait_for(&s.c, &s.m, flag_is_set, &s, CONC_MS(1)));
    assert_rc(CONC_EPERM, conc_cond_wait_r(&s.c, &s.r, CONC_MS(1)));
    assert_rc(CONC_EPERM, conc_cond_wait_for_r(&s.c, &s.r, flag_is_set, &s, CONC_MS(1)));
    assert_int_equal(0, s.evaluations);
    assert_false(conc_mutex_locked(&s.m));
    assert_false(conc_rmutex_locked(&s.r));
    assert_int_equal(0, queued(&s.c));
}

struct holder {
    conc_mutex_t *m;
    conc_cond_t *c; /* when set: lock only once a waiter sleeps on it */
    int64_t hold_ns;
    _Atomic int phase; /* 0, 1 holding, 2 released */
    conc__os_thread_t t;
};

static void *holder_main(void *arg)
{
    struct holder *h = arg;

    if (h->c)
        wait_until_queued(h->c, 1);
    conc_mutex_lock(h->m);
    atomic_store(&h->phase, 1);
    conc_sleep(h->hold_ns);
    atomic_store(&h->phase, 2);
    conc_mutex_unlock(h->m);
    return NULL;
}

static void cond_wait_by_a_thread_that_is_not_the_owner_returns_eperm(void **state)
{
    struct shared s = SHARED_INIT;
    struct holder h = { &s.m, NULL, CONC_MS(20), 0, { 0 } };

    start(&h.t, holder_main, &h);
    while (atomic_load(&h.phase) == 0)
        conc_sleep(CONC_US(100));
    assert_rc(CONC_EPERM, conc_cond_wait(&s.c, &s.m, CONC_MS(1)));
    join(h.t);
}

static void cond_wait_times_out_never_early_holding_the_mutex(void **state)
{
    struct shared s = SHARED_INIT;
    const int64_t timeouts[] = { 1, CONC_US(50), CONC_MS(1), CONC_MS(5) };

    assert_rc(0, conc_mutex_lock(&s.m));
    for (size_t i = 0; i < sizeof timeouts / sizeof timeouts[0]; i++) {
        int64_t begin = conc_now_ns();
        assert_rc(CONC_ETIMEDOUT, conc_cond_wait(&s.c, &s.m, timeouts[i]));
        assert_true(conc_now_ns() - begin >= timeouts[i]);
        assert_true(conc_mutex_owned_by_me(&s.m));
    }
    assert_int_equal(0, queued(&s.c));
    assert_rc(0, conc_mutex_unlock(&s.m));
}

static void cond_wait_nowait_returns_etimedout_without_releasing_the_mutex(void **state)
{
    struct shared s = SHARED_INIT;
    int64_t begin = conc_now_ns();

    assert_rc(0, conc_mutex_lock(&s.m));
    for (int i = 0; i < 1000; i++)
        assert_rc(CONC_ETIMEDOUT, conc_cond_wait(&s.c, &s.m, CONC_NOWAIT));
    assert_true(conc_now_ns() - begin < CONC_SEC(1));
    /* Never released: the owner word is still exactly this thread. */
    assert_int_equal(conc__context_id(), atomic_load(&s.m.state_));
    assert_int_equal(0, queued(&s.c));
    assert_rc(0, conc_mutex_unlock(&s.m));
}

static void cond_notify_wakes_one_waiter_at_a_time(void **state)
{
    struct shared s = SHARED_INIT;
    conc__os_thread_t t[3];

    for (int i = 0; i < 3; i++)
        start(&t[i], wait_once, &s);
    wait_until_queued(&s.c, 3);
    assert_rc(0, conc_cond_notify(&s.c, 1));
    wait_until_woken(&s, 1);
    conc_sleep(CONC_MS(5));
    assert_int_equal(1, atomic_load(&s.woken));
    assert_int_equal(2, queued(&s.c));
    assert_rc(0, conc_cond_notify(&s.c, 2));
    for (int i = 0; i < 3; i++)
        join(t[i]);
    assert_int_equal(3, atomic_load(&s.woken));
    assert_int_equal(0, s.errors);
}

static void cond_notify_n_wakes_at_most_n_and_zero_wakes_nobody(void **state)
{
    struct shared s = SHARED_INIT;
    conc__os_thread_t t[2];

    for (int i = 0; i < 2; i++)
        start(&t[i], wait_once, &s);
    wait_until_queued(&s.c, 2);
    assert_rc(0, conc_cond_notify(&s.c, 0));
    conc_sleep(CONC_MS(5));
    assert_int_equal(0, atomic_load(&s.woken));
    assert_rc(0, conc_cond_notify(&s.c, 5));
    for (int i = 0; i < 2; i++)
        join(t[i]);
    assert_int_equal(2, atomic_load(&s.woken));
    assert_int_equal(0, queued(&s.c));
}

static void cond_notify_all_wakes_every_waiter(void **state)
{
    struct shared s = SHARED_INIT;
    conc__os_thread_t t[4];

    for (int i = 0; i < 4; i++)
        start(&t[i], wait_once, &s);
    wait_until_queued(&s.c, 4);
    assert_rc(0, conc_cond_notify_all(&s.c));
    for (int i = 0; i < 4; i++)
        join(t[i]);
    assert_int_equal(4, atomic_load(&s.woken));
    assert_int_equal(0, s.errors);
}

static void cond_notify_without_waiters_is_not_remembered(void **state)
{
    struct shared s = SHARED_INIT;

    assert_rc(0, conc_cond_notify(&s.c, 1));
    assert_rc(0, conc_cond_notify_all(&s.c));
    assert_rc(0, conc_mutex_lock(&s.m));
    assert_rc(CONC_ETIMEDOUT, conc_cond_wait(&s.c, &s.m, CONC_MS(2)));
    assert_rc(0, conc_mutex_unlock(&s.m));
}

struct handshake {
    conc_cond_t c;
    conc_mutex_t m;
    _Atomic int ready;
    int rc;
};

static void *wait_after_ready(void *arg)
{
    struct handshake *h = arg;

    conc_mutex_lock(&h->m);
    atomic_store(&h->ready, 1);
    h->rc = conc_cond_wait(&h->c, &h->m, CONC_FOREVER);
    conc_mutex_unlock(&h->m);
    return NULL;
}

static void cond_notify_after_the_waiter_released_the_mutex_always_wakes_it(void **state)
{
    for (int i = 0; i < 200; i++) {
        struct handshake h = { CONC_COND_INIT, CONC_MUTEX_INIT, 0, -100 };
        conc__os_thread_t t;

        start(&t, wait_after_ready, &h);
        while (!atomic_load(&h.ready))
            ;
        /* Getting the mutex proves the waiter released it inside its wait. */
        assert_rc(0, conc_mutex_lock(&h.m));
        if (i % 2) {
            assert_rc(0, conc_cond_notify(&h.c, 1));
            assert_rc(0, conc_mutex_unlock(&h.m));
        } else {
            assert_rc(0, conc_mutex_unlock(&h.m));
            assert_rc(0, conc_cond_notify(&h.c, 1));
        }
        join(t); /* hangs (test timeout) if the notify were lost */
        assert_rc(0, h.rc);
    }
}

static void cond_wait_takes_the_mutex_again_even_after_a_timeout(void **state)
{
    struct shared s = SHARED_INIT;
    struct holder h = { &s.m, &s.c, CONC_MS(150), 0, { 0 } };
    int64_t begin;

    start(&h.t, holder_main, &h);
    assert_rc(0, conc_mutex_lock(&s.m));
    begin = conc_now_ns();
    /* The holder takes the mutex during the wait and keeps it past the
     * deadline: the wait returns only once it could lock it again. */
    assert_rc(CONC_ETIMEDOUT, conc_cond_wait(&s.c, &s.m, CONC_MS(100)));
    assert_true(conc_now_ns() - begin >= CONC_MS(100));
    assert_int_equal(2, atomic_load(&h.phase));
    assert_true(conc_mutex_owned_by_me(&s.m));
    assert_rc(0, conc_mutex_unlock(&s.m));
    join(h.t);
}

struct setter {
    struct shared *s;
    int64_t delay;
    conc__os_thread_t t;
};

static void *set_flag_later(void *arg)
{
    struct setter *st = arg;

    conc_sleep(st->delay);
    conc_mutex_lock(&st->s->m);
    st->s->flag = true;
    conc_mutex_unlock(&st->s->m);
    conc_cond_notify_all(&st->s->c);
    return NULL;
}

static void cond_wait_for_returns_1_when_the_predicate_becomes_true(void **state)
{
    struct shared s = SHARED_INIT;
    struct setter st = { &s, CONC_MS(2), { 0 } };

    start(&st.t, set_flag_later, &st);
    assert_rc(0, conc_mutex_lock(&s.m));
    assert_int_equal(1, conc_cond_wait_for(&s.c, &s.m, flag_is_set, &s, CONC_SEC(30)));
    assert_true(s.flag);
    assert_true(conc_mutex_owned_by_me(&s.m));
    assert_rc(0, conc_mutex_unlock(&s.m));
    join(st.t);
}

static void cond_wait_for_returns_1_at_once_when_the_predicate_holds(void **state)
{
    struct shared s = SHARED_INIT;

    s.flag = true;
    assert_rc(0, conc_mutex_lock(&s.m));
    assert_int_equal(1, conc_cond_wait_for(&s.c, &s.m, flag_is_set, &s, CONC_FOREVER));
    assert_int_equal(1, conc_cond_wait_for(&s.c, &s.m, flag_is_set, &s, CONC_NOWAIT));
    assert_int_equal(2, s.evaluations);
    assert_int_equal(0, queued(&s.c));
    assert_rc(0, conc_mutex_unlock(&s.m));
}

static void cond_wait_for_returns_0_after_the_deadline_never_early(void **state)
{
    struct shared s = SHARED_INIT;
    int64_t begin;

    assert_rc(0, conc_mutex_lock(&s.m));
    assert_int_equal(0, conc_cond_wait_for(&s.c, &s.m, flag_is_set, &s, CONC_NOWAIT));
    assert_int_equal(1, s.evaluations);
    begin = conc_now_ns();
    assert_int_equal(0, conc_cond_wait_for(&s.c, &s.m, flag_is_set, &s, CONC_MS(5)));
    assert_true(conc_now_ns() - begin >= CONC_MS(5));
    assert_int_equal(3, s.evaluations); /* before the wait and after it */
    assert_true(conc_mutex_owned_by_me(&s.m));
    assert_rc(0, conc_mutex_unlock(&s.m));
}

struct nagger {
    struct shared *s;
    _Atomic int stop;
    conc__os_thread_t t;
};

/* Wakes the waiters every 500 us without making their predicate true. */
static void *nag(void *arg)
{
    struct nagger *n = arg;

    while (!atomic_load(&n->stop)) {
        conc_cond_notify_all(&n->s->c);
        conc_sleep(CONC_US(500));
    }
    return NULL;
}

static void cond_wait_for_keeps_one_deadline_across_fruitless_wakeups(void **state)
{
    struct shared s = SHARED_INIT;
    struct nagger n = { &s, 0, { 0 } };
    int64_t begin, took;

    start(&n.t, nag, &n);
    assert_rc(0, conc_mutex_lock(&s.m));
    begin = conc_now_ns();
    assert_int_equal(0, conc_cond_wait_for(&s.c, &s.m, flag_is_set, &s, CONC_MS(30)));
    took = conc_now_ns() - begin;
    assert_rc(0, conc_mutex_unlock(&s.m));
    atomic_store(&n.stop, 1);
    join(n.t);
    assert_true(took >= CONC_MS(30));
    /* Each wake-up restarting a 30 ms wait would never end; the one
     * deadline ends it on time (generous slack for a loaded machine). */
    assert_true(took < CONC_MS(30) + CONC_SEC(2));
    assert_true(s.evaluations > 3);
}

/* A predicate that is false until a deadline and is slow the first time it
 * runs after a wake-up: the deadline passes while it runs. The window is
 * wide (200 ms, and 50 ms past it) so that a slow start of the waiter or
 * of the notifying thread (under an emulator, 20 ms were seen) cannot make
 * the first evaluation true or let the wait's own deadline fall after the
 * slow evaluation. */
#define SLOW_PRED_WINDOW CONC_MS(200)
struct slow_pred {
    conc_cond_t c;
    conc_mutex_t m;
    int64_t deadline;
    int evaluations;
};

static bool past_deadline_slowly(void *arg)
{
    struct slow_pred *p = arg;
    bool past = conc_now_ns() >= p->deadline;

    if (++p->evaluations == 2)
        conc_sleep_until(p->deadline + CONC_MS(50));
    return past;
}

static void *notify_once_queued(void *arg)
{
    struct slow_pred *p = arg;

    wait_until_queued(&p->c, 1);
    conc_cond_notify_all(&p->c);
    return NULL;
}

static void cond_wait_for_evaluates_the_predicate_after_a_deadline_passed_inside_it(void **state)
{
    struct slow_pred p = { CONC_COND_INIT, CONC_MUTEX_INIT, 0, 0 };
    conc__os_thread_t t;

    assert_rc(0, conc_mutex_lock(&p.m));
    p.deadline = conc_now_ns() + SLOW_PRED_WINDOW;
    start(&t, notify_once_queued, &p);
    /* Evaluations: at entry (false), after the wake (false, but the deadline
     * passes meanwhile), and once more after the deadline (true). */
    assert_int_equal(1, conc_cond_wait_for(&p.c, &p.m, past_deadline_slowly, &p, SLOW_PRED_WINDOW));
    assert_int_equal(3, p.evaluations);
    assert_rc(0, conc_mutex_unlock(&p.m));
    join(t);
}

static void *take_recursive_and_notify(void *arg)
{
    struct shared *s = arg;

    wait_until_queued(&s->c, 1);
    /* Free while the waiter waits, although it locked it several times. */
    if (conc_rmutex_timedlock(&s->r, CONC_SEC(10)) == 0) {
        s->flag = true;
        conc_rmutex_unlock(&s->r);
    } else {
        s->errors++;
    }
    conc_cond_notify(&s->c, 1);
    return NULL;
}

static void cond_wait_r_releases_a_recursive_mutex_fully_and_restores_its_depth(void **state)
{
    struct shared s = SHARED_INIT;
    conc__os_thread_t t;

    for (int i = 0; i < 3; i++)
        assert_rc(0, conc_rmutex_lock(&s.r));
    start(&t, take_recursive_and_notify, &s);
    assert_rc(0, conc_cond_wait_r(&s.c, &s.r, CONC_FOREVER));
    assert_true(s.flag);
    assert_int_equal(3, conc_rmutex_depth(&s.r));
    join(t);
    assert_int_equal(0, s.errors);
    for (int i = 0; i < 3; i++)
        assert_rc(0, conc_rmutex_unlock(&s.r));
    assert_false(conc_rmutex_locked(&s.r));
}

static void cond_wait_for_r_returns_the_predicate_and_restores_the_depth(void **state)
{
    struct shared s = SHARED_INIT;
    conc__os_thread_t t;
    int64_t begin;

    assert_rc(0, conc_rmutex_lock(&s.r));
    assert_rc(0, conc_rmutex_lock(&s.r));
    begin = conc_now_ns();
    assert_int_equal(0, conc_cond_wait_for_r(&s.c, &s.r, flag_is_set, &s, CONC_MS(3)));
    assert_true(conc_now_ns() - begin >= CONC_MS(3));
    assert_int_equal(2, conc_rmutex_depth(&s.r));
    assert_rc(CONC_ETIMEDOUT, conc_cond_wait_r(&s.c, &s.r, CONC_MS(1)));
    assert_int_equal(2, conc_rmutex_depth(&s.r));
    start(&t, take_recursive_and_notify, &s);
    assert_int_equal(1, conc_cond_wait_for_r(&s.c, &s.r, flag_is_set, &s, CONC_SEC(30)));
    assert_int_equal(2, conc_rmutex_depth(&s.r));
    join(t);
    assert_rc(0, conc_rmutex_unlock(&s.r));
    assert_rc(0, conc_rmutex_unlock(&s.r));
    assert_false(conc_rmutex_locked(&s.r));
}

static void cond_destroy_with_waiters_returns_ebusy(void **state)
{
    struct shared s = SHARED_INIT;
    conc__os_thread_t t;

    start(&t, wait_once, &s);
    wait_until_queued(&s.c, 1);
    assert_rc(CONC_EBUSY, conc_cond_destroy(&s.c));
    assert_rc(0, conc_cond_notify(&s.c, 1));
    join(t);
    assert_int_equal(0, s.errors);
    assert_rc(0, conc_cond_destroy(&s.c));
}

static void cond_destroyed_condition_returns_einval(void **state)
{
    struct shared s = SHARED_INIT;

    assert_rc(0, conc_cond_destroy(&s.c));
    assert_rc(0, conc_mutex_lock(&s.m));
    assert_rc(CONC_EINVAL, conc_cond_wait(&s.c, &s.m, CONC_MS(1)));
    assert_rc(CONC_EINVAL, conc_cond_wait(&s.c, &s.m, CONC_NOWAIT));
    assert_rc(CONC_EINVAL, conc_cond_wait_for(&s.c, &s.m, flag_is_set, &s, CONC_MS(1)));
    assert_true(conc_mutex_owned_by_me(&s.m));
    assert_rc(0, conc_mutex_unlock(&s.m));
    assert_rc(CONC_EINVAL, conc_cond_notify(&s.c, 1));
    assert_rc(CONC_EINVAL, conc_cond_notify_all(&s.c));
    assert_rc(CONC_EINVAL, conc_cond_destroy(&s.c));
    assert_rc(0, conc_cond_init(&s.c));
    assert_rc(0, conc_cond_notify(&s.c, 1));
    assert_rc(0, conc_cond_destroy(&s.c));
}

static void cond_null_arguments_and_negative_n_return_einval(void **state)
{
    struct shared s = SHARED_INIT;

    assert_rc(CONC_EINVAL, conc_cond_init(NULL));
    assert_rc(CONC_EINVAL, conc_cond_destroy(NULL));
    assert_rc(CONC_EINVAL, conc_cond_notify(NULL, 1));
    assert_rc(CONC_EINVAL, conc_cond_notify_all(NULL));
    assert_rc(CONC_EINVAL, conc_cond_notify(&s.c, -1));
    assert_rc(0, conc_mutex_lock(&s.m));
    assert_rc(0, conc_rmutex_lock(&s.r));
    assert_rc(CONC_EINVAL, conc_cond_wait(NULL, &s.m, CONC_MS(1)));
    assert_rc(CONC_EINVAL, conc_cond_wait(&s.c, NULL, CONC_MS(1)));
    assert_rc(CONC_EINVAL, conc_cond_wait_r(NULL, &s.r, CONC_MS(1)));
    assert_rc(CONC_EINVAL, conc_cond_wait_r(&s.c, NULL, CONC_MS(1)));
    assert_rc(CONC_EINVAL, conc_cond_wait_for(&s.c, &s.m, NULL, NULL, CONC_MS(1)));
    assert_rc(CONC_EINVAL, conc_cond_wait_for(NULL, &s.m, flag_is_set, &s, CONC_MS(1)));
    assert_rc(CONC_EINVAL, conc_cond_wait_for(&s.c, NULL, flag_is_set, &s, CONC_MS(1)));
    assert_rc(CONC_EINVAL, conc_cond_wait_for_r(&s.c, &s.r, NULL, NULL, CONC_MS(1)));
    assert_rc(CONC_EINVAL, conc_cond_wait_for_r(&s.c, NULL, flag_is_set, &s, CONC_MS(1)));
    assert_int_equal(0, s.evaluations);
    assert_true(conc_mutex_owned_by_me(&s.m));
    assert_int_equal(1, conc_rmutex_depth(&s.r));
    assert_rc(0, conc_rmutex_unlock(&s.r));
    assert_rc(0, conc_mutex_unlock(&s.m));
}

static void *destroy_mutex_then_notify(void *arg)
{
    struct shared *s = arg;

    int rc;

    wait_until_queued(&s->c, 1);
    /* Queued comes just before released: wait for the release. */
    while ((rc = conc_mutex_destroy(&s->m)) == CONC_EBUSY)
        conc_sleep(CONC_US(100));
    if (rc != 0)
        s->errors++;
    conc_cond_notify(&s->c, 1);
    return NULL;
}

static void cond_wait_whose_mutex_was_destroyed_meanwhile_returns_einval(void **state)
{
    struct shared s = SHARED_INIT;
    conc__os_thread_t t;

    start(&t, destroy_mutex_then_notify, &s);
    assert_rc(0, conc_mutex_lock(&s.m));
    assert_rc(CONC_EINVAL, conc_cond_wait(&s.c, &s.m, CONC_FOREVER));
    join(t);
    assert_int_equal(0, s.errors);
    assert_false(conc_mutex_owned_by_me(&s.m));
}

static void cond_wait_in_a_cancelled_context_returns_ecanceled_holding_the_mutex(void **state)
{
    struct shared s = SHARED_INIT;
    struct test_task f = { 0 };
    int rc, rc_for;
    bool held;

    int rc_r, rc_for_r;
    uint32_t depth;

    atomic_store(&f.cancelled, true);
    test_task_enter(&f);
    conc_mutex_lock(&s.m);
    rc = conc_cond_wait(&s.c, &s.m, CONC_SEC(30));
    rc_for = conc_cond_wait_for(&s.c, &s.m, flag_is_set, &s, CONC_SEC(30));
    held = conc_mutex_owned_by_me(&s.m);
    conc_mutex_unlock(&s.m);
    conc_rmutex_lock(&s.r);
    conc_rmutex_lock(&s.r);
    rc_r = conc_cond_wait_r(&s.c, &s.r, CONC_FOREVER);
    rc_for_r = conc_cond_wait_for_r(&s.c, &s.r, flag_is_set, &s, CONC_FOREVER);
    depth = conc_rmutex_depth(&s.r);
    conc_rmutex_unlock(&s.r);
    conc_rmutex_unlock(&s.r);
    test_task_leave(&f);
    assert_rc(CONC_ECANCELED, rc);
    assert_rc(CONC_ECANCELED, rc_for);
    assert_rc(CONC_ECANCELED, rc_r);
    assert_rc(CONC_ECANCELED, rc_for_r);
    assert_int_equal(2, depth);
    assert_false(conc_rmutex_locked(&s.r));
    assert_true(held);
    assert_int_equal(0, queued(&s.c));
    assert_false(conc_mutex_locked(&s.m));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cond_static_initializer_makes_a_usable_condition),
        cmocka_unit_test(cond_wait_without_holding_the_mutex_returns_eperm),
        cmocka_unit_test(cond_wait_by_a_thread_that_is_not_the_owner_returns_eperm),
        cmocka_unit_test(cond_wait_times_out_never_early_holding_the_mutex),
        cmocka_unit_test(cond_wait_nowait_returns_etimedout_without_releasing_the_mutex),
        cmocka_unit_test(cond_notify_wakes_one_waiter_at_a_time),
        cmocka_unit_test(cond_notify_n_wakes_at_most_n_and_zero_wakes_nobody),
        cmocka_unit_test(cond_notify_all_wakes_every_waiter),
        cmocka_unit_test(cond_notify_without_waiters_is_not_remembered),
        cmocka_unit_test(cond_notify_after_the_waiter_released_the_mutex_always_wakes_it),
        cmocka_unit_test(cond_wait_takes_the_mutex_again_even_after_a_timeout),
        cmocka_unit_test(cond_wait_for_returns_1_when_the_predicate_becomes_true),
        cmocka_unit_test(cond_wait_for_returns_1_at_once_when_the_predicate_holds),
        cmocka_unit_test(cond_wait_for_returns_0_after_the_deadline_never_early),
        cmocka_unit_test(cond_wait_for_keeps_one_deadline_across_fruitless_wakeups),
        cmocka_unit_test(cond_wait_for_evaluates_the_predicate_after_a_deadline_passed_inside_it),
        cmocka_unit_test(cond_wait_r_releases_a_recursive_mutex_fully_and_restores_its_depth),
        cmocka_unit_test(cond_wait_for_r_returns_the_predicate_and_restores_the_depth),
        cmocka_unit_test(cond_destroy_with_waiters_returns_ebusy),
        cmocka_unit_test(cond_destroyed_condition_returns_einval),
        cmocka_unit_test(cond_null_arguments_and_negative_n_return_einval),
        cmocka_unit_test(cond_wait_whose_mutex_was_destroyed_meanwhile_returns_einval),
        cmocka_unit_test(cond_wait_in_a_cancelled_context_returns_ecanceled_holding_the_mutex),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
