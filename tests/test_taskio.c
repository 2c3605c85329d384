/*
 * Descriptors owned by a loop (conc/taskio.h), on the epoll and poll
 * backends: arguments and errors, reads and writes with exact bytes, end of
 * file, timeouts (never early), cancellation, many waits on one kept
 * registration, release and close, a closed number reused by a plain wait
 * and by a new handle, a peer that is gone, and use from another thread;
 * level-triggered readiness (waits after a short read, a datagram's, a
 * packet pipe's, TCP urgent data, the caller's own read), data arriving
 * while nobody waits, a writer waiting for room many times, and a reader
 * callback taking over an owned descriptor.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conc/taskio.h"
#include "helpers.h"

static const int kinds[] = { CONC_POLLER_DEFAULT, CONC_POLLER_POLL };

/* Run fn(arg) as the main task of a fresh loop with the given poller; its
 * status. Checks inside tasks count failures instead of asserting (an
 * assert would jump out of the coroutine). */
static int run_on(int kind, conc_task_fn fn, void *arg)
{
    conc_loop_attr_t attr = CONC_LOOP_ATTR_INIT;
    conc_loop_t loop;
    conc_task_t *t;
    void *res;

    attr.poller = kind;
    assert_rc(0, conc_loop_init(&loop, &attr));
    assert_rc(0, conc_task_spawn(&loop, NULL, fn, arg, &t));
    int rc = conc_loop_run_until_complete(&loop, t, &res);
    assert_rc(0, conc_loop_destroy(&loop));
    return rc;
}

