/*
 * The poller backends (epoll, kqueue, poll: every one compiled here, each
 * test run on each) and the OS wake-up descriptor the loop sleeps on.
 *
 * meson also builds this file into test_poller_pipe with src/os/wakefd_pipe.c
 * linked in: its definitions of conc__os_wakefd_* come before the static
 * library's, so the archive's eventfd version is never pulled in, and the
 * same wake-up tests run against the pipe version on Linux.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "helpers.h"
#include "loop/poller.h"
#include "os/os.h"

enum { NEV = 64 };

struct result {
    int n;
    conc__poll_event_t ev[NEV];
};

/* ---- helpers ---------------------------------------------------------- */

static const int all_kinds[] = { CONC_POLLER_EPOLL, CONC_POLLER_KQUEUE, CONC_POLLER_POLL };

/* Run fn on every backend compiled here; there is always at least one. */
static void for_each_backend(void (*fn)(const conc__poller_ops_t *ops))
{
    int ran = 0;

    for (size_t i = 0; i < sizeof all_kinds / sizeof all_kinds[0]; i++) {
        const conc__poller_ops_t *ops = conc__poller_find(all_kinds[i]);
        if (!ops)
            continue;
        assert_int_equal(all_kinds[i], ops->kind);
        fn(ops);
        ran++;
    }
    assert_true(ran > 0);
}

