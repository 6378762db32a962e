#pragma once

#include <cstdint>
#include <thread>

#include "asyncio/detail/loop_core.hpp"
#include "asyncio/detail/wait_queue.hpp"
#include "asyncio/task.hpp"

namespace asyncio {

/// A meeting point for a fixed number of tasks (Python's asyncio.Barrier): each wait()
/// blocks until `parties` tasks are waiting, then all of them return together. Reusable:
/// once every task of a round has left, the next round starts filling.
///
/// Python 3.12's states and rules: tasks that arrive while a round is still leaving
/// ("draining") or while a reset() is under way wait for the next round; abort() breaks the
/// barrier until reset(). Python's reset() and abort() are coroutines (they take the
/// barrier's internal lock); here they are plain functions that act at once.
///
/// Cancellation: a task cancelled while the barrier fills leaves it (n_waiting() drops by
/// one) and gets CancelledError; the barrier is not broken, as in Python. A task cancelled
/// after the last arrival released it, before it resumed, gets CancelledError too (Python:
/// the same); the others of its round return normally.
/// Throws: std::invalid_argument when `parties` < 1 (Python: ValueError).
/// Thread safety: not thread-safe. The barrier belongs to the event loop that first uses
/// it; in debug mode, using it from another thread throws RuntimeError.
/// Example:
/// ```
/// asyncio::Barrier start(3);
/// // in each of 3 workers:
/// int index = co_await start.wait();  // 0, 1 or 2, in arrival order
/// ```
class Barrier {
public:
    explicit Barrier(int parties);
    Barrier(const Barrier&) = delete;
    Barrier& operator=(const Barrier&) = delete;

    /// `co_await barrier.wait()` waits until `parties()` tasks wait, and returns this task's
    /// arrival index in the round, 0 to parties() - 1. The last arrival returns at once.
    /// The index is the number of tasks waiting at arrival, as in Python, so after a waiter
    /// was cancelled, two tasks of a round can get the same index.
    ///
    /// Cancellation: see the class comment.
    /// Throws: BrokenBarrierError when the barrier is aborted, or reset while this task
    /// waits; RuntimeError outside a task, or on another loop.
    Task<int> wait();

    /// Breaks the barrier: waiting tasks, and every wait() until reset(), throw
    /// BrokenBarrierError.
    void abort();

    /// Starts over: tasks waiting now throw BrokenBarrierError; once they have left, the
    /// barrier fills again (also after abort()). Tasks arriving meanwhile wait for that.
    void reset();

    /// The number of tasks a round needs.
    int parties() const {
        enter("Barrier.parties()");
        return parties_;
    }
    /// Tasks waiting for the current round to fill (0 while a round leaves or resets).
    int n_waiting() const {
        enter("Barrier.n_waiting()");
        return state_ == State::filling ? count_ : 0;
    }
    /// True after abort(), until reset().
    bool broken() const {
        enter("Barrier.broken()");
        return state_ == State::broken;
    }

private:
    enum class State : std::uint8_t { filling, draining, resetting, broken };

    void enter(const char* operation) const {
        if (loop_ != detail::running_loop) [[unlikely]] {
            bind_loop(operation);
        }
    }
    void bind_loop(const char* operation) const;
    // A task leaves the barrier (returning, failing or cancelled); the last one out ends
    // the draining or resetting and lets the blocked arrivals in (Python's _exit).
    void leave() noexcept;

    // Tasks of the round being filled, waiting for the last arrival, abort() or reset().
    detail::WaitQueue arrived_;
    // Tasks that arrived while the previous round drained or reset (Python's _block).
    detail::WaitQueue blocked_;
    int parties_;
    int count_ = 0;  // tasks inside wait() past the blocked stage, this round
    State state_ = State::filling;
    mutable detail::LoopCore* loop_ = nullptr;
    mutable std::thread::id loop_thread_;
};

}  // namespace asyncio
