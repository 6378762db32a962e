#include "asyncio/detail/multi_wait.hpp"

namespace asyncio::detail {
namespace {

/// Marks a child's exception retrieved when it finishes after its gather() returned.
struct RetrieveWhenDone : WaiterNode {
    RetrieveWhenDone() {
        on_done = [](WaiterNode& self, FutureStateBase& state) noexcept {
            (void)state.take_exception();
            delete static_cast<RetrieveWhenDone*>(&self);
        };
        on_abandon = [](WaiterNode& self) noexcept {
            delete static_cast<RetrieveWhenDone*>(&self);
        };
    }
};

}  // namespace

MultiWait::MultiWait(std::vector<FutureStateBase*> children, WakeWhen wake_when,
                     bool gather_semantics)
    : children_(std::move(children)),
      nodes_(children_.size()),
      wake_when_(wake_when),
      cancel_children_(gather_semantics) {
    fire = &MultiWait::on_deadline;
}

bool MultiWait::failed(const FutureStateBase& child) const noexcept {
    if (child.cancelled()) return cancel_children_;  // gather: cancelled counts as raising
    return child.status() == FutureStateBase::Status::finished && child.has_exception();
}

MultiWait::~MultiWait() {
    for (ChildNode& node : nodes_) FutureStateBase::remove_waiter(node);
    if (scheduled()) task_->loop()->remove_timer(*this);
    if (retrieve_later_) {
        for (FutureStateBase* child : children_) {
            if (child->done()) {
                (void)child->take_exception();
            } else {
                try {
                    child->add_waiter(*new RetrieveWhenDone());
                } catch (...) {
                }
            }
        }
    }
}

bool MultiWait::condition_met() noexcept {
    std::size_t done = 0;
    for (std::size_t i = 0; i < children_.size(); ++i) {
        if (!children_[i]->done()) continue;
        ++done;
        if (first_failure_ < 0 && failed(*children_[i])) first_failure_ = static_cast<long>(i);
    }
    remaining_ = children_.size() - done;
    return satisfied(done);
}

bool MultiWait::satisfied(std::size_t done) const noexcept {
    if (remaining_ == 0) return true;
    switch (wake_when_) {
        case WakeWhen::all_done: return false;
        case WakeWhen::first_done: return done > 0;
        case WakeWhen::first_failure: return first_failure_ >= 0;
    }
    return false;
}

bool MultiWait::await_ready() noexcept {
    // A gather of fresh tasks has a pending first child: then the count of done children
    // is left to await_suspend, which makes it in the pass that registers the waiters (one
    // pass over a million children instead of two).
    if (!children_.empty() && !children_.front()->done()) return false;
    return condition_met();
}

bool MultiWait::await_suspend(std::coroutine_handle<> awaiting) {
    task_ = &require_current_task("co_await on gather() or wait()");
    std::size_t done = 0;
    for (std::size_t i = 0; i < children_.size(); ++i) {
        FutureStateBase& child = *children_[i];
        if (child.done()) {
            ++done;
            if (first_failure_ < 0 && failed(child)) first_failure_ = static_cast<long>(i);
            continue;
        }
        ChildNode& node = nodes_[i];
        node.wait = this;
        node.on_done = &MultiWait::on_child_done;
        child.add_waiter(node);
    }
    remaining_ = children_.size() - done;
    if (satisfied(done)) {
        // Children already done are enough (a failure, say): resume without suspending.
        for (ChildNode& node : nodes_) FutureStateBase::remove_waiter(node);
        return false;
    }
    if (has_deadline_) {
        deadline = deadline_;
        task_->loop()->add_timer(*this);
    }
    static constexpr AwaitPoint point{&MultiWait::on_cancel, [](const void* self) noexcept {
        return AwaitTarget{AwaitKind::gather, self, -1};
    }};
    task_->suspend(awaiting, point, this);
    return true;
}

void MultiWait::wake() noexcept {
    if (woken_) return;
    woken_ = true;
    if (scheduled()) task_->loop()->remove_timer(*this);
    task_->wake();
}

void MultiWait::child_done(std::size_t index) noexcept {
    --remaining_;
    if (first_failure_ < 0 && failed(*children_[index])) first_failure_ = static_cast<long>(index);
    if (remaining_ == 0 || wake_when_ == WakeWhen::first_done ||
        (wake_when_ == WakeWhen::first_failure && first_failure_ >= 0)) {
        wake();
    }
}

void MultiWait::on_child_done(WaiterNode& node, FutureStateBase&) noexcept {
    auto& child = static_cast<ChildNode&>(node);
    MultiWait& wait = *child.wait;
    wait.child_done(static_cast<std::size_t>(&child - wait.nodes_.data()));
}

void MultiWait::on_deadline(TimerNode& node) noexcept {
    // Through the ready queue, like every expired timer (see TimerNode::act_soon).
    node.act_soon(*static_cast<MultiWait&>(node).task_->loop(), &MultiWait::on_due);
}

void MultiWait::on_due(TimerNode& node) noexcept { static_cast<MultiWait&>(node).wake(); }

bool MultiWait::on_cancel(void* self) noexcept {
    auto& wait = *static_cast<MultiWait*>(self);
    if (!wait.cancel_children_) {
        // wait(): the children keep running; only the waiting stops.
        wait.wake();
        return false;
    }
    // gather(): cancel the children; the gather ends when they report back.
    bool accepted = false;
    const std::string_view message = wait.task_->cancel_message();
    for (FutureStateBase* child : wait.children_) {
        if (child->done()) continue;
        try {
            accepted = child->cancel(message) || accepted;
        } catch (...) {
        }
    }
    if (accepted) wait.cancel_requested_ = true;
    return accepted;
}

void MultiWait::finish_gather(bool collect_errors) {
    retrieve_all_exceptions();
    check_cancelled();
    if (!collect_errors) {
        if (first_failure_ >= 0) {
            std::rethrow_exception(
                children_[static_cast<std::size_t>(first_failure_)]->take_exception());
        }
    } else if (cancel_requested_) {
        throw CancelledError("gather() was cancelled");
    }
}

void MultiWait::check_cancelled() {
    if (task_ != nullptr) task_->throw_if_cancel_pending();
}

}  // namespace asyncio::detail

