// Spawning: create_task() of trivial tasks, then gather() of their handles.

#include "bench_support.hpp"

namespace asyncio::bench {
namespace {

void BM_SpawnGather(benchmark::State& state) { run_batches(state, spawn_gather); }
BENCHMARK(BM_SpawnGather)->Arg(1'000)->Arg(100'000)->Arg(1'000'000)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace asyncio::bench
