/*
 * The plain and the recursive mutex: every behaviour and error code, one
 * test each. Some tests look inside (the wait queue, the owner word) to make
 * races deterministic; others install a task-like context to show that the
 * waiter and the owner are whatever context is current.
 */
#include "core/mutex_internal.h"
#include "helpers.h"

/* ---- test scaffolding ---------------------------------------------------- */

/* A thread that locks a mutex and holds it until told to let go. */
struct holder {
    conc_mutex_t *m;
    conc_rmutex_t *r;
    _Atomic int phase; /* 0 starting, 1 holding, 2 asked to release, 3 released */
    int rc;            /* what its unlock returned */
    conc__os_thread_t t;
};

static void *holder_main(void *arg)
{
    struct holder *h = arg;

    if (h->r)
        conc_rmutex_lock(h->r);
    else
        conc_mutex_lock(h->m);
    atomic_store(&h->phase, 1);
    while (atomic_load(&h->phase) != 2)
        conc_sleep(CONC_US(100));
    h->rc = h->r ? conc_rmutex_unlock(h->r) : conc_mutex_unlock(h->m);
    atomic_store(&h->phase, 3);
    return NULL;
}

static void hold(struct holder *h, conc_mutex_t *m, conc_rmutex_t *r)
{
    h->m = m;
    h->r = r;
    h->rc = -100;
    atomic_store(&h->phase, 0);
    assert_rc(0, conc__os_thread_start(&h->t, holder_main, h, 0, false));
    while (atomic_load(&h->phase) != 1)
        conc_sleep(CONC_US(100));
}

static void release_holder(struct holder *h)
{
    atomic_store(&h->phase, 2);
    assert_rc(0, conc__os_thread_join(h->t, NULL));
    assert_rc(0, h->rc);
}

static int queued(conc_mutex_t *m)
{
    int n = 0;

    conc__os_lock(&m->lock_);
    for (conc__waiter_t *w = conc__waitq_first(&m->waiters_); w; w = w->next)
        n++;
    conc__os_unlock(&m->lock_);
    return n;
}

static void wait_until_queued(conc_mutex_t *m, int n)
{
    while (queued(m) < n)
        conc_sleep(CONC_US(100));
}

/* Task-like contexts: struct test_task (helpers.h). */

/* ---- plain mutex --------------------------------------------------------- */

static void mutex_static_initializer_makes_an_unlocked_mutex(void **state)
{
    conc_mutex_t m = CONC_MUTEX_INIT;

    assert_false(conc_mutex_locked(&m));
    assert_rc(0, conc_mutex_lock(&m));
    assert_rc(0, conc_mutex_unlock(&m));
    assert_rc(0, conc_mutex_destroy(&m));
}

static void mutex_lock_and_unlock_change_locked_and_ownership(void **state)
{
    conc_mutex_t m;

    assert_rc(0, conc_mutex_init(&m));
    assert_false(conc_mutex_owned_by_me(&m));
    assert_rc(0, conc_mutex_lock(&m));
    assert_true(conc_mutex_locked(&m));
    assert_true(conc_mutex_owned_by_me(&m));
    assert_rc(0, conc_mutex_unlock(&m));
    assert_false(conc_mutex_locked(&m));
    assert_false(conc_mutex_owned_by_me(&m));
    assert_rc(0, conc_mutex_trylock(&m));
    assert_rc(0, conc_mutex_unlock(&m));
    assert_rc(0, conc_mutex_timedlock(&m, CONC_MS(1)));
    assert_rc(0, conc_mutex_unlock(&m));
    assert_rc(0, conc_mutex_destroy(&m));
}

static void mutex_trylock_returns_ebusy_while_another_thread_owns_it(void **state)
{
    conc_mutex_t m = CONC_MUTEX_INIT;
    struct holder h;

    hold(&h, &m, NULL);
    assert_rc(CONC_EBUSY, conc_mutex_trylock(&m));
    assert_true(conc_mutex_locked(&m));
    assert_false(conc_mutex_owned_by_me(&m));
    release_holder(&h);
    assert_rc(0, conc_mutex_trylock(&m));
    assert_rc(0, conc_mutex_unlock(&m));
}

