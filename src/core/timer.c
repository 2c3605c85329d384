/*
 * Timers (conc/timer.h): one service thread drives every timer of the
 * process from one timer structure (timerheap.h).
 *
 * Everything below is protected by the service lock: the heap, the state
 * bits of every timer and the scheduled once-calls. Callbacks run without
 * it. The service thread sleeps on a wait queue until the earliest deadline;
 * starting an earlier timer wakes it. A timer's state:
 *
 *   pending   node queued in the heap (conc__tnode_queued)
 *   RUNNING   its callback is executing on the service thread
 *   FIRED     a one-shot whose callback completed since the last start
 *
 * A periodic timer is re-armed when it is popped, before its callback runs,
 * so a callback that cancels or restarts its own timer finds it pending and
 * its decision is final.
 */
#include <stdlib.h>

#include "activity.h"
#include "timerheap.h"
#include "waitq.h"

enum {
    RUNNING = 1u << 0,
    FIRED = 1u << 1,
    ONCE = 1u << 2,       /* owned by the library: a conc_timer_once() call */
    DESTROYING = 1u << 3, /* conc_timer_destroy() waits for the callback */
};

enum { STOPPED, STARTED, STOPPING };

/* A conc_timer_once() call. Records are recycled, never freed while the
 * service lives, so a stale handle can be checked by its id safely. */
struct once_rec {
    conc_timer_t timer;
    void (*fn)(void *arg);
    void *arg;
    uint64_t id; /* 0 while free */
    struct once_rec *next_free;
};

static struct service {
    conc__os_lock_t lock;
    int phase;
    conc__os_thread_t thread;
    conc__timerheap_t heap;
    conc__waitq_t sleeper;    /* the service thread, waiting for a deadline */
    int64_t sleep_until;      /* its deadline while it sleeps */
    conc__waitq_t destroyers; /* waiting for the running callback to end */
    conc_timer_t *running;
    bool running_gone; /* the running timer was destroyed by its callback */
    struct once_rec *free_recs;
    uint64_t next_id;  /* of once-calls; never reused */
    uint64_t first_id; /* the first id issued by the current service */
} svc = { .heap = CONC__TIMERHEAP_INIT, .next_id = 1, .first_id = 1 };

bool conc__timer_service_idle(void)
{
    conc__os_lock(&svc.lock);
    bool idle = conc__timerheap_count(&svc.heap) == 0 && !svc.running;
    conc__os_unlock(&svc.lock);
    return idle;
}

/* Serialises conc_timer_service_shutdown() calls. */
static conc__os_lock_t shutdown_lock;
static _Thread_local bool on_service_thread;

static conc_timer_t *timer_of(conc__tnode_t *n)
{
    return (conc_timer_t *)((char *)n - offsetof(conc_timer_t, node_));
}

static bool alive(const conc_timer_t *t)
{
    return t->magic_ == CONC__TIMER_MAGIC && !(t->flags_ & DESTROYING);
}

static int state_of(const conc_timer_t *t)
{
    int s = (t->flags_ & RUNNING) ? CONC_TIMER_RUNNING : 0;

    if (conc__tnode_queued(&t->node_))
        s |= CONC_TIMER_PENDING;
    if (!s && (t->flags_ & FIRED))
        s = CONC_TIMER_FIRED;
    return s;
}

static int64_t add_sat(int64_t a, int64_t b)
{
    return a > INT64_MAX - b ? INT64_MAX : a + b;
}

/* ---- the service thread ------------------------------------------------ */

static void recycle(struct once_rec *r)
{
    r->id = 0;
    r->next_free = svc.free_recs;
    svc.free_recs = r;
}

static void rearm_periodic(conc_timer_t *t, int64_t now)
{
    int64_t next = add_sat(t->node_.deadline_, t->period_);

    /* Keep the phase, skip whole missed periods instead of bursting. */
    if (next <= now)
        next = add_sat(next, ((now - next) / t->period_ + 1) * t->period_);
    /* Cannot fail: the node was just popped, so the array has room. */
    conc__timerheap_insert(&svc.heap, &t->node_, next);
}

