/*
 * Coroutines: switch cost against Boost.Context's jump_fcontext and glibc's
 * swapcontext, create+run+destroy from a cached stack, and the memory and
 * creation rate of 100,000 and 1,000,000 live suspended coroutines.
 *
 * BENCH_REPS (default 5) repetitions, best kept; BENCH_SCALE multiplies the
 * loop counts (not the 100k/1M populations, which are the cases themselves;
 * BENCH_CORO_POPULATION=n makes them n and 10 n, for the smoke run).
 */
#include <stdio.h>
#include <stdlib.h>
#include <ucontext.h>
#include <unistd.h>

#include "bench_common.h"
#include "conc/coro.h"
#include "conc/time.h"

#ifdef HAVE_BOOST_CONTEXT
int64_t bench_boost_switch(long round_trips);
int64_t bench_boost_create_run(long n);
#endif

#define STACK_SIZE (64 * 1024)

static long loops(long n)
{
    return (long)((double)n * bench_scale());
}

static void check(int rc, const char *what)
{
    if (rc != 0) {
        fprintf(stderr, "bench_coro: %s: %s\n", what, conc_strerror(rc));
        exit(1);
    }
}

/* ---- switch cost -------------------------------------------------------- */

static void *pingpong(void *arg, void *in)
{
    (void)arg, (void)in;
    for (;;)
        conc_coro_yield(NULL, NULL);
    return NULL;
}

static int64_t conc_switch(void *arg)
{
    long n = *(long *)arg;
    conc_coro_t co;
    int64_t start;

    check(conc_coro_create(&co, NULL, pingpong, NULL), "create");
    conc_coro_resume(&co, NULL, NULL);
    start = conc_now_ns();
    for (long i = 0; i < n; i++)
        conc_coro_resume(&co, NULL, NULL);
    start = conc_now_ns() - start;
    conc_coro_destroy(&co);
    return start;
}

static ucontext_t uc_main, uc_co;

static void uc_pingpong(void)
{
    for (;;)
        swapcontext(&uc_co, &uc_main);
}

static int64_t ucontext_switch(void *arg)
{
    long n = *(long *)arg;
    char *stack = malloc(STACK_SIZE);
    int64_t start;

    if (!stack || getcontext(&uc_co) != 0)
        abort();
    uc_co.uc_stack.ss_sp = stack;
    uc_co.uc_stack.ss_size = STACK_SIZE;
    uc_co.uc_link = NULL;
    makecontext(&uc_co, uc_pingpong, 0);
    swapcontext(&uc_main, &uc_co);
    start = conc_now_ns();
    for (long i = 0; i < n; i++)
        swapcontext(&uc_main, &uc_co);
    start = conc_now_ns() - start;
    free(stack);
    return start;
}

#ifdef HAVE_BOOST_CONTEXT
static int64_t boost_switch(void *arg)
{
    return bench_boost_switch(*(long *)arg);
}
#endif

/* ns per switch: a round trip is two switches. */
static void switch_cost(int reps)
{
    long n = loops(5000000), nuc = loops(200000);
    double conc = (double)bench_best_of(reps, conc_switch, &n) / (2.0 * (double)n);
    double uc = (double)bench_best_of(reps, ucontext_switch, &nuc) / (2.0 * (double)nuc);

#ifdef HAVE_BOOST_CONTEXT
    double boost = (double)bench_best_of(reps, boost_switch, &n) / (2.0 * (double)n);
    bench_report("coro_switch", conc, "boost_fcontext", boost, "ns", 0);
#else
    printf("  coro_switch: Boost.Context not found, its comparison skipped\n");
#endif
    bench_report("coro_switch_vs_swapcontext", conc, "swapcontext", uc, "ns", 0);
}

/* ---- create, run to completion, destroy --------------------------------- */

static void *return_at_once(void *arg, void *in)
{
    (void)in;
    return arg;
}

static int64_t conc_create_run(void *arg)
{
    long n = *(long *)arg;
    conc_coro_t co;
    int64_t start = conc_now_ns();

    for (long i = 0; i < n; i++) {
        conc_coro_create(&co, NULL, return_at_once, NULL);
        conc_coro_resume(&co, NULL, NULL);
        conc_coro_destroy(&co);
    }
    return conc_now_ns() - start;
}

static void uc_return(void)
{
    swapcontext(&uc_co, &uc_main);
}

static int64_t ucontext_create_run(void *arg)
{
    long n = *(long *)arg;
    char *stack = malloc(STACK_SIZE);
    int64_t start = conc_now_ns();

    if (!stack)
        abort();
    for (long i = 0; i < n; i++) {
        getcontext(&uc_co);
        uc_co.uc_stack.ss_sp = stack;
        uc_co.uc_stack.ss_size = STACK_SIZE;
        uc_co.uc_link = NULL;
        makecontext(&uc_co, uc_return, 0);
        swapcontext(&uc_main, &uc_co);
    }
    start = conc_now_ns() - start;
    free(stack);
    return start;
}

#ifdef HAVE_BOOST_CONTEXT
static int64_t boost_create_run(void *arg)
{
    return bench_boost_create_run(*(long *)arg);
}
#endif

static void create_run_cost(int reps)
{
    long n = loops(1000000), nuc = loops(100000);
    conc_coro_t warm;

    /* Warm the stack cache: the case is "from a cached stack". */
    check(conc_coro_create(&warm, NULL, return_at_once, NULL), "create");
    conc_coro_destroy(&warm);
    double conc = (double)bench_best_of(reps, conc_create_run, &n) / (double)n;
    double uc = (double)bench_best_of(reps, ucontext_create_run, &nuc) / (double)nuc;
#ifdef HAVE_BOOST_CONTEXT
    double boost = (double)bench_best_of(reps, boost_create_run, &n) / (double)n;
    bench_report("coro_create_run_destroy", conc, "boost_fcontext", boost, "ns", 0);
#endif
    bench_report("coro_create_run_destroy_vs_ucontext", conc, "ucontext", uc, "ns", 0);
}

