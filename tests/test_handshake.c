/*
 * The queue's fast-path/sleeper handshake (core/handshake.h): the mode is
 * chosen before any queue operation, and a process barrier that starts to
 * fail after it was set up (a seccomp filter installed later) makes the
 * process fall back to barriers on both sides without losing an item or a
 * wake-up.
 */
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/queue_internal.h"
#include "helpers.h"

static void the_mode_is_chosen_by_the_first_queue_init(void **state)
{
    conc_queue_t q;

    (void)state;
    assert_rc(0, conc_queue_init(&q, sizeof(int), 4, NULL));
    int mode = atomic_load(&conc__handshake_mode);
    assert_true(mode == 1 || mode == -1);
    assert_rc(0, conc_queue_destroy(&q));
    assert_int_equal(mode, atomic_load(&conc__handshake_mode)); /* for good */
}

/* Make membarrier() fail with EPERM from now on, in this process. The
 * architecture word of the filter is the one this binary runs as: only x86
 * ever uses the barrier (core/handshake_x86.c). */
static bool forbid_membarrier(void)
{
    const unsigned arch = sizeof(void *) == 8 ? 0xC000003Eu  /* AUDIT_ARCH_X86_64 */
                                              : 0x40000003u; /* AUDIT_ARCH_I386 */
    struct sock_filter code[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, arch, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_membarrier, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = { sizeof code / sizeof code[0], code };

    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
        prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0)
        return false;
    /* In effect only if the call itself now fails (not under an emulator
     * that filters its own calls, for one). */
    return syscall(SYS_membarrier, 0 /* MEMBARRIER_CMD_QUERY */, 0, 0) == -1 && errno == EPERM;
}

enum { ITEMS = 20000 };

static void *consume(void *arg)
{
    static uint64_t sum;
    uint64_t v;

    sum = 0;
    for (int i = 0; i < ITEMS; i++) {
        if (conc_queue_get(arg, &v, CONC_SEC(30)) != 0)
            return NULL;
        sum += v;
    }
    return &sum;
}

/* In the child: a thread feeds another through a queue of 2, so both sleep
 * over and over; the barrier fails at the first sleep. 0: every item
 * arrived once and the process fell back; 77: nothing to test here. */
static int child(void)
{
    conc_queue_t q;
    conc__os_thread_t th;
    void *sum = NULL;

    if (conc_queue_init(&q, sizeof(uint64_t), 2, NULL) != 0)
        return 2;
    if (atomic_load(&conc__handshake_mode) != 1 || !forbid_membarrier())
        return 77;
    if (conc__os_thread_start(&th, consume, &q, 0, false) != 0)
        return 3;
    for (uint64_t i = 1; i <= ITEMS; i++)
        if (conc_queue_put(&q, &i, CONC_SEC(30)) != 0)
            return 4;
    if (conc__os_thread_join(th, &sum) != 0 || !sum)
        return 5;
    if (*(uint64_t *)sum != (uint64_t)ITEMS * (ITEMS + 1) / 2)
        return 6;
    /* One sure sleep on the shared queue, whatever the spins caught. */
    uint64_t v;
    if (conc_queue_get(&q, &v, CONC_MS(20)) != CONC_ETIMEDOUT)
        return 8;
    return atomic_load(&conc__handshake_mode) == -1 ? 0 : 7;
}

static void a_failing_process_barrier_falls_back_and_loses_nothing(void **state)
{
    int status;

    (void)state;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(child());
    assert_int_equal(pid, waitpid(pid, &status, 0));
    assert_true(WIFEXITED(status));
    if (WEXITSTATUS(status) == 77)
        skip(); /* no process barrier in use, or no seccomp here */
    assert_int_equal(0, WEXITSTATUS(status));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_mode_is_chosen_by_the_first_queue_init),
        cmocka_unit_test(a_failing_process_barrier_falls_back_and_loses_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
