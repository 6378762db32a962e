// pingpong: two tasks pass a number back and forth through two queues, N round trips.
//
//   async def ping(q1, q2, n):
//       for i in range(n):
//           await q1.put(i)
//           await q2.get()
//   async def pong(q1, q2, n):
//       for _ in range(n):
//           await q2.put(await q1.get())
//
// Usage: pingpong [N=1000000]. Prints "pingpong n=N seconds=S rate=ROUND_TRIPS_PER_SECOND".

#include <cstdio>

#include "measure.hpp"
#include <asyncio/asyncio.hpp>

asyncio::Task<long> ping(asyncio::Queue<long>& q1, asyncio::Queue<long>& q2, long n) {
    long sum = 0;
    for (long i = 0; i < n; ++i) {
        co_await q1.put(i);
        sum += co_await q2.get();
    }
    co_return sum;
}

asyncio::Task<> pong(asyncio::Queue<long>& q1, asyncio::Queue<long>& q2, long n) {
    for (long i = 0; i < n; ++i) co_await q2.put(co_await q1.get());
}

asyncio::Task<int> pingpong(long n) {
    asyncio::Queue<long> q1;
    asyncio::Queue<long> q2;
    const double start = bench::now_seconds();
    auto [sum, done] = co_await asyncio::gather(ping(q1, q2, n), pong(q1, q2, n));
    const double seconds = bench::now_seconds() - start;
    (void)done;
    if (sum != n * (n - 1) / 2) {
        std::fprintf(stderr, "pingpong: wrong sum %ld\n", sum);
        co_return 1;
    }
    std::printf("pingpong n=%ld seconds=%.6f rate=%.0f\n", n, seconds, n / seconds);
    co_return 0;
}

int main(int argc, char** argv) {
    return asyncio::run(pingpong(bench::count_argument(argc, argv, 1000000)));
}
