#pragma once

#include <chrono>
#include <coroutine>

#include "asyncio/clock.hpp"
#include "asyncio/detail/task_promise.hpp"

namespace asyncio {

namespace detail {

/// What sleep() returns: a timer in the loop's heap while the task waits. Lives in the
/// awaiting coroutine's frame, so a sleep allocates nothing. Kept to 48 bytes (a million
/// sleeping tasks are a million of these): the delay waits in `deadline` until the timer
/// is armed, and the timer's `fire` pointer is also the sleep's state (see task.cpp).
class [[nodiscard]] SleepAwaiter : private TimerNode {
public:
    explicit SleepAwaiter(Duration delay) noexcept { deadline = TimePoint(delay); }
    SleepAwaiter(const SleepAwaiter&) = delete;
    SleepAwaiter& operator=(const SleepAwaiter&) = delete;
    ~SleepAwaiter() {
        if (scheduled()) task_->loop()->remove_timer(*this);
    }

    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<> awaiting);
    void await_resume() {
        if (fire == &SleepAwaiter::cancelled) task_->throw_cancelled();
        task_->throw_if_cancel_pending();
    }

private:
    static void on_deadline(TimerNode& node) noexcept;
    static void on_due(TimerNode& node) noexcept;
    static void cancelled(TimerNode& node) noexcept;
    static bool on_cancel(void* self) noexcept;

    TaskPromiseBase* task_ = nullptr;
};

}  // namespace detail

/// Suspends the calling task for at least `delay` of loop time. `sleep(0s)` (or any
/// delay <= 0) lets every other ready task run once and resumes in the next iteration.
///
/// Cancellation: throws CancelledError at once; the timer is removed.
/// Example: `co_await asyncio::sleep(50ms);`
inline detail::SleepAwaiter sleep(Duration delay) noexcept { return detail::SleepAwaiter(delay); }

/// sleep() for any duration type, e.g. `sleep(std::chrono::duration<double>(0.25))`;
/// fractions of a nanosecond round up.
template <class Rep, class Period>
detail::SleepAwaiter sleep(std::chrono::duration<Rep, Period> delay) noexcept {
    return detail::SleepAwaiter(std::chrono::ceil<Duration>(delay));
}

}  // namespace asyncio
