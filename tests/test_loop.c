/*
 * The event loop (conc/loop.h): life cycle and the run functions, the order
 * of one iteration, timers, handles and cancellation, call_soon_threadsafe
 * from many threads, descriptor watchers on every poller backend, destroy
 * with pending work, and every documented return code (running out of
 * memory and of descriptors included). Tasks are tested in test_task.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"
#include "loop/loop_internal.h"

#define V(x) ((void *)(intptr_t)(x))

/* ---- recording what ran, in which order, when ---------------------------- */

enum { LOG_MAX = 4096 };

static struct {
    int n;
    intptr_t v[LOG_MAX];
    int64_t at[LOG_MAX];
    conc_loop_t *current[LOG_MAX];
} g_log;

static void log_reset(void)
{
    memset(&g_log, 0, sizeof g_log);
}

static void log_add(intptr_t v)
{
    if (g_log.n < LOG_MAX) {
        g_log.v[g_log.n] = v;
        g_log.at[g_log.n] = conc_now_ns();
        g_log.current[g_log.n] = conc_loop_current();
    }
    g_log.n++;
}

static void record(conc_loop_t *loop, void *arg)
{
    (void)loop;
    log_add((intptr_t)arg);
}

static void assert_log(const intptr_t *expect, int n)
{
    assert_int_equal(n, g_log.n);
    for (int i = 0; i < n; i++)
        assert_int_equal(expect[i], g_log.v[i]);
}

static int g_stop_rc;

static void stop_cb(conc_loop_t *loop, void *arg)
{
    (void)arg;
    g_stop_rc = conc_loop_stop(loop);
}

static void record_and_stop(conc_loop_t *loop, void *arg)
{
    log_add((intptr_t)arg);
    g_stop_rc = conc_loop_stop(loop);
}

static void init_kind(conc_loop_t *loop, int kind)
{
    conc_loop_attr_t attr = CONC_LOOP_ATTR_INIT;
    int rc;

    attr.poller = kind;
    rc = conc_loop_init(loop, &attr);
    if (rc == CONC_ENOTSUP)
        skip();
    assert_rc(0, rc);
    assert_string_equal(kind == CONC_POLLER_EPOLL ? "epoll" : "poll", conc_loop_poller_name(loop));
}

static void init_default(conc_loop_t *loop)
{
    assert_rc(0, conc_loop_init(loop, NULL));
}

/* True while the loop's thread is in (or about to enter) its poller. */
static bool loop_sleeping(conc_loop_t *loop)
{
    conc__loop_t *l = loop->impl_;

    return atomic_load(&l->sleeping) != 0;
}

static conc_thread_t start_thread(conc_thread_fn fn, void *arg)
{
    conc_thread_t t = CONC_THREAD_INIT;

    assert_rc(0, conc_thread_create(&t, NULL, fn, arg));
    return t;
}

static void join_thread(conc_thread_t *t)
{
    assert_rc(0, conc_thread_join(t, NULL, CONC_FOREVER));
}

static void cb_noop(conc_loop_t *loop, void *arg)
{
    (void)loop;
    (void)arg;
}

static void fd_noop(conc_loop_t *loop, int fd, unsigned events, void *arg)
{
    (void)loop;
    (void)fd;
    (void)events;
    (void)arg;
}

/* Run fn() in a child process (killed after 5 s); its exit status. */
static int in_child(int (*fn)(void))
{
    int status = 0;
    pid_t pid = fork();

    assert_true(pid >= 0);
    if (pid == 0) {
        alarm(5);
        _exit(fn());
    }
    assert_int_equal(pid, waitpid(pid, &status, 0));
    return status;
}

static void assert_child_ok(int status)
{
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        print_error("child: %s %d\n", WIFEXITED(status) ? "exit" : "signal",
                    WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
    assert_true(WIFEXITED(status));
    assert_int_equal(0, WEXITSTATUS(status));
}

/* ---- init, destroy and the poller choice --------------------------------- */

static void loop_init_rejects_null_loop_and_unknown_poller(void **state)
{
    conc_loop_attr_t attr = CONC_LOOP_ATTR_INIT;
    const int bad[] = { -1, 4, 99, INT_MIN, INT_MAX };
    conc_loop_t loop;

    (void)state;
    assert_rc(CONC_EINVAL, conc_loop_init(NULL, NULL));
    assert_rc(CONC_EINVAL, conc_loop_init(NULL, &attr));
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        attr.poller = bad[i];
        assert_rc(CONC_EINVAL, conc_loop_init(&loop, &attr));
    }
}

static void loop_init_of_poller_not_compiled_here_is_enotsup(void **state)
{
    conc_loop_attr_t attr = CONC_LOOP_ATTR_INIT;
    conc_loop_t loop;

    (void)state;
#if defined(__linux__)
    attr.poller = CONC_POLLER_KQUEUE;
    assert_rc(CONC_ENOTSUP, conc_loop_init(&loop, &attr));
#else
    (void)attr;
    (void)loop;
    skip();
#endif
}

static void loop_default_poller_is_the_platforms_best(void **state)
{
    char *saved = getenv("CONC_POLLER") ? strdup(getenv("CONC_POLLER")) : NULL;
    conc_loop_t loop;

    (void)state;
    unsetenv("CONC_POLLER");
    init_default(&loop);
#if defined(__linux__)
    assert_string_equal("epoll", conc_loop_poller_name(&loop));
#endif
    assert_rc(0, conc_loop_destroy(&loop));
    if (saved)
        setenv("CONC_POLLER", saved, 1);
    free(saved);
}

static void loop_poller_env_variable_overrides_only_the_default(void **state)
{
    char *saved = getenv("CONC_POLLER") ? strdup(getenv("CONC_POLLER")) : NULL;
    conc_loop_attr_t attr = CONC_LOOP_ATTR_INIT;
    conc_loop_t loop;

    (void)state;
    setenv("CONC_POLLER", "poll", 1);
    init_default(&loop);
    assert_string_equal("poll", conc_loop_poller_name(&loop));
    assert_rc(0, conc_loop_destroy(&loop));

    attr.poller = CONC_POLLER_EPOLL; /* an explicit choice wins */
    if (conc_loop_init(&loop, &attr) == 0) {
        assert_string_equal("epoll", conc_loop_poller_name(&loop));
        assert_rc(0, conc_loop_destroy(&loop));
    }

    setenv("CONC_POLLER", "epoll", 1);
    attr.poller = CONC_POLLER_POLL;
    assert_rc(0, conc_loop_init(&loop, &attr));
    assert_string_equal("poll", conc_loop_poller_name(&loop));
    assert_rc(0, conc_loop_destroy(&loop));

    setenv("CONC_POLLER", "no-such-poller", 1);
    assert_rc(CONC_EINVAL, conc_loop_init(&loop, NULL));
#if defined(__linux__)
    setenv("CONC_POLLER", "kqueue", 1);
    assert_rc(CONC_ENOTSUP, conc_loop_init(&loop, NULL));
#endif

    if (saved)
        setenv("CONC_POLLER", saved, 1);
    else
        unsetenv("CONC_POLLER");
    free(saved);
}

static void loop_poller_name_is_null_for_null_or_destroyed_loop(void **state)
{
    conc_loop_t loop;

    (void)state;
    assert_null(conc_loop_poller_name(NULL));
    init_default(&loop);
    assert_non_null(conc_loop_poller_name(&loop));
    assert_rc(0, conc_loop_destroy(&loop));
    assert_null(conc_loop_poller_name(&loop));
}

static void loop_destroy_of_never_run_loop_releases_it_for_reuse(void **state)
{
    conc_loop_t loop;

    (void)state;
    for (int round = 0; round < 3; round++) {
        init_default(&loop);
        assert_rc(0, conc_loop_destroy(&loop));
    }
    /* The same storage, initialised again, works as new. */
    init_default(&loop);
    log_reset();
    assert_rc(0, conc_loop_call_soon(&loop, record, V(1), NULL));
    assert_rc(0, conc_loop_run_once(&loop, 0));
    assert_int_equal(1, g_log.n);
    assert_rc(0, conc_loop_destroy(&loop));
}

static void loop_destroy_rejects_null_destroyed_or_zeroed_loop(void **state)
{
    conc_loop_t loop;
    conc_loop_t zeroed;

    (void)state;
    memset(&zeroed, 0, sizeof zeroed);
    assert_rc(CONC_EINVAL, conc_loop_destroy(NULL));
    assert_rc(CONC_EINVAL, conc_loop_destroy(&zeroed));
    init_default(&loop);
    assert_rc(0, conc_loop_destroy(&loop));
    assert_rc(CONC_EINVAL, conc_loop_destroy(&loop));
}

static void loop_calls_with_null_loop_are_einval(void **state)
{
    conc_handle_t h = CONC_HANDLE_NONE;

    (void)state;
    assert_rc(CONC_EINVAL, conc_loop_run_forever(NULL));
    assert_rc(CONC_EINVAL, conc_loop_run_once(NULL, 0));
    assert_rc(CONC_EINVAL, conc_loop_stop(NULL));
    assert_rc(CONC_EINVAL, conc_loop_call_soon(NULL, cb_noop, NULL, &h));
    assert_rc(CONC_EINVAL, conc_loop_call_later(NULL, 0, cb_noop, NULL, &h));
    assert_rc(CONC_EINVAL, conc_loop_call_at(NULL, 0, cb_noop, NULL, &h));
    assert_rc(CONC_EINVAL, conc_loop_cancel(NULL, h));
    assert_rc(CONC_EINVAL, conc_loop_call_soon_threadsafe(NULL, cb_noop, NULL));
    assert_rc(CONC_EINVAL, conc_loop_add_reader(NULL, 0, fd_noop, NULL));
    assert_rc(CONC_EINVAL, conc_loop_add_writer(NULL, 1, fd_noop, NULL));
    assert_rc(CONC_EINVAL, conc_loop_remove_reader(NULL, 0));
    assert_rc(CONC_EINVAL, conc_loop_remove_writer(NULL, 1));
}

static void loop_calls_on_destroyed_loop_are_einval(void **state)
{
    conc_handle_t h = CONC_HANDLE_NONE;
    conc_loop_t loop;
    int p[2];

    (void)state;
    assert_int_equal(0, pipe(p));
    init_default(&loop);
    assert_rc(0, conc_loop_call_later(&loop, CONC_SEC(60), cb_noop, NULL, &h));
    assert_rc(0, conc_loop_destroy(&loop));
    assert_rc(CONC_EINVAL, conc_loop_run_forever(&loop));
    assert_rc(CONC_EINVAL, conc_loop_run_once(&loop, 0));
    assert_rc(CONC_EINVAL, conc_loop_stop(&loop));
    assert_rc(CONC_EINVAL, conc_loop_call_soon(&loop, cb_noop, NULL, NULL));
    assert_rc(CONC_EINVAL, conc_loop_call_later(&loop, 0, cb_noop, NULL, NULL));
    assert_rc(CONC_EINVAL, conc_loop_call_at(&loop, 0, cb_noop, NULL, NULL));
    assert_rc(CONC_EINVAL, conc_loop_cancel(&loop, h));
    assert_rc(CONC_EINVAL, conc_loop_call_soon_threadsafe(&loop, cb_noop, NULL));
    assert_rc(CONC_EINVAL, conc_loop_add_reader(&loop, p[0], fd_noop, NULL));
    assert_rc(CONC_EINVAL, conc_loop_add_writer(&loop, p[1], fd_noop, NULL));
    assert_rc(CONC_EINVAL, conc_loop_remove_reader(&loop, p[0]));
    assert_rc(CONC_EINVAL, conc_loop_remove_writer(&loop, p[1]));
    close(p[0]);
    close(p[1]);
}

/* In a child: the descriptor table must not be grown to the size of any
 * number the caller passes before the descriptor is known to be open. */
static int add_watchers_for_fd_int_max(void)
{
    conc_loop_t loop;
    int r, w;

    if (conc_loop_init(&loop, NULL) != 0)
        return 2;
    r = conc_loop_add_reader(&loop, INT_MAX, fd_noop, NULL);
    w = conc_loop_add_writer(&loop, INT_MAX, fd_noop, NULL);
    if (conc_loop_destroy(&loop) != 0)
        return 3;
    return r == CONC_EINVAL && w == CONC_EINVAL ? 0 : 1;
}

static void loop_add_watcher_of_unopened_huge_fd_is_einval(void **state)
{
    (void)state;
    assert_child_ok(in_child(add_watchers_for_fd_int_max));
}

/* With no descriptor left, a loop cannot open its poller or its wake-up
 * descriptor: CONC_ELIMIT, and nothing leaks. */
static void loop_init_without_descriptors_left_is_elimit(void **state)
{
    const int kinds[] = { CONC_POLLER_EPOLL, CONC_POLLER_POLL };
    struct rlimit old, low;
    conc_loop_t loop;

    (void)state;
    for (size_t i = 0; i < 2; i++) {
        conc_loop_attr_t attr = CONC_LOOP_ATTR_INIT;
        int lowest = open("/dev/null", O_RDONLY | O_CLOEXEC);
        int rc;

        attr.poller = kinds[i];
        assert_true(lowest >= 0);
        close(lowest);
        assert_int_equal(0, getrlimit(RLIMIT_NOFILE, &old));
        low = old;
        low.rlim_cur = (rlim_t)lowest; /* every free number is >= the limit */
        assert_int_equal(0, setrlimit(RLIMIT_NOFILE, &low));
        rc = conc_loop_init(&loop, &attr);
        assert_int_equal(0, setrlimit(RLIMIT_NOFILE, &old));
        if (rc == CONC_ENOTSUP)
            continue;
        assert_rc(CONC_ELIMIT, rc);
        assert_rc(0, conc_loop_init(&loop, &attr));
        assert_rc(0, conc_loop_destroy(&loop));
    }
}

/* Thread-safe calls may be queued without allocating up to some number:
 * call until one needs memory. How many succeeded, or -1 when none failed
 * or one failed otherwise. */
