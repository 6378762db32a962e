#include "asyncio/sync/semaphore.hpp"

#include <stdexcept>
#include <utility>

#include "asyncio/errors.hpp"
#include "sync/loop_binding.hpp"

namespace asyncio {

// ---- Semaphore ----

Semaphore::Semaphore(std::ptrdiff_t value) : Semaphore(value, -1) {}

Semaphore::Semaphore(std::ptrdiff_t value, std::ptrdiff_t bound)
    : waiters_(detail::AwaitKind::semaphore, this), value_(value), bound_(bound) {
    if (value < 0) throw std::invalid_argument("Semaphore initial value must be >= 0");
}

BoundedSemaphore::BoundedSemaphore(std::ptrdiff_t value) : Semaphore(value, value) {}

void Semaphore::bind_loop(const char* operation) const {
    detail::bind_or_check_loop(loop_, loop_thread_, bound_ < 0 ? "Semaphore" : "BoundedSemaphore",
                               operation);
}

void Semaphore::release() {
    enter(bound_ < 0 ? "Semaphore.release()" : "BoundedSemaphore.release()");
    // value_ counts free permits only; permits handed to woken waiters are held, so this
    // is exactly "no permit is held" (Python: _value >= _bound_value).
    if (bound_ >= 0 && value_ >= bound_) {
        throw InvalidStateError("BoundedSemaphore released too many times");
    }
    give_back();
}

void Semaphore::give_back() noexcept {
    ++value_;
    // Python 3.12's _wake_up_next also takes the permit for the waiter as it wakes it.
    while (value_ > 0 && !waiters_.empty()) {
        --value_;
        waiters_.wake_one();
    }
}

// ---- SemaphoreGuard ----

SemaphoreGuard::SemaphoreGuard(SemaphoreGuard&& other) noexcept
    : semaphore_(std::exchange(other.semaphore_, nullptr)) {}

SemaphoreGuard& SemaphoreGuard::operator=(SemaphoreGuard&& other) noexcept {
    if (this != &other) {
        SemaphoreGuard old(std::move(*this));
        semaphore_ = std::exchange(other.semaphore_, nullptr);
    }
    return *this;
}

SemaphoreGuard::~SemaphoreGuard() {
    if (semaphore_ == nullptr) return;
    // No thread check and no throw here. A full BoundedSemaphore means the permit was also
    // released by hand: releasing it twice would corrupt the count, so skip it.
    if (semaphore_->bound_ >= 0 && semaphore_->value_ >= semaphore_->bound_) return;
    semaphore_->give_back();
}

void SemaphoreGuard::release() {
    if (semaphore_ == nullptr) {
        throw RuntimeError("SemaphoreGuard.release(): the guard holds no permit");
    }
    semaphore_->release();
    semaphore_ = nullptr;
}

// ---- acquire() ----

namespace detail {

SemaphoreGuard SemaphoreAcquire::await_resume() {
    // A woken waiter was given a permit. Cancelled before it could resume, it passes the
    // permit on (gh-90155), where Python 3.12 undoes its bookkeeping (_value += 1) and
    // wakes the next waiter.
    if (waited_ && waiter_.await_resume()) {
        semaphore_->give_back();
        waiter_.throw_cancelled();
    }
    return SemaphoreGuard(*semaphore_);
}

}  // namespace detail

}  // namespace asyncio
