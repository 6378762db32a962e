// A bounded pipeline: a producer feeds 100 jobs to 3 workers through one queue, and the
// workers send their results to a collector through another. Both queues hold at most 5
// items, so a fast stage waits for a slow one (back-pressure) instead of piling up work.
// Python 3.13's Queue.shutdown() ends each stage once the one before it is done.
//
//   import asyncio
//
//   async def producer(jobs, count):
//       peak = 0
//       for n in range(1, count + 1):
//           await jobs.put(n)                # waits while 5 jobs are queued
//           peak = max(peak, jobs.qsize())
//       jobs.shutdown()                      # workers stop once the queue is empty
//       return peak
//
//   async def worker(jobs, results):
//       while True:
//           try:
//               n = await jobs.get()
//           except asyncio.QueueShutDown:
//               return
//           await asyncio.sleep(0.001)       # the work
//           await results.put(n * n)
//           jobs.task_done()
//
//   async def collector(results):
//       count = total = 0
//       while True:
//           try:
//               square = await results.get()
//           except asyncio.QueueShutDown:
//               return count, total
//           count += 1
//           total += square
//
//   async def main():
//       jobs = asyncio.Queue(maxsize=5)
//       results = asyncio.Queue(maxsize=5)
//       collect = asyncio.create_task(collector(results))
//       async with asyncio.TaskGroup() as tg:
//           produce = tg.create_task(producer(jobs, 100))
//           for _ in range(3):
//               tg.create_task(worker(jobs, results))
//       results.shutdown()                   # every worker is done
//       count, total = await collect
//       print(f"jobs queue held at most {produce.result()} items")
//       print(f"{count} results, sum of squares {total} (expected {100 * 101 * 201 // 6})")
//
//   asyncio.run(main())

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <iostream>
#include <utility>

#include <asyncio/asyncio.hpp>
#include <asyncio/queue.hpp>

using namespace std::chrono_literals;

asyncio::Task<std::size_t> producer(asyncio::Queue<int>& jobs, int count) {
    std::size_t peak = 0;
    for (int n = 1; n <= count; ++n) {
        co_await jobs.put(n);  // waits while 5 jobs are queued
        peak = std::max(peak, jobs.qsize());
    }
    jobs.shutdown();  // workers stop once the queue is empty
    co_return peak;
}

asyncio::Task<> worker(asyncio::Queue<int>& jobs, asyncio::Queue<long>& results) {
    for (;;) {
        int n = 0;
        try {
            n = co_await jobs.get();
        } catch (const asyncio::QueueShutDown&) {
            co_return;
        }
        co_await asyncio::sleep(1ms);  // the work
        co_await results.put(static_cast<long>(n) * n);
        jobs.task_done();
    }
}

asyncio::Task<std::pair<int, long>> collector(asyncio::Queue<long>& results) {
    int count = 0;
    long total = 0;
    for (;;) {
        long square = 0;
        try {
            square = co_await results.get();
        } catch (const asyncio::QueueShutDown&) {
            co_return std::pair{count, total};
        }
        ++count;
        total += square;
    }
}

asyncio::Task<> main_task() {
    asyncio::Queue<int> jobs(5);
    asyncio::Queue<long> results(5);
    auto collect = asyncio::create_task(collector(results));
    asyncio::TaskHandle<std::size_t> produce;
    co_await asyncio::task_group([&](asyncio::TaskGroup& tg) -> asyncio::Task<> {
        produce = tg.create_task(producer(jobs, 100));
        for (int i = 0; i < 3; ++i) tg.create_task(worker(jobs, results));
        co_return;
    });
    results.shutdown();  // every worker is done
    auto [count, total] = co_await std::move(collect);
    std::cout << "jobs queue held at most " << produce.result() << " items\n";
    std::cout << count << " results, sum of squares " << total << " (expected "
              << 100 * 101 * 201 / 6 << ")\n";
}

int main() { asyncio::run(main_task()); }
