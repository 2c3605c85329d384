/* POSIX shared memory (shm_open, mmap) and robust process-shared mutexes. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shm.h"

_Static_assert(sizeof(pthread_mutex_t) <= sizeof(conc__os_robust_lock_t),
               "conc__os_robust_lock_t too small for pthread_mutex_t");

static int code_of(int err)
{
    switch (err) {
    case EEXIST:
        return CONC_EEXIST;
    case ENOENT:
        return CONC_ENOENT;
    case EACCES:
    case EPERM:
        return CONC_EPERM;
    case ENOMEM:
    case ENOSPC:
    case EFBIG:
        return CONC_ENOMEM;
    case EMFILE:
    case ENFILE:
        return CONC_ELIMIT;
    default:
        return CONC_EINVAL; /* ENAMETOOLONG, EINVAL */
    }
}

int conc__os_shm_anon(size_t size, void **out)
{
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

    if (p == MAP_FAILED)
        return CONC_ENOMEM;
    *out = p;
    return 0;
}

static int map_fd(int fd, size_t size, void **out)
{
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

    if (p == MAP_FAILED)
        return code_of(errno);
    *out = p;
    return 0;
}

int conc__os_shm_create(const char *name, size_t size, void **out)
{
    int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

    if (fd < 0)
        return code_of(errno);
    int rc = ftruncate(fd, (off_t)size) == 0 ? map_fd(fd, size, out) : code_of(errno);
    close(fd);
    if (rc != 0)
        shm_unlink(name);
    return rc;
}

int conc__os_shm_open(const char *name, void **out, size_t *size)
{
    struct stat st;
    int fd = shm_open(name, O_RDWR | O_CLOEXEC, 0);

    if (fd < 0)
        return code_of(errno);
    int rc = fstat(fd, &st) == 0 ? 0 : code_of(errno);
    if (rc == 0 && st.st_size <= 0)
        rc = CONC_EAGAIN; /* created, not sized yet */
    if (rc == 0)
        rc = map_fd(fd, (size_t)st.st_size, out);
    close(fd);
    if (rc == 0)
        *size = (size_t)st.st_size;
    return rc;
}

void conc__os_shm_unmap(void *p, size_t size)
{
    munmap(p, size);
}

int conc__os_shm_unlink(const char *name)
{
    return shm_unlink(name) == 0 ? 0 : code_of(errno);
}

/* glibc refuses a robust mutex (ENOTSUP) where the kernel, or an emulator
 * such as qemu-user, has no robust futex list. */
static int init_error(int err)
{
    switch (err) {
    case 0:
        return 0;
    case ENOTSUP:
        return CONC_ENOTSUP;
    case ENOMEM:
    case EAGAIN:
        return CONC_ENOMEM;
    default:
        return CONC_EINVAL;
    }
}

int conc__os_robust_lock_init(conc__os_robust_lock_t *l)
{
    pthread_mutexattr_t a;
    int rc = CONC_ENOTSUP;

    if (pthread_mutexattr_init(&a) != 0)
        return CONC_ENOMEM;
    if (pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED) == 0 &&
        pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST) == 0)
        rc = init_error(pthread_mutex_init((pthread_mutex_t *)(void *)l->opaque, &a));
    pthread_mutexattr_destroy(&a);
    return rc;
}

/* With a deadline: try, then retry with growing naps (20 us up to 1 ms)
 * until it passes. Why not pthread_mutex_timedlock(): besides its
 * CLOCK_REALTIME deadline, sanitizers (TSan) do not treat its EOWNERDEAD as
 * an acquisition, so the recovered lock's unlock is reported as a bug; the
 * lock is held only for a copy, so a timed wait for it is rare and short
 * (unless its holder is stopped, which is what the deadline is for). */
static int lock_until(pthread_mutex_t *m, int64_t deadline_ns)
{
    int64_t nap = CONC_US(20);

    if (deadline_ns < 0)
        return pthread_mutex_lock(m);
    for (;;) {
        int rc = pthread_mutex_trylock(m);
        if (rc != EBUSY)
            return rc;
        int64_t now = conc_now_ns();
        if (now >= deadline_ns)
            return ETIMEDOUT;
        conc__os_sleep_until(deadline_ns - now < nap ? deadline_ns : now + nap);
        nap = nap * 2 < CONC_MS(1) ? nap * 2 : CONC_MS(1);
    }
}

int conc__os_robust_lock(conc__os_robust_lock_t *l, int64_t deadline_ns)
{
    pthread_mutex_t *m = (pthread_mutex_t *)(void *)l->opaque;
    int rc = lock_until(m, deadline_ns);

    if (rc == 0)
        return 0;
    if (rc == ETIMEDOUT)
        return CONC_ETIMEDOUT;
    if (rc == EOWNERDEAD) {
        pthread_mutex_consistent(m);
        return CONC__OS_LOCK_RECOVERED;
    }
    return CONC_EINVAL; /* ENOTRECOVERABLE cannot happen: we always repair */
}

void conc__os_robust_unlock(conc__os_robust_lock_t *l)
{
    pthread_mutex_unlock((pthread_mutex_t *)(void *)l->opaque);
}
