/*
 * Semaphores under contention: exact counts, no lost or invented permit,
 * when hand-offs race timeouts. Sizes scale with test_stress_scale().
 */
#include <stdlib.h>

#include "conc/sem.h"

#include "os/os.h"

#include "helpers.h"

static int64_t random_timeout(unsigned *seed)
{
    unsigned r = (unsigned)rand_r(seed) % 8;

    if (r == 0)
        return CONC_NOWAIT;
    return CONC_US(rand_r(seed) % 50); /* 0 .. 49 us: races the hand-off */
}

/* ---- ping-pong ------------------------------------------------------------ */

struct pingpong {
    conc_sem_t ping, pong;
    long rounds;
    long counter; /* plain: the semaphores alone order the accesses */
    bool timed;   /* acquire with short timeouts, retrying */
};

static void acquire(conc_sem_t *s, bool timed)
{
    if (!timed) {
        assert_rc(0, conc_sem_acquire(s, CONC_FOREVER));
        return;
    }
    for (;;) {
        int rc = conc_sem_acquire(s, CONC_US(20));
        if (rc == 0)
            return;
        assert_rc(CONC_ETIMEDOUT, rc);
    }
}

static void *ponger(void *arg)
{
    struct pingpong *p = arg;

    for (long i = 0; i < p->rounds; i++) {
        acquire(&p->ping, p->timed);
        p->counter++;
        assert_rc(0, conc_sem_release(&p->pong, 1));
    }
    return NULL;
}

static void ping_pong(bool timed)
{
    struct pingpong p = { .rounds = 20000 * test_stress_scale(), .timed = timed };
    conc__os_thread_t t;

    assert_rc(0, conc_sem_init(&p.ping, 0));
    assert_rc(0, conc_sem_init(&p.pong, 0));
    assert_rc(0, conc__os_thread_start(&t, ponger, &p, 0, false));
    for (long i = 0; i < p.rounds; i++) {
        assert_rc(0, conc_sem_release(&p.ping, 1));
        acquire(&p.pong, timed);
        assert_int_equal(i + 1, p.counter);
    }
    assert_rc(0, conc__os_thread_join(t, NULL));
    assert_int_equal(0, conc_sem_value(&p.ping));
    assert_int_equal(0, conc_sem_value(&p.pong));
    assert_rc(0, conc_sem_destroy(&p.ping));
    assert_rc(0, conc_sem_destroy(&p.pong));
}

static void sem_ping_pong_between_two_threads_keeps_exact_counts(void **state)
{
    ping_pong(false);
}

static void sem_ping_pong_with_timed_acquires_keeps_exact_counts(void **state)
{
    ping_pong(true);
}

/* ---- producers and consumers with random timeouts ------------------------ */

enum { PRODUCERS = 3, CONSUMERS = 4 };

struct market {
    conc_sem_t s;
    long per_producer;
    long total;
    _Atomic long taken;
    _Atomic long timeouts;
};

struct role {
    struct market *m;
    unsigned seed;
};

static void *producer(void *arg)
{
    struct role *r = arg;
    long left = r->m->per_producer;

    while (left > 0) {
        int n = 1 + rand_r(&r->seed) % 3;
        if (n > left)
            n = (int)left;
        assert_rc(0, conc_sem_release(&r->m->s, n));
        left -= n;
        /* Pauses let consumers queue, so hand-offs race their timeouts. */
        if (rand_r(&r->seed) % 16 == 0)
            conc_sleep(CONC_US(rand_r(&r->seed) % 40));
    }
    return NULL;
}

static void *consumer(void *arg)
{
    struct role *r = arg;
    struct market *m = r->m;

    for (;;) {
        int rc = conc_sem_acquire(&m->s, random_timeout(&r->seed));
        if (rc == 0) {
            if (atomic_fetch_add(&m->taken, 1) + 1 >= m->total)
                return NULL;
            continue;
        }
        assert_true(rc == CONC_ETIMEDOUT || rc == CONC_EAGAIN);
        atomic_fetch_add(&m->timeouts, 1);
        if (atomic_load(&m->taken) >= m->total)
            return NULL;
    }
}

static void *market_thread(void *arg)
{
    struct role *r = arg;

    return r->seed % 2 ? producer(arg) : consumer(arg);
}

static void sem_producers_and_consumers_with_random_timeouts_conserve_permits(void **state)
{
    struct market m = { .per_producer = 30000 * test_stress_scale() };
    struct role roles[PRODUCERS + CONSUMERS];

    m.total = m.per_producer * PRODUCERS;
    assert_rc(0, conc_sem_init(&m.s, 0));
    /* Odd seeds produce, even seeds consume. */
    for (int i = 0; i < PRODUCERS + CONSUMERS; i++)
        roles[i] = (struct role){ &m, i < PRODUCERS ? 2u * (unsigned)i + 1 : 2u * (unsigned)i };
    test_run_threads(PRODUCERS + CONSUMERS, market_thread, roles, sizeof roles[0]);
    /* Every permit released was taken exactly once: none lost, none invented. */
    assert_int_equal(m.total, atomic_load(&m.taken));
    assert_int_equal(0, conc_sem_value(&m.s));
    assert_rc(0, conc_sem_destroy(&m.s));
    print_message("  %ld permits, %ld timeouts\n", m.total, atomic_load(&m.timeouts));
}

/* ---- a bounded pool of resources ----------------------------------------- */

enum { POOL = 3, USERS = 6 };

struct pool {
    conc_sem_t s;
    long rounds;
    _Atomic int in_use;
    _Atomic long uses;
};

struct user {
    struct pool *p;
    unsigned seed;
};

static void *pool_user(void *arg)
{
    struct user *u = arg;
    struct pool *p = u->p;

    for (long i = 0; i < p->rounds; i++) {
        int rc = conc_sem_acquire(&p->s, random_timeout(&u->seed));
        if (rc != 0) {
            assert_true(rc == CONC_ETIMEDOUT || rc == CONC_EAGAIN);
            continue;
        }
        assert_true(atomic_fetch_add(&p->in_use, 1) < POOL);
        atomic_fetch_add(&p->uses, 1);
        atomic_fetch_sub(&p->in_use, 1);
        /* Never EOVERFLOW: a duplicated permit would show up here. */
        assert_rc(0, conc_sem_release(&p->s, 1));
    }
    return NULL;
}

static void bounded_sem_pool_with_random_timeouts_never_exceeds_its_limit(void **state)
{
    struct pool p = { .rounds = 20000 * test_stress_scale() };
    struct user users[USERS];

    assert_rc(0, conc_sem_init_bounded(&p.s, POOL));
    for (int i = 0; i < USERS; i++)
        users[i] = (struct user){ &p, (unsigned)i + 100 };
    test_run_threads(USERS, pool_user, users, sizeof users[0]);
    assert_int_equal(POOL, conc_sem_value(&p.s));
    assert_true(atomic_load(&p.uses) > 0);
    assert_rc(CONC_EOVERFLOW, conc_sem_release(&p.s, 1));
    assert_rc(0, conc_sem_destroy(&p.s));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sem_ping_pong_between_two_threads_keeps_exact_counts),
        cmocka_unit_test(sem_ping_pong_with_timed_acquires_keeps_exact_counts),
        cmocka_unit_test(sem_producers_and_consumers_with_random_timeouts_conserve_permits),
        cmocka_unit_test(bounded_sem_pool_with_random_timeouts_never_exceeds_its_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
