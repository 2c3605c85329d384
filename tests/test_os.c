/* The OS layer's contracts, as docs/porting.md states them. */
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "os/os.h"

static void *return_arg(void *arg)
{
    return arg;
}

static void thread_start_and_join_deliver_the_result(void **state)
{
    conc__os_thread_t t;
    void *result = NULL;
    int x;

    assert_rc(0, conc__os_thread_start(&t, return_arg, &x, 0, false));
    assert_rc(0, conc__os_thread_join(t, &result));
    assert_ptr_equal(&x, result);
}

static void thread_start_with_a_stack_size_works(void **state)
{
    conc__os_thread_t t;

    assert_rc(0, conc__os_thread_start(&t, return_arg, NULL, 256 * 1024 + 123, false));
    assert_rc(0, conc__os_thread_join(t, NULL));
}

static void park_times_out_at_its_deadline_not_before(void **state)
{
    conc__os_parker_t *p = conc__os_parker_self();
    int64_t deadline = conc_now_ns() + CONC_MS(2);

    assert_rc(CONC_ETIMEDOUT, conc__os_park(p, deadline));
    assert_true(conc_now_ns() >= deadline);
}

static void unpark_before_park_is_not_lost(void **state)
{
    conc__os_parker_t *p = conc__os_parker_self();

    conc__os_unpark(p);
    conc__os_unpark(p); /* tokens do not accumulate */
    assert_rc(0, conc__os_park(p, CONC_FOREVER));
    assert_rc(CONC_ETIMEDOUT, conc__os_park(p, conc_now_ns()));
}

struct pingpong {
    conc__os_parker_t *main_parker;
    _Atomic(conc__os_parker_t *) peer_parker;
    _Atomic int turn;
    int rounds;
};

static void *pong(void *arg)
{
    struct pingpong *pp = arg;

    conc__os_parker_t *self = conc__os_parker_self();

    atomic_store(&pp->peer_parker, self);
    for (int i = 0; i < pp->rounds; i++) {
        while (atomic_load(&pp->turn) != 1)
            conc__os_park(self, CONC_FOREVER);
        atomic_store(&pp->turn, 0);
        conc__os_unpark(pp->main_parker);
    }
    return NULL;
}

static void park_and_unpark_ping_pong_between_threads(void **state)
{
    struct pingpong pp = { .main_parker = conc__os_parker_self(), .rounds = 20000 };
    conc__os_thread_t t;
    conc__os_parker_t *peer;

    atomic_store(&pp.turn, 0);
    atomic_store(&pp.peer_parker, NULL);
    assert_rc(0, conc__os_thread_start(&t, pong, &pp, 0, false));
    while (!(peer = atomic_load(&pp.peer_parker)))
        conc__os_thread_yield();
    for (int i = 0; i < pp.rounds; i++) {
        atomic_store(&pp.turn, 1);
        conc__os_unpark(peer);
        while (atomic_load(&pp.turn) != 0)
            conc__os_park(pp.main_parker, CONC_FOREVER);
    }
    assert_rc(0, conc__os_thread_join(t, NULL));
}

static conc__os_lock_t counter_lock = CONC__OS_LOCK_INIT;
static long counter;

static void *count_under_lock(void *arg)
{
    for (int i = 0; i < 200000; i++) {
        conc__os_lock(&counter_lock);
        counter++;
        conc__os_unlock(&counter_lock);
    }
    return NULL;
}

static void internal_lock_excludes_four_threads(void **state)
{
    char args[4];

    counter = 0;
    test_run_threads(4, count_under_lock, args, 1);
    assert_int_equal(4 * 200000, counter);
    assert_int_equal(0, atomic_load(&counter_lock));
}

static void addr_wait_returns_at_once_when_the_value_differs(void **state)
{
    _Atomic uint32_t word = 5;

    assert_rc(0, conc__os_addr_wait(&word, 4, CONC_FOREVER));
    assert_rc(CONC_ETIMEDOUT, conc__os_addr_wait(&word, 5, conc_now_ns() + CONC_US(100)));
}

