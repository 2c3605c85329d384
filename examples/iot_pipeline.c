/*
 * A mixed pipeline, threads and tasks together (the IoT example of the
 * Python material):
 *
 *   iot_pipeline [--readings N] [--publishers N] [--capacity N] [--interval-us N]
 *
 *   sensor thread --conc_queue_t--> publisher tasks --TCP--> server task
 *
 * What it teaches:
 *  - a plain thread (made with conc_thread_create(), so the loop's deadlock
 *    check knows it exists) and tasks share one conc_queue_t: the thread's
 *    conc_queue_put() wakes a task blocked in conc_queue_get() on the loop;
 *  - tasks do network I/O through sockets owned by the loop (conc_io_t,
 *    conc/taskio.h; connecting still waits in conc_wait_fd()): a
 *    task waiting for its socket suspends only itself;
 *  - the server is just more tasks on the same loop: an acceptor task on
 *    127.0.0.1 with an ephemeral port (bind to port 0, getsockname()), and
 *    one reader task per connection.
 *
 * The sensor "reads" `readings` values (a deterministic function of their
 * sequence number) and shuts the queue down when it has no more; each
 * publisher keeps one TCP connection and sends every reading it gets as a
 * text line "SEQ VALUE\n". The server counts how often it saw each sequence
 * number and checks each value, so the program can verify that every reading
 * arrived exactly once and intact.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <conc.h>

#define MAX_PUBLISHERS 64
#define IO_TIMEOUT CONC_SEC(10) /* no wait may hang the example forever */

struct reading {
    uint32_t seq;
    int32_t millidegrees;
};

/* What the sensor measures for reading number seq: 15.000 .. 24.999 degrees. */
static int32_t sensor_value(uint32_t seq)
{
    return 15000 + (int32_t)((seq * 2654435761u) % 10000u);
}

struct sensor {
    conc_queue_t *queue;
    long readings, interval_us;
};

struct publisher {
    conc_queue_t *queue;
    int port;
    long sent;
};

struct server {
    int listen_fd;
    long connections; /* how many publishers will connect */
    long readings;
    unsigned char *seen; /* seen[seq]: how many times it arrived */
    long received, bad;  /* lines received; malformed or wrong values */
    uint64_t checksum;   /* sum of seq * value over what was received */
};

/* ---- the sensor: a plain thread ------------------------------------------ */

static void *sensor_thread(void *arg)
{
    struct sensor *s = arg;

    for (long i = 0; i < s->readings; i++) {
        struct reading r = { (uint32_t)i, sensor_value((uint32_t)i) };
        if (s->interval_us > 0) {
            /* A real sensor is slow; a thread may block like this, a task
             * must not (see blocking_in_loop.c). */
            struct timespec ts = { 0, s->interval_us * 1000 };
            nanosleep(&ts, NULL);
        }
        /* Blocks this thread when the queue is full; wakes a waiting task. */
        if (conc_queue_put(s->queue, &r, CONC_FOREVER) != 0)
            return (void *)1; /* shut down early: the publishers failed */
    }
    /* No more readings: publishers drain the queue, then get CONC_ECLOSED. */
    conc_queue_shutdown(s->queue, false);
    return NULL;
}

/* ---- socket helpers for tasks -------------------------------------------- */

/* Tasks use non-blocking sockets: a read() or write() that cannot proceed
 * fails with EAGAIN at once, and the task then waits in conc_wait_fd(). */
static int set_nonblocking(int fd)
{
    int flags = fcntl(fd, F_GETFL);
    return flags < 0 ? -1 : fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

/* Connect a non-blocking socket to 127.0.0.1:port without blocking the loop. */
static int connect_local(int port, int *out_fd)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int err = 0;
    socklen_t len = sizeof err;

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0)
        return CONC_ELIMIT;
    if (set_nonblocking(fd) != 0) {
        close(fd);
        return CONC_EIO;
    }
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        if (errno != EINPROGRESS) {
            close(fd);
            return CONC_EIO;
        }
        /* The connection completes in the background; writable = done. */
        int rc = conc_wait_fd(fd, CONC_WRITABLE, IO_TIMEOUT);
        if (rc < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
            close(fd);
            return rc < 0 ? rc : CONC_EIO;
        }
    }
    *out_fd = fd;
    return 0;
}

/* ---- publishers: queue -> TCP -------------------------------------------- */

