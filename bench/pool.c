/*
 * Thread pool throughput: 1M tiny tasks (an atomic add each) through a
 * libconc pool and through GLib's GThreadPool, with the same number of
 * workers (one per CPU). The figure is the wall time from creating the pool
 * until every task has run and the workers are gone:
 *
 *   libconc: conc_pool_init, conc_pool_submit x N, conc_pool_destroy
 *   GLib:    g_thread_pool_new, g_thread_pool_push x N, g_thread_pool_free(wait)
 *
 * A second case gives every libconc task a future (the caller's array), and
 * collects every result: what Python's executor.submit() users pay, beside
 * the same GLib run (GThreadPool has no futures, so this favours GLib).
 * Every run checks the exact sum.
 *
 * BENCH_SCALE multiplies the task count, BENCH_REPS sets the repetitions
 * (best run kept).
 */
#include <glib.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench_common.h"
#include "conc/pool.h"
#include "os/os.h"

struct pool_case {
    long n;
    int workers;
    conc_future_t *futures;
};

static _Atomic long sum;

static void die(const char *what)
{
    fprintf(stderr, "bench_pool: %s\n", what);
    exit(1);
}

static void check_sum(long n)
{
    if (atomic_load(&sum) != n * (n + 1) / 2)
        die("wrong sum: a task was lost or run twice");
}

static int conc_task(void *arg, void **result)
{
    atomic_fetch_add_explicit(&sum, (long)(uintptr_t)arg, memory_order_relaxed);
    *result = arg;
    return 0;
}

static conc_pool_t *new_pool(int workers, conc_pool_t *p)
{
    conc_pool_attr_t attr = CONC_POOL_ATTR_INIT;

    attr.max_workers = workers;
    if (conc_pool_init(p, &attr) != 0)
        die("conc_pool_init failed");
    return p;
}

static int64_t run_conc(void *arg)
{
    struct pool_case *c = arg;
    conc_pool_t p;

    atomic_store(&sum, 0);
    int64_t start = conc_now_ns();
    new_pool(c->workers, &p);
    for (long i = 1; i <= c->n; i++)
        if (conc_pool_submit(&p, conc_task, (void *)(uintptr_t)i, NULL) != 0)
            die("conc_pool_submit failed");
    if (conc_pool_destroy(&p) != 0)
        die("conc_pool_destroy failed");
    int64_t end = conc_now_ns();
    check_sum(c->n);
    return end - start;
}

static int64_t run_conc_futures(void *arg)
{
    struct pool_case *c = arg;
    conc_pool_t p;
    long got = 0;

    atomic_store(&sum, 0);
    int64_t start = conc_now_ns();
    new_pool(c->workers, &p);
    for (long i = 0; i < c->n; i++)
        if (conc_pool_submit(&p, conc_task, (void *)(uintptr_t)(i + 1), &c->futures[i]) != 0)
            die("conc_pool_submit failed");
    for (long i = 0; i < c->n; i++) {
        void *v;
        if (conc_future_result(&c->futures[i], &v, CONC_FOREVER) != 0)
            die("a future failed");
        got += (long)(uintptr_t)v;
        conc_future_destroy(&c->futures[i]);
    }
    if (conc_pool_destroy(&p) != 0)
        die("conc_pool_destroy failed");
    int64_t end = conc_now_ns();
    check_sum(c->n);
    if (got != c->n * (c->n + 1) / 2)
        die("wrong results through the futures");
    return end - start;
}

static void glib_task(gpointer data, gpointer user_data)
{
    (void)user_data;
    atomic_fetch_add_explicit(&sum, (long)(uintptr_t)data, memory_order_relaxed);
}

static int64_t run_glib(void *arg)
{
    struct pool_case *c = arg;

    atomic_store(&sum, 0);
    int64_t start = conc_now_ns();
    GThreadPool *p = g_thread_pool_new(glib_task, NULL, c->workers, TRUE, NULL);
    if (!p)
        die("g_thread_pool_new failed");
    for (long i = 1; i <= c->n; i++)
        g_thread_pool_push(p, (gpointer)(uintptr_t)i, NULL);
    g_thread_pool_free(p, FALSE, TRUE);
    int64_t end = conc_now_ns();
    check_sum(c->n);
    return end - start;
}

int main(void)
{
    int reps = bench_reps(3);
    struct pool_case c = { (long)(1000000 * bench_scale()), conc__os_cpu_count(), NULL };

    c.futures = malloc((size_t)c.n * sizeof *c.futures);
    if (!c.futures)
        die("out of memory");
    double conc = (double)bench_best_of(reps, run_conc, &c) / 1e6;
    double glib = (double)bench_best_of(reps, run_glib, &c) / 1e6;
    double futures = (double)bench_best_of(reps, run_conc_futures, &c) / 1e6;

    printf("%ld tiny tasks, %d workers, pool creation to last task, ms (lower is better):\n", c.n,
           c.workers);
    bench_report("pool_1M_tiny_tasks", conc, "glib_gthreadpool", glib, "ms", 0);
    bench_report("pool_1M_tiny_tasks_with_futures", futures, "glib_gthreadpool", glib, "ms", 0);
    free(c.futures);
    return 0;
}
