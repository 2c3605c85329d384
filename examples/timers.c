/*
 * Software timers: one-shot, periodic, cancelled and restarted (a watchdog),
 * plus the fire-and-forget conc_timer_once() (Python's threading.Timer).
 *
 *   timers [PERIOD_MS]          (default 10)
 *
 * Every timer of the process is run by one timer service thread: callbacks
 * run there, one at a time, so they must be short (here they print a line,
 * note the time and maybe set an event). Times are printed relative to the
 * start of the program; the program checks that no timer fired early, that
 * the cancelled timer never fired and that the periodic timer stopped.
 */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include <conc.h>

static int64_t start_ns;
static atomic_int early; /* callbacks that ran before their deadline: must stay 0 */

struct shot {
    const char *name;
    int64_t due;        /* the earliest moment it may fire */
    atomic_int fired;   /* times the callback ran */
    conc_event_t event; /* set by the callback */
};

static void check(int rc, const char *what)
{
    if (rc < 0) {
        fprintf(stderr, "%s: %s\n", what, conc_strerror(rc));
        exit(1);
    }
}

static double ms_since_start(int64_t t)
{
    return (double)(t - start_ns) / 1e6;
}

static void note_fired(struct shot *s, int64_t due)
{
    int64_t now = conc_now_ns();
    int n = atomic_fetch_add(&s->fired, 1) + 1;

    printf("  +%7.2f ms  %s fired (#%d, due at +%.2f ms)\n", ms_since_start(now), s->name, n,
           ms_since_start(due));
    if (now < due)
        atomic_fetch_add(&early, 1);
}

/* One callback for the one-shot and the cancelled timer: arg says which. */
static void on_shot(conc_timer_t *timer, void *arg)
{
    struct shot *s = arg;

    note_fired(s, s->due);
    conc_event_set(&s->event);
}

/* The periodic timer: expiry k is due at the first deadline + (k-1) periods
 * (or later, never earlier). After five ticks it tells main, which cancels it. */
static int64_t period_ns;

static void on_tick(conc_timer_t *timer, void *arg)
{
    struct shot *s = arg;
    int k = atomic_load(&s->fired) + 1;

    note_fired(s, s->due + (k - 1) * period_ns);
    if (k == 5)
        conc_event_set(&s->event);
}

static void on_once(void *arg)
{
    on_shot(NULL, arg);
}

/* The watchdog only notes when it fired: main checks that against its kicks. */
static atomic_llong dog_fired_at;

static void on_watchdog(conc_timer_t *timer, void *arg)
{
    struct shot *s = arg;
    int64_t now = conc_now_ns();

    atomic_store(&dog_fired_at, now);
    printf("  +%7.2f ms  %s fired (#%d)\n", ms_since_start(now), s->name,
           atomic_fetch_add(&s->fired, 1) + 1);
    conc_event_set(&s->event);
}

static void shot_init(struct shot *s, const char *name)
{
    s->name = name;
    atomic_init(&s->fired, 0);
    check(conc_event_init(&s->event), "conc_event_init");
}

static void start(conc_timer_t *t, struct shot *s, int64_t delay, int64_t period)
{
    s->due = conc_now_ns() + delay; /* taken before start: a lower bound */
    check(conc_timer_start(t, delay, period), "conc_timer_start");
}

