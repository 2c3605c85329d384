/**
 * @file conc/error.h
 * @brief Error codes shared by every libconc function, and conc_strerror().
 *
 * Every libconc function that can fail returns an `int`: 0 on success or one of
 * the negative `CONC_E*` codes below. There is no errno side channel.
 */
#ifndef CONC_ERROR_H
#define CONC_ERROR_H

#include "conc/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * The single list of error codes: X(name, value, message) for each. It
 * generates both the enum below and the table behind conc_strerror(), so the
 * two never disagree; applications may use it too (to build their own table).
 */
#define CONC_ERROR_LIST(X)                                                \
    X(CONC_EINVAL, -1, "invalid argument")                                \
    X(CONC_ETIMEDOUT, -2, "timed out")                                    \
    X(CONC_EAGAIN, -3, "operation would block")                           \
    X(CONC_EBUSY, -4, "resource busy")                                    \
    X(CONC_EPERM, -5, "operation not permitted: caller is not the owner") \
    X(CONC_EOVERFLOW, -6, "count would exceed its limit")                 \
    X(CONC_ECLOSED, -7, "object has been shut down")                      \
    X(CONC_EBROKEN, -8, "barrier is broken")                              \
    X(CONC_ECANCELED, -9, "operation canceled")                           \
    X(CONC_ENOMEM, -10, "out of memory")                                  \
    X(CONC_EDEADLK, -11, "deadlock would occur")                          \
    X(CONC_ENOTSUP, -12, "not supported on this platform")                \
    X(CONC_ESRCH, -13, "no such thread, task or process")                 \
    X(CONC_ELIMIT, -14, "system resource limit reached")                  \
    X(CONC_EIO, -15, "input/output error")                                \
    X(CONC_ENOENT, -16, "no such file, program or name")                  \
    X(CONC_EEXIST, -17, "name already exists")

/** Error codes. All are negative; 0 means success. */
enum conc_error {
#define CONC_ERROR_ENUM_(name, value, msg) name = (value),
    CONC_ERROR_LIST(CONC_ERROR_ENUM_)
#undef CONC_ERROR_ENUM_
};

/**
 * @brief Describe a libconc return code.
 *
 * @param code a value returned by a libconc function (0 or a `CONC_E*` code).
 * @return a static, NUL-terminated English string; "success" for 0 and
 *         "unknown error" for a value that is not a libconc code. Never NULL.
 *
 * Never blocks. Callable from any context, including signal handlers.
 */
CONC_API const char *conc_strerror(int code);

/**
 * @brief The symbolic name of a return code ("CONC_ETIMEDOUT", "0" for success).
 * @return a static string; "CONC_E?" for an unknown value. Never NULL.
 *
 * Never blocks. Callable from any context, including signal handlers.
 */
CONC_API const char *conc_strerror_name(int code);

#ifdef __cplusplus
}
#endif

#endif /* CONC_ERROR_H */
