// timeout() scopes, following CPython 3.12's asyncio.Timeout: entering records how many
// cancellations the task already has pending; the deadline cancels the task; leaving
// uncancels once and converts the CancelledError into TimeoutError only when no other
// cancellation is left (so an outer cancel() or an enclosing scope still wins).

#include "asyncio/timeout.hpp"

namespace asyncio {

Timeout::Timeout(std::optional<TimePoint> when)
    : task_(&detail::require_current_task("timeout()")),
      cancelling_at_entry_(task_->cancelling()),
      cancel_pending_at_entry_(task_->cancel_pending()) {
    fire = &Timeout::on_deadline;
    reschedule(when);
}

Timeout::~Timeout() {
    if (state_ != State::exited && state_ != State::expired) exit(false);
    drop_pending_expiry();
    if (scheduled()) task_->loop()->remove_timer(*this);
}

void Timeout::reschedule(std::optional<TimePoint> when) {
    if (state_ != State::entered) {
        throw RuntimeError(std::string("Cannot change the deadline of a timeout that has ") +
                           (state_ == State::exited ? "ended" : "already expired"));
    }
    when_ = when;
    drop_pending_expiry();
    if (scheduled()) task_->loop()->remove_timer(*this);
    if (when) {
        deadline = *when;
        task_->loop()->add_timer(*this);  // a past deadline fires in the next iteration
    }
}

void Timeout::on_deadline(detail::TimerNode& node) noexcept {
    // As CPython's _on_timeout handle, the expiry runs in the ready batch, so that other
    // callbacks due at the same time (an outer cancel(), say) keep their order with it.
    auto& scope = static_cast<Timeout&>(node);
    try {
        auto* expiry = new detail::CallbackImpl([&scope] { scope.expire(); });
        expiry->add_ref();  // one for the queue, one for the scope
        scope.pending_expiry_ = expiry;
        scope.task_->loop()->schedule(*expiry);
    } catch (...) {
        scope.expire();  // out of memory: expire at once rather than never
    }
}

void Timeout::drop_pending_expiry() noexcept {
    if (pending_expiry_ == nullptr) return;
    pending_expiry_->mark_cancelled();  // the scope ends before its expiry ran
    pending_expiry_->release();
    pending_expiry_ = nullptr;
}

void Timeout::expire() noexcept {
    drop_pending_expiry();
    state_ = State::expiring;
    try {
        task_->cancel("");
    } catch (...) {
    }
}

bool Timeout::exit(bool leaving_with_cancel) noexcept {
    drop_pending_expiry();
    if (scheduled()) task_->loop()->remove_timer(*this);
    if (state_ == State::expiring) {
        state_ = State::expired;
        // A cancellation pending when the scope was entered is delivered inside it and
        // must win over the deadline (CPython gh-134471 gets this wrong for timeout(0)).
        return task_->uncancel() <= cancelling_at_entry_ && leaving_with_cancel &&
               !cancel_pending_at_entry_;
    }
    if (state_ == State::entered) state_ = State::exited;
    return false;
}

}  // namespace asyncio
