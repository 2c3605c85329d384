/*
 * Bounded queues: every behaviour and error of conc/queue.h, for the three
 * orders, and the hand-off rule (a timed-out get never consumes an item, a
 * timed-out put never enqueues one) under racing timeouts.
 */
#include <stdlib.h>
#include <string.h>

#include "core/queue_internal.h"
#include "helpers.h"

static const conc_queue_kind_t kinds[] = { CONC_QUEUE_FIFO, CONC_QUEUE_LIFO, CONC_QUEUE_PRIORITY };

static int cmp_int(const void *a, const void *b, void *arg)
{
    int x = *(const int *)a, y = *(const int *)b;

    (void)arg;
    return (x > y) - (x < y);
}

/* Priority items: key first, then a tag that must not take part in the order. */
struct keyed {
    int key;
    int tag;
};

static int cmp_key(const void *a, const void *b, void *arg)
{
    return cmp_int(&((const struct keyed *)a)->key, &((const struct keyed *)b)->key, arg);
}

static void init_kind(conc_queue_t *q, size_t item_size, size_t cap, conc_queue_kind_t kind)
{
    conc_queue_attr_t attr = CONC_QUEUE_ATTR_INIT;

    attr.kind = kind;
    attr.compare = kind == CONC_QUEUE_PRIORITY ? cmp_int : NULL;
    assert_rc(0, conc_queue_init(q, item_size, cap, &attr));
}

static int put_int(conc_queue_t *q, int v, int64_t timeout)
{
    return conc_queue_put(q, &v, timeout);
}

static int get_int(conc_queue_t *q, int64_t timeout)
{
    int v = -1;

    assert_rc(0, conc_queue_get(q, &v, timeout));
    return v;
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

/* ---- a helper thread running one blocking call --------------------------- */

enum op { OP_GET, OP_PUT, OP_JOIN };

struct call {
    conc_queue_t *q;
    enum op op;
    int value; /* item to put, or item got */
    int64_t timeout;
    int rc;
    conc__os_thread_t thread;
};

static void *run_call(void *arg)
{
    struct call *c = arg;

    if (c->op == OP_GET)
        c->rc = conc_queue_get(c->q, &c->value, c->timeout);
    else if (c->op == OP_PUT)
        c->rc = conc_queue_put(c->q, &c->value, c->timeout);
    else
        c->rc = conc_queue_join(c->q, c->timeout);
    return NULL;
}

static void start_call(struct call *c, conc_queue_t *q, enum op op, int value)
{
    *c = (struct call){ q, op, value, CONC_FOREVER, 1, { 0 } };
    assert_rc(0, conc__os_thread_start(&c->thread, run_call, c, 0, false));
}

static void finish_call(struct call *c)
{
    assert_rc(0, conc__os_thread_join(c->thread, NULL));
}

/* ---- set-up and bad input -------------------------------------------------- */

/* Every rejected init leaves the caller's object byte for byte as it was. */
static void assert_init_rejected(size_t item_size, size_t cap, const conc_queue_attr_t *attr)
{
    conc_queue_t q, before;

    memset(&q, 0xA5, sizeof q);
    memcpy(&before, &q, sizeof q);
    assert_rc(CONC_EINVAL, conc_queue_init(&q, item_size, cap, attr));
    assert_memory_equal(&before, &q, sizeof q);
}

static void init_rejects_null_zero_and_overflowing_sizes(void **state)
{
    assert_rc(CONC_EINVAL, conc_queue_init(NULL, 4, 4, NULL));
    assert_init_rejected(0, 4, NULL);
    assert_init_rejected(4, 0, NULL);
    assert_init_rejected(SIZE_MAX / 2, 4, NULL);
    assert_init_rejected(SIZE_MAX, 1, NULL);
    assert_init_rejected(16, SIZE_MAX / 8, NULL);
}

static void init_rejects_unknown_kind_and_misplaced_comparator(void **state)
{
    conc_queue_attr_t attr = CONC_QUEUE_ATTR_INIT;

    attr.kind = (conc_queue_kind_t)7;
    assert_init_rejected(4, 4, &attr);
    attr.kind = CONC_QUEUE_PRIORITY; /* without a comparator */
    assert_init_rejected(4, 4, &attr);
    attr.kind = CONC_QUEUE_FIFO; /* with one */
    attr.compare = cmp_int;
    assert_init_rejected(4, 4, &attr);
}

static void init_rejects_storage_too_small_misaligned_or_missing(void **state)
{
    static _Alignas(64) unsigned char buf[1024];
    conc_queue_attr_t attr = CONC_QUEUE_ATTR_INIT;

    for (size_t k = 0; k < 3; k++) {
        attr.kind = kinds[k];
        attr.compare = kinds[k] == CONC_QUEUE_PRIORITY ? cmp_int : NULL;
        size_t need = conc_queue_storage_size(sizeof(int), 8, kinds[k]);
        attr.storage = buf;
        attr.storage_size = need - 1;
        assert_init_rejected(sizeof(int), 8, &attr);
        attr.storage = buf + 4;
        attr.storage_size = need;
        assert_init_rejected(sizeof(int), 8, &attr);
        attr.storage = NULL; /* a size without storage */
        assert_init_rejected(sizeof(int), 8, &attr);
    }
    assert_memory_equal(buf, (unsigned char[1024]){ 0 }, sizeof buf); /* never written */
}

/* Sanitizers abort on impossible allocations by default; the ENOMEM test
 * needs malloc to return NULL as it does without them. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "allocator_may_return_null=1";
}

const char *__tsan_default_options(void);
const char *__tsan_default_options(void)
{
    return "allocator_may_return_null=1";
}

static void init_reports_enomem_when_storage_cannot_be_allocated(void **state)
{
    conc_queue_attr_t attr = CONC_QUEUE_ATTR_INIT;
    conc_queue_t q, before;

    memset(&q, 0x5A, sizeof q);
    memcpy(&before, &q, sizeof q);
    attr.kind = CONC_QUEUE_LIFO;
    /* Three quarters of the address space: valid arithmetic (the size does
     * not overflow), but no allocator can give it, on 32 or 64 bits. */
    size_t slot = conc_queue_storage_size(64, 1, CONC_QUEUE_LIFO);
    assert_rc(CONC_ENOMEM, conc_queue_init(&q, 64, (SIZE_MAX - SIZE_MAX / 4) / slot, &attr));
    assert_memory_equal(&before, &q, sizeof q);
}

