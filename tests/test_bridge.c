/*
 * Bridges between tasks and threads: every blocking call of the core, called
 * from a coroutine task, suspends only that task and is woken by a task of
 * the same loop or by a thread; called from a thread it is woken by a task.
 * Inside a task each call times out never early and is cancellable; a
 * timed-out, cancelled or NOWAIT call leaves its primitive as if it had not
 * been made (docs/task.md, "Cancellation"). A cancel that races the
 * release either fails the call without effect or lets it complete, and
 * then the request is not lost: the next block returns CONC_ECANCELED
 * (conc_task_cancel(): "once per request").
 *
 * Checks made inside tasks and threads are soft (CK, CKT): they count and
 * print failures, so that a library bug never longjmps out of a coroutine or
 * another thread; every test ends by asserting that nothing failed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/activity.h"
#include "core/queue_internal.h"
#include "helpers.h"

/* ---- soft checks -------------------------------------------------------- */

static int reset_failures(void **state)
{
    (void)state;
    test_soft_reset();
    return 0;
}

static void assert_no_failures(void)
{
    assert_int_equal(0, test_soft_failures());
}

/* Run fn as the main task of a fresh loop (conc_run) and check it all. */
static void run_main(conc_task_fn fn, void *arg)
{
    CK(0, conc_run(fn, arg, NULL));
    assert_no_failures();
}

/* Wait, at most 10 s, until pred(arg): by short sleeps, which suspend only
 * the caller when it is a task. Never a synchronisation by itself: it only
 * waits for a state that some primitive will reach. */
static bool poll_until(bool (*pred)(void *), void *arg)
{
    int64_t end = conc_now_ns() + CONC_SEC(10);

    while (!pred(arg)) {
        if (conc_now_ns() > end)
            return false;
        conc_sleep(CONC_US(200));
    }
    return true;
}

static bool task_blocked(void *arg)
{
    return conc_task_state(arg) == CONC_TASK_BLOCKED;
}

static bool flag_set(void *arg)
{
    return atomic_load((_Atomic int *)arg) != 0;
}

/* Threads known to libconc parked without a deadline (a thread waiter has
 * blocked once this grows past a baseline). */
struct parked_goal {
    long target;
};

static bool parked_reached(void *arg)
{
    return atomic_load(&conc__parked_forever) >= ((struct parked_goal *)arg)->target;
}

static bool wait_parked(long baseline, long n)
{
    struct parked_goal g = { baseline + n };

    return poll_until(parked_reached, &g);
}

/* Join a task within 10 s; a task still blocked then is a failure, and is
 * cancelled so that the test ends. */
static void join_within(conc_task_t *t)
{
    int rc = conc_task_join(t, NULL, CONC_SEC(10));

    if (rc == CONC_ETIMEDOUT) {
        CK(0, rc);
        conc_task_cancel(t);
        rc = conc_task_join(t, NULL, CONC_FOREVER);
    }
    CK(0, rc);
}

/* ---- one primitive, seen through the same six scenarios ----------------- */

struct ctx;

struct prim {
    void (*setup)(struct ctx *c);                /* main task: initialise, blocking state */
    void (*hold)(struct ctx *c);                 /* the releaser, before the waiter comes */
    int (*wait)(struct ctx *c, int64_t timeout); /* the waiter; 0 = success */
    void (*release)(struct ctx *c);              /* the releaser: lets one waiter through */
    void (*check_failed)(struct ctx *c);         /* main task, after a failed wait,
                                                     hold still in effect */
    void (*teardown)(struct ctx *c);             /* main task: check and destroy */
    int nowait_rc; /* what a CONC_NOWAIT wait returns when it would block */
    bool positive; /* waiter tasks use a long positive timeout, not FOREVER */
};

enum scenario {
    TASK_TASK,
    TASK_THREAD,
    THREAD_TASK,
    TIMEOUT,
    CANCEL,
    NOWAIT,
    CANCEL_RACE,
    DESTROY_BUSY
};

struct ctx {
    const struct prim *p;
    enum scenario scenario;
    conc_mutex_t m;
    conc_rmutex_t r;
    conc_cond_t cv;
    int flag;
    conc_sem_t s;
    conc_event_t e;
    conc_flags_t f;
    conc_barrier_t b;
    conc_queue_t q;
    conc_future_t fut;
    conc_thread_t victim;
    conc_event_t victim_go;
    /* the scenario */
    int64_t timeout;
    int wait_rc;
    int64_t elapsed;
    int pending_after, next_block_rc; /* cancel requests left after the wait */
    int (*destroy)(struct ctx *c);    /* DESTROY_BUSY: destroys the primitive */
    _Atomic int released, held, go;
};

static struct ctx C;

enum { TIMEOUT_MS = 30 };
static const int64_t long_timeout = CONC_SEC(60);
static char result_token;

/* mutex: lock() when waiting forever, else timedlock() */
static void mutex_setup(struct ctx *c)
{
    CK(0, conc_mutex_init(&c->m));
}
static void mutex_hold(struct ctx *c)
{
    CK(0, conc_mutex_lock(&c->m));
}
static int mutex_wait(struct ctx *c, int64_t t)
{
    int rc = t < 0 ? conc_mutex_lock(&c->m) : conc_mutex_timedlock(&c->m, t);

    if (rc == 0) {
        CKT(conc_mutex_owned_by_me(&c->m));
        CK(0, conc_mutex_unlock(&c->m));
    } else {
        CKT(!conc_mutex_owned_by_me(&c->m));
    }
    return rc;
}
static int mutex_timed_wait(struct ctx *c, int64_t t)
{
    int rc = conc_mutex_timedlock(&c->m, t);

    if (rc == 0)
        CK(0, conc_mutex_unlock(&c->m));
    else
        CKT(!conc_mutex_owned_by_me(&c->m));
    return rc;
}
static void mutex_release(struct ctx *c)
{
    CK(0, conc_mutex_unlock(&c->m));
}
static void mutex_check_failed(struct ctx *c)
{
    /* Still the main task's, and nobody else's after its unlock. */
    CKT(conc_mutex_owned_by_me(&c->m));
    CK(0, conc_mutex_unlock(&c->m));
    CKT(!conc_mutex_locked(&c->m));
    CK(0, conc_mutex_trylock(&c->m));
}
static void mutex_teardown(struct ctx *c)
{
    CKT(!conc_mutex_locked(&c->m));
    CK(0, conc_mutex_destroy(&c->m));
}

/* rmutex: the releaser holds it twice, the waiter locks it twice */
static void rmutex_setup(struct ctx *c)
{
    CK(0, conc_rmutex_init(&c->r));
}
static void rmutex_hold(struct ctx *c)
{
    CK(0, conc_rmutex_lock(&c->r));
    CK(0, conc_rmutex_lock(&c->r));
}
static int rmutex_wait(struct ctx *c, int64_t t)
{
    int rc = t < 0 ? conc_rmutex_lock(&c->r) : conc_rmutex_timedlock(&c->r, t);

    if (rc == 0) {
        CK(1, conc_rmutex_depth(&c->r));
        CK(0, conc_rmutex_lock(&c->r));
        CK(2, conc_rmutex_depth(&c->r));
        CK(0, conc_rmutex_unlock(&c->r));
        CK(0, conc_rmutex_unlock(&c->r));
    }
    CK(0, conc_rmutex_depth(&c->r));
    return rc;
}
static void rmutex_release(struct ctx *c)
{
    CK(0, conc_rmutex_unlock(&c->r));
    CKT(conc_rmutex_owned_by_me(&c->r));
    CK(0, conc_rmutex_unlock(&c->r));
}
static void rmutex_check_failed(struct ctx *c)
{
    CK(2, conc_rmutex_depth(&c->r));
    CK(0, conc_rmutex_unlock(&c->r));
    CK(0, conc_rmutex_unlock(&c->r));
    CKT(!conc_rmutex_locked(&c->r));
    rmutex_hold(c);
}
static void rmutex_teardown(struct ctx *c)
{
    CKT(!conc_rmutex_locked(&c->r));
    CK(0, conc_rmutex_destroy(&c->r));
}

