/* The end-of-child sentinel where the OS has no process descriptor: always
 * the pipe (sentinel_pipe.c). */
#include "sentinel.h"

_Atomic bool conc__os_sentinel_force_pipe;

int conc__os_sentinel_prepare(conc__os_sentinel_t *s)
{
    return conc__os_pipe_sentinel_prepare(s);
}

void conc__os_sentinel_in_child(conc__os_sentinel_t *s)
{
    conc__os_pipe_sentinel_in_child(s);
}

int conc__os_sentinel_attach(conc__os_sentinel_t *s, pid_t pid)
{
    return conc__os_pipe_sentinel_attach(s, pid);
}

void conc__os_sentinel_close(conc__os_sentinel_t *s)
{
    conc__os_pipe_sentinel_close(s);
}
