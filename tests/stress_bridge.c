/*
 * Tasks and threads under load on the same primitives: a storm of
 * cancellations on tasks blocked in queue put and get (a cancelled put never
 * enqueues, a cancelled get never takes, every item arrives exactly once),
 * and two loops plus plain threads sharing queues, a mutex and a semaphore
 * with exact checksums. Sized by test_stress_scale(); a few seconds at 1.
 *
 * Checks inside tasks and threads are soft (counted, printed), so that a
 * failure never longjmps out of a coroutine or another thread.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"

static int reset_failures(void **state)
{
    (void)state;
    test_soft_reset();
    return 0;
}

static uint32_t xorshift(uint32_t *s)
{
    uint32_t x = *s;

    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *s = x;
}

/* ---- (a) a cancellation storm on a small queue -------------------------- */

enum { STORM_PRODUCER_TASKS = 8, STORM_CONSUMER_TASKS = 8, STORM_PRODUCER_THREADS = 2 };

struct storm {
    conc_queue_t q;
    long n;                      /* items 1..n */
    _Atomic long next;           /* the last item claimed by a producer */
    _Atomic unsigned char *seen; /* times each item was got */
    void *seen_mem;
    _Atomic long got, cancelled_puts, cancelled_gets, cancels;
    long undelivered; /* requests still pending when the victims finished */
    _Atomic long long sum;
    _Atomic int stop;
    conc_task_t *victims[STORM_PRODUCER_TASKS + STORM_CONSUMER_TASKS];
};

/* Put every item claimed; a cancelled put did not enqueue: put it again. */
static void produce(struct storm *s, bool in_task)
{
    for (;;) {
        long id = atomic_fetch_add(&s->next, 1) + 1;

        if (id > s->n)
            return;
        int rc;
        while ((rc = conc_queue_put(&s->q, &id, CONC_FOREVER)) == CONC_ECANCELED) {
            CKT(in_task);
            atomic_fetch_add_explicit(&s->cancelled_puts, 1, memory_order_relaxed);
        }
        CK(0, rc);
    }
}

static int producer_task(void *arg, void **result)
{
    (void)result;
    produce(arg, true);
    return 0;
}

static void *producer_thread(void *arg)
{
    produce(arg, false);
    return NULL;
}

/* Get until the sentinel 0; a cancelled get took nothing: get again. */
static int consumer_task(void *arg, void **result)
{
    struct storm *s = arg;

    (void)result;
    for (;;) {
        long id = -1;
        int rc = conc_queue_get(&s->q, &id, CONC_FOREVER);

        if (rc == CONC_ECANCELED) {
            CK(-1, id);
            atomic_fetch_add_explicit(&s->cancelled_gets, 1, memory_order_relaxed);
            continue;
        }
        CK(0, rc);
        if (rc != 0 || id == 0)
            return 0;
        if (id < 1 || id > s->n) {
            CKT(id >= 1 && id <= s->n);
            continue;
        }
        atomic_fetch_add_explicit(&s->seen[id], 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&s->got, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&s->sum, id, memory_order_relaxed);
    }
}

/* Cancel random producers and consumers, only while they are blocked (in
 * put or get: the only calls that block them). */
static int canceller_task(void *arg, void **result)
{
    struct storm *s = arg;
    uint32_t seed = 0x9e3779b9u;
    const uint32_t nv = STORM_PRODUCER_TASKS + STORM_CONSUMER_TASKS;

    (void)result;
    for (unsigned i = 1; !atomic_load(&s->stop); i++) {
        conc_task_t *t = s->victims[xorshift(&seed) % nv];

        if (conc_task_state(t) == CONC_TASK_BLOCKED) {
            CK(0, conc_task_cancel(t));
            atomic_fetch_add_explicit(&s->cancels, 1, memory_order_relaxed);
        }
        CK(0, i % 16 ? conc_task_yield() : conc_task_sleep(CONC_US(20)));
    }
    return 0;
}

