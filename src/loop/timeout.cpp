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
    if (scheduled()) task_->loop()->remove_timer(*this);
}

void Timeout::reschedule(std::optional<TimePoint> when) {
    if (state_ != State::entered) {
        throw RuntimeError(std::string("Cannot change the deadline of a timeout that has ") +
                           (state_ == State::exited ? "ended" : "already expired"));
    }
    when_ = when;
    if (scheduled()) task_->loop()->remove_timer(*this);
    if (when) {
        deadline = *when;
        task_->loop()->add_timer(*this);  // a past deadline fires in the next iteration
    }
}

void Timeout::on_deadline(detail::TimerNode& node) noexcept {
    auto& scope = static_cast<Timeout&>(node);
    scope.state_ = State::expiring;
    try {
        scope.task_->cancel("");
    } catch (...) {
    }
}

bool Timeout::exit(bool leaving_with_cancel) noexcept {
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
