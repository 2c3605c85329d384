/*
 * Threads: create, the exit path, join, detach, identity and names.
 *
 * OS threads are always started detached: libconc signals completion itself
 * (state DONE plus a wake of the record's join queue), so join blocks only
 * through the wait-queue core. A task joining a thread thus suspends only
 * itself and never waits in pthread_join(), whose duration depends on code
 * libconc does not control (other libraries' TLS destructors). The cost: when
 * join returns, the OS thread may still be running its last instructions.
 */
#include <stdio.h>
#include <string.h>

#include "thread_internal.h"

/* libconc's own floor: a thread function, the exit path and a destructor or
 * two need more than the few KiB some systems would allow. */
#define STACK_FLOOR ((size_t)16384)

static conc__os_lock_t hook_lock;
static conc_thread_exit_hook_fn hook_fn;
static void *hook_arg;

size_t conc_thread_stack_min(void)
{
    size_t min = conc__os_thread_min_stack();

    return min > STACK_FLOOR ? min : STACK_FLOOR;
}

/* ---- start and exit, in the new thread ------------------------------- */

/* With rec locked: hand the native id to conc_thread_native_id() callers
 * waiting for the thread to run (0 if it never ran: its creation failed). */
static void wake_id_waiters(conc__thread_rec_t *rec, conc__wakelist_t *wl)
{
    uint64_t id = atomic_load_explicit(&rec->native_id, memory_order_relaxed);
    conc__waiter_t *w;

    while ((w = conc__waitq_first(&rec->startq)) != NULL) {
        w->data = (uintptr_t)id;
        conc__waitq_wake(&rec->startq, w, 0, wl);
    }
}

static void publish_native_id(conc__thread_rec_t *rec, uint64_t id)
{
    conc__wakelist_t wl = CONC__WAKELIST_INIT;

    conc__os_lock(&rec->lock);
    atomic_store_explicit(&rec->native_id, id, memory_order_relaxed);
    wake_id_waiters(rec, &wl);
    conc__os_unlock(&rec->lock);
    conc__wakelist_run(&wl);
}

static void *trampoline(void *arg)
{
    conc__thread_rec_t *rec = arg;

    conc__thread_bind_self(rec, true);
    /* fn, arg and the name were written before the OS thread was started,
     * and only this thread changes the name afterwards. */
    if (rec->named)
        conc__os_thread_set_name(rec->name);
    /* After the name, so whoever learns the id also sees the name. */
    publish_native_id(rec, conc__os_thread_native_id());
    conc__thread_finish(rec, rec->fn(rec->arg));
    return NULL;
}

static void run_exit_hook(conc__thread_rec_t *rec, void *result)
{
    conc_thread_exit_hook_fn fn;
    void *arg;

    conc__os_lock(&hook_lock);
    fn = hook_fn;
    arg = hook_arg;
    conc__os_unlock(&hook_lock);
    if (fn) {
        conc_thread_t self = { rec, atomic_load_explicit(&rec->ident, memory_order_relaxed) };
        fn(&self, result, arg);
    }
}

/* Record the end and wake every joiner (and, for a thread that never ran,
 * every native id waiter); a detached record goes back. */
static void mark_done(conc__thread_rec_t *rec, void *result)
{
    conc__wakelist_t wl = CONC__WAKELIST_INIT;
    bool release;

    conc__os_lock(&rec->lock);
    rec->state = CONC__THREAD_DONE;
    rec->result = result;
    release = rec->detached && rec->kind != CONC__THREAD_MAIN;
    if (release)
        conc__thread_rec_retire(rec);
    conc__waitq_wake_n(&rec->joinq, -1, 0, &wl);
    wake_id_waiters(rec, &wl);
    conc__os_unlock(&rec->lock);
    conc__wakelist_run(&wl);
    if (release)
        conc__thread_rec_free(rec);
}

void conc__thread_finish(conc__thread_rec_t *rec, void *result)
{
    rec->exiting = true;
    if (rec->kind == CONC__THREAD_CREATED)
        run_exit_hook(rec, result);
    conc__tls_thread_exit();
    conc__thread_bind_self(NULL, false);
    conc__thread_rec_unlist(rec);
    mark_done(rec, result);
}

