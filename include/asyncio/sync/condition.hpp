#pragma once

#include <cstddef>
#include <thread>
#include <type_traits>

#include "asyncio/detail/loop_core.hpp"
#include "asyncio/detail/wait_queue.hpp"
#include "asyncio/sync/lock.hpp"
#include "asyncio/task.hpp"

namespace asyncio {

/// A condition variable for tasks (Python's asyncio.Condition): tasks holding its lock
/// wait() until another task notify()s them. The lock is the condition's own, or a Lock
/// passed in and shared with other code or other conditions (Python's Condition(lock)).
///
/// Python's rules: wait(), notify() and notify_all() need the lock held (Python checks
/// that it is locked, not by whom, and so do we); wait() releases it while waiting and
/// holds it again when it returns or throws. Wake-ups are FIFO.
///
/// Cancellation: a cancelled wait() gets the lock back before CancelledError propagates
/// (as in Python), so a guard around it stays correct. A waiter cancelled after notify()
/// chose it, before it resumed, passes the notification to the next waiter (gh-112202).
/// Unlike Python, a waiter cancelled before being notified wakes nobody (Python 3.12
/// notifies one more waiter on any error; that wake-up would be spurious).
/// Thread safety: not thread-safe. The condition belongs to the event loop that first uses
/// it; in debug mode, using it from another thread throws RuntimeError.
/// Example:
/// ```
/// auto guard = co_await cond.acquire();
/// co_await cond.wait_for([&] { return !items.empty(); });
/// auto item = take(items);
/// ```
class Condition {
public:
    /// A condition with a lock of its own.
    Condition() noexcept : lock_(&own_lock_), waiters_(detail::AwaitKind::condition, this) {}
    /// A condition over `lock`, which must outlive it.
    explicit Condition(Lock& lock) noexcept
        : lock_(&lock), waiters_(detail::AwaitKind::condition, this) {}
    Condition(const Condition&) = delete;
    Condition& operator=(const Condition&) = delete;

    /// Acquires the underlying lock (Lock::acquire).
    detail::LockAcquire acquire() {
        enter("Condition.acquire()");
        return lock_->acquire();
    }
    /// Releases the underlying lock (Lock::release).
    /// Throws: RuntimeError when it is not locked.
    void release() {
        enter("Condition.release()");
        lock_->release();
    }
    /// True while the underlying lock is held.
    bool locked() const {
        enter("Condition.locked()");
        return lock_->locked();
    }

    /// `co_await cond.wait()` releases the lock, waits for notify() or notify_all(), and
    /// acquires the lock again before it returns. May return without a notification of
    /// the caller's own (see the class comment), so check the state again after it, or use
    /// wait_for().
    ///
    /// Cancellation: throws CancelledError once the lock is held again; a cancellation
    /// while re-acquiring the lock restarts the re-acquiring.
    /// Throws: RuntimeError when the lock is not held.
    Task<> wait();

    /// Waits until `predicate()` is true, calling wait() in between, and returns the last
    /// value of the predicate. Needs the lock held (unless the predicate is already true).
    ///
    /// Cancellation: as wait().
    /// Throws: RuntimeError when it must wait and the lock is not held.
    template <class Predicate>
    Task<std::decay_t<std::invoke_result_t<Predicate&>>> wait_for(Predicate predicate) {
        enter("Condition.wait_for()");
        auto result = predicate();
        while (!result) {
            co_await wait();
            result = predicate();
        }
        co_return result;
    }

    /// Wakes up to `n` waiting tasks, longest-waiting first. Each returns from wait() once
    /// it holds the lock again, so the caller must release the lock for them to proceed.
    /// Throws: RuntimeError when the lock is not held.
    void notify(std::size_t n = 1);

    /// Wakes every waiting task.
    /// Throws: RuntimeError when the lock is not held.
    void notify_all();

private:
    void enter(const char* operation) const {
        if (loop_ != detail::running_loop) [[unlikely]] {
            bind_loop(operation);
        }
    }
    void bind_loop(const char* operation) const;
    void wake(std::size_t n) noexcept;

    Lock own_lock_;  // unused when a lock was passed in
    Lock* lock_;
    detail::WaitQueue waiters_;
    mutable detail::LoopCore* loop_ = nullptr;
    mutable std::thread::id loop_thread_;
};

}  // namespace asyncio
