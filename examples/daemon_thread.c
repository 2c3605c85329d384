/*
 * A detached ("daemon") background thread doing periodic work while the main
 * thread does its own, then exits without waiting for it.
 *
 *   daemon_thread [WORK_STEPS]      (default 10)
 *
 * The heartbeat thread is created detached: nobody will join it, and libconc
 * cleans up after it by itself. In C, unlike Python, the process ends when
 * main() returns even while threads (detached or not) are still running:
 * they simply stop. A daemon thread must therefore never hold anything that
 * needs a clean shutdown (a half-written file); work that must finish belongs
 * in a joinable thread.
 */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include <conc.h>

static atomic_long beats;
static conc_event_t first_beat = CONC_EVENT_INIT;

static void check(int rc, const char *what)
{
    if (rc < 0) {
        fprintf(stderr, "%s: %s\n", what, conc_strerror(rc));
        exit(1);
    }
}

static void *heartbeat(void *arg)
{
    int64_t period = *(const int64_t *)arg;
    int64_t next = conc_now_ns();

    for (;;) {
        long n = atomic_fetch_add(&beats, 1) + 1;
        if (n <= 3)
            printf("  [heartbeat] beat %ld\n", n);
        conc_event_set(&first_beat);
        /* Sleep until an absolute deadline: the period does not drift with
         * the time the work itself takes. */
        next += period;
        conc_sleep_until(next);
    }
    return NULL; /* never reached: the thread ends with the process */
}

int main(int argc, char **argv)
{
    static int64_t period = CONC_MS(5);
    conc_thread_attr_t attr = CONC_THREAD_ATTR_INIT;
    conc_thread_t daemon;
    long steps = argc > 1 ? strtol(argv[1], NULL, 10) : 10;

    if (argc > 2 || steps < 1) {
        fprintf(stderr, "usage: %s [WORK_STEPS]\n", argv[0]);
        return 2;
    }
    attr.name = "heartbeat";
    attr.detached = true;
    check(conc_thread_create(&daemon, &attr, heartbeat, &period), "conc_thread_create");

    /* A detached thread cannot be joined: join says so. */
    if (conc_thread_join(&daemon, NULL, CONC_NOWAIT) != CONC_EINVAL) {
        printf("FAILED: a detached thread was joinable\n");
        return 1;
    }

    /* The main thread's own work: a few steps of (simulated) computation. */
    double acc = 0;
    for (long i = 1; i <= steps; i++) {
        for (long k = 1; k <= 100000; k++)
            acc += 1.0 / ((double)k * (double)k);
        conc_sleep(CONC_MS(2));
    }
    printf("main: work done (%ld steps, sum %.6f)\n", steps, acc / (double)steps);

    /* Make the check independent of scheduling: the daemon has had all this
     * time, but on a loaded machine it may not have run yet. */
    check(conc_event_wait(&first_beat, CONC_SEC(10)), "conc_event_wait");
    bool alive = conc_thread_is_alive(&daemon);
    printf("main: heartbeat beat %ld times and is %s; main returns, which ends it\n",
           atomic_load(&beats), alive ? "still running" : "gone");
    if (!alive) {
        printf("FAILED: the daemon thread should still be running\n");
        return 1;
    }
    printf("daemon OK\n");
    return 0;
}
