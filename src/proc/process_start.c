/*
 * Starting a child: a function in a forked copy (conc_process_start) or a
 * program (conc_process_spawn, posix_spawn). Both share the bookkeeping of
 * begin and commit: the sentinel is prepared before the child exists, and a
 * child whose sentinel cannot be attached is killed and reaped, never left
 * running unseen or as a zombie.
 */
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/waitq.h"
#include "process_internal.h"

extern char **environ;

static _Atomic unsigned process_counter;

static int error_from_errno(int e)
{
    switch (e) {
    case ENOMEM:
        return CONC_ENOMEM;
    case EAGAIN:
    case EMFILE:
    case ENFILE:
        return CONC_ELIMIT;
    case ENOENT:
    case ENOTDIR:
        return CONC_ENOENT; /* no such program */
    case EACCES:
    case EPERM:
        return CONC_EPERM; /* not executable, or not allowed */
    default:
        return CONC_EINVAL; /* ENOEXEC, ... */
    }
}

static void make_name(const conc_process_attr_t *attr, char name[CONC_PROCESS_NAME_MAX])
{
    if (attr && attr->name && attr->name[0]) {
        strncpy(name, attr->name, CONC_PROCESS_NAME_MAX - 1);
        name[CONC_PROCESS_NAME_MAX - 1] = '\0';
        return;
    }
    snprintf(name, CONC_PROCESS_NAME_MAX, "Process-%u",
             atomic_fetch_add_explicit(&process_counter, 1, memory_order_relaxed) + 1);
}

int conc__process_begin(conc_process_t *p, const conc_process_attr_t *attr, conc__os_sentinel_t *s,
                        char name[CONC_PROCESS_NAME_MAX])
{
    conc__os_lock(&p->lock_);
    int state = p->state_;
    conc__os_unlock(&p->lock_);
    if (state != CONC__PROC_NEW)
        return CONC_EBUSY;
    make_name(attr, name);
    return conc__os_sentinel_prepare(s);
}

int conc__process_commit(conc_process_t *p, conc__os_sentinel_t *s, pid_t pid,
                         const char name[CONC_PROCESS_NAME_MAX])
{
    int rc = conc__os_sentinel_attach(s, pid);

    if (rc != 0) {
        kill(pid, SIGKILL);
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
        conc__os_sentinel_close(s);
        return rc;
    }
    conc__os_lock(&p->lock_);
    p->pid_ = pid;
    p->status_ = 0;
    p->sentinel_ = s->fd;
    p->exact_ = s->exact;
    memcpy(p->name_, name, CONC_PROCESS_NAME_MAX);
    p->state_ = CONC__PROC_RUNNING;
    conc__os_unlock(&p->lock_);
    return 0;
}

/* The forked child: one thread, no loop (even when the parent forked from a
 * task, fn runs as a plain thread here), and _exit() so that nothing of the
 * parent's (atexit handlers, stdio buffers) runs twice. */
static _Noreturn void child_main(conc__os_sentinel_t *s, const char *name, conc_process_fn fn,
                                 void *arg)
{
    conc__context_t plain = { NULL, NULL };

    conc__os_sentinel_in_child(s);
    conc__context_switch(plain);
    conc__os_thread_set_name(name);
    _exit(fn(arg) & 0xff);
}

int conc_process_start(conc_process_t *p, const conc_process_attr_t *attr, conc_process_fn fn,
                       void *arg)
{
    char name[CONC_PROCESS_NAME_MAX];
    conc__os_sentinel_t s;

    if (!p || !fn)
        return CONC_EINVAL;
    int rc = conc__process_begin(p, attr, &s, name);
    if (rc != 0)
        return rc;
    pid_t pid = fork();
    if (pid == 0)
        child_main(&s, name, fn, arg);
    if (pid < 0) {
        rc = error_from_errno(errno);
        conc__os_sentinel_close(&s);
        return rc == CONC_EINVAL ? CONC_ELIMIT : rc;
    }
    return conc__process_commit(p, &s, pid, name);
}

/* Every signal at its default action and none blocked: the program starts
 * as from a shell, whatever the calling thread has set up. */
static int spawn_attr_init(posix_spawnattr_t *sa)
{
    sigset_t none, all;

    sigemptyset(&none);
    sigfillset(&all);
    int rc = posix_spawnattr_init(sa);
    if (rc != 0)
        return rc;
    if ((rc = posix_spawnattr_setsigmask(sa, &none)) != 0 ||
        (rc = posix_spawnattr_setsigdefault(sa, &all)) != 0 ||
        (rc = posix_spawnattr_setflags(sa, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF)) != 0)
        posix_spawnattr_destroy(sa);
    return rc;
}

static int spawn_child(pid_t *pid, const conc__os_sentinel_t *s, const char *path,
                       char *const argv[], char *const envp[])
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t sa;
    char *default_argv[] = { conc__unconst(path), NULL };

    int rc = posix_spawn_file_actions_init(&fa);
    if (rc != 0)
        return rc;
    /* Onto itself: clears close-on-exec, so the program keeps the pipe. */
    if (s->child_fd >= 0)
        rc = posix_spawn_file_actions_adddup2(&fa, s->child_fd, s->child_fd);
    if (rc == 0 && (rc = spawn_attr_init(&sa)) == 0) {
        argv = argv ? argv : default_argv;
        envp = envp ? envp : environ;
        if (strchr(path, '/'))
            rc = posix_spawn(pid, path, &fa, &sa, argv, envp);
        else
            rc = posix_spawnp(pid, path, &fa, &sa, argv, envp);
        posix_spawnattr_destroy(&sa);
    }
    posix_spawn_file_actions_destroy(&fa);
    return rc;
}

int conc_process_spawn(conc_process_t *p, const conc_process_attr_t *attr, const char *path,
                       char *const argv[], char *const envp[])
{
    char name[CONC_PROCESS_NAME_MAX];
    conc__os_sentinel_t s;
    pid_t pid;

    if (!p || !path || !path[0])
        return CONC_EINVAL;
    int rc = conc__process_begin(p, attr, &s, name);
    if (rc != 0)
        return rc;
    rc = spawn_child(&pid, &s, path, argv, envp);
    if (rc != 0) {
        conc__os_sentinel_close(&s);
        return error_from_errno(rc);
    }
    return conc__process_commit(p, &s, pid, name);
}
