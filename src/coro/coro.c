/*
 * Stackful coroutines: creation, resume/yield, status, destruction.
 *
 * A resume saves the resumer's context in co->back_sp_ and continues the
 * coroutine's (co->sp_); a yield does the opposite. Each side does all the
 * bookkeeping of a switch *before* it switches: resume hands its value to
 * the pending yield (through co->in_) and marks the coroutine running; yield
 * (or the entry function's return) hands its value to the pending resume
 * (through co->out_), marks the coroutine suspended (or done) and checks its
 * canary. Nothing remains to do on arrival, so both end in a tail call of the
 * switch: the other side continues directly in the code that called resume
 * or yield, as fast as a bare context switch (see ctx.h). Builds with ASan or
 * TSan must tell the tool about every arrival, and call the switch instead.
 *
 * So a coroutine counts as suspended from just before its yield switches
 * away: it may be resumed by another thread only once the conc_coro_resume()
 * that ran it has returned (docs/coro.md).
 */
#include <stdlib.h>
#include <string.h>

#include "../core/internal.h"
#include "annotate.h"
#include "ctx.h"
#include "stack.h"

/* co->state_: a magic number (so that calls on objects never created or
 * already destroyed are caught) with the status in its low byte, so that
 * resume checks both with one comparison. */
#define CORO_MAGIC 0x636f7200u /* "cor" */
#define STATE(status) (CORO_MAGIC | (uint32_t)(status))

/* The innermost running coroutine of this thread. initial-exec: the switch
 * path uses it twice per round trip, and __tls_get_addr would cost more than
 * the switch itself. */
static _Thread_local conc_coro_t *current __attribute__((tls_model("initial-exec")));

static bool is_alive(const conc_coro_t *co)
{
    return co && (co->state_ & ~(uint32_t)0xff) == CORO_MAGIC;
}

static inline __attribute__((always_inline)) void check_canary(const conc_coro_t *co)
{
    if (co->canary_ && CONC_UNLIKELY(!conc__canary_ok(co->canary_)))
        conc__canary_fail(co, co->canary_);
}

/* ---- the annotated switches (ASan, TSan builds only; annotate.h) ---------- */

/* Resumer side: into co and, when it yields or returns, back. */
static CONC_CORO_NO_TSAN int switch_into(conc_coro_t *co)
{
    void *fake = NULL;

    anno_enter(co, &fake);
    conc__ctx_switch(&co->back_sp_, co->sp_);
    anno_back(fake);
    return 0;
}

/* Coroutine side: back to the resumer until resumed again. */
static CONC_CORO_NO_TSAN int switch_out(conc_coro_t *co)
{
    anno_leave(co, false);
    conc__ctx_switch(&co->sp_, co->back_sp_);
    anno_arrived(co);
    return 0;
}

/* Coroutine side, after its entry function returned: leave for good. */
static CONC_CORO_NO_TSAN void switch_out_final(conc_coro_t *co)
{
    anno_leave(co, true);
    conc__ctx_switch(&co->sp_, co->back_sp_);
}

/* ---- the coroutine's side ------------------------------------------------- */

/* Hand a value to the pending resume and give the thread back to it. */
static void leave(conc_coro_t *co, void *value, int status)
{
    check_canary(co);
    if (co->out_)
        *co->out_ = value;
    current = co->parent_;
    co->state_ = STATE(status);
}

/* The first frame on a coroutine's stack (below it, only the context
 * switch's start-up frame, which ends the frame chain). */
static void coro_main(void *p)
{
    conc_coro_t *co = p;
    void *result;

    anno_arrived(co);
    result = co->fn_(co->arg_, co->xfer_);
    co->xfer_ = result;
    leave(co, result, CONC_CORO_DONE);
    switch_out_final(co);
    /* A done coroutine is never switched to again (resume refuses it). */
    abort();
}

/* ---- public API ---------------------------------------------------------- */

/* Why a resume was refused: the slow path of conc_coro_resume(). */
static int resume_refused(const conc_coro_t *co)
{
    if (!is_alive(co) || co->state_ == STATE(CONC_CORO_DONE))
        return CONC_EINVAL;
    return CONC_EBUSY;
}

int conc_coro_create(conc_coro_t *co, const conc_coro_attr_t *attr, conc_coro_fn fn, void *arg)
{
    static const conc_coro_attr_t defaults = CONC_CORO_ATTR_INIT;
    conc__stack_t st;
    int rc;

    if (!co || !fn)
        return CONC_EINVAL;
    rc = conc__stack_get(&st, attr ? attr : &defaults);
    if (rc)
        return rc;
    memset(co, 0, sizeof *co);
    co->fn_ = fn;
    co->arg_ = arg;
    co->in_ = &co->xfer_; /* the first resume's value goes to the entry */
    co->stack_lo_ = st.lo;
    co->stack_hi_ = st.hi;
    co->stack_owner_ = st.owner;
    co->canary_ = st.canary;
    co->stack_mode_ = (uint8_t)st.mode;
    co->sp_ = conc__ctx_make(st.lo, st.hi, coro_main, co);
    anno_create(co);
    co->state_ = STATE(CONC_CORO_SUSPENDED);
    return 0;
}

CONC__HOT int conc_coro_resume(conc_coro_t *co, void *in, void **out)
{
    if (CONC_UNLIKELY(!co || co->state_ != STATE(CONC_CORO_SUSPENDED)))
        return resume_refused(co);
    check_canary(co);
    if (co->in_)
        *co->in_ = in;
    co->out_ = out;
    co->parent_ = current;
    co->state_ = STATE(CONC_CORO_RUNNING);
    current = co;
    if (CONC_CORO_ANNOTATED)
        return switch_into(co);
    return conc__ctx_switch(&co->back_sp_, co->sp_);
}

CONC__HOT int conc_coro_yield(void *out, void **in)
{
    conc_coro_t *co = current;

    if (CONC_UNLIKELY(!co))
        return CONC_EPERM;
    co->in_ = in;
    leave(co, out, CONC_CORO_SUSPENDED);
    if (CONC_CORO_ANNOTATED)
        return switch_out(co);
    return conc__ctx_switch(&co->sp_, co->back_sp_);
}

CONC__HOT int conc_coro_status(const conc_coro_t *co)
{
    return is_alive(co) ? (int)(co->state_ & 0xff) : CONC_EINVAL;
}

CONC__HOT conc_coro_t *conc_coro_current(void)
{
    return current;
}

int conc_coro_destroy(conc_coro_t *co)
{
    conc__stack_t st;

    if (!is_alive(co))
        return CONC_EINVAL;
    if (co->state_ == STATE(CONC_CORO_RUNNING))
        return CONC_EBUSY;
    anno_destroy(co);
    st.lo = co->stack_lo_;
    st.hi = co->stack_hi_;
    st.owner = co->stack_owner_;
    st.canary = co->canary_;
    st.mode = co->stack_mode_;
    co->state_ = 0;
    conc__stack_put(&st);
    return 0;
}
