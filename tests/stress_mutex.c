/*
 * Long concurrency runs of the plain and recursive mutex: exact counts under
 * heavy contention, hand-offs racing timeouts, and the fairness bound.
 * Sizes scale with test_stress_scale() (CONC_STRESS_SCALE=5 gives the
 * issue's 8 threads x 1M lock/unlock).
 */
#include <stdlib.h>

#include "core/mutex_internal.h"
#include "helpers.h"

struct counter {
    conc_mutex_t m;
    conc_rmutex_t r;
    long value; /* plain on purpose: only the mutex protects it */
    long per_thread;
};

static void *increment(void *arg)
{
    struct counter *c = *(struct counter **)arg;

    for (long i = 0; i < c->per_thread; i++) {
        conc_mutex_lock(&c->m);
        c->value++;
        conc_mutex_unlock(&c->m);
    }
    return NULL;
}

static void mutex_8_threads_increment_a_shared_counter_exactly(void **state)
{
    struct counter c = { .m = CONC_MUTEX_INIT, .per_thread = 200000 * test_stress_scale() };
    struct counter *args[8];

    for (int i = 0; i < 8; i++)
        args[i] = &c;
    test_run_threads(8, increment, args, sizeof args[0]);
    assert_int_equal(8 * c.per_thread, c.value);
    assert_false(conc_mutex_locked(&c.m));
    assert_rc(0, conc_mutex_destroy(&c.m));
}

static void *increment_nested(void *arg)
{
    struct counter *c = *(struct counter **)arg;

    for (long i = 0; i < c->per_thread; i++) {
        conc_rmutex_lock(&c->r);
        conc_rmutex_lock(&c->r);
        c->value++;
        conc_rmutex_unlock(&c->r);
        c->value++;
        conc_rmutex_unlock(&c->r);
    }
    return NULL;
}

static void rmutex_4_threads_nesting_twice_count_exactly(void **state)
{
    struct counter c = { .r = CONC_RMUTEX_INIT, .per_thread = 50000 * test_stress_scale() };
    struct counter *args[4];

    for (int i = 0; i < 4; i++)
        args[i] = &c;
    test_run_threads(4, increment_nested, args, sizeof args[0]);
    assert_int_equal(4 * 2 * c.per_thread, c.value);
    assert_false(conc_rmutex_locked(&c.r));
    assert_rc(0, conc_rmutex_destroy(&c.r));
}

struct timed {
    conc_mutex_t *m;
    long *value;
    long attempts;
    long successes; /* this thread's own count */
    long timeouts;
    int errors; /* any other return code */
    unsigned seed;
};

/* Short random timeouts (0..30 us, sometimes none, sometimes forever) make
 * wakes, hand-offs and deadlines collide as often as possible. */
static void *timed_locker(void *arg)
{
    struct timed *t = arg;

    for (long i = 0; i < t->attempts; i++) {
        unsigned r = (unsigned)rand_r(&t->seed);
        int64_t timeout = r % 8 == 0 ? CONC_FOREVER : (int64_t)(r % 31) * 1000;
        int rc = conc_mutex_timedlock(t->m, timeout);
        if (rc == 0) {
            (*t->value)++;
            t->successes++;
            if (conc_mutex_unlock(t->m) != 0)
                t->errors++;
        } else if (rc == CONC_ETIMEDOUT || rc == CONC_EBUSY) {
            t->timeouts++;
        } else {
            t->errors++;
        }
    }
    return NULL;
}

static void mutex_timed_locks_racing_handoffs_count_exactly(void **state)
{
    conc_mutex_t m = CONC_MUTEX_INIT;
    long value = 0, successes = 0, timeouts = 0;
    struct timed t[4];

    for (int i = 0; i < 4; i++)
        t[i] = (struct timed){ &m, &value, 50000 * test_stress_scale(), 0, 0, 0, (unsigned)i + 1 };
    test_run_threads(4, timed_locker, t, sizeof t[0]);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(0, t[i].errors);
        successes += t[i].successes;
        timeouts += t[i].timeouts;
    }
    /* Every success was a real, exclusive lock; every attempt is accounted. */
    assert_int_equal(successes, value);
    assert_int_equal(4 * t[0].attempts, successes + timeouts);
    assert_false(conc_mutex_locked(&m));
    assert_rc(0, conc_mutex_destroy(&m));
}

/*
 * The fairness bound. Four threads on (typically) two CPUs hammer one lock
 * for 1 s, each holding it for 100 us and asking again at once: the pattern
 * where barging starves a sleeper, because the thread that just unlocked
 * re-locks long before the waiter it woke is running again. A waiter becomes
 * due for a hand-off 1 ms after it first queued, and at most three other
 * waiters are ahead of it, so its wait is about 1 ms plus a few critical
 * sections and wake-ups, plus whatever the OS scheduler adds before each
 * woken thread runs: 2 to 10 ms on a quiet two-core machine, but up to
 * 250 ms measured on the same machine at a load average of 12 (each
 * hand-off then waits for a CPU). The bound asserted is 500 ms: twice that
 * worst case. Without the hand-off (FAIR_NS set to 100 s) a sleeper can
 * lose for most of the run: this test then measured up to 753 ms. (The
 * hand-off itself is proven deterministically by test_mutex.c; this test
 * checks the bound end to end.)
 */
#define FAIRNESS_BOUND CONC_MS(500)

struct fair {
    conc_mutex_t *m;
    long *value;
    int64_t until;
    int64_t max_wait;
    long rounds;
};

static void *hammer(void *arg)
{
    struct fair *f = arg;

    while (conc_now_ns() < f->until) {
        int64_t start = conc_now_ns();
        conc_mutex_lock(f->m);
        int64_t waited = conc_now_ns() - start;
        int64_t busy = conc_now_ns() + CONC_US(100);
        while (conc_now_ns() < busy)
            ;
        for (int i = 0; i < 50; i++)
            (*f->value)++;
        conc_mutex_unlock(f->m);
        if (waited > f->max_wait)
            f->max_wait = waited;
        f->rounds++;
    }
    return NULL;
}

static void mutex_no_waiter_waits_longer_than_the_fairness_bound(void **state)
{
    conc_mutex_t m = CONC_MUTEX_INIT;
    long value = 0, rounds = 0;
    int64_t until = conc_now_ns() + CONC_SEC(1) * test_stress_scale();
    int64_t max_wait = 0;
    struct fair f[4];

    for (int i = 0; i < 4; i++)
        f[i] = (struct fair){ &m, &value, until, 0, 0 };
    test_run_threads(4, hammer, f, sizeof f[0]);
    for (int i = 0; i < 4; i++) {
        rounds += f[i].rounds;
        if (f[i].max_wait > max_wait)
            max_wait = f[i].max_wait;
        assert_true(f[i].rounds > 0);
    }
    print_message("    longest lock() wait %.3f ms over %ld rounds (bound %.0f ms)\n",
                  (double)max_wait / 1e6, rounds, (double)FAIRNESS_BOUND / 1e6);
    assert_int_equal(50 * rounds, value);
    assert_true(max_wait < FAIRNESS_BOUND);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(mutex_8_threads_increment_a_shared_counter_exactly),
        cmocka_unit_test(rmutex_4_threads_nesting_twice_count_exactly),
        cmocka_unit_test(mutex_timed_locks_racing_handoffs_count_exactly),
        cmocka_unit_test(mutex_no_waiter_waits_longer_than_the_fairness_bound),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
