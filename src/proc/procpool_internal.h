/*
 * The process pool's test seam. Not installed.
 */
#ifndef CONC_PROC_PROCPOOL_INTERNAL_H
#define CONC_PROC_PROCPOOL_INTERNAL_H

/* When set, called before a dead worker is replaced; a non-zero return is
 * taken as the replacement's start error (as if fork() had failed). Tests
 * use it to reach the "no worker can be started" path, which a real
 * system only reaches when out of processes or descriptors. */
extern int (*conc__procpool_restart_fault)(void);

#endif /* CONC_PROC_PROCPOOL_INTERNAL_H */
