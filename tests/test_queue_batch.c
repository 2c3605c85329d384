/*
 * Queue batches, conc_queue_put_many() and conc_queue_get_many(): every
 * error and partial result, the order of each kind, waiting and timeouts,
 * shutdown, task accounting, tasks blocked in a batch (served or
 * cancelled), and threads racing batches with exact accounting.
 */
#include <stdlib.h>
#include <string.h>

#include "conc/loop.h"
#include "conc/task.h"
#include "conc/thread.h"
#include "core/queue_internal.h"
#include "helpers.h"

static int cmp_u64(const void *a, const void *b, void *arg)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    (void)arg;
    return (x > y) - (x < y);
}

static void init_kind(conc_queue_t *q, size_t cap, conc_queue_kind_t kind)
{
    conc_queue_attr_t attr = CONC_QUEUE_ATTR_INIT;

    attr.kind = kind;
    attr.compare = kind == CONC_QUEUE_PRIORITY ? cmp_u64 : NULL;
    assert_rc(0, conc_queue_init(q, sizeof(uint64_t), cap, &attr));
}

/* How many waiters the queue has in one of its wait queues. */
static int n_waiting(conc_queue_t *q, conc__waitq_t *wq)
{
    return test_waiters(conc__queue_lock(q), wq);
}

static void wait_for_waiters(conc_queue_t *q, conc__waitq_t *wq, int n)
{
    test_wait_for_waiters(conc__queue_lock(q), wq, n);
}

static void fill(uint64_t *v, size_t n, uint64_t first)
{
    for (size_t i = 0; i < n; i++)
        v[i] = first + i;
}

/* ---- bad input ---------------------------------------------------------------- */

static void bad_arguments_are_einval_and_report_nothing_done(void **state)
{
    conc_queue_t q;
    uint64_t items[4] = { 1, 2, 3, 4 }, out[4] = { 0 };
    size_t n = 99;

    (void)state;
    init_kind(&q, 4, CONC_QUEUE_FIFO);
    assert_rc(CONC_EINVAL, conc_queue_put_many(NULL, items, 1, &n, CONC_NOWAIT));
    assert_int_equal(0, n);
    n = 99;
    assert_rc(CONC_EINVAL, conc_queue_put_many(&q, NULL, 1, &n, CONC_NOWAIT));
    assert_int_equal(0, n);
    assert_rc(CONC_EINVAL, conc_queue_put_many(&q, items, 1, NULL, CONC_NOWAIT));
    n = 99;
    assert_rc(CONC_EINVAL, conc_queue_put_many(&q, items, SIZE_MAX / 4, &n, CONC_FOREVER));
    assert_int_equal(0, n);
    assert_int_equal(0, conc_queue_qsize(&q));

    assert_rc(0, conc_queue_put_many(&q, items, 2, &n, CONC_NOWAIT));
    n = 99;
    assert_rc(CONC_EINVAL, conc_queue_get_many(NULL, out, 4, &n, CONC_NOWAIT));
    assert_int_equal(0, n);
    n = 99;
    assert_rc(CONC_EINVAL, conc_queue_get_many(&q, NULL, 4, &n, CONC_NOWAIT));
    assert_int_equal(0, n);
    assert_rc(CONC_EINVAL, conc_queue_get_many(&q, out, 4, NULL, CONC_NOWAIT));
    n = 99;
    assert_rc(CONC_EINVAL, conc_queue_get_many(&q, out, 0, &n, CONC_FOREVER));
    assert_int_equal(0, n);
    assert_rc(CONC_EINVAL, conc_queue_get_many(&q, out, SIZE_MAX / 2, &n, CONC_FOREVER));
    assert_int_equal(0, n);
    assert_int_equal(0, out[0]);
    assert_int_equal(2, conc_queue_qsize(&q)); /* nothing was taken */

    assert_rc(0, conc_queue_destroy(&q));
    assert_rc(CONC_EINVAL, conc_queue_put_many(&q, items, 1, &n, CONC_NOWAIT));
    assert_rc(CONC_EINVAL, conc_queue_get_many(&q, out, 1, &n, CONC_NOWAIT));
}

