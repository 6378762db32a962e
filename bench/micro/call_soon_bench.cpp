// call_soon(): callbacks queued from a task and run in one loop iteration.

#include "bench_support.hpp"

namespace asyncio::bench {
namespace {

void BM_CallSoon(benchmark::State& state) { run_batches(state, call_soon_batch); }
BENCHMARK(BM_CallSoon)->Arg(100'000);

}  // namespace
}  // namespace asyncio::bench