static void mutex_trylock_by_the_owner_returns_ebusy(void **state)
{
    conc_mutex_t m = CONC_MUTEX_INIT;

    assert_rc(0, conc_mutex_lock(&m));
    assert_rc(CONC_EBUSY, conc_mutex_trylock(&m));
    assert_rc(CONC_EBUSY, conc_mutex_timedlock(&m, CONC_NOWAIT));
    assert_rc(0, conc_mutex_unlock(&m));
    assert_false(conc_mutex_locked(&m));
}

static void mutex_lock_by_the_owner_returns_edeadlk_at_once(void **state)
{
    conc_mutex_t m = CONC_MUTEX_INIT;
    int64_t start;

    assert_rc(0, conc_mutex_lock(&m));
    assert_rc(CONC_EDEADLK, conc_mutex_lock(&m));
    start = conc_now_ns();
    assert_rc(CONC_EDEADLK, conc_mutex_timedlock(&m, CONC_SEC(10)));
    assert_true(conc_now_ns() - start < CONC_SEC(5));
    assert_rc(0, conc_mutex_unlock(&m));
    assert_rc(CONC_EPERM, conc_mutex_unlock(&m));
}

static void mutex_timedlock_times_out_never_early(void **state)
{
    conc_mutex_t m = CONC_MUTEX_INIT;
    const int64_t timeouts[] = { 1, CONC_US(50), CONC_MS(1), CONC_MS(5) };
    struct holder h;

    hold(&h, &m, NULL);
    for (size_t i = 0; i < sizeof timeouts / sizeof timeouts[0]; i++) {
        int64_t start = conc_now_ns();
        assert_rc(CONC_ETIMEDOUT, conc_mutex_timedlock(&m, timeouts[i]));
        assert_true(conc_now_ns() - start >= timeouts[i]);
    }
    assert_false(conc_mutex_owned_by_me(&m));
    assert_int_equal(0, queued(&m));
    release_holder(&h);
    assert_false(conc_mutex_locked(&m));
}

static void mutex_timedlock_nowait_returns_ebusy_without_blocking(void **state)
{
    conc_mutex_t m = CONC_MUTEX_INIT;
    struct holder h;
    int64_t start;

    hold(&h, &m, NULL);
    start = conc_now_ns();
    for (int i = 0; i < 1000; i++)
        assert_rc(CONC_EBUSY, conc_mutex_timedlock(&m, CONC_NOWAIT));
    /* 1000 tries that never sleep take far less than a second. */
    assert_true(conc_now_ns() - start < CONC_SEC(1));
    assert_int_equal(0, queued(&m));
    release_holder(&h);
}

static void mutex_timedlock_gets_a_lock_released_before_the_deadline(void **state)
{
    conc_mutex_t m = CONC_MUTEX_INIT;
    struct holder h;

    hold(&h, &m, NULL);
    atomic_store(&h.phase, 2); /* let go in about 100 us */
    assert_rc(0, conc_mutex_timedlock(&m, CONC_SEC(30)));
    assert_true(conc_mutex_owned_by_me(&m));
    assert_rc(0, conc__os_thread_join(h.t, NULL));
    assert_rc(0, h.rc);
    assert_rc(0, conc_mutex_unlock(&m));
}

struct locker {
    conc_mutex_t *m;
    _Atomic int done;
    int rc;
};

static void *locker_main(void *arg)
{
    struct locker *l = arg;

    l->rc = conc_mutex_lock(l->m);
    atomic_store(&l->done, 1);
    if (l->rc == 0)
        l->rc = conc_mutex_unlock(l->m);
    return NULL;
}

