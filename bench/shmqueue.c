/*
 * The queue shared between processes (conc_shmqueue_t, conc/shmqueue.h)
 * beside the two channels between processes that POSIX offers out of the
 * box, each measured in the same run:
 *
 *  - POSIX message queues: mq_send() / mq_receive() of 64-byte messages; the
 *    queue holds as many messages as /proc/sys/fs/mqueue/msg_max allows an
 *    unprivileged process (10 by default on Linux);
 *  - a pipe: write() / read() of one 64-byte record each (atomic, as 64 <=
 *    PIPE_BUF; the default 64 KiB pipe holds 1024 records, as the queue).
 *
 * One run: the parent creates the channel (a fresh one per run) and forks a
 * producer, which waits for a start byte, then sends N 64-byte items
 * (default 2M) and exits; the parent, as consumer, sends the start byte and
 * takes all N items. The figure is items per second from the start byte to
 * the last item received (the fork and the set-up are not timed). Every run
 * checks that the items arrive in order, that the contents of each are
 * intact, the total checksum, and that the producer exited with status 0.
 * conc_shmqueue_t has capacity 1024; a row for capacity = the message
 * queue's limit is printed as well (no BENCH line), to show what the
 * capacity alone is worth. The channels take turns, run after run, so that a
 * change in the machine's load hits them alike; each keeps its best run. A
 * watchdog (alarm) ends the program if a consumer waits for ever.
 *
 * The goal (issue of the shared queue): >= 3 times the message queue.
 *
 * Usage: bench_shmqueue [scale [case]]: scale multiplies the item count
 * (BENCH_SCALE otherwise); case "mq" or "pipe" runs that comparison only,
 * "shmqueue" the queue alone. BENCH_REPS sets the runs (best kept, default 3).
 */
#include <mqueue.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conc/shmqueue.h"
#include "loop_bench.h"

#define ITEM_SIZE 64
#define CAPACITY 1024

struct item {
    uint64_t w[ITEM_SIZE / 8];
};

_Static_assert(sizeof(struct item) == ITEM_SIZE, "items must be 64 bytes");

#define MIX 0x9e3779b97f4a7c15ull

/* Item i: its number, then seven words derived from it. */
static inline void fill(struct item *it, uint64_t i)
{
    it->w[0] = i;
    for (int k = 1; k < ITEM_SIZE / 8; k++)
        it->w[k] = i * MIX + (uint64_t)k;
}

static inline uint64_t words_sum(const struct item *it)
{
    uint64_t s = 0;

    for (int k = 0; k < ITEM_SIZE / 8; k++)
        s += it->w[k];
    return s;
}

/* ---- the channels, behind one small interface -------------------------------- */

struct channel {
    const char *name;
    size_t capacity;                          /* conc_shmqueue_t only */
    void (*create)(const struct channel *ch); /* in the parent, before the fork */
    void (*producer_start)(void);             /* in the child, after the fork */
    void (*send)(const struct item *it);
    void (*producer_end)(void);   /* in the child, after the last item */
    void (*consumer_start)(void); /* in the parent, after the fork */
    int (*recv)(struct item *it); /* 0, or nonzero: the stream ended */
    void (*destroy)(void);        /* in the parent, after the producer exited */
};

static const struct channel *producing; /* in the producer: its channel */

/* A failure in the producer: say so, end the stream where the channel can
 * (the consumer then stops short and reports it) and exit non-zero. */
static void child_fail(const char *what)
{
    fprintf(stderr, "bench_shmqueue: producer: %s failed (errno %d)\n", what, errno);
    producing->producer_end();
    _exit(1);
}

/* The watchdog for a consumer left waiting for ever (a message queue has no
 * end of file when its producer dies). */
static void on_alarm(int sig)
{
    static const char msg[] = "bench_shmqueue: timed out: the producer stopped sending\n";

    (void)sig;
    if (write(2, msg, sizeof msg - 1) < 0)
        _exit(3);
    _exit(2);
}

static void nothing(void)
{
}

/* conc_shmqueue_t */
static conc_shmqueue_t shq;

static void shq_create(const struct channel *ch)
{
    lb_check(conc_shmqueue_init(&shq, ITEM_SIZE, ch->capacity), "conc_shmqueue_init");
}

/* The end of the stream: the consumer's get returns CONC_ECLOSED once it has
 * taken the rest. */
static void shq_producer_end(void)
{
    if (conc_shmqueue_shutdown(&shq) != 0)
        _exit(1);
}

static void shq_send(const struct item *it)
{
    if (conc_shmqueue_put(&shq, it, CONC_FOREVER) != 0)
        child_fail("conc_shmqueue_put");
}

