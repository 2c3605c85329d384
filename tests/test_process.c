/*
 * Processes: every behaviour and error of conc/process.h. Lifecycle, exit
 * codes and signal deaths, join timeouts (never early), the sentinel in an
 * event loop, join from a task, spawned programs with their arguments,
 * environment and signal state, and bad input.
 *
 * Every test runs between a setup and a teardown that count the open
 * descriptors and require no child left behind: the table of descriptors is
 * the same after the test as before, and waitpid(-1) finds no child at all
 * (no zombie, no forgotten process). The lifecycle tests run twice: with the
 * platform's sentinel (a pidfd on Linux) and with the pipe sentinel that
 * other systems use.
 *
 * Children never call CMocka: they report through their exit code. Checks
 * inside tasks and helper threads are soft (CK) and counted, so a failure
 * never longjmps out of a coroutine.
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"
#include "os/sentinel.h"

static int use_pipe_sentinel(void **state)
{
    (void)state;
    atomic_store(&conc__os_sentinel_force_pipe, true);
    return 0;
}

static int use_default_sentinel(void **state)
{
    (void)state;
    atomic_store(&conc__os_sentinel_force_pipe, false);
    return 0;
}

/* ---- children ------------------------------------------------------------ */

static int return_arg(void *arg)
{
    return (int)(intptr_t)arg;
}

/* Blocks until the descriptor *arg gets a byte (or end of file), then
 * returns 3: a child that runs exactly as long as the test wants. */
static int wait_for_byte(void *arg)
{
    char c;
    ssize_t n;

    do
        n = read(*(int *)arg, &c, 1);
    while (n < 0 && errno == EINTR);
    return 3;
}

static int raise_segv(void *arg)
{
    (void)arg;
    signal(SIGSEGV, SIG_DFL); /* past a sanitizer's handler */
    raise(SIGSEGV);
    return 0;
}

static int call_abort(void *arg)
{
    (void)arg;
    abort();
}

struct ids {
    int64_t parent;
};

static int check_ids(void *arg)
{
    const struct ids *ids = arg;

    if (conc_process_parent_id() != ids->parent)
        return 1;
    if (conc_process_self_id() == ids->parent || conc_process_self_id() != getpid())
        return 2;
    return 0;
}

/* A gate for wait_for_byte(): the child gets the read end. */
struct gate {
    int fd[2];
};

static void gate_open(struct gate *g)
{
    assert_int_equal(0, pipe(g->fd));
}

static void gate_release(struct gate *g)
{
    assert_int_equal(1, write(g->fd[1], "x", 1));
}

static void gate_close(struct gate *g)
{
    close(g->fd[0]);
    close(g->fd[1]);
}

static void start_blocked(conc_process_t *p, struct gate *g)
{
    gate_open(g);
    assert_rc(0, conc_process_start(p, NULL, wait_for_byte, &g->fd[0]));
}

static int join_code(conc_process_t *p)
{
    int code = 12345;

    assert_rc(0, conc_process_join(p, CONC_FOREVER));
    assert_rc(0, conc_process_exitcode(p, &code));
    return code;
}

/* ---- lifecycle ----------------------------------------------------------- */

static void start_runs_the_function_in_a_child_and_join_reports_its_result(void **state)
{
    conc_process_t p = CONC_PROCESS_INIT;

    (void)state;
    assert_rc(0, conc_process_start(&p, NULL, return_arg, (void *)(intptr_t)42));
    assert_true(conc_process_pid(&p) > 0);
    assert_true(conc_process_pid(&p) != conc_process_self_id());
    assert_int_equal(0, strncmp(conc_process_name(&p), "Process-", 8));
    assert_true(conc_process_sentinel(&p) >= 0);
    assert_int_equal(42, join_code(&p));
    assert_false(conc_process_is_alive(&p));
    assert_true(conc_process_pid(&p) > 0); /* kept until close */
    assert_rc(0, conc_process_join(&p, CONC_NOWAIT));
    assert_rc(0, conc_process_join(&p, CONC_MS(10)));
    assert_rc(0, conc_process_close(&p));
    assert_int_equal(0, conc_process_pid(&p));
    assert_string_equal("", conc_process_name(&p));
    assert_rc(CONC_ESRCH, conc_process_join(&p, CONC_FOREVER));
}

