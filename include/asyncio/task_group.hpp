#pragma once

#include <exception>
#include <list>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "asyncio/detail/awaitable_traits.hpp"
#include "asyncio/errors.hpp"
#include "asyncio/task.hpp"

namespace asyncio {

/// Structured concurrency (Python's asyncio.TaskGroup): the tasks created in a group
/// all finish before the group's scope ends. If one fails, the others and the body are
/// cancelled, and the scope throws ExceptionGroup with every error. A group is opened
/// with task_group().
///
/// Thread safety: the loop's thread only.
class TaskGroup {
public:
    /// Schedules `task` in the group.
    /// Throws: RuntimeError when the group is shutting down after a failure, or finished.
    template <class T>
    TaskHandle<T> create_task(Task<T> task, std::string name = {},
                              detail::CreationSite site = detail::CreationSite::current()) {
        check_can_create();
        TaskHandle<T> handle =
            detail::schedule_task(*parent_->loop(), std::move(task), std::move(name), site);
        adopt(handle);
        return handle;
    }

    /// Tasks of the group not done yet.
    std::size_t size() const noexcept { return children_.size(); }
    /// The tasks of the group not done yet, in creation order.
    std::vector<TaskHandle<>> tasks() const;

    // Internal: the scope's entry and exit, used by task_group()'s coroutine.
    TaskGroup();
    ~TaskGroup();
    TaskGroup(const TaskGroup&) = delete;
    TaskGroup& operator=(const TaskGroup&) = delete;
    /// Waits for every child; `body_error` is what the body threw (or null). Returns
    /// normally when `body_error` (if any) should propagate unchanged.
    Task<> join(std::exception_ptr body_error);

private:
    struct Child : detail::WaiterNode {
        TaskGroup* group = nullptr;
        TaskHandle<> task;
        std::list<Child>::iterator self;
    };

    void check_can_create() const;
    void adopt(const TaskHandle<>& task);
    void on_child_done(Child& child) noexcept;
    void abort() noexcept;
    static void child_done(detail::WaiterNode& node, detail::FutureStateBase& state) noexcept;

    class AllDone;

    detail::TaskPromiseBase* parent_;
    std::list<Child> children_;
    std::vector<std::exception_ptr> errors_;
    std::exception_ptr base_error_;
    detail::TaskPromiseBase* joining_ = nullptr;  // the parent, while join() waits
    bool joining_wake_pending_ = false;
    bool exiting_ = false;
    bool aborting_ = false;
    bool parent_cancel_requested_ = false;
    bool finished_ = false;
};

namespace detail {

template <class R, class Body>
Task<R> run_task_group(Body body) {
    TaskGroup group;
    std::exception_ptr body_error;
    std::optional<value_or_monostate<R>> result;
    try {
        if constexpr (std::is_void_v<R>) {
            co_await body(group);
        } else {
            result.emplace(co_await body(group));
        }
    } catch (...) {
        body_error = std::current_exception();
    }
    co_await group.join(body_error);
    if (body_error) std::rethrow_exception(body_error);
    if constexpr (!std::is_void_v<R>) co_return std::move(*result);
}

}  // namespace detail

/// Opens a TaskGroup, runs `body(group)` in the current task, then waits for every task
/// of the group (Python's `async with asyncio.TaskGroup() as tg:`). Gives the body's result.
///
/// Throws: ExceptionGroup holding each child's error (and the body's, if it failed too);
/// CancelledError if the enclosing task was cancelled from outside.
/// Cancellation: cancels every child, waits for them, then rethrows.
/// Example:
/// ```
/// co_await asyncio::task_group([&](asyncio::TaskGroup& tg) -> asyncio::Task<> {
///     tg.create_task(worker(1));
///     tg.create_task(worker(2));
///     co_return;
/// });
/// ```
template <class Body>
auto task_group(Body body) {
    using Awaitable = std::invoke_result_t<Body&, TaskGroup&>;
    using R = typename detail::traits_of<Awaitable>::value_type;
    return detail::run_task_group<R>(std::move(body));
}

}  // namespace asyncio
