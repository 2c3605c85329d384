/*
 * Pipes: every behaviour and error of conc/pipe.h. Framing (boundaries kept,
 * zero-length and 1 MiB messages, headers and bodies that arrive in
 * pieces), timeouts of send and recv (never early, nothing half-done), a
 * message too large for the buffer left in the pipe, the peer closing,
 * broken streams, one-way pipes, tasks exchanging messages on one loop, and
 * 10000 messages each way between two processes with exact checksums.
 *
 * Every test checks that the table of descriptors is the same afterwards
 * and that no child is left (waitpid(-1) finds none). Checks inside tasks
 * and threads are soft (CK), counted, and asserted at the end.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"

/* ---- message contents ------------------------------------------------------ */

/* Byte i of message `seq`: a pattern that differs per message and per byte. */
static unsigned char pattern(uint32_t seq, size_t i)
{
    return (unsigned char)(seq * 131u + i * 7u + (i >> 8) + 1u);
}

static void fill(unsigned char *buf, uint32_t seq, size_t len)
{
    for (size_t i = 0; i < len; i++)
        buf[i] = pattern(seq, i);
}

static bool matches(const unsigned char *buf, uint32_t seq, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (buf[i] != pattern(seq, i))
            return false;
    return true;
}

/* FNV-1a over a message, chained. */
static uint64_t checksum(uint64_t h, const unsigned char *buf, size_t len)
{
    for (size_t i = 0; i < len; i++)
        h = (h ^ buf[i]) * 1099511628211u;
    return h;
}

static void open_pair(conc_pipe_t *a, conc_pipe_t *b, bool duplex)
{
    assert_rc(0, conc_pipe_open(a, b, duplex));
    assert_true(conc_pipe_fd(a) >= 0);
    assert_true(conc_pipe_fd(b) >= 0);
}

static void close_pair(conc_pipe_t *a, conc_pipe_t *b)
{
    assert_rc(0, conc_pipe_close(a));
    assert_rc(0, conc_pipe_close(b));
}

static size_t recv_len(conc_pipe_t *end, void *buf, size_t cap)
{
    size_t len = (size_t)-1;

    assert_rc(0, conc_pipe_recv(end, buf, cap, &len, CONC_FOREVER));
    return len;
}

/* ---- framing ------------------------------------------------------------- */

static void duplex_pipe_carries_messages_both_ways(void **state)
{
    conc_pipe_t a, b;
    char buf[32];

    (void)state;
    open_pair(&a, &b, true);
    assert_rc(0, conc_pipe_send(&a, "hello", 5, CONC_FOREVER));
    assert_rc(0, conc_pipe_send(&b, "world!", 6, CONC_NOWAIT));
    assert_int_equal(5, recv_len(&b, buf, sizeof buf));
    assert_memory_equal("hello", buf, 5);
    assert_int_equal(6, recv_len(&a, buf, sizeof buf));
    assert_memory_equal("world!", buf, 6);
    close_pair(&a, &b);
}

static void one_way_pipe_carries_messages_from_b_to_a_only(void **state)
{
    conc_pipe_t a, b;
    char buf[8];
    size_t len;

    (void)state;
    open_pair(&a, &b, false);
    assert_rc(CONC_EINVAL, conc_pipe_send(&a, "x", 1, CONC_NOWAIT));
    assert_rc(CONC_EINVAL, conc_pipe_recv(&b, buf, sizeof buf, &len, CONC_NOWAIT));
    assert_rc(0, conc_pipe_send(&b, "ok", 2, CONC_NOWAIT));
    assert_int_equal(2, recv_len(&a, buf, sizeof buf));
    assert_memory_equal("ok", buf, 2);
    close_pair(&a, &b);
}

static void messages_keep_their_boundaries_and_may_be_empty(void **state)
{
    static const size_t sizes[] = { 1, 1000, 0, 3, 0, 65536 };
    unsigned char *buf = malloc(65536);
    conc_pipe_t a, b;

    (void)state;
    assert_non_null(buf);
    open_pair(&a, &b, true);
    for (uint32_t i = 0; i < 6; i++) {
        fill(buf, i, sizes[i]);
        assert_rc(0, conc_pipe_send(&a, sizes[i] ? buf : NULL, sizes[i], CONC_FOREVER));
    }
    for (uint32_t i = 0; i < 6; i++) {
        memset(buf, 0, 65536);
        assert_int_equal(sizes[i], recv_len(&b, buf, 65536));
        assert_true(matches(buf, i, sizes[i]));
    }
    size_t len;
    assert_rc(CONC_EAGAIN, conc_pipe_recv(&b, buf, 65536, &len, CONC_NOWAIT));
    close_pair(&a, &b);
    free(buf);
}

