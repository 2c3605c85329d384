/*
 * Bounded queues: set-up, blocking, hand-offs, task accounting, shutdown.
 *
 * Each kind keeps its items in a "store": the lock-free ring (FIFO,
 * queue_ring.c), a stack (LIFO, here) or a heap (priority, queue_prio.c).
 * The stack and the heap are used under the queue's lock; the ring also
 * without it, which is the FIFO fast path.
 *
 * Sleeping happens only in the queue's wait queues, under its lock. The rule
 * that keeps every item exact is the hand-off: whoever makes an item or a
 * free slot available while somebody sleeps (settle()) moves the item itself,
 * under the lock, into the sleeping getter's buffer or from the sleeping
 * putter's buffer, then wakes that waiter with status 0. A woken waiter thus
 * returns success even if its deadline has passed meanwhile, and a waiter
 * that times out (or, later, is cancelled) removed itself under the same
 * lock before anybody moved anything for it. Nothing is lost and nobody
 * needs a "try again" wake-up that a timeout could drop.
 *
 * For the ring, a fast-path producer that published an item checks a
 * "getters may sleep" hint after its publish, and a getter going to sleep
 * sets the hint, then looks at the ring once more: one of the two always
 * sees the other (Dekker; handshake.h puts the barrier that this needs on
 * the sleeper's side), so no wake-up is missed.
 * Consumers and putters do the same with the "putters may sleep" hint, and
 * task_done() and join() with the joiners' hint.
 */
#include <stdlib.h>

#include "queue_internal.h"

_Static_assert(sizeof(conc__os_lock_t) == sizeof(((conc_queue_t *)0)->lock_),
               "conc_queue_t.lock_ holds a conc__os_lock_t");

/* ---- set-up ------------------------------------------------------------ */

static bool kind_valid(conc_queue_kind_t kind)
{
    return kind == CONC_QUEUE_FIFO || kind == CONC_QUEUE_LIFO || kind == CONC_QUEUE_PRIORITY;
}

size_t conc_queue_storage_size(size_t item_size, size_t capacity, conc_queue_kind_t kind)
{
    if (item_size == 0 || capacity == 0 || !kind_valid(kind))
        return 0;
    /* Positions keep their top bit free for the closed and peek flags. */
    if (item_size > SIZE_MAX - 16 || capacity > SIZE_MAX / 4)
        return 0;
    size_t slot = CONC_QUEUE_SLOT_SIZE_(item_size, kind);
    if (capacity > SIZE_MAX / slot)
        return 0;
    return capacity * slot;
}

static bool attr_valid(const conc_queue_attr_t *attr, size_t need)
{
    if ((attr->kind == CONC_QUEUE_PRIORITY) != (attr->compare != NULL))
        return false;
    if (!attr->storage)
        return attr->storage_size == 0;
    return attr->storage_size >= need && (uintptr_t)attr->storage % CONC_QUEUE_STORAGE_ALIGN == 0;
}

/* Cache-line aligned, so the ring's first slots share no line with
 * unrelated data. */
static void *alloc_storage(size_t size)
{
    if (size > SIZE_MAX - 63)
        return NULL;
    return aligned_alloc(64, (size + 63) & ~(size_t)63);
}

int conc_queue_init(conc_queue_t *q, size_t item_size, size_t capacity,
                    const conc_queue_attr_t *attr)
{
    static const conc_queue_attr_t defaults = CONC_QUEUE_ATTR_INIT;

    if (!attr)
        attr = &defaults;
    size_t need = conc_queue_storage_size(item_size, capacity, attr->kind);
    if (!q || need == 0 || !attr_valid(attr, need))
        return CONC_EINVAL;
    conc__handshake_init(); /* before the first fast-path publish */
    void *buf = attr->storage ? attr->storage : alloc_storage(need);
    if (!buf)
        return CONC_ENOMEM;

    memset(q, 0, sizeof *q);
    q->buf_ = buf;
    q->item_size_ = item_size;
    q->capacity_ = capacity;
    q->slot_size_ = CONC_QUEUE_SLOT_SIZE_(item_size, attr->kind);
    q->mask_ = (capacity & (capacity - 1)) == 0 ? capacity - 1 : 0;
    q->compare_ = attr->compare;
    q->compare_arg_ = attr->compare_arg;
    q->kind_ = (unsigned char)attr->kind;
    /* Vyukov's ring needs two slots; with one, FIFO and LIFO are the same. */
    q->ring_ = attr->kind == CONC_QUEUE_FIFO && capacity >= 2;
    q->owns_buf_ = attr->storage == NULL;
    atomic_init(&q->getters_waiting_, 0);
    atomic_init(&q->putters_waiting_, 0);
    atomic_init(&q->joiners_waiting_, 0);
    atomic_init(&q->spin_, 0);
    atomic_init(&q->users_, 0);
    atomic_init(&q->lock_, CONC__OS_LOCK_INIT);
    atomic_init(&q->tail_, 0);
    atomic_init(&q->head_, 0);
    atomic_init(&q->done_, 0);
    if (q->ring_)
        conc__ring_init(q);
    return 0;
}

