/*
 * One set of primitives for threads and tasks (issue 8): the core's queue
 * and mutex used from coroutine tasks.
 *
 *  6. thread -> task: a producer thread puts N 8-byte items into a
 *     conc_queue_t (capacity 1024) and a consumer task on a loop gets them
 *     with conc_queue_get(), which suspends only the task. The peer is the
 *     usual alternative: a mutex-protected growable array plus
 *     uv_async_send() into a libuv loop, whose async callback swaps the array
 *     out under the lock and consumes it. Items per second from the first
 *     put to the last item consumed. Twice: the task getting one item per
 *     call, and getting what is there (up to 256) per call with
 *     conc_queue_get_many(), which is what the peer's consumer does; the
 *     producer puts one item per call in every version.
 *  7. task -> task on one loop: a producer task puts N items into a
 *     conc_queue_t that a consumer task gets them from, beside the same hand-off
 *     through the loop's plain callbacks (a producer callback that schedules
 *     one consumer callback per item with conc_loop_call_soon(), then itself
 *     again). With a queue of capacity 1 against one item per producer
 *     callback, and capacity 256 against 256 items per producer callback.
 *     Items per second; the peer is libconc's own callbacks (what the tasks
 *     cost over callbacks), so this is a report, not a goal.
 *  8. a conc_mutex_t contended by 1000 tasks on one loop: each task locks,
 *     increments a shared counter, unlocks, and yields, K times; every k-th
 *     time it also yields while holding the lock, so the others pile up on
 *     the mutex (k = 1: every acquisition contended; k = 8; and k = 0, never
 *     inside: the lock is always free, the baseline). Lock/unlock pairs per
 *     second; no peer (libuv has no task-aware mutex): REPORT lines
 *     (`REPORT <case> libconc=<v> unit=<u>`).
 *
 * Every case checks counts and checksums (and, for the mutex, that nobody
 * else was ever inside the critical section) and exits non-zero otherwise.
 * Usage: bench_loop_bridge [scale [case]]; BENCH_REPS sets the repetitions
 * (best run kept).
 */
#include <stdatomic.h>
#include <uv.h>

#include "conc/loop.h"
#include "conc/mutex.h"
#include "conc/queue.h"
#include "conc/task.h"
#include "conc/thread.h"
#include "loop_bench.h"

static void check_sum(const char *who, long count, long n, uint64_t sum)
{
    uint64_t u = (uint64_t)n;

    if (count != n || sum != u * (u + 1) / 2)
        lb_die("%s: %ld of %ld items, checksum %llu", who, count, n, (unsigned long long)sum);
}

/* ---- 6. producer thread -> consumer task ----------------------------------- */

enum { BRIDGE_CAPACITY = 1024 };

/* The two sides keep their counters in locals and publish them at the end:
 * a consumer that wrote tt.count for every item while the producer read
 * tt.n from the same cache line (and, for libconc, beside the queue's own
 * fields) measured false sharing, not the hand-off: 4 M items/s where the
 * same hand-off without it runs at 16 M/s. The queue gets lines of its own. */
static struct {
    long n;
    long count;
    uint64_t sum;
    _Atomic int64_t start; /* the producer's first put */
    int64_t end;           /* the last item consumed */
} tt;

static _Alignas(64) conc_queue_t tt_q;

static void *tt_conc_producer(void *arg)
{
    const uint64_t n = (uint64_t)tt.n;

    (void)arg;
    atomic_store(&tt.start, conc_now_ns());
    for (uint64_t i = 1; i <= n; i++)
        lb_check(conc_queue_put(&tt_q, &i, CONC_FOREVER), "conc_queue_put");
    return NULL;
}

/* The same consumer taking whatever is there, up to a batch, per call. */
static int tt_conc_batch_consumer(void *arg, void **result)
{
    enum { BATCH = 256 };
    const long n = tt.n;
    uint64_t v[BATCH], sum = 0;
    long count = 0;

    (void)arg;
    (void)result;
    while (count < n) {
        size_t got;
        int rc = conc_queue_get_many(&tt_q, v, BATCH, &got, CONC_FOREVER);
        if (rc != 0)
            return rc;
        for (size_t i = 0; i < got; i++)
            sum += v[i];
        count += (long)got;
    }
    tt.end = conc_now_ns();
    tt.sum = sum;
    tt.count = count;
    return 0;
}

