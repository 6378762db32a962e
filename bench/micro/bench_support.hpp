// Google Benchmark glue: each iteration runs one workload of `state.range(0)` operations on
// a fresh loop (asyncio::run), and the rate is reported per operation.

#pragma once

#include <cstddef>
#include <memory>

#include <benchmark/benchmark.h>

#include "workloads.hpp"

namespace asyncio::bench {

template <class Make>
void run_batches(benchmark::State& state, Make make, bool manual_clock = false) {
    const auto n = static_cast<std::size_t>(state.range(0));
    for (auto _ : state) {
        RunOptions options;
        if (manual_clock) options.clock = std::make_shared<ManualClock>();
        run(make(n), options);
    }
    state.SetItemsProcessed(state.iterations() * state.range(0));
}

}  // namespace asyncio::bench
