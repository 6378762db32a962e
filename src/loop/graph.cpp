// Introspection: task snapshots and the await tree. Everything here reads the tasks'
// bookkeeping (AwaitTarget, the call-stack links) and allocates freely: it runs on demand,
// never on a hot path.

#include "asyncio/graph.hpp"

#include <cstdio>
#include <iostream>
#include <map>
#include <set>
#include <sstream>

#include "asyncio/detail/multi_wait.hpp"
#include "asyncio/event_loop.hpp"
#include "asyncio/task_group.hpp"
#include "loop/event_loop_impl.hpp"

namespace asyncio {
namespace {

using detail::AwaitKind;
using detail::TaskPromiseBase;

std::string seconds(Duration d) {
    char text[32];
    std::snprintf(text, sizeof text, "%.3fs", std::chrono::duration<double>(d).count());
    return text;
}

std::string address(const void* p) {
    char text[32];
    std::snprintf(text, sizeof text, "%p", p);
    return text;
}

FrameInfo frame_of(const TaskPromiseBase& promise) {
    const auto& site = promise.creation_site();
    std::string function = site.function != nullptr ? site.function : "?";
    // GCC spells out template arguments, lambdas included, which can run to hundreds of
    // characters: the name alone reads better in a tree.
    if (auto cut = function.find('<'); cut != std::string::npos && cut > 0 &&
                                       function.compare(0, 8, "operator") != 0) {
        function.erase(cut);
    }
    return FrameInfo{function, site.file != nullptr ? site.file : "?", site.line};
}

std::vector<TaskHandle<>> awaited_tasks(const detail::AwaitTarget& target) {
    std::vector<TaskHandle<>> tasks;
    auto add_state = [&](detail::FutureStateBase* state) {
        if (auto* task = dynamic_cast<TaskPromiseBase*>(state); task != nullptr && !task->done()) {
            tasks.emplace_back(task);
        }
    };
    switch (target.kind) {
        case AwaitKind::task:
            tasks.emplace_back(const_cast<TaskPromiseBase*>(
                static_cast<const TaskPromiseBase*>(target.object)));
            break;
        case AwaitKind::gather:
            for (auto* child : static_cast<const detail::MultiWait*>(target.object)->children()) {
                add_state(child);
            }
            break;
        case AwaitKind::completion:
            for (auto* child :
                 static_cast<const detail::CompletionQueue*>(target.object)->children()) {
                add_state(child);
            }
            break;
        case AwaitKind::task_group:
            tasks = static_cast<const TaskGroup*>(target.object)->tasks();
            break;
        default:
            break;
    }
    return tasks;
}

std::string describe_wait(const detail::AwaitTarget& target, detail::LoopCore& loop) {
    switch (target.kind) {
        case AwaitKind::nothing: return "";
        case AwaitKind::task: {
            auto* task = static_cast<const TaskPromiseBase*>(target.object);
            return "task '" + task->name() + "'";
        }
        case AwaitKind::future: return "a Future";
        case AwaitKind::sleep: {
            auto* timer = static_cast<const detail::TimerNode*>(target.object);
            return timer->scheduled() ? "sleep, due in " + seconds(timer->deadline - loop.now())
                                      : "sleep, due now";
        }
        case AwaitKind::gather: {
            const auto& children = static_cast<const detail::MultiWait*>(target.object)->children();
            std::size_t pending = 0;
            for (auto* child : children) pending += child->done() ? 0 : 1;
            return "gather/wait of " + std::to_string(children.size()) + " (" +
                   std::to_string(pending) + " pending)";
        }
        case AwaitKind::completion: return "as_completed().next()";
        case AwaitKind::task_group:
            return "TaskGroup of " +
                   std::to_string(static_cast<const TaskGroup*>(target.object)->size()) +
                   " tasks";
        case AwaitKind::lock: return "Lock " + address(target.object);
        case AwaitKind::event: return "Event " + address(target.object);
        case AwaitKind::condition: return "Condition " + address(target.object);
        case AwaitKind::semaphore: return "Semaphore " + address(target.object);
        case AwaitKind::barrier: return "Barrier " + address(target.object);
        case AwaitKind::queue: return "Queue " + address(target.object);
        case AwaitKind::io: return "I/O on fd " + std::to_string(target.fd);
        case AwaitKind::other: return "something";
    }
    return "";
}

}  // namespace

TaskInfo describe_task(const TaskHandle<>& handle) {
    TaskPromiseBase& task = *handle.promise();
    detail::LoopCore& loop = *task.loop();
    TaskInfo info;
    info.task = handle;
    info.name = task.name();
    if (task.cancelled()) {
        info.state = "cancelled";
    } else if (task.done()) {
        info.state = task.has_exception() ? "failed" : "finished";
    } else if (loop.current_task() == &task) {
        info.state = "running";
    } else if (task.awaiting().kind == AwaitKind::nothing) {
        info.state = "scheduled";
    } else {
        info.state = "waiting";
        info.awaiting = describe_wait(task.awaiting(), loop);
        info.awaiting_tasks = awaited_tasks(task.awaiting());
    }
    if (!task.done()) {
        for (const TaskPromiseBase* frame = task.innermost_; frame != nullptr && frame != &task;
             frame = frame->caller_) {
            info.call_stack.push_back(frame_of(*frame));
        }
        info.call_stack.push_back(frame_of(task));
    }
    if (const auto* site = task.scheduled_at()) {
        info.created_at = std::string(site->file) + ":" + std::to_string(site->line);
    }
    return info;
}

std::vector<TaskInfo> describe_all_tasks() {
    std::vector<TaskInfo> infos;
    for (const auto& task : all_tasks()) infos.push_back(describe_task(task));
    return infos;
}

std::string format_call_graph(EventLoop& loop) {
    std::vector<TaskInfo> infos;
    for (auto* task = loop.first_task(); task != nullptr; task = task->next_task_) {
        infos.push_back(describe_task(TaskHandle<>(task)));
    }
    // Registration order is newest first; show oldest (the main task) first.
    std::map<const TaskPromiseBase*, const TaskInfo*> by_task;
    std::set<const TaskPromiseBase*> awaited;
    for (auto it = infos.rbegin(); it != infos.rend(); ++it) {
        by_task[it->task.promise()] = &*it;
        for (const auto& child : it->awaiting_tasks) awaited.insert(child.promise());
    }
    std::ostringstream out;
    std::set<const TaskPromiseBase*> shown;
    auto show = [&](auto& self, const TaskInfo& info, const std::string& prefix, bool last) -> void {
        out << prefix << (last ? "└── " : "├── ") << "Task '" << info.name << "' " << info.state;
        if (!info.awaiting.empty()) out << ": " << info.awaiting;
        if (!info.created_at.empty()) out << " (created at " << info.created_at << ")";
        out << "\n";
        const std::string inner = prefix + (last ? "    " : "│   ");
        std::vector<const TaskInfo*> children;
        for (const auto& child : info.awaiting_tasks) {
            auto found = by_task.find(child.promise());
            if (found != by_task.end() && shown.insert(child.promise()).second) {
                children.push_back(found->second);
            }
        }
        for (const auto& frame : info.call_stack) {
            out << inner << (children.empty() ? "  " : "│ ") << "at " << frame.function << " ("
                << frame.file << ":" << frame.line << ")\n";
        }
        for (std::size_t i = 0; i < children.size(); ++i) {
            self(self, *children[i], inner, i + 1 == children.size());
        }
    };
    std::vector<const TaskInfo*> roots;
    for (auto it = infos.rbegin(); it != infos.rend(); ++it) {
        if (awaited.count(it->task.promise()) == 0) roots.push_back(&*it);
    }
    for (const TaskInfo* root : roots) shown.insert(root->task.promise());
    for (std::size_t i = 0; i < roots.size(); ++i) show(show, *roots[i], "", i + 1 == roots.size());
    if (infos.empty()) out << "(no pending tasks)\n";
    return out.str();
}

std::string format_call_graph() { return format_call_graph(get_running_loop()); }

void print_call_graph(std::ostream& out) { out << format_call_graph(); }

void print_call_graph() { print_call_graph(std::cerr); }

}  // namespace asyncio
