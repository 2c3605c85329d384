/*
 * The thread pool (conc/pool.h).
 *
 * Work items {fn, arg, future} are copied by value into the pool's conc_queue
 * (a lock-free ring while neither full nor empty), and workers take them out.
 * A submission with nobody waiting costs a ring put, and its future two
 * compare-and-swaps; no lock, and no system call unless a worker sleeps.
 *
 * Dynamic pools keep `workers_` (the policy count) between min_ and max_. A
 * worker about to wait for work adds an idle token (idle_); a submission takes
 * one, or else starts a worker (Python's executor does the same with a
 * semaphore). Tokens can undercount idle workers (an extra worker starts, and
 * later retires) but never leave work without a worker. A worker that waited
 * idle_timeout_ for work retires if above min_. `live_` counts threads that
 * may still touch the pool; shutdown(wait) waits for it to reach zero.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conc/pool.h"
#include "future_internal.h"
#include "activity.h"
#include "waitq.h"

#define POOL_MAGIC 0x706f6f6cu
#define DEFAULT_IDLE_TIMEOUT CONC_SEC(10)
#define DEFAULT_QUEUE_PER_WORKER 1024

enum { OPEN, CLOSED, CANCELLING };

struct item {
    conc_pool_fn fn;
    void *arg;
    conc_future_t *future;
};

struct conc__pool_worker {
    conc_pool_t *pool;
    conc__os_thread_t thread;
    struct conc__pool_worker *next;
    bool exited; /* under the lock: the thread no longer touches the pool */
};

static _Thread_local conc_pool_t *current_pool; /* the pool whose worker we are */

static int map_helper(void *arg, void **result);
static void map_release(void *job);

static bool valid(const conc_pool_t *p)
{
    return p && p->magic_ == POOL_MAGIC;
}

static bool dynamic(const conc_pool_t *p)
{
    return p->min_ < p->max_;
}

static int state_of(const conc_pool_t *p)
{
    return (int)atomic_load_explicit(&p->state_, memory_order_acquire);
}

/* ---- running items ------------------------------------------------------ */

static void run_item(struct item *it)
{
    void *result = NULL;
    int rc;

    if (it->future && conc_future_set_running(it->future) != 0) {
        atomic_fetch_sub_explicit(&conc__pool_items, 1, memory_order_seq_cst);
        return; /* cancelled: set_running let go of it */
    }
    rc = it->fn(it->arg, &result);
    if (it->future) {
        if (rc < 0)
            conc_future_set_error(it->future, rc);
        else
            conc_future_set_result(it->future, result);
    }
    atomic_fetch_sub_explicit(&conc__pool_items, 1, memory_order_seq_cst);
}

/* Drop an item that will not run. */
static void cancel_item(struct item *it)
{
    atomic_fetch_sub_explicit(&conc__pool_items, 1, memory_order_seq_cst);
    if (it->future) {
        conc_future_cancel(it->future);
        conc_future_set_running(it->future); /* the pool lets go of it */
    } else if (it->fn == map_helper) {
        map_release(it->arg);
    }
}

/* ---- workers -------------------------------------------------------------- */

/* Take an idle token if there is one. */
static bool take_token(conc_pool_t *p)
{
    int n = atomic_load(&p->idle_);

    while (n > 0)
        if (atomic_compare_exchange_weak(&p->idle_, &n, n - 1))
            return true;
    return false;
}

static int next_item(conc_pool_t *p, struct item *it)
{
    int64_t timeout = CONC_FOREVER;
    int rc;

    if (!dynamic(p))
        return conc_queue_get(&p->queue_, it, CONC_FOREVER);
    rc = conc_queue_try_get(&p->queue_, it);
    if (rc != CONC_EAGAIN)
        return rc;
    if (atomic_load(&p->workers_) > p->min_)
        timeout = p->idle_timeout_;
    atomic_fetch_add(&p->idle_, 1);
    rc = conc_queue_get(&p->queue_, it, timeout);
    if (rc == CONC_ETIMEDOUT)
        take_token(p); /* nobody came for ours: withdraw one */
    return rc;
}

/* After an idle timeout: leave if the pool has more workers than its minimum.
 * The count drops before a last look at the queue, and submit looks at the
 * count after its put (both sequentially consistent), so an item put just
 * now is either seen here or makes submit start a worker: never stranded. */
