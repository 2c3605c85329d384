/*
 * The system calls behind conc_io_t's reads and writes, on POSIX systems
 * other than Linux and in sanitizer builds (src/os/meson.build): the C
 * library's own calls (sysio_linux.c says why Linux bypasses them).
 */
#include <sys/socket.h>
#include <unistd.h>

#include "os.h"

ssize_t conc__os_sys_read(int fd, void *buf, size_t cap)
{
    return read(fd, buf, cap);
}

ssize_t conc__os_sys_recv(int fd, void *buf, size_t cap)
{
    return recv(fd, buf, cap, 0);
}

ssize_t conc__os_sys_send(int fd, const void *buf, size_t len)
{
    return send(fd, buf, len, MSG_NOSIGNAL);
}

ssize_t conc__os_sys_write(int fd, const void *buf, size_t len)
{
    return write(fd, buf, len);
}
