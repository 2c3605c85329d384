/*
 * Coroutine tasks on an event loop: spawning and its options, the life of a
 * task, conc_run(), sleep and yield, join, gather, wait_for, wait_any,
 * cancellation at every kind of blocking point, shield, task groups, a loop
 * with many tasks, deadlock detection and the dump, and the bridges between
 * tasks and threads (to_thread, run_threadsafe).
 *
 * Most tests run a "main" task on a fresh loop (run_main()); the loop must
 * be destroyable afterwards, so every test also checks that it left no task
 * unfinished.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include "conc/event.h"
#include "conc/future.h"
#include "conc/io.h"
#include "conc/loop.h"
#include "conc/mutex.h"
#include "conc/queue.h"
#include "conc/sem.h"
#include "conc/task.h"
#include "conc/thread.h"
#include "helpers.h"

/* "Not too late" bound for timed checks: CI machines are slow. */
#define LATE_NS CONC_MS(2000)

/* ---- shared helpers -------------------------------------------------------- */

/* Run fn as the main task of a fresh loop; the loop must then be empty. */
static int run_main(conc_task_fn fn, void *arg, void **result)
{
    conc_loop_t loop;
    conc_task_t *t;

    assert_rc(0, conc_loop_init(&loop, NULL));
    assert_rc(0, conc_task_spawn(&loop, NULL, fn, arg, &t));
    int rc = conc_loop_run_until_complete(&loop, t, result);
    assert_rc(0, conc_loop_destroy(&loop));
    return rc;
}

static conc_task_t *spawn_named(const char *name, conc_task_fn fn, void *arg)
{
    conc_task_attr_t a = CONC_TASK_ATTR_INIT;
    conc_task_t *t = NULL;

    a.name = name;
    assert_rc(0, conc_task_spawn(conc_loop_current(), &a, fn, arg, &t));
    return t;
}

static conc_task_t *spawn(conc_task_fn fn, void *arg)
{
    return spawn_named(NULL, fn, arg);
}

/* Yield until @p t has blocked (it must get there within a few turns). */
static void yield_until_blocked(conc_task_t *t)
{
    for (int i = 0; i < 100 && conc_task_state(t) != CONC_TASK_BLOCKED; i++)
        assert_rc(0, conc_task_yield());
    assert_int_equal(conc_task_state(t), CONC_TASK_BLOCKED);
}

/* Returns arg as its result, status 0. */
static int return_arg(void *arg, void **result)
{
    *result = arg;
    return 0;
}

/* Sleeps, then returns a given status and result. */
struct timed_result {
    int64_t sleep_ns;
    int status;
    void *result;
    bool finished; /* set when the body reached its end */
    int sleep_rc;  /* what the sleep returned */
};

static int sleep_then_return(void *arg, void **result)
{
    struct timed_result *r = arg;

    r->sleep_rc = conc_task_sleep(r->sleep_ns);
    if (r->sleep_rc != 0)
        return r->sleep_rc;
    r->finished = true;
    *result = r->result;
    return r->status;
}

/* Waits on an event; on cancellation may block again to clean up, and may
 * then return a result instead of CONC_ECANCELED. */
struct event_waiter {
    conc_event_t *event;
    int wait_rc;
    int64_t cleanup_ns; /* sleep this long after a cancel */
    int cleanup_rc;
    bool cleaned;
    bool swallow_cancel; /* return 0 and a result after a cancel */
    void *result;
};

static int wait_event(void *arg, void **result)
{
    struct event_waiter *w = arg;

    w->wait_rc = conc_event_wait(w->event, CONC_FOREVER);
    if (w->wait_rc == CONC_ECANCELED) {
        if (w->cleanup_ns)
            w->cleanup_rc = conc_task_sleep(w->cleanup_ns);
        w->cleaned = true;
        if (w->swallow_cancel) {
            *result = w->result;
            return 0;
        }
        return CONC_ECANCELED;
    }
    *result = w->result;
    return w->wait_rc;
}

static int64_t elapsed_since(int64_t start)
{
    return conc_now_ns() - start;
}

/* ---- spawning -------------------------------------------------------------- */

static void spawn_rejects_null_loop_fn_and_uninitialised_loop(void **state)
{
    conc_loop_t loop, never = { NULL };
    conc_task_t *t = (conc_task_t *)&t;

    (void)state;
    assert_rc(0, conc_loop_init(&loop, NULL));
    assert_rc(CONC_EINVAL, conc_task_spawn(NULL, NULL, return_arg, NULL, &t));
    assert_rc(CONC_EINVAL, conc_task_spawn(&loop, NULL, NULL, NULL, &t));
    assert_rc(CONC_EINVAL, conc_task_spawn(&never, NULL, return_arg, NULL, &t));
    assert_ptr_equal(t, (conc_task_t *)&t); /* untouched on error */
    assert_rc(0, conc_loop_tasks(&loop, NULL, 0));
    assert_rc(0, conc_loop_destroy(&loop));
}

static void spawn_rejects_bad_stack_options(void **state)
{
    conc_loop_t loop;
    conc_task_attr_t a = CONC_TASK_ATTR_INIT;
    conc_task_t *t;

    (void)state;
    assert_rc(0, conc_loop_init(&loop, NULL));
    a.stack_mode = 7;
    assert_rc(CONC_EINVAL, conc_task_spawn(&loop, &a, return_arg, NULL, &t));
    a.stack_mode = CONC_CORO_STACK_CANARY;
    a.stack_size = 4096; /* below CONC_CORO_STACK_MIN */
    assert_rc(CONC_EINVAL, conc_task_spawn(&loop, &a, return_arg, NULL, &t));
    a.stack_mode = CONC_CORO_STACK_BUFFER; /* a buffer mode without a buffer */
    a.stack_size = 4 * CONC_CORO_STACK_MIN;
    assert_rc(CONC_EINVAL, conc_task_spawn(&loop, &a, return_arg, NULL, &t));
    assert_rc(0, conc_loop_tasks(&loop, NULL, 0));
    assert_rc(0, conc_loop_destroy(&loop));
}

static void task_functions_reject_null(void **state)
{
    conc_loop_t never = { NULL };
    conc_taskgroup_t g;
    conc_future_t f;
    size_t index;
    char buf[8];

    (void)state;
    assert_rc(CONC_EINVAL, conc_task_join(NULL, NULL, CONC_FOREVER));
    assert_rc(CONC_EINVAL, conc_task_wait(NULL, CONC_FOREVER));
    assert_rc(CONC_EINVAL, conc_task_wait_for(NULL, NULL, CONC_FOREVER));
    assert_rc(CONC_EINVAL, conc_task_detach(NULL));
    assert_rc(CONC_EINVAL, conc_task_cancel(NULL));
    assert_rc(CONC_EINVAL, conc_task_cancelling(NULL));
    assert_rc(CONC_EINVAL, conc_task_state(NULL));
    assert_rc(CONC_EINVAL, conc_task_result(NULL, NULL));
    assert_false(conc_task_done(NULL));
    assert_false(conc_task_cancelled(NULL));
    assert_null(conc_task_name(NULL));
    assert_null(conc_task_loop(NULL));
    assert_rc(CONC_EINVAL, conc_gather(NULL, 1, NULL, NULL, 0));
    assert_rc(CONC_EINVAL, conc_task_wait_any(NULL, 1, &index, CONC_FOREVER));
    assert_rc(CONC_EINVAL, conc_loop_run_until_complete(NULL, NULL, NULL));
    assert_rc(CONC_EINVAL, conc_run(NULL, NULL, NULL));
    assert_rc(CONC_EINVAL, conc_loop_tasks(NULL, NULL, 0));
    assert_rc(CONC_EINVAL, conc_loop_tasks(&never, NULL, 0));
    assert_rc(CONC_EINVAL, conc_loop_dump(NULL, buf, sizeof buf));
    assert_rc(CONC_EINVAL, conc_loop_dump(&never, buf, sizeof buf));
    assert_rc(CONC_EINVAL, conc_taskgroup_init(NULL, NULL));
    assert_rc(CONC_EINVAL, conc_taskgroup_init(&g, NULL));
    assert_rc(CONC_EINVAL, conc_taskgroup_init(&g, &never));
    assert_rc(CONC_EINVAL, conc_taskgroup_spawn(NULL, NULL, return_arg, NULL, NULL));
    assert_rc(CONC_EINVAL, conc_taskgroup_wait(NULL));
    assert_rc(CONC_EINVAL, conc_taskgroup_destroy(NULL));
    assert_rc(CONC_EINVAL, conc_task_to_thread(NULL, NULL, NULL));
    assert_rc(CONC_EINVAL, conc_task_run_threadsafe(NULL, NULL, return_arg, NULL, &f));
    assert_rc(CONC_EINVAL, conc_task_run_threadsafe(&never, NULL, return_arg, NULL, &f));
}

static void sleep_and_yield_outside_a_task_are_eperm(void **state)
{
    (void)state;
    assert_null(conc_task_current());
    assert_rc(CONC_EPERM, conc_task_sleep(CONC_MS(1)));
    assert_rc(CONC_EPERM, conc_task_yield());
}

/* Needs a real stack: touches 48 KiB. */
static int deep_stack(void *arg, void **result)
{
    volatile char big[48 * 1024];

    for (size_t i = 0; i < sizeof big; i += 512)
        big[i] = (char)i;
    *result = (void *)(intptr_t)(big[512] + (intptr_t)arg);
    return 0;
}

static int report_own_name(void *arg, void **result)
{
    char *out = arg;

    (void)result;
    snprintf(out, 32, "%s", conc_task_name(conc_task_current()));
    return 0;
}

static void spawn_name_and_stack_options_are_applied(void **state)
{
    static char buffer[256 * 1024] __attribute__((aligned(64)));
    conc_loop_t loop;
    conc_task_attr_t a = CONC_TASK_ATTR_INIT;
    conc_task_t *named, *dflt, *longname, *guard, *buf;
    char name[64] = "worker-one";
    char seen[3][32] = { "", "", "" };
    void *res;

    (void)state;
    assert_rc(0, conc_loop_init(&loop, NULL));
    a.name = name;
    assert_rc(0, conc_task_spawn(&loop, &a, report_own_name, seen[0], &named));
    strcpy(name, "overwritten"); /* the name was copied */
    assert_string_equal(conc_task_name(named), "worker-one");
    assert_rc(0, conc_task_spawn(&loop, NULL, report_own_name, seen[1], &dflt));
    assert_int_equal(strncmp(conc_task_name(dflt), "task-", 5), 0);
    assert_true(strlen(conc_task_name(dflt)) > 5);
    memset(name, 'x', 40);
    name[40] = '\0';
    assert_rc(0, conc_task_spawn(&loop, &a, report_own_name, seen[2], &longname));
    assert_int_equal(strlen(conc_task_name(longname)), 31);
    assert_int_equal(strncmp(conc_task_name(longname), name, 31), 0);
    a.name = "guarded";
    a.stack_mode = CONC_CORO_STACK_GUARD;
    a.stack_size = 128 * 1024;
    assert_rc(0, conc_task_spawn(&loop, &a, deep_stack, (void *)(intptr_t)1, &guard));
    a.name = "buffered";
    a.stack_mode = CONC_CORO_STACK_BUFFER;
    a.stack_size = sizeof buffer;
    a.stack = buffer;
    assert_rc(0, conc_task_spawn(&loop, &a, deep_stack, (void *)(intptr_t)2, &buf));
    assert_ptr_equal(conc_task_loop(buf), &loop);

    assert_rc(0, conc_loop_run_until_complete(&loop, buf, &res));
    assert_int_equal((intptr_t)res, 2);
    assert_rc(0, conc_loop_run_until_complete(&loop, guard, &res));
    assert_int_equal((intptr_t)res, 1);
    assert_rc(0, conc_loop_run_until_complete(&loop, named, NULL));
    assert_string_equal(seen[0], "worker-one");
    assert_string_equal(seen[1], conc_task_name(dflt));
    assert_string_equal(seen[2], conc_task_name(longname));
    assert_rc(0, conc_task_join(longname, NULL, CONC_NOWAIT));
    assert_rc(0, conc_task_join(dflt, NULL, CONC_NOWAIT));
    assert_rc(0, conc_loop_destroy(&loop));
}

