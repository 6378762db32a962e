#pragma once

#include <coroutine>
#include <cstdint>
#include <thread>

#include "asyncio/detail/loop_core.hpp"
#include "asyncio/detail/wait_queue.hpp"

namespace asyncio {

class Lock;
class Condition;

namespace detail {
class LockAcquire;
}

/// One acquisition of a Lock, given by `co_await lock.acquire()`: releases the lock when
/// destroyed, like the end of Python's `async with lock:` block. Move-only.
///
/// A guard releases only the acquisition it was given. After `guard.release()`, or a manual
/// `lock.release()`, it owns nothing, even once the lock has been acquired again, so its
/// destructor never releases another task's lock. Condition::wait() gives the lock up and
/// takes it back within the same acquisition: the guard owns it again when wait() ends.
/// Thread safety: the lock's loop thread only.
/// Example:
/// ```
/// auto guard = co_await lock.acquire();
/// shared.push_back(x);  // released at the end of the scope, also on an exception
/// ```
class [[nodiscard]] LockGuard {
public:
    /// A guard that owns nothing.
    LockGuard() noexcept = default;
    LockGuard(LockGuard&& other) noexcept;
    /// Releases what this guard owns, then takes over `other`'s acquisition.
    LockGuard& operator=(LockGuard&& other) noexcept;
    LockGuard(const LockGuard&) = delete;
    LockGuard& operator=(const LockGuard&) = delete;
    ~LockGuard();

    /// Releases the lock now (see Lock::release).
    /// Throws: RuntimeError when the guard owns nothing (released, moved from, default).
    void release();

    /// True while this guard's acquisition holds the lock.
    bool owns_lock() const noexcept;
    explicit operator bool() const noexcept { return owns_lock(); }

private:
    friend class detail::LockAcquire;
    friend class Condition;
    LockGuard(Lock& lock, std::uint64_t acquisition) noexcept
        : lock_(&lock), acquisition_(acquisition) {}
    // Keeps the lock locked but stops owning it (Condition::wait returns with it held).
    void dismiss() noexcept { lock_ = nullptr; }

    Lock* lock_ = nullptr;
    std::uint64_t acquisition_ = 0;
};

namespace detail {

/// What Lock::acquire() returns. Holds the waiter node while the task waits, so waiting
/// allocates nothing.
class [[nodiscard]] LockAcquire {
public:
    explicit LockAcquire(Lock& lock) noexcept;
    LockAcquire(const LockAcquire&) = delete;
    LockAcquire& operator=(const LockAcquire&) = delete;

    bool await_ready() noexcept;
    void await_suspend(std::coroutine_handle<> awaiting) {
        waiter_.await_suspend(awaiting);
        waited_ = true;
    }
    [[nodiscard]] LockGuard await_resume();

private:
    Lock* lock_;
    WaitQueue::Waiter waiter_;
    bool waited_ = false;
};

}  // namespace detail

/// A mutual-exclusion lock for tasks (Python's asyncio.Lock). Not owned by a task: any task
/// may release it, as in Python.
///
/// Fair: waiters get the lock in the order they started waiting. release() hands the lock
/// straight to the first waiter, which resumes owning it, so a task that calls acquire()
/// in between queues behind it instead of taking the lock first. Python does the same
/// with a different bookkeeping; one visible difference: locked() is true from that
/// release() until the woken waiter resumes (Python says false, but still makes newcomers
/// wait).
///
/// Cancellation: a task cancelled while waiting leaves the queue and gets CancelledError.
/// A waiter cancelled after release() chose it, before it resumed, hands the lock to the
/// next waiter (or unlocks it) and then gets CancelledError: the lock is never lost
/// (bpo-27585).
/// Thread safety: not thread-safe. The lock belongs to the event loop that first uses it;
/// in debug mode, using it from another thread throws RuntimeError. Using it from another
/// loop always throws RuntimeError (Python: only when a task has to wait).
/// Example:
/// ```
/// asyncio::Lock lock;
/// // in each task:
/// auto guard = co_await lock.acquire();
/// co_await write_record(file, record);  // one task at a time
/// ```
class Lock {
public:
    Lock() noexcept : waiters_(detail::AwaitKind::lock, this) {}
    Lock(const Lock&) = delete;
    Lock& operator=(const Lock&) = delete;

    /// `co_await lock.acquire()` waits until the lock is free, takes it and gives a
    /// LockGuard that releases it. Returns at once, without yielding to other tasks, when
    /// the lock is free and nobody waits.
    ///
    /// Keep the guard: a bare `co_await lock.acquire();` destroys it, and so releases the
    /// lock, at once (clang warns about the discarded guard; GCC 12 does not).
    ///
    /// Cancellation: see the class comment; the task never ends up owning the lock when it
    /// gets CancelledError.
    /// Throws: RuntimeError when awaited outside a task, or on another loop.
    detail::LockAcquire acquire() {
        enter("Lock.acquire()");
        return detail::LockAcquire(*this);
    }

    /// Releases the lock, for use without a guard (Python's `lock.release()`): the first
    /// waiter, if any, becomes the owner and resumes.
    /// Throws: RuntimeError when the lock is not locked.
    void release();

    /// True while some task owns the lock (including a woken waiter that has not resumed).
    bool locked() const {
        enter("Lock.locked()");
        return locked_;
    }

private:
    friend class LockGuard;
    friend class detail::LockAcquire;
    friend class Condition;

    void enter(const char* operation) const {
        if (loop_ != detail::running_loop) [[unlikely]] {
            bind_loop(operation);
        }
    }
    void bind_loop(const char* operation) const;
    // Ends the current acquisition: hands the lock to the first waiter, or unlocks.
    void unlock() noexcept;

    detail::WaitQueue waiters_;  // only ever non-empty while locked
    // Each acquisition gets a new number; a guard owns the lock while its number is the
    // current one, so a guard whose acquisition was released by hand does nothing.
    std::uint64_t acquisition_ = 0;
    std::uint64_t acquisitions_ = 0;
    bool locked_ = false;
    mutable detail::LoopCore* loop_ = nullptr;
    mutable std::thread::id loop_thread_;
};

inline bool LockGuard::owns_lock() const noexcept {
    return lock_ != nullptr && lock_->locked_ && lock_->acquisition_ == acquisition_;
}

namespace detail {

inline LockAcquire::LockAcquire(Lock& lock) noexcept : lock_(&lock), waiter_(lock.waiters_) {}

inline bool LockAcquire::await_ready() noexcept {
    if (lock_->locked_) return false;
    lock_->locked_ = true;
    lock_->acquisition_ = ++lock_->acquisitions_;
    return true;
}

}  // namespace detail

}  // namespace asyncio
