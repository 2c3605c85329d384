/*
 * The registry of threads: records (allocated once, recycled, never freed;
 * see thread_internal.h), the list of live threads behind enumerate and
 * active count, the calling thread's record, foreign ("dummy") threads and
 * the main thread.
 *
 * Lock order: registry_lock, then a record's lock.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "thread_internal.h"

static conc__os_lock_t registry_lock;
static conc__thread_rec_t *live_head; /* doubly linked through next/prev */
static int live_count;
static conc__thread_rec_t *free_head; /* singly linked through next */

/* 0 marks a free record, so idents start at 1. */
static _Atomic uint64_t next_ident = 1;
static _Atomic(conc__thread_rec_t *) main_rec;

static _Thread_local conc__thread_rec_t *self;
static _Thread_local bool exit_armed;

/* Its destructor finishes threads that end without conc__thread_finish():
 * foreign threads, the main thread after pthread_exit(), libconc threads
 * that end through conc_thread_exit() or pthread_exit(). */
static conc__os_tls_key_t exit_key;
static _Atomic bool exit_key_ready;

/* ---- records -------------------------------------------------------- */

void conc__thread_rec_set_name(conc__thread_rec_t *rec, const char *name)
{
    size_t n = name ? strnlen(name, sizeof rec->name - 1) : 0;

    memcpy(rec->name, name ? name : "", n);
    rec->name[n] = '\0';
    rec->named = n > 0;
}

static void rec_init(conc__thread_rec_t *rec, enum conc__thread_kind kind, bool detached,
                     uint64_t native_id, const char *name)
{
    conc__os_lock(&rec->lock);
    rec->kind = (uint8_t)kind;
    rec->state = CONC__THREAD_ALIVE;
    rec->detached = detached;
    rec->joined = false;
    rec->exiting = false;
    rec->joiners = 0;
    rec->result = NULL;
    rec->fn = NULL;
    rec->arg = NULL;
    conc__thread_rec_set_name(rec, name);
    atomic_store_explicit(&rec->native_id, native_id, memory_order_relaxed);
    atomic_store_explicit(&rec->ident, atomic_fetch_add(&next_ident, 1), memory_order_relaxed);
    conc__os_unlock(&rec->lock);
}

static void live_insert(conc__thread_rec_t *rec)
{
    rec->prev = NULL;
    rec->next = live_head;
    if (live_head)
        live_head->prev = rec;
    live_head = rec;
    live_count++;
}

conc__thread_rec_t *conc__thread_rec_new(enum conc__thread_kind kind, bool detached,
                                         uint64_t native_id, const char *name)
{
    conc__thread_rec_t *rec;

    conc__os_lock(&registry_lock);
    rec = free_head;
    if (CONC_UNLIKELY(!rec)) {
        /* Only grows to the peak number of threads; allocate unlocked. */
        conc__os_unlock(&registry_lock);
        rec = calloc(1, sizeof *rec);
        if (!rec)
            return NULL;
        conc__os_lock(&registry_lock);
    } else {
        free_head = rec->next;
    }
    rec_init(rec, kind, detached, native_id, name);
    live_insert(rec);
    conc__os_unlock(&registry_lock);
    return rec;
}

void conc__thread_rec_unlist(conc__thread_rec_t *rec)
{
    conc__os_lock(&registry_lock);
    if (rec->prev)
        rec->prev->next = rec->next;
    else
        live_head = rec->next;
    if (rec->next)
        rec->next->prev = rec->prev;
    rec->next = rec->prev = NULL;
    live_count--;
    conc__os_unlock(&registry_lock);
}

void conc__thread_rec_free(conc__thread_rec_t *rec)
{
    CONC_ASSERT(rec->kind != CONC__THREAD_MAIN);
    CONC_ASSERT(atomic_load_explicit(&rec->ident, memory_order_relaxed) == 0);
    CONC_ASSERT(conc__waitq_empty(&rec->joinq) && conc__waitq_empty(&rec->startq));
    conc__os_lock(&registry_lock);
    rec->next = free_head;
    free_head = rec;
    conc__os_unlock(&registry_lock);
}

