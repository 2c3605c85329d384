/*
 * Looking at a loop from outside: the list of its tasks, a readable dump of
 * what each waits on, and the deadlock check of conc_loop_run_until_complete().
 */
#include <stdarg.h>
#include <stdio.h>

#include "core/activity.h"
#include "loop_internal.h"

static const char *state_name(int state)
{
    switch (state) {
    case CONC_TASK_READY:
        return "ready";
    case CONC_TASK_RUNNING:
        return "running";
    case CONC_TASK_BLOCKED:
        return "blocked";
    default:
        return "done";
    }
}

/* snprintf into buf at *len, counting what did not fit. */
static void append(char *buf, size_t size, size_t *len, const char *fmt, ...)
{
    va_list ap;
    char *at = *len < size ? buf + *len : NULL;
    size_t room = *len < size ? size - *len : 0;

    va_start(ap, fmt);
    /* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): va_start is just above */
    int n = vsnprintf(at, room, fmt, ap);
    va_end(ap);
    if (n > 0)
        *len += (size_t)n;
}

static void dump_task(const conc_task_t *t, char *buf, size_t size, size_t *len)
{
    append(buf, size, len, "%s: %s", t->name, state_name(t->state));
    if (t->state == CONC_TASK_BLOCKED && t->wait_what) {
        append(buf, size, len, ", waits on %s", t->wait_what);
        if (t->wait_fd >= 0 && t->wait_what[0] == 'f')
            append(buf, size, len, " (fd %d)", t->wait_fd);
        if (t->deadline.where == ENTRY_TIMED)
            append(buf, size, len, " with a timeout");
    }
    if (t->cancel_requests)
        append(buf, size, len, ", cancel requested");
    append(buf, size, len, "\n");
}

int conc_loop_dump(conc_loop_t *loop, char *buf, size_t size)
{
    conc__loop_t *l = conc__loop_of(loop);
    size_t len = 0;

    if (!l || (!buf && size))
        return CONC_EINVAL;
    if (size)
        buf[0] = '\0';
    conc__os_lock(&l->tasks_lock);
    for (const conc_task_t *t = l->live; t; t = t->next_task)
        dump_task(t, buf, size, &len);
    conc__os_unlock(&l->tasks_lock);
    return len > (size_t)INT32_MAX ? INT32_MAX : (int)len;
}

/* Nothing inside the loop can make progress on its own. */
static bool loop_quiet(conc__loop_t *l);

bool conc__loop_quiet(conc__loop_t *l)
{
    return l->detect_deadlock && loop_quiet(l);
}

static bool loop_quiet(conc__loop_t *l)
{
    return !l->ready_head && conc__timerheap_count(&l->timers) == 0 && l->nwatched == 0 &&
           !conc__remote_maybe_nonempty(l) && l->nblocked_forever == l->nlive;
}

bool conc__loop_deadlocked(conc__loop_t *l)
{
    if (!l->detect_deadlock || !loop_quiet(l))
        return false;
    if (conc__others_may_act() || conc__loops_running() > 1)
        return false;
    /* A thread that woke a task and then parked: its wake is visible now
     * (it was made before the thread counted itself parked). */
    return loop_quiet(l);
}
