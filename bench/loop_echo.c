/*
 * A TCP echo server on loopback (issue 7): one task per connection on a
 * libconc loop beside the same server written on libuv, with 10 and with 100
 * connections, 1 KiB messages.
 *
 * The servers:
 *  - libconc: an acceptor task waits in conc_wait_fd() on the listening
 *    socket and spawns one detached task per connection, which owns its
 *    socket through a conc_io_t (conc/taskio.h: the loop keeps the
 *    registration between waits) and loops on conc_io_read() and
 *    conc_io_write(), waiting in conc_io_wait() when the socket has nothing
 *    to read. Like libuv, it waits
 *    again without retrying the read when the last read did not fill its
 *    buffer (one read() per message, not a second one that fails).
 *  - libuv: uv_listen(), uv_accept() into a uv_tcp_t per connection,
 *    uv_read_start() into a per-connection buffer, and the echo sent with
 *    uv_try_write(), falling back to uv_write() with a copy for what the
 *    socket did not take.
 * Both read into 16 KiB buffers and set TCP_NODELAY on every connection.
 *
 * The client is the same for both: a plain C thread (no libconc, no libuv)
 * that keeps one 1 KiB request in flight on each connection, checks that
 * every byte of every answer is what it sent, and counts the answers during
 * the measured window, after a warm-up (a tenth of the window, and until
 * every connection has had one answer). Then it stops sending, waits for
 * the answers still in flight, closes its sockets and asks the server to
 * stop. Requests per second.
 *
 * The client drives its sockets through io_uring (liburing) when it was
 * built with it and the kernel allows it: one system call for a whole batch
 * of sends and receives. Otherwise, or with BENCH_ECHO_EPOLL_CLIENT set, it
 * uses epoll, with a read and a write per request like the servers. Why:
 * the kernel's work per request is the same on both ends of the loopback,
 * so an epoll client costs as much as the server it measures. On two cores
 * both threads then ran at 100%, and the figure was the client's limit as
 * much as the server's: any server at least as fast as the client scored
 * the same (docs/benchmarks.md). With the io_uring client the server is the
 * busier side, so the figure compares the servers.
 *
 * Usage: bench_loop_echo [scale [case]]; each run lasts 2 s times scale
 * (case "10conns" or "100conns" picks one configuration). Requests/s per run; one
 * run per server and configuration (BENCH_REPS repeats them, best kept).
 *
 * BENCH_ECHO_SERVER_WORK_NS=n makes both servers busy-wait n ns per
 * message before echoing it: a test of how much the servers' own speed
 * matters. Where the requests/s fall by about what n adds per request, the
 * server's thread is what limits the benchmark; where they stay the same,
 * the client or the kernel's loopback path does. Both servers make a read,
 * a write and a share of an epoll_wait per message, which cost most of the
 * server's time (docs/benchmarks.md); libconc's are recvfrom() and sendto()
 * made through syscall(), libuv's read() and write() through glibc.
 */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "conc/loop.h"
#include "conc/task.h"
#include "conc/taskio.h"
#include "conc/thread.h"
#include "loop_bench.h"

enum { MSG = 1024, SERVER_BUF = 16384 };

static void set_nodelay(int fd)
{
    int one = 1;

    lb_check(setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one), "TCP_NODELAY");
}

/* The extra per-message work of BENCH_ECHO_SERVER_WORK_NS (0: none). */
static int64_t server_work_ns;

static void server_work(void)
{
    if (server_work_ns <= 0)
        return;
    int64_t until = conc_now_ns() + server_work_ns;
    while (conc_now_ns() < until)
        ;
}

/* ---- the client: plain epoll, the same for both servers ------------------ */

struct client_conn {
    int fd;
    size_t got;     /* bytes of the current answer */
    size_t sent;    /* bytes of the current request (io_uring client) */
    uint32_t seq;   /* requests sent on this connection */
    bool in_flight; /* a request awaits its answer */
    unsigned char out[MSG], in[MSG];
};

struct client {
    int port;
    int nconns;
    int64_t warmup_ns, window_ns;
    void (*stop_server)(void *arg); /* called from the client thread at the end */
    void *stop_arg;
    /* results */
    long answers; /* in the window */
    int64_t window_real_ns;
    long total_sent, total_answered;
    int warm; /* connections that have had their first answer */
};