static int tt_conc_consumer(void *arg, void **result)
{
    const long n = tt.n;
    uint64_t v, sum = 0;
    long count = 0;

    (void)arg;
    (void)result;
    for (long i = 0; i < n; i++) {
        int rc = conc_queue_get(&tt_q, &v, CONC_FOREVER);
        if (rc != 0)
            return rc;
        sum += v;
        count++;
    }
    tt.end = conc_now_ns();
    tt.sum = sum;
    tt.count = count;
    return 0;
}

static int64_t thread_task_conc(void *consumer_fn)
{
    conc_loop_t loop;
    conc_task_t *consumer;
    conc_thread_t th;

    tt.count = 0;
    tt.sum = 0;
    lb_check(conc_queue_init(&tt_q, sizeof(uint64_t), BRIDGE_CAPACITY, NULL), "conc_queue_init");
    /* Deadlock detection stays on (the default): the producer thread, woken
     * from a full queue, is uncounted by its waker, so it never looks parked. */
    lb_check(conc_loop_init(&loop, NULL), "conc_loop_init");
    lb_check(conc_task_spawn(&loop, NULL, *(conc_task_fn *)consumer_fn, NULL, &consumer),
             "conc_task_spawn");
    lb_check(conc_thread_create(&th, NULL, tt_conc_producer, NULL), "conc_thread_create");
    lb_check(conc_loop_run_until_complete(&loop, consumer, NULL), "consumer task");
    lb_check(conc_thread_join(&th, NULL, CONC_FOREVER), "conc_thread_join");
    lb_check(conc_loop_destroy(&loop), "conc_loop_destroy");
    lb_check(conc_queue_destroy(&tt_q), "conc_queue_destroy");
    check_sum("libconc thread->task", tt.count, tt.n, tt.sum);
    return tt.end - atomic_load(&tt.start);
}

/* libuv: a locked growable array and one uv_async_t. */
struct u64_vec {
    uint64_t *v;
    size_t len, cap;
};

static struct {
    uv_loop_t loop;
    uv_async_t async;
    uv_mutex_t lock;
    struct u64_vec pending; /* under lock */
    struct u64_vec spare;   /* the consumer's, swapped with pending */
} ut;

static void vec_push(struct u64_vec *a, uint64_t x)
{
    if (a->len == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 1024;
        uint64_t *v = realloc(a->v, cap * sizeof *v);
        if (!v)
            lb_die("out of memory");
        a->v = v;
        a->cap = cap;
    }
    a->v[a->len++] = x;
}

static void tt_uv_drain(uv_async_t *a)
{
    uv_mutex_lock(&ut.lock);
    struct u64_vec got = ut.pending;
    ut.pending = ut.spare;
    uv_mutex_unlock(&ut.lock);
    uint64_t sum = 0;
    for (size_t i = 0; i < got.len; i++)
        sum += got.v[i];
    tt.sum += sum; /* once per batch, like the libconc side's once per run */
    tt.count += (long)got.len;
    got.len = 0;
    ut.spare = got;
    if (tt.count == tt.n) {
        tt.end = conc_now_ns();
        uv_stop(a->loop); /* not uv_close(): the producer may still be in uv_async_send() */
    }
}

static void *tt_uv_producer(void *arg)
{
    const uint64_t n = (uint64_t)tt.n;

    (void)arg;
    atomic_store(&tt.start, conc_now_ns());
    for (uint64_t i = 1; i <= n; i++) {
        uv_mutex_lock(&ut.lock);
        vec_push(&ut.pending, i);
        uv_mutex_unlock(&ut.lock);
        lb_check(uv_async_send(&ut.async), "uv_async_send");
    }
    return NULL;
}

static int64_t thread_task_uv(void *unused)
{
    conc_thread_t th;

    (void)unused;
    tt.count = 0;
    tt.sum = 0;
    lb_check(uv_loop_init(&ut.loop), "uv_loop_init");
    lb_check(uv_mutex_init(&ut.lock), "uv_mutex_init");
    lb_check(uv_async_init(&ut.loop, &ut.async, tt_uv_drain), "uv_async_init");
    lb_check(conc_thread_create(&th, NULL, tt_uv_producer, NULL), "conc_thread_create");
    uv_run(&ut.loop, UV_RUN_DEFAULT);
    lb_check(conc_thread_join(&th, NULL, CONC_FOREVER), "conc_thread_join");
    uv_close((uv_handle_t *)&ut.async, NULL);
    uv_run(&ut.loop, UV_RUN_DEFAULT);
    lb_check(uv_loop_close(&ut.loop), "uv_loop_close");
    uv_mutex_destroy(&ut.lock);
    free(ut.pending.v);
    free(ut.spare.v);
    memset(&ut.pending, 0, sizeof ut.pending);
    memset(&ut.spare, 0, sizeof ut.spare);
    check_sum("libuv thread->loop", tt.count, tt.n, tt.sum);
    return tt.end - atomic_load(&tt.start);
}