struct big {
    conc_pipe_t *end;
    size_t len;
    uint32_t seq;
    int rc;
};

static void *send_big(void *arg)
{
    struct big *s = arg;
    unsigned char *buf = malloc(s->len);

    fill(buf, s->seq, s->len);
    s->rc = conc_pipe_send(s->end, buf, s->len, CONC_FOREVER);
    free(buf);
    return NULL;
}

/* 1 MiB does not fit a socket buffer: the send is written in pieces while
 * the receiver reads it in pieces; both ways at once. */
static void one_mebibyte_messages_cross_whole_both_ways(void **state)
{
    const size_t mib = (size_t)1 << 20;
    conc_pipe_t a, b;
    struct big s1 = { &a, mib, 11, 1 }, s2 = { &b, mib + 3, 12, 1 };
    conc_thread_t t1, t2;
    unsigned char *buf = malloc(mib + 16);

    (void)state;
    assert_non_null(buf);
    open_pair(&a, &b, true);
    assert_rc(0, conc_thread_create(&t1, NULL, send_big, &s1));
    assert_rc(0, conc_thread_create(&t2, NULL, send_big, &s2));
    assert_int_equal(mib, recv_len(&b, buf, mib + 16));
    assert_true(matches(buf, 11, mib));
    assert_int_equal(mib + 3, recv_len(&a, buf, mib + 16));
    assert_true(matches(buf, 12, mib + 3));
    assert_rc(0, conc_thread_join(&t1, NULL, CONC_FOREVER));
    assert_rc(0, conc_thread_join(&t2, NULL, CONC_FOREVER));
    assert_rc(0, s1.rc);
    assert_rc(0, s2.rc);
    close_pair(&a, &b);
    free(buf);
}

/* ---- sizes ---------------------------------------------------------------- */

static void recv_into_a_small_buffer_reports_the_size_and_keeps_the_message(void **state)
{
    unsigned char msg[100], buf[100];
    conc_pipe_t a, b;
    size_t len = 0;

    (void)state;
    fill(msg, 5, sizeof msg);
    open_pair(&a, &b, true);
    assert_rc(0, conc_pipe_send(&a, msg, sizeof msg, CONC_NOWAIT));
    assert_rc(CONC_EOVERFLOW, conc_pipe_recv(&b, buf, 10, &len, CONC_NOWAIT));
    assert_int_equal(100, len);
    len = 0;
    assert_rc(CONC_EOVERFLOW, conc_pipe_recv(&b, NULL, 0, &len, CONC_FOREVER));
    assert_int_equal(100, len);
    assert_rc(CONC_EOVERFLOW, conc_pipe_recv(&b, buf, 99, &len, CONC_MS(10)));
    assert_int_equal(100, recv_len(&b, buf, sizeof buf));
    assert_memory_equal(msg, buf, sizeof msg);
    /* An empty message fits a zero-capacity buffer. */
    assert_rc(0, conc_pipe_send(&a, NULL, 0, CONC_NOWAIT));
    assert_int_equal(0, recv_len(&b, NULL, 0));
    close_pair(&a, &b);
}

static void send_above_the_maximum_is_eoverflow_and_sends_nothing(void **state)
{
    conc_pipe_t a, b;
    char byte = 'z', buf[4];
    size_t len;

    (void)state;
    open_pair(&a, &b, true);
    /* The length is refused before a byte is read from buf. */
    assert_rc(CONC_EOVERFLOW, conc_pipe_send(&a, &byte, CONC_PIPE_MSG_MAX + 1, CONC_FOREVER));
    assert_rc(CONC_EOVERFLOW, conc_pipe_send(&a, &byte, (size_t)-1, CONC_NOWAIT));
    assert_rc(CONC_EAGAIN, conc_pipe_recv(&b, buf, sizeof buf, &len, CONC_NOWAIT));
    assert_rc(0, conc_pipe_send(&a, &byte, 1, CONC_NOWAIT));
    assert_int_equal(1, recv_len(&b, buf, sizeof buf));
    assert_int_equal('z', buf[0]);
    close_pair(&a, &b);
}

/* ---- timeouts --------------------------------------------------------------- */