/* ---- create --------------------------------------------------------- */

/* The OS refused: wake anyone who found the record meanwhile (through
 * conc_thread_enumerate()) and give it back. */
static void abandon(conc__thread_rec_t *rec, uint64_t ident)
{
    conc_thread_t t = { rec, ident };

    conc__thread_rec_unlist(rec);
    mark_done(rec, NULL);
    conc_thread_join(&t, NULL, CONC_NOWAIT); /* fails if a joiner took it */
}

int conc_thread_create(conc_thread_t *t, const conc_thread_attr_t *attr, conc_thread_fn fn,
                       void *arg)
{
    static const conc_thread_attr_t defaults = CONC_THREAD_ATTR_INIT;
    conc__thread_rec_t *rec;
    conc__os_thread_t os;
    conc_thread_t old;
    int rc;

    if (!t || !fn)
        return CONC_EINVAL;
    if (!attr)
        attr = &defaults;
    if (attr->stack_size && attr->stack_size < conc_thread_stack_min())
        return CONC_EINVAL;
    rec = conc__thread_rec_new(CONC__THREAD_CREATED, attr->detached, 0, attr->name);
    if (!rec)
        return CONC_ENOMEM;
    rec->fn = fn;
    rec->arg = arg;
    /* Before the start, so the new thread may read *t (and a detached
     * record may be recycled as soon as the thread runs). */
    old = *t;
    t->rec_ = rec;
    t->ident_ = atomic_load_explicit(&rec->ident, memory_order_relaxed);
    rc = conc__os_thread_start(&os, trampoline, rec, attr->stack_size, true);
    if (CONC_UNLIKELY(rc)) {
        abandon(rec, t->ident_);
        *t = old;
    }
    return rc;
}

/* ---- join and detach -------------------------------------------------- */

/* With rec locked and the thread alive: block until it is DONE or the
 * deadline; returns with rec locked again. */
static int wait_done(conc__thread_rec_t *rec, int64_t deadline)
{
    conc__waiter_t w;
    int rc;

    conc__waiter_init(&w);
    rec->joiners++;
    conc__waitq_push(&rec->joinq, &w);
    w.what = "thread";
    rc = conc__waiter_sleep(&w, &rec->joinq, &rec->lock, deadline, true);
    conc__os_lock(&rec->lock);
    rec->joiners--;
    return rc;
}

int conc_thread_join(conc_thread_t *t, void **result, int64_t timeout_ns)
{
    int64_t deadline = conc__deadline(timeout_ns);
    conc__thread_rec_t *rec = conc__thread_rec_lock(t);
    bool waited = false, release;
    int rc;

    if (!rec)
        return CONC_EINVAL;
    if (rec == conc__thread_self_rec()) {
        rc = CONC_EDEADLK;
    } else if (rec->detached || rec->joined) {
        rc = CONC_EINVAL;
    } else if (rec->state == CONC__THREAD_DONE) {
        rc = 0;
    } else if (timeout_ns == CONC_NOWAIT) {
        rc = CONC_EAGAIN;
    } else {
        rc = wait_done(rec, deadline);
        waited = true;
    }
    if (rc == 0) {
        rec->joined = true;
        if (result)
            *result = rec->result;
    }
    /* Joins that waited together all get the result; the last one to leave
     * gives the record back. */
    release = (rc == 0 || waited) && rec->joined && rec->joiners == 0;
    if (release)
        conc__thread_rec_retire(rec);
    conc__os_unlock(&rec->lock);
    if (release)
        conc__thread_rec_free(rec);
    return rc;
}

int conc_thread_detach(conc_thread_t *t)
{
    conc__thread_rec_t *rec = conc__thread_rec_lock(t);
    bool release = false;
    int rc = 0;

    if (!rec)
        return CONC_EINVAL;
    if (rec->detached || rec->joined) {
        rc = CONC_EINVAL;
    } else if (rec->joiners) {
        rc = CONC_EBUSY;
    } else {
        rec->detached = true;
        release = rec->state == CONC__THREAD_DONE;
        if (release)
            conc__thread_rec_retire(rec);
    }
    conc__os_unlock(&rec->lock);
    if (release)
        conc__thread_rec_free(rec);
    return rc;
}

