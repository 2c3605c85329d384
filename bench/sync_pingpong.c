/*
 * Ping-pong round trips between two threads, each side blocking until the
 * other answers:
 *  - conc_sem_t (release / acquire) and conc_event_t (set / wait / clear);
 *  - the same hand-shake with pthread_mutex_t + pthread_cond_t, the peer to
 *    beat (goal: speedup >= 1.2);
 *  - a raw futex ping-pong, the floor of what a sleeping hand-off costs on
 *    Linux (goal: speedup >= 0.9, i.e. within 10%).
 * The value is the best of BENCH_REPS runs (default 5) of ns per round trip;
 * BENCH_SCALE scales the number of round trips (default 20000). Lower is
 * better.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

#include "bench_common.h"
#include "conc.h"

#if defined(__linux__)
#    include <linux/futex.h>
#    include <sys/syscall.h>
#    include <unistd.h>
#    define HAVE_FUTEX 1
#else
#    define HAVE_FUTEX 0
#endif

#define WARMUP 1000

enum kind { SEM, EVENT, COND, FUTEX };

struct pingpong {
    enum kind kind;
    long rounds; /* timed round trips, after WARMUP untimed ones */
    conc_sem_t sem[2];
    conc_event_t event[2];
    pthread_mutex_t mutex;
    pthread_cond_t cond[2];
    int turn;                 /* COND: 0 = the main side's turn, 1 = the peer's */
    _Atomic uint32_t word[2]; /* FUTEX: each side's IDLE / GO / ASLEEP */
};

/* ---- the raw futex peer ------------------------------------------------
 * One word per side: IDLE, GO (your turn) or ASLEEP. The side handing over
 * the turn makes a system call only when the other side sleeps, and a side
 * sleeps only after announcing it: the least a sleeping hand-off can cost,
 * with no queue, no lock and no timeout support. */

enum { IDLE = 0, GO = 1, ASLEEP = 2 };

static void futex_wait(_Atomic uint32_t *w, uint32_t expected)
{
#if HAVE_FUTEX
    syscall(SYS_futex, (void *)(uintptr_t)w, FUTEX_WAIT_PRIVATE, expected, NULL, NULL, 0);
#else
    (void)w, (void)expected;
#endif
}