static void fill_request(struct client_conn *c, int id)
{
    /* A header that changes with every request, then a fixed body. */
    memcpy(c->out, &id, sizeof id);
    memcpy(c->out + sizeof id, &c->seq, sizeof c->seq);
    for (size_t i = 8; i < MSG; i++)
        c->out[i] = (unsigned char)(i * 7 + (size_t)id);
}

static void send_request(struct client *cl, struct client_conn *c, int id)
{
    size_t off = 0;

    c->seq++;
    fill_request(c, id);
    while (off < MSG) {
        ssize_t n = write(c->fd, c->out + off, MSG - off);
        if (n > 0) {
            off += (size_t)n;
        } else if (n < 0 && errno == EAGAIN) {
            struct pollfd p = { .fd = c->fd, .events = POLLOUT };
            poll(&p, 1, 1000);
        } else {
            lb_die("client: write failed (errno %d)", errno);
        }
    }
    c->in_flight = true;
    c->got = 0;
    cl->total_sent++;
}

/* Read what is there; true when the whole answer has arrived. */
static bool read_answer(struct client_conn *c)
{
    ssize_t n = read(c->fd, c->in + c->got, MSG - c->got);

    if (n < 0 && errno == EAGAIN)
        return false;
    if (n <= 0)
        lb_die("client: read failed (%zd, errno %d)", n, errno);
    if (!c->in_flight)
        lb_die("client: the server sent bytes nobody asked for");
    c->got += (size_t)n;
    return c->got == MSG;
}

static int connect_one(int port, bool nonblock)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0)
        lb_die("client: connect failed (errno %d)", errno);
    set_nodelay(fd);
    if (nonblock)
        lb_nonblock(fd);
    return fd;
}

/* Check and count c's whole answer; true when the next request is to be
 * sent (while `more`), otherwise one fewer is outstanding. */
static bool count_answer(struct client *cl, struct client_conn *c, bool counting, bool more,
                         long *outstanding)
{
    if (memcmp(c->in, c->out, MSG) != 0)
        lb_die("client: an answer differs from its request");
    c->in_flight = false;
    cl->total_answered++;
    if (c->seq == 1)
        cl->warm++;
    if (counting)
        cl->answers++;
    if (!more)
        (*outstanding)--;
    return more;
}

/* Serve events until `until` (sending new requests only while `more`). */
static void client_run(struct client *cl, struct client_conn *conns, int ep, int64_t until,
                       bool more, bool counting, long *outstanding)
{
    struct epoll_event ev[256];

    for (;;) {
        int64_t now = conc_now_ns();
        /* The warm-up also lasts until every connection has had an answer. */
        bool warm = counting || !more || cl->warm == cl->nconns;
        if ((now >= until && warm) || (!more && *outstanding == 0))
            return;
        int ms = now < until ? (int)((until - now) / 1000000) + 1 : 10;
        int n = epoll_wait(ep, ev, 256, ms);
        if (n < 0 && errno != EINTR)
            lb_die("client: epoll_wait failed (errno %d)", errno);
        for (int i = 0; i < n; i++) {
            int id = (int)ev[i].data.u32;
            struct client_conn *c = &conns[id];
            if (read_answer(c) && count_answer(cl, c, counting, more, outstanding))
                send_request(cl, c, id);
        }
    }
}

#ifdef HAVE_LIBURING
/* ---- the io_uring client: the same requests, batched system calls --------- */

#    include <liburing.h>

enum { OP_RECV = 0, OP_SEND = 1 };

static struct io_uring_sqe *uring_sqe(struct io_uring *r)
{
    struct io_uring_sqe *s = io_uring_get_sqe(r);

    if (!s) { /* the submission queue is full: hand it to the kernel */
        io_uring_submit(r);
        s = io_uring_get_sqe(r);
    }
    if (!s)
        lb_die("client: io_uring submission queue full");
    return s;
}

/* Queue a receive of the rest of c's answer, or a send of the rest of its
 * request; *pending counts what the kernel has not completed. */