static void storage_size_matches_the_macro_and_is_zero_when_invalid(void **state)
{
    for (size_t k = 0; k < 3; k++) {
        assert_int_equal(CONC_QUEUE_STORAGE_SIZE(12, 5, kinds[k]),
                         conc_queue_storage_size(12, 5, kinds[k]));
        assert_true(conc_queue_storage_size(12, 5, kinds[k]) >= 12 * 5);
        assert_int_equal(0, conc_queue_storage_size(0, 5, kinds[k]));
        assert_int_equal(0, conc_queue_storage_size(12, 0, kinds[k]));
        assert_int_equal(0, conc_queue_storage_size(SIZE_MAX / 4, 8, kinds[k]));
    }
    assert_int_equal(0, conc_queue_storage_size(4, 4, (conc_queue_kind_t)3));
}

static void caller_storage_is_used_and_never_freed(void **state)
{
    enum { CAP = 5 };
    static _Alignas(CONC_QUEUE_STORAGE_ALIGN) unsigned char
        buf[CONC_QUEUE_STORAGE_SIZE(sizeof(int), CAP, CONC_QUEUE_FIFO)];
    conc_queue_attr_t attr = CONC_QUEUE_ATTR_INIT;
    conc_queue_t q;

    attr.storage = buf;
    attr.storage_size = sizeof buf;
    assert_rc(0, conc_queue_init(&q, sizeof(int), CAP, &attr));
    assert_ptr_equal(buf, q.buf_);
    for (int i = 0; i < CAP; i++)
        assert_rc(0, put_int(&q, i, CONC_NOWAIT));
    assert_rc(CONC_EAGAIN, put_int(&q, 9, CONC_NOWAIT));
    for (int i = 0; i < CAP; i++)
        assert_int_equal(i, get_int(&q, CONC_NOWAIT));
    assert_rc(0, conc_queue_destroy(&q)); /* ASan would catch a free() of buf */
}

static void null_or_destroyed_queue_is_einval_everywhere(void **state)
{
    conc_queue_t q;
    int v = 1;

    init_kind(&q, sizeof v, 2, CONC_QUEUE_FIFO);
    assert_rc(CONC_EINVAL, conc_queue_put(&q, NULL, CONC_NOWAIT));
    assert_rc(CONC_EINVAL, conc_queue_get(&q, NULL, CONC_NOWAIT));
    assert_rc(CONC_EINVAL, conc_queue_peek(&q, NULL));
    assert_rc(0, conc_queue_destroy(&q));

    conc_queue_t *qs[] = { NULL, &q };
    for (int i = 0; i < 2; i++) {
        assert_rc(CONC_EINVAL, conc_queue_put(qs[i], &v, CONC_FOREVER));
        assert_rc(CONC_EINVAL, conc_queue_try_put(qs[i], &v));
        assert_rc(CONC_EINVAL, conc_queue_get(qs[i], &v, CONC_FOREVER));
        assert_rc(CONC_EINVAL, conc_queue_try_get(qs[i], &v));
        assert_rc(CONC_EINVAL, conc_queue_peek(qs[i], &v));
        assert_rc(CONC_EINVAL, conc_queue_task_done(qs[i]));
        assert_rc(CONC_EINVAL, conc_queue_join(qs[i], CONC_FOREVER));
        assert_rc(CONC_EINVAL, conc_queue_shutdown(qs[i], true));
        assert_rc(CONC_EINVAL, conc_queue_destroy(qs[i]));
        assert_int_equal(0, conc_queue_qsize(qs[i]));
        assert_true(conc_queue_empty(qs[i]));
        assert_false(conc_queue_full(qs[i]));
    }
}

/* ---- order ----------------------------------------------------------------- */

static void fifo_gets_items_in_put_order_across_wrap_arounds(void **state)
{
    const size_t caps[] = { 1, 2, 3, 8 }; /* one slot, power of two or not */

    for (size_t c = 0; c < 4; c++) {
        conc_queue_t q;
        int next_put = 0, next_get = 0;

        init_kind(&q, sizeof(int), caps[c], CONC_QUEUE_FIFO);
        for (int round = 0; round < 50; round++) {
            int n = 1 + round % (int)caps[c];
            for (int i = 0; i < n; i++)
                assert_rc(0, put_int(&q, next_put++, CONC_NOWAIT));
            for (int i = 0; i < n; i++)
                assert_int_equal(next_get++, get_int(&q, CONC_NOWAIT));
        }
        assert_rc(0, conc_queue_destroy(&q));
    }
}

static void lifo_gets_the_last_item_put_first(void **state)
{
    conc_queue_t q;

    init_kind(&q, sizeof(int), 4, CONC_QUEUE_LIFO);
    for (int i = 0; i < 4; i++)
        assert_rc(0, put_int(&q, i, CONC_NOWAIT));
    assert_int_equal(3, get_int(&q, CONC_NOWAIT));
    assert_int_equal(2, get_int(&q, CONC_NOWAIT));
    assert_rc(0, put_int(&q, 7, CONC_NOWAIT));
    assert_int_equal(7, get_int(&q, CONC_NOWAIT));
    assert_int_equal(1, get_int(&q, CONC_NOWAIT));
    assert_int_equal(0, get_int(&q, CONC_NOWAIT));
    assert_rc(0, conc_queue_destroy(&q));
}

