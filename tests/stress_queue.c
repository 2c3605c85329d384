/*
 * Queue stress with exact accounting: P producers and C consumers (up to 8
 * each) on every kind of queue, with random timeouts, try-operations, peeks,
 * blocking calls and a shutdown (normal or immediate) in the middle of the
 * traffic. Afterwards every item put successfully must have been got exactly
 * once or discarded by the immediate shutdown, nothing more, nothing twice;
 * the task count must balance (join returns at once).
 *
 * Sized by time (about 0.1 s per configuration at scale 1, so the run stays
 * short under the sanitizers too) and capped in items.
 */
#include <stdio.h>
#include <stdlib.h>

#include "core/queue_internal.h"
#include "helpers.h"

enum { MAX_THREADS = 8 };

struct config {
    int producers, consumers;
    size_t capacity;
};

struct run {
    conc_queue_t q;
    bool fifo;
    long cap_per_producer;       /* items a producer may put at most */
    _Atomic unsigned char *seen; /* [producer][seq]: got once */
    int producers;
    _Atomic long trying[MAX_THREADS];   /* the seq a producer is putting */
    _Atomic long last_put[MAX_THREADS]; /* the last seq put successfully */
    _Atomic long puts, gets;
    _Atomic int failures; /* duplicates, unknown items, order or code errors */
    _Atomic int producers_left;
};

struct role {
    struct run *run;
    int kind; /* 0 controller, 1 producer, 2 consumer */
    int id;
    int64_t duration;
    bool immediate;
};

static int cmp_u64(const void *a, const void *b, void *arg)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    (void)arg;
    return (x > y) - (x < y);
}

/* A random timeout: mostly short, sometimes none, sometimes forever. */
static int64_t pick_timeout(unsigned *seed)
{
    unsigned r = (unsigned)rand_r(seed) % 16;

    if (r < 4)
        return CONC_NOWAIT;
    if (r == 15)
        return CONC_FOREVER;
    return (int64_t)(rand_r(seed) % 50) * 1000; /* 0..49 us */
}

static void fail_if(struct run *r, bool bad)
{
    if (bad)
        atomic_fetch_add(&r->failures, 1);
}

static void *producer(struct role *me)
{
    struct run *r = me->run;
    unsigned seed = 1000u + (unsigned)me->id;

    for (long seq = 1; seq <= r->cap_per_producer;) {
        uint64_t item = (uint64_t)me->id << 40 | (uint64_t)seq;
        int64_t timeout = pick_timeout(&seed);
        atomic_store(&r->trying[me->id], seq);
        int rc = timeout == CONC_NOWAIT && seq % 2 ? conc_queue_try_put(&r->q, &item)
                                                   : conc_queue_put(&r->q, &item, timeout);
        if (rc == 0) {
            atomic_store(&r->last_put[me->id], seq);
            atomic_fetch_add(&r->puts, 1);
            seq++;
        } else if (rc == CONC_ECLOSED) {
            break;
        } else {
            fail_if(r, rc != CONC_EAGAIN && rc != CONC_ETIMEDOUT);
            fail_if(r, rc == CONC_ETIMEDOUT && timeout == CONC_FOREVER);
        }
    }
    atomic_fetch_sub(&r->producers_left, 1);
    return NULL;
}

static void consumed(struct run *r, uint64_t item, long *last)
{
    long p = (long)(item >> 40), seq = (long)(item & ((UINT64_C(1) << 40) - 1));

    if (p >= r->producers || seq < 1 || seq > atomic_load(&r->trying[p])) {
        fail_if(r, true); /* never put */
        return;
    }
    fail_if(r, atomic_exchange(&r->seen[p * r->cap_per_producer + seq - 1], 1) != 0);
    /* FIFO: one consumer sees each producer's items in put order. */
    fail_if(r, r->fifo && seq <= last[p]);
    last[p] = seq;
    atomic_fetch_add(&r->gets, 1);
    fail_if(r, conc_queue_task_done(&r->q) != 0);
}

