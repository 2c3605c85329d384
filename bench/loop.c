/*
 * The event loop and its tasks (issue 7) beside libuv and a raw epoll loop,
 * each comparison measured in the same run.
 *
 *  1. timers: 1M callbacks with random delays of 0-100 ms (one seed for
 *     both) scheduled on a fresh loop, which then runs until every one has
 *     fired: conc_loop_call_later() vs uv_timer_init() + uv_timer_start()
 *     (the delay rounded up to libuv's milliseconds). The figure is the CPU
 *     time of the loop's thread per timer (scheduling + firing; the sleep in
 *     between costs no CPU, so the 100 ms of waiting do not dilute it).
 *  2. socketpair ping-pong, 1-byte and 64-byte messages: two tasks on one
 *     loop, each writing and then waiting in conc_wait_fd() before a
 *     non-blocking read; vs the same two ends as libuv uv_poll callbacks;
 *     vs a raw level-triggered epoll loop in plain C (the floor). Round
 *     trips per second. A fourth line runs libconc's own callbacks
 *     (conc_loop_add_reader(), registered once like uv_poll) against libuv:
 *     the loop's cost without the tasks' per-wait registration.
 *  3. call_soon_threadsafe: one thread schedules N callbacks on a running
 *     loop; vs the usual libuv pattern, a mutex-protected list of (fn, arg)
 *     nodes plus uv_async_send(), drained by the async callback. Both
 *     allocate one node per item. Callbacks per second, from the first
 *     submission to the last callback.
 *  4. spawn + run to completion of 1M trivial detached tasks, spawned by a
 *     main task in batches (1000, and 50 which fits one stack slab); it
 *     yields after each batch, so the batch runs and its stacks are freed
 *     (1M live stacks at once would need 64 GB of address space). Tasks per
 *     second. libuv has no tasks, so there is no peer: the figure is printed
 *     against the goal of issue 7 (2M tasks/s) on a GOAL line
 *     (`GOAL <case> libconc=<v> goal=<v> unit=<u> met=yes|no`), not a BENCH
 *     line.
 *
 * Every case checks its counts and checksums and exits non-zero when one is
 * wrong. Usage: bench_loop [scale [case]]; BENCH_REPS sets the repetitions
 * (best run kept).
 */
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

/* ---- 1. timers ------------------------------------------------------------ */

struct timers {
    long n;
    int64_t *delay_ns;
    long fired;
    uint64_t sum;
    int64_t wall_ns; /* of the last run */
};

static struct timers tm;

static void timers_check(const char *who)
{
    uint64_t n = (uint64_t)tm.n;

    if (tm.fired != tm.n || tm.sum != n * (n + 1) / 2)
        lb_die("%s timers: %ld of %ld fired, checksum %llu", who, tm.fired, tm.n,
               (unsigned long long)tm.sum);
}

static void conc_timer_fired(conc_loop_t *loop, void *arg)
{
    tm.sum += (uintptr_t)arg;
    if (++tm.fired == tm.n)
        conc_loop_stop(loop);
}

static int64_t timers_conc(void *unused)
{
    conc_loop_t loop;

    (void)unused;
    lb_check(conc_loop_init(&loop, NULL), "conc_loop_init");
    tm.fired = 0;
    tm.sum = 0;
    int64_t wall = conc_now_ns(), cpu = lb_cpu_ns();
    for (long i = 0; i < tm.n; i++)
        lb_check(conc_loop_call_later(&loop, tm.delay_ns[i], conc_timer_fired,
                                      (void *)(uintptr_t)(i + 1), NULL),
                 "conc_loop_call_later");
    lb_check(conc_loop_run_forever(&loop), "conc_loop_run_forever");
    cpu = lb_cpu_ns() - cpu;
    tm.wall_ns = conc_now_ns() - wall;
    timers_check("libconc");
    lb_check(conc_loop_destroy(&loop), "conc_loop_destroy");
    return cpu;
}

static void uv_timer_fired(uv_timer_t *t)
{
    tm.sum += (uintptr_t)t->data;
    tm.fired++;
}

