/*
 * Two threads add 1 to a shared counter, three ways:
 *
 *   race_counter [ITERATIONS]      (per thread, default 2000000)
 *
 *  1. unlocked: "counter = counter + 1" done as a separate read and write.
 *     Both threads can read the same value and both write value + 1: one
 *     increment is lost. The total is usually short of the expected one.
 *  2. with a conc_mutex_t around the increment: always exact.
 *  3. with C11 atomic_fetch_add(): always exact, and no lock at all.
 *
 * The unlocked version reads and writes an _Atomic int with two *relaxed*
 * operations instead of using a plain int. A plain "counter++" from two
 * threads is a data race, which is undefined behaviour in C11: the compiler
 * may keep the counter in a register and write it once at the end, and
 * ThreadSanitizer rightly reports it. Two separate atomic operations have
 * defined behaviour (each load and each store is indivisible) but together
 * are not one indivisible increment, which is exactly the bug we want to
 * show: lost updates, without undefined behaviour and without a sanitizer
 * report.
 *
 * The program checks the mutex and atomic totals and fails if either is
 * wrong; the unlocked total is only reported (it is right now and then, when
 * the threads happen not to overlap).
 */
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include <conc.h>

enum mode { UNLOCKED, MUTEX, ATOMIC };

struct shared {
    enum mode mode;
    long iterations;
    conc_barrier_t start; /* both threads start counting at the same moment */
    conc_mutex_t lock;
    long locked_counter; /* a plain long: only touched with `lock` held */
    atomic_long counter; /* used by UNLOCKED and ATOMIC */
};

static void check(int rc, const char *what)
{
    if (rc < 0) {
        fprintf(stderr, "%s: %s\n", what, conc_strerror(rc));
        exit(1);
    }
}

static void *count(void *arg)
{
    struct shared *s = arg;

    /* Without this start line the first thread could finish before the
     * second one even starts, and no update would ever be lost. */
    check(conc_barrier_wait(&s->start, CONC_FOREVER), "conc_barrier_wait");
    for (long i = 0; i < s->iterations; i++) {
        switch (s->mode) {
        case UNLOCKED: {
            /* Read, then write: another thread may write in between. */
            long v = atomic_load_explicit(&s->counter, memory_order_relaxed);
            atomic_store_explicit(&s->counter, v + 1, memory_order_relaxed);
            break;
        }
        case MUTEX:
            check(conc_mutex_lock(&s->lock), "conc_mutex_lock");
            s->locked_counter++;
            check(conc_mutex_unlock(&s->lock), "conc_mutex_unlock");
            break;
        case ATOMIC:
            /* One indivisible read-modify-write. */
            atomic_fetch_add_explicit(&s->counter, 1, memory_order_relaxed);
            break;
        }
    }
    return NULL;
}

/* Run two counting threads in @p mode; return the final total. */
static long run(struct shared *s, enum mode mode)
{
    conc_thread_t t[2];

    s->mode = mode;
    s->locked_counter = 0;
    atomic_store(&s->counter, 0);
    for (int i = 0; i < 2; i++)
        check(conc_thread_create(&t[i], NULL, count, s), "conc_thread_create");
    /* Joining is what makes the threads' writes visible here. */
    for (int i = 0; i < 2; i++)
        check(conc_thread_join(&t[i], NULL, CONC_FOREVER), "conc_thread_join");
    return mode == MUTEX ? s->locked_counter : atomic_load(&s->counter);
}

int main(int argc, char **argv)
{
    static const char *const names[] = { "unlocked", "mutex", "atomic" };
    struct shared s = { .lock = CONC_MUTEX_INIT };
    int failures = 0;

    s.iterations = argc > 1 ? strtol(argv[1], NULL, 10) : 2000000;
    if (argc > 2 || s.iterations < 1) {
        fprintf(stderr, "usage: %s [ITERATIONS per thread]\n", argv[0]);
        return 2;
    }
    check(conc_barrier_init(&s.start, 2, NULL, NULL), "conc_barrier_init");

    long expected = 2 * s.iterations;
    for (enum mode m = UNLOCKED; m <= ATOMIC; m++) {
        int64_t t0 = conc_now_ns();
        long total = run(&s, m);
        double ms = (double)(conc_now_ns() - t0) / 1e6;

        printf("%-9s total %10ld of %10ld in %7.1f ms", names[m], total, expected, ms);
        if (total == expected)
            printf("  correct%s\n",
                   m == UNLOCKED ? " (this time: the threads barely overlapped)" : "");
        else if (m == UNLOCKED)
            printf("  WRONG: %ld updates lost, as expected without a lock\n", expected - total);
        else {
            printf("  WRONG: this must never happen\n");
            failures++;
        }
    }
    check(conc_barrier_destroy(&s.start), "conc_barrier_destroy");
    check(conc_mutex_destroy(&s.lock), "conc_mutex_destroy");
    if (failures)
        return 1;
    printf("mutex and atomic totals are exact\n");
    return 0;
}
