// TaskGroup, ported from CPython 3.12's taskgroups.py (including the fixes of
// gh-95289, gh-95704 and gh-116720): the order of the checks in join() is the one CPython
// settled on, because each one guards a bug that shipped.

#include "asyncio/task_group.hpp"

namespace asyncio {
namespace {

bool is_cancelled_error(const std::exception_ptr& error) {
    return exception_is<CancelledError>(error);
}

/// Errors that are re-raised as they are instead of inside the group (Python: SystemExit
/// and KeyboardInterrupt).
bool is_base_error(const std::exception_ptr& error) {
    return exception_is<KeyboardInterrupt>(error);
}

}  // namespace

/// Suspends join() until no child is left. Cancelling the joining task is taken over here
/// (like cancelling CPython's _on_completed_fut) and reported as CancelledError.
class TaskGroup::AllDone {
public:
    explicit AllDone(TaskGroup& group) : group_(group) {}
    bool await_ready() const noexcept { return group_.children_.empty(); }
    void await_suspend(std::coroutine_handle<> awaiting) {
        detail::TaskPromiseBase& task = detail::require_current_task("TaskGroup");
        group_.joining_ = &task;
        group_.joining_wake_pending_ = false;
        static constexpr detail::AwaitPoint point{
            &AllDone::on_cancel, [](const void* self) noexcept {
                return detail::AwaitTarget{detail::AwaitKind::task_group,
                                           &static_cast<const AllDone*>(self)->group_, -1};
            }};
        task.suspend(awaiting, point, this);
    }
    void await_resume() {
        detail::TaskPromiseBase* task = group_.joining_;
        group_.joining_ = nullptr;
        if (cancelled_) task->throw_cancelled();
        task->throw_if_cancel_pending();
    }

private:
    static bool on_cancel(void* self) noexcept {
        auto& waiter = *static_cast<AllDone*>(self);
        waiter.cancelled_ = true;
        if (!waiter.group_.joining_wake_pending_) {
            waiter.group_.joining_wake_pending_ = true;
            waiter.group_.joining_->wake();
        }
        return true;
    }

    TaskGroup& group_;
    bool cancelled_ = false;
};

TaskGroup::TaskGroup() : parent_(&detail::require_current_task("TaskGroup")) {}

TaskGroup::~TaskGroup() {
    // Only reached with children left when the frame is destroyed early (loop closed).
    for (Child& child : children_) detail::FutureStateBase::remove_waiter(child);
}

std::vector<TaskHandle<>> TaskGroup::tasks() const {
    std::vector<TaskHandle<>> result;
    for (const Child& child : children_) result.push_back(child.task);
    return result;
}

void TaskGroup::check_can_create() const {
    if (finished_) throw RuntimeError("TaskGroup is finished");
    if (aborting_) throw RuntimeError("TaskGroup is shutting down");
}

void TaskGroup::adopt(const TaskHandle<>& task) {
    children_.emplace_back();
    Child& child = children_.back();
    child.group = this;
    child.task = task;
    child.self = std::prev(children_.end());
    child.on_done = &TaskGroup::child_done;
    task.promise()->add_waiter(child);
}

void TaskGroup::child_done(detail::WaiterNode& node, detail::FutureStateBase&) noexcept {
    // CPython runs _on_task_done as a done callback, i.e. in a later batch: children that
    // fail in the same iteration all finish (and are all reported) before any sibling is
    // cancelled. The group outlives the callback: join() waits for every child's.
    auto& child = static_cast<Child&>(node);
    TaskGroup* group = child.group;
    try {
        auto* callback = new detail::CallbackImpl([group, &child] { group->on_child_done(child); });
        group->parent_->loop()->schedule(*callback);
    } catch (...) {
        group->on_child_done(child);  // out of memory: handle it now rather than never
    }
}

void TaskGroup::abort() noexcept {
    aborting_ = true;
    for (Child& child : children_) {
        if (!child.task.done()) {
            try {
                child.task.cancel();
            } catch (...) {
            }
        }
    }
}

void TaskGroup::on_child_done(Child& child) noexcept {
    TaskHandle<> task = std::move(child.task);
    children_.erase(child.self);
    if (joining_ != nullptr && children_.empty() && !joining_wake_pending_) {
        joining_wake_pending_ = true;
        joining_->wake();
    }
    if (task.cancelled()) return;
    std::exception_ptr error = task.promise()->take_exception();
    if (!error) return;
    try {
        errors_.push_back(error);
    } catch (...) {
    }
    if (is_base_error(error) && !base_error_) base_error_ = error;
    if (parent_->done()) {
        parent_->loop()->report_error("Task in a TaskGroup failed after the group's task ended",
                                      error, task.promise()->describe());
        return;
    }
    if (!aborting_ && !parent_cancel_requested_) {
        // Cancel the siblings and the body; join() uncancels the parent afterwards.
        abort();
        parent_cancel_requested_ = true;
        try {
            parent_->cancel("");
        } catch (...) {
        }
    }
}

Task<> TaskGroup::join(std::exception_ptr body_error) {
    exiting_ = true;
    if (body_error && is_base_error(body_error) && !base_error_) base_error_ = body_error;
    std::exception_ptr propagate_cancellation;
    if (is_cancelled_error(body_error)) propagate_cancellation = body_error;
    if (body_error && !aborting_) abort();

    while (!children_.empty()) {
        try {
            co_await AllDone(*this);
        } catch (const CancelledError&) {
            if (!aborting_) {
                propagate_cancellation = std::current_exception();
                abort();
            }
        }
    }
    finished_ = true;

    if (base_error_) std::rethrow_exception(base_error_);

    if (parent_cancel_requested_) {
        // Our own cancellation of the parent must not leak out (gh-95289).
        if (parent_->uncancel() == 0) propagate_cancellation = nullptr;
    }
    if (propagate_cancellation && errors_.empty()) std::rethrow_exception(propagate_cancellation);

    if (body_error && !is_cancelled_error(body_error)) errors_.push_back(body_error);
    if (!errors_.empty()) {
        // A cancellation from outside the group is still owed to the parent: un-cancel and
        // re-cancel to keep its count stable (CPython 3.13, gh-116720).
        if (parent_->cancelling() > 0) {
            parent_->uncancel();
            parent_->cancel("");
        }
        std::vector<std::exception_ptr> errors = std::move(errors_);
        errors_.clear();
        throw ExceptionGroup("unhandled errors in a TaskGroup", std::move(errors));
    }
}

}  // namespace asyncio
