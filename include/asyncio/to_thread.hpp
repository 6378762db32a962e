#pragma once

#include <functional>
#include <future>
#include <memory>
#include <tuple>
#include <type_traits>
#include <utility>

#include "asyncio/event_loop.hpp"
#include "asyncio/task.hpp"

namespace asyncio {

/// Runs `fn(args...)` on the running loop's default thread pool and gives a Future of its
/// result, so blocking work does not stall the loop (Python's asyncio.to_thread). The
/// arguments are copied or moved into the job.
///
/// Cancellation: the awaiting task stops waiting; `fn` runs to its end on its thread and
/// its result is dropped (threads cannot be interrupted, as in Python).
/// Throws: RuntimeError when no loop runs in this thread.
/// Example: `auto digest = co_await asyncio::to_thread(sha256_file, path);`
template <class F, class... Args>
auto to_thread(F fn, Args... args) {
    return get_running_loop().run_in_executor(
        [fn = std::move(fn), arguments = std::make_tuple(std::move(args)...)]() mutable {
            return std::apply(fn, std::move(arguments));
        });
}

/// Submits `task` to `loop` from any other thread and gives a std::future of its result
/// (Python's asyncio.run_coroutine_threadsafe).
///
/// Throws: RuntimeError when the loop is closed.
/// Thread safety: call it from a thread that is not running `loop` (waiting on the
/// std::future there would deadlock).
/// Example: `int v = asyncio::run_coroutine_threadsafe(compute(), loop).get();`
template <class T>
std::future<T> run_coroutine_threadsafe(Task<T> task, EventLoop& loop) {
    auto promise = std::make_shared<std::promise<T>>();
    std::future<T> result = promise->get_future();
    loop.call_soon_threadsafe([&loop, task = std::move(task), promise]() mutable {
        TaskHandle<T> handle;
        try {
            handle = loop.create_task(std::move(task));
        } catch (...) {
            promise->set_exception(std::current_exception());
            return;
        }
        handle.add_done_callback([promise](const TaskHandle<>& done) {
            auto* state = static_cast<detail::TaskPromise<T>*>(done.promise());
            try {
                if constexpr (std::is_void_v<T>) {
                    state->result_or_throw();
                    promise->set_value();
                } else {
                    promise->set_value(std::move(state->result_or_throw()));
                }
            } catch (...) {
                promise->set_exception(std::current_exception());
            }
        });
    });
    return result;
}

}  // namespace asyncio
