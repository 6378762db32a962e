#include "loop/blocking_call.hpp"

#include "asyncio/event_loop.hpp"

namespace asyncio::detail {

void BlockingCall::await_suspend(std::coroutine_handle<> awaiting) {
    TaskPromiseBase& task = require_current_task("a blocking system call");
    // A pending cancellation is not handed to this call (which would wait it out): nothing
    // has started yet, so it is delivered now.
    task.throw_if_cancel_pending();
    auto& loop = static_cast<EventLoop&>(*task.loop());
    // The job writes result_ on its thread; the loop reads it only after the future's
    // completion came back through the loop's thread-safe queue, which orders the two.
    done_.emplace(loop.run_in_executor([this]() noexcept { result_ = function_(context_); }));
    task_ = &task;
    done_->add_done_callback([this](const Future<void>&) { task_->wake(); });
    static constexpr AwaitPoint point{&BlockingCall::on_cancel, [](const void* self) noexcept {
        return AwaitTarget{AwaitKind::io, nullptr, static_cast<const BlockingCall*>(self)->fd_};
    }};
    task.suspend(awaiting, point, this);
}

long BlockingCall::await_resume() {
    if (cancel_requested_) task_->defer_cancel();
    return result_;
}

bool BlockingCall::on_cancel(void* self) noexcept {
    // Taken over: the task stays suspended until the thread is done (see the top of the
    // header), and await_resume passes the cancellation on.
    static_cast<BlockingCall*>(self)->cancel_requested_ = true;
    return true;
}

}  // namespace asyncio::detail
