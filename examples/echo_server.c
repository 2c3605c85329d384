/*
 * A TCP echo server on tasks, one task per connection (asyncio's
 * start_server echo example):
 *
 *   echo_server [--port N] [--max-connections N] [--run-time SECONDS]
 *
 * --port 0 (the default) binds an ephemeral port; the server prints
 * "listening on 127.0.0.1:PORT" either way. It stops after serving
 * --max-connections connections (0 = no limit) or after --run-time seconds
 * (0 = no limit), then prints what it served. Try it with
 *     echo_server --run-time 60 &    socat - TCP:127.0.0.1:PORT
 *
 * What it teaches:
 *  - an acceptor task waits for connections with conc_wait_fd() on the
 *    listening socket and spawns a task per connection; each connection task
 *    is written like a blocking thread (read, write, repeat), but waiting
 *    suspends only the task, so one thread serves every connection;
 *  - each connection task owns its socket through a conc_io_t
 *    (conc/taskio.h): conc_io_read() and conc_io_write() read what is there
 *    and wait (suspending the task) only when nothing is, and the loop keeps
 *    the socket registered between waits;
 *  - a clean stop: stop accepting, cancel the connections still open (their
 *    wait returns CONC_ECANCELED, they close their socket), join them all.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <conc.h>

struct options {
    long port, max_connections, run_time;
};

struct server {
    int listen_fd;
    long served;      /* connections that have ended */
    long long echoed; /* bytes echoed, over all connections */
    long errors;      /* connections that ended on an error */
};

struct conn {
    struct server *srv;
    int fd;
    conc_task_t *task;
};

static int set_nonblocking(int fd)
{
    int flags = fcntl(fd, F_GETFL);
    return flags < 0 ? -1 : fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

/* One connection: echo until the client closes, or until cancelled. */
static int connection_task(void *arg, void **result)
{
    struct conn *c = arg;
    char buf[16384];
    size_t n;
    conc_io_t io;
    (void)result;

    int rc = conc_io_open(&io, c->fd); /* the socket is the loop's until closed */
    if (rc != 0) {
        close(c->fd);
        c->srv->served++;
        c->srv->errors++;
        return rc;
    }
    /* Read what is there, waiting only when nothing is; CONC_ECANCELED when
     * the server is stopping; n == 0 when the client closed its side. */
    while ((rc = conc_io_read(&io, buf, sizeof buf, &n, CONC_FOREVER)) == 0 && n > 0) {
        if ((rc = conc_io_write(&io, buf, n, NULL, CONC_FOREVER)) != 0)
            break;
        c->srv->echoed += (long long)n; /* one thread: no lock needed between tasks */
    }
    conc_io_close(&io);
    c->srv->served++;
    if (rc != 0 && rc != CONC_ECANCELED)
        c->srv->errors++;
    return rc;
}

/* Join the connection tasks that have finished; keep the others. */
static size_t reap(struct conn **conns, size_t n)
{
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        if (conc_task_done(conns[i]->task)) {
            conc_task_join(conns[i]->task, NULL, CONC_FOREVER);
            free(conns[i]);
        } else {
            conns[kept++] = conns[i];
        }
    }
    return kept;
}

