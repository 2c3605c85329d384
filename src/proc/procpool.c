/*
 * The process pool (conc/procpool.h), built from libconc's own parts: a
 * thread runs an event loop (conc_run()) with one task per worker process;
 * each task takes jobs from a conc_queue_t (tasks and submitting threads
 * share it) and exchanges one message each way with its worker over a
 * duplex conc_pipe_t. Nothing here polls or locks by hand.
 *
 * Messages: a job is a struct job_msg header then the argument bytes; a
 * reply is a struct reply_msg header then the result bytes. A zero-length
 * message tells a worker to exit. A worker that dies shows as the end of its
 * pipe (CONC_ECLOSED or CONC_EIO from conc_pipe_recv()); its task fails the
 * job with CONC_EIO, reaps it and starts a replacement.
 */
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conc/event.h"
#include "conc/loop.h"
#include "conc/pipe.h"
#include "conc/procpool.h"
#include "conc/process.h"
#include "conc/queue.h"
#include "conc/task.h"
#include "conc/thread.h"
#include "procpool_internal.h"

int (*conc__procpool_restart_fault)(void);

#define DEFAULT_MAX ((size_t)64 << 10)
#define MAX_WORKERS 1024
#define JOBS_PER_WORKER 1024

struct job {
    conc_procpool_fn fn;
    conc_future_t *future;
    size_t len;
    unsigned char arg[];
};

struct job_msg {
    conc_procpool_fn fn; /* the same address is valid in a forked child */
    uint64_t len;
};

struct reply_msg {
    int64_t status;
    uint64_t len;
};

struct worker {
    struct pool *pool;
    int index;
    conc_process_t proc;
    conc_pipe_t end; /* the pool's end; the child uses the other */
    unsigned char *buf;
};

struct pool {
    int nworkers;
    size_t max_arg, max_result;
    conc_queue_t jobs; /* struct job * */
    conc_thread_t thread;
    conc_event_t started; /* the pool's thread has started every worker */
    int start_rc;
    _Atomic bool closed;
    _Atomic bool broken; /* no worker left, none could be started */
    _Atomic int live;    /* worker tasks still serving the queue */
    _Atomic unsigned long replaced;
    struct worker *w;
};

static struct pool *pool_of(const conc_procpool_t *p)
{
    return p ? p->impl_ : NULL;
}

/* ---- the worker process ---------------------------------------------------- */

struct child_args {
    struct worker *w;
    conc_pipe_t *mine;
};

/* Runs in the forked child: jobs in, results out, until told to stop or the
 * pool's end of the pipe goes away. */
static int worker_main(void *arg)
{
    struct child_args *a = arg;
    struct pool *pool = a->w->pool;
    size_t cap = sizeof(struct job_msg) + pool->max_arg;
    size_t out_cap = sizeof(struct reply_msg) + pool->max_result;
    unsigned char *in = malloc(cap), *out = malloc(out_cap);

    /* This child inherited the pool's ends of the workers started before
     * it: close them, or those workers would never see their pipe end. */
    for (int i = 0; i < pool->nworkers; i++)
        if (i != a->w->index)
            conc_pipe_close(&pool->w[i].end);
    conc_pipe_close(&a->w->end);
    int rc = in && out ? 0 : 1;
    while (rc == 0) {
        size_t len;
        struct job_msg h;
        if (conc_pipe_recv(a->mine, in, cap, &len, CONC_FOREVER) != 0 || len < sizeof h)
            break; /* the pool closed its end, or said "exit" (an empty message) */
        memcpy(&h, in, sizeof h);
        size_t result_len = 0;
        int status = h.len == len - sizeof h
                         ? h.fn(in + sizeof h, (size_t)h.len, out + sizeof(struct reply_msg),
                                pool->max_result, &result_len)
                         : CONC_EIO;
        if (status != 0 || result_len > pool->max_result)
            result_len = 0;
        struct reply_msg r = { status, result_len };
        memcpy(out, &r, sizeof r);
        if (conc_pipe_send(a->mine, out, sizeof r + result_len, CONC_FOREVER) != 0)
            break;
    }
    free(in);
    free(out);
    return rc;
}

