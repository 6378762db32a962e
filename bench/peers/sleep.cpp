// sleep: N tasks sleep one second at the same time.
//
//   before = rss()
//   tasks = [asyncio.create_task(asyncio.sleep(1)) for _ in range(n)]
//   await asyncio.sleep(0)        # every task has started and sleeps
//   peak = hwm()
//   await asyncio.gather(*tasks)
//
// Wall time runs from the first create_task to the end of the gather; bytes per task are
// (peak resident memory once all sleep - resident memory before) / N.
// Usage: sleep [N=1000000]. Prints "sleep n=N wall_s=S bytes_per_task=B".

#include <chrono>
#include <cstdio>
#include <vector>

#include "measure.hpp"
#include <asyncio/asyncio.hpp>

using namespace std::chrono_literals;

asyncio::Task<> nap() { co_await asyncio::sleep(1s); }

asyncio::Task<> sleep_all(long n) {
    const long before = bench::status_bytes("VmRSS");
    const double start = bench::now_seconds();
    std::vector<asyncio::TaskHandle<>> tasks;
    tasks.reserve(static_cast<std::size_t>(n));
    for (long i = 0; i < n; ++i) tasks.push_back(asyncio::create_task(nap()));
    co_await asyncio::sleep(0s);
    const long peak = bench::status_bytes("VmHWM");
    co_await asyncio::gather(tasks);
    const double wall = bench::now_seconds() - start;
    std::printf("sleep n=%ld wall_s=%.3f bytes_per_task=%.0f\n", n, wall,
                static_cast<double>(peak - before) / static_cast<double>(n));
}

int main(int argc, char** argv) {
    asyncio::run(sleep_all(bench::count_argument(argc, argv, 1000000)));
}
