/*
 * Event flags: every behaviour and error code of conc/flags.h, the FIFO
 * release order of one set(), and bits consumed exactly once under
 * contention.
 */
#include <stdlib.h>

#include "conc/flags.h"

#include "core/waitq.h"
#include "os/os.h"
#include "helpers.h"

#define SHORT CONC_MS(20)
#define ANY CONC_FLAGS_ANY
#define ALL CONC_FLAGS_ALL
#define CLEAR CONC_FLAGS_CLEAR

static int queued(conc_flags_t *f)
{
    int n = 0;

    conc__os_lock(&f->lock_);
    for (conc__waiter_t *w = conc__waitq_first(&f->waiters_); w; w = w->next)
        n++;
    conc__os_unlock(&f->lock_);
    return n;
}

static void wait_until_queued(conc_flags_t *f, int n)
{
    int64_t give_up = conc_now_ns() + CONC_SEC(10);

    while (queued(f) != n) {
        assert_true(conc_now_ns() < give_up);
        conc_sleep(CONC_US(100));
    }
}

/* A helper thread waiting for a mask; records its result and order. */
struct waiter {
    conc_flags_t *f;
    uint32_t mask;
    int options;
    _Atomic int *order;
    int rank;
    int rc;
    uint32_t value;
    conc__os_thread_t t;
};

static void *wait_thread(void *arg)
{
    struct waiter *w = arg;

    w->rc = conc_flags_wait(w->f, w->mask, w->options, &w->value, CONC_FOREVER);
    w->rank = atomic_fetch_add(w->order, 1);
    return NULL;
}

static void start(struct waiter *w, conc_flags_t *f, uint32_t mask, int options, _Atomic int *order)
{
    *w = (struct waiter){ .f = f,
                          .mask = mask,
                          .options = options,
                          .order = order,
                          .rank = -1,
                          .rc = 99,
                          .value = 0xdead };
    assert_rc(0, conc__os_thread_start(&w->t, wait_thread, w, 0, false));
}

static void join(struct waiter *w)
{
    assert_rc(0, conc__os_thread_join(w->t, NULL));
}

static void flags_start_with_every_bit_clear(void **state)
{
    conc_flags_t s = CONC_FLAGS_INIT;
    conc_flags_t f;

    assert_int_equal(0, conc_flags_get(&s));
    assert_rc(0, conc_flags_init(&f));
    assert_int_equal(0, conc_flags_get(&f));
    assert_rc(0, conc_flags_destroy(&f));
}

static void flags_set_returns_the_new_value(void **state)
{
    conc_flags_t f = CONC_FLAGS_INIT;

    assert_int_equal(0x5, conc_flags_set(&f, 0x5));
    assert_int_equal(0x7, conc_flags_set(&f, 0x2));
    assert_int_equal(0x7, conc_flags_set(&f, 0x1));
    assert_int_equal(0x40000007, conc_flags_set(&f, 0x40000000));
    assert_int_equal(0x40000007, conc_flags_get(&f));
}

static void flags_clear_returns_the_previous_value(void **state)
{
    conc_flags_t f = CONC_FLAGS_INIT;

    assert_int_equal(0xf, conc_flags_set(&f, 0xf));
    assert_int_equal(0xf, conc_flags_clear(&f, 0x3));
    assert_int_equal(0xc, conc_flags_get(&f));
    assert_int_equal(0xc, conc_flags_clear(&f, 0x3)); /* clearing clear bits */
    assert_int_equal(0xc, conc_flags_clear(&f, CONC_FLAGS_MASK));
    assert_int_equal(0, conc_flags_get(&f));
}

