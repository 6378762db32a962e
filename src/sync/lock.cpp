#include "asyncio/sync/lock.hpp"

#include <utility>

#include "asyncio/errors.hpp"
#include "sync/loop_binding.hpp"

namespace asyncio {

// ---- Lock ----

void Lock::bind_loop(const char* operation) const {
    detail::bind_or_check_loop(loop_, loop_thread_, "Lock", operation);
}

void Lock::release() {
    enter("Lock.release()");
    if (!locked_) throw RuntimeError("Lock.release(): the lock is not acquired");
    unlock();
}

void Lock::unlock() noexcept {
    // Hand-off, not unlock-and-wake: the woken waiter already owns the lock, so nobody can
    // take it before that waiter resumes (no barging), and if it is cancelled first,
    // LockAcquire::await_resume passes the lock on.
    if (waiters_.wake_one()) {
        acquisition_ = ++acquisitions_;
    } else {
        locked_ = false;
    }
}

// ---- LockGuard ----

LockGuard::LockGuard(LockGuard&& other) noexcept
    : lock_(std::exchange(other.lock_, nullptr)), acquisition_(other.acquisition_) {}

LockGuard& LockGuard::operator=(LockGuard&& other) noexcept {
    if (this != &other) {
        if (owns_lock()) lock_->unlock();
        lock_ = std::exchange(other.lock_, nullptr);
        acquisition_ = other.acquisition_;
    }
    return *this;
}

LockGuard::~LockGuard() {
    // No thread check here: a destructor must not throw.
    if (owns_lock()) lock_->unlock();
}

void LockGuard::release() {
    if (lock_ != nullptr) lock_->enter("LockGuard.release()");
    if (!owns_lock()) {
        throw RuntimeError("LockGuard.release(): the guard does not own the lock");
    }
    std::exchange(lock_, nullptr)->unlock();
}

// ---- acquire() ----

namespace detail {

LockGuard LockAcquire::await_resume() {
    // A woken waiter owns the lock already. If it was cancelled before it could resume,
    // it must not keep the lock, nor drop it: the next waiter gets it (bpo-27585).
    if (waited_ && waiter_.await_resume()) {
        lock_->unlock();
        waiter_.throw_cancelled();
    }
    return LockGuard(*lock_, lock_->acquisition_);
}

}  // namespace detail

}  // namespace asyncio
