/*
 * The classic deadlock, detected and then avoided:
 *
 *   deadlock [ROUNDS] [TIMEOUT_MS]      (default 20000 rounds, 50 ms)
 *
 * Two accounts, each with its own mutex. Thread A moves money from account 1
 * to account 2, thread B from 2 to 1; a transfer holds both locks.
 *
 *  1. Opposite order: A locks 1 then 2, B locks 2 then 1. When A holds 1 and
 *     B holds 2, each waits forever for the other's lock. Here the second
 *     lock is taken with a timeout (conc_mutex_timedlock): a timeout is how
 *     the program notices that it is stuck. It then backs off: releases the
 *     lock it holds, waits a little (a different time in each thread, so they
 *     do not collide again at once) and retries. The very first transfer is
 *     arranged so that both threads hold their first lock at the same moment:
 *     the deadlock happens on every run.
 *  2. The fix: one global lock order. Both threads lock account 1 before
 *     account 2, whichever direction the money goes. A cycle of waits can no
 *     longer form, so plain conc_mutex_lock() (no timeout) is safe.
 *
 * Both phases check that no money was created or destroyed.
 */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include <conc.h>

struct account {
    conc_mutex_t lock;
    long balance;
};

struct bank {
    struct account acct[2];
    long rounds;
    int64_t timeout;
    bool ordered;        /* phase 2: the fix */
    conc_barrier_t both; /* forces the first deadlock of phase 1 */
    atomic_int deadlocks;
};

struct teller {
    struct bank *bank;
    int from, to; /* account indices */
    const char *name;
};

static void check(int rc, const char *what)
{
    if (rc < 0) {
        fprintf(stderr, "%s: %s\n", what, conc_strerror(rc));
        exit(1);
    }
}

static void move_money(struct account *from, struct account *to)
{
    from->balance -= 1;
    to->balance += 1;
}

/* Phase 1: lock `from`, then `to` with a timeout; on timeout, back off. */
static void transfer_opposite_order(struct teller *t, bool first, unsigned *backoff)
{
    struct bank *b = t->bank;
    struct account *from = &b->acct[t->from], *to = &b->acct[t->to];

    for (;;) {
        check(conc_mutex_lock(&from->lock), "conc_mutex_lock");
        if (first) {
            /* Both threads now hold their first lock: a sure deadlock. */
            check(conc_barrier_wait(&b->both, CONC_FOREVER), "conc_barrier_wait");
            first = false;
        }
        int rc = conc_mutex_timedlock(&to->lock, b->timeout);
        if (rc == 0)
            break;
        check(rc == CONC_ETIMEDOUT ? 0 : rc, "conc_mutex_timedlock");
        int n = atomic_fetch_add(&b->deadlocks, 1) + 1;
        if (n <= 3)
            printf("  %s: holds account %d, no account %d after %lld ms: deadlock #%d, "
                   "backing off\n",
                   t->name, t->from + 1, t->to + 1, (long long)(b->timeout / CONC_MS(1)), n);
        /* Release what we hold so the other thread can finish, then wait a
         * different, growing time in each thread before trying again. */
        check(conc_mutex_unlock(&from->lock), "conc_mutex_unlock");
        conc_sleep(CONC_US(*backoff));
        if (*backoff < 20000)
            *backoff *= 2;
    }
    move_money(from, to);
    check(conc_mutex_unlock(&to->lock), "conc_mutex_unlock");
    check(conc_mutex_unlock(&from->lock), "conc_mutex_unlock");
}

/* Phase 2: always lock the lower-numbered account first. */
static void transfer_ordered(struct teller *t)
{
    struct bank *b = t->bank;
    struct account *first = &b->acct[0], *second = &b->acct[1];

    check(conc_mutex_lock(&first->lock), "conc_mutex_lock");
    check(conc_mutex_lock(&second->lock), "conc_mutex_lock");
    move_money(&b->acct[t->from], &b->acct[t->to]);
    check(conc_mutex_unlock(&second->lock), "conc_mutex_unlock");
    check(conc_mutex_unlock(&first->lock), "conc_mutex_unlock");
}

static void *teller_main(void *arg)
{
    struct teller *t = arg;

    for (long i = 0; i < t->bank->rounds; i++) {
        unsigned backoff = t->from == 0 ? 100 : 170; /* microseconds */
        if (t->bank->ordered)
            transfer_ordered(t);
        else
            transfer_opposite_order(t, i == 0, &backoff);
    }
    return NULL;
}

/* Run both tellers; return 0 when the money adds up. */
static int run_phase(struct bank *b, bool ordered)
{
    struct teller tellers[2] = { { b, 0, 1, "thread A" }, { b, 1, 0, "thread B" } };
    conc_thread_t threads[2];
    int64_t t0 = conc_now_ns();

    b->ordered = ordered;
    atomic_store(&b->deadlocks, 0);
    for (int i = 0; i < 2; i++)
        check(conc_thread_create(&threads[i], NULL, teller_main, &tellers[i]),
              "conc_thread_create");
    for (int i = 0; i < 2; i++)
        check(conc_thread_join(&threads[i], NULL, CONC_FOREVER), "conc_thread_join");

    long total = b->acct[0].balance + b->acct[1].balance;
    printf("  %ld transfers each way in %.1f ms, %d deadlocks detected; balances %ld + %ld = %ld\n",
           b->rounds, (double)(conc_now_ns() - t0) / 1e6, atomic_load(&b->deadlocks),
           b->acct[0].balance, b->acct[1].balance, total);
    return total == 2000 ? 0 : -1;
}

int main(int argc, char **argv)
{
    struct bank b = { .acct = { { CONC_MUTEX_INIT, 1000 }, { CONC_MUTEX_INIT, 1000 } } };

    b.rounds = argc > 1 ? strtol(argv[1], NULL, 10) : 20000;
    b.timeout = CONC_MS(argc > 2 ? strtol(argv[2], NULL, 10) : 50);
    if (argc > 3 || b.rounds < 1 || b.timeout < 1) {
        fprintf(stderr, "usage: %s [ROUNDS] [TIMEOUT_MS]\n", argv[0]);
        return 2;
    }
    check(conc_barrier_init(&b.both, 2, NULL, NULL), "conc_barrier_init");

    printf("phase 1: A locks 1 then 2, B locks 2 then 1 (timed locks detect the deadlock)\n");
    if (run_phase(&b, false) != 0 || atomic_load(&b.deadlocks) < 1) {
        printf("phase 1 FAILED: money lost or no deadlock detected\n");
        return 1;
    }
    printf("phase 2: both lock 1 then 2 (one global order: no deadlock possible)\n");
    if (run_phase(&b, true) != 0 || atomic_load(&b.deadlocks) != 0) {
        printf("phase 2 FAILED\n");
        return 1;
    }
    printf("fixed: one lock order completed without any deadlock\n");
    check(conc_barrier_destroy(&b.both), "conc_barrier_destroy");
    return 0;
}