static void flags_mask_empty_or_using_bit_31_is_einval_and_changes_nothing(void **state)
{
    conc_flags_t f = CONC_FLAGS_INIT;
    uint32_t v = 7;

    assert_int_equal(0x3, conc_flags_set(&f, 0x3));
    assert_rc(CONC_EINVAL, conc_flags_set(&f, 0));
    assert_rc(CONC_EINVAL, conc_flags_set(&f, 0x80000000u));
    assert_rc(CONC_EINVAL, conc_flags_set(&f, 0x80000001u));
    assert_rc(CONC_EINVAL, conc_flags_clear(&f, 0));
    assert_rc(CONC_EINVAL, conc_flags_clear(&f, 0x80000003u));
    assert_rc(CONC_EINVAL, conc_flags_wait(&f, 0, ANY, &v, CONC_NOWAIT));
    assert_rc(CONC_EINVAL, conc_flags_wait(&f, 0x80000001u, ANY | CLEAR, &v, CONC_NOWAIT));
    assert_int_equal(7, v);
    assert_int_equal(0x3, conc_flags_get(&f));
}

static void flags_wait_with_bad_options_is_einval(void **state)
{
    conc_flags_t f = CONC_FLAGS_INIT;

    assert_int_equal(0x1, conc_flags_set(&f, 0x1));
    assert_rc(CONC_EINVAL, conc_flags_wait(&f, 0x1, 0, NULL, CONC_NOWAIT));
    assert_rc(CONC_EINVAL, conc_flags_wait(&f, 0x1, CLEAR, NULL, CONC_NOWAIT));
    assert_rc(CONC_EINVAL, conc_flags_wait(&f, 0x1, ANY | ALL, NULL, CONC_NOWAIT));
    assert_rc(CONC_EINVAL, conc_flags_wait(&f, 0x1, ANY | 8, NULL, CONC_NOWAIT));
    assert_int_equal(0x1, conc_flags_get(&f));
}

static void flags_wait_any_returns_when_one_bit_of_the_mask_is_set(void **state)
{
    conc_flags_t f = CONC_FLAGS_INIT;
    _Atomic int order = 0;
    struct waiter w;
    uint32_t v = 0;

    conc_flags_set(&f, 0x4);
    assert_rc(0, conc_flags_wait(&f, 0x6, ANY, &v, CONC_NOWAIT));
    assert_int_equal(0x4, v);
    conc_flags_clear(&f, 0x4);
    start(&w, &f, 0x30, ANY, &order);
    wait_until_queued(&f, 1);
    conc_flags_set(&f, 0x1); /* not in the mask */
    assert_int_equal(1, queued(&f));
    conc_flags_set(&f, 0x20);
    join(&w);
    assert_rc(0, w.rc);
    assert_int_equal(0x21, w.value);
    assert_int_equal(0x21, conc_flags_get(&f)); /* no CLEAR: left as they are */
}

static void flags_wait_all_waits_for_every_bit_of_the_mask(void **state)
{
    conc_flags_t f = CONC_FLAGS_INIT;
    _Atomic int order = 0;
    struct waiter w;

    conc_flags_set(&f, 0x1);
    assert_rc(CONC_EAGAIN, conc_flags_wait(&f, 0x3, ALL, NULL, CONC_NOWAIT));
    start(&w, &f, 0x7, ALL, &order);
    wait_until_queued(&f, 1);
    conc_flags_set(&f, 0x2);
    assert_int_equal(1, queued(&f));
    conc_flags_set(&f, 0xc);
    join(&w);
    assert_rc(0, w.rc);
    assert_int_equal(0xf, w.value);
}

static void flags_wait_clear_consumes_only_the_matched_bits(void **state)
{
    conc_flags_t f = CONC_FLAGS_INIT;
    uint32_t v = 0;

    conc_flags_set(&f, 0x13);
    assert_rc(0, conc_flags_wait(&f, 0x6, ANY | CLEAR, &v, CONC_NOWAIT));
    assert_int_equal(0x13, v); /* the value when the condition was met */
    assert_int_equal(0x11, conc_flags_get(&f));
    assert_rc(0, conc_flags_wait(&f, 0x11, ALL | CLEAR, &v, CONC_FOREVER));
    assert_int_equal(0x11, v);
    assert_int_equal(0, conc_flags_get(&f));
}