static void after_callback(conc_timer_t *t)
{
    conc__wakelist_t wl = CONC__WAKELIST_INIT;

    svc.running = NULL;
    if (!svc.running_gone) {
        t->flags_ &= ~RUNNING;
        if (t->flags_ & ONCE)
            recycle((struct once_rec *)t);
        else if (!conc__tnode_queued(&t->node_))
            t->flags_ |= FIRED;
    }
    if (conc__waitq_empty(&svc.destroyers))
        return;
    conc__waitq_wake_n(&svc.destroyers, -1, 0, &wl);
    conc__os_unlock(&svc.lock);
    conc__wakelist_run(&wl);
    conc__os_lock(&svc.lock);
}

/* Called and returns with the lock held; runs the callback without it. */
static void fire(conc_timer_t *t, int64_t now)
{
    conc_timer_fn fn = t->fn_;
    void *arg = t->arg_;

    if (t->period_)
        rearm_periodic(t, now);
    t->flags_ = (t->flags_ | RUNNING) & ~FIRED;
    svc.running = t;
    svc.running_gone = false;
    conc__os_unlock(&svc.lock);
    fn(t, arg);
    conc__os_lock(&svc.lock);
    after_callback(t);
}

/* Sleep until the deadline or until an earlier timer is started. */
static void idle_until(int64_t deadline)
{
    conc__waiter_t w;

    conc__waiter_init(&w);
    conc__waitq_push(&svc.sleeper, &w);
    svc.sleep_until = deadline;
    w.what = "timer";
    conc__waiter_sleep(&w, &svc.sleeper, &svc.lock, deadline, false);
    conc__os_lock(&svc.lock);
}

static void *service_main(void *arg)
{
    (void)arg;
    conc__os_thread_set_name("conc-timer");
    conc__os_thread_precise_timers();
    on_service_thread = true;
    conc__os_lock(&svc.lock);
    while (svc.phase == STARTED) {
        int64_t now = conc_now_ns();
        conc__tnode_t *n = conc__timerheap_pop_expired(&svc.heap, now);

        if (n)
            fire(timer_of(n), now);
        else
            idle_until(conc__timerheap_next(&svc.heap));
    }
    conc__os_unlock(&svc.lock);
    return NULL;
}

/* ---- arming, under the lock -------------------------------------------- */

static int ensure_service(void)
{
    int rc;

    if (CONC_LIKELY(svc.phase == STARTED))
        return 0;
    if (svc.phase == STOPPING)
        return CONC_ECLOSED;
    rc = conc__os_thread_start(&svc.thread, service_main, NULL, 0, false);
    if (rc)
        return rc;
    svc.phase = STARTED;
    return 0;
}

/* Queue t at deadline; wake the service if t is now its earliest timer. */
static int arm(conc_timer_t *t, int64_t deadline, int64_t period, conc__wakelist_t *wl)
{
    int rc = ensure_service();

    if (!rc)
        rc = conc__timerheap_insert(&svc.heap, &t->node_, deadline);
    if (rc)
        return rc;
    t->period_ = period;
    t->flags_ &= ~FIRED;
    if (!conc__waitq_empty(&svc.sleeper) && conc__timerheap_first(&svc.heap) == &t->node_ &&
        (svc.sleep_until < 0 || deadline < svc.sleep_until))
        conc__waitq_wake(&svc.sleeper, conc__waitq_first(&svc.sleeper), 0, wl);
    return 0;
}

static void unlock_and_wake(conc__wakelist_t *wl)
{
    conc__os_unlock(&svc.lock);
    conc__wakelist_run(wl);
}

/* ---- public timers ------------------------------------------------------ */

int conc_timer_init(conc_timer_t *t, conc_timer_fn fn, void *arg)
{
    if (!t || !fn)
        return CONC_EINVAL;
    *t = (conc_timer_t)CONC_TIMER_INITIALIZER(fn, arg);
    return 0;
}