static void priority_gets_smallest_first_and_equal_keys_in_put_order(void **state)
{
    enum { N = 200 };
    conc_queue_attr_t attr = CONC_QUEUE_ATTR_INIT;
    conc_queue_t q;
    unsigned seed = 42;

    attr.kind = CONC_QUEUE_PRIORITY;
    attr.compare = cmp_key;
    assert_rc(0, conc_queue_init(&q, sizeof(struct keyed), N, &attr));
    /* tag = arrival number; an item got and put back arrives again. */
    int arrivals = 0;
    for (int i = 0; i < N; i++) {
        struct keyed k = { rand_r(&seed) % 10, arrivals++ };
        assert_rc(0, conc_queue_put(&q, &k, CONC_NOWAIT));
        if (i % 7 == 6) { /* interleave gets so the heap is reshaped */
            struct keyed out;
            assert_rc(0, conc_queue_get(&q, &out, CONC_NOWAIT));
            out.tag = arrivals++;
            assert_rc(0, conc_queue_put(&q, &out, CONC_NOWAIT));
        }
    }
    struct keyed prev = { -1, 0 };
    for (int i = 0; i < N; i++) {
        struct keyed k;
        assert_rc(0, conc_queue_get(&q, &k, CONC_NOWAIT));
        assert_true(k.key >= prev.key);
        if (k.key == prev.key)
            assert_true(k.tag > prev.tag); /* same key: arrival order */
        prev = k;
    }
    assert_rc(CONC_EAGAIN, conc_queue_get(&q, &prev, CONC_NOWAIT));
    assert_rc(0, conc_queue_destroy(&q));
}

static int cmp_arg_sign(const void *a, const void *b, void *arg)
{
    return *(int *)arg * cmp_int(a, b, NULL);
}

static void priority_passes_compare_arg_to_the_comparator(void **state)
{
    conc_queue_attr_t attr = CONC_QUEUE_ATTR_INIT;
    int descending = -1;
    conc_queue_t q;

    attr.kind = CONC_QUEUE_PRIORITY;
    attr.compare = cmp_arg_sign;
    attr.compare_arg = &descending;
    assert_rc(0, conc_queue_init(&q, sizeof(int), 4, &attr));
    for (int i = 0; i < 4; i++)
        assert_rc(0, put_int(&q, i, CONC_NOWAIT));
    for (int i = 3; i >= 0; i--)
        assert_int_equal(i, get_int(&q, CONC_NOWAIT));
    assert_rc(0, conc_queue_destroy(&q));
}

/* ---- try, size, peek ----------------------------------------------------- */

static void try_ops_return_eagain_when_full_or_empty_and_change_nothing(void **state)
{
    for (size_t k = 0; k < 3; k++) {
        conc_queue_t q;
        int v = 55;

        init_kind(&q, sizeof(int), 2, kinds[k]);
        assert_rc(CONC_EAGAIN, conc_queue_try_get(&q, &v));
        assert_int_equal(55, v);
        assert_rc(0, conc_queue_try_put(&q, &(int){ 1 }));
        assert_rc(0, conc_queue_try_put(&q, &(int){ 2 }));
        assert_rc(CONC_EAGAIN, conc_queue_try_put(&q, &(int){ 3 }));
        assert_int_equal(2, conc_queue_qsize(&q));
        int a = get_int(&q, CONC_NOWAIT), b = get_int(&q, CONC_NOWAIT);
        assert_int_equal(3, a + b); /* 3 was not enqueued */
        assert_rc(CONC_EAGAIN, conc_queue_try_get(&q, &v));
        assert_rc(0, conc_queue_destroy(&q));
    }
}

static void qsize_empty_and_full_follow_the_contents(void **state)
{
    for (size_t k = 0; k < 3; k++) {
        conc_queue_t q;

        init_kind(&q, sizeof(int), 3, kinds[k]);
        assert_true(conc_queue_empty(&q));
        assert_false(conc_queue_full(&q));
        for (int i = 1; i <= 3; i++) {
            assert_rc(0, put_int(&q, i, CONC_NOWAIT));
            assert_int_equal(i, conc_queue_qsize(&q));
            assert_false(conc_queue_empty(&q));
        }
        assert_true(conc_queue_full(&q));
        get_int(&q, CONC_NOWAIT);
        assert_false(conc_queue_full(&q));
        assert_int_equal(2, conc_queue_qsize(&q));
        assert_rc(0, conc_queue_destroy(&q));
    }
}

static void peek_copies_the_next_item_without_removing_it(void **state)
{
    const int first[] = { 5, 9, 1 }; /* FIFO: first put; LIFO: last; priority: smallest */

    for (size_t k = 0; k < 3; k++) {
        conc_queue_t q;
        int v = -1;

        init_kind(&q, sizeof(int), 4, kinds[k]);
        assert_rc(CONC_EAGAIN, conc_queue_peek(&q, &v));
        assert_int_equal(-1, v);
        assert_rc(0, put_int(&q, 5, CONC_NOWAIT));
        assert_rc(0, put_int(&q, 1, CONC_NOWAIT));
        assert_rc(0, put_int(&q, 9, CONC_NOWAIT));
        assert_rc(0, conc_queue_peek(&q, &v));
        assert_int_equal(first[k], v);
        assert_int_equal(3, conc_queue_qsize(&q));
        assert_int_equal(first[k], get_int(&q, CONC_NOWAIT));
        assert_rc(0, conc_queue_destroy(&q));
    }
}

/* ---- blocking and timeouts ------------------------------------------------- */

static void timed_get_on_empty_times_out_not_early_and_leaves_out_alone(void **state)
{
    for (size_t k = 0; k < 3; k++) {
        conc_queue_t q;
        int v = 77;

        init_kind(&q, sizeof(int), 2, kinds[k]);
        int64_t start = conc_now_ns();
        assert_rc(CONC_ETIMEDOUT, conc_queue_get(&q, &v, CONC_MS(5)));
        assert_true(conc_now_ns() - start >= CONC_MS(5));
        assert_int_equal(77, v);
        assert_int_equal(0, n_waiting(&q, &q.getters_));
        assert_rc(0, conc_queue_destroy(&q));
    }
}

