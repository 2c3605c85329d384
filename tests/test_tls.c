/*
 * Thread-local storage (conc_tls_* in conc/thread.h): per-thread values,
 * destructors at thread exit (also of foreign threads), bad keys, limits.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conc/thread.h"
#include "core/thread_internal.h"
#include "helpers.h"
#include "os/os.h"

struct counter {
    _Atomic int n;
};

static void count_destructor(void *value)
{
    struct counter *c = value;

    atomic_fetch_add(&c->n, 1);
}

/* ---- thread-local storage --------------------------------------------------- */

struct tls_case {
    conc_tls_key_t key;
    struct counter destroyed;
    int rc_get_before, rc_destroyed_at_join;
    void *before;
    void *after;
};

static void *set_and_read(void *arg)
{
    struct tls_case *c = arg;

    c->rc_get_before = conc_tls_get(c->key, &c->before);
    assert_rc(0, conc_tls_set(c->key, &c->destroyed));
    assert_rc(0, conc_tls_get(c->key, &c->after));
    return NULL;
}

static void tls_values_are_per_thread_and_start_null(void **state)
{
    struct tls_case c = { 0 };
    conc_thread_t t;
    void *v = &v;
    int x;

    assert_rc(0, conc_tls_create(&c.key, NULL));
    assert_rc(0, conc_tls_get(c.key, &v));
    assert_null(v);
    assert_rc(0, conc_tls_set(c.key, &x));
    assert_rc(0, conc_thread_create(&t, NULL, set_and_read, &c));
    assert_rc(0, conc_thread_join(&t, NULL, CONC_FOREVER));
    assert_rc(0, c.rc_get_before);
    assert_null(c.before);
    assert_ptr_equal(&c.destroyed, c.after);
    assert_rc(0, conc_tls_get(c.key, &v));
    assert_ptr_equal(&x, v);
    assert_rc(0, conc_tls_set(c.key, NULL));
    assert_rc(0, conc_tls_delete(c.key));
}

static void tls_destructor_runs_at_thread_exit_before_join_returns(void **state)
{
    struct tls_case c = { 0 };
    conc_thread_t t;

    assert_rc(0, conc_tls_create(&c.key, count_destructor));
    assert_rc(0, conc_thread_create(&t, NULL, set_and_read, &c));
    assert_rc(0, conc_thread_join(&t, NULL, CONC_FOREVER));
    assert_int_equal(1, atomic_load(&c.destroyed.n));
    assert_rc(0, conc_tls_delete(c.key));
}

static void *set_null(void *arg)
{
    struct tls_case *c = arg;

    assert_rc(0, conc_tls_set(c->key, &c->destroyed));
    assert_rc(0, conc_tls_set(c->key, NULL));
    return NULL;
}

static void tls_destructor_is_not_called_for_null_values(void **state)
{
    struct tls_case c = { 0 };
    conc_thread_t t;

    assert_rc(0, conc_tls_create(&c.key, count_destructor));
    assert_rc(0, conc_thread_create(&t, NULL, set_null, &c));
    assert_rc(0, conc_thread_join(&t, NULL, CONC_FOREVER));
    assert_int_equal(0, atomic_load(&c.destroyed.n));
    assert_rc(0, conc_tls_delete(c.key));
}

static void *set_in_foreign_thread(void *arg)
{
    struct tls_case *c = arg;

    assert_rc(0, conc_tls_set(c->key, &c->destroyed));
    return NULL;
}

static void tls_destructor_runs_when_a_foreign_thread_exits(void **state)
{
    struct tls_case c = { 0 };

    assert_rc(0, conc_tls_create(&c.key, count_destructor));
    test_run_threads(1, set_in_foreign_thread, &c, sizeof c);
    assert_int_equal(1, atomic_load(&c.destroyed.n));
    assert_rc(0, conc_tls_delete(c.key));
}

static conc_tls_key_t resetting_key;

static void reset_value(void *value)
{
    /* Destructors may set values again: they get further rounds. */
    count_destructor(value);
    assert_rc(0, conc_tls_set(resetting_key, value));
}

static void *set_resetting(void *arg)
{
    assert_rc(0, conc_tls_set(resetting_key, arg));
    return NULL;
}

static void tls_destructors_that_set_values_get_a_bounded_number_of_rounds(void **state)
{
    struct counter calls = { 0 };
    conc_thread_t t;

    assert_rc(0, conc_tls_create(&resetting_key, reset_value));
    assert_rc(0, conc_thread_create(&t, NULL, set_resetting, &calls));
    assert_rc(0, conc_thread_join(&t, NULL, CONC_FOREVER));
    assert_int_equal(CONC_TLS_DESTRUCTOR_ITERATIONS, atomic_load(&calls.n));
    assert_rc(0, conc_tls_delete(resetting_key));
}

struct deleted_case {
    conc_tls_key_t key;
    struct counter destroyed;
    struct test_gate set, deleted;
};