static int storm_main(void *arg, void **result)
{
    struct storm *s = arg;
    conc_loop_t *loop = conc_loop_current();
    conc_thread_t th[STORM_PRODUCER_THREADS];
    conc_task_t *canceller;

    (void)result;
    for (int i = 0; i < STORM_PRODUCER_TASKS; i++)
        CK(0, conc_task_spawn(loop, NULL, producer_task, s, &s->victims[i]));
    for (int i = 0; i < STORM_CONSUMER_TASKS; i++)
        CK(0, conc_task_spawn(loop, NULL, consumer_task, s, &s->victims[STORM_PRODUCER_TASKS + i]));
    CK(0, conc_task_spawn(loop, NULL, canceller_task, s, &canceller));
    for (int i = 0; i < STORM_PRODUCER_THREADS; i++)
        CK(0, conc_thread_create(&th[i], NULL, producer_thread, s));

    CK(0, conc_gather(s->victims, STORM_PRODUCER_TASKS, NULL, NULL, 0));
    for (int i = 0; i < STORM_PRODUCER_THREADS; i++)
        CK(0, conc_thread_join(&th[i], NULL, CONC_FOREVER));
    atomic_store(&s->stop, 1);
    CK(0, conc_task_join(canceller, NULL, CONC_FOREVER));
    for (int i = 0; i < STORM_CONSUMER_TASKS; i++) {
        long zero = 0;
        CK(0, conc_queue_put(&s->q, &zero, CONC_FOREVER));
    }
    CK(0, conc_gather(s->victims, STORM_PRODUCER_TASKS + STORM_CONSUMER_TASKS, NULL, NULL, 0));
    for (int i = 0; i < STORM_PRODUCER_TASKS + STORM_CONSUMER_TASKS; i++) {
        s->undelivered += conc_task_cancelling(s->victims[i]);
        CK(0, conc_task_join(s->victims[i], NULL, CONC_FOREVER));
    }
    return 0;
}

static void cancelled_puts_and_gets_never_lose_or_duplicate_an_item(void **state)
{
    static struct storm s;
    long per_scale = UNDER_TSAN ? 200000 : UNDER_SANITIZER ? 500000 : 2000000;

    (void)state;
    memset(&s, 0, sizeof s);
    s.n = per_scale * test_stress_scale();
    s.seen = s.seen_mem = calloc((size_t)s.n + 1, sizeof s.seen[0]);
    assert_non_null(s.seen_mem);
    assert_rc(0, conc_queue_init(&s.q, sizeof(long), 4, NULL));

    int64_t t0 = conc_now_ns();
    assert_rc(0, conc_run(storm_main, &s, NULL));
    double secs = (double)(conc_now_ns() - t0) / 1e9;

    printf("storm: %ld items in %.2f s, %ld cancels: %ld puts and %ld gets cancelled, %ld still "
           "pending at the end\n",
           s.n, secs, atomic_load(&s.cancels), atomic_load(&s.cancelled_puts),
           atomic_load(&s.cancelled_gets), s.undelivered);
    assert_int_equal(0, test_soft_failures());
    long missing = 0, duplicated = 0;
    for (long i = 1; i <= s.n; i++) {
        missing += s.seen[i] == 0;
        duplicated += s.seen[i] > 1;
    }
    assert_int_equal(0, missing);
    assert_int_equal(0, duplicated);
    assert_int_equal(s.n, atomic_load(&s.got));
    assert_true(atomic_load(&s.sum) == (long long)s.n * (s.n + 1) / 2);
    /* The storm did happen: cancelled calls were retried. */
    assert_true(atomic_load(&s.cancelled_puts) + atomic_load(&s.cancelled_gets) > 0);
    /* Once per request: every request became one CONC_ECANCELED, or is
     * still pending (made while a wake was already on its way, it waits for
     * the next block, which never came). */
    long delivered = atomic_load(&s.cancelled_puts) + atomic_load(&s.cancelled_gets);
    if (atomic_load(&s.cancels) != delivered + s.undelivered)
        print_error("cancel requests lost: %ld made, %ld returned CONC_ECANCELED, %ld pending\n",
                    atomic_load(&s.cancels), delivered, s.undelivered);
    assert_int_equal(atomic_load(&s.cancels), delivered + s.undelivered);
    assert_int_equal(0, (long)conc_queue_qsize(&s.q));
    assert_rc(0, conc_queue_destroy(&s.q));
    free(s.seen_mem);
}

