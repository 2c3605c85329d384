/*
 * An HTTP/1.1 GET client on tasks, fetching several URLs concurrently:
 *
 *   http_get [--timeout-ms N] URL...        (default timeout: 5000 ms)
 *
 * URLs are http://HOST[:PORT][/PATH] with HOST an IPv4 address or
 * "localhost" (no DNS, to stay short). One task per URL; each prints, in the
 * order given, "GET URL -> STATUS, N bytes" or "GET URL -> error: WHY".
 * Exits 0 when every request got a response (any HTTP status), 1 otherwise.
 *
 * What it teaches:
 *  - a non-blocking connect(): it returns EINPROGRESS at once; the task waits
 *    with conc_wait_fd(CONC_WRITABLE) and reads the outcome with SO_ERROR;
 *  - the task then owns the socket through a conc_io_t (conc/taskio.h) and
 *    reads the response with conc_io_read(), which waits only when nothing
 *    is there, until the peer closes or Content-Length bytes came;
 *  - a per-request timeout with conc_task_wait_for() (asyncio.wait_for):
 *    when it passes, the task is cancelled, its pending wait returns
 *    CONC_ECANCELED, it closes its socket and ends; the caller is told
 *    CONC_ETIMEDOUT. The fetch code itself needs no timeout logic.
 * All requests start together and share one deadline, so the whole run
 * takes about as long as the slowest request, not the sum.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <conc.h>

#define MAX_URLS 64
#define MAX_RESPONSE (16L * 1024 * 1024)

struct request {
    const char *url;
    char host[64], path[1024];
    int port;
    /* outcome */
    int status;      /* HTTP status code */
    long body_bytes; /* bytes of the body received */
    char error[160]; /* why it failed, for the user */
};

/* Split http://HOST[:PORT][/PATH]. */
static int parse_url(struct request *r)
{
    const char *p = r->url;
    if (strncmp(p, "http://", 7) != 0)
        return -1;
    p += 7;
    size_t hostlen = strcspn(p, ":/");
    if (hostlen == 0 || hostlen >= sizeof r->host)
        return -1;
    memcpy(r->host, p, hostlen);
    r->host[hostlen] = '\0';
    p += hostlen;
    r->port = 80;
    if (*p == ':') {
        char *end;
        long port = strtol(p + 1, &end, 10);
        if (end == p + 1 || port < 1 || port > 65535 || (*end && *end != '/'))
            return -1;
        r->port = (int)port;
        p = end;
    }
    snprintf(r->path, sizeof r->path, "%s", *p ? p : "/");
    return 0;
}

static int fail(struct request *r, int rc, const char *what, int err)
{
    if (err)
        snprintf(r->error, sizeof r->error, "%s: %s", what, strerror(err));
    else
        snprintf(r->error, sizeof r->error, "%s", what);
    return rc;
}

/* A non-blocking connect, waiting as a task until it has completed. */
static int connect_to(struct request *r, int *out)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)r->port) };
    const char *ip = strcmp(r->host, "localhost") == 0 ? "127.0.0.1" : r->host;
    int err = 0, rc;
    socklen_t len = sizeof err;

    if (inet_pton(AF_INET, ip, &a.sin_addr) != 1)
        return fail(r, CONC_EINVAL, "host is not an IPv4 address (no DNS here)", 0);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int flags = fd < 0 ? -1 : fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0) {
        err = errno;
        if (fd >= 0)
            close(fd);
        return fail(r, CONC_EIO, "socket", err);
    }
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        if (errno != EINPROGRESS) {
            err = errno;
            close(fd);
            return fail(r, CONC_EIO, "connect", err);
        }
        /* In progress: writable means finished, well or badly; SO_ERROR says. */
        if ((rc = conc_wait_fd(fd, CONC_WRITABLE, CONC_FOREVER)) < 0) {
            close(fd);
            return fail(r, rc, conc_strerror(rc), 0); /* cancelled: timed out */
        }
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
            close(fd);
            return fail(r, CONC_EIO, "connect", err ? err : errno);
        }
    }
    *out = fd;
    return 0;
}

/* Parse the status line and headers; -1 if malformed. */
static long parse_head(struct request *r, char *head, bool *chunked)
{
    long content_length = -1;
    int minor;

    if (sscanf(head, "HTTP/1.%d %d", &minor, &r->status) != 2)
        return -2;
    for (char *line = strstr(head, "\r\n"); line; line = strstr(line + 2, "\r\n")) {
        if (strncasecmp(line + 2, "Content-Length:", 15) == 0)
            content_length = strtol(line + 2 + 15, NULL, 10);
        else if (strncasecmp(line + 2, "Transfer-Encoding:", 18) == 0 &&
                 strstr(line + 2, "chunked") != NULL)
            *chunked = true;
    }
    return content_length;
}

