#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "asyncio/run.hpp"
#include "loop/event_loop_impl.hpp"

namespace asyncio {

Runner::Runner(RunOptions options) : options_(std::move(options)) {}

Runner::~Runner() {
    try {
        close();
    } catch (...) {
    }
}

EventLoop& Runner::get_loop() {
    if (closed_) throw RuntimeError("Runner is closed");
    if (!loop_) loop_ = std::make_unique<EventLoop>(options_);
    return *loop_;
}

void Runner::check_can_run() {
    if (detail::running_loop != nullptr) {
        throw RuntimeError("asyncio::run() cannot be called from a running event loop");
    }
    if (closed_) throw RuntimeError("Runner is closed");
}

void Runner::close() {
    if (closed_) return;
    closed_ = true;
    if (!loop_) return;
    EventLoop& loop = *loop_;
    // As asyncio.run(): cancel what is left, let it clean up, report what failed meanwhile.
    std::vector<detail::TaskPromiseBase*> left;
    for (auto* task = loop.first_task(); task != nullptr; task = task->next_task_) {
        left.push_back(task);
    }
    if (!left.empty()) {
        std::vector<TaskHandle<>> tasks;
        for (auto* task : left) tasks.emplace_back(task);
        for (auto& task : tasks) task.cancel();
        try {
            for (auto& task : tasks) {
                loop.run_until_done(*task.promise());
            }
        } catch (...) {
        }
        for (auto& task : tasks) {
            if (!task.done() || task.cancelled()) continue;
            if (auto error = task.exception()) {
                loop.call_exception_handler(ExceptionContext{
                    "unhandled exception during asyncio::run() shutdown", error,
                    task.promise()->describe()});
            }
        }
    }
    loop.shutdown_default_executor();
    loop.close();
    loop_.reset();
}

Runner::InterruptScope::InterruptScope(EventLoop& loop, const TaskHandle<>& main_task)
    : loop_(loop) {
    // Only where Python's Runner does it: in the main thread, when nobody else took SIGINT.
    if (::getpid() != static_cast<pid_t>(::syscall(SYS_gettid))) return;
    struct sigaction current {};
    if (::sigaction(SIGINT, nullptr, &current) != 0 || current.sa_handler != SIG_DFL) return;
    loop.add_signal_handler(SIGINT, [this, main_task] {
        ++interrupts_;
        if (interrupts_ == 1 && !main_task.done()) {
            main_task.cancel("interrupted by SIGINT");
            return;
        }
        // A second Ctrl-C: give up on a graceful stop.
        loop_.remove_signal_handler(SIGINT);
        installed_ = false;
        ::raise(SIGINT);
    });
    installed_ = true;
}

Runner::InterruptScope::~InterruptScope() {
    if (installed_) loop_.remove_signal_handler(SIGINT);
}

}  // namespace asyncio
