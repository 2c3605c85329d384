/*
 * Barriers under load: many phases with an action counting generations, and
 * a chaotic run of random timeouts, resets and more threads than parties in
 * which every trip must still add up exactly.
 */
#include <stdlib.h>

#include "conc/barrier.h"

#include "os/os.h"
#include "helpers.h"

/* ---- phases --------------------------------------------------------------- */

enum { THREADS = 6 };

struct phases {
    conc_barrier_t b;
    long rounds;
    long generations;      /* plain: only the action writes it */
    long slot[2][THREADS]; /* plain: each phase's writes are read after the barrier */
    _Atomic long index_sum;
    _Atomic long last_count;
};

struct worker {
    struct phases *ph;
    int id;
};

static int count_generation(void *arg)
{
    struct phases *ph = arg;

    ph->generations++;
    return 0;
}

static void *phase_worker(void *arg)
{
    struct worker *w = arg;
    struct phases *ph = w->ph;

    for (long i = 0; i < ph->rounds; i++) {
        int idx;

        ph->slot[i % 2][w->id] = i;
        idx = conc_barrier_wait(&ph->b, CONC_FOREVER);
        assert_true(idx >= 0 && idx < THREADS);
        atomic_fetch_add(&ph->index_sum, idx);
        if (idx == THREADS - 1)
            atomic_fetch_add(&ph->last_count, 1);
        /* The action of this phase ran before anybody was released, and the
         * next one cannot run before this thread arrives again. */
        assert_int_equal(i + 1, ph->generations);
        for (int t = 0; t < THREADS; t++)
            assert_int_equal(i, ph->slot[i % 2][t]);
    }
    return NULL;
}

static void barrier_phases_with_an_action_count_generations_exactly(void **state)
{
    static struct phases ph;
    struct worker w[THREADS];

    ph = (struct phases){ .rounds = 10000 * test_stress_scale() };
    assert_rc(0, conc_barrier_init(&ph.b, THREADS, count_generation, &ph));
    for (int i = 0; i < THREADS; i++)
        w[i] = (struct worker){ &ph, i };
    test_run_threads(THREADS, phase_worker, w, sizeof w[0]);
    assert_int_equal(ph.rounds, ph.generations);
    assert_int_equal(ph.rounds, atomic_load(&ph.last_count));
    assert_int_equal(ph.rounds * THREADS * (THREADS - 1) / 2, atomic_load(&ph.index_sum));
    assert_false(conc_barrier_broken(&ph.b));
    assert_int_equal(0, conc_barrier_n_waiting(&ph.b));
    assert_rc(0, conc_barrier_destroy(&ph.b));
}

/* ---- chaos: timeouts, resets, more threads than parties ------------------- */

enum { PARTIES = 3, CROWD = 5 };

struct chaos {
    conc_barrier_t b;
    long rounds;
    _Atomic long actions;
    _Atomic long successes;
    _Atomic long lasts;
    _Atomic long failures;
};

struct member {
    struct chaos *c;
    unsigned seed;
};

static int slow_action(void *arg)
{
    struct chaos *c = arg;

    /* Sometimes slow, so that arrivals, timeouts and resets meet it. */
    if (atomic_fetch_add(&c->actions, 1) % 4 == 0)
        conc_sleep(CONC_US(50));
    return 0;
}

static void *chaos_member(void *arg)
{
    struct member *m = arg;
    struct chaos *c = m->c;

    for (long i = 0; i < c->rounds; i++) {
        int64_t timeout = CONC_US(20 + rand_r(&m->seed) % 400);
        int rc = conc_barrier_wait(&c->b, timeout);

        if (rc >= 0) {
            assert_true(rc < PARTIES);
            atomic_fetch_add(&c->successes, 1);
            if (rc == PARTIES - 1)
                atomic_fetch_add(&c->lasts, 1);
            continue;
        }
        assert_true(rc == CONC_EBROKEN || rc == CONC_ETIMEDOUT);
        atomic_fetch_add(&c->failures, 1);
        if (rand_r(&m->seed) % 2)
            assert_rc(0, conc_barrier_reset(&c->b));
    }
    return NULL;
}

static void barrier_random_timeouts_and_resets_keep_trips_and_actions_consistent(void **state)
{
    static struct chaos c;
    struct member m[CROWD];

    c = (struct chaos){ .rounds = 4000 * test_stress_scale() };
    assert_rc(0, conc_barrier_init(&c.b, PARTIES, slow_action, &c));
    for (int i = 0; i < CROWD; i++)
        m[i] = (struct member){ &c, (unsigned)i * 7 + 1 };
    test_run_threads(CROWD, chaos_member, m, sizeof m[0]);
    /* Each trip ran the action once, in the party with the last index, and
     * released exactly PARTIES parties with success; nothing else did. */
    assert_int_equal(atomic_load(&c.actions), atomic_load(&c.lasts));
    assert_int_equal(PARTIES * atomic_load(&c.actions), atomic_load(&c.successes));
    assert_int_equal(CROWD * c.rounds, atomic_load(&c.successes) + atomic_load(&c.failures));
    assert_true(atomic_load(&c.actions) > 0);
    assert_rc(0, conc_barrier_destroy(&c.b));
    print_message("  %ld trips, %ld failed waits\n", atomic_load(&c.actions),
                  atomic_load(&c.failures));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(barrier_phases_with_an_action_count_generations_exactly),
        cmocka_unit_test(barrier_random_timeouts_and_resets_keep_trips_and_actions_consistent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