static bool valid(const conc_queue_t *q)
{
    return q && q->buf_;
}

int conc_queue_destroy(conc_queue_t *q)
{
    if (!valid(q))
        return CONC_EINVAL;
    conc__os_lock(conc__queue_lock(q));
    if (!conc__waitq_empty(&q->getters_) || !conc__waitq_empty(&q->putters_) ||
        !conc__waitq_empty(&q->joiners_)) {
        conc__os_unlock(conc__queue_lock(q));
        return CONC_EBUSY;
    }
    void *buf = q->buf_;
    q->buf_ = NULL;
    conc__os_unlock(conc__queue_lock(q));
    if (q->owns_buf_)
        free(buf);
    return 0;
}

/* ---- stores ---------------------------------------------------------------
 * 0, CONC_EAGAIN (full / empty) or CONC_ECLOSED (put after shutdown).
 * Under the lock; the ring needs no lock but accepts it. */

static int store_put(conc_queue_t *q, const void *item)
{
    if (q->ring_)
        return conc__ring_put(q, item);
    uint64_t tail = atomic_load_explicit(&q->tail_, memory_order_relaxed);

    if (tail & CONC__QUEUE_CLOSED)
        return CONC_ECLOSED;
    uint64_t n = tail - atomic_load_explicit(&q->head_, memory_order_relaxed);
    if (n == q->capacity_)
        return CONC_EAGAIN;
    if (q->kind_ == CONC_QUEUE_PRIORITY)
        conc__heap_push(q, n, tail, item);
    else
        memcpy(conc__queue_item(q, n), item, q->item_size_);
    atomic_store_explicit(&q->tail_, tail + 1, memory_order_seq_cst);
    return 0;
}

/* out == NULL discards the item. */
static int store_get(conc_queue_t *q, void *out)
{
    if (q->ring_)
        return conc__ring_get(q, out);
    uint64_t head = atomic_load_explicit(&q->head_, memory_order_relaxed);
    uint64_t n = CONC__QUEUE_COUNT(atomic_load_explicit(&q->tail_, memory_order_relaxed)) - head;

    if (n == 0)
        return CONC_EAGAIN;
    if (q->kind_ == CONC_QUEUE_PRIORITY)
        conc__heap_pop(q, n, out);
    else if (out)
        memcpy(out, conc__queue_item(q, n - 1), q->item_size_);
    atomic_store_explicit(&q->head_, head + 1, memory_order_release);
    return 0;
}

/* Shut down and every item ever put has been removed: getters are done. A
 * put that claimed a ring slot before the shutdown still counts: its getter
 * waits for it. */
static bool closed_and_drained(const conc_queue_t *q)
{
    uint64_t tail = atomic_load_explicit(&q->tail_, memory_order_seq_cst);

    return (tail & CONC__QUEUE_CLOSED) &&
           CONC__QUEUE_COUNT(atomic_load_explicit(&q->head_, memory_order_seq_cst)) ==
               CONC__QUEUE_COUNT(tail);
}

/* ---- hand-offs ------------------------------------------------------------ */

/* What a sleeping putter's waiter points to: the item it waits to put. */
struct put_ref {
    const void *item;
};

/* Under the lock: serve sleeping putters and getters while items and slots
 * allow, then tell the getters left that a drained, shut-down queue has
 * nothing more, and clear the hints of empty wait queues. */