static void an_empty_batch_puts_nothing_and_succeeds(void **state)
{
    conc_queue_t q;
    uint64_t item = 5;
    size_t n = 99;

    (void)state;
    init_kind(&q, 2, CONC_QUEUE_FIFO);
    assert_rc(0, conc_queue_put_many(&q, &item, 0, &n, CONC_FOREVER));
    assert_int_equal(0, n);
    assert_int_equal(0, conc_queue_qsize(&q));
    assert_rc(CONC_EOVERFLOW, conc_queue_task_done(&q)); /* no task was added */
    assert_rc(0, conc_queue_destroy(&q));
}

/* ---- order ------------------------------------------------------------------------ */

/* FIFO rings of several capacities (powers of two and not) and the locked
 * FIFO of capacity 1: batches of every size, mixed with single calls, keep
 * put order across many wrap-arounds. */
static void fifo_batches_keep_put_order_across_wrap_arounds(void **state)
{
    static const size_t caps[] = { 1, 2, 5, 8, 64 };
    uint64_t buf[80], out[80];

    (void)state;
    for (size_t c = 0; c < sizeof caps / sizeof caps[0]; c++) {
        conc_queue_t q;
        uint64_t next_put = 0, next_get = 0;
        size_t n;

        init_kind(&q, caps[c], CONC_QUEUE_FIFO);
        for (int round = 0; round < 400; round++) {
            size_t want = 1 + (size_t)round % (caps[c] + 3);
            fill(buf, want, next_put);
            int rc = conc_queue_put_many(&q, buf, want, &n, CONC_NOWAIT);
            assert_true(rc == 0 || rc == CONC_EAGAIN);
            assert_true(rc == 0 ? n == want : n < want);
            next_put += n;
            if (round % 3 == 0 && conc_queue_put(&q, &next_put, CONC_NOWAIT) == 0)
                next_put++;
            assert_int_equal(next_put - next_get, conc_queue_qsize(&q));
            size_t max = 1 + (size_t)round % 7;
            if (conc_queue_get_many(&q, out, max, &n, CONC_NOWAIT) == 0) {
                assert_true(n >= 1 && n <= max);
                for (size_t i = 0; i < n; i++)
                    assert_int_equal(next_get + i, out[i]);
                next_get += n;
            } else {
                assert_int_equal(next_get, next_put);
            }
        }
        while (conc_queue_get_many(&q, out, 80, &n, CONC_NOWAIT) == 0) {
            for (size_t i = 0; i < n; i++)
                assert_int_equal(next_get + i, out[i]);
            next_get += n;
        }
        assert_int_equal(next_put, next_get);
        assert_true(next_put >= 400);
        assert_rc(0, conc_queue_destroy(&q));
    }
}

static void lifo_and_priority_batches_come_out_in_their_order(void **state)
{
    static const uint64_t mixed[5] = { 50, 10, 40, 20, 30 };
    conc_queue_t q;
    uint64_t buf[5], out[8];
    size_t n;

    (void)state;
    init_kind(&q, 8, CONC_QUEUE_LIFO);
    fill(buf, 5, 1);
    assert_rc(0, conc_queue_put_many(&q, buf, 5, &n, CONC_NOWAIT));
    assert_int_equal(5, n);
    assert_rc(0, conc_queue_get_many(&q, out, 3, &n, CONC_NOWAIT));
    assert_int_equal(3, n);
    assert_int_equal(5, out[0]);
    assert_int_equal(4, out[1]);
    assert_int_equal(3, out[2]);
    assert_rc(0, conc_queue_get_many(&q, out, 8, &n, CONC_NOWAIT));
    assert_int_equal(2, n);
    assert_int_equal(2, out[0]);
    assert_int_equal(1, out[1]);
    assert_rc(0, conc_queue_destroy(&q));

    init_kind(&q, 8, CONC_QUEUE_PRIORITY);
    assert_rc(0, conc_queue_put_many(&q, mixed, 5, &n, CONC_NOWAIT));
    assert_rc(0, conc_queue_get_many(&q, out, 8, &n, CONC_NOWAIT));
    assert_int_equal(5, n);
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(10 * (i + 1), out[i]);
    assert_rc(0, conc_queue_destroy(&q));
}

/* ---- partial results, timeouts ------------------------------------------------ */