static void mutex_lock_blocks_until_the_owner_unlocks(void **state)
{
    conc_mutex_t m = CONC_MUTEX_INIT;
    struct locker l = { &m, 0, -100 };
    conc__os_thread_t t;

    assert_rc(0, conc_mutex_lock(&m));
    assert_rc(0, conc__os_thread_start(&t, locker_main, &l, 0, false));
    wait_until_queued(&m, 1);
    conc_sleep(CONC_MS(2));
    assert_int_equal(0, atomic_load(&l.done));
    assert_rc(0, conc_mutex_unlock(&m));
    assert_rc(0, conc__os_thread_join(t, NULL));
    assert_int_equal(1, atomic_load(&l.done));
    assert_rc(0, l.rc);
    assert_false(conc_mutex_locked(&m));
}

static void mutex_unlock_by_a_non_owner_returns_eperm_and_changes_nothing(void **state)
{
    conc_mutex_t m = CONC_MUTEX_INIT;
    struct holder h;

    hold(&h, &m, NULL);
    uintptr_t before = atomic_load(&m.state_);
    assert_rc(CONC_EPERM, conc_mutex_unlock(&m));
    assert_int_equal(before, atomic_load(&m.state_));
    assert_true(conc_mutex_locked(&m));
    assert_rc(CONC_EBUSY, conc_mutex_trylock(&m));
    release_holder(&h);
}

static void mutex_unlock_of_an_unlocked_mutex_returns_eperm(void **state)
{
    conc_mutex_t m = CONC_MUTEX_INIT;

    assert_rc(CONC_EPERM, conc_mutex_unlock(&m));
    assert_false(conc_mutex_locked(&m));
    assert_rc(0, conc_mutex_lock(&m));
    assert_rc(0, conc_mutex_unlock(&m));
}

static void mutex_destroy_while_locked_returns_ebusy(void **state)
{
    conc_mutex_t m = CONC_MUTEX_INIT;
    struct holder h;

    assert_rc(0, conc_mutex_lock(&m));
    assert_rc(CONC_EBUSY, conc_mutex_destroy(&m));
    assert_true(conc_mutex_owned_by_me(&m));
    assert_rc(0, conc_mutex_unlock(&m));
    hold(&h, &m, NULL);
    assert_rc(CONC_EBUSY, conc_mutex_destroy(&m));
    release_holder(&h);
    assert_rc(0, conc_mutex_destroy(&m));
}

static void mutex_destroy_with_waiters_returns_ebusy(void **state)
{
    conc_mutex_t m = CONC_MUTEX_INIT;
    conc__waiter_t w;

    /* Free but with a queued waiter (one woken to retry may see this). */
    conc__waiter_init(&w);
    conc__os_lock(&m.lock_);
    conc__waitq_push(&m.waiters_, &w);
    conc__os_unlock(&m.lock_);
    assert_rc(CONC_EBUSY, conc_mutex_destroy(&m));
    conc__os_lock(&m.lock_);
    conc__waitq_remove(&m.waiters_, &w);
    conc__os_unlock(&m.lock_);
    assert_rc(0, conc_mutex_destroy(&m));
}

static void mutex_destroyed_mutex_returns_einval(void **state)
{
    conc_mutex_t m = CONC_MUTEX_INIT;

    assert_rc(0, conc_mutex_destroy(&m));
    assert_rc(CONC_EINVAL, conc_mutex_lock(&m));
    assert_rc(CONC_EINVAL, conc_mutex_trylock(&m));
    assert_rc(CONC_EINVAL, conc_mutex_timedlock(&m, CONC_MS(1)));
    assert_rc(CONC_EINVAL, conc_mutex_timedlock(&m, CONC_NOWAIT));
    assert_rc(CONC_EINVAL, conc_mutex_destroy(&m));
    assert_rc(CONC_EPERM, conc_mutex_unlock(&m));
    assert_false(conc_mutex_locked(&m));
    assert_rc(0, conc_mutex_init(&m));
    assert_rc(0, conc_mutex_lock(&m));
    assert_rc(0, conc_mutex_unlock(&m));
}