#define CHECK(cond)                                                              \
    do {                                                                         \
        if (!(cond)) {                                                           \
            print_error("%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            return -1000 - __LINE__;                                             \
        }                                                                        \
    } while (0)

static void pair(int sv[2])
{
    assert_int_equal(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
}

static void datagram_pair(int sv[2])
{
    assert_int_equal(0, socketpair(AF_UNIX, SOCK_DGRAM, 0, sv));
}

static void plain_pipe(int p[2])
{
    assert_int_equal(0, pipe(p));
}

/* A packet-mode pipe: one write, one read. */
static void packet_pipe(int p[2])
{
    assert_int_equal(0, pipe2(p, O_DIRECT));
}

static void pipe_without_reader(int p[2])
{
    plain_pipe(p);
    close(p[0]);
    p[0] = -1;
}

static void tcp_pair(int sv[2]);

/* fn(fds) as the main task on each backend, with a fresh pair of
 * descriptors from make() each time; closed afterwards, except those that
 * fn closed and set to -1. */
static void run_on_both(conc_task_fn fn, void (*make)(int fds[2]))
{
    for (size_t k = 0; k < 2; k++) {
        int fds[2];
        make(fds);
        assert_rc(0, run_on(kinds[k], fn, fds));
        for (int i = 0; i < 2; i++)
            if (fds[i] >= 0)
                close(fds[i]);
    }
}

/* ---- arguments ------------------------------------------------------------ */

static int bad_arguments_main(void *arg, void **result)
{
    int *sv = arg;
    conc_io_t io, other;
    size_t n;
    char c;

    (void)result;
    CHECK(conc_io_open(NULL, sv[0]) == CONC_EINVAL);
    CHECK(conc_io_open(&io, -1) == CONC_EINVAL);
    int closed = dup(sv[0]);
    close(closed);
    CHECK(conc_io_open(&io, closed) == CONC_EINVAL);
    CHECK(conc_io_open(&io, sv[0]) == 0);
    CHECK(conc_io_open(&other, sv[0]) == CONC_EBUSY);
    CHECK(conc_io_read(&io, NULL, 1, &n, CONC_NOWAIT) == CONC_EINVAL);
    CHECK(conc_io_read(&io, &c, 1, NULL, CONC_NOWAIT) == CONC_EINVAL);
    CHECK(conc_io_write(&io, NULL, 1, NULL, CONC_NOWAIT) == CONC_EINVAL);
    CHECK(conc_io_wait(NULL, CONC_READABLE, 0) == CONC_EINVAL);
    CHECK(conc_io_release(&io) == sv[0]);
    /* A released handle is closed: everything refuses it. */
    CHECK(conc_io_release(&io) == CONC_EINVAL);
    CHECK(conc_io_close(&io) == CONC_EINVAL);
    CHECK(conc_io_read(&io, &c, 1, &n, CONC_NOWAIT) == CONC_EINVAL);
    CHECK(conc_io_wait(&io, CONC_READABLE, 0) == CONC_EINVAL);
    CHECK(fcntl(sv[0], F_GETFD) >= 0); /* release leaves it open */
    return 0;
}

static void io_bad_arguments_and_closed_handles_are_refused(void **state)
{
    int sv[2];
    conc_io_t io;

    (void)state;
    pair(sv);
    assert_rc(CONC_EPERM, conc_io_open(&io, sv[0])); /* no loop on this thread */
    for (size_t k = 0; k < 2; k++)
        assert_rc(0, run_on(kinds[k], bad_arguments_main, sv));
    close(sv[0]);
    close(sv[1]);
}

/* ---- reading and writing ---------------------------------------------------- */

struct echo {
    int fd[2];
    int rounds;
};

static int echo_peer(void *arg, void **result)
{
    struct echo *e = arg;
    conc_io_t io;
    unsigned char buf[4096];

    (void)result;
    CHECK(conc_io_open(&io, e->fd[1]) == 0);
    for (;;) {
        size_t n;
        int rc = conc_io_read(&io, buf, sizeof buf, &n, CONC_FOREVER);
        CHECK(rc == 0);
        if (n == 0)
            break; /* end of file */
        CHECK(conc_io_write(&io, buf, n, NULL, CONC_FOREVER) == 0);
    }
    CHECK(conc_io_close(&io) == 0);
    return 0;
}

static int echo_main(void *arg, void **result)
{
    struct echo *e = arg;
    conc_task_t *peer;
    conc_io_t io;
    unsigned char out[3000], in[3000];

    (void)result;
    CHECK(conc_task_spawn(conc_loop_current(), NULL, echo_peer, e, &peer) == 0);
    CHECK(conc_io_open(&io, e->fd[0]) == 0);
    for (int r = 0; r < e->rounds; r++) {
        size_t len = 1 + (size_t)(r * 37) % sizeof out;
        for (size_t i = 0; i < len; i++)
            out[i] = (unsigned char)(r + i);
        size_t done = 0;
        CHECK(conc_io_write(&io, out, len, &done, CONC_FOREVER) == 0);
        CHECK(done == len);
        size_t got = 0;
        while (got < len) {
            size_t n;
            CHECK(conc_io_read(&io, in + got, len - got, &n, CONC_SEC(10)) == 0);
            CHECK(n > 0);
            got += n;
        }
        CHECK(memcmp(in, out, len) == 0);
    }
    shutdown(e->fd[0], SHUT_WR);
    CHECK(conc_task_join(peer, NULL, CONC_FOREVER) == 0);
    size_t n;
    CHECK(conc_io_read(&io, in, sizeof in, &n, CONC_SEC(10)) == 0);
    CHECK(n == 0); /* the peer closed: end of file */
    CHECK(conc_io_close(&io) == 0);
    return 0;
}

static void io_read_and_write_move_exact_bytes_through_many_waits(void **state)
{
    (void)state;
    for (size_t k = 0; k < 2; k++) {
        struct echo e = { { -1, -1 }, 500 };
        pair(e.fd);
        assert_rc(0, run_on(kinds[k], echo_main, &e));
        /* Both ends were closed by conc_io_close(). */
        assert_int_equal(-1, fcntl(e.fd[0], F_GETFD));
        assert_int_equal(-1, fcntl(e.fd[1], F_GETFD));
    }
}

/* ---- timeouts and cancellation ----------------------------------------------- */

static int timeouts_main(void *arg, void **result)
{
    int *sv = arg;
    conc_io_t io;
    char buf[8];
    size_t n;

    (void)result;
    CHECK(conc_io_open(&io, sv[0]) == 0);
    CHECK(conc_io_read(&io, buf, sizeof buf, &n, CONC_NOWAIT) == CONC_EAGAIN);
    int64_t start = conc_now_ns();
    CHECK(conc_io_read(&io, buf, sizeof buf, &n, CONC_MS(20)) == CONC_ETIMEDOUT);
    CHECK(conc_now_ns() - start >= CONC_MS(20));
    start = conc_now_ns();
    CHECK(conc_io_wait(&io, CONC_READABLE, CONC_MS(20)) == CONC_ETIMEDOUT);
    CHECK(conc_now_ns() - start >= CONC_MS(20));
    CHECK(conc_io_wait(&io, CONC_WRITABLE, CONC_MS(20)) == CONC_WRITABLE);
    /* Fill the socket: a timed write of more than it takes times out. */
    static unsigned char big[1 << 22];
    size_t done = 0;
    CHECK(conc_io_write(&io, big, sizeof big, &done, CONC_MS(20)) == CONC_ETIMEDOUT);
    CHECK(done > 0 && done < sizeof big);
    /* Still full: a write that may not wait says so at once, having
     * written nothing. */
    start = conc_now_ns();
    CHECK(conc_io_write(&io, big, 1, &done, CONC_NOWAIT) == CONC_ETIMEDOUT);
    CHECK(done == 0);
    CHECK(conc_now_ns() - start < CONC_MS(20));
    CHECK(conc_io_release(&io) == sv[0]);
    return 0;
}

static void io_timeouts_are_never_early(void **state)
{
    (void)state;
    run_on_both(timeouts_main, pair);
}

struct cancel {
    int fd;
    int rc;
};

static int blocked_reader(void *arg, void **result)
{
    struct cancel *c = arg;
    conc_io_t io;
    char buf[8];
    size_t n;

    (void)result;
    CHECK(conc_io_open(&io, c->fd) == 0);
    c->rc = conc_io_read(&io, buf, sizeof buf, &n, CONC_FOREVER);
    /* The request is delivered: the next wait works again. */
    CHECK(conc_io_wait(&io, CONC_WRITABLE, CONC_SEC(10)) == CONC_WRITABLE);
    CHECK(conc_io_release(&io) == c->fd);
    return 0;
}

static int cancel_main(void *arg, void **result)
{
    conc_task_t *t;

    (void)result;
    CHECK(conc_task_spawn(conc_loop_current(), NULL, blocked_reader, arg, &t) == 0);
    CHECK(conc_task_sleep(CONC_MS(5)) == 0);
    CHECK(conc_task_cancel(t) == 0);
    CHECK(conc_task_join(t, NULL, CONC_FOREVER) == 0);
    return 0;
}

static void io_read_in_a_cancelled_task_returns_ecanceled(void **state)
{
    (void)state;
    for (size_t k = 0; k < 2; k++) {
        int sv[2];
        struct cancel c = { -1, 0 };
        pair(sv);
        c.fd = sv[0];
        assert_rc(0, run_on(kinds[k], cancel_main, &c));
        assert_rc(CONC_ECANCELED, c.rc);
        close(sv[0]);
        close(sv[1]);
    }
}

/* ---- close, reuse, a gone peer ---------------------------------------------- */

/* After conc_io_close() the number is free; a new descriptor that gets it is
 * watched correctly by a plain wait and by a new handle. */
static int reuse_main(void *arg, void **result)
{
    conc_io_t io;
    int p[2], q[2];
    char c;
    size_t n;

    (void)arg;
    (void)result;
    CHECK(pipe(p) == 0);
    CHECK(conc_io_open(&io, p[0]) == 0);
    CHECK(write(p[1], "a", 1) == 1);
    CHECK(conc_io_read(&io, &c, 1, &n, CONC_SEC(10)) == 0 && n == 1 && c == 'a');
    int num = p[0];
    CHECK(conc_io_close(&io) == 0);
    close(p[1]);
    CHECK(pipe(q) == 0);
    if (q[0] != num) {
        CHECK(dup2(q[0], num) == num);
        close(q[0]);
        q[0] = num;
    }
    fcntl(q[0], F_SETFL, O_NONBLOCK);
    CHECK(conc_wait_fd(q[0], CONC_READABLE, CONC_MS(5)) == CONC_ETIMEDOUT);
    CHECK(write(q[1], "b", 1) == 1);
    CHECK(conc_wait_fd(q[0], CONC_READABLE, CONC_SEC(10)) == CONC_READABLE);
    CHECK(conc_io_open(&io, q[0]) == 0);
    CHECK(conc_io_read(&io, &c, 1, &n, CONC_SEC(10)) == 0 && n == 1 && c == 'b');
    CHECK(conc_io_read(&io, &c, 1, &n, CONC_MS(5)) == CONC_ETIMEDOUT);
    CHECK(write(q[1], "c", 1) == 1);
    CHECK(conc_io_read(&io, &c, 1, &n, CONC_SEC(10)) == 0 && n == 1 && c == 'c');
    CHECK(conc_io_close(&io) == 0);
    close(q[1]);
    return 0;
}

static void io_closed_number_reused_is_watched_correctly(void **state)
{
    (void)state;
    for (size_t k = 0; k < 2; k++)
        assert_rc(0, run_on(kinds[k], reuse_main, NULL));
}

static int gone_peer_main(void *arg, void **result)
{
    int *sv = arg;
    conc_io_t io;

    (void)result;
    CHECK(conc_io_open(&io, sv[0]) == 0);
    close(sv[1]);
    sv[1] = -1;
    CHECK(conc_io_write(&io, "x", 1, NULL, CONC_SEC(10)) == CONC_ECLOSED); /* no SIGPIPE */
    CHECK(conc_io_release(&io) == sv[0]);
    return 0;
}

static void io_write_to_a_gone_peer_is_eclosed_without_sigpipe(void **state)
{
    (void)state;
    run_on_both(gone_peer_main, pair);
}

/* ---- other threads ------------------------------------------------------------- */

struct cross {
    conc_io_t io;
    int peer;
    int release_rc;
    int read_rc;
    char got;
};

static void *other_thread(void *arg)
{
    struct cross *x = arg;
    size_t n;

    x->release_rc = conc_io_release(&x->io); /* the owning loop runs */
    x->read_rc = conc_io_read(&x->io, &x->got, 1, &n, CONC_SEC(10));
    return NULL;
}

static int cross_main(void *arg, void **result)
{
    struct cross *x = arg;
    conc_thread_t t;

    (void)result;
    CHECK(conc_io_open(&x->io, x->peer) == 0);
    CHECK(conc_thread_create(&t, NULL, other_thread, x) == 0);
    CHECK(conc_task_sleep(CONC_MS(5)) == 0);
    CHECK(conc_thread_join(&t, NULL, CONC_FOREVER) == 0);
    CHECK(conc_io_release(&x->io) == x->peer);
    return 0;
}

static void io_from_another_thread_cannot_release_and_waits_by_itself(void **state)
{
    int sv[2];
    struct cross x;

    (void)state;
    pair(sv);
    memset(&x, 0, sizeof x);
    x.peer = sv[0];
    assert_int_equal(1, write(sv[1], "z", 1)); /* there before the thread reads */
    assert_rc(0, run_on(CONC_POLLER_DEFAULT, cross_main, &x));
    assert_rc(CONC_EPERM, x.release_rc);
    assert_rc(0, x.read_rc);
    assert_int_equal('z', x.got);
    close(sv[0]);
    close(sv[1]);
}

/* ---- readiness is level-triggered -------------------------------------------- */

/* What a wait on an owned descriptor promises, on every backend: it returns
 * while something is left to read, whoever read last and however, and waits
 * when nothing is. An edge-triggered registration with remembered readiness
 * broke several of these (docs/loop.md, "Why owned descriptors stay
 * level-triggered"). */

struct late_write {
    int fd;
    const char *data;
    size_t len;
};

static int write_later(void *arg, void **result)
{
    struct late_write *w = arg;

    (void)result;
    CHECK(conc_task_sleep(CONC_MS(5)) == 0);
    CHECK(write(w->fd, w->data, w->len) == (ssize_t)w->len);
    return 0;
}

static int level_main(void *arg, void **result)
{
    int *sv = arg;
    conc_io_t io;
    char buf[1000];
    size_t n;
    conc_task_t *t;

    (void)result;
    memset(buf, 'a', sizeof buf);
    CHECK(conc_io_open(&io, sv[0]) == 0);
    CHECK(conc_io_wait(&io, CONC_READABLE, CONC_MS(20)) == CONC_ETIMEDOUT);
    CHECK(write(sv[1], buf, 100) == 100);
    CHECK(conc_io_wait(&io, CONC_READABLE, CONC_SEC(10)) == CONC_READABLE);
    /* Nothing read: still readable, however often it is asked. */
    CHECK(conc_io_wait(&io, CONC_READABLE, CONC_SEC(10)) == CONC_READABLE);
    CHECK(conc_io_read(&io, buf, 10, &n, CONC_NOWAIT) == 0 && n == 10);
    CHECK(conc_io_wait(&io, CONC_READABLE, CONC_SEC(10)) == CONC_READABLE);
    /* A short read took everything: a wait now waits. */
    CHECK(conc_io_read(&io, buf, sizeof buf, &n, CONC_NOWAIT) == 0 && n == 90);
    CHECK(conc_io_wait(&io, CONC_READABLE, CONC_MS(20)) == CONC_ETIMEDOUT);
    /* What comes after it wakes the wait. */
    struct late_write w = { sv[1], "1234567", 7 };
    CHECK(conc_task_spawn(conc_loop_current(), NULL, write_later, &w, &t) == 0);
    CHECK(conc_io_wait(&io, CONC_READABLE, CONC_SEC(10)) == CONC_READABLE);
    CHECK(conc_io_read(&io, buf, sizeof buf, &n, CONC_NOWAIT) == 0 && n == 7);
    CHECK(memcmp(buf, "1234567", 7) == 0);
    CHECK(conc_task_join(t, NULL, CONC_FOREVER) == 0);
    CHECK(conc_io_release(&io) == sv[0]);
    return 0;
}

static void io_wait_is_level_triggered(void **state)
{
    (void)state;
    run_on_both(level_main, pair);
}

/* A datagram socket gives one message per read: a short read of the first
 * says nothing about the second, which a wait must still see. */
static int datagram_main(void *arg, void **result)
{
    int *sv = arg;
    conc_io_t io;
    char buf[100];
    size_t n;

    (void)result;
    CHECK(conc_io_open(&io, sv[0]) == 0);
    CHECK(conc_io_wait(&io, CONC_READABLE, CONC_MS(10)) == CONC_ETIMEDOUT); /* registered */
    CHECK(send(sv[1], "first", 5, 0) == 5);
    CHECK(send(sv[1], "second", 6, 0) == 6);
    CHECK(conc_io_wait(&io, CONC_READABLE, CONC_SEC(10)) == CONC_READABLE);
    CHECK(conc_io_read(&io, buf, sizeof buf, &n, CONC_NOWAIT) == 0 && n == 5);
    CHECK(conc_io_wait(&io, CONC_READABLE, CONC_SEC(2)) == CONC_READABLE);
    CHECK(conc_io_read(&io, buf, sizeof buf, &n, CONC_NOWAIT) == 0 && n == 6);
    CHECK(memcmp(buf, "second", 6) == 0);
    CHECK(conc_io_read(&io, buf, sizeof buf, &n, CONC_NOWAIT) == CONC_EAGAIN);
    CHECK(conc_io_wait(&io, CONC_READABLE, CONC_MS(20)) == CONC_ETIMEDOUT);
    CHECK(conc_io_release(&io) == sv[0]);
    return 0;
}

/* A read of 0 bytes reads nothing: on an empty socket it does not wait, and
 * a queued datagram is still there after it. */
static int zero_length_main(void *arg, void **result)
{
    int *sv = arg;
    conc_io_t io;
    size_t n = 99;
    char c = 0;

    (void)result;
    CHECK(conc_io_open(&io, sv[0]) == 0);
    CHECK(conc_io_read(&io, NULL, 0, &n, CONC_NOWAIT) == 0 && n == 0);
    CHECK(send(sv[1], "x", 1, 0) == 1);
    n = 99;
    CHECK(conc_io_read(&io, NULL, 0, &n, CONC_FOREVER) == 0 && n == 0);
    CHECK(conc_io_read(&io, &c, 1, &n, CONC_NOWAIT) == 0 && n == 1 && c == 'x');
    CHECK(conc_io_read(&io, &c, 1, &n, CONC_NOWAIT) == CONC_EAGAIN);
    CHECK(conc_io_release(&io) == sv[0]);
    return 0;
}

static void io_zero_length_read_reads_nothing(void **state)
{
    (void)state;
    run_on_both(zero_length_main, datagram_pair);
}

static void io_short_datagram_read_leaves_the_next_message_ready(void **state)
{
    (void)state;
    run_on_both(datagram_main, datagram_pair);
}

/* Data that arrives while the task does something else (the loop sees it
 * with nobody waiting) is there for its next wait and read; a cancel
 * requested meanwhile still wins over that wait. */
static int unwatched_main(void *arg, void **result)
{
    int *sv = arg;
    conc_io_t io;
    char buf[100];
    size_t n;

    (void)result;
    CHECK(conc_io_open(&io, sv[0]) == 0);
    CHECK(conc_io_wait(&io, CONC_READABLE, CONC_MS(10)) == CONC_ETIMEDOUT);
    CHECK(write(sv[1], "hello", 5) == 5);
    CHECK(conc_task_sleep(CONC_MS(10)) == 0); /* the loop polls meanwhile */
    CHECK(conc_task_cancel(conc_task_current()) == 0);
    CHECK(conc_io_wait(&io, CONC_READABLE, CONC_SEC(10)) == CONC_ECANCELED);
    int64_t start = conc_now_ns();
    CHECK(conc_io_wait(&io, CONC_READABLE, CONC_SEC(10)) == CONC_READABLE);
    CHECK(conc_now_ns() - start < CONC_SEC(5));
    CHECK(conc_io_read(&io, buf, sizeof buf, &n, CONC_NOWAIT) == 0 && n == 5);
    CHECK(memcmp(buf, "hello", 5) == 0);
    CHECK(conc_io_wait(&io, CONC_READABLE, CONC_MS(20)) == CONC_ETIMEDOUT);
    CHECK(conc_io_release(&io) == sv[0]);
    return 0;
}

static void io_data_arriving_while_no_task_waits_is_kept_for_the_next_wait(void **state)
{
    (void)state;
    run_on_both(unwatched_main, pair);
}

/* Far more than a socket buffer holds: the writer fills it, waits for room
 * many times, and every byte arrives in order. */
enum { BIG = 4 << 20 };

static unsigned char big_byte(size_t i)
{
    return (unsigned char)(i * 131 + (i >> 12));
}

static int big_writer(void *arg, void **result)
{
    int fd = *(int *)arg;
    conc_io_t io;
    enum { CHUNK = 65536 };
    unsigned char *chunk = malloc(CHUNK); /* too big for a task's stack */
    int rc = 0;

    (void)result;
    CHECK(chunk && conc_io_open(&io, fd) == 0);
    for (size_t off = 0; off < BIG && rc == 0; off += CHUNK) {
        for (size_t i = 0; i < CHUNK; i++)
            chunk[i] = big_byte(off + i);
        size_t done = 0;
        rc = conc_io_write(&io, chunk, CHUNK, &done, CONC_SEC(30));
        if (rc == 0 && done != CHUNK)
            rc = -1;
    }
    free(chunk);
    CHECK(rc == 0);
    if (shutdown(fd, SHUT_WR) == 0) {
        CHECK(conc_io_release(&io) == fd);
    } else { /* a pipe: closing its writing end is its end of file */
        CHECK(errno == ENOTSOCK);
        CHECK(conc_io_close(&io) == 0);
        *(int *)arg = -1;
    }
    return 0;
}

static int big_main(void *arg, void **result)
{
    int *sv = arg;
    conc_io_t io;
    conc_task_t *t;
    unsigned char buf[7000]; /* not a divisor of the writer's chunks */
    size_t got = 0, n;

    (void)result;
    CHECK(conc_task_spawn(conc_loop_current(), NULL, big_writer, &sv[1], &t) == 0);
    CHECK(conc_io_open(&io, sv[0]) == 0);
    for (;;) {
        CHECK(conc_io_read(&io, buf, sizeof buf, &n, CONC_SEC(30)) == 0);
        if (n == 0)
            break;
        for (size_t i = 0; i < n; i++)
            CHECK(buf[i] == big_byte(got + i));
        got += n;
        if (got % (256 << 10) < n)
            CHECK(conc_task_yield() == 0); /* let the writer fill it up again */
    }
    CHECK(got == BIG);
    CHECK(conc_task_join(t, NULL, CONC_FOREVER) == 0);
    CHECK(conc_io_release(&io) == sv[0]);
    return 0;
}

static void io_writer_waits_for_room_many_times_and_loses_nothing(void **state)
{
    (void)state;
    run_on_both(big_main, pair);
}

/* The same through a pipe, which is read and written with read() and
 * write() instead of a socket's recv() and send(). */
static void io_pipe_carries_every_byte_and_ends_with_eof(void **state)
{
    (void)state;
    run_on_both(big_main, plain_pipe);
}

static int pipe_no_reader_main(void *arg, void **result)
{
    int fd = ((int *)arg)[1];
    conc_io_t io;
    size_t done = 99;

    (void)result;
    CHECK(conc_io_open(&io, fd) == 0);
    CHECK(conc_io_write(&io, "abc", 3, &done, CONC_SEC(10)) == CONC_ECLOSED);
    CHECK(done == 0);
    CHECK(conc_io_release(&io) == fd);
    return 0;
}

static void io_write_to_a_pipe_without_reader_is_eclosed_when_sigpipe_is_ignored(void **state)
{
    (void)state;
    void (*old)(int) = signal(SIGPIPE, SIG_IGN);
    run_on_both(pipe_no_reader_main, pipe_without_reader);
    signal(SIGPIPE, old);
}

/* A reader callback on an owned descriptor takes over its registration
 * (level-triggered, as callbacks want); removed, the handle's waits work as
 * before. */
static void count_and_drain(conc_loop_t *loop, int fd, unsigned events, void *arg)
{
    char c;

    (void)loop;
    (void)events;
    if (read(fd, &c, 1) == 1)
        (*(int *)arg)++;
}

static int callback_main(void *arg, void **result)
{
    int *sv = arg;
    conc_io_t io;
    conc_task_t *t;
    char buf[10];
    size_t n;
    int seen = 0;

    (void)result;
    CHECK(conc_io_open(&io, sv[0]) == 0);
    CHECK(conc_io_wait(&io, CONC_READABLE, CONC_MS(10)) == CONC_ETIMEDOUT);
    CHECK(conc_loop_add_reader(conc_loop_current(), sv[0], count_and_drain, &seen) == 0);
    CHECK(write(sv[1], "ab", 2) == 2);
    for (int i = 0; i < 5000 && seen < 2; i++)
        CHECK(conc_task_sleep(CONC_MS(1)) == 0);
    CHECK(seen == 2); /* level-triggered: called again while a byte was left */
    CHECK(conc_loop_remove_reader(conc_loop_current(), sv[0]) == 0);
    CHECK(conc_io_wait(&io, CONC_READABLE, CONC_MS(10)) == CONC_ETIMEDOUT);
    struct late_write w = { sv[1], "cd", 2 };
    CHECK(conc_task_spawn(conc_loop_current(), NULL, write_later, &w, &t) == 0);
    CHECK(conc_io_read(&io, buf, sizeof buf, &n, CONC_SEC(10)) == 0 && n == 2);
    CHECK(memcmp(buf, "cd", 2) == 0);
    CHECK(conc_task_join(t, NULL, CONC_FOREVER) == 0);
    CHECK(conc_io_release(&io) == sv[0]);
    return 0;
}

static void io_reader_callback_on_an_owned_descriptor_and_back(void **state)
{
    (void)state;
    run_on_both(callback_main, pair);
}

/* conc_io_wait(), then the caller's own read() (or accept(), or a TLS
 * library's read): the next wait waits. */
static int direct_main(void *arg, void **result)
{
    int *sv = arg;
    conc_io_t io;
    char c;

    (void)result;
    CHECK(conc_io_open(&io, sv[0]) == 0);
    CHECK(write(sv[1], "x", 1) == 1);
    CHECK(conc_io_wait(&io, CONC_READABLE, CONC_SEC(10)) == CONC_READABLE);
    CHECK(read(sv[0], &c, 1) == 1); /* drained, not through conc_io_read */
    CHECK(conc_io_wait(&io, CONC_READABLE, CONC_MS(20)) == CONC_ETIMEDOUT);
    CHECK(conc_io_release(&io) == sv[0]);
    return 0;
}

static void io_wait_after_a_direct_read_waits(void **state)
{
    (void)state;
    run_on_both(direct_main, pair);
}

/* A packet-mode pipe (O_DIRECT) gives one packet per read: a short read
 * leaves the next one there. */
static int packet_main(void *arg, void **result)
{
    int *p = arg;
    conc_io_t io;
    char buf[100];
    size_t n;

    (void)result;
    CHECK(conc_io_open(&io, p[0]) == 0);
    CHECK(write(p[1], "first", 5) == 5);
    CHECK(write(p[1], "second", 6) == 6);
    CHECK(conc_io_wait(&io, CONC_READABLE, CONC_SEC(10)) == CONC_READABLE);
    CHECK(conc_io_read(&io, buf, sizeof buf, &n, CONC_NOWAIT) == 0 && n == 5);
    CHECK(conc_io_wait(&io, CONC_READABLE, CONC_SEC(1)) == CONC_READABLE); /* "second" is there */
    CHECK(conc_io_release(&io) == p[0]);
    return 0;
}

static void io_packet_pipe_short_read_leaves_the_next_packet_ready(void **state)
{
    (void)state;
    run_on_both(packet_main, packet_pipe);
}

/* TCP urgent data: a read stops at the mark, with data left behind it. */
static int urgent_main(void *arg, void **result)
{
    int *sv = arg;
    conc_io_t io;
    char buf[100];
    size_t n;

    (void)result;
    CHECK(conc_io_open(&io, sv[0]) == 0);
    CHECK(send(sv[1], "abc", 3, 0) == 3);
    CHECK(send(sv[1], "X", 1, MSG_OOB) == 1);
    CHECK(send(sv[1], "def", 3, 0) == 3);
    CHECK(conc_task_sleep(CONC_MS(20)) == 0);
    CHECK(conc_io_wait(&io, CONC_READABLE, CONC_SEC(10)) == CONC_READABLE);
    CHECK(conc_io_read(&io, buf, sizeof buf, &n, CONC_NOWAIT) == 0 && n == 3);
    CHECK(conc_io_wait(&io, CONC_READABLE, CONC_SEC(1)) == CONC_READABLE); /* "def" */
    CHECK(conc_io_read(&io, buf, sizeof buf, &n, CONC_NOWAIT) == 0 && n == 3);
    CHECK(memcmp(buf, "def", 3) == 0);
    CHECK(conc_io_release(&io) == sv[0]);
    return 0;
}

static void tcp_pair(int sv[2])
{
    struct sockaddr_in a = { .sin_family = AF_INET };
    socklen_t len = sizeof a;
    int l = socket(AF_INET, SOCK_STREAM, 0);

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(0, bind(l, (struct sockaddr *)&a, sizeof a));
    assert_int_equal(0, listen(l, 1));
    assert_int_equal(0, getsockname(l, (struct sockaddr *)&a, &len));
    sv[1] = socket(AF_INET, SOCK_STREAM, 0);
    assert_int_equal(0, connect(sv[1], (struct sockaddr *)&a, sizeof a));
    sv[0] = accept(l, NULL, NULL);
    assert_true(sv[0] >= 0);
    close(l);
}

static void io_tcp_urgent_short_read_leaves_data_ready(void **state)
{
    (void)state;
    run_on_both(urgent_main, tcp_pair);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(io_bad_arguments_and_closed_handles_are_refused),
        cmocka_unit_test(io_read_and_write_move_exact_bytes_through_many_waits),
        cmocka_unit_test(io_timeouts_are_never_early),
        cmocka_unit_test(io_read_in_a_cancelled_task_returns_ecanceled),
        cmocka_unit_test(io_closed_number_reused_is_watched_correctly),
        cmocka_unit_test(io_write_to_a_gone_peer_is_eclosed_without_sigpipe),
        cmocka_unit_test(io_from_another_thread_cannot_release_and_waits_by_itself),
        cmocka_unit_test(io_wait_is_level_triggered),
        cmocka_unit_test(io_short_datagram_read_leaves_the_next_message_ready),
        cmocka_unit_test(io_zero_length_read_reads_nothing),
        cmocka_unit_test(io_data_arriving_while_no_task_waits_is_kept_for_the_next_wait),
        cmocka_unit_test(io_writer_waits_for_room_many_times_and_loses_nothing),
        cmocka_unit_test(io_pipe_carries_every_byte_and_ends_with_eof),
        cmocka_unit_test(io_write_to_a_pipe_without_reader_is_eclosed_when_sigpipe_is_ignored),
        cmocka_unit_test(io_reader_callback_on_an_owned_descriptor_and_back),
        cmocka_unit_test(io_wait_after_a_direct_read_waits),
        cmocka_unit_test(io_packet_pipe_short_read_leaves_the_next_packet_ready),
        cmocka_unit_test(io_tcp_urgent_short_read_leaves_data_ready),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
