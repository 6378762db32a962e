#pragma once

#include <cstddef>
#include <iterator>
#include <optional>
#include <stdexcept>
#include <utility>
#include <vector>

#include "asyncio/clock.hpp"
#include "asyncio/detail/awaitable_traits.hpp"
#include "asyncio/detail/multi_wait.hpp"
#include "asyncio/task.hpp"

namespace asyncio {

/// When wait() returns.
enum class ReturnWhen { first_completed, first_exception, all_completed };
/// Python's spellings, so that ported code reads the same.
inline constexpr ReturnWhen FIRST_COMPLETED = ReturnWhen::first_completed;
inline constexpr ReturnWhen FIRST_EXCEPTION = ReturnWhen::first_exception;
inline constexpr ReturnWhen ALL_COMPLETED = ReturnWhen::all_completed;

/// The two sets wait() gives: tasks done and still pending, each in the order given.
template <class Handle>
struct WaitResult {
    std::vector<Handle> done;
    std::vector<Handle> pending;
};

namespace detail {

template <class A>
concept HandleRange = requires(A& range) {
    std::begin(range);
    std::end(range);
    requires !traits_of<std::iter_value_t<decltype(std::begin(range))>>::owned;
};

template <class Handle>
Task<WaitResult<Handle>> wait_for_handles(std::vector<Handle> handles, ReturnWhen when,
                                          std::optional<Duration> timeout) {
    {
        std::vector<FutureStateBase*> states;
        states.reserve(handles.size());
        for (const auto& handle : handles) states.push_back(state_of(handle));
        const auto policy = when == ReturnWhen::first_completed ? MultiWait::WakeWhen::first_done
                            : when == ReturnWhen::first_exception
                                ? MultiWait::WakeWhen::first_failure
                                : MultiWait::WakeWhen::all_done;
        MultiWait waiter(std::move(states), policy, false);
        if (timeout) waiter.set_deadline(require_running_loop().now() + *timeout);
        co_await waiter;
    }
    WaitResult<Handle> result;
    for (auto& handle : handles) {
        (state_of(handle)->done() ? result.done : result.pending).push_back(std::move(handle));
    }
    co_return result;
}

template <class Range>
auto collect_handles(Range&& range, const char* caller, bool allow_empty) {
    using Traits = traits_of<std::iter_value_t<decltype(std::begin(range))>>;
    LoopCore& loop = require_running_loop();
    std::vector<typename Traits::handle_type> handles;
    for (const auto& element : range) handles.push_back(Traits::to_handle(loop, element));
    if (handles.empty() && !allow_empty) {
        throw std::invalid_argument(std::string(caller) + ": the set of tasks is empty");
    }
    return handles;
}

}  // namespace detail

/// Waits for the tasks or futures until `return_when` holds or `timeout` passes, and gives
/// them back split into done and pending (Python's asyncio.wait). It neither cancels
/// anything on timeout nor throws the tasks' errors.
///
/// Throws: std::invalid_argument for an empty range.
/// Cancellation: only the waiting stops; the tasks keep running.
/// Example: `auto [done, pending] = co_await asyncio::wait(tasks, asyncio::FIRST_COMPLETED);`
template <detail::HandleRange Range>
auto wait(Range&& tasks, ReturnWhen return_when = ReturnWhen::all_completed,
          std::optional<Duration> timeout = std::nullopt) {
    auto handles = detail::collect_handles(tasks, "wait()", false);
    return detail::wait_for_handles(std::move(handles), return_when, timeout);
}

/// Hands out tasks in the order they finish (Python's asyncio.as_completed, in the 3.13
/// form that yields the original tasks).
///
/// Example:
/// ```
/// auto finished = asyncio::as_completed(tasks);
/// while (finished.remaining() > 0) {
///     auto task = co_await finished.next();
///     use(co_await task);
/// }
/// ```
template <class Handle>
class AsCompleted {
public:
    AsCompleted(std::vector<Handle> handles, std::optional<Duration> timeout)
        : handles_(std::move(handles)),
          queue_(states(handles_), timeout.has_value(),
                 timeout ? detail::require_running_loop().now() + *timeout : TimePoint{}) {}

    /// Tasks not handed out yet.
    std::size_t remaining() const noexcept { return queue_.remaining(); }

    /// Waits for the next task to finish and gives it.
    /// Throws: TimeoutError when the timeout passes first (tasks that finished before it are
    /// still handed out first); InvalidStateError when none is left.
    /// Cancellation: only the waiting stops.
    auto next() {
        struct Awaiter {
            AsCompleted& self;
            bool await_ready() const noexcept { return self.queue_.ready(); }
            void await_suspend(std::coroutine_handle<> awaiting) { self.queue_.suspend(awaiting); }
            Handle await_resume() { return self.handles_[self.queue_.take()]; }
        };
        return Awaiter{*this};
    }

private:
    static std::vector<detail::FutureStateBase*> states(const std::vector<Handle>& handles) {
        std::vector<detail::FutureStateBase*> result;
        for (const auto& handle : handles) result.push_back(detail::state_of(handle));
        return result;
    }

    std::vector<Handle> handles_;
    detail::CompletionQueue queue_;
};

/// Makes an AsCompleted over the tasks or futures; `timeout` counts from this call.
template <detail::HandleRange Range>
auto as_completed(Range&& tasks, std::optional<Duration> timeout = std::nullopt) {
    auto handles = detail::collect_handles(tasks, "as_completed()", true);
    return AsCompleted<typename decltype(handles)::value_type>(std::move(handles), timeout);
}

}  // namespace asyncio
