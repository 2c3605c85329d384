#include "helpers.h"

static void unit_macros_convert_to_nanoseconds(void **state)
{
    assert_true(CONC_US(3) == 3000);
    assert_true(CONC_MS(2) == 2000000);
    assert_true(CONC_SEC(5) == INT64_C(5000000000));
    assert_true(CONC_NOWAIT == 0);
    assert_true(CONC_FOREVER < 0);
    assert_true(CONC_TIMEOUT_MAX > CONC_SEC(86400) * 365 * 100);
}

static void monotonic_clock_never_goes_backwards(void **state)
{
    int64_t prev = conc_now_ns();

    for (int i = 0; i < 100000; i++) {
        int64_t now = conc_now_ns();
        assert_true(now >= prev);
        prev = now;
    }
}

static void sleep_never_returns_early(void **state)
{
    for (int i = 0; i < 20; i++) {
        int64_t start = conc_now_ns();
        assert_rc(0, conc_sleep(CONC_US(300)));
        assert_true(conc_now_ns() - start >= CONC_US(300));
    }
}

static void sleep_of_zero_or_negative_returns_at_once(void **state)
{
    int64_t start = conc_now_ns();

    assert_rc(0, conc_sleep(0));
    assert_rc(0, conc_sleep(-5));
    assert_rc(0, conc_sleep(CONC_FOREVER));
    assert_true(conc_now_ns() - start < CONC_MS(100));
}

static void sleep_until_a_past_deadline_returns_at_once(void **state)
{
    int64_t start = conc_now_ns();

    assert_rc(0, conc_sleep_until(start - CONC_SEC(1)));
    assert_rc(0, conc_sleep_until(start + CONC_MS(1)));
    assert_true(conc_now_ns() >= start + CONC_MS(1));
}

static void deadline_after_clamps_and_keeps_forever(void **state)
{
    int64_t now = conc_now_ns();

    assert_true(conc_deadline_after(CONC_FOREVER) < 0);
    assert_true(conc_deadline_after(-123) < 0);
    assert_true(conc_deadline_after(0) >= now);
    /* INT64_MAX must not overflow into a past (negative) deadline. */
    assert_true(conc_deadline_after(INT64_MAX) > now);
    assert_true(conc_deadline_after(INT64_MAX) <= now + CONC_TIMEOUT_MAX + CONC_SEC(60));
}

static void timeout_left_counts_down_to_zero(void **state)
{
    int64_t d = conc_deadline_after(CONC_MS(5));

    assert_true(conc_timeout_left(d) <= CONC_MS(5));
    assert_true(conc_timeout_left(d) > 0);
    assert_true(conc_timeout_left(CONC_FOREVER) < 0);
    assert_true(conc_timeout_left(conc_now_ns() - 1) == 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(unit_macros_convert_to_nanoseconds),
        cmocka_unit_test(monotonic_clock_never_goes_backwards),
        cmocka_unit_test(sleep_never_returns_early),
        cmocka_unit_test(sleep_of_zero_or_negative_returns_at_once),
        cmocka_unit_test(sleep_until_a_past_deadline_returns_at_once),
        cmocka_unit_test(deadline_after_clamps_and_keeps_forever),
        cmocka_unit_test(timeout_left_counts_down_to_zero),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