static int start_worker(struct worker *w)
{
    conc_pipe_t child_end;
    conc_process_attr_t attr = { "conc-procpool" };
    int rc = conc_pipe_open(&w->end, &child_end, true);

    if (rc != 0)
        return rc;
    struct child_args a = { w, &child_end };
    w->proc = (conc_process_t)CONC_PROCESS_INIT;
    rc = conc_process_start(&w->proc, &attr, worker_main, &a);
    conc_pipe_close(&child_end);
    if (rc != 0)
        conc_pipe_close(&w->end);
    return rc;
}

static void stop_worker(struct worker *w)
{
    conc_pipe_send(&w->end, NULL, 0, CONC_MS(100)); /* "exit" */
    conc_pipe_close(&w->end);
    conc_process_join(&w->proc, CONC_FOREVER);
    conc_process_close(&w->proc);
}

/* ---- the pool's tasks -------------------------------------------------------- */

static void fail(struct job *j, int error)
{
    if (j->future)
        conc_future_set_error(j->future, error);
    free(j);
}

/* Every worker is gone and none could be replaced: no job will ever run
 * again. Close the queue (a racing submit then fails) and fail what is in
 * it, so that nobody waits forever for a result. */
static void break_pool(struct pool *pool)
{
    struct job *j;

    atomic_store(&pool->broken, true);
    conc_queue_shutdown(&pool->jobs, false);
    while (conc_queue_get(&pool->jobs, &j, CONC_NOWAIT) == 0)
        fail(j, CONC_EIO);
}

/* One exchange with the worker; CONC_EIO when the worker is gone. */
static int run_job(struct worker *w, struct job *j)
{
    struct pool *pool = w->pool;
    struct job_msg h = { j->fn, j->len };
    size_t len;

    memcpy(w->buf, &h, sizeof h);
    memcpy(w->buf + sizeof h, j->arg, j->len);
    if (conc_pipe_send(&w->end, w->buf, sizeof h + j->len, CONC_FOREVER) != 0)
        return CONC_EIO;
    int rc = conc_pipe_recv(&w->end, w->buf, sizeof(struct reply_msg) + pool->max_result, &len,
                            CONC_FOREVER);
    if (rc != 0 || len < sizeof(struct reply_msg))
        return CONC_EIO;
    struct reply_msg r;
    memcpy(&r, w->buf, sizeof r);
    if (r.status != 0) {
        fail(j, (int)r.status);
        return 0;
    }
    conc_procpool_result_t *res = malloc(sizeof *res + r.len);
    if (!res) {
        fail(j, CONC_ENOMEM);
        return 0;
    }
    res->len = r.len;
    memcpy(res->data, w->buf + sizeof r, r.len);
    if (!j->future || conc_future_set_result(j->future, res) != 0)
        free(res);
    free(j);
    return 0;
}

static int worker_task(void *arg, void **result)
{
    struct worker *w = arg;
    struct job *j;

    (void)result;
    while (conc_queue_get(&w->pool->jobs, &j, CONC_FOREVER) == 0) {
        if (j->future && conc_future_set_running(j->future) != 0) {
            free(j); /* cancelled while queued */
            continue;
        }
        if (run_job(w, j) == 0)
            continue;
        /* The worker died with the job: reap it, replace it, then fail the
         * job (so whoever sees the failure also sees the replacement). */
        conc_pipe_close(&w->end);
        conc_process_join(&w->proc, CONC_FOREVER);
        conc_process_close(&w->proc);
        int rc = conc__procpool_restart_fault ? conc__procpool_restart_fault() : 0;
        if (rc == 0)
            rc = start_worker(w);
        if (rc == 0)
            atomic_fetch_add(&w->pool->replaced, 1);
        fail(j, CONC_EIO);
        if (rc != 0) {
            /* The other workers carry on; the last one gone breaks the pool. */
            if (atomic_fetch_sub(&w->pool->live, 1) == 1)
                break_pool(w->pool);
            return rc;
        }
    }
    stop_worker(w);
    return 0;
}