static int fill_threadsafe(conc_loop_t *loop)
{
    for (int n = 0; n < 100000; n++) {
        int rc = conc_loop_call_soon_threadsafe(loop, record, V(n));
        if (rc == CONC_ENOMEM)
            return n;
        if (rc != 0)
            return -1;
    }
    return -1;
}

/* In a child: exhaust the address space, then every allocating call fails
 * cleanly with CONC_ENOMEM and works again once memory is back. */
static int calls_without_memory(void)
{
    struct rlimit lim;
    conc_loop_t loop, other;
    void *hog = NULL;
    long pages = 0;
    int p[2], err = 0, queued = 0;
    FILE *f;

    if (pipe(p) != 0 || conc_loop_init(&loop, NULL) != 0)
        return 2;
    f = fopen("/proc/self/statm", "r");
    if (!f || fscanf(f, "%ld", &pages) != 1)
        return 3;
    fclose(f);
    lim.rlim_cur = lim.rlim_max = (rlim_t)pages * (rlim_t)sysconf(_SC_PAGESIZE);
    if (setrlimit(RLIMIT_AS, &lim) != 0)
        return 4;
    /* Every size class, so that no free chunk is left for any request. */
    for (size_t size = 4096; size >= 1; size = size > 64 ? size / 2 : size - 8) {
        void **block;
        while ((block = malloc(size < sizeof(void *) ? sizeof(void *) : size)) != NULL) {
            *block = hog;
            hog = block;
        }
        if (size <= 8)
            break;
    }
    if (conc_loop_init(&other, NULL) != CONC_ENOMEM)
        err = 10;
    else if (conc_loop_call_soon(&loop, record, V(1), NULL) != CONC_ENOMEM)
        err = 11;
    else if (conc_loop_call_later(&loop, 0, record, V(2), NULL) != CONC_ENOMEM)
        err = 12;
    else if (conc_loop_call_at(&loop, 0, record, V(3), NULL) != CONC_ENOMEM)
        err = 13;
    else if ((queued = fill_threadsafe(&loop)) < 0)
        err = 14;
    else if (conc_loop_add_reader(&loop, p[0], fd_noop, NULL) != CONC_ENOMEM)
        err = 15;
    else if (conc_loop_add_writer(&loop, p[1], fd_noop, NULL) != CONC_ENOMEM)
        err = 16;
    while (hog) {
        void *next = *(void **)hog;
        free(hog);
        hog = next;
    }
    if (err)
        return err;
    /* Memory is back: the same calls succeed and the loop is intact. */
    if (conc_loop_call_soon(&loop, record, V(1), NULL) != 0 ||
        conc_loop_call_later(&loop, 0, record, V(2), NULL) != 0 ||
        conc_loop_call_at(&loop, 0, record, V(3), NULL) != 0 ||
        conc_loop_call_soon_threadsafe(&loop, record, V(4)) != 0 ||
        conc_loop_add_reader(&loop, p[0], fd_noop, NULL) != 0)
        return 20;
    log_reset();
    for (int i = 0; i < 100 && g_log.n < queued + 4; i++)
        if (conc_loop_run_once(&loop, 0) != 0)
            return 21;
    if (g_log.n != queued + 4)
        return 22;
    if (conc_loop_remove_reader(&loop, p[0]) != 0 || conc_loop_destroy(&loop) != 0)
        return 23;
    return 0;
}

static void loop_calls_without_memory_are_enomem(void **state)
{
    (void)state;
    if (UNDER_SANITIZER)
        skip(); /* sanitizers cannot run under an address-space limit */
    if (test_under_emulator()) {
        /* RLIMIT_AS would limit qemu-user itself, not the program. */
        print_message("skipped under the emulator; runs natively\n");
        skip();
    }
    assert_child_ok(in_child(calls_without_memory));
}

/* ---- running: current loop, one loop per thread, run_once, stop --------- */

static void fd_record_current(conc_loop_t *loop, int fd, unsigned events, void *arg)
{
    (void)loop;
    (void)events;
    log_add((intptr_t)arg);
    conc_loop_remove_reader(loop, fd);
}

static void loop_current_is_null_outside_and_the_loop_inside_callbacks(void **state)
{
    conc_loop_t loop;
    int p[2];

    (void)state;
    log_reset();
    assert_int_equal(0, pipe(p));
    assert_int_equal(1, write(p[1], "x", 1));
    init_default(&loop);
    assert_null(conc_loop_current());
    assert_rc(0, conc_loop_call_soon(&loop, record, V(1), NULL));
    assert_rc(0, conc_loop_call_at(&loop, 0, record, V(2), NULL));
    assert_rc(0, conc_loop_call_soon_threadsafe(&loop, record, V(3)));
    assert_rc(0, conc_loop_add_reader(&loop, p[0], fd_record_current, V(4)));
    assert_rc(0, conc_loop_run_once(&loop, 0));
    assert_null(conc_loop_current());
    assert_int_equal(4, g_log.n);
    for (int i = 0; i < 4; i++)
        assert_ptr_equal(&loop, g_log.current[i]);
    /* And under run_forever. */
    assert_rc(0, conc_loop_call_soon(&loop, record_and_stop, V(5), NULL));
    assert_rc(0, conc_loop_run_forever(&loop));
    assert_ptr_equal(&loop, g_log.current[4]);
    assert_null(conc_loop_current());
    assert_rc(0, conc_loop_destroy(&loop));
    close(p[0]);
    close(p[1]);
}

static int g_rc[16];

static void run_self_inside(conc_loop_t *loop, void *arg)
{
    (void)arg;
    g_rc[0] = conc_loop_run_forever(loop);
    g_rc[1] = conc_loop_run_once(loop, 0);
    g_rc[2] = conc_loop_run_once(loop, CONC_FOREVER);
}

static void loop_run_inside_its_own_callback_is_ebusy(void **state)
{
    conc_loop_t loop;

    (void)state;
    init_default(&loop);
    assert_rc(0, conc_loop_call_soon(&loop, run_self_inside, NULL, NULL));
    assert_rc(0, conc_loop_run_once(&loop, 0));
    assert_rc(CONC_EBUSY, g_rc[0]);
    assert_rc(CONC_EBUSY, g_rc[1]);
    assert_rc(CONC_EBUSY, g_rc[2]);
    assert_null(conc_loop_current());
    assert_rc(0, conc_loop_destroy(&loop));
}

static void run_other_inside(conc_loop_t *loop, void *arg)
{
    conc_loop_t *other = arg;

    (void)loop;
    g_rc[0] = conc_loop_run_forever(other);
    g_rc[1] = conc_loop_run_once(other, 0);
}

static void loop_second_loop_on_the_same_thread_is_ebusy(void **state)
{
    conc_loop_t a, b;

    (void)state;
    log_reset();
    init_default(&a);
    init_default(&b);
    assert_rc(0, conc_loop_call_soon(&b, record, V(7), NULL));
    assert_rc(0, conc_loop_call_soon(&a, run_other_inside, &b, NULL));
    assert_rc(0, conc_loop_run_once(&a, 0));
    assert_rc(CONC_EBUSY, g_rc[0]);
    assert_rc(CONC_EBUSY, g_rc[1]);
    assert_int_equal(0, g_log.n); /* b never ran */
    /* Once a has returned, b runs on this thread. */
    assert_rc(0, conc_loop_run_once(&b, 0));
    assert_int_equal(1, g_log.n);
    assert_ptr_equal(&b, g_log.current[0]);
    assert_rc(0, conc_loop_destroy(&a));
    assert_rc(0, conc_loop_destroy(&b));
}

static struct ordered *g_ordered;

struct on_thread {
    conc_loop_t *loop;
    void *(*fn)(void *);
    conc_handle_t handle;
    int fd;
    long n;
    int rc[16];
};

static void *run_running_loop(void *arg)
{
    struct on_thread *o = arg;

    o->rc[0] = conc_loop_run_once(o->loop, 0);
    o->rc[1] = conc_loop_run_forever(o->loop);
    o->rc[2] = conc_loop_destroy(o->loop);
    return NULL;
}

/* The helper thread is joined inside the callback, so the loop is running
 * for as long as the thread exists. */
static void spawn_and_join(conc_loop_t *loop, void *arg)
{
    struct on_thread *o = arg;
    conc_thread_t t;

    (void)loop;
    if (conc_thread_create(&t, NULL, o->fn, o) == 0)
        conc_thread_join(&t, NULL, CONC_FOREVER);
    else
        o->rc[15] = -100;
}

static void run_with_thread(conc_loop_t *loop, void *(*fn)(void *), struct on_thread *o)
{
    o->loop = loop;
    o->fn = fn;
    assert_rc(0, conc_loop_call_soon(loop, spawn_and_join, o, NULL));
    assert_rc(0, conc_loop_run_once(loop, 0));
    assert_int_equal(0, o->rc[15]);
}

static void loop_running_on_another_thread_is_ebusy_and_not_destroyed(void **state)
{
    struct on_thread o = { 0 };
    conc_loop_t loop;

    (void)state;
    log_reset();
    init_default(&loop);
    run_with_thread(&loop, run_running_loop, &o);
    assert_rc(CONC_EBUSY, o.rc[0]);
    assert_rc(CONC_EBUSY, o.rc[1]);
    assert_rc(CONC_EBUSY, o.rc[2]);
    /* Nothing was released: the loop still runs callbacks. */
    assert_rc(0, conc_loop_call_soon(&loop, record, V(1), NULL));
    assert_rc(0, conc_loop_run_once(&loop, 0));
    assert_int_equal(1, g_log.n);
    assert_rc(0, conc_loop_destroy(&loop));
}

struct second_loop {
    conc_loop_t loop;
    int rc_init, rc_run, rc_destroy;
    conc_loop_t *current;
};

static void note_current(conc_loop_t *loop, void *arg)
{
    (void)loop;
    ((struct second_loop *)arg)->current = conc_loop_current();
}

static void *run_second_loop(void *arg)
{
    struct second_loop *s = arg;

    s->rc_init = conc_loop_init(&s->loop, NULL);
    if (s->rc_init != 0)
        return NULL;
    conc_loop_call_soon(&s->loop, note_current, s, NULL);
    s->rc_run = conc_loop_run_once(&s->loop, 0);
    s->rc_destroy = conc_loop_destroy(&s->loop);
    return NULL;
}

static void run_second_loop_now(conc_loop_t *loop, void *arg)
{
    conc_thread_t t;

    (void)loop;
    if (conc_thread_create(&t, NULL, run_second_loop, arg) == 0)
        conc_thread_join(&t, NULL, CONC_FOREVER);
}

static void loop_loops_on_different_threads_run_at_the_same_time(void **state)
{
    struct second_loop s = { .rc_init = -100, .rc_run = -100, .rc_destroy = -100 };
    conc_loop_t loop;

    (void)state;
    init_default(&loop);
    assert_rc(0, conc_loop_call_soon(&loop, run_second_loop_now, &s, NULL));
    assert_rc(0, conc_loop_run_once(&loop, 0));
    assert_rc(0, s.rc_init);
    assert_rc(0, s.rc_run);
    assert_rc(0, s.rc_destroy);
    assert_ptr_equal(&s.loop, s.current);
    assert_rc(0, conc_loop_destroy(&loop));
}

static void loop_run_once_runs_what_is_ready_without_waiting(void **state)
{
    static const intptr_t expect[] = { 1, 2, 3 };
    conc_loop_t loop;
    int64_t t0;

    (void)state;
    log_reset();
    init_default(&loop);
    for (int i = 1; i <= 3; i++)
        assert_rc(0, conc_loop_call_soon(&loop, record, V(i), NULL));
    t0 = conc_now_ns();
    /* Work is ready: even an unlimited timeout does not wait. */
    assert_rc(0, conc_loop_run_once(&loop, CONC_FOREVER));
    assert_log(expect, 3);
    /* Nothing ready, no wait asked: returns at once. */
    assert_rc(0, conc_loop_run_once(&loop, 0));
    assert_true(conc_now_ns() - t0 < CONC_SEC(2));
    assert_int_equal(3, g_log.n);
    assert_rc(0, conc_loop_destroy(&loop));
}

static void loop_run_once_waits_at_most_its_timeout(void **state)
{
    conc_handle_t h;
    conc_loop_t loop;
    int64_t t0;

    (void)state;
    log_reset();
    init_default(&loop);
    t0 = conc_now_ns();
    assert_rc(0, conc_loop_run_once(&loop, CONC_MS(20)));
    assert_true(conc_now_ns() - t0 < CONC_SEC(5));
    /* A later timer does not stretch the wait, and does not run. */
    assert_rc(0, conc_loop_call_later(&loop, CONC_SEC(30), record, V(1), &h));
    t0 = conc_now_ns();
    assert_rc(0, conc_loop_run_once(&loop, CONC_MS(20)));
    assert_true(conc_now_ns() - t0 < CONC_SEC(5));
    assert_int_equal(0, g_log.n);
    assert_rc(0, conc_loop_cancel(&loop, h));
    assert_rc(0, conc_loop_destroy(&loop));
}

static void loop_run_once_waits_for_the_next_timer_and_runs_it(void **state)
{
    conc_loop_t loop;
    int64_t before;
    int rounds = 0;

    (void)state;
    log_reset();
    init_default(&loop);
    before = conc_now_ns();
    assert_rc(0, conc_loop_call_later(&loop, CONC_MS(20), record, V(1), NULL));
    /* The poller may return early (a signal); never the timer. */
    while (g_log.n == 0 && rounds++ < 100)
        assert_rc(0, conc_loop_run_once(&loop, CONC_FOREVER));
    assert_int_equal(1, g_log.n);
    assert_true(g_log.at[0] >= before + CONC_MS(20));
    assert_true(rounds <= 3);
    assert_rc(0, conc_loop_destroy(&loop));
}

static void stop_and_schedule(conc_loop_t *loop, void *arg)
{
    log_add((intptr_t)arg);
    g_stop_rc = conc_loop_stop(loop);
    conc_loop_call_soon(loop, record, V(3), NULL);
}

