#include <string.h>

#include "helpers.h"

static void every_code_has_a_distinct_negative_value_and_message(void **state)
{
    static const int codes[] = {
#define X_(name, value, msg) name,
        CONC_ERROR_LIST(X_)
#undef X_
    };
    size_t n = sizeof codes / sizeof codes[0];

    for (size_t i = 0; i < n; i++) {
        assert_true(codes[i] < 0);
        assert_string_not_equal("unknown error", conc_strerror(codes[i]));
        assert_string_not_equal("CONC_E?", conc_strerror_name(codes[i]));
        for (size_t j = i + 1; j < n; j++)
            assert_int_not_equal(codes[i], codes[j]);
    }
}

static void strerror_names_success_and_known_codes(void **state)
{
    assert_string_equal("success", conc_strerror(0));
    assert_string_equal("timed out", conc_strerror(CONC_ETIMEDOUT));
    assert_string_equal("CONC_ETIMEDOUT", conc_strerror_name(CONC_ETIMEDOUT));
    assert_string_equal("CONC_EOVERFLOW", conc_strerror_name(CONC_EOVERFLOW));
    assert_string_equal("0", conc_strerror_name(0));
}

static void strerror_of_unknown_values_is_never_null(void **state)
{
    assert_string_equal("unknown error", conc_strerror(12345));
    assert_string_equal("unknown error", conc_strerror(-9999));
    assert_string_equal("unknown error", conc_strerror(INT32_MIN));
    assert_string_equal("CONC_E?", conc_strerror_name(7));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_code_has_a_distinct_negative_value_and_message),
        cmocka_unit_test(strerror_names_success_and_known_codes),
        cmocka_unit_test(strerror_of_unknown_values_is_never_null),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