/* ---- identity --------------------------------------------------------- */

bool conc_thread_is_alive(const conc_thread_t *t)
{
    conc__thread_rec_t *rec = conc__thread_rec_lock(t);
    bool alive;

    if (!rec)
        return false;
    alive = rec->state == CONC__THREAD_ALIVE;
    conc__os_unlock(&rec->lock);
    return alive;
}

uint64_t conc_thread_ident(const conc_thread_t *t)
{
    return t ? t->ident_ : 0;
}

uint64_t conc_thread_native_id(const conc_thread_t *t)
{
    conc__thread_rec_t *rec = conc__thread_rec_lock(t);
    conc__waiter_t w;
    uint64_t id;

    if (!rec)
        return 0;
    id = atomic_load_explicit(&rec->native_id, memory_order_relaxed);
    if (id || rec->state == CONC__THREAD_DONE) {
        conc__os_unlock(&rec->lock);
        return id;
    }
    /* Not run yet: publish_native_id() (or mark_done() if it never will)
     * hands the id over in w.data. */
    conc__waiter_init(&w);
    conc__waitq_push(&rec->startq, &w);
    w.what = "thread";
    conc__waiter_sleep(&w, &rec->startq, &rec->lock, CONC_FOREVER, false);
    return (uint64_t)w.data;
}

/* With rec locked: the name, or Python's defaults for unnamed threads. */
static void format_name(const conc__thread_rec_t *rec, uint64_t ident, char *buf, size_t size)
{
    unsigned long long n = (unsigned long long)ident;

    if (rec->named)
        snprintf(buf, size, "%s", rec->name);
    else if (rec->kind == CONC__THREAD_MAIN)
        snprintf(buf, size, "MainThread");
    else if (rec->kind == CONC__THREAD_FOREIGN)
        snprintf(buf, size, "Dummy-%llu", n);
    else
        snprintf(buf, size, "Thread-%llu", n);
}

int conc_thread_name(const conc_thread_t *t, char *buf, size_t size)
{
    conc__thread_rec_t *rec;

    if (!t || !buf || !size || !t->ident_)
        return CONC_EINVAL;
    rec = conc__thread_rec_lock(t);
    if (!rec)
        return CONC_ESRCH;
    format_name(rec, t->ident_, buf, size);
    conc__os_unlock(&rec->lock);
    return 0;
}

int conc_thread_set_name_current(const char *name)
{
    conc__thread_rec_t *rec;

    if (!name)
        return CONC_EINVAL;
    rec = conc__thread_self();
    if (!rec)
        return CONC_ENOMEM;
    conc__os_lock(&rec->lock);
    conc__thread_rec_set_name(rec, name);
    conc__os_unlock(&rec->lock);
    if (name[0])
        conc__os_thread_set_name(name);
    return 0;
}

void conc_thread_yield(void)
{
    conc__os_thread_yield();
}

int conc_thread_exit(void *result)
{
    conc__thread_rec_t *rec = conc__thread_self_rec();

    if (!rec || rec->kind != CONC__THREAD_CREATED || rec->exiting)
        return CONC_EINVAL;
    conc__os_lock(&rec->lock);
    rec->result = result;
    conc__os_unlock(&rec->lock);
    /* The registry's exit key, armed at start, runs conc__thread_finish(). */
    conc__os_thread_exit();
}

/* ---- exit hook -------------------------------------------------------- */

void conc_thread_set_exit_hook(conc_thread_exit_hook_fn fn, void *arg)
{
    conc__os_lock(&hook_lock);
    hook_fn = fn;
    hook_arg = arg;
    conc__os_unlock(&hook_lock);
}

void conc_thread_get_exit_hook(conc_thread_exit_hook_fn *fn, void **arg)
{
    conc__os_lock(&hook_lock);
    if (fn)
        *fn = hook_fn;
    if (arg)
        *arg = hook_arg;
    conc__os_unlock(&hook_lock);
}
