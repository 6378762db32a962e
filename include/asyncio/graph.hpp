#pragma once

#include <iosfwd>
#include <string>
#include <vector>

#include "asyncio/task.hpp"

namespace asyncio {

class EventLoop;

/// A coroutine function of a task's call stack: its name and where it is defined.
struct FrameInfo {
    std::string function;
    std::string file;
    unsigned line = 0;
};

/// A snapshot of one task, for debugging (what Python 3.14's `python -m asyncio ps`
/// shows).
struct TaskInfo {
    TaskHandle<> task;
    std::string name;
    /// "running", "scheduled" (ready to run), "waiting", "finished", "failed", "cancelled".
    std::string state;
    /// What it waits for: "task 'Task-3'", "sleep, due in 1.250s", "gather of 3 (2 pending)",
    /// "Lock 0x...", "I/O on fd 7", ... Empty unless waiting.
    std::string awaiting;
    /// The coroutine functions the task is suspended in, innermost first; the last one is
    /// the task's own coroutine.
    std::vector<FrameInfo> call_stack;
    /// Where create_task() was called (recorded in debug mode only; empty otherwise).
    std::string created_at;
    /// The tasks this one waits for (one for `co_await task`, several for gather() or
    /// a TaskGroup).
    std::vector<TaskHandle<>> awaiting_tasks;
};

/// Describes `task`.
TaskInfo describe_task(const TaskHandle<>& task);

/// Describes every pending task of the running loop (all_tasks(), with details).
/// Throws: RuntimeError when no loop runs in this thread.
std::vector<TaskInfo> describe_all_tasks();

/// The await tree of the loop's tasks, from the tasks nobody awaits (the main task)
/// down to the leaves, one task per line with what it waits for and its call stack:
/// ```
/// └── Task 'Task-1' waiting: gather of 2 (2 pending)
///     │ at main_task (app.cpp:31)
///     ├── Task 'Task-2' waiting: sleep, due in 2.999s
///     │     at download_file (app.cpp:22)
///     ...
/// ```
/// Thread safety: the loop's thread only (a SIGUSR1 dump runs there, see RunOptions).
std::string format_call_graph(EventLoop& loop);
/// format_call_graph() of the running loop.
std::string format_call_graph();
/// Writes format_call_graph() to `out`.
void print_call_graph(std::ostream& out);
/// Writes format_call_graph() to stderr.
void print_call_graph();

}  // namespace asyncio
