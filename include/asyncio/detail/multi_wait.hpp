#pragma once

#include <coroutine>
#include <cstddef>
#include <vector>

#include "asyncio/detail/task_promise.hpp"

namespace asyncio::detail {

/// Waits for several futures or tasks at once, for gather() and wait(). The awaiting task
/// is woken once, when the condition is met, the deadline passes, or (gather) the first
/// child fails. Embedded in the awaiter, so it lives in the awaiting coroutine's frame.
class MultiWait : private TimerNode {
public:
    enum class WakeWhen { all_done, first_done, first_failure };

    /// `gather_semantics`: cancelling the waiting task cancels the children, and a cancelled
    /// child counts as a failure (gather). Otherwise (wait) the children are left alone and
    /// only a child that raised counts as a failure.
    MultiWait(std::vector<FutureStateBase*> children, WakeWhen wake_when, bool gather_semantics);
    MultiWait(const MultiWait&) = delete;
    MultiWait& operator=(const MultiWait&) = delete;
    ~MultiWait();

    /// Wake up at `deadline` at the latest (wait() with a timeout).
    void set_deadline(TimePoint deadline) noexcept {
        has_deadline_ = true;
        deadline_ = deadline;
    }

    bool await_ready() noexcept;
    bool await_suspend(std::coroutine_handle<> awaiting);
    void await_resume() { check_cancelled(); }
    /// Throws CancelledError if the waiting task was cancelled meanwhile.
    void check_cancelled();

    /// Index of the first child to fail (exception or cancelled), or -1.
    long first_failure() const noexcept { return first_failure_; }
    bool cancel_requested() const noexcept { return cancel_requested_; }
    const std::vector<FutureStateBase*>& children() const noexcept { return children_; }

    /// The end of a gather: marks every child's exception retrieved, then throws a
    /// pending cancellation, or (unless `collect_errors`) the first child's error, or (if
    /// `collect_errors`) CancelledError when the gather itself was cancelled.
    void finish_gather(bool collect_errors);

    /// Marks the exceptions of failed children retrieved now, and of pending children when
    /// they fail later: gather() reports the first error and swallows the rest, as Python.
    void retrieve_all_exceptions() noexcept { retrieve_later_ = true; }

private:
    struct ChildNode : WaiterNode {
        MultiWait* wait = nullptr;  // the child's index is its place in nodes_
    };

    bool condition_met() noexcept;
    bool satisfied(std::size_t done) const noexcept;
    void child_done(std::size_t index) noexcept;
    void wake() noexcept;
    static void on_child_done(WaiterNode& node, FutureStateBase& state) noexcept;
    bool failed(const FutureStateBase& child) const noexcept;
    static void on_deadline(TimerNode& node) noexcept;
    static void on_due(TimerNode& node) noexcept;
    static bool on_cancel(void* self) noexcept;

    std::vector<FutureStateBase*> children_;
    std::vector<ChildNode> nodes_;
    TaskPromiseBase* task_ = nullptr;
    TimePoint deadline_{};
    std::size_t remaining_ = 0;
    long first_failure_ = -1;
    WakeWhen wake_when_;
    bool cancel_children_;
    bool has_deadline_ = false;
    bool cancel_requested_ = false;
    bool woken_ = false;
    bool retrieve_later_ = false;
};

/// Delivers children in the order they finish, for as_completed(). Children that finished
/// before it was made come first, in their given order.
class CompletionQueue : private TimerNode {
public:
    CompletionQueue(std::vector<FutureStateBase*> children, bool has_deadline, TimePoint deadline);
    CompletionQueue(const CompletionQueue&) = delete;
    CompletionQueue& operator=(const CompletionQueue&) = delete;
    ~CompletionQueue();

    /// Children not yet handed out by take().
    std::size_t remaining() const noexcept { return remaining_; }
    const std::vector<FutureStateBase*>& children() const noexcept { return children_; }

    bool ready() const noexcept {
        return finished_head_ < finished_.size() || timed_out_ || remaining_ == 0;
    }
    void suspend(std::coroutine_handle<> awaiting);
    /// The index of the next finished child. Throws TimeoutError when the deadline passed
    /// first, CancelledError when the waiting task was cancelled.
    std::size_t take();

private:
    struct ChildNode : WaiterNode {
        CompletionQueue* queue = nullptr;
        std::size_t index = 0;
    };
    void wake() noexcept;
    static void on_child_done(WaiterNode& node, FutureStateBase& state) noexcept;
    static void on_deadline(TimerNode& node) noexcept;
    static bool on_cancel(void* self) noexcept;

    std::vector<FutureStateBase*> children_;
    std::vector<ChildNode> nodes_;
    std::vector<std::size_t> finished_;  // FIFO: consumed from finished_head_
    std::size_t finished_head_ = 0;
    std::size_t remaining_;
    LoopCore* loop_;
    TaskPromiseBase* waiting_ = nullptr;
    bool wake_pending_ = false;
    bool timed_out_ = false;
};

}  // namespace asyncio::detail