static void bench_thread_task(int reps)
{
    tt.n = lb_count(2000000, 1);
    double k = (double)tt.n * 1e9;
    conc_task_fn one = tt_conc_consumer, many = tt_conc_batch_consumer;
    double conc = k / (double)bench_best_of(reps, thread_task_conc, &one);
    double batch = k / (double)bench_best_of(reps, thread_task_conc, &many);
    double uv = k / (double)bench_best_of(reps, thread_task_uv, NULL);

    printf("%ld items from a producer thread to a consumer on a loop, items/s (higher is"
           " better):\n",
           tt.n);
    bench_report("bridge_thread_to_task_queue", conc, "libuv_async_locked_array", uv, "items/s", 1);
    bench_report("bridge_thread_to_task_queue_get_many", batch, "libuv_async_locked_array", uv,
                 "items/s", 1);
}

/* ---- 7. task -> task on one loop, vs callbacks ------------------------------ */

static struct {
    conc_loop_t loop;
    conc_queue_t q;
    long n;
    long batch; /* callbacks: items per producer callback */
    long next;  /* callbacks: the next item to produce */
    long count;
    uint64_t sum;
} hk;

static int hk_producer(void *arg, void **result)
{
    (void)arg;
    (void)result;
    for (uint64_t i = 1; i <= (uint64_t)hk.n; i++) {
        int rc = conc_queue_put(&hk.q, &i, CONC_FOREVER);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int hk_consumer(void *arg, void **result)
{
    uint64_t v;

    (void)arg;
    (void)result;
    for (long i = 0; i < hk.n; i++) {
        int rc = conc_queue_get(&hk.q, &v, CONC_FOREVER);
        if (rc != 0)
            return rc;
        hk.sum += v;
        hk.count++;
    }
    return 0;
}

static int64_t handoff_tasks(void *unused)
{
    conc_task_t *prod, *cons;

    (void)unused;
    hk.count = 0;
    hk.sum = 0;
    lb_check(conc_queue_init(&hk.q, sizeof(uint64_t), (size_t)hk.batch, NULL), "conc_queue_init");
    lb_check(conc_loop_init(&hk.loop, NULL), "conc_loop_init");
    int64_t start = conc_now_ns();
    lb_check(conc_task_spawn(&hk.loop, NULL, hk_producer, NULL, &prod), "conc_task_spawn");
    lb_check(conc_task_spawn(&hk.loop, NULL, hk_consumer, NULL, &cons), "conc_task_spawn");
    lb_check(conc_loop_run_until_complete(&hk.loop, cons, NULL), "consumer task");
    int64_t ns = conc_now_ns() - start;
    lb_check(conc_loop_run_until_complete(&hk.loop, prod, NULL), "producer task");
    lb_check(conc_loop_destroy(&hk.loop), "conc_loop_destroy");
    lb_check(conc_queue_destroy(&hk.q), "conc_queue_destroy");
    check_sum("libconc task->task", hk.count, hk.n, hk.sum);
    return ns;
}

static void hk_consume_cb(conc_loop_t *loop, void *arg)
{
    hk.sum += (uintptr_t)arg;
    if (++hk.count == hk.n)
        conc_loop_stop(loop);
}

static void hk_produce_cb(conc_loop_t *loop, void *arg)
{
    (void)arg;
    for (long b = 0; b < hk.batch && hk.next <= hk.n; b++, hk.next++)
        lb_check(conc_loop_call_soon(loop, hk_consume_cb, (void *)(uintptr_t)hk.next, NULL),
                 "conc_loop_call_soon");
    if (hk.next <= hk.n)
        lb_check(conc_loop_call_soon(loop, hk_produce_cb, NULL, NULL), "conc_loop_call_soon");
}

static int64_t handoff_callbacks(void *unused)
{
    (void)unused;
    hk.count = 0;
    hk.sum = 0;
    hk.next = 1;
    lb_check(conc_loop_init(&hk.loop, NULL), "conc_loop_init");
    int64_t start = conc_now_ns();
    lb_check(conc_loop_call_soon(&hk.loop, hk_produce_cb, NULL, NULL), "conc_loop_call_soon");
    lb_check(conc_loop_run_forever(&hk.loop), "conc_loop_run_forever");
    int64_t ns = conc_now_ns() - start;
    lb_check(conc_loop_destroy(&hk.loop), "conc_loop_destroy");
    check_sum("libconc callbacks", hk.count, hk.n, hk.sum);
    return ns;
}

static void bench_handoff(int reps)
{
    static const long batches[] = { 1, 256 };

    hk.n = lb_count(2000000, 1);
    printf("%ld items handed from one task to another on one loop, items/s (higher is better;"
           " the peer is libconc's own callbacks):\n",
           hk.n);
    for (size_t i = 0; i < sizeof batches / sizeof batches[0]; i++) {
        char name[64];
        hk.batch = batches[i];
        double k = (double)hk.n * 1e9;
        double tasks = k / (double)bench_best_of(reps, handoff_tasks, NULL);
        double cbs = k / (double)bench_best_of(reps, handoff_callbacks, NULL);
        snprintf(name, sizeof name, "bridge_task_to_task_queue_cap%ld", hk.batch);
        bench_report(name, tasks, "call_soon", cbs, "items/s", 1);
    }
}

/* ---- 8. a mutex contended by 1000 tasks ----------------------------------- */

static struct {
    conc_loop_t loop;
    conc_mutex_t m;
    int ntasks;
    long iters;
    long every; /* yield inside the lock every this many iterations; 0: never */
    long counter;
    bool inside;
} mx;

static int mutex_task(void *arg, void **result)
{
    (void)arg;
    (void)result;
    for (long i = 1; i <= mx.iters; i++) {
        int rc = conc_mutex_lock(&mx.m);
        if (rc != 0)
            return rc;
        if (mx.inside)
            lb_die("mutex: two tasks inside the critical section");
        mx.inside = true;
        mx.counter++;
        if (mx.every && i % mx.every == 0)
            rc = conc_task_yield();
        mx.inside = false;
        int urc = conc_mutex_unlock(&mx.m);
        if (rc != 0 || urc != 0)
            return rc ? rc : urc;
        rc = conc_task_yield();
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int64_t mutex_run(void *unused)
{
    conc_task_t **t = calloc((size_t)mx.ntasks, sizeof *t);

    (void)unused;
    if (!t)
        lb_die("out of memory");
    mx.counter = 0;
    mx.inside = false;
    lb_check(conc_mutex_init(&mx.m), "conc_mutex_init");
    lb_check(conc_loop_init(&mx.loop, NULL), "conc_loop_init");
    int64_t start = conc_now_ns();
    for (int i = 0; i < mx.ntasks; i++)
        lb_check(conc_task_spawn(&mx.loop, NULL, mutex_task, NULL, &t[i]), "conc_task_spawn");
    for (int i = 0; i < mx.ntasks; i++)
        lb_check(conc_loop_run_until_complete(&mx.loop, t[i], NULL), "mutex task");
    int64_t ns = conc_now_ns() - start;
    lb_check(conc_loop_destroy(&mx.loop), "conc_loop_destroy");
    lb_check(conc_mutex_destroy(&mx.m), "conc_mutex_destroy");
    if (mx.counter != (long)mx.ntasks * mx.iters)
        lb_die("mutex: counter %ld, expected %ld", mx.counter, (long)mx.ntasks * mx.iters);
    free(t);
    return ns;
}

static void bench_mutex(int reps)
{
    static const long every[] = { 1, 8, 0 };

    mx.ntasks = 1000;
    mx.iters = lb_count(1000, 1);
    printf("conc_mutex_t shared by %d tasks on one loop, %ld lock/unlock each, a yield after"
           " each unlock, pairs/s (higher is better; no peer):\n",
           mx.ntasks, mx.iters);
    for (size_t i = 0; i < sizeof every / sizeof every[0]; i++) {
        char name[64];
        mx.every = every[i];
        double rate = (double)mx.ntasks * (double)mx.iters * 1e9 /
                      (double)bench_best_of(reps, mutex_run, NULL);
        if (mx.every)
            snprintf(name, sizeof name, "bridge_mutex_1000_tasks_held_1in%ld", mx.every);
        else
            snprintf(name, sizeof name, "bridge_mutex_1000_tasks_held_never");
        printf("  %-34s libconc %12.2f   %-8s\n", name, rate, "pairs/s");
        printf("REPORT %s libconc=%.2f unit=pairs/s\n", name, rate);
        fflush(stdout);
    }
}

int main(int argc, char **argv)
{
    lb_args(argc, argv, "bench_loop_bridge");
    if (lb_enabled("thread_to_task"))
        bench_thread_task(bench_reps(3));
    if (lb_enabled("task_to_task"))
        bench_handoff(bench_reps(3));
    if (lb_enabled("mutex"))
        bench_mutex(bench_reps(3));
    return 0;
}