static void uring_post(struct io_uring *r, struct client_conn *c, int id, int op, long *pending)
{
    struct io_uring_sqe *s = uring_sqe(r);

    if (op == OP_RECV)
        io_uring_prep_recv(s, c->fd, c->in + c->got, MSG - c->got, 0);
    else
        io_uring_prep_send(s, c->fd, c->out + c->sent, MSG - c->sent, 0);
    io_uring_sqe_set_data64(s, (uint64_t)id << 1 | (uint64_t)op);
    (*pending)++;
}

static void uring_send_request(struct client *cl, struct io_uring *r, struct client_conn *c, int id,
                               long *pending)
{
    c->seq++;
    fill_request(c, id);
    c->sent = 0;
    c->got = 0;
    c->in_flight = true;
    uring_post(r, c, id, OP_SEND, pending);
    uring_post(r, c, id, OP_RECV, pending);
    cl->total_sent++;
}

/* One completion; true when it completed an answer. */
static bool uring_complete(struct io_uring *r, struct client_conn *c, int id,
                           const struct io_uring_cqe *cqe, long *pending)
{
    (*pending)--;
    if (cqe->res <= 0)
        lb_die("client: io_uring %s failed (%d)", cqe->user_data & 1 ? "send" : "recv", cqe->res);
    if (cqe->user_data & 1) {
        c->sent += (size_t)cqe->res;
        if (c->sent < MSG)
            uring_post(r, c, id, OP_SEND, pending);
        return false;
    }
    c->got += (size_t)cqe->res;
    if (c->got < MSG) {
        uring_post(r, c, id, OP_RECV, pending);
        return false;
    }
    return true;
}

/* client_run() on io_uring: submit what is queued and reap a batch of
 * completions with one system call. */
static void uring_run(struct client *cl, struct client_conn *conns, struct io_uring *r,
                      int64_t until, bool more, bool counting, long *outstanding, long *pending)
{
    for (;;) {
        int64_t now = conc_now_ns();
        bool warm = counting || !more || cl->warm == cl->nconns;
        if ((now >= until && warm) || (!more && *outstanding == 0 && *pending == 0))
            return;
        int64_t wait = now < until ? until - now + CONC_MS(1) : CONC_MS(10);
        struct __kernel_timespec ts = { .tv_sec = wait / 1000000000, .tv_nsec = wait % 1000000000 };
        struct io_uring_cqe *cqe;
        int rc = io_uring_submit_and_wait_timeout(r, &cqe, 1, &ts, NULL);
        if (rc < 0 && rc != -ETIME && rc != -EINTR)
            lb_die("client: io_uring_submit_and_wait_timeout failed (%d)", rc);
        unsigned head, seen = 0;
        io_uring_for_each_cqe(r, head, cqe)
        {
            int id = (int)(cqe->user_data >> 1);
            struct client_conn *c = &conns[id];
            seen++;
            if (uring_complete(r, c, id, cqe, pending) &&
                count_answer(cl, c, counting, more, outstanding))
                uring_send_request(cl, r, c, id, pending);
        }
        io_uring_cq_advance(r, seen);
    }
}

/* The whole client on io_uring; false (nothing done) when the kernel
 * refuses a ring. */
static bool client_main_uring(struct client *cl, struct client_conn *conns)
{
    struct io_uring r;
    long outstanding = cl->nconns, pending = 0;
    unsigned entries = 64;

    while (entries < (unsigned)cl->nconns * 2)
        entries *= 2;
    /* Completions are processed only when this thread asks for them. */
    if (io_uring_queue_init(entries, &r, IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN) <
            0 &&
        io_uring_queue_init(entries, &r, 0) < 0)
        return false;
    for (int i = 0; i < cl->nconns; i++)
        conns[i].fd = connect_one(cl->port, false);
    for (int i = 0; i < cl->nconns; i++)
        uring_send_request(cl, &r, &conns[i], i, &pending);
    uring_run(cl, conns, &r, conc_now_ns() + cl->warmup_ns, true, false, &outstanding, &pending);
    int64_t start = conc_now_ns();
    uring_run(cl, conns, &r, start + cl->window_ns, true, true, &outstanding, &pending);
    cl->window_real_ns = conc_now_ns() - start;
    uring_run(cl, conns, &r, conc_now_ns() + CONC_SEC(5), false, false, &outstanding, &pending);
    if (outstanding != 0 || pending != 0 || cl->total_answered != cl->total_sent)
        lb_die("client: %ld requests sent, %ld answered", cl->total_sent, cl->total_answered);
    io_uring_queue_exit(&r);
    return true;
}
#endif