static void mutex_null_pointer_returns_einval(void **state)
{
    assert_rc(CONC_EINVAL, conc_mutex_init(NULL));
    assert_rc(CONC_EINVAL, conc_mutex_destroy(NULL));
    assert_rc(CONC_EINVAL, conc_mutex_lock(NULL));
    assert_rc(CONC_EINVAL, conc_mutex_trylock(NULL));
    assert_rc(CONC_EINVAL, conc_mutex_timedlock(NULL, CONC_MS(1)));
    assert_rc(CONC_EINVAL, conc_mutex_timedlock(NULL, CONC_NOWAIT));
    assert_rc(CONC_EINVAL, conc_mutex_unlock(NULL));
    assert_false(conc_mutex_locked(NULL));
    assert_false(conc_mutex_owned_by_me(NULL));
}

/* A waiter whose wake the test observes without any thread behind it. */
static _Atomic int recorded_wakes;

static int never_block(void *ctx, int64_t deadline, bool cancellable)
{
    return CONC_ETIMEDOUT;
}

static void record_wake(void *ctx)
{
    atomic_fetch_add(&recorded_wakes, 1);
}

static const conc__context_ops_t recording_ops = { never_block, record_wake, NULL, NULL, NULL };
static struct test_task recording_ctx;

/* Lock m as this thread, queue w as if it had slept since since_ns, unlock. */
static void unlock_with_one_waiter(conc_mutex_t *m, conc__waiter_t *w, int64_t since_ns)
{
    conc__waiter_init(w);
    w->context = (conc__context_t){ &recording_ops, &recording_ctx };
    w->since_ns = since_ns;
    assert_rc(0, conc_mutex_lock(m));
    conc__os_lock(&m->lock_);
    conc__waitq_push(&m->waiters_, w);
    atomic_fetch_or(&m->state_, CONC__MUTEX_PARKED);
    conc__os_unlock(&m->lock_);
    assert_rc(0, conc_mutex_unlock(m));
}

static void mutex_unlock_lets_others_barge_past_a_waiter_younger_than_1ms(void **state)
{
    conc_mutex_t m = CONC_MUTEX_INIT;
    conc__waiter_t w;

    atomic_store(&recorded_wakes, 0);
    unlock_with_one_waiter(&m, &w, conc_now_ns());
    /* Woken to compete, but the lock is free: anybody running may take it. */
    assert_int_equal(1, atomic_load(&recorded_wakes));
    assert_int_equal(CONC__WOKEN, atomic_load(&w.state));
    assert_int_equal(0, atomic_load(&m.state_));
    assert_rc(0, conc_mutex_trylock(&m));
    assert_rc(0, conc_mutex_unlock(&m));
}

static void mutex_unlock_hands_the_lock_to_a_waiter_older_than_1ms(void **state)
{
    conc_mutex_t m = CONC_MUTEX_INIT;
    conc__waiter_t w;

    atomic_store(&recorded_wakes, 0);
    unlock_with_one_waiter(&m, &w, conc_now_ns() - CONC_MS(2));
    assert_int_equal(1, atomic_load(&recorded_wakes));
    assert_int_equal((uintptr_t)&recording_ctx, atomic_load(&m.state_));
    assert_rc(CONC_EBUSY, conc_mutex_trylock(&m));
}

struct contender {
    conc_mutex_t *m;
    _Atomic uintptr_t id;
    _Atomic int phase; /* 0, 1 locked, 2 release */
    int rc;
};

static void *contender_main(void *arg)
{
    struct contender *c = arg;

    atomic_store(&c->id, conc__context_id());
    c->rc = conc_mutex_lock(c->m);
    atomic_store(&c->phase, 1);
    while (atomic_load(&c->phase) != 2)
        conc_sleep(CONC_US(100));
    if (c->rc == 0)
        c->rc = conc_mutex_unlock(c->m);
    return NULL;
}