static int acceptor_task(void *arg, void **result)
{
    const struct options *o = arg;
    conc_loop_t *loop = conc_loop_current();
    struct server srv = { -1, 0, 0, 0 };
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)o->port) };
    socklen_t alen = sizeof a;
    int one = 1, rc = 0;
    (void)result;

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    srv.listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    if (srv.listen_fd < 0 ||
        setsockopt(srv.listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        set_nonblocking(srv.listen_fd) != 0 ||
        bind(srv.listen_fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        listen(srv.listen_fd, 128) != 0 ||
        getsockname(srv.listen_fd, (struct sockaddr *)&a, &alen) != 0) {
        perror("echo_server: listen");
        return CONC_EIO;
    }
    printf("listening on 127.0.0.1:%d\n", ntohs(a.sin_port));
    fflush(stdout); /* a script waits for this line */

    /* One deadline for the whole run; CONC_FOREVER when there is no limit. */
    int64_t deadline = o->run_time > 0 ? conc_deadline_after(CONC_SEC(o->run_time)) : CONC_FOREVER;
    struct conn **conns = NULL;
    size_t live = 0, cap = 0;
    long accepted = 0;
    while (o->max_connections == 0 || accepted < o->max_connections) {
        int fd = accept(srv.listen_fd, NULL, NULL);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
                errno != ECONNABORTED) {
                rc = CONC_EIO;
                break;
            }
            /* No connection pending: wait (this task only) for one, or for
             * the end of the run time. */
            int w = conc_wait_fd(srv.listen_fd, CONC_READABLE, conc_timeout_left(deadline));
            if (w == CONC_ETIMEDOUT)
                break; /* run time over */
            if (w < 0) {
                rc = w;
                break;
            }
            continue;
        }
        live = reap(conns, live);
        if (live == cap) {
            cap = cap ? 2 * cap : 16;
            struct conn **bigger = realloc(conns, cap * sizeof *conns);
            if (!bigger) {
                close(fd);
                rc = CONC_ENOMEM;
                break;
            }
            conns = bigger;
        }
        struct conn *c = malloc(sizeof *c);
        if (!c) {
            free(c);
            close(fd);
            rc = CONC_ENOMEM;
            break;
        }
        *c = (struct conn){ &srv, fd, NULL };
        if ((rc = conc_task_spawn(loop, NULL, connection_task, c, &c->task)) != 0) {
            free(c);
            close(fd);
            break;
        }
        conns[live++] = c;
        accepted++;
    }
    close(srv.listen_fd); /* no new connections from here on */

    /* Let the open connections finish until the run time is over (at once on
     * an error), then cancel those still open: their wait returns
     * CONC_ECANCELED and they close their socket. Join them all. */
    for (size_t i = 0; i < live; i++) {
        int64_t left = rc != 0 ? CONC_NOWAIT : conc_timeout_left(deadline);
        if (conc_task_wait(conns[i]->task, left) == CONC_ETIMEDOUT)
            conc_task_cancel(conns[i]->task);
        conc_task_join(conns[i]->task, NULL, CONC_FOREVER);
        free(conns[i]);
    }
    free(conns);
    printf("served %ld connections, echoed %lld bytes, %ld errors\n", srv.served, srv.echoed,
           srv.errors);
    if (rc == 0 && srv.errors == 0)
        printf("echo server OK\n");
    return rc != 0 ? rc : srv.errors ? CONC_EIO : 0;
}

static int parse_options(int argc, char **argv, struct options *o)
{
    for (int i = 1; i < argc; i++) {
        long *target = !strcmp(argv[i], "--port")              ? &o->port
                       : !strcmp(argv[i], "--max-connections") ? &o->max_connections
                       : !strcmp(argv[i], "--run-time")        ? &o->run_time
                                                               : NULL;
        char *end;
        if (!target || i + 1 == argc)
            return -1;
        *target = strtol(argv[++i], &end, 10);
        if (*end || *target < 0 || *target > 1000000)
            return -1;
    }
    return o->port <= 65535 ? 0 : -1;
}

int main(int argc, char **argv)
{
    struct options o = { 0, 0, 0 };

    if (parse_options(argc, argv, &o) != 0) {
        fprintf(stderr,
                "usage: %s [--port N] [--max-connections N] [--run-time SECONDS]\n"
                "  (port 0 = any free port; 0 connections or seconds = no limit)\n",
                argv[0]);
        return 2;
    }
    /* A write to a socket whose peer has gone raises SIGPIPE, which kills the
     * process by default; ignored, the write fails with EPIPE instead. */
    signal(SIGPIPE, SIG_IGN);
    int rc = conc_run(acceptor_task, &o, NULL);
    if (rc != 0) {
        fprintf(stderr, "echo_server: %s\n", conc_strerror(rc));
        return 1;
    }
    return 0;
}
