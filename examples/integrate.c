/*
 * Numerical integration of x^2 over [0, 10] (exactly 1000/3 = 333.333...),
 * the same computation done several ways:
 *
 *   integrate [STEPS] [WORKERS]        (default 20000000 steps, 4 workers)
 *
 *   sequential     one loop in the main thread;
 *   threads+queue  worker threads take chunks of the range from a
 *                  conc_queue_t and put their partial sums into a second one;
 *   pool map       conc_pool_map() applies the chunk function over an array
 *                  of chunks on a thread pool;
 *   process pool   conc_procpool_map() sends the same chunks to worker
 *                  processes (Python's multiprocessing.Pool.map): the chunk
 *                  goes out as bytes, its partial sum comes back as bytes.
 *
 * Each variant prints its wall time and its result, and the program checks
 * every result against the exact value (the midpoint rule used here is off
 * by 10 * h^2 / 12 for a step h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <conc.h>

#define MAX_WORKERS 64

/* A piece of the range: the steps first .. first + count - 1. */
struct chunk {
    long first, count;
    double h;   /* step width */
    double sum; /* the chunk's part of the integral (pool variant) */
};

struct job {
    long steps;
    int workers;
    int nchunks;
    double h; /* step width */
    struct chunk *chunks;
};

static void check(int rc, const char *what)
{
    if (rc < 0) {
        fprintf(stderr, "%s: %s\n", what, conc_strerror(rc));
        exit(1);
    }
}

static double f(double x)
{
    return x * x;
}

/* Midpoint rule over steps [first, first + count). */
static double integrate_steps(long first, long count, double h)
{
    double sum = 0;

    for (long i = first; i < first + count; i++)
        sum += f(((double)i + 0.5) * h);
    return sum * h;
}

static double run_sequential(const struct job *job)
{
    return integrate_steps(0, job->steps, job->h);
}

/* ---- threads and a queue of chunks ------------------------------------- */

struct queues {
    conc_queue_t chunks;   /* struct chunk, main -> workers */
    conc_queue_t partials; /* double, workers -> main */
};

static void *queue_worker(void *arg)
{
    struct queues *q = arg;
    struct chunk c;
    int rc;

    /* Take chunks until the queue is shut down and empty. */
    while ((rc = conc_queue_get(&q->chunks, &c, CONC_FOREVER)) == 0) {
        double part = integrate_steps(c.first, c.count, c.h);
        check(conc_queue_put(&q->partials, &part, CONC_FOREVER), "conc_queue_put");
    }
    check(rc == CONC_ECLOSED ? 0 : rc, "conc_queue_get");
    return NULL;
}

static double run_threads_queue(const struct job *job)
{
    struct queues q;
    conc_thread_t threads[MAX_WORKERS];
    double total = 0, part;

    /* The chunk queue is small on purpose: the main thread blocks while the
     * workers are busy (backpressure). The result queue holds every partial
     * sum, so a worker never waits for the main thread. */
    check(conc_queue_init(&q.chunks, sizeof(struct chunk), 4, NULL), "conc_queue_init");
    check(conc_queue_init(&q.partials, sizeof(double), (size_t)job->nchunks, NULL),
          "conc_queue_init");
    for (int i = 0; i < job->workers; i++)
        check(conc_thread_create(&threads[i], NULL, queue_worker, &q), "conc_thread_create");
    for (int i = 0; i < job->nchunks; i++)
        check(conc_queue_put(&q.chunks, &job->chunks[i], CONC_FOREVER), "conc_queue_put");
    /* No more chunks: the workers drain the queue, then get CONC_ECLOSED. */
    check(conc_queue_shutdown(&q.chunks, false), "conc_queue_shutdown");
    for (int i = 0; i < job->nchunks; i++) {
        check(conc_queue_get(&q.partials, &part, CONC_FOREVER), "conc_queue_get");
        total += part;
    }
    for (int i = 0; i < job->workers; i++)
        check(conc_thread_join(&threads[i], NULL, CONC_FOREVER), "conc_thread_join");
    check(conc_queue_destroy(&q.chunks), "conc_queue_destroy");
    check(conc_queue_destroy(&q.partials), "conc_queue_destroy");
    return total;
}

/* ---- the thread pool's map ---------------------------------------------- */

static int pool_chunk(void *arg, void **result)
{
    struct chunk *c = arg;

    c->sum = integrate_steps(c->first, c->count, c->h);
    return 0; /* results go into the chunk itself; *result stays NULL */
}