static void exit_code_is_the_low_byte_of_the_result(void **state)
{
    static const int results[] = { 0, 1, 255, 256 + 7, -1 };
    static const int codes[] = { 0, 1, 255, 7, 255 };

    (void)state;
    for (size_t i = 0; i < sizeof results / sizeof results[0]; i++) {
        conc_process_t p = CONC_PROCESS_INIT;
        assert_rc(0, conc_process_start(&p, NULL, return_arg, (void *)(intptr_t)results[i]));
        assert_int_equal(codes[i], join_code(&p));
        assert_rc(0, conc_process_close(&p));
    }
}

static void default_names_count_up_and_given_names_are_kept_truncated(void **state)
{
    conc_process_t a = CONC_PROCESS_INIT, b = CONC_PROCESS_INIT;
    conc_process_attr_t attr = CONC_PROCESS_ATTR_INIT;
    char longname[100];
    unsigned na, nb;

    (void)state;
    assert_rc(0, conc_process_start(&a, NULL, return_arg, NULL));
    assert_rc(0, conc_process_start(&b, NULL, return_arg, NULL));
    assert_int_equal(1, sscanf(conc_process_name(&a), "Process-%u", &na));
    assert_int_equal(1, sscanf(conc_process_name(&b), "Process-%u", &nb));
    assert_int_equal(na + 1, nb);
    join_code(&a);
    join_code(&b);
    assert_rc(0, conc_process_close(&a));
    assert_rc(0, conc_process_close(&b));

    memset(longname, 'n', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    attr.name = longname;
    assert_rc(0, conc_process_start(&a, &attr, return_arg, NULL));
    assert_int_equal(CONC_PROCESS_NAME_MAX - 1, strlen(conc_process_name(&a)));
    assert_int_equal(0, strncmp(longname, conc_process_name(&a), CONC_PROCESS_NAME_MAX - 1));
    join_code(&a);
    assert_rc(0, conc_process_close(&a));

    attr.name = "worker";
    assert_rc(0, conc_process_start(&a, &attr, return_arg, NULL));
    assert_string_equal("worker", conc_process_name(&a));
    join_code(&a);
    assert_rc(0, conc_process_close(&a));
}

static void child_knows_its_own_and_its_parents_id(void **state)
{
    conc_process_t p = CONC_PROCESS_INIT;
    struct ids ids = { conc_process_self_id() };

    (void)state;
    assert_int_equal(getpid(), conc_process_self_id());
    assert_int_equal(getppid(), conc_process_parent_id());
    assert_rc(0, conc_process_start(&p, NULL, check_ids, &ids));
    assert_int_equal(0, join_code(&p));
    assert_rc(0, conc_process_close(&p));
}

static void start_on_a_process_not_closed_is_ebusy_and_close_allows_a_restart(void **state)
{
    conc_process_t p = CONC_PROCESS_INIT;
    struct gate g;

    (void)state;
    start_blocked(&p, &g);
    int64_t pid = conc_process_pid(&p);
    assert_rc(CONC_EBUSY, conc_process_start(&p, NULL, return_arg, NULL));
    assert_rc(CONC_EBUSY, conc_process_spawn(&p, NULL, "true", NULL, NULL));
    assert_int_equal(pid, conc_process_pid(&p)); /* untouched */
    gate_release(&g);
    assert_int_equal(3, join_code(&p));
    /* Ended but not closed: still busy. */
    assert_rc(CONC_EBUSY, conc_process_start(&p, NULL, return_arg, NULL));
    assert_rc(0, conc_process_close(&p));
    assert_rc(0, conc_process_start(&p, NULL, return_arg, (void *)(intptr_t)5));
    assert_int_equal(5, join_code(&p));
    assert_rc(0, conc_process_close(&p));
    gate_close(&g);
}

static void never_started_process_reports_esrch(void **state)
{
    conc_process_t p = CONC_PROCESS_INIT;
    int code = 77;

    (void)state;
    assert_rc(CONC_ESRCH, conc_process_join(&p, CONC_FOREVER));
    assert_rc(CONC_ESRCH, conc_process_join(&p, CONC_NOWAIT));
    assert_rc(CONC_ESRCH, conc_process_join(&p, CONC_MS(1)));
    assert_rc(CONC_ESRCH, conc_process_exitcode(&p, &code));
    assert_int_equal(77, code);
    assert_rc(CONC_ESRCH, conc_process_terminate(&p));
    assert_rc(CONC_ESRCH, conc_process_kill(&p));
    assert_rc(CONC_ESRCH, conc_process_sentinel(&p));
    assert_false(conc_process_is_alive(&p));
    assert_int_equal(0, conc_process_pid(&p));
    assert_string_equal("", conc_process_name(&p));
    assert_rc(0, conc_process_close(&p));
    assert_rc(0, conc_process_close(&p));
}

static void null_arguments_are_einval(void **state)
{
    conc_process_t p = CONC_PROCESS_INIT;
    int code;

    (void)state;
    assert_rc(CONC_EINVAL, conc_process_start(NULL, NULL, return_arg, NULL));
    assert_rc(CONC_EINVAL, conc_process_start(&p, NULL, NULL, NULL));
    assert_rc(CONC_EINVAL, conc_process_spawn(NULL, NULL, "true", NULL, NULL));
    assert_rc(CONC_EINVAL, conc_process_spawn(&p, NULL, NULL, NULL, NULL));
    assert_rc(CONC_EINVAL, conc_process_spawn(&p, NULL, "", NULL, NULL));
    assert_rc(CONC_EINVAL, conc_process_join(NULL, CONC_FOREVER));
    assert_rc(CONC_EINVAL, conc_process_exitcode(NULL, &code));
    assert_rc(CONC_EINVAL, conc_process_terminate(NULL));
    assert_rc(CONC_EINVAL, conc_process_kill(NULL));
    assert_rc(CONC_EINVAL, conc_process_close(NULL));
    assert_rc(CONC_EINVAL, conc_process_sentinel(NULL));
    assert_false(conc_process_is_alive(NULL));
    assert_int_equal(0, conc_process_pid(NULL));
    assert_null(conc_process_name(NULL));

    assert_rc(0, conc_process_start(&p, NULL, return_arg, NULL));
    assert_rc(CONC_EINVAL, conc_process_exitcode(&p, NULL));
    join_code(&p);
    assert_rc(0, conc_process_close(&p));
}

/* ---- signals -------------------------------------------------------------- */

static void kill_is_reported_as_minus_sigkill(void **state)
{
    conc_process_t p = CONC_PROCESS_INIT;
    struct gate g;
    int code;

    (void)state;
    start_blocked(&p, &g);
    assert_true(conc_process_is_alive(&p));
    assert_rc(0, conc_process_kill(&p));
    assert_int_equal(-SIGKILL, join_code(&p));
    /* An ended child is never signalled again. */
    assert_rc(0, conc_process_kill(&p));
    assert_rc(0, conc_process_terminate(&p));
    assert_rc(0, conc_process_exitcode(&p, &code));
    assert_int_equal(-SIGKILL, code);
    assert_rc(0, conc_process_close(&p));
    gate_close(&g);
}

static void terminate_is_reported_as_minus_sigterm(void **state)
{
    conc_process_t p = CONC_PROCESS_INIT;
    struct gate g;

    (void)state;
    start_blocked(&p, &g);
    assert_rc(0, conc_process_terminate(&p));
    assert_int_equal(-SIGTERM, join_code(&p));
    assert_rc(0, conc_process_close(&p));
    gate_close(&g);
}

static void child_crashing_reports_its_signal(void **state)
{
    conc_process_t p = CONC_PROCESS_INIT;

    (void)state;
    assert_rc(0, conc_process_start(&p, NULL, raise_segv, NULL));
    assert_int_equal(-SIGSEGV, join_code(&p));
    assert_rc(0, conc_process_close(&p));
    assert_rc(0, conc_process_start(&p, NULL, call_abort, NULL));
    assert_int_equal(-SIGABRT, join_code(&p));
    assert_rc(0, conc_process_close(&p));
}

static void child_reaped_elsewhere_ends_with_its_status_lost(void **state)
{
    conc_process_t p = CONC_PROCESS_INIT;
    int code = 77;

    (void)state;
    assert_rc(0, conc_process_start(&p, NULL, return_arg, (void *)(intptr_t)9));
    assert_int_equal(conc_process_pid(&p), waitpid((pid_t)conc_process_pid(&p), NULL, 0));
    assert_rc(0, conc_process_join(&p, CONC_FOREVER));
    assert_false(conc_process_is_alive(&p));
    assert_rc(CONC_ESRCH, conc_process_exitcode(&p, &code));
    assert_int_equal(77, code);
    assert_rc(0, conc_process_kill(&p)); /* nothing sent */
    assert_rc(0, conc_process_close(&p));
}

/* ---- join timeouts ------------------------------------------------------- */

static void join_of_a_running_child_times_out_never_early(void **state)
{
    static const int64_t timeouts[] = { CONC_MS(1), CONC_MS(20), CONC_MS(60) };
    conc_process_t p = CONC_PROCESS_INIT;
    struct gate g;
    int code;

    (void)state;
    start_blocked(&p, &g);
    assert_rc(CONC_EAGAIN, conc_process_join(&p, CONC_NOWAIT));
    for (size_t i = 0; i < sizeof timeouts / sizeof timeouts[0]; i++) {
        int64_t t0 = conc_now_ns();
        assert_rc(CONC_ETIMEDOUT, conc_process_join(&p, timeouts[i]));
        int64_t took = conc_now_ns() - t0;
        assert_true(took >= timeouts[i]);
        assert_true(took < timeouts[i] + CONC_SEC(5));
    }
    assert_true(conc_process_is_alive(&p));
    assert_rc(CONC_EAGAIN, conc_process_exitcode(&p, &code));
    assert_rc(CONC_EBUSY, conc_process_close(&p));
    assert_true(conc_process_is_alive(&p)); /* close left it alone */
    gate_release(&g);
    int64_t t0 = conc_now_ns();
    assert_rc(0, conc_process_join(&p, CONC_SEC(30)));
    assert_true(conc_now_ns() - t0 < CONC_SEC(10)); /* woken by the end, not the deadline */
    assert_rc(0, conc_process_exitcode(&p, &code));
    assert_int_equal(3, code);
    assert_rc(0, conc_process_close(&p));
    gate_close(&g);
}

struct joiner {
    conc_process_t *p;
    int rc;
    int code;
};

static void *join_thread(void *arg)
{
    struct joiner *j = arg;

    j->rc = conc_process_join(j->p, CONC_FOREVER);
    j->code = -1000;
    conc_process_exitcode(j->p, &j->code);
    return NULL;
}

static void *release_after_a_while(void *arg)
{
    conc_sleep(CONC_MS(30));
    gate_release(arg);
    return NULL;
}

static void many_threads_joining_one_child_all_see_its_end(void **state)
{
    conc_process_t p = CONC_PROCESS_INIT;
    struct gate g;
    conc_thread_t t[4], r;
    struct joiner j[4];

    (void)state;
    start_blocked(&p, &g);
    for (int i = 0; i < 4; i++) {
        j[i].p = &p;
        assert_rc(0, conc_thread_create(&t[i], NULL, join_thread, &j[i]));
    }
    assert_rc(0, conc_thread_create(&r, NULL, release_after_a_while, &g));
    for (int i = 0; i < 4; i++) {
        assert_rc(0, conc_thread_join(&t[i], NULL, CONC_FOREVER));
        assert_rc(0, j[i].rc);
        assert_int_equal(3, j[i].code);
    }
    assert_rc(0, conc_thread_join(&r, NULL, CONC_FOREVER));
    assert_rc(0, conc_process_close(&p));
    gate_close(&g);
}

/* ---- the sentinel in a loop ------------------------------------------------ */

struct watch {
    conc_process_t *p;
    int calls;
    bool alive_at_call;
};

static void on_child_end(conc_loop_t *loop, int fd, unsigned events, void *arg)
{
    struct watch *w = arg;

    w->calls++;
    CK(CONC_READABLE, events);
    CK(conc_process_sentinel(w->p), fd);
    w->alive_at_call = conc_process_is_alive(w->p);
    if (!w->alive_at_call) {
        CK(0, conc_loop_remove_reader(loop, fd));
        CK(0, conc_loop_stop(loop));
    }
}

static void sentinel_is_readable_in_a_loop_when_the_child_ends(void **state)
{
    conc_process_t p = CONC_PROCESS_INIT;
    conc_loop_t loop;
    struct watch w = { &p, 0, true };
    struct gate g;
    conc_thread_t r;

    (void)state;
    start_blocked(&p, &g);
    assert_rc(0, conc_loop_init(&loop, NULL));
    assert_rc(0, conc_loop_add_reader(&loop, conc_process_sentinel(&p), on_child_end, &w));
    /* Not readable while the child runs. */
    assert_rc(0, conc_loop_run_once(&loop, CONC_MS(20)));
    assert_int_equal(0, w.calls);
    assert_rc(0, conc_thread_create(&r, NULL, release_after_a_while, &g));
    assert_rc(0, conc_loop_run_forever(&loop));
    assert_true(w.calls >= 1);
    assert_false(w.alive_at_call);
    assert_rc(0, conc_process_exitcode(&p, &w.calls));
    assert_int_equal(3, w.calls);
    assert_rc(0, conc_loop_destroy(&loop));
    assert_rc(0, conc_thread_join(&r, NULL, CONC_FOREVER));
    assert_rc(0, conc_process_close(&p));
    gate_close(&g);
}

/* ---- join from a task ------------------------------------------------------ */

struct task_join {
    _Atomic bool done;
    int ticks;
    int code;
};

static int ticker(void *arg, void **result)
{
    struct task_join *tj = arg;

    (void)result;
    while (!atomic_load(&tj->done)) {
        tj->ticks++;
        conc_task_sleep(CONC_MS(1));
    }
    return 0;
}

/* Sleeps through the context of the child: a plain thread there, even when
 * the parent started it from a task. */
static int sleep_then_exit(void *arg)
{
    (void)arg;
    return conc_sleep(CONC_MS(50)) == 0 ? 9 : 1;
}

static int join_in_task(void *arg, void **result)
{
    struct task_join *tj = arg;
    conc_process_t p = CONC_PROCESS_INIT;
    conc_task_t *t;

    (void)result;
    CK(0, conc_task_spawn(conc_loop_current(), NULL, ticker, tj, &t));
    CK(0, conc_process_start(&p, NULL, sleep_then_exit, NULL));
    CK(CONC_EAGAIN, conc_process_join(&p, CONC_NOWAIT));
    int64_t t0 = conc_now_ns();
    CK(CONC_ETIMEDOUT, conc_process_join(&p, CONC_MS(5)));
    CK(true, conc_now_ns() - t0 >= CONC_MS(5));
    CK(0, conc_process_join(&p, CONC_FOREVER));
    CK(0, conc_process_exitcode(&p, &tj->code));
    CK(0, conc_process_close(&p));
    atomic_store(&tj->done, true);
    CK(0, conc_task_join(t, NULL, CONC_FOREVER));
    return 0;
}

static void join_from_a_task_suspends_only_the_task(void **state)
{
    struct task_join tj = { false, 0, -1 };

    (void)state;
    assert_rc(0, conc_run(join_in_task, &tj, NULL));
    assert_int_equal(9, tj.code);
    assert_true(tj.ticks >= 5); /* the loop ran other tasks meanwhile */
}

struct cancel_join {
    conc_process_t p;
    int rc;
};

static int cancelled_joiner(void *arg, void **result)
{
    struct cancel_join *cj = arg;

    (void)result;
    cj->rc = conc_process_join(&cj->p, CONC_FOREVER);
    return 0;
}

static int cancel_a_join(void *arg, void **result)
{
    struct cancel_join *cj = arg;
    conc_task_t *t;

    (void)result;
    CK(0, conc_task_spawn(conc_loop_current(), NULL, cancelled_joiner, cj, &t));
    CK(0, conc_task_sleep(CONC_MS(10)));
    CK(0, conc_task_cancel(t));
    conc_task_join(t, NULL, CONC_FOREVER); /* its status is the task module's business */
    return 0;
}

static void cancelled_join_in_a_task_leaves_the_child_joinable(void **state)
{
    struct cancel_join cj = { CONC_PROCESS_INIT, 1 };
    struct gate g;

    (void)state;
    start_blocked(&cj.p, &g);
    assert_rc(0, conc_run(cancel_a_join, &cj, NULL));
    assert_rc(CONC_ECANCELED, cj.rc);
    assert_true(conc_process_is_alive(&cj.p));
    gate_release(&g);
    assert_int_equal(3, join_code(&cj.p));
    assert_rc(0, conc_process_close(&cj.p));
    gate_close(&g);
}

static void never_called(conc_loop_t *loop, int fd, unsigned events, void *arg)
{
    (void)loop;
    (void)fd;
    (void)events;
    CKT(!"a watcher of a busy sentinel was called");
    *(int *)arg += 1;
}

static int join_while_watched(void *arg, void **result)
{
    conc_process_t *p = arg;
    conc_loop_t *loop = conc_loop_current();
    int calls = 0;

    (void)result;
    CK(0, conc_loop_add_reader(loop, conc_process_sentinel(p), never_called, &calls));
    CK(CONC_EBUSY, conc_process_join(p, CONC_FOREVER));
    CK(CONC_EBUSY, conc_process_join(p, CONC_MS(10)));
    CK(CONC_EAGAIN, conc_process_join(p, CONC_NOWAIT)); /* no watch needed */
    CK(0, conc_loop_remove_reader(loop, conc_process_sentinel(p)));
    CK(0, conc_process_kill(p));
    CK(0, conc_process_join(p, CONC_FOREVER));
    CK(0, calls);
    return 0;
}

static void join_in_a_task_is_ebusy_while_its_loop_watches_the_sentinel(void **state)
{
    conc_process_t p = CONC_PROCESS_INIT;
    struct gate g;

    (void)state;
    start_blocked(&p, &g);
    assert_rc(0, conc_run(join_while_watched, &p, NULL));
    int code;
    assert_rc(0, conc_process_exitcode(&p, &code));
    assert_int_equal(-SIGKILL, code);
    assert_rc(0, conc_process_close(&p));
    gate_close(&g);
}

/* ---- programs ------------------------------------------------------------ */

static void spawn_runs_a_program_with_its_arguments_and_environment(void **state)
{
    conc_process_t p = CONC_PROCESS_INIT;
    char *argv[] = { "sh", "-c", "exit $((CODE + $0))", "4", NULL };
    char *envp[] = { "CODE=17", NULL };

    (void)state;
    /* Searched in PATH: no slash. */
    assert_rc(0, conc_process_spawn(&p, NULL, "sh", argv, envp));
    assert_true(conc_process_pid(&p) > 0);
    assert_int_equal(0, strncmp(conc_process_name(&p), "Process-", 8));
    assert_int_equal(21, join_code(&p));
    assert_rc(0, conc_process_close(&p));

    /* A path with a slash is taken as it is. */
    argv[2] = "exit 6";
    assert_rc(0, conc_process_spawn(&p, NULL, "/bin/sh", argv, NULL));
    assert_int_equal(6, join_code(&p));
    assert_rc(0, conc_process_close(&p));

    /* NULL argv: the program's name alone; NULL envp: ours. */
    assert_rc(0, conc_process_spawn(&p, NULL, "false", NULL, NULL));
    assert_int_equal(1, join_code(&p));
    assert_rc(0, conc_process_close(&p));
}

static void spawn_of_a_missing_or_unrunnable_program_fails_and_leaves_nothing(void **state)
{
    static const char *const bad[] = { "/nonexistent/conc-no-such-program",
                                       "conc-no-such-program-in-path", "/etc/passwd", "/" };
    static const int expected[] = { CONC_ENOENT, CONC_ENOENT, CONC_EPERM, CONC_EPERM };
    conc_process_t p = CONC_PROCESS_INIT;

    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = conc_process_spawn(&p, NULL, bad[i], NULL, NULL);
        if (rc == 0) {
            /* A C library that reports exec failures by exit status. */
            assert_int_equal(127, join_code(&p));
            assert_rc(0, conc_process_close(&p));
            continue;
        }
        assert_rc(expected[i], rc);
        assert_int_equal(0, conc_process_pid(&p));
        assert_rc(CONC_ESRCH, conc_process_join(&p, CONC_FOREVER));
    }
    /* The object is still usable. */
    assert_rc(0, conc_process_spawn(&p, NULL, "true", NULL, NULL));
    assert_int_equal(0, join_code(&p));
    assert_rc(0, conc_process_close(&p));
}

