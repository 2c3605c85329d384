/*
 * Absolute monotonic deadlines (int64_t ns) as struct timespec, for the OS
 * layer's POSIX files only. Where time_t is 32 bits, a far deadline (for
 * example now + CONC_TIMEOUT_MAX) does not fit: the caller then waits
 * without a timeout instead, which is the same for any deadline past 2038
 * and far better than a truncated, past or negative one.
 */
#ifndef CONC_OS_TIMESPEC_H
#define CONC_OS_TIMESPEC_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

/* Fill *ts with ns; false (and *ts the latest representable time) when it
 * does not fit time_t. */
static inline bool conc__os_timespec_of(int64_t ns, struct timespec *ts)
{
    int64_t sec = ns / INT64_C(1000000000);

    if (sizeof(time_t) < sizeof(int64_t) && sec > INT32_MAX) {
        ts->tv_sec = (time_t)INT32_MAX;
        ts->tv_nsec = 999999999L;
        return false;
    }
    ts->tv_sec = (time_t)sec;
    ts->tv_nsec = (long)(ns % INT64_C(1000000000));
    return true;
}

#endif /* CONC_OS_TIMESPEC_H */
