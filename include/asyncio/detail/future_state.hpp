#pragma once

#include <atomic>
#include <cstdint>
#include <exception>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "asyncio/detail/loop_core.hpp"

namespace asyncio::detail {

class FutureStateBase;

/// A link in a future's list of waiters. Awaiters embed one (no allocation per await);
/// done callbacks allocate one. Waiters are notified in the order they were added.
struct WaiterNode {
    WaiterNode* prev_waiter = nullptr;
    WaiterNode* next_waiter = nullptr;
    FutureStateBase* waiting_on = nullptr;  // non-null while linked
    // Called once, after unlinking, when the future finishes.
    void (*on_done)(WaiterNode& self, FutureStateBase& future) noexcept = nullptr;
    // Called instead of on_done when the future is destroyed unfinished (callbacks free
    // themselves here; awaiters hold a reference, so they are never abandoned).
    void (*on_abandon)(WaiterNode& self) noexcept = nullptr;
};

/// A callback queued on the loop: call_soon handles, timer handles, done callbacks.
/// Reference counted atomically because call_soon_threadsafe creates them on other threads.
class CallbackBase : public ReadyItem {
public:
    CallbackBase() noexcept : ReadyItem(Kind::callback) {}
    virtual ~CallbackBase() = default;
    virtual void invoke() = 0;
    /// Destroys the callable and what it captured. The loop calls it on its own thread
    /// once the callback has run or been dropped, so that captures bound to the loop (a
    /// Future, a TaskHandle) never die on another thread holding the last Handle.
    virtual void discard() noexcept {}
    /// What the callback is, for debug reports ("callback created at file:line").
    virtual std::string describe() const;

    void add_ref() noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }
    void release() noexcept {
        if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
    }
    bool is_cancelled() const noexcept { return cancelled_.load(std::memory_order_acquire); }
    void mark_cancelled() noexcept { cancelled_.store(true, std::memory_order_release); }

    CreationSite site_{};

private:
    std::atomic<std::uint32_t> refs_{1};
    std::atomic<bool> cancelled_{false};
};

/// A callback holding any callable.
template <class F>
class CallbackImpl final : public CallbackBase {
public:
    explicit CallbackImpl(F fn) : fn_(std::in_place, std::move(fn)) {}
    void invoke() override { (*fn_)(); }
    void discard() noexcept override { fn_.reset(); }

private:
    std::optional<F> fn_;
};

/// A callback that waits in the loop's timer heap first (call_later / call_at). The heap
/// holds one reference while the timer is scheduled.
class TimerCallbackBase : public CallbackBase, public TimerNode {
public:
    explicit TimerCallbackBase(LoopCore& loop) noexcept : loop_(&loop) {
        fire = &TimerCallbackBase::on_deadline;
    }
    LoopCore* loop() const noexcept { return loop_; }

    /// Moves the heap's reference to the ready queue.
    static void on_deadline(TimerNode& node) noexcept {
        auto& self = static_cast<TimerCallbackBase&>(node);
        self.loop_->schedule(self);
    }

private:
    LoopCore* loop_;
};

template <class F>
class TimerCallbackImpl final : public TimerCallbackBase {
public:
    TimerCallbackImpl(LoopCore& loop, F fn)
        : TimerCallbackBase(loop), fn_(std::in_place, std::move(fn)) {}
    void invoke() override { (*fn_)(); }
    void discard() noexcept override { fn_.reset(); }

private:
    std::optional<F> fn_;
};

/// Storage for a result that may be absent (unset union: no default construction of T).
template <class T>
class ResultStorage {
public:
    ResultStorage() noexcept {}
    ResultStorage(const ResultStorage&) = delete;
    ResultStorage& operator=(const ResultStorage&) = delete;
    ~ResultStorage() {
        if (has_value_) value_.~T();
    }
    template <class... Args>
    void emplace(Args&&... args) {
        if (has_value_) {
            value_.~T();
            has_value_ = false;
        }
        ::new (static_cast<void*>(std::addressof(value_))) T(std::forward<Args>(args)...);
        has_value_ = true;
    }
    bool has_value() const noexcept { return has_value_; }
    T& get() noexcept { return value_; }

private:
    union {
        T value_;
    };
    bool has_value_ = false;
};

template <>
class ResultStorage<void> {
public:
    void emplace() noexcept {}
    bool has_value() const noexcept { return true; }
    void get() const noexcept {}
};

/// What futures and tasks share: the outcome (finished with a value or an exception, or
/// cancelled), the waiters, and a non-atomic reference count (a future belongs to one loop).
class FutureStateBase {
public:
    enum class Status : std::uint8_t { pending, finished, cancelled };