int conc_timer_start(conc_timer_t *t, int64_t delay_ns, int64_t period_ns)
{
    conc__wakelist_t wl = CONC__WAKELIST_INIT;
    int64_t deadline = conc__deadline(delay_ns);
    int rc;

    if (!t || delay_ns < 0 || period_ns < 0)
        return CONC_EINVAL;
    conc__os_lock(&svc.lock);
    if (!alive(t))
        rc = CONC_EINVAL;
    else if (conc__tnode_queued(&t->node_))
        rc = CONC_EBUSY;
    else
        rc = arm(t, deadline, period_ns, &wl);
    unlock_and_wake(&wl);
    return rc;
}

int conc_timer_restart(conc_timer_t *t, int64_t delay_ns, int64_t period_ns)
{
    conc__wakelist_t wl = CONC__WAKELIST_INIT;
    int64_t deadline = conc__deadline(delay_ns);
    int rc;

    if (!t || delay_ns < 0 || period_ns < 0)
        return CONC_EINVAL;
    conc__os_lock(&svc.lock);
    rc = alive(t) ? ensure_service() : CONC_EINVAL;
    if (!rc) {
        int found = state_of(t);

        /* The removal leaves room in the array, so arm() cannot fail if the
         * timer was queued; if it was not, a failure leaves it unchanged. */
        conc__timerheap_remove(&svc.heap, &t->node_);
        rc = arm(t, deadline, period_ns, &wl);
        if (!rc)
            rc = found;
    }
    unlock_and_wake(&wl);
    return rc;
}

int conc_timer_cancel(conc_timer_t *t)
{
    int rc;

    if (!t)
        return CONC_EINVAL;
    conc__os_lock(&svc.lock);
    if (alive(t)) {
        rc = state_of(t);
        conc__timerheap_remove(&svc.heap, &t->node_);
        t->flags_ &= ~FIRED;
    } else {
        rc = CONC_EINVAL;
    }
    conc__os_unlock(&svc.lock);
    return rc;
}

int conc_timer_state(const conc_timer_t *t)
{
    int rc;

    if (!t)
        return CONC_EINVAL;
    conc__os_lock(&svc.lock);
    rc = alive(t) ? state_of(t) : CONC_EINVAL;
    conc__os_unlock(&svc.lock);
    return rc;
}

int64_t conc_timer_deadline(const conc_timer_t *t)
{
    int64_t deadline = CONC_FOREVER;

    if (!t)
        return CONC_FOREVER;
    conc__os_lock(&svc.lock);
    if (alive(t) && conc__tnode_queued(&t->node_))
        deadline = t->node_.deadline_;
    conc__os_unlock(&svc.lock);
    return deadline;
}

/* Under the lock, t running on the service thread and being destroyed by
 * another thread: wait until the service has finished its callback. */
static void await_callback(conc_timer_t *t)
{
    t->flags_ |= DESTROYING;
    while (t->flags_ & RUNNING) {
        conc__waiter_t w;

        conc__waiter_init(&w);
        conc__waitq_push(&svc.destroyers, &w);
        w.what = "timer";
        conc__waiter_sleep(&w, &svc.destroyers, &svc.lock, CONC_FOREVER, false);
        conc__os_lock(&svc.lock);
    }
}

int conc_timer_destroy(conc_timer_t *t)
{
    if (!t)
        return CONC_EINVAL;
    conc__os_lock(&svc.lock);
    if (!alive(t) || (t->flags_ & ONCE)) {
        conc__os_unlock(&svc.lock);
        return CONC_EINVAL;
    }
    conc__timerheap_remove(&svc.heap, &t->node_);
    if (t->flags_ & RUNNING) {
        if (on_service_thread)
            svc.running_gone = true; /* its own callback: it is svc.running */
        else
            await_callback(t);
    }
    t->flags_ = 0;
    t->magic_ = 0;
    conc__os_unlock(&svc.lock);
    return 0;
}

/* ---- conc_timer_once() -------------------------------------------------- */

static void once_trampoline(conc_timer_t *t, void *arg)
{
    struct once_rec *r = arg;

    (void)t;
    r->fn(r->arg);
}

