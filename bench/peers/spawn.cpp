// spawn: N tasks created with create_task, then gathered; each returns its index.
//
//   tasks = [asyncio.create_task(work(i)) for i in range(n)]
//   results = await asyncio.gather(*tasks)
//
// Usage: spawn [N=1000000]. Prints "spawn n=N seconds=S rate=TASKS_PER_SECOND".

#include <cstdio>
#include <vector>

#include "measure.hpp"
#include <asyncio/asyncio.hpp>

asyncio::Task<long> work(long i) { co_return i; }

asyncio::Task<int> spawn(long n) {
    const double start = bench::now_seconds();
    std::vector<asyncio::TaskHandle<long>> tasks;
    tasks.reserve(static_cast<std::size_t>(n));
    for (long i = 0; i < n; ++i) tasks.push_back(asyncio::create_task(work(i)));
    std::vector<long> results = co_await asyncio::gather(tasks);
    const double seconds = bench::now_seconds() - start;
    long sum = 0;
    for (long value : results) sum += value;
    if (sum != n * (n - 1) / 2) {
        std::fprintf(stderr, "spawn: wrong sum %ld\n", sum);
        co_return 1;
    }
    std::printf("spawn n=%ld seconds=%.6f rate=%.0f\n", n, seconds, n / seconds);
    co_return 0;
}

int main(int argc, char** argv) {
    return asyncio::run(spawn(bench::count_argument(argc, argv, 1000000)));
}