static void settle(conc_queue_t *q, conc__wakelist_t *wl)
{
    conc__waiter_t *w;
    bool progress;

    do {
        progress = false;
        while ((w = conc__waitq_first(&q->putters_)) &&
               store_put(q, ((const struct put_ref *)w->ptr)->item) == 0) {
            conc__waitq_wake(&q->putters_, w, 0, wl);
            progress = true;
        }
        while ((w = conc__waitq_first(&q->getters_)) && store_get(q, w->ptr) == 0) {
            conc__waitq_wake(&q->getters_, w, 0, wl);
            progress = true;
        }
    } while (progress);
    if (!conc__waitq_empty(&q->getters_) && closed_and_drained(q))
        conc__waitq_wake_n(&q->getters_, -1, CONC_ECLOSED, wl);
    if (conc__waitq_empty(&q->getters_))
        atomic_store_explicit(&q->getters_waiting_, 0, memory_order_relaxed);
    if (conc__waitq_empty(&q->putters_))
        atomic_store_explicit(&q->putters_waiting_, 0, memory_order_relaxed);
}

static void settle_unlocked(conc_queue_t *q)
{
    conc__wakelist_t wl = CONC__WAKELIST_INIT;

    conc__os_lock(conc__queue_lock(q));
    settle(q, &wl);
    conc__os_unlock(conc__queue_lock(q));
    conc__wakelist_run(&wl);
}

/* A waiter about to sleep says so, then re-checks what it waits for. Only
 * the ring's getters and putters meet a lock-free fast side, which needs
 * the handshake's sleeper barrier (see the top of this file), a system call
 * where the OS has one; the other kinds' puts and gets run under the lock,
 * and task_done()'s sequentially consistent update pairs with a fence. */
static void announce(conc_queue_t *q, _Atomic uint32_t *hint, bool ring)
{
    atomic_store_explicit(hint, 1, memory_order_seq_cst);
    atomic_thread_fence(memory_order_seq_cst);
    /* Read after the fence. If the ring turns shared after this read, the
     * thread that turns it, and every thread that reads it shared later,
     * read users_ after this read in the single order of sequentially
     * consistent operations, then load the hint: they see it. */
    if (ring && atomic_load_explicit(&q->users_, memory_order_seq_cst) == CONC__QUEUE_SHARED &&
        conc__handshake_light_ok())
        conc__handshake_sleeper(true);
}

void conc__queue_note_user(conc_queue_t *q, uintptr_t users)
{
    uintptr_t me = (uintptr_t)conc__os_parker_self();

    while (users != CONC__QUEUE_SHARED && users != me) {
        uintptr_t next = users == 0 ? me : CONC__QUEUE_SHARED;
        if (atomic_compare_exchange_weak_explicit(&q->users_, &users, next, memory_order_seq_cst,
                                                  memory_order_relaxed))
            return;
    }
}

/* ---- the FIFO fast path ---------------------------------------------------- */

/* Ring fast path: on success, hand the item on if a getter may sleep. The
 * publish in conc__ring_put() and this load are the handshake's fast side,
 * so this load sees any hint set before the getter's last look at the ring. */
static int ring_put(conc_queue_t *q, const void *item)
{
    int rc = conc__ring_put(q, item);

    if (rc == 0 && conc__handshake_load(&q->getters_waiting_))
        settle_unlocked(q);
    return rc;
}

/* Ring fast path of a get: on success, move a sleeping putter's item in. */
static int ring_get(conc_queue_t *q, void *out)
{
    int rc = conc__ring_get(q, out);

    if (rc == 0 && conc__handshake_load(&q->putters_waiting_))
        settle_unlocked(q);
    return rc;
}

/*
 * Retry the ring before sleeping, for the learned time: a peer about to put
 * (get) is caught without a system call. A getter's looks are a few pauses
 * apart (1, 2, then 4), so a producer fills whole cache lines between them
 * instead of having the line of every item pulled away. A putter's looks
 * back off further (up to 64 pauses), and for its first BURST_WAIT_NS it
 * waits until a burst of slots is free (conc__ring_room_for_burst()), so
 * that it does not chase the getter slot by slot through the lines the
 * getter is reading; after that any free slot will do, so a getter that
 * frees only one still lets it in. Nobody spins while others of its kind
 * sleep: they are served first anyway, and on an oversubscribed machine
 * spinning only steals the time of the threads it waits for. A put when
 * item is not NULL, else a get into out.
 */