static void recv_times_out_never_early_and_consumes_nothing(void **state)
{
    static const int64_t timeouts[] = { CONC_MS(1), CONC_MS(20), CONC_MS(50) };
    conc_pipe_t a, b;
    char buf[4];
    size_t len;

    (void)state;
    open_pair(&a, &b, true);
    assert_rc(CONC_EAGAIN, conc_pipe_recv(&b, buf, sizeof buf, &len, CONC_NOWAIT));
    for (size_t i = 0; i < 3; i++) {
        int64_t t0 = conc_now_ns();
        assert_rc(CONC_ETIMEDOUT, conc_pipe_recv(&b, buf, sizeof buf, &len, timeouts[i]));
        int64_t took = conc_now_ns() - t0;
        assert_true(took >= timeouts[i]);
        assert_true(took < timeouts[i] + CONC_SEC(5));
    }
    assert_rc(0, conc_pipe_send(&a, "abc", 3, CONC_NOWAIT));
    assert_int_equal(3, recv_len(&b, buf, sizeof buf));
    assert_memory_equal("abc", buf, 3);
    close_pair(&a, &b);
}

/* Fill the pipe with header-only messages (each written by one system call,
 * so never torn), then a send times out, and nothing of it was sent. */
static void send_to_a_full_pipe_times_out_never_early_and_sends_nothing(void **state)
{
    conc_pipe_t a, b;
    int sent = 0, got = 0, rc;
    size_t len;

    (void)state;
    open_pair(&a, &b, true);
    while ((rc = conc_pipe_send(&a, NULL, 0, CONC_NOWAIT)) == 0)
        sent++;
    assert_rc(CONC_EAGAIN, rc);
    assert_true(sent > 0);
    int64_t t0 = conc_now_ns();
    assert_rc(CONC_ETIMEDOUT, conc_pipe_send(&a, NULL, 0, CONC_MS(30)));
    assert_true(conc_now_ns() - t0 >= CONC_MS(30));
    while ((rc = conc_pipe_recv(&b, NULL, 0, &len, CONC_NOWAIT)) == 0) {
        assert_int_equal(0, len);
        got++;
    }
    assert_rc(CONC_EAGAIN, rc);
    assert_int_equal(sent, got);
    close_pair(&a, &b);
}

/* ---- partial arrival --------------------------------------------------------- */

struct dribble {
    int fd;
    const unsigned char *bytes;
    size_t len;
};

static void *dribble_bytes(void *arg)
{
    struct dribble *d = arg;

    for (size_t i = 0; i < d->len; i += 7) {
        size_t n = d->len - i < 7 ? d->len - i : 7;
        conc_sleep(CONC_US(200));
        CK((long)n, (long)write(d->fd, d->bytes + i, n));
    }
    return NULL;
}

static void header_and_body_arriving_in_pieces_make_one_message(void **state)
{
    unsigned char raw[4 + 300], buf[300];
    conc_pipe_t a, b;
    conc_thread_t t;
    size_t len;

    (void)state;
    raw[0] = 300 & 0xff;
    raw[1] = 300 >> 8;
    raw[2] = raw[3] = 0;
    fill(raw + 4, 21, 300);
    open_pair(&a, &b, true);
    /* Half a header: nothing to return yet, and the half is kept. */
    assert_int_equal(2, write(conc_pipe_fd(&a), raw, 2));
    assert_rc(CONC_EAGAIN, conc_pipe_recv(&b, buf, sizeof buf, &len, CONC_NOWAIT));
    assert_rc(CONC_ETIMEDOUT, conc_pipe_recv(&b, buf, sizeof buf, &len, CONC_MS(5)));
    /* The rest, 7 bytes at a time from another thread. */
    struct dribble d = { conc_pipe_fd(&a), raw + 2, sizeof raw - 2 };
    assert_rc(0, conc_thread_create(&t, NULL, dribble_bytes, &d));
    assert_int_equal(300, recv_len(&b, buf, sizeof buf));
    assert_true(matches(buf, 21, 300));
    assert_rc(0, conc_thread_join(&t, NULL, CONC_FOREVER));
    assert_rc(CONC_EAGAIN, conc_pipe_recv(&b, buf, sizeof buf, &len, CONC_NOWAIT));
    close_pair(&a, &b);
}

