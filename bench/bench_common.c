#include "bench_common.h"

#include <stdio.h>
#include <stdlib.h>

int64_t bench_best_of(int reps, bench_fn fn, void *arg)
{
    int64_t best = INT64_MAX;

    for (int i = 0; i < reps; i++) {
        int64_t ns = fn(arg);
        if (ns < best)
            best = ns;
    }
    return best;
}

int bench_reps(int fallback)
{
    const char *env = getenv("BENCH_REPS");
    int n = env ? atoi(env) : 0;

    return n > 0 ? n : fallback;
}

double bench_scale(void)
{
    const char *env = getenv("BENCH_SCALE");
    double s = env ? atof(env) : 0;

    return s > 0 ? s : 1.0;
}

void bench_report(const char *case_name, double libconc, const char *peer, double peer_value,
                  const char *unit, int higher_is_better)
{
    double speedup = higher_is_better ? libconc / peer_value : peer_value / libconc;

    printf("  %-34s libconc %12.2f   %-14s %12.2f  %-8s  x%.2f\n", case_name, libconc, peer,
           peer_value, unit, speedup);
    printf("BENCH %s libconc=%.2f %s=%.2f unit=%s speedup=%.2f\n", case_name, libconc, peer,
           peer_value, unit, speedup);
    fflush(stdout);
}