static void mutex_sleeping_thread_gets_the_lock_handed_over_after_1ms(void **state)
{
    conc_mutex_t m = CONC_MUTEX_INIT;
    struct contender c = { &m, 0, 0, -100 };
    conc__os_thread_t t;

    assert_rc(0, conc_mutex_lock(&m));
    assert_rc(0, conc__os_thread_start(&t, contender_main, &c, 0, false));
    wait_until_queued(&m, 1);
    conc_sleep(CONC_MS(2));
    assert_rc(0, conc_mutex_unlock(&m));
    /* Handed over at the unlock, before the sleeper even ran again. */
    assert_int_equal(atomic_load(&c.id), conc__mutex_owner(&m));
    assert_rc(CONC_EBUSY, conc_mutex_trylock(&m));
    while (atomic_load(&c.phase) != 1)
        conc_sleep(CONC_US(100));
    atomic_store(&c.phase, 2);
    assert_rc(0, conc__os_thread_join(t, NULL));
    assert_rc(0, c.rc);
    assert_false(conc_mutex_locked(&m));
}

/* Sleep past the deadline, have the holder unlock (handing the lock over),
 * and only then report the timeout: the worst interleaving of the two. This
 * runs inside the context's block, so it sleeps on the OS directly: a
 * conc_sleep() here would go through the context and swallow the wake-up
 * that the hand-over sends. */
static int timeout_after_handoff(struct test_task *f, int64_t deadline)
{
    struct holder *h = f->arg;

    f->timed_block = NULL;
    conc__os_sleep_until(deadline);
    atomic_store(&h->phase, 2);
    while (atomic_load(&h->phase) != 3)
        conc__os_sleep_until(conc_now_ns() + CONC_US(100));
    return CONC_ETIMEDOUT;
}

static void mutex_handoff_that_races_the_deadline_still_gives_the_lock(void **state)
{
    conc_mutex_t m = CONC_MUTEX_INIT;
    struct test_task f = { .timed_block = timeout_after_handoff };
    struct holder h;
    int64_t start;

    hold(&h, &m, NULL);
    f.arg = &h;
    test_task_enter(&f);
    start = conc_now_ns();
    int rc = conc_mutex_timedlock(&m, CONC_MS(20));
    bool mine = conc_mutex_owned_by_me(&m);
    int unlock_rc = conc_mutex_unlock(&m);
    test_task_leave(&f);
    assert_rc(0, rc);
    assert_true(conc_now_ns() - start >= CONC_MS(20));
    assert_true(mine);
    assert_rc(0, unlock_rc);
    assert_rc(0, conc__os_thread_join(h.t, NULL));
    assert_rc(0, h.rc);
    assert_false(conc_mutex_locked(&m));
}

static void mutex_owner_is_the_current_context_not_the_thread(void **state)
{
    conc_mutex_t m = CONC_MUTEX_INIT;
    struct test_task f = { 0 };

    test_task_enter(&f);
    assert_rc(0, conc_mutex_lock(&m));
    test_task_leave(&f);
    /* Same thread, another context: not the owner. */
    assert_false(conc_mutex_owned_by_me(&m));
    assert_rc(CONC_EPERM, conc_mutex_unlock(&m));
    assert_rc(CONC_EBUSY, conc_mutex_trylock(&m));
    test_task_enter(&f);
    assert_true(conc_mutex_owned_by_me(&m));
    assert_rc(0, conc_mutex_unlock(&m));
    test_task_leave(&f);
    assert_false(conc_mutex_locked(&m));
}

static void mutex_lock_in_a_cancelled_context_returns_ecanceled(void **state)
{
    conc_mutex_t m = CONC_MUTEX_INIT;
    struct test_task f = { 0 };
    struct holder h;

    hold(&h, &m, NULL);
    atomic_store(&f.cancelled, true);
    test_task_enter(&f);
    int rc = conc_mutex_lock(&m);
    bool mine = conc_mutex_owned_by_me(&m);
    test_task_leave(&f);
    assert_rc(CONC_ECANCELED, rc);
    assert_false(mine);
    assert_int_equal(0, queued(&m));
    release_holder(&h);
    assert_false(conc_mutex_locked(&m));
}

/* ---- recursive mutex ----------------------------------------------------- */