static void *consumer(struct role *me)
{
    struct run *r = me->run;
    unsigned seed = 2000u + (unsigned)me->id;
    long last[MAX_THREADS] = { 0 };

    for (;;) {
        uint64_t item = 0, peeked;
        int64_t timeout = pick_timeout(&seed);
        if (rand_r(&seed) % 32 == 0) {
            int rc = conc_queue_peek(&r->q, &peeked);
            fail_if(r, rc != 0 && rc != CONC_EAGAIN && rc != CONC_ECLOSED);
        }
        int rc = timeout == CONC_NOWAIT && rand_r(&seed) % 2
                     ? conc_queue_try_get(&r->q, &item)
                     : conc_queue_get(&r->q, &item, timeout);
        if (rc == 0) {
            consumed(r, item, last);
        } else if (rc == CONC_ECLOSED) {
            return NULL;
        } else {
            fail_if(r, rc != CONC_EAGAIN && rc != CONC_ETIMEDOUT);
            fail_if(r, item != 0); /* a failed get writes nothing */
        }
    }
}

/* Shut down once half the items are in, or when time is up. */
static void *controller(struct role *me)
{
    struct run *r = me->run;
    long half = r->cap_per_producer * r->producers / 2;
    int64_t end = conc_now_ns() + me->duration;

    while (conc_now_ns() < end && atomic_load(&r->puts) < half &&
           atomic_load(&r->producers_left) > 0)
        conc_sleep(CONC_MS(1));
    assert_rc(0, conc_queue_shutdown(&r->q, me->immediate));
    return NULL;
}

static void *run_role(void *arg)
{
    struct role *me = arg;

    if (me->kind == 0)
        return controller(me);
    return me->kind == 1 ? producer(me) : consumer(me);
}

static void check_accounting(struct run *r, const struct config *c, bool immediate)
{
    long put = 0, got = 0;

    assert_int_equal(0, atomic_load(&r->failures));
    for (int p = 0; p < c->producers; p++) {
        long last = atomic_load(&r->last_put[p]);
        for (long s = 0; s < r->cap_per_producer; s++) {
            bool seen = atomic_load(&r->seen[p * r->cap_per_producer + s]);
            assert_false(seen && s >= last); /* got but never put */
            got += seen;
        }
        put += last;
    }
    assert_int_equal(put, atomic_load(&r->puts));
    assert_int_equal(got, atomic_load(&r->gets));
    /* Removed = got + discarded = put; only an immediate shutdown discards. */
    uint64_t removed = CONC__QUEUE_COUNT(atomic_load(&r->q.head_));
    assert_int_equal(put, CONC__QUEUE_COUNT(atomic_load(&r->q.tail_)));
    assert_int_equal(put, removed);
    if (!immediate)
        assert_int_equal(put, got);
    assert_true(conc_queue_empty(&r->q));
    assert_rc(0, conc_queue_join(&r->q, CONC_NOWAIT)); /* got + discarded all done */
    assert_int_equal(put, atomic_load(&r->q.done_));
}

static long run_one(conc_queue_kind_t kind, const struct config *c, bool immediate)
{
    struct run *r = calloc(1, sizeof *r);
    struct role roles[1 + 2 * MAX_THREADS];
    conc_queue_attr_t attr = CONC_QUEUE_ATTR_INIT;
    int n = 0;

    assert_non_null(r);
    attr.kind = kind;
    attr.compare = kind == CONC_QUEUE_PRIORITY ? cmp_u64 : NULL;
    assert_rc(0, conc_queue_init(&r->q, sizeof(uint64_t), c->capacity, &attr));
    r->fifo = kind == CONC_QUEUE_FIFO;
    r->cap_per_producer = 400000L * test_stress_scale() / c->producers;
    r->seen = calloc((size_t)(c->producers * r->cap_per_producer), 1);
    assert_non_null(r->seen);
    r->producers = c->producers;
    atomic_init(&r->producers_left, c->producers);

    roles[n++] = (struct role){ r, 0, 0, CONC_MS(100) * test_stress_scale(), immediate };
    for (int i = 0; i < c->producers; i++)
        roles[n++] = (struct role){ r, 1, i, 0, immediate };
    for (int i = 0; i < c->consumers; i++)
        roles[n++] = (struct role){ r, 2, i, 0, immediate };
    test_run_threads(n, run_role, roles, sizeof roles[0]);

    check_accounting(r, c, immediate);
    long moved = atomic_load(&r->puts);
    assert_rc(0, conc_queue_destroy(&r->q));
    free((void *)(uintptr_t)r->seen);
    free(r);
    return moved;
}

static const struct config configs[] = {
    { 1, 1, 2 }, { 8, 8, 3 }, { 2, 8, 1024 }, { 8, 2, 64 }, { 4, 4, 1 },
};