struct identity {
    conc_task_t *self;
    conc_loop_t *loop;
    int state_inside;
};

static int record_identity(void *arg, void **result)
{
    struct identity *id = arg;

    id->self = conc_task_current();
    id->loop = conc_loop_current();
    id->state_inside = conc_task_state(id->self);
    *result = id;
    return -1234; /* an application status */
}

static void join_returns_status_and_result_and_current_is_the_task(void **state)
{
    conc_loop_t loop;
    conc_task_t *t;
    struct identity id = { 0 };
    void *res = NULL;

    (void)state;
    assert_rc(0, conc_loop_init(&loop, NULL));
    assert_rc(0, conc_task_spawn(&loop, NULL, record_identity, &id, &t));
    assert_null(conc_task_current());
    assert_rc(-1234, conc_loop_run_until_complete(&loop, t, &res));
    assert_ptr_equal(res, &id);
    assert_ptr_equal(id.self, t);
    assert_ptr_equal(id.loop, &loop);
    assert_int_equal(id.state_inside, CONC_TASK_RUNNING);
    assert_null(conc_task_current());
    assert_null(conc_loop_current());
    assert_rc(0, conc_loop_destroy(&loop));
}

static int follow_a_life(void *arg, void **result)
{
    conc_event_t ev;
    struct event_waiter w = { .event = &ev, .result = arg };
    void *res = NULL;

    (void)result;
    conc_event_init(&ev);
    conc_task_t *t = spawn(wait_event, &w);
    assert_int_equal(conc_task_state(t), CONC_TASK_READY);
    assert_false(conc_task_done(t));
    assert_rc(CONC_EAGAIN, conc_task_result(t, &res));
    assert_null(res);
    yield_until_blocked(t);
    assert_rc(CONC_EAGAIN, conc_task_result(t, &res));
    assert_rc(0, conc_event_set(&ev));
    assert_int_equal(conc_task_state(t), CONC_TASK_READY);
    assert_rc(0, conc_task_wait(t, CONC_FOREVER));
    assert_int_equal(conc_task_state(t), CONC_TASK_DONE);
    assert_true(conc_task_done(t));
    assert_false(conc_task_cancelled(t));
    assert_rc(0, conc_task_result(t, &res));
    assert_ptr_equal(res, arg);
    res = NULL;
    assert_rc(0, conc_task_join(t, &res, CONC_NOWAIT));
    assert_ptr_equal(res, arg);
    conc_event_destroy(&ev);
    return 0;
}

static void task_state_follows_ready_blocked_ready_done(void **state)
{
    int token;

    (void)state;
    assert_rc(0, run_main(follow_a_life, &token, NULL));
}

static int set_flag(void *arg, void **result)
{
    (void)result;
    *(bool *)arg = true;
    return 0;
}

static void task_cancelled_before_start_never_runs(void **state)
{
    conc_loop_t loop;
    conc_task_t *t, *other;
    bool ran = false, other_ran = false;

    (void)state;
    assert_rc(0, conc_loop_init(&loop, NULL));
    assert_rc(0, conc_task_spawn(&loop, NULL, set_flag, &ran, &t));
    assert_rc(0, conc_task_spawn(&loop, NULL, set_flag, &other_ran, &other));
    assert_rc(0, conc_task_cancel(t));
    assert_int_equal(conc_task_cancelling(t), 1);
    assert_rc(0, conc_loop_run_until_complete(&loop, other, NULL));
    assert_true(other_ran);
    assert_true(conc_task_done(t));
    assert_true(conc_task_cancelled(t));
    assert_int_equal(conc_task_cancelling(t), 0);
    assert_rc(CONC_ECANCELED, conc_task_result(t, NULL));
    assert_rc(CONC_ECANCELED, conc_task_join(t, NULL, CONC_NOWAIT));
    assert_false(ran);
    assert_rc(0, conc_loop_destroy(&loop));
}

static int count_up(void *arg, void **result)
{
    (void)result;
    conc_task_yield();
    ++*(int *)arg;
    return 0;
}

static void detached_tasks_are_freed_by_the_loop(void **state)
{
    conc_loop_t loop;
    conc_task_t *t, *finished, *waiter;
    int count = 0;

    (void)state;
    assert_rc(0, conc_loop_init(&loop, NULL));
    assert_rc(0, conc_task_spawn(&loop, NULL, count_up, &count, &t));
    assert_rc(0, conc_task_detach(t));
    /* Still alive and detached: a second release is refused. */
    assert_rc(CONC_EINVAL, conc_task_detach(t));
    assert_rc(CONC_EINVAL, conc_task_join(t, NULL, CONC_NOWAIT));
    assert_rc(CONC_EINVAL, conc_task_wait(t, CONC_NOWAIT));
    assert_rc(CONC_EINVAL, conc_task_wait_for(t, NULL, CONC_NOWAIT));
    assert_rc(CONC_EINVAL, conc_gather(&t, 1, NULL, NULL, 0));
    assert_rc(CONC_EINVAL, conc_loop_run_until_complete(&loop, t, NULL));
    assert_rc(0, conc_task_spawn(&loop, NULL, count_up, &count, NULL)); /* detached at once */
    assert_rc(0, conc_task_spawn(&loop, NULL, count_up, &count, &finished));
    assert_rc(0, conc_task_spawn(&loop, NULL, count_up, &count, &waiter));
    assert_rc(4, conc_loop_tasks(&loop, NULL, 0));
    assert_rc(0, conc_loop_run_until_complete(&loop, waiter, NULL));
    assert_int_equal(count, 4);
    assert_rc(0, conc_loop_tasks(&loop, NULL, 0));
    /* Detaching a finished task releases it at once (ASan checks the rest). */
    assert_true(conc_task_done(finished));
    assert_rc(0, conc_task_detach(finished));
    assert_rc(0, conc_loop_destroy(&loop));
}

static void loop_with_unfinished_tasks_cannot_be_destroyed(void **state)
{
    conc_loop_t loop, other;
    conc_event_t ev;
    struct event_waiter w1 = { .event = &ev }, w2 = { .event = &ev };
    conc_task_t *blocked, *unstarted, *finished, *list[4] = { NULL };
    bool ran = false;

    (void)state;
    conc_event_init(&ev);
    assert_rc(0, conc_loop_init(&loop, NULL));
    assert_rc(0, conc_loop_init(&other, NULL));
    assert_rc(0, conc_task_spawn(&loop, NULL, wait_event, &w1, &blocked));
    assert_rc(0, conc_task_spawn(&loop, NULL, set_flag, &ran, &finished));
    assert_rc(0, conc_loop_run_once(&loop, 0));
    assert_int_equal(conc_task_state(blocked), CONC_TASK_BLOCKED);
    assert_true(ran);
    assert_rc(0, conc_task_spawn(&loop, NULL, wait_event, &w2, &unstarted));
    assert_rc(CONC_EINVAL, conc_loop_run_until_complete(&other, blocked, NULL));
    assert_rc(0, conc_loop_destroy(&other));

    assert_rc(CONC_EBUSY, conc_loop_destroy(&loop));
    assert_rc(2, conc_loop_tasks(&loop, NULL, 0));
    assert_rc(CONC_EINVAL, conc_loop_tasks(&loop, NULL, 4));
    assert_rc(2, conc_loop_tasks(&loop, list, 1)); /* counts all, stores one */
    assert_true(list[0] == blocked || list[0] == unstarted);
    assert_null(list[1]);
    assert_rc(2, conc_loop_tasks(&loop, list, 4));
    assert_true((list[0] == blocked && list[1] == unstarted) ||
                (list[0] == unstarted && list[1] == blocked));
    assert_null(list[2]);

    /* The loop is not running: this thread's set() wakes through the loop. */
    assert_rc(0, conc_event_set(&ev));
    assert_rc(0, conc_loop_run_until_complete(&loop, blocked, NULL));
    assert_rc(0, conc_loop_run_until_complete(&loop, unstarted, NULL));
    assert_rc(0, conc_loop_tasks(&loop, list, 4));
    /* finished was never joined: the loop releases it. */
    assert_rc(0, conc_loop_destroy(&loop));
    assert_rc(CONC_EINVAL, conc_loop_destroy(&loop));
    conc_event_destroy(&ev);
}

static int run_inside_a_task(void *arg, void **result)
{
    conc_loop_t *loop = conc_loop_current();
    conc_task_t *t = spawn(return_arg, NULL);

    (void)arg;
    (void)result;
    assert_rc(CONC_EBUSY, conc_loop_run_until_complete(loop, t, NULL));
    assert_rc(CONC_EBUSY, conc_run(return_arg, NULL, NULL));
    assert_rc(0, conc_task_join(t, NULL, CONC_FOREVER));
    return 0;
}

static void run_functions_are_ebusy_inside_a_running_loop(void **state)
{
    (void)state;
    assert_rc(0, run_main(run_inside_a_task, NULL, NULL));
}

/* ---- conc_run ---------------------------------------------------------------- */

static int main_returning(void *arg, void **result)
{
    assert_non_null(conc_task_current());
    assert_string_equal(conc_task_name(conc_task_current()), "main");
    *result = arg;
    return -4242;
}

static void run_returns_the_main_tasks_status_and_result(void **state)
{
    int token;
    void *res = NULL;

    (void)state;
    assert_rc(-4242, conc_run(main_returning, &token, &res));
    assert_ptr_equal(res, &token);
    assert_rc(0, conc_run(return_arg, &token, NULL));
    assert_null(conc_loop_current());
}

struct leftovers {
    conc_event_t never;
    struct event_waiter joinable; /* catches the cancel, sleeps to clean up */
    struct timed_result sleeper;  /* detached, sleeps 10 s */
    bool unstarted_ran;
};

static int main_leaving_tasks(void *arg, void **result)
{
    struct leftovers *lo = arg;
    conc_task_t *t;

    (void)result;
    t = spawn(wait_event, &lo->joinable); /* never joined */
    assert_rc(0, conc_task_spawn(conc_loop_current(), NULL, sleep_then_return, &lo->sleeper, NULL));
    yield_until_blocked(t);
    assert_rc(0, conc_task_spawn(conc_loop_current(), NULL, set_flag, &lo->unstarted_ran, NULL));
    return 7;
}

static void run_cancels_leftover_tasks_and_lets_them_clean_up(void **state)
{
    struct leftovers lo = { 0 };
    int64_t start = conc_now_ns();

    (void)state;
    conc_event_init(&lo.never);
    lo.joinable.event = &lo.never;
    lo.joinable.cleanup_ns = CONC_MS(1);
    lo.sleeper.sleep_ns = CONC_MS(10000);
    assert_rc(7, conc_run(main_leaving_tasks, &lo, NULL));
    assert_true(elapsed_since(start) < CONC_MS(5000));
    assert_rc(CONC_ECANCELED, lo.joinable.wait_rc);
    assert_rc(0, lo.joinable.cleanup_rc); /* blocking again after the cancel works */
    assert_true(lo.joinable.cleaned);
    assert_rc(CONC_ECANCELED, lo.sleeper.sleep_rc);
    assert_false(lo.sleeper.finished);
    assert_false(lo.unstarted_ran); /* cancelled before it started */
    conc_event_destroy(&lo.never);
}

static int main_waits_forever(void *arg, void **result)
{
    (void)result;
    return conc_event_wait(arg, CONC_FOREVER);
}

static void run_reports_a_deadlocked_main_task(void **state)
{
    conc_event_t never;
    int64_t start = conc_now_ns();

    (void)state;
    conc_event_init(&never);
    /* Then the main task is cancelled and finished, the loop destroyed. */
    assert_rc(CONC_EDEADLK, conc_run(main_waits_forever, &never, NULL));
    assert_true(elapsed_since(start) < LATE_NS);
    assert_null(conc_loop_current());
    conc_event_destroy(&never);
}