static void *set_then_wait_for_delete(void *arg)
{
    struct deleted_case *d = arg;

    assert_rc(0, conc_tls_set(d->key, &d->destroyed));
    test_gate_open(&d->set);
    test_gate_wait(&d->deleted);
    return NULL;
}

static void tls_deleted_key_is_rejected_and_its_values_are_forgotten(void **state)
{
    struct deleted_case d = { 0 };
    conc_thread_t t;
    void *v = &v;

    assert_rc(0, conc_tls_create(&d.key, count_destructor));
    assert_rc(0, conc_thread_create(&t, NULL, set_then_wait_for_delete, &d));
    test_gate_wait(&d.set);
    assert_rc(0, conc_tls_delete(d.key));
    test_gate_open(&d.deleted);
    assert_rc(0, conc_thread_join(&t, NULL, CONC_FOREVER));
    assert_int_equal(0, atomic_load(&d.destroyed.n)); /* like pthread_key_delete */
    assert_rc(CONC_EINVAL, conc_tls_get(d.key, &v));
    assert_ptr_equal(&v, v);
    assert_rc(CONC_EINVAL, conc_tls_set(d.key, &v));
    assert_rc(CONC_EINVAL, conc_tls_delete(d.key));
}

static void tls_key_reused_after_delete_does_not_see_old_values(void **state)
{
    conc_tls_key_t a, b;
    void *v;
    int x;

    assert_rc(0, conc_tls_create(&a, NULL));
    assert_rc(0, conc_tls_set(a, &x));
    assert_rc(0, conc_tls_delete(a));
    assert_rc(0, conc_tls_create(&b, NULL));
    assert_int_equal(a.index_, b.index_); /* the same slot, a new key */
    assert_rc(0, conc_tls_get(b, &v));
    assert_null(v);
    assert_rc(0, conc_tls_delete(b));
}

static void tls_rejects_bad_keys_and_arguments(void **state)
{
    conc_tls_key_t zero = CONC_TLS_KEY_INIT, out_of_range = { CONC_TLS_KEYS_MAX, 1 }, k;
    void *v = &v;

    assert_rc(CONC_EINVAL, conc_tls_create(NULL, NULL));
    assert_rc(CONC_EINVAL, conc_tls_get(zero, &v));
    assert_rc(CONC_EINVAL, conc_tls_set(zero, v));
    assert_rc(CONC_EINVAL, conc_tls_delete(zero));
    assert_rc(CONC_EINVAL, conc_tls_get(out_of_range, &v));
    assert_rc(CONC_EINVAL, conc_tls_set(out_of_range, v));
    assert_rc(CONC_EINVAL, conc_tls_delete(out_of_range));
    assert_rc(0, conc_tls_create(&k, NULL));
    assert_rc(CONC_EINVAL, conc_tls_get(k, NULL));
    assert_rc(CONC_EINVAL, conc_tls_get((conc_tls_key_t){ k.index_, k.gen_ + 2 }, &v));
    assert_ptr_equal(&v, v);
    assert_rc(0, conc_tls_delete(k));
}

static void tls_keys_run_out_at_the_maximum(void **state)
{
    conc_tls_key_t *keys = calloc(CONC_TLS_KEYS_MAX, sizeof *keys);
    conc_tls_key_t extra;
    int n = 0;

    assert_non_null(keys);
    while (n < CONC_TLS_KEYS_MAX && conc_tls_create(&keys[n], NULL) == 0)
        n++;
    assert_true(n > CONC_TLS_KEYS_MAX - 8); /* others of this process may hold some */
    assert_rc(CONC_ELIMIT, conc_tls_create(&extra, NULL));
    /* The highest key works in a thread's table too. */
    assert_rc(0, conc_tls_set(keys[n - 1], keys));
    assert_rc(0, conc_tls_set(keys[n - 1], NULL));
    for (int i = 0; i < n; i++)
        assert_rc(0, conc_tls_delete(keys[i]));
    assert_rc(0, conc_tls_create(&extra, NULL));
    assert_rc(0, conc_tls_delete(extra));
    free(keys);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tls_values_are_per_thread_and_start_null),
        cmocka_unit_test(tls_destructor_runs_at_thread_exit_before_join_returns),
        cmocka_unit_test(tls_destructor_is_not_called_for_null_values),
        cmocka_unit_test(tls_destructor_runs_when_a_foreign_thread_exits),
        cmocka_unit_test(tls_destructors_that_set_values_get_a_bounded_number_of_rounds),
        cmocka_unit_test(tls_deleted_key_is_rejected_and_its_values_are_forgotten),
        cmocka_unit_test(tls_key_reused_after_delete_does_not_see_old_values),
        cmocka_unit_test(tls_rejects_bad_keys_and_arguments),
        cmocka_unit_test(tls_keys_run_out_at_the_maximum),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