static void spawned_program_can_be_killed(void **state)
{
    conc_process_t p = CONC_PROCESS_INIT;
    char *argv[] = { "sleep", "60", NULL };

    (void)state;
    assert_rc(0, conc_process_spawn(&p, NULL, "sleep", argv, NULL));
    assert_rc(CONC_ETIMEDOUT, conc_process_join(&p, CONC_MS(10)));
    assert_rc(0, conc_process_kill(&p));
    assert_int_equal(-SIGKILL, join_code(&p));
    assert_rc(0, conc_process_close(&p));
}

/* The caller blocks and ignores SIGTERM; the program must not inherit either. */
static void spawned_program_starts_with_default_signals(void **state)
{
    conc_process_t p = CONC_PROCESS_INIT;
    char *argv[] = { "sh", "-c", "kill -TERM $$; exit 0", NULL };
    struct sigaction ign, old_act;
    sigset_t term, old_mask;

    (void)state;
    memset(&ign, 0, sizeof ign);
    ign.sa_handler = SIG_IGN;
    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    assert_int_equal(0, sigaction(SIGTERM, &ign, &old_act));
    assert_int_equal(0, pthread_sigmask(SIG_BLOCK, &term, &old_mask));
    int rc = conc_process_spawn(&p, NULL, "sh", argv, NULL);
    pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
    sigaction(SIGTERM, &old_act, NULL);
    assert_rc(0, rc);
    assert_int_equal(-SIGTERM, join_code(&p));
    assert_rc(0, conc_process_close(&p));
}

