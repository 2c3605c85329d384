/*
 * Timer races with exact accounting: cancels and restarts from other threads
 * while callbacks fire, once-calls scheduled and cancelled concurrently, and
 * timers destroyed (and freed) while their periodic callbacks run.
 *
 * The accounting rule: every arming of a one-shot timer leaves the timer
 * structure exactly once, either popped (its callback runs once) or removed
 * by a cancel/restart whose report has the CONC_TIMER_PENDING bit. So
 *     callbacks run == armings - PENDING reports.
 */
#include <stdatomic.h>
#include <stdlib.h>

#include "conc/timer.h"
#include "os/os.h"
#include "helpers.h"

enum { TIMERS = 16, THREADS = 3 };

struct counted {
    conc_timer_t timer;
    _Atomic long runs;
};

static void count_run(conc_timer_t *t, void *arg)
{
    struct counted *c = arg;

    (void)t;
    atomic_fetch_add(&c->runs, 1);
}

struct racer {
    struct counted *timers;
    long rounds;
    unsigned seed;
    long armed;
    long dropped; /* PENDING reports */
};

static void account(struct racer *r, int rc)
{
    assert_true(rc >= 0);
    if (rc & CONC_TIMER_PENDING)
        r->dropped++;
}

static void *restart_and_cancel(void *arg)
{
    struct racer *r = arg;

    for (long i = 0; i < r->rounds; i++) {
        struct counted *c = &r->timers[rand_r(&r->seed) % TIMERS];
        int64_t delay = (int64_t)(rand_r(&r->seed) % 30) * 1000; /* 0..29 us */

        if (rand_r(&r->seed) % 3 == 0) {
            account(r, conc_timer_cancel(&c->timer));
        } else {
            account(r, conc_timer_restart(&c->timer, delay, 0));
            r->armed++;
        }
    }
    return NULL;
}

static void settle(struct counted *timers)
{
    /* After the last cancel nothing is pending; wait out running callbacks. */
    for (int i = 0; i < TIMERS; i++)
        while (conc_timer_state(&timers[i].timer) & CONC_TIMER_RUNNING)
            conc_sleep(CONC_US(100));
}

static void restarts_and_cancels_racing_callbacks_account_exactly(void **state)
{
    static struct counted timers[TIMERS];
    struct racer r[THREADS];
    long armed = 0, dropped = 0, runs = 0;

    for (int i = 0; i < TIMERS; i++) {
        atomic_init(&timers[i].runs, 0);
        assert_rc(0, conc_timer_init(&timers[i].timer, count_run, &timers[i]));
    }
    for (int i = 0; i < THREADS; i++)
        r[i] = (struct racer){ timers, 120000 * test_stress_scale(), (unsigned)i + 1, 0, 0 };
    test_run_threads(THREADS, restart_and_cancel, r, sizeof r[0]);
    for (int i = 0; i < TIMERS; i++)
        if (conc_timer_cancel(&timers[i].timer) & CONC_TIMER_PENDING)
            dropped++;
    settle(timers);
    for (int i = 0; i < THREADS; i++) {
        armed += r[i].armed;
        dropped += r[i].dropped;
    }
    for (int i = 0; i < TIMERS; i++) {
        runs += atomic_load(&timers[i].runs);
        assert_rc(0, conc_timer_destroy(&timers[i].timer));
    }
    assert_int_equal(armed - dropped, runs);
    assert_true(runs > 0);
}

/* ---- once-calls -------------------------------------------------------------- */

struct once_racer {
    _Atomic long *runs;
    long calls;
    unsigned seed;
    long cancelled;
};

static void once_count(void *arg)
{
    atomic_fetch_add((_Atomic long *)arg, 1);
}

static void *schedule_and_cancel_once(void *arg)
{
    struct once_racer *r = arg;
    conc_timer_handle_t h[8] = { CONC_TIMER_HANDLE_INIT };

    for (long i = 0; i < r->calls; i++) {
        conc_timer_handle_t *slot = &h[i % 8];
        int rc = conc_timer_once_cancel(slot);

        assert_true(rc >= 0);
        r->cancelled += rc == CONC_TIMER_PENDING;
        assert_rc(
            0, conc_timer_once((int64_t)(rand_r(&r->seed) % 50) * 1000, once_count, r->runs, slot));
    }
    for (int i = 0; i < 8; i++)
        r->cancelled += conc_timer_once_cancel(&h[i]) == CONC_TIMER_PENDING;
    return NULL;
}

static void once_calls_cancelled_concurrently_run_exactly_when_not_cancelled(void **state)
{
    _Atomic long runs = 0;
    struct once_racer r[THREADS];
    long calls = 0, cancelled = 0;

    for (int i = 0; i < THREADS; i++)
        r[i] = (struct once_racer){ &runs, 90000 * test_stress_scale(), (unsigned)i + 11, 0 };
    test_run_threads(THREADS, schedule_and_cancel_once, r, sizeof r[0]);
    for (int i = 0; i < THREADS; i++) {
        calls += r[i].calls;
        cancelled += r[i].cancelled;
    }
    /* Every call not cancelled runs, at most 50 us after scheduling. */
    int64_t limit = conc_now_ns() + CONC_SEC(10);
    while (atomic_load(&runs) < calls - cancelled && conc_now_ns() < limit)
        conc_sleep(CONC_MS(1));
    conc_sleep(CONC_MS(2));
    assert_int_equal(calls - cancelled, atomic_load(&runs));
}

/* ---- destroy while firing ------------------------------------------------------ */

struct victim {
    conc_timer_t timer;
    _Atomic int inside; /* set while the callback runs */
    long magic;
};

static void check_alive(conc_timer_t *t, void *arg)
{
    struct victim *v = arg;

    (void)t;
    atomic_store(&v->inside, 1);
    assert_int_equal(0x5a5a, v->magic); /* ASan flags a use after free here */
    for (volatile int i = 0; i < 200; i++)
        ;
    atomic_store(&v->inside, 0);
}

static void *destroy_while_firing(void *arg)
{
    long rounds = *(long *)arg;
    unsigned seed = (unsigned)rounds;

    for (long i = 0; i < rounds; i++) {
        struct victim *v = malloc(sizeof *v);

        atomic_init(&v->inside, 0);
        v->magic = 0x5a5a;
        assert_rc(0, conc_timer_init(&v->timer, check_alive, v));
        assert_rc(0, conc_timer_start(&v->timer, 0, CONC_US(5)));
        for (unsigned spin = rand_r(&seed) % 2000; spin; spin--)
            conc__os_cpu_relax();
        assert_rc(0, conc_timer_destroy(&v->timer));
        assert_int_equal(0, atomic_load(&v->inside));
        v->magic = 0;
        free(v);
    }
    return NULL;
}

static void destroy_waits_out_running_callbacks_under_load(void **state)
{
    long rounds[THREADS];

    for (int i = 0; i < THREADS; i++)
        rounds[i] = 8000 * test_stress_scale() + i;
    test_run_threads(THREADS, destroy_while_firing, rounds, sizeof rounds[0]);
}

static int teardown_service(void **state)
{
    return conc_timer_service_shutdown();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(restarts_and_cancels_racing_callbacks_account_exactly),
        cmocka_unit_test(once_calls_cancelled_concurrently_run_exactly_when_not_cancelled),
        cmocka_unit_test(destroy_waits_out_running_callbacks_under_load),
    };
    return cmocka_run_group_tests(tests, NULL, teardown_service);
}