conc__thread_rec_t *conc__thread_rec_lock(const conc_thread_t *t)
{
    conc__thread_rec_t *rec;

    if (!t || !t->rec_ || !t->ident_)
        return NULL;
    rec = t->rec_;
    conc__os_lock(&rec->lock);
    if (atomic_load_explicit(&rec->ident, memory_order_relaxed) != t->ident_) {
        conc__os_unlock(&rec->lock);
        return NULL;
    }
    return rec;
}

/* ---- the calling thread ----------------------------------------------- */

static void exit_dtor(void *value)
{
    conc__thread_rec_t *rec = value;
    void *result;

    exit_armed = false; /* the OS cleared the value before calling us */
    conc__os_lock(&rec->lock);
    result = rec->result; /* set by conc_thread_exit(), else NULL */
    conc__os_unlock(&rec->lock);
    conc__thread_finish(rec, result);
}

static void exit_key_init(void)
{
    conc__os_lock(&registry_lock);
    if (!atomic_load_explicit(&exit_key_ready, memory_order_relaxed) &&
        conc__os_tls_create(&exit_key, exit_dtor) == 0)
        atomic_store_explicit(&exit_key_ready, true, memory_order_release);
    conc__os_unlock(&registry_lock);
}

conc__thread_rec_t *conc__thread_self_rec(void)
{
    return self;
}

void conc__thread_bind_self(conc__thread_rec_t *rec, bool arm_exit)
{
    self = rec;
    if (arm_exit) {
        if (CONC_UNLIKELY(!atomic_load_explicit(&exit_key_ready, memory_order_acquire)))
            exit_key_init();
        if (atomic_load_explicit(&exit_key_ready, memory_order_acquire))
            exit_armed = conc__os_tls_set(exit_key, rec) == 0;
    } else if (exit_armed) {
        conc__os_tls_set(exit_key, NULL);
        exit_armed = false;
    }
}

/* A thread libconc did not create, seen for the first time: give it a
 * record, and arrange for its exit to remove it (like Python's dummy
 * threads, which are never cleaned up; here they are). */
static conc__thread_rec_t *register_foreign(void)
{
    conc__thread_rec_t *rec =
        conc__thread_rec_new(CONC__THREAD_FOREIGN, true, conc__os_thread_native_id(), NULL);

    if (rec)
        conc__thread_bind_self(rec, true);
    return rec;
}

conc__thread_rec_t *conc__thread_self(void)
{
    return CONC_LIKELY(self) ? self : register_foreign();
}

static conc_thread_t handle_of(conc__thread_rec_t *rec)
{
    conc_thread_t t = CONC_THREAD_INIT;

    if (rec) {
        t.rec_ = rec;
        t.ident_ = atomic_load_explicit(&rec->ident, memory_order_relaxed);
    }
    return t;
}

conc_thread_t conc_thread_current(void)
{
    return handle_of(conc__thread_self());
}

/* The thread that loads the library is the main thread. A constructor runs
 * there before main() (or inside dlopen()). */
__attribute__((constructor)) static void register_main(void)
{
    conc__thread_rec_t *rec;

    exit_key_init();
    rec = conc__thread_self();
    if (!rec)
        return;
    conc__os_lock(&rec->lock);
    rec->kind = CONC__THREAD_MAIN;
    conc__os_unlock(&rec->lock);
    atomic_store_explicit(&main_rec, rec, memory_order_release);
}

conc_thread_t conc_thread_main(void)
{
    return handle_of(atomic_load_explicit(&main_rec, memory_order_acquire));
}

/* ---- enumeration ----------------------------------------------------- */

int conc_thread_enumerate(conc_thread_t *handles, size_t max)
{
    size_t n = 0;

    if (!handles && max)
        return CONC_EINVAL;
    conc__os_lock(&registry_lock);
    for (conc__thread_rec_t *rec = live_head; rec; rec = rec->next) {
        if (n < max)
            handles[n] = handle_of(rec);
        n++;
    }
    conc__os_unlock(&registry_lock);
    return (int)n;
}

int conc_thread_active_count(void)
{
    int n;

    conc__os_lock(&registry_lock);
    n = live_count;
    conc__os_unlock(&registry_lock);
    return n;
}
