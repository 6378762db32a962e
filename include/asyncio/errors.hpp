#pragma once

#include <exception>
#include <stdexcept>
#include <string>
#include <vector>

namespace asyncio {

/// Common base of every exception asyncio-cpp throws.
///
/// Like Python's exception tree, cancellation is kept apart from ordinary errors:
/// `CancelledError` and `KeyboardInterrupt` derive from `BaseException` only, so a
/// `catch (const std::exception&)` in user code does not swallow a cancellation
/// (Python: `except Exception` does not catch `CancelledError`). Every other error
/// derives from both `BaseException` and `std::runtime_error` through `Error`.
class BaseException {
public:
    virtual ~BaseException() = default;
    /// Human-readable description of what happened.
    virtual const char* what() const noexcept = 0;
};

/// Thrown at a task's await point when the task is cancelled.
///
/// Differs from Python only in type: it is not a `std::exception`, on purpose (see BaseException).
class CancelledError : public BaseException {
public:
    explicit CancelledError(std::string message = "") : message_(std::move(message)) {}
    /// The message given to `cancel(msg)`, or "" when none was given.
    const std::string& message() const noexcept { return message_; }
    const char* what() const noexcept override {
        return message_.empty() ? "task was cancelled" : message_.c_str();
    }

private:
    std::string message_;
};

/// Thrown by `run()` when SIGINT (Ctrl-C) interrupted the main task, like Python's
/// KeyboardInterrupt escaping `asyncio.run()`.
class KeyboardInterrupt : public BaseException {
public:
    const char* what() const noexcept override { return "interrupted by SIGINT"; }
};

/// Base of asyncio-cpp's ordinary errors; catchable as `std::exception` too.
class Error : public std::runtime_error, public BaseException {
public:
    using std::runtime_error::runtime_error;
    const char* what() const noexcept override { return std::runtime_error::what(); }
};

/// A deadline passed: `wait_for`, `timeout()` and `timeout_at()` throw it.
class TimeoutError : public Error {
public:
    using Error::Error;
};

/// An operation is not allowed in the object's current state, e.g. `result()` of an
/// unfinished task or `set_result()` on a finished future.
class InvalidStateError : public Error {
public:
    using Error::Error;
};

/// Misuse of the runtime itself: `run()` inside a running loop, a loop method called from
/// the wrong thread in debug mode, a closed loop. Python raises RuntimeError for these.
class RuntimeError : public Error {
public:
    using Error::Error;
};

/// A Barrier was aborted or reset while tasks waited at it (Python's BrokenBarrierError).
class BrokenBarrierError : public Error {
public:
    using Error::Error;
};

/// get_nowait() on an empty queue.
class QueueEmpty : public Error {
public:
    using Error::Error;
};

/// put_nowait() on a full queue.
class QueueFull : public Error {
public:
    using Error::Error;
};

/// The queue was shut down (Python 3.13 Queue.shutdown()): put() fails at once; get()
/// fails once the queue is empty, or at once after shutdown(immediate=true).
class QueueShutDown : public Error {
public:
    using Error::Error;
};

/// Several errors at once, as thrown by `TaskGroup`: one entry per failed child (and the
/// body's own error, if any), in the order they happened.
class ExceptionGroup : public Error {
public:
    ExceptionGroup(std::string message, std::vector<std::exception_ptr> exceptions);

    /// Every error of the group, each rethrowable with `std::rethrow_exception`.
    const std::vector<std::exception_ptr>& exceptions() const noexcept { return exceptions_; }
    std::size_t size() const noexcept { return exceptions_.size(); }

    /// Number of errors of type E (or derived from it) in the group.
    template <class E>
    std::size_t count() const;

private:
    std::vector<std::exception_ptr> exceptions_;
};

/// True when `error` holds an exception of type E or derived from it (false for null).
template <class E>
bool exception_is(const std::exception_ptr& error) {
    if (!error) return false;
    try {
        std::rethrow_exception(error);
    } catch (const E&) {
        return true;
    } catch (...) {
        return false;
    }
}

/// Best-effort description of any exception: `what()` of std::exception or
/// BaseException, else "unknown exception".
std::string describe(const std::exception_ptr& error);

template <class E>
std::size_t ExceptionGroup::count() const {
    std::size_t n = 0;
    for (const auto& error : exceptions_) n += exception_is<E>(error) ? 1 : 0;
    return n;
}

}  // namespace asyncio
