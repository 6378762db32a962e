#include "asyncio/detail/wait_queue.hpp"

namespace asyncio::detail {

WaitQueue::~WaitQueue() {
    // Waiters hold no reference to the queue: a primitive destroyed while tasks wait on it
    // leaves them parked forever, so detach them (their frames unlink nothing later).
    while (head_ != nullptr) remove(*head_);
}

void WaitQueue::push(Waiter& waiter) noexcept {
    waiter.prev_ = tail_;
    waiter.next_ = nullptr;
    (tail_ != nullptr ? tail_->next_ : head_) = &waiter;
    tail_ = &waiter;
    waiter.queued_ = true;
    ++size_;
}

void WaitQueue::remove(Waiter& waiter) noexcept {
    if (!waiter.queued_) return;
    (waiter.prev_ != nullptr ? waiter.prev_->next_ : head_) = waiter.next_;
    (waiter.next_ != nullptr ? waiter.next_->prev_ : tail_) = waiter.prev_;
    waiter.prev_ = waiter.next_ = nullptr;
    waiter.queued_ = false;
    --size_;
}

bool WaitQueue::wake_one() noexcept {
    Waiter* waiter = head_;
    if (waiter == nullptr) return false;
    remove(*waiter);
    waiter->woken_ = true;
    waiter->task_->wake();
    return true;
}

std::size_t WaitQueue::wake_all() noexcept {
    std::size_t woken = 0;
    while (wake_one()) ++woken;
    return woken;
}

WaitQueue::Waiter::~Waiter() {
    if (queued_) queue_->remove(*this);
}

void WaitQueue::Waiter::await_suspend(std::coroutine_handle<> awaiting) {
    TaskPromiseBase& task = require_current_task("waiting on a synchronization primitive");
    task_ = &task;
    queue_->push(*this);
    static constexpr AwaitPoint point{&Waiter::on_cancel, [](const void* self) noexcept {
        const WaitQueue& queue = *static_cast<const Waiter*>(self)->queue_;
        return AwaitTarget{queue.kind_, queue.owner_, -1};
    }};
    task.suspend(awaiting, point, this);
}

bool WaitQueue::Waiter::on_cancel(void* self) noexcept {
    auto& waiter = *static_cast<Waiter*>(self);
    if (waiter.woken_) return false;  // too late to withdraw: await_resume reports it
    waiter.queue_->remove(waiter);
    waiter.cancelled_ = true;
    waiter.task_->wake();
    return true;
}

bool WaitQueue::Waiter::await_resume() {
    if (cancelled_) task_->throw_cancelled();
    return woken_ && task_->cancel_pending();
}

void WaitQueue::Waiter::throw_cancelled() { task_->throw_cancelled(); }

}  // namespace asyncio::detail
