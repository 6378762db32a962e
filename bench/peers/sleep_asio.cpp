// sleep on Boost.Asio C++20 coroutines: N coroutines, each waiting on its own steady_timer
// for one second, on one io_context thread. Wall time runs from the first co_spawn until
// the last timer fired; bytes per task are (peak resident memory once all wait - resident
// memory before) / N, read from /proc/self/status as in every peer.
//
// Usage: sleep_asio [N=1000000]. Prints "sleep n=N wall_s=S bytes_per_task=B".

#include <chrono>
#include <cstdio>

#include <boost/asio.hpp>

#include "measure.hpp"

namespace asio = boost::asio;
using namespace std::chrono_literals;

asio::awaitable<void> nap() {
    asio::steady_timer timer(co_await asio::this_coro::executor, 1s);
    co_await timer.async_wait(asio::use_awaitable);
}

int main(int argc, char** argv) {
    const long n = bench::count_argument(argc, argv, 1000000);
    asio::io_context context(1);
    long done = 0;
    long before = 0;
    long peak = 0;
    double start = 0;
    double end = 0;
    asio::co_spawn(
        context,
        [&]() -> asio::awaitable<void> {
            auto executor = co_await asio::this_coro::executor;
            before = bench::status_bytes("VmRSS");
            start = bench::now_seconds();
            for (long i = 0; i < n; ++i) {
                asio::co_spawn(executor, nap(), [&](std::exception_ptr error) {
                    if (error) std::rethrow_exception(error);
                    if (++done == n) end = bench::now_seconds();
                });
            }
            // co_spawn starts each coroutine from the queue: after this post, all wait.
            co_await asio::post(executor, asio::use_awaitable);
            peak = bench::status_bytes("VmHWM");
        },
        asio::detached);
    context.run();
    std::printf("sleep n=%ld wall_s=%.3f bytes_per_task=%.0f\n", n, end - start,
                static_cast<double>(peak - before) / static_cast<double>(n));
}