#define BURST_WAIT_NS 4000
static int ring_spin(conc_queue_t *q, const void *item, void *out, int64_t deadline)
{
    const _Atomic uint32_t *sleepers = item ? &q->putters_waiting_ : &q->getters_waiting_;
    int64_t limit = conc__ring_spin_limit(q);
    int rc = CONC_EAGAIN;

    if (limit == 0 || atomic_load_explicit(sleepers, memory_order_relaxed))
        return rc;
    int64_t start = conc_now_ns(), now = start;
    if (deadline >= 0 && deadline - start < limit)
        limit = deadline - start; /* never spin past the caller's deadline */
    if (limit <= 0)
        return rc; /* no time left: nothing to learn from */
    for (int step = 1; rc == CONC_EAGAIN;) {
        for (int i = 0; i < step; i++)
            conc__os_cpu_relax();
        now = conc_now_ns(); /* after the pauses: no look past the limit */
        if (now - start >= limit)
            break;
        if (step < (item ? 64 : 4))
            step *= 2;
        if (item && now - start < BURST_WAIT_NS && !conc__ring_room_for_burst(q))
            continue;
        rc = item ? ring_put(q, item) : ring_get(q, out);
    }
    conc__ring_spin_learn(q, rc == 0 ? now - start : INT64_MAX);
    return rc;
}

/* ---- the slow path ---------------------------------------------------------- */

/* Under the lock: put, else queue w as a putter whose item the getters will
 * move in. Returns CONC_EAGAIN when w was queued. */
static int put_or_queue(conc_queue_t *q, struct put_ref *ref, conc__waiter_t *w, bool wait)
{
    int rc = store_put(q, ref->item);

    if (rc != CONC_EAGAIN || !wait)
        return rc;
    conc__waiter_init(w);
    w->ptr = ref;
    conc__waitq_push(&q->putters_, w);
    announce(q, &q->putters_waiting_, q->ring_);
    rc = store_put(q, ref->item); /* a ring getter may have made room unseen */
    if (rc != CONC_EAGAIN)
        conc__waitq_remove(&q->putters_, w);
    return rc;
}

/* Under the lock: get, else queue w as a getter the putters will serve.
 * Returns CONC_EAGAIN when w was queued. */
static int get_or_queue(conc_queue_t *q, void *out, conc__waiter_t *w, bool wait)
{
    int rc = store_get(q, out);

    if (rc == CONC_EAGAIN && closed_and_drained(q))
        return CONC_ECLOSED;
    if (rc != CONC_EAGAIN || !wait)
        return rc;
    conc__waiter_init(w);
    w->ptr = out;
    conc__waitq_push(&q->getters_, w);
    announce(q, &q->getters_waiting_, q->ring_);
    /* A ring put may have published unseen, and a fast getter may then have
     * taken the last item of a shut-down queue: look once more. */
    rc = store_get(q, out);
    if (rc == CONC_EAGAIN && closed_and_drained(q))
        rc = CONC_ECLOSED;
    if (rc != CONC_EAGAIN)
        conc__waitq_remove(&q->getters_, w);
    return rc;
}

/* The lock-protected path: every LIFO and priority operation, and a FIFO
 * operation that has to wait. A put when item is not NULL, else a get into
 * out. deadline: the caller's, taken when it first found it must wait. */
static int slow_path(conc_queue_t *q, const void *item, void *out, bool wait, int64_t deadline)
{
    conc__wakelist_t wl = CONC__WAKELIST_INIT;
    struct put_ref ref = { item };
    conc__waiter_t w;

    conc__os_lock(conc__queue_lock(q));
    int rc = item ? put_or_queue(q, &ref, &w, wait) : get_or_queue(q, out, &w, wait);
    if (rc == CONC_EAGAIN && wait) {
        w.what = item ? "queue put" : "queue get";
        return conc__waiter_sleep(&w, item ? &q->putters_ : &q->getters_, conc__queue_lock(q),
                                  deadline, true);
    }
    if (rc == 0)
        settle(q, &wl);
    conc__os_unlock(conc__queue_lock(q));
    conc__wakelist_run(&wl);
    return rc;
}