static int pool_main(void *arg, void **result)
{
    struct pool *pool = arg;
    conc_task_t **tasks = calloc((size_t)pool->nworkers, sizeof(conc_task_t *));
    int started = 0, rc = tasks ? 0 : CONC_ENOMEM;

    (void)result;
    for (; rc == 0 && started < pool->nworkers; started++) {
        struct worker *w = &pool->w[started];
        rc = start_worker(w);
        if (rc == 0) {
            rc = conc_task_spawn(conc_loop_current(), NULL, worker_task, w, &tasks[started]);
            if (rc != 0)
                stop_worker(w);
        }
        if (rc != 0)
            break;
    }
    pool->start_rc = rc;
    atomic_store(&pool->live, started);
    if (rc != 0)
        conc_queue_shutdown(&pool->jobs, false); /* the started ones end */
    conc_event_set(&pool->started);
    for (int i = 0; i < started; i++)
        conc_task_join(tasks[i], NULL, CONC_FOREVER);
    free(tasks);
    return rc;
}

static void *pool_thread(void *arg)
{
    void *unused;

    conc_run(pool_main, arg, &unused);
    return NULL;
}

/* ---- the public functions ----------------------------------------------------- */

static void pool_free(struct pool *pool)
{
    if (pool->w)
        for (int i = 0; i < pool->nworkers; i++)
            free(pool->w[i].buf);
    free(pool->w);
    conc_queue_destroy(&pool->jobs);
    conc_event_destroy(&pool->started);
    free(pool);
}

static int pool_alloc(struct pool *pool)
{
    pool->w = calloc((size_t)pool->nworkers, sizeof *pool->w);
    if (!pool->w)
        return CONC_ENOMEM;
    size_t buf = sizeof(struct job_msg) + pool->max_arg;
    if (buf < sizeof(struct reply_msg) + pool->max_result)
        buf = sizeof(struct reply_msg) + pool->max_result;
    for (int i = 0; i < pool->nworkers; i++) {
        pool->w[i] = (struct worker){ pool, i, CONC_PROCESS_INIT, CONC_PIPE_INIT, malloc(buf) };
        if (!pool->w[i].buf)
            return CONC_ENOMEM;
    }
    return 0;
}

int conc_procpool_init(conc_procpool_t *p, const conc_procpool_attr_t *attr)
{
    conc_procpool_attr_t a = attr ? *attr : (conc_procpool_attr_t)CONC_PROCPOOL_ATTR_INIT;

    if (!p || a.workers < 0 || a.workers > MAX_WORKERS)
        return CONC_EINVAL;
    struct pool *pool = calloc(1, sizeof *pool);
    if (!pool)
        return CONC_ENOMEM;
    pool->nworkers = a.workers ? a.workers : conc_cpu_count();
    if (pool->nworkers < 1)
        pool->nworkers = 1;
    pool->max_arg = a.max_arg ? a.max_arg : DEFAULT_MAX;
    pool->max_result = a.max_result ? a.max_result : DEFAULT_MAX;
    int rc = conc_event_init(&pool->started);
    if (rc == 0)
        rc = conc_queue_init(&pool->jobs, sizeof(struct job *),
                             (size_t)pool->nworkers * JOBS_PER_WORKER, NULL);
    if (rc == 0)
        rc = pool_alloc(pool);
    if (rc == 0)
        rc = conc_thread_create(&pool->thread, NULL, pool_thread, pool);
    if (rc != 0) {
        pool_free(pool);
        return rc;
    }
    conc_event_wait(&pool->started, CONC_FOREVER);
    if (pool->start_rc != 0) {
        rc = pool->start_rc;
        conc_thread_join(&pool->thread, NULL, CONC_FOREVER);
        pool_free(pool);
        return rc;
    }
    p->impl_ = pool;
    return 0;
}

static int reject(conc_future_t *future, int rc)
{
    if (future && conc_future_init(future) == 0)
        conc_future_set_error(future, rc);
    return rc;
}

