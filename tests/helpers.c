#include "helpers.h"

#include <stdio.h>
#include <stdlib.h>

#include "os/os.h"

long test_stress_scale(void)
{
    const char *env = getenv("CONC_STRESS_SCALE");
    long scale = env ? strtol(env, NULL, 10) : CONC_TEST_STRESS_SCALE;

    return scale > 0 ? scale : 1;
}

void test_assert_rc_(int expected, int actual, const char *file, int line)
{
    if (expected == actual)
        return;
    print_error("%s:%d: expected %s (%d), got %s (%d: %s)\n", file, line,
                conc_strerror_name(expected), expected, conc_strerror_name(actual), actual,
                conc_strerror(actual));
    fail();
}

void test_run_threads(int n, test_thread_fn fn, void *args, size_t arg_size)
{
    conc__os_thread_t *t = calloc((size_t)n, sizeof *t);

    assert_non_null(t);
    for (int i = 0; i < n; i++)
        assert_int_equal(
            0, conc__os_thread_start(&t[i], fn, (char *)args + (size_t)i * arg_size, 0, false));
    for (int i = 0; i < n; i++)
        assert_int_equal(0, conc__os_thread_join(t[i], NULL));
    free(t);
}

void test_gate_wait(struct test_gate *g)
{
    while (!atomic_load(&g->open))
        conc_sleep(CONC_US(100));
}

void test_gate_open(struct test_gate *g)
{
    atomic_store(&g->open, 1);
}