static int publisher_task(void *arg, void **result)
{
    struct publisher *p = arg;
    struct reading r;
    conc_io_t io;
    int fd, rc;
    (void)result;

    if ((rc = connect_local(p->port, &fd)) != 0)
        return rc;
    if ((rc = conc_io_open(&io, fd)) != 0) { /* the loop owns the socket now */
        close(fd);
        return rc;
    }
    while ((rc = conc_queue_get(p->queue, &r, CONC_FOREVER)) == 0) {
        char line[32];
        int len = snprintf(line, sizeof line, "%" PRIu32 " %" PRId32 "\n", r.seq, r.millidegrees);
        /* Writes it all, suspending this task while the socket is full. */
        if ((rc = conc_io_write(&io, line, (size_t)len, NULL, IO_TIMEOUT)) != 0)
            break;
        p->sent++;
    }
    conc_io_close(&io); /* the server's reader sees end of file */
    return rc == CONC_ECLOSED ? 0 : rc;
}

/* ---- the server: an acceptor task and one reader task per connection ----- */

struct conn {
    struct server *srv;
    int fd;
};

static void handle_line(struct server *srv, const char *line)
{
    unsigned long seq;
    long value;

    if (sscanf(line, "%lu %ld", &seq, &value) != 2 || seq >= (unsigned long)srv->readings ||
        value != sensor_value((uint32_t)seq)) {
        srv->bad++;
        return;
    }
    srv->received++;
    if (srv->seen[seq] < 255)
        srv->seen[seq]++;
    srv->checksum += (uint64_t)seq * (uint64_t)value;
}

static int reader_task(void *arg, void **result)
{
    struct conn *c = arg;
    char buf[4096];
    size_t have = 0, n;
    conc_io_t io;
    (void)result;

    int rc = conc_io_open(&io, c->fd);
    if (rc != 0) {
        close(c->fd);
        return rc;
    }
    for (;;) {
        /* What is there, or suspend this task until the socket has data. */
        if ((rc = conc_io_read(&io, buf + have, sizeof buf - have, &n, IO_TIMEOUT)) != 0)
            break;
        if (n == 0)
            break; /* the publisher closed: done */
        have += n;
        /* Handle every complete line; keep the partial one for later. */
        char *start = buf, *nl;
        while ((nl = memchr(start, '\n', have - (size_t)(start - buf))) != NULL) {
            *nl = '\0';
            handle_line(c->srv, start);
            start = nl + 1;
        }
        have -= (size_t)(start - buf);
        memmove(buf, start, have);
        if (have == sizeof buf) {
            rc = CONC_EIO; /* a line longer than the buffer: not ours */
            break;
        }
    }
    conc_io_close(&io);
    return rc;
}

static int server_task(void *arg, void **result)
{
    struct server *srv = arg;
    conc_loop_t *loop = conc_loop_current();
    conc_task_t *readers[MAX_PUBLISHERS];
    struct conn conns[MAX_PUBLISHERS];
    long accepted = 0;
    int rc = 0;
    (void)result;

    while (accepted < srv->connections) {
        int fd = accept(srv->listen_fd, NULL, NULL);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                rc = CONC_EIO;
                break;
            }
            /* Wait (this task only) until a connection is pending. */
            if ((rc = conc_wait_fd(srv->listen_fd, CONC_READABLE, IO_TIMEOUT)) < 0)
                break;
            rc = 0;
            continue;
        }
        if (set_nonblocking(fd) != 0) {
            close(fd);
            rc = CONC_EIO;
            break;
        }
        conns[accepted] = (struct conn){ srv, fd };
        if ((rc = conc_task_spawn(loop, NULL, reader_task, &conns[accepted], &readers[accepted])) !=
            0) {
            close(fd);
            break;
        }
        accepted++;
    }
    /* Wait for every reader; gather reports the first failure. */
    int grc = conc_gather(readers, (size_t)accepted, NULL, NULL, 0);
    for (long i = 0; i < accepted; i++)
        conc_task_join(readers[i], NULL, CONC_FOREVER);
    return rc != 0 ? rc : grc;
}

/* ---- putting it together ------------------------------------------------- */

struct options {
    long readings, publishers, capacity, interval_us;
};

static int listen_local(int *port)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = 0 }; /* 0: any free port */
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || set_nonblocking(fd) != 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        listen(fd, 64) != 0 || getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
        perror("listen on 127.0.0.1");
        if (fd >= 0)
            close(fd);
        return -1;
    }
    *port = ntohs(a.sin_port);
    return fd;
}

