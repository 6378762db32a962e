#pragma once

#include <coroutine>
#include <cstdint>
#include <exception>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "asyncio/detail/frame_allocator.hpp"
#include "asyncio/detail/future_state.hpp"
#include "asyncio/errors.hpp"

namespace asyncio {
template <class T>
class Task;
}

namespace asyncio::detail {

/// What a suspended task is waiting for, for introspection (all_tasks(), the call graph).
enum class AwaitKind : std::uint8_t {
    nothing,     // running or queued
    task,        // another task: `object` is its TaskPromiseBase
    future,      // a Future: `object` is its state
    sleep,       // `object` is the TimerNode (deadline)
    gather,      // gather(), wait(): `object` is the MultiWait
    completion,  // as_completed(): `object` is the CompletionQueue
    task_group,  // TaskGroup's exit: `object` is the TaskGroup
    lock,
    event,
    condition,
    semaphore,
    barrier,
    queue,
    io,  // `fd` is the descriptor
    other,
};

struct AwaitTarget {
    AwaitKind kind = AwaitKind::nothing;
    const void* object = nullptr;
    int fd = -1;
};

/// A kind of awaitable a task can suspend in, described once per awaitable type (a static
/// constant). The suspended task keeps a pointer to it and the awaitable's address: 16
/// bytes for both the cancellation hook and what introspection needs.
struct AwaitPoint {
    /// Called when someone cancels the suspended task: the awaitable gets the chance to
    /// abort the wait (CPython: `self._fut_waiter.cancel()`). Returns true when it took the
    /// cancellation over (it will wake the task itself); false makes the task remember the
    /// request and throw CancelledError when it next resumes. nullptr: the wait cannot be
    /// cut short.
    bool (*cancel)(void* awaiter) noexcept = nullptr;
    /// What the task waits for (all_tasks(), the call graph). Called only on demand, so
    /// the await itself pays nothing for introspection.
    AwaitTarget (*target)(const void* awaiter) noexcept = nullptr;
};

/// Rarely used task data, allocated on first use so that a plain task stays small.
struct TaskExtras {
    std::string name;
    std::string cancel_message;
    CreationSite scheduled_at{};  // where create_task was called (recorded in debug mode)
};

/// The state of every Task<T> coroutine frame. A frame is either awaited directly by
/// another coroutine (it then runs inside its awaiter's task, like a Python coroutine), or
/// scheduled on the loop as a task of its own by create_task (like a Python Task). Only
/// scheduled tasks use the task fields; the promise IS the task, so a task is one
/// allocation: its coroutine frame.
class TaskPromiseBase : public FutureStateBase, public ReadyItem {
public:
    explicit TaskPromiseBase(CreationSite site) noexcept
        : FutureStateBase(nullptr),
          ReadyItem(Kind::task),
          site_line_(site.line),
          site_file_(site.file),
          site_function_(site.function) {}

    // ---- called by awaitables while this task runs ----

    /// Records where the task is suspended, in which awaitable. Call it last in
    /// await_suspend: when a cancellation is already pending, `point.cancel` runs at once.
    void suspend(std::coroutine_handle<> at, const AwaitPoint& point, void* awaiter) noexcept {
        resume_point_ = at;
        await_point_ = &point;
        awaiter_ = awaiter;
        if (must_cancel_ && point.cancel != nullptr && point.cancel(awaiter)) must_cancel_ = false;
    }

    /// Records where the task is suspended, in a wait that cannot be cut short and waits
    /// for nothing in particular (a bare yield).
    void suspend(std::coroutine_handle<> at) noexcept {
        resume_point_ = at;
        await_point_ = nullptr;
    }

    /// Queues the task to resume at its suspension point (once per suspension).
    void wake() noexcept {
        await_point_ = nullptr;
        loop_->schedule(*this);
    }

    /// In await_resume: throws CancelledError when a cancellation arrived that no
    /// awaitable took over (CPython's `_must_cancel`).
    void throw_if_cancel_pending() {
        if (must_cancel_) throw_cancelled();
    }

    /// A cancellation its await point could not take because the awaited operation had
    /// already completed (with bytes that must not be lost): the next await point delivers it.
    void defer_cancel() noexcept { must_cancel_ = true; }

    /// Throws CancelledError with the message of the latest cancel(), clearing any pending
    /// cancellation (several cancel() calls before the task resumes raise one error).
    [[noreturn]] void throw_cancelled();

    std::string_view cancel_message() const noexcept {
        return extras_ ? std::string_view(extras_->cancel_message) : std::string_view();
    }

    // ---- the task API (TaskHandle) ----