static void nowait_put_many_puts_what_fits_and_keeps_the_rest(void **state)
{
    static const conc_queue_kind_t kinds[] = { CONC_QUEUE_FIFO, CONC_QUEUE_LIFO,
                                               CONC_QUEUE_PRIORITY };
    uint64_t buf[8], out[16];

    (void)state;
    for (size_t k = 0; k < 3; k++) {
        conc_queue_t q;
        size_t n = 99;
        uint64_t sum = 0;

        init_kind(&q, 5, kinds[k]);
        fill(buf, 8, 100);
        assert_rc(CONC_EAGAIN, conc_queue_put_many(&q, buf, 8, &n, CONC_NOWAIT));
        assert_int_equal(5, n); /* buf[0..5) went in, buf[5..8) did not */
        assert_int_equal(5, conc_queue_qsize(&q));
        assert_rc(CONC_EAGAIN, conc_queue_put_many(&q, buf + 5, 3, &n, CONC_NOWAIT));
        assert_int_equal(0, n);
        assert_rc(0, conc_queue_get_many(&q, out, 16, &n, CONC_NOWAIT));
        assert_int_equal(5, n);
        for (size_t i = 0; i < n; i++)
            sum += out[i];
        assert_int_equal(100 + 101 + 102 + 103 + 104, sum);
        if (kinds[k] == CONC_QUEUE_FIFO)
            assert_int_equal(100, out[0]);
        memset(out, 0xA5, sizeof out);
        n = 99;
        assert_rc(CONC_EAGAIN, conc_queue_get_many(&q, out, 16, &n, CONC_NOWAIT));
        assert_int_equal(0, n);
        assert_int_equal(UINT64_C(0xA5A5A5A5A5A5A5A5), out[0]);
        assert_rc(0, conc_queue_destroy(&q));
    }
}

static void timed_batches_time_out_never_early_and_report_progress(void **state)
{
    conc_queue_t q;
    uint64_t buf[6], out[4] = { 0 };
    size_t n = 99;

    (void)state;
    init_kind(&q, 4, CONC_QUEUE_FIFO);
    fill(buf, 6, 1);
    int64_t t0 = conc_now_ns();
    assert_rc(CONC_ETIMEDOUT, conc_queue_put_many(&q, buf, 6, &n, CONC_MS(30)));
    assert_true(conc_now_ns() - t0 >= CONC_MS(30));
    assert_int_equal(4, n);
    assert_rc(0, conc_queue_get_many(&q, out, 4, &n, CONC_MS(30)));
    assert_int_equal(4, n);
    assert_int_equal(4, out[3]);

    n = 99;
    t0 = conc_now_ns();
    assert_rc(CONC_ETIMEDOUT, conc_queue_get_many(&q, out, 4, &n, CONC_MS(30)));
    assert_true(conc_now_ns() - t0 >= CONC_MS(30));
    assert_int_equal(0, n);
    assert_int_equal(4, out[3]);
    assert_rc(0, conc_queue_destroy(&q));
}

/* ---- waiting for the other side ----------------------------------------------- */

struct batch_call {
    conc_queue_t *q;
    uint64_t *items;
    size_t count;
    size_t done;
    int64_t timeout;
    int rc;
};

static void *put_many_thread(void *arg)
{
    struct batch_call *c = arg;

    c->rc = conc_queue_put_many(c->q, c->items, c->count, &c->done, c->timeout);
    return NULL;
}

static void *get_many_thread(void *arg)
{
    struct batch_call *c = arg;

    c->rc = conc_queue_get_many(c->q, c->items, c->count, &c->done, c->timeout);
    return NULL;
}

static void blocked_put_many_completes_as_a_getter_makes_room(void **state)
{
    enum { N = 1000 };
    static uint64_t items[N];
    conc_queue_t q;
    conc__os_thread_t th;

    (void)state;
    for (int cap = 1; cap <= 4; cap += 3) {
        init_kind(&q, (size_t)cap, CONC_QUEUE_FIFO);
        fill(items, N, 1);
        /* any negative timeout waits without limit */
        struct batch_call c = { &q, items, N, 99, -5, 1 };
        assert_rc(0, conc__os_thread_start(&th, put_many_thread, &c, 0, false));
        for (uint64_t i = 1; i <= N; i++) {
            uint64_t v = 0;
            assert_rc(0, conc_queue_get(&q, &v, CONC_SEC(30)));
            assert_int_equal(i, v);
        }
        assert_rc(0, conc__os_thread_join(th, NULL));
        assert_rc(0, c.rc);
        assert_int_equal(N, c.done);
        assert_rc(0, conc_queue_destroy(&q));
    }
}

