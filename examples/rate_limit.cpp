// Twelve jobs start at once, but a Semaphore lets only three run at a time, the usual way
// to cap concurrent requests to a server. The program prints when each job runs and checks
// that no more than three were ever running together (about 0.2 s in total).
//
//   import asyncio
//
//   LIMIT = 3
//   running = peak = 0
//
//   async def job(i, limit):
//       global running, peak
//       async with limit:
//           running += 1
//           peak = max(peak, running)
//           print(f"job {i:2} runs ({running} running)")
//           await asyncio.sleep(0.05)
//           running -= 1
//       return i * i
//
//   async def main():
//       limit = asyncio.Semaphore(LIMIT)
//       results = await asyncio.gather(*(job(i, limit) for i in range(12)))
//       print(f"results: {results}")
//       print(f"at most {peak} jobs ran at once (limit {LIMIT})")
//
//   asyncio.run(main())

#include <algorithm>
#include <cstdio>
#include <vector>

#include <asyncio/asyncio.hpp>
#include <asyncio/sync/semaphore.hpp>

using namespace std::chrono_literals;

constexpr int limit_value = 3;
int running = 0;
int peak = 0;

asyncio::Task<int> job(int i, asyncio::Semaphore& limit) {
    {
        auto permit = co_await limit.acquire();  // released at the end of this block
        ++running;
        peak = std::max(peak, running);
        std::printf("job %2d runs (%d running)\n", i, running);
        co_await asyncio::sleep(50ms);
        --running;
    }
    co_return i* i;
}

asyncio::Task<> main_task() {
    asyncio::Semaphore limit(limit_value);
    std::vector<asyncio::Task<int>> jobs;
    for (int i = 0; i < 12; ++i) jobs.push_back(job(i, limit));
    const std::vector<int> results = co_await asyncio::gather(jobs);
    std::printf("results:");
    for (int r : results) std::printf(" %d", r);
    std::printf("\nat most %d jobs ran at once (limit %d)\n", peak, limit_value);
}

int main() {
    asyncio::run(main_task());
    return peak == limit_value ? 0 : 1;
}
