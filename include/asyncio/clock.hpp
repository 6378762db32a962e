#pragma once

#include <chrono>

namespace asyncio {

/// Durations and instants of loop time. Loop time is monotonic: it never jumps with the
/// wall clock.
using Duration = std::chrono::nanoseconds;
using TimePoint = std::chrono::time_point<std::chrono::steady_clock, Duration>;

/// The source of loop time. The loop reads it once per iteration and whenever `time()` is
/// asked, so an implementation must be cheap.
class Clock {
public:
    virtual ~Clock() = default;
    virtual TimePoint now() const noexcept = 0;
};

/// `std::chrono::steady_clock`: the default.
class SteadyClock final : public Clock {
public:
    TimePoint now() const noexcept override { return std::chrono::steady_clock::now(); }
};

/// A clock that moves only when told to, for deterministic tests of timing rules.
///
/// A loop running on a ManualClock jumps the clock straight to the next timer whenever it
/// has nothing else to do (no ready callbacks, no I/O or thread-pool work in flight), so
/// `co_await sleep(30s)` returns at once and every timer fires in deadline order, the same
/// way on every run. `advance()` moves it by hand, e.g. to simulate a slow callback.
///
/// Thread safety: use it from the loop's thread only.
class ManualClock final : public Clock {
public:
    explicit ManualClock(TimePoint start = TimePoint{std::chrono::hours(1)}) : now_(start) {}
    TimePoint now() const noexcept override { return now_; }
    /// Moves the clock forward by `delta` (negative values are ignored: time never goes back).
    void advance(Duration delta) noexcept {
        if (delta > Duration::zero()) now_ += delta;
    }
    /// Moves the clock to `when` if that is later than now.
    void advance_to(TimePoint when) noexcept {
        if (when > now_) now_ = when;
    }

private:
    TimePoint now_;
};

}  // namespace asyncio