static bool retire(conc_pool_t *p)
{
    struct item it;
    bool leave = false;

    conc__os_lock(&p->lock_);
    if (state_of(p) == OPEN && atomic_load(&p->workers_) > p->min_) {
        atomic_fetch_sub(&p->workers_, 1);
        leave = true;
    }
    conc__os_unlock(&p->lock_);
    if (!leave)
        return false;
    atomic_thread_fence(memory_order_seq_cst);
    if (conc_queue_try_get(&p->queue_, &it) != 0)
        return true;
    atomic_fetch_add(&p->workers_, 1); /* stay after all */
    /* A shutdown(cancel_pending) may have come since the check above: the
     * item is then cancelled, as worker_main() does. */
    if (CONC_UNLIKELY(state_of(p) == CANCELLING))
        cancel_item(&it);
    else
        run_item(&it);
    return false;
}

static void worker_exit(conc_pool_t *p, struct conc__pool_worker *w)
{
    conc__wakelist_t wl = CONC__WAKELIST_INIT;

    conc__os_lock(&p->lock_);
    w->exited = true;
    if (--p->live_ == 0)
        conc__waitq_wake_n(&p->exit_waiters_, -1, 0, &wl);
    conc__os_unlock(&p->lock_);
    conc__wakelist_run(&wl);
}

static void *worker_main(void *arg)
{
    struct conc__pool_worker *w = arg;
    conc_pool_t *p = w->pool;
    struct item it;

    current_pool = p;
    for (;;) {
        int rc = next_item(p, &it);

        if (rc == 0) {
            if (CONC_UNLIKELY(state_of(p) == CANCELLING))
                cancel_item(&it);
            else
                run_item(&it);
        } else if (rc == CONC_ECLOSED) {
            atomic_fetch_sub(&p->workers_, 1);
            break;
        } else if (rc == CONC_ETIMEDOUT && retire(p)) {
            break;
        }
    }
    worker_exit(p, w);
    return NULL;
}

static void *worker_start(void *arg)
{
    struct conc__pool_worker *w = arg;
    char name[16];

    snprintf(name, sizeof name, "%s", w->pool->name_);
    conc__os_thread_set_name(name);
    return worker_main(w);
}

/* Under the lock: unlink workers that have exited, for joining unlocked. */
static struct conc__pool_worker *unlink_exited(conc_pool_t *p)
{
    struct conc__pool_worker *done = NULL, **pp = &p->all_;

    while (*pp) {
        struct conc__pool_worker *w = *pp;

        if (w->exited) {
            *pp = w->next;
            w->next = done;
            done = w;
        } else {
            pp = &w->next;
        }
    }
    return done;
}

static void join_all(struct conc__pool_worker *list)
{
    while (list) {
        struct conc__pool_worker *next = list->next;

        conc__os_thread_join(list->thread, NULL);
        free(list);
        list = next;
    }
}

/* Under the lock: start one worker. */
static int start_worker(conc_pool_t *p, struct conc__pool_worker *w)
{
    int rc;

    *w = (struct conc__pool_worker){ .pool = p, .next = p->all_ };
    rc = conc__os_thread_start(&w->thread, worker_start, w, 0, false);
    if (rc)
        return rc;
    p->all_ = w;
    p->live_++;
    atomic_fetch_add(&p->workers_, 1);
    return 0;
}

/* Start a worker if the pool is open and below max_workers. */
static int spawn(conc_pool_t *p)
{
    struct conc__pool_worker *w = malloc(sizeof *w), *reaped;
    int rc = 0;

    if (!w)
        return CONC_ENOMEM;
    conc__os_lock(&p->lock_);
    reaped = unlink_exited(p);
    if (state_of(p) != OPEN)
        rc = CONC_ECLOSED;
    else if (atomic_load(&p->workers_) < p->max_ && (rc = start_worker(p, w)) == 0)
        w = NULL; /* now the pool's */
    conc__os_unlock(&p->lock_);
    free(w);
    join_all(reaped);
    return rc;
}

/* ---- life cycle -------------------------------------------------------------- */

static int setup(conc_pool_t *p, const conc_pool_attr_t *a)
{
    int max = a->max_workers ? a->max_workers : conc__os_cpu_count();
    int min = a->min_workers < 0 ? max : a->min_workers;
    size_t cap = a->queue_capacity ? a->queue_capacity : (size_t)max * DEFAULT_QUEUE_PER_WORKER;

    if (a->max_workers < 0 || min > max)
        return CONC_EINVAL;
    memset(p, 0, sizeof *p);
    p->min_ = min;
    p->max_ = max;
    p->idle_timeout_ = a->idle_timeout_ns > 0 ? a->idle_timeout_ns : DEFAULT_IDLE_TIMEOUT;
    snprintf(p->name_, sizeof p->name_, "%s", a->name ? a->name : "conc-pool");
    return conc_queue_init(&p->queue_, sizeof(struct item), cap, NULL);
}