int conc_procpool_submit(conc_procpool_t *p, conc_procpool_fn fn, const void *arg, size_t arg_len,
                         conc_future_t *future)
{
    struct pool *pool = pool_of(p);

    if (!pool || !fn || (!arg && arg_len > 0))
        return reject(future, CONC_EINVAL);
    if (arg_len > pool->max_arg)
        return reject(future, CONC_EOVERFLOW);
    if (atomic_load(&pool->closed))
        return reject(future, CONC_ECLOSED);
    if (atomic_load(&pool->broken))
        return reject(future, CONC_EIO);
    struct job *j = malloc(sizeof *j + arg_len);
    if (!j)
        return reject(future, CONC_ENOMEM);
    if (future) {
        int rc = conc_future_init(future);
        if (rc != 0) {
            free(j);
            return rc;
        }
    }
    j->fn = fn;
    j->future = future;
    j->len = arg_len;
    if (arg_len)
        memcpy(j->arg, arg, arg_len);
    int rc = conc_queue_put(&pool->jobs, &j, CONC_FOREVER);
    if (rc == CONC_ECLOSED && atomic_load(&pool->broken))
        rc = CONC_EIO; /* closed by break_pool(), not by a shutdown */
    if (rc != 0) {
        free(j);
        if (future)
            conc_future_set_error(future, rc);
    }
    return rc;
}

/* One map item's outcome into the caller's arrays. */
static int collect(conc_future_t *f, void *slot, size_t result_size)
{
    void *value;
    int rc = conc_future_result(f, &value, CONC_FOREVER);

    if (rc != 0)
        return rc;
    conc_procpool_result_t *res = value;
    if (slot && res->len > result_size)
        rc = CONC_EOVERFLOW;
    else if (slot)
        memcpy(slot, res->data, res->len);
    free(res);
    return rc;
}

int conc_procpool_map(conc_procpool_t *p, conc_procpool_fn fn, const void *args, size_t arg_size,
                      size_t n, void *results, size_t result_size, int *statuses)
{
    struct pool *pool = pool_of(p);

    if (!pool || !fn || arg_size == 0 || (n > 0 && !args) || (results && result_size == 0))
        return CONC_EINVAL;
    if (arg_size > pool->max_arg)
        return CONC_EOVERFLOW;
    if (atomic_load(&pool->closed))
        return CONC_ECLOSED;
    conc_future_t *f = calloc(n ? n : 1, sizeof *f);
    if (!f)
        return CONC_ENOMEM;
    for (size_t i = 0; i < n; i++)
        conc_procpool_submit(p, fn, (const unsigned char *)args + i * arg_size, arg_size, &f[i]);
    int first = 0;
    for (size_t i = 0; i < n; i++) {
        int rc = collect(&f[i], results ? (unsigned char *)results + i * result_size : NULL,
                         result_size);
        if (statuses)
            statuses[i] = rc;
        if (rc != 0 && first == 0)
            first = rc;
        conc_future_destroy(&f[i]);
    }
    free(f);
    return first;
}

/* Cancel what is still queued: a worker task may take a job at the same
 * time, and then runs it; the others complete as cancelled. */
static void cancel_queued(struct pool *pool)
{
    struct job *j;

    while (conc_queue_get(&pool->jobs, &j, CONC_NOWAIT) == 0) {
        if (j->future)
            conc_future_cancel(j->future);
        free(j);
    }
}

int conc_procpool_shutdown(conc_procpool_t *p, bool wait)
{
    struct pool *pool = pool_of(p);

    if (!pool)
        return CONC_EINVAL;
    if (atomic_exchange(&pool->closed, true))
        return 0;
    if (!wait)
        cancel_queued(pool);
    conc_queue_shutdown(&pool->jobs, false);
    conc_thread_join(&pool->thread, NULL, CONC_FOREVER);
    return 0;
}

int conc_procpool_destroy(conc_procpool_t *p)
{
    struct pool *pool = pool_of(p);

    if (!pool)
        return CONC_EINVAL;
    conc_procpool_shutdown(p, true);
    pool_free(pool);
    p->impl_ = NULL;
    return 0;
}

int conc_procpool_workers(const conc_procpool_t *p)
{
    const struct pool *pool = pool_of(p);

    return pool ? pool->nworkers : 0;
}

unsigned long conc_procpool_replaced(const conc_procpool_t *p)
{
    struct pool *pool = pool_of(p);

    return pool ? atomic_load(&pool->replaced) : 0;
}