static void rmutex_static_initializer_makes_an_unlocked_mutex(void **state)
{
    conc_rmutex_t r = CONC_RMUTEX_INIT;

    assert_false(conc_rmutex_locked(&r));
    assert_int_equal(0, conc_rmutex_depth(&r));
    assert_rc(0, conc_rmutex_lock(&r));
    assert_rc(0, conc_rmutex_unlock(&r));
    assert_rc(0, conc_rmutex_destroy(&r));
}

static void rmutex_owner_may_relock_and_must_unlock_as_often(void **state)
{
    conc_rmutex_t r;
    struct holder h;

    assert_rc(0, conc_rmutex_init(&r));
    for (uint32_t i = 1; i <= 3; i++) {
        assert_rc(0, conc_rmutex_lock(&r));
        assert_int_equal(i, conc_rmutex_depth(&r));
    }
    assert_rc(0, conc_rmutex_trylock(&r));
    assert_rc(0, conc_rmutex_timedlock(&r, CONC_MS(1)));
    assert_rc(0, conc_rmutex_timedlock(&r, CONC_NOWAIT));
    assert_int_equal(6, conc_rmutex_depth(&r));
    for (int i = 0; i < 5; i++) {
        assert_rc(0, conc_rmutex_unlock(&r));
        assert_true(conc_rmutex_owned_by_me(&r));
    }
    assert_rc(0, conc_rmutex_unlock(&r));
    assert_false(conc_rmutex_locked(&r));
    assert_rc(CONC_EPERM, conc_rmutex_unlock(&r));
    /* Free for another thread again. */
    hold(&h, NULL, &r);
    release_holder(&h);
    assert_rc(0, conc_rmutex_destroy(&r));
}

struct rlocker {
    conc_rmutex_t *r;
    _Atomic int done;
    int rc;
};

static void *rlocker_main(void *arg)
{
    struct rlocker *l = arg;

    l->rc = conc_rmutex_lock(l->r);
    atomic_store(&l->done, 1);
    if (l->rc == 0)
        l->rc = conc_rmutex_unlock(l->r);
    return NULL;
}

static void rmutex_other_thread_waits_until_the_last_unlock(void **state)
{
    conc_rmutex_t r = CONC_RMUTEX_INIT;
    struct rlocker l = { &r, 0, -100 };
    conc__os_thread_t t;

    assert_rc(0, conc_rmutex_lock(&r));
    assert_rc(0, conc_rmutex_lock(&r));
    assert_rc(0, conc__os_thread_start(&t, rlocker_main, &l, 0, false));
    wait_until_queued(&r.mutex_, 1);
    assert_rc(0, conc_rmutex_unlock(&r));
    conc_sleep(CONC_MS(2));
    assert_int_equal(0, atomic_load(&l.done));
    assert_rc(0, conc_rmutex_unlock(&r));
    assert_rc(0, conc__os_thread_join(t, NULL));
    assert_rc(0, l.rc);
    assert_false(conc_rmutex_locked(&r));
}

static void rmutex_unlock_by_a_non_owner_returns_eperm_and_changes_nothing(void **state)
{
    conc_rmutex_t r = CONC_RMUTEX_INIT;
    struct holder h;

    hold(&h, NULL, &r);
    uintptr_t before = atomic_load(&r.mutex_.state_);
    assert_rc(CONC_EPERM, conc_rmutex_unlock(&r));
    assert_int_equal(before, atomic_load(&r.mutex_.state_));
    assert_int_equal(1, r.depth_);
    assert_int_equal(0, conc_rmutex_depth(&r));
    release_holder(&h);
    assert_false(conc_rmutex_locked(&r));
}

static void rmutex_unlock_when_not_locked_returns_eperm(void **state)
{
    conc_rmutex_t r = CONC_RMUTEX_INIT;

    assert_rc(CONC_EPERM, conc_rmutex_unlock(&r));
    assert_false(conc_rmutex_locked(&r));
    assert_int_equal(0, r.depth_);
}

