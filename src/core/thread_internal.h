/*
 * Shared by thread.c (create, join, exit path), thread_registry.c (records,
 * live list, current and main thread) and tls.c (conc_tls_*). Not installed.
 *
 * Every thread libconc knows has a record. Records are allocated once and
 * never freed, only recycled through a free list, so the memory behind any
 * handle stays a record forever. A record in use carries the thread's ident,
 * which is never reused; a free record carries 0. A handle {rec, ident} is
 * therefore checked by locking rec and comparing idents: a stale handle sees
 * a different ident and gets an error, never freed memory.
 */
#ifndef CONC_CORE_THREAD_INTERNAL_H
#define CONC_CORE_THREAD_INTERNAL_H

#include "conc/thread.h"
#include "waitq.h"

enum conc__thread_kind {
    CONC__THREAD_CREATED, /* by conc_thread_create() */
    CONC__THREAD_FOREIGN, /* registered by conc_thread_current() */
    CONC__THREAD_MAIN,
};

enum conc__thread_state {
    CONC__THREAD_ALIVE,
    CONC__THREAD_DONE, /* exit path finished; joiners woken */
};

typedef struct conc__thread_rec {
    conc__os_lock_t lock;       /* guards everything below but the atomics */
    _Atomic uint64_t ident;     /* 0 while the record is free */
    _Atomic uint64_t native_id; /* 0 until the thread has run */
    uint8_t kind;
    uint8_t state;
    bool detached;    /* nobody will join: free it when it ends */
    bool joined;      /* a join consumed the result */
    bool named;       /* name[] holds a user-given name */
    bool exiting;     /* in its exit path (own thread only) */
    uint32_t joiners; /* joins blocked on, or leaving, joinq */
    void *result;
    conc_thread_fn fn;
    void *arg;
    conc__waitq_t joinq;                  /* joiners, woken when DONE */
    conc__waitq_t startq;                 /* conc_thread_native_id() before it ran */
    struct conc__thread_rec *next, *prev; /* live list, or free list (next) */
    char name[CONC_THREAD_NAME_MAX];
} conc__thread_rec_t;

/* ---- thread_registry.c ---- */

/* A record of the given kind with a fresh ident, state ALIVE, already in the
 * live list; name may be NULL. NULL when out of memory. */
conc__thread_rec_t *conc__thread_rec_new(enum conc__thread_kind kind, bool detached,
                                         uint64_t native_id, const char *name);
/* Leave the live list (conc_thread_enumerate() stops listing it). */
void conc__thread_rec_unlist(conc__thread_rec_t *rec);
/* With rec locked, when nobody can need it any more: every handle on it
 * becomes stale at once. Then, unlocked, conc__thread_rec_free() recycles it. */
static inline void conc__thread_rec_retire(conc__thread_rec_t *rec)
{
    atomic_store_explicit(&rec->ident, 0, memory_order_relaxed);
}
void conc__thread_rec_free(conc__thread_rec_t *rec);
/* With rec locked: keep a copy of name (cut to fit); NULL or "" for the
 * default name. */
void conc__thread_rec_set_name(conc__thread_rec_t *rec, const char *name);
/* Lock and return the record of a handle that is still current, else NULL. */
conc__thread_rec_t *conc__thread_rec_lock(const conc_thread_t *t);

/* The calling thread's record, or NULL if it has none (yet). */
conc__thread_rec_t *conc__thread_self_rec(void);
/* The calling thread's record, registering a foreign thread on first use;
 * NULL only when out of memory. */
conc__thread_rec_t *conc__thread_self(void);
/* Bind the calling thread to rec (NULL unbinds). With arm_exit, also make
 * conc__thread_exit_dtor() run at the thread's exit should it end without
 * going through conc__thread_finish() (pthread_exit, foreign threads). */
void conc__thread_bind_self(conc__thread_rec_t *rec, bool arm_exit);

/* ---- thread.c ---- */

/* The exit path of a thread, run in the thread itself: hook (libconc
 * threads), conc_tls destructors, unbinding, unlisting, DONE, wake joiners,
 * free if detached. */
void conc__thread_finish(conc__thread_rec_t *rec, void *result);

/* ---- tls.c ---- */

/* Run the calling thread's conc_tls destructors and free its value table. */
void conc__tls_thread_exit(void);

#endif /* CONC_CORE_THREAD_INTERNAL_H */