static void timed_put_on_full_times_out_not_early_and_does_not_enqueue(void **state)
{
    for (size_t k = 0; k < 3; k++) {
        conc_queue_t q;

        init_kind(&q, sizeof(int), 2, kinds[k]);
        assert_rc(0, put_int(&q, 1, CONC_NOWAIT));
        assert_rc(0, put_int(&q, 2, CONC_NOWAIT));
        int64_t start = conc_now_ns();
        assert_rc(CONC_ETIMEDOUT, put_int(&q, 3, CONC_MS(5)));
        assert_true(conc_now_ns() - start >= CONC_MS(5));
        assert_int_equal(2, conc_queue_qsize(&q));
        assert_int_equal(3, get_int(&q, CONC_NOWAIT) + get_int(&q, CONC_NOWAIT));
        assert_rc(CONC_EAGAIN, conc_queue_try_get(&q, &(int){ 0 }));
        assert_rc(0, conc_queue_destroy(&q));
    }
}

static void blocked_get_is_handed_the_next_item_put(void **state)
{
    for (size_t k = 0; k < 3; k++) {
        conc_queue_t q;
        struct call c;

        init_kind(&q, sizeof(int), 2, kinds[k]);
        start_call(&c, &q, OP_GET, 0);
        wait_for_waiters(&q, &q.getters_, 1);
        assert_rc(0, put_int(&q, 42, CONC_NOWAIT));
        finish_call(&c);
        assert_rc(0, c.rc);
        assert_int_equal(42, c.value);
        assert_true(conc_queue_empty(&q)); /* handed over, not left behind */
        assert_rc(0, conc_queue_destroy(&q));
    }
}

static void blocked_put_is_moved_in_when_a_get_makes_room(void **state)
{
    /* The blocked item takes the freed place in the queue's own order. */
    const int second[] = { 2, 3, 2 };

    for (size_t k = 0; k < 3; k++) {
        conc_queue_t q;
        struct call c;

        init_kind(&q, sizeof(int), 2, kinds[k]);
        assert_rc(0, put_int(&q, 1, CONC_NOWAIT));
        assert_rc(0, put_int(&q, 2, CONC_NOWAIT));
        start_call(&c, &q, OP_PUT, 3);
        wait_for_waiters(&q, &q.putters_, 1);
        int first = get_int(&q, CONC_NOWAIT);
        finish_call(&c);
        assert_rc(0, c.rc);
        assert_int_equal(2, conc_queue_qsize(&q));
        assert_int_equal(k == 1 ? 2 : 1, first);
        assert_int_equal(second[k], get_int(&q, CONC_NOWAIT));
        assert_rc(0, conc_queue_destroy(&q));
    }
}

static void blocked_getters_are_served_in_arrival_order(void **state)
{
    conc_queue_t q;
    struct call c[3];

    init_kind(&q, sizeof(int), 4, CONC_QUEUE_FIFO);
    for (int i = 0; i < 3; i++) {
        start_call(&c[i], &q, OP_GET, 0);
        wait_for_waiters(&q, &q.getters_, i + 1);
    }
    for (int i = 0; i < 3; i++)
        assert_rc(0, put_int(&q, 10 + i, CONC_NOWAIT));
    for (int i = 0; i < 3; i++) {
        finish_call(&c[i]);
        assert_rc(0, c[i].rc);
        assert_int_equal(10 + i, c[i].value);
    }
    assert_rc(0, conc_queue_destroy(&q));
}

/* ---- task_done and join ---------------------------------------------------- */

static void task_done_more_than_puts_is_eoverflow_and_changes_nothing(void **state)
{
    conc_queue_t q;

    init_kind(&q, sizeof(int), 4, CONC_QUEUE_FIFO);
    assert_rc(CONC_EOVERFLOW, conc_queue_task_done(&q));
    assert_rc(0, put_int(&q, 1, CONC_NOWAIT));
    assert_rc(0, put_int(&q, 2, CONC_NOWAIT));
    assert_rc(0, conc_queue_task_done(&q));
    assert_rc(0, conc_queue_task_done(&q));
    assert_rc(CONC_EOVERFLOW, conc_queue_task_done(&q));
    assert_int_equal(2, atomic_load(&q.done_));
    assert_rc(0, conc_queue_join(&q, CONC_NOWAIT));
    assert_rc(0, put_int(&q, 3, CONC_NOWAIT)); /* the extra call was not banked */
    assert_rc(CONC_EAGAIN, conc_queue_join(&q, CONC_NOWAIT));
    assert_rc(0, conc_queue_destroy(&q));
}

static void join_waits_until_every_item_put_is_done(void **state)
{
    for (size_t k = 0; k < 3; k++) {
        conc_queue_t q;

        init_kind(&q, sizeof(int), 4, kinds[k]);
        assert_rc(0, conc_queue_join(&q, CONC_NOWAIT)); /* nothing ever put */
        assert_rc(0, put_int(&q, 1, CONC_NOWAIT));
        assert_rc(0, put_int(&q, 2, CONC_NOWAIT));
        get_int(&q, CONC_NOWAIT);
        get_int(&q, CONC_NOWAIT);
        assert_rc(CONC_EAGAIN, conc_queue_join(&q, CONC_NOWAIT)); /* got, not done */
        int64_t start = conc_now_ns();
        assert_rc(CONC_ETIMEDOUT, conc_queue_join(&q, CONC_MS(3)));
        assert_true(conc_now_ns() - start >= CONC_MS(3));
        assert_rc(0, conc_queue_task_done(&q));
        assert_rc(CONC_EAGAIN, conc_queue_join(&q, CONC_NOWAIT));
        assert_rc(0, conc_queue_task_done(&q));
        assert_rc(0, conc_queue_join(&q, CONC_NOWAIT));
        assert_rc(0, conc_queue_destroy(&q));
    }
}

static void last_task_done_wakes_every_blocked_joiner(void **state)
{
    conc_queue_t q;
    struct call c[2];

    init_kind(&q, sizeof(int), 4, CONC_QUEUE_FIFO);
    assert_rc(0, put_int(&q, 1, CONC_NOWAIT));
    assert_rc(0, put_int(&q, 2, CONC_NOWAIT));
    for (int i = 0; i < 2; i++)
        start_call(&c[i], &q, OP_JOIN, 0);
    wait_for_waiters(&q, &q.joiners_, 2);
    get_int(&q, CONC_NOWAIT);
    assert_rc(0, conc_queue_task_done(&q));
    conc_sleep(CONC_MS(2));
    assert_int_equal(2, n_waiting(&q, &q.joiners_)); /* one task still unfinished */
    get_int(&q, CONC_NOWAIT);
    assert_rc(0, conc_queue_task_done(&q));
    for (int i = 0; i < 2; i++) {
        finish_call(&c[i]);
        assert_rc(0, c[i].rc);
    }
    assert_rc(0, conc_queue_destroy(&q));
}