static void loop_stop_from_callback_ends_run_forever_after_the_iteration(void **state)
{
    static const intptr_t first[] = { 1, 2 };
    static const intptr_t then[] = { 1, 2, 3, 4 };
    conc_loop_t loop;

    (void)state;
    log_reset();
    g_stop_rc = -100;
    init_default(&loop);
    assert_rc(0, conc_loop_call_soon(&loop, stop_and_schedule, V(1), NULL));
    assert_rc(0, conc_loop_call_soon(&loop, record, V(2), NULL));
    assert_rc(0, conc_loop_run_forever(&loop));
    assert_rc(0, g_stop_rc);
    /* The rest of the iteration ran; what the stopping callback scheduled
     * waits for the next one. */
    assert_log(first, 2);
    /* The stop request was consumed: the loop runs again, to a new stop. */
    assert_rc(0, conc_loop_call_soon(&loop, record_and_stop, V(4), NULL));
    assert_rc(0, conc_loop_run_forever(&loop));
    assert_log(then, 4);
    assert_rc(0, conc_loop_destroy(&loop));
}

/* "after the current iteration (or the next one, if it is not running now)" */
static void loop_stop_before_run_forever_returns_after_one_iteration(void **state)
{
    static const intptr_t expect[] = { 1 };
    conc_loop_t loop;

    (void)state;
    log_reset();
    init_default(&loop);
    assert_rc(0, conc_loop_call_soon(&loop, record, V(1), NULL));
    assert_rc(0, conc_loop_stop(&loop));
    assert_rc(0, conc_loop_run_forever(&loop));
    assert_rc(0, conc_loop_destroy(&loop)); /* first: nothing leaks on failure */
    assert_log(expect, 1);
}

struct stopper {
    conc_loop_t *loop;
    int rc;
    bool threadsafe;
    void *busy;
};

static void *stop_when_sleeping(void *arg)
{
    struct stopper *s = arg;

    while (!loop_sleeping(s->loop))
        conc_thread_yield();
    s->rc = s->threadsafe ? conc_loop_call_soon_threadsafe(s->loop, stop_cb, NULL)
                          : conc_loop_stop(s->loop);
    return NULL;
}

static void loop_stop_from_another_thread_wakes_and_ends_run_forever(void **state)
{
    struct stopper s = { 0 };
    conc_loop_t loop;
    conc_thread_t t;

    (void)state;
    init_default(&loop);
    s.loop = &loop;
    s.rc = -100;
    t = start_thread(stop_when_sleeping, &s);
    /* No timer, no descriptor, no callback: only the stop can end it. */
    assert_rc(0, conc_loop_run_forever(&loop));
    join_thread(&t);
    assert_rc(0, s.rc);
    assert_rc(0, conc_loop_destroy(&loop));
}

static void loop_threadsafe_stop_callback_ends_run_forever(void **state)
{
    struct stopper s = { 0 };
    conc_loop_t loop;
    conc_thread_t t;

    (void)state;
    init_default(&loop);
    s.loop = &loop;
    s.rc = -100;
    s.threadsafe = true;
    g_stop_rc = -100;
    t = start_thread(stop_when_sleeping, &s);
    assert_rc(0, conc_loop_run_forever(&loop));
    join_thread(&t);
    assert_rc(0, s.rc);
    assert_rc(0, g_stop_rc);
    assert_rc(0, conc_loop_destroy(&loop));
}

/* The stopping thread is not joined before the loop is destroyed: the
 * thread may still be inside its call then, and destroy must not free
 * what it touches (docs/loop.md: "a thread that made the last wake can
 * never touch a freed loop"). With busy, the loop never sleeps (a callback
 * keeps rescheduling itself): it sees the stop flag at once, possibly
 * before the stopping thread has finished its call. */
struct busy {
    _Atomic int started;
};

static void busy_cb(conc_loop_t *loop, void *arg)
{
    struct busy *b = arg;

    atomic_store(&b->started, 1);
    conc_loop_call_soon(loop, busy_cb, b, NULL);
}

static void *stop_busy(void *arg)
{
    struct stopper *s = arg;
    struct busy *b = s->busy;

    while (!atomic_load(&b->started))
        conc_thread_yield();
    s->rc = s->threadsafe ? conc_loop_call_soon_threadsafe(s->loop, stop_cb, NULL)
                          : conc_loop_stop(s->loop);
    return NULL;
}

static void destroy_right_after_a_stop_from_another_thread(bool threadsafe, bool busy)
{
    enum { ROUNDS = 100 };

    for (int round = 0; round < ROUNDS; round++) {
        struct stopper s = { 0 };
        struct busy b = { 0 };
        conc_loop_t loop;
        conc_thread_t t;

        init_default(&loop);
        s.loop = &loop;
        s.rc = -100;
        s.threadsafe = threadsafe;
        s.busy = &b;
        if (busy)
            assert_rc(0, conc_loop_call_soon(&loop, busy_cb, &b, NULL));
        t = start_thread(busy ? stop_busy : stop_when_sleeping, &s);
        assert_rc(0, conc_loop_run_forever(&loop));
        assert_rc(0, conc_loop_destroy(&loop));
        join_thread(&t);
        assert_rc(0, s.rc);
    }
}

static void loop_destroy_right_after_a_threadsafe_stop_callback_is_safe(void **state)
{
    (void)state;
    destroy_right_after_a_stop_from_another_thread(true, false);
}

static void loop_destroy_right_after_a_stop_from_another_thread_is_safe(void **state)
{
    (void)state;
    destroy_right_after_a_stop_from_another_thread(false, false);
}

static void loop_destroy_right_after_a_threadsafe_stop_of_a_busy_loop_is_safe(void **state)
{
    (void)state;
    destroy_right_after_a_stop_from_another_thread(true, true);
}

static void loop_destroy_right_after_a_stop_of_a_busy_loop_from_another_thread_is_safe(void **state)
{
    (void)state;
    destroy_right_after_a_stop_from_another_thread(false, true);
}

static conc_loop_t *g_signal_loop;
static volatile sig_atomic_t g_signal_rc = -100;

static void stop_on_signal(int sig)
{
    (void)sig;
    g_signal_rc = conc_loop_stop(g_signal_loop);
}

struct signaller {
    conc_loop_t *loop;
    pthread_t target;
    int rc;
};

static void *signal_when_sleeping(void *arg)
{
    struct signaller *s = arg;

    while (!loop_sleeping(s->loop))
        conc_thread_yield();
    s->rc = pthread_kill(s->target, SIGUSR1);
    return NULL;
}

static void loop_stop_from_a_signal_handler_ends_run_forever(void **state)
{
    struct sigaction sa, old;
    struct signaller s = { 0 };
    conc_loop_t loop;
    conc_thread_t t;

    (void)state;
    init_default(&loop);
    g_signal_loop = &loop;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = stop_on_signal;
    sa.sa_flags = SA_RESTART; /* the wake-up, not EINTR, must end the wait */
    sigemptyset(&sa.sa_mask);
    assert_int_equal(0, sigaction(SIGUSR1, &sa, &old));
    s.loop = &loop;
    s.target = pthread_self();
    s.rc = -100;
    t = start_thread(signal_when_sleeping, &s);
    assert_rc(0, conc_loop_run_forever(&loop));
    join_thread(&t);
    assert_int_equal(0, sigaction(SIGUSR1, &old, NULL));
    assert_int_equal(0, s.rc);
    assert_rc(0, g_signal_rc);
    assert_rc(0, conc_loop_destroy(&loop));
}

/* ---- call_soon: order and iterations ------------------------------------- */

static void loop_call_soon_runs_callbacks_in_fifo_order(void **state)
{
    enum { N = 1000 };
    conc_loop_t loop;

    (void)state;
    log_reset();
    init_default(&loop);
    for (int i = 0; i < N; i++)
        assert_rc(0, conc_loop_call_soon(&loop, record, V(i), NULL));
    assert_rc(0, conc_loop_run_once(&loop, 0));
    assert_int_equal(N, g_log.n);
    for (int i = 0; i < N; i++)
        assert_int_equal(i, g_log.v[i]);
    assert_rc(0, conc_loop_destroy(&loop));
}

static void chain(conc_loop_t *loop, void *arg)
{
    intptr_t left = (intptr_t)arg;

    log_add(left);
    if (left > 0)
        conc_loop_call_soon(loop, chain, V(left - 1), NULL);
}

static void loop_call_soon_from_callback_runs_in_the_next_iteration(void **state)
{
    conc_loop_t loop;

    (void)state;
    log_reset();
    init_default(&loop);
    assert_rc(0, conc_loop_call_soon(&loop, chain, V(5), NULL));
    assert_rc(0, conc_loop_call_soon(&loop, record, V(100), NULL));
    assert_rc(0, conc_loop_run_once(&loop, 0));
    /* The first link and the callback already queued: not the next link. */
    assert_int_equal(2, g_log.n);
    assert_int_equal(5, g_log.v[0]);
    assert_int_equal(100, g_log.v[1]);
    for (int i = 1; i <= 5; i++) {
        assert_rc(0, conc_loop_run_once(&loop, 0));
        assert_int_equal(2 + i, g_log.n);
        assert_int_equal(5 - i, g_log.v[1 + i]);
    }
    assert_rc(0, conc_loop_run_once(&loop, 0));
    assert_int_equal(7, g_log.n);
    assert_rc(0, conc_loop_destroy(&loop));
}

static void loop_scheduling_rejects_null_callback(void **state)
{
    conc_handle_t h = CONC_HANDLE_NONE;
    conc_loop_t loop;

    (void)state;
    log_reset();
    init_default(&loop);
    assert_rc(CONC_EINVAL, conc_loop_call_soon(&loop, NULL, NULL, &h));
    assert_rc(CONC_EINVAL, conc_loop_call_later(&loop, 0, NULL, NULL, &h));
    assert_rc(CONC_EINVAL, conc_loop_call_at(&loop, 0, NULL, NULL, &h));
    assert_rc(CONC_EINVAL, conc_loop_call_soon_threadsafe(&loop, NULL, NULL));
    assert_rc(0, conc_loop_run_once(&loop, 0));
    assert_rc(0, conc_loop_destroy(&loop));
}

static void *prepare_from_thread(void *arg)
{
    struct on_thread *o = arg;

    o->rc[0] = conc_loop_call_soon(o->loop, record, V(1), NULL);
    o->rc[1] = conc_loop_call_at(o->loop, 0, record, V(2), &o->handle);
    o->rc[2] = conc_loop_cancel(o->loop, o->handle);
    o->rc[3] = conc_loop_call_later(o->loop, 0, record, V(3), NULL);
    o->rc[4] = conc_loop_add_reader(o->loop, o->fd, fd_record_current, V(4));
    return NULL;
}

static void loop_may_be_prepared_from_any_thread_before_it_runs(void **state)
{
    static const intptr_t expect[] = { 4, 1, 3 };
    struct on_thread o = { 0 };
    conc_loop_t loop;
    conc_thread_t t;
    int p[2];

    (void)state;
    log_reset();
    assert_int_equal(0, pipe(p));
    assert_int_equal(1, write(p[1], "x", 1));
    init_default(&loop);
    o.loop = &loop;
    o.fd = p[0];
    t = start_thread(prepare_from_thread, &o);
    join_thread(&t);
    for (int i = 0; i < 5; i++)
        assert_rc(0, o.rc[i]);
    assert_rc(0, conc_loop_run_once(&loop, 0));
    assert_log(expect, 3);
    assert_rc(0, conc_loop_destroy(&loop));
    close(p[0]);
    close(p[1]);
}

static void *loop_thread_calls_from_outside(void *arg)
{
    struct on_thread *o = arg;

    o->rc[0] = conc_loop_call_soon(o->loop, record, V(90), NULL);
    o->rc[1] = conc_loop_call_later(o->loop, 0, record, V(91), NULL);
    o->rc[2] = conc_loop_call_at(o->loop, 0, record, V(92), NULL);
    o->rc[3] = conc_loop_cancel(o->loop, o->handle);
    o->rc[4] = conc_loop_add_reader(o->loop, o->fd, fd_noop, NULL);
    o->rc[5] = conc_loop_add_writer(o->loop, o->fd, fd_noop, NULL);
    o->rc[6] = conc_loop_remove_reader(o->loop, o->fd);
    o->rc[7] = conc_loop_remove_writer(o->loop, o->fd);
    o->rc[8] = conc_loop_call_soon_threadsafe(o->loop, record, V(1));
    o->rc[9] = conc_loop_cancel(o->loop, (conc_handle_t)CONC_HANDLE_NONE);
    return NULL;
}

