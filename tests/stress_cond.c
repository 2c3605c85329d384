/*
 * Long concurrency runs of condition variables: a bounded producer/consumer
 * buffer whose waits have no timeout (a lost notify hangs the test), and
 * consumers with tiny timeouts on a recursive mutex (notifies racing
 * timeouts). Every item is counted exactly once.
 */
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "os/os.h"

#include "conc/cond.h"

#define PRODUCERS 4
#define CONSUMERS 4
#define CAPACITY 16

struct buffer {
    conc_mutex_t m;
    conc_cond_t not_empty, not_full;
    long items[CAPACITY];
    int head, count;
    long per_producer, total, consumed;
    unsigned char *seen; /* seen[item] counts deliveries of each item */
    long sum;
};

struct worker {
    struct buffer *b;
    long id;
    long taken;
};

static void *produce(void *arg)
{
    struct worker *w = arg;
    struct buffer *b = w->b;

    for (long i = 0; i < b->per_producer; i++) {
        conc_mutex_lock(&b->m);
        while (b->count == CAPACITY)
            conc_cond_wait(&b->not_full, &b->m, CONC_FOREVER);
        b->items[(b->head + b->count) % CAPACITY] = w->id * b->per_producer + i;
        b->count++;
        conc_cond_notify(&b->not_empty, 1);
        conc_mutex_unlock(&b->m);
    }
    return NULL;
}

static void *consume(void *arg)
{
    struct worker *w = arg;
    struct buffer *b = w->b;

    for (;;) {
        conc_mutex_lock(&b->m);
        while (b->count == 0 && b->consumed < b->total)
            conc_cond_wait(&b->not_empty, &b->m, CONC_FOREVER);
        if (b->consumed == b->total) {
            conc_mutex_unlock(&b->m);
            return NULL;
        }
        long item = b->items[b->head];
        b->head = (b->head + 1) % CAPACITY;
        b->count--;
        b->seen[item]++;
        b->sum += item;
        w->taken++;
        if (++b->consumed == b->total)
            conc_cond_notify_all(&b->not_empty); /* let the others finish */
        conc_cond_notify(&b->not_full, 1);
        conc_mutex_unlock(&b->m);
    }
}

static void cond_producers_and_consumers_pass_every_item_exactly_once(void **state)
{
    struct buffer b = { .m = CONC_MUTEX_INIT,
                        .not_empty = CONC_COND_INIT,
                        .not_full = CONC_COND_INIT };
    struct worker w[PRODUCERS + CONSUMERS];
    long taken = 0;

    b.per_producer = 50000 * test_stress_scale();
    b.total = PRODUCERS * b.per_producer;
    b.seen = calloc((size_t)b.total, 1);
    assert_non_null(b.seen);
    for (int i = 0; i < PRODUCERS + CONSUMERS; i++)
        w[i] = (struct worker){ &b, i, 0 };
    /* Consumers and producers run at the same time: one group of threads. */
    conc__os_thread_t t[CONSUMERS];
    for (int i = 0; i < CONSUMERS; i++)
        assert_rc(0, conc__os_thread_start(&t[i], consume, &w[PRODUCERS + i], 0, false));
    test_run_threads(PRODUCERS, produce, w, sizeof w[0]);
    for (int i = 0; i < CONSUMERS; i++) {
        assert_rc(0, conc__os_thread_join(t[i], NULL));
        taken += w[PRODUCERS + i].taken;
    }
    assert_int_equal(b.total, taken);
    assert_int_equal(b.total, b.consumed);
    assert_int_equal(0, b.count);
    assert_int_equal((b.total - 1) * b.total / 2, b.sum);
    for (long i = 0; i < b.total; i++)
        assert_int_equal(1, b.seen[i]);
    free(b.seen);
    assert_rc(0, conc_cond_destroy(&b.not_empty));
    assert_rc(0, conc_cond_destroy(&b.not_full));
    assert_rc(0, conc_mutex_destroy(&b.m));
}

struct tickets {
    conc_rmutex_t r;
    conc_cond_t c;
    long available, produced, taken, per_producer, total;
};

struct ticket_worker {
    struct tickets *t;
    unsigned seed;
    long taken, timeouts;
    int errors;
};

static bool ticket_or_all_taken(void *arg)
{
    struct tickets *t = arg;

    return t->available > 0 || t->taken == t->total;
}

static void *give_tickets(void *arg)
{
    struct ticket_worker *w = arg;
    struct tickets *t = w->t;

    for (long i = 0; i < t->per_producer; i++) {
        conc_rmutex_lock(&t->r);
        conc_rmutex_lock(&t->r); /* nested on purpose: depth 2 */
        t->available++;
        t->produced++;
        conc_rmutex_unlock(&t->r);
        conc_rmutex_unlock(&t->r);
        if (conc_cond_notify(&t->c, 1) != 0)
            w->errors++;
    }
    return NULL;
}

/* Waits of 0..40 us, at depth 2, race every notify against a deadline. */
static void *take_tickets(void *arg)
{
    struct ticket_worker *w = arg;
    struct tickets *t = w->t;

    conc_rmutex_lock(&t->r);
    conc_rmutex_lock(&t->r);
    while (t->taken < t->total) {
        int64_t timeout = (int64_t)(rand_r(&w->seed) % 41) * 1000;
        int rc = conc_cond_wait_for_r(&t->c, &t->r, ticket_or_all_taken, t, timeout);
        if (rc < 0 || conc_rmutex_depth(&t->r) != 2)
            w->errors++;
        if (rc == 1 && t->available > 0) {
            t->available--;
            t->taken++;
            w->taken++;
        } else if (rc == 0) {
            w->timeouts++;
        }
    }
    conc_cond_notify_all(&t->c);
    conc_rmutex_unlock(&t->r);
    conc_rmutex_unlock(&t->r);
    return NULL;
}

static void cond_timed_waits_on_a_recursive_mutex_never_lose_a_ticket(void **state)
{
    struct tickets t = { .r = CONC_RMUTEX_INIT, .c = CONC_COND_INIT };
    struct ticket_worker w[6];
    conc__os_thread_t takers[4];
    long taken = 0;

    t.per_producer = 50000 * test_stress_scale();
    t.total = 2 * t.per_producer;
    for (int i = 0; i < 6; i++)
        w[i] = (struct ticket_worker){ &t, (unsigned)i + 7, 0, 0, 0 };
    for (int i = 0; i < 4; i++)
        assert_rc(0, conc__os_thread_start(&takers[i], take_tickets, &w[2 + i], 0, false));
    test_run_threads(2, give_tickets, w, sizeof w[0]);
    for (int i = 0; i < 4; i++) {
        assert_rc(0, conc__os_thread_join(takers[i], NULL));
        taken += w[2 + i].taken;
    }
    for (int i = 0; i < 6; i++)
        assert_int_equal(0, w[i].errors);
    assert_int_equal(t.total, t.produced);
    assert_int_equal(t.total, taken);
    assert_int_equal(0, t.available);
    assert_false(conc_rmutex_locked(&t.r));
    assert_rc(0, conc_cond_destroy(&t.c));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cond_producers_and_consumers_pass_every_item_exactly_once),
        cmocka_unit_test(cond_timed_waits_on_a_recursive_mutex_never_lose_a_ticket),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
