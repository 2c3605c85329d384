/*
 * Threads computing in lock-step phases with a conc_barrier_t:
 *
 *   barrier_phases [THREADS] [PHASES] [CELLS]    (default 4 200 200000)
 *
 * Heat spreads along a rod of CELLS cells: the left end is held at 100
 * degrees, the right end at 0, and in each phase every inner cell becomes the
 * mean of itself and its two neighbours. Each thread computes its own slice
 * of the rod, reading the previous phase's values (including its neighbours'
 * slices) and writing the next phase's buffer.
 *
 * No thread may start phase k+1 before all have finished phase k: that is the
 * barrier. Its action runs once per phase, in the last thread to arrive,
 * while all the others still wait: the one safe moment to swap the two
 * buffers and report progress without any lock.
 *
 * The program then repeats the computation in one thread and checks that the
 * results are identical to the last bit.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <conc.h>

#define MAX_THREADS 64

struct rod {
    double *cur, *next; /* this phase's values, the next phase's */
    long cells;
    int phases, phase;
};

struct worker {
    struct rod *rod;
    conc_barrier_t *barrier;
    long lo, hi;    /* inner cells lo .. hi - 1 */
    int ran_action; /* phases in which this thread arrived last */
};

static void check(int rc, const char *what)
{
    if (rc < 0) {
        fprintf(stderr, "%s: %s\n", what, conc_strerror(rc));
        exit(1);
    }
}

static void init_rod(double *v, long cells)
{
    memset(v, 0, (size_t)cells * sizeof(*v));
    v[0] = 100.0;
}

static void step(const double *cur, double *next, long lo, long hi)
{
    for (long i = lo; i < hi; i++)
        next[i] = (cur[i - 1] + cur[i] + cur[i + 1]) / 3.0;
}

/* The barrier action: runs once per phase, everybody else is waiting. */
static int end_of_phase(void *arg)
{
    struct rod *r = arg;
    double *t = r->cur;

    r->cur = r->next;
    r->next = t;
    r->phase++;
    if (r->phase % (r->phases / 4 > 0 ? r->phases / 4 : 1) == 0 || r->phase == r->phases)
        printf("  phase %4d: temperature of cells 1, 5 and 20: %6.2f %6.2f %6.2f\n", r->phase,
               r->cur[1], r->cur[5 < r->cells ? 5 : 1], r->cur[20 < r->cells ? 20 : 1]);
    return 0; /* non-zero would break the barrier for every thread */
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct rod *r = w->rod;
    int parties = conc_barrier_parties(w->barrier);

    for (int p = 0; p < r->phases; p++) {
        /* r->cur and r->next are only changed by the action, between phases. */
        step(r->cur, r->next, w->lo, w->hi);
        int index = conc_barrier_wait(w->barrier, CONC_FOREVER);
        check(index, "conc_barrier_wait");
        w->ran_action += index == parties - 1;
    }
    return NULL;
}

int main(int argc, char **argv)
{
    int nthreads = argc > 1 ? atoi(argv[1]) : 4;
    struct rod rod = { .phases = argc > 2 ? atoi(argv[2]) : 200 };
    struct worker workers[MAX_THREADS];
    conc_thread_t threads[MAX_THREADS];
    conc_barrier_t barrier;

    rod.cells = argc > 3 ? atol(argv[3]) : 200000;
    if (argc > 4 || nthreads < 1 || nthreads > MAX_THREADS || rod.phases < 1 ||
        rod.cells < nthreads + 2) {
        fprintf(stderr, "usage: %s [THREADS (1..%d)] [PHASES] [CELLS]\n", argv[0], MAX_THREADS);
        return 2;
    }
    double *a = malloc((size_t)rod.cells * sizeof(double));
    double *b = malloc((size_t)rod.cells * sizeof(double));
    double *ref = malloc((size_t)rod.cells * sizeof(double));
    double *tmp = malloc((size_t)rod.cells * sizeof(double));
    if (!a || !b || !ref || !tmp) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    init_rod(a, rod.cells);
    init_rod(b, rod.cells); /* the ends are never written: both buffers hold them */
    rod.cur = a;
    rod.next = b;

    check(conc_barrier_init(&barrier, nthreads, end_of_phase, &rod), "conc_barrier_init");
    int64_t t0 = conc_now_ns();
    long inner = rod.cells - 2;
    for (int i = 0; i < nthreads; i++) {
        long lo = 1 + inner * i / nthreads, hi = 1 + inner * (i + 1) / nthreads;
        workers[i] = (struct worker){ &rod, &barrier, lo, hi, 0 };
        check(conc_thread_create(&threads[i], NULL, worker_main, &workers[i]),
              "conc_thread_create");
    }
    int actions = 0;
    for (int i = 0; i < nthreads; i++) {
        check(conc_thread_join(&threads[i], NULL, CONC_FOREVER), "conc_thread_join");
        actions += workers[i].ran_action;
    }
    double ms = (double)(conc_now_ns() - t0) / 1e6;
    check(conc_barrier_destroy(&barrier), "conc_barrier_destroy");

    /* The same computation in one thread, for comparison. */
    init_rod(ref, rod.cells);
    init_rod(tmp, rod.cells);
    for (int p = 0; p < rod.phases; p++) {
        step(ref, tmp, 1, rod.cells - 1);
        double *t = ref;
        ref = tmp;
        tmp = t;
    }
    int same = memcmp(ref, rod.cur, (size_t)rod.cells * sizeof(double)) == 0;
    printf("%d threads, %d phases, %ld cells in %.1f ms; the last to arrive ran the action "
           "%d times\n",
           nthreads, rod.phases, rod.cells, ms, actions);
    free(a);
    free(b);
    free(ref);
    free(tmp);
    if (!same || actions != rod.phases) {
        printf("FAILED: %s\n", same ? "wrong number of actions" : "results differ");
        return 1;
    }
    printf("phases OK: identical to the sequential result\n");
    return 0;
}
