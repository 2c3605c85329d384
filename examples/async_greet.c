/*
 * asyncio's hello world, with tasks:
 *
 *   async_greet [UNIT_MS [NAME...]]      (defaults: 100 ms; "hello" "world")
 *
 * Python:
 *     async def say_after(delay, what):
 *         await asyncio.sleep(delay)
 *         print(what)
 *     async def main():
 *         t1 = asyncio.create_task(say_after(1, 'hello'))
 *         t2 = asyncio.create_task(say_after(2, 'world'))
 *         await t1
 *         await t2
 *     asyncio.run(main())
 *
 * The i-th name is greeted after (i + 1) * UNIT_MS. What it teaches: tasks
 * that sleep run concurrently on one thread, so the whole program takes
 * about as long as the longest sleep, not the sum of them; and a task is an
 * ordinary C function that may block (conc_task_sleep() suspends only the
 * task). The program checks both: the greetings come in the order of their
 * delays, and the total time is at least the longest delay (sleeps are never
 * early) and below the sum of all delays.
 */
#include <stdio.h>
#include <stdlib.h>

#include <conc.h>

#define MAX_NAMES 32

struct greeting {
    const char *name;
    int64_t delay_ns;
    int64_t start_ns;
    int *order; /* shared: the order in which greetings were printed */
    int *printed;
    int index;
};

/* say_after(delay, what) */
static int say_after(void *arg, void **result)
{
    struct greeting *g = arg;
    (void)result;

    int rc = conc_task_sleep(g->delay_ns); /* the loop runs the others meanwhile */
    if (rc != 0)
        return rc;
    printf("%7.1f ms  %s\n", (double)(conc_now_ns() - g->start_ns) / 1e6, g->name);
    g->order[(*g->printed)++] = g->index;
    return 0;
}

struct program {
    int n;
    const char *const *names;
    int64_t unit_ns;
};

static int main_task(void *arg, void **result)
{
    struct program *p = arg;
    struct greeting g[MAX_NAMES];
    conc_task_t *t[MAX_NAMES];
    int order[MAX_NAMES], printed = 0;
    (void)result;

    int64_t start = conc_now_ns();
    printf("started\n");
    /* create_task(): each task is ready at once and starts when main_task
     * blocks (here, in the first join). */
    for (int i = 0; i < p->n; i++) {
        g[i] = (struct greeting){ p->names[i], (i + 1) * p->unit_ns, start, order, &printed, i };
        int rc = conc_task_spawn(conc_loop_current(), NULL, say_after, &g[i], &t[i]);
        if (rc != 0)
            return rc;
    }
    /* await t1; await t2; ... */
    for (int i = 0; i < p->n; i++) {
        int rc = conc_task_join(t[i], NULL, CONC_FOREVER);
        if (rc != 0)
            return rc;
    }
    int64_t elapsed = conc_now_ns() - start;
    int64_t longest = p->n * p->unit_ns, sum = (int64_t)p->n * (p->n + 1) / 2 * p->unit_ns;
    printf("finished after %.1f ms (longest delay %.0f ms, sum of delays %.0f ms)\n",
           (double)elapsed / 1e6, (double)longest / 1e6, (double)sum / 1e6);

    for (int i = 0; i < p->n; i++) {
        if (order[i] != i) {
            printf("FAILED: greeting %d came out of order\n", i);
            return CONC_EIO;
        }
    }
    if (elapsed < longest || (p->n > 1 && elapsed >= sum)) {
        printf("FAILED: the tasks did not sleep concurrently\n");
        return CONC_EIO;
    }
    printf("greeted %d names concurrently\n", p->n);
    return 0;
}

int main(int argc, char **argv)
{
    static const char *defaults[] = { "hello", "world" };
    struct program p = { 2, defaults, CONC_MS(100) };
    char *end;

    if (argc > 1) {
        long ms = strtol(argv[1], &end, 10);
        if (*end || ms < 1 || ms > 10000 || argc - 2 > MAX_NAMES) {
            fprintf(stderr, "usage: %s [UNIT_MS [NAME...]]  (1..10000 ms, at most %d names)\n",
                    argv[0], MAX_NAMES);
            return 2;
        }
        p.unit_ns = CONC_MS(ms);
    }
    if (argc > 2) {
        p.n = argc - 2;
        p.names = (const char *const *)argv + 2;
    }
    /* asyncio.run(main()) */
    int rc = conc_run(main_task, &p, NULL);
    if (rc != 0) {
        fprintf(stderr, "async_greet: %s\n", conc_strerror(rc));
        return 1;
    }
    return 0;
}
