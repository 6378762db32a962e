#include "asyncio/sync/condition.hpp"

#include <cstdint>
#include <exception>

#include "asyncio/errors.hpp"
#include "sync/loop_binding.hpp"

namespace asyncio {

void Condition::bind_loop(const char* operation) const {
    detail::bind_or_check_loop(loop_, loop_thread_, "Condition", operation);
}

Task<> Condition::wait() {
    enter("Condition.wait()");
    if (!lock_->locked()) throw RuntimeError("Condition.wait(): cannot wait on un-acquired lock");
    // The caller's LockGuard must own the lock again when wait() returns: the lock comes
    // back under the caller's acquisition number.
    const std::uint64_t acquisition = lock_->acquisition_;
    lock_->release();

    std::exception_ptr error;
    bool notified = false;
    {
        detail::WaitQueue::Waiter waiter(waiters_);
        try {
            // Notified, then cancelled before resuming: raise (below, with the lock held),
            // as Python's `await fut` does.
            if (co_await waiter) waiter.throw_cancelled();
        } catch (...) {
            error = std::current_exception();
        }
        notified = waiter.woken();
    }

    // Python: "Must re-acquire lock even if wait is cancelled". A cancellation while
    // re-acquiring is kept (the latest one wins) and re-acquiring starts over.
    for (;;) {
        try {
            LockGuard guard = co_await lock_->acquire();
            guard.dismiss();
            lock_->acquisition_ = acquisition;
            break;
        } catch (const CancelledError&) {
            error = std::current_exception();
        }
    }

    if (error) {
        // This waiter used up a notification it will not act on: give it to another one
        // (gh-112202), now that the lock is held as notify() requires.
        if (notified) wake(1);
        std::rethrow_exception(error);
    }
}

void Condition::notify(std::size_t n) {
    enter("Condition.notify()");
    if (!lock_->locked()) {
        throw RuntimeError("Condition.notify(): cannot notify on un-acquired lock");
    }
    wake(n);
}

void Condition::notify_all() {
    enter("Condition.notify_all()");
    if (!lock_->locked()) {
        throw RuntimeError("Condition.notify_all(): cannot notify on un-acquired lock");
    }
    waiters_.wake_all();
}

void Condition::wake(std::size_t n) noexcept {
    for (std::size_t woken = 0; woken < n; ++woken) {
        if (!waiters_.wake_one()) break;
    }
}

}  // namespace asyncio