static void blocked_get_many_wakes_on_a_put_and_takes_what_came(void **state)
{
    conc_queue_t q;
    uint64_t out[16] = { 0 }, buf[10], rest[16];
    conc__os_thread_t th;
    size_t n;

    (void)state;
    init_kind(&q, 16, CONC_QUEUE_FIFO);
    struct batch_call c = { &q, out, 16, 99, CONC_FOREVER, 1 };
    assert_rc(0, conc__os_thread_start(&th, get_many_thread, &c, 0, false));
    wait_for_waiters(&q, &q.getters_, 1);
    fill(buf, 10, 1);
    assert_rc(0, conc_queue_put_many(&q, buf, 10, &n, CONC_NOWAIT));
    assert_int_equal(10, n);
    assert_rc(0, conc__os_thread_join(th, NULL));
    assert_rc(0, c.rc);
    assert_true(c.done >= 1 && c.done <= 10);
    for (size_t i = 0; i < c.done; i++)
        assert_int_equal(i + 1, out[i]);
    size_t left = 10 - c.done;
    if (left > 0) {
        assert_rc(0, conc_queue_get_many(&q, rest, 16, &n, CONC_NOWAIT));
        assert_int_equal(left, n);
        for (size_t i = 0; i < n; i++)
            assert_int_equal(c.done + i + 1, rest[i]);
    }
    assert_true(conc_queue_empty(&q));
    assert_rc(0, conc_queue_destroy(&q));
}

/* ---- shutdown and task accounting ------------------------------------------------ */

static void shutdown_ends_batches_with_eclosed_after_the_items_left(void **state)
{
    conc_queue_t q;
    uint64_t buf[5], out[5];
    conc__os_thread_t th;
    size_t n;

    (void)state;
    init_kind(&q, 8, CONC_QUEUE_FIFO);
    fill(buf, 3, 1);
    assert_rc(0, conc_queue_put_many(&q, buf, 3, &n, CONC_NOWAIT));
    assert_rc(0, conc_queue_shutdown(&q, false));
    n = 99;
    assert_rc(CONC_ECLOSED, conc_queue_put_many(&q, buf, 3, &n, CONC_FOREVER));
    assert_int_equal(0, n);
    assert_rc(0, conc_queue_get_many(&q, out, 2, &n, CONC_FOREVER));
    assert_int_equal(2, n);
    assert_rc(0, conc_queue_get_many(&q, out, 5, &n, CONC_FOREVER));
    assert_int_equal(1, n);
    assert_int_equal(3, out[0]);
    assert_rc(CONC_ECLOSED, conc_queue_get_many(&q, out, 5, &n, CONC_FOREVER));
    assert_int_equal(0, n);
    assert_rc(0, conc_queue_destroy(&q));

    /* A put_many blocked half-way is told how far it got. */
    init_kind(&q, 2, CONC_QUEUE_FIFO);
    fill(buf, 5, 1);
    struct batch_call c = { &q, buf, 5, 99, CONC_FOREVER, 1 };
    assert_rc(0, conc__os_thread_start(&th, put_many_thread, &c, 0, false));
    wait_for_waiters(&q, &q.putters_, 1);
    assert_rc(0, conc_queue_shutdown(&q, false));
    assert_rc(0, conc__os_thread_join(th, NULL));
    assert_rc(CONC_ECLOSED, c.rc);
    assert_int_equal(2, c.done);
    assert_int_equal(2, conc_queue_qsize(&q));

    /* An immediate shutdown discards them; a blocked get_many sees ECLOSED. */
    assert_rc(0, conc_queue_shutdown(&q, true));
    assert_rc(CONC_ECLOSED, conc_queue_get_many(&q, out, 5, &n, CONC_NOWAIT));
    assert_rc(0, conc_queue_destroy(&q));

    init_kind(&q, 4, CONC_QUEUE_LIFO);
    struct batch_call g = { &q, out, 5, 99, CONC_FOREVER, 1 };
    assert_rc(0, conc__os_thread_start(&th, get_many_thread, &g, 0, false));
    wait_for_waiters(&q, &q.getters_, 1);
    assert_rc(0, conc_queue_shutdown(&q, false));
    assert_rc(0, conc__os_thread_join(th, NULL));
    assert_rc(CONC_ECLOSED, g.rc);
    assert_int_equal(0, g.done);
    assert_rc(0, conc_queue_destroy(&q));
}

