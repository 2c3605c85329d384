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
#include "conc/thread.h"
#include "conc/mutex.h"
#include "conc/cond.h"
#include "conc/sem.h"
#include "conc/event.h"
#include "conc/flags.h"
#include "conc/barrier.h"
#include "conc/queue.h"
#include "conc/timer.h"
#include "conc/future.h"
#include "conc/pool.h"
#include "conc/coro.h"
#include "conc/io.h"
#include "conc/loop.h"
#include "conc/task.h"
#include "conc/taskio.h"
#include "conc/process.h"
#include "conc/pipe.h"
#include "conc/shmqueue.h"
#include "conc/procpool.h"

#endif /* CONC_H */
