/* The calling process's identity and the CPUs it may use. */
#include <unistd.h>

#include "conc/process.h"
#include "os/os.h"

int64_t conc_process_self_id(void)
{
    return (int64_t)getpid();
}

int64_t conc_process_parent_id(void)
{
    return (int64_t)getppid();
}

int conc_cpu_count(void)
{
    return conc__os_cpu_count();
}