/* ---- put and get ------------------------------------------------------------ */

int conc_queue_put(conc_queue_t *q, const void *item, int64_t timeout_ns)
{
    int64_t deadline;

    if (!valid(q) || !item)
        return CONC_EINVAL;
    if (CONC_LIKELY(q->ring_)) {
        int rc = ring_put(q, item);
        if (rc != CONC_EAGAIN || timeout_ns == CONC_NOWAIT)
            return rc;
        /* The one deadline of this call, taken before any waiting. */
        deadline = conc__deadline(timeout_ns);
        if ((rc = ring_spin(q, item, NULL, deadline)) != CONC_EAGAIN)
            return rc;
    } else {
        deadline = timeout_ns == CONC_NOWAIT ? 0 : conc__deadline(timeout_ns);
    }
    return slow_path(q, item, NULL, timeout_ns != CONC_NOWAIT, deadline);
}

int conc_queue_try_put(conc_queue_t *q, const void *item)
{
    return conc_queue_put(q, item, CONC_NOWAIT);
}

int conc_queue_get(conc_queue_t *q, void *out, int64_t timeout_ns)
{
    int64_t deadline;

    if (!valid(q) || !out)
        return CONC_EINVAL;
    if (CONC_LIKELY(q->ring_)) {
        int rc = ring_get(q, out);
        if (rc == 0)
            return 0;
        if (timeout_ns == CONC_NOWAIT)
            return closed_and_drained(q) ? CONC_ECLOSED : CONC_EAGAIN;
        /* The one deadline of this call, taken before any waiting. */
        deadline = conc__deadline(timeout_ns);
        if (!closed_and_drained(q) && ring_spin(q, NULL, out, deadline) == 0)
            return 0;
    } else {
        deadline = timeout_ns == CONC_NOWAIT ? 0 : conc__deadline(timeout_ns);
    }
    return slow_path(q, NULL, out, timeout_ns != CONC_NOWAIT, deadline);
}

int conc_queue_try_get(conc_queue_t *q, void *out)
{
    return conc_queue_get(q, out, CONC_NOWAIT);
}

/* ---- batches ---------------------------------------------------------------- */

/* The locked stores (LIFO, priority, the FIFO of one slot): up to n puts
 * from items, or gets into out when items is NULL, then the hand-offs. How
 * many; *rc the store's answer to the last one tried. */
static size_t locked_batch(conc_queue_t *q, const unsigned char *items, unsigned char *out,
                           size_t n, int *rc)
{
    conc__wakelist_t wl = CONC__WAKELIST_INIT;
    size_t done = 0;

    conc__os_lock(conc__queue_lock(q));
    while (done < n && (*rc = items ? store_put(q, items + done * q->item_size_)
                                    : store_get(q, out + done * q->item_size_)) == 0)
        done++;
    if (done > 0)
        settle(q, &wl);
    conc__os_unlock(conc__queue_lock(q));
    conc__wakelist_run(&wl);
    return done;
}

/* Put what fits now, without waiting, from items[0..count): how many went
 * in; *rc as conc__ring_put_many(). */
static size_t put_now(conc_queue_t *q, const unsigned char *items, size_t count, int *rc)
{
    if (!q->ring_)
        return locked_batch(q, items, NULL, count, rc);
    size_t n = conc__ring_put_many(q, items, count, rc);
    if (n > 0 && conc__handshake_load(&q->getters_waiting_))
        settle_unlocked(q);
    return n;
}

/* Get what is there now, without waiting, into out[0..max): how many. */
static size_t get_now(conc_queue_t *q, unsigned char *out, size_t max)
{
    int rc;

    if (!q->ring_)
        return locked_batch(q, NULL, out, max, &rc);
    size_t n = conc__ring_get_many(q, out, max);
    if (n > 0 && conc__handshake_load(&q->putters_waiting_))
        settle_unlocked(q);
    return n;
}

