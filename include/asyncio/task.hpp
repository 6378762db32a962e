#pragma once

#include <coroutine>
#include <exception>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "asyncio/detail/task_promise.hpp"
#include "asyncio/errors.hpp"

// Whether awaiting a Task resumes it through a plain call (1) or by symmetric transfer (0):
// symmetric transfer only when the compiler turns it into a tail call (see Task::Awaiter).
#ifndef ASYNCIO_DETAIL_RESUME_INLINE
#if defined(__clang__) || \
    (defined(__OPTIMIZE__) && !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__))
#define ASYNCIO_DETAIL_RESUME_INLINE 0
#else
#define ASYNCIO_DETAIL_RESUME_INLINE 1
#endif
#endif

namespace asyncio {

template <class T = void>
class TaskHandle;

/// The coroutine type: a function returning `Task<T>` can `co_await`.
///
/// A Task does nothing until it is awaited (`co_await task` runs it inside the awaiting
/// task, like awaiting a Python coroutine) or scheduled (`create_task(task)` runs it
/// concurrently, like a Python Task). It can be awaited once; `co_await` gives its result
/// or rethrows its exception. Move-only.
///
/// Throws: InvalidStateError when awaited twice or after being moved from.
/// Example: `asyncio::Task<int> answer() { co_await asyncio::sleep(1s); co_return 42; }`
template <class T = void>
class [[nodiscard]] Task {
public:
    using promise_type = detail::TaskPromise<T>;
    using value_type = T;

    Task() noexcept = default;
    Task(Task&& other) noexcept : frame_(std::exchange(other.frame_, nullptr)) {}
    Task& operator=(Task&& other) noexcept {
        if (this != &other) {
            reset();
            frame_ = std::exchange(other.frame_, nullptr);
        }
        return *this;
    }
    ~Task() { reset(); }

    /// False after the task was moved from or handed to create_task.
    bool valid() const noexcept { return static_cast<bool>(frame_); }

    /// Runs the task inside the awaiting one and gives its result.
    template <bool ResumeInline = ASYNCIO_DETAIL_RESUME_INLINE>
    auto operator co_await() & {
        return Awaiter<ResumeInline>{frame_};
    }
    template <bool ResumeInline = ASYNCIO_DETAIL_RESUME_INLINE>
    auto operator co_await() && {
        return Awaiter<ResumeInline>{frame_};
    }

    /// Gives up ownership of the coroutine frame (used by create_task).
    std::coroutine_handle<promise_type> release() noexcept {
        return std::exchange(frame_, nullptr);
    }

private:
    friend promise_type;
    explicit Task(std::coroutine_handle<promise_type> frame) noexcept : frame_(frame) {}

    void reset() noexcept {
        if (!frame_) return;
        if (!frame_.promise().started_) detail::report_never_awaited(frame_.promise());
        frame_.destroy();
        frame_ = nullptr;
    }

    /// Awaiting a Task runs it at once inside the awaiting task. Two ways to get there:
    ///
    /// - Symmetric transfer (await_suspend returns the frame, final_suspend returns the
    ///   awaiting frame): flat on the stack whatever the depth or the number of awaits,
    ///   provided the compiler makes those transfers tail calls. Clang always does; GCC 12
    ///   only when optimizing without sanitizers.
    /// - Otherwise a plain resume() call that returns when the awaited frame suspends or
    ///   completes. A loop of awaits that complete at once (a reader with data buffered)
    ///   then stays flat, which is the common case; only deep recursion (a task awaiting a
    ///   task ... 100,000 levels down) grows the stack, as any recursion does.
    ///
    /// The template parameter keeps the two awaiters distinct types, so translation units
    /// built either way link together.
    template <bool ResumeInline>
    struct Awaiter {
        std::coroutine_handle<promise_type> frame;

