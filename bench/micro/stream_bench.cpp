// Streams: a StreamWriter/StreamReader round trip through a loopback TCP echo server.

#include "bench_support.hpp"

namespace asyncio::bench {
namespace {

void BM_StreamRoundTrip(benchmark::State& state) {
    const auto size = static_cast<std::size_t>(state.range(1));
    run_batches(state, [size](std::size_t n) { return stream_round_trips(n, size); });
    state.SetBytesProcessed(state.iterations() * state.range(0) * state.range(1));
}
BENCHMARK(BM_StreamRoundTrip)->Args({10'000, 64})->Args({1'000, 16384});

}  // namespace
}  // namespace asyncio::bench