/* One put that may wait, up to a deadline the caller already took. */
static int put_until(conc_queue_t *q, const void *item, int64_t deadline)
{
    if (q->ring_) {
        int rc = ring_spin(q, item, NULL, deadline);
        if (rc != CONC_EAGAIN)
            return rc;
    }
    return slow_path(q, item, NULL, true, deadline);
}

int conc_queue_put_many(conc_queue_t *q, const void *items, size_t count, size_t *put,
                        int64_t timeout_ns)
{
    const unsigned char *next = items;
    int64_t deadline = 0;
    bool have_deadline = false;
    size_t done = 0;
    int rc = 0;

    if (put)
        *put = 0;
    if (!valid(q) || !items || !put || count > SIZE_MAX / q->item_size_)
        return CONC_EINVAL;
    while (done < count) {
        size_t n = put_now(q, next, count - done, &rc);
        done += n;
        next += n * q->item_size_;
        if (n > 0)
            continue; /* room may be left: look again before any waiting */
        if (rc != CONC_EAGAIN || timeout_ns == CONC_NOWAIT)
            break;
        if (!have_deadline) {
            /* The one deadline of this call, taken before any waiting. */
            deadline = conc__deadline(timeout_ns);
            have_deadline = true;
        }
        if ((rc = put_until(q, next, deadline)) != 0)
            break;
        done++;
        next += q->item_size_;
    }
    *put = done;
    return done == count ? 0 : rc;
}

int conc_queue_get_many(conc_queue_t *q, void *out, size_t max, size_t *got, int64_t timeout_ns)
{
    unsigned char *dst = out;

    if (got)
        *got = 0;
    if (!valid(q) || !out || !got || max == 0 || max > SIZE_MAX / q->item_size_)
        return CONC_EINVAL;
    size_t n = get_now(q, dst, max);
    if (n == 0) {
        /* Nothing now: wait for one item like a plain get (which also says
         * CONC_ECLOSED for a drained, shut-down queue), then take what
         * came with it. */
        int rc = conc_queue_get(q, dst, timeout_ns);
        if (rc != 0)
            return rc;
        n = 1 + (max > 1 ? get_now(q, dst + q->item_size_, max - 1) : 0);
    }
    *got = n;
    return 0;
}

int conc_queue_peek(conc_queue_t *q, void *out)
{
    int rc = CONC_EAGAIN;

    if (!valid(q) || !out)
        return CONC_EINVAL;
    if (q->ring_) {
        rc = conc__ring_peek(q, out);
    } else {
        conc__os_lock(conc__queue_lock(q));
        uint64_t n = conc_queue_qsize(q);
        if (n > 0) {
            uint64_t top = q->kind_ == CONC_QUEUE_PRIORITY ? 0 : n - 1;
            memcpy(out, conc__queue_item(q, top), q->item_size_);
            rc = 0;
        }
        conc__os_unlock(conc__queue_lock(q));
    }
    if (rc == CONC_EAGAIN && closed_and_drained(q))
        rc = CONC_ECLOSED;
    return rc;
}

/* ---- size ------------------------------------------------------------------- */

size_t conc_queue_qsize(const conc_queue_t *q)
{
    if (!valid(q))
        return 0;
    /* head first: it never passes the tail read after it. */
    uint64_t head = CONC__QUEUE_COUNT(atomic_load_explicit(&q->head_, memory_order_acquire));
    uint64_t tail = CONC__QUEUE_COUNT(atomic_load_explicit(&q->tail_, memory_order_acquire));
    uint64_t n = tail > head ? tail - head : 0;

    return n < q->capacity_ ? (size_t)n : q->capacity_;
}

bool conc_queue_empty(const conc_queue_t *q)
{
    return conc_queue_qsize(q) == 0;
}

bool conc_queue_full(const conc_queue_t *q)
{
    return valid(q) && conc_queue_qsize(q) == q->capacity_;
}

/* ---- task accounting -------------------------------------------------------- */

/* done_ never exceeds the put count, so equal counts read in this order
 * (done first) were equal at the moment the tail was read. */
static bool all_done(const conc_queue_t *q)
{
    uint64_t done = atomic_load_explicit(&q->done_, memory_order_seq_cst);

    return done == CONC__QUEUE_COUNT(atomic_load_explicit(&q->tail_, memory_order_seq_cst));
}