static void end_of_file_inside_a_message_breaks_the_stream(void **state)
{
    const unsigned char raw[] = { 10, 0, 0, 0, 'a', 'b', 'c' };
    conc_pipe_t a, b;
    char buf[16];
    size_t len;

    (void)state;
    open_pair(&a, &b, true);
    assert_int_equal(sizeof raw, write(conc_pipe_fd(&a), raw, sizeof raw));
    assert_rc(0, conc_pipe_close(&a));
    assert_rc(CONC_EIO, conc_pipe_recv(&b, buf, sizeof buf, &len, CONC_FOREVER));
    assert_rc(CONC_EIO, conc_pipe_recv(&b, buf, sizeof buf, &len, CONC_NOWAIT));
    assert_rc(CONC_EIO, conc_pipe_send(&b, "x", 1, CONC_NOWAIT));
    assert_rc(0, conc_pipe_close(&b));
}

static void a_header_above_the_maximum_breaks_the_stream(void **state)
{
    const unsigned char raw[] = { 0xff, 0xff, 0xff, 0x7f };
    conc_pipe_t a, b;
    char buf[16];
    size_t len;

    (void)state;
    open_pair(&a, &b, true);
    assert_int_equal(sizeof raw, write(conc_pipe_fd(&a), raw, sizeof raw));
    assert_rc(CONC_EIO, conc_pipe_recv(&b, buf, sizeof buf, &len, CONC_FOREVER));
    assert_rc(CONC_EIO, conc_pipe_recv(&b, buf, sizeof buf, &len, CONC_FOREVER));
    close_pair(&a, &b);
}

/* ---- closing -------------------------------------------------------------- */

static void peer_close_delivers_what_was_sent_then_eclosed(void **state)
{
    conc_pipe_t a, b;
    char buf[8];
    size_t len;

    (void)state;
    open_pair(&a, &b, true);
    assert_rc(0, conc_pipe_send(&a, "one", 3, CONC_NOWAIT));
    assert_rc(0, conc_pipe_send(&a, "two", 3, CONC_NOWAIT));
    assert_rc(0, conc_pipe_close(&a));
    assert_int_equal(3, recv_len(&b, buf, sizeof buf));
    assert_memory_equal("one", buf, 3);
    assert_int_equal(3, recv_len(&b, buf, sizeof buf));
    assert_memory_equal("two", buf, 3);
    assert_rc(CONC_ECLOSED, conc_pipe_recv(&b, buf, sizeof buf, &len, CONC_FOREVER));
    assert_rc(CONC_ECLOSED, conc_pipe_recv(&b, buf, sizeof buf, &len, CONC_NOWAIT));
    /* No SIGPIPE: a code. */
    assert_rc(CONC_ECLOSED, conc_pipe_send(&b, "x", 1, CONC_FOREVER));
    assert_rc(0, conc_pipe_close(&b));
}

static void closed_endpoints_and_bad_arguments_are_refused(void **state)
{
    conc_pipe_t a, b, never = CONC_PIPE_INIT;
    char buf[4];
    size_t len;

    (void)state;
    assert_rc(CONC_EINVAL, conc_pipe_open(NULL, &b, true));
    assert_rc(CONC_EINVAL, conc_pipe_open(&a, NULL, true));
    assert_rc(CONC_EINVAL, conc_pipe_open(&a, &a, false));
    open_pair(&a, &b, true);
    assert_rc(CONC_EINVAL, conc_pipe_send(NULL, "x", 1, CONC_NOWAIT));
    assert_rc(CONC_EINVAL, conc_pipe_send(&a, NULL, 1, CONC_NOWAIT));
    assert_rc(CONC_EINVAL, conc_pipe_recv(NULL, buf, sizeof buf, &len, CONC_NOWAIT));
    assert_rc(CONC_EINVAL, conc_pipe_recv(&b, NULL, 4, &len, CONC_NOWAIT));
    assert_rc(CONC_EINVAL, conc_pipe_recv(&b, buf, sizeof buf, NULL, CONC_NOWAIT));
    assert_rc(CONC_EINVAL, conc_pipe_fd(NULL));
    assert_rc(CONC_EINVAL, conc_pipe_close(NULL));
    /* The refused calls changed nothing. */
    assert_rc(0, conc_pipe_send(&a, "x", 1, CONC_NOWAIT));
    assert_int_equal(1, recv_len(&b, buf, sizeof buf));
    close_pair(&a, &b);
    /* Closed (and never opened) endpoints: not open. Close is idempotent. */
    assert_rc(CONC_EINVAL, conc_pipe_send(&a, "x", 1, CONC_NOWAIT));
    assert_rc(CONC_EINVAL, conc_pipe_recv(&a, buf, sizeof buf, &len, CONC_NOWAIT));
    assert_rc(CONC_EINVAL, conc_pipe_fd(&a));
    assert_rc(0, conc_pipe_close(&a));
    assert_rc(CONC_EINVAL, conc_pipe_send(&never, "x", 1, CONC_NOWAIT));
    assert_rc(CONC_EINVAL, conc_pipe_recv(&never, buf, sizeof buf, &len, CONC_FOREVER));
    assert_rc(CONC_EINVAL, conc_pipe_fd(&never));
    assert_rc(0, conc_pipe_close(&never));
}

