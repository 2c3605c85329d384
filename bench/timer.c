/*
 * Timers: libconc beside libuv and POSIX timers.
 *
 *  1. The timer structure: 1M timers with deadlines spread over 100 ms are
 *     inserted, then (once all are due) fired in deadline order, through
 *     libconc's 4-ary heap and through libuv's timers (uv_timer_start on a
 *     loop, fired by uv_run). The figure is the cost per timer of insert +
 *     fire; the 100 ms of waiting in between is not counted, so the case
 *     measures the structures, not the clock.
 *  2. The timer service: 100k one-shot timers with delays spread over 10 ms
 *     through conc_timer_once() and through POSIX timer_create() with
 *     SIGEV_THREAD (each deleted in its own callback, the fire-and-forget
 *     equivalent). The figure is the wall time from the first start until
 *     every callback has run, per timer. glibc starts one thread per expiry,
 *     about 100 us each, so 100k POSIX timers take minutes: by default the
 *     POSIX side runs a 10k subset (its cost per timer only grows with the
 *     count, so this favours POSIX); BENCH_POSIX_FULL=1 runs all 100k.
 *
 * BENCH_SCALE multiplies the counts, BENCH_REPS sets the repetitions (best
 * run kept).
 */
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <uv.h>

#include "bench_common.h"
#include "conc/timer.h"
#include "core/timerheap.h"

#define SPREAD_NS CONC_MS(100)

static void die(const char *what)
{
    fprintf(stderr, "bench_timer: %s\n", what);
    exit(1);
}

static uint64_t rng_state = 88172645463325252ull;

