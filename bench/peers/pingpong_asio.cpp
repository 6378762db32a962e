// pingpong on Boost.Asio C++20 coroutines: two coroutines pass a number back and forth
// through two channels (asio::experimental::channel, Asio's queue between coroutines),
// N round trips, one io_context thread.
//
// Usage: pingpong_asio [N=1000000]. Prints "pingpong n=N seconds=S rate=ROUND_TRIPS_PER_SECOND".

#include <cstdio>

#include <boost/asio.hpp>
#include <boost/asio/experimental/channel.hpp>

#include "measure.hpp"

namespace asio = boost::asio;
using Channel = asio::experimental::channel<void(boost::system::error_code, long)>;

asio::awaitable<void> ping(Channel& q1, Channel& q2, long n, long& sum) {
    for (long i = 0; i < n; ++i) {
        co_await q1.async_send(boost::system::error_code{}, i, asio::use_awaitable);
        sum += co_await q2.async_receive(asio::use_awaitable);
    }
}

asio::awaitable<void> pong(Channel& q1, Channel& q2, long n) {
    for (long i = 0; i < n; ++i) {
        long value = co_await q1.async_receive(asio::use_awaitable);
        co_await q2.async_send(boost::system::error_code{}, value, asio::use_awaitable);
    }
}

int main(int argc, char** argv) {
    const long n = bench::count_argument(argc, argv, 1000000);
    asio::io_context context(1);
    Channel q1(context, 1);
    Channel q2(context, 1);
    long sum = 0;
    double end = 0;
    const double start = bench::now_seconds();
    asio::co_spawn(context, ping(q1, q2, n, sum), [&](std::exception_ptr error) {
        if (error) std::rethrow_exception(error);
        end = bench::now_seconds();
    });
    asio::co_spawn(context, pong(q1, q2, n), asio::detached);
    context.run();
    if (sum != n * (n - 1) / 2) {
        std::fprintf(stderr, "pingpong_asio: wrong sum %ld\n", sum);
        return 1;
    }
    const double seconds = end - start;
    std::printf("pingpong n=%ld seconds=%.6f rate=%.0f\n", n, seconds, n / seconds);
}
