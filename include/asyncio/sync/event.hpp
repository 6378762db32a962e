#pragma once

#include <coroutine>
#include <thread>

#include "asyncio/detail/loop_core.hpp"
#include "asyncio/detail/wait_queue.hpp"

namespace asyncio {

class Event;

namespace detail {

/// What Event::wait() returns. Holds the waiter node while the task waits, so waiting
/// allocates nothing.
class [[nodiscard]] EventWait {
public:
    explicit EventWait(Event& event) noexcept;
    EventWait(const EventWait&) = delete;
    EventWait& operator=(const EventWait&) = delete;

    bool await_ready() const noexcept;
    void await_suspend(std::coroutine_handle<> awaiting) {
        waiter_.await_suspend(awaiting);
        waited_ = true;
    }
    void await_resume();

private:
    Event* event_;
    WaitQueue::Waiter waiter_;
    bool waited_ = false;
};

}  // namespace detail

/// A flag tasks can wait for (Python's asyncio.Event). It starts unset; set() wakes every
/// waiting task, and wait() returns at once while it is set.
///
/// Cancellation: a cancelled waiter gets CancelledError and leaves the queue; the other
/// waiters are not affected. A waiter cancelled after set() woke it, before it resumed,
/// gets CancelledError too (as in Python); the others still return.
/// Thread safety: not thread-safe. The event belongs to the event loop that first uses it;
/// in debug mode, using it from another thread throws RuntimeError. From another thread,
/// go through `loop.call_soon_threadsafe([&] { event.set(); })`.
/// Example:
/// ```
/// asyncio::Event ready;
/// // worker:  co_await ready.wait();
/// // starter: ready.set();
/// ```
class Event {
public:
    Event() noexcept : waiters_(detail::AwaitKind::event, this) {}
    Event(const Event&) = delete;
    Event& operator=(const Event&) = delete;

    /// `co_await event.wait()` returns once the event is set: at once, without yielding,
    /// when it is set already. A waiter woken by set() returns even if clear() is called
    /// before it resumes (as in Python).
    ///
    /// Cancellation: throws CancelledError.
    /// Throws: RuntimeError when it must wait outside a task, or on another loop.
    detail::EventWait wait() {
        enter("Event.wait()");
        return detail::EventWait(*this);
    }

    /// Sets the event and wakes every waiting task (in the order they started waiting).
    /// Does nothing when it is already set.
    void set();

    /// Unsets the event: later wait() calls wait for the next set().
    void clear() {
        enter("Event.clear()");
        set_ = false;
    }

    bool is_set() const {
        enter("Event.is_set()");
        return set_;
    }

private:
    friend class detail::EventWait;

    void enter(const char* operation) const {
        if (loop_ != detail::running_loop) [[unlikely]] {
            bind_loop(operation);
        }
    }
    void bind_loop(const char* operation) const;

    detail::WaitQueue waiters_;
    bool set_ = false;
    mutable detail::LoopCore* loop_ = nullptr;
    mutable std::thread::id loop_thread_;
};

namespace detail {

inline EventWait::EventWait(Event& event) noexcept : event_(&event), waiter_(event.waiters_) {}

inline bool EventWait::await_ready() const noexcept { return event_->set_; }

}  // namespace detail

}  // namespace asyncio