static void each_item_of_a_batch_is_one_task_for_join(void **state)
{
    conc_queue_t q;
    uint64_t buf[10], out[10];
    size_t n;

    (void)state;
    init_kind(&q, 16, CONC_QUEUE_FIFO);
    fill(buf, 10, 0);
    assert_rc(0, conc_queue_put_many(&q, buf, 10, &n, CONC_NOWAIT));
    assert_rc(0, conc_queue_get_many(&q, out, 10, &n, CONC_NOWAIT));
    assert_int_equal(10, n);
    for (int i = 0; i < 9; i++) {
        assert_rc(0, conc_queue_task_done(&q));
        assert_rc(CONC_EAGAIN, conc_queue_join(&q, CONC_NOWAIT));
    }
    assert_rc(0, conc_queue_task_done(&q));
    assert_rc(0, conc_queue_join(&q, CONC_NOWAIT));
    assert_rc(CONC_EOVERFLOW, conc_queue_task_done(&q));
    assert_rc(0, conc_queue_destroy(&q));
}

/* ---- tasks ---------------------------------------------------------------------- */

static struct {
    conc_queue_t q;
    uint64_t items[16];
    size_t done;
    int rc;
    conc_task_t *victim;
    conc__waitq_t *wq;
} tk;

static int task_get_many(void *arg, void **result)
{
    (void)arg;
    (void)result;
    tk.rc = conc_queue_get_many(&tk.q, tk.items, 16, &tk.done, CONC_FOREVER);
    return 0;
}

static int task_put_many(void *arg, void **result)
{
    (void)arg;
    (void)result;
    tk.rc = conc_queue_put_many(&tk.q, tk.items, 10, &tk.done, CONC_SEC(30));
    return 0;
}

/* Cancels the victim once it sleeps in the queue. */
static int task_canceller(void *arg, void **result)
{
    (void)arg;
    (void)result;
    while (n_waiting(&tk.q, tk.wq) == 0)
        conc_task_yield();
    return conc_task_cancel(tk.victim);
}

static void run_victim(conc_task_fn victim)
{
    conc_loop_t loop;
    conc_task_t *canceller;

    assert_rc(0, conc_loop_init(&loop, NULL));
    assert_rc(0, conc_task_spawn(&loop, NULL, victim, NULL, &tk.victim));
    assert_rc(0, conc_task_spawn(&loop, NULL, task_canceller, NULL, &canceller));
    assert_rc(0, conc_loop_run_until_complete(&loop, canceller, NULL));
    assert_rc(0, conc_loop_run_until_complete(&loop, tk.victim, NULL));
    assert_rc(0, conc_loop_destroy(&loop));
}

static void a_cancelled_task_in_a_batch_gets_ecanceled_and_keeps_its_items(void **state)
{
    uint64_t out[16];
    size_t n;

    (void)state;
    init_kind(&tk.q, 4, CONC_QUEUE_FIFO);
    tk.wq = &tk.q.getters_;
    tk.done = 99;
    run_victim(task_get_many);
    assert_rc(CONC_ECANCELED, tk.rc);
    assert_int_equal(0, tk.done);

    /* put_many: four of ten fit; the cancel leaves exactly those four. */
    fill(tk.items, 10, 1);
    tk.wq = &tk.q.putters_;
    tk.done = 99;
    run_victim(task_put_many);
    assert_rc(CONC_ECANCELED, tk.rc);
    assert_int_equal(4, tk.done);
    assert_rc(0, conc_queue_get_many(&tk.q, out, 16, &n, CONC_NOWAIT));
    assert_int_equal(4, n);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(i + 1, out[i]);
    assert_rc(0, conc_queue_destroy(&tk.q)); /* no waiter left behind */
}

/* A producer thread feeds a consumer task through batches on both sides. */
static struct {
    conc_queue_t q;
    long n;
    uint64_t sum;
    long count;
    bool in_order;
} tt;

