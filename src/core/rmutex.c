/*
 * The recursive mutex: a plain mutex plus the owner's lock count. Only the
 * owner reads or writes depth_, and ownership passes through the mutex's
 * acquire/release, so depth_ needs no atomics of its own.
 */
#include "mutex_internal.h"

int conc_rmutex_init(conc_rmutex_t *r)
{
    if (!r)
        return CONC_EINVAL;
    r->depth_ = 0;
    return conc_mutex_init(&r->mutex_);
}

int conc_rmutex_destroy(conc_rmutex_t *r)
{
    return r ? conc_mutex_destroy(&r->mutex_) : CONC_EINVAL;
}

/* rc is the plain mutex's answer for me: 0 newly locked, CONC_EDEADLK
 * already mine (one level deeper), anything else an error. */
static int count_lock(conc_rmutex_t *r, int rc)
{
    if (rc == 0) {
        r->depth_ = 1;
        return 0;
    }
    if (rc != CONC_EDEADLK)
        return rc;
    if (r->depth_ == CONC_RMUTEX_DEPTH_MAX)
        return CONC_EOVERFLOW;
    r->depth_++;
    return 0;
}

int conc_rmutex_lock(conc_rmutex_t *r)
{
    uintptr_t me = conc__context_id();

    if (CONC_LIKELY(r != NULL && conc__mutex_cas_lock(&r->mutex_, me))) {
        r->depth_ = 1;
        return 0;
    }
    if (!r)
        return CONC_EINVAL;
    return count_lock(r, conc__mutex_lock_until(&r->mutex_, me, CONC_FOREVER, true));
}

int conc_rmutex_trylock(conc_rmutex_t *r)
{
    if (!r)
        return CONC_EINVAL;
    return count_lock(r, conc__mutex_try(&r->mutex_, conc__context_id()));
}

int conc_rmutex_timedlock(conc_rmutex_t *r, int64_t timeout_ns)
{
    if (timeout_ns == CONC_NOWAIT)
        return conc_rmutex_trylock(r);
    if (!r)
        return CONC_EINVAL;
    return count_lock(r, conc__mutex_lock_until(&r->mutex_, conc__context_id(),
                                                conc__deadline(timeout_ns), true));
}

int conc_rmutex_unlock(conc_rmutex_t *r)
{
    uintptr_t me;

    if (!r)
        return CONC_EINVAL;
    me = conc__context_id();
    if (conc__mutex_owner(&r->mutex_) != me)
        return CONC_EPERM;
    CONC_ASSERT(r->depth_ >= 1);
    if (--r->depth_ > 0)
        return 0;
    if (CONC_LIKELY(conc__mutex_cas_unlock(&r->mutex_, me)))
        return 0;
    return conc__mutex_unlock_as(&r->mutex_, me);
}

bool conc_rmutex_locked(conc_rmutex_t *r)
{
    return r && conc_mutex_locked(&r->mutex_);
}

bool conc_rmutex_owned_by_me(conc_rmutex_t *r)
{
    return r && conc_mutex_owned_by_me(&r->mutex_);
}

uint32_t conc_rmutex_depth(conc_rmutex_t *r)
{
    return conc_rmutex_owned_by_me(r) ? r->depth_ : 0;
}

uint32_t conc__rmutex_release_all(conc_rmutex_t *r, uintptr_t me)
{
    uint32_t depth = r->depth_;

    CONC_ASSERT(conc__mutex_owner(&r->mutex_) == me && depth >= 1);
    r->depth_ = 0;
    conc__mutex_unlock_as(&r->mutex_, me);
    return depth;
}

int conc__rmutex_restore(conc_rmutex_t *r, uintptr_t me, uint32_t depth)
{
    /* Not cancellable: a condition wait returns holding its mutex. */
    int rc = conc__mutex_lock_until(&r->mutex_, me, CONC_FOREVER, false);

    if (rc == 0)
        r->depth_ = depth;
    return rc;
}
