/*
 * Bridges between tasks and threads: blocking work handed to the thread
 * pool while the task waits (to_thread), and tasks started from another
 * thread with a future for their outcome (run_threadsafe).
 */
#include <stdio.h>
#include <stdlib.h>

#include "conc/event.h"
#include "conc/pool.h"
#include "core/future_internal.h"
#include "loop_internal.h"

/* ---- to_thread ---- */

typedef struct blocking_job {
    conc_blocking_fn fn;
    void *arg;
    int status;
    void *result;
    conc_event_t done;
    _Atomic int refs; /* the waiting task and the pool item */
} blocking_job_t;

static void job_unref(blocking_job_t *j)
{
    if (atomic_fetch_sub_explicit(&j->refs, 1, memory_order_acq_rel) == 1) {
        conc_event_destroy(&j->done);
        free(j);
    }
}

static int job_run(void *arg, void **result)
{
    blocking_job_t *j = arg;

    (void)result;
    j->status = j->fn(j->arg, &j->result);
    conc_event_set(&j->done);
    job_unref(j); /* after set() returned: the event is no longer touched */
    return 0;
}

int conc_task_to_thread(conc_blocking_fn fn, void *arg, void **result)
{
    if (!fn)
        return CONC_EINVAL;
    blocking_job_t *j = calloc(1, sizeof *j);
    if (!j)
        return CONC_ENOMEM;
    j->fn = fn;
    j->arg = arg;
    conc_event_init(&j->done);
    atomic_init(&j->refs, 2);
    int rc = conc_pool_submit(conc_pool_default(), job_run, j, NULL);
    if (rc != 0) {
        conc_event_destroy(&j->done);
        free(j);
        return rc;
    }
    rc = conc_event_wait(&j->done, CONC_FOREVER); /* in a task: only the task waits */
    if (rc == 0) {
        rc = j->status;
        if (result)
            *result = j->result;
    }
    job_unref(j); /* on CONC_ECANCELED the pool item frees it when done */
    return rc;
}

/* ---- run_threadsafe ---- */

typedef struct remote_start {
    conc_task_attr_t attr;
    char name[32];
    conc_task_fn fn;
    void *arg;
    conc_future_t *future;
} remote_start_t;

static int remote_task(void *arg, void **result)
{
    remote_start_t *r = arg;
    void *value = NULL;
    int status = r->fn(r->arg, &value);

    if (status < 0)
        conc_future_set_error(r->future, status);
    else
        conc_future_set_result(r->future, value);
    *result = value;
    free(r);
    return status;
}

static void start_remote(conc_loop_t *loop, void *arg)
{
    remote_start_t *r = arg;

    if (conc_future_set_running(r->future) != 0) {
        free(r); /* cancelled before it started: never runs */
        return;
    }
    int rc = conc_task_spawn(loop, &r->attr, remote_task, r, NULL);
    if (rc != 0) {
        conc_future_set_error(r->future, rc);
        free(r);
    }
}

int conc_task_run_threadsafe(conc_loop_t *loop, const conc_task_attr_t *attr, conc_task_fn fn,
                             void *arg, conc_future_t *future)
{
    conc_task_attr_t defaults = CONC_TASK_ATTR_INIT;

    if (!conc__loop_of(loop) || !fn || !future)
        return CONC_EINVAL;
    remote_start_t *r = calloc(1, sizeof *r);
    if (!r)
        return CONC_ENOMEM;
    r->attr = attr ? *attr : defaults;
    if (r->attr.name) {
        snprintf(r->name, sizeof r->name, "%s", r->attr.name);
        r->attr.name = r->name;
    }
    r->fn = fn;
    r->arg = arg;
    r->future = future;
    conc__future_init_bound(future);
    int rc = conc_loop_call_soon_threadsafe(loop, start_remote, r);
    if (rc != 0) {
        conc_future_set_error(future, rc);
        free(r);
    }
    return rc;
}