/* ---- sentinels that end early or late (the pipe sentinel's cases) -------- */

/* Closes every descriptor but the gate's, so a pipe sentinel reads end of
 * file at once, then waits at the gate. */
static int close_fds_then_wait(void *arg)
{
    int keep = *(int *)arg;

    for (int fd = 3; fd < 1024; fd++)
        if (fd != keep)
            close(fd);
    return wait_for_byte(arg);
}

static void child_closing_its_descriptors_does_not_end_a_join_early(void **state)
{
    conc_process_t p = CONC_PROCESS_INIT;
    struct gate g;

    (void)state;
    gate_open(&g);
    assert_rc(0, conc_process_start(&p, NULL, close_fds_then_wait, &g.fd[0]));
    int64_t t0 = conc_now_ns();
    assert_rc(CONC_ETIMEDOUT, conc_process_join(&p, CONC_MS(30)));
    assert_true(conc_now_ns() - t0 >= CONC_MS(30));
    assert_true(conc_process_is_alive(&p));
    gate_release(&g);
    assert_int_equal(3, join_code(&p));
    assert_rc(0, conc_process_close(&p));
    gate_close(&g);
}

/* Leaves a grandchild holding every inherited descriptor (a pipe sentinel's
 * write end too) and exits at once with 4. */
