/*
 * The parallel integration of the Python material (issue 9): the integral of
 * x^2 over [0, 10] with 10^8 midpoint steps (times BENCH_SCALE), computed
 * sequentially, on libconc's thread pool (conc_pool_map) and on its process
 * pool (conc_procpool_map), with one worker per CPU and 8 chunks per worker.
 * The peer of both parallel lines is the sequential run on the same machine:
 * the speedup is what the cores give, minus each pool's overhead (the
 * process pool also forks its workers, which is counted). Every result is
 * checked against 1000/3. Usage: bench_integrate; BENCH_REPS (default 3).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_common.h"
#include "conc/pool.h"
#include "conc/process.h"
#include "conc/procpool.h"

#define MAX_CHUNKS 1024

struct chunk {
    long first, count;
    double h, sum;
};

static struct {
    long steps;
    int workers, nchunks;
    double h;
    struct chunk chunks[MAX_CHUNKS];
    double result;
} job;

static double integrate(long first, long count, double h)
{
    double sum = 0;

    for (long i = first; i < first + count; i++) {
        double x = ((double)i + 0.5) * h;
        sum += x * x;
    }
    return sum * h;
}

static void check_result(const char *who)
{
    double exact = 1000.0 / 3.0, tol = 10.0 * job.h * job.h / 12.0 + 1e-6;

    if (job.result - exact > tol || exact - job.result > tol) {
        fprintf(stderr, "%s: wrong result %.9f\n", who, job.result);
        exit(1);
    }
}

static int64_t run_sequential(void *unused)
{
    (void)unused;
    int64_t t0 = conc_now_ns();
    job.result = integrate(0, job.steps, job.h);
    int64_t ns = conc_now_ns() - t0;
    check_result("sequential");
    return ns;
}

static int thread_chunk(void *arg, void **result)
{
    struct chunk *c = arg;

    (void)result;
    c->sum = integrate(c->first, c->count, c->h);
    return 0;
}

static int64_t run_thread_pool(void *unused)
{
    conc_pool_attr_t attr = CONC_POOL_ATTR_INIT;
    conc_pool_t pool;
    void *args[MAX_CHUNKS];

    (void)unused;
    attr.max_workers = job.workers;
    int64_t t0 = conc_now_ns();
    if (conc_pool_init(&pool, &attr) != 0)
        exit(1);
    for (int i = 0; i < job.nchunks; i++)
        args[i] = &job.chunks[i];
    if (conc_pool_map(&pool, thread_chunk, args, NULL, (size_t)job.nchunks) != 0)
        exit(1);
    job.result = 0;
    for (int i = 0; i < job.nchunks; i++)
        job.result += job.chunks[i].sum;
    conc_pool_destroy(&pool);
    int64_t ns = conc_now_ns() - t0;
    check_result("thread pool");
    return ns;
}

static int process_chunk(const void *arg, size_t len, void *out, size_t cap, size_t *out_len)
{
    struct chunk c;

    if (len != sizeof c || cap < sizeof c.sum)
        return -1;
    memcpy(&c, arg, sizeof c);
    double sum = integrate(c.first, c.count, c.h);
    memcpy(out, &sum, sizeof sum);
    *out_len = sizeof sum;
    return 0;
}

static int64_t run_process_pool(void *unused)
{
    conc_procpool_attr_t attr = CONC_PROCPOOL_ATTR_INIT;
    conc_procpool_t pool;
    double sums[MAX_CHUNKS];

    (void)unused;
    attr.workers = job.workers;
    int64_t t0 = conc_now_ns();
    if (conc_procpool_init(&pool, &attr) != 0)
        exit(1);
    if (conc_procpool_map(&pool, process_chunk, job.chunks, sizeof job.chunks[0],
                          (size_t)job.nchunks, sums, sizeof sums[0], NULL) != 0)
        exit(1);
    job.result = 0;
    for (int i = 0; i < job.nchunks; i++)
        job.result += sums[i];
    conc_procpool_destroy(&pool);
    int64_t ns = conc_now_ns() - t0;
    check_result("process pool");
    return ns;
}

int main(void)
{
    int reps = bench_reps(3);

    job.steps = (long)(1e8 * bench_scale());
    job.workers = conc_cpu_count();
    job.nchunks = 8 * job.workers < MAX_CHUNKS ? 8 * job.workers : MAX_CHUNKS;
    job.h = 10.0 / (double)job.steps;
    for (long i = 0, first = 0; i < job.nchunks; i++) {
        long count = job.steps / job.nchunks + (i < job.steps % job.nchunks);
        job.chunks[i] = (struct chunk){ first, count, job.h, 0 };
        first += count;
    }
    printf("integrate x^2 over [0, 10], %ld steps, %d workers, best of %d\n", job.steps,
           job.workers, reps);
    double seq = (double)bench_best_of(reps, run_sequential, NULL) / 1e6;
    double thr = (double)bench_best_of(reps, run_thread_pool, NULL) / 1e6;
    double proc = (double)bench_best_of(reps, run_process_pool, NULL) / 1e6;
    bench_report("integrate_1e8_thread_pool", thr, "sequential", seq, "ms", 0);
    bench_report("integrate_1e8_process_pool", proc, "sequential", seq, "ms", 0);
    return 0;
}