    FutureStateBase(const FutureStateBase&) = delete;
    FutureStateBase& operator=(const FutureStateBase&) = delete;

    bool done() const noexcept { return status_ != Status::pending; }
    bool cancelled() const noexcept { return status_ == Status::cancelled; }
    Status status() const noexcept { return status_; }
    bool has_exception() const noexcept { return exception_ != nullptr; }
    LoopCore* loop() const noexcept { return loop_; }

    void add_ref() noexcept { ++refs_; }
    void release() noexcept {
        if (--refs_ == 0) last_reference_released();
    }

    // The waiters form a list whose head's prev_waiter is the last node (the state keeps
    // only the head: 8 bytes less in every task), and whose last node's next_waiter is null.
    void add_waiter(WaiterNode& node) noexcept {
        node.waiting_on = this;
        node.next_waiter = nullptr;
        if (waiters_head_ == nullptr) {
            node.prev_waiter = &node;
            waiters_head_ = &node;
            return;
        }
        WaiterNode* last = waiters_head_->prev_waiter;
        last->next_waiter = &node;
        node.prev_waiter = last;
        waiters_head_->prev_waiter = &node;
    }

    static void remove_waiter(WaiterNode& node) noexcept {
        FutureStateBase* owner = node.waiting_on;
        if (owner == nullptr) return;
        WaiterNode*& head = owner->waiters_head_;
        if (&node == head) {
            head = node.next_waiter;
            if (head != nullptr) head->prev_waiter = node.prev_waiter;
        } else {
            node.prev_waiter->next_waiter = node.next_waiter;
            (node.next_waiter != nullptr ? node.next_waiter->prev_waiter : head->prev_waiter) =
                node.prev_waiter;
        }
        node.waiting_on = nullptr;
        node.prev_waiter = node.next_waiter = nullptr;
    }

    /// Cancels the future (or requests cancellation of the task). Returns false when it
    /// is already done.
    virtual bool cancel(std::string_view message) = 0;

    /// For reports: "Task 'Task-3' (coroutine worker at a.cpp:12)" or "Future".
    virtual std::string describe() const = 0;

    /// Throws InvalidStateError naming `operation` unless done.
    void require_done(const char* operation) const {
        if (!done()) throw_not_done(operation);
    }

    /// Rethrows the stored exception (CancelledError when cancelled); marks it retrieved.
    void rethrow_if_failed() {
        exception_retrieved_ = true;
        if (exception_) std::rethrow_exception(exception_);
    }

    /// The stored exception (nullptr when finished with a value); marks it retrieved.
    std::exception_ptr take_exception() noexcept {
        exception_retrieved_ = true;
        return exception_;
    }

protected:
    explicit FutureStateBase(LoopCore* loop) noexcept : loop_(loop) {}
    ~FutureStateBase() {
        if (waiters_head_ != nullptr) abandon_waiters();
    }

    /// Marks the state done with `status` and notifies waiters in registration order.
    void finish(Status status) noexcept {
        status_ = status;
        while (WaiterNode* node = waiters_head_) {
            remove_waiter(*node);
            node->on_done(*node, *this);
        }
    }

    /// Frees the object; called when the last reference goes.
    virtual void destroy() noexcept = 0;

    [[noreturn]] void throw_not_done(const char* operation) const;
    void last_reference_released() noexcept;
    void abandon_waiters() noexcept;

    LoopCore* loop_;
    std::exception_ptr exception_;
    WaiterNode* waiters_head_ = nullptr;
    std::uint32_t refs_ = 0;
    Status status_ = Status::pending;
    bool exception_retrieved_ = false;
};

/// Keeps a FutureStateBase (or a derived state) alive: the pointer type of Future and
/// TaskHandle.
template <class State>
class StateRef {
public:
    StateRef() noexcept = default;
    explicit StateRef(State* state) noexcept : state_(state) {
        if (state_ != nullptr) state_->add_ref();
    }
    StateRef(const StateRef& other) noexcept : StateRef(other.state_) {}
    StateRef(StateRef&& other) noexcept : state_(std::exchange(other.state_, nullptr)) {}
    StateRef& operator=(StateRef other) noexcept {
        std::swap(state_, other.state_);
        return *this;
    }
    ~StateRef() {
        if (state_ != nullptr) state_->release();
    }
    State* get() const noexcept { return state_; }
    State* operator->() const noexcept { return state_; }
    explicit operator bool() const noexcept { return state_ != nullptr; }
    friend bool operator==(const StateRef& a, const StateRef& b) noexcept {
        return a.state_ == b.state_;
    }

private:
    State* state_ = nullptr;
};

}  // namespace asyncio::detail
