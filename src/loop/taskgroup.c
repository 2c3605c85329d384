/*
 * Task groups: structured concurrency (asyncio's TaskGroup, libdill's
 * bundles). Every task of a group is awaited by conc_taskgroup_wait(); the
 * first task to fail cancels the others. A task that ends with
 * CONC_ECANCELED is not a failure: it is how the others end after one.
 */
#include <stdlib.h>

#include "conc/event.h"
#include "loop_internal.h"

typedef struct member {
    conc__task_watcher_t watch; /* first: the watcher gives back this address */
    struct group *group;
    conc_task_t *task;
    struct member *next;
} member_t;

typedef struct group {
    conc_loop_t *loop;
    conc__os_lock_t lock; /* members, counts, failure: watchers run on the loop */
    member_t *members;
    size_t n, ndone;
    int failure;
    bool failed, closed;
    conc_event_t changed;
} group_t;

static group_t *group_of(const conc_taskgroup_t *g)
{
    return g ? g->impl_ : NULL;
}

int conc_taskgroup_init(conc_taskgroup_t *g, conc_loop_t *loop)
{
    if (!g || !conc__loop_of(loop))
        return CONC_EINVAL;
    group_t *gr = calloc(1, sizeof *gr);
    if (!gr)
        return CONC_ENOMEM;
    gr->loop = loop;
    conc_event_init(&gr->changed);
    g->impl_ = gr;
    return 0;
}

static void cancel_members(group_t *gr)
{
    for (member_t *m = gr->members; m; m = m->next)
        conc__task_cancel_any(m->task);
}

/* Runs on the loop's thread, with the finished task's lock held. */
static void member_done(conc__task_watcher_t *w, conc_task_t *t)
{
    member_t *m = (member_t *)w;
    group_t *gr = m->group;
    bool cancel = false;

    conc__os_lock(&gr->lock);
    gr->ndone++;
    if (t->status != 0 && t->status != CONC_ECANCELED && !gr->failed) {
        gr->failed = true;
        gr->failure = t->status;
        cancel = true;
    }
    conc__os_unlock(&gr->lock);
    if (cancel)
        cancel_members(gr); /* t itself is done: a no-op for it */
    conc_event_set(&gr->changed);
}

int conc_taskgroup_spawn(conc_taskgroup_t *g, const conc_task_attr_t *attr, conc_task_fn fn,
                         void *arg, conc_task_t **task)
{
    group_t *gr = group_of(g);

    if (!gr || !fn)
        return CONC_EINVAL;
    if (gr->failed || gr->closed)
        return CONC_ECLOSED;
    member_t *m = calloc(1, sizeof *m);
    if (!m)
        return CONC_ENOMEM;
    int rc = conc_task_spawn(gr->loop, attr, fn, arg, &m->task);
    if (rc != 0) {
        free(m);
        return rc;
    }
    m->group = gr;
    m->watch.fn = member_done;
    conc__os_lock(&gr->lock);
    m->next = gr->members;
    gr->members = m;
    gr->n++;
    conc__os_unlock(&gr->lock);
    conc__task_watch(m->task, &m->watch); /* it has not run yet: cannot be done */
    if (task)
        *task = m->task;
    return 0;
}

static bool all_done(group_t *gr)
{
    conc__os_lock(&gr->lock);
    bool done = gr->ndone == gr->n;
    conc__os_unlock(&gr->lock);
    return done;
}

int conc_taskgroup_wait(conc_taskgroup_t *g)
{
    group_t *gr = group_of(g);
    int rc = 0;

    if (!gr)
        return CONC_EINVAL;
    for (;;) {
        conc_event_clear(&gr->changed); /* then look: nothing is missed */
        if (all_done(gr))
            break;
        rc = conc_event_wait(&gr->changed, CONC_FOREVER);
        if (rc == CONC_ECANCELED) {
            cancel_members(gr);
            for (member_t *m = gr->members; m; m = m->next)
                conc__task_wait_done(m->task, CONC_FOREVER, false);
            break;
        }
        if (rc != 0)
            return rc;
    }
    gr->closed = true;
    return rc == CONC_ECANCELED ? rc : gr->failure;
}

int conc_taskgroup_destroy(conc_taskgroup_t *g)
{
    group_t *gr = group_of(g);

    if (!gr)
        return CONC_EINVAL;
    if (!all_done(gr))
        return CONC_EBUSY;
    member_t *m = gr->members;
    while (m) {
        member_t *next = m->next;
        conc_task_detach(m->task); /* done: released now */
        free(m);
        m = next;
    }
    conc_event_destroy(&gr->changed);
    free(gr);
    g->impl_ = NULL;
    return 0;
}