static void *tt_producer(void *arg)
{
    uint64_t buf[37];

    (void)arg;
    for (long i = 1; i <= tt.n;) {
        size_t want = 1 + (size_t)i % 37, put;
        if ((long)want > tt.n - i + 1)
            want = (size_t)(tt.n - i + 1);
        fill(buf, want, (uint64_t)i);
        if (conc_queue_put_many(&tt.q, buf, want, &put, CONC_FOREVER) != 0 || put != want)
            return "put_many failed";
        i += (long)want;
    }
    return NULL;
}

static int tt_consumer(void *arg, void **result)
{
    uint64_t out[64];
    uint64_t expect = 1;

    (void)arg;
    (void)result;
    tt.in_order = true;
    while (tt.count < tt.n) {
        size_t n;
        int rc = conc_queue_get_many(&tt.q, out, 1 + (size_t)tt.count % 64, &n, CONC_FOREVER);
        if (rc != 0)
            return rc;
        for (size_t i = 0; i < n; i++) {
            tt.in_order &= out[i] == expect++;
            tt.sum += out[i];
        }
        tt.count += (long)n;
    }
    return 0;
}

static void a_thread_feeds_a_task_in_batches_exactly_and_in_order(void **state)
{
    conc_loop_t loop;
    conc_task_t *consumer;
    conc_thread_t th;
    void *thread_rc = "not joined";

    (void)state;
    tt.n = 200000 * test_stress_scale() / (UNDER_SANITIZER ? 4 : 1);
    tt.sum = 0;
    tt.count = 0;
    init_kind(&tt.q, 64, CONC_QUEUE_FIFO);
    assert_rc(0, conc_loop_init(&loop, NULL));
    assert_rc(0, conc_task_spawn(&loop, NULL, tt_consumer, NULL, &consumer));
    assert_rc(0, conc_thread_create(&th, NULL, tt_producer, NULL));
    assert_rc(0, conc_loop_run_until_complete(&loop, consumer, NULL));
    assert_rc(0, conc_thread_join(&th, &thread_rc, CONC_FOREVER));
    assert_null(thread_rc);
    assert_rc(0, conc_loop_destroy(&loop));
    assert_int_equal(tt.n, tt.count);
    assert_true(tt.in_order);
    assert_int_equal((uint64_t)tt.n * (uint64_t)(tt.n + 1) / 2, tt.sum);
    assert_rc(0, conc_queue_destroy(&tt.q));
}

/* ---- threads racing batches ---------------------------------------------------- */

enum { PRODUCERS = 3, CONSUMERS = 3 };

static struct {
    conc_queue_t q;
    conc_queue_kind_t kind;
    long per_producer;
    _Atomic long producers_left;
    void *seen_mem;
    _Atomic unsigned char *seen; /* one flag per item, in seen_mem */
    _Atomic long got;
    _Atomic bool bad;
} rc_;

struct racer {
    int id;
    unsigned seed;
};

static uint64_t item_of(int producer, long i)
{
    return (uint64_t)producer * (uint64_t)rc_.per_producer + (uint64_t)i;
}

static void *race_producer(struct racer *r)
{
    uint64_t buf[33];

    for (long i = 0; i < rc_.per_producer;) {
        size_t want = 1 + (size_t)(rand_r(&r->seed) % 33), put = 0;
        if ((long)want > rc_.per_producer - i)
            want = (size_t)(rc_.per_producer - i);
        for (size_t k = 0; k < want; k++)
            buf[k] = item_of(r->id, i + (long)k);
        int rc;
        if (want == 1 && rand_r(&r->seed) % 2)
            rc = conc_queue_put(&rc_.q, buf, CONC_FOREVER), put = rc == 0;
        else
            rc = conc_queue_put_many(&rc_.q, buf, want, &put,
                                     rand_r(&r->seed) % 4 ? CONC_FOREVER : CONC_US(50));
        if (rc != 0 && rc != CONC_ETIMEDOUT)
            atomic_store(&rc_.bad, true);
        i += (long)put; /* a timed-out rest is put again */
    }
    if (atomic_fetch_sub(&rc_.producers_left, 1) == 1)
        conc_queue_shutdown(&rc_.q, false);
    return NULL;
}