/* ---- sleep and yield -------------------------------------------------------- */

static int sleeps(void *arg, void **result)
{
    (void)arg;
    (void)result;
    for (int64_t ns = CONC_MS(1); ns <= CONC_MS(16); ns *= 4) {
        int64_t start = conc_now_ns();
        assert_rc(0, conc_task_sleep(ns));
        int64_t took = elapsed_since(start);
        assert_true(took >= ns);
        assert_true(took < ns + LATE_NS);
    }
    assert_rc(0, conc_task_sleep(0));
    assert_rc(0, conc_task_sleep(-5)); /* no time: returns at once */
    return 0;
}

static void task_sleep_never_returns_early(void **state)
{
    (void)state;
    assert_rc(0, run_main(sleeps, NULL, NULL));
}

struct interleave {
    char log[32];
    int len;
};

struct yielder {
    struct interleave *il;
    char id;
};

static int log_and_yield(void *arg, void **result)
{
    struct yielder *y = arg;

    (void)result;
    for (int i = 0; i < 3; i++) {
        y->il->log[y->il->len++] = y->id;
        assert_rc(0, conc_task_yield());
    }
    return 0;
}

static void yield_runs_every_other_ready_task_once(void **state)
{
    conc_loop_t loop;
    struct interleave il = { { 0 }, 0 };
    struct yielder y[3] = { { &il, 'A' }, { &il, 'B' }, { &il, 'C' } };
    conc_task_t *t[3];

    (void)state;
    assert_rc(0, conc_loop_init(&loop, NULL));
    for (int i = 0; i < 3; i++)
        assert_rc(0, conc_task_spawn(&loop, NULL, log_and_yield, &y[i], &t[i]));
    assert_rc(0, conc_loop_run_until_complete(&loop, t[2], NULL));
    assert_string_equal(il.log, "ABCABCABC");
    assert_rc(0, conc_task_join(t[0], NULL, CONC_NOWAIT));
    assert_rc(0, conc_task_join(t[1], NULL, CONC_NOWAIT));
    assert_rc(0, conc_loop_destroy(&loop));
}

/* ---- join and wait ------------------------------------------------------------ */

static int join_another(void *arg, void **result)
{
    struct timed_result r = { CONC_MS(10), -55, &r, false, 0 };
    void *res = NULL;
    int64_t start = conc_now_ns();

    (void)arg;
    (void)result;
    conc_task_t *t = spawn(sleep_then_return, &r);
    assert_rc(-55, conc_task_join(t, &res, CONC_FOREVER));
    assert_true(elapsed_since(start) >= CONC_MS(10));
    assert_ptr_equal(res, &r);
    assert_true(r.finished);
    return 0;
}

static void join_waits_for_another_task(void **state)
{
    (void)state;
    assert_rc(0, run_main(join_another, NULL, NULL));
}

static int join_with_timeouts(void *arg, void **result)
{
    conc_event_t ev;
    struct event_waiter w = { .event = &ev, .result = &ev };
    void *res = NULL;

    (void)arg;
    (void)result;
    conc_event_init(&ev);
    conc_task_t *t = spawn(wait_event, &w);
    yield_until_blocked(t);
    int64_t start = conc_now_ns();
    assert_rc(CONC_ETIMEDOUT, conc_task_join(t, &res, CONC_MS(10)));
    assert_true(elapsed_since(start) >= CONC_MS(10));
    assert_rc(CONC_ETIMEDOUT, conc_task_join(t, &res, CONC_NOWAIT));
    assert_rc(CONC_ETIMEDOUT, conc_task_wait(t, CONC_MS(1)));
    assert_rc(CONC_ETIMEDOUT, conc_task_wait(t, CONC_NOWAIT));
    assert_null(res);
    /* Not released, not cancelled: it still runs to its end. */
    assert_int_equal(conc_task_state(t), CONC_TASK_BLOCKED);
    assert_int_equal(conc_task_cancelling(t), 0);
    assert_rc(0, conc_event_set(&ev));
    assert_rc(0, conc_task_join(t, &res, -7)); /* any negative: forever */
    assert_ptr_equal(res, &ev);
    conc_event_destroy(&ev);
    return 0;
}

static void join_timeout_leaves_the_task_running(void **state)
{
    (void)state;
    assert_rc(0, run_main(join_with_timeouts, NULL, NULL));
}

struct self_wait {
    int join, wait, wait_for, gather, wait_any;
};

static int wait_for_myself(void *arg, void **result)
{
    struct self_wait *s = arg;
    conc_task_t *me = conc_task_current();
    conc_task_t *list[2] = { NULL, me };
    size_t index;

    (void)result;
    list[0] = spawn(return_arg, NULL);
    s->join = conc_task_join(me, NULL, CONC_FOREVER);
    s->wait = conc_task_wait(me, CONC_FOREVER);
    s->wait_for = conc_task_wait_for(me, NULL, CONC_FOREVER);
    s->gather = conc_gather(list, 2, NULL, NULL, 0);
    s->wait_any = conc_task_wait_any(list, 2, &index, CONC_FOREVER);
    assert_rc(0, conc_task_join(list[0], NULL, CONC_FOREVER));
    return 0;
}

struct from_callback {
    conc_task_t *t;
    int rc;
};

static void join_in_callback(conc_loop_t *loop, void *arg)
{
    struct from_callback *c = arg;

    (void)loop;
    c->rc = conc_task_join(c->t, NULL, CONC_FOREVER);
}

static void waiting_for_oneself_or_from_a_callback_is_edeadlk(void **state)
{
    struct self_wait s;
    conc_loop_t loop;
    conc_event_t ev;
    struct event_waiter w = { 0 };
    struct from_callback c = { NULL, 0 };

    (void)state;
    assert_rc(0, run_main(wait_for_myself, &s, NULL));
    assert_rc(CONC_EDEADLK, s.join);
    assert_rc(CONC_EDEADLK, s.wait);
    assert_rc(CONC_EDEADLK, s.wait_for);
    assert_rc(CONC_EDEADLK, s.gather);
    assert_rc(CONC_EDEADLK, s.wait_any);

    conc_event_init(&ev);
    w.event = &ev;
    assert_rc(0, conc_loop_init(&loop, NULL));
    assert_rc(0, conc_task_spawn(&loop, NULL, wait_event, &w, &c.t));
    assert_rc(0, conc_loop_call_soon(&loop, join_in_callback, &c, NULL));
    assert_rc(0, conc_loop_run_once(&loop, 0));
    assert_rc(CONC_EDEADLK, c.rc);
    assert_rc(0, conc_event_set(&ev));
    assert_rc(0, conc_loop_run_until_complete(&loop, c.t, NULL));
    assert_rc(0, conc_loop_destroy(&loop));
    conc_event_destroy(&ev);
}

static void join_of_a_finished_task_returns_at_once(void **state)
{
    conc_loop_t loop;
    conc_task_t *t, *u;
    int token;
    void *res = NULL;

    (void)state;
    assert_rc(0, conc_loop_init(&loop, NULL));
    assert_rc(0, conc_task_spawn(&loop, NULL, return_arg, &token, &t));
    assert_rc(0, conc_task_spawn(&loop, NULL, record_identity, &(struct identity){ 0 }, &u));
    assert_rc(-1234, conc_loop_run_until_complete(&loop, u, NULL));
    assert_true(conc_task_done(t));
    /* From a plain thread, with no time at all. */
    assert_rc(0, conc_task_wait(t, CONC_NOWAIT));
    assert_rc(0, conc_task_wait_for(t, &res, CONC_NOWAIT));
    assert_ptr_equal(res, &token);
    res = NULL;
    assert_rc(1, conc_task_cancel(t)); /* finished: nothing is done */
    assert_int_equal(conc_task_cancelling(t), 0);
    assert_false(conc_task_cancelled(t));
    assert_rc(0, conc_task_join(t, &res, CONC_NOWAIT));
    assert_ptr_equal(res, &token);
    assert_rc(0, conc_loop_destroy(&loop));
}

/* ---- gather -------------------------------------------------------------------- */

static int gather_in_order(void *arg, void **result)
{
    struct timed_result r[4];
    conc_task_t *t[4];
    void *res[4] = { NULL };
    int st[4] = { 1, 1, 1, 1 };

    (void)arg;
    (void)result;
    for (int i = 0; i < 4; i++) {
        /* The last finishes first. */
        r[i] = (struct timed_result){ CONC_MS(2) * (4 - i), 0, &r[i], false, 0 };
        t[i] = spawn(sleep_then_return, &r[i]);
    }
    assert_rc(0, conc_gather(t, 4, res, st, 0));
    for (int i = 0; i < 4; i++) {
        assert_ptr_equal(res[i], &r[i]);
        assert_rc(0, st[i]);
        assert_true(conc_task_done(t[i])); /* not released */
    }
    assert_rc(0, conc_gather(t, 4, NULL, NULL, 0)); /* finished: at once */
    for (int i = 0; i < 4; i++)
        assert_rc(0, conc_task_join(t[i], NULL, CONC_NOWAIT));
    return 0;
}

static void gather_returns_results_in_array_order(void **state)
{
    (void)state;
    assert_rc(0, run_main(gather_in_order, NULL, NULL));
}

static int gather_first_failure(void *arg, void **result)
{
    struct timed_result r[3] = {
        { CONC_MS(10), -101, NULL, false, 0 }, /* fails second */
        { CONC_MS(1), -102, NULL, false, 0 },  /* fails first */
        { CONC_MS(40), 0, &r[2], false, 0 },   /* succeeds last */
    };
    conc_task_t *t[3];
    void *res[3];
    int st[3];

    (void)arg;
    (void)result;
    for (int i = 0; i < 3; i++)
        t[i] = spawn(sleep_then_return, &r[i]);
    assert_rc(-102, conc_gather(t, 3, res, st, 0));
    /* Reported after all finished: the slow one ran to its end. */
    for (int i = 0; i < 3; i++) {
        assert_true(conc_task_done(t[i]));
        assert_true(r[i].finished);
        assert_false(conc_task_cancelled(t[i]));
    }
    assert_rc(-101, st[0]);
    assert_rc(-102, st[1]);
    assert_rc(0, st[2]);
    assert_ptr_equal(res[2], &r[2]);
    assert_rc(-101, conc_task_join(t[0], NULL, CONC_NOWAIT));
    assert_rc(-102, conc_task_join(t[1], NULL, CONC_NOWAIT));
    assert_rc(0, conc_task_join(t[2], NULL, CONC_NOWAIT));
    return 0;
}

static void gather_reports_first_failure_after_all_finish(void **state)
{
    (void)state;
    assert_rc(0, run_main(gather_first_failure, NULL, NULL));
}

static int gather_cancel_on_error(void *arg, void **result)
{
    conc_event_t never;
    struct timed_result fail = { CONC_MS(2), -1005, NULL, false, 0 };
    struct timed_result slow = { CONC_MS(10000), 0, NULL, false, 0 };
    struct event_waiter w = { .cleanup_ns = CONC_MS(1) };
    conc_task_t *t[3];
    int st[3];
    int64_t start = conc_now_ns();

    (void)arg;
    (void)result;
    conc_event_init(&never);
    w.event = &never;
    t[0] = spawn(wait_event, &w);
    t[1] = spawn(sleep_then_return, &fail);
    t[2] = spawn(sleep_then_return, &slow);
    assert_rc(-1005, conc_gather(t, 3, NULL, st, CONC_GATHER_CANCEL_ON_ERROR));
    assert_true(elapsed_since(start) < CONC_MS(5000));
    assert_rc(CONC_ECANCELED, w.wait_rc);
    assert_true(w.cleaned); /* awaited through its clean-up */
    assert_rc(0, w.cleanup_rc);
    assert_rc(CONC_ECANCELED, slow.sleep_rc);
    assert_rc(CONC_ECANCELED, st[0]);
    assert_rc(-1005, st[1]);
    assert_rc(CONC_ECANCELED, st[2]);
    assert_true(conc_task_cancelled(t[0]));
    assert_false(conc_task_cancelled(t[1]));
    assert_true(conc_task_cancelled(t[2]));
    for (int i = 0; i < 3; i++)
        assert_rc(st[i], conc_task_join(t[i], NULL, CONC_NOWAIT));
    conc_event_destroy(&never);
    return 0;
}