static void flags_waiter_released_by_set_reports_the_value_and_consumes_its_bits(void **state)
{
    conc_flags_t f = CONC_FLAGS_INIT;
    _Atomic int order = 0;
    struct waiter w;

    conc_flags_set(&f, 0x100);
    start(&w, &f, 0x3, ALL | CLEAR, &order);
    wait_until_queued(&f, 1);
    assert_int_equal(0x101, conc_flags_set(&f, 0x1));
    /* set() returns the value after the released waiter took its bits. */
    assert_int_equal(0x100, conc_flags_set(&f, 0x2));
    join(&w);
    assert_rc(0, w.rc);
    assert_int_equal(0x103, w.value);
    assert_int_equal(0x100, conc_flags_get(&f));
}

static void flags_wait_nowait_when_not_met_is_eagain_and_never_blocks(void **state)
{
    conc_flags_t f = CONC_FLAGS_INIT;
    int64_t start_ns = conc_now_ns();
    uint32_t v = 5;

    conc_flags_set(&f, 0x1);
    for (int i = 0; i < 1000; i++) {
        assert_rc(CONC_EAGAIN, conc_flags_wait(&f, 0x2, ANY, &v, CONC_NOWAIT));
        assert_rc(CONC_EAGAIN, conc_flags_wait(&f, 0x3, ALL | CLEAR, &v, CONC_NOWAIT));
    }
    assert_true(conc_now_ns() - start_ns < CONC_MS(500));
    assert_int_equal(5, v);
    assert_int_equal(0x1, conc_flags_get(&f));
    assert_int_equal(0, queued(&f));
}

static void flags_wait_times_out_not_early_and_clears_nothing(void **state)
{
    conc_flags_t f = CONC_FLAGS_INIT;
    int64_t start_ns;
    uint32_t v = 5;

    conc_flags_set(&f, 0x1);
    start_ns = conc_now_ns();
    assert_rc(CONC_ETIMEDOUT, conc_flags_wait(&f, 0x3, ALL | CLEAR, &v, SHORT));
    assert_true(conc_now_ns() - start_ns >= SHORT);
    assert_int_equal(5, v);
    assert_int_equal(0x1, conc_flags_get(&f));
    assert_int_equal(0, queued(&f));
    /* The waiter flag it left behind does not disturb the value. */
    assert_int_equal(0x3, conc_flags_set(&f, 0x2));
    assert_int_equal(0x3, conc_flags_clear(&f, 0x1));
    assert_int_equal(0x2, conc_flags_get(&f));
}

static void flags_two_clearing_waiters_never_consume_the_same_bits(void **state)
{
    conc_flags_t f = CONC_FLAGS_INIT;
    _Atomic int order = 0;
    struct waiter a, b;

    start(&a, &f, 0x1, ANY | CLEAR, &order);
    wait_until_queued(&f, 1);
    start(&b, &f, 0x1, ANY | CLEAR, &order);
    wait_until_queued(&f, 2);
    assert_int_equal(0, conc_flags_set(&f, 0x1)); /* taken by a at once */
    join(&a);
    assert_rc(0, a.rc);
    assert_int_equal(1, queued(&f)); /* b still waits */
    assert_int_equal(0, conc_flags_set(&f, 0x1));
    join(&b);
    assert_rc(0, b.rc);
    assert_int_equal(0x1, a.value);
    assert_int_equal(0x1, b.value);
}

