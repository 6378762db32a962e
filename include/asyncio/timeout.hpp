#pragma once

#include <cstdint>
#include <optional>
#include <type_traits>
#include <utility>

#include "asyncio/clock.hpp"
#include "asyncio/detail/awaitable_traits.hpp"
#include "asyncio/errors.hpp"
#include "asyncio/task.hpp"

namespace asyncio {

/// The deadline of a timeout() scope (Python's asyncio.Timeout). The body of a scope gets
/// it by reference and may move the deadline.
///
/// Thread safety: the loop's thread only.
class Timeout : private detail::TimerNode {
public:
    /// The deadline in loop time, or nullopt when there is none.
    std::optional<TimePoint> when() const noexcept { return when_; }
    /// Moves the deadline (nullopt: no deadline). A deadline already past fires in the next
    /// loop iteration.
    /// Throws: RuntimeError once the deadline has fired or the scope has ended.
    void reschedule(std::optional<TimePoint> when);
    /// True once the deadline fired.
    bool expired() const noexcept { return state_ == State::expiring || state_ == State::expired; }

    // Internal: the scope's entry and exit, used by timeout()'s coroutine.
    explicit Timeout(std::optional<TimePoint> when);
    ~Timeout();
    Timeout(const Timeout&) = delete;
    Timeout& operator=(const Timeout&) = delete;
    /// Leaves the scope; returns true when a CancelledError leaving it must become
    /// TimeoutError (the deadline caused it and no other cancellation is pending).
    bool exit(bool leaving_with_cancel) noexcept;

private:
    enum class State : std::uint8_t { entered, expiring, expired, exited };
    static void on_deadline(detail::TimerNode& node) noexcept;
    void expire() noexcept;
    void drop_pending_expiry() noexcept;

    detail::TaskPromiseBase* task_;
    detail::CallbackBase* pending_expiry_ = nullptr;  // queued, not yet run
    std::optional<TimePoint> when_;
    std::uint32_t cancelling_at_entry_;
    bool cancel_pending_at_entry_;
    State state_ = State::entered;
};

namespace detail {

template <class Body>
struct TimeoutBodyResult {
    using awaitable = std::invoke_result_t<Body&, Timeout&>;
    using type = typename traits_of<awaitable>::value_type;
};

template <class T, class Body>
Task<T> run_with_timeout(std::optional<TimePoint> when, Body body) {
    Timeout scope(when);
    try {
        if constexpr (std::is_void_v<T>) {
            co_await body(scope);
            scope.exit(false);
        } else {
            T value = co_await body(scope);
            scope.exit(false);
            co_return std::move(value);
        }
    } catch (const CancelledError&) {
        if (scope.exit(true)) throw TimeoutError("the timeout expired");
        throw;
    }
}

template <class A>
auto as_timeout_body(A&& awaitable) {
    if constexpr (std::is_invocable_v<A&, Timeout&>) {
        return std::forward<A>(awaitable);
    } else {
        static_assert(Gatherable<A>,
                      "timeout() takes a Task, TaskHandle or Future, or a callable "
                      "Task<T>(asyncio::Timeout&)");
        return [held = std::forward<A>(awaitable)](Timeout&) mutable { return std::move(held); };
    }
}

template <class A>
auto timeout_until(std::optional<TimePoint> when, A&& awaitable) {
    auto body = as_timeout_body(std::forward<A>(awaitable));
    using T = typename TimeoutBodyResult<decltype(body)>::type;
    return run_with_timeout<T>(when, std::move(body));
}

}  // namespace detail

/// Runs `body` in the current task with a deadline `delay` from now (nullopt: none). When
/// the deadline passes, the body is cancelled and, once it has unwound, TimeoutError is
/// thrown (Python's `async with asyncio.timeout(delay)`). `body` is a Task<T>, a
/// TaskHandle<T>, a Future<T>, or a callable `Task<T>(asyncio::Timeout&)` that can
/// reschedule the deadline.
///
/// Throws: TimeoutError; whatever the body throws. A cancellation from elsewhere that
/// arrives while the scope is active stays a CancelledError.
/// Example:
/// ```
/// int v = co_await asyncio::timeout(5s, fetch());
/// co_await asyncio::timeout(5s, [&](asyncio::Timeout& t) -> asyncio::Task<> {
///     co_await step_one();
///     t.reschedule(asyncio::get_running_loop().time() + 10s);
///     co_await step_two();
/// });
/// ```
template <class A>
auto timeout(std::optional<Duration> delay, A&& body) {
    std::optional<TimePoint> when;
    if (delay) when = detail::require_running_loop().now() + *delay;
    return detail::timeout_until(when, std::forward<A>(body));
}

/// timeout() with an absolute deadline in loop time.
template <class A>
auto timeout_at(std::optional<TimePoint> when, A&& body) {
    return detail::timeout_until(when, std::forward<A>(body));
}

namespace detail {
template <class Handle>
Task<typename traits_of<Handle>::value_type> wait_for_now(Handle handle) {
    FutureStateBase* state = state_of(handle);
    if (!state->done()) {
        // Python's _cancel_and_wait: cancel the work, wait for it to acknowledge (a
        // cancellation of the waiter itself still gets through).
        state->cancel("");
        co_await ShieldedWait(*state);
        if (state->cancelled()) {
            (void)state->take_exception();
            throw TimeoutError("wait_for(): the timeout expired");
        }
    }
    if constexpr (std::is_void_v<typename traits_of<Handle>::value_type>) {
        handle.result();
    } else {
        co_return take_value<false>(handle);
    }
}
}  // namespace detail

/// Waits for `awaitable` for at most `timeout` (nullopt: no limit); on timeout the
/// awaitable is cancelled and awaited, then TimeoutError is thrown (Python's wait_for, in
/// its 3.12 form built on timeout()). A timeout <= 0 cancels work that is not already done.
/// Example: `auto page = co_await asyncio::wait_for(download(url), 10s);`
template <detail::Gatherable A>
auto wait_for(A&& awaitable, std::optional<Duration> timeout)
    -> Task<typename detail::traits_of<A>::value_type> {
    using Traits = detail::traits_of<A>;
    if (timeout && *timeout <= Duration::zero()) {
        auto handle = Traits::to_handle(detail::require_running_loop(), std::forward<A>(awaitable));
        return detail::wait_for_now(std::move(handle));
    }
    return asyncio::timeout(timeout, std::forward<A>(awaitable));
}

}  // namespace asyncio