static void gather_cancel_on_error_cancels_the_others(void **state)
{
    (void)state;
    assert_rc(0, run_main(gather_cancel_on_error, NULL, NULL));
}

static int gather_edges(void *arg, void **result)
{
    conc_task_t *t[2] = { NULL, NULL };
    void *res[2];

    (void)arg;
    (void)result;
    assert_rc(0, conc_gather(NULL, 0, NULL, NULL, 0));
    assert_rc(0, conc_gather(NULL, 0, NULL, NULL, CONC_GATHER_CANCEL_ON_ERROR));
    assert_rc(CONC_EINVAL, conc_gather(NULL, 2, res, NULL, 0));
    t[0] = spawn(return_arg, NULL);
    assert_rc(CONC_EINVAL, conc_gather(t, 2, res, NULL, 0)); /* t[1] NULL */
    assert_rc(0, conc_gather(t, 1, NULL, NULL, 0));          /* no output arrays */
    assert_rc(0, conc_task_join(t[0], NULL, CONC_NOWAIT));
    return 0;
}

static void gather_of_no_tasks_and_null_arrays(void **state)
{
    (void)state;
    assert_rc(0, run_main(gather_edges, NULL, NULL));
}

/* ---- wait_for ------------------------------------------------------------------ */

static int wait_for_in_time(void *arg, void **result)
{
    struct timed_result r = { CONC_MS(5), -1007, &r, false, 0 };
    void *res = NULL;

    (void)arg;
    (void)result;
    conc_task_t *t = spawn(sleep_then_return, &r);
    assert_rc(-1007, conc_task_wait_for(t, &res, CONC_MS(5000)));
    assert_ptr_equal(res, &r);
    assert_false(conc_task_cancelled(t));
    res = NULL;
    assert_rc(-1007, conc_task_join(t, &res, CONC_NOWAIT)); /* not released */
    assert_ptr_equal(res, &r);
    return 0;
}

static void wait_for_returns_the_result_before_the_timeout(void **state)
{
    (void)state;
    assert_rc(0, run_main(wait_for_in_time, NULL, NULL));
}

static int wait_for_too_long(void *arg, void **result)
{
    conc_event_t never;
    struct event_waiter w = { .cleanup_ns = CONC_MS(20) };
    struct event_waiter catcher = { .swallow_cancel = true };
    void *res = NULL;

    (void)arg;
    (void)result;
    conc_event_init(&never);
    w.event = catcher.event = &never;
    catcher.result = &catcher;
    conc_task_t *t = spawn(wait_event, &w);
    int64_t start = conc_now_ns();
    assert_rc(CONC_ETIMEDOUT, conc_task_wait_for(t, &res, CONC_MS(10)));
    assert_true(elapsed_since(start) >= CONC_MS(10) + CONC_MS(20));
    assert_null(res);
    /* It finished its clean-up before wait_for returned. */
    assert_true(conc_task_done(t));
    assert_true(w.cleaned);
    assert_rc(0, w.cleanup_rc);
    assert_true(conc_task_cancelled(t));
    assert_rc(CONC_ECANCELED, conc_task_join(t, NULL, CONC_NOWAIT));

    /* A task that catches the cancel and returns a result: that result. */
    t = spawn(wait_event, &catcher);
    assert_rc(0, conc_task_wait_for(t, &res, CONC_MS(5)));
    assert_ptr_equal(res, &catcher);
    assert_true(catcher.cleaned);
    assert_false(conc_task_cancelled(t));
    assert_rc(0, conc_task_join(t, NULL, CONC_NOWAIT));
    conc_event_destroy(&never);
    return 0;
}

static void wait_for_timeout_cancels_the_task_and_awaits_its_cleanup(void **state)
{
    (void)state;
    assert_rc(0, run_main(wait_for_too_long, NULL, NULL));
}

struct outer_wait_for {
    conc_task_t *inner;
    int rc;
    bool inner_done_at_return;
};

static int outer_waits_for(void *arg, void **result)
{
    struct outer_wait_for *o = arg;

    (void)result;
    o->rc = conc_task_wait_for(o->inner, NULL, CONC_FOREVER);
    o->inner_done_at_return = conc_task_done(o->inner);
    return o->rc;
}

static int cancel_outer_wait_for(void *arg, void **result)
{
    conc_event_t never;
    struct event_waiter plain = { .cleanup_ns = CONC_MS(2) };
    struct event_waiter catcher = { .swallow_cancel = true };
    struct event_waiter *inners[2] = { &plain, &catcher };

    (void)arg;
    (void)result;
    conc_event_init(&never);
    for (int i = 0; i < 2; i++) {
        struct outer_wait_for o = { NULL, 0, false };
        inners[i]->event = &never;
        o.inner = spawn(wait_event, inners[i]);
        conc_task_t *outer = spawn(outer_waits_for, &o);
        yield_until_blocked(outer);
        yield_until_blocked(o.inner);
        assert_rc(0, conc_task_cancel(outer));
        assert_rc(CONC_ECANCELED, conc_task_join(outer, NULL, CONC_FOREVER));
        /* Never swallowed, even when the inner task returned a result. */
        assert_rc(CONC_ECANCELED, o.rc);
        assert_true(o.inner_done_at_return);
        assert_true(inners[i]->cleaned);
        assert_rc(i == 0 ? CONC_ECANCELED : 0, conc_task_join(o.inner, NULL, CONC_NOWAIT));
    }
    conc_event_destroy(&never);
    return 0;
}

static void wait_for_reports_the_callers_cancellation(void **state)
{
    (void)state;
    assert_rc(0, run_main(cancel_outer_wait_for, NULL, NULL));
}

static int wait_for_special_timeouts(void *arg, void **result)
{
    conc_event_t never;
    struct event_waiter w = { 0 };
    struct timed_result r = { CONC_MS(5), 3, &r, false, 0 };
    void *res = NULL;
    conc_task_t *t;

    (void)arg;
    (void)result;
    conc_event_init(&never);
    w.event = &never;
    /* Zero, on a blocked task: cancelled and awaited at once. */
    t = spawn(wait_event, &w);
    yield_until_blocked(t);
    assert_rc(CONC_ETIMEDOUT, conc_task_wait_for(t, &res, CONC_NOWAIT));
    assert_true(w.cleaned);
    assert_rc(CONC_ECANCELED, conc_task_join(t, NULL, CONC_NOWAIT));
    /* Zero, on a task that has not started: it never runs. */
    r.finished = false;
    t = spawn(sleep_then_return, &r);
    assert_rc(CONC_ETIMEDOUT, conc_task_wait_for(t, &res, CONC_NOWAIT));
    assert_false(r.finished);
    assert_rc(0, r.sleep_rc);
    assert_rc(CONC_ECANCELED, conc_task_join(t, NULL, CONC_NOWAIT));
    /* Zero, on a finished task: its outcome. */
    t = spawn(sleep_then_return, &r);
    assert_rc(0, conc_task_wait(t, CONC_FOREVER));
    assert_rc(3, conc_task_wait_for(t, &res, CONC_NOWAIT));
    assert_ptr_equal(res, &r);
    assert_rc(3, conc_task_join(t, NULL, CONC_NOWAIT));
    /* Negative and CONC_FOREVER: no limit. */
    int64_t forever[2] = { -12345, CONC_FOREVER };
    for (int i = 0; i < 2; i++) {
        r.finished = false;
        res = NULL;
        t = spawn(sleep_then_return, &r);
        assert_rc(3, conc_task_wait_for(t, &res, forever[i]));
        assert_true(r.finished);
        assert_ptr_equal(res, &r);
        assert_rc(3, conc_task_join(t, NULL, CONC_NOWAIT));
    }
    conc_event_destroy(&never);
    return 0;
}

static void wait_for_timeouts_zero_negative_and_forever(void **state)
{
    (void)state;
    assert_rc(0, run_main(wait_for_special_timeouts, NULL, NULL));
}

/* ---- wait_any -------------------------------------------------------------------- */

static int first_of_three(void *arg, void **result)
{
    conc_event_t ev;
    struct event_waiter w = { 0 };
    struct timed_result slow = { CONC_MS(200), 0, NULL, false, 0 };
    struct timed_result fast = { CONC_MS(5), 0, NULL, false, 0 };
    conc_task_t *t[3];
    size_t index = 99;

    (void)arg;
    (void)result;
    conc_event_init(&ev);
    w.event = &ev;
    t[0] = spawn(sleep_then_return, &slow);
    t[1] = spawn(sleep_then_return, &fast);
    t[2] = spawn(wait_event, &w);
    assert_rc(CONC_EINVAL, conc_task_wait_any(t, 0, &index, CONC_FOREVER));
    assert_rc(0, conc_task_wait_any(t, 3, &index, CONC_FOREVER));
    assert_int_equal(index, 1);
    /* The others go on, not cancelled. */
    assert_false(conc_task_done(t[0]));
    assert_false(conc_task_done(t[2]));
    assert_int_equal(conc_task_cancelling(t[0]), 0);
    assert_int_equal(conc_task_cancelling(t[2]), 0);
    /* Only the event waiter: time out, it goes on. */
    int64_t start = conc_now_ns();
    assert_rc(CONC_ETIMEDOUT, conc_task_wait_any(&t[2], 1, &index, CONC_MS(10)));
    assert_true(elapsed_since(start) >= CONC_MS(10));
    assert_rc(0, conc_task_wait(t[0], CONC_FOREVER));
    assert_true(slow.finished);
    /* Several finished: the lowest index. */
    assert_rc(0, conc_task_wait_any(t, 3, &index, CONC_NOWAIT));
    assert_int_equal(index, 0);
    assert_false(conc_task_done(t[2]));
    assert_rc(0, conc_event_set(&ev));
    assert_rc(0, conc_gather(t, 3, NULL, NULL, 0));
    for (int i = 0; i < 3; i++)
        assert_rc(0, conc_task_join(t[i], NULL, CONC_NOWAIT));
    conc_event_destroy(&ev);
    return 0;
}

static void wait_any_returns_the_first_finished_and_others_continue(void **state)
{
    (void)state;
    assert_rc(0, run_main(first_of_three, NULL, NULL));
}

struct nowait_rcs {
    int wait, join, wait_any;
};

static int wait_without_time(void *arg, void **result)
{
    struct nowait_rcs *rc = arg;
    conc_event_t ev;
    struct event_waiter w = { 0 };
    size_t index;

    (void)result;
    conc_event_init(&ev);
    w.event = &ev;
    conc_task_t *t = spawn(wait_event, &w);
    yield_until_blocked(t);
    rc->wait = conc_task_wait(t, CONC_NOWAIT);
    rc->join = conc_task_join(t, NULL, CONC_NOWAIT);
    rc->wait_any = conc_task_wait_any(&t, 1, &index, CONC_NOWAIT);
    assert_rc(0, conc_event_set(&ev));
    assert_rc(0, conc_task_join(t, NULL, CONC_FOREVER));
    conc_event_destroy(&ev);
    return 0;
}

/* task.h: wait_any's CONC_ETIMEDOUT is "as for conc_task_wait()". */
static void wait_any_without_time_times_out_like_task_wait(void **state)
{
    struct nowait_rcs rc = { 1, 1, 1 };

    (void)state;
    assert_rc(0, run_main(wait_without_time, &rc, NULL));
    assert_rc(CONC_ETIMEDOUT, rc.wait);
    assert_rc(CONC_ETIMEDOUT, rc.join);
    assert_rc(CONC_ETIMEDOUT, rc.wait_any);
}