static void flags_one_set_releases_satisfied_waiters_in_fifo_order(void **state)
{
    conc_flags_t f = CONC_FLAGS_INIT;
    _Atomic int order = 0;
    struct waiter w[4];

    start(&w[0], &f, 0x1, ANY, &order); /* sees 0x3, takes nothing */
    wait_until_queued(&f, 1);
    start(&w[1], &f, 0x3, ALL | CLEAR, &order); /* sees 0x3, takes both */
    wait_until_queued(&f, 2);
    start(&w[2], &f, 0x2, ANY, &order); /* finds bit 1 consumed */
    wait_until_queued(&f, 3);
    start(&w[3], &f, 0x4, ANY, &order); /* not concerned */
    wait_until_queued(&f, 4);
    assert_int_equal(0, conc_flags_set(&f, 0x3));
    join(&w[0]);
    join(&w[1]);
    assert_int_equal(2, queued(&f));
    assert_int_equal(0x3, w[0].value);
    assert_int_equal(0x3, w[1].value);
    assert_int_equal(0x6, conc_flags_set(&f, 0x6));
    join(&w[2]);
    join(&w[3]);
    for (int i = 0; i < 4; i++)
        assert_rc(0, w[i].rc);
    assert_int_equal(0x6, w[2].value);
    assert_int_equal(0x6, w[3].value);
}

static void flags_destroy_with_waiters_is_ebusy_and_changes_nothing(void **state)
{
    conc_flags_t f;
    _Atomic int order = 0;
    struct waiter w;

    assert_rc(0, conc_flags_init(&f));
    conc_flags_set(&f, 0x10);
    start(&w, &f, 0x1, ANY, &order);
    wait_until_queued(&f, 1);
    assert_rc(CONC_EBUSY, conc_flags_destroy(&f));
    assert_int_equal(0x10, conc_flags_get(&f));
    assert_int_equal(1, queued(&f));
    conc_flags_set(&f, 0x1);
    join(&w);
    assert_rc(0, w.rc);
    assert_rc(0, conc_flags_destroy(&f));
}

static void flags_calls_on_null_or_destroyed_flags_return_einval(void **state)
{
    conc_flags_t f;

    assert_rc(CONC_EINVAL, conc_flags_init(NULL));
    assert_rc(CONC_EINVAL, conc_flags_destroy(NULL));
    assert_rc(CONC_EINVAL, conc_flags_set(NULL, 1));
    assert_rc(CONC_EINVAL, conc_flags_clear(NULL, 1));
    assert_rc(CONC_EINVAL, conc_flags_get(NULL));
    assert_rc(CONC_EINVAL, conc_flags_wait(NULL, 1, ANY, NULL, CONC_NOWAIT));

    assert_rc(0, conc_flags_init(&f));
    assert_rc(0, conc_flags_destroy(&f));
    assert_rc(CONC_EINVAL, conc_flags_destroy(&f));
    assert_rc(CONC_EINVAL, conc_flags_set(&f, 1));
    assert_rc(CONC_EINVAL, conc_flags_clear(&f, 1));
    assert_rc(CONC_EINVAL, conc_flags_get(&f));
    assert_rc(CONC_EINVAL, conc_flags_wait(&f, 1, ANY, NULL, CONC_NOWAIT));
    assert_rc(CONC_EINVAL, conc_flags_wait(&f, 1, ALL | CLEAR, NULL, SHORT));
    assert_rc(0, conc_flags_init(&f)); /* usable again */
    assert_int_equal(1, conc_flags_set(&f, 1));
    assert_rc(0, conc_flags_destroy(&f));
}

/* ---- contention: each occurrence of a bit is consumed exactly once ------- */

enum { BITS = 3, CONSUMERS = 4 };

struct tokens {
    conc_flags_t f;
    long per_bit;
    _Atomic long consumed[BITS];
    _Atomic long produced;
};

struct consumer {
    struct tokens *t;
    unsigned seed;
};

static void *consume(void *arg)
{
    struct consumer *c = arg;
    struct tokens *t = c->t;
    long total = t->per_bit * BITS;

    for (;;) {
        long sum = 0;
        uint32_t v = 0;
        int64_t timeout = CONC_US(rand_r(&c->seed) % 50);
        int rc = conc_flags_wait(&t->f, (1u << BITS) - 1, ANY | CLEAR, &v, timeout);

        if (rc == 0) {
            for (int b = 0; b < BITS; b++)
                if (v & (1u << b))
                    atomic_fetch_add(&t->consumed[b], 1);
        } else {
            assert_true(rc == CONC_ETIMEDOUT || rc == CONC_EAGAIN); /* 0 us is NOWAIT */
        }
        for (int b = 0; b < BITS; b++)
            sum += atomic_load(&t->consumed[b]);
        if (sum >= total)
            return NULL;
    }
}