static int64_t timers_uv(void *unused)
{
    uv_loop_t loop;
    uv_timer_t *t = calloc((size_t)tm.n, sizeof *t);

    (void)unused;
    if (!t)
        lb_die("out of memory");
    lb_check(uv_loop_init(&loop), "uv_loop_init");
    tm.fired = 0;
    tm.sum = 0;
    uv_update_time(&loop);
    int64_t wall = conc_now_ns(), cpu = lb_cpu_ns();
    for (long i = 0; i < tm.n; i++) {
        uint64_t ms = (uint64_t)((tm.delay_ns[i] + 999999) / 1000000); /* never early */
        uv_timer_init(&loop, &t[i]);
        t[i].data = (void *)(uintptr_t)(i + 1);
        lb_check(uv_timer_start(&t[i], uv_timer_fired, ms, 0), "uv_timer_start");
    }
    lb_check(uv_run(&loop, UV_RUN_DEFAULT), "uv_run"); /* returns once all have fired */
    cpu = lb_cpu_ns() - cpu;
    tm.wall_ns = conc_now_ns() - wall;
    timers_check("libuv");
    for (long i = 0; i < tm.n; i++)
        uv_close((uv_handle_t *)&t[i], NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    lb_check(uv_loop_close(&loop), "uv_loop_close");
    free(t);
    return cpu;
}

static void bench_timers(int reps)
{
    uint64_t seed = 88172645463325252ull;

    tm.n = lb_count(1000000, 1);
    tm.delay_ns = malloc((size_t)tm.n * sizeof *tm.delay_ns);
    if (!tm.delay_ns)
        lb_die("out of memory");
    for (long i = 0; i < tm.n; i++)
        tm.delay_ns[i] = (int64_t)(lb_random(&seed) % (uint64_t)CONC_MS(100));
    double conc = (double)bench_best_of(reps, timers_conc, NULL) / (double)tm.n;
    double conc_wall = (double)tm.wall_ns / 1e6;
    double uv = (double)bench_best_of(reps, timers_uv, NULL) / (double)tm.n;
    double uv_wall = (double)tm.wall_ns / 1e6;
    printf("%ld timers, delays 0-100 ms, schedule + fire on the loop, CPU ns per timer"
           " (lower is better; wall of last run: libconc %.0f ms, libuv %.0f ms):\n",
           tm.n, conc_wall, uv_wall);
    bench_report("loop_timers_1M_schedule_fire", conc, "libuv", uv, "ns/timer", 0);
    free(tm.delay_ns);
}

/* ---- 2. socketpair ping-pong --------------------------------------------- */

/*
 * End 0 sends a message of `size` bytes, all equal to the round number;
 * end 1 adds one to every byte and sends it back; end 0 checks it. The same
 * two state machines drive the three implementations.
 */
struct pingpong {
    int fd[2];
    size_t size;
    long rounds;
    long done[2];  /* messages handled by each end */
    size_t got[2]; /* bytes of the current message */
    unsigned char buf[2][64];
};

static struct pingpong pp;

static void pp_write(int end)
{
    ssize_t n = write(pp.fd[end], pp.buf[end], pp.size);

    /* A socketpair buffer always has room for one small message. */
    if (n != (ssize_t)pp.size)
        lb_die("ping-pong: short write (%zd, errno %d)", n, errno);
}

static void pp_send_first(void)
{
    memset(pp.buf[0], 0, pp.size);
    pp_write(0);
}

/* Read what is there; true when a whole message has arrived. */
static bool pp_read(int end)
{
    ssize_t n = read(pp.fd[end], pp.buf[end] + pp.got[end], pp.size - pp.got[end]);

    if (n < 0 && errno == EAGAIN)
        return false;
    if (n <= 0)
        lb_die("ping-pong: read failed (%zd, errno %d)", n, errno);
    pp.got[end] += (size_t)n;
    if (pp.got[end] < pp.size)
        return false;
    pp.got[end] = 0;
    return true;
}

/* A whole message arrived at `end`: check it and answer. False when that
 * end is finished. Round r: end 0 sends bytes r, end 1 answers r + 1, which
 * is also what end 0 sends in round r + 1. */
static bool pp_on_message(int end)
{
    long round = pp.done[end]++;
    unsigned char want = (unsigned char)(round + (end == 0));

    for (size_t i = 0; i < pp.size; i++)
        if (pp.buf[end][i] != want)
            lb_die("ping-pong: end %d got a wrong byte in round %ld", end, round);
    if (end == 1) {
        memset(pp.buf[1], (unsigned char)(want + 1), pp.size);
        pp_write(1);
        return pp.done[1] < pp.rounds;
    }
    if (pp.done[0] == pp.rounds)
        return false;
    pp_write(0);
    return true;
}

static void pp_open(void)
{
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, pp.fd) != 0)
        lb_die("socketpair failed (errno %d)", errno);
    lb_nonblock(pp.fd[0]);
    lb_nonblock(pp.fd[1]);
    pp.done[0] = pp.done[1] = 0;
    pp.got[0] = pp.got[1] = 0;
}