/* ---- cancellation at every blocking point ------------------------------------ */

enum block_kind {
    BLOCK_SLEEP,
    BLOCK_JOIN,
    BLOCK_WAIT,
    BLOCK_GATHER,
    BLOCK_WAIT_FOR,
    BLOCK_WAIT_ANY,
    BLOCK_FD,
    BLOCK_QUEUE,
    BLOCK_MUTEX,
    BLOCK_EVENT,
    BLOCK_SEM,
    BLOCK_GROUP,
    BLOCK_TO_THREAD,
    BLOCK_FUTURE,
};

struct cancel_case {
    enum block_kind kind;
    conc_event_t never; /* what the target tasks wait on */
    struct event_waiter target_w[2];
    conc_task_t *targets[2];
    int pipefd[2];
    conc_queue_t queue;
    conc_mutex_t mutex;
    conc_sem_t sem;
    conc_taskgroup_t group;
    conc_future_t future;
    conc_event_t work_go, work_done;
    int rc;       /* the cancelled blocking call */
    int again_rc; /* a blocking call after handling the cancellation */
    int item;
    bool targets_done_at_return;
};

static int blocked_work(void *arg, void **result)
{
    struct cancel_case *c = arg;

    (void)result;
    assert_rc(0, conc_event_wait(&c->work_go, CONC_FOREVER));
    assert_rc(0, conc_event_set(&c->work_done));
    return 0;
}

static int do_block(struct cancel_case *c)
{
    size_t index;

    switch (c->kind) {
    case BLOCK_SLEEP:
        return conc_task_sleep(CONC_MS(10000));
    case BLOCK_JOIN:
        return conc_task_join(c->targets[0], NULL, CONC_FOREVER);
    case BLOCK_WAIT:
        return conc_task_wait(c->targets[0], CONC_FOREVER);
    case BLOCK_GATHER:
        return conc_gather(c->targets, 2, NULL, NULL, 0);
    case BLOCK_WAIT_FOR:
        return conc_task_wait_for(c->targets[0], NULL, CONC_FOREVER);
    case BLOCK_WAIT_ANY:
        return conc_task_wait_any(c->targets, 2, &index, CONC_FOREVER);
    case BLOCK_FD:
        return conc_wait_fd(c->pipefd[0], CONC_READABLE, CONC_FOREVER);
    case BLOCK_QUEUE:
        return conc_queue_get(&c->queue, &c->item, CONC_FOREVER);
    case BLOCK_MUTEX:
        return conc_mutex_lock(&c->mutex);
    case BLOCK_EVENT:
        return conc_event_wait(&c->never, CONC_FOREVER);
    case BLOCK_SEM:
        return conc_sem_acquire(&c->sem, CONC_FOREVER);
    case BLOCK_GROUP:
        return conc_taskgroup_wait(&c->group);
    case BLOCK_TO_THREAD:
        return conc_task_to_thread(blocked_work, c, NULL);
    case BLOCK_FUTURE:
        return conc_future_result(&c->future, NULL, CONC_FOREVER);
    }
    return CONC_EINVAL;
}

static int victim(void *arg, void **result)
{
    struct cancel_case *c = arg;

    (void)result;
    c->rc = do_block(c);
    c->targets_done_at_return = conc_task_done(c->targets[0]) && conc_task_done(c->targets[1]);
    /* One request, one delivery: blocking again to clean up works. */
    c->again_rc = conc_task_sleep(CONC_US(100));
    return c->rc;
}

static void setup_case(struct cancel_case *c)
{
    conc_event_init(&c->never);
    for (int i = 0; i < 2; i++) {
        c->target_w[i] = (struct event_waiter){ .event = &c->never };
        if (c->kind == BLOCK_GROUP)
            assert_rc(0, conc_taskgroup_spawn(&c->group, NULL, wait_event, &c->target_w[i],
                                              &c->targets[i]));
        else
            c->targets[i] = spawn(wait_event, &c->target_w[i]);
    }
    switch (c->kind) {
    case BLOCK_FD:
        assert_rc(0, pipe(c->pipefd));
        break;
    case BLOCK_QUEUE:
        assert_rc(0, conc_queue_init(&c->queue, sizeof(int), 4, NULL));
        break;
    case BLOCK_MUTEX:
        assert_rc(0, conc_mutex_init(&c->mutex));
        assert_rc(0, conc_mutex_lock(&c->mutex)); /* held by the controller */
        break;
    case BLOCK_SEM:
        assert_rc(0, conc_sem_init(&c->sem, 0));
        break;
    case BLOCK_TO_THREAD:
        conc_event_init(&c->work_go);
        conc_event_init(&c->work_done);
        break;
    case BLOCK_FUTURE:
        assert_rc(0, conc_future_init(&c->future));
        break;
    default:
        break;
    }
}

/* What the cancelled call left behind, as each module documents. */
static void check_case(struct cancel_case *c)
{
    int item = 5;

    switch (c->kind) {
    case BLOCK_JOIN: /* `await t`: t is cancelled too */
    case BLOCK_WAIT_FOR:
        assert_true(conc_task_done(c->targets[0]));
        assert_true(conc_task_cancelled(c->targets[0]));
        assert_false(conc_task_done(c->targets[1]));
        break;
    case BLOCK_GATHER: /* all cancelled and awaited */
    case BLOCK_GROUP:
        assert_true(c->targets_done_at_return);
        assert_true(conc_task_cancelled(c->targets[0]));
        assert_true(conc_task_cancelled(c->targets[1]));
        break;
    case BLOCK_WAIT: /* shield: the task runs on */
    case BLOCK_WAIT_ANY:
        assert_false(conc_task_done(c->targets[0]));
        assert_false(conc_task_done(c->targets[1]));
        assert_int_equal(conc_task_cancelling(c->targets[0]), 0);
        assert_int_equal(conc_task_cancelling(c->targets[1]), 0);
        break;
    case BLOCK_FD: /* the loop let go of the descriptor: a new wait works */
        assert_int_equal(write(c->pipefd[1], "x", 1), 1);
        assert_rc(CONC_READABLE, conc_wait_fd(c->pipefd[0], CONC_READABLE, CONC_FOREVER));
        close(c->pipefd[0]);
        close(c->pipefd[1]);
        break;
    case BLOCK_QUEUE: /* took no item */
        assert_int_equal(c->item, 0);
        assert_rc(0, conc_queue_put(&c->queue, &item, CONC_NOWAIT));
        assert_int_equal(conc_queue_qsize(&c->queue), 1);
        assert_rc(0, conc_queue_destroy(&c->queue));
        break;
    case BLOCK_MUTEX: /* does not own it: still ours */
        assert_true(conc_mutex_owned_by_me(&c->mutex));
        assert_rc(0, conc_mutex_unlock(&c->mutex));
        assert_false(conc_mutex_locked(&c->mutex));
        assert_rc(0, conc_mutex_destroy(&c->mutex));
        break;
    case BLOCK_SEM: /* holds no permit */
        assert_int_equal(conc_sem_value(&c->sem), 0);
        assert_rc(0, conc_sem_release(&c->sem, 1));
        assert_int_equal(conc_sem_value(&c->sem), 1);
        assert_rc(0, conc_sem_destroy(&c->sem));
        break;
    case BLOCK_TO_THREAD: /* the work runs on; its result is dropped */
        assert_false(conc_event_is_set(&c->work_done));
        assert_rc(0, conc_event_set(&c->work_go));
        assert_rc(0, conc_event_wait(&c->work_done, CONC_FOREVER));
        break;
    case BLOCK_FUTURE:
        assert_false(conc_future_done(&c->future));
        break;
    default:
        break;
    }
}

static void finish_case(struct cancel_case *c)
{
    assert_rc(0, conc_event_set(&c->never));
    if (c->kind == BLOCK_GROUP) {
        /* Cancelled members are not failures. */
        assert_rc(0, conc_taskgroup_wait(&c->group));
        assert_rc(0, conc_taskgroup_destroy(&c->group));
    } else {
        for (int i = 0; i < 2; i++) {
            int rc = conc_task_join(c->targets[i], NULL, CONC_FOREVER);
            assert_true(rc == 0 || rc == CONC_ECANCELED);
        }
    }
    if (c->kind == BLOCK_FUTURE)
        assert_rc(0, conc_future_destroy(&c->future));
}

static int cancel_controller(void *arg, void **result)
{
    struct cancel_case *c = arg;

    (void)result;
    if (c->kind == BLOCK_GROUP)
        assert_rc(0, conc_taskgroup_init(&c->group, conc_loop_current()));
    setup_case(c);
    conc_task_t *v = spawn_named("victim", victim, c);
    yield_until_blocked(v);
    assert_rc(0, conc_task_cancel(v));
    assert_int_equal(conc_task_cancelling(v), 1);
    assert_rc(0, conc_task_wait(v, CONC_MS(5000)));
    assert_int_equal(conc_task_cancelling(v), 0);
    assert_rc(CONC_ECANCELED, c->rc);
    assert_rc(0, c->again_rc);
    assert_true(conc_task_cancelled(v));
    assert_rc(1, conc_task_cancel(v)); /* finished: a no-op */
    assert_rc(CONC_ECANCELED, conc_task_join(v, NULL, CONC_NOWAIT));
    check_case(c);
    finish_case(c);
    return 0;
}

static void cancel_at(enum block_kind kind)
{
    static struct cancel_case c; /* the pool's work may outlive a frame */

    memset(&c, 0, sizeof c);
    c.kind = kind;
    assert_rc(0, run_main(cancel_controller, &c, NULL));
}

static void cancel_interrupts_task_sleep(void **state)
{
    (void)state;
    cancel_at(BLOCK_SLEEP);
}

static void cancel_interrupts_join_and_cancels_the_joined_task(void **state)
{
    (void)state;
    cancel_at(BLOCK_JOIN);
}

static void cancel_interrupts_wait_and_the_waited_task_runs_on(void **state)
{
    (void)state;
    cancel_at(BLOCK_WAIT);
}

static void cancel_interrupts_gather_after_cancelling_all(void **state)
{
    (void)state;
    cancel_at(BLOCK_GATHER);
}

static void cancel_interrupts_wait_for_after_cancelling_the_task(void **state)
{
    (void)state;
    cancel_at(BLOCK_WAIT_FOR);
}

static void cancel_interrupts_wait_any_and_tasks_run_on(void **state)
{
    (void)state;
    cancel_at(BLOCK_WAIT_ANY);
}

static void cancel_interrupts_wait_fd_on_a_pipe(void **state)
{
    (void)state;
    cancel_at(BLOCK_FD);
}

static void cancel_interrupts_queue_get_on_empty_queue(void **state)
{
    (void)state;
    cancel_at(BLOCK_QUEUE);
}

static void cancel_interrupts_mutex_lock_of_held_mutex(void **state)
{
    (void)state;
    cancel_at(BLOCK_MUTEX);
}

static void cancel_interrupts_event_wait(void **state)
{
    (void)state;
    cancel_at(BLOCK_EVENT);
}

static void cancel_interrupts_sem_acquire(void **state)
{
    (void)state;
    cancel_at(BLOCK_SEM);
}

static void cancel_interrupts_taskgroup_wait_after_cancelling_members(void **state)
{
    (void)state;
    cancel_at(BLOCK_GROUP);
}

static void cancel_interrupts_to_thread_and_the_work_runs_on(void **state)
{
    (void)state;
    cancel_at(BLOCK_TO_THREAD);
}

static void cancel_interrupts_future_result(void **state)
{
    (void)state;
    cancel_at(BLOCK_FUTURE);
}

struct yield_cancel {
    int first, second;
};

static int yield_twice(void *arg, void **result)
{
    struct yield_cancel *y = arg;

    (void)result;
    y->first = conc_task_yield();  /* cancelled while it was ready */
    y->second = conc_task_yield(); /* the request was consumed */
    return 0;
}