/* ---- shutdown -------------------------------------------------------------- */

static void shutdown_makes_every_later_put_fail_with_eclosed(void **state)
{
    for (size_t k = 0; k < 3; k++) {
        conc_queue_t q;

        init_kind(&q, sizeof(int), 4, kinds[k]);
        assert_rc(0, put_int(&q, 1, CONC_NOWAIT));
        assert_rc(0, conc_queue_shutdown(&q, false));
        assert_rc(CONC_ECLOSED, put_int(&q, 2, CONC_NOWAIT));
        assert_rc(CONC_ECLOSED, put_int(&q, 2, CONC_FOREVER));
        assert_int_equal(1, conc_queue_qsize(&q));
        assert_rc(0, conc_queue_destroy(&q));
    }
}

static void shutdown_wakes_blocked_putters_with_eclosed(void **state)
{
    for (size_t k = 0; k < 3; k++) {
        conc_queue_t q;
        struct call c[2];

        init_kind(&q, sizeof(int), 1, kinds[k]);
        assert_rc(0, put_int(&q, 1, CONC_NOWAIT));
        for (int i = 0; i < 2; i++)
            start_call(&c[i], &q, OP_PUT, 2 + i);
        wait_for_waiters(&q, &q.putters_, 2);
        assert_rc(0, conc_queue_shutdown(&q, false));
        for (int i = 0; i < 2; i++) {
            finish_call(&c[i]);
            assert_rc(CONC_ECLOSED, c[i].rc);
        }
        assert_int_equal(1, get_int(&q, CONC_NOWAIT)); /* only the item put before */
        assert_rc(CONC_ECLOSED, conc_queue_try_get(&q, &(int){ 0 }));
        assert_rc(0, conc_queue_destroy(&q));
    }
}

static void normal_shutdown_lets_getters_drain_then_returns_eclosed(void **state)
{
    for (size_t k = 0; k < 3; k++) {
        conc_queue_t q;
        int v = -1;

        init_kind(&q, sizeof(int), 4, kinds[k]);
        assert_rc(0, put_int(&q, 1, CONC_NOWAIT));
        assert_rc(0, put_int(&q, 2, CONC_NOWAIT));
        assert_rc(0, conc_queue_shutdown(&q, false));
        assert_rc(0, conc_queue_peek(&q, &v));
        int sum = get_int(&q, CONC_FOREVER) + get_int(&q, CONC_MS(1));
        assert_int_equal(3, sum);
        v = -1;
        assert_rc(CONC_ECLOSED, conc_queue_get(&q, &v, CONC_FOREVER));
        assert_rc(CONC_ECLOSED, conc_queue_try_get(&q, &v));
        assert_rc(CONC_ECLOSED, conc_queue_peek(&q, &v));
        assert_int_equal(-1, v);
        assert_rc(0, conc_queue_destroy(&q));
    }
}

static void shutdown_wakes_blocked_getters_of_an_empty_queue_with_eclosed(void **state)
{
    for (size_t k = 0; k < 3; k++) {
        conc_queue_t q;
        struct call c[2];

        init_kind(&q, sizeof(int), 2, kinds[k]);
        for (int i = 0; i < 2; i++)
            start_call(&c[i], &q, OP_GET, -1);
        wait_for_waiters(&q, &q.getters_, 2);
        assert_rc(0, conc_queue_shutdown(&q, false));
        for (int i = 0; i < 2; i++) {
            finish_call(&c[i]);
            assert_rc(CONC_ECLOSED, c[i].rc);
            assert_int_equal(-1, c[i].value);
        }
        assert_rc(0, conc_queue_destroy(&q));
    }
}

static void immediate_shutdown_discards_items_and_counts_them_done(void **state)
{
    for (size_t k = 0; k < 3; k++) {
        conc_queue_t q;

        init_kind(&q, sizeof(int), 4, kinds[k]);
        for (int i = 0; i < 3; i++)
            assert_rc(0, put_int(&q, i, CONC_NOWAIT));
        get_int(&q, CONC_NOWAIT); /* got but not done yet */
        assert_rc(0, conc_queue_shutdown(&q, true));
        assert_true(conc_queue_empty(&q));
        assert_rc(CONC_ECLOSED, conc_queue_get(&q, &(int){ 0 }, CONC_FOREVER));
        assert_rc(CONC_ECLOSED, put_int(&q, 9, CONC_NOWAIT));
        assert_rc(CONC_EAGAIN, conc_queue_join(&q, CONC_NOWAIT));
        assert_rc(0, conc_queue_task_done(&q)); /* the one that was got */
        assert_rc(0, conc_queue_join(&q, CONC_NOWAIT));
        assert_rc(CONC_EOVERFLOW, conc_queue_task_done(&q));
        assert_rc(0, conc_queue_destroy(&q));
    }
}

static void immediate_shutdown_wakes_getters_and_releases_joiners(void **state)
{
    conc_queue_t q;
    struct call get, join;

    init_kind(&q, sizeof(int), 4, CONC_QUEUE_FIFO);
    start_call(&get, &q, OP_GET, -1);
    wait_for_waiters(&q, &q.getters_, 1);
    assert_rc(0, put_int(&q, 1, CONC_NOWAIT)); /* handed to the getter */
    finish_call(&get);
    assert_rc(0, get.rc);
    assert_rc(0, conc_queue_task_done(&q));
    assert_rc(0, put_int(&q, 2, CONC_NOWAIT));
    start_call(&join, &q, OP_JOIN, 0);
    wait_for_waiters(&q, &q.joiners_, 1);
    start_call(&get, &q, OP_GET, -1);
    /* The getter takes item 2 or finds the queue shut down; either way the
     * joiner is released, by task_done or by the discard. */
    assert_rc(0, conc_queue_shutdown(&q, true));
    finish_call(&get);
    if (get.rc == 0)
        assert_rc(0, conc_queue_task_done(&q));
    else
        assert_rc(CONC_ECLOSED, get.rc);
    finish_call(&join);
    assert_rc(0, join.rc);
    assert_rc(0, conc_queue_destroy(&q));
}

