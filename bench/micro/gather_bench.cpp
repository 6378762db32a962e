// gather(): two child tasks that complete at once, awaited together.

#include "bench_support.hpp"

namespace asyncio::bench {
namespace {

void BM_GatherPair(benchmark::State& state) { run_batches(state, gather_pairs); }
BENCHMARK(BM_GatherPair)->Arg(100'000);

}  // namespace
}  // namespace asyncio::bench