static void pp_close(const char *who)
{
    if (pp.done[0] != pp.rounds || pp.done[1] != pp.rounds)
        lb_die("%s ping-pong: %ld and %ld of %ld messages", who, pp.done[0], pp.done[1], pp.rounds);
    close(pp.fd[0]);
    close(pp.fd[1]);
}

/* libconc: one task per end. */
static int pp_task(void *arg, void **result)
{
    int end = (int)(intptr_t)arg;

    (void)result;
    if (end == 0)
        pp_send_first();
    for (;;) {
        int rc = conc_wait_fd(pp.fd[end], CONC_READABLE, CONC_FOREVER);
        if (rc < 0)
            return rc;
        if (pp_read(end) && !pp_on_message(end))
            return 0;
    }
}

/* The same with each end owned by the loop (conc/taskio.h): the
 * registration stays between waits, as uv_poll's does. */
static int pp_io_task(void *arg, void **result)
{
    int end = (int)(intptr_t)arg;
    conc_io_t io;

    (void)result;
    lb_check(conc_io_open(&io, pp.fd[end]), "conc_io_open");
    if (end == 0)
        pp_send_first();
    for (;;) {
        int rc = conc_io_wait(&io, CONC_READABLE, CONC_FOREVER);
        if (rc < 0)
            return rc;
        if (pp_read(end) && !pp_on_message(end))
            break;
    }
    lb_check(conc_io_release(&io) == pp.fd[end] ? 0 : -1, "conc_io_release");
    return 0;
}

static int64_t pingpong_run(conc_task_fn fn)
{
    conc_loop_t loop;
    conc_task_t *t[2];

    pp_open();
    lb_check(conc_loop_init(&loop, NULL), "conc_loop_init");
    int64_t start = conc_now_ns();
    for (int end = 0; end < 2; end++)
        lb_check(conc_task_spawn(&loop, NULL, fn, (void *)(intptr_t)end, &t[end]),
                 "conc_task_spawn");
    for (int end = 0; end < 2; end++)
        lb_check(conc_loop_run_until_complete(&loop, t[end], NULL), "ping-pong task");
    int64_t ns = conc_now_ns() - start;
    lb_check(conc_loop_destroy(&loop), "conc_loop_destroy");
    pp_close("libconc");
    return ns;
}

static int64_t pingpong_conc(void *unused)
{
    (void)unused;
    return pingpong_run(pp_task);
}

static int64_t pingpong_conc_io(void *unused)
{
    (void)unused;
    return pingpong_run(pp_io_task);
}

/* libconc callbacks: conc_loop_add_reader() on each end, registered once
 * like uv_poll; shows the loop's own cost beside the tasks' conc_wait_fd(). */
static void pp_reader_cb(conc_loop_t *loop, int fd, unsigned events, void *arg)
{
    int end = (int)(intptr_t)arg;

    if (!(events & CONC_READABLE))
        lb_die("libconc ping-pong: unexpected events %u", events);
    if (pp_read(end) && !pp_on_message(end)) {
        lb_check(conc_loop_remove_reader(loop, fd), "conc_loop_remove_reader");
        if (pp.done[0] == pp.rounds && pp.done[1] == pp.rounds)
            conc_loop_stop(loop);
    }
}

static int64_t pingpong_conc_cb(void *unused)
{
    conc_loop_t loop;

    (void)unused;
    pp_open();
    lb_check(conc_loop_init(&loop, NULL), "conc_loop_init");
    int64_t start = conc_now_ns();
    for (int end = 0; end < 2; end++)
        lb_check(conc_loop_add_reader(&loop, pp.fd[end], pp_reader_cb, (void *)(intptr_t)end),
                 "conc_loop_add_reader");
    pp_send_first();
    lb_check(conc_loop_run_forever(&loop), "conc_loop_run_forever");
    int64_t ns = conc_now_ns() - start;
    lb_check(conc_loop_destroy(&loop), "conc_loop_destroy");
    pp_close("libconc callbacks");
    return ns;
}