/* ---- (b) two loops and four threads on shared queues, mutex, semaphore --- */

enum { MIX_LOOPS = 2, MIX_THREADS = 4, MIX_QUEUES = 2, MIX_PERMITS = 3 };

struct mix {
    conc_queue_t q[MIX_QUEUES];
    conc_mutex_t m;
    conc_sem_t sem;
    int tasks_per_loop;
    long rounds;
    long workers;
    _Atomic unsigned char *seen; /* by value */
    void *seen_mem;
    long long sum; /* under m */
    long count;    /* under m */
    _Atomic int inside, max_inside;
    _Atomic long timeouts;
};

static struct mix M;

/* Worker w, round r puts the value w * rounds + r + 1 (unique). Each worker
 * puts then gets on its own queue, so a queue never fills with nobody left
 * to get from it. */
static void mix_work(long w, bool in_task)
{
    conc_queue_t *q = &M.q[w % MIX_QUEUES];
    uint32_t seed = (uint32_t)(w * 2654435761u) | 1u;

    for (long r = 0; r < M.rounds; r++) {
        long v = w * M.rounds + r + 1, got = -1;
        int rc;

        /* Short timeouts race the hand-offs: a timed-out put did not
         * enqueue (a duplicate would show), a timed-out get took nothing. */
        while ((rc = conc_queue_put(q, &v, xorshift(&seed) % 4 ? CONC_FOREVER : CONC_US(50))) ==
               CONC_ETIMEDOUT)
            atomic_fetch_add_explicit(&M.timeouts, 1, memory_order_relaxed);
        CK(0, rc);
        /* Let the other tasks of the loop put too: the queue fills, putters
         * block (and time out), then getters find it full or empty. */
        if (in_task && r % 2)
            CK(0, conc_task_yield());
        while ((rc = conc_queue_get(q, &got, xorshift(&seed) % 4 ? CONC_FOREVER : CONC_US(50))) ==
               CONC_ETIMEDOUT) {
            CK(-1, got);
            atomic_fetch_add_explicit(&M.timeouts, 1, memory_order_relaxed);
        }
        CK(0, rc);
        if (got < 1 || got > M.workers * M.rounds) {
            CKT(got >= 1 && got <= M.workers * M.rounds);
            continue;
        }
        atomic_fetch_add_explicit(&M.seen[got], 1, memory_order_relaxed);

        CK(0, conc_mutex_lock(&M.m));
        M.sum += got;
        M.count++;
        if (in_task && r % 64 == 0)
            CK(0, conc_task_yield()); /* suspended while holding it */
        CK(0, conc_mutex_unlock(&M.m));

        CK(0, conc_sem_acquire(&M.sem, CONC_FOREVER));
        int now = atomic_fetch_add(&M.inside, 1) + 1;
        int max = atomic_load(&M.max_inside);
        while (now > max && !atomic_compare_exchange_weak(&M.max_inside, &max, now))
            ;
        if (in_task && r % 8 == 0)
            CK(0, conc_task_yield());
        atomic_fetch_sub(&M.inside, 1);
        CK(0, conc_sem_release(&M.sem, 1));
    }
}

static int mix_task(void *arg, void **result)
{
    (void)result;
    mix_work((long)(intptr_t)arg, true);
    return 0;
}

