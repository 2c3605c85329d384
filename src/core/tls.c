/*
 * Thread-local storage with destructors (conc_tls_*), libconc's own rather
 * than the OS's keys, so that the destructors of a libconc thread run in its
 * exit path, before join returns, and keys can be checked.
 *
 * A key is a slot index plus the slot's generation. A slot's generation is
 * odd while a key uses it and is bumped at create and delete, so a deleted
 * key (or a zero one) never matches. Each thread keeps a table of
 * {value, generation}; a value counts only while its generation matches
 * the slot's, so values left behind by a deleted key are simply ignored.
 *
 * Threads not created by libconc run their destructors through one OS key,
 * armed when they first get a table.
 */
#include <stdlib.h>
#include <string.h>

#include "thread_internal.h"

struct key_slot {
    _Atomic uint32_t gen;
    _Atomic(conc_tls_destructor_fn) destructor;
};

struct tls_value {
    void *value;
    uint32_t gen;
};

static struct key_slot slots[CONC_TLS_KEYS_MAX];
static conc__os_lock_t slots_lock;

static conc__os_tls_key_t exit_key;
static bool exit_key_ready; /* under slots_lock; read after a key exists */

static _Thread_local struct tls_value *values;
static _Thread_local uint32_t nvalues;
static _Thread_local bool exit_armed;

static void exit_dtor(void *unused)
{
    (void)unused;
    exit_armed = false; /* the OS cleared the value before calling us */
    conc__tls_thread_exit();
}

static bool key_live(conc_tls_key_t key)
{
    return key.index_ < CONC_TLS_KEYS_MAX && (key.gen_ & 1u) &&
           atomic_load_explicit(&slots[key.index_].gen, memory_order_acquire) == key.gen_;
}

int conc_tls_create(conc_tls_key_t *key, conc_tls_destructor_fn destructor)
{
    int rc = CONC_ELIMIT;

    if (!key)
        return CONC_EINVAL;
    conc__os_lock(&slots_lock);
    if (!exit_key_ready)
        exit_key_ready = conc__os_tls_create(&exit_key, exit_dtor) == 0;
    for (uint32_t i = 0; exit_key_ready && i < CONC_TLS_KEYS_MAX; i++) {
        uint32_t gen = atomic_load_explicit(&slots[i].gen, memory_order_relaxed);

        if (gen & 1u)
            continue;
        /* The destructor first: whoever sees the new generation sees it. */
        atomic_store_explicit(&slots[i].destructor, destructor, memory_order_release);
        atomic_store_explicit(&slots[i].gen, gen + 1, memory_order_release);
        *key = (conc_tls_key_t){ i, gen + 1 };
        rc = 0;
        break;
    }
    conc__os_unlock(&slots_lock);
    return rc;
}

int conc_tls_delete(conc_tls_key_t key)
{
    int rc = CONC_EINVAL;

    conc__os_lock(&slots_lock);
    if (key_live(key)) {
        atomic_store_explicit(&slots[key.index_].gen, key.gen_ + 1, memory_order_release);
        atomic_store_explicit(&slots[key.index_].destructor, NULL, memory_order_release);
        rc = 0;
    }
    conc__os_unlock(&slots_lock);
    return rc;
}

int conc_tls_get(conc_tls_key_t key, void **value)
{
    if (!value || !key_live(key))
        return CONC_EINVAL;
    if (key.index_ < nvalues && values[key.index_].gen == key.gen_)
        *value = values[key.index_].value;
    else
        *value = NULL;
    return 0;
}

/* Make room for index in this thread's table; the first table also arms
 * the exit key, so a thread libconc did not create runs its destructors. */
static int grow(uint32_t index)
{
    uint32_t n = nvalues ? nvalues : 8;
    struct tls_value *v;

    while (n <= index)
        n *= 2;
    if (n > CONC_TLS_KEYS_MAX)
        n = CONC_TLS_KEYS_MAX;
    v = realloc(values, n * sizeof *v);
    if (!v)
        return CONC_ENOMEM;
    memset(v + nvalues, 0, (n - nvalues) * sizeof *v);
    values = v;
    nvalues = n;
    if (!exit_armed)
        exit_armed = conc__os_tls_set(exit_key, v) == 0;
    return 0;
}

int conc_tls_set(conc_tls_key_t key, void *value)
{
    if (!key_live(key))
        return CONC_EINVAL;
    if (key.index_ >= nvalues) {
        if (!value)
            return 0; /* NULL is what an absent value reads as */
        int rc = grow(key.index_);
        if (rc)
            return rc;
    }
    values[key.index_] = (struct tls_value){ value, key.gen_ };
    return 0;
}

/* The destructor of slot i if its key is still the one of generation gen;
 * a concurrent delete makes the two loads of gen differ. */
static conc_tls_destructor_fn destructor_of(uint32_t i, uint32_t gen)
{
    conc_tls_destructor_fn d;

    if (atomic_load_explicit(&slots[i].gen, memory_order_acquire) != gen)
        return NULL;
    d = atomic_load_explicit(&slots[i].destructor, memory_order_acquire);
    return atomic_load_explicit(&slots[i].gen, memory_order_relaxed) == gen ? d : NULL;
}

/* One pass over the table; destructors may set values (even grow the
 * table), so it is re-read after each call. Returns whether any ran. */
static bool destructor_pass(void)
{
    bool ran = false;

    for (uint32_t i = 0; i < nvalues; i++) {
        struct tls_value v = values[i];
        conc_tls_destructor_fn d;

        if (!v.value)
            continue;
        values[i].value = NULL;
        d = destructor_of(i, v.gen);
        if (d) {
            d(v.value);
            ran = true;
        }
    }
    return ran;
}

void conc__tls_thread_exit(void)
{
    if (!values)
        return;
    for (int round = 0; round < CONC_TLS_DESTRUCTOR_ITERATIONS; round++) {
        if (!destructor_pass())
            break;
    }
    free(values);
    values = NULL;
    nvalues = 0;
    if (exit_armed) {
        conc__os_tls_set(exit_key, NULL);
        exit_armed = false;
    }
}