static void *race_consumer(struct racer *r)
{
    long last[PRODUCERS];
    uint64_t out[40];

    for (int p = 0; p < PRODUCERS; p++)
        last[p] = -1;
    for (;;) {
        size_t max = 1 + (size_t)(rand_r(&r->seed) % 40), n = 0;
        int rc = conc_queue_get_many(&rc_.q, out, max, &n,
                                     rand_r(&r->seed) % 4 ? CONC_FOREVER : CONC_US(50));
        if (rc == CONC_ECLOSED)
            return NULL;
        if (rc == CONC_ETIMEDOUT)
            continue;
        if (rc != 0 || n == 0 || n > max) {
            atomic_store(&rc_.bad, true);
            return NULL;
        }
        for (size_t k = 0; k < n; k++) {
            int p = (int)(out[k] / (uint64_t)rc_.per_producer);
            long i = (long)(out[k] % (uint64_t)rc_.per_producer);
            if (p >= PRODUCERS || atomic_exchange(&rc_.seen[out[k]], 1))
                atomic_store(&rc_.bad, true); /* unknown or duplicated */
            /* FIFO: each consumer sees each producer's items in put order. */
            if (rc_.kind == CONC_QUEUE_FIFO && p < PRODUCERS && i <= last[p])
                atomic_store(&rc_.bad, true);
            if (p < PRODUCERS)
                last[p] = i;
        }
        atomic_fetch_add(&rc_.got, (long)n);
    }
}

static void *race_thread(void *arg)
{
    struct racer *r = arg;

    return r->id < PRODUCERS ? race_producer(r) : race_consumer(r);
}

static void threads_racing_batches_lose_and_duplicate_nothing(void **state)
{
    static const struct {
        conc_queue_kind_t kind;
        size_t cap;
    } cases[] = { { CONC_QUEUE_FIFO, 64 },
                  { CONC_QUEUE_FIFO, 7 },
                  { CONC_QUEUE_LIFO, 16 },
                  { CONC_QUEUE_PRIORITY, 16 } };

    (void)state;
    rc_.per_producer = 60000 * test_stress_scale() / (UNDER_SANITIZER ? 6 : 1);
    long total = PRODUCERS * rc_.per_producer;
    rc_.seen_mem = calloc((size_t)total, sizeof *rc_.seen);
    assert_non_null(rc_.seen_mem);
    rc_.seen = rc_.seen_mem;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        struct racer r[PRODUCERS + CONSUMERS];

        memset(rc_.seen_mem, 0, (size_t)total * sizeof *rc_.seen);
        rc_.kind = cases[c].kind;
        atomic_store(&rc_.producers_left, PRODUCERS);
        atomic_store(&rc_.got, 0);
        atomic_store(&rc_.bad, false);
        init_kind(&rc_.q, cases[c].cap, cases[c].kind);
        for (int i = 0; i < PRODUCERS + CONSUMERS; i++)
            r[i] = (struct racer){ i, 12345u + (unsigned)(i * 7 + (int)c) };
        test_run_threads(PRODUCERS + CONSUMERS, race_thread, r, sizeof r[0]);
        assert_false(atomic_load(&rc_.bad));
        assert_int_equal(total, atomic_load(&rc_.got));
        for (long i = 0; i < total; i++)
            assert_int_equal(1, rc_.seen[i]);
        assert_rc(0, conc_queue_destroy(&rc_.q));
    }
    free(rc_.seen_mem);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bad_arguments_are_einval_and_report_nothing_done),
        cmocka_unit_test(an_empty_batch_puts_nothing_and_succeeds),
        cmocka_unit_test(fifo_batches_keep_put_order_across_wrap_arounds),
        cmocka_unit_test(lifo_and_priority_batches_come_out_in_their_order),
        cmocka_unit_test(nowait_put_many_puts_what_fits_and_keeps_the_rest),
        cmocka_unit_test(timed_batches_time_out_never_early_and_report_progress),
        cmocka_unit_test(blocked_put_many_completes_as_a_getter_makes_room),
        cmocka_unit_test(blocked_get_many_wakes_on_a_put_and_takes_what_came),
        cmocka_unit_test(shutdown_ends_batches_with_eclosed_after_the_items_left),
        cmocka_unit_test(each_item_of_a_batch_is_one_task_for_join),
        cmocka_unit_test(a_cancelled_task_in_a_batch_gets_ecanceled_and_keeps_its_items),
        cmocka_unit_test(a_thread_feeds_a_task_in_batches_exactly_and_in_order),
        cmocka_unit_test(threads_racing_batches_lose_and_duplicate_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
