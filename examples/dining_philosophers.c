/*
 * Five philosophers around a table, one fork between each two neighbours; a
 * philosopher needs both neighbouring forks to eat.
 *
 *   dining_philosophers [order|seats|deadlock] [MEALS]   (default: order 1000)
 *
 * order     Resource ordering: every philosopher picks up the lower-numbered
 *           of his two forks first. The last philosopher (forks 4 and 0) thus
 *           reaches for fork 0 first, like his neighbour, and a cycle of
 *           philosophers each holding one fork can never close: no deadlock.
 * seats     A semaphore of four seats: at most four philosophers sit at the
 *           table at once, so at least one of them finds both forks free.
 *           Each picks up his left fork, then his right one.
 * deadlock  The naive way: everybody takes the left fork, then the right one.
 *           The first meal is arranged so that all five hold their left fork
 *           at once, and all wait for their right one: a deadlock. Waiting
 *           with a timeout detects it; the philosopher puts his left fork
 *           down, thinks a little (a different time for each) and tries
 *           again, and dinner goes on.
 *
 * Forks are mutexes. The program checks that every philosopher ate MEALS
 * times and that never more than two ate at the same time (five forks feed
 * two philosophers at most), and, in deadlock mode, that the deadlock was
 * detected.
 */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <conc.h>

#define N 5

enum mode { ORDER, SEATS, DEADLOCK };

struct table {
    enum mode mode;
    long meals;
    conc_mutex_t forks[N];
    conc_sem_t seats;          /* SEATS: four permits */
    conc_barrier_t all_seated; /* DEADLOCK: everybody holds his left fork */
    atomic_int eating, most_eating, timeouts;
};

struct philosopher {
    struct table *table;
    int id;
    long eaten;
};

static void check(int rc, const char *what)
{
    if (rc < 0) {
        fprintf(stderr, "%s: %s\n", what, conc_strerror(rc));
        exit(1);
    }
}

static void eat(struct philosopher *p)
{
    struct table *t = p->table;
    int now = atomic_fetch_add(&t->eating, 1) + 1;
    int most = atomic_load(&t->most_eating);

    while (now > most && !atomic_compare_exchange_weak(&t->most_eating, &most, now))
        ;
    p->eaten++;
    conc_thread_yield(); /* chew */
    atomic_fetch_sub(&t->eating, 1);
}

static void put_down(struct table *t, int a, int b)
{
    check(conc_mutex_unlock(&t->forks[b]), "conc_mutex_unlock");
    check(conc_mutex_unlock(&t->forks[a]), "conc_mutex_unlock");
}

/* Left fork, then right fork, recovering from a deadlock by timeout. */
static void dine_naively(struct philosopher *p, int left, int right, bool first_meal)
{
    struct table *t = p->table;
    int64_t think = CONC_US(200 + 150 * p->id);

    for (;;) {
        check(conc_mutex_lock(&t->forks[left]), "conc_mutex_lock");
        if (first_meal) /* wait until all five hold their left fork */
            check(conc_barrier_wait(&t->all_seated, CONC_FOREVER), "conc_barrier_wait");
        first_meal = false;
        int rc = conc_mutex_timedlock(&t->forks[right], CONC_MS(20));
        if (rc == 0)
            break;
        check(rc == CONC_ETIMEDOUT ? 0 : rc, "conc_mutex_timedlock");
        if (atomic_fetch_add(&t->timeouts, 1) == 0)
            printf("philosopher %d waited 20 ms for fork %d: deadlock; forks go down\n", p->id,
                   right);
        check(conc_mutex_unlock(&t->forks[left]), "conc_mutex_unlock");
        conc_sleep(think);
        if (think < CONC_MS(20))
            think *= 2;
    }
    eat(p);
    put_down(t, left, right);
}

static void *philosopher_main(void *arg)
{
    struct philosopher *p = arg;
    struct table *t = p->table;
    int left = p->id, right = (p->id + 1) % N;
    int first = left < right ? left : right, second = left < right ? right : left;

    for (long meal = 0; meal < t->meals; meal++) {
        switch (t->mode) {
        case ORDER:
            check(conc_mutex_lock(&t->forks[first]), "conc_mutex_lock");
            check(conc_mutex_lock(&t->forks[second]), "conc_mutex_lock");
            eat(p);
            put_down(t, first, second);
            break;
        case SEATS:
            check(conc_sem_acquire(&t->seats, CONC_FOREVER), "conc_sem_acquire");
            check(conc_mutex_lock(&t->forks[left]), "conc_mutex_lock");
            check(conc_mutex_lock(&t->forks[right]), "conc_mutex_lock");
            eat(p);
            put_down(t, left, right);
            check(conc_sem_release(&t->seats, 1), "conc_sem_release");
            break;
        case DEADLOCK:
            dine_naively(p, left, right, meal == 0);
            break;
        }
    }
    return NULL;
}

int main(int argc, char **argv)
{
    static const char *const modes[] = { "order", "seats", "deadlock" };
    struct table t = { .mode = ORDER, .meals = 1000 };
    struct philosopher ph[N];
    conc_thread_t threads[N];

    if (argc > 1) {
        t.mode = !strcmp(argv[1], "order")      ? ORDER
                 : !strcmp(argv[1], "seats")    ? SEATS
                 : !strcmp(argv[1], "deadlock") ? DEADLOCK
                                                : (enum mode) - 1;
    }
    if (argc > 2)
        t.meals = strtol(argv[2], NULL, 10);
    if (argc > 3 || (int)t.mode < 0 || t.meals < 1) {
        fprintf(stderr, "usage: %s [order|seats|deadlock] [MEALS]\n", argv[0]);
        return 2;
    }
    for (int i = 0; i < N; i++)
        check(conc_mutex_init(&t.forks[i]), "conc_mutex_init");
    check(conc_sem_init(&t.seats, N - 1), "conc_sem_init");
    check(conc_barrier_init(&t.all_seated, N, NULL, NULL), "conc_barrier_init");

    int64_t t0 = conc_now_ns();
    for (int i = 0; i < N; i++) {
        char name[16];
        conc_thread_attr_t attr = CONC_THREAD_ATTR_INIT;

        snprintf(name, sizeof(name), "philosopher-%d", i);
        attr.name = name; /* copied by create: shows in top -H and gdb */
        ph[i] = (struct philosopher){ &t, i, 0 };
        check(conc_thread_create(&threads[i], &attr, philosopher_main, &ph[i]),
              "conc_thread_create");
    }
    int ok = 1;
    for (int i = 0; i < N; i++) {
        check(conc_thread_join(&threads[i], NULL, CONC_FOREVER), "conc_thread_join");
        ok &= ph[i].eaten == t.meals;
    }
    printf("mode %s: %d philosophers ate %ld meals each in %.1f ms; at most %d ate at once; "
           "%d timeouts\n",
           modes[t.mode], N, t.meals, (double)(conc_now_ns() - t0) / 1e6,
           atomic_load(&t.most_eating), atomic_load(&t.timeouts));
    if (atomic_load(&t.most_eating) > 2 || (t.mode == DEADLOCK && atomic_load(&t.timeouts) == 0))
        ok = 0;
    for (int i = 0; i < N; i++)
        check(conc_mutex_destroy(&t.forks[i]), "conc_mutex_destroy");
    check(conc_sem_destroy(&t.seats), "conc_sem_destroy");
    check(conc_barrier_destroy(&t.all_seated), "conc_barrier_destroy");
    if (!ok) {
        printf("dinner FAILED\n");
        return 1;
    }
    printf("dinner finished: every philosopher ate\n");
    return 0;
}