/* libuv: uv_poll on each end. */
static uv_poll_t pp_poll[2];

static void pp_uv_cb(uv_poll_t *h, int status, int events)
{
    int end = h == &pp_poll[1];

    if (status < 0 || !(events & UV_READABLE))
        lb_die("libuv ping-pong: poll status %d", status);
    if (pp_read(end) && !pp_on_message(end))
        uv_poll_stop(h);
}

static int64_t pingpong_uv(void *unused)
{
    uv_loop_t loop;

    (void)unused;
    pp_open();
    lb_check(uv_loop_init(&loop), "uv_loop_init");
    int64_t start = conc_now_ns();
    for (int end = 0; end < 2; end++) {
        lb_check(uv_poll_init(&loop, &pp_poll[end], pp.fd[end]), "uv_poll_init");
        lb_check(uv_poll_start(&pp_poll[end], UV_READABLE, pp_uv_cb), "uv_poll_start");
    }
    pp_send_first();
    uv_run(&loop, UV_RUN_DEFAULT);
    int64_t ns = conc_now_ns() - start;
    for (int end = 0; end < 2; end++)
        uv_close((uv_handle_t *)&pp_poll[end], NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    lb_check(uv_loop_close(&loop), "uv_loop_close");
    pp_close("libuv");
    return ns;
}

/* The floor: one epoll set, both ends registered once, level-triggered. */
static int64_t pingpong_epoll(void *unused)
{
    struct epoll_event ev[2];
    int active = 2;

    (void)unused;
    pp_open();
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0)
        lb_die("epoll_create1 failed (errno %d)", errno);
    int64_t start = conc_now_ns();
    for (int end = 0; end < 2; end++) {
        struct epoll_event e = { .events = EPOLLIN, .data.u32 = (uint32_t)end };
        lb_check(epoll_ctl(ep, EPOLL_CTL_ADD, pp.fd[end], &e), "epoll_ctl");
    }
    pp_send_first();
    while (active > 0) {
        int n = epoll_wait(ep, ev, 2, -1);
        if (n < 0 && errno != EINTR)
            lb_die("epoll_wait failed (errno %d)", errno);
        for (int i = 0; i < n; i++) {
            int end = (int)ev[i].data.u32;
            if (pp_read(end) && !pp_on_message(end)) {
                epoll_ctl(ep, EPOLL_CTL_DEL, pp.fd[end], NULL);
                active--;
            }
        }
    }
    int64_t ns = conc_now_ns() - start;
    close(ep);
    pp_close("epoll");
    return ns;
}

static void bench_pingpong(int reps)
{
    static const size_t sizes[] = { 1, 64 };

    pp.rounds = lb_count(50000, 10);
    printf("socketpair ping-pong on one loop, %ld round trips, round trips/s (higher is better):\n",
           pp.rounds);
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        char name[64];
        pp.size = sizes[i];
        double k = (double)pp.rounds * 1e9;
        double conc = k / (double)bench_best_of(reps, pingpong_conc, NULL);
        double uv = k / (double)bench_best_of(reps, pingpong_uv, NULL);
        double ep = k / (double)bench_best_of(reps, pingpong_epoll, NULL);
        double cb = k / (double)bench_best_of(reps, pingpong_conc_cb, NULL);
        double io = k / (double)bench_best_of(reps, pingpong_conc_io, NULL);
        snprintf(name, sizeof name, "loop_pingpong_%zuB_tasks_vs_uv_poll", pp.size);
        bench_report(name, conc, "libuv", uv, "rt/s", 1);
        snprintf(name, sizeof name, "loop_pingpong_%zuB_tasks_vs_epoll", pp.size);
        bench_report(name, conc, "raw_epoll", ep, "rt/s", 1);
        snprintf(name, sizeof name, "loop_pingpong_%zuB_tasks_io_vs_uv_poll", pp.size);
        bench_report(name, io, "libuv", uv, "rt/s", 1);
        snprintf(name, sizeof name, "loop_pingpong_%zuB_tasks_io_vs_epoll", pp.size);
        bench_report(name, io, "raw_epoll", ep, "rt/s", 1);
        snprintf(name, sizeof name, "loop_pingpong_%zuB_add_reader_vs_uv_poll", pp.size);
        bench_report(name, cb, "libuv", uv, "rt/s", 1);
    }
}

/* ---- 3. call_soon_threadsafe from another thread ------------------------- */

