/*
 * What the thread pool (and later the event loop) needs of futures beyond
 * the public API.
 */
#ifndef CONC_CORE_FUTURE_INTERNAL_H
#define CONC_CORE_FUTURE_INTERNAL_H

#include "conc/future.h"

/*
 * Initialise f as pending and *bound* to a producer that keeps a pointer to
 * it (a queued pool item). The producer lets go of it by completing it
 * (set_result/set_error) or by calling set_running() once it was cancelled
 * (which returns CONC_ECANCELED); until then conc_future_destroy() of the
 * cancelled future waits, so the item never points to freed memory.
 */
void conc__future_init_bound(conc_future_t *f);

#endif /* CONC_CORE_FUTURE_INTERNAL_H */