static int mix_loop_main(void *arg, void **result)
{
    long first = (long)(intptr_t)arg;
    int n = M.tasks_per_loop;
    conc_task_t **t = calloc((size_t)n, sizeof *t);

    (void)result;
    if (!t) {
        CKT(t != NULL);
        return CONC_ENOMEM;
    }
    for (int i = 0; i < n; i++)
        CK(0, conc_task_spawn(conc_loop_current(), NULL, mix_task, (void *)(intptr_t)(first + i),
                              &t[i]));
    CK(0, conc_gather(t, (size_t)n, NULL, NULL, 0));
    for (int i = 0; i < n; i++)
        CK(0, conc_task_join(t[i], NULL, CONC_FOREVER));
    free(t);
    return 0;
}

static void *mix_loop_thread(void *arg)
{
    CK(0, conc_run(mix_loop_main, arg, NULL));
    return NULL;
}

static void *mix_thread(void *arg)
{
    mix_work((long)(intptr_t)arg, false);
    return NULL;
}

static void loops_and_threads_share_queues_mutex_and_semaphore_exactly(void **state)
{
    conc_thread_t th[MIX_LOOPS + MIX_THREADS];

    (void)state;
    memset(&M, 0, sizeof M);
    M.tasks_per_loop = UNDER_TSAN ? 50 : 200;
    M.rounds = (UNDER_TSAN ? 300 : UNDER_SANITIZER ? 1000 : 4000) * test_stress_scale();
    M.workers = MIX_LOOPS * M.tasks_per_loop + MIX_THREADS;
    M.seen = M.seen_mem = calloc((size_t)(M.workers * M.rounds) + 1, sizeof M.seen[0]);
    assert_non_null(M.seen_mem);
    for (int i = 0; i < MIX_QUEUES; i++)
        assert_rc(0, conc_queue_init(&M.q[i], sizeof(long), 8, NULL));
    assert_rc(0, conc_mutex_init(&M.m));
    assert_rc(0, conc_sem_init(&M.sem, MIX_PERMITS));

    int64_t t0 = conc_now_ns();
    for (int i = 0; i < MIX_LOOPS; i++)
        assert_rc(0, conc_thread_create(&th[i], NULL, mix_loop_thread,
                                        (void *)(intptr_t)(i * M.tasks_per_loop)));
    for (int i = 0; i < MIX_THREADS; i++)
        assert_rc(0, conc_thread_create(&th[MIX_LOOPS + i], NULL, mix_thread,
                                        (void *)(intptr_t)(MIX_LOOPS * M.tasks_per_loop + i)));
    for (int i = 0; i < MIX_LOOPS + MIX_THREADS; i++)
        assert_rc(0, conc_thread_join(&th[i], NULL, CONC_FOREVER));
    double secs = (double)(conc_now_ns() - t0) / 1e9;

    long total = M.workers * M.rounds;
    printf("mix: %ld workers, %ld items in %.2f s, %ld put/get timeouts, max %d inside\n",
           M.workers, total, secs, atomic_load(&M.timeouts), atomic_load(&M.max_inside));
    assert_int_equal(0, test_soft_failures());
    long missing = 0, duplicated = 0;
    for (long i = 1; i <= total; i++) {
        missing += M.seen[i] == 0;
        duplicated += M.seen[i] > 1;
    }
    assert_int_equal(0, missing);
    assert_int_equal(0, duplicated);
    assert_int_equal(total, M.count);
    assert_true(M.sum == (long long)total * (total + 1) / 2);
    assert_true(atomic_load(&M.max_inside) <= MIX_PERMITS);
    assert_int_equal(MIX_PERMITS, conc_sem_value(&M.sem));
    assert_false(conc_mutex_locked(&M.m));
    for (int i = 0; i < MIX_QUEUES; i++) {
        assert_int_equal(0, (long)conc_queue_qsize(&M.q[i]));
        assert_rc(0, conc_queue_destroy(&M.q[i]));
    }
    assert_rc(0, conc_mutex_destroy(&M.m));
    assert_rc(0, conc_sem_destroy(&M.sem));
    free(M.seen_mem);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(cancelled_puts_and_gets_never_lose_or_duplicate_an_item,
                               reset_failures),
        cmocka_unit_test_setup(loops_and_threads_share_queues_mutex_and_semaphore_exactly,
                               reset_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
