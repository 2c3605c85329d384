/*
 * asyncio.gather() with tasks:
 *
 *   gather [N [FAIL_INDEX]]      (defaults: 8 tasks, task 3 fails)
 *
 * What it teaches:
 *  1. conc_gather() waits for all its tasks and hands back their results in
 *     the order of the array, not the order they finished in: here task i
 *     computes i * i and sleeps (N - i) ms first, so they finish in reverse;
 *  2. when a task fails, gather still waits for all of them (by default),
 *     returns the failing task's status, and statuses[] tells who failed;
 *     the others' results are all there (Python: return_exceptions=True);
 *  3. with CONC_GATHER_CANCEL_ON_ERROR the first failure cancels the tasks
 *     still running (their sleeps return CONC_ECANCELED), as a TaskGroup does.
 * Results travel as void *: a small integer fits in one (intptr_t).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <conc.h>

#define MAX_TASKS 256
#define APP_FAILURE (-1000) /* an application's own error code (any negative) */

struct job {
    int index, n, fail_index;
    int64_t delay_ns;
};

static int square(void *arg, void **result)
{
    const struct job *j = arg;

    int rc = conc_task_sleep(j->delay_ns);
    if (rc != 0)
        return rc; /* CONC_ECANCELED: cancelled while sleeping */
    if (j->index == j->fail_index)
        return APP_FAILURE; /* the task's status; gather reports it */
    *result = (void *)(intptr_t)(j->index * j->index);
    return 0;
}

/* Spawn n square() tasks, gather them with `flags`, print and check. */
static int run_round(const char *title, int n, int fail_index, unsigned flags, int delay_unit_ms)
{
    conc_loop_t *loop = conc_loop_current();
    struct job jobs[MAX_TASKS];
    conc_task_t *t[MAX_TASKS];
    void *results[MAX_TASKS];
    int statuses[MAX_TASKS];
    int bad = 0;

    printf("-- %s\n", title);
    for (int i = 0; i < n; i++) {
        /* Reverse finishing order: task 0 sleeps longest. The failing task
         * sleeps least, so it fails while the others still run. */
        int64_t ms = i == fail_index ? 0 : (int64_t)(n - i) * delay_unit_ms;
        jobs[i] = (struct job){ i, n, fail_index, CONC_MS(ms) };
        int rc = conc_task_spawn(loop, NULL, square, &jobs[i], &t[i]);
        if (rc != 0)
            return rc;
    }
    int rc = conc_gather(t, (size_t)n, results, statuses, flags);
    /* gather releases nothing: join (or detach) each task. */
    for (int i = 0; i < n; i++)
        conc_task_join(t[i], NULL, CONC_FOREVER);

    printf("gather returned %d (%s)\n", rc,
           rc == 0             ? "all succeeded"
           : rc == APP_FAILURE ? "the application's failure"
                               : conc_strerror_name(rc));
    int cancelled = 0;
    for (int i = 0; i < n; i++) {
        if (statuses[i] == 0) {
            printf("  task %d: result %ld\n", i, (long)(intptr_t)results[i]);
            bad += (intptr_t)results[i] != (intptr_t)i * i;
        } else {
            printf("  task %d: failed with %d (%s)\n", i, statuses[i],
                   statuses[i] == APP_FAILURE ? "the application's failure"
                                              : conc_strerror_name(statuses[i]));
            cancelled += statuses[i] == CONC_ECANCELED;
            bad += i != fail_index && statuses[i] != CONC_ECANCELED;
        }
    }
    /* What each round must show. */
    if (fail_index < 0)
        bad += rc != 0;
    else
        bad += rc != APP_FAILURE || statuses[fail_index] != APP_FAILURE;
    if (flags & CONC_GATHER_CANCEL_ON_ERROR)
        bad += cancelled != n - 1; /* every other task was still sleeping */
    else
        bad += cancelled != 0;
    return bad ? CONC_EIO : 0;
}

struct program {
    int n, fail_index;
};

static int main_task(void *arg, void **result)
{
    const struct program *p = arg;
    int rc;
    (void)result;

    if ((rc = run_round("all succeed: results in array order", p->n, -1, 0, 2)) != 0)
        return rc;
    if ((rc = run_round("one fails: gather waits for all and reports it", p->n, p->fail_index, 0,
                        2)) != 0)
        return rc;
    /* Long sleeps: the failure cancels them long before they would end. */
    if ((rc = run_round("one fails with CONC_GATHER_CANCEL_ON_ERROR: the rest are cancelled", p->n,
                        p->fail_index, CONC_GATHER_CANCEL_ON_ERROR, 1000)) != 0)
        return rc;
    return 0;
}

int main(int argc, char **argv)
{
    struct program p = { 8, 3 };
    char *end = "";

    if (argc > 1)
        p.n = (int)strtol(argv[1], &end, 10);
    if (!*end && argc > 2)
        p.fail_index = (int)strtol(argv[2], &end, 10);
    if (*end || argc > 3 || p.n < 2 || p.n > MAX_TASKS || p.fail_index < 0 || p.fail_index >= p.n) {
        fprintf(stderr, "usage: %s [N [FAIL_INDEX]]  (2 <= N <= %d, 0 <= FAIL_INDEX < N)\n",
                argv[0], MAX_TASKS);
        return 2;
    }
    int rc = conc_run(main_task, &p, NULL);
    if (rc != 0) {
        fprintf(stderr, "gather: FAILED (%s)\n", conc_strerror(rc));
        return 1;
    }
    printf("gather OK: results in order, the failure reported\n");
    return 0;
}
