/*
 * Shared by the files of the process module. Not installed.
 */
#ifndef CONC_PROC_PROCESS_INTERNAL_H
#define CONC_PROC_PROCESS_INTERNAL_H

#include <sys/types.h>

#include "conc/process.h"
#include "os/sentinel.h"

/* conc_process_t.state_. A closed object is back at CONC__PROC_NEW. */
enum {
    CONC__PROC_NEW = 0,     /* never started, or closed */
    CONC__PROC_RUNNING = 1, /* started, not reaped yet */
    CONC__PROC_ENDED = 2,   /* reaped: status_ holds the exit code */
    CONC__PROC_LOST = 3,    /* reaped by someone else: status unknown */
};

/* Before starting: CONC_EBUSY when p is in use, else fills name (the
 * attribute's, or "Process-<n>") and prepares the sentinel. */
int conc__process_begin(conc_process_t *p, const conc_process_attr_t *attr, conc__os_sentinel_t *s,
                        char name[CONC_PROCESS_NAME_MAX]);
/* After a successful fork or spawn of pid: attach the sentinel and publish
 * the running child in p. Kills and reaps the child if the sentinel fails. */
int conc__process_commit(conc_process_t *p, conc__os_sentinel_t *s, pid_t pid,
                         const char name[CONC_PROCESS_NAME_MAX]);

#endif /* CONC_PROC_PROCESS_INTERNAL_H */