static void *client_main(void *arg)
{
    struct client *cl = arg;
    struct client_conn *conns = calloc((size_t)cl->nconns, sizeof *conns);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    long outstanding = cl->nconns;

    pthread_setname_np(pthread_self(), "echo-client"); /* for profilers */
    if (!conns || ep < 0)
        lb_die("client: set-up failed");
#ifdef HAVE_LIBURING
    if (!getenv("BENCH_ECHO_EPOLL_CLIENT") && client_main_uring(cl, conns))
        goto done;
#endif
    for (int i = 0; i < cl->nconns; i++) {
        struct epoll_event e = { .events = EPOLLIN, .data.u32 = (uint32_t)i };
        conns[i].fd = connect_one(cl->port, true);
        lb_check(epoll_ctl(ep, EPOLL_CTL_ADD, conns[i].fd, &e), "epoll_ctl");
    }
    for (int i = 0; i < cl->nconns; i++)
        send_request(cl, &conns[i], i);
    client_run(cl, conns, ep, conc_now_ns() + cl->warmup_ns, true, false, &outstanding);
    int64_t start = conc_now_ns();
    client_run(cl, conns, ep, start + cl->window_ns, true, true, &outstanding);
    cl->window_real_ns = conc_now_ns() - start;
    /* Drain: every request sent gets its answer. */
    client_run(cl, conns, ep, conc_now_ns() + CONC_SEC(5), false, false, &outstanding);
    if (outstanding != 0 || cl->total_answered != cl->total_sent)
        lb_die("client: %ld requests sent, %ld answered", cl->total_sent, cl->total_answered);
done:
    for (int i = 0; i < cl->nconns; i++)
        close(conns[i].fd);
    close(ep);
    free(conns);
    cl->stop_server(cl->stop_arg);
    return NULL;
}

static double client_result(const struct client *cl, const char *who)
{
    if (cl->answers <= 0)
        lb_die("%s: no request was answered in the window", who);
    return (double)cl->answers * 1e9 / (double)cl->window_real_ns;
}

/* ---- the libconc server: tasks ------------------------------------------- */

static struct {
    conc_loop_t loop;
    conc_task_t *acceptor;
    int lfd;
    long live;     /* connection tasks not finished */
    long accepted; /* connections ever accepted */
} ts;

static int listen_any(int *port)
{
    struct sockaddr_in a = { .sin_family = AF_INET };
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 1024) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0)
        lb_die("listen failed (errno %d)", errno);
    *port = ntohs(a.sin_port);
    return fd;
}

/* Each connection is owned by the loop (conc/taskio.h): its registration
 * stays between waits, as a libuv stream's does. */
static int conn_task(void *arg, void **result)
{
    int fd = (int)(intptr_t)arg;
    unsigned char buf[SERVER_BUF];
    bool wait = true; /* a fresh connection has nothing to read yet */
    conc_io_t io;

    (void)result;
    lb_check(conc_io_open(&io, fd), "conc_io_open");
    for (;;) {
        size_t n;
        if (wait && conc_io_wait(&io, CONC_READABLE, CONC_FOREVER) < 0)
            break;
        int rc = conc_io_read(&io, buf, sizeof buf, &n, CONC_NOWAIT);
        if (rc == CONC_EAGAIN) {
            wait = true;
            continue;
        }
        if (rc != 0 || n == 0)
            break; /* end of file, or an error */
        server_work();
        if (conc_io_write(&io, buf, n, NULL, CONC_FOREVER) != 0)
            break;
        wait = n < sizeof buf;
    }
    conc_io_close(&io);
    ts.live--;
    return 0;
}