static void futex_wake(_Atomic uint32_t *w)
{
#if HAVE_FUTEX
    syscall(SYS_futex, (void *)(uintptr_t)w, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
#else
    (void)w;
#endif
}

static void futex_give(_Atomic uint32_t *w)
{
    if (atomic_exchange_explicit(w, GO, memory_order_release) == ASLEEP)
        futex_wake(w);
}

static void futex_take(_Atomic uint32_t *w)
{
    uint32_t idle = IDLE;

    if (atomic_compare_exchange_strong_explicit(w, &idle, ASLEEP, memory_order_acquire,
                                                memory_order_acquire)) {
        while (atomic_load_explicit(w, memory_order_acquire) == ASLEEP)
            futex_wait(w, ASLEEP);
    }
    atomic_store_explicit(w, IDLE, memory_order_relaxed);
}

static void futex_pass(struct pingpong *p, int me, int to)
{
    futex_give(&p->word[to]);
    futex_take(&p->word[me]);
}

/* ---- the pthread_cond peer --------------------------------------------- */

static void cond_pass(struct pingpong *p, int me, int to)
{
    pthread_mutex_lock(&p->mutex);
    p->turn = to;
    pthread_cond_signal(&p->cond[to]);
    while (p->turn != me)
        pthread_cond_wait(&p->cond[me], &p->mutex);
    pthread_mutex_unlock(&p->mutex);
}

/* ---- libconc ------------------------------------------------------------- */

static void sem_pass(struct pingpong *p, int me, int to)
{
    conc_sem_release(&p->sem[to], 1);
    conc_sem_acquire(&p->sem[me], CONC_FOREVER);
}

static void event_pass(struct pingpong *p, int me, int to)
{
    conc_event_set(&p->event[to]);
    conc_event_wait(&p->event[me], CONC_FOREVER);
    conc_event_clear(&p->event[me]);
}

/* One side's half of a round trip: give the turn to the other side, wait for
 * it to come back. The peer starts by waiting. */
static void pass(struct pingpong *p, int me)
{
    int to = 1 - me;

    switch (p->kind) {
    case SEM:
        sem_pass(p, me, to);
        break;
    case EVENT:
        event_pass(p, me, to);
        break;
    case COND:
        cond_pass(p, me, to);
        break;
    case FUTEX:
        futex_pass(p, me, to);
        break;
    }
}

static void peer_first_wait(struct pingpong *p)
{
    switch (p->kind) {
    case SEM:
        conc_sem_acquire(&p->sem[1], CONC_FOREVER);
        break;
    case EVENT:
        conc_event_wait(&p->event[1], CONC_FOREVER);
        conc_event_clear(&p->event[1]);
        break;
    case COND:
        pthread_mutex_lock(&p->mutex);
        while (p->turn != 1)
            pthread_cond_wait(&p->cond[1], &p->mutex);
        pthread_mutex_unlock(&p->mutex);
        break;
    case FUTEX:
        futex_take(&p->word[1]);
        break;
    }
}

static void *peer(void *arg)
{
    struct pingpong *p = arg;
    long total = WARMUP + p->rounds;

    /* The peer answers each of the main side's passes; its last answer
     * needs no reply, so it hands the turn back without waiting. */
    peer_first_wait(p);
    for (long i = 0; i < total - 1; i++)
        pass(p, 1);
    switch (p->kind) {
    case SEM:
        conc_sem_release(&p->sem[0], 1);
        break;
    case EVENT:
        conc_event_set(&p->event[0]);
        break;
    case COND:
        pthread_mutex_lock(&p->mutex);
        p->turn = 0;
        pthread_cond_signal(&p->cond[0]);
        pthread_mutex_unlock(&p->mutex);
        break;
    case FUTEX:
        futex_give(&p->word[0]);
        break;
    }
    return NULL;
}

static void setup(struct pingpong *p)
{
    for (int i = 0; i < 2; i++) {
        conc_sem_init(&p->sem[i], 0);
        conc_event_init(&p->event[i]);
        pthread_cond_init(&p->cond[i], NULL);
    }
    pthread_mutex_init(&p->mutex, NULL);
    p->turn = 0;
    atomic_init(&p->word[0], IDLE);
    atomic_init(&p->word[1], IDLE);
}

static void teardown(struct pingpong *p)
{
    for (int i = 0; i < 2; i++) {
        conc_sem_destroy(&p->sem[i]);
        conc_event_destroy(&p->event[i]);
        pthread_cond_destroy(&p->cond[i]);
    }
    pthread_mutex_destroy(&p->mutex);
}

static int64_t run_once(void *arg)
{
    struct pingpong *p = arg;
    pthread_t t;
    int64_t start;

    setup(p);
    if (pthread_create(&t, NULL, peer, p) != 0) {
        fprintf(stderr, "sync_pingpong: cannot start a thread\n");
        return INT64_MAX;
    }
    for (long i = 0; i < WARMUP; i++)
        pass(p, 0);
    start = conc_now_ns();
    for (long i = 0; i < p->rounds; i++)
        pass(p, 0);
    start = conc_now_ns() - start;
    pthread_join(t, NULL);
    teardown(p);
    return start;
}

static double ns_per_round_trip(enum kind kind, long rounds, int reps)
{
    struct pingpong p = { .kind = kind, .rounds = rounds };

    return (double)bench_best_of(reps, run_once, &p) / (double)rounds;
}

int main(void)
{
    long rounds = (long)(20000 * bench_scale());
    int reps = bench_reps(5);
    double sem, event, cond, futex;

    printf("sync_pingpong: %ld round trips between two threads, best of %d, ns per round trip\n",
           rounds, reps);
    sem = ns_per_round_trip(SEM, rounds, reps);
    event = ns_per_round_trip(EVENT, rounds, reps);
    cond = ns_per_round_trip(COND, rounds, reps);
    bench_report("sem_pingpong", sem, "pthread_cond", cond, "ns", 0);
    bench_report("event_pingpong", event, "pthread_cond", cond, "ns", 0);
    if (HAVE_FUTEX) {
        futex = ns_per_round_trip(FUTEX, rounds, reps);
        bench_report("sem_pingpong", sem, "raw_futex", futex, "ns", 0);
        bench_report("event_pingpong", event, "raw_futex", futex, "ns", 0);
    }
    return 0;
}
