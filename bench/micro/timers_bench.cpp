// Timers: arm and fire (sleeps, on a ManualClock so that nobody waits in real time), arm
// and cancel (call_later + TimerHandle::cancel), and many concurrent sleeps.

#include "bench_support.hpp"

namespace asyncio::bench {
namespace {

void BM_SleepArmFire(benchmark::State& state) {
    run_batches(
        state, [](std::size_t n) { return sequential_sleeps(n, 1ms); }, true);
}
BENCHMARK(BM_SleepArmFire)->Arg(100'000);

void BM_ConcurrentSleeps(benchmark::State& state) {
    run_batches(
        state, [](std::size_t n) { return concurrent_sleeps(n, 1ms); }, true);
}
BENCHMARK(BM_ConcurrentSleeps)->Arg(1'000)->Arg(100'000)->Unit(benchmark::kMillisecond);

// The issue #6 target: a million tasks sleeping one real second (wall time includes it).
void BM_MillionSleep1s(benchmark::State& state) {
    run_batches(state, [](std::size_t n) { return concurrent_sleeps(n, 1s); });
}
BENCHMARK(BM_MillionSleep1s)->Arg(1'000'000)->Iterations(1)->Unit(benchmark::kMillisecond);

void BM_TimerArmCancel(benchmark::State& state) { run_batches(state, timer_arm_cancel); }
BENCHMARK(BM_TimerArmCancel)->Arg(100'000);

}  // namespace
}  // namespace asyncio::bench