/* cond: a flag under the mutex; the waiter consumes it */
static void cond_setup(struct ctx *c)
{
    CK(0, conc_mutex_init(&c->m));
    CK(0, conc_cond_init(&c->cv));
    c->flag = 0;
}
static void no_hold(struct ctx *c)
{
    (void)c;
}
static int cond_wait(struct ctx *c, int64_t t)
{
    int64_t deadline = conc_deadline_after(t);
    int rc = 0;

    CK(0, conc_mutex_lock(&c->m));
    while (!c->flag) {
        rc = conc_cond_wait(&c->cv, &c->m, conc_timeout_left(deadline));
        if (rc != 0)
            break;
    }
    CKT(conc_mutex_owned_by_me(&c->m)); /* held again in every case */
    if (rc == 0)
        c->flag = 0;
    CK(0, conc_mutex_unlock(&c->m));
    return rc;
}
static bool flag_pred(void *arg)
{
    return ((struct ctx *)arg)->flag != 0;
}
static int cond_wait_for(struct ctx *c, int64_t t)
{
    CK(0, conc_mutex_lock(&c->m));
    int rc = conc_cond_wait_for(&c->cv, &c->m, flag_pred, c, t);
    CKT(conc_mutex_owned_by_me(&c->m));
    if (rc == 1)
        c->flag = 0;
    CK(0, conc_mutex_unlock(&c->m));
    return rc == 1 ? 0 : rc == 0 ? CONC_ETIMEDOUT : rc;
}
static void cond_release(struct ctx *c)
{
    CK(0, conc_mutex_lock(&c->m));
    c->flag = 1;
    CK(0, conc_cond_notify(&c->cv, 1));
    CK(0, conc_mutex_unlock(&c->m));
}
static void cond_check_failed(struct ctx *c)
{
    CKT(!conc_mutex_locked(&c->m));
    CK(0, c->flag);
}
static void cond_teardown(struct ctx *c)
{
    CK(0, c->flag);
    CK(0, conc_cond_destroy(&c->cv));
    CK(0, conc_mutex_destroy(&c->m));
}

/* sem: no permit until the release */
static void sem_setup(struct ctx *c)
{
    CK(0, conc_sem_init(&c->s, 0));
}
static int sem_wait(struct ctx *c, int64_t t)
{
    return conc_sem_acquire(&c->s, t);
}
static void sem_release(struct ctx *c)
{
    CK(0, conc_sem_release(&c->s, 1));
}
static void sem_check_failed(struct ctx *c)
{
    CK(0, conc_sem_value(&c->s));
}
static void sem_teardown(struct ctx *c)
{
    CK(0, conc_sem_value(&c->s));
    CK(0, conc_sem_destroy(&c->s));
}

/* event */
static void event_setup(struct ctx *c)
{
    CK(0, conc_event_init(&c->e));
}
static int event_wait(struct ctx *c, int64_t t)
{
    int rc = conc_event_wait(&c->e, t);

    if (rc == 0)
        CKT(conc_event_is_set(&c->e));
    return rc;
}
static void event_release(struct ctx *c)
{
    CK(0, conc_event_set(&c->e));
}
static void event_check_failed(struct ctx *c)
{
    CKT(!conc_event_is_set(&c->e));
}
static void event_teardown(struct ctx *c)
{
    CKT(conc_event_is_set(&c->e));
    CK(0, conc_event_destroy(&c->e));
}

/* flags: the holder sets bit 0, the releaser bit 1; the waiter wants both */
static void flags_setup(struct ctx *c)
{
    CK(0, conc_flags_init(&c->f));
}
static void flags_hold(struct ctx *c)
{
    CK(0x1, conc_flags_set(&c->f, 0x1));
}
static int flags_wait(struct ctx *c, int64_t t)
{
    uint32_t v = 0;
    int rc = conc_flags_wait(&c->f, 0x3, CONC_FLAGS_ALL | CONC_FLAGS_CLEAR, &v, t);

    if (rc == 0)
        CK(0x3, v & 0x3);
    return rc;
}
static void flags_release(struct ctx *c)
{
    /* The blocked waiter consumes both bits atomically with the set. */
    CK(0, conc_flags_set(&c->f, 0x2));
}
static void flags_check_failed(struct ctx *c)
{
    CK(0x1, conc_flags_get(&c->f)); /* nothing consumed */
}
static void flags_teardown(struct ctx *c)
{
    CK(0, conc_flags_get(&c->f));
    CK(0, conc_flags_destroy(&c->f));
}

/* barrier of two: the waiter comes first (index 0), the releaser trips it */
static void barrier_setup(struct ctx *c)
{
    CK(0, conc_barrier_init(&c->b, 2, NULL, NULL));
}
static int barrier_wait(struct ctx *c, int64_t t)
{
    int rc = conc_barrier_wait(&c->b, t);

    if (rc >= 0) {
        CK(0, rc);
        return 0;
    }
    return rc;
}
static void barrier_release(struct ctx *c)
{
    CK(1, conc_barrier_wait(&c->b, CONC_FOREVER));
}
static void barrier_check_failed(struct ctx *c)
{
    /* A waiter that gave up broke the barrier, as a timeout does. */
    CKT(conc_barrier_broken(&c->b));
    CK(CONC_EBROKEN, conc_barrier_wait(&c->b, CONC_NOWAIT));
    CK(CONC_EBROKEN, conc_barrier_wait(&c->b, CONC_MS(1)));
    CK(0, conc_barrier_n_waiting(&c->b));
    CK(0, conc_barrier_reset(&c->b));
    CKT(!conc_barrier_broken(&c->b));
}
static void barrier_teardown(struct ctx *c)
{
    CKT(!conc_barrier_broken(&c->b));
    CK(0, conc_barrier_n_waiting(&c->b));
    CK(0, conc_barrier_destroy(&c->b));
}

/* queue get: empty until the release puts 42 */
static void qget_setup(struct ctx *c)
{
    CK(0, conc_queue_init(&c->q, sizeof(int), 2, NULL));
}
static int qget_wait(struct ctx *c, int64_t t)
{
    int v = -1;
    int rc = conc_queue_get(&c->q, &v, t);

    CK(rc == 0 ? 42 : -1, v);
    return rc;
}
static void qget_release(struct ctx *c)
{
    int v = 42;

    CK(0, conc_queue_put(&c->q, &v, CONC_NOWAIT));
}
static void qget_check_failed(struct ctx *c)
{
    int v = 7, out = -1;

    CK(0, (long)conc_queue_qsize(&c->q));
    /* No ghost getter is left to be handed this item. */
    CK(0, conc_queue_put(&c->q, &v, CONC_NOWAIT));
    CK(1, (long)conc_queue_qsize(&c->q));
    CK(0, conc_queue_try_get(&c->q, &out));
    CK(7, out);
}
static void qget_teardown(struct ctx *c)
{
    CK(0, (long)conc_queue_qsize(&c->q));
    CK(0, conc_queue_destroy(&c->q));
}

/* queue put: full (item 1) until the release gets it; the waiter puts 2 */
static void qput_setup(struct ctx *c)
{
    int v = 1;

    CK(0, conc_queue_init(&c->q, sizeof(int), 1, NULL));
    CK(0, conc_queue_put(&c->q, &v, CONC_NOWAIT));
}
static int qput_wait(struct ctx *c, int64_t t)
{
    int v = 2;

    return conc_queue_put(&c->q, &v, t);
}
static void qput_release(struct ctx *c)
{
    int v = -1;

    CK(0, conc_queue_get(&c->q, &v, CONC_NOWAIT));
    CK(1, v);
}
static void qput_check_failed(struct ctx *c)
{
    int v = -1;

    CK(1, (long)conc_queue_qsize(&c->q));
    CKT(conc_queue_full(&c->q));
    CK(0, conc_queue_peek(&c->q, &v));
    CK(1, v);
}
static void qput_teardown(struct ctx *c)
{
    int v = -1;

    CK(1, (long)conc_queue_qsize(&c->q));
    CK(0, conc_queue_try_get(&c->q, &v));
    CK(2, v);
    CK(CONC_EAGAIN, conc_queue_try_get(&c->q, &v));
    CK(0, conc_queue_destroy(&c->q));
}

