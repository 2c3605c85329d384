/*
 * Queue throughput and hand-off latency: libconc's FIFO conc_queue_t beside
 *  - a textbook bounded ring guarded by a pthread mutex and two condition
 *    variables (what most C code does),
 *  - GLib's GAsyncQueue (unbounded),
 *  - moodycamel's BlockingConcurrentQueue (unbounded, lock-free; C++, through
 *    the shim in queue_moodycamel.cpp, when its header is installed).
 *
 * Throughput: P producers and C consumers move 8-byte items through one
 * queue of capacity 1024 (1P1C, 2P2C, 4P4C); every run checks the count and
 * the checksum of the items got. Latency: one item bounces between two
 * threads through two queues; the figure is the round-trip time.
 *
 * BENCH_SCALE multiplies the item counts, BENCH_REPS sets the repetitions
 * (best run kept).
 */
#include <glib.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench_common.h"
#include "conc/queue.h"
#include "conc/thread.h"

#define CAPACITY 1024
#define STOP UINT64_MAX /* the sentinel that ends a consumer (never a real item) */

/* ---- the queues under test, behind one small interface ------------------- */

struct impl {
    const char *name;
    void *(*create)(void);
    void (*destroy)(void *q);
    void (*put)(void *q, uint64_t v);
    uint64_t (*get)(void *q);
};

static void die(const char *what)
{
    fprintf(stderr, "bench_queue: %s\n", what);
    exit(1);
}

/* libconc */
static void *conc_create(void)
{
    conc_queue_t *q = malloc(sizeof *q);

    if (!q || conc_queue_init(q, sizeof(uint64_t), CAPACITY, NULL) != 0)
        die("conc_queue_init failed");
    return q;
}

static void conc_destroy(void *q)
{
    if (conc_queue_destroy(q) != 0)
        die("conc_queue_destroy failed");
    free(q);
}

static void conc_put(void *q, uint64_t v)
{
    if (conc_queue_put(q, &v, CONC_FOREVER) != 0)
        die("conc_queue_put failed");
}

static uint64_t conc_get(void *q)
{
    uint64_t v;

    if (conc_queue_get(q, &v, CONC_FOREVER) != 0)
        die("conc_queue_get failed");
    return v;
}

/* The textbook ring: one mutex, "not full" and "not empty" conditions. */
struct tb_queue {
    pthread_mutex_t lock;
    pthread_cond_t not_full, not_empty;
    size_t head, count;
    uint64_t items[CAPACITY];
};

static void *tb_create(void)
{
    struct tb_queue *q = calloc(1, sizeof *q);

    if (!q)
        die("out of memory");
    pthread_mutex_init(&q->lock, NULL);
    pthread_cond_init(&q->not_full, NULL);
    pthread_cond_init(&q->not_empty, NULL);
    return q;
}

static void tb_destroy(void *p)
{
    struct tb_queue *q = p;

    pthread_cond_destroy(&q->not_empty);
    pthread_cond_destroy(&q->not_full);
    pthread_mutex_destroy(&q->lock);
    free(q);
}

static void tb_put(void *p, uint64_t v)
{
    struct tb_queue *q = p;

    pthread_mutex_lock(&q->lock);
    while (q->count == CAPACITY)
        pthread_cond_wait(&q->not_full, &q->lock);
    q->items[(q->head + q->count++) % CAPACITY] = v;
    pthread_cond_signal(&q->not_empty);
    pthread_mutex_unlock(&q->lock);
}

static uint64_t tb_get(void *p)
{
    struct tb_queue *q = p;

    pthread_mutex_lock(&q->lock);
    while (q->count == 0)
        pthread_cond_wait(&q->not_empty, &q->lock);
    uint64_t v = q->items[q->head];
    q->head = (q->head + 1) % CAPACITY;
    q->count--;
    pthread_cond_signal(&q->not_full);
    pthread_mutex_unlock(&q->lock);
    return v;
}

/* GLib: items travel as pointers; none of them is 0 (NULL is refused). */
static void *glib_create(void)
{
    return g_async_queue_new();
}

static void glib_destroy(void *q)
{
    g_async_queue_unref(q);
}

static void glib_put(void *q, uint64_t v)
{
    g_async_queue_push(q, (gpointer)(uintptr_t)v);
}

static uint64_t glib_get(void *q)
{
    return (uintptr_t)g_async_queue_pop(q);
}

#ifdef HAVE_MOODYCAMEL
/* queue_moodycamel.cpp */
void *bench_mc_create(size_t capacity);
void bench_mc_destroy(void *q);
int bench_mc_put(void *q, uint64_t item);
uint64_t bench_mc_get(void *q);

static void *mc_create(void)
{
    void *q = bench_mc_create(CAPACITY);

    if (!q)
        die("out of memory");
    return q;
}

static void mc_put(void *q, uint64_t v)
{
    if (bench_mc_put(q, v) != 0)
        die("moodycamel enqueue failed");
}
#endif

/* libconc first: every other entry is a peer it is compared with. */
static const struct impl impls[] = {
    { "libconc", conc_create, conc_destroy, conc_put, conc_get },
    { "mutex+cond", tb_create, tb_destroy, tb_put, tb_get },
    { "GAsyncQueue", glib_create, glib_destroy, glib_put, glib_get },
#ifdef HAVE_MOODYCAMEL
    { "moodycamel", mc_create, bench_mc_destroy, mc_put, bench_mc_get },
#endif
};
#define N_IMPLS ((int)(sizeof impls / sizeof impls[0]))

/* ---- threads ---------------------------------------------------------------- */