static int shq_recv(struct item *it)
{
    return conc_shmqueue_get(&shq, it, CONC_FOREVER);
}

static void shq_destroy(void)
{
    lb_check(conc_shmqueue_close(&shq), "conc_shmqueue_close");
}

/* POSIX message queue */
static mqd_t mq = (mqd_t)-1;
static long mq_maxmsg = 10;

static long read_long(const char *path, long fallback)
{
    FILE *f = fopen(path, "r");
    long v = 0;

    if (!f)
        return fallback;
    if (fscanf(f, "%ld", &v) != 1 || v <= 0)
        v = fallback;
    fclose(f);
    return v;
}

static void mq_create(const struct channel *ch)
{
    char name[64];
    struct mq_attr attr = { 0 };

    (void)ch;
    attr.mq_maxmsg = mq_maxmsg;
    attr.mq_msgsize = ITEM_SIZE;
    snprintf(name, sizeof name, "/libconc-bench-mq-%ld", (long)getpid());
    mq = mq_open(name, O_RDWR | O_CREAT | O_EXCL, 0600, &attr);
    if (mq == (mqd_t)-1)
        lb_die("mq_open(%s, maxmsg %ld, msgsize %d) failed (errno %d)", name, mq_maxmsg, ITEM_SIZE,
               errno);
    mq_unlink(name); /* the descriptors keep it; nothing is left behind */
}

static void mq_send_item(const struct item *it)
{
    if (mq_send(mq, (const char *)it, ITEM_SIZE, 0) != 0)
        child_fail("mq_send");
}

static int mq_recv_item(struct item *it)
{
    ssize_t n;

    do
        n = mq_receive(mq, (char *)it, ITEM_SIZE, NULL);
    while (n < 0 && errno == EINTR);
    return n == ITEM_SIZE ? 0 : -1;
}

static void mq_destroy(void)
{
    if (mq_close(mq) != 0)
        lb_die("mq_close failed (errno %d)", errno);
    mq = (mqd_t)-1;
}

/* pipe */
static int pipe_fd[2] = { -1, -1 };

static void pipe_create(const struct channel *ch)
{
    (void)ch;
    if (pipe(pipe_fd) != 0)
        lb_die("pipe failed (errno %d)", errno);
}

static void pipe_producer_start(void)
{
    close(pipe_fd[0]);
}

static void pipe_send(const struct item *it)
{
    ssize_t n;

    do
        n = write(pipe_fd[1], it, ITEM_SIZE);
    while (n < 0 && errno == EINTR);
    if (n != ITEM_SIZE) /* atomic: all or nothing (64 <= PIPE_BUF) */
        child_fail("write");
}

static void pipe_producer_end(void)
{
    close(pipe_fd[1]);
}

static void pipe_consumer_start(void)
{
    close(pipe_fd[1]);
}

static int pipe_recv(struct item *it)
{
    size_t got = 0;

    while (got < ITEM_SIZE) {
        ssize_t n = read(pipe_fd[0], (char *)it + got, ITEM_SIZE - got);
        if (n > 0)
            got += (size_t)n;
        else if (n == 0 || errno != EINTR)
            return -1; /* end of file: the producer is gone */
    }
    return 0;
}

static void pipe_destroy(void)
{
    close(pipe_fd[0]);
}

static struct channel channels[] = {
    { "shmqueue", CAPACITY, shq_create, nothing, shq_send, shq_producer_end, nothing, shq_recv,
      shq_destroy },
    { "shmqueue_small", 10, shq_create, nothing, shq_send, shq_producer_end, nothing, shq_recv,
      shq_destroy },
    { "posix_mq", 0, mq_create, nothing, mq_send_item, nothing, nothing, mq_recv_item, mq_destroy },
    { "pipe", 0, pipe_create, pipe_producer_start, pipe_send, pipe_producer_end,
      pipe_consumer_start, pipe_recv, pipe_destroy },
};
enum { SHM, SHM_SMALL, MQ, PIPE, N_CHANNELS };

/* ---- one run -------------------------------------------------------------------- */

static long n_items;
static uint64_t expected_sum;

static void producer(const struct channel *ch, int go_fd)
{
    struct item it;
    char c;

    producing = ch;
    ch->producer_start();
    if (read(go_fd, &c, 1) != 1)
        child_fail("read of the start byte");
    for (long i = 0; i < n_items; i++) {
        fill(&it, (uint64_t)i);
        ch->send(&it);
    }
    ch->producer_end();
    _exit(0);
}

