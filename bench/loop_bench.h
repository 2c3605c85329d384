/*
 * Small helpers shared by the event-loop benchmarks (loop.c, loop_echo.c,
 * loop_bridge.c): failing loudly, the command line, CPU time, non-blocking
 * descriptors and a fixed pseudo-random sequence.
 *
 * Every program takes `[scale [case]]`: scale multiplies the default sizes
 * (0.01 for a quick check; BENCH_SCALE in the environment otherwise), and
 * case, when given, runs only the cases whose name contains it.
 */
#ifndef CONC_LOOP_BENCH_H
#define CONC_LOOP_BENCH_H

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_common.h"

static const char *lb_prog = "bench_loop";
static double lb_scale = 1.0;
static const char *lb_only;

static inline void lb_die(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "%s: ", lb_prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

/* A libconc or POSIX call that must succeed. */
static inline void lb_check(int rc, const char *what)
{
    if (rc != 0)
        lb_die("%s failed (%d, errno %d)", what, rc, errno);
}

static inline void lb_args(int argc, char **argv, const char *prog)
{
    lb_prog = prog;
    lb_scale = bench_scale();
    if (argc > 1) {
        lb_scale = atof(argv[1]);
        if (!(lb_scale > 0))
            lb_die("usage: %s [scale [case]]", prog);
    }
    if (argc > 2)
        lb_only = argv[2];
}

/* A count scaled by the command line, never below `min`. */
static inline long lb_count(long base, long min)
{
    double n = (double)base * lb_scale;

    return n < (double)min ? min : (long)n;
}

static inline bool lb_enabled(const char *case_name)
{
    return !lb_only || strstr(case_name, lb_only) != NULL;
}

/* CPU time of the calling thread: the work of a loop, not its sleep. */
static inline int64_t lb_cpu_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline void lb_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);

    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0)
        lb_die("fcntl(O_NONBLOCK) failed (errno %d)", errno);
}

/* xorshift64: the same sequence for libconc and for its peer. */
static inline uint64_t lb_random(uint64_t *state)
{
    uint64_t x = *state;

    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *state = x;
}

#endif /* CONC_LOOP_BENCH_H */
