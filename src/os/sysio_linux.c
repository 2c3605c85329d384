/*
 * The system calls behind conc_io_t's reads and writes, on Linux: made
 * with syscall(), which is not a thread cancellation point, instead of
 * through read() and send(), which are.
 *
 * Why: glibc wraps every cancellation point of a multi-threaded process in
 * two atomic read-modify-writes (enabling, then disabling, asynchronous
 * cancellation), which cost about as much as the rest of a task's read. The
 * descriptors these calls serve are non-blocking, so the calls never wait
 * and a cancellation could never act inside them; and a cancellation acting
 * inside a task would unwind a coroutine's stack, which libconc does not
 * support (docs/loop.md). What the kernel does is the same.
 */
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "os.h"

ssize_t conc__os_sys_read(int fd, void *buf, size_t cap)
{
    return syscall(SYS_read, fd, buf, cap);
}

ssize_t conc__os_sys_recv(int fd, void *buf, size_t cap)
{
    return syscall(SYS_recvfrom, fd, buf, cap, 0, NULL, NULL);
}

ssize_t conc__os_sys_send(int fd, const void *buf, size_t len)
{
    return syscall(SYS_sendto, fd, buf, len, MSG_NOSIGNAL, NULL, 0);
}

ssize_t conc__os_sys_write(int fd, const void *buf, size_t len)
{
    return syscall(SYS_write, fd, buf, len);
}
