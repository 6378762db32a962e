#pragma once

#include <coroutine>
#include <cstddef>
#include <thread>

#include "asyncio/detail/loop_core.hpp"
#include "asyncio/detail/wait_queue.hpp"

namespace asyncio {

class Semaphore;

namespace detail {
class SemaphoreAcquire;
}

/// One permit of a Semaphore, given by `co_await semaphore.acquire()`: released when the
/// guard is destroyed, like the end of Python's `async with semaphore:` block. Move-only.
///
/// Thread safety: the semaphore's loop thread only.
class [[nodiscard]] SemaphoreGuard {
public:
    /// A guard that holds no permit.
    SemaphoreGuard() noexcept = default;
    SemaphoreGuard(SemaphoreGuard&& other) noexcept;
    /// Releases the permit this guard holds, then takes over `other`'s.
    SemaphoreGuard& operator=(SemaphoreGuard&& other) noexcept;
    SemaphoreGuard(const SemaphoreGuard&) = delete;
    SemaphoreGuard& operator=(const SemaphoreGuard&) = delete;
    ~SemaphoreGuard();

    /// Releases the permit now (see Semaphore::release).
    /// Throws: RuntimeError when the guard holds no permit; InvalidStateError when a
    /// BoundedSemaphore is already full (the permit was also released by hand).
    void release();

    /// True until the permit is released through this guard (or the guard is moved from).
    bool owns_permit() const noexcept { return semaphore_ != nullptr; }
    explicit operator bool() const noexcept { return owns_permit(); }

private:
    friend class detail::SemaphoreAcquire;
    explicit SemaphoreGuard(Semaphore& semaphore) noexcept : semaphore_(&semaphore) {}

    Semaphore* semaphore_ = nullptr;
};

namespace detail {

/// What Semaphore::acquire() returns. Holds the waiter node while the task waits, so
/// waiting allocates nothing.
class [[nodiscard]] SemaphoreAcquire {
public:
    explicit SemaphoreAcquire(Semaphore& semaphore) noexcept;
    SemaphoreAcquire(const SemaphoreAcquire&) = delete;
    SemaphoreAcquire& operator=(const SemaphoreAcquire&) = delete;

    bool await_ready() noexcept;
    void await_suspend(std::coroutine_handle<> awaiting) {
        waiter_.await_suspend(awaiting);
        waited_ = true;
    }
    [[nodiscard]] SemaphoreGuard await_resume();

private:
    Semaphore* semaphore_;
    WaitQueue::Waiter waiter_;
    bool waited_ = false;
};

}  // namespace detail

/// A counter of permits (Python's asyncio.Semaphore): acquire() takes one, waiting while
/// there is none, and release() gives one back. Bounds how many tasks do something at once.
///
/// Fair, as in Python 3.12: waiters get permits in the order they started waiting, and an
/// acquire() that finds tasks waiting queues behind them. release() hands its permit
/// straight to the first waiter (value() does not go up), so no newcomer can take it first.
///
/// Cancellation: a task cancelled while waiting leaves the queue and gets CancelledError.
/// A waiter cancelled after release() gave it a permit, before it resumed, passes that
/// permit to the next waiter or back to the count, then gets CancelledError: a permit is
/// never lost (gh-90155).
/// Throws: std::invalid_argument for a negative initial value (Python: ValueError).
/// Thread safety: not thread-safe. The semaphore belongs to the event loop that first uses
/// it; in debug mode, using it from another thread throws RuntimeError.
/// Example:
/// ```
/// asyncio::Semaphore limit(10);
/// // in each of 1000 tasks:
/// auto permit = co_await limit.acquire();  // at most 10 downloads at a time
/// co_await download(url);
/// ```
class Semaphore {
public:
    explicit Semaphore(std::ptrdiff_t value = 1);
    Semaphore(const Semaphore&) = delete;
    Semaphore& operator=(const Semaphore&) = delete;

    /// `co_await semaphore.acquire()` takes a permit, waiting for one if needed, and gives
    /// a SemaphoreGuard that releases it. Returns at once, without yielding to other tasks,
    /// when a permit is free and nobody waits. Keep the guard: a bare
    /// `co_await semaphore.acquire();` gives the permit back at once.
    ///
    /// Cancellation: see the class comment; a task that gets CancelledError holds no permit.
    /// Throws: RuntimeError when it must wait outside a task, or on another loop.
    detail::SemaphoreAcquire acquire() {
        enter(bound_ < 0 ? "Semaphore.acquire()" : "BoundedSemaphore.acquire()");
        return detail::SemaphoreAcquire(*this);
    }

    /// Gives a permit back, for use without a guard: the first waiter, if any, gets it.
    /// Throws: InvalidStateError for a BoundedSemaphore already at its initial value.
    void release();

    /// True when acquire() would wait: no permit is free, or tasks are waiting.
    bool locked() const {
        enter(bound_ < 0 ? "Semaphore.locked()" : "BoundedSemaphore.locked()");
        return value_ == 0 || !waiters_.empty();
    }

    /// Free permits (not counting those handed to woken waiters that have not resumed).
    std::ptrdiff_t value() const {
        enter(bound_ < 0 ? "Semaphore.value()" : "BoundedSemaphore.value()");
        return value_;
    }

protected:
    /// `bound`: the most value() may reach, or -1 for none.
    Semaphore(std::ptrdiff_t value, std::ptrdiff_t bound);

private:
    friend class SemaphoreGuard;
    friend class detail::SemaphoreAcquire;

    void enter(const char* operation) const {
        if (loop_ != detail::running_loop) [[unlikely]] {
            bind_loop(operation);
        }
    }
    void bind_loop(const char* operation) const;
    // Adds a permit and hands free permits to waiters.
    void give_back() noexcept;

    detail::WaitQueue waiters_;
    // Invariant between calls: value_ == 0 or nobody waits. A free permit goes to the first
    // waiter at once, so acquire() only ever queues behind others when value_ == 0.
    std::ptrdiff_t value_;
    std::ptrdiff_t bound_;
    mutable detail::LoopCore* loop_ = nullptr;
    mutable std::thread::id loop_thread_;
};

/// A Semaphore that refuses to be released above its initial value (Python's
/// asyncio.BoundedSemaphore), which catches a permit released twice.
///
/// Throws: from release(), InvalidStateError("BoundedSemaphore released too many times")
/// (Python raises ValueError); std::invalid_argument for a negative initial value.
/// Example: `asyncio::BoundedSemaphore pool(4);`
class BoundedSemaphore : public Semaphore {
public:
    explicit BoundedSemaphore(std::ptrdiff_t value = 1);
};

namespace detail {

inline SemaphoreAcquire::SemaphoreAcquire(Semaphore& semaphore) noexcept
    : semaphore_(&semaphore), waiter_(semaphore.waiters_) {}

inline bool SemaphoreAcquire::await_ready() noexcept {
    if (semaphore_->value_ == 0 || !semaphore_->waiters_.empty()) return false;
    --semaphore_->value_;
    return true;
}

}  // namespace detail

}  // namespace asyncio