static int64_t run_channel(void *arg)
{
    const struct channel *ch = arg;
    struct item it;
    uint64_t sum = 0;
    int go[2], status;
    long got = 0;

    if (pipe(go) != 0)
        lb_die("pipe failed (errno %d)", errno);
    ch->create(ch);
    fflush(stdout);
    fflush(stderr);
    /* A producer that dies leaves the consumer of a message queue waiting
     * for ever: the watchdog ends the program. */
    alarm((unsigned)(120 + 120 * lb_scale));
    pid_t pid = fork();
    if (pid < 0)
        lb_die("fork failed (errno %d)", errno);
    if (pid == 0) {
        close(go[1]);
        producer(ch, go[0]);
    }
    close(go[0]);
    ch->consumer_start();
    int64_t start = conc_now_ns();
    if (write(go[1], "g", 1) != 1)
        lb_die("write of the start byte failed (errno %d)", errno);
    for (; got < n_items; got++) {
        if (ch->recv(&it) != 0)
            break;
        /* In order, intact: item number `got`, its derived words. */
        if (it.w[0] != (uint64_t)got || it.w[7] != (uint64_t)got * MIX + 7)
            lb_die("%s: item %ld arrived as item %llu (or damaged)", ch->name, got,
                   (unsigned long long)it.w[0]);
        sum += words_sum(&it);
    }
    int64_t ns = conc_now_ns() - start;
    close(go[1]);
    if (waitpid(pid, &status, 0) != pid)
        lb_die("waitpid failed (errno %d)", errno);
    alarm(0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        lb_die("%s: the producer failed (status 0x%x)", ch->name, status);
    if (got != n_items || sum != expected_sum)
        lb_die("%s: %ld of %ld items, checksum %llx (expected %llx)", ch->name, got, n_items,
               (unsigned long long)sum, (unsigned long long)expected_sum);
    ch->destroy();
    return ns;
}

/* ---- main ------------------------------------------------------------------------- */

int main(int argc, char **argv)
{
    int reps = bench_reps(3);
    bool on[N_CHANNELS];
    int64_t best[N_CHANNELS];
    double rate[N_CHANNELS];
    struct item it;

    lb_args(argc, argv, "bench_shmqueue");
    n_items = lb_count(2000000, 1);
    signal(SIGALRM, on_alarm);
    mq_maxmsg = read_long("/proc/sys/fs/mqueue/msg_max", 10);
    channels[SHM_SMALL].capacity = (size_t)mq_maxmsg;
    for (long i = 0; i < n_items; i++) {
        fill(&it, (uint64_t)i);
        expected_sum += words_sum(&it);
    }
    on[SHM] = true;
    on[SHM_SMALL] = on[MQ] = lb_enabled("mq");
    on[PIPE] = lb_enabled("pipe");
    printf("%ld items of %d bytes from a forked producer to the parent, items/s (higher is"
           " better; conc_shmqueue_t capacity %d, message queue %ld messages, best of %d):\n",
           n_items, ITEM_SIZE, CAPACITY, mq_maxmsg, reps);
    /* The channels take turns, so that a change in the machine's load hits
     * them all alike; each keeps its best run. */
    for (int c = 0; c < N_CHANNELS; c++)
        best[c] = INT64_MAX;
    for (int r = 0; r < reps; r++)
        for (int c = 0; c < N_CHANNELS; c++) {
            int64_t ns = on[c] ? run_channel(&channels[c]) : INT64_MAX;
            if (ns < best[c])
                best[c] = ns;
        }
    for (int c = 0; c < N_CHANNELS; c++)
        rate[c] = on[c] ? (double)n_items * 1e9 / (double)best[c] : 0;

    if (on[MQ]) {
        bench_report("shmqueue_1p1c_64B_vs_mq", rate[SHM], "posix_mq", rate[MQ], "items/s", 1);
        printf("  %-34s libconc %12.2f   (capacity %ld as the message queue: x%.2f vs it)\n",
               "shmqueue_1p1c_64B_capacity_of_mq", rate[SHM_SMALL], mq_maxmsg,
               rate[SHM_SMALL] / rate[MQ]);
        printf("  goal vs posix_mq: x3, %s\n", rate[SHM] >= 3 * rate[MQ] ? "met" : "NOT met");
    }
    if (on[PIPE])
        bench_report("shmqueue_1p1c_64B_vs_pipe", rate[SHM], "pipe", rate[PIPE], "items/s", 1);
    if (!on[MQ] && !on[PIPE])
        printf("  %-34s libconc %12.2f   items/s\n", "shmqueue_1p1c_64B", rate[SHM]);
    return 0;
}