static void open_without_free_descriptors_is_elimit(void **state)
{
    conc_pipe_t a = CONC_PIPE_INIT, b = CONC_PIPE_INIT;
    struct rlimit old, now;
    int lowest = dup(0);

    (void)state;
    assert_true(lowest >= 0);
    close(lowest);
    assert_int_equal(0, getrlimit(RLIMIT_NOFILE, &old));
    now = old;
    now.rlim_cur = (rlim_t)lowest;
    assert_int_equal(0, setrlimit(RLIMIT_NOFILE, &now));
    int rc = conc_pipe_open(&a, &b, true);
    setrlimit(RLIMIT_NOFILE, &old);
    assert_rc(CONC_ELIMIT, rc);
    /* Left unchanged. */
    assert_rc(CONC_EINVAL, conc_pipe_fd(&a));
    assert_rc(CONC_EINVAL, conc_pipe_fd(&b));
}

/* ---- tasks ------------------------------------------------------------------ */

#define TASK_MSGS 1000
#define TASK_BIG ((size_t)1 << 20)

struct task_pair {
    conc_pipe_t a, b;
    uint64_t sent_sum, got_sum;
    int got;
};

static int task_sender(void *arg, void **result)
{
    struct task_pair *tp = arg;
    unsigned char *buf = malloc(TASK_BIG);

    (void)result;
    for (uint32_t i = 0; i < TASK_MSGS; i++) {
        size_t len = i % 10 == 0 ? TASK_BIG : i % 500;
        fill(buf, i, len);
        tp->sent_sum = checksum(tp->sent_sum, buf, len);
        CK(0, conc_pipe_send(&tp->a, buf, len, CONC_FOREVER));
    }
    free(buf);
    return 0;
}

static int task_receiver(void *arg, void **result)
{
    struct task_pair *tp = arg;
    unsigned char *buf = malloc(TASK_BIG);
    size_t len;

    (void)result;
    for (uint32_t i = 0; i < TASK_MSGS; i++) {
        CK(0, conc_pipe_recv(&tp->b, buf, TASK_BIG, &len, CONC_FOREVER));
        CK(i % 10 == 0 ? (long)TASK_BIG : (long)(i % 500), (long)len);
        CK(true, matches(buf, i, len));
        tp->got_sum = checksum(tp->got_sum, buf, len);
        tp->got++;
    }
    free(buf);
    return 0;
}

static int run_pair(void *arg, void **result)
{
    conc_task_t *t[2];

    (void)result;
    CK(0, conc_task_spawn(conc_loop_current(), NULL, task_receiver, arg, &t[0]));
    CK(0, conc_task_spawn(conc_loop_current(), NULL, task_sender, arg, &t[1]));
    CK(0, conc_task_join(t[0], NULL, CONC_FOREVER));
    CK(0, conc_task_join(t[1], NULL, CONC_FOREVER));
    return 0;
}

/* Both ends on one loop's tasks: each send of 1 MiB must suspend its task
 * until the other task reads, or the loop would never get there. */
static void tasks_on_one_loop_exchange_large_messages(void **state)
{
    struct task_pair tp = { .sent_sum = 14695981039346656037u, .got_sum = 14695981039346656037u };

    (void)state;
    open_pair(&tp.a, &tp.b, true);
    assert_rc(0, conc_run(run_pair, &tp, NULL));
    assert_int_equal(TASK_MSGS, tp.got);
    assert_true(tp.sent_sum == tp.got_sum);
    close_pair(&tp.a, &tp.b);
}

struct cancel_recv {
    conc_pipe_t a, b;
    int rc;
};

static int blocked_receiver(void *arg, void **result)
{
    struct cancel_recv *cr = arg;
    char buf[8];
    size_t len;

    (void)result;
    cr->rc = conc_pipe_recv(&cr->b, buf, sizeof buf, &len, CONC_FOREVER);
    return 0;
}

