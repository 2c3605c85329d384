// A C API over moodycamel::BlockingConcurrentQueue (Debian's
// libconcurrentqueue-dev), so that bench/queue.c can measure it beside
// libconc. Only the calls the benchmark needs; 64-bit items.
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
// moodycamel uses std::atomic_thread_fence, which GCC flags under TSan.
#    pragma GCC diagnostic ignored "-Wtsan"
#endif
#include <concurrentqueue/blockingconcurrentqueue.h>

#include <cstddef>
#include <cstdint>
#include <new>

typedef moodycamel::BlockingConcurrentQueue<std::uint64_t> mc_queue;

extern "C" {

void *bench_mc_create(std::size_t capacity)
{
    return new (std::nothrow) mc_queue(capacity);
}

void bench_mc_destroy(void *q)
{
    delete static_cast<mc_queue *>(q);
}

// The queue is unbounded: enqueue allocates when its blocks are full.
int bench_mc_put(void *q, std::uint64_t item)
{
    return static_cast<mc_queue *>(q)->enqueue(item) ? 0 : -1;
}

std::uint64_t bench_mc_get(void *q)
{
    std::uint64_t item;

    static_cast<mc_queue *>(q)->wait_dequeue(item);
    return item;
}

} // extern "C"