/* The producers read n once into a local: reading it per call from the
 * cache line that the consumer writes per item measured false sharing. */
struct remote {
    long n;
    long count;
    uint64_t sum;
    _Atomic int64_t start; /* set by the producer before its first call */
    int64_t end;           /* set by the callback that completes the count */
};

static struct remote rm;

static void remote_reset(long n)
{
    rm.n = n;
    rm.count = 0;
    rm.sum = 0;
    atomic_store(&rm.start, 0);
}

static void remote_check(const char *who)
{
    uint64_t n = (uint64_t)rm.n;

    if (rm.count != rm.n || rm.sum != n * (n + 1) / 2)
        lb_die("%s remote calls: %ld of %ld ran, checksum %llu", who, rm.count, rm.n,
               (unsigned long long)rm.sum);
}

/* The work of one item, the same for both; true when it was the last. */
static bool remote_item(void *arg)
{
    rm.sum += (uintptr_t)arg;
    if (++rm.count < rm.n)
        return false;
    rm.end = conc_now_ns();
    return true;
}

static void remote_conc_cb(conc_loop_t *loop, void *arg)
{
    if (remote_item(arg))
        conc_loop_stop(loop);
}

static void *remote_conc_producer(void *arg)
{
    conc_loop_t *loop = arg;

    atomic_store(&rm.start, conc_now_ns());
    for (long i = 1, last = rm.n; i <= last; i++)
        lb_check(conc_loop_call_soon_threadsafe(loop, remote_conc_cb, (void *)(uintptr_t)i),
                 "conc_loop_call_soon_threadsafe");
    return NULL;
}

static int64_t remote_conc(void *unused)
{
    conc_loop_t loop;
    conc_thread_t th;

    (void)unused;
    remote_reset(rm.n);
    lb_check(conc_loop_init(&loop, NULL), "conc_loop_init");
    lb_check(conc_thread_create(&th, NULL, remote_conc_producer, &loop), "conc_thread_create");
    lb_check(conc_loop_run_forever(&loop), "conc_loop_run_forever");
    lb_check(conc_thread_join(&th, NULL, CONC_FOREVER), "conc_thread_join");
    lb_check(conc_loop_destroy(&loop), "conc_loop_destroy");
    remote_check("libconc");
    return rm.end - atomic_load(&rm.start);
}

/* libuv: a locked list of nodes and one uv_async_t. */
struct uv_node {
    struct uv_node *next;
    bool (*fn)(void *arg);
    void *arg;
};

static struct {
    uv_loop_t loop;
    uv_async_t async;
    uv_mutex_t lock;
    struct uv_node *head, *tail;
} ru;

static void remote_uv_drain(uv_async_t *a)
{
    uv_mutex_lock(&ru.lock);
    struct uv_node *n = ru.head;
    ru.head = ru.tail = NULL;
    uv_mutex_unlock(&ru.lock);
    while (n) {
        struct uv_node *next = n->next;
        bool last = n->fn(n->arg);
        free(n);
        /* Not uv_close(): the producer may still be inside uv_async_send(). */
        if (last)
            uv_stop(a->loop);
        n = next;
    }
}

static void *remote_uv_producer(void *unused)
{
    (void)unused;
    atomic_store(&rm.start, conc_now_ns());
    for (long i = 1, last = rm.n; i <= last; i++) {
        struct uv_node *n = malloc(sizeof *n);
        if (!n)
            lb_die("out of memory");
        n->next = NULL;
        n->fn = remote_item;
        n->arg = (void *)(uintptr_t)i;
        uv_mutex_lock(&ru.lock);
        if (ru.tail)
            ru.tail->next = n;
        else
            ru.head = n;
        ru.tail = n;
        uv_mutex_unlock(&ru.lock);
        lb_check(uv_async_send(&ru.async), "uv_async_send");
    }
    return NULL;
}