namespace asyncio::detail {

CompletionQueue::CompletionQueue(std::vector<FutureStateBase*> children, bool has_deadline,
                                 TimePoint deadline_at)
    : children_(std::move(children)),
      nodes_(children_.size()),
      remaining_(children_.size()),
      loop_(&require_running_loop()) {
    fire = &CompletionQueue::on_deadline;
    for (std::size_t i = 0; i < children_.size(); ++i) {
        if (children_[i]->done()) {
            finished_.push_back(i);
            continue;
        }
        ChildNode& node = nodes_[i];
        node.queue = this;
        node.index = i;
        node.on_done = &CompletionQueue::on_child_done;
        children_[i]->add_waiter(node);
    }
    if (has_deadline && remaining_ > finished_.size()) {
        deadline = deadline_at;
        loop_->add_timer(*this);
    }
}

CompletionQueue::~CompletionQueue() {
    for (ChildNode& node : nodes_) FutureStateBase::remove_waiter(node);
    if (scheduled()) loop_->remove_timer(*this);
}

void CompletionQueue::suspend(std::coroutine_handle<> awaiting) {
    TaskPromiseBase& task = require_current_task("as_completed().next()");
    if (waiting_ != nullptr) throw RuntimeError("as_completed(): next() is already awaited");
    waiting_ = &task;
    static constexpr AwaitPoint point{&CompletionQueue::on_cancel, [](const void* self) noexcept {
        return AwaitTarget{AwaitKind::completion, self, -1};
    }};
    task.suspend(awaiting, point, this);
}

std::size_t CompletionQueue::take() {
    TaskPromiseBase* task = waiting_;
    waiting_ = nullptr;
    wake_pending_ = false;
    if (task != nullptr) task->throw_if_cancel_pending();
    if (remaining_ == 0) throw InvalidStateError("as_completed(): every task was already taken");
    if (finished_head_ < finished_.size()) {
        --remaining_;
        return finished_[finished_head_++];
    }
    if (timed_out_) throw TimeoutError("as_completed(): timed out");
    throw InvalidStateError("as_completed(): nothing finished");
}

void CompletionQueue::wake() noexcept {
    if (waiting_ == nullptr || wake_pending_) return;
    wake_pending_ = true;
    waiting_->wake();
}

void CompletionQueue::on_child_done(WaiterNode& node, FutureStateBase&) noexcept {
    auto& child = static_cast<ChildNode&>(node);
    CompletionQueue& queue = *child.queue;
    const bool was_empty = queue.finished_head_ == queue.finished_.size();
    try {
        queue.finished_.push_back(child.index);
    } catch (...) {
        return;  // out of memory: the child is never reported; the deadline still works
    }
    if (was_empty) queue.wake();
}

void CompletionQueue::on_deadline(TimerNode& node) noexcept {
    auto& queue = static_cast<CompletionQueue&>(node);
    queue.timed_out_ = true;
    queue.wake();
}

bool CompletionQueue::on_cancel(void* self) noexcept {
    static_cast<CompletionQueue*>(self)->wake();
    return false;
}

}  // namespace asyncio::detail