int main(int argc, char **argv)
{
    struct shot one, tick, never, dog, once;
    conc_timer_t t_one, t_tick, t_never, t_dog;
    const int64_t wait = CONC_SEC(10); /* only hit if something is badly wrong */

    period_ns = CONC_MS(argc > 1 ? atol(argv[1]) : 10);
    if (argc > 2 || period_ns < CONC_MS(1)) {
        fprintf(stderr, "usage: %s [PERIOD_MS]\n", argv[0]);
        return 2;
    }
    start_ns = conc_now_ns();
    shot_init(&one, "one-shot");
    shot_init(&tick, "periodic");
    shot_init(&never, "cancelled");
    shot_init(&dog, "watchdog");
    shot_init(&once, "conc_timer_once");
    check(conc_timer_init(&t_one, on_shot, &one), "conc_timer_init");
    check(conc_timer_init(&t_tick, on_tick, &tick), "conc_timer_init");
    check(conc_timer_init(&t_never, on_shot, &never), "conc_timer_init");
    check(conc_timer_init(&t_dog, on_watchdog, &dog), "conc_timer_init");

    start(&t_one, &one, 3 * period_ns, 0);
    start(&t_tick, &tick, period_ns, period_ns);
    once.due = conc_now_ns() + 2 * period_ns;
    check(conc_timer_once(2 * period_ns, on_once, &once, NULL), "conc_timer_once");

    /* Cancel a pending timer: PENDING in the answer means it will never run. */
    start(&t_never, &never, 5 * period_ns, 0);
    int was = conc_timer_cancel(&t_never);
    bool never_was_pending = (was & CONC_TIMER_PENDING) != 0;
    check(was, "conc_timer_cancel");
    printf("  +%7.2f ms  cancelled timer was %s\n", ms_since_start(conc_now_ns()),
           was & CONC_TIMER_PENDING ? "pending: it will never fire" : "not pending?");

    /* A watchdog: restarted ("kicked") before it expires, it never fires;
     * once the kicks stop, it fires one timeout after the last kick. */
    const int64_t dog_timeout = 10 * period_ns;
    int64_t last_kick = 0;
    bool kicked_in_time = true;
    start(&t_dog, &dog, dog_timeout, 0);
    for (int i = 0; i < 3; i++) {
        conc_sleep(2 * period_ns);
        last_kick = conc_now_ns();
        was = conc_timer_restart(&t_dog, dog_timeout, 0);
        check(was, "conc_timer_restart");
        /* PENDING: it had not fired yet, the old expiry is gone for good. */
        kicked_in_time &= (was & CONC_TIMER_PENDING) != 0;
        printf("  +%7.2f ms  watchdog kicked%s\n", ms_since_start(last_kick),
               was & CONC_TIMER_PENDING ? "" : " too late: it had fired already");
    }

    check(conc_event_wait(&tick.event, wait), "five ticks");
    /* Stop the periodic timer; destroy also waits for a callback running now. */
    was = conc_timer_cancel(&t_tick);
    check(was, "conc_timer_cancel");
    check(conc_timer_destroy(&t_tick), "conc_timer_destroy");
    int ticks = atomic_load(&tick.fired);
    printf("  +%7.2f ms  periodic timer cancelled after %d ticks\n", ms_since_start(conc_now_ns()),
           ticks);

    check(conc_event_wait(&one.event, wait), "one-shot");
    check(conc_event_wait(&once.event, wait), "conc_timer_once");
    check(conc_event_wait(&dog.event, wait), "watchdog");
    conc_sleep(3 * period_ns); /* room for a tick that should not come */

    /* Had main been descheduled for a whole timeout between two kicks (a
     * very busy machine), the watchdog would rightly have fired early: that
     * is reported above and not held against the timers. */
    bool dog_ok = !kicked_in_time || (atomic_load(&dog.fired) == 1 &&
                                      atomic_load(&dog_fired_at) >= last_kick + dog_timeout);
    bool ok = atomic_load(&early) == 0 && atomic_load(&one.fired) == 1 &&
              atomic_load(&once.fired) == 1 && dog_ok && never_was_pending &&
              atomic_load(&never.fired) == 0 && atomic_load(&tick.fired) == ticks &&
              (was & CONC_TIMER_PENDING);

    check(conc_timer_destroy(&t_one), "conc_timer_destroy");
    check(conc_timer_destroy(&t_never), "conc_timer_destroy");
    check(conc_timer_destroy(&t_dog), "conc_timer_destroy");
    /* Optional: stop the service thread so leak checkers see a clean exit. */
    check(conc_timer_service_shutdown(), "conc_timer_service_shutdown");
    if (!ok) {
        printf("timers FAILED (%d fired early)\n", atomic_load(&early));
        return 1;
    }
    printf("timers OK: none early, the cancelled one never fired, the periodic one stopped\n");
    return 0;
}
