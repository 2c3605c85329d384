/*
 * The Boost.Context peer of bench/coro.c: Boost's raw context switch
 * (make_fcontext/jump_fcontext, what its own benchmarks time), behind two C
 * functions. C++ only because Boost's header is.
 */
#include <boost/context/detail/fcontext.hpp>

#include <cstdint>
#include <cstdlib>

#include "conc/time.h"

namespace fc = boost::context::detail;

extern "C" int64_t bench_boost_switch(long round_trips);
extern "C" int64_t bench_boost_create_run(long n);

static const std::size_t stack_size = 64 * 1024;

static void pingpong(fc::transfer_t t)
{
    for (;;)
        t = fc::jump_fcontext(t.fctx, nullptr);
}

/* Nanoseconds for `round_trips` jumps there and back. */
int64_t bench_boost_switch(long round_trips)
{
    char *stack = static_cast<char *>(std::malloc(stack_size));
    if (!stack)
        std::abort();
    fc::fcontext_t c = fc::make_fcontext(stack + stack_size, stack_size, pingpong);
    fc::transfer_t t = fc::jump_fcontext(c, nullptr);
    int64_t start = conc_now_ns();

    for (long i = 0; i < round_trips; i++)
        t = fc::jump_fcontext(t.fctx, nullptr);
    int64_t ns = conc_now_ns() - start;
    std::free(stack); /* the context is simply abandoned, as Boost allows */
    return ns;
}

static void run_once(fc::transfer_t t)
{
    fc::jump_fcontext(t.fctx, nullptr); /* "returns", never continued */
}

/* Nanoseconds for n contexts made on one reused stack, each run to its end. */
int64_t bench_boost_create_run(long n)
{
    char *stack = static_cast<char *>(std::malloc(stack_size));
    if (!stack)
        std::abort();
    int64_t start = conc_now_ns();

    for (long i = 0; i < n; i++) {
        fc::fcontext_t c = fc::make_fcontext(stack + stack_size, stack_size, run_once);
        fc::jump_fcontext(c, nullptr);
    }
    int64_t ns = conc_now_ns() - start;
    std::free(stack);
    return ns;
}