/* queue join: one item got, not yet done */
static void qjoin_setup(struct ctx *c)
{
    int v = 5;

    CK(0, conc_queue_init(&c->q, sizeof(int), 2, NULL));
    CK(0, conc_queue_put(&c->q, &v, CONC_NOWAIT));
    CK(0, conc_queue_get(&c->q, &v, CONC_NOWAIT));
}
static int qjoin_wait(struct ctx *c, int64_t t)
{
    return conc_queue_join(&c->q, t);
}
static void qjoin_release(struct ctx *c)
{
    CK(0, conc_queue_task_done(&c->q));
}
static void qjoin_check_failed(struct ctx *c)
{
    CK(CONC_EAGAIN, conc_queue_join(&c->q, CONC_NOWAIT));
}
static void qjoin_teardown(struct ctx *c)
{
    int v = 6;

    CK(0, conc_queue_join(&c->q, CONC_NOWAIT));
    CK(CONC_EOVERFLOW, conc_queue_task_done(&c->q));
    /* The next item makes joins wait again: the count is exact. */
    CK(0, conc_queue_put(&c->q, &v, CONC_NOWAIT));
    CK(CONC_EAGAIN, conc_queue_join(&c->q, CONC_NOWAIT));
    CK(0, conc_queue_get(&c->q, &v, CONC_NOWAIT));
    CK(0, conc_queue_task_done(&c->q));
    CK(0, conc_queue_destroy(&c->q));
}

/* future result */
static void future_setup(struct ctx *c)
{
    CK(0, conc_future_init(&c->fut));
}
static int future_wait(struct ctx *c, int64_t t)
{
    void *v = NULL;
    int rc = conc_future_result(&c->fut, &v, t);

    if (rc == 0)
        CKT(v == &result_token);
    return rc;
}
static void future_release(struct ctx *c)
{
    CK(0, conc_future_set_result(&c->fut, &result_token));
}
static void future_check_failed(struct ctx *c)
{
    /* The waiter's cancellation is not the future's. */
    CKT(!conc_future_done(&c->fut));
    CKT(!conc_future_cancelled(&c->fut));
}
static void future_teardown(struct ctx *c)
{
    CKT(conc_future_done(&c->fut));
    CKT(!conc_future_cancelled(&c->fut));
    CK(0, conc_future_destroy(&c->fut));
}

/* thread join: the victim thread ends once victim_go is set */
static void *victim_main(void *arg)
{
    struct ctx *c = arg;

    CK(0, conc_event_wait(&c->victim_go, CONC_FOREVER));
    return &result_token;
}
static void tjoin_setup(struct ctx *c)
{
    long base = atomic_load(&conc__parked_forever);

    CK(0, conc_event_init(&c->victim_go));
    CK(0, conc_thread_create(&c->victim, NULL, victim_main, c));
    CKT(wait_parked(base, 1)); /* so that only the waiter moves the count */
}
static int tjoin_wait(struct ctx *c, int64_t t)
{
    void *v = NULL;
    int rc = conc_thread_join(&c->victim, &v, t);

    if (rc == 0)
        CKT(v == &result_token);
    return rc;
}
static void tjoin_release(struct ctx *c)
{
    CK(0, conc_event_set(&c->victim_go));
}
static void tjoin_check_failed(struct ctx *c)
{
    CKT(conc_thread_is_alive(&c->victim)); /* still joinable */
}
static void tjoin_teardown(struct ctx *c)
{
    CKT(!conc_thread_is_alive(&c->victim));
    CK(CONC_EINVAL, conc_thread_join(&c->victim, NULL, CONC_NOWAIT)); /* consumed */
    CK(0, conc_event_destroy(&c->victim_go));
}

static const struct prim p_mutex = { mutex_setup,        mutex_hold,     mutex_wait, mutex_release,
                                     mutex_check_failed, mutex_teardown, CONC_EBUSY, false };
static const struct prim p_mutex_timed = { mutex_setup,        mutex_hold,
                                           mutex_timed_wait,   mutex_release,
                                           mutex_check_failed, mutex_teardown,
                                           CONC_EBUSY,         true };
static const struct prim p_rmutex = { rmutex_setup,        rmutex_hold,
                                      rmutex_wait,         rmutex_release,
                                      rmutex_check_failed, rmutex_teardown,
                                      CONC_EBUSY,          false };
static const struct prim p_cond = { cond_setup,        no_hold,       cond_wait,      cond_release,
                                    cond_check_failed, cond_teardown, CONC_ETIMEDOUT, false };
static const struct prim p_cond_for = { cond_setup,        no_hold,
                                        cond_wait_for,     cond_release,
                                        cond_check_failed, cond_teardown,
                                        CONC_ETIMEDOUT,    false };
static const struct prim p_sem = { sem_setup,        no_hold,      sem_wait,    sem_release,
                                   sem_check_failed, sem_teardown, CONC_EAGAIN, false };
static const struct prim p_event = { event_setup,        no_hold,        event_wait,  event_release,
                                     event_check_failed, event_teardown, CONC_EAGAIN, false };
static const struct prim p_flags = { flags_setup,        flags_hold,     flags_wait,  flags_release,
                                     flags_check_failed, flags_teardown, CONC_EAGAIN, false };
static const struct prim p_barrier = { barrier_setup,        no_hold,
                                       barrier_wait,         barrier_release,
                                       barrier_check_failed, barrier_teardown,
                                       CONC_EAGAIN,          false };
static const struct prim p_qget = { qget_setup,        no_hold,       qget_wait,   qget_release,
                                    qget_check_failed, qget_teardown, CONC_EAGAIN, false };
static const struct prim p_qput = { qput_setup,        no_hold,       qput_wait,   qput_release,
                                    qput_check_failed, qput_teardown, CONC_EAGAIN, false };
static const struct prim p_qjoin = { qjoin_setup,        no_hold,        qjoin_wait,  qjoin_release,
                                     qjoin_check_failed, qjoin_teardown, CONC_EAGAIN, false };
static const struct prim p_future = { future_setup,        no_hold,
                                      future_wait,         future_release,
                                      future_check_failed, future_teardown,
                                      CONC_EAGAIN,         false };
static const struct prim p_tjoin = { tjoin_setup,        no_hold,        tjoin_wait,  tjoin_release,
                                     tjoin_check_failed, tjoin_teardown, CONC_EAGAIN, false };

/* ---- the scenarios ------------------------------------------------------ */

static void do_release(struct ctx *c)
{
    atomic_store(&c->released, 1);
    c->p->release(c);
}

static void run_wait(struct ctx *c)
{
    int64_t t0 = conc_now_ns();

    c->wait_rc = c->p->wait(c, c->timeout);
    c->elapsed = conc_now_ns() - t0;
    if (c->wait_rc == 0)
        CK(1, atomic_load(&c->released)); /* never through before the release */
}

static int waiter_task(void *arg, void **result)
{
    struct ctx *c = arg;

    (void)result;
    run_wait(c);
    c->pending_after = conc_task_cancelling(conc_task_current());
    if (c->pending_after > 0)
        c->next_block_rc = conc_task_sleep(CONC_SEC(10));
    return 0;
}

static void *waiter_thread(void *arg)
{
    run_wait(arg);
    return NULL;
}

static void *releaser_thread(void *arg)
{
    struct ctx *c = arg;

    c->p->hold(c);
    atomic_store(&c->held, 1);
    CKT(poll_until(flag_set, &c->go));
    do_release(c);
    return NULL;
}

static conc_task_t *spawn_waiter(struct ctx *c, int64_t timeout)
{
    conc_task_t *t = NULL;

    c->timeout = timeout;
    c->wait_rc = 1;
    CK(0, conc_task_spawn(conc_loop_current(), NULL, waiter_task, c, &t));
    return t;
}

