/*
 * Generators with stackful coroutines (conc/coro.h), like Python's:
 *
 *   generator [N]      (default: 1000)
 *
 * 1. A generator that yields the prime numbers, one per resume, forever:
 *        def primes():
 *            n = 2
 *            while True:
 *                if is_prime(n): yield n
 *                n += 1
 *    The consumer pulls the first N of them, then asks the generator to stop
 *    (the value passed to resume is what yield receives, like send()), and
 *    the generator returns: its coroutine is then done.
 * 2. A coroutine that consumes values (Python's "averager" with send()): each
 *    resume passes it a number; it yields back the running average.
 *
 * What it teaches: a coroutine keeps its whole state (locals, loop position)
 * on its own stack between resumes, so the generator is written as a plain
 * loop, not as a state machine. Values cross as void *: pointing at a local
 * of the suspended coroutine is fine, it lives until the coroutine resumes.
 * The results are checked: the sum of the first N primes against a sieve,
 * and the final average of 1..N against (N + 1) / 2.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <conc.h>

static bool is_prime(uint64_t n)
{
    for (uint64_t d = 2; d * d <= n; d++)
        if (n % d == 0)
            return false;
    return n >= 2;
}

/* The generator: yields a pointer to each prime; stops when sent non-NULL. */
static void *primes(void *arg, void *in)
{
    (void)arg;
    (void)in;
    for (uint64_t n = 2;; n++) {
        if (!is_prime(n))
            continue;
        void *stop = NULL;
        conc_coro_yield(&n, &stop); /* suspended here until the next resume */
        if (stop)
            return NULL; /* the generator ends: conc_coro_status() is DONE */
    }
}

/* The averager: receives numbers, yields the running average. */
static void *averager(void *arg, void *in)
{
    double total = 0, average = 0;
    long count = 0;
    (void)arg;

    while (in != NULL) { /* NULL ends it */
        total += *(const double *)in;
        count++;
        average = total / (double)count;
        conc_coro_yield(&average, &in);
    }
    return NULL;
}

/* The same primes, the plain way, to check the generator against. */
static uint64_t sieve_sum(long n)
{
    uint64_t sum = 0;
    long found = 0;
    for (uint64_t k = 2; found < n; k++) {
        if (is_prime(k)) {
            sum += k;
            found++;
        }
    }
    return sum;
}

static int check(int rc, const char *what)
{
    if (rc != 0) {
        fprintf(stderr, "%s: %s\n", what, conc_strerror(rc));
        exit(1);
    }
    return rc;
}

int main(int argc, char **argv)
{
    long n = 1000;
    char *end = "";
    conc_coro_t gen, avg;
    void *out;

    if (argc > 1)
        n = strtol(argv[1], &end, 10);
    if (*end || argc > 2 || n < 1 || n > 1000000) {
        fprintf(stderr, "usage: %s [N]  (1 <= N <= 1000000)\n", argv[0]);
        return 2;
    }

    /* 1. Pull N primes: each resume runs the generator to its next yield. */
    check(conc_coro_create(&gen, NULL, primes, NULL), "conc_coro_create");
    uint64_t sum = 0, last = 0;
    for (long i = 0; i < n; i++) {
        check(conc_coro_resume(&gen, NULL, &out), "conc_coro_resume");
        last = *(const uint64_t *)out;
        sum += last;
        if (i < 10)
            printf("%s%" PRIu64, i ? ", " : "primes: ", last);
    }
    printf("%s\n", n > 10 ? ", ..." : "");
    /* Tell the generator to stop; it returns, and its status is DONE. */
    check(conc_coro_resume(&gen, (void *)1, &out), "conc_coro_resume (stop)");
    bool gen_done = conc_coro_status(&gen) == CONC_CORO_DONE;
    check(conc_coro_destroy(&gen), "conc_coro_destroy");
    uint64_t expected = sieve_sum(n);
    printf("the first %ld primes: the last is %" PRIu64 ", their sum %" PRIu64 " (expected %" PRIu64
           ")\n",
           n, last, sum, expected);

    /* 2. Send 1..N into the averager; it yields the running average back. */
    check(conc_coro_create(&avg, NULL, averager, NULL), "conc_coro_create");
    double average = 0;
    for (long i = 1; i <= n; i++) {
        double x = (double)i;
        check(conc_coro_resume(&avg, &x, &out), "conc_coro_resume");
        average = *(const double *)out;
    }
    check(conc_coro_resume(&avg, NULL, &out), "conc_coro_resume (end)");
    bool avg_done = conc_coro_status(&avg) == CONC_CORO_DONE;
    check(conc_coro_destroy(&avg), "conc_coro_destroy");
    printf("average of 1..%ld sent to the averager: %.1f (expected %.1f)\n", n, average,
           (double)(n + 1) / 2);

    if (sum != expected || average != (double)(n + 1) / 2 || !gen_done || !avg_done) {
        printf("generator FAILED\n");
        return 1;
    }
    printf("generator OK\n");
    return 0;
}
