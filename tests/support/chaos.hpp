#pragma once

// Random-cancellation runs for the primitives that hand something over on release (Lock,
// Semaphore): the holder, after releasing, often cancels the waiter its release just woke
// (it owns the lock or permit but has not resumed yet): reliability row 6.

#include <asyncio/asyncio.hpp>
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <deque>
#include <utility>
#include <vector>

namespace asyncio::testing {

/// Shared state of a run. Each task is listed in `waiting` while it waits, in arrival
/// order, so a task that releases knows whom it just woke.
struct Chaos {
    std::vector<TaskHandle<>> tasks;
    std::deque<int> waiting;
    std::uint32_t seed = 1;
    int inside = 0;
    int max_inside = 0;
    int finished = 0;
    int woken_then_cancelled = 0;

    std::uint32_t next() {
        seed = seed * 1664525u + 1013904223u;
        return seed >> 8;
    }
    void stop_waiting(int id) { waiting.erase(std::find(waiting.begin(), waiting.end(), id)); }
};

/// Acquires `primitive`, holds it for a random 0..max_hold_ms, releases it, then half the
/// time cancels the waiter the release woke.
template <class Primitive>
Task<> chaotic_holder(Primitive& primitive, Chaos& chaos, int id, unsigned max_hold_ms) {
    using Guard = decltype(std::declval<Primitive&>().acquire().await_resume());
    chaos.waiting.push_back(id);
    Guard guard;
    try {
        guard = co_await primitive.acquire();
    } catch (const CancelledError&) {
        chaos.stop_waiting(id);
        throw;
    }
    chaos.stop_waiting(id);
    chaos.max_inside = std::max(chaos.max_inside, ++chaos.inside);
    try {
        co_await sleep(std::chrono::milliseconds(chaos.next() % (max_hold_ms + 1)));
    } catch (const CancelledError&) {
        --chaos.inside;
        throw;
    }
    --chaos.inside;
    ++chaos.finished;
    guard.release();
    if (!chaos.waiting.empty() && chaos.next() % 2 == 0) {
        ++chaos.woken_then_cancelled;
        chaos.tasks[static_cast<std::size_t>(chaos.waiting.front())].cancel();
    }
}

}  // namespace asyncio::testing