static int64_t remote_uv(void *unused)
{
    conc_thread_t th;

    (void)unused;
    remote_reset(rm.n);
    lb_check(uv_loop_init(&ru.loop), "uv_loop_init");
    lb_check(uv_mutex_init(&ru.lock), "uv_mutex_init");
    lb_check(uv_async_init(&ru.loop, &ru.async, remote_uv_drain), "uv_async_init");
    lb_check(conc_thread_create(&th, NULL, remote_uv_producer, NULL), "conc_thread_create");
    uv_run(&ru.loop, UV_RUN_DEFAULT); /* until the last item stops it */
    lb_check(conc_thread_join(&th, NULL, CONC_FOREVER), "conc_thread_join");
    uv_close((uv_handle_t *)&ru.async, NULL);
    uv_run(&ru.loop, UV_RUN_DEFAULT);
    lb_check(uv_loop_close(&ru.loop), "uv_loop_close");
    uv_mutex_destroy(&ru.lock);
    remote_check("libuv");
    return rm.end - atomic_load(&rm.start);
}

static void bench_remote(int reps)
{
    rm.n = lb_count(1000000, 1);
    double k = (double)rm.n * 1e9;
    double conc = k / (double)bench_best_of(reps, remote_conc, NULL);
    double uv = k / (double)bench_best_of(reps, remote_uv, NULL);

    printf("%ld callbacks scheduled from another thread, items/s (higher is better):\n", rm.n);
    bench_report("loop_call_soon_threadsafe", conc, "libuv_async_locked_list", uv, "items/s", 1);
}

/* ---- 4. spawn + run 1M trivial tasks -------------------------------------- */

static struct {
    conc_loop_t loop;
    long n;
    int batch;
    long ran;
    uint64_t sum;
} sp;

static int trivial_task(void *arg, void **result)
{
    (void)result;
    sp.sum += (uintptr_t)arg;
    sp.ran++;
    return 0;
}

static int spawner_task(void *arg, void **result)
{
    (void)arg;
    (void)result;
    for (long i = 1; i <= sp.n;) {
        for (int b = 0; b < sp.batch && i <= sp.n; b++, i++) {
            int rc = conc_task_spawn(&sp.loop, NULL, trivial_task, (void *)(uintptr_t)i, NULL);
            if (rc != 0)
                return rc;
        }
        int rc = conc_task_yield(); /* the batch runs and finishes */
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int64_t spawn_conc(void *unused)
{
    conc_task_t *main_task;
    uint64_t n = (uint64_t)sp.n;

    (void)unused;
    sp.ran = 0;
    sp.sum = 0;
    lb_check(conc_loop_init(&sp.loop, NULL), "conc_loop_init");
    int64_t start = conc_now_ns();
    lb_check(conc_task_spawn(&sp.loop, NULL, spawner_task, NULL, &main_task), "conc_task_spawn");
    lb_check(conc_loop_run_until_complete(&sp.loop, main_task, NULL), "spawner task");
    int64_t ns = conc_now_ns() - start;
    if (sp.ran != sp.n || sp.sum != n * (n + 1) / 2)
        lb_die("spawn: %ld of %ld tasks ran, checksum %llu", sp.ran, sp.n,
               (unsigned long long)sp.sum);
    lb_check(conc_loop_destroy(&sp.loop), "conc_loop_destroy");
    return ns;
}

static void spawn_report(int reps, int batch)
{
    char name[64];

    sp.batch = batch;
    double rate = (double)sp.n * 1e9 / (double)bench_best_of(reps, spawn_conc, NULL);
    const char *met = rate >= 2e6 ? "yes" : "no";

    snprintf(name, sizeof name, "loop_spawn_run_1M_tasks_batch%d", batch);
    printf("  %-34s libconc %12.2f   goal %12.2f  %-8s  met: %s\n", name, rate, 2e6, "tasks/s",
           met);
    printf("GOAL %s libconc=%.2f goal=%.2f unit=tasks/s met=%s\n", name, rate, 2e6, met);
    fflush(stdout);
}

static void bench_spawn(int reps)
{
    sp.n = lb_count(1000000, 1);
    printf("spawn + run %ld trivial detached tasks from a main task that yields after each"
           " batch, tasks/s (higher is better; libuv has no tasks):\n",
           sp.n);
    spawn_report(reps, 1000);
    spawn_report(reps, 50); /* live stacks stay within one stack slab */
}

int main(int argc, char **argv)
{
    lb_args(argc, argv, "bench_loop");
    if (lb_enabled("timers"))
        bench_timers(bench_reps(2)); /* libuv's side alone takes about 2 s per run */
    if (lb_enabled("pingpong"))
        bench_pingpong(bench_reps(2));
    if (lb_enabled("threadsafe"))
        bench_remote(bench_reps(3));
    if (lb_enabled("spawn"))
        bench_spawn(bench_reps(2));
    return 0;
}