/* Python allows task_done() for items not got yet (up to the number put);
 * the discard then counts only the tasks still unfinished, so done never
 * passes the put count and joiners are not left waiting forever. */
static void immediate_shutdown_after_early_task_dones_releases_joiners(void **state)
{
    for (size_t k = 0; k < 3; k++) {
        conc_queue_t q;

        init_kind(&q, sizeof(int), 4, kinds[k]);
        assert_rc(0, put_int(&q, 1, CONC_NOWAIT));
        assert_rc(0, put_int(&q, 2, CONC_NOWAIT));
        assert_rc(0, conc_queue_task_done(&q));
        assert_rc(0, conc_queue_task_done(&q));
        assert_rc(0, conc_queue_shutdown(&q, true));
        assert_rc(0, conc_queue_join(&q, CONC_NOWAIT));
        assert_rc(CONC_EOVERFLOW, conc_queue_task_done(&q));
        assert_rc(0, conc_queue_destroy(&q));
    }
}

static void immediate_shutdown_after_a_normal_one_discards_what_is_left(void **state)
{
    conc_queue_t q;

    init_kind(&q, sizeof(int), 4, CONC_QUEUE_PRIORITY);
    assert_rc(0, put_int(&q, 1, CONC_NOWAIT));
    assert_rc(0, put_int(&q, 2, CONC_NOWAIT));
    assert_rc(0, conc_queue_shutdown(&q, false));
    assert_rc(0, conc_queue_shutdown(&q, false));
    assert_int_equal(2, conc_queue_qsize(&q));
    assert_rc(0, conc_queue_shutdown(&q, true));
    assert_int_equal(0, conc_queue_qsize(&q));
    assert_rc(0, conc_queue_join(&q, CONC_NOWAIT));
    assert_rc(0, conc_queue_destroy(&q));
}

/* ---- destroy ---------------------------------------------------------------- */

static void destroy_with_a_blocked_waiter_is_ebusy(void **state)
{
    const enum op ops[] = { OP_GET, OP_PUT, OP_JOIN };

    for (int i = 0; i < 3; i++) {
        conc_queue_t q;
        struct call c;

        init_kind(&q, sizeof(int), 1, CONC_QUEUE_FIFO);
        if (ops[i] != OP_GET)
            assert_rc(0, put_int(&q, 1, CONC_NOWAIT)); /* full, one task pending */
        start_call(&c, &q, ops[i], 2);
        conc__waitq_t *wq = ops[i] == OP_GET   ? &q.getters_
                            : ops[i] == OP_PUT ? &q.putters_
                                               : &q.joiners_;
        wait_for_waiters(&q, wq, 1);
        assert_rc(CONC_EBUSY, conc_queue_destroy(&q));
        if (ops[i] == OP_GET) {
            assert_rc(0, put_int(&q, 1, CONC_NOWAIT));
        } else {
            get_int(&q, CONC_FOREVER);
            assert_rc(0, conc_queue_task_done(&q));
            if (ops[i] == OP_PUT)
                get_int(&q, CONC_FOREVER); /* the blocked item came in */
        }
        finish_call(&c);
        assert_rc(0, c.rc);
        assert_rc(0, conc_queue_destroy(&q));
    }
}

/* ---- races: timeouts against hand-offs ------------------------------------ */

struct race {
    conc_queue_t *q;
    _Atomic long *count; /* items got (getters) or put (putters) */
    _Atomic long *sum;
    long items; /* per putter */
    _Atomic int *putters_left;
    unsigned seed;
};

static void *racing_putter(void *arg)
{
    struct race *r = arg;

    for (long i = 1; i <= r->items;) {
        int64_t timeout = (int64_t)(rand_r(&r->seed) % 30) * 1000; /* 0..29 us */
        long v = i;
        int rc = conc_queue_put(r->q, &v, timeout);
        if (rc == 0) {
            atomic_fetch_add(r->sum, v);
            i++;
        } else {
            assert_true(rc == CONC_ETIMEDOUT || rc == CONC_EAGAIN);
        }
    }
    atomic_fetch_sub(r->putters_left, 1);
    return NULL;
}

static void *racing_getter(void *arg)
{
    struct race *r = arg;

    for (;;) {
        int64_t timeout = (int64_t)(rand_r(&r->seed) % 30) * 1000;
        long v = 0;
        int rc = conc_queue_get(r->q, &v, timeout);
        if (rc == 0) {
            assert_true(v > 0);
            atomic_fetch_add(r->sum, -v);
            atomic_fetch_add(r->count, 1);
            continue;
        }
        assert_true(rc == CONC_ETIMEDOUT || rc == CONC_EAGAIN);
        assert_int_equal(0, v); /* a failed get wrote nothing */
        if (atomic_load(r->putters_left) == 0 && conc_queue_empty(r->q))
            return NULL;
    }
}

static void *racing_thread(void *arg)
{
    struct race *r = arg;

    return r->items ? racing_putter(r) : racing_getter(r);
}

static void timeouts_racing_hand_offs_never_lose_or_duplicate_an_item(void **state)
{
    enum { PUTTERS = 3, GETTERS = 3 };
    long items = 20000 * test_stress_scale();

    for (size_t k = 0; k < 3; k++) {
        conc_queue_t q;
        _Atomic long got = 0, sum = 0;
        _Atomic int putters_left = PUTTERS;
        struct race r[PUTTERS + GETTERS];
        conc_queue_attr_t attr = CONC_QUEUE_ATTR_INIT;

        attr.kind = kinds[k];
        attr.compare = kinds[k] == CONC_QUEUE_PRIORITY ? cmp_int : NULL;
        /* Tiny capacity: putters and getters both block and time out often. */
        assert_rc(0, conc_queue_init(&q, sizeof(long), 2, &attr));
        for (int i = 0; i < PUTTERS + GETTERS; i++)
            r[i] = (struct race){
                &q, &got, &sum, i < PUTTERS ? items : 0, &putters_left, (unsigned)i * 7919u + 1
            };
        test_run_threads(PUTTERS + GETTERS, racing_thread, r, sizeof r[0]);
        /* Every item put was got once: the count and the checksum both match. */
        assert_int_equal(PUTTERS * items, atomic_load(&got));
        assert_int_equal(0, atomic_load(&sum));
        assert_true(conc_queue_empty(&q));
        assert_rc(0, conc_queue_destroy(&q));
    }
}