static conc_thread_t spawn(conc_thread_fn fn, void *arg)
{
    conc_thread_t t;

    if (conc_thread_create(&t, NULL, fn, arg) != 0)
        die("conc_thread_create failed");
    return t;
}

static void reap(conc_thread_t *t)
{
    if (conc_thread_join(t, NULL, CONC_FOREVER) != 0)
        die("conc_thread_join failed");
}

/* ---- throughput --------------------------------------------------------------- */

struct flow {
    const struct impl *impl;
    void *q;
    int producers, consumers;
    long per_producer;
};

struct worker {
    struct flow *flow;
    uint64_t first; /* producer: first item value */
    uint64_t sum, count;
};

static void *produce(void *arg)
{
    struct worker *w = arg;
    const struct impl *im = w->flow->impl;

    for (long i = 0; i < w->flow->per_producer; i++)
        im->put(w->flow->q, w->first + (uint64_t)i);
    /* Each producer ends its own stream: moodycamel keeps only each
     * producer's order, so a sentinel from another thread could overtake
     * items. With as many producers as consumers, each consumer takes one. */
    im->put(w->flow->q, STOP);
    return NULL;
}

static void *consume(void *arg)
{
    struct worker *w = arg;
    const struct impl *im = w->flow->impl;

    for (uint64_t v; (v = im->get(w->flow->q)) != STOP;) {
        w->sum += v;
        w->count++;
    }
    return NULL;
}

/* One run: the nanoseconds to move every item, checksum verified. */
static int64_t run_flow(void *arg)
{
    struct flow *f = arg;
    struct worker w[16] = { { 0 } };
    conc_thread_t t[16];
    int np = f->producers, nc = f->consumers;
    uint64_t total = (uint64_t)np * (uint64_t)f->per_producer, sum = 0, count = 0;

    f->q = f->impl->create();
    int64_t start = conc_now_ns();
    for (int i = 0; i < np + nc; i++) {
        w[i].flow = f;
        w[i].first = 1 + (uint64_t)i * (uint64_t)f->per_producer;
        t[i] = spawn(i < np ? produce : consume, &w[i]);
    }
    for (int i = 0; i < np + nc; i++) {
        reap(&t[i]);
        sum += w[i].sum;
        count += w[i].count;
    }
    int64_t ns = conc_now_ns() - start;
    f->impl->destroy(f->q);
    /* Items are 1..total, each exactly once. */
    if (count != total || sum != total * (total + 1) / 2) {
        fprintf(stderr, "bench_queue: %s lost or duplicated items (%llu of %llu)\n", f->impl->name,
                (unsigned long long)count, (unsigned long long)total);
        exit(1);
    }
    return ns;
}

static double throughput(const struct impl *im, int pc, long items, int reps)
{
    struct flow f = { im, NULL, pc, pc, items / pc };
    int64_t ns = bench_best_of(reps, run_flow, &f);

    return (double)(f.per_producer * pc) / ((double)ns / 1e9) / 1e6;
}

/* ---- latency ------------------------------------------------------------------ */

struct bounce {
    const struct impl *impl;
    void *ping, *pong;
    long rounds;
};

static void *echo(void *arg)
{
    struct bounce *b = arg;

    for (uint64_t v; (v = b->impl->get(b->ping)) != STOP;)
        b->impl->put(b->pong, v + 1);
    return NULL;
}

static int64_t run_bounce(void *arg)
{
    struct bounce *b = arg;

    b->ping = b->impl->create();
    b->pong = b->impl->create();
    conc_thread_t t = spawn(echo, b);
    int64_t start = conc_now_ns();
    for (long i = 1; i <= b->rounds; i++) {
        b->impl->put(b->ping, (uint64_t)i);
        if (b->impl->get(b->pong) != (uint64_t)i + 1)
            die("ping-pong item mismatch");
    }
    int64_t ns = conc_now_ns() - start;
    b->impl->put(b->ping, STOP);
    reap(&t);
    b->impl->destroy(b->ping);
    b->impl->destroy(b->pong);
    return ns;
}

static double round_trip_ns(const struct impl *im, long rounds, int reps)
{
    struct bounce b = { im, NULL, NULL, rounds };

    return (double)bench_best_of(reps, run_bounce, &b) / (double)rounds;
}

/* ---- main -------------------------------------------------------------------- */

int main(void)
{
    static const int pcs[] = { 1, 2, 4 };
    int reps = bench_reps(3);
    long items = (long)(1000000 * bench_scale());
    long rounds = (long)(20000 * bench_scale());
    char name[64];

    printf("bench_queue: 8-byte items, capacity %d, %ld items per run, best of %d\n", CAPACITY,
           items, reps);
    for (size_t c = 0; c < sizeof pcs / sizeof pcs[0]; c++) {
        double v[N_IMPLS];
        for (int i = 0; i < N_IMPLS; i++)
            v[i] = throughput(&impls[i], pcs[c], items, reps);
        snprintf(name, sizeof name, "queue_%dp%dc", pcs[c], pcs[c]);
        for (int i = 1; i < N_IMPLS; i++)
            bench_report(name, v[0], impls[i].name, v[i], "Mitems/s", 1);
    }
    double rt[N_IMPLS];
    for (int i = 0; i < N_IMPLS; i++)
        rt[i] = round_trip_ns(&impls[i], rounds, reps);
    for (int i = 1; i < N_IMPLS; i++)
        bench_report("queue_pingpong_rtt", rt[0], impls[i].name, rt[i], "ns", 0);
    return 0;
}