static void rmutex_trylock_returns_ebusy_while_another_thread_owns_it(void **state)
{
    conc_rmutex_t r = CONC_RMUTEX_INIT;
    struct holder h;

    hold(&h, NULL, &r);
    assert_rc(CONC_EBUSY, conc_rmutex_trylock(&r));
    assert_rc(CONC_EBUSY, conc_rmutex_timedlock(&r, CONC_NOWAIT));
    release_holder(&h);
}

static void rmutex_timedlock_times_out_never_early(void **state)
{
    conc_rmutex_t r = CONC_RMUTEX_INIT;
    struct holder h;

    hold(&h, NULL, &r);
    for (int64_t t = CONC_US(10); t <= CONC_MS(4); t *= 20) {
        int64_t start = conc_now_ns();
        assert_rc(CONC_ETIMEDOUT, conc_rmutex_timedlock(&r, t));
        assert_true(conc_now_ns() - start >= t);
    }
    assert_int_equal(0, conc_rmutex_depth(&r));
    release_holder(&h);
}

static void rmutex_depth_overflow_returns_eoverflow_and_changes_nothing(void **state)
{
    conc_rmutex_t r = CONC_RMUTEX_INIT;

    assert_rc(0, conc_rmutex_lock(&r));
    r.depth_ = CONC_RMUTEX_DEPTH_MAX - 1; /* as if locked that often */
    assert_rc(0, conc_rmutex_lock(&r));
    assert_int_equal(CONC_RMUTEX_DEPTH_MAX, conc_rmutex_depth(&r));
    assert_rc(CONC_EOVERFLOW, conc_rmutex_lock(&r));
    assert_rc(CONC_EOVERFLOW, conc_rmutex_trylock(&r));
    assert_rc(CONC_EOVERFLOW, conc_rmutex_timedlock(&r, CONC_MS(1)));
    assert_int_equal(CONC_RMUTEX_DEPTH_MAX, conc_rmutex_depth(&r));
    r.depth_ = 2;
    assert_rc(0, conc_rmutex_unlock(&r));
    assert_rc(0, conc_rmutex_unlock(&r));
    assert_false(conc_rmutex_locked(&r));
}

static void rmutex_lock_in_a_cancelled_context_returns_ecanceled(void **state)
{
    conc_rmutex_t r = CONC_RMUTEX_INIT;
    struct test_task f = { 0 };
    struct holder h;

    hold(&h, NULL, &r);
    atomic_store(&f.cancelled, true);
    test_task_enter(&f);
    int rc = conc_rmutex_lock(&r);
    int timed_rc = conc_rmutex_timedlock(&r, CONC_SEC(30));
    uint32_t depth = conc_rmutex_depth(&r);
    test_task_leave(&f);
    assert_rc(CONC_ECANCELED, rc);
    assert_rc(CONC_ECANCELED, timed_rc);
    assert_int_equal(0, depth);
    assert_int_equal(0, queued(&r.mutex_));
    release_holder(&h);
    assert_false(conc_rmutex_locked(&r));
}

static void rmutex_destroy_while_locked_returns_ebusy(void **state)
{
    conc_rmutex_t r = CONC_RMUTEX_INIT;

    assert_rc(0, conc_rmutex_lock(&r));
    assert_rc(CONC_EBUSY, conc_rmutex_destroy(&r));
    assert_int_equal(1, conc_rmutex_depth(&r));
    assert_rc(0, conc_rmutex_unlock(&r));
    assert_rc(0, conc_rmutex_destroy(&r));
}