    bool cancel(std::string_view message) override;
    std::uint32_t cancelling() const noexcept { return cancel_requests_; }
    /// A cancellation was requested and not yet delivered to the coroutine.
    bool cancel_pending() const noexcept { return must_cancel_; }
    std::uint32_t uncancel() noexcept {
        if (cancel_requests_ > 0 && --cancel_requests_ == 0) must_cancel_ = false;
        return cancel_requests_;
    }
    std::string name() const;
    void set_name(std::string name);
    std::string describe() const override;
    CreationSite creation_site() const noexcept { return {site_file_, site_function_, site_line_}; }
    /// Where create_task() was called, when recorded (debug mode), else nullptr.
    const CreationSite* scheduled_at() const noexcept {
        return extras_ && extras_->scheduled_at.file != nullptr ? &extras_->scheduled_at : nullptr;
    }
    bool is_scheduled_task() const noexcept { return scheduled_; }
    std::coroutine_handle<> resume_point() const noexcept { return resume_point_; }
    /// What the task waits for while suspended.
    AwaitTarget awaiting() const noexcept {
        return await_point_ != nullptr ? await_point_->target(awaiter_) : AwaitTarget{};
    }

    /// Turns this not-yet-started frame into a task of `loop` and queues its first step.
    /// The loop holds one reference until the task is done.
    void start_as_task(LoopCore& loop, std::string&& name, CreationSite scheduled_at);

    // ---- coroutine plumbing ----

    // Neither awaiter holds a reference to the promise: it would take 16 bytes of every
    // frame. The first step of a task cancelled before it started is handled by the loop
    // (see cancel_unstarted()).
    struct InitialAwaiter {
        bool await_ready() const noexcept { return false; }
        void await_suspend(std::coroutine_handle<>) const noexcept {}
        void await_resume() const noexcept {}
    };

    struct FinalAwaiter {
        bool await_ready() const noexcept { return false; }
        template <class Promise>
        std::coroutine_handle<> await_suspend(std::coroutine_handle<Promise> frame) const noexcept {
            TaskPromiseBase& promise = frame.promise();
            if (!promise.scheduled_) {
                promise.leave_call_stack();
                if (promise.awaited_inline_) {
                    // The awaiting frame called resume() on this one and waits for that call
                    // to return (see Task's Awaiter): return to it.
                    promise.finished_inline_ = true;
                    return std::noop_coroutine();
                }
                return promise.continuation_ ? promise.continuation_ : std::noop_coroutine();
            }
            promise.complete_task();  // may free the frame: touch nothing after it
            return std::noop_coroutine();
        }
        void await_resume() const noexcept {}
    };

    /// The loop runs a step of this task. Returns false when the task was cancelled before
    /// its first step and has been completed without running its body instead: CPython
    /// throws CancelledError into the unstarted coroutine, which ends it the same way.
    /// The task may be freed then.
    bool begin_step() noexcept {
        if (stepped_) [[likely]]
            return true;
        if (must_cancel_) {
            cancel_unstarted();
            return false;
        }
        stepped_ = true;
        return true;
    }

    /// A directly awaited frame starts: it becomes the innermost frame of the running task.
    void enter_call_stack() noexcept {
        LoopCore* loop = running_loop;
        TaskPromiseBase* task = loop != nullptr ? loop->current_task() : nullptr;
        if (task == nullptr) return;
        caller_ = task->innermost_ != nullptr ? task->innermost_ : task;
        task->innermost_ = this;
    }
    void leave_call_stack() noexcept {
        LoopCore* loop = running_loop;
        TaskPromiseBase* task = loop != nullptr ? loop->current_task() : nullptr;
        if (task == nullptr || task->innermost_ != this) return;
        task->innermost_ = caller_ == task ? nullptr : caller_;
    }

    InitialAwaiter initial_suspend() noexcept { return {}; }
    FinalAwaiter final_suspend() noexcept { return {}; }
    void unhandled_exception() noexcept { exception_ = std::current_exception(); }

    // The fields are ordered to leave no padding (the first ones fill the tail of
    // ReadyItem): a million concurrent tasks are a million promises. A frame is either
    // awaited directly or scheduled as a task, never both, so the fields that only one of
    // the two roles uses share storage.
    bool started_ = false;  // first resumed (directly or as a task)
    // Set while the awaiting frame runs this one through a plain resume() call rather than
    // symmetric transfer; finished_inline_ tells it the frame completed within that call.
    bool awaited_inline_ = false;
    bool finished_inline_ = false;

protected:
    bool must_cancel_ = false;
    bool scheduled_ = false;
    bool stepped_ = false;  // a task: the loop has run its first step
    std::uint32_t cancel_requests_ = 0;
    unsigned site_line_;

public:
    union {
        std::coroutine_handle<> continuation_{};  // awaited frame: the frame awaiting it
        std::coroutine_handle<> resume_point_;    // task: its innermost suspended frame
    };
    // The coroutine call stack, for introspection: a directly awaited frame points at the
    // promise of the frame awaiting it (its task's root frame included); a task points at
    // its innermost running frame (nullptr: the root frame itself).
    union {
        TaskPromiseBase* caller_ = nullptr;  // awaited frame
        TaskPromiseBase* innermost_;         // task
    };

