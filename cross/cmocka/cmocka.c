/*
 * The CMocka stand-in for cross targets (see cmocka.h): runs each test
 * under setjmp(), reports in CMocka's format, and returns the number of
 * failed tests from the group, as CMocka does.
 */
#include "cmocka.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { CM_PASS, CM_FAIL, CM_SKIP };

static jmp_buf cm_env;
static int cm_in_test;
static volatile int cm_how; /* how the running test ended, set before longjmp */
/* Failures on helper threads cannot unwind the runner's stack: they end
 * the program instead. */
static _Thread_local int cm_is_runner;

void print_message(const char *format, ...)
{
    va_list ap;

    va_start(ap, format);
    vprintf(format, ap);
    va_end(ap);
    fflush(stdout);
}

void print_error(const char *format, ...)
{
    va_list ap;

    va_start(ap, format);
    vfprintf(stderr, format, ap);
    va_end(ap);
    fflush(stderr);
}

static __attribute__((noreturn)) void cm_leave(int how)
{
    if (cm_in_test && cm_is_runner) {
        cm_how = how;
        longjmp(cm_env, 1);
    }
    fprintf(stderr, "[  ERROR   ] failure outside the test runner's thread\n");
    exit(1);
}

void cm_fail(const char *file, int line, const char *format, ...)
{
    va_list ap;

    fprintf(stderr, "[  ERROR   ] --- ");
    va_start(ap, format);
    vfprintf(stderr, format, ap);
    va_end(ap);
    fprintf(stderr, "\n[   LINE   ] --- %s:%d: error: Failure!\n", file, line);
    fflush(stderr);
    cm_leave(CM_FAIL);
}

void cm_skip(const char *file, int line)
{
    (void)file, (void)line;
    cm_leave(CM_SKIP);
}

void cm_check_int(LargestIntegralType a, LargestIntegralType b, int equal, const char *file,
                  int line)
{
    if ((a == b) != equal)
        cm_fail(file, line, "%jd (%#jx) %s %jd (%#jx)", (intmax_t)a, a,
                equal ? "!=" : "==", (intmax_t)b, b);
}

void cm_check_str(const char *a, const char *b, int equal, const char *file, int line)
{
    int same = a && b ? strcmp(a, b) == 0 : a == b;

    if (same != equal)
        cm_fail(file, line, "\"%s\" %s \"%s\"", a ? a : "(null)",
                equal ? "!=" : "==", b ? b : "(null)");
}

void cm_check_mem(const void *a, const void *b, size_t size, int equal, const char *file, int line)
{
    if ((memcmp(a, b, size) == 0) != equal)
        cm_fail(file, line, "%zu bytes at %p and %p %s", size, a, b,
                equal ? "differ" : "are equal");
}

void cm_check_range(LargestIntegralType v, LargestIntegralType min, LargestIntegralType max,
                    int inside, const char *file, int line)
{
    if ((v >= min && v <= max) != inside)
        cm_fail(file, line, "%ju is %s [%ju, %ju]", v, inside ? "outside" : "inside", min, max);
}

static int cm_run_one(const struct CMUnitTest *t, void *group_state)
{
    void *state = t->initial_state ? t->initial_state : group_state;
    int how;

    printf("[ RUN      ] %s\n", t->name);
    fflush(stdout);
    cm_in_test = 1;
    cm_how = CM_PASS;
    if (setjmp(cm_env) == 0) {
        if (t->setup_func && t->setup_func(&state) != 0)
            cm_fail(__FILE__, __LINE__, "setup of %s failed", t->name);
        t->test_func(&state);
        if (t->teardown_func && t->teardown_func(&state) != 0)
            cm_fail(__FILE__, __LINE__, "teardown of %s failed", t->name);
    }
    how = cm_how;
    cm_in_test = 0;
    printf("%s %s\n",
           how == CM_PASS   ? "[       OK ]"
           : how == CM_SKIP ? "[  SKIPPED ]"
                            : "[  FAILED  ]",
           t->name);
    fflush(stdout);
    return how;
}

int cm_run_group(const char *name, const struct CMUnitTest *tests, size_t n,
                 CMFixtureFunction setup, CMFixtureFunction teardown)
{
    void *state = NULL;
    size_t failed = 0, skipped = 0;
    int *how = calloc(n ? n : 1, sizeof *how);

    (void)name;
    cm_is_runner = 1;
    printf("[==========] Running %zu test(s).\n", n);
    if (!how || (setup && setup(&state) != 0)) {
        printf("[  ERROR   ] group setup failed\n");
        free(how);
        return (int)n;
    }
    for (size_t i = 0; i < n; i++) {
        how[i] = cm_run_one(&tests[i], state);
        failed += how[i] == CM_FAIL;
        skipped += how[i] == CM_SKIP;
    }
    if (teardown)
        teardown(&state);
    printf("[==========] %zu test(s) run.\n", n);
    printf("[  PASSED  ] %zu test(s).\n", n - failed - skipped);
    if (skipped)
        printf("[  SKIPPED ] %zu test(s).\n", skipped);
    if (failed) {
        printf("[  FAILED  ] %zu test(s), listed below:\n", failed);
        for (size_t i = 0; i < n; i++)
            if (how[i] == CM_FAIL)
                printf("[  FAILED  ] %s\n", tests[i].name);
        printf("\n %zu FAILED TEST(S)\n", failed);
    }
    fflush(stdout);
    free(how);
    return (int)failed;
}