static void loop_thread_only_calls_from_another_thread_while_running_are_eperm(void **state)
{
    static const intptr_t expect[] = { 1 };
    struct on_thread o = { 0 };
    conc_loop_t loop;
    int sv[2];

    (void)state;
    log_reset();
    assert_int_equal(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
    init_default(&loop);
    o.fd = sv[0];
    assert_rc(0, conc_loop_call_later(&loop, CONC_SEC(60), record, V(99), &o.handle));
    run_with_thread(&loop, loop_thread_calls_from_outside, &o);
    for (int i = 0; i <= 7; i++)
        assert_rc(CONC_EPERM, o.rc[i]);
    assert_rc(CONC_EPERM, o.rc[9]);
    assert_rc(0, o.rc[8]); /* the thread-safe entry point works */
    assert_rc(0, conc_loop_run_once(&loop, 0));
    assert_log(expect, 1);
    /* The refused cancel did not cancel; the refused adds added nothing. */
    assert_rc(0, conc_loop_cancel(&loop, o.handle));
    assert_rc(CONC_ESRCH, conc_loop_remove_reader(&loop, sv[0]));
    assert_rc(CONC_ESRCH, conc_loop_remove_writer(&loop, sv[0]));
    assert_rc(0, conc_loop_destroy(&loop));
    close(sv[0]);
    close(sv[1]);
}

/* ---- timers ---------------------------------------------------------------- */

struct timed {
    int64_t earliest; /* the deadline can be no earlier than this */
    int64_t latest;   /* nor later than this */
    int fired;
    int64_t at;
    int order;
};

static int g_fired;
static int g_expected;

static void timed_cb(conc_loop_t *loop, void *arg)
{
    struct timed *t = arg;

    t->at = conc_now_ns();
    t->fired++;
    t->order = g_fired++;
    if (g_fired == g_expected)
        conc_loop_stop(loop);
}

static void loop_call_later_never_fires_early(void **state)
{
    enum { N = 20 };
    static const int perm[N] = { 7, 3,  19, 0,  12, 5,  16, 1,  9,  14,
                                 2, 18, 6,  11, 4,  17, 8,  13, 10, 15 };
    struct timed t[N] = { 0 };
    conc_loop_t loop;

    (void)state;
    init_default(&loop);
    g_fired = 0;
    g_expected = N;
    for (int i = 0; i < N; i++) {
        int64_t delay = CONC_MS(1) * (perm[i] + 1);
        t[i].earliest = conc_now_ns() + delay;
        assert_rc(0, conc_loop_call_later(&loop, delay, timed_cb, &t[i], NULL));
        t[i].latest = conc_now_ns() + delay;
    }
    assert_rc(0, conc_loop_run_forever(&loop));
    for (int i = 0; i < N; i++) {
        assert_int_equal(1, t[i].fired);
        assert_true(t[i].at >= t[i].earliest);
        /* Fired in deadline order (where the deadlines are known apart:
         * each lies between the clock before and after its call). */
        for (int j = 0; j < N; j++)
            if (t[i].latest < t[j].earliest)
                assert_true(t[i].order < t[j].order);
    }
    assert_rc(0, conc_loop_destroy(&loop));
}

static void loop_call_at_fires_by_deadline_then_in_scheduling_order(void **state)
{
    enum { N = 60 };
    struct timed t[N] = { 0 };
    conc_loop_t loop;
    int64_t base;

    (void)state;
    init_default(&loop);
    g_fired = 0;
    g_expected = N;
    base = conc_now_ns() + CONC_MS(10);
    /* Three deadlines, scheduled latest first and interleaved: i % 3 picks
     * the deadline, so each deadline has 20 entries in scheduling order. */
    for (int i = 0; i < N; i++) {
        t[i].earliest = base + CONC_MS(2) * (2 - i % 3);
        assert_rc(0, conc_loop_call_at(&loop, t[i].earliest, timed_cb, &t[i], NULL));
    }
    assert_rc(0, conc_loop_run_forever(&loop));
    for (int i = 0; i < N; i++) {
        int group = 2 - i % 3; /* 0 fires first */
        assert_int_equal(1, t[i].fired);
        assert_true(t[i].at >= t[i].earliest);
        assert_int_equal(group * (N / 3) + i / 3, t[i].order);
    }
    assert_rc(0, conc_loop_destroy(&loop));
}

static void loop_timers_due_at_the_same_time_run_in_scheduling_order(void **state)
{
    enum { N = 500 };
    conc_loop_t loop;
    int64_t when;

    (void)state;
    log_reset();
    init_default(&loop);
    when = conc_now_ns() + CONC_MS(2);
    for (int i = 0; i < N; i++)
        assert_rc(0, conc_loop_call_at(&loop, when, record, V(i), NULL));
    while (g_log.n < N)
        assert_rc(0, conc_loop_run_once(&loop, CONC_FOREVER));
    assert_int_equal(N, g_log.n);
    for (int i = 0; i < N; i++) {
        assert_int_equal(i, g_log.v[i]);
        assert_true(g_log.at[i] >= when);
    }
    assert_rc(0, conc_loop_destroy(&loop));
}

static void loop_zero_delay_and_past_times_run_on_the_next_iteration_earliest_first(void **state)
{
    static const intptr_t expect[] = { 2, 3, 1, 4 };
    conc_loop_t loop;

    (void)state;
    log_reset();
    init_default(&loop);
    assert_rc(0, conc_loop_call_later(&loop, 0, record, V(1), NULL));
    assert_rc(0, conc_loop_call_at(&loop, 0, record, V(2), NULL));
    assert_rc(0, conc_loop_call_at(&loop, conc_now_ns() - CONC_MS(1), record, V(3), NULL));
    assert_rc(0, conc_loop_call_at(&loop, conc_now_ns(), record, V(4), NULL));
    assert_rc(0, conc_loop_run_once(&loop, 0));
    assert_log(expect, 4);
    assert_rc(0, conc_loop_destroy(&loop));
}

static void loop_negative_delay_or_time_is_einval(void **state)
{
    conc_handle_t h = CONC_HANDLE_NONE;
    conc_loop_t loop;

    (void)state;
    log_reset();
    init_default(&loop);
    assert_rc(CONC_EINVAL, conc_loop_call_later(&loop, -1, record, V(1), &h));
    assert_rc(CONC_EINVAL, conc_loop_call_later(&loop, CONC_FOREVER, record, V(1), &h));
    assert_rc(CONC_EINVAL, conc_loop_call_later(&loop, INT64_MIN, record, V(1), &h));
    assert_rc(CONC_EINVAL, conc_loop_call_at(&loop, -1, record, V(1), &h));
    assert_rc(CONC_EINVAL, conc_loop_call_at(&loop, INT64_MIN, record, V(1), &h));
    assert_rc(0, conc_loop_run_once(&loop, CONC_MS(5)));
    assert_int_equal(0, g_log.n);
    assert_rc(0, conc_loop_destroy(&loop));
}

static void loop_huge_delays_are_accepted_and_never_fire(void **state)
{
    conc_handle_t h[4];
    struct stopper s = { 0 };
    conc_loop_t loop;
    conc_thread_t t;

    (void)state;
    log_reset();
    init_default(&loop);
    assert_rc(0, conc_loop_call_later(&loop, INT64_MAX, record, V(1), &h[0]));
    assert_rc(0, conc_loop_call_later(&loop, CONC_TIMEOUT_MAX + 1, record, V(2), &h[1]));
    assert_rc(0, conc_loop_call_later(&loop, CONC_TIMEOUT_MAX, record, V(3), &h[2]));
    assert_rc(0, conc_loop_call_at(&loop, INT64_MAX, record, V(4), &h[3]));
    assert_rc(0, conc_loop_run_once(&loop, CONC_MS(5)));
    /* Asleep until a far deadline, the loop still wakes for a stop. */
    s.loop = &loop;
    s.rc = -100;
    t = start_thread(stop_when_sleeping, &s);
    assert_rc(0, conc_loop_run_forever(&loop));
    join_thread(&t);
    assert_rc(0, s.rc);
    assert_int_equal(0, g_log.n);
    for (int i = 0; i < 4; i++)
        assert_rc(0, conc_loop_cancel(&loop, h[i]));
    assert_rc(0, conc_loop_destroy(&loop));
}

/* A callback that queues itself again (through call_soon, or through
 * call_soon_threadsafe as producers that never pause would) until the timer
 * fired, or gives up after a long time. */
struct spin {
    bool threadsafe;
    long runs;
    long runs_when_fired;
    bool fired;
    bool gave_up;
    int64_t give_up_at;
};

static void spin_cb(conc_loop_t *loop, void *arg)
{
    struct spin *s = arg;

    s->runs++;
    if (s->fired)
        return;
    if (conc_now_ns() > s->give_up_at) {
        s->gave_up = true;
        conc_loop_stop(loop);
        return;
    }
    if (s->threadsafe)
        conc_loop_call_soon_threadsafe(loop, spin_cb, s);
    else
        conc_loop_call_soon(loop, spin_cb, s, NULL);
}

static void spin_timer_cb(conc_loop_t *loop, void *arg)
{
    struct spin *s = arg;

    s->fired = true;
    s->runs_when_fired = s->runs;
    log_add(1);
    conc_loop_stop(loop);
}

static void loop_timer_is_not_starved_by_a_callback_that_reschedules_itself(void **state)
{
    struct spin s = { 0 };
    conc_loop_t loop;
    int64_t before;

    (void)state;
    log_reset();
    init_default(&loop);
    s.give_up_at = conc_now_ns() + CONC_SEC(20);
    before = conc_now_ns();
    assert_rc(0, conc_loop_call_soon(&loop, spin_cb, &s, NULL));
    assert_rc(0, conc_loop_call_later(&loop, CONC_MS(5), spin_timer_cb, &s, NULL));
    assert_rc(0, conc_loop_run_forever(&loop));
    assert_false(s.gave_up);
    assert_true(s.fired);
    assert_true(g_log.at[0] >= before + CONC_MS(5));
    assert_true(s.runs_when_fired >= 1);
    assert_rc(0, conc_loop_destroy(&loop));
}

/* ---- handles and cancellation --------------------------------------------- */

static void loop_cancel_before_firing_prevents_the_timer(void **state)
{
    static const intptr_t expect[] = { 2 };
    conc_handle_t h;
    conc_loop_t loop;

    (void)state;
    log_reset();
    init_default(&loop);
    assert_rc(0, conc_loop_call_later(&loop, CONC_MS(5), record, V(1), &h));
    assert_rc(0, conc_loop_call_later(&loop, CONC_MS(20), record_and_stop, V(2), NULL));
    assert_rc(0, conc_loop_cancel(&loop, h));
    assert_rc(0, conc_loop_run_forever(&loop));
    assert_log(expect, 1);
    assert_rc(0, conc_loop_destroy(&loop));
}

static void loop_cancel_of_a_ready_callback_prevents_it(void **state)
{
    static const intptr_t expect[] = { 0, 2, 4 };
    conc_handle_t h[5];
    conc_loop_t loop;

    (void)state;
    log_reset();
    init_default(&loop);
    for (int i = 0; i < 5; i++)
        assert_rc(0, conc_loop_call_soon(&loop, record, V(i), &h[i]));
    assert_rc(0, conc_loop_cancel(&loop, h[1]));
    assert_rc(0, conc_loop_cancel(&loop, h[3]));
    assert_rc(0, conc_loop_run_once(&loop, 0));
    assert_log(expect, 3);
    assert_rc(0, conc_loop_run_once(&loop, 0));
    assert_int_equal(3, g_log.n);
    assert_rc(0, conc_loop_destroy(&loop));
}

static void loop_cancel_after_firing_or_twice_or_of_no_handle_is_esrch(void **state)
{
    conc_handle_t fired, timer, ready, none = CONC_HANDLE_NONE;
    conc_loop_t loop;

    (void)state;
    log_reset();
    init_default(&loop);
    assert_rc(0, conc_loop_call_soon(&loop, record, V(1), &fired));
    assert_rc(0, conc_loop_run_once(&loop, 0));
    assert_int_equal(1, g_log.n);
    assert_rc(CONC_ESRCH, conc_loop_cancel(&loop, fired));

    assert_rc(0, conc_loop_call_later(&loop, CONC_SEC(60), record, V(2), &timer));
    assert_rc(0, conc_loop_cancel(&loop, timer));
    assert_rc(CONC_ESRCH, conc_loop_cancel(&loop, timer));

    assert_rc(0, conc_loop_call_soon(&loop, record, V(3), &ready));
    assert_rc(0, conc_loop_cancel(&loop, ready));
    assert_rc(CONC_ESRCH, conc_loop_cancel(&loop, ready));

    assert_rc(CONC_ESRCH, conc_loop_cancel(&loop, none));
    assert_rc(0, conc_loop_run_once(&loop, 0));
    assert_int_equal(1, g_log.n);
    assert_rc(CONC_ESRCH, conc_loop_cancel(&loop, ready));
    assert_rc(0, conc_loop_destroy(&loop));
}

static conc_handle_t g_self;

static void cancel_self(conc_loop_t *loop, void *arg)
{
    (void)arg;
    g_rc[0] = conc_loop_cancel(loop, g_self);
}

static void loop_cancel_of_the_running_callback_is_esrch(void **state)
{
    conc_loop_t loop;

    (void)state;
    init_default(&loop);
    g_rc[0] = -100;
    assert_rc(0, conc_loop_call_soon(&loop, cancel_self, NULL, &g_self));
    assert_rc(0, conc_loop_run_once(&loop, 0));
    assert_rc(CONC_ESRCH, g_rc[0]);
    g_rc[0] = -100;
    assert_rc(0, conc_loop_call_at(&loop, 0, cancel_self, NULL, &g_self));
    assert_rc(0, conc_loop_run_once(&loop, 0));
    assert_rc(CONC_ESRCH, g_rc[0]);
    assert_rc(0, conc_loop_destroy(&loop));
}

static conc_handle_t g_victims[2];

static void cancel_victims(conc_loop_t *loop, void *arg)
{
    (void)arg;
    log_add(0);
    g_rc[0] = conc_loop_cancel(loop, g_victims[0]);
    g_rc[1] = conc_loop_cancel(loop, g_victims[1]);
}

static void loop_callback_cancels_a_later_callback_of_the_same_iteration(void **state)
{
    static const intptr_t expect[] = { 0, 3 };
    conc_loop_t loop;

    (void)state;
    log_reset();
    init_default(&loop);
    /* A ready callback and an expired timer: both in this iteration. */
    assert_rc(0, conc_loop_call_soon(&loop, cancel_victims, NULL, NULL));
    assert_rc(0, conc_loop_call_soon(&loop, record, V(1), &g_victims[0]));
    assert_rc(0, conc_loop_call_at(&loop, 0, record, V(2), &g_victims[1]));
    assert_rc(0, conc_loop_call_at(&loop, 0, record, V(3), NULL));
    assert_rc(0, conc_loop_run_once(&loop, 0));
    assert_rc(0, g_rc[0]);
    assert_rc(0, g_rc[1]);
    assert_log(expect, 2);
    assert_rc(0, conc_loop_destroy(&loop));
}

static void loop_stale_handle_never_cancels_the_callback_reusing_its_entry(void **state)
{
    static const intptr_t expect[] = { 1, 2, 3 };
    conc_handle_t ran, cancelled, h2, h3;
    conc_loop_t loop;

    (void)state;
    log_reset();
    init_default(&loop);
    assert_rc(0, conc_loop_call_soon(&loop, record, V(1), &ran));
    assert_rc(0, conc_loop_run_once(&loop, 0));
    assert_rc(0, conc_loop_call_soon(&loop, record, V(2), &h2));
    /* Entries are recycled: the case the handle's sequence number is for. */
    assert_ptr_equal(ran.node_, h2.node_);
    assert_rc(CONC_ESRCH, conc_loop_cancel(&loop, ran));

    assert_rc(0, conc_loop_call_later(&loop, CONC_SEC(60), record, V(9), &cancelled));
    assert_rc(0, conc_loop_cancel(&loop, cancelled));
    assert_rc(0, conc_loop_call_at(&loop, 0, record, V(3), &h3));
    assert_ptr_equal(cancelled.node_, h3.node_);
    assert_rc(CONC_ESRCH, conc_loop_cancel(&loop, cancelled));

    assert_rc(0, conc_loop_run_once(&loop, 0));
    assert_log(expect, 3);
    assert_rc(0, conc_loop_destroy(&loop));
}

static void loop_cancel_of_another_loops_handle_is_einval(void **state)
{
    static const intptr_t expect[] = { 1 };
    conc_handle_t ha, ht;
    conc_loop_t a, b;

    (void)state;
    log_reset();
    init_default(&a);
    init_default(&b);
    assert_rc(0, conc_loop_call_soon(&a, record, V(1), &ha));
    assert_rc(0, conc_loop_call_later(&a, CONC_SEC(60), record, V(2), &ht));
    assert_rc(CONC_EINVAL, conc_loop_cancel(&b, ha));
    assert_rc(CONC_EINVAL, conc_loop_cancel(&b, ht));
    assert_rc(0, conc_loop_run_once(&b, 0));
    assert_rc(0, conc_loop_run_once(&a, 0));
    assert_log(expect, 1); /* not cancelled by the refused call */
    assert_rc(0, conc_loop_cancel(&a, ht));
    assert_rc(0, conc_loop_destroy(&a));
    assert_rc(0, conc_loop_destroy(&b));
}

/* ---- call_soon_threadsafe ------------------------------------------------- */

enum { PRODUCERS = 8 };

struct ts_shared {
    conc_loop_t *loop;
    long per;
    long total;
    long count; /* loop thread only */
    long long sum;
    long last[PRODUCERS];
    long disorder;
    _Atomic long failures;
    conc_thread_t threads[PRODUCERS];
    struct ts_producer {
        struct ts_shared *s;
        long index;
    } producers[PRODUCERS];
};

static struct ts_shared *g_ts;

static void ts_cb(conc_loop_t *loop, void *arg)
{
    struct ts_shared *s = g_ts;
    long v = (long)(intptr_t)arg;
    long t = (v - 1) / s->per, k = (v - 1) % s->per;
    if (k <= s->last[t])
        s->disorder++;
    s->last[t] = k;
    s->sum += v;
    if (++s->count == s->total)
        conc_loop_stop(loop);
}

static void *ts_produce(void *arg)
{
    struct ts_producer *p = arg;
    struct ts_shared *s = p->s;

    for (long k = 0; k < s->per; k++) {
        long v = p->index * s->per + k + 1;
        if (conc_loop_call_soon_threadsafe(s->loop, ts_cb, V(v)) != 0)
            atomic_fetch_add(&s->failures, 1);
    }
    return NULL;
}

static void ts_start_producers(conc_loop_t *loop, void *arg)
{
    struct ts_shared *s = arg;

    (void)loop;
    for (int i = 0; i < PRODUCERS; i++) {
        s->producers[i] = (struct ts_producer){ s, i };
        if (conc_thread_create(&s->threads[i], NULL, ts_produce, &s->producers[i]) != 0)
            atomic_fetch_add(&s->failures, 1000000);
    }
}

static void loop_call_soon_threadsafe_from_many_threads_runs_every_call_once(void **state)
{
    static struct ts_shared s;
    conc_loop_t loop;
    long long n;

    (void)state;
    memset(&s, 0, sizeof s);
    s.per = 100000 * test_stress_scale(); /* about 2 s under TSan */
    s.total = PRODUCERS * s.per;
    for (int i = 0; i < PRODUCERS; i++)
        s.last[i] = -1;
    init_default(&loop);
    s.loop = &loop;
    g_ts = &s;
    assert_rc(0, conc_loop_call_soon(&loop, ts_start_producers, &s, NULL));
    assert_rc(0, conc_loop_run_forever(&loop));
    for (int i = 0; i < PRODUCERS; i++)
        join_thread(&s.threads[i]);
    assert_int_equal(0, atomic_load(&s.failures));
    n = s.total;
    assert_int_equal(s.total, s.count);
    assert_true(s.sum == n * (n + 1) / 2);
    assert_int_equal(0, s.disorder); /* each thread's calls run in its order */
    for (int i = 0; i < PRODUCERS; i++)
        assert_int_equal(s.per - 1, s.last[i]);
    /* Nothing more arrives: no entry was run twice or left behind. */
    assert_rc(0, conc_loop_run_once(&loop, 0));
    assert_int_equal(s.total, s.count);
    assert_rc(0, conc_loop_destroy(&loop));
}

struct waker {
    conc_loop_t *loop;
    int rounds;
    _Atomic int done;
    int rc;
};

static void waker_cb(conc_loop_t *loop, void *arg)
{
    struct waker *w = arg;

    if (atomic_fetch_add(&w->done, 1) + 1 == w->rounds)
        conc_loop_stop(loop);
}

static void *wake_each_sleep(void *arg)
{
    struct waker *w = arg;

    for (int r = 0; r < w->rounds; r++) {
        /* One call per sleep of the loop: each must wake it by itself. */
        while (atomic_load(&w->done) != r || !loop_sleeping(w->loop))
            conc_thread_yield();
        int rc = conc_loop_call_soon_threadsafe(w->loop, waker_cb, w);
        if (rc != 0)
            w->rc = rc;
    }
    return NULL;
}

static void loop_call_soon_threadsafe_wakes_a_loop_sleeping_without_timers(void **state)
{
    struct waker w = { 0 };
    conc_loop_t loop;
    conc_thread_t t;

    (void)state;
    init_default(&loop);
    w.loop = &loop;
    w.rounds = 200;
    t = start_thread(wake_each_sleep, &w);
    assert_rc(0, conc_loop_run_forever(&loop));
    join_thread(&t);
    assert_rc(0, w.rc);
    assert_int_equal(w.rounds, atomic_load(&w.done));
    assert_rc(0, conc_loop_destroy(&loop));
}

static void *submit_one(void *arg)
{
    struct on_thread *o = arg;

    o->rc[0] = conc_loop_call_soon_threadsafe(o->loop, record, V(1));
    o->rc[1] = conc_loop_call_soon_threadsafe(o->loop, record, V(2));
    return NULL;
}

static void loop_call_soon_threadsafe_on_a_stopped_loop_runs_at_the_next_run(void **state)
{
    static const intptr_t expect[] = { 1, 2 };
    struct on_thread o = { 0 };
    conc_loop_t loop;
    conc_thread_t t;

    (void)state;
    log_reset();
    init_default(&loop);
    assert_rc(0, conc_loop_call_soon(&loop, stop_cb, NULL, NULL));
    assert_rc(0, conc_loop_run_forever(&loop));
    o.loop = &loop;
    t = start_thread(submit_one, &o);
    join_thread(&t);
    assert_rc(0, o.rc[0]);
    assert_rc(0, o.rc[1]);
    assert_int_equal(0, g_log.n);
    assert_rc(0, conc_loop_run_once(&loop, 0));
    assert_log(expect, 2);
    assert_rc(0, conc_loop_destroy(&loop));
}

static void loop_call_soon_threadsafe_after_destroy_is_einval(void **state)
{
    conc_loop_t loop, zeroed;

    (void)state;
    memset(&zeroed, 0, sizeof zeroed);
    assert_rc(CONC_EINVAL, conc_loop_call_soon_threadsafe(&zeroed, cb_noop, NULL));
    init_default(&loop);
    assert_rc(CONC_EINVAL, conc_loop_call_soon_threadsafe(&loop, NULL, NULL));
    assert_rc(0, conc_loop_destroy(&loop));
    assert_rc(CONC_EINVAL, conc_loop_call_soon_threadsafe(&loop, cb_noop, NULL));
}

/* Thread-safe submissions keep coming (here a callback resubmits itself,
 * as producers that never pause would): the loop still reaches its timers
 * (and descriptors, and stop) within the iteration. */
static void loop_timer_is_not_starved_by_a_threadsafe_callback_resubmitting_itself(void **state)
{
    struct spin r = { .threadsafe = true };
    conc_loop_t loop;

    (void)state;
    log_reset();
    init_default(&loop);
    r.give_up_at = conc_now_ns() + CONC_SEC(20);
    assert_rc(0, conc_loop_call_soon_threadsafe(&loop, spin_cb, &r));
    assert_rc(0, conc_loop_call_at(&loop, 0, spin_timer_cb, &r, NULL));
    assert_rc(0, conc_loop_run_forever(&loop));
    /* The resubmitter's last entry is still queued: run it out. */
    while (!r.gave_up && conc_loop_run_once(&loop, 0) == 0 && r.runs == r.runs_when_fired)
        ;
    assert_rc(0, conc_loop_destroy(&loop)); /* first: nothing leaks on failure */
    assert_false(r.gave_up);
    assert_true(r.fired);
    assert_true(r.runs_when_fired >= 1);
}

struct ordered {
    long next;
    long disorder;
};

static void ordered_cb(conc_loop_t *loop, void *arg)
{
    struct ordered *o = g_ordered;

    (void)loop;
    if ((long)(intptr_t)arg != o->next)
        o->disorder++;
    o->next = (long)(intptr_t)arg + 1;
}

static void *submit_many(void *arg)
{
    struct on_thread *o = arg;

    for (long i = 0; i < o->n; i++)
        if (conc_loop_call_soon_threadsafe(o->loop, ordered_cb, V(i)) != 0)
            o->rc[0]++;
    return NULL;
}

/* Many more entries than the loop takes in one go (while it is not even
 * running): every one runs, in the order the thread made its calls. */
static void loop_call_soon_threadsafe_keeps_one_threads_order_across_a_backlog(void **state)
{
    enum { N = 20000 };
    struct ordered ord = { 0 };
    struct on_thread o = { 0 };
    conc_loop_t loop;
    conc_thread_t t;

    (void)state;
    init_default(&loop);
    g_ordered = &ord;
    o.loop = &loop;
    o.n = N;
    t = start_thread(submit_many, &o);
    join_thread(&t);
    assert_int_equal(0, o.rc[0]);
    for (int i = 0; i < 100 && ord.next < N; i++)
        assert_rc(0, conc_loop_run_once(&loop, 0));
    assert_int_equal(N, ord.next);
    assert_int_equal(0, ord.disorder);
    /* And with the loop running while the thread submits. */
    ord.next = 0;
    o.n = N;
    t = start_thread(submit_many, &o);
    while (ord.next < N)
        assert_rc(0, conc_loop_run_once(&loop, CONC_MS(100)));
    join_thread(&t);
    assert_int_equal(0, o.rc[0]);
    assert_int_equal(0, ord.disorder);
    assert_rc(0, conc_loop_destroy(&loop));
}

/* ---- destroy with pending work -------------------------------------------- */

static void loop_destroy_drops_pending_callbacks_timers_and_watchers(void **state)
{
    conc_handle_t h;
    conc_loop_t loop;
    int sv[2];

    (void)state;
    log_reset();
    assert_int_equal(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
    assert_int_equal(1, write(sv[1], "x", 1));
    init_default(&loop);
    for (int i = 0; i < 300; i++) /* more than one chunk of entries */
        assert_rc(0, conc_loop_call_soon(&loop, record, V(i), NULL));
    assert_rc(0, conc_loop_call_soon(&loop, record, V(1000), &h));
    assert_rc(0, conc_loop_cancel(&loop, h));
    for (int i = 0; i < 5; i++) {
        assert_rc(0, conc_loop_call_later(&loop, CONC_US(1), record, V(i), NULL));
        assert_rc(0, conc_loop_call_at(&loop, 0, record, V(i), NULL));
    }
    for (int i = 0; i < 5000; i++) /* more than fit without allocating */
        assert_rc(0, conc_loop_call_soon_threadsafe(&loop, record, V(i)));
    assert_rc(0, conc_loop_add_reader(&loop, sv[0], fd_noop, NULL));
    assert_rc(0, conc_loop_add_writer(&loop, sv[0], fd_noop, NULL));
    assert_rc(0, conc_loop_destroy(&loop));
    assert_int_equal(0, g_log.n);
    /* Descriptors are not closed, and a new loop may watch them. */
    assert_true(fcntl(sv[0], F_GETFD) >= 0);
    assert_true(fcntl(sv[1], F_GETFD) >= 0);
    init_default(&loop);
    assert_rc(0, conc_loop_add_reader(&loop, sv[0], fd_record_current, V(5)));
    assert_rc(0, conc_loop_run_once(&loop, CONC_SEC(5)));
    assert_int_equal(1, g_log.n);
    assert_rc(0, conc_loop_destroy(&loop));
    close(sv[0]);
    close(sv[1]);
}

static void *destroy_running(void *arg)
{
    struct on_thread *o = arg;

    o->rc[0] = conc_loop_destroy(o->loop);
    return NULL;
}

static void loop_destroy_while_running_is_ebusy_and_releases_nothing(void **state)
{
    static const intptr_t expect[] = { 1, 2 };
    struct on_thread o = { 0 };
    conc_loop_t loop;

    (void)state;
    log_reset();
    init_default(&loop);
    assert_rc(0, conc_loop_call_later(&loop, 0, record, V(1), NULL));
    o.rc[0] = -100;
    run_with_thread(&loop, destroy_running, &o);
    assert_rc(CONC_EBUSY, o.rc[0]);
    assert_rc(0, conc_loop_call_soon(&loop, record, V(2), NULL));
    assert_rc(0, conc_loop_run_once(&loop, 0));
    assert_log(expect, 2);
    assert_rc(0, conc_loop_destroy(&loop));
}

/* ---- descriptors, on each poller backend ---------------------------------- */

#define ON_EACH_POLLER(name)                  \
    static void name##_on_epoll(void **state) \
    {                                         \
        (void)state;                          \
        name(CONC_POLLER_EPOLL);              \
    }                                         \
    static void name##_on_poll(void **state)  \
    {                                         \
        (void)state;                          \
        name(CONC_POLLER_POLL);               \
    }
#define EACH_POLLER(name) cmocka_unit_test(name##_on_epoll), cmocka_unit_test(name##_on_poll)

struct fdrec {
    int calls;
    int fd;
    unsigned events;
    conc_loop_t *loop;
    conc_loop_t *current;
    int remove_rc;
    int other_fd;     /* a descriptor this callback acts on */
    bool remove_self; /* remove its own watcher when called */
    bool remove_other_reader, remove_other_writer;
    bool drain; /* read what is there */
    bool stop;
    long spin_runs; /* for the starvation test */
    struct spin *spin;
};

static void fd_cb(conc_loop_t *loop, int fd, unsigned events, void *arg)
{
    struct fdrec *r = arg;
    char buf[256];

    r->calls++;
    r->fd = fd;
    r->events = events;
    r->loop = loop;
    r->current = conc_loop_current();
    if (r->spin)
        r->spin_runs = r->spin->runs;
    log_add(fd);
    if (r->drain)
        while (read(fd, buf, sizeof buf) > 0)
            ;
    if (r->remove_self)
        r->remove_rc = events == CONC_READABLE ? conc_loop_remove_reader(loop, fd)
                                               : conc_loop_remove_writer(loop, fd);
    if (r->remove_other_reader)
        r->remove_rc = conc_loop_remove_reader(loop, r->other_fd);
    if (r->remove_other_writer)
        r->remove_rc = conc_loop_remove_writer(loop, r->other_fd);
    if (r->stop)
        conc_loop_stop(loop);
}

static void make_pipe(int p[2])
{
    assert_int_equal(0, pipe2(p, O_NONBLOCK | O_CLOEXEC));
}

static void make_socketpair(int sv[2])
{
    assert_int_equal(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv));
}

static void close_pair(int p[2])
{
    close(p[0]);
    close(p[1]);
}

static void fill(int fd)
{
    static char buf[65536];

    while (write(fd, buf, sizeof buf) > 0)
        ;
    while (write(fd, buf, 1) > 0)
        ;
    assert_int_equal(EAGAIN, errno);
}

static void drain(int fd)
{
    char buf[65536];

    while (read(fd, buf, sizeof buf) > 0)
        ;
}

static void loop_reader_fires_when_data_arrives(int kind)
{
    struct fdrec r = { 0 };
    conc_loop_t loop;
    int p[2];

    make_pipe(p);
    init_kind(&loop, kind);
    assert_rc(0, conc_loop_add_reader(&loop, p[0], fd_cb, &r));
    assert_rc(0, conc_loop_run_once(&loop, CONC_MS(10)));
    assert_int_equal(0, r.calls);
    assert_int_equal(1, write(p[1], "x", 1));
    assert_rc(0, conc_loop_run_once(&loop, CONC_SEC(5)));
    assert_int_equal(1, r.calls);
    assert_int_equal(p[0], r.fd);
    assert_int_equal(CONC_READABLE, r.events);
    assert_ptr_equal(&loop, r.loop);
    assert_ptr_equal(&loop, r.current);
    /* Level-triggered: again while the data is there, not after. */
    assert_rc(0, conc_loop_run_once(&loop, CONC_SEC(5)));
    assert_int_equal(2, r.calls);
    drain(p[0]);
    assert_rc(0, conc_loop_run_once(&loop, CONC_MS(10)));
    assert_int_equal(2, r.calls);
    assert_rc(0, conc_loop_remove_reader(&loop, p[0]));
    assert_rc(0, conc_loop_destroy(&loop));
    close_pair(p);
}
ON_EACH_POLLER(loop_reader_fires_when_data_arrives)

struct writer_thread {
    conc_loop_t *loop;
    int fd;
    ssize_t n;
};

static void *write_when_sleeping(void *arg)
{
    struct writer_thread *w = arg;

    while (!loop_sleeping(w->loop))
        conc_thread_yield();
    w->n = write(w->fd, "y", 1);
    return NULL;
}

static void loop_reader_wakes_a_sleeping_loop(int kind)
{
    struct writer_thread w = { 0 };
    struct fdrec r = { 0 };
    conc_loop_t loop;
    conc_thread_t t;
    int p[2];

    make_pipe(p);
    init_kind(&loop, kind);
    r.drain = true;
    r.stop = true;
    assert_rc(0, conc_loop_add_reader(&loop, p[0], fd_cb, &r));
    w.loop = &loop;
    w.fd = p[1];
    t = start_thread(write_when_sleeping, &w);
    assert_rc(0, conc_loop_run_forever(&loop));
    join_thread(&t);
    assert_int_equal(1, w.n);
    assert_int_equal(1, r.calls);
    assert_rc(0, conc_loop_remove_reader(&loop, p[0]));
    assert_rc(0, conc_loop_destroy(&loop));
    close_pair(p);
}
ON_EACH_POLLER(loop_reader_wakes_a_sleeping_loop)

static void loop_writer_fires_when_writable_and_not_while_full(int kind)
{
    struct fdrec r = { 0 };
    conc_loop_t loop;
    int sv[2];

    make_socketpair(sv);
    init_kind(&loop, kind);
    assert_rc(0, conc_loop_add_writer(&loop, sv[0], fd_cb, &r));
    assert_rc(0, conc_loop_run_once(&loop, CONC_SEC(5)));
    assert_int_equal(1, r.calls);
    assert_int_equal(sv[0], r.fd);
    assert_int_equal(CONC_WRITABLE, r.events);
    fill(sv[0]);
    assert_rc(0, conc_loop_run_once(&loop, CONC_MS(20)));
    assert_int_equal(1, r.calls);
    drain(sv[1]);
    assert_rc(0, conc_loop_run_once(&loop, CONC_SEC(5)));
    assert_int_equal(2, r.calls);
    assert_int_equal(CONC_WRITABLE, r.events);
    assert_rc(0, conc_loop_remove_writer(&loop, sv[0]));
    assert_rc(0, conc_loop_destroy(&loop));
    close_pair(sv);
}
ON_EACH_POLLER(loop_writer_fires_when_writable_and_not_while_full)

static void loop_removed_reader_and_writer_stop_firing(int kind)
{
    struct fdrec r = { 0 }, w = { 0 };
    conc_loop_t loop;
    int sv[2];

    make_socketpair(sv);
    assert_int_equal(1, write(sv[1], "x", 1));
    init_kind(&loop, kind);
    assert_rc(0, conc_loop_add_reader(&loop, sv[0], fd_cb, &r));
    assert_rc(0, conc_loop_add_writer(&loop, sv[0], fd_cb, &w));
    assert_rc(0, conc_loop_run_once(&loop, CONC_SEC(5)));
    assert_int_equal(1, r.calls);
    assert_int_equal(1, w.calls);
    assert_rc(0, conc_loop_remove_reader(&loop, sv[0]));
    assert_rc(0, conc_loop_run_once(&loop, CONC_SEC(5)));
    assert_int_equal(1, r.calls);
    assert_int_equal(2, w.calls);
    assert_rc(0, conc_loop_remove_writer(&loop, sv[0]));
    assert_rc(0, conc_loop_run_once(&loop, CONC_MS(10)));
    assert_int_equal(1, r.calls);
    assert_int_equal(2, w.calls);
    /* Removed twice: nothing there. */
    assert_rc(CONC_ESRCH, conc_loop_remove_reader(&loop, sv[0]));
    assert_rc(CONC_ESRCH, conc_loop_remove_writer(&loop, sv[0]));
    /* Watching again after a removal works. */
    assert_rc(0, conc_loop_add_reader(&loop, sv[0], fd_cb, &r));
    assert_rc(0, conc_loop_run_once(&loop, CONC_SEC(5)));
    assert_int_equal(2, r.calls);
    assert_rc(0, conc_loop_remove_reader(&loop, sv[0]));
    assert_rc(0, conc_loop_destroy(&loop));
    close_pair(sv);
}
ON_EACH_POLLER(loop_removed_reader_and_writer_stop_firing)

static void loop_second_watcher_of_a_direction_is_ebusy(int kind)
{
    struct fdrec first = { 0 }, second = { 0 }, w1 = { 0 }, w2 = { 0 };
    conc_loop_t loop;
    int sv[2];

    make_socketpair(sv);
    assert_int_equal(1, write(sv[1], "x", 1));
    init_kind(&loop, kind);
    assert_rc(0, conc_loop_add_reader(&loop, sv[0], fd_cb, &first));
    assert_rc(CONC_EBUSY, conc_loop_add_reader(&loop, sv[0], fd_cb, &second));
    assert_rc(CONC_EBUSY, conc_loop_add_reader(&loop, sv[0], fd_cb, &first));
    /* The other direction is free. */
    assert_rc(0, conc_loop_add_writer(&loop, sv[0], fd_cb, &w1));
    assert_rc(CONC_EBUSY, conc_loop_add_writer(&loop, sv[0], fd_cb, &w2));
    assert_rc(0, conc_loop_run_once(&loop, CONC_SEC(5)));
    assert_int_equal(1, first.calls);
    assert_int_equal(0, second.calls);
    assert_int_equal(1, w1.calls);
    assert_int_equal(0, w2.calls);
    /* One removal takes the one watcher away. */
    assert_rc(0, conc_loop_remove_reader(&loop, sv[0]));
    assert_rc(CONC_ESRCH, conc_loop_remove_reader(&loop, sv[0]));
    assert_rc(0, conc_loop_remove_writer(&loop, sv[0]));
    assert_rc(0, conc_loop_destroy(&loop));
    close_pair(sv);
}
ON_EACH_POLLER(loop_second_watcher_of_a_direction_is_ebusy)

static void loop_removing_an_unwatched_descriptor_is_esrch(int kind)
{
    struct fdrec w = { 0 };
    conc_loop_t loop;
    int p[2];

    make_pipe(p);
    init_kind(&loop, kind);
    assert_rc(CONC_ESRCH, conc_loop_remove_reader(&loop, p[0]));
    assert_rc(CONC_ESRCH, conc_loop_remove_writer(&loop, p[1]));
    assert_rc(CONC_ESRCH, conc_loop_remove_reader(&loop, 100000)); /* beyond any table */
    assert_rc(CONC_ESRCH, conc_loop_remove_writer(&loop, INT_MAX));
    /* A writer only: no reader to remove, and the writer stays. */
    assert_rc(0, conc_loop_add_writer(&loop, p[1], fd_cb, &w));
    assert_rc(CONC_ESRCH, conc_loop_remove_reader(&loop, p[1]));
    assert_rc(0, conc_loop_run_once(&loop, CONC_SEC(5)));
    assert_int_equal(1, w.calls);
    assert_rc(0, conc_loop_remove_writer(&loop, p[1]));
    assert_rc(0, conc_loop_destroy(&loop));
    close_pair(p);
}
ON_EACH_POLLER(loop_removing_an_unwatched_descriptor_is_esrch)

static void loop_bad_descriptor_or_null_callback_is_einval(int kind)
{
    conc_loop_t loop;
    int p[2], closed;

    init_kind(&loop, kind);
    /* Closed after the loop opened its own descriptors, so that none of
     * them takes the number. */
    make_pipe(p);
    closed = p[0];
    close(closed);
    assert_rc(CONC_EINVAL, conc_loop_add_reader(&loop, -1, fd_noop, NULL));
    assert_rc(CONC_EINVAL, conc_loop_add_writer(&loop, -1, fd_noop, NULL));
    assert_rc(CONC_EINVAL, conc_loop_add_reader(&loop, INT_MIN, fd_noop, NULL));
    assert_rc(CONC_EINVAL, conc_loop_remove_reader(&loop, -1));
    assert_rc(CONC_EINVAL, conc_loop_remove_writer(&loop, -1));
    assert_rc(CONC_EINVAL, conc_loop_add_reader(&loop, closed, fd_noop, NULL));
    assert_rc(CONC_EINVAL, conc_loop_add_writer(&loop, closed, fd_noop, NULL));
    assert_rc(CONC_EINVAL, conc_loop_add_reader(&loop, p[1], NULL, NULL));
    assert_rc(CONC_EINVAL, conc_loop_add_writer(&loop, p[1], NULL, NULL));
    /* The refusals registered nothing. */
    assert_rc(CONC_ESRCH, conc_loop_remove_reader(&loop, closed));
    assert_rc(CONC_ESRCH, conc_loop_remove_writer(&loop, closed));
    assert_rc(CONC_ESRCH, conc_loop_remove_reader(&loop, p[1]));
    assert_rc(CONC_ESRCH, conc_loop_remove_writer(&loop, p[1]));
    assert_rc(0, conc_loop_add_writer(&loop, p[1], fd_noop, NULL));
    assert_rc(0, conc_loop_remove_writer(&loop, p[1]));
    assert_rc(0, conc_loop_run_once(&loop, 0));
    assert_rc(0, conc_loop_destroy(&loop));
    close(p[1]);
}
ON_EACH_POLLER(loop_bad_descriptor_or_null_callback_is_einval)

static void loop_add_reader_of_a_regular_file_under_epoll_is_einval(void **state)
{
    char path[] = "/tmp/conc_test_loop_XXXXXX";
    conc_loop_t loop;
    int fd;

    (void)state;
    fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    init_kind(&loop, CONC_POLLER_EPOLL);
    assert_rc(CONC_EINVAL, conc_loop_add_reader(&loop, fd, fd_noop, NULL));
    assert_rc(CONC_EINVAL, conc_loop_add_writer(&loop, fd, fd_noop, NULL));
    assert_rc(CONC_ESRCH, conc_loop_remove_reader(&loop, fd));
    assert_rc(0, conc_loop_destroy(&loop));
    close(fd);
}

static void loop_peer_close_fires_the_reader_and_read_returns_zero(int kind)
{
    struct fdrec rs = { 0 }, rp = { 0 };
    conc_loop_t loop;
    int sv[2], p[2];
    char c;

    make_socketpair(sv);
    make_pipe(p);
    init_kind(&loop, kind);
    assert_rc(0, conc_loop_add_reader(&loop, sv[0], fd_cb, &rs));
    assert_rc(0, conc_loop_add_reader(&loop, p[0], fd_cb, &rp));
    assert_rc(0, conc_loop_run_once(&loop, CONC_MS(10)));
    assert_int_equal(0, rs.calls + rp.calls);
    close(sv[1]);
    close(p[1]);
    for (int i = 0; i < 10 && (rs.calls == 0 || rp.calls == 0); i++)
        assert_rc(0, conc_loop_run_once(&loop, CONC_SEC(5)));
    assert_int_equal(1, rs.calls);
    assert_int_equal(1, rp.calls);
    assert_int_equal(CONC_READABLE, rs.events);
    assert_int_equal(CONC_READABLE, rp.events);
    assert_int_equal(0, read(sv[0], &c, 1));
    assert_int_equal(0, read(p[0], &c, 1));
    assert_rc(0, conc_loop_remove_reader(&loop, sv[0]));
    assert_rc(0, conc_loop_remove_reader(&loop, p[0]));
    assert_rc(0, conc_loop_destroy(&loop));
    close(sv[0]);
    close(p[0]);
}
ON_EACH_POLLER(loop_peer_close_fires_the_reader_and_read_returns_zero)

static void loop_peer_close_fires_a_blocked_writer_with_the_error(int kind)
{
    struct fdrec w = { 0 };
    conc_loop_t loop;
    int sv[2];

    make_socketpair(sv);
    fill(sv[0]);
    init_kind(&loop, kind);
    assert_rc(0, conc_loop_add_writer(&loop, sv[0], fd_cb, &w));
    assert_rc(0, conc_loop_run_once(&loop, CONC_MS(10)));
    assert_int_equal(0, w.calls);
    close(sv[1]);
    assert_rc(0, conc_loop_run_once(&loop, CONC_SEC(5)));
    assert_int_equal(1, w.calls);
    assert_int_equal(CONC_WRITABLE, w.events);
    assert_int_equal(-1, send(sv[0], "x", 1, MSG_NOSIGNAL));
    assert_int_equal(EPIPE, errno);
    assert_rc(0, conc_loop_remove_writer(&loop, sv[0]));
    assert_rc(0, conc_loop_destroy(&loop));
    close(sv[0]);
}
ON_EACH_POLLER(loop_peer_close_fires_a_blocked_writer_with_the_error)

static void loop_reader_and_writer_on_one_descriptor_fire_independently(int kind)
{
    struct fdrec r = { 0 }, w = { 0 };
    conc_loop_t loop;
    int sv[2];

    make_socketpair(sv);
    init_kind(&loop, kind);
    assert_rc(0, conc_loop_add_reader(&loop, sv[0], fd_cb, &r));
    assert_rc(0, conc_loop_add_writer(&loop, sv[0], fd_cb, &w));
    assert_rc(0, conc_loop_run_once(&loop, CONC_SEC(5)));
    assert_int_equal(0, r.calls);
    assert_int_equal(1, w.calls);
    assert_int_equal(CONC_WRITABLE, w.events);
    assert_int_equal(1, write(sv[1], "x", 1));
    assert_rc(0, conc_loop_run_once(&loop, CONC_SEC(5)));
    assert_int_equal(1, r.calls);
    assert_int_equal(CONC_READABLE, r.events);
    assert_int_equal(2, w.calls);
    assert_int_equal(CONC_WRITABLE, w.events);
    /* Readable but full: only the reader. */
    fill(sv[0]);
    assert_rc(0, conc_loop_run_once(&loop, CONC_SEC(5)));
    assert_int_equal(2, r.calls);
    assert_int_equal(2, w.calls);
    assert_rc(0, conc_loop_remove_reader(&loop, sv[0]));
    assert_rc(0, conc_loop_remove_writer(&loop, sv[0]));
    assert_rc(0, conc_loop_destroy(&loop));
    close_pair(sv);
}
ON_EACH_POLLER(loop_reader_and_writer_on_one_descriptor_fire_independently)

static void loop_callback_removing_its_own_watcher_is_not_called_again(int kind)
{
    struct fdrec r = { 0 }, w = { 0 };
    conc_loop_t loop;
    int sv[2];

    make_socketpair(sv);
    assert_int_equal(1, write(sv[1], "x", 1));
    init_kind(&loop, kind);
    r.remove_self = w.remove_self = true;
    r.remove_rc = w.remove_rc = -100;
    assert_rc(0, conc_loop_add_reader(&loop, sv[0], fd_cb, &r));
    assert_rc(0, conc_loop_add_writer(&loop, sv[0], fd_cb, &w));
    for (int i = 0; i < 3; i++)
        assert_rc(0, conc_loop_run_once(&loop, CONC_MS(10)));
    assert_int_equal(1, r.calls);
    assert_int_equal(1, w.calls);
    assert_rc(0, r.remove_rc);
    assert_rc(0, w.remove_rc);
    assert_rc(CONC_ESRCH, conc_loop_remove_reader(&loop, sv[0]));
    assert_rc(CONC_ESRCH, conc_loop_remove_writer(&loop, sv[0]));
    assert_rc(0, conc_loop_destroy(&loop));
    close_pair(sv);
}
ON_EACH_POLLER(loop_callback_removing_its_own_watcher_is_not_called_again)

static void loop_watcher_removed_by_another_callback_is_not_called_that_iteration(int kind)
{
    struct fdrec a = { 0 }, b = { 0 };
    conc_loop_t loop;
    int pa[2], pb[2];

    make_pipe(pa);
    make_pipe(pb);
    assert_int_equal(1, write(pa[1], "x", 1));
    assert_int_equal(1, write(pb[1], "x", 1));
    init_kind(&loop, kind);
    /* Both are ready in the same iteration; whichever runs first removes
     * the other, which must then not run. */
    a.remove_other_reader = b.remove_other_reader = true;
    a.other_fd = pb[0];
    b.other_fd = pa[0];
    assert_rc(0, conc_loop_add_reader(&loop, pa[0], fd_cb, &a));
    assert_rc(0, conc_loop_add_reader(&loop, pb[0], fd_cb, &b));
    assert_rc(0, conc_loop_run_once(&loop, CONC_SEC(5)));
    assert_int_equal(1, a.calls + b.calls);
    assert_rc(0, a.calls ? a.remove_rc : b.remove_rc);
    /* The survivor still fires (its data is unread); the other never. */
    struct fdrec *alive = a.calls ? &a : &b;
    alive->remove_other_reader = false;
    assert_rc(0, conc_loop_run_once(&loop, CONC_SEC(5)));
    assert_int_equal(2, alive->calls);
    assert_int_equal(2, a.calls + b.calls);
    assert_rc(0, conc_loop_remove_reader(&loop, alive == &a ? pa[0] : pb[0]));
    assert_rc(CONC_ESRCH, conc_loop_remove_reader(&loop, alive == &a ? pb[0] : pa[0]));
    assert_rc(0, conc_loop_destroy(&loop));
    close_pair(pa);
    close_pair(pb);
}
ON_EACH_POLLER(loop_watcher_removed_by_another_callback_is_not_called_that_iteration)

static void loop_writer_removed_by_the_reader_of_its_descriptor_is_not_called(int kind)
{
    struct fdrec r = { 0 }, w = { 0 };
    conc_loop_t loop;
    int sv[2];

    make_socketpair(sv);
    assert_int_equal(1, write(sv[1], "x", 1));
    init_kind(&loop, kind);
    /* Readable and writable at once; each removes the other direction. */
    r.remove_other_writer = true;
    w.remove_other_reader = true;
    r.other_fd = w.other_fd = sv[0];
    r.remove_rc = w.remove_rc = -100;
    assert_rc(0, conc_loop_add_reader(&loop, sv[0], fd_cb, &r));
    assert_rc(0, conc_loop_add_writer(&loop, sv[0], fd_cb, &w));
    assert_rc(0, conc_loop_run_once(&loop, CONC_SEC(5)));
    assert_int_equal(1, r.calls + w.calls);
    assert_rc(0, r.calls ? r.remove_rc : w.remove_rc);
    assert_rc(0, conc_loop_run_once(&loop, CONC_MS(10)));
    assert_int_equal(2, r.calls + w.calls);
    assert_true(r.calls == 2 || w.calls == 2);
    assert_rc(0, r.calls ? conc_loop_remove_reader(&loop, sv[0])
                         : conc_loop_remove_writer(&loop, sv[0]));
    assert_rc(0, conc_loop_destroy(&loop));
    close_pair(sv);
}
ON_EACH_POLLER(loop_writer_removed_by_the_reader_of_its_descriptor_is_not_called)

/* Many descriptors ready at once; callbacks remove other watchers as they
 * go (the poll backend then moves its array around): a removed watcher is
 * never called afterwards, and every other one is called. */
enum { MANY = 48 }; /* all fit in the loop's first batch of events */

static struct many {
    int fds[MANY][2];
    bool removed[MANY];
    int calls[MANY];
    int late_calls; /* calls after removal */
    conc_loop_t *loop;
} g_many;

static void many_cb(conc_loop_t *loop, int fd, unsigned events, void *arg)
{
    int i = (int)(intptr_t)arg;

    (void)fd;
    (void)events;
    if (g_many.removed[i])
        g_many.late_calls++;
    g_many.calls[i]++;
    /* Remove the watcher three places on, if nobody has yet. */
    int j = (i + 3) % MANY;
    if (!g_many.removed[j] && g_many.calls[j] == 0) {
        if (conc_loop_remove_reader(loop, g_many.fds[j][0]) == 0)
            g_many.removed[j] = true;
        else
            g_many.late_calls += 1000;
    }
}

static void loop_many_ready_descriptors_with_removals_during_dispatch(int kind)
{
    conc_loop_t loop;
    int called = 0, removed = 0;

    memset(&g_many, 0, sizeof g_many);
    init_kind(&loop, kind);
    for (int i = 0; i < MANY; i++) {
        make_pipe(g_many.fds[i]);
        assert_int_equal(1, write(g_many.fds[i][1], "x", 1));
        assert_rc(0, conc_loop_add_reader(&loop, g_many.fds[i][0], many_cb, V(i)));
    }
    assert_rc(0, conc_loop_run_once(&loop, CONC_SEC(5)));
    assert_int_equal(0, g_many.late_calls);
    for (int i = 0; i < MANY; i++) {
        assert_true(g_many.calls[i] + g_many.removed[i] == 1);
        called += g_many.calls[i];
        removed += g_many.removed[i];
    }
    assert_int_equal(MANY, called + removed);
    assert_true(removed > 0);
    /* Next iteration: exactly the survivors fire again. */
    assert_rc(0, conc_loop_run_once(&loop, CONC_SEC(5)));
    assert_int_equal(0, g_many.late_calls);
    for (int i = 0; i < MANY; i++) {
        if (g_many.removed[i]) {
            assert_int_equal(0, g_many.calls[i]);
            assert_rc(CONC_ESRCH, conc_loop_remove_reader(&loop, g_many.fds[i][0]));
        } else {
            assert_int_equal(2, g_many.calls[i]);
            assert_rc(0, conc_loop_remove_reader(&loop, g_many.fds[i][0]));
        }
    }
    assert_rc(0, conc_loop_destroy(&loop));
    for (int i = 0; i < MANY; i++)
        close_pair(g_many.fds[i]);
}
ON_EACH_POLLER(loop_many_ready_descriptors_with_removals_during_dispatch)

/* A callback that adds many watchers (so the loop's table grows and moves)
 * while other descriptors are still to be dispatched in the same wait. */
enum { GROW = 200 };

static struct grow {
    int fds[GROW][2];
    int added;
    int add_failures;
    int calls[GROW];
    int total;
} g_grow;

static void grow_cb(conc_loop_t *loop, int fd, unsigned events, void *arg)
{
    int i = (int)(intptr_t)arg;

    (void)events;
    g_grow.calls[i]++;
    g_grow.total++;
    drain(fd);
    if (g_grow.added)
        return;
    for (int k = 2; k < GROW; k++) {
        if (conc_loop_add_reader(loop, g_grow.fds[k][0], grow_cb, V(k)) != 0)
            g_grow.add_failures++;
    }
    g_grow.added = 1;
}

static void loop_watchers_added_from_a_callback_grow_the_table_safely(int kind)
{
    struct rlimit lim;
    conc_loop_t loop;

    assert_int_equal(0, getrlimit(RLIMIT_NOFILE, &lim));
    if (lim.rlim_cur < 3 * GROW)
        skip();
    memset(&g_grow, 0, sizeof g_grow);
    for (int i = 0; i < GROW; i++) {
        make_pipe(g_grow.fds[i]);
        assert_int_equal(1, write(g_grow.fds[i][1], "x", 1));
    }
    init_kind(&loop, kind);
    assert_rc(0, conc_loop_add_reader(&loop, g_grow.fds[0][0], grow_cb, V(0)));
    assert_rc(0, conc_loop_add_reader(&loop, g_grow.fds[1][0], grow_cb, V(1)));
    assert_rc(0, conc_loop_run_once(&loop, CONC_SEC(5)));
    assert_int_equal(0, g_grow.add_failures);
    assert_int_equal(1, g_grow.calls[0]);
    assert_int_equal(1, g_grow.calls[1]);
    /* The new watchers: more than one wait's batch may take, so a few
     * iterations; each descriptor is drained, so fires once. */
    for (int round = 0; round < 20 && g_grow.total < GROW; round++)
        assert_rc(0, conc_loop_run_once(&loop, CONC_SEC(5)));
    assert_rc(0, conc_loop_run_once(&loop, 0));
    for (int i = 0; i < GROW; i++) {
        assert_int_equal(1, g_grow.calls[i]);
        assert_rc(0, conc_loop_remove_reader(&loop, g_grow.fds[i][0]));
    }
    assert_rc(0, conc_loop_destroy(&loop));
    for (int i = 0; i < GROW; i++)
        close_pair(g_grow.fds[i]);
}
ON_EACH_POLLER(loop_watchers_added_from_a_callback_grow_the_table_safely)

static void loop_descriptor_number_reused_after_remove_and_close_works(int kind)
{
    struct fdrec r = { 0 };
    conc_loop_t loop;
    int p[2], q[2];

    make_pipe(p);
    init_kind(&loop, kind);
    assert_rc(0, conc_loop_add_reader(&loop, p[0], fd_cb, &r));
    assert_rc(0, conc_loop_remove_reader(&loop, p[0]));
    close_pair(p);
    make_pipe(q); /* the lowest numbers: the same ones */
    assert_int_equal(p[0], q[0]);
    assert_rc(0, conc_loop_add_reader(&loop, q[0], fd_cb, &r));
    assert_int_equal(1, write(q[1], "x", 1));
    assert_rc(0, conc_loop_run_once(&loop, CONC_SEC(5)));
    assert_int_equal(1, r.calls);
    assert_rc(0, conc_loop_remove_reader(&loop, q[0]));
    assert_rc(0, conc_loop_destroy(&loop));
    close_pair(q);
}
ON_EACH_POLLER(loop_descriptor_number_reused_after_remove_and_close_works)

static void loop_descriptor_is_not_starved_by_a_callback_that_reschedules_itself(int kind)
{
    struct spin s = { 0 };
    struct fdrec r = { 0 };
    conc_loop_t loop;
    int p[2];

    make_pipe(p);
    assert_int_equal(1, write(p[1], "x", 1));
    init_kind(&loop, kind);
    s.give_up_at = conc_now_ns() + CONC_SEC(20);
    r.spin = &s;
    r.stop = true;
    r.drain = true;
    assert_rc(0, conc_loop_add_reader(&loop, p[0], fd_cb, &r));
    assert_rc(0, conc_loop_call_soon(&loop, spin_cb, &s, NULL));
    assert_rc(0, conc_loop_run_forever(&loop));
    assert_false(s.gave_up);
    assert_int_equal(1, r.calls);
    /* Descriptors are watched: the poller is asked on every iteration. */
    assert_true(r.spin_runs <= 1);
    s.fired = true; /* the spinner's last run stops rescheduling */
    assert_rc(0, conc_loop_run_once(&loop, 0));
    assert_rc(0, conc_loop_remove_reader(&loop, p[0]));
    assert_rc(0, conc_loop_destroy(&loop));
    close_pair(p);
}
ON_EACH_POLLER(loop_descriptor_is_not_starved_by_a_callback_that_reschedules_itself)

static void fd_record_drain(conc_loop_t *loop, int fd, unsigned events, void *arg)
{
    char c;

    (void)loop;
    (void)events;
    log_add((intptr_t)arg);
    while (read(fd, &c, 1) > 0)
        ;
}

/* docs/loop.md, "One iteration": descriptors, then what other threads
 * submitted, then the ready FIFO, expired timers joining it at its end. */
static void loop_iteration_runs_descriptors_then_threadsafe_then_ready_then_timers(int kind)
{
    static const intptr_t expect[] = { 'F', 'R', 'S', 'T' };
    conc_loop_t loop;
    int p[2];

    log_reset();
    make_pipe(p);
    assert_int_equal(1, write(p[1], "x", 1));
    init_kind(&loop, kind);
    assert_rc(0, conc_loop_call_at(&loop, 0, record, V('T'), NULL));
    assert_rc(0, conc_loop_call_soon(&loop, record, V('S'), NULL));
    assert_rc(0, conc_loop_call_soon_threadsafe(&loop, record, V('R')));
    assert_rc(0, conc_loop_add_reader(&loop, p[0], fd_record_drain, V('F')));
    assert_rc(0, conc_loop_run_once(&loop, 0));
    assert_log(expect, 4);
    assert_rc(0, conc_loop_remove_reader(&loop, p[0]));
    assert_rc(0, conc_loop_destroy(&loop));
    close_pair(p);
}
ON_EACH_POLLER(loop_iteration_runs_descriptors_then_threadsafe_then_ready_then_timers)

/* The eventpoll descriptors of this process, as a bit set of numbers < 1024. */
static void eventpoll_fds(unsigned char set[1024])
{
    char path[64], link[64];

    memset(set, 0, 1024);
    for (int fd = 0; fd < 1024; fd++) {
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
        ssize_t n = readlink(path, link, sizeof link - 1);
        if (n > 0) {
            link[n] = '\0';
            set[fd] = strcmp(link, "anon_inode:[eventpoll]") == 0;
        }
    }
}

static void count_call(conc_loop_t *loop, void *arg)
{
    (void)loop;
    ++*(int *)arg;
}

static int sleep_long(void *arg, void **result)
{
    (void)arg;
    (void)result;
    return conc_task_sleep(CONC_SEC(30));
}

/* Somebody replaces the loop's epoll descriptor behind its back (a buggy
 * "close every descriptor" after fork, say): every wait fails at once. The
 * run returns CONC_EIO after the callbacks already due, instead of spinning
 * for ever; the loop keeps its tasks and runs again once the descriptor is
 * back. */
static void loop_whose_poller_fails_returns_eio_instead_of_spinning(void **state)
{
    conc_loop_attr_t attr = CONC_LOOP_ATTR_INIT;
    unsigned char before[1024], after[1024];
    conc_loop_t loop;
    int epfd = -1, calls = 0;

    (void)state;
    attr.poller = CONC_POLLER_EPOLL;
    eventpoll_fds(before);
    assert_rc(0, conc_loop_init(&loop, &attr));
    eventpoll_fds(after);
    for (int fd = 0; fd < 1024; fd++)
        if (after[fd] && !before[fd])
            epfd = fd;
    assert_true(epfd >= 0);
    int saved = fcntl(epfd, F_DUPFD_CLOEXEC, 0);
    int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    assert_true(saved >= 0 && devnull >= 0);
    assert_int_equal(epfd, dup2(devnull, epfd)); /* no longer an epoll instance */
    close(devnull);

    assert_rc(0, conc_loop_call_soon(&loop, count_call, &calls, NULL));
    assert_rc(CONC_EIO, conc_loop_run_forever(&loop));
    assert_int_equal(1, calls); /* what was due ran; nothing was lost */
    assert_rc(0, conc_loop_call_soon(&loop, count_call, &calls, NULL));
    assert_rc(CONC_EIO, conc_loop_run_once(&loop, CONC_MS(10)));
    assert_int_equal(2, calls);
    conc_task_t *sleeper;
    assert_rc(0, conc_task_spawn(&loop, NULL, sleep_long, NULL, &sleeper));
    assert_rc(CONC_EIO, conc_loop_run_until_complete(&loop, sleeper, NULL));
    assert_int_equal(CONC_TASK_BLOCKED, conc_task_state(sleeper)); /* still the loop's */

    /* The cause gone, the same loop runs again: the task is cancelled and
     * collected, and the loop destroyed as usual. */
    assert_int_equal(epfd, dup2(saved, epfd));
    close(saved);
    assert_rc(0, conc_task_cancel(sleeper));
    assert_rc(CONC_ECANCELED, conc_loop_run_until_complete(&loop, sleeper, NULL));
    assert_rc(0, conc_loop_destroy(&loop));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        /* init, destroy, poller choice */
        cmocka_unit_test(loop_init_rejects_null_loop_and_unknown_poller),
        cmocka_unit_test(loop_init_of_poller_not_compiled_here_is_enotsup),
        cmocka_unit_test(loop_default_poller_is_the_platforms_best),
        cmocka_unit_test(loop_poller_env_variable_overrides_only_the_default),
        cmocka_unit_test(loop_poller_name_is_null_for_null_or_destroyed_loop),
        cmocka_unit_test(loop_destroy_of_never_run_loop_releases_it_for_reuse),
        cmocka_unit_test(loop_destroy_rejects_null_destroyed_or_zeroed_loop),
        cmocka_unit_test(loop_calls_with_null_loop_are_einval),
        cmocka_unit_test(loop_calls_on_destroyed_loop_are_einval),
        cmocka_unit_test(loop_add_watcher_of_unopened_huge_fd_is_einval),
        cmocka_unit_test(loop_init_without_descriptors_left_is_elimit),
        cmocka_unit_test(loop_calls_without_memory_are_enomem),
        /* running */
        cmocka_unit_test(loop_current_is_null_outside_and_the_loop_inside_callbacks),
        cmocka_unit_test(loop_run_inside_its_own_callback_is_ebusy),
        cmocka_unit_test(loop_second_loop_on_the_same_thread_is_ebusy),
        cmocka_unit_test(loop_running_on_another_thread_is_ebusy_and_not_destroyed),
        cmocka_unit_test(loop_loops_on_different_threads_run_at_the_same_time),
        cmocka_unit_test(loop_whose_poller_fails_returns_eio_instead_of_spinning),
        cmocka_unit_test(loop_run_once_runs_what_is_ready_without_waiting),
        cmocka_unit_test(loop_run_once_waits_at_most_its_timeout),
        cmocka_unit_test(loop_run_once_waits_for_the_next_timer_and_runs_it),
        cmocka_unit_test(loop_stop_from_callback_ends_run_forever_after_the_iteration),
        cmocka_unit_test(loop_stop_before_run_forever_returns_after_one_iteration),
        cmocka_unit_test(loop_stop_from_another_thread_wakes_and_ends_run_forever),
        cmocka_unit_test(loop_threadsafe_stop_callback_ends_run_forever),
        cmocka_unit_test(loop_destroy_right_after_a_threadsafe_stop_callback_is_safe),
        cmocka_unit_test(loop_destroy_right_after_a_stop_from_another_thread_is_safe),
        cmocka_unit_test(loop_destroy_right_after_a_threadsafe_stop_of_a_busy_loop_is_safe),
        cmocka_unit_test(
            loop_destroy_right_after_a_stop_of_a_busy_loop_from_another_thread_is_safe),
        cmocka_unit_test(loop_stop_from_a_signal_handler_ends_run_forever),
        /* call_soon */
        cmocka_unit_test(loop_call_soon_runs_callbacks_in_fifo_order),
        cmocka_unit_test(loop_call_soon_from_callback_runs_in_the_next_iteration),
        cmocka_unit_test(loop_scheduling_rejects_null_callback),
        cmocka_unit_test(loop_may_be_prepared_from_any_thread_before_it_runs),
        cmocka_unit_test(loop_thread_only_calls_from_another_thread_while_running_are_eperm),
        /* timers */
        cmocka_unit_test(loop_call_later_never_fires_early),
        cmocka_unit_test(loop_call_at_fires_by_deadline_then_in_scheduling_order),
        cmocka_unit_test(loop_timers_due_at_the_same_time_run_in_scheduling_order),
        cmocka_unit_test(loop_zero_delay_and_past_times_run_on_the_next_iteration_earliest_first),
        cmocka_unit_test(loop_negative_delay_or_time_is_einval),
        cmocka_unit_test(loop_huge_delays_are_accepted_and_never_fire),
        cmocka_unit_test(loop_timer_is_not_starved_by_a_callback_that_reschedules_itself),
        /* handles */
        cmocka_unit_test(loop_cancel_before_firing_prevents_the_timer),
        cmocka_unit_test(loop_cancel_of_a_ready_callback_prevents_it),
        cmocka_unit_test(loop_cancel_after_firing_or_twice_or_of_no_handle_is_esrch),
        cmocka_unit_test(loop_cancel_of_the_running_callback_is_esrch),
        cmocka_unit_test(loop_callback_cancels_a_later_callback_of_the_same_iteration),
        cmocka_unit_test(loop_stale_handle_never_cancels_the_callback_reusing_its_entry),
        cmocka_unit_test(loop_cancel_of_another_loops_handle_is_einval),
        /* call_soon_threadsafe */
        cmocka_unit_test(loop_call_soon_threadsafe_from_many_threads_runs_every_call_once),
        cmocka_unit_test(loop_call_soon_threadsafe_wakes_a_loop_sleeping_without_timers),
        cmocka_unit_test(loop_call_soon_threadsafe_on_a_stopped_loop_runs_at_the_next_run),
        cmocka_unit_test(loop_call_soon_threadsafe_after_destroy_is_einval),
        cmocka_unit_test(loop_timer_is_not_starved_by_a_threadsafe_callback_resubmitting_itself),
        cmocka_unit_test(loop_call_soon_threadsafe_keeps_one_threads_order_across_a_backlog),
        /* destroy */
        cmocka_unit_test(loop_destroy_drops_pending_callbacks_timers_and_watchers),
        cmocka_unit_test(loop_destroy_while_running_is_ebusy_and_releases_nothing),
        /* descriptors, on each backend */
        EACH_POLLER(loop_reader_fires_when_data_arrives),
        EACH_POLLER(loop_reader_wakes_a_sleeping_loop),
        EACH_POLLER(loop_writer_fires_when_writable_and_not_while_full),
        EACH_POLLER(loop_removed_reader_and_writer_stop_firing),
        EACH_POLLER(loop_second_watcher_of_a_direction_is_ebusy),
        EACH_POLLER(loop_removing_an_unwatched_descriptor_is_esrch),
        EACH_POLLER(loop_bad_descriptor_or_null_callback_is_einval),
        cmocka_unit_test(loop_add_reader_of_a_regular_file_under_epoll_is_einval),
        EACH_POLLER(loop_peer_close_fires_the_reader_and_read_returns_zero),
        EACH_POLLER(loop_peer_close_fires_a_blocked_writer_with_the_error),
        EACH_POLLER(loop_reader_and_writer_on_one_descriptor_fire_independently),
        EACH_POLLER(loop_callback_removing_its_own_watcher_is_not_called_again),
        EACH_POLLER(loop_watcher_removed_by_another_callback_is_not_called_that_iteration),
        EACH_POLLER(loop_writer_removed_by_the_reader_of_its_descriptor_is_not_called),
        EACH_POLLER(loop_many_ready_descriptors_with_removals_during_dispatch),
        EACH_POLLER(loop_watchers_added_from_a_callback_grow_the_table_safely),
        EACH_POLLER(loop_descriptor_number_reused_after_remove_and_close_works),
        EACH_POLLER(loop_descriptor_is_not_starved_by_a_callback_that_reschedules_itself),
        EACH_POLLER(loop_iteration_runs_descriptors_then_threadsafe_then_ready_then_timers),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
