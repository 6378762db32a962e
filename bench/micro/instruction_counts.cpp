// Runs one micro workload with a fixed count, for callgrind: no calibration loop, so the
// instruction count divided by the count is the cost of one operation plus a small fixed
// setup share (callgrind.sh subtracts it by running each workload at two counts).
//
// Usage: asyncio_instruction_counts <workload> <n>
// Prints the wall time and the rate too, which are only indicative on a shared machine.

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>

#include <sys/resource.h>

#include "workloads.hpp"

namespace {

using asyncio::Task;
using namespace std::chrono_literals;

struct Workload {
    const char* name;
    const char* unit;
    std::function<Task<>(std::size_t)> make;
    bool manual_clock;  // timers jump instead of waiting in real time
};

Task<> sleep_1s(std::size_t n) { return asyncio::bench::concurrent_sleeps(n, 1s); }
Task<> sleep_seq(std::size_t n) { return asyncio::bench::sequential_sleeps(n, 1ms); }
Task<> sleep_many(std::size_t n) { return asyncio::bench::concurrent_sleeps(n, 1ms); }
Task<> stream_64(std::size_t n) { return asyncio::bench::stream_round_trips(n, 64); }

const Workload workloads[] = {
    {"spawn", "tasks", asyncio::bench::spawn_gather, false},
    {"pingpong", "round trips", asyncio::bench::pingpong, false},
    {"queue_put_get", "put+get", asyncio::bench::queue_put_get, false},
    {"queue_nowait", "put+get", asyncio::bench::queue_nowait, false},
    {"await_ready", "awaits", asyncio::bench::await_ready_task, false},
    {"yield", "yields", asyncio::bench::yield_loop, false},
    {"sleep_fire", "sleeps", sleep_seq, true},
    {"sleep_many", "sleeps", sleep_many, true},
    {"sleep_1s", "sleeps", sleep_1s, false},
    {"timer_cancel", "timers", asyncio::bench::timer_arm_cancel, false},
    {"call_soon", "callbacks", asyncio::bench::call_soon_batch, false},
    {"gather", "gathers", asyncio::bench::gather_pairs, false},
    {"stream", "round trips", stream_64, false},
};

long max_rss_kib() {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    return usage.ru_maxrss;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: %s <workload> <n>\nworkloads:", argv[0]);
        for (const auto& w : workloads) std::fprintf(stderr, " %s", w.name);
        std::fprintf(stderr, "\n");
        return 2;
    }
    const std::size_t n = std::strtoull(argv[2], nullptr, 10);
    for (const auto& w : workloads) {
        if (std::strcmp(w.name, argv[1]) != 0) continue;
        asyncio::RunOptions options;
        if (w.manual_clock) options.clock = std::make_shared<asyncio::ManualClock>();
        const long rss_before = max_rss_kib();
        const auto start = std::chrono::steady_clock::now();
        asyncio::run(w.make(n), options);
        const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
        const long rss_after = max_rss_kib();
        std::printf("%s n=%zu: %.3f s, %.2f M %s/s, peak RSS +%ld KiB (%.0f B per op)\n", w.name, n,
                    took.count(), n / took.count() / 1e6, w.unit, rss_after - rss_before,
                    n != 0 ? (rss_after - rss_before) * 1024.0 / static_cast<double>(n) : 0.0);
        return 0;
    }
    std::fprintf(stderr, "unknown workload %s\n", argv[1]);
    return 2;
}
