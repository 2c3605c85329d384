/*
 * Coroutines under load: threads sharing the stack caches, suspended
 * coroutines handed from thread to thread, and the memory-map limit of
 * guard-page stacks. Sized by test_stress_scale(); a few seconds at 1.
 */
#include <stdlib.h>

#include "conc/coro.h"
#include "helpers.h"
#include "os/os.h"

enum { THREADS = 4 };

/* ---- create, run, destroy on several threads at once -------------------- */

static void *sum_to(void *arg, void *in)
{
    intptr_t n = (intptr_t)arg, sum = 0;

    (void)in;
    for (intptr_t i = 1; i <= n; i++) {
        sum += i;
        if (i % 4 == 0)
            conc_coro_yield(NULL, NULL);
    }
    return (void *)sum;
}

static void *churn(void *arg)
{
    static const int modes[] = { CONC_CORO_STACK_GUARD, CONC_CORO_STACK_CANARY };
    /* Creating a coroutine creates a TSan fiber: about 0.3 ms each. */
    long rounds = (UNDER_TSAN ? 300 : 5000) * test_stress_scale();
    long *bad = arg;

    for (long r = 0; r < rounds; r++) {
        conc_coro_attr_t a = CONC_CORO_ATTR_INIT;
        intptr_t n = 1 + r % 17;
        conc_coro_t co[3];
        void *out = NULL;

        a.stack_mode = modes[r % 2];
        a.stack_size = (size_t)(r % 3 + 1) * CONC_CORO_STACK_MIN;
        for (int i = 0; i < 3; i++)
            assert_rc(0, conc_coro_create(&co[i], &a, sum_to, (void *)n));
        for (int i = 0; i < 3; i++) {
            while (conc_coro_status(&co[i]) != CONC_CORO_DONE)
                assert_rc(0, conc_coro_resume(&co[i], NULL, &out));
            *bad += (intptr_t)out != n * (n + 1) / 2;
        }
        for (int i = 0; i < 3; i++)
            assert_rc(0, conc_coro_destroy(&co[i]));
    }
    return NULL;
}

static void threads_create_run_and_destroy_concurrently(void **state)
{
    long bad[THREADS] = { 0 };

    (void)state;
    test_run_threads(THREADS, churn, bad, sizeof bad[0]);
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(0, bad[i]);
}

/* ---- suspended coroutines passed between threads ------------------------- */

enum { POOL = 64 };

struct pool {
    conc__os_lock_t lock;
    conc_coro_t *free[POOL];
    int nfree;
    long resumes_left;
};

struct walker {
    conc_coro_t co;
    long steps;
};

static void *walk(void *arg, void *in)
{
    struct walker *w = arg;

    (void)in;
    for (;;) {
        w->steps++;
        conc_coro_yield(NULL, NULL);
    }
    return NULL;
}

/* Take a suspended coroutine (or NULL when the budget is spent). */
static conc_coro_t *pool_take(struct pool *p)
{
    conc_coro_t *co = NULL;

    conc__os_lock(&p->lock);
    if (p->resumes_left > 0 && p->nfree > 0) {
        p->resumes_left--;
        co = p->free[--p->nfree];
    }
    conc__os_unlock(&p->lock);
    return co;
}

static void pool_give(struct pool *p, conc_coro_t *co)
{
    conc__os_lock(&p->lock);
    p->free[p->nfree++] = co;
    conc__os_unlock(&p->lock);
}

static void *migrate(void *arg)
{
    struct pool *p = *(struct pool **)arg;

    for (;;) {
        conc_coro_t *co = pool_take(p);
        if (!co) {
            conc__os_lock(&p->lock);
            bool done = p->resumes_left == 0;
            conc__os_unlock(&p->lock);
            if (done)
                return NULL;
            conc__os_thread_yield();
            continue;
        }
        assert_rc(0, conc_coro_resume(co, NULL, NULL));
        pool_give(p, co);
    }
}

static void suspended_coroutines_move_between_threads_without_loss(void **state)
{
    struct walker *w = calloc(POOL, sizeof *w);
    struct pool *p = calloc(1, sizeof *p);
    struct pool *args[THREADS];
    long total = 0, budget = 200000 * test_stress_scale();

    (void)state;
    assert_non_null(w);
    assert_non_null(p);
    p->resumes_left = budget;
    for (int i = 0; i < POOL; i++) {
        conc_coro_attr_t a = CONC_CORO_ATTR_INIT;
        a.stack_mode = i % 2 ? CONC_CORO_STACK_CANARY : CONC_CORO_STACK_GUARD;
        assert_rc(0, conc_coro_create(&w[i].co, &a, walk, &w[i]));
        p->free[p->nfree++] = &w[i].co;
    }
    for (int i = 0; i < THREADS; i++)
        args[i] = p;
    test_run_threads(THREADS, migrate, args, sizeof args[0]);
    for (int i = 0; i < POOL; i++) {
        total += w[i].steps;
        assert_rc(0, conc_coro_destroy(&w[i].co));
    }
    assert_int_equal(budget, total);
    free(w);
    free(p);
}

/* ---- the memory-map limit ------------------------------------------------- */

static void guard_stacks_past_the_map_limit_fail_with_enomem(void **state)
{
    enum { CAP = 400000 };
    conc_coro_t *co;
    long n = 0;
    int rc = 0;

    (void)state;
    /* Sanitizers map memory of their own, and TSan allows 8128 fibers. */
    if (UNDER_SANITIZER)
        skip();
    co = calloc(CAP, sizeof *co);
    assert_non_null(co);
    while (n < CAP && (rc = conc_coro_create(&co[n], NULL, walk, NULL)) == 0)
        n++;
    if (n < CAP)
        assert_rc(CONC_ENOMEM, rc);
    /* Canary stacks need no map entry of their own: still available. */
    {
        conc_coro_attr_t a = CONC_CORO_ATTR_INIT;
        conc_coro_t extra;
        a.stack_mode = CONC_CORO_STACK_CANARY;
        rc = conc_coro_create(&extra, &a, walk, NULL);
        if (rc == 0)
            assert_rc(0, conc_coro_destroy(&extra));
    }
    while (n > 0)
        assert_rc(0, conc_coro_destroy(&co[--n]));
    assert_rc(0, conc_coro_create(&co[0], NULL, walk, NULL));
    assert_rc(0, conc_coro_destroy(&co[0]));
    free(co);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(threads_create_run_and_destroy_concurrently),
        cmocka_unit_test(suspended_coroutines_move_between_threads_without_loss),
        cmocka_unit_test(guard_stacks_past_the_map_limit_fail_with_enomem),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