static int cancel_a_recv(void *arg, void **result)
{
    struct cancel_recv *cr = arg;
    conc_task_t *t;

    (void)result;
    CK(0, conc_task_spawn(conc_loop_current(), NULL, blocked_receiver, cr, &t));
    CK(0, conc_task_sleep(CONC_MS(10)));
    CK(0, conc_task_cancel(t));
    conc_task_join(t, NULL, CONC_FOREVER);
    return 0;
}

static void cancelled_recv_in_a_task_consumes_nothing(void **state)
{
    struct cancel_recv cr = { CONC_PIPE_INIT, CONC_PIPE_INIT, 1 };
    char buf[8];

    (void)state;
    open_pair(&cr.a, &cr.b, true);
    assert_rc(0, conc_run(cancel_a_recv, &cr, NULL));
    assert_rc(CONC_ECANCELED, cr.rc);
    assert_rc(0, conc_pipe_send(&cr.a, "later", 5, CONC_NOWAIT));
    assert_int_equal(5, recv_len(&cr.b, buf, sizeof buf));
    assert_memory_equal("later", buf, 5);
    close_pair(&cr.a, &cr.b);
}

/* ---- between processes ---------------------------------------------------- */

#define PROC_MSGS 10000
#define PROC_MAX 4096

static size_t proc_len(uint32_t i)
{
    return (i * 37u) % PROC_MAX;
}

/* In the child: send PROC_MSGS messages on the endpoint, then receive the
 * parent's checksum of them and exit 0 when it matches ours. */
static int child_sends(void *arg)
{
    conc_pipe_t *end = arg;
    unsigned char buf[PROC_MAX];
    uint64_t sum = 14695981039346656037u, theirs = 0;
    size_t len;

    for (uint32_t i = 0; i < PROC_MSGS; i++) {
        fill(buf, i, proc_len(i));
        sum = checksum(sum, buf, proc_len(i));
        if (conc_pipe_send(end, buf, proc_len(i), CONC_FOREVER) != 0)
            return 10;
    }
    if (conc_pipe_recv(end, &theirs, sizeof theirs, &len, CONC_FOREVER) != 0 ||
        len != sizeof theirs)
        return 11;
    return theirs == sum ? 0 : 12;
}

/* In the child: receive PROC_MSGS messages, check each, send back the
 * checksum, and exit 0 when every message was right. */
static int child_receives(void *arg)
{
    conc_pipe_t *end = arg;
    unsigned char buf[PROC_MAX];
    uint64_t sum = 14695981039346656037u;
    int bad = 0;
    size_t len;

    for (uint32_t i = 0; i < PROC_MSGS; i++) {
        if (conc_pipe_recv(end, buf, sizeof buf, &len, CONC_FOREVER) != 0)
            return 20;
        if (len != proc_len(i) || !matches(buf, i, len))
            bad++;
        sum = checksum(sum, buf, len);
    }
    if (conc_pipe_send(end, &sum, sizeof sum, CONC_FOREVER) != 0)
        return 21;
    return bad ? 22 : 0;
}

static void ten_thousand_messages_each_way_between_two_processes(void **state)
{
    unsigned char buf[PROC_MAX];
    conc_pipe_t mine, theirs;
    conc_process_t p = CONC_PROCESS_INIT;
    uint64_t sum = 14695981039346656037u;
    size_t len;
    int code = -1;

    (void)state;
    /* Child to parent. */
    open_pair(&mine, &theirs, true);
    assert_rc(0, conc_process_start(&p, NULL, child_sends, &theirs));
    assert_rc(0, conc_pipe_close(&theirs)); /* the child keeps its copy */
    for (uint32_t i = 0; i < PROC_MSGS; i++) {
        assert_int_equal(proc_len(i), recv_len(&mine, buf, sizeof buf));
        assert_true(matches(buf, i, proc_len(i)));
        sum = checksum(sum, buf, proc_len(i));
    }
    assert_rc(0, conc_pipe_send(&mine, &sum, sizeof sum, CONC_FOREVER));
    assert_rc(0, conc_process_join(&p, CONC_SEC(60)));
    assert_rc(0, conc_process_exitcode(&p, &code));
    assert_int_equal(0, code);
    assert_rc(0, conc_process_close(&p));
    /* The child ended: its endpoint is gone, so end of file. */
    assert_rc(CONC_ECLOSED, conc_pipe_recv(&mine, buf, sizeof buf, &len, CONC_FOREVER));
    assert_rc(0, conc_pipe_close(&mine));

    /* Parent to child. */
    sum = 14695981039346656037u;
    open_pair(&mine, &theirs, true);
    assert_rc(0, conc_process_start(&p, NULL, child_receives, &theirs));
    assert_rc(0, conc_pipe_close(&theirs));
    for (uint32_t i = 0; i < PROC_MSGS; i++) {
        fill(buf, i, proc_len(i));
        sum = checksum(sum, buf, proc_len(i));
        assert_rc(0, conc_pipe_send(&mine, buf, proc_len(i), CONC_FOREVER));
    }
    uint64_t theirs_sum = 0;
    assert_int_equal(sizeof theirs_sum, recv_len(&mine, &theirs_sum, sizeof theirs_sum));
    assert_true(theirs_sum == sum);
    assert_rc(0, conc_process_join(&p, CONC_SEC(60)));
    assert_rc(0, conc_process_exitcode(&p, &code));
    assert_int_equal(0, code);
    assert_rc(0, conc_process_close(&p));
    assert_rc(0, conc_pipe_close(&mine));
}