/* Under the lock. */
static void release_joiners(conc_queue_t *q, conc__wakelist_t *wl)
{
    if (!conc__waitq_empty(&q->joiners_) && all_done(q))
        conc__waitq_wake_n(&q->joiners_, -1, 0, wl);
    if (conc__waitq_empty(&q->joiners_))
        atomic_store_explicit(&q->joiners_waiting_, 0, memory_order_relaxed);
}

int conc_queue_task_done(conc_queue_t *q)
{
    if (!valid(q))
        return CONC_EINVAL;
    uint64_t done = atomic_load_explicit(&q->done_, memory_order_relaxed);
    uint64_t puts;
    do {
        puts = CONC__QUEUE_COUNT(atomic_load_explicit(&q->tail_, memory_order_relaxed));
        if (done >= puts)
            return CONC_EOVERFLOW;
    } while (!atomic_compare_exchange_weak_explicit(&q->done_, &done, done + 1,
                                                    memory_order_seq_cst, memory_order_relaxed));
    if (done + 1 == puts && atomic_load_explicit(&q->joiners_waiting_, memory_order_seq_cst)) {
        conc__wakelist_t wl = CONC__WAKELIST_INIT;

        conc__os_lock(conc__queue_lock(q));
        release_joiners(q, &wl);
        conc__os_unlock(conc__queue_lock(q));
        conc__wakelist_run(&wl);
    }
    return 0;
}

int conc_queue_join(conc_queue_t *q, int64_t timeout_ns)
{
    if (!valid(q))
        return CONC_EINVAL;
    if (all_done(q))
        return 0;
    if (timeout_ns == CONC_NOWAIT)
        return CONC_EAGAIN;

    int64_t deadline = conc__deadline(timeout_ns);
    conc__waiter_t w;

    conc__os_lock(conc__queue_lock(q));
    conc__waiter_init(&w);
    conc__waitq_push(&q->joiners_, &w);
    announce(q, &q->joiners_waiting_, false);
    if (all_done(q)) {
        conc__waitq_remove(&q->joiners_, &w);
        conc__os_unlock(conc__queue_lock(q));
        return 0;
    }
    /* Woken with 0 only by a waker that saw no unfinished task. */
    w.what = "queue join";
    return conc__waiter_sleep(&w, &q->joiners_, conc__queue_lock(q), deadline, true);
}

/* ---- shutdown --------------------------------------------------------------- */

/* Under the lock, after the closed bit froze the put count: remove every item
 * left and count it done. A ring put that claimed its slot before the
 * shutdown is copying its item in: wait the few instructions it takes. */
static void discard_all(conc_queue_t *q, conc__wakelist_t *wl)
{
    uint64_t end = CONC__QUEUE_COUNT(atomic_load_explicit(&q->tail_, memory_order_relaxed));
    uint64_t n = 0;

    while (CONC__QUEUE_COUNT(atomic_load_explicit(&q->head_, memory_order_relaxed)) < end) {
        if (store_get(q, NULL) == 0)
            n++;
        else
            conc__os_thread_yield();
    }
    if (n) {
        /* task_done() may have run ahead of the gets (Python allows it up
         * to the put count): count only the tasks still unfinished, so that
         * done_ never passes the put count and all_done() can hold. */
        uint64_t done = atomic_load_explicit(&q->done_, memory_order_relaxed), add;
        do {
            add = end - done < n ? end - done : n;
        } while (!atomic_compare_exchange_weak_explicit(
            &q->done_, &done, done + add, memory_order_seq_cst, memory_order_relaxed));
        release_joiners(q, wl);
    }
}

int conc_queue_shutdown(conc_queue_t *q, bool immediate)
{
    conc__wakelist_t wl = CONC__WAKELIST_INIT;

    if (!valid(q))
        return CONC_EINVAL;
    conc__os_lock(conc__queue_lock(q));
    atomic_fetch_or_explicit(&q->tail_, CONC__QUEUE_CLOSED, memory_order_seq_cst);
    conc__waitq_wake_n(&q->putters_, -1, CONC_ECLOSED, &wl);
    if (immediate)
        discard_all(q, &wl);
    settle(q, &wl);
    conc__os_unlock(conc__queue_lock(q));
    conc__wakelist_run(&wl);
    return 0;
}