static int exit_leaving_a_grandchild(void *arg)
{
    pid_t pid = fork();

    if (pid == 0)
        _exit(wait_for_byte(arg));
    return pid > 0 ? 4 : 1;
}

static void join_returns_when_the_child_ends_even_if_a_grandchild_lives_on(void **state)
{
    conc_process_t p = CONC_PROCESS_INIT;
    struct gate g;

    (void)state;
    gate_open(&g);
    assert_rc(0, conc_process_start(&p, NULL, exit_leaving_a_grandchild, &g.fd[0]));
    int64_t t0 = conc_now_ns();
    assert_int_equal(4, join_code(&p));
    assert_true(conc_now_ns() - t0 < CONC_SEC(10));
    assert_rc(0, conc_process_close(&p));
    gate_release(&g); /* the grandchild ends; init reaps it */
    gate_close(&g);
}

/* ---- resource limits ------------------------------------------------------- */

/* Lower the descriptor limit to the lowest free descriptor: nothing new can
 * be opened, fork still works. */
static struct rlimit limit_fds(void)
{
    struct rlimit old, now;
    int lowest = dup(0);

    assert_true(lowest >= 0);
    close(lowest);
    assert_int_equal(0, getrlimit(RLIMIT_NOFILE, &old));
    now = old;
    now.rlim_cur = (rlim_t)lowest;
    assert_int_equal(0, setrlimit(RLIMIT_NOFILE, &now));
    return old;
}

