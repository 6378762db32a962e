#include "asyncio/sync/barrier.hpp"

#include <stdexcept>

#include "asyncio/errors.hpp"
#include "sync/loop_binding.hpp"

namespace asyncio {

Barrier::Barrier(int parties)
    : arrived_(detail::AwaitKind::barrier, this),
      blocked_(detail::AwaitKind::barrier, this),
      parties_(parties) {
    if (parties < 1) throw std::invalid_argument("Barrier parties must be >= 1");
}

void Barrier::bind_loop(const char* operation) const {
    detail::bind_or_check_loop(loop_, loop_thread_, "Barrier", operation);
}

Task<int> Barrier::wait() {
    enter("Barrier.wait()");
    // Every wake-up of these queues is a wake_all on a state change, so a waiter cancelled
    // after it was woken holds nothing the others need: it just raises.
    while (state_ == State::draining || state_ == State::resetting) {
        detail::WaitQueue::Waiter waiter(blocked_);
        if (co_await waiter) waiter.throw_cancelled();
    }
    if (state_ == State::broken) throw BrokenBarrierError("Barrier aborted");

    const int index = count_++;
    try {
        if (index + 1 == parties_) {
            state_ = State::draining;
            arrived_.wake_all();
        } else {
            while (state_ == State::filling) {
                detail::WaitQueue::Waiter waiter(arrived_);
                if (co_await waiter) waiter.throw_cancelled();
            }
            if (state_ == State::broken || state_ == State::resetting) {
                throw BrokenBarrierError("Abort or reset of barrier");
            }
        }
    } catch (...) {
        // Python leaves the same way from its `finally`: a task cancelled while the barrier
        // fills just stops counting, the barrier stays usable.
        leave();
        throw;
    }
    leave();
    co_return index;
}

void Barrier::leave() noexcept {
    if (--count_ > 0) return;
    if (state_ == State::draining || state_ == State::resetting) state_ = State::filling;
    blocked_.wake_all();
}

void Barrier::abort() {
    enter("Barrier.abort()");
    state_ = State::broken;
    arrived_.wake_all();
    blocked_.wake_all();
}

void Barrier::reset() {
    enter("Barrier.reset()");
    if (count_ > 0) {
        // The waiters throw BrokenBarrierError; the last one out refills the barrier.
        state_ = State::resetting;
        arrived_.wake_all();
    } else {
        state_ = State::filling;
        blocked_.wake_all();
    }
}

}  // namespace asyncio