static void wait_workers(conc_pool_t *p)
{
    conc__waiter_t w;

    conc__os_lock(&p->lock_);
    if (p->live_ == 0) {
        conc__os_unlock(&p->lock_);
        return;
    }
    conc__waiter_init(&w);
    conc__waitq_push(&p->exit_waiters_, &w);
    /* Woken only when the last worker has gone, which is final: return
     * without touching the pool again (it may be destroyed next). */
    w.what = "pool shutdown";
    conc__waiter_sleep(&w, &p->exit_waiters_, &p->lock_, CONC_FOREVER, false);
}

int conc_pool_init(conc_pool_t *p, const conc_pool_attr_t *attr)
{
    static const conc_pool_attr_t defaults = CONC_POOL_ATTR_INIT;
    int rc;

    if (!p)
        return CONC_EINVAL;
    rc = setup(p, attr ? attr : &defaults);
    if (rc)
        return rc;
    p->magic_ = POOL_MAGIC;
    for (int i = 0; i < p->min_ && !rc; i++)
        rc = spawn(p);
    if (rc) {
        conc_pool_shutdown(p, true, false);
        join_all(p->all_);
        conc_queue_destroy(&p->queue_);
        p->magic_ = 0;
    }
    return rc;
}

/* After the queue's shutdown, nothing more can be queued; but a submit may
 * have queued an item just as the last dynamic worker retired, and its spawn
 * then failed (the pool was closed meanwhile). Start a worker for such work. */
static void adopt_stranded_work(conc_pool_t *p)
{
    struct conc__pool_worker *w;

    if (atomic_load(&p->workers_) > 0 || conc_queue_empty(&p->queue_))
        return;
    w = malloc(sizeof *w);
    if (!w)
        return;
    conc__os_lock(&p->lock_);
    if (state_of(p) == CLOSED && atomic_load(&p->workers_) == 0 && !conc_queue_empty(&p->queue_) &&
        start_worker(p, w) == 0)
        w = NULL; /* now the pool's */
    conc__os_unlock(&p->lock_);
    free(w);
}

int conc_pool_shutdown(conc_pool_t *p, bool wait, bool cancel_pending)
{
    struct item it;

    if (!valid(p))
        return CONC_EINVAL;
    conc__os_lock(&p->lock_);
    if (cancel_pending)
        atomic_store(&p->state_, CANCELLING);
    else if (state_of(p) == OPEN)
        atomic_store(&p->state_, CLOSED);
    conc__os_unlock(&p->lock_);
    conc_queue_shutdown(&p->queue_, false);
    if (cancel_pending)
        while (conc_queue_try_get(&p->queue_, &it) == 0)
            cancel_item(&it);
    else
        adopt_stranded_work(p);
    if (!wait)
        return 0;
    if (current_pool == p)
        return CONC_EDEADLK;
    wait_workers(p);
    return 0;
}

static conc_pool_t default_pool;

int conc_pool_destroy(conc_pool_t *p)
{
    struct conc__pool_worker *all;

    if (!valid(p))
        return CONC_EINVAL;
    if (p == &default_pool)
        return CONC_EPERM;
    if (current_pool == p)
        return CONC_EDEADLK;
    conc_pool_shutdown(p, true, false);
    conc__os_lock(&p->lock_);
    all = p->all_;
    p->all_ = NULL;
    p->magic_ = 0;
    conc__os_unlock(&p->lock_);
    join_all(all);
    conc_queue_destroy(&p->queue_);
    return 0;
}

conc_pool_t *conc_pool_default(void)
{
    static _Atomic int ready;
    static conc__os_lock_t lock;
    conc_pool_attr_t attr = CONC_POOL_ATTR_INIT;

    if (atomic_load_explicit(&ready, memory_order_acquire))
        return &default_pool;
    attr.name = "conc-default";
    conc__os_lock(&lock);
    if (!atomic_load_explicit(&ready, memory_order_relaxed) &&
        conc_pool_init(&default_pool, &attr) == 0)
        atomic_store_explicit(&ready, 1, memory_order_release);
    conc__os_unlock(&lock);
    return atomic_load_explicit(&ready, memory_order_acquire) ? &default_pool : NULL;
}

int conc_pool_workers(const conc_pool_t *p)
{
    return valid(p) ? atomic_load(&p->workers_) : 0;
}

/* ---- submit --------------------------------------------------------------------- */

static void fail_future(conc_future_t *f, int rc)
{
    conc_future_init(f);
    conc_future_set_error(f, rc);
}

