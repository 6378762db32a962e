// Switching: awaiting a Task that completes at once (no trip through the loop), and
// yielding to the loop with sleep(0) (one loop iteration per yield).

#include "bench_support.hpp"

namespace asyncio::bench {
namespace {

void BM_AwaitReadyTask(benchmark::State& state) { run_batches(state, await_ready_task); }
BENCHMARK(BM_AwaitReadyTask)->Arg(100'000);

void BM_YieldSleep0(benchmark::State& state) { run_batches(state, yield_loop); }
BENCHMARK(BM_YieldSleep0)->Arg(100'000);

}  // namespace
}  // namespace asyncio::bench
