#pragma once

#include <chrono>
#include <coroutine>

#include "asyncio/clock.hpp"
#include "asyncio/detail/task_promise.hpp"

namespace asyncio {

namespace detail {

/// What sleep() returns: a timer in the loop's heap while the task waits. Lives in the
/// awaiting coroutine's frame, so a sleep allocates nothing. Kept small (a million sleeping
/// tasks are a million of these): the flags fill the padding of TimerNode, and the delay
/// waits in `deadline` until the timer is armed.
class [[nodiscard]] SleepAwaiter : private ActionItem, private TimerNode {
public:
    explicit SleepAwaiter(Duration delay) noexcept : ActionItem(&SleepAwaiter::on_due) {
        deadline = TimePoint(delay);
    }
    SleepAwaiter(const SleepAwaiter&) = delete;
    SleepAwaiter& operator=(const SleepAwaiter&) = delete;
    ~SleepAwaiter() {
        if (scheduled()) task_->loop()->remove_timer(*this);
    }

    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<> awaiting);
    void await_resume() {
        if (cancelled_) task_->throw_cancelled();
        task_->throw_if_cancel_pending();
    }

private:
    static void on_deadline(TimerNode& node) noexcept;
    static void on_due(ActionItem& action) noexcept;
    static bool on_cancel(void* self) noexcept;

    bool cancelled_ = false;
    bool woken_ = false;
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