static int64_t task_forever(const struct prim *p)
{
    return p->positive ? long_timeout : CONC_FOREVER;
}

/* A waiter task blocks, the main task releases it. */
static void task_to_task(struct ctx *c)
{
    c->p->hold(c);
    conc_task_t *w = spawn_waiter(c, task_forever(c->p));
    CKT(poll_until(task_blocked, w));
    do_release(c);
    join_within(w);
    CK(0, c->wait_rc);
}

/* A waiter task blocks, a thread releases it. */
static void thread_releases_task(struct ctx *c)
{
    conc_thread_t rt;

    CK(0, conc_thread_create(&rt, NULL, releaser_thread, c));
    CKT(poll_until(flag_set, &c->held));
    conc_task_t *w = spawn_waiter(c, task_forever(c->p));
    CKT(poll_until(task_blocked, w));
    atomic_store(&c->go, 1);
    join_within(w);
    CK(0, c->wait_rc);
    CK(0, conc_thread_join(&rt, NULL, CONC_SEC(10)));
}

/* A waiter thread blocks, the main task releases it. */
static void task_releases_thread(struct ctx *c)
{
    conc_thread_t wt;

    c->p->hold(c);
    long base = atomic_load(&conc__parked_forever);
    c->timeout = CONC_FOREVER;
    c->wait_rc = 1;
    CK(0, conc_thread_create(&wt, NULL, waiter_thread, c));
    CKT(wait_parked(base, 1));
    do_release(c);
    CK(0, conc_thread_join(&wt, NULL, CONC_SEC(10)));
    CK(0, c->wait_rc);
}

/* After a failed wait: the primitive is as before, and serves the next waiter. */
static void check_consistent(struct ctx *c)
{
    c->p->check_failed(c);
    atomic_store(&c->released, 0);
    conc_task_t *w = spawn_waiter(c, task_forever(c->p));
    CKT(poll_until(task_blocked, w));
    do_release(c);
    join_within(w);
    CK(0, c->wait_rc);
}

static void timeout_in_task(struct ctx *c)
{
    c->p->hold(c);
    conc_task_t *w = spawn_waiter(c, CONC_MS(TIMEOUT_MS));
    join_within(w);
    CK(CONC_ETIMEDOUT, c->wait_rc);
    CKT(c->elapsed >= CONC_MS(TIMEOUT_MS)); /* never early */
    check_consistent(c);
}

static void cancel_in_task(struct ctx *c)
{
    c->p->hold(c);
    conc_task_t *w = spawn_waiter(c, task_forever(c->p));
    CKT(poll_until(task_blocked, w));
    CK(0, conc_task_cancel(w));
    join_within(w);
    CK(CONC_ECANCELED, c->wait_rc);
    check_consistent(c);
}

static void nowait_in_task(struct ctx *c)
{
    c->p->hold(c);
    conc_task_t *w = spawn_waiter(c, CONC_NOWAIT);
    join_within(w);
    CK(c->p->nowait_rc, c->wait_rc);
    check_consistent(c);
}

/* The waiter is cancelled, and released before it could run again: its
 * wait either completed (0) and the request waits for its next block, or it
 * is CONC_ECANCELED and had no effect: the release is there for the next. */
static void cancel_racing_release(struct ctx *c)
{
    c->p->hold(c);
    conc_task_t *w = spawn_waiter(c, task_forever(c->p));
    CKT(poll_until(task_blocked, w));
    CK(0, conc_task_cancel(w));
    do_release(c);
    join_within(w);
    if (c->wait_rc == 0) {
        CK(1, c->pending_after); /* once per request: not swallowed */
        CK(CONC_ECANCELED, c->next_block_rc);
        return;
    }
    CK(CONC_ECANCELED, c->wait_rc);
    CK(0, c->pending_after);
    w = spawn_waiter(c, CONC_SEC(10));
    join_within(w);
    CK(0, c->wait_rc);
}

/* Destroying a primitive a task is blocked on is CONC_EBUSY and changes
 * nothing: the task is released as usual afterwards. */
static void destroy_while_task_blocked(struct ctx *c)
{
    c->p->hold(c);
    conc_task_t *w = spawn_waiter(c, task_forever(c->p));
    CKT(poll_until(task_blocked, w));
    CK(CONC_EBUSY, c->destroy(c));
    CK(CONC_TASK_BLOCKED, conc_task_state(w));
    do_release(c);
    join_within(w);
    CK(0, c->wait_rc);
}

static int scenario_main(void *arg, void **result)
{
    struct ctx *c = arg;

    (void)result;
    c->p->setup(c);
    switch (c->scenario) {
    case TASK_TASK:
        task_to_task(c);
        break;
    case TASK_THREAD:
        thread_releases_task(c);
        break;
    case THREAD_TASK:
        task_releases_thread(c);
        break;
    case TIMEOUT:
        timeout_in_task(c);
        break;
    case CANCEL:
        cancel_in_task(c);
        break;
    case NOWAIT:
        nowait_in_task(c);
        break;
    case CANCEL_RACE:
        cancel_racing_release(c);
        break;
    case DESTROY_BUSY:
        destroy_while_task_blocked(c);
        break;
    }
    c->p->teardown(c);
    return 0;
}

static void run_scenario(const struct prim *p, enum scenario s)
{
    memset(&C, 0, sizeof C);
    C.p = p;
    C.scenario = s;
    run_main(scenario_main, &C);
}

#define SCENARIOS(name, prim)                                                       \
    static void name##_task_waits_task_releases(void **state)                       \
    {                                                                               \
        (void)state;                                                                \
        run_scenario(&prim, TASK_TASK);                                             \
    }                                                                               \
    static void name##_task_waits_thread_releases(void **state)                     \
    {                                                                               \
        (void)state;                                                                \
        run_scenario(&prim, TASK_THREAD);                                           \
    }                                                                               \
    static void name##_thread_waits_task_releases(void **state)                     \
    {                                                                               \
        (void)state;                                                                \
        run_scenario(&prim, THREAD_TASK);                                           \
    }                                                                               \
    static void name##_times_out_in_task_never_early_and_changes_nothing(void **s)  \
    {                                                                               \
        (void)s;                                                                    \
        run_scenario(&prim, TIMEOUT);                                               \
    }                                                                               \
    static void name##_cancelled_in_task_is_ecanceled_and_changes_nothing(void **s) \
    {                                                                               \
        (void)s;                                                                    \
        run_scenario(&prim, CANCEL);                                                \
    }                                                                               \
    static void name##_nowait_in_task_fails_at_once_and_changes_nothing(void **s)   \
    {                                                                               \
        (void)s;                                                                    \
        run_scenario(&prim, NOWAIT);                                                \
    }                                                                               \
    static void name##_cancel_racing_its_release_is_never_lost(void **s)            \
    {                                                                               \
        (void)s;                                                                    \
        run_scenario(&prim, CANCEL_RACE);                                           \
    }

SCENARIOS(mutex_lock, p_mutex)
SCENARIOS(mutex_timedlock, p_mutex_timed)
SCENARIOS(rmutex_lock, p_rmutex)
SCENARIOS(cond_wait, p_cond)
SCENARIOS(cond_wait_for, p_cond_for)
SCENARIOS(sem_acquire, p_sem)
SCENARIOS(event_wait, p_event)
SCENARIOS(flags_wait, p_flags)
SCENARIOS(barrier_wait, p_barrier)
SCENARIOS(queue_get, p_qget)
SCENARIOS(queue_put, p_qput)
SCENARIOS(queue_join, p_qjoin)
SCENARIOS(future_result, p_future)
SCENARIOS(thread_join, p_tjoin)

