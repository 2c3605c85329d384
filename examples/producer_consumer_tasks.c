/*
 * Producers and consumers as tasks on one event loop, around one bounded
 * queue (the task version of producer_consumer.c, asyncio.Queue's demo):
 *
 *   producer_consumer_tasks [--producers N] [--consumers N] [--items N] [--capacity N]
 *
 * What it teaches: the very same conc_queue_t calls work in tasks. A task
 * that blocks in conc_queue_put() on a full queue, or in conc_queue_get() on
 * an empty one, suspends only itself; the loop's single thread runs the other
 * tasks meanwhile. There are no threads here, yet producers and consumers
 * interleave, and the queue's capacity still paces the producers.
 *
 * conc_run() plays asyncio.run(): it runs main_task on a fresh loop. The main
 * task spawns everything, waits for the producers, then for every item to be
 * processed (conc_queue_join), shuts the queue down (the idle consumers get
 * CONC_ECLOSED and return) and checks that the sum is items * (items + 1) / 2.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <conc.h>

struct producer {
    conc_queue_t *queue;
    uint64_t first, count; /* puts first .. first + count - 1 */
};

struct consumer {
    conc_queue_t *queue;
    uint64_t sum, count;
};

struct options {
    long producers, consumers, items, capacity;
};

static int produce(void *arg, void **result)
{
    struct producer *p = arg;
    (void)result;

    for (uint64_t v = p->first; v < p->first + p->count; v++) {
        /* On a full queue this suspends the task, not the loop's thread. */
        int rc = conc_queue_put(p->queue, &v, CONC_FOREVER);
        if (rc != 0)
            return rc; /* the task's status, seen by whoever joins it */
    }
    return 0;
}

static int consume(void *arg, void **result)
{
    struct consumer *c = arg;
    uint64_t v;
    int rc;
    (void)result;

    while ((rc = conc_queue_get(c->queue, &v, CONC_FOREVER)) == 0) {
        c->sum += v;
        c->count++;
        conc_queue_task_done(c->queue);
    }
    /* CONC_ECLOSED: shut down and drained, the normal end. */
    return rc == CONC_ECLOSED ? 0 : rc;
}

/* Report a failed call and make the main task fail with its code. */
#define CHECK(call)                                                 \
    do {                                                            \
        int rc_ = (call);                                           \
        if (rc_ != 0) {                                             \
            fprintf(stderr, "%s: %s\n", #call, conc_strerror(rc_)); \
            return rc_;                                             \
        }                                                           \
    } while (0)

static int main_task(void *arg, void **result)
{
    const struct options *o = arg;
    conc_loop_t *loop = conc_loop_current(); /* the loop conc_run() made */
    conc_queue_t queue;
    (void)result;

    struct producer *prod = calloc((size_t)o->producers, sizeof *prod);
    struct consumer *cons = calloc((size_t)o->consumers, sizeof *cons);
    conc_task_t **ptask = calloc((size_t)o->producers, sizeof *ptask);
    conc_task_t **ctask = calloc((size_t)o->consumers, sizeof *ctask);
    if (!prod || !cons || !ptask || !ctask)
        return CONC_ENOMEM;
    CHECK(conc_queue_init(&queue, sizeof(uint64_t), (size_t)o->capacity, NULL));

    int64_t start = conc_now_ns();
    for (long i = 0; i < o->consumers; i++) {
        cons[i] = (struct consumer){ &queue, 0, 0 };
        CHECK(conc_task_spawn(loop, NULL, consume, &cons[i], &ctask[i]));
    }
    uint64_t next = 1;
    for (long i = 0; i < o->producers; i++) {
        uint64_t count = (uint64_t)(o->items / o->producers + (i < o->items % o->producers));
        prod[i] = (struct producer){ &queue, next, count };
        next += count;
        CHECK(conc_task_spawn(loop, NULL, produce, &prod[i], &ptask[i]));
    }
    /* Nothing has run yet: spawned tasks start when this task blocks. */
    for (long i = 0; i < o->producers; i++)
        CHECK(conc_task_join(ptask[i], NULL, CONC_FOREVER));
    CHECK(conc_queue_join(&queue, CONC_FOREVER));
    double seconds = (double)(conc_now_ns() - start) / 1e9;
    CHECK(conc_queue_shutdown(&queue, false));

    uint64_t sum = 0, count = 0;
    for (long i = 0; i < o->consumers; i++) {
        CHECK(conc_task_join(ctask[i], NULL, CONC_FOREVER));
        sum += cons[i].sum;
        count += cons[i].count;
    }
    CHECK(conc_queue_destroy(&queue));
    free(prod);
    free(cons);
    free(ptask);
    free(ctask);

    uint64_t expected = (uint64_t)o->items * (uint64_t)(o->items + 1) / 2;
    printf("%ld producer tasks, %ld consumer tasks, capacity %ld, one thread: %" PRIu64
           " items in %.3f s, %.0f items/s\n",
           o->producers, o->consumers, o->capacity, count, seconds,
           seconds > 0 ? (double)count / seconds : 0.0);
    if (count != (uint64_t)o->items || sum != expected) {
        printf("checksum MISMATCH: got %" PRIu64 " items summing to %" PRIu64
               ", expected %ld summing to %" PRIu64 "\n",
               count, sum, o->items, expected);
        return CONC_EIO;
    }
    printf("checksum OK (%" PRIu64 ")\n", sum);
    return 0;
}

static int parse_options(int argc, char **argv, struct options *o)
{
    for (int i = 1; i < argc; i++) {
        long *target = !strcmp(argv[i], "--producers")   ? &o->producers
                       : !strcmp(argv[i], "--consumers") ? &o->consumers
                       : !strcmp(argv[i], "--items")     ? &o->items
                       : !strcmp(argv[i], "--capacity")  ? &o->capacity
                                                         : NULL;
        char *end;
        if (!target || i + 1 == argc)
            return -1;
        *target = strtol(argv[++i], &end, 10);
        if (*end || *target < 1 || *target > 100000000)
            return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct options o = { 4, 4, 1000000, 1024 };

    if (parse_options(argc, argv, &o) != 0) {
        fprintf(stderr,
                "usage: %s [--producers N] [--consumers N] [--items N] [--capacity N]\n"
                "  (each between 1 and 100000000)\n",
                argv[0]);
        return 2;
    }
    int rc = conc_run(main_task, &o, NULL);
    if (rc != 0) {
        fprintf(stderr, "producer_consumer_tasks: %s\n", conc_strerror(rc));
        return 1;
    }
    return 0;
}