static int main_task(void *arg, void **result)
{
    const struct options *o = arg;
    conc_loop_t *loop = conc_loop_current();
    struct publisher pubs[MAX_PUBLISHERS];
    conc_task_t *tasks[MAX_PUBLISHERS + 1];
    conc_queue_t queue;
    conc_thread_t sensor;
    int port, rc;
    (void)result;

    struct server srv = { .connections = o->publishers, .readings = o->readings };
    srv.seen = calloc((size_t)o->readings, 1);
    if (!srv.seen)
        return CONC_ENOMEM;
    if ((srv.listen_fd = listen_local(&port)) < 0)
        return CONC_EIO;
    printf("server listening on 127.0.0.1:%d\n", port);
    if ((rc = conc_queue_init(&queue, sizeof(struct reading), (size_t)o->capacity, NULL)) != 0)
        return rc;

    int64_t start = conc_now_ns();
    if ((rc = conc_task_spawn(loop, NULL, server_task, &srv, &tasks[0])) != 0)
        return rc;
    for (long i = 0; i < o->publishers; i++) {
        pubs[i] = (struct publisher){ &queue, port, 0 };
        if ((rc = conc_task_spawn(loop, NULL, publisher_task, &pubs[i], &tasks[1 + i])) != 0)
            return rc;
    }
    struct sensor s = { &queue, o->readings, o->interval_us };
    if ((rc = conc_thread_create(&sensor, NULL, sensor_thread, &s)) != 0)
        return rc;

    /* Wait for the server and every publisher; statuses say who failed. */
    int statuses[MAX_PUBLISHERS + 1] = { 0 };
    int grc = conc_gather(tasks, (size_t)o->publishers + 1, NULL, statuses, 0);
    if (grc != 0) /* publishers gone: unblock the sensor, drop what is left */
        conc_queue_shutdown(&queue, true);
    void *sensor_result = NULL;
    /* Joining a thread from a task suspends only the task. */
    int jrc = conc_thread_join(&sensor, &sensor_result, CONC_FOREVER);
    double seconds = (double)(conc_now_ns() - start) / 1e9;
    long sent = 0;
    for (long i = 0; i <= o->publishers; i++) {
        if (statuses[i] != 0)
            fprintf(stderr, "%s failed: %s\n", i == 0 ? "server" : "a publisher",
                    conc_strerror(statuses[i]));
        conc_task_join(tasks[i], NULL, CONC_FOREVER);
        if (i > 0)
            sent += pubs[i - 1].sent;
    }
    close(srv.listen_fd);
    conc_queue_destroy(&queue);

    /* Every reading exactly once: none missing, none twice, values intact. */
    long missing = 0, duplicated = 0;
    uint64_t expected = 0;
    for (long i = 0; i < o->readings; i++) {
        missing += srv.seen[i] == 0;
        duplicated += srv.seen[i] > 1;
        expected += (uint64_t)i * (uint64_t)sensor_value((uint32_t)i);
    }
    free(srv.seen);
    printf("%ld readings, %ld publishers: %ld sent, %ld received in %.3f s (%.0f readings/s)\n",
           o->readings, o->publishers, sent, srv.received, seconds,
           seconds > 0 ? (double)srv.received / seconds : 0.0);
    if (grc != 0 || jrc != 0 || sensor_result != NULL || missing || duplicated || srv.bad ||
        srv.received != o->readings || srv.checksum != expected) {
        printf("FAILED: %ld missing, %ld duplicated, %ld malformed, checksum %" PRIu64
               " (expected %" PRIu64 ")\n",
               missing, duplicated, srv.bad, srv.checksum, expected);
        return CONC_EIO;
    }
    printf("checksum %" PRIu64 ": every reading arrived exactly once\n", srv.checksum);
    return 0;
}

static int parse_options(int argc, char **argv, struct options *o)
{
    for (int i = 1; i < argc; i++) {
        long *target = !strcmp(argv[i], "--readings")      ? &o->readings
                       : !strcmp(argv[i], "--publishers")  ? &o->publishers
                       : !strcmp(argv[i], "--capacity")    ? &o->capacity
                       : !strcmp(argv[i], "--interval-us") ? &o->interval_us
                                                           : NULL;
        char *end;
        if (!target || i + 1 == argc)
            return -1;
        *target = strtol(argv[++i], &end, 10);
        if (*end || *target < 0 || *target > 10000000)
            return -1;
    }
    return o->readings >= 1 && o->publishers >= 1 && o->publishers <= MAX_PUBLISHERS &&
                   o->capacity >= 1 && o->interval_us < 1000000
               ? 0
               : -1;
}

int main(int argc, char **argv)
{
    struct options o = { 10000, 4, 64, 0 };

    if (parse_options(argc, argv, &o) != 0) {
        fprintf(stderr,
                "usage: %s [--readings N] [--publishers N] [--capacity N] [--interval-us N]\n"
                "  (1 <= publishers <= %d, interval below 1 s)\n",
                argv[0], MAX_PUBLISHERS);
        return 2;
    }
    /* A write to a socket whose peer has gone raises SIGPIPE, which kills the
     * process by default; ignored, the write fails with EPIPE instead. */
    signal(SIGPIPE, SIG_IGN);
    int rc = conc_run(main_task, &o, NULL);
    if (rc != 0) {
        fprintf(stderr, "iot_pipeline: %s\n", conc_strerror(rc));
        return 1;
    }
    return 0;
}
