/*
 * Never block the loop's thread (asyncio's "don't call time.sleep() in a
 * coroutine"):
 *
 *   blocking_in_loop [BLOCK_MS [TICK_MS]]      (defaults: 200 ms, 10 ms)
 *
 * A ticker task wants to run every TICK_MS. Meanwhile another task has
 * BLOCK_MS of blocking work to do, here a plain nanosleep() standing for a
 * blocking read, a slow library call or a long computation:
 *
 *  1. called directly in the task, it blocks the loop's only thread: no other
 *     task or callback runs until it returns, so the ticker misses its ticks;
 *  2. handed to the thread pool with conc_task_to_thread() (asyncio's
 *     to_thread), only the calling task waits, suspended, while the work runs
 *     on a pool thread, and the ticker keeps its rhythm.
 *
 * Careful: conc_sleep() or conc_task_sleep() would NOT show the stall; in a
 * task they suspend only the task. The blocking call must be one libconc
 * does not know, like nanosleep() or read() on a blocking descriptor.
 *
 * It measures, per case, the longest gap between two ticks and the ticks
 * missed, and checks that the direct call stalled the ticker for at least
 * BLOCK_MS (guaranteed) while the pool did not (a gap below BLOCK_MS / 2).
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <conc.h>

struct ticker {
    int64_t tick_ns;
    long ticks, missed;
    int64_t max_gap_ns;
};

/* Tick every tick_ns on a fixed schedule; count the deadlines it missed. */
static int ticker_task(void *arg, void **result)
{
    struct ticker *t = arg;
    int64_t last = conc_now_ns(), next = last + t->tick_ns;
    (void)result;

    for (;;) {
        int64_t now = conc_now_ns();
        if (next > now && conc_task_sleep(next - now) != 0)
            return 0; /* cancelled: the measurement is over */
        now = conc_now_ns();
        t->ticks++;
        if (now - last > t->max_gap_ns)
            t->max_gap_ns = now - last;
        last = now;
        int64_t late = (now - next) / t->tick_ns; /* whole periods overslept */
        t->missed += late;
        next += (late + 1) * t->tick_ns;
    }
}

/* The blocking work: a plain nanosleep(), invisible to libconc. */
static int blocking_work(void *arg, void **result)
{
    int64_t ns = *(const int64_t *)arg;
    struct timespec ts = { (time_t)(ns / 1000000000), (long)(ns % 1000000000) };
    (void)result;

    while (nanosleep(&ts, &ts) != 0) {
    }
    return 0;
}

/* Run the ticker while the work runs directly or through the pool. */
static int measure(bool through_pool, int64_t block_ns, int64_t tick_ns, struct ticker *t)
{
    conc_task_t *ticker;
    *t = (struct ticker){ tick_ns, 0, 0, 0 };

    int rc = conc_task_spawn(conc_loop_current(), NULL, ticker_task, t, &ticker);
    if (rc != 0)
        return rc;
    conc_task_sleep(3 * tick_ns); /* let the ticker get going */
    if (through_pool)
        rc = conc_task_to_thread(blocking_work, &block_ns, NULL); /* suspends this task */
    else
        rc = blocking_work(&block_ns, NULL); /* blocks the whole loop */
    conc_task_sleep(3 * tick_ns);            /* a few ticks after the work, too */
    conc_task_cancel(ticker);
    int jrc = conc_task_join(ticker, NULL, CONC_FOREVER);
    return rc != 0 ? rc : jrc;
}

struct program {
    int64_t block_ns, tick_ns;
};

static int main_task(void *arg, void **result)
{
    const struct program *p = arg;
    struct ticker direct, pooled;
    int rc;
    (void)result;

    /* The default pool starts its threads on first use; start it now so that
     * its start-up is not counted in the measurement. */
    int64_t no_work = 0;
    if ((rc = conc_task_to_thread(blocking_work, &no_work, NULL)) != 0)
        return rc;
    if ((rc = measure(false, p->block_ns, p->tick_ns, &direct)) != 0 ||
        (rc = measure(true, p->block_ns, p->tick_ns, &pooled)) != 0)
        return rc;
    printf("tick every %.0f ms, %.0f ms of blocking work:\n", (double)p->tick_ns / 1e6,
           (double)p->block_ns / 1e6);
    printf("  called in a task:          longest gap between ticks %6.1f ms, %3ld ticks missed\n",
           (double)direct.max_gap_ns / 1e6, direct.missed);
    printf("  via conc_task_to_thread(): longest gap between ticks %6.1f ms, %3ld ticks missed\n",
           (double)pooled.max_gap_ns / 1e6, pooled.missed);
    if (direct.max_gap_ns < p->block_ns) {
        printf("FAILED: the direct blocking call did not stall the ticker?\n");
        return CONC_EIO;
    }
    if (pooled.max_gap_ns >= p->block_ns / 2) {
        printf("FAILED: the ticker stalled although the work ran in the pool\n");
        return CONC_EIO;
    }
    printf("conclusion: a blocking call stalls every task on its loop; run it in the pool\n");
    return 0;
}

int main(int argc, char **argv)
{
    long block_ms = 200, tick_ms = 10;
    char *end = "";

    if (argc > 1)
        block_ms = strtol(argv[1], &end, 10);
    if (!*end && argc > 2)
        tick_ms = strtol(argv[2], &end, 10);
    if (*end || argc > 3 || tick_ms < 1 || block_ms < 4 * tick_ms || block_ms > 10000) {
        fprintf(stderr,
                "usage: %s [BLOCK_MS [TICK_MS]]  (BLOCK_MS >= 4 * TICK_MS >= 4, "
                "BLOCK_MS <= 10000)\n",
                argv[0]);
        return 2;
    }
    struct program p = { CONC_MS(block_ms), CONC_MS(tick_ms) };
    int rc = conc_run(main_task, &p, NULL);
    if (rc != 0) {
        fprintf(stderr, "blocking_in_loop: %s\n", conc_strerror(rc));
        return 1;
    }
    return 0;
}