/* Under the lock; may drop it to allocate. */
static struct once_rec *take_rec(void)
{
    struct once_rec *r = svc.free_recs;

    if (r) {
        svc.free_recs = r->next_free;
        return r;
    }
    conc__os_unlock(&svc.lock);
    r = malloc(sizeof *r);
    conc__os_lock(&svc.lock);
    return r;
}

int conc_timer_once(int64_t delay_ns, void (*fn)(void *arg), void *arg, conc_timer_handle_t *handle)
{
    conc__wakelist_t wl = CONC__WAKELIST_INIT;
    int64_t deadline = conc__deadline(delay_ns);
    struct once_rec *r;
    int rc;

    if (!fn || delay_ns < 0)
        return CONC_EINVAL;
    conc__os_lock(&svc.lock);
    r = take_rec();
    if (!r) {
        conc__os_unlock(&svc.lock);
        return CONC_ENOMEM;
    }
    r->timer = (conc_timer_t)CONC_TIMER_INITIALIZER(once_trampoline, r);
    r->timer.flags_ = ONCE;
    r->fn = fn;
    r->arg = arg;
    rc = arm(&r->timer, deadline, 0, &wl);
    if (rc) {
        recycle(r);
    } else {
        r->id = svc.next_id++;
        if (handle)
            *handle = (conc_timer_handle_t){ r, r->id };
    }
    unlock_and_wake(&wl);
    return rc;
}

static int once_cancel_locked(conc_timer_handle_t *h)
{
    struct once_rec *r = h->rec_;

    if (h->id_ < svc.first_id) {
        h->id_ = 0; /* issued by a service that was shut down since */
        return CONC_TIMER_IDLE;
    }
    if (r->id != h->id_)
        return CONC_TIMER_FIRED; /* ran and was recycled */
    if (r->timer.flags_ & RUNNING)
        return CONC_TIMER_RUNNING;
    conc__timerheap_remove(&svc.heap, &r->timer.node_);
    recycle(r);
    h->id_ = 0;
    return CONC_TIMER_PENDING;
}

int conc_timer_once_cancel(conc_timer_handle_t *handle)
{
    int rc;

    if (!handle)
        return CONC_EINVAL;
    if (!handle->id_)
        return CONC_TIMER_IDLE;
    conc__os_lock(&svc.lock);
    rc = once_cancel_locked(handle);
    conc__os_unlock(&svc.lock);
    return rc;
}

/* ---- shutdown ----------------------------------------------------------- */

static void cancel_all(void)
{
    conc__tnode_t *n;

    while ((n = conc__timerheap_pop_expired(&svc.heap, INT64_MAX))) {
        conc_timer_t *t = timer_of(n);

        t->flags_ &= ~FIRED;
        if ((t->flags_ & (ONCE | RUNNING)) == ONCE)
            recycle((struct once_rec *)t);
    }
}

static void free_memory(void)
{
    while (svc.free_recs) {
        struct once_rec *r = svc.free_recs;

        svc.free_recs = r->next_free;
        free(r);
    }
    conc__timerheap_destroy(&svc.heap);
    svc.first_id = svc.next_id;
}

/* Under both locks, the service started: stop its thread and join it. */
static void stop_thread(void)
{
    conc__wakelist_t wl = CONC__WAKELIST_INIT;

    svc.phase = STOPPING;
    cancel_all();
    conc__waitq_wake_n(&svc.sleeper, -1, 0, &wl);
    unlock_and_wake(&wl);
    conc__os_thread_join(svc.thread, NULL);
    conc__os_lock(&svc.lock);
    svc.phase = STOPPED;
}

int conc_timer_service_shutdown(void)
{
    if (on_service_thread)
        return CONC_EDEADLK;
    conc__os_lock(&shutdown_lock);
    conc__os_lock(&svc.lock);
    if (svc.phase == STARTED)
        stop_thread();
    free_memory();
    conc__os_unlock(&svc.lock);
    conc__os_unlock(&shutdown_lock);
    return 0;
}