static void rmutex_destroyed_or_null_returns_einval(void **state)
{
    conc_rmutex_t r = CONC_RMUTEX_INIT;

    assert_rc(0, conc_rmutex_destroy(&r));
    assert_rc(CONC_EINVAL, conc_rmutex_lock(&r));
    assert_rc(CONC_EINVAL, conc_rmutex_trylock(&r));
    assert_rc(CONC_EINVAL, conc_rmutex_timedlock(&r, CONC_MS(1)));
    assert_rc(CONC_EINVAL, conc_rmutex_destroy(&r));
    assert_rc(CONC_EPERM, conc_rmutex_unlock(&r));
    assert_rc(0, conc_rmutex_init(&r));
    assert_rc(0, conc_rmutex_lock(&r));
    assert_rc(0, conc_rmutex_unlock(&r));

    assert_rc(CONC_EINVAL, conc_rmutex_init(NULL));
    assert_rc(CONC_EINVAL, conc_rmutex_destroy(NULL));
    assert_rc(CONC_EINVAL, conc_rmutex_lock(NULL));
    assert_rc(CONC_EINVAL, conc_rmutex_trylock(NULL));
    assert_rc(CONC_EINVAL, conc_rmutex_timedlock(NULL, CONC_MS(1)));
    assert_rc(CONC_EINVAL, conc_rmutex_timedlock(NULL, CONC_NOWAIT));
    assert_rc(CONC_EINVAL, conc_rmutex_unlock(NULL));
    assert_false(conc_rmutex_locked(NULL));
    assert_false(conc_rmutex_owned_by_me(NULL));
    assert_int_equal(0, conc_rmutex_depth(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(mutex_static_initializer_makes_an_unlocked_mutex),
        cmocka_unit_test(mutex_lock_and_unlock_change_locked_and_ownership),
        cmocka_unit_test(mutex_trylock_returns_ebusy_while_another_thread_owns_it),
        cmocka_unit_test(mutex_trylock_by_the_owner_returns_ebusy),
        cmocka_unit_test(mutex_lock_by_the_owner_returns_edeadlk_at_once),
        cmocka_unit_test(mutex_timedlock_times_out_never_early),
        cmocka_unit_test(mutex_timedlock_nowait_returns_ebusy_without_blocking),
        cmocka_unit_test(mutex_timedlock_gets_a_lock_released_before_the_deadline),
        cmocka_unit_test(mutex_lock_blocks_until_the_owner_unlocks),
        cmocka_unit_test(mutex_unlock_by_a_non_owner_returns_eperm_and_changes_nothing),
        cmocka_unit_test(mutex_unlock_of_an_unlocked_mutex_returns_eperm),
        cmocka_unit_test(mutex_destroy_while_locked_returns_ebusy),
        cmocka_unit_test(mutex_destroy_with_waiters_returns_ebusy),
        cmocka_unit_test(mutex_destroyed_mutex_returns_einval),
        cmocka_unit_test(mutex_null_pointer_returns_einval),
        cmocka_unit_test(mutex_unlock_lets_others_barge_past_a_waiter_younger_than_1ms),
        cmocka_unit_test(mutex_unlock_hands_the_lock_to_a_waiter_older_than_1ms),
        cmocka_unit_test(mutex_sleeping_thread_gets_the_lock_handed_over_after_1ms),
        cmocka_unit_test(mutex_handoff_that_races_the_deadline_still_gives_the_lock),
        cmocka_unit_test(mutex_owner_is_the_current_context_not_the_thread),
        cmocka_unit_test(mutex_lock_in_a_cancelled_context_returns_ecanceled),
        cmocka_unit_test(rmutex_static_initializer_makes_an_unlocked_mutex),
        cmocka_unit_test(rmutex_owner_may_relock_and_must_unlock_as_often),
        cmocka_unit_test(rmutex_other_thread_waits_until_the_last_unlock),
        cmocka_unit_test(rmutex_unlock_by_a_non_owner_returns_eperm_and_changes_nothing),
        cmocka_unit_test(rmutex_unlock_when_not_locked_returns_eperm),
        cmocka_unit_test(rmutex_trylock_returns_ebusy_while_another_thread_owns_it),
        cmocka_unit_test(rmutex_timedlock_times_out_never_early),
        cmocka_unit_test(rmutex_depth_overflow_returns_eoverflow_and_changes_nothing),
        cmocka_unit_test(rmutex_lock_in_a_cancelled_context_returns_ecanceled),
        cmocka_unit_test(rmutex_destroy_while_locked_returns_ebusy),
        cmocka_unit_test(rmutex_destroyed_or_null_returns_einval),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