#define BACKEND_TEST(name)                                \
    static void name##_on(const conc__poller_ops_t *ops); \
    static void name(void **state)                        \
    {                                                     \
        (void)state;                                      \
        for_each_backend(name##_on);                      \
    }                                                     \
    static void name##_on(const conc__poller_ops_t *ops)

static conc__poller_t *open_poller(const conc__poller_ops_t *ops)
{
    conc__poller_t *p = NULL;

    assert_rc(0, ops->open(&p));
    assert_non_null(p);
    return p;
}

static void make_pipe(int fds[2])
{
    assert_int_equal(0, pipe(fds));
    assert_int_equal(0, fcntl(fds[0], F_SETFL, O_NONBLOCK));
    assert_int_equal(0, fcntl(fds[1], F_SETFL, O_NONBLOCK));
}

static void make_socketpair(int fds[2])
{
    assert_int_equal(0, socketpair(AF_UNIX, SOCK_STREAM, 0, fds));
}

static void put_byte(int fd)
{
    assert_int_equal(1, write(fd, "x", 1));
}

static void close_pair(int fds[2])
{
    close(fds[0]);
    close(fds[1]);
}

/* One wait; every reported event must name a descriptor and some event. */
static int wait_once(const conc__poller_ops_t *ops, conc__poller_t *p, int64_t deadline,
                     struct result *r)
{
    r->n = ops->wait(p, deadline, r->ev, NEV);
    assert_true(r->n >= 0 && r->n <= NEV);
    for (int i = 0; i < r->n; i++) {
        assert_true(r->ev[i].fd >= 0);
        assert_true(r->ev[i].events != 0);
        assert_int_equal(0, r->ev[i].events & ~(CONC_READABLE | CONC_WRITABLE));
    }
    return r->n;
}

/* Everything reported for fd in r (kqueue reports each direction apart). */
static unsigned events_of(const struct result *r, int fd)
{
    unsigned e = 0;

    for (int i = 0; i < r->n; i++)
        if (r->ev[i].fd == fd)
            e |= r->ev[i].events;
    return e;
}

/* What a wait that does not block reports for fd. */
static unsigned ready_now(const conc__poller_ops_t *ops, conc__poller_t *p, int fd)
{
    struct result r;

    wait_once(ops, p, 0, &r);
    return events_of(&r, fd);
}

/* ---- one-shot registrations (CONC__POLL_ONESHOT) ---------------------- */

/* Backends may ignore one-shot (kqueue does); epoll and poll honour it. */
static bool honours_oneshot(const conc__poller_ops_t *ops)
{
    return ops->kind != CONC_POLLER_KQUEUE;
}

BACKEND_TEST(oneshot_is_reported_once_until_rearmed)
{
    conc__poller_t *p = open_poller(ops);
    unsigned once = CONC_READABLE | CONC__POLL_ONESHOT;
    int fds[2];

    make_pipe(fds);
    assert_rc(0, ops->update(p, fds[0], 0, once));
    assert_int_equal(0, ready_now(ops, p, fds[0]));
    put_byte(fds[1]);
    assert_int_equal(CONC_READABLE, ready_now(ops, p, fds[0]));
    if (honours_oneshot(ops)) {
        /* Still readable, but spent: nothing until the next update. */
        assert_int_equal(0, ready_now(ops, p, fds[0]));
        assert_int_equal(0, ready_now(ops, p, fds[0]));
    }
    assert_rc(0, ops->update(p, fds[0], once, once));
    assert_int_equal(CONC_READABLE, ready_now(ops, p, fds[0]));
    /* Back to level-triggered: reported at every wait again. */
    assert_rc(0, ops->update(p, fds[0], once, CONC_READABLE));
    assert_int_equal(CONC_READABLE, ready_now(ops, p, fds[0]));
    assert_int_equal(CONC_READABLE, ready_now(ops, p, fds[0]));
    assert_rc(0, ops->update(p, fds[0], CONC_READABLE, 0));
    assert_int_equal(0, ready_now(ops, p, fds[0]));
    ops->close(p);
    close_pair(fds);
}

BACKEND_TEST(spent_oneshot_of_a_hung_up_descriptor_stays_quiet)
{
    conc__poller_t *p = open_poller(ops);
    unsigned once = CONC_READABLE | CONC__POLL_ONESHOT;
    int fds[2];

    make_socketpair(fds);
    assert_rc(0, ops->update(p, fds[0], 0, once));
    close(fds[1]); /* a hang-up: poll() reports it even for no events */
    assert_int_equal(CONC_READABLE, ready_now(ops, p, fds[0]));
    if (honours_oneshot(ops))
        assert_int_equal(0, ready_now(ops, p, fds[0]));
    assert_rc(0, ops->update(p, fds[0], once, 0));
    assert_int_equal(0, ready_now(ops, p, fds[0]));
    ops->close(p);
    close(fds[0]);
}

/* The loop keeps a spent one-shot registration while the descriptor may be
 * closed and its number reused: the next registration of that number, next
 * (a re-arm, or a plain one such as a callback's), must watch the new
 * descriptor. */
static void reuse_after_spent_oneshot(const conc__poller_ops_t *ops, unsigned next)
{
    conc__poller_t *p = open_poller(ops);
    unsigned once = CONC_READABLE | CONC__POLL_ONESHOT;
    int a[2], b[2];

    make_pipe(a);
    assert_rc(0, ops->update(p, a[0], 0, once));
    put_byte(a[1]);
    assert_int_equal(CONC_READABLE, ready_now(ops, p, a[0]));
    int num = a[0];
    close_pair(a);
    make_pipe(b);
    if (b[0] != num) { /* take the same number for the new read end */
        assert_int_equal(num, dup2(b[0], num));
        close(b[0]);
        b[0] = num;
    }
    assert_rc(0, ops->update(p, num, once, next));
    assert_int_equal(0, ready_now(ops, p, num));
    put_byte(b[1]);
    assert_int_equal(CONC_READABLE, ready_now(ops, p, num));
    if (!(next & CONC__POLL_ONESHOT)) /* level-triggered: again */
        assert_int_equal(CONC_READABLE, ready_now(ops, p, num));
    assert_rc(0, ops->update(p, num, next, 0));
    ops->close(p);
    close_pair(b);
}

BACKEND_TEST(rearming_a_reused_descriptor_number_watches_the_new_descriptor)
{
    reuse_after_spent_oneshot(ops, CONC_READABLE | CONC__POLL_ONESHOT);
}

BACKEND_TEST(plain_registration_after_a_spent_oneshot_of_a_reused_number_watches_it)
{
    reuse_after_spent_oneshot(ops, CONC_READABLE);
}

/* ---- readiness -------------------------------------------------------- */

BACKEND_TEST(pipe_with_data_is_reported_readable)
{
    conc__poller_t *p = open_poller(ops);
    int fds[2];

    make_pipe(fds);
    assert_rc(0, ops->update(p, fds[0], 0, CONC_READABLE));
    assert_int_equal(0, ready_now(ops, p, fds[0]));
    put_byte(fds[1]);
    assert_int_equal(CONC_READABLE, ready_now(ops, p, fds[0]));
    ops->close(p);
    close_pair(fds);
}

BACKEND_TEST(socket_with_room_is_reported_writable)
{
    conc__poller_t *p = open_poller(ops);
    int sv[2];

    make_socketpair(sv);
    assert_rc(0, ops->update(p, sv[0], 0, CONC_WRITABLE));
    assert_int_equal(CONC_WRITABLE, ready_now(ops, p, sv[0]));
    ops->close(p);
    close_pair(sv);
}

BACKEND_TEST(readable_and_writable_are_reported_together)
{
    conc__poller_t *p = open_poller(ops);
    int sv[2];

    make_socketpair(sv);
    put_byte(sv[1]);
    assert_rc(0, ops->update(p, sv[0], 0, CONC_READABLE | CONC_WRITABLE));
    assert_int_equal(CONC_READABLE | CONC_WRITABLE, ready_now(ops, p, sv[0]));
    ops->close(p);
    close_pair(sv);
}

BACKEND_TEST(readiness_is_level_triggered)
{
    conc__poller_t *p = open_poller(ops);
    int fds[2];

    make_pipe(fds);
    assert_rc(0, ops->update(p, fds[0], 0, CONC_READABLE));
    put_byte(fds[1]);
    for (int i = 0; i < 3; i++)
        assert_int_equal(CONC_READABLE, ready_now(ops, p, fds[0]));
    char c;
    assert_int_equal(1, read(fds[0], &c, 1));
    assert_int_equal(0, ready_now(ops, p, fds[0]));
    ops->close(p);
    close_pair(fds);
}

BACKEND_TEST(modify_from_read_to_write_changes_what_is_reported)
{
    conc__poller_t *p = open_poller(ops);
    int sv[2];

    make_socketpair(sv);
    put_byte(sv[1]); /* readable throughout, and writable */
    assert_rc(0, ops->update(p, sv[0], 0, CONC_READABLE));
    assert_int_equal(CONC_READABLE, ready_now(ops, p, sv[0]));
    assert_rc(0, ops->update(p, sv[0], CONC_READABLE, CONC_WRITABLE));
    assert_int_equal(CONC_WRITABLE, ready_now(ops, p, sv[0]));
    assert_rc(0, ops->update(p, sv[0], CONC_WRITABLE, CONC_READABLE | CONC_WRITABLE));
    assert_int_equal(CONC_READABLE | CONC_WRITABLE, ready_now(ops, p, sv[0]));
    assert_rc(0, ops->update(p, sv[0], CONC_READABLE | CONC_WRITABLE, CONC_READABLE));
    assert_int_equal(CONC_READABLE, ready_now(ops, p, sv[0]));
    ops->close(p);
    close_pair(sv);
}

BACKEND_TEST(deleted_descriptor_is_no_longer_reported)
{
    conc__poller_t *p = open_poller(ops);
    struct result r;
    int fds[2];

    make_pipe(fds);
    put_byte(fds[1]);
    assert_rc(0, ops->update(p, fds[0], 0, CONC_READABLE));
    assert_int_equal(CONC_READABLE, ready_now(ops, p, fds[0]));
    assert_rc(0, ops->update(p, fds[0], CONC_READABLE, 0));
    assert_int_equal(0, wait_once(ops, p, conc_now_ns() + CONC_MS(5), &r));
    ops->close(p);
    close_pair(fds);
}

BACKEND_TEST(peer_close_reports_every_watched_event)
{
    conc__poller_t *p = open_poller(ops);
    int sv[2], sv2[2], rd[2], wr[2];

    make_socketpair(sv);
    make_socketpair(sv2);
    make_pipe(rd);
    make_pipe(wr);
    /* Fill sv2[0] so that it is not writable for its own sake: its hang-up
     * must then be reported only as what is watched. */
    static const char block[4096];
    assert_int_equal(0, fcntl(sv2[0], F_SETFL, O_NONBLOCK));
    while (write(sv2[0], block, sizeof block) > 0)
        ;
    assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
    assert_rc(0, ops->update(p, sv[0], 0, CONC_READABLE | CONC_WRITABLE));
    assert_rc(0, ops->update(p, sv2[0], 0, CONC_READABLE));
    assert_rc(0, ops->update(p, rd[0], 0, CONC_READABLE));
    assert_rc(0, ops->update(p, wr[1], 0, CONC_WRITABLE));
    close(sv[1]);
    close(sv2[1]);
    close(rd[1]);
    close(wr[0]);
    struct result r;
    wait_once(ops, p, 0, &r);
    assert_int_equal(CONC_READABLE | CONC_WRITABLE, events_of(&r, sv[0]));
    assert_int_equal(CONC_READABLE, events_of(&r, sv2[0]));
    assert_int_equal(CONC_READABLE, events_of(&r, rd[0]));
    assert_int_equal(CONC_WRITABLE, events_of(&r, wr[1]));
    ops->close(p);
    close(sv[0]);
    close(sv2[0]);
    close(rd[0]);
    close(wr[1]);
}

/* ---- deadlines -------------------------------------------------------- */

BACKEND_TEST(wait_never_returns_before_its_deadline)
{
    static const int64_t timeouts[] = { CONC_US(300), CONC_MS(2), CONC_MS(15) };
    conc__poller_t *p = open_poller(ops);
    struct result r;
    int fds[2];

    make_pipe(fds);
    assert_rc(0, ops->update(p, fds[0], 0, CONC_READABLE));
    for (size_t i = 0; i < sizeof timeouts / sizeof timeouts[0]; i++) {
        int64_t deadline = conc_now_ns() + timeouts[i];
        assert_int_equal(0, wait_once(ops, p, deadline, &r));
        assert_true(conc_now_ns() >= deadline);
    }
    ops->close(p);
    close_pair(fds);
}

BACKEND_TEST(deadline_in_the_past_returns_at_once)
{
    conc__poller_t *p = open_poller(ops);
    struct result r;
    int fds[2];

    make_pipe(fds);
    assert_rc(0, ops->update(p, fds[0], 0, CONC_READABLE));
    int64_t start = conc_now_ns();
    assert_int_equal(0, wait_once(ops, p, start - CONC_SEC(1), &r));
    assert_int_equal(0, wait_once(ops, p, 0, &r));
    assert_true(conc_now_ns() - start < CONC_MS(500));
    put_byte(fds[1]);
    wait_once(ops, p, start - CONC_SEC(1), &r);
    assert_int_equal(CONC_READABLE, events_of(&r, fds[0]));
    ops->close(p);
    close_pair(fds);
}

static _Atomic int alarms;

static void on_alarm(int sig)
{
    (void)sig;
    atomic_fetch_add(&alarms, 1);
}

BACKEND_TEST(wait_interrupted_by_a_signal_returns_zero)
{
    struct sigaction sa, old;
    struct itimerval it = { .it_value = { .tv_sec = 0, .tv_usec = 20000 } };
    conc__poller_t *p = open_poller(ops);
    struct result r;
    int fds[2];

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm; /* no SA_RESTART: the wait sees EINTR */
    sigemptyset(&sa.sa_mask);
    assert_int_equal(0, sigaction(SIGALRM, &sa, &old));
    make_pipe(fds);
    assert_rc(0, ops->update(p, fds[0], 0, CONC_READABLE));
    atomic_store(&alarms, 0);
    int64_t start = conc_now_ns();
    assert_int_equal(0, setitimer(ITIMER_REAL, &it, NULL));
    assert_int_equal(0, wait_once(ops, p, start + CONC_SEC(5), &r));
    assert_true(conc_now_ns() - start < CONC_SEC(4));
    /* A sanitizer runtime may run the handler itself a little later. */
    for (int i = 0; i < 1000 && !atomic_load(&alarms); i++)
        conc_sleep(CONC_MS(1));
    assert_int_equal(1, atomic_load(&alarms));
    assert_int_equal(0, sigaction(SIGALRM, &old, NULL));
    ops->close(p);
    close_pair(fds);
}

/* ---- registration errors ---------------------------------------------- */

BACKEND_TEST(bad_descriptor_is_einval)
{
    conc__poller_t *p = open_poller(ops);
    int fds[2];

    make_pipe(fds);
    close_pair(fds); /* two numbers that are surely not open now */
    assert_rc(CONC_EINVAL, ops->update(p, -1, 0, CONC_READABLE));
    assert_rc(CONC_EINVAL, ops->update(p, fds[0], 0, CONC_READABLE));
    assert_rc(CONC_EINVAL, ops->update(p, fds[1], 0, CONC_WRITABLE));
    assert_rc(CONC_EINVAL, ops->update(p, fds[1], 0, CONC_READABLE | CONC_WRITABLE));
    struct result r;
    assert_int_equal(0, wait_once(ops, p, 0, &r)); /* nothing half-registered */
    ops->close(p);
}

BACKEND_TEST(wait_with_no_room_is_einval)
{
    conc__poller_t *p = open_poller(ops);
    conc__poll_event_t ev[1];

    assert_rc(CONC_EINVAL, ops->wait(p, 0, ev, 0));
    assert_rc(CONC_EINVAL, ops->wait(p, 0, ev, -1));
    assert_rc(CONC_EINVAL, ops->wait(p, 0, NULL, 1));
    ops->close(p);
}

static void regular_file_under_epoll_is_einval(void **state)
{
    const conc__poller_ops_t *ops = conc__poller_find(CONC_POLLER_EPOLL);
    (void)state;

    if (!ops) {
        /* No epoll in this build (the kqueue one): another backend is the
         * default, and it is not epoll. */
        const conc__poller_ops_t *def = conc__poller_find(CONC_POLLER_DEFAULT);
        assert_non_null(def);
        assert_int_not_equal(CONC_POLLER_EPOLL, def->kind);
        return;
    }
    conc__poller_t *p = open_poller(ops);
    FILE *f = tmpfile();
    assert_non_null(f);
    assert_rc(CONC_EINVAL, ops->update(p, fileno(f), 0, CONC_READABLE));
    fclose(f);
    ops->close(p);
}

BACKEND_TEST(deleting_a_closed_descriptor_is_not_an_error)
{
    conc__poller_t *p = open_poller(ops);
    struct result r;
    int fds[2], other[2];

    make_pipe(fds);
    make_pipe(other);
    assert_rc(0, ops->update(p, fds[0], 0, CONC_READABLE));
    assert_rc(0, ops->update(p, fds[1], 0, CONC_WRITABLE));
    assert_rc(0, ops->update(p, other[0], 0, CONC_READABLE));
    close_pair(fds);
    assert_rc(0, ops->update(p, fds[0], CONC_READABLE, 0));
    assert_rc(0, ops->update(p, fds[1], CONC_WRITABLE, 0));
    /* Deleting what is not watched at all is a no-op too. */
    assert_rc(0, ops->update(p, fds[0], 0, 0));
    /* The poller goes on working for the others. */
    put_byte(other[1]);
    wait_once(ops, p, 0, &r);
    assert_int_equal(1, r.n);
    assert_int_equal(other[0], r.ev[0].fd);
    assert_int_equal(CONC_READABLE, r.ev[0].events);
    ops->close(p);
    close_pair(other);
}

/* ---- many descriptors ------------------------------------------------- */

enum { NPAIRS = 1000 };

/* 1000 socketpairs need about 2000 descriptors; raise the soft limit. */
static bool enough_descriptors(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return false;
    if (rl.rlim_cur >= 2 * NPAIRS + 64)
        return true;
    rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > 4096 ? 4096 : rl.rlim_max;
    return rl.rlim_cur >= 2 * NPAIRS + 64 && setrlimit(RLIMIT_NOFILE, &rl) == 0;
}

/* One wait that does not block, its events gathered per pair (sv[i][0]). */
static void collect_all(const conc__poller_ops_t *ops, conc__poller_t *p, int (*sv)[2],
                        unsigned *got)
{
    conc__poll_event_t *ev = calloc(2 * NPAIRS, sizeof *ev);
    int maxfd = 0;

    assert_non_null(ev);
    for (int i = 0; i < NPAIRS; i++)
        maxfd = sv[i][0] > maxfd ? sv[i][0] : maxfd;
    int *index = calloc((size_t)maxfd + 1, sizeof *index);
    assert_non_null(index);
    for (int i = 0; i < NPAIRS; i++)
        index[sv[i][0]] = i + 1;
    int n = ops->wait(p, 0, ev, 2 * NPAIRS);
    assert_true(n >= 0);
    for (int k = 0; k < n; k++) {
        assert_true(ev[k].fd <= maxfd && index[ev[k].fd] > 0);
        got[index[ev[k].fd] - 1] |= ev[k].events;
    }
    free(index);
    free(ev);
}

static void expect_exactly(const unsigned *got, int stride, int offset)
{
    for (int i = 0; i < NPAIRS; i++) {
        bool ready = i % stride == offset;
        if (got[i] != (ready ? CONC_READABLE : 0u))
            fail_msg("pair %d: got %u, expected %u", i, got[i], ready ? CONC_READABLE : 0u);
    }
}

BACKEND_TEST(thousand_descriptors_report_exactly_the_ready_ones)
{
    if (!enough_descriptors()) {
        print_message("skipped: RLIMIT_NOFILE below %d\n", 2 * NPAIRS + 64);
        return;
    }
    int(*sv)[2] = calloc(NPAIRS, sizeof *sv);
    unsigned *got = calloc(NPAIRS, sizeof *got);
    conc__poller_t *p = open_poller(ops);

    assert_non_null(sv);
    assert_non_null(got);
    for (int i = 0; i < NPAIRS; i++) {
        make_socketpair(sv[i]);
        assert_rc(0, ops->update(p, sv[i][0], 0, CONC_READABLE));
    }
    for (int i = 3; i < NPAIRS; i += 7)
        put_byte(sv[i][1]);
    collect_all(ops, p, sv, got);
    expect_exactly(got, 7, 3);
    /* Stop watching every other pair: only the rest are reported. */
    for (int i = 0; i < NPAIRS; i += 2)
        assert_rc(0, ops->update(p, sv[i][0], CONC_READABLE, 0));
    memset(got, 0, NPAIRS * sizeof *got);
    collect_all(ops, p, sv, got);
    expect_exactly(got, 14, 3);
    ops->close(p);
    for (int i = 0; i < NPAIRS; i++)
        close_pair(sv[i]);
    free(got);
    free(sv);
}

BACKEND_TEST(max_limits_each_wait_and_later_waits_report_the_rest)
{
    enum { NPIPES = 10, MAX = 3, CALLS = (NPIPES + MAX - 1) / MAX };
    conc__poller_t *p = open_poller(ops);
    int fds[NPIPES][2];
    bool seen[NPIPES] = { false };

    for (int i = 0; i < NPIPES; i++) {
        make_pipe(fds[i]);
        put_byte(fds[i][1]);
        assert_rc(0, ops->update(p, fds[i][0], 0, CONC_READABLE));
    }
    /* Level-triggered and never read: every call could report all ten, yet
     * gives at most MAX, and those left out come first next time. */
    for (int c = 0; c < CALLS; c++) {
        conc__poll_event_t ev[NPIPES];
        int n = ops->wait(p, 0, ev, MAX);
        assert_int_equal(MAX, n);
        for (int k = 0; k < n; k++)
            for (int i = 0; i < NPIPES; i++)
                if (ev[k].fd == fds[i][0])
                    seen[i] = true;
    }
    for (int i = 0; i < NPIPES; i++)
        if (!seen[i])
            fail_msg("pipe %d never reported in %d waits of %d", i, CALLS, MAX);
    ops->close(p);
    for (int i = 0; i < NPIPES; i++)
        close_pair(fds[i]);
}

/* ---- the wake-up descriptor ------------------------------------------- */

static bool readable(int fd)
{
    return conc__os_fd_wait(fd, CONC_READABLE, 0) == (int)CONC_READABLE;
}

static void wakefd_ends_are_nonblocking_and_cloexec(void **state)
{
    conc__os_wakefd_t w;
    (void)state;

    assert_rc(0, conc__os_wakefd_open(&w));
    int ends[2] = { w.read_fd, w.write_fd };
    for (int i = 0; i < 2; i++) {
        assert_true(fcntl(ends[i], F_GETFL) & O_NONBLOCK);
        assert_true(fcntl(ends[i], F_GETFD) & FD_CLOEXEC);
    }
    conc__os_wakefd_close(&w);
    assert_int_equal(-1, w.read_fd);
    assert_int_equal(-1, w.write_fd);
}

static void wakefd_signal_makes_it_readable(void **state)
{
    conc__os_wakefd_t w;
    (void)state;

    assert_rc(0, conc__os_wakefd_open(&w));
    assert_false(readable(w.read_fd));
    conc__os_wakefd_signal(&w);
    assert_true(readable(w.read_fd));
    assert_true(readable(w.read_fd)); /* until drained */
    conc__os_wakefd_close(&w);
}

static void wakefd_drain_makes_it_not_readable(void **state)
{
    conc__os_wakefd_t w;
    (void)state;

    assert_rc(0, conc__os_wakefd_open(&w));
    conc__os_wakefd_signal(&w);
    conc__os_wakefd_drain(&w);
    assert_false(readable(w.read_fd));
    conc__os_wakefd_drain(&w); /* draining nothing is harmless */
    assert_false(readable(w.read_fd));
    conc__os_wakefd_signal(&w); /* and it works again */
    assert_true(readable(w.read_fd));
    conc__os_wakefd_close(&w);
}

/* More signals than a pipe holds (64 KiB on Linux): the writes past that
 * find EAGAIN, which must neither block nor lose the readable state. */
BACKEND_TEST(wakefd_many_signals_coalesce_into_one_readable_state)
{
    enum { SIGNALS = 100000 };
    conc__poller_t *p = open_poller(ops);
    conc__os_wakefd_t w;
    struct result r;

    assert_rc(0, conc__os_wakefd_open(&w));
    assert_rc(0, ops->update(p, w.read_fd, 0, CONC_READABLE));
    for (int i = 0; i < SIGNALS; i++)
        conc__os_wakefd_signal(&w);
    wait_once(ops, p, 0, &r);
    assert_int_equal(1, r.n);
    assert_int_equal(w.read_fd, r.ev[0].fd);
    assert_int_equal(CONC_READABLE, r.ev[0].events);
    conc__os_wakefd_drain(&w);
    assert_int_equal(0, wait_once(ops, p, 0, &r));
    ops->close(p);
    conc__os_wakefd_close(&w);
}

static void *signal_later(void *arg)
{
    conc_sleep(CONC_MS(20));
    conc__os_wakefd_signal(arg);
    return NULL;
}

BACKEND_TEST(wakefd_signal_from_another_thread_wakes_a_poller_without_deadline)
{
    conc__poller_t *p = open_poller(ops);
    conc__os_wakefd_t w;
    conc__os_thread_t t;
    struct result r;

    assert_rc(0, conc__os_wakefd_open(&w));
    assert_rc(0, ops->update(p, w.read_fd, 0, CONC_READABLE));
    assert_rc(0, conc__os_thread_start(&t, signal_later, &w, 0, false));
    while (wait_once(ops, p, -1, &r) == 0)
        ; /* a signal interrupted the wait: allowed, wait again */
    assert_int_equal(1, r.n);
    assert_int_equal(w.read_fd, r.ev[0].fd);
    assert_int_equal(CONC_READABLE, r.ev[0].events);
    assert_rc(0, conc__os_thread_join(t, NULL));
    ops->close(p);
    conc__os_wakefd_close(&w);
}

static conc__os_wakefd_t handler_wakefd;

static void signal_from_handler(int sig)
{
    (void)sig;
    conc__os_wakefd_signal(&handler_wakefd);
}

static void wakefd_signal_from_a_signal_handler_makes_it_readable(void **state)
{
    struct sigaction sa, old;
    (void)state;

    assert_rc(0, conc__os_wakefd_open(&handler_wakefd));
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = signal_from_handler;
    sigemptyset(&sa.sa_mask);
    assert_int_equal(0, sigaction(SIGUSR1, &sa, &old));
    errno = ERANGE;
    assert_int_equal(0, raise(SIGUSR1));
    assert_int_equal(ERANGE, errno); /* the handler left errno alone */
    assert_true(readable(handler_wakefd.read_fd));
    conc__os_wakefd_drain(&handler_wakefd);
    assert_false(readable(handler_wakefd.read_fd));
    assert_int_equal(0, sigaction(SIGUSR1, &old, NULL));
    conc__os_wakefd_close(&handler_wakefd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(oneshot_is_reported_once_until_rearmed),
        cmocka_unit_test(spent_oneshot_of_a_hung_up_descriptor_stays_quiet),
        cmocka_unit_test(rearming_a_reused_descriptor_number_watches_the_new_descriptor),
        cmocka_unit_test(plain_registration_after_a_spent_oneshot_of_a_reused_number_watches_it),
        cmocka_unit_test(pipe_with_data_is_reported_readable),
        cmocka_unit_test(socket_with_room_is_reported_writable),
        cmocka_unit_test(readable_and_writable_are_reported_together),
        cmocka_unit_test(readiness_is_level_triggered),
        cmocka_unit_test(modify_from_read_to_write_changes_what_is_reported),
        cmocka_unit_test(deleted_descriptor_is_no_longer_reported),
        cmocka_unit_test(peer_close_reports_every_watched_event),
        cmocka_unit_test(wait_never_returns_before_its_deadline),
        cmocka_unit_test(deadline_in_the_past_returns_at_once),
        cmocka_unit_test(wait_interrupted_by_a_signal_returns_zero),
        cmocka_unit_test(bad_descriptor_is_einval),
        cmocka_unit_test(wait_with_no_room_is_einval),
        cmocka_unit_test(regular_file_under_epoll_is_einval),
        cmocka_unit_test(deleting_a_closed_descriptor_is_not_an_error),
        cmocka_unit_test(thousand_descriptors_report_exactly_the_ready_ones),
        cmocka_unit_test(max_limits_each_wait_and_later_waits_report_the_rest),
        cmocka_unit_test(wakefd_ends_are_nonblocking_and_cloexec),
        cmocka_unit_test(wakefd_signal_makes_it_readable),
        cmocka_unit_test(wakefd_drain_makes_it_not_readable),
        cmocka_unit_test(wakefd_many_signals_coalesce_into_one_readable_state),
        cmocka_unit_test(wakefd_signal_from_another_thread_wakes_a_poller_without_deadline),
        cmocka_unit_test(wakefd_signal_from_a_signal_handler_makes_it_readable),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