/* A child killed in the middle of a 1 MiB message: the parent's recv sees a
 * broken stream, not a hang and not a short message. */
static int child_sends_big_then_hangs(void *arg)
{
    conc_pipe_t *end = arg;
    size_t n = (size_t)1 << 20;
    unsigned char *buf = malloc(n);

    fill(buf, 1, n);
    conc_pipe_send(end, buf, n, CONC_FOREVER);
    return 0;
}

static void sender_killed_inside_a_message_gives_eio(void **state)
{
    conc_pipe_t mine, theirs;
    conc_process_t p = CONC_PROCESS_INIT;
    unsigned char buf[16];
    size_t len = 0;
    int code;

    (void)state;
    open_pair(&mine, &theirs, true);
    assert_rc(0, conc_process_start(&p, NULL, child_sends_big_then_hangs, &theirs));
    assert_rc(0, conc_pipe_close(&theirs));
    /* The header is there: the message does not fit, and stays. */
    assert_rc(CONC_EOVERFLOW, conc_pipe_recv(&mine, buf, sizeof buf, &len, CONC_FOREVER));
    assert_int_equal((size_t)1 << 20, len);
    /* The child is stuck in its send (nobody reads): kill it mid-message. */
    assert_rc(0, conc_process_kill(&p));
    assert_rc(0, conc_process_join(&p, CONC_FOREVER));
    assert_rc(0, conc_process_exitcode(&p, &code));
    assert_int_equal(-SIGKILL, code);
    assert_rc(0, conc_process_close(&p));
    unsigned char *big = malloc((size_t)1 << 20);
    assert_rc(CONC_EIO, conc_pipe_recv(&mine, big, (size_t)1 << 20, &len, CONC_FOREVER));
    free(big);
    assert_rc(0, conc_pipe_close(&mine));
}

/* The child echoes until end of file, which comes only because it closed
 * its copy of the parent's endpoint. */
struct echo_ends {
    conc_pipe_t parent, child;
};

static int child_echoes(void *arg)
{
    struct echo_ends *e = arg;
    unsigned char buf[64];
    size_t len;
    int rc, n = 0;

    conc_pipe_close(&e->parent);
    while ((rc = conc_pipe_recv(&e->child, buf, sizeof buf, &len, CONC_FOREVER)) == 0) {
        if (conc_pipe_send(&e->child, buf, len, CONC_FOREVER) != 0)
            return 30;
        n++;
    }
    return rc == CONC_ECLOSED ? n : 31;
}

static void parent_close_ends_the_childs_receive_loop(void **state)
{
    struct echo_ends e;
    conc_process_t p = CONC_PROCESS_INIT;
    unsigned char buf[64];
    int code = -1;

    (void)state;
    open_pair(&e.parent, &e.child, true);
    assert_rc(0, conc_process_start(&p, NULL, child_echoes, &e));
    assert_rc(0, conc_pipe_close(&e.child));
    for (uint32_t i = 0; i < 5; i++) {
        fill(buf, i, 10 * i);
        assert_rc(0, conc_pipe_send(&e.parent, buf, 10 * i, CONC_FOREVER));
        memset(buf, 0, sizeof buf);
        assert_int_equal(10 * i, recv_len(&e.parent, buf, sizeof buf));
        assert_true(matches(buf, i, 10 * i));
    }
    assert_rc(0, conc_pipe_close(&e.parent));
    assert_rc(0, conc_process_join(&p, CONC_SEC(60)));
    assert_rc(0, conc_process_exitcode(&p, &code));
    assert_int_equal(5, code);
    assert_rc(0, conc_process_close(&p));
}

