// Queues: two tasks ping-ponging through two Queues, and put/get that never wait.

#include "bench_support.hpp"

namespace asyncio::bench {
namespace {

void BM_QueuePingPong(benchmark::State& state) { run_batches(state, pingpong); }
BENCHMARK(BM_QueuePingPong)->Arg(100'000)->Arg(1'000'000)->Unit(benchmark::kMillisecond);

void BM_QueuePutGetNoWait(benchmark::State& state) { run_batches(state, queue_put_get); }
BENCHMARK(BM_QueuePutGetNoWait)->Arg(100'000);

void BM_QueuePutGetNowait(benchmark::State& state) { run_batches(state, queue_nowait); }
BENCHMARK(BM_QueuePutGetNowait)->Arg(100'000);

}  // namespace
}  // namespace asyncio::bench