static int acceptor_task(void *arg, void **result)
{
    (void)arg;
    (void)result;
    for (;;) {
        int rc = conc_wait_fd(ts.lfd, CONC_READABLE, CONC_FOREVER);
        if (rc == CONC_ECANCELED)
            break;
        if (rc < 0)
            return rc;
        int fd;
        while ((fd = accept4(ts.lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
            set_nodelay(fd);
            rc = conc_task_spawn(&ts.loop, NULL, conn_task, (void *)(intptr_t)fd, NULL);
            if (rc != 0)
                return rc;
            ts.live++;
            ts.accepted++;
        }
        if (errno != EAGAIN)
            return -1;
    }
    /* The client has closed its connections: let their tasks see it. */
    while (ts.live > 0)
        conc_task_sleep(CONC_MS(1));
    return 0;
}

static void cancel_acceptor(conc_loop_t *loop, void *arg)
{
    (void)loop;
    (void)arg;
    conc_task_cancel(ts.acceptor);
}

static void stop_tasks_server(void *arg)
{
    (void)arg;
    lb_check(conc_loop_call_soon_threadsafe(&ts.loop, cancel_acceptor, NULL),
             "conc_loop_call_soon_threadsafe");
}

static double run_tasks_server(struct client *cl)
{
    conc_thread_t th;

    ts.live = ts.accepted = 0;
    ts.lfd = listen_any(&cl->port);
    cl->stop_server = stop_tasks_server;
    lb_check(conc_loop_init(&ts.loop, NULL), "conc_loop_init");
    lb_check(conc_task_spawn(&ts.loop, NULL, acceptor_task, NULL, &ts.acceptor), "conc_task_spawn");
    lb_check(conc_thread_create(&th, NULL, client_main, cl), "conc_thread_create");
    lb_check(conc_loop_run_until_complete(&ts.loop, ts.acceptor, NULL), "acceptor task");
    lb_check(conc_thread_join(&th, NULL, CONC_FOREVER), "conc_thread_join");
    lb_check(conc_loop_destroy(&ts.loop), "conc_loop_destroy");
    close(ts.lfd);
    if (ts.accepted != cl->nconns)
        lb_die("libconc server: accepted %ld of %d connections", ts.accepted, cl->nconns);
    return client_result(cl, "libconc server");
}

/* ---- the libuv server ------------------------------------------------------ */

struct uv_conn {
    uv_tcp_t tcp;
    char buf[SERVER_BUF];
};

struct uv_copy {
    uv_write_t req;
    char data[];
};

static struct {
    uv_loop_t loop;
    uv_tcp_t server;
    uv_async_t stop;
    long accepted;
} us;

static void uv_conn_closed(uv_handle_t *h)
{
    free(h); /* the uv_tcp_t is the first member of its uv_conn */
}

static void uv_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct uv_conn *c = (struct uv_conn *)h;

    (void)suggested;
    *buf = uv_buf_init(c->buf, sizeof c->buf);
}

static void uv_copy_written(uv_write_t *req, int status)
{
    (void)status; /* a failed write shows up as a read error next */
    free(req);
}

static void uv_echo(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    if (nread < 0) {
        uv_close((uv_handle_t *)s, uv_conn_closed);
        return;
    }
    if (nread == 0)
        return;
    server_work();
    uv_buf_t b = uv_buf_init(buf->base, (unsigned)nread);
    int w = uv_try_write(s, &b, 1);
    if (w == nread)
        return;
    if (w == UV_EAGAIN)
        w = 0;
    if (w < 0) {
        uv_close((uv_handle_t *)s, uv_conn_closed);
        return;
    }
    /* The rest is copied: the read buffer is reused by the next read. */
    size_t rest = (size_t)nread - (size_t)w;
    struct uv_copy *cp = malloc(sizeof *cp + rest);
    if (!cp)
        lb_die("out of memory");
    memcpy(cp->data, buf->base + w, rest);
    b = uv_buf_init(cp->data, (unsigned)rest);
    if (uv_write(&cp->req, s, &b, 1, uv_copy_written) != 0) {
        free(cp);
        uv_close((uv_handle_t *)s, uv_conn_closed);
    }
}

static void uv_on_connection(uv_stream_t *server, int status)
{
    struct uv_conn *c = malloc(sizeof *c);

    if (status != 0 || !c)
        lb_die("libuv server: connection failed (%d)", status);
    lb_check(uv_tcp_init(&us.loop, &c->tcp), "uv_tcp_init");
    lb_check(uv_accept(server, (uv_stream_t *)&c->tcp), "uv_accept");
    lb_check(uv_tcp_nodelay(&c->tcp, 1), "uv_tcp_nodelay");
    lb_check(uv_read_start((uv_stream_t *)&c->tcp, uv_alloc, uv_echo), "uv_read_start");
    us.accepted++;
}

static void uv_stop_server(uv_async_t *a)
{
    uv_close((uv_handle_t *)&us.server, NULL);
    uv_close((uv_handle_t *)a, NULL);
}

static void stop_uv_server(void *arg)
{
    (void)arg;
    lb_check(uv_async_send(&us.stop), "uv_async_send");
}

static double run_uv_server(struct client *cl)
{
    struct sockaddr_in a;
    int len = sizeof a;
    conc_thread_t th;

    us.accepted = 0;
    lb_check(uv_loop_init(&us.loop), "uv_loop_init");
    lb_check(uv_tcp_init(&us.loop, &us.server), "uv_tcp_init");
    lb_check(uv_ip4_addr("127.0.0.1", 0, &a), "uv_ip4_addr");
    lb_check(uv_tcp_bind(&us.server, (const struct sockaddr *)&a, 0), "uv_tcp_bind");
    lb_check(uv_listen((uv_stream_t *)&us.server, 1024, uv_on_connection), "uv_listen");
    lb_check(uv_tcp_getsockname(&us.server, (struct sockaddr *)&a, &len), "uv_tcp_getsockname");
    lb_check(uv_async_init(&us.loop, &us.stop, uv_stop_server), "uv_async_init");
    cl->port = ntohs(a.sin_port);
    cl->stop_server = stop_uv_server;
    lb_check(conc_thread_create(&th, NULL, client_main, cl), "conc_thread_create");
    uv_run(&us.loop, UV_RUN_DEFAULT); /* until the listener, async and connections are closed */
    lb_check(conc_thread_join(&th, NULL, CONC_FOREVER), "conc_thread_join");
    lb_check(uv_loop_close(&us.loop), "uv_loop_close");
    if (us.accepted != cl->nconns)
        lb_die("libuv server: accepted %ld of %d connections", us.accepted, cl->nconns);
    return client_result(cl, "libuv server");
}

/* ---- driver ---------------------------------------------------------------- */

static double best_run(double (*server)(struct client *), int nconns, int reps)
{
    double best = 0;

    for (int r = 0; r < reps; r++) {
        struct client cl = { .nconns = nconns };
        cl.window_ns = (int64_t)(2e9 * lb_scale);
        if (cl.window_ns < CONC_MS(20))
            cl.window_ns = CONC_MS(20);
        cl.warmup_ns = cl.window_ns / 10;
        double v = server(&cl);
        if (v > best)
            best = v;
    }
    return best;
}

int main(int argc, char **argv)
{
    static const int conns[] = { 10, 100 };
    int reps = bench_reps(1);

    lb_args(argc, argv, "bench_loop_echo");
    signal(SIGPIPE, SIG_IGN);
    if (getenv("BENCH_ECHO_SERVER_WORK_NS"))
        server_work_ns = atoll(getenv("BENCH_ECHO_SERVER_WORK_NS"));
    printf("TCP echo on loopback, 1 KiB messages, one in flight per connection, requests/s"
           " (higher is better):\n");
    for (size_t i = 0; i < sizeof conns / sizeof conns[0]; i++) {
        char name[64];
        snprintf(name, sizeof name, "loop_echo_tcp_1KiB_%dconns", conns[i]);
        if (!lb_enabled(name))
            continue;
        /* BENCH_ECHO_ONLY=libconc or libuv runs one server (the other's
         * figure is then a placeholder 1): for profiling one at a time. */
        const char *only = getenv("BENCH_ECHO_ONLY");
        double conc =
            only && strcmp(only, "libconc") ? 1 : best_run(run_tasks_server, conns[i], reps);
        double uv = only && strcmp(only, "libuv") ? 1 : best_run(run_uv_server, conns[i], reps);
        bench_report(name, conc, "libuv", uv, "req/s", 1);
    }
    return 0;
}