static int submit(conc_pool_t *p, conc_pool_fn fn, void *arg, conc_future_t *f, int64_t timeout)
{
    struct item it = { fn, arg, f };
    int rc = 0;

    if (!valid(p) || !fn)
        rc = CONC_EINVAL;
    else if (state_of(p) != OPEN)
        rc = CONC_ECLOSED;
    else if (dynamic(p) && atomic_load(&p->workers_) == 0)
        rc = spawn(p);
    if (!rc) {
        if (f)
            conc__future_init_bound(f);
        atomic_fetch_add_explicit(&conc__pool_items, 1, memory_order_seq_cst);
        rc = conc_queue_put(&p->queue_, &it, timeout);
        if (rc)
            atomic_fetch_sub_explicit(&conc__pool_items, 1, memory_order_seq_cst);
    }
    if (rc) {
        if (f)
            fail_future(f, rc);
        return rc;
    }
    /* A worker for this item: an idle one takes it; else start one. */
    if (dynamic(p) && !take_token(p) && atomic_load(&p->workers_) < p->max_)
        spawn(p);
    return 0;
}

int conc_pool_submit(conc_pool_t *p, conc_pool_fn fn, void *arg, conc_future_t *future)
{
    return submit(p, fn, arg, future, CONC_FOREVER);
}

int conc_pool_try_submit(conc_pool_t *p, conc_pool_fn fn, void *arg, conc_future_t *future)
{
    return submit(p, fn, arg, future, CONC_NOWAIT);
}

/* ---- map ------------------------------------------------------------------------------ */

/* Shared by the caller of map and the helper items it queues; freed by the
 * last of them, so a helper that starts late (or never) is harmless. */
struct map_job {
    conc_pool_fn fn;
    void *const *args;
    void **results;
    size_t n, chunk, nchunks;
    _Atomic size_t next;     /* the next chunk to claim */
    _Atomic size_t finished; /* chunks done */
    _Atomic int refs;
    conc__os_lock_t lock; /* guards the first error */
    size_t err_index;
    int err;
    conc_future_t done; /* completed with the last chunk */
};

static void map_error(struct map_job *j, size_t i, int rc)
{
    conc__os_lock(&j->lock);
    if (i < j->err_index) {
        j->err_index = i;
        j->err = rc;
    }
    conc__os_unlock(&j->lock);
}

static void map_chunk(struct map_job *j, size_t c)
{
    size_t end = (c + 1) * j->chunk < j->n ? (c + 1) * j->chunk : j->n;

    for (size_t i = c * j->chunk; i < end; i++) {
        void *result = NULL;
        int rc = j->fn(j->args[i], &result);

        if (rc < 0)
            map_error(j, i, rc);
        if (j->results)
            j->results[i] = rc < 0 ? NULL : result;
    }
}

static void map_run(struct map_job *j)
{
    size_t c;

    while ((c = atomic_fetch_add(&j->next, 1)) < j->nchunks) {
        map_chunk(j, c);
        if (atomic_fetch_add(&j->finished, 1) + 1 == j->nchunks)
            conc_future_set_result(&j->done, NULL);
    }
}

static void map_release(void *job)
{
    struct map_job *j = job;

    if (atomic_fetch_sub(&j->refs, 1) == 1) {
        conc_future_destroy(&j->done);
        free(j);
    }
}

static int map_helper(void *arg, void **result)
{
    (void)result;
    map_run(arg);
    map_release(arg);
    return 0;
}

static struct map_job *map_job_new(conc_pool_t *p, conc_pool_fn fn, void *const *args,
                                   void **results, size_t n)
{
    struct map_job *j = malloc(sizeof *j);
    size_t want = (size_t)(p->max_ + 1) * 4; /* chunks: some slack per thread */

    if (!j)
        return NULL;
    *j = (struct map_job){
        .fn = fn, .args = args, .results = results, .n = n, .err_index = SIZE_MAX
    };
    j->chunk = n / want ? n / want : 1;
    j->nchunks = (n + j->chunk - 1) / j->chunk;
    atomic_init(&j->refs, 1);
    conc_future_init(&j->done);
    return j;
}

int conc_pool_map(conc_pool_t *p, conc_pool_fn fn, void *const *args, void **results, size_t n)
{
    struct map_job *j;
    int rc;

    if (!valid(p) || !fn || (!args && n))
        return CONC_EINVAL;
    if (state_of(p) != OPEN)
        return CONC_ECLOSED;
    if (!n)
        return 0;
    j = map_job_new(p, fn, args, results, n);
    if (!j)
        return CONC_ENOMEM;
    /* Helpers beyond what the queue takes at once are not needed: this
     * thread runs whatever chunks nobody else has claimed. */
    for (size_t h = 1; h < j->nchunks && h <= (size_t)p->max_; h++) {
        atomic_fetch_add(&j->refs, 1);
        if (conc_pool_try_submit(p, map_helper, j, NULL) != 0) {
            atomic_fetch_sub(&j->refs, 1);
            break;
        }
    }
    map_run(j);
    conc_future_wait(&j->done, CONC_FOREVER);
    conc__os_lock(&j->lock);
    rc = j->err;
    conc__os_unlock(&j->lock);
    map_release(j);
    return rc;
}