static int cancel_yields(void *arg, void **result)
{
    struct yield_cancel y = { 1, 1 };

    (void)arg;
    (void)result;
    /* A pending request on oneself: the next yield reports it, once. */
    assert_rc(0, conc_task_cancel(conc_task_current()));
    assert_rc(CONC_ECANCELED, conc_task_yield());
    assert_rc(0, conc_task_yield());
    /* A request made while the other task is ready after its yield. */
    conc_task_t *t = spawn(yield_twice, &y);
    assert_rc(0, conc_task_yield()); /* t runs and yields */
    assert_int_equal(conc_task_state(t), CONC_TASK_READY);
    assert_rc(0, conc_task_cancel(t));
    assert_rc(0, conc_task_join(t, NULL, CONC_FOREVER));
    assert_rc(CONC_ECANCELED, y.first);
    assert_rc(0, y.second);
    return 0;
}

static void cancel_is_reported_by_yield_once(void **state)
{
    (void)state;
    assert_rc(0, run_main(cancel_yields, NULL, NULL));
}

struct two_requests {
    int rc[3];
};

static int sleep_three_times(void *arg, void **result)
{
    struct two_requests *r = arg;

    (void)result;
    for (int i = 0; i < 3; i++)
        r->rc[i] = conc_task_sleep(i < 2 ? CONC_MS(10000) : CONC_US(100));
    return 0;
}

static int cancel_twice(void *arg, void **result)
{
    struct two_requests r = { { 1, 1, 1 } };

    (void)arg;
    (void)result;
    conc_task_t *t = spawn(sleep_three_times, &r);
    yield_until_blocked(t);
    assert_rc(0, conc_task_cancel(t));
    assert_rc(0, conc_task_cancel(t));
    assert_int_equal(conc_task_cancelling(t), 2);
    /* A task that handles its cancellations and returns 0 is not cancelled. */
    assert_rc(0, conc_task_join(t, NULL, CONC_FOREVER));
    assert_rc(CONC_ECANCELED, r.rc[0]);
    assert_rc(CONC_ECANCELED, r.rc[1]);
    assert_rc(0, r.rc[2]);
    return 0;
}

static void each_cancel_request_is_delivered_once(void **state)
{
    (void)state;
    assert_rc(0, run_main(cancel_twice, NULL, NULL));
}

struct shielded {
    conc_task_t *inner;
    int rc;
};

static int wait_shielded(void *arg, void **result)
{
    struct shielded *s = arg;

    (void)result;
    s->rc = conc_task_wait(s->inner, CONC_FOREVER);
    return s->rc;
}

static int shield_inner(void *arg, void **result)
{
    conc_event_t ev;
    struct event_waiter w = { 0 };
    struct shielded s = { NULL, 1 };
    void *res = NULL;

    (void)arg;
    (void)result;
    conc_event_init(&ev);
    w.event = &ev;
    w.result = &w;
    s.inner = spawn(wait_event, &w);
    conc_task_t *outer = spawn(wait_shielded, &s);
    yield_until_blocked(outer);
    assert_rc(0, conc_task_cancel(outer));
    assert_rc(CONC_ECANCELED, conc_task_join(outer, NULL, CONC_FOREVER));
    assert_rc(CONC_ECANCELED, s.rc);
    /* The inner task was not touched: it finishes normally later. */
    assert_int_equal(conc_task_cancelling(s.inner), 0);
    assert_false(conc_task_done(s.inner));
    assert_rc(0, conc_event_set(&ev));
    assert_rc(0, conc_task_join(s.inner, &res, CONC_FOREVER));
    assert_rc(0, w.wait_rc);
    assert_ptr_equal(res, &w);
    conc_event_destroy(&ev);
    return 0;
}

static void shield_wait_keeps_the_inner_task_from_the_outer_cancel(void **state)
{
    (void)state;
    assert_rc(0, run_main(shield_inner, NULL, NULL));
}

/* ---- task groups ------------------------------------------------------------------ */

static int group_all_succeed(void *arg, void **result)
{
    conc_taskgroup_t g;
    struct timed_result r[5];
    conc_task_t *t[5];
    void *res;

    (void)arg;
    (void)result;
    assert_rc(0, conc_taskgroup_init(&g, conc_loop_current()));
    assert_rc(CONC_EINVAL, conc_taskgroup_spawn(&g, NULL, NULL, NULL, NULL));
    for (int i = 0; i < 5; i++) {
        r[i] = (struct timed_result){ CONC_MS(i), 0, &r[i], false, 0 };
        assert_rc(0, conc_taskgroup_spawn(&g, NULL, sleep_then_return, &r[i], &t[i]));
    }
    assert_rc(0, conc_taskgroup_spawn(&g, NULL, return_arg, NULL, NULL)); /* no handle */
    assert_rc(CONC_EBUSY, conc_taskgroup_destroy(&g));
    assert_rc(0, conc_taskgroup_wait(&g));
    for (int i = 0; i < 5; i++) {
        assert_true(r[i].finished);
        assert_rc(0, conc_task_result(t[i], &res));
        assert_ptr_equal(res, &r[i]);
    }
    assert_rc(CONC_ECLOSED, conc_taskgroup_spawn(&g, NULL, return_arg, NULL, NULL));
    assert_rc(0, conc_taskgroup_wait(&g)); /* again: still the outcome */
    assert_rc(0, conc_taskgroup_destroy(&g));
    /* Destroyed: nothing left to spawn into. */
    assert_rc(CONC_EINVAL, conc_taskgroup_spawn(&g, NULL, return_arg, NULL, NULL));
    assert_rc(CONC_EINVAL, conc_taskgroup_destroy(&g));
    return 0;
}

static void taskgroup_waits_for_all_its_tasks(void **state)
{
    (void)state;
    assert_rc(0, run_main(group_all_succeed, NULL, NULL));
}

static int group_first_failure(void *arg, void **result)
{
    conc_taskgroup_t g;
    conc_event_t never;
    struct event_waiter w = { .cleanup_ns = CONC_MS(1) };
    struct timed_result fail = { CONC_MS(2), -1009, NULL, false, 0 };
    struct timed_result slow = { CONC_MS(10000), 0, NULL, false, 0 };
    struct timed_result late_fail = { CONC_MS(10000), -1010, NULL, false, 0 };
    conc_task_t *tw, *tf, *ts, *tl;
    int64_t start = conc_now_ns();

    (void)arg;
    (void)result;
    conc_event_init(&never);
    w.event = &never;
    assert_rc(0, conc_taskgroup_init(&g, conc_loop_current()));
    assert_rc(0, conc_taskgroup_spawn(&g, NULL, wait_event, &w, &tw));
    assert_rc(0, conc_taskgroup_spawn(&g, NULL, sleep_then_return, &slow, &ts));
    assert_rc(0, conc_taskgroup_spawn(&g, NULL, sleep_then_return, &fail, &tf));
    /* would fail later, but is cancelled first: CONC_ECANCELED, not a failure */
    assert_rc(0, conc_taskgroup_spawn(&g, NULL, sleep_then_return, &late_fail, &tl));
    assert_rc(0, conc_task_wait(tf, CONC_FOREVER));
    /* The failure closed the group at once. */
    assert_rc(CONC_ECLOSED, conc_taskgroup_spawn(&g, NULL, return_arg, NULL, NULL));
    assert_rc(-1009, conc_taskgroup_wait(&g));
    assert_true(elapsed_since(start) < CONC_MS(5000));
    assert_rc(CONC_ECANCELED, w.wait_rc);
    assert_true(w.cleaned);
    assert_rc(CONC_ECANCELED, slow.sleep_rc);
    assert_true(conc_task_cancelled(tw));
    assert_true(conc_task_cancelled(ts));
    assert_rc(CONC_ECANCELED, late_fail.sleep_rc);
    assert_true(conc_task_cancelled(tl));
    assert_false(conc_task_cancelled(tf));
    assert_rc(-1009, conc_task_result(tf, NULL));
    assert_rc(CONC_ECLOSED, conc_taskgroup_spawn(&g, NULL, return_arg, NULL, NULL));
    assert_rc(0, conc_taskgroup_destroy(&g));
    conc_event_destroy(&never);
    return 0;
}

static void taskgroup_first_failure_cancels_the_rest(void **state)
{
    (void)state;
    assert_rc(0, run_main(group_first_failure, NULL, NULL));
}

/* ---- many tasks --------------------------------------------------------------------- */

/* TSan allows about 8128 fibers alive and makes each task cost milliseconds;
 * ASan maps memory per stack: fewer alive at a time, and fewer under TSan.
 * A 32-bit process has 3-4 GB of address space: 100,000 stacks of 64 KiB
 * alive at once do not fit, so there 2,000 at a time. */
#define HERD_TOTAL (UNDER_TSAN ? 4000L : 100000L)
#define HERD_BATCH \
    (UNDER_TSAN ? 1000L : UNDER_ASAN ? 10000L : sizeof(void *) < 8 ? 2000L : HERD_TOTAL)

struct herd {
    long started; /* only touched on the loop's thread */
    long counter;
    long remaining; /* of the current batch */
    conc_event_t batch_done;
};

static int herd_member(void *arg, void **result)
{
    struct herd *h = arg;

    (void)result;
    if (h->started++ & 1)
        assert_rc(0, conc_task_yield());
    else
        assert_rc(0, conc_task_sleep(CONC_US(100)));
    h->counter++;
    if (--h->remaining == 0)
        assert_rc(0, conc_event_set(&h->batch_done));
    return 0;
}

static int herd_main(void *arg, void **result)
{
    struct herd *h = arg;
    conc_task_attr_t a = CONC_TASK_ATTR_INIT;

    (void)result;
    a.stack_size = UNDER_TSAN ? CONC_CORO_STACK_MIN : 0;
    for (long done = 0; done < HERD_TOTAL; done += HERD_BATCH) {
        conc_event_clear(&h->batch_done);
        h->remaining = HERD_BATCH;
        for (long i = 0; i < HERD_BATCH; i++)
            assert_rc(0, conc_task_spawn(conc_loop_current(), &a, herd_member, h, NULL));
        assert_int_equal(conc_loop_tasks(conc_loop_current(), NULL, 0), HERD_BATCH + 1);
        assert_rc(0, conc_event_wait(&h->batch_done, CONC_FOREVER));
        assert_int_equal(h->counter, done + HERD_BATCH);
    }
    return 0;
}

static void loop_runs_100000_tasks(void **state)
{
    struct herd h = { 0 };

    (void)state;
    conc_event_init(&h.batch_done);
    assert_rc(0, run_main(herd_main, &h, NULL));
    assert_int_equal(h.started, HERD_TOTAL);
    assert_int_equal(h.counter, HERD_TOTAL);
    conc_event_destroy(&h.batch_done);
}

/* ---- deadlock detection and the dump --------------------------------------------- */