    // Intrusive list of the loop's live tasks (all_tasks()).
    TaskPromiseBase* prev_task_ = nullptr;
    TaskPromiseBase* next_task_ = nullptr;

protected:
    ~TaskPromiseBase() = default;
    void complete_task() noexcept;
    void cancel_unstarted() noexcept;
    void destroy() noexcept override = 0;

    const AwaitPoint* await_point_ = nullptr;  // while suspended (nullptr: a bare yield)
    void* awaiter_ = nullptr;
    std::unique_ptr<TaskExtras> extras_;
    std::uint64_t id_ = 0;
    const char* site_file_;
    const char* site_function_;
};

template <class T>
class TaskReturn : public TaskPromiseBase {
public:
    using TaskPromiseBase::TaskPromiseBase;
    template <class U = T>
    void return_value(U&& value) {
        result_.emplace(std::forward<U>(value));
    }
    ResultStorage<T> result_;
};

template <>
class TaskReturn<void> : public TaskPromiseBase {
public:
    using TaskPromiseBase::TaskPromiseBase;
    void return_void() noexcept {}
    [[no_unique_address]] ResultStorage<void> result_;
};

template <class T>
class TaskPromise final : public TaskReturn<T> {
public:
    // The default argument is evaluated in the coroutine's ramp function, so it names the
    // coroutine itself: the creation site debug reports show.
    explicit TaskPromise(CreationSite site = CreationSite::current()) noexcept
        : TaskReturn<T>(site) {}

    static void* operator new(std::size_t size) { return allocate_frame(size); }
    static void operator delete(void* frame, std::size_t size) noexcept {
        deallocate_frame(frame, size);
    }

    Task<T> get_return_object() noexcept;

    std::coroutine_handle<TaskPromise> handle() noexcept {
        return std::coroutine_handle<TaskPromise>::from_promise(*this);
    }

    /// The result, after rethrowing the exception if there is one.
    std::add_lvalue_reference_t<T> result_or_throw() requires(!std::is_void_v<T>) {
        this->rethrow_if_failed();
        return this->result_.get();
    }
    void result_or_throw() requires std::is_void_v<T> { this->rethrow_if_failed(); }

private:
    void destroy() noexcept override { handle().destroy(); }
};

/// Debug mode: logs that a Task was destroyed without ever being awaited or scheduled,
/// naming the coroutine (Python's "coroutine ... was never awaited").
void report_never_awaited(const TaskPromiseBase& promise) noexcept;

/// Throws InvalidStateError for `co_await` on a Task that has no frame (`promise` null:
/// empty or moved from) or whose frame was already awaited or scheduled.
[[noreturn]] void report_unawaitable_task(const TaskPromiseBase* promise);

/// Awaits any future or task state: the awaiting task is woken when it is done.
/// Cancelling the awaiting task cancels the awaited one (CPython semantics), unless
/// `shielded`, in which case only the awaiter stops waiting.
class StateAwaiterBase : private WaiterNode {
public:
    StateAwaiterBase(FutureStateBase& target, bool shielded) noexcept
        : target_(&target), shielded_(shielded) {}
    StateAwaiterBase(const StateAwaiterBase&) = delete;
    StateAwaiterBase& operator=(const StateAwaiterBase&) = delete;
    ~StateAwaiterBase() { FutureStateBase::remove_waiter(*this); }

    bool await_ready() const noexcept { return target_->done(); }
    void await_suspend(std::coroutine_handle<> awaiting);

protected:
    /// In await_resume: throws a cancellation that arrived while waiting and that the
    /// awaited state did not take over.
    void check_cancelled() {
        if (task_ != nullptr) task_->throw_if_cancel_pending();
    }

    FutureStateBase* target_;
    TaskPromiseBase* task_ = nullptr;
    bool shielded_;

private:
    static void on_target_done(WaiterNode& self, FutureStateBase& target) noexcept;
    static bool on_cancel(void* self) noexcept;
};

/// Waits until a state is done without cancelling it when the waiting task is cancelled.
class ShieldedWait : public StateAwaiterBase {
public:
    explicit ShieldedWait(FutureStateBase& target) noexcept : StateAwaiterBase(target, true) {}
    void await_resume() { check_cancelled(); }
};

}  // namespace asyncio::detail
