/*
 * The portable context switch, on POSIX ucontext (getcontext, makecontext,
 * swapcontext), for CPUs or systems without an assembly file, and forced
 * with -Dcoro_backend=ucontext to test the rest of the module on it.
 *
 * Much slower than the assembly switches: glibc's swapcontext() saves and
 * restores the signal mask with a system call at every switch.
 *
 * A context is a ucontext_t: a new coroutine's sits at the top of its own
 * stack; a suspended resumer's sits in the frame of its conc__ctx_switch().
 */
#include <stdint.h>
#include <stdlib.h>
#include <ucontext.h>

#include "ctx.h"

struct start {
    void (*fn)(void *);
    void *arg;
};

/* makecontext() passes int arguments only: the pointer comes in halves. */
static void start_context(unsigned hi, unsigned lo)
{
    uintptr_t p = ((uintptr_t)hi << 16 << 16) | (uintptr_t)lo;
    struct start *s = (struct start *)p; /* NOLINT(performance-no-int-to-ptr): by design */

    s->fn(s->arg);
    abort(); /* fn leaves by switching away for good */
}

void *conc__ctx_make(void *lo, void *hi, void (*fn)(void *), void *arg)
{
    char *top = (char *)hi - sizeof(ucontext_t) - sizeof(struct start);
    ucontext_t *uc;
    struct start *s;
    uintptr_t p;

    top -= (uintptr_t)top & 15;
    uc = (ucontext_t *)(void *)top;
    s = (struct start *)(uc + 1);
    p = (uintptr_t)s;

    s->fn = fn;
    s->arg = arg;
    if (getcontext(uc) != 0)
        abort(); /* cannot fail on the systems that provide it */
    uc->uc_stack.ss_sp = lo;
    uc->uc_stack.ss_size = (size_t)(top - (char *)lo);
    uc->uc_link = NULL;
    makecontext(uc, (void (*)(void))start_context, 2, (unsigned)(p >> 16 >> 16),
                (unsigned)(p & 0xffffffffu));
    return uc;
}

int conc__ctx_switch(void **save, void *to)
{
    ucontext_t self;

    /* Sanitizers read the stack of a context switched to; this one is the
     * caller's own, which they know already. */
    self.uc_stack.ss_sp = NULL;
    self.uc_stack.ss_size = 0;
    /* cppcheck-suppress autoVariables ; valid until this context continues */
    *save = &self;
    swapcontext(&self, to);
    return 0;
}