        bool await_ready() const {
            // The checks stay two branches (the throws are out of line) so that awaiting a
            // task inlines into the awaiting coroutine.
            if (!frame || frame.promise().started_) [[unlikely]]
                detail::report_unawaitable_task(frame ? &frame.promise() : nullptr);
            return false;
        }
        auto await_suspend(std::coroutine_handle<> awaiting) const noexcept {
            auto& promise = frame.promise();
            promise.started_ = true;
            promise.continuation_ = awaiting;
            promise.enter_call_stack();
            if constexpr (ResumeInline) {
                promise.awaited_inline_ = true;
                frame.resume();
                if (promise.finished_inline_) return false;  // done: go on without suspending
                // It suspended inside; when it completes, final_suspend transfers back here.
                promise.awaited_inline_ = false;
                return true;
            } else {
                return std::coroutine_handle<>(frame);  // symmetric transfer
            }
        }
        T await_resume() const {
            if constexpr (std::is_void_v<T>) {
                frame.promise().result_or_throw();
            } else {
                return std::move(frame.promise().result_or_throw());
            }
        }
    };

    std::coroutine_handle<promise_type> frame_;
};

namespace detail {
template <class T>
Task<T> TaskPromise<T>::get_return_object() noexcept {
    return Task<T>(handle());
}
}  // namespace detail

/// A scheduled task of any result type: what `all_tasks()` and `current_task()` return, and
/// the base of TaskHandle<T>. Copies refer to the same task (like Python Task objects).
/// The loop keeps a running task alive, so dropping every handle never stops a task.
///
/// Thread safety: use it on its loop's thread only.
template <>
class TaskHandle<void> {
public:
    TaskHandle() noexcept = default;

    /// Requests cancellation: CancelledError is thrown at the task's current await point,
    /// and whatever it awaits (sleep, child task, future, I/O) is cancelled. Returns false
    /// if the task is already done.
    bool cancel(std::string_view message = {}) const { return promise()->cancel(message); }
    bool cancelled() const noexcept { return promise()->cancelled(); }
    bool done() const noexcept { return promise()->done(); }
    /// Number of pending cancel() requests (Python 3.11 `Task.cancelling()`).
    unsigned cancelling() const noexcept { return promise()->cancelling(); }
    /// Decrements the pending cancel requests; returns the new count. At zero, a
    /// cancellation not yet delivered is withdrawn.
    unsigned uncancel() const noexcept { return promise()->uncancel(); }

    /// Rethrows the task's exception (CancelledError when cancelled), if any.
    /// Throws: InvalidStateError when the task is not done.
    void result() const {
        promise()->require_done("result()");
        promise()->rethrow_if_failed();
    }
    /// The task's exception, or nullptr when it finished with a value.
    /// Throws: InvalidStateError when not done, CancelledError when cancelled.
    std::exception_ptr exception() const {
        promise()->require_done("exception()");
        if (cancelled()) promise()->rethrow_if_failed();
        return promise()->take_exception();
    }

    std::string get_name() const { return promise()->name(); }
    void set_name(std::string name) const { promise()->set_name(std::move(name)); }
    /// The coroutine function that made the task, with its file and line.
    detail::CreationSite creation_site() const noexcept { return promise()->creation_site(); }

    /// Calls `callback(handle)` on the loop, soon after the task is done (right away in
    /// the next iteration when it already is), like Python's add_done_callback.
    template <class F>
    void add_done_callback(F callback) const;

    /// Waits until the task is done; rethrows its exception.
    /// Cancellation: cancelling the awaiting task cancels this one too.
    auto operator co_await() const {
        struct Awaiter : detail::StateAwaiterBase {
            using StateAwaiterBase::StateAwaiterBase;
            void await_resume() {
                check_cancelled();
                target_->rethrow_if_failed();
            }
        };
        return Awaiter{*promise(), false};
    }

    explicit operator bool() const noexcept { return static_cast<bool>(state_); }
    friend bool operator==(const TaskHandle& a, const TaskHandle& b) noexcept {
        return a.state_ == b.state_;
    }

    detail::TaskPromiseBase* promise() const noexcept { return state_.get(); }
    explicit TaskHandle(detail::TaskPromiseBase* promise) noexcept : state_(promise) {}

private:
    detail::StateRef<detail::TaskPromiseBase> state_;
};

/// A task scheduled with create_task: a TaskHandle<> that also gives the result.
template <class T>
class TaskHandle : public TaskHandle<void> {
public:
    TaskHandle() noexcept = default;
    explicit TaskHandle(detail::TaskPromise<T>* promise) noexcept : TaskHandle<void>(promise) {}

