/*
 * A small stand-in for CMocka, used only to run libconc's test programs on
 * cross targets under qemu-user: Debian ships no cross-architecture CMocka
 * package (and bookworm has no riscv64 packages at all). It implements the
 * subset of the CMocka API the tests use, with CMocka's names and output
 * format; scripts/cross-test.sh builds it per target. Native builds use the
 * real CMocka.
 */
#ifndef CONC_CROSS_CMOCKA_H
#define CONC_CROSS_CMOCKA_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

typedef uintmax_t LargestIntegralType;
typedef void (*CMUnitTestFunction)(void **state);
typedef int (*CMFixtureFunction)(void **state);

struct CMUnitTest {
    const char *name;
    CMUnitTestFunction test_func;
    CMFixtureFunction setup_func;
    CMFixtureFunction teardown_func;
    void *initial_state;
};

#define cmocka_unit_test(f)     \
    {                           \
#        f, f, NULL, NULL, NULL \
    }
#define cmocka_unit_test_setup(f, setup) \
    {                                    \
#        f, f, setup, NULL, NULL         \
    }
#define cmocka_unit_test_teardown(f, teardown) \
    {                                          \
#        f, f, NULL, teardown, NULL            \
    }
#define cmocka_unit_test_setup_teardown(f, setup, teardown) \
    {                                                       \
#        f, f, setup, teardown, NULL                        \
    }
#define cmocka_unit_test_prestate(f, state) \
    {                                       \
#        f, f, NULL, NULL, state            \
    }
#define cmocka_unit_test_prestate_setup_teardown(f, setup, teardown, state) \
    {                                                                       \
#        f, f, setup, teardown, state                                       \
    }

int cm_run_group(const char *name, const struct CMUnitTest *tests, size_t n,
                 CMFixtureFunction setup, CMFixtureFunction teardown);
#define cmocka_run_group_tests(tests, setup, teardown) \
    cm_run_group(#tests, tests, sizeof(tests) / sizeof((tests)[0]), setup, teardown)
#define cmocka_run_group_tests_name(name, tests, setup, teardown) \
    cm_run_group(name, tests, sizeof(tests) / sizeof((tests)[0]), setup, teardown)

void print_message(const char *format, ...) __attribute__((format(printf, 1, 2)));
void print_error(const char *format, ...) __attribute__((format(printf, 1, 2)));

__attribute__((noreturn)) void cm_fail(const char *file, int line, const char *format, ...)
    __attribute__((format(printf, 3, 4)));
__attribute__((noreturn)) void cm_skip(const char *file, int line);
void cm_check_int(LargestIntegralType a, LargestIntegralType b, int equal, const char *file,
                  int line);
void cm_check_str(const char *a, const char *b, int equal, const char *file, int line);
void cm_check_mem(const void *a, const void *b, size_t size, int equal, const char *file, int line);
void cm_check_range(LargestIntegralType v, LargestIntegralType min, LargestIntegralType max,
                    int inside, const char *file, int line);

#define fail() cm_fail(__FILE__, __LINE__, "Failure!")
#define fail_msg(...) cm_fail(__FILE__, __LINE__, __VA_ARGS__)
#define skip() cm_skip(__FILE__, __LINE__)

#define assert_true(c) ((c) ? (void)0 : cm_fail(__FILE__, __LINE__, "%s", #c))
#define assert_false(c) (!(c) ? (void)0 : cm_fail(__FILE__, __LINE__, "%s", #c))
#define assert_null(p) ((p) == NULL ? (void)0 : cm_fail(__FILE__, __LINE__, "%s is not NULL", #p))
#define assert_non_null(p) ((p) != NULL ? (void)0 : cm_fail(__FILE__, __LINE__, "%s is NULL", #p))
#define assert_int_equal(a, b) \
    cm_check_int((LargestIntegralType)(a), (LargestIntegralType)(b), 1, __FILE__, __LINE__)
#define assert_int_not_equal(a, b) \
    cm_check_int((LargestIntegralType)(a), (LargestIntegralType)(b), 0, __FILE__, __LINE__)
/* Through an integer, as CMocka does: the arguments may be function pointers. */
#define assert_ptr_equal(a, b)                                                                \
    cm_check_int((LargestIntegralType)(uintptr_t)(a), (LargestIntegralType)(uintptr_t)(b), 1, \
                 __FILE__, __LINE__)
#define assert_ptr_not_equal(a, b)                                                            \
    cm_check_int((LargestIntegralType)(uintptr_t)(a), (LargestIntegralType)(uintptr_t)(b), 0, \
                 __FILE__, __LINE__)
#define assert_string_equal(a, b) cm_check_str((a), (b), 1, __FILE__, __LINE__)
#define assert_string_not_equal(a, b) cm_check_str((a), (b), 0, __FILE__, __LINE__)
#define assert_memory_equal(a, b, n) cm_check_mem((a), (b), (n), 1, __FILE__, __LINE__)
#define assert_memory_not_equal(a, b, n) cm_check_mem((a), (b), (n), 0, __FILE__, __LINE__)
#define assert_in_range(v, lo, hi)                                                                 \
    cm_check_range((LargestIntegralType)(v), (LargestIntegralType)(lo), (LargestIntegralType)(hi), \
                   1, __FILE__, __LINE__)
#define assert_not_in_range(v, lo, hi)                                                             \
    cm_check_range((LargestIntegralType)(v), (LargestIntegralType)(lo), (LargestIntegralType)(hi), \
                   0, __FILE__, __LINE__)
#define assert_return_code(rc, err) \
    ((rc) >= 0 ? (void)0 : cm_fail(__FILE__, __LINE__, "%s < 0 (error %d)", #rc, (int)(err)))

#endif /* CONC_CROSS_CMOCKA_H */