/* The task: one GET, from connect to the last byte. */
static int fetch_task(void *arg, void **result)
{
    struct request *r = arg;
    char *buf = NULL;
    size_t have = 0, cap = 0, head_len = 0;
    long content_length = -1;
    bool chunked = false;
    conc_io_t io;
    int fd, rc;
    (void)result;

    if ((rc = connect_to(r, &fd)) != 0)
        return rc;
    if ((rc = conc_io_open(&io, fd)) != 0) { /* the loop owns the socket now */
        close(fd);
        return fail(r, rc, conc_strerror(rc), 0);
    }
    char req[1300];
    int len = snprintf(req, sizeof req,
                       "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUser-Agent: libconc-http_get\r\n"
                       "Connection: close\r\n\r\n",
                       r->path, r->host, r->port);
    if ((rc = conc_io_write(&io, req, (size_t)len, NULL, CONC_FOREVER)) != 0) {
        conc_io_close(&io);
        return fail(r, rc, rc == CONC_EIO ? "send failed" : conc_strerror(rc), 0);
    }

    for (;;) {
        if (have + 4096 + 1 > cap) { /* room for a read and a final NUL */
            cap = cap ? 2 * cap : 8192;
            char *bigger = cap <= MAX_RESPONSE ? realloc(buf, cap) : NULL;
            if (!bigger) {
                rc = fail(r, CONC_ENOMEM, "response too large", 0);
                break;
            }
            buf = bigger;
        }
        /* What is there, or wait for more; a cancel (the timeout) ends the
         * request here. */
        size_t n;
        if ((rc = conc_io_read(&io, buf + have, cap - have - 1, &n, CONC_FOREVER)) != 0) {
            fail(r, rc, rc == CONC_EIO ? "read failed" : conc_strerror(rc), 0);
            break;
        }
        have += n;
        buf[have] = '\0';
        if (head_len == 0) { /* still looking for the end of the headers */
            char *end = strstr(buf, "\r\n\r\n");
            if (end) {
                head_len = (size_t)(end - buf) + 4;
                *end = '\0';
                content_length = parse_head(r, buf, &chunked);
                if (content_length == -2 || chunked) {
                    rc = fail(r, CONC_EIO,
                              chunked ? "chunked responses are not supported by this example"
                                      : "malformed status line",
                              0);
                    break;
                }
            }
        }
        r->body_bytes = head_len ? (long)(have - head_len) : 0;
        if (head_len && content_length >= 0 && r->body_bytes >= content_length)
            break;    /* the whole body: no need to wait for the close */
        if (n == 0) { /* the server closed */
            if (head_len == 0)
                rc = fail(r, CONC_EIO, "connection closed before a complete response", 0);
            else if (content_length >= 0)
                rc = fail(r, CONC_EIO, "connection closed before Content-Length bytes", 0);
            break;
        }
    }
    free(buf);
    conc_io_close(&io);
    return rc;
}

struct program {
    int n;
    struct request *reqs;
    int64_t timeout_ns;
};

static int main_task(void *arg, void **result)
{
    struct program *p = arg;
    conc_task_t *t[MAX_URLS];
    int failures = 0;
    (void)result;

    int64_t start = conc_now_ns();
    for (int i = 0; i < p->n; i++) {
        int rc = conc_task_spawn(conc_loop_current(), NULL, fetch_task, &p->reqs[i], &t[i]);
        if (rc != 0)
            return rc;
    }
    /* One deadline for all: the requests run concurrently from the start. */
    int64_t deadline = conc_deadline_after(p->timeout_ns);
    for (int i = 0; i < p->n; i++) {
        struct request *r = &p->reqs[i];
        int rc = conc_task_wait_for(t[i], NULL, conc_timeout_left(deadline));
        conc_task_join(t[i], NULL, CONC_FOREVER); /* finished: release it */
        if (rc == 0) {
            printf("GET %s -> %d, %ld bytes\n", r->url, r->status, r->body_bytes);
        } else {
            failures++;
            if (rc == CONC_ETIMEDOUT)
                snprintf(r->error, sizeof r->error, "timed out after %.0f ms",
                         (double)p->timeout_ns / 1e6);
            printf("GET %s -> error: %s\n", r->url, r->error[0] ? r->error : conc_strerror(rc));
        }
    }
    printf("%d of %d requests completed in %.3f s\n", p->n - failures, p->n,
           (double)(conc_now_ns() - start) / 1e9);
    return failures ? CONC_EIO : 0;
}

static int usage(const char *prog)
{
    fprintf(stderr, "usage: %s [--timeout-ms N] URL...  (1 to %d URLs, 1 <= N <= 3600000)\n", prog,
            MAX_URLS);
    return 2;
}

int main(int argc, char **argv)
{
    static struct request reqs[MAX_URLS];
    struct program p = { 0, reqs, CONC_MS(5000) };
    int i = 1;

    if (argc > 2 && strcmp(argv[1], "--timeout-ms") == 0) {
        char *end;
        long ms = strtol(argv[2], &end, 10);
        if (*end || ms < 1 || ms > 3600000)
            return usage(argv[0]);
        p.timeout_ns = CONC_MS(ms);
        i = 3;
    }
    if (i == argc || argc - i > MAX_URLS)
        return usage(argv[0]);
    for (; i < argc; i++) {
        reqs[p.n].url = argv[i];
        if (parse_url(&reqs[p.n]) != 0) {
            fprintf(stderr, "http_get: not an http://HOST[:PORT][/PATH] URL: %s\n", argv[i]);
            return 2;
        }
        p.n++;
    }
    /* A write to a socket whose peer has gone raises SIGPIPE, which kills the
     * process by default; ignored, the write fails with EPIPE instead. */
    signal(SIGPIPE, SIG_IGN);
    int rc = conc_run(main_task, &p, NULL);
    fflush(stdout); /* the results before the error below, even in a file */
    if (rc != 0) {
        fprintf(stderr, "http_get: %s\n",
                rc == CONC_EIO ? "some requests failed" : conc_strerror(rc));
        return 1;
    }
    return 0;
}
