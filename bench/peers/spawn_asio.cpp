// spawn on Boost.Asio C++20 coroutines: N coroutines started with co_spawn on one
// io_context thread, each returning its index; their results are collected by index as
// they complete (Asio has no gather: the completion handlers are the cheapest equivalent).
//
// Usage: spawn_asio [N=1000000]. Prints "spawn n=N seconds=S rate=TASKS_PER_SECOND".

#include <cstdio>
#include <exception>
#include <vector>

#include <boost/asio.hpp>

#include "measure.hpp"

namespace asio = boost::asio;

asio::awaitable<long> work(long i) { co_return i; }

int main(int argc, char** argv) {
    const long n = bench::count_argument(argc, argv, 1000000);
    asio::io_context context(1);
    std::vector<long> results(static_cast<std::size_t>(n));
    long done = 0;
    double start = 0;
    double end = 0;
    asio::co_spawn(
        context,
        [&]() -> asio::awaitable<void> {
            auto executor = co_await asio::this_coro::executor;
            start = bench::now_seconds();
            for (long i = 0; i < n; ++i) {
                asio::co_spawn(executor, work(i), [&, i](std::exception_ptr error, long value) {
                    if (error) std::rethrow_exception(error);
                    results[static_cast<std::size_t>(i)] = value;
                    if (++done == n) end = bench::now_seconds();
                });
            }
        },
        asio::detached);
    context.run();
    long sum = 0;
    for (long value : results) sum += value;
    if (done != n || sum != n * (n - 1) / 2) {
        std::fprintf(stderr, "spawn_asio: wrong sum %ld\n", sum);
        return 1;
    }
    const double seconds = end - start;
    std::printf("spawn n=%ld seconds=%.6f rate=%.0f\n", n, seconds, n / seconds);
}