static void start_without_a_free_descriptor_is_elimit_and_leaves_nothing(void **state)
{
    conc_process_t p = CONC_PROCESS_INIT;
    char *argv[] = { "true", NULL };

    (void)state;
    struct rlimit old = limit_fds();
    int rc1 = conc_process_start(&p, NULL, return_arg, NULL);
    int rc2 = conc_process_spawn(&p, NULL, "true", argv, NULL);
    setrlimit(RLIMIT_NOFILE, &old);
    assert_rc(CONC_ELIMIT, rc1);
    assert_rc(CONC_ELIMIT, rc2);
    assert_rc(CONC_ESRCH, conc_process_join(&p, CONC_NOWAIT));
    /* Usable again once descriptors are back (the teardown checks zombies). */
    assert_rc(0, conc_process_start(&p, NULL, return_arg, (void *)(intptr_t)8));
    assert_int_equal(8, join_code(&p));
    assert_rc(0, conc_process_close(&p));
}

/* ---- the machine ------------------------------------------------------------ */

static void cpu_count_is_between_one_and_the_configured_cpus(void **state)
{
    (void)state;
    int n = conc_cpu_count();
    assert_true(n >= 1);
    assert_true(n <= sysconf(_SC_NPROCESSORS_CONF));
}

#define T(f) cmocka_unit_test_setup_teardown(f, test_leak_setup, test_leak_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(start_runs_the_function_in_a_child_and_join_reports_its_result),
        T(exit_code_is_the_low_byte_of_the_result),
        T(default_names_count_up_and_given_names_are_kept_truncated),
        T(child_knows_its_own_and_its_parents_id),
        T(start_on_a_process_not_closed_is_ebusy_and_close_allows_a_restart),
        T(never_started_process_reports_esrch),
        T(null_arguments_are_einval),
        T(kill_is_reported_as_minus_sigkill),
        T(terminate_is_reported_as_minus_sigterm),
        T(child_crashing_reports_its_signal),
        T(child_reaped_elsewhere_ends_with_its_status_lost),
        T(join_of_a_running_child_times_out_never_early),
        T(many_threads_joining_one_child_all_see_its_end),
        T(sentinel_is_readable_in_a_loop_when_the_child_ends),
        T(join_from_a_task_suspends_only_the_task),
        T(cancelled_join_in_a_task_leaves_the_child_joinable),
        T(join_in_a_task_is_ebusy_while_its_loop_watches_the_sentinel),
        T(spawn_runs_a_program_with_its_arguments_and_environment),
        T(spawn_of_a_missing_or_unrunnable_program_fails_and_leaves_nothing),
        T(spawned_program_can_be_killed),
        T(spawned_program_starts_with_default_signals),
        T(child_closing_its_descriptors_does_not_end_a_join_early),
        T(join_returns_when_the_child_ends_even_if_a_grandchild_lives_on),
        T(start_without_a_free_descriptor_is_elimit_and_leaves_nothing),
        T(cpu_count_is_between_one_and_the_configured_cpus),
    };
    /* The same lifecycle through the pipe sentinel of other systems. */
    const struct CMUnitTest pipe_sentinel[] = {
        T(start_runs_the_function_in_a_child_and_join_reports_its_result),
        T(kill_is_reported_as_minus_sigkill),
        T(join_of_a_running_child_times_out_never_early),
        T(many_threads_joining_one_child_all_see_its_end),
        T(sentinel_is_readable_in_a_loop_when_the_child_ends),
        T(join_from_a_task_suspends_only_the_task),
        T(spawn_runs_a_program_with_its_arguments_and_environment),
        T(spawned_program_can_be_killed),
        T(child_closing_its_descriptors_does_not_end_a_join_early),
        T(join_returns_when_the_child_ends_even_if_a_grandchild_lives_on),
        T(start_without_a_free_descriptor_is_elimit_and_leaves_nothing),
    };
    int failed = cmocka_run_group_tests_name("process", tests, use_default_sentinel, NULL);
    failed += cmocka_run_group_tests_name("process_pipe_sentinel", pipe_sentinel, use_pipe_sentinel,
                                          use_default_sentinel);
    return failed;
}
