#pragma once

#include <exception>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "asyncio/detail/task_promise.hpp"
#include "asyncio/errors.hpp"

namespace asyncio {

namespace detail {

class FutureStateCommon : public FutureStateBase {
public:
    explicit FutureStateCommon(LoopCore& loop) noexcept : FutureStateBase(&loop) {}

    bool cancel(std::string_view message) override;
    std::string describe() const override;
    void set_exception(std::exception_ptr error);

    void finish_with_value() noexcept { finish(Status::finished); }
    [[noreturn]] void throw_already_done(const char* operation) const;
};

template <class T>
class FutureState final : public FutureStateCommon {
public:
    using FutureStateCommon::FutureStateCommon;
    ResultStorage<T> result_;

private:
    void destroy() noexcept override { delete this; }
};

}  // namespace detail

/// A value that will be set later, for bridging callback-style code to coroutines
/// (Python's asyncio.Future). Copies refer to the same future. Any number of tasks may
/// await it; each gets the result or the exception.
///
/// Cancellation: cancelling a task that awaits a future cancels the future (as in Python).
/// Thread safety: use it on its loop's thread only; from another thread, go through
/// `loop.call_soon_threadsafe`.
/// Example:
/// ```
/// asyncio::Future<int> answer;
/// loop.call_later(1s, [answer] { answer.set_result(42); });
/// int v = co_await answer;
/// ```
template <class T = void>
class Future {
public:
    using value_type = T;

    /// A pending future of the running loop.
    /// Throws: RuntimeError when no loop runs in this thread.
    Future() : Future(detail::require_running_loop()) {}
    /// A pending future of `loop`.
    explicit Future(detail::LoopCore& loop) : state_(new detail::FutureState<T>(loop)) {}

    bool done() const noexcept { return state_->done(); }
    bool cancelled() const noexcept { return state_->cancelled(); }

    /// Finishes the future with `value` and wakes its waiters.
    /// Throws: InvalidStateError when it is already done.
    template <class... Args>
    void set_result(Args&&... args) const {
        if (done()) state_->throw_already_done("set_result()");
        state_->result_.emplace(std::forward<Args>(args)...);
        state_->finish_with_value();
    }
    /// Finishes the future with `error`.
    /// Throws: InvalidStateError when it is already done or `error` is null.
    void set_exception(std::exception_ptr error) const { state_->set_exception(std::move(error)); }
    template <class E>
    void set_exception(E error) const {
        set_exception(std::make_exception_ptr(std::move(error)));
    }
    /// Cancels the future: waiters get CancelledError(message). False if already done.
    bool cancel(std::string_view message = {}) const { return state_->cancel(message); }

    /// The value; rethrows the exception (CancelledError when cancelled).
    /// Throws: InvalidStateError when not done.
    std::add_lvalue_reference_t<T> result() const {
        state_->require_done("result()");
        state_->rethrow_if_failed();
        return state_->result_.get();
    }
    /// The exception, or nullptr. Throws: InvalidStateError when not done; CancelledError
    /// when cancelled.
    std::exception_ptr exception() const {
        state_->require_done("exception()");
        if (cancelled()) state_->rethrow_if_failed();
        return state_->take_exception();
    }

    /// Calls `callback(future)` on the loop soon after the future is done.
    template <class F>
    void add_done_callback(F callback) const;

    /// Waits for the future; gives a copy of the value (`co_await std::move(f)` moves it,
    /// which move-only values require).
    auto operator co_await() const& {
        static_assert(std::is_void_v<T> || std::is_copy_constructible_v<T>,
                      "this value type cannot be copied: co_await std::move(future)");
        return Awaiter<false>{*state_.get(), false};
    }
    auto operator co_await() && { return Awaiter<true>{*state_.get(), false}; }

    /// Wraps an existing state (internal).
    explicit Future(detail::StateRef<detail::FutureState<T>> state) noexcept
        : state_(std::move(state)) {}

    friend bool operator==(const Future& a, const Future& b) noexcept {
        return a.state_ == b.state_;
    }
    detail::FutureState<T>* state() const noexcept { return state_.get(); }

private:
    template <bool Move>
    struct Awaiter : detail::StateAwaiterBase {
        Awaiter(detail::FutureState<T>& state, bool shielded) noexcept
            : StateAwaiterBase(state, shielded) {}
        T await_resume() {
            check_cancelled();
            auto* state = static_cast<detail::FutureState<T>*>(target_);
            state->rethrow_if_failed();
            if constexpr (std::is_void_v<T>) {
                return;
            } else if constexpr (Move) {
                return std::move(state->result_.get());
            } else {
                return state->result_.get();
            }
        }
    };

    detail::StateRef<detail::FutureState<T>> state_;
};

namespace detail {
template <class T, class F>
class FutureDoneCallback final : public CallbackBase, private WaiterNode {
public:
    FutureDoneCallback(FutureState<T>& state, F fn) : state_(&state), fn_(std::move(fn)) {
        on_done = [](WaiterNode& self, FutureStateBase&) noexcept {
            static_cast<FutureDoneCallback&>(self).fire();
        };
        on_abandon = [](WaiterNode& self) noexcept {
            static_cast<FutureDoneCallback&>(self).release();
        };
        if (state.done()) {
            fire();
        } else {
            state.add_waiter(*this);
        }
    }
    void invoke() override {
        Future<T> future(reference_);
        fn_(std::as_const(future));
    }

private:
    void fire() noexcept {
        reference_ = StateRef<FutureState<T>>(state_);
        state_->loop()->schedule(*this);
    }

    FutureState<T>* state_;
    F fn_;
    StateRef<FutureState<T>> reference_;  // taken only once the future is done
};
}  // namespace detail

template <class T>
template <class F>
void Future<T>::add_done_callback(F callback) const {
    static_assert(std::is_invocable_v<F&, const Future<T>&>,
                  "a done callback takes the future: void(const asyncio::Future<T>&)");
    new detail::FutureDoneCallback<T, F>(*state_.get(), std::move(callback));
}

}  // namespace asyncio
