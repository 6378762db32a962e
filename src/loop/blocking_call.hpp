#pragma once

// An awaitable that runs one blocking system call on the loop's thread pool: what file
// operations use when the backend cannot do them without blocking the loop (epoll), and
// for the calls no backend does (open, close, fstat, rename...).
//
// Unlike to_thread(), a cancelled call is waited for: the system call may be writing into
// the awaiting frame (a read's buffer, a stat result), so the frame must not go on before
// the thread is done with it. The result is then returned and the cancellation delivered
// at the next await point, as IoAwaitable does for an operation that won its race with a
// cancel: a descriptor just opened or bytes just read are never lost.

#include <coroutine>
#include <optional>

#include "asyncio/detail/task_promise.hpp"
#include "asyncio/future.hpp"

namespace asyncio::detail {

class BlockingCall {
public:
    /// Runs on a pool thread; returns a result or a negative errno.
    using Function = long (*)(void* context) noexcept;

    /// `fd` is only for introspection (what the task waits on); -1 when there is none.
    BlockingCall(Function function, void* context, int fd = -1) noexcept
        : function_(function), context_(context), fd_(fd) {}
    BlockingCall(const BlockingCall&) = delete;
    BlockingCall& operator=(const BlockingCall&) = delete;

    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<> awaiting);
    /// The function's result (a negative errno on failure).
    long await_resume();

private:
    static bool on_cancel(void* self) noexcept;

    Function function_;
    void* context_;
    int fd_;
    long result_ = 0;
    TaskPromiseBase* task_ = nullptr;
    bool cancel_requested_ = false;
    std::optional<Future<void>> done_;
};

}  // namespace asyncio::detail
