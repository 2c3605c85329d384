/*
 * conc_mutex_t beside pthread_mutex_t, in the same run:
 *  - uncontended lock+unlock on one thread (plain and recursive);
 *  - 2 and 4 threads incrementing one shared counter under the lock.
 * Times are the best of BENCH_REPS runs (default 7), libconc and pthread runs
 * alternating; BENCH_SCALE scales the operation counts. Lower ns/op is better.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

#include "bench_common.h"
#include "conc.h"

/* ---- the two locks behind one interface ------------------------------ */

enum impl { LIBCONC, PTHREAD };

struct lock {
    enum impl impl;
    conc_mutex_t cm;
    conc_rmutex_t crm;
    pthread_mutex_t pm;
    bool recursive;
};

static void lock_init(struct lock *l, enum impl impl, bool recursive)
{
    pthread_mutexattr_t attr;

    l->impl = impl;
    l->recursive = recursive;
    conc_mutex_init(&l->cm);
    conc_rmutex_init(&l->crm);
    pthread_mutexattr_init(&attr);
    if (recursive)
        pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&l->pm, &attr);
    pthread_mutexattr_destroy(&attr);
}

static void lock_fini(struct lock *l)
{
    conc_mutex_destroy(&l->cm);
    conc_rmutex_destroy(&l->crm);
    pthread_mutex_destroy(&l->pm);
}

/* Inline dispatch keeps the harness cost equal for both sides. */
static inline void acquire(struct lock *l)
{
    if (l->impl == PTHREAD)
        pthread_mutex_lock(&l->pm);
    else if (l->recursive)
        conc_rmutex_lock(&l->crm);
    else
        conc_mutex_lock(&l->cm);
}

static inline void release(struct lock *l)
{
    if (l->impl == PTHREAD)
        pthread_mutex_unlock(&l->pm);
    else if (l->recursive)
        conc_rmutex_unlock(&l->crm);
    else
        conc_mutex_unlock(&l->cm);
}

/* ---- uncontended --------------------------------------------------------- */

struct solo {
    struct lock *l;
    long ops;
};

static int64_t run_solo(void *arg)
{
    struct solo *s = arg;
    int64_t start = conc_now_ns();

    for (long i = 0; i < s->ops; i++) {
        acquire(s->l);
        release(s->l);
    }
    return conc_now_ns() - start;
}

/* Best of reps for each side, the two sides alternating run by run so that
 * a noisy neighbour slows both rather than one. */
static void best_pair(int reps, bench_fn fn, void *libconc_arg, void *pthread_arg,
                      int64_t *libconc_best, int64_t *pthread_best)
{
    *libconc_best = *pthread_best = INT64_MAX;
    for (int i = 0; i < reps; i++) {
        int64_t a = fn(libconc_arg), b = fn(pthread_arg);
        if (a < *libconc_best)
            *libconc_best = a;
        if (b < *pthread_best)
            *pthread_best = b;
    }
}

static void solo_case(const char *name, const char *peer, bool recursive, long ops, int reps)
{
    struct lock lc, lp;
    struct solo sc = { &lc, ops }, sp = { &lp, ops };
    int64_t tc, tp;

    lock_init(&lc, LIBCONC, recursive);
    lock_init(&lp, PTHREAD, recursive);
    run_solo(&sc); /* warm-up */
    run_solo(&sp);
    best_pair(reps, run_solo, &sc, &sp, &tc, &tp);
    lock_fini(&lc);
    lock_fini(&lp);
    bench_report(name, (double)tc / (double)ops, peer, (double)tp / (double)ops, "ns/op", 0);
}

/* ---- contended counter --------------------------------------------------- */

struct crowd {
    struct lock l;
    int threads;
    long ops_per_thread;
    _Atomic int ready;
    _Atomic int go;
    long counter;
};

static void *crowd_worker(void *arg)
{
    struct crowd *c = arg;

    atomic_fetch_add(&c->ready, 1);
    while (!atomic_load_explicit(&c->go, memory_order_acquire))
        ;
    for (long i = 0; i < c->ops_per_thread; i++) {
        acquire(&c->l);
        c->counter++;
        release(&c->l);
    }
    return NULL;
}

static int64_t run_crowd(void *arg)
{
    struct crowd *c = arg;
    pthread_t t[16];
    int64_t start;

    c->counter = 0;
    atomic_store(&c->ready, 0);
    atomic_store(&c->go, 0);
    for (int i = 0; i < c->threads; i++)
        pthread_create(&t[i], NULL, crowd_worker, c);
    while (atomic_load(&c->ready) < c->threads)
        ;
    start = conc_now_ns();
    atomic_store_explicit(&c->go, 1, memory_order_release);
    for (int i = 0; i < c->threads; i++)
        pthread_join(t[i], NULL);
    int64_t took = conc_now_ns() - start;
    if (c->counter != c->threads * c->ops_per_thread) {
        fprintf(stderr, "sync_mutex: lost increments (%ld of %ld)\n", c->counter,
                c->threads * c->ops_per_thread);
        return INT64_MAX;
    }
    return took;
}

static void crowd_case(int threads, long ops_per_thread, int reps)
{
    /* Large and shared by the threads: keep them off the stack. */
    static struct crowd cc, cp;
    double ops = (double)threads * (double)ops_per_thread;
    char name[64];
    int64_t tc, tp;

    lock_init(&cc.l, LIBCONC, false);
    lock_init(&cp.l, PTHREAD, false);
    cc.threads = cp.threads = threads;
    cc.ops_per_thread = cp.ops_per_thread = ops_per_thread;
    best_pair(reps, run_crowd, &cc, &cp, &tc, &tp);
    lock_fini(&cc.l);
    lock_fini(&cp.l);
    snprintf(name, sizeof name, "mutex_counter_%dthreads", threads);
    bench_report(name, (double)tc / ops, "pthread_mutex", (double)tp / ops, "ns/op", 0);
}

int main(void)
{
    int reps = bench_reps(7);
    double scale = bench_scale();
    long solo_ops = (long)(5e6 * scale);
    long crowd_ops = (long)(5e5 * scale);

    printf("sync_mutex: conc_mutex_t vs pthread_mutex_t (ns per lock+unlock, best of %d)\n", reps);
    solo_case("mutex_uncontended", "pthread_mutex", false, solo_ops, reps);
    solo_case("rmutex_uncontended", "pthread_recursive", true, solo_ops, reps);
    crowd_case(2, crowd_ops, reps);
    crowd_case(4, crowd_ops, reps);
    return 0;
}