static uint64_t next_random(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* ---- 1. the timer structure ------------------------------------------------ */

struct structure_case {
    size_t n;
    int64_t *offsets; /* deadline offsets in ns, same for both */
    long fired;
};

struct heap_timer {
    conc__tnode_t node;
    void (*cb)(struct structure_case *c);
};

static void count_fire(struct structure_case *c)
{
    c->fired++;
}

static int64_t run_heap(void *arg)
{
    struct structure_case *c = arg;
    struct heap_timer *t = calloc(c->n, sizeof *t);
    conc__timerheap_t h = CONC__TIMERHEAP_INIT;
    conc__tnode_t *n;

    if (!t)
        die("out of memory");
    c->fired = 0;
    int64_t base = conc_now_ns(), start = base;
    for (size_t i = 0; i < c->n; i++) {
        t[i].cb = count_fire;
        if (conc__timerheap_insert(&h, &t[i].node, base + c->offsets[i]) != 0)
            die("timerheap insert failed");
    }
    int64_t inserted = conc_now_ns();
    conc_sleep_until(base + SPREAD_NS);
    int64_t fire_start = conc_now_ns();
    /* One clock reading for the whole batch, as uv_run does. */
    while ((n = conc__timerheap_pop_expired(&h, fire_start)))
        ((struct heap_timer *)(void *)n)->cb(c);
    int64_t end = conc_now_ns();
    if ((size_t)c->fired != c->n)
        die("heap: not every timer fired");
    conc__timerheap_destroy(&h);
    free(t);
    return (inserted - start) + (end - fire_start);
}

static void uv_fire(uv_timer_t *t)
{
    ((struct structure_case *)t->data)->fired++;
}

static int64_t run_libuv(void *arg)
{
    struct structure_case *c = arg;
    uv_loop_t loop;
    uv_timer_t *t = calloc(c->n, sizeof *t);

    if (!t || uv_loop_init(&loop) != 0)
        die("libuv set-up failed");
    c->fired = 0;
    for (size_t i = 0; i < c->n; i++) {
        uv_timer_init(&loop, &t[i]);
        t[i].data = c;
    }
    uv_update_time(&loop);
    int64_t base = conc_now_ns();
    for (size_t i = 0; i < c->n; i++)
        uv_timer_start(&t[i], uv_fire, (uint64_t)(c->offsets[i] / CONC_MS(1)), 0);
    int64_t inserted = conc_now_ns();
    conc_sleep_until(base + SPREAD_NS + CONC_MS(2));
    int64_t fire_start = conc_now_ns();
    uv_update_time(&loop);
    uv_run(&loop, UV_RUN_NOWAIT);
    int64_t end = conc_now_ns();
    if ((size_t)c->fired != c->n)
        die("libuv: not every timer fired");
    for (size_t i = 0; i < c->n; i++)
        uv_close((uv_handle_t *)&t[i], NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    free(t);
    return (inserted - base) + (end - fire_start);
}

static void bench_structure(int reps)
{
    struct structure_case c = { .n = (size_t)(1000000 * bench_scale()) };

    c.offsets = malloc(c.n * sizeof *c.offsets);
    if (!c.offsets)
        die("out of memory");
    for (size_t i = 0; i < c.n; i++)
        c.offsets[i] = (int64_t)(next_random() % (uint64_t)SPREAD_NS);
    double heap = (double)bench_best_of(reps, run_heap, &c) / (double)c.n;
    double uv = (double)bench_best_of(reps, run_libuv, &c) / (double)c.n;
    printf("%zu timers over 100 ms, insert + fire, ns per timer (lower is better):\n", c.n);
    bench_report("timer_structure_1M_insert_fire", heap, "libuv", uv, "ns/timer", 0);
    free(c.offsets);
}

/* ---- 2. the timer service ------------------------------------------------------- */

#define SERVICE_SPREAD_NS CONC_MS(10)

static _Atomic long service_fired;

static void wait_fired(long n)
{
    while (atomic_load(&service_fired) < n)
        conc_sleep(CONC_US(20));
}

static void conc_fire(void *arg)
{
    (void)arg;
    atomic_fetch_add_explicit(&service_fired, 1, memory_order_relaxed);
}

static int64_t run_service(void *arg)
{
    long n = *(long *)arg;

    atomic_store(&service_fired, 0);
    int64_t start = conc_now_ns();
    for (long i = 0; i < n; i++)
        if (conc_timer_once((int64_t)(next_random() % SERVICE_SPREAD_NS), conc_fire, NULL, NULL))
            die("conc_timer_once failed");
    wait_fired(n);
    return conc_now_ns() - start;
}

static void posix_fire(union sigval v)
{
    timer_t *id = v.sival_ptr;

    timer_delete(*id);
    atomic_fetch_add_explicit(&service_fired, 1, memory_order_relaxed);
}

static void posix_start(timer_t *id, int64_t delay)
{
    struct sigevent ev = { .sigev_notify = SIGEV_THREAD, .sigev_notify_function = posix_fire };
    struct itimerspec its = { .it_value = { (time_t)(delay / CONC_SEC(1)),
                                            (long)(delay % CONC_SEC(1)) } };

    if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
        its.it_value.tv_nsec = 1; /* zero would disarm */
    ev.sigev_value.sival_ptr = id;
    /* The kernel caps live POSIX timers per user (RLIMIT_SIGPENDING): when
     * it refuses, wait for callbacks to delete some, as a caller would. */
    while (timer_create(CLOCK_MONOTONIC, &ev, id) != 0)
        conc_sleep(CONC_US(50));
    if (timer_settime(*id, 0, &its, NULL) != 0)
        die("timer_settime failed");
}

static int64_t run_posix(void *arg)
{
    long n = *(long *)arg;
    timer_t *ids = malloc((size_t)n * sizeof *ids);

    if (!ids)
        die("out of memory");
    atomic_store(&service_fired, 0);
    int64_t start = conc_now_ns();
    for (long i = 0; i < n; i++)
        posix_start(&ids[i], (int64_t)(next_random() % SERVICE_SPREAD_NS));
    wait_fired(n);
    int64_t end = conc_now_ns();
    conc_sleep(CONC_MS(20)); /* let the last notification threads exit */
    free(ids);
    return end - start;
}

static void bench_service(int reps)
{
    long n = (long)(100000 * bench_scale());
    long n_posix = getenv("BENCH_POSIX_FULL") ? n : (n < 10000 ? n : 10000);
    double conc = (double)bench_best_of(reps, run_service, &n) / 1e3 / (double)n;
    double posix = (double)bench_best_of(reps, run_posix, &n_posix) / 1e3 / (double)n_posix;

    printf("one-shot timers over 10 ms, start to last callback, us per timer (lower is better;"
           " libconc %ld timers, POSIX %ld):\n",
           n, n_posix);
    bench_report("timer_service_100k_oneshot", conc, "posix_sigev_thread", posix, "us/timer", 0);
}

int main(void)
{
    int reps = bench_reps(2); /* libuv's side alone takes seconds per run */

    bench_structure(reps);
    bench_service(reps);
    conc_timer_service_shutdown();
    return 0;
}
