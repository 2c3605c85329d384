/*
 * Producers and consumers around one bounded queue, the way libconc is meant
 * to be used:
 *
 *   producer_consumer [--producers N] [--consumers N] [--items N] [--capacity N]
 *
 * Producers put the numbers 1..items into a FIFO queue; consumers get them,
 * add them up and mark each one done. The main thread waits until every item
 * has been processed (conc_queue_join), then shuts the queue down, which
 * tells the idle consumers to stop. It prints the throughput and checks that
 * the sum is exactly items * (items + 1) / 2: no item lost, none twice.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <conc.h>

#define MAX_THREADS 64

struct producer {
    conc_queue_t *queue;
    uint64_t first, count; /* puts first .. first + count - 1 */
};

struct consumer {
    conc_queue_t *queue;
    uint64_t sum, count;
};

/* Every libconc call returns 0 or a negative CONC_E* code. */
static void check(int rc, const char *what)
{
    if (rc != 0) {
        fprintf(stderr, "%s: %s\n", what, conc_strerror(rc));
        exit(1);
    }
}

static void *produce(void *arg)
{
    struct producer *p = arg;

    for (uint64_t v = p->first; v < p->first + p->count; v++) {
        /* Blocks while the queue is full: the queue's capacity is what keeps
         * fast producers from running away from slow consumers. */
        int rc = conc_queue_put(p->queue, &v, CONC_FOREVER);
        if (rc != 0) {
            fprintf(stderr, "put: %s\n", conc_strerror(rc));
            break;
        }
    }
    return NULL;
}

static void *consume(void *arg)
{
    struct consumer *c = arg;
    uint64_t v;
    int rc;

    /* get() blocks while the queue is empty and returns CONC_ECLOSED once
     * the queue is shut down and drained: the natural end of a consumer. */
    while ((rc = conc_queue_get(c->queue, &v, CONC_FOREVER)) == 0) {
        c->sum += v;
        c->count++;
        conc_queue_task_done(c->queue); /* this item is fully processed */
    }
    if (rc != CONC_ECLOSED)
        fprintf(stderr, "get: %s\n", conc_strerror(rc));
    return NULL;
}

static int parse_options(int argc, char **argv, long *producers, long *consumers, long *items,
                         long *capacity)
{
    for (int i = 1; i < argc; i++) {
        long *target = !strcmp(argv[i], "--producers")   ? producers
                       : !strcmp(argv[i], "--consumers") ? consumers
                       : !strcmp(argv[i], "--items")     ? items
                       : !strcmp(argv[i], "--capacity")  ? capacity
                                                         : NULL;
        char *end;
        if (!target || i + 1 == argc)
            return -1;
        *target = strtol(argv[++i], &end, 10);
        if (*end || *target < 1)
            return -1;
    }
    return *producers <= MAX_THREADS && *consumers <= MAX_THREADS ? 0 : -1;
}

int main(int argc, char **argv)
{
    long producers = 4, consumers = 4, items = 1000000, capacity = 1024;
    struct producer prod[MAX_THREADS];
    struct consumer cons[MAX_THREADS];
    conc_thread_t threads[2 * MAX_THREADS];
    conc_queue_t queue;

    if (parse_options(argc, argv, &producers, &consumers, &items, &capacity) != 0) {
        fprintf(stderr,
                "usage: %s [--producers N] [--consumers N] [--items N] [--capacity N]\n"
                "  (1 <= producers, consumers <= %d)\n",
                argv[0], MAX_THREADS);
        return 2;
    }
    /* A FIFO queue of 8-byte items; NULL attributes = FIFO, storage allocated. */
    check(conc_queue_init(&queue, sizeof(uint64_t), (size_t)capacity, NULL), "conc_queue_init");

    int64_t start = conc_now_ns();
    int n = 0;
    for (long i = 0; i < consumers; i++) {
        cons[i] = (struct consumer){ &queue, 0, 0 };
        check(conc_thread_create(&threads[n++], NULL, consume, &cons[i]), "conc_thread_create");
    }
    uint64_t next = 1;
    for (long i = 0; i < producers; i++) {
        /* Share the items out; the first producers take the remainder. */
        uint64_t count = (uint64_t)(items / producers + (i < items % producers));
        prod[i] = (struct producer){ &queue, next, count };
        next += count;
        check(conc_thread_create(&threads[n++], NULL, produce, &prod[i]), "conc_thread_create");
    }

    for (long i = 0; i < producers; i++)
        check(conc_thread_join(&threads[consumers + i], NULL, CONC_FOREVER), "conc_thread_join");
    /* Every item is in; wait until the consumers have processed them all. */
    check(conc_queue_join(&queue, CONC_FOREVER), "conc_queue_join");
    double seconds = (double)(conc_now_ns() - start) / 1e9;
    /* Nothing more will come: wake the idle consumers with CONC_ECLOSED. */
    check(conc_queue_shutdown(&queue, false), "conc_queue_shutdown");

    uint64_t sum = 0, count = 0;
    for (long i = 0; i < consumers; i++) {
        check(conc_thread_join(&threads[i], NULL, CONC_FOREVER), "conc_thread_join");
        sum += cons[i].sum;
        count += cons[i].count;
    }
    check(conc_queue_destroy(&queue), "conc_queue_destroy");

    uint64_t expected = (uint64_t)items * (uint64_t)(items + 1) / 2;
    printf("%ld producers, %ld consumers, capacity %ld: %" PRIu64 " items in %.3f s, "
           "%.0f items/s\n",
           producers, consumers, capacity, count, seconds, (double)count / seconds);
    if (count != (uint64_t)items || sum != expected) {
        printf("checksum MISMATCH: got %" PRIu64 " items summing to %" PRIu64
               ", expected %ld summing to %" PRIu64 "\n",
               count, sum, items, expected);
        return 1;
    }
    printf("checksum OK (%" PRIu64 ")\n", sum);
    return 0;
}