struct late_change {
    _Atomic uint32_t word;
};

static void *change_word_later(void *arg)
{
    struct late_change *c = arg;

    conc_sleep(CONC_MS(20));
    atomic_store(&c->word, 6);
    conc__os_addr_wake_all(&c->word);
    return NULL;
}

/* Deadlines past what a 32-bit time_t holds must still mean "wait", never an
 * immediate timeout or a busy loop. */
static void addr_wait_with_the_farthest_deadline_blocks_until_woken(void **state)
{
    struct late_change c = { 5 };
    conc__os_thread_t t;
    int rounds = 0;

    assert_rc(0, conc__os_thread_start(&t, change_word_later, &c, 0, false));
    while (atomic_load(&c.word) == 5) {
        assert_rc(0, conc__os_addr_wait(&c.word, 5, conc_deadline_after(CONC_TIMEOUT_MAX)));
        rounds++;
    }
    assert_true(rounds < 100);
    assert_rc(0, conc__os_thread_join(t, NULL));
}

static void park_with_the_farthest_deadline_waits_for_the_token(void **state)
{
    conc__os_parker_t *p = conc__os_parker_self();

    conc__os_unpark(p);
    assert_rc(0, conc__os_park(p, conc_deadline_after(CONC_TIMEOUT_MAX)));
}

static void machine_facts_are_sane(void **state)
{
    size_t page = conc__os_page_size();

    assert_true(conc__os_cpu_count() >= 1);
    assert_true(page >= 4096 && (page & (page - 1)) == 0);
    assert_true(conc__os_thread_min_stack() > 0);
    assert_true(conc__os_thread_native_id() > 0);
}

static void stack_map_gives_writable_memory_with_a_guard(void **state)
{
    void *base = NULL;
    size_t size = 64 * 1024;

    assert_rc(0, conc__os_stack_map(size, true, &base));
    memset(base, 0xA5, size);
    conc__os_stack_unmap(base, size, true);
    assert_rc(0, conc__os_stack_map(size, false, &base));
    memset(base, 0x5A, size);
    conc__os_stack_unmap(base, size, false);
}

static int destructor_calls;

static void count_destructor(void *value)
{
    destructor_calls += *(int *)value;
}

static void *set_tls(void *arg)
{
    static int one = 1;
    conc__os_tls_key_t *key = arg;

    assert_null(conc__os_tls_get(*key));
    conc__os_tls_set(*key, &one);
    assert_ptr_equal(&one, conc__os_tls_get(*key));
    return NULL;
}

static void tls_values_are_per_thread_with_destructors(void **state)
{
    conc__os_tls_key_t key;
    conc__os_thread_t t;

    destructor_calls = 0;
    assert_rc(0, conc__os_tls_create(&key, count_destructor));
    assert_rc(0, conc__os_thread_start(&t, set_tls, &key, 0, false));
    assert_rc(0, conc__os_thread_join(t, NULL));
    assert_int_equal(1, destructor_calls);
    assert_null(conc__os_tls_get(key));
    conc__os_tls_delete(key);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(thread_start_and_join_deliver_the_result),
        cmocka_unit_test(thread_start_with_a_stack_size_works),
        cmocka_unit_test(park_times_out_at_its_deadline_not_before),
        cmocka_unit_test(unpark_before_park_is_not_lost),
        cmocka_unit_test(park_and_unpark_ping_pong_between_threads),
        cmocka_unit_test(internal_lock_excludes_four_threads),
        cmocka_unit_test(addr_wait_returns_at_once_when_the_value_differs),
        cmocka_unit_test(addr_wait_with_the_farthest_deadline_blocks_until_woken),
        cmocka_unit_test(park_with_the_farthest_deadline_waits_for_the_token),
        cmocka_unit_test(machine_facts_are_sane),
        cmocka_unit_test(stack_map_gives_writable_memory_with_a_guard),
        cmocka_unit_test(tls_values_are_per_thread_with_destructors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