static void deadlock_is_detected_and_dumped(void **state)
{
    conc_loop_t loop;
    conc_event_t ev_a, ev_b;
    struct event_waiter wa = { 0 }, wb = { 0 };
    conc_task_attr_t a = CONC_TASK_ATTR_INIT;
    conc_task_t *ta, *tb;
    char buf[1024], small[8];

    (void)state;
    conc_event_init(&ev_a);
    conc_event_init(&ev_b);
    wa.event = &ev_a;
    wb.event = &ev_b;
    assert_rc(0, conc_loop_init(&loop, NULL));
    a.name = "waiter-a";
    assert_rc(0, conc_task_spawn(&loop, &a, wait_event, &wa, &ta));
    a.name = "waiter-b";
    assert_rc(0, conc_task_spawn(&loop, &a, wait_event, &wb, &tb));
    int64_t start = conc_now_ns();
    assert_rc(CONC_EDEADLK, conc_loop_run_until_complete(&loop, ta, NULL));
    assert_true(elapsed_since(start) < LATE_NS);
    assert_false(conc_task_done(ta)); /* not released */

    int len = conc_loop_dump(&loop, buf, sizeof buf);
    assert_true(len > 0 && (size_t)len < sizeof buf);
    assert_int_equal(strlen(buf), (size_t)len);
    assert_non_null(strstr(buf, "waiter-a: blocked, waits on event\n"));
    assert_non_null(strstr(buf, "waiter-b: blocked, waits on event\n"));
    /* snprintf-like: the full length, the text cut and terminated. */
    assert_rc(len, conc_loop_dump(&loop, small, sizeof small));
    assert_int_equal(strlen(small), sizeof small - 1);
    assert_rc(len, conc_loop_dump(&loop, NULL, 0));
    assert_rc(CONC_EINVAL, conc_loop_dump(&loop, NULL, 10));

    assert_rc(0, conc_event_set(&ev_a));
    assert_rc(0, conc_event_set(&ev_b));
    assert_rc(0, conc_loop_run_until_complete(&loop, ta, NULL));
    assert_rc(0, conc_loop_run_until_complete(&loop, tb, NULL));
    assert_rc(0, conc_loop_dump(&loop, buf, sizeof buf));
    assert_string_equal(buf, "");
    assert_rc(0, conc_loop_destroy(&loop));
    conc_event_destroy(&ev_a);
    conc_event_destroy(&ev_b);
}

struct feeder {
    conc_queue_t *queue;
    int item;
};

static void *feed_later(void *arg)
{
    struct feeder *f = arg;

    assert_rc(0, conc_sleep(CONC_MS(50)));
    assert_rc(0, conc_queue_put(f->queue, &f->item, CONC_FOREVER));
    return NULL;
}

static int get_one(void *arg, void **result)
{
    conc_queue_t *q = arg;
    int item = 0;
    int rc = conc_queue_get(q, &item, CONC_FOREVER);

    *result = (void *)(intptr_t)item;
    return rc;
}

static void queue_filled_by_a_thread_is_not_a_deadlock(void **state)
{
    conc_loop_t loop;
    conc_queue_t q;
    conc_thread_t th;
    struct feeder f = { &q, 77 };
    conc_task_t *t;
    void *res = NULL;

    (void)state;
    assert_rc(0, conc_queue_init(&q, sizeof(int), 1, NULL));
    assert_rc(0, conc_loop_init(&loop, NULL));
    assert_rc(0, conc_task_spawn(&loop, NULL, get_one, &q, &t));
    int64_t start = conc_now_ns();
    assert_rc(0, conc_thread_create(&th, NULL, feed_later, &f));
    assert_rc(0, conc_loop_run_until_complete(&loop, t, &res));
    assert_true(elapsed_since(start) >= CONC_MS(50));
    assert_int_equal((intptr_t)res, 77);
    assert_rc(0, conc_thread_join(&th, NULL, CONC_FOREVER));
    assert_rc(0, conc_loop_destroy(&loop));
    assert_rc(0, conc_queue_destroy(&q));
}

/* ---- bridges ---------------------------------------------------------------------- */

struct offload {
    conc_event_t go;
    int progress; /* written by the ticker task before go is set */
    int progress_seen;
};

static int blocking_work(void *arg, void **result)
{
    struct offload *o = arg;

    assert_rc(0, conc_event_wait(&o->go, CONC_FOREVER)); /* blocks a pool thread */
    o->progress_seen = o->progress;
    *result = o;
    return -21;
}

static int ticker(void *arg, void **result)
{
    struct offload *o = arg;

    (void)result;
    for (int i = 0; i < 3; i++) {
        o->progress++;
        assert_rc(0, conc_task_yield());
    }
    assert_rc(0, conc_event_set(&o->go));
    return 0;
}

static int offload_main(void *arg, void **result)
{
    struct offload *o = arg;
    void *res = NULL;

    (void)result;
    conc_task_t *t = spawn(ticker, o);
    assert_rc(-21, conc_task_to_thread(blocking_work, o, &res));
    assert_ptr_equal(res, o);
    assert_rc(0, conc_task_join(t, NULL, CONC_FOREVER));
    return 0;
}

static int plain_work(void *arg, void **result)
{
    *result = arg;
    return 0;
}

static void to_thread_runs_in_the_pool_while_the_loop_goes_on(void **state)
{
    struct offload o = { .progress = 0 };
    void *res = NULL;

    (void)state;
    conc_event_init(&o.go);
    assert_rc(0, run_main(offload_main, &o, NULL));
    /* The work could only go on once the ticker had run three times. */
    assert_int_equal(o.progress_seen, 3);
    /* From a plain thread it simply waits. */
    assert_rc(0, conc_task_to_thread(plain_work, &o, &res));
    assert_ptr_equal(res, &o);
    conc_event_destroy(&o.go);
}

static void *run_loop_forever(void *arg)
{
    assert_rc(0, conc_loop_run_forever(arg));
    return NULL;
}

struct remote {
    char name[32];
    conc_loop_t *loop;
    bool ran;
};

static int remote_body(void *arg, void **result)
{
    struct remote *r = arg;
    conc_task_t *me = conc_task_current();

    assert_non_null(me);
    assert_ptr_equal(conc_loop_current(), r->loop);
    snprintf(r->name, sizeof r->name, "%s", conc_task_name(me));
    assert_rc(0, conc_task_sleep(CONC_MS(1))); /* a real task: it can block */
    r->ran = true;
    *result = r;
    return 0;
}

static int remote_failure(void *arg, void **result)
{
    (void)arg;
    (void)result;
    return -77;
}

static void run_threadsafe_returns_the_result_through_the_future(void **state)
{
    conc_loop_t loop;
    conc_thread_t th;
    conc_future_t f;
    conc_task_attr_t a = CONC_TASK_ATTR_INIT;
    char name[32] = "remote-task";
    struct remote r = { "", NULL, false };
    void *res = NULL;
    conc_task_t *t;

    (void)state;
    assert_rc(0, conc_loop_init(&loop, NULL));
    r.loop = &loop;
    assert_rc(CONC_EINVAL, conc_task_run_threadsafe(&loop, NULL, NULL, NULL, &f));
    assert_rc(CONC_EINVAL, conc_task_run_threadsafe(&loop, NULL, remote_body, &r, NULL));
    assert_rc(0, conc_thread_create(&th, NULL, run_loop_forever, &loop));
    a.name = name;
    assert_rc(0, conc_task_run_threadsafe(&loop, &a, remote_body, &r, &f));
    strcpy(name, "changed"); /* the name was copied */
    assert_rc(0, conc_future_result(&f, &res, CONC_FOREVER));
    assert_ptr_equal(res, &r);
    assert_true(r.ran);
    assert_string_equal(r.name, "remote-task");
    assert_rc(0, conc_future_destroy(&f));

    assert_rc(0, conc_task_run_threadsafe(&loop, NULL, remote_failure, NULL, &f));
    assert_rc(-77, conc_future_result(&f, &res, CONC_FOREVER));
    assert_rc(0, conc_future_destroy(&f));

    /* The loop runs on another thread: spawning from here is refused. */
    assert_rc(CONC_EPERM, conc_task_spawn(&loop, NULL, return_arg, NULL, &t));
    assert_rc(0, conc_loop_stop(&loop));
    assert_rc(0, conc_thread_join(&th, NULL, CONC_FOREVER));
    assert_rc(0, conc_loop_tasks(&loop, NULL, 0));
    assert_rc(0, conc_loop_destroy(&loop));
}

static void run_threadsafe_cancelled_future_never_starts_the_task(void **state)
{
    conc_loop_t loop;
    conc_future_t f;
    struct remote r = { "", NULL, false };

    (void)state;
    assert_rc(0, conc_loop_init(&loop, NULL));
    r.loop = &loop;
    assert_rc(0, conc_task_run_threadsafe(&loop, NULL, remote_body, &r, &f));
    assert_rc(0, conc_future_cancel(&f));
    for (int i = 0; i < 5; i++)
        assert_rc(0, conc_loop_run_once(&loop, 0));
    assert_false(r.ran);
    assert_rc(0, conc_loop_tasks(&loop, NULL, 0));
    assert_rc(CONC_ECANCELED, conc_future_result(&f, NULL, CONC_NOWAIT));
    assert_true(conc_future_cancelled(&f));
    assert_rc(0, conc_future_destroy(&f));
    assert_rc(0, conc_loop_destroy(&loop));
}

/* ---- the dump, cancel from a thread, late deadlocks ------------------------------ */

struct dumped {
    int pipefd[2];
    conc_queue_t queue;
    conc_mutex_t mutex;
    conc_task_t *getter;
};

static int dump_sleeper(void *arg, void **result)
{
    (void)arg;
    (void)result;
    return conc_task_sleep(CONC_MS(10000));
}

static int dump_reader(void *arg, void **result)
{
    struct dumped *d = arg;

    (void)result;
    return conc_wait_fd(d->pipefd[0], CONC_READABLE, CONC_FOREVER);
}

static int dump_getter(void *arg, void **result)
{
    struct dumped *d = arg;
    int item;

    (void)result;
    return conc_queue_get(&d->queue, &item, CONC_FOREVER);
}

static int dump_joiner(void *arg, void **result)
{
    struct dumped *d = arg;

    (void)result;
    return conc_task_join(d->getter, NULL, CONC_FOREVER);
}

static int dump_locker(void *arg, void **result)
{
    struct dumped *d = arg;

    (void)result;
    return conc_mutex_lock(&d->mutex);
}

static void loop_dump_says_what_each_task_waits_on(void **state)
{
    conc_loop_t loop;
    struct dumped d;
    conc_task_attr_t a = CONC_TASK_ATTR_INIT;
    conc_task_t *t[6];
    static const char *const names[6] = {
        "sleeper", "reader", "getter", "joiner", "locker", "fresh"
    };
    static const conc_task_fn fns[6] = { dump_sleeper, dump_reader, dump_getter,
                                         dump_joiner,  dump_locker, dump_sleeper };
    char buf[1024], line[64];

    (void)state;
    assert_rc(0, pipe(d.pipefd));
    assert_rc(0, conc_queue_init(&d.queue, sizeof(int), 1, NULL));
    assert_rc(0, conc_mutex_init(&d.mutex));
    assert_rc(0, conc_mutex_lock(&d.mutex)); /* held by this thread */
    assert_rc(0, conc_loop_init(&loop, NULL));
    for (int i = 0; i < 5; i++) {
        a.name = names[i];
        assert_rc(0, conc_task_spawn(&loop, &a, fns[i], &d, &t[i]));
        if (i == 2)
            d.getter = t[2];
    }
    assert_rc(0, conc_loop_run_once(&loop, 0)); /* each runs until it blocks */
    a.name = names[5];
    assert_rc(0, conc_task_spawn(&loop, &a, fns[5], &d, &t[5]));
    int len = conc_loop_dump(&loop, buf, sizeof buf);
    assert_int_equal(strlen(buf), (size_t)len);
    assert_non_null(strstr(buf, "sleeper: blocked, waits on sleep with a timeout\n"));
    snprintf(line, sizeof line, "reader: blocked, waits on fd readable (fd %d)\n", d.pipefd[0]);
    assert_non_null(strstr(buf, line));
    assert_non_null(strstr(buf, "getter: blocked, waits on queue get\n"));
    assert_non_null(strstr(buf, "joiner: blocked, waits on another task\n"));
    assert_non_null(strstr(buf, "locker: blocked, waits on mutex\n"));
    assert_non_null(strstr(buf, "fresh: ready\n"));
    assert_rc(0, conc_task_cancel(t[5]));
    assert_rc(0, conc_loop_dump(&loop, buf, sizeof buf) - len - (int)strlen(", cancel requested"));
    assert_non_null(strstr(buf, "fresh: ready, cancel requested\n"));

    /* Clean up: every one of them ends cancelled. The joiner first: its
     * cancelled join cancels the getter too. */
    assert_rc(0, conc_task_cancel(t[3]));
    assert_rc(CONC_ECANCELED, conc_loop_run_until_complete(&loop, t[3], NULL));
    assert_int_equal(conc_task_cancelling(t[2]), 1);
    for (int i = 0; i < 5; i++)
        if (i != 2 && i != 3)
            assert_rc(0, conc_task_cancel(t[i]));
    for (int i = 0; i < 6; i++)
        if (i != 3)
            assert_rc(CONC_ECANCELED, conc_loop_run_until_complete(&loop, t[i], NULL));
    assert_rc(0, conc_loop_destroy(&loop));
    assert_rc(0, conc_mutex_unlock(&d.mutex));
    assert_rc(0, conc_mutex_destroy(&d.mutex));
    assert_rc(0, conc_queue_destroy(&d.queue));
    close(d.pipefd[0]);
    close(d.pipefd[1]);
}

