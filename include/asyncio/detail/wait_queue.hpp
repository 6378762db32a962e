#pragma once

#include <coroutine>
#include <cstddef>

#include "asyncio/detail/task_promise.hpp"

namespace asyncio::detail {

/// A FIFO of suspended tasks, the building block of Lock, Event, Semaphore, Condition,
/// Barrier and the queues. The nodes live in the awaiters (no allocation per wait).
///
/// A woken waiter resumes in a later loop iteration; it may be cancelled in between. That
/// window is where CPython, Tokio and others lost wake-ups (bpo-27585, gh-90155, gh-112202,
/// tokio#4618), so the awaiter reports it: `await_resume()` returns true when the waiter
/// was woken *and* a cancellation is pending. The primitive must then pass what it was
/// given (the lock, a permit, an item slot) to the next waiter before throwing with
/// `Waiter::throw_cancelled()`.
class WaitQueue {
public:
    class Waiter;

    /// `kind`: what a task waiting here is shown as waiting for (AwaitKind::lock, ...);
    /// `owner`: the primitive, shown with it.
    explicit WaitQueue(AwaitKind kind = AwaitKind::other, const void* owner = nullptr) noexcept
        : kind_(kind), owner_(owner) {}
    WaitQueue(const WaitQueue&) = delete;
    WaitQueue& operator=(const WaitQueue&) = delete;
    ~WaitQueue();

    bool empty() const noexcept { return head_ == nullptr; }
    std::size_t size() const noexcept { return size_; }

    /// Wakes the longest-waiting task; false when nobody waits.
    bool wake_one() noexcept;
    /// Wakes everyone; returns how many.
    std::size_t wake_all() noexcept;

private:
    friend class Waiter;
    void push(Waiter& waiter) noexcept;
    void remove(Waiter& waiter) noexcept;

    Waiter* head_ = nullptr;
    Waiter* tail_ = nullptr;
    std::size_t size_ = 0;
    AwaitKind kind_;
    const void* owner_;
};

/// `co_await queue_waiter` suspends until wake_one/wake_all picks this waiter or the task
/// is cancelled. Construct it right where it is awaited.
class WaitQueue::Waiter {
public:
    explicit Waiter(WaitQueue& queue) noexcept : queue_(&queue) {}
    Waiter(const Waiter&) = delete;
    Waiter& operator=(const Waiter&) = delete;
    ~Waiter();

    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<> awaiting);
    /// Throws CancelledError when cancelled before being woken. Returns true when woken
    /// but cancelled before resuming: the caller owns what the wake-up gave it, must hand
    /// it on, then call `throw_cancelled()`.
    [[nodiscard]] bool await_resume();

    /// Throws the pending CancelledError (after handing on a wake-up).
    [[noreturn]] void throw_cancelled();

    bool woken() const noexcept { return woken_; }

private:
    friend class WaitQueue;
    static bool on_cancel(void* self) noexcept;

    WaitQueue* queue_;
    Waiter* prev_ = nullptr;
    Waiter* next_ = nullptr;
    TaskPromiseBase* task_ = nullptr;
    bool queued_ = false;
    bool woken_ = false;
    bool cancelled_ = false;
};

}  // namespace asyncio::detail
