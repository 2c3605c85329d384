/*
 * What the event loop's deadlock check needs to know about the rest of the
 * process: could anything outside the loop still act? Kept by the core, read
 * by src/loop/ (the dependency points down).
 */
#ifndef CONC_CORE_ACTIVITY_H
#define CONC_CORE_ACTIVITY_H

#include "internal.h"

/* Threads known to libconc that are parked without a deadline in a wait
 * queue (waitq.c). */
extern _Atomic long conc__parked_forever;
/* Pool work items submitted and not yet finished or dropped (pool.c). */
extern _Atomic long conc__pool_items;

/* True when the timer service has nothing pending and runs no callback. */
bool conc__timer_service_idle(void);

/*
 * True when something other than the calling thread may still act: a
 * thread known to libconc (created by conc_thread_create(), the main thread,
 * or any thread that called a conc_thread_* function) that is not parked
 * forever, pool work in progress, or a pending timer. Threads libconc has
 * never seen are invisible to it (docs/loop.md).
 */
bool conc__others_may_act(void);

#endif /* CONC_CORE_ACTIVITY_H */