/* ---- many live coroutines ----------------------------------------------- */

/* Resident memory of the process, in bytes. */
static double rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, resident = 0;

    if (!f)
        return 0;
    if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
        resident = 0;
    fclose(f);
    return (double)resident * (double)sysconf(_SC_PAGESIZE);
}

struct population {
    double bytes_per_coro;
    double per_second;
};

/* n coroutines, each run to its first yield and left suspended there. */
static struct population conc_population(long n, int mode)
{
    conc_coro_attr_t a = CONC_CORO_ATTR_INIT;
    conc_coro_t *co = malloc((size_t)n * sizeof *co);
    struct population p;
    double rss0 = rss_bytes();
    int64_t start = conc_now_ns();

    if (!co)
        abort();
    a.stack_mode = mode;
    for (long i = 0; i < n; i++) {
        check(conc_coro_create(&co[i], &a, pingpong, NULL), "create (population)");
        conc_coro_resume(&co[i], NULL, NULL);
    }
    p.per_second = (double)n * 1e9 / (double)(conc_now_ns() - start);
    p.bytes_per_coro = (rss_bytes() - rss0) / (double)n;
    for (long i = 0; i < n; i++)
        conc_coro_destroy(&co[i]);
    free(co);
    return p;
}

static void uc_suspend_forever(void)
{
    for (;;)
        swapcontext(&uc_co, &uc_main);
}

/* The same with ucontext and malloc'd stacks of the same size. */
static struct population ucontext_population(long n)
{
    ucontext_t *uc = malloc((size_t)n * sizeof *uc);
    char **stacks = malloc((size_t)n * sizeof *stacks);
    struct population p;
    double rss0 = rss_bytes();
    int64_t start = conc_now_ns();

    if (!uc || !stacks)
        abort();
    for (long i = 0; i < n; i++) {
        stacks[i] = malloc(STACK_SIZE);
        if (!stacks[i] || getcontext(&uc[i]) != 0)
            abort();
        uc[i].uc_stack.ss_sp = stacks[i];
        uc[i].uc_stack.ss_size = STACK_SIZE;
        uc[i].uc_link = NULL;
        makecontext(&uc[i], uc_suspend_forever, 0);
        swapcontext(&uc_main, &uc[i]);
    }
    p.per_second = (double)n * 1e9 / (double)(conc_now_ns() - start);
    p.bytes_per_coro = (rss_bytes() - rss0) / (double)n;
    for (long i = 0; i < n; i++)
        free(stacks[i]);
    free(stacks);
    free(uc);
    return p;
}

/* How many guard-page coroutines fit before the map-count limit. */
static void guard_limit(long max)
{
    conc_coro_t *co = malloc((size_t)max * sizeof *co);
    long n = 0;
    int rc = 0;

    if (!co)
        abort();
    while (n < max && (rc = conc_coro_create(&co[n], NULL, pingpong, NULL)) == 0)
        n++;
    printf("  guard-page stacks: %ld created, then %s\n", n,
           rc ? conc_strerror_name(rc) : "no limit hit");
    while (n > 0)
        conc_coro_destroy(&co[--n]);
    free(co);
}

/* "100k", "1m": a population's size in a case name. */
static const char *count_name(long n, char *buf, size_t cap)
{
    if (n % 1000000 == 0)
        snprintf(buf, cap, "%ldm", n / 1000000);
    else if (n % 1000 == 0)
        snprintf(buf, cap, "%ldk", n / 1000);
    else
        snprintf(buf, cap, "%ld", n);
    return buf;
}

/* The populations: `small` (100,000 unless BENCH_CORO_POPULATION says
 * otherwise, as the test suite's smoke run does) and ten times as many. */
static void populations(void)
{
    const char *env = getenv("BENCH_CORO_POPULATION");
    long small = env && atol(env) > 0 ? atol(env) : 100000, large = small * 10;
    char a[24], b[24], name[64];
    struct population cs = conc_population(small, CONC_CORO_STACK_CANARY);
    struct population us = ucontext_population(small);
    struct population cl = conc_population(large, CONC_CORO_STACK_CANARY);

    count_name(small, a, sizeof a);
    count_name(large, b, sizeof b);
    snprintf(name, sizeof name, "coro_memory_%s", a);
    bench_report(name, cs.bytes_per_coro, "ucontext", us.bytes_per_coro, "bytes/coro", 0);
    snprintf(name, sizeof name, "coro_create_rate_%s", a);
    bench_report(name, cs.per_second, "ucontext", us.per_second, "coro/s", 1);
    /* No peer holds a million coroutines in this machine's memory: the
     * issue's goal (8 KiB per coroutine) stands in for one. */
    snprintf(name, sizeof name, "coro_memory_%s", b);
    bench_report(name, cl.bytes_per_coro, "goal", 8192.0, "bytes/coro", 0);
    snprintf(name, sizeof name, "coro_create_rate_%s", b);
    printf("  %-34s libconc %12.0f coro/s (%ld canary-mode coroutines)\n", name, cl.per_second,
           large);
    guard_limit(small);
}

int main(void)
{
    int reps = bench_reps(5);

    printf("libconc coroutines (stack %d KiB, best of %d)\n", STACK_SIZE / 1024, reps);
    switch_cost(reps);
    create_run_cost(reps);
    populations();
    return 0;
}
