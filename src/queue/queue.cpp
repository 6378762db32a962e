#include "asyncio/queue.hpp"

#include <algorithm>
#include <string>

#include "loop/event_loop_impl.hpp"

namespace asyncio::detail {

namespace {

constexpr const char* operation_names[3][7] = {
    {"Queue.put()", "Queue.put_nowait()", "Queue.get()", "Queue.get_nowait()", "Queue.task_done()",
     "Queue.join()", "Queue.shutdown()"},
    {"LifoQueue.put()", "LifoQueue.put_nowait()", "LifoQueue.get()", "LifoQueue.get_nowait()",
     "LifoQueue.task_done()", "LifoQueue.join()", "LifoQueue.shutdown()"},
    {"PriorityQueue.put()", "PriorityQueue.put_nowait()", "PriorityQueue.get()",
     "PriorityQueue.get_nowait()", "PriorityQueue.task_done()", "PriorityQueue.join()",
     "PriorityQueue.shutdown()"},
};

constexpr const char* class_names[3] = {"Queue", "LifoQueue", "PriorityQueue"};

const char* operation_name(QueueCore::Kind kind, QueueCore::Op op) noexcept {
    return operation_names[static_cast<int>(kind)][static_cast<int>(op)];
}

}  // namespace

// Reached when the loop running in this thread (if any) is not the one the queue is bound
// to. CPython binds a queue to a loop when it first has to wait (_LoopBoundMixin) and
// leaves other misuse to the loop's debug-mode _check_thread; here every operation but the
// observers checks, and a binding whose loop was destroyed is dropped, so the pointer is
// never followed to a dead loop.
void QueueCore::check_use_slow(Op op) {
    LoopCore* here = running_loop;
    if (loop_ != nullptr && !loop_is_alive(loop_)) loop_ = nullptr;
    if (loop_ == nullptr) {
        loop_ = here;  // stays unbound when used before any loop runs (e.g. prefilled)
        return;
    }
    if (here != nullptr) {
        throw RuntimeError(std::string(operation_name(kind_, op)) + ": this " +
                           class_names[static_cast<int>(kind_)] +
                           " is bound to a different event loop");
    }
    loop_->check_thread(operation_name(kind_, op));
}

void QueueCore::task_done() {
    check_use(Op::task_done);
    if (unfinished_ == 0) throw InvalidStateError("task_done() called too many times");
    if (--unfinished_ == 0) joiners_.wake_all();
}

Task<> QueueCore::join_or_wait() {
    check_use(Op::join);
    if (unfinished_ == 0) co_return;
    WaitQueue::Waiter waiter(joiners_);
    // Every joiner is woken at once (Python's Event.set()), so a joiner cancelled after
    // its wake-up has nothing to hand on. Like Event.wait(), a woken joiner returns even
    // if new items were put before it resumed.
    if (co_await waiter) waiter.throw_cancelled();
}

void QueueCore::begin_shutdown(bool immediate, std::size_t dropped) noexcept {
    shut_down_ = true;
    if (immediate) {
        unfinished_ -= std::min(dropped, unfinished_);
        if (unfinished_ == 0) joiners_.wake_all();
    }
    // Woken getters and putters re-check the queue and throw QueueShutDown, except getters
    // that still find items (after a shutdown that is not immediate).
    getters_.wake_all();
    putters_.wake_all();
}

void QueueCore::throw_full() const {
    throw QueueFull(std::string(operation_name(kind_, Op::put_nowait)) + ": the " +
                    class_names[static_cast<int>(kind_)] + " is full (maxsize " +
                    std::to_string(maxsize_) + ")");
}

void QueueCore::throw_empty() const {
    throw QueueEmpty(std::string(operation_name(kind_, Op::get_nowait)) + ": the " +
                     class_names[static_cast<int>(kind_)] + " is empty");
}

void QueueCore::throw_shut_down(Op op) const {
    const bool getting = op == Op::get || op == Op::get_nowait;
    throw QueueShutDown(std::string(operation_name(kind_, op)) + ": the " +
                        class_names[static_cast<int>(kind_)] +
                        (getting ? " is shut down and empty" : " is shut down"));
}

}  // namespace asyncio::detail
