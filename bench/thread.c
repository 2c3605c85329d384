/*
 * Thread create + join: libconc threads beside raw pthread_create +
 * pthread_join, in the same run. The thread function does nothing, so the
 * figures are the whole cost of a thread's life as each library adds it up.
 *
 * Cases: "one at a time" (create, join, repeat: latency of a thread's life)
 * and "batches of 8" (create 8, join 8: the creator and the threads overlap).
 * Rounds alternate between the two libraries so that drift on a shared
 * machine hits both alike; each side's best round counts. Rounds are short
 * (200 threads) and many, because the best of many short rounds is what
 * stays stable when other processes compete for the CPUs.
 *
 * BENCH_REPS (rounds, default 50) and BENCH_SCALE (x 200 threads per round)
 * in the environment size it.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench_common.h"
#include "conc/thread.h"

#define BATCH 8

static long threads_per_round;

static void *nothing(void *arg)
{
    return arg;
}

static void check(int rc, const char *what)
{
    if (rc != 0) {
        fprintf(stderr, "bench_thread: %s failed: %d\n", what, rc);
        exit(1);
    }
}

static int64_t conc_batches(long batch)
{
    conc_thread_t t[BATCH];
    int64_t start = conc_now_ns();

    for (long done = 0; done < threads_per_round; done += batch) {
        for (long i = 0; i < batch; i++)
            check(conc_thread_create(&t[i], NULL, nothing, NULL), "conc_thread_create");
        for (long i = 0; i < batch; i++)
            check(conc_thread_join(&t[i], NULL, CONC_FOREVER), "conc_thread_join");
    }
    return conc_now_ns() - start;
}

static int64_t pthread_batches(long batch)
{
    pthread_t t[BATCH];
    int64_t start = conc_now_ns();

    for (long done = 0; done < threads_per_round; done += batch) {
        for (long i = 0; i < batch; i++)
            check(pthread_create(&t[i], NULL, nothing, NULL), "pthread_create");
        for (long i = 0; i < batch; i++)
            check(pthread_join(t[i], NULL), "pthread_join");
    }
    return conc_now_ns() - start;
}

static void compare(const char *case_name, long batch, int reps)
{
    int64_t best_conc = INT64_MAX, best_raw = INT64_MAX;

    conc_batches(batch); /* warm up: thread records, stack caches */
    pthread_batches(batch);
    for (int r = 0; r < reps; r++) {
        int64_t c = conc_batches(batch), p = pthread_batches(batch);
        if (c < best_conc)
            best_conc = c;
        if (p < best_raw)
            best_raw = p;
    }
    bench_report(case_name, (double)best_conc / (double)threads_per_round, "pthread",
                 (double)best_raw / (double)threads_per_round, "ns/thread", 0);
}

int main(void)
{
    int reps = bench_reps(50);

    threads_per_round = (long)(200 * bench_scale()) / BATCH * BATCH;
    if (threads_per_round < BATCH)
        threads_per_round = BATCH;
    printf("thread create + join, %ld threads per round, best of %d rounds\n", threads_per_round,
           reps);
    compare("thread_create_join", 1, reps);
    compare("thread_create_join_batch8", BATCH, reps);
    return 0;
}
