// Tasks, futures and the awaiters that connect them. See docs/design/tasks.md for the
// life of a task: one coroutine frame holding its promise (the task state), kept alive
// by a reference count that the loop holds while the task is pending.

#include "asyncio/task.hpp"

#include <cstdlib>
#include <string>

#include "asyncio/event_loop.hpp"
#include "asyncio/future.hpp"
#include "asyncio/log.hpp"
#include "asyncio/sleep.hpp"
#include "loop/event_loop_impl.hpp"

namespace asyncio::detail {

namespace {

std::string site_text(const CreationSite& site) {
    if (site.file == nullptr) return "unknown place";
    return std::string(site.file) + ":" + std::to_string(site.line);
}

}  // namespace

// ---- FutureStateBase ----

void FutureStateBase::throw_not_done(const char* operation) const {
    throw InvalidStateError(std::string(operation) + ": " + describe() + " is not done yet");
}

void FutureStateBase::last_reference_released() noexcept {
    // CPython logs an exception nobody looked at when the future is garbage collected;
    // the last reference going away is the same moment here.
    if (status_ == Status::finished && exception_ && !exception_retrieved_ && loop_ != nullptr &&
        loop_is_alive(loop_)) {
        const bool is_task = dynamic_cast<TaskPromiseBase*>(this) != nullptr;
        loop_->report_error(
            is_task ? "Task exception was never retrieved" : "Future exception was never retrieved",
            exception_, describe());
    }
    destroy();
}

void FutureStateBase::abandon_waiters() noexcept {
    while (WaiterNode* node = waiters_head_) {
        remove_waiter(*node);
        if (node->on_abandon != nullptr) node->on_abandon(*node);
    }
}

// ---- TaskPromiseBase ----

void TaskPromiseBase::throw_cancelled() {
    must_cancel_ = false;
    throw CancelledError(std::string(cancel_message()));
}

bool TaskPromiseBase::cancel(std::string_view message) {
    if (done()) return false;
    ++cancel_requests_;
    if (!message.empty() || extras_) {
        if (!extras_) extras_ = std::make_unique<TaskExtras>();
        extras_->cancel_message = std::string(message);
    }
    const AwaitPoint* point = await_point_;
    if (point != nullptr && point->cancel != nullptr && point->cancel(awaiter_)) return true;
    must_cancel_ = true;
    return true;
}

std::string TaskPromiseBase::name() const {
    if (extras_ && !extras_->name.empty()) return extras_->name;
    return "Task-" + std::to_string(id_);
}

void TaskPromiseBase::set_name(std::string name) {
    if (!extras_) extras_ = std::make_unique<TaskExtras>();
    extras_->name = std::move(name);
}

std::string TaskPromiseBase::describe() const {
    std::string text = "Task '" + name() + "' (coroutine " +
                       (site_function_ != nullptr ? site_function_ : "?") + " at " +
                       site_text(creation_site());
    if (extras_ && extras_->scheduled_at.file != nullptr) {
        text += ", created at " + site_text(extras_->scheduled_at);
    }
    return text + ")";
}

void TaskPromiseBase::start_as_task(LoopCore& loop, std::string&& name, CreationSite scheduled_at) {
    loop_ = &loop;
    scheduled_ = true;
    started_ = true;
    id_ = loop.next_task_id();
    if (!name.empty()) set_name(std::move(name));
    if (loop.debug()) {
        if (!extras_) extras_ = std::make_unique<TaskExtras>();
        extras_->scheduled_at = scheduled_at;
    }
    resume_point_ = std::coroutine_handle<TaskPromiseBase>::from_promise(*this);
    refs_ = 1;  // the loop's, dropped when the task is done
    loop.register_task(*this);
    loop.schedule(*this);
}

void TaskPromiseBase::complete_task() noexcept {
    await_point_ = nullptr;
    loop_->unregister_task(*this);
    if (must_cancel_ && !exception_) {
        // A cancellation no await point took (the task cancelled itself, or an I/O result
        // arrived with it and was kept) ends the task cancelled, as CPython's __step does
        // for "a task cancelled right before its coroutine stops". The result is dropped.
        must_cancel_ = false;
        try {
            exception_ = std::make_exception_ptr(CancelledError(std::string(cancel_message())));
        } catch (...) {
            exception_ = std::current_exception();  // bad_alloc: still not a success
        }
    }
    if (exception_is<CancelledError>(exception_)) {
        finish(Status::cancelled);
    } else {
        finish(Status::finished);
    }
    release();  // the loop's reference; may free the frame
}

void TaskPromiseBase::cancel_unstarted() noexcept {
    must_cancel_ = false;
    try {
        exception_ = std::make_exception_ptr(CancelledError(std::string(cancel_message())));
    } catch (...) {
        exception_ = std::current_exception();  // bad_alloc: still not a success
    }
    complete_task();  // cancelled; drops the loop's reference, which may free the frame
}

void report_unawaitable_task(const TaskPromiseBase* promise) {
    if (promise == nullptr) throw InvalidStateError("co_await on an empty or moved-from Task");
    const char* function = promise->creation_site().function;
    throw InvalidStateError(std::string("Task awaited twice: coroutine '") +
                            (function != nullptr ? function : "?") +
                            "' was already awaited or scheduled");
}

void report_never_awaited(const TaskPromiseBase& promise) noexcept {
    LoopCore* loop = running_loop;
    const bool debug = loop != nullptr ? loop->debug() : debug_from_environment();
    if (!debug) return;
    const CreationSite& site = promise.creation_site();
    log(LogLevel::warning, std::string("coroutine '") +
                               (site.function != nullptr ? site.function : "?") + "' (" +
                               site_text(site) + ") was never awaited");
}

// ---- StateAwaiterBase ----

void StateAwaiterBase::await_suspend(std::coroutine_handle<> awaiting) {
    TaskPromiseBase& task = require_current_task("co_await on a task or future");
    if (&task == target_) throw RuntimeError("Task cannot await on itself: " + task.describe());
    task_ = &task;
    on_done = &StateAwaiterBase::on_target_done;
    target_->add_waiter(*this);
    static constexpr AwaitPoint point{
        &StateAwaiterBase::on_cancel, [](const void* self) noexcept {
            FutureStateBase* target = static_cast<const StateAwaiterBase*>(self)->target_;
            auto* awaited_task = dynamic_cast<TaskPromiseBase*>(target);
            if (awaited_task != nullptr) return AwaitTarget{AwaitKind::task, awaited_task, -1};
            return AwaitTarget{AwaitKind::future, target, -1};
        }};
    task.suspend(awaiting, point, this);
}

void StateAwaiterBase::on_target_done(WaiterNode& self, FutureStateBase&) noexcept {
    static_cast<StateAwaiterBase&>(self).task_->wake();
}

bool StateAwaiterBase::on_cancel(void* self) noexcept {
    auto& awaiter = *static_cast<StateAwaiterBase*>(self);
    if (awaiter.shielded_) {
        // shield(): stop waiting, leave the awaited task running.
        FutureStateBase::remove_waiter(awaiter);
        awaiter.task_->wake();
        return false;
    }
    try {
        return awaiter.target_->cancel(awaiter.task_->cancel_message());
    } catch (...) {
        return false;
    }
}

// ---- SleepAwaiter ----

void SleepAwaiter::await_suspend(std::coroutine_handle<> awaiting) {
    TaskPromiseBase& task = require_current_task("sleep()");
    task_ = &task;
    const Duration delay = deadline.time_since_epoch();
    if (delay <= Duration::zero()) {
        // A bare yield, as Python's sleep(0): a pending cancel is delivered on resume.
        task.suspend(awaiting);
        task.wake();
        return;
    }
    LoopCore& loop = *task.loop();
    deadline = loop.now() + delay;
    fire = &SleepAwaiter::on_deadline;
    loop.add_timer(*this);
    static constexpr AwaitPoint point{&SleepAwaiter::on_cancel, [](const void* self) noexcept {
        // The graph reads the deadline through the TimerNode.
        const TimerNode& timer = *static_cast<const SleepAwaiter*>(self);
        return AwaitTarget{AwaitKind::sleep, &timer, -1};
    }};
    task.suspend(awaiting, point, this);
}

// The sleep's state is its `fire` pointer:
//   nullptr      not armed yet, or woken by its deadline (the task is queued to resume);
//   on_deadline  armed, in the loop's timers;
//   on_due       the deadline passed, the wake-up waits in the ready queue (act_soon);
//   cancelled    cancel() woke the task; a queued on_due step does nothing.

void SleepAwaiter::on_deadline(TimerNode& node) noexcept {
    node.act_soon(*static_cast<SleepAwaiter&>(node).task_->loop(), &SleepAwaiter::on_due);
}

void SleepAwaiter::on_due(TimerNode& node) noexcept {
    auto& sleeper = static_cast<SleepAwaiter&>(node);
    sleeper.fire = nullptr;
    sleeper.task_->wake();
}

void SleepAwaiter::cancelled(TimerNode&) noexcept {
    // A cancel() earlier in this batch already woke the task (CPython:
    // _set_result_unless_cancelled). The frame is alive: the task resumes after this step.
}

bool SleepAwaiter::on_cancel(void* self) noexcept {
    auto& sleeper = *static_cast<SleepAwaiter*>(self);
    if (sleeper.fire == nullptr || sleeper.fire == &SleepAwaiter::cancelled) return false;
    if (sleeper.scheduled()) sleeper.task_->loop()->remove_timer(sleeper);
    sleeper.fire = &SleepAwaiter::cancelled;
    sleeper.task_->wake();
    return true;
}

// ---- Futures ----

bool FutureStateCommon::cancel(std::string_view message) {
    if (done()) return false;
    exception_ = std::make_exception_ptr(CancelledError(std::string(message)));
    finish(Status::cancelled);
    return true;
}

std::string FutureStateCommon::describe() const {
    switch (status_) {
        case Status::pending:
            return "Future (pending)";
        case Status::finished:
            return exception_ ? "Future (failed)" : "Future (finished)";
        case Status::cancelled:
            return "Future (cancelled)";
    }
    return "Future";
}

void FutureStateCommon::set_exception(std::exception_ptr error) {
    if (done()) throw_already_done("set_exception()");
    if (!error) throw InvalidStateError("set_exception(): the exception pointer is null");
    exception_ = std::move(error);
    finish(Status::finished);
}

void FutureStateCommon::throw_already_done(const char* operation) const {
    throw InvalidStateError(std::string(operation) + ": " + describe() + " is already done");
}

std::string CallbackBase::describe() const {
    return std::string("callback scheduled in ") +
           (site_.function != nullptr ? site_.function : "?") + " at " + site_text(site_);
}

// ---- helpers ----

TaskPromiseBase& require_current_task(const char* what) {
    LoopCore* loop = running_loop;
    if (loop == nullptr || loop->current_task() == nullptr) {
        throw RuntimeError(std::string(what) +
                           " must be awaited inside a task running on an asyncio event loop");
    }
    return *loop->current_task();
}

LoopCore& require_running_loop() {
    LoopCore* loop = running_loop;
    if (loop == nullptr) throw RuntimeError("no running event loop");
    return *loop;
}

}  // namespace asyncio::detail

namespace asyncio {

TaskHandle<> current_task() {
    detail::LoopCore* loop = detail::running_loop;
    if (loop == nullptr || loop->current_task() == nullptr) return TaskHandle<>();
    return TaskHandle<>(loop->current_task());
}

std::vector<TaskHandle<>> all_tasks() {
    detail::LoopCore& loop = detail::require_running_loop();
    std::vector<TaskHandle<>> tasks;
    for (auto* task = loop.first_task(); task != nullptr; task = task->next_task_) {
        tasks.emplace_back(task);
    }
    return tasks;
}

}  // namespace asyncio