struct remote_cancel {
    conc_loop_t loop;
    conc_task_t *task;
    conc_event_t started, never;
    int wait_rc, run_rc;
};

static int announce_then_wait(void *arg, void **result)
{
    struct remote_cancel *rc = arg;

    (void)result;
    assert_rc(0, conc_event_set(&rc->started));
    rc->wait_rc = conc_event_wait(&rc->never, CONC_FOREVER);
    return rc->wait_rc;
}

static void *run_until_task_done(void *arg)
{
    struct remote_cancel *rc = arg;

    rc->run_rc = conc_loop_run_until_complete(&rc->loop, rc->task, NULL);
    return NULL;
}

/* docs/task.md: "From another thread than the loop's, the request travels
 * through the loop's thread-safe queue." */
static void cancel_from_another_thread_reaches_the_task(void **state)
{
    static struct remote_cancel rc;
    conc_thread_t th;

    (void)state;
    memset(&rc, 0, sizeof rc);
    conc_event_init(&rc.started);
    conc_event_init(&rc.never);
    assert_rc(0, conc_loop_init(&rc.loop, NULL));
    assert_rc(0, conc_task_spawn(&rc.loop, NULL, announce_then_wait, &rc, &rc.task));
    assert_rc(0, conc_thread_create(&th, NULL, run_until_task_done, &rc));
    assert_rc(0, conc_event_wait(&rc.started, CONC_FOREVER));
    assert_rc(0, conc_task_cancel(rc.task));
    assert_rc(0, conc_thread_join(&th, NULL, CONC_FOREVER));
    assert_rc(CONC_ECANCELED, rc.wait_rc);
    assert_rc(CONC_ECANCELED, rc.run_rc); /* its status; the task is released */
    assert_rc(0, conc_loop_destroy(&rc.loop));
    conc_event_destroy(&rc.started);
    conc_event_destroy(&rc.never);
}

static void stuck_alarm(int sig)
{
    static const char msg[] = "FAILED: conc_loop_run_until_complete() hangs instead of "
                              "reporting CONC_EDEADLK\n";

    (void)sig;
    (void)!write(2, msg, sizeof msg - 1);
    _exit(1);
}

struct late_parker {
    conc_event_t never;
};

static void *sleep_then_block_forever(void *arg)
{
    struct late_parker *p = arg;

    assert_rc(0, conc_sleep(CONC_MS(50)));                  /* a timed wait: it may still act */
    assert_rc(0, conc_event_wait(&p->never, CONC_FOREVER)); /* now it cannot */
    return NULL;
}

/* docs/loop.md: CONC_EDEADLK "instead of hanging when all of these hold at
 * once". Here they come to hold only when the last outside thread blocks,
 * after the loop went to sleep. (Last in the suite: a hang ends it.) */
static void deadlock_is_detected_when_the_last_thread_blocks_later(void **state)
{
    static struct late_parker p;
    conc_loop_t loop;
    conc_event_t ev;
    struct event_waiter w = { 0 };
    conc_thread_t th;
    conc_task_t *t;

    (void)state;
    conc_event_init(&p.never);
    conc_event_init(&ev);
    w.event = &ev;
    assert_rc(0, conc_loop_init(&loop, NULL));
    assert_rc(0, conc_task_spawn(&loop, NULL, wait_event, &w, &t));
    assert_rc(0, conc_thread_create(&th, NULL, sleep_then_block_forever, &p));
    signal(SIGALRM, stuck_alarm);
    alarm(3);
    int64_t start = conc_now_ns();
    int rc = conc_loop_run_until_complete(&loop, t, NULL);
    alarm(0);
    signal(SIGALRM, SIG_DFL);
    assert_rc(CONC_EDEADLK, rc);
    assert_true(elapsed_since(start) >= CONC_MS(50));
    assert_rc(0, conc_event_set(&p.never));
    assert_rc(0, conc_thread_join(&th, NULL, CONC_FOREVER));
    assert_rc(0, conc_event_set(&ev));
    assert_rc(0, conc_loop_run_until_complete(&loop, t, NULL));
    assert_rc(0, conc_loop_destroy(&loop));
    conc_event_destroy(&ev);
    conc_event_destroy(&p.never);
}

/* ---- descriptors: a task's wait after its descriptor was closed and the
 * number reused (the loop keeps spent one-shot registrations, docs/loop.md) */

struct reuse {
    int rounds_done;
    int status;
};

static int reuse_main(void *arg, void **result)
{
    struct reuse *r = arg;
    int first = -1;

    (void)result;
    for (int round = 0; round < 50; round++) {
        int p[2];
        if (pipe(p) != 0)
            return -2001;
        if (first < 0)
            first = p[0];
        if (p[0] != first) { /* keep the same number every round */
            if (dup2(p[0], first) != first)
                return -2002;
            close(p[0]);
            p[0] = first;
        }
        fcntl(p[0], F_SETFL, O_NONBLOCK);
        /* Nothing yet: the wait times out (never early), then data wakes it. */
        int rc = conc_wait_fd(p[0], CONC_READABLE, CONC_MS(2));
        if (rc != CONC_ETIMEDOUT)
            return -2003;
        if (write(p[1], "x", 1) != 1)
            return -2004;
        rc = conc_wait_fd(p[0], CONC_READABLE, CONC_MS(2000));
        if (rc != CONC_READABLE)
            return -2005;
        char c;
        if (read(p[0], &c, 1) != 1)
            return -2006;
        /* Readable again later, on the same open pipe: the re-arm works. */
        if (write(p[1], "y", 1) != 1)
            return -2007;
        if (conc_wait_fd(p[0], CONC_READABLE, CONC_MS(2000)) != CONC_READABLE)
            return -2008;
        close(p[0]);
        close(p[1]);
        r->rounds_done++;
    }
    return 0;
}

static void task_fd_wait_works_after_close_and_reuse_of_the_number_on_every_poller(void **state)
{
    const int kinds[] = { CONC_POLLER_DEFAULT, CONC_POLLER_POLL };

    (void)state;
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        conc_loop_attr_t attr = CONC_LOOP_ATTR_INIT;
        conc_loop_t loop;
        conc_task_t *t;
        struct reuse r = { 0, 0 };
        void *res;

        attr.poller = kinds[k];
        assert_rc(0, conc_loop_init(&loop, &attr));
        assert_rc(0, conc_task_spawn(&loop, NULL, reuse_main, &r, &t));
        int rc = conc_loop_run_until_complete(&loop, t, &res);
        assert_rc(0, conc_loop_destroy(&loop));
        assert_rc(0, rc);
        assert_int_equal(50, r.rounds_done);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(spawn_rejects_null_loop_fn_and_uninitialised_loop),
        cmocka_unit_test(spawn_rejects_bad_stack_options),
        cmocka_unit_test(task_functions_reject_null),
        cmocka_unit_test(sleep_and_yield_outside_a_task_are_eperm),
        cmocka_unit_test(spawn_name_and_stack_options_are_applied),
        cmocka_unit_test(join_returns_status_and_result_and_current_is_the_task),
        cmocka_unit_test(task_state_follows_ready_blocked_ready_done),
        cmocka_unit_test(task_cancelled_before_start_never_runs),
        cmocka_unit_test(detached_tasks_are_freed_by_the_loop),
        cmocka_unit_test(loop_with_unfinished_tasks_cannot_be_destroyed),
        cmocka_unit_test(run_functions_are_ebusy_inside_a_running_loop),
        cmocka_unit_test(run_returns_the_main_tasks_status_and_result),
        cmocka_unit_test(run_cancels_leftover_tasks_and_lets_them_clean_up),
        cmocka_unit_test(run_reports_a_deadlocked_main_task),
        cmocka_unit_test(task_sleep_never_returns_early),
        cmocka_unit_test(yield_runs_every_other_ready_task_once),
        cmocka_unit_test(join_waits_for_another_task),
        cmocka_unit_test(join_timeout_leaves_the_task_running),
        cmocka_unit_test(waiting_for_oneself_or_from_a_callback_is_edeadlk),
        cmocka_unit_test(join_of_a_finished_task_returns_at_once),
        cmocka_unit_test(gather_returns_results_in_array_order),
        cmocka_unit_test(gather_reports_first_failure_after_all_finish),
        cmocka_unit_test(gather_cancel_on_error_cancels_the_others),
        cmocka_unit_test(gather_of_no_tasks_and_null_arrays),
        cmocka_unit_test(wait_for_returns_the_result_before_the_timeout),
        cmocka_unit_test(wait_for_timeout_cancels_the_task_and_awaits_its_cleanup),
        cmocka_unit_test(wait_for_reports_the_callers_cancellation),
        cmocka_unit_test(wait_for_timeouts_zero_negative_and_forever),
        cmocka_unit_test(wait_any_returns_the_first_finished_and_others_continue),
        cmocka_unit_test(wait_any_without_time_times_out_like_task_wait),
        cmocka_unit_test(deadlock_is_detected_and_dumped),
        cmocka_unit_test(queue_filled_by_a_thread_is_not_a_deadlock),
        cmocka_unit_test(cancel_interrupts_task_sleep),
        cmocka_unit_test(cancel_interrupts_join_and_cancels_the_joined_task),
        cmocka_unit_test(cancel_interrupts_wait_and_the_waited_task_runs_on),
        cmocka_unit_test(cancel_interrupts_gather_after_cancelling_all),
        cmocka_unit_test(cancel_interrupts_wait_for_after_cancelling_the_task),
        cmocka_unit_test(cancel_interrupts_wait_any_and_tasks_run_on),
        cmocka_unit_test(cancel_interrupts_wait_fd_on_a_pipe),
        cmocka_unit_test(cancel_interrupts_queue_get_on_empty_queue),
        cmocka_unit_test(cancel_interrupts_mutex_lock_of_held_mutex),
        cmocka_unit_test(cancel_interrupts_event_wait),
        cmocka_unit_test(cancel_interrupts_sem_acquire),
        cmocka_unit_test(cancel_interrupts_taskgroup_wait_after_cancelling_members),
        cmocka_unit_test(cancel_interrupts_to_thread_and_the_work_runs_on),
        cmocka_unit_test(cancel_interrupts_future_result),
        cmocka_unit_test(cancel_is_reported_by_yield_once),
        cmocka_unit_test(each_cancel_request_is_delivered_once),
        cmocka_unit_test(shield_wait_keeps_the_inner_task_from_the_outer_cancel),
        cmocka_unit_test(taskgroup_waits_for_all_its_tasks),
        cmocka_unit_test(taskgroup_first_failure_cancels_the_rest),
        cmocka_unit_test(loop_runs_100000_tasks),
        cmocka_unit_test(to_thread_runs_in_the_pool_while_the_loop_goes_on),
        cmocka_unit_test(run_threadsafe_returns_the_result_through_the_future),
        cmocka_unit_test(run_threadsafe_cancelled_future_never_starts_the_task),
        cmocka_unit_test(loop_dump_says_what_each_task_waits_on),
        cmocka_unit_test(cancel_from_another_thread_reaches_the_task),
        cmocka_unit_test(task_fd_wait_works_after_close_and_reuse_of_the_number_on_every_poller),
        cmocka_unit_test(deadlock_is_detected_when_the_last_thread_blocks_later),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