#define SCENARIO_TESTS(name)                                                              \
    cmocka_unit_test_setup(name##_task_waits_task_releases, reset_failures),              \
        cmocka_unit_test_setup(name##_task_waits_thread_releases, reset_failures),        \
        cmocka_unit_test_setup(name##_thread_waits_task_releases, reset_failures),        \
        cmocka_unit_test_setup(name##_times_out_in_task_never_early_and_changes_nothing,  \
                               reset_failures),                                           \
        cmocka_unit_test_setup(name##_cancelled_in_task_is_ecanceled_and_changes_nothing, \
                               reset_failures),                                           \
        cmocka_unit_test_setup(name##_nowait_in_task_fails_at_once_and_changes_nothing,   \
                               reset_failures),                                           \
        cmocka_unit_test_setup(name##_cancel_racing_its_release_is_never_lost, reset_failures)

/* ---- barrier: a cancelled party breaks it for the others ---------------- */

static conc_barrier_t bb;
static int party_rc[3];

static int party_task(void *arg, void **result)
{
    (void)result;
    *(int *)arg = conc_barrier_wait(&bb, CONC_FOREVER);
    return 0;
}

static void *party_thread(void *arg)
{
    *(int *)arg = conc_barrier_wait(&bb, CONC_FOREVER);
    return NULL;
}

static bool three_waiting(void *arg)
{
    (void)arg;
    return conc_barrier_n_waiting(&bb) == 3;
}

static int barrier_cancel_main(void *arg, void **result)
{
    conc_task_t *t[2];
    conc_thread_t th;

    (void)arg;
    (void)result;
    CK(0, conc_barrier_init(&bb, 4, NULL, NULL));
    for (int i = 0; i < 2; i++) {
        party_rc[i] = 1;
        CK(0, conc_task_spawn(conc_loop_current(), NULL, party_task, &party_rc[i], &t[i]));
    }
    party_rc[2] = 1;
    CK(0, conc_thread_create(&th, NULL, party_thread, &party_rc[2]));
    CKT(poll_until(three_waiting, NULL));
    CK(0, conc_task_cancel(t[0]));
    join_within(t[0]);
    join_within(t[1]);
    CK(0, conc_thread_join(&th, NULL, CONC_SEC(10)));
    CK(CONC_ECANCELED, party_rc[0]);
    CK(CONC_EBROKEN, party_rc[1]);
    CK(CONC_EBROKEN, party_rc[2]);
    CKT(conc_barrier_broken(&bb));
    CK(CONC_EBROKEN, conc_barrier_wait(&bb, CONC_FOREVER));
    CK(0, conc_barrier_reset(&bb));
    CK(0, conc_barrier_n_waiting(&bb));
    CK(0, conc_barrier_destroy(&bb));
    return 0;
}

static void barrier_cancelled_task_breaks_it_for_waiting_tasks_and_threads(void **state)
{
    (void)state;
    run_main(barrier_cancel_main, NULL);
}

/* ---- a task holds a mutex across a suspension --------------------------- */

struct across {
    conc_mutex_t m;
    _Atomic int owner_unlocked;
    int other_ran; /* a third task ran while the mutex was held */
    int waiter_rc;
};

static int holder_task(void *arg, void **result)
{
    struct across *a = arg;

    (void)result;
    CK(0, conc_mutex_lock(&a->m));
    CK(0, conc_task_sleep(CONC_MS(30)));
    CKT(conc_mutex_owned_by_me(&a->m)); /* the task owns it, across the sleep */
    atomic_store(&a->owner_unlocked, 1);
    CK(0, conc_mutex_unlock(&a->m));
    return 0;
}

static int contender_task(void *arg, void **result)
{
    struct across *a = arg;

    (void)result;
    CKT(conc_mutex_locked(&a->m));
    CKT(!conc_mutex_owned_by_me(&a->m));
    CK(CONC_EBUSY, conc_mutex_trylock(&a->m));
    a->waiter_rc = conc_mutex_lock(&a->m);
    CK(1, atomic_load(&a->owner_unlocked));
    CKT(conc_mutex_owned_by_me(&a->m));
    CK(0, conc_mutex_unlock(&a->m));
    return 0;
}

static int bystander_task(void *arg, void **result)
{
    struct across *a = arg;

    (void)result;
    for (int i = 0; i < 5; i++) {
        CK(0, conc_task_sleep(CONC_MS(1)));
        if (!atomic_load(&a->owner_unlocked))
            a->other_ran++;
    }
    return 0;
}

static int across_main(void *arg, void **result)
{
    struct across *a = arg;
    conc_task_t *t[3];

    (void)result;
    CK(0, conc_mutex_init(&a->m));
    CK(0, conc_task_spawn(conc_loop_current(), NULL, holder_task, a, &t[0]));
    CK(0, conc_task_yield()); /* the holder locks and sleeps */
    CK(0, conc_task_spawn(conc_loop_current(), NULL, contender_task, a, &t[1]));
    CK(0, conc_task_spawn(conc_loop_current(), NULL, bystander_task, a, &t[2]));
    CK(0, conc_gather(t, 3, NULL, NULL, 0));
    for (int i = 0; i < 3; i++)
        CK(0, conc_task_join(t[i], NULL, CONC_FOREVER));
    CK(0, a->waiter_rc);
    CKT(a->other_ran > 0); /* the loop ran on while both were suspended */
    CKT(!conc_mutex_locked(&a->m));
    CK(0, conc_mutex_destroy(&a->m));
    return 0;
}

static void mutex_held_across_task_sleep_is_handed_to_a_task_of_the_same_loop(void **state)
{
    struct across a;

    (void)state;
    memset(&a, 0, sizeof a);
    run_main(across_main, &a);
}

/* ---- a mutex contended by threads and by tasks on two loops ------------- */

enum { LOOPS = 2, TASKS_PER_LOOP = 4, PLAIN_THREADS = 2, ROUNDS = 10000 };

static conc_mutex_t shared_m;
static long shared_count;

static void bump_rounds(bool in_task)
{
    for (int i = 0; i < ROUNDS; i++) {
        CK(0, conc_mutex_lock(&shared_m));
        shared_count++;
        /* Now and then suspend while holding it: the other tasks of this
         * loop block on the mutex, not on the loop's thread. */
        if (in_task && i % 256 == 0)
            CK(0, conc_task_yield());
        CK(0, conc_mutex_unlock(&shared_m));
    }
}

static int bump_task(void *arg, void **result)
{
    (void)arg;
    (void)result;
    bump_rounds(true);
    return 0;
}

static int loop_main(void *arg, void **result)
{
    conc_task_t *t[TASKS_PER_LOOP];

    (void)arg;
    (void)result;
    for (int i = 0; i < TASKS_PER_LOOP; i++)
        CK(0, conc_task_spawn(conc_loop_current(), NULL, bump_task, NULL, &t[i]));
    CK(0, conc_gather(t, TASKS_PER_LOOP, NULL, NULL, 0));
    for (int i = 0; i < TASKS_PER_LOOP; i++)
        CK(0, conc_task_join(t[i], NULL, CONC_FOREVER));
    return 0;
}

static void *loop_thread(void *arg)
{
    (void)arg;
    CK(0, conc_run(loop_main, NULL, NULL));
    return NULL;
}

static void *bump_thread(void *arg)
{
    (void)arg;
    bump_rounds(false);
    return NULL;
}

static void mutex_contended_by_threads_and_tasks_of_two_loops_counts_exactly(void **state)
{
    conc_thread_t th[LOOPS + PLAIN_THREADS];

    (void)state;
    assert_rc(0, conc_mutex_init(&shared_m));
    shared_count = 0;
    for (int i = 0; i < LOOPS; i++)
        assert_rc(0, conc_thread_create(&th[i], NULL, loop_thread, NULL));
    for (int i = 0; i < PLAIN_THREADS; i++)
        assert_rc(0, conc_thread_create(&th[LOOPS + i], NULL, bump_thread, NULL));
    for (int i = 0; i < LOOPS + PLAIN_THREADS; i++)
        assert_rc(0, conc_thread_join(&th[i], NULL, CONC_FOREVER));
    assert_no_failures();
    assert_int_equal((long)(LOOPS * TASKS_PER_LOOP + PLAIN_THREADS) * ROUNDS, shared_count);
    assert_false(conc_mutex_locked(&shared_m));
    assert_rc(0, conc_mutex_destroy(&shared_m));
}

/* ---- an event set by a task wakes four threads -------------------------- */

enum { EVENT_THREADS = 4 };

static conc_event_t ev4;
static _Atomic int ev4_set;

static void *ev4_waiter(void *arg)
{
    *(int *)arg = conc_event_wait(&ev4, CONC_FOREVER);
    if (*(int *)arg == 0)
        CK(1, atomic_load(&ev4_set));
    return NULL;
}

static int ev4_main(void *arg, void **result)
{
    conc_thread_t th[EVENT_THREADS];
    int *rc = arg;

    (void)result;
    CK(0, conc_event_init(&ev4));
    long base = atomic_load(&conc__parked_forever);
    for (int i = 0; i < EVENT_THREADS; i++) {
        rc[i] = 1;
        CK(0, conc_thread_create(&th[i], NULL, ev4_waiter, &rc[i]));
    }
    CKT(wait_parked(base, EVENT_THREADS));
    atomic_store(&ev4_set, 1);
    CK(0, conc_event_set(&ev4));
    for (int i = 0; i < EVENT_THREADS; i++) {
        CK(0, conc_thread_join(&th[i], NULL, CONC_SEC(10)));
        CK(0, rc[i]);
    }
    CK(0, conc_event_destroy(&ev4));
    return 0;
}

static void event_set_by_a_task_wakes_four_waiting_threads(void **state)
{
    int rc[EVENT_THREADS];

    (void)state;
    atomic_store(&ev4_set, 0);
    run_main(ev4_main, rc);
}

/* ---- conc_sleep in tasks and threads ------------------------------------ */

struct sleepers {
    int64_t long_end, short_end, long_elapsed;
    int long_rc;
};

static int long_sleeper(void *arg, void **result)
{
    struct sleepers *s = arg;
    int64_t t0 = conc_now_ns();

    (void)result;
    s->long_rc = conc_sleep(CONC_MS(200));
    s->long_end = conc_now_ns();
    s->long_elapsed = s->long_end - t0;
    return 0;
}

static int short_sleeper(void *arg, void **result)
{
    struct sleepers *s = arg;

    (void)result;
    for (int i = 0; i < 5; i++)
        CK(0, conc_sleep(CONC_MS(2)));
    s->short_end = conc_now_ns();
    return 0;
}

static int sleepers_main(void *arg, void **result)
{
    struct sleepers *s = arg;
    conc_task_t *t[2];

    (void)result;
    CK(0, conc_task_spawn(conc_loop_current(), NULL, long_sleeper, s, &t[0]));
    CK(0, conc_task_spawn(conc_loop_current(), NULL, short_sleeper, s, &t[1]));
    CK(0, conc_gather(t, 2, NULL, NULL, 0));
    for (int i = 0; i < 2; i++)
        CK(0, conc_task_join(t[i], NULL, CONC_FOREVER));
    CK(0, s->long_rc);
    CKT(s->long_elapsed >= CONC_MS(200));
    CKT(s->short_end < s->long_end); /* the loop ran on during the long sleep */
    return 0;
}

static void sleep_in_a_task_suspends_only_that_task(void **state)
{
    struct sleepers s;

    (void)state;
    memset(&s, 0, sizeof s);
    run_main(sleepers_main, &s);
}

static void *thread_sleeper(void *arg)
{
    int64_t t0 = conc_now_ns();

    CK(0, conc_sleep(CONC_MS(100)));
    *(int64_t *)arg = conc_now_ns() - t0;
    return NULL;
}

static int sleep_beside_thread_main(void *arg, void **result)
{
    int64_t *thread_elapsed = arg;
    conc_thread_t th;
    int64_t t0 = conc_now_ns();

    (void)result;
    CK(0, conc_thread_create(&th, NULL, thread_sleeper, thread_elapsed));
    CK(0, conc_sleep(CONC_MS(50)));
    CKT(conc_now_ns() - t0 >= CONC_MS(50));
    CK(0, conc_sleep_until(conc_now_ns() + CONC_MS(20)));
    CKT(conc_now_ns() - t0 >= CONC_MS(70));
    CK(0, conc_thread_join(&th, NULL, CONC_SEC(10)));
    return 0;
}

static void sleep_in_a_task_and_in_a_thread_are_never_early(void **state)
{
    int64_t thread_elapsed = 0;

    (void)state;
    run_main(sleep_beside_thread_main, &thread_elapsed);
    assert_true(thread_elapsed >= CONC_MS(100));
}

static int zero_sleeps_main(void *arg, void **result)
{
    int64_t t0 = conc_now_ns();

    (void)arg;
    (void)result;
    CK(0, conc_sleep(0));
    CK(0, conc_sleep(-1));
    CK(0, conc_sleep(CONC_FOREVER)); /* not "forever" for a sleep */
    CK(0, conc_sleep_until(0));
    CK(0, conc_sleep_until(conc_now_ns() - CONC_MS(5)));
    CKT(conc_now_ns() - t0 < CONC_SEC(5));
    return 0;
}

static void zero_negative_and_past_sleeps_in_a_task_return_at_once(void **state)
{
    (void)state;
    run_main(zero_sleeps_main, NULL);
}

struct cancelled_sleep {
    int rc, rc_until, rc_after;
    int64_t elapsed;
};

static int sleep_long(void *arg, void **result)
{
    struct cancelled_sleep *s = arg;
    int64_t t0 = conc_now_ns();

    (void)result;
    s->rc = conc_sleep(CONC_SEC(30));
    s->elapsed = conc_now_ns() - t0;
    /* One request, one ECANCELED: the next sleep is whole again. */
    s->rc_after = conc_sleep(CONC_MS(1));
    return 0;
}

static int sleep_until_long(void *arg, void **result)
{
    struct cancelled_sleep *s = arg;

    (void)result;
    s->rc_until = conc_sleep_until(conc_now_ns() + CONC_SEC(30));
    return 0;
}

static int cancel_sleep_main(void *arg, void **result)
{
    struct cancelled_sleep *s = arg;
    conc_task_t *t[2];

    (void)result;
    CK(0, conc_task_spawn(conc_loop_current(), NULL, sleep_long, s, &t[0]));
    CK(0, conc_task_spawn(conc_loop_current(), NULL, sleep_until_long, s, &t[1]));
    CKT(poll_until(task_blocked, t[0]));
    CKT(poll_until(task_blocked, t[1]));
    CK(0, conc_task_cancel(t[0]));
    CK(0, conc_task_cancel(t[1]));
    join_within(t[0]);
    join_within(t[1]);
    return 0;
}

static void sleep_in_a_cancelled_task_returns_ecanceled_at_once(void **state)
{
    struct cancelled_sleep s = { 1, 1, 1, 0 };

    (void)state;
    run_main(cancel_sleep_main, &s);
    /* conc/time.h: CONC_ECANCELED "(in a task only) the task was cancelled
     * while it slept". */
    assert_rc(CONC_ECANCELED, s.rc);
    assert_rc(CONC_ECANCELED, s.rc_until);
    assert_rc(0, s.rc_after);
    assert_true(s.elapsed < CONC_SEC(10));
}

/* ---- destroy while a task waits ----------------------------------------- */

static int destroy_mutex(struct ctx *c)
{
    return conc_mutex_destroy(&c->m);
}
static int destroy_rmutex(struct ctx *c)
{
    return conc_rmutex_destroy(&c->r);
}
static int destroy_cond(struct ctx *c)
{
    return conc_cond_destroy(&c->cv);
}
static int destroy_sem(struct ctx *c)
{
    return conc_sem_destroy(&c->s);
}
static int destroy_event(struct ctx *c)
{
    return conc_event_destroy(&c->e);
}
static int destroy_flags(struct ctx *c)
{
    return conc_flags_destroy(&c->f);
}
static int destroy_barrier(struct ctx *c)
{
    return conc_barrier_destroy(&c->b);
}
static int destroy_queue(struct ctx *c)
{
    return conc_queue_destroy(&c->q);
}
static int destroy_future(struct ctx *c)
{
    return conc_future_destroy(&c->fut);
}

static const struct {
    const struct prim *p;
    int (*destroy)(struct ctx *c);
} busy[] = {
    { &p_mutex, destroy_mutex },     { &p_rmutex, destroy_rmutex }, { &p_cond, destroy_cond },
    { &p_sem, destroy_sem },         { &p_event, destroy_event },   { &p_flags, destroy_flags },
    { &p_barrier, destroy_barrier }, { &p_qget, destroy_queue },    { &p_qput, destroy_queue },
    { &p_qjoin, destroy_queue },     { &p_future, destroy_future },
};

static void destroy_with_a_task_blocked_is_ebusy_and_changes_nothing(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof busy / sizeof busy[0]; i++) {
        memset(&C, 0, sizeof C);
        C.p = busy[i].p;
        C.scenario = DESTROY_BUSY;
        C.destroy = busy[i].destroy;
        run_main(scenario_main, &C);
    }
}

/* ---- the owner of a mutex is the task, not the loop's thread ------------ */

struct owner {
    conc_mutex_t m;
    conc_rmutex_t r;
    conc_event_t go;
    int relock_rc, timed_rc, nowait_rc, rrelock_rc;
};

static int owner_task(void *arg, void **result)
{
    struct owner *o = arg;

    (void)result;
    CK(0, conc_mutex_lock(&o->m));
    CK(0, conc_rmutex_lock(&o->r));
    o->relock_rc = conc_mutex_lock(&o->m);
    o->timed_rc = conc_mutex_timedlock(&o->m, CONC_MS(10));
    o->nowait_rc = conc_mutex_timedlock(&o->m, CONC_NOWAIT);
    o->rrelock_rc = conc_rmutex_lock(&o->r);
    CK(2, conc_rmutex_depth(&o->r));
    CK(0, conc_event_wait(&o->go, CONC_FOREVER)); /* suspended, still the owner */
    CK(0, conc_rmutex_unlock(&o->r));
    CK(0, conc_rmutex_unlock(&o->r));
    CK(0, conc_mutex_unlock(&o->m));
    return 0;
}

static int owner_main(void *arg, void **result)
{
    struct owner *o = arg;
    conc_task_t *t;

    (void)result;
    CK(0, conc_mutex_init(&o->m));
    CK(0, conc_rmutex_init(&o->r));
    CK(0, conc_event_init(&o->go));
    CK(0, conc_task_spawn(conc_loop_current(), NULL, owner_task, o, &t));
    CKT(poll_until(task_blocked, t));
    /* Another task of the same thread owns nothing. */
    CKT(conc_mutex_locked(&o->m));
    CKT(!conc_mutex_owned_by_me(&o->m));
    CK(CONC_EBUSY, conc_mutex_trylock(&o->m));
    CK(CONC_EPERM, conc_mutex_unlock(&o->m));
    CKT(!conc_rmutex_owned_by_me(&o->r));
    CK(0, conc_rmutex_depth(&o->r));
    CK(CONC_EBUSY, conc_rmutex_trylock(&o->r));
    CK(CONC_EPERM, conc_rmutex_unlock(&o->r));
    CK(CONC_EBUSY, conc_mutex_destroy(&o->m));
    CK(0, conc_event_set(&o->go));
    join_within(t);
    CK(CONC_EDEADLK, o->relock_rc);
    CK(CONC_EDEADLK, o->timed_rc);
    CK(CONC_EBUSY, o->nowait_rc);
    CK(0, o->rrelock_rc);
    CKT(!conc_mutex_locked(&o->m));
    CKT(!conc_rmutex_locked(&o->r));
    CK(0, conc_mutex_destroy(&o->m));
    CK(0, conc_rmutex_destroy(&o->r));
    CK(0, conc_event_destroy(&o->go));
    return 0;
}

static void mutex_owner_is_the_task_not_the_thread_of_its_loop(void **state)
{
    struct owner o;

    (void)state;
    memset(&o, 0, sizeof o);
    run_main(owner_main, &o);
}

/* ---- wake-ups that are not releases, from a thread ---------------------- */

struct closing {
    conc_queue_t empty, full;
    conc_barrier_t b;
    conc_future_t fut;
    int get_rc, put_rc, party_rc[2], result_rc, after_rc, pending;
};

static int closing_get(void *arg, void **result)
{
    struct closing *k = arg;
    int v = -1;

    (void)result;
    k->get_rc = conc_queue_get(&k->empty, &v, CONC_FOREVER);
    CK(-1, v);
    return 0;
}

static int closing_put(void *arg, void **result)
{
    struct closing *k = arg;
    int v = 2;

    (void)result;
    k->put_rc = conc_queue_put(&k->full, &v, CONC_FOREVER);
    return 0;
}

static struct closing K;

static int closing_party_k(void *arg, void **result)
{
    (void)result;
    *(int *)arg = conc_barrier_wait(&K.b, CONC_FOREVER);
    return 0;
}

static int closing_result(void *arg, void **result)
{
    struct closing *k = arg;
    void *v = &result_token;

    (void)result;
    k->result_rc = conc_future_result(&k->fut, &v, CONC_FOREVER);
    CKT(v == &result_token); /* untouched on error */
    /* The future's cancellation is not the task's: nothing pending. */
    k->pending = conc_task_cancelling(conc_task_current());
    k->after_rc = conc_task_sleep(CONC_MS(1));
    return 0;
}

static void *closer_thread(void *arg)
{
    struct closing *k = arg;

    CK(0, conc_queue_shutdown(&k->empty, false));
    CK(0, conc_queue_shutdown(&k->full, false));
    CK(0, conc_barrier_abort(&k->b));
    CK(0, conc_future_cancel(&k->fut));
    return NULL;
}

static int closing_main(void *arg, void **result)
{
    struct closing *k = arg;
    conc_loop_t *loop = conc_loop_current();
    conc_task_t *t[5];
    conc_thread_t th;
    int v = 1;

    (void)result;
    CK(0, conc_queue_init(&k->empty, sizeof(int), 1, NULL));
    CK(0, conc_queue_init(&k->full, sizeof(int), 1, NULL));
    CK(0, conc_queue_put(&k->full, &v, CONC_NOWAIT));
    CK(0, conc_barrier_init(&k->b, 3, NULL, NULL));
    CK(0, conc_future_init(&k->fut));
    CK(0, conc_task_spawn(loop, NULL, closing_get, k, &t[0]));
    CK(0, conc_task_spawn(loop, NULL, closing_put, k, &t[1]));
    CK(0, conc_task_spawn(loop, NULL, closing_party_k, &k->party_rc[0], &t[2]));
    CK(0, conc_task_spawn(loop, NULL, closing_party_k, &k->party_rc[1], &t[3]));
    CK(0, conc_task_spawn(loop, NULL, closing_result, k, &t[4]));
    for (int i = 0; i < 5; i++)
        CKT(poll_until(task_blocked, t[i]));
    CK(0, conc_thread_create(&th, NULL, closer_thread, k));
    for (int i = 0; i < 5; i++)
        join_within(t[i]);
    CK(0, conc_thread_join(&th, NULL, CONC_SEC(10)));
    CK(CONC_ECLOSED, k->get_rc);
    CK(CONC_ECLOSED, k->put_rc);
    CK(CONC_EBROKEN, k->party_rc[0]);
    CK(CONC_EBROKEN, k->party_rc[1]);
    CK(CONC_ECANCELED, k->result_rc);
    CK(0, k->pending);
    CK(0, k->after_rc);
    CKT(conc_future_cancelled(&k->fut));
    /* A normal shutdown keeps what was in the queue for the getters. */
    v = -1;
    CK(0, conc_queue_get(&k->full, &v, CONC_FOREVER));
    CK(1, v);
    CK(CONC_ECLOSED, conc_queue_get(&k->full, &v, CONC_FOREVER));
    CK(CONC_ECLOSED, conc_queue_put(&k->empty, &v, CONC_FOREVER));
    CK(CONC_EBROKEN, conc_barrier_wait(&k->b, CONC_FOREVER));
    CK(0, conc_queue_destroy(&k->empty));
    CK(0, conc_queue_destroy(&k->full));
    CK(0, conc_barrier_destroy(&k->b));
    CK(0, conc_future_destroy(&k->fut));
    return 0;
}

static void shutdown_abort_and_future_cancel_from_a_thread_wake_blocked_tasks(void **state)
{
    (void)state;
    memset(&K, 0, sizeof K);
    run_main(closing_main, &K);
}

/* ---- bad and destroyed objects, from a task ----------------------------- */

static int bad_calls_main(void *arg, void **result)
{
    conc_sem_t s;
    conc_event_t e;
    conc_queue_t q;
    conc_mutex_t m;
    int v = 0;
    void *out = NULL;

    (void)arg;
    (void)result;
    CK(CONC_EINVAL, conc_mutex_lock(NULL));
    CK(CONC_EINVAL, conc_mutex_timedlock(NULL, CONC_MS(1)));
    CK(CONC_EINVAL, conc_rmutex_lock(NULL));
    CK(CONC_EINVAL, conc_cond_wait(NULL, NULL, CONC_MS(1)));
    CK(CONC_EINVAL, conc_sem_acquire(NULL, CONC_FOREVER));
    CK(CONC_EINVAL, conc_event_wait(NULL, CONC_FOREVER));
    CK(CONC_EINVAL, conc_flags_wait(NULL, 1, CONC_FLAGS_ANY, NULL, CONC_FOREVER));
    CK(CONC_EINVAL, conc_barrier_wait(NULL, CONC_FOREVER));
    CK(CONC_EINVAL, conc_queue_get(NULL, &v, CONC_FOREVER));
    CK(CONC_EINVAL, conc_queue_put(NULL, &v, CONC_FOREVER));
    CK(CONC_EINVAL, conc_queue_join(NULL, CONC_FOREVER));
    CK(CONC_EINVAL, conc_future_result(NULL, &out, CONC_FOREVER));
    CK(CONC_EINVAL, conc_thread_join(NULL, NULL, CONC_FOREVER));

    /* Destroyed objects: an error at once, never a block. */
    CK(0, conc_sem_init(&s, 0));
    CK(0, conc_sem_destroy(&s));
    CK(CONC_EINVAL, conc_sem_acquire(&s, CONC_FOREVER));
    CK(0, conc_event_init(&e));
    CK(0, conc_event_destroy(&e));
    CK(CONC_EINVAL, conc_event_wait(&e, CONC_FOREVER));
    CK(0, conc_queue_init(&q, sizeof v, 1, NULL));
    CK(0, conc_queue_destroy(&q));
    CK(CONC_EINVAL, conc_queue_get(&q, &v, CONC_FOREVER));
    CK(0, conc_mutex_init(&m));
    CK(0, conc_mutex_destroy(&m));
    CK(CONC_EINVAL, conc_mutex_lock(&m));
    /* A thread that was never created cannot be joined. */
    conc_thread_t none = CONC_THREAD_INIT;
    CK(CONC_EINVAL, conc_thread_join(&none, NULL, CONC_FOREVER));
    return 0;
}

static void bad_and_destroyed_objects_fail_at_once_in_a_task(void **state)
{
    (void)state;
    run_main(bad_calls_main, NULL);
}

/* A task spins on a ring before it sleeps only when the spin delays nobody
 * and can succeed: no other task of its loop is ready, no cancel request is
 * pending, and another thread uses the ring (core/queue_ring.c). */
static conc_queue_t spin_q;

static void *put_from_a_thread(void *arg)
{
    int item = 1;

    (void)arg;
    CKT(conc_queue_put(&spin_q, &item, CONC_NOWAIT) == 0);
    return NULL;
}

static int ready_neighbour(void *arg, void **result)
{
    (void)arg;
    (void)result;
    return 0;
}

static int spin_limit_task(void *arg, void **result)
{
    bool multi = !conc__single_cpu();
    conc__os_thread_t th;
    conc_task_t *other;
    int item;

    (void)arg;
    (void)result;
    CK(0, conc_queue_init(&spin_q, sizeof item, 8, NULL));
    CK(0, conc_queue_put(&spin_q, &(int){ 0 }, CONC_NOWAIT));
    CK(0, conc_queue_get(&spin_q, &item, CONC_NOWAIT));
    CKT(conc__ring_spin_limit(&spin_q) == 0); /* only this loop's thread uses it */
    CK(0, conc__os_thread_start(&th, put_from_a_thread, NULL, 0, false));
    CK(0, conc__os_thread_join(th, NULL));
    CKT((conc__ring_spin_limit(&spin_q) > 0) == multi); /* shared, and alone */
    CK(0, conc_task_spawn(conc_loop_current(), NULL, ready_neighbour, NULL, &other));
    CKT(conc__ring_spin_limit(&spin_q) == 0); /* another task is ready */
    CK(0, conc_task_join(other, NULL, CONC_FOREVER));
    CKT((conc__ring_spin_limit(&spin_q) > 0) == multi);
    CK(0, conc_task_cancel(conc_task_current()));
    CKT(conc__ring_spin_limit(&spin_q) == 0); /* a cancel request is pending */
    CK(CONC_ECANCELED, conc_task_yield());
    CKT((conc__ring_spin_limit(&spin_q) > 0) == multi);
    CK(0, conc_queue_get(&spin_q, &item, CONC_NOWAIT));
    CK(0, conc_queue_destroy(&spin_q));
    return 0;
}

static void task_spins_on_a_ring_only_alone_and_when_another_thread_uses_it(void **state)
{
    (void)state;
    run_main(spin_limit_task, NULL);
    assert_no_failures();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        SCENARIO_TESTS(mutex_lock),
        SCENARIO_TESTS(mutex_timedlock),
        SCENARIO_TESTS(rmutex_lock),
        SCENARIO_TESTS(cond_wait),
        SCENARIO_TESTS(cond_wait_for),
        SCENARIO_TESTS(sem_acquire),
        SCENARIO_TESTS(event_wait),
        SCENARIO_TESTS(flags_wait),
        SCENARIO_TESTS(barrier_wait),
        SCENARIO_TESTS(queue_get),
        SCENARIO_TESTS(queue_put),
        SCENARIO_TESTS(queue_join),
        SCENARIO_TESTS(future_result),
        SCENARIO_TESTS(thread_join),
        cmocka_unit_test_setup(destroy_with_a_task_blocked_is_ebusy_and_changes_nothing,
                               reset_failures),
        cmocka_unit_test_setup(mutex_owner_is_the_task_not_the_thread_of_its_loop, reset_failures),
        cmocka_unit_test_setup(shutdown_abort_and_future_cancel_from_a_thread_wake_blocked_tasks,
                               reset_failures),
        cmocka_unit_test_setup(bad_and_destroyed_objects_fail_at_once_in_a_task, reset_failures),
        cmocka_unit_test_setup(barrier_cancelled_task_breaks_it_for_waiting_tasks_and_threads,
                               reset_failures),
        cmocka_unit_test_setup(mutex_held_across_task_sleep_is_handed_to_a_task_of_the_same_loop,
                               reset_failures),
        cmocka_unit_test_setup(mutex_contended_by_threads_and_tasks_of_two_loops_counts_exactly,
                               reset_failures),
        cmocka_unit_test_setup(event_set_by_a_task_wakes_four_waiting_threads, reset_failures),
        cmocka_unit_test_setup(sleep_in_a_task_suspends_only_that_task, reset_failures),
        cmocka_unit_test_setup(sleep_in_a_task_and_in_a_thread_are_never_early, reset_failures),
        cmocka_unit_test_setup(zero_negative_and_past_sleeps_in_a_task_return_at_once,
                               reset_failures),
        cmocka_unit_test_setup(sleep_in_a_cancelled_task_returns_ecanceled_at_once, reset_failures),
        cmocka_unit_test_setup(task_spins_on_a_ring_only_alone_and_when_another_thread_uses_it,
                               reset_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