static void run_kind(conc_queue_kind_t kind, const char *name)
{
    long total = 0;
    int64_t start = conc_now_ns();

    for (size_t i = 0; i < sizeof configs / sizeof configs[0]; i++)
        for (int immediate = 0; immediate < 2; immediate++)
            total += run_one(kind, &configs[i], immediate);
    printf("  %s: %ld items moved and accounted for in %.2f s\n", name, total,
           (double)(conc_now_ns() - start) / 1e9);
}

static void fifo_traffic_with_shutdown_accounts_for_every_item(void **state)
{
    run_kind(CONC_QUEUE_FIFO, "fifo");
}

static void lifo_traffic_with_shutdown_accounts_for_every_item(void **state)
{
    run_kind(CONC_QUEUE_LIFO, "lifo");
}

static void priority_traffic_with_shutdown_accounts_for_every_item(void **state)
{
    run_kind(CONC_QUEUE_PRIORITY, "priority");
}

/* ---- lost wake-ups: only blocking calls, each with an item or a slot
 * certainly coming, so a timeout means a wake-up was missed ------------- */

enum { WAKE_ROLES = 3 };
#define WAKE_TIMEOUT CONC_SEC(5)

struct wake_run {
    conc_queue_t q;
    _Atomic long to_put, to_get, sum, finished;
    _Atomic int failures;
};

struct wake_role {
    struct wake_run *run;
    int kind; /* 0 producer, 1 consumer, 2 joiner */
};

static void *wake_role(void *arg)
{
    struct wake_role *me = arg;
    struct wake_run *r = me->run;
    long item;

    if (me->kind == 0) {
        while ((item = atomic_fetch_sub(&r->to_put, 1)) > 0)
            if (conc_queue_put(&r->q, &item, WAKE_TIMEOUT) != 0)
                atomic_fetch_add(&r->failures, 1);
    } else if (me->kind == 1) {
        while (atomic_fetch_sub(&r->to_get, 1) > 0) {
            if (conc_queue_get(&r->q, &item, WAKE_TIMEOUT) != 0) {
                atomic_fetch_add(&r->failures, 1);
                continue;
            }
            atomic_fetch_add(&r->sum, item);
            if (conc_queue_task_done(&r->q) != 0)
                atomic_fetch_add(&r->failures, 1);
        }
        atomic_fetch_add(&r->finished, 1);
    } else {
        /* Every join ends once all items put so far are done, which the
         * consumers bring about within the timeout. */
        while (atomic_load(&r->finished) < WAKE_ROLES)
            if (conc_queue_join(&r->q, WAKE_TIMEOUT) != 0)
                atomic_fetch_add(&r->failures, 1);
    }
    return NULL;
}

static void blocking_traffic_never_misses_a_wake_up(void **state)
{
    static const size_t caps[] = { 1, 2, 3, 5 };
    long items = 20000L * test_stress_scale();

    for (size_t k = 0; k < 2; k++) {
        for (size_t c = 0; c < sizeof caps / sizeof caps[0]; c++) {
            struct wake_run *r = calloc(1, sizeof *r);
            struct wake_role roles[2 * WAKE_ROLES + 1];
            conc_queue_attr_t attr = CONC_QUEUE_ATTR_INIT;

            assert_non_null(r);
            attr.kind = k ? CONC_QUEUE_LIFO : CONC_QUEUE_FIFO;
            assert_rc(0, conc_queue_init(&r->q, sizeof(long), caps[c], &attr));
            atomic_init(&r->to_put, items);
            atomic_init(&r->to_get, items);
            for (int i = 0; i < 2 * WAKE_ROLES + 1; i++)
                roles[i] = (struct wake_role){ r, i < WAKE_ROLES ? 0 : i < 2 * WAKE_ROLES ? 1 : 2 };
            test_run_threads(2 * WAKE_ROLES + 1, wake_role, roles, sizeof roles[0]);
            assert_int_equal(0, atomic_load(&r->failures));
            assert_int_equal(items * (items + 1) / 2, atomic_load(&r->sum));
            assert_rc(0, conc_queue_join(&r->q, CONC_NOWAIT));
            assert_rc(0, conc_queue_destroy(&r->q));
            free(r);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fifo_traffic_with_shutdown_accounts_for_every_item),
        cmocka_unit_test(lifo_traffic_with_shutdown_accounts_for_every_item),
        cmocka_unit_test(priority_traffic_with_shutdown_accounts_for_every_item),
        cmocka_unit_test(blocking_traffic_never_misses_a_wake_up),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
