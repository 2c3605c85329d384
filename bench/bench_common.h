/*
 * Shared by the benchmark programs: timing, repetition, and the BENCH line
 * format of DESIGN.md section 7.
 */
#ifndef CONC_BENCH_COMMON_H
#define CONC_BENCH_COMMON_H

#include <stdint.h>

/* Best (minimum) of `reps` runs of fn(arg), in nanoseconds; fn returns the
 * nanoseconds it measured itself, so it can exclude its own set-up. */
typedef int64_t (*bench_fn)(void *arg);
int64_t bench_best_of(int reps, bench_fn fn, void *arg);

/* Repetitions: BENCH_REPS in the environment, else `fallback`. */
int bench_reps(int fallback);
/* A size multiplier: BENCH_SCALE in the environment (default 1). */
double bench_scale(void);

/* Print one row of the human table and its BENCH line. `higher_is_better`
 * says which direction the unit goes; speedup is computed accordingly. */
void bench_report(const char *case_name, double libconc, const char *peer, double peer_value,
                  const char *unit, int higher_is_better);

#endif