    /// The task's result; rethrows its exception (CancelledError when cancelled).
    /// Throws: InvalidStateError when the task is not done.
    std::add_lvalue_reference_t<T> result() const {
        typed()->require_done("result()");
        return typed()->result_or_throw();
    }

    /// Waits for the task and gives a copy of its result (`co_await std::move(handle)`
    /// moves it out instead, which move-only results require).
    auto operator co_await() const& {
        static_assert(std::is_copy_constructible_v<T>,
                      "this result type cannot be copied: co_await std::move(handle)");
        return Awaiter<false>{*typed(), false};
    }
    auto operator co_await() && { return Awaiter<true>{*typed(), false}; }

    detail::TaskPromise<T>* typed() const noexcept {
        return static_cast<detail::TaskPromise<T>*>(promise());
    }

private:
    template <bool Move>
    struct Awaiter : detail::StateAwaiterBase {
        Awaiter(detail::TaskPromise<T>& task, bool shielded) noexcept
            : StateAwaiterBase(task, shielded) {}
        T await_resume() {
            check_cancelled();
            auto& value = static_cast<detail::TaskPromise<T>*>(target_)->result_or_throw();
            if constexpr (Move) {
                return std::move(value);
            } else {
                return value;
            }
        }
    };
};

namespace detail {
template <class T>
TaskHandle<T> schedule_task(LoopCore& loop, Task<T>&& task, std::string&& name,
                            CreationSite scheduled_at) {
    auto frame = task.release();
    if (!frame) throw InvalidStateError("create_task: the Task is empty or was moved from");
    auto& promise = frame.promise();
    if (promise.started_) {
        frame.destroy();
        throw InvalidStateError("create_task: the Task was already awaited");
    }
    promise.start_as_task(loop, std::move(name), scheduled_at);
    return TaskHandle<T>(&promise);
}

/// Done-callback node: waits on the task, then queues itself as a loop callback. It takes
/// its reference to the task only when the task is done, so a callback on a task that
/// never finishes keeps nothing alive.
template <class F>
class DoneCallback final : public CallbackBase, private WaiterNode {
public:
    DoneCallback(TaskPromiseBase& task, F fn) : task_(&task), fn_(std::move(fn)) {
        on_done = [](WaiterNode& self, FutureStateBase&) noexcept {
            static_cast<DoneCallback&>(self).fire();
        };
        on_abandon = [](WaiterNode& self) noexcept { static_cast<DoneCallback&>(self).release(); };
        if (task.done()) {
            fire();
        } else {
            task.add_waiter(*this);
        }
    }
    ~DoneCallback() override {
        if (holds_reference_) task_->release();
    }
    void invoke() override {
        TaskHandle<void> handle(task_);
        fn_(std::as_const(handle));
    }

private:
    void fire() noexcept {
        task_->add_ref();
        holds_reference_ = true;
        task_->loop()->schedule(*this);
    }

    TaskPromiseBase* task_;
    F fn_;
    bool holds_reference_ = false;
};
}  // namespace detail

template <class F>
void TaskHandle<void>::add_done_callback(F callback) const {
    static_assert(std::is_invocable_v<F&, const TaskHandle<void>&>,
                  "a done callback takes the task: void(const asyncio::TaskHandle<>&)");
    new detail::DoneCallback<F>(*promise(), std::move(callback));  // owned by the loop
}

/// Schedules `task` on the running loop and returns its handle. It starts in the next
/// loop iteration and runs to completion even if every handle is dropped.
/// `name` defaults to "Task-N".
///
/// Throws: RuntimeError when no loop runs in this thread; InvalidStateError when the
/// task was already awaited.
/// Example: `auto t = asyncio::create_task(download(url), "download");`
template <class T>
TaskHandle<T> create_task(Task<T> task, std::string name = {},
                          detail::CreationSite site = detail::CreationSite::current()) {
    auto& loop = detail::require_running_loop();
    loop.check_thread("create_task()");
    return detail::schedule_task(loop, std::move(task), std::move(name), site);
}

/// The task running now, or an empty handle outside any task.
TaskHandle<> current_task();

/// The loop's tasks that are not done yet (the running loop's when no loop is given).
/// Throws: RuntimeError when no loop runs in this thread.
std::vector<TaskHandle<>> all_tasks();

}  // namespace asyncio
