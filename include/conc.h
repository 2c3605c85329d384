/**
 * @file conc.h
 * @brief libconc: one header that includes every public module.
 *
 * Include this, or only the module headers you use (conc/thread.h, ...).
 * Link with `pkg-config --cflags --libs libconc`.
 */
#ifndef CONC_H
#define CONC_H

#include "conc/error.h"
#include "conc/time.h"

#endif /* CONC_H */