/* A FIFO peek holds off getters for its copy; it must never see a torn or
 * already consumed item. */
struct peeker {
    conc_queue_t *q;
    _Atomic int *stop;
};

static void *peek_loop(void *arg)
{
    struct peeker *p = arg;
    long v;

    while (!atomic_load(p->stop)) {
        int rc = conc_queue_peek(p->q, &v);
        if (rc == 0)
            assert_true(v > 0);
        else
            assert_rc(CONC_EAGAIN, rc);
    }
    return NULL;
}

static void peek_races_getters_and_putters_without_tearing(void **state)
{
    enum { N = 2 };
    long items = 20000 * test_stress_scale();
    conc_queue_t q;
    _Atomic long got = 0, sum = 0;
    _Atomic int putters_left = 1, stop = 0;
    struct race r[N];
    struct peeker p = { &q, &stop };
    conc__os_thread_t t;

    init_kind(&q, sizeof(long), 4, CONC_QUEUE_FIFO);
    r[0] = (struct race){ &q, &got, &sum, items, &putters_left, 1 };
    r[1] = (struct race){ &q, &got, &sum, 0, &putters_left, 2 };
    assert_rc(0, conc__os_thread_start(&t, peek_loop, &p, 0, false));
    test_run_threads(N, racing_thread, r, sizeof r[0]);
    atomic_store(&stop, 1);
    assert_rc(0, conc__os_thread_join(t, NULL));
    assert_int_equal(items, atomic_load(&got));
    assert_int_equal(0, atomic_load(&sum));
    assert_rc(0, conc_queue_destroy(&q));
}

/* Cancellation never loses data: a cancelled get consumes nothing, a
 * cancelled put enqueues nothing, a cancelled join changes no count. */
static void queue_calls_in_a_cancelled_task_return_ecanceled_and_change_nothing(void **state)
{
    static const conc_queue_kind_t blocking_kinds[] = { CONC_QUEUE_FIFO, CONC_QUEUE_LIFO };
    struct test_task task = { 0 };

    for (size_t k = 0; k < 2; k++) {
        conc_queue_attr_t attr = CONC_QUEUE_ATTR_INIT;
        conc_queue_t q;
        uint64_t item = 7, out = 0;
        int rc_get, rc_put, rc_join;

        attr.kind = blocking_kinds[k];
        assert_rc(0, conc_queue_init(&q, sizeof item, 2, &attr));
        atomic_store(&task.cancelled, true);
        test_task_enter(&task);
        rc_get = conc_queue_get(&q, &out, CONC_FOREVER); /* empty */
        conc_queue_put(&q, &item, CONC_NOWAIT);
        conc_queue_put(&q, &item, CONC_NOWAIT);
        rc_put = conc_queue_put(&q, &item, CONC_SEC(30)); /* full */
        rc_join = conc_queue_join(&q, CONC_FOREVER);      /* 2 unfinished */
        test_task_leave(&task);
        assert_rc(CONC_ECANCELED, rc_get);
        assert_rc(CONC_ECANCELED, rc_put);
        assert_rc(CONC_ECANCELED, rc_join);
        assert_int_equal(0, out);
        assert_int_equal(2, conc_queue_qsize(&q));
        for (int i = 0; i < 2; i++) {
            assert_rc(0, conc_queue_get(&q, &out, CONC_NOWAIT));
            assert_int_equal(7, out);
            assert_rc(0, conc_queue_task_done(&q));
        }
        assert_rc(0, conc_queue_join(&q, CONC_NOWAIT));
        assert_rc(0, conc_queue_destroy(&q)); /* no waiter was left queued */
    }
}

/* The ring's fast side skips its barrier only once a second thread uses
 * it (core/handshake.h): tasks of one loop keep sleeps without a system
 * call. The record goes from nobody to this thread to shared, never back. */
static void *put_one_from_another_thread(void *arg)
{
    uint64_t item = 9;

    return conc_queue_put(arg, &item, CONC_NOWAIT) == 0 ? NULL : "put failed";
}

static void ring_is_shared_once_a_second_thread_uses_it(void **state)
{
    conc_queue_t q;
    uint64_t item = 1;
    conc__os_thread_t th;
    void *rc = "not joined";

    (void)state;
    assert_rc(0, conc_queue_init(&q, sizeof item, 8, NULL));
    assert_int_equal(0, atomic_load(&q.users_));
    assert_rc(0, conc_queue_put(&q, &item, CONC_NOWAIT));
    assert_rc(0, conc_queue_get(&q, &item, CONC_NOWAIT));
    assert_int_equal((uintptr_t)conc__os_parker_self(), atomic_load(&q.users_));
    assert_rc(0, conc__os_thread_start(&th, put_one_from_another_thread, &q, 0, false));
    assert_rc(0, conc__os_thread_join(th, &rc));
    assert_null(rc);
    assert_int_equal(CONC__QUEUE_SHARED, atomic_load(&q.users_));
    assert_rc(0, conc_queue_get(&q, &item, CONC_NOWAIT));
    assert_int_equal(9, item);
    assert_int_equal(CONC__QUEUE_SHARED, atomic_load(&q.users_));
    assert_rc(0, conc_queue_destroy(&q));
}

/* A spinning putter refills a full ring in bursts (queue_ring.c): it waits
 * until a quarter of the ring, at most 256 slots, is free from the tail. */