/* ---- in an event loop ------------------------------------------------------ */

struct reader {
    conc_pipe_t *end;
    int got, calls;
    uint64_t sum;
};

static void on_readable(conc_loop_t *loop, int fd, unsigned events, void *arg)
{
    struct reader *r = arg;
    unsigned char buf[256];
    size_t len;
    int rc;

    r->calls++;
    CK(CONC_READABLE, events);
    while ((rc = conc_pipe_recv(r->end, buf, sizeof buf, &len, CONC_NOWAIT)) == 0) {
        CK(true, len == (size_t)r->got % 256 && matches(buf, (uint32_t)r->got, len));
        r->sum = checksum(r->sum, buf, len);
        r->got++;
    }
    CK(CONC_EAGAIN, rc);
    if (r->got == 100) {
        CK(0, conc_loop_remove_reader(loop, fd));
        CK(0, conc_loop_stop(loop));
    }
}

static void *send_hundred(void *arg)
{
    unsigned char buf[256] = { 0 };

    for (uint32_t i = 0; i < 100; i++) {
        fill(buf, i, i % 256);
        CK(0, conc_pipe_send(arg, buf, i % 256, CONC_FOREVER));
        if (i % 10 == 0)
            conc_sleep(CONC_US(500)); /* pacing only: let the loop see several batches */
    }
    return NULL;
}

static void pipe_descriptor_drives_a_loop_reader(void **state)
{
    conc_pipe_t a, b;
    conc_loop_t loop;
    conc_thread_t t;
    struct reader r = { &a, 0, 0, 14695981039346656037u };

    (void)state;
    open_pair(&a, &b, false);
    assert_rc(0, conc_loop_init(&loop, NULL));
    assert_rc(0, conc_loop_add_reader(&loop, conc_pipe_fd(&a), on_readable, &r));
    assert_rc(0, conc_loop_run_once(&loop, CONC_MS(5)));
    assert_int_equal(0, r.calls); /* nothing there yet */
    assert_rc(0, conc_thread_create(&t, NULL, send_hundred, &b));
    assert_rc(0, conc_loop_run_forever(&loop));
    assert_rc(0, conc_thread_join(&t, NULL, CONC_FOREVER));
    assert_int_equal(100, r.got);
    uint64_t want = 14695981039346656037u;
    unsigned char buf[256];
    for (uint32_t i = 0; i < 100; i++) {
        fill(buf, i, i % 256);
        want = checksum(want, buf, i % 256);
    }
    assert_true(want == r.sum);
    assert_rc(0, conc_loop_destroy(&loop));
    close_pair(&a, &b);
}

#define T(f) cmocka_unit_test_setup_teardown(f, test_leak_setup, test_leak_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(duplex_pipe_carries_messages_both_ways),
        T(one_way_pipe_carries_messages_from_b_to_a_only),
        T(messages_keep_their_boundaries_and_may_be_empty),
        T(one_mebibyte_messages_cross_whole_both_ways),
        T(recv_into_a_small_buffer_reports_the_size_and_keeps_the_message),
        T(send_above_the_maximum_is_eoverflow_and_sends_nothing),
        T(recv_times_out_never_early_and_consumes_nothing),
        T(send_to_a_full_pipe_times_out_never_early_and_sends_nothing),
        T(header_and_body_arriving_in_pieces_make_one_message),
        T(end_of_file_inside_a_message_breaks_the_stream),
        T(a_header_above_the_maximum_breaks_the_stream),
        T(peer_close_delivers_what_was_sent_then_eclosed),
        T(closed_endpoints_and_bad_arguments_are_refused),
        T(open_without_free_descriptors_is_elimit),
        T(tasks_on_one_loop_exchange_large_messages),
        T(cancelled_recv_in_a_task_consumes_nothing),
        T(ten_thousand_messages_each_way_between_two_processes),
        T(sender_killed_inside_a_message_gives_eio),
        T(parent_close_ends_the_childs_receive_loop),
        T(pipe_descriptor_drives_a_loop_reader),
    };
    return cmocka_run_group_tests_name("pipe", tests, NULL, NULL);
}
