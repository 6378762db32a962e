#pragma once

#include <memory>
#include <type_traits>
#include <utility>

#include "asyncio/errors.hpp"
#include "asyncio/event_loop.hpp"
#include "asyncio/task.hpp"

namespace asyncio {

/// Options of run() and Runner: `{.debug = true}` and friends (see LoopOptions).
using RunOptions = LoopOptions;

/// Runs several top-level tasks, one after the other, on the same loop (Python's
/// asyncio.Runner). The loop is created on first use and closed by close() or the
/// destructor: remaining tasks are cancelled and awaited, the default executor is shut
/// down, then the loop is closed.
///
/// Thread safety: one thread at a time.
class Runner {
public:
    explicit Runner(RunOptions options = {});
    ~Runner();
    Runner(const Runner&) = delete;
    Runner& operator=(const Runner&) = delete;

    /// Runs `task` to completion on the runner's loop; returns its result or rethrows.
    ///
    /// SIGINT (Ctrl-C) while it runs, when called from the main thread and SIGINT has its
    /// default disposition, cancels the task; if the task ends cancelled, run() throws
    /// KeyboardInterrupt. A second SIGINT kills the process as usual.
    /// Throws: RuntimeError if a loop already runs in this thread or the runner is closed.
    template <class T>
    T run(Task<T> task);

    /// Cancels and awaits remaining tasks, shuts down the executor, closes the loop.
    void close();

    /// The runner's loop (created if needed).
    /// Throws: RuntimeError when the runner is closed.
    EventLoop& get_loop();

private:
    class InterruptScope {
    public:
        InterruptScope(EventLoop& loop, const TaskHandle<>& main_task);
        ~InterruptScope();
        InterruptScope(const InterruptScope&) = delete;
        InterruptScope& operator=(const InterruptScope&) = delete;
        bool interrupted() const noexcept { return interrupts_ > 0; }

    private:
        EventLoop& loop_;
        bool installed_ = false;
        int interrupts_ = 0;
    };

    void check_can_run();

    RunOptions options_;
    std::unique_ptr<EventLoop> loop_;
    bool closed_ = false;
};

template <class T>
T Runner::run(Task<T> task) {
    check_can_run();
    EventLoop& loop = get_loop();
    TaskHandle<T> main_task = loop.create_task(std::move(task));
    {
        InterruptScope interrupt(loop, main_task);
        loop.run_until_done(*main_task.promise());
        if (interrupt.interrupted() && main_task.cancelled()) {
            throw KeyboardInterrupt();
        }
    }
    if constexpr (std::is_void_v<T>) {
        main_task.result();
    } else {
        return std::move(main_task.result());
    }
}

/// Runs `task` on a new event loop and returns its result or rethrows its exception,
/// like Python's asyncio.run(): the loop is created, the task run, every task still
/// pending then cancelled and awaited, the default executor shut down and the loop closed.
///
/// Throws: RuntimeError when a loop already runs in this thread (run() inside run());
/// KeyboardInterrupt after SIGINT (see Runner::run); whatever the task throws.
/// Example: `int main() { asyncio::run(main_task()); }`
template <class T>
T run(Task<T> task, RunOptions options = {}) {
    Runner runner(std::move(options));
    return runner.run(std::move(task));
}

}  // namespace asyncio
