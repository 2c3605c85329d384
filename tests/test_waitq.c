/*
 * The wait-queue protocol, exercised through a minimal permit counter written
 * the way every primitive uses it: wakes and timeouts racing each other must
 * never lose or duplicate a permit.
 */
#include <stdlib.h>

#include "core/waitq.h"
#include "helpers.h"

struct permits {
    conc__os_lock_t lock;
    conc__waitq_t waiters;
    long count;
};

enum { HANDED = 1 };

static int take(struct permits *p, int64_t timeout)
{
    int64_t deadline = conc__deadline(timeout);
    conc__waiter_t w;

    conc__os_lock(&p->lock);
    if (p->count > 0) {
        p->count--;
        conc__os_unlock(&p->lock);
        return 0;
    }
    if (timeout == 0) {
        conc__os_unlock(&p->lock);
        return CONC_EAGAIN;
    }
    conc__waiter_init(&w);
    conc__waitq_push(&p->waiters, &w);
    int rc = conc__waiter_sleep(&w, &p->waiters, &p->lock, deadline, true);
    return rc == HANDED ? 0 : rc;
}

/* A permit goes straight to the first waiter (hand-off), else to the count. */
static void give(struct permits *p)
{
    conc__wakelist_t wl = CONC__WAKELIST_INIT;

    conc__os_lock(&p->lock);
    if (!conc__waitq_empty(&p->waiters))
        conc__waitq_wake(&p->waiters, conc__waitq_first(&p->waiters), HANDED, &wl);
    else
        p->count++;
    conc__os_unlock(&p->lock);
    conc__wakelist_run(&wl);
}

static void waitq_is_fifo_and_remove_unlinks_anywhere(void **state)
{
    conc__waitq_t q = CONC__WAITQ_INIT;
    conc__waiter_t w[4];

    for (int i = 0; i < 4; i++) {
        conc__waiter_init(&w[i]);
        conc__waitq_push(&q, &w[i]);
    }
    conc__waitq_remove(&q, &w[2]);
    conc__waitq_remove(&q, &w[0]);
    assert_ptr_equal(&w[1], conc__waitq_first(&q));
    assert_ptr_equal(&w[3], w[1].next);
    conc__waitq_remove(&q, &w[3]);
    conc__waitq_remove(&q, &w[1]);
    assert_true(conc__waitq_empty(&q));
    assert_null(q.tail_);
}

static void wake_n_wakes_the_first_n_in_order(void **state)
{
    conc__waitq_t q = CONC__WAITQ_INIT;
    conc__wakelist_t wl = CONC__WAKELIST_INIT;
    conc__waiter_t w[3];

    for (int i = 0; i < 3; i++) {
        conc__waiter_init(&w[i]);
        conc__waitq_push(&q, &w[i]);
    }
    assert_int_equal(2, conc__waitq_wake_n(&q, 2, 7, &wl));
    assert_ptr_equal(&w[2], conc__waitq_first(&q));
    assert_int_equal(CONC__WOKEN, atomic_load(&w[0].state));
    assert_int_equal(7, w[1].status);
    assert_int_equal(CONC__WAITING, atomic_load(&w[2].state));
    conc__wakelist_run(&wl); /* wakes this thread's own parker twice: one token */
    assert_rc(0, conc__os_park(conc__os_parker_self(), CONC_FOREVER));
    assert_int_equal(1, conc__waitq_wake_n(&q, -1, 0, &wl));
    conc__wakelist_run(&wl);
    assert_rc(0, conc__os_park(conc__os_parker_self(), CONC_FOREVER));
}

static void timed_take_times_out_not_early_and_leaves_the_queue_empty(void **state)
{
    struct permits p = { 0 };
    int64_t start = conc_now_ns();

    assert_rc(CONC_ETIMEDOUT, take(&p, CONC_MS(3)));
    assert_true(conc_now_ns() - start >= CONC_MS(3));
    assert_true(conc__waitq_empty(&p.waiters));
    assert_rc(CONC_EAGAIN, take(&p, CONC_NOWAIT));
}

struct race {
    struct permits *p;
    _Atomic long *taken;
    long gives;
};

static void *racing_taker(void *arg)
{
    struct race *r = arg;
    unsigned seed = (unsigned)(uintptr_t)arg;

    for (;;) {
        int64_t timeout = (int64_t)(rand_r(&seed) % 50) * 1000; /* 0..49 us */
        int rc = take(r->p, timeout);
        if (rc == 0) {
            if (atomic_fetch_add(r->taken, 1) + 1 >= r->gives)
                return NULL;
        } else if (atomic_load(r->taken) >= r->gives) {
            return NULL;
        } else {
            assert_true(rc == CONC_ETIMEDOUT || rc == CONC_EAGAIN);
        }
    }
}

static void *giver(void *arg)
{
    struct race *r = arg;

    for (long i = 0; i < r->gives; i++)
        give(r->p);
    return NULL;
}

static void wakes_racing_timeouts_never_lose_a_permit(void **state)
{
    struct permits p = { 0 };
    _Atomic long taken = 0;
    long gives = 100000 * test_stress_scale();
    struct race r[5];

    for (int i = 0; i < 5; i++)
        r[i] = (struct race){ &p, &taken, gives };
    conc__os_thread_t t;
    assert_rc(0, conc__os_thread_start(&t, giver, &r[4], 0, false));
    test_run_threads(4, racing_taker, r, sizeof r[0]);
    assert_rc(0, conc__os_thread_join(t, NULL));
    /* Every permit given was taken exactly once: none lost, none invented. */
    assert_int_equal(gives, atomic_load(&taken) + p.count);
    assert_int_equal(0, p.count);
    assert_true(conc__waitq_empty(&p.waiters));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(waitq_is_fifo_and_remove_unlinks_anywhere),
        cmocka_unit_test(wake_n_wakes_the_first_n_in_order),
        cmocka_unit_test(timed_take_times_out_not_early_and_leaves_the_queue_empty),
        cmocka_unit_test(wakes_racing_timeouts_never_lose_a_permit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