static void flags_clearing_waiters_under_contention_consume_each_set_exactly_once(void **state)
{
    struct tokens t = { .f = CONC_FLAGS_INIT, .per_bit = 5000 * test_stress_scale() };
    struct consumer c[CONSUMERS];
    conc__os_thread_t th[CONSUMERS];

    for (int i = 0; i < CONSUMERS; i++) {
        c[i] = (struct consumer){ &t, (unsigned)i + 1 };
        assert_rc(0, conc__os_thread_start(&th[i], consume, &c[i], 0, false));
    }
    /* A bit is set only once a consumer took the previous occurrence, so
     * each set() adds exactly one token; the consumers must see each once. */
    for (long i = 0; i < t.per_bit; i++) {
        for (int b = 0; b < BITS; b++) {
            while (conc_flags_get(&t.f) & (1u << b))
                conc__os_thread_yield();
            assert_true(conc_flags_set(&t.f, 1u << b) >= 0);
        }
    }
    for (int i = 0; i < CONSUMERS; i++)
        assert_rc(0, conc__os_thread_join(th[i], NULL));
    for (int b = 0; b < BITS; b++)
        assert_int_equal(t.per_bit, atomic_load(&t.consumed[b]));
    assert_int_equal(0, conc_flags_get(&t.f));
}

/* A cancelled task's wait clears no bits and leaves no waiter behind. */
static void flags_wait_in_a_cancelled_task_returns_ecanceled_and_clears_nothing(void **state)
{
    struct test_task task = { 0 };
    conc_flags_t f;
    uint32_t value = 0;
    int rc;

    assert_rc(0, conc_flags_init(&f));
    assert_int_equal(0x1, conc_flags_set(&f, 0x1));
    atomic_store(&task.cancelled, true);
    test_task_enter(&task);
    rc = conc_flags_wait(&f, 0x3, CONC_FLAGS_ALL | CONC_FLAGS_CLEAR, &value, CONC_FOREVER);
    test_task_leave(&task);
    assert_rc(CONC_ECANCELED, rc);
    assert_int_equal(0x1, conc_flags_get(&f));
    assert_rc(0, conc_flags_destroy(&f)); /* no waiter was left queued */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(flags_wait_in_a_cancelled_task_returns_ecanceled_and_clears_nothing),
        cmocka_unit_test(flags_start_with_every_bit_clear),
        cmocka_unit_test(flags_set_returns_the_new_value),
        cmocka_unit_test(flags_clear_returns_the_previous_value),
        cmocka_unit_test(flags_mask_empty_or_using_bit_31_is_einval_and_changes_nothing),
        cmocka_unit_test(flags_wait_with_bad_options_is_einval),
        cmocka_unit_test(flags_wait_any_returns_when_one_bit_of_the_mask_is_set),
        cmocka_unit_test(flags_wait_all_waits_for_every_bit_of_the_mask),
        cmocka_unit_test(flags_wait_clear_consumes_only_the_matched_bits),
        cmocka_unit_test(flags_waiter_released_by_set_reports_the_value_and_consumes_its_bits),
        cmocka_unit_test(flags_wait_nowait_when_not_met_is_eagain_and_never_blocks),
        cmocka_unit_test(flags_wait_times_out_not_early_and_clears_nothing),
        cmocka_unit_test(flags_two_clearing_waiters_never_consume_the_same_bits),
        cmocka_unit_test(flags_one_set_releases_satisfied_waiters_in_fifo_order),
        cmocka_unit_test(flags_destroy_with_waiters_is_ebusy_and_changes_nothing),
        cmocka_unit_test(flags_calls_on_null_or_destroyed_flags_return_einval),
        cmocka_unit_test(flags_clearing_waiters_under_contention_consume_each_set_exactly_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