static void room_for_burst_needs_a_quarter_of_the_ring_free(void **state)
{
    static const struct {
        size_t capacity, burst;
    } cases[] = { { 2, 1 }, { 8, 2 }, { 100, 25 }, { 2048, 256 } };

    (void)state;
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        conc_queue_t q;
        uint64_t item = 0;

        assert_rc(0, conc_queue_init(&q, sizeof item, cases[k].capacity, NULL));
        assert_true(conc__ring_room_for_burst(&q));
        /* Around the ring twice, so the test also sees a later lap. */
        for (size_t lap = 0; lap < 2; lap++) {
            for (size_t i = 0; i < cases[k].capacity; i++)
                assert_rc(0, conc_queue_put(&q, &item, CONC_NOWAIT));
            assert_false(conc__ring_room_for_burst(&q));
            for (size_t i = 0; i + 1 < cases[k].burst; i++)
                assert_rc(0, conc_queue_get(&q, &item, CONC_NOWAIT));
            assert_false(conc__ring_room_for_burst(&q)); /* one slot short */
            assert_rc(0, conc_queue_get(&q, &item, CONC_NOWAIT));
            assert_true(conc__ring_room_for_burst(&q));
            while (conc_queue_get(&q, &item, CONC_NOWAIT) == 0)
                ;
        }
        /* A full, shut-down ring lets the put through to report it. */
        for (size_t i = 0; i < cases[k].capacity; i++)
            assert_rc(0, conc_queue_put(&q, &item, CONC_NOWAIT));
        assert_rc(0, conc_queue_shutdown(&q, false));
        assert_true(conc__ring_room_for_burst(&q));
        assert_rc(CONC_ECLOSED, conc_queue_put(&q, &item, CONC_FOREVER));
        assert_rc(0, conc_queue_destroy(&q));
    }
}

/* ...but only for a while: a getter that frees one slot and no more still
 * lets a blocked putter in, at once if it still spins or by the hand-off if
 * it sleeps, and the item goes last. Run many times so that some gets land
 * during the putter's spin. */
static void put_on_a_full_ring_takes_a_single_freed_slot(void **state)
{
    enum { CAP = 64 };

    (void)state;
    for (int round = 0; round < 200; round++) {
        conc_queue_t q;
        struct call c;

        assert_rc(0, conc_queue_init(&q, sizeof(int), CAP, NULL));
        for (int i = 0; i < CAP; i++)
            assert_rc(0, put_int(&q, i, CONC_NOWAIT));
        start_call(&c, &q, OP_PUT, CAP);
        /* Sometimes at once, sometimes a little later. */
        for (int spin = 0; spin < round * 20; spin++)
            conc__os_cpu_relax();
        assert_int_equal(0, get_int(&q, CONC_FOREVER));
        finish_call(&c);
        assert_rc(0, c.rc);
        assert_int_equal(CAP, conc_queue_qsize(&q));
        for (int i = 1; i <= CAP; i++)
            assert_int_equal(i, get_int(&q, CONC_NOWAIT));
        assert_rc(0, conc_queue_destroy(&q));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(queue_calls_in_a_cancelled_task_return_ecanceled_and_change_nothing),
        cmocka_unit_test(init_rejects_null_zero_and_overflowing_sizes),
        cmocka_unit_test(init_rejects_unknown_kind_and_misplaced_comparator),
        cmocka_unit_test(init_rejects_storage_too_small_misaligned_or_missing),
        cmocka_unit_test(init_reports_enomem_when_storage_cannot_be_allocated),
        cmocka_unit_test(storage_size_matches_the_macro_and_is_zero_when_invalid),
        cmocka_unit_test(caller_storage_is_used_and_never_freed),
        cmocka_unit_test(null_or_destroyed_queue_is_einval_everywhere),
        cmocka_unit_test(fifo_gets_items_in_put_order_across_wrap_arounds),
        cmocka_unit_test(lifo_gets_the_last_item_put_first),
        cmocka_unit_test(priority_gets_smallest_first_and_equal_keys_in_put_order),
        cmocka_unit_test(priority_passes_compare_arg_to_the_comparator),
        cmocka_unit_test(try_ops_return_eagain_when_full_or_empty_and_change_nothing),
        cmocka_unit_test(qsize_empty_and_full_follow_the_contents),
        cmocka_unit_test(peek_copies_the_next_item_without_removing_it),
        cmocka_unit_test(timed_get_on_empty_times_out_not_early_and_leaves_out_alone),
        cmocka_unit_test(timed_put_on_full_times_out_not_early_and_does_not_enqueue),
        cmocka_unit_test(blocked_get_is_handed_the_next_item_put),
        cmocka_unit_test(blocked_put_is_moved_in_when_a_get_makes_room),
        cmocka_unit_test(blocked_getters_are_served_in_arrival_order),
        cmocka_unit_test(task_done_more_than_puts_is_eoverflow_and_changes_nothing),
        cmocka_unit_test(join_waits_until_every_item_put_is_done),
        cmocka_unit_test(last_task_done_wakes_every_blocked_joiner),
        cmocka_unit_test(shutdown_makes_every_later_put_fail_with_eclosed),
        cmocka_unit_test(shutdown_wakes_blocked_putters_with_eclosed),
        cmocka_unit_test(normal_shutdown_lets_getters_drain_then_returns_eclosed),
        cmocka_unit_test(shutdown_wakes_blocked_getters_of_an_empty_queue_with_eclosed),
        cmocka_unit_test(immediate_shutdown_discards_items_and_counts_them_done),
        cmocka_unit_test(immediate_shutdown_wakes_getters_and_releases_joiners),
        cmocka_unit_test(immediate_shutdown_after_a_normal_one_discards_what_is_left),
        cmocka_unit_test(immediate_shutdown_after_early_task_dones_releases_joiners),
        cmocka_unit_test(destroy_with_a_blocked_waiter_is_ebusy),
        cmocka_unit_test(timeouts_racing_hand_offs_never_lose_or_duplicate_an_item),
        cmocka_unit_test(peek_races_getters_and_putters_without_tearing),
        cmocka_unit_test(room_for_burst_needs_a_quarter_of_the_ring_free),
        cmocka_unit_test(put_on_a_full_ring_takes_a_single_freed_slot),
        cmocka_unit_test(ring_is_shared_once_a_second_thread_uses_it),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