static double run_pool_map(const struct job *job)
{
    conc_pool_attr_t attr = CONC_POOL_ATTR_INIT;
    conc_pool_t pool;
    void *args[8 * MAX_WORKERS];
    double total = 0;

    attr.max_workers = job->workers;
    check(conc_pool_init(&pool, &attr), "conc_pool_init");
    for (int i = 0; i < job->nchunks; i++)
        args[i] = &job->chunks[i];
    /* Returns when every chunk has been computed; the calling thread helps. */
    check(conc_pool_map(&pool, pool_chunk, args, NULL, (size_t)job->nchunks), "conc_pool_map");
    for (int i = 0; i < job->nchunks; i++)
        total += job->chunks[i].sum;
    check(conc_pool_destroy(&pool), "conc_pool_destroy");
    return total;
}

/* ---- a pool of worker processes ------------------------------------------ */

/* Runs in a worker process: a chunk in, its partial sum out, as bytes. */
static int process_chunk(const void *arg, size_t len, void *out, size_t cap, size_t *out_len)
{
    struct chunk c;

    if (len != sizeof c || cap < sizeof c.sum)
        return CONC_EINVAL;
    memcpy(&c, arg, sizeof c);
    double sum = integrate_steps(c.first, c.count, c.h);
    memcpy(out, &sum, sizeof sum);
    *out_len = sizeof sum;
    return 0;
}

static double run_processes(const struct job *job)
{
    conc_procpool_attr_t attr = CONC_PROCPOOL_ATTR_INIT;
    conc_procpool_t pool;
    double sums[8 * MAX_WORKERS], total = 0;

    attr.workers = job->workers;
    check(conc_procpool_init(&pool, &attr), "conc_procpool_init");
    /* The chunks array is copied to the workers item by item; each result
     * slot receives one double. */
    check(conc_procpool_map(&pool, process_chunk, job->chunks, sizeof job->chunks[0],
                            (size_t)job->nchunks, sums, sizeof sums[0], NULL),
          "conc_procpool_map");
    for (int i = 0; i < job->nchunks; i++)
        total += sums[i];
    check(conc_procpool_destroy(&pool), "conc_procpool_destroy");
    return total;
}

static const struct variant {
    const char *name;
    double (*run)(const struct job *job);
} variants[] = {
    { "sequential", run_sequential },
    { "threads+queue", run_threads_queue },
    { "pool map", run_pool_map },
    { "process pool", run_processes },
};

int main(int argc, char **argv)
{
    struct chunk chunks[8 * MAX_WORKERS];
    struct job job = { .steps = 20000000, .workers = 4, .chunks = chunks };

    if (argc > 1)
        job.steps = strtol(argv[1], NULL, 10);
    if (argc > 2)
        job.workers = (int)strtol(argv[2], NULL, 10);
    if (argc > 3 || job.steps < 1 || job.workers < 1 || job.workers > MAX_WORKERS) {
        fprintf(stderr, "usage: %s [STEPS] [WORKERS (1..%d)]\n", argv[0], MAX_WORKERS);
        return 2;
    }
    /* Split the range into a few chunks per worker, so that a slow worker
     * does not hold the others up at the end. */
    job.h = 10.0 / (double)job.steps;
    job.nchunks = 8 * job.workers < job.steps ? 8 * job.workers : (int)job.steps;
    for (long i = 0, first = 0; i < job.nchunks; i++) {
        long count = job.steps / job.nchunks + (i < job.steps % job.nchunks);
        chunks[i] = (struct chunk){ first, count, job.h, 0 };
        first += count;
    }

    const double exact = 1000.0 / 3.0;
    const double tolerance = 10.0 * job.h * job.h / 12.0 + 1e-6;
    int failures = 0;

    printf("integral of x^2 over [0, 10], %ld steps, %d workers (exact %.9f)\n", job.steps,
           job.workers, exact);
    for (size_t v = 0; v < sizeof(variants) / sizeof(variants[0]); v++) {
        int64_t t0 = conc_now_ns();
        double result = variants[v].run(&job);
        double ms = (double)(conc_now_ns() - t0) / 1e6;
        int ok = result - exact <= tolerance && exact - result <= tolerance;

        printf("  %-14s %9.2f ms   %.9f%s\n", variants[v].name, ms, result, ok ? "" : "  WRONG");
        failures += !ok;
    }
    if (failures)
        return 1;
    printf("all results match %.6f\n", exact);
    return 0;
}
