#pragma once

#include <cstddef>
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

/// An operating-system call failed (Python's OSError). `code()` is the errno value;
/// the message says what was attempted and on which address or file, then strerror.
class OSError : public Error {
public:
    OSError(int code, const std::string& message) : Error(message), code_(code) {}
    /// The errno value (ECONNREFUSED, EPIPE, ...), or 0 when there is none.
    int code() const noexcept { return code_; }

private:
    int code_;
};

/// Base of the errors that end a connection (Python's ConnectionError).
class ConnectionError : public OSError {
public:
    using OSError::OSError;
};

/// The peer refused the connection (ECONNREFUSED): nothing listens on that port.
class ConnectionRefusedError : public ConnectionError {
public:
    using ConnectionError::ConnectionError;
};

/// The peer reset the connection (ECONNRESET), or it was lost before all was read.
class ConnectionResetError : public ConnectionError {
public:
    using ConnectionError::ConnectionError;
};

/// The connection was aborted on this side (ECONNABORTED).
class ConnectionAbortedError : public ConnectionError {
public:
    using ConnectionError::ConnectionError;
};

/// The kernel gave up on the peer (ETIMEDOUT: no answer to the connection request or to
/// retransmissions). Python raises its TimeoutError, which is an OSError there; here
/// `asyncio::TimeoutError` stays the error of deadlines set with timeout() and wait_for().
class ConnectionTimeoutError : public ConnectionError {
public:
    using ConnectionError::ConnectionError;
};

/// Writing to a connection the peer has closed (EPIPE, ESHUTDOWN).
class BrokenPipeError : public ConnectionError {
public:
    using ConnectionError::ConnectionError;
};

/// bind() found the address taken (EADDRINUSE). Python raises a plain OSError with that errno.
class AddressInUseError : public OSError {
public:
    using OSError::OSError;
};

/// A file or directory does not exist (ENOENT, Python's FileNotFoundError): for example
/// the program given to create_subprocess_exec, or its working directory.
class FileNotFoundError : public OSError {
public:
    using OSError::OSError;
};

/// The file or directory to be created exists already (EEXIST, Python's FileExistsError):
/// for example open_file(path, "x").
class FileExistsError : public OSError {
public:
    using OSError::OSError;
};

/// The operation is not permitted (EACCES, EPERM; Python's PermissionError): for example a
/// program file without execute permission.
class PermissionError : public OSError {
public:
    using OSError::OSError;
};

/// Name resolution failed (Python's socket.gaierror): unknown host, no address of the
/// wanted family, or the resolver could not be reached. `code()` is the resolver's status.
class DnsError : public OSError {
public:
    using OSError::OSError;
};

/// The stream ended before `readexactly(n)` or `readuntil(separator)` was satisfied.
///
/// `partial()` holds the bytes that were read (they are consumed); `expected()` the number
/// that was asked for, or 0 for readuntil (Python: None).
class IncompleteReadError : public Error {
public:
    IncompleteReadError(std::string partial, std::size_t expected);
    const std::string& partial() const noexcept { return partial_; }
    std::size_t expected() const noexcept { return expected_; }

private:
    std::string partial_;
    std::size_t expected_;
};

/// `readuntil()`/`readline()` found no separator within the reader's limit. `consumed()`
/// is how many bytes must be read to get past the data examined (Python's LimitOverrunError).
class LimitOverrunError : public Error {
public:
    LimitOverrunError(const std::string& message, std::size_t consumed)
        : Error(message), consumed_(consumed) {}
    std::size_t consumed() const noexcept { return consumed_; }

private:
    std::size_t consumed_;
};

/// A TLS failure: handshake, protocol, or a connection closed without close_notify.
/// The message carries OpenSSL's reason. `code()` is OpenSSL's SSL_get_error() value.
class SSLError : public OSError {
public:
    using OSError::OSError;
};

/// The peer's certificate was not accepted: untrusted CA, expired, wrong host name...
/// `code()` is OpenSSL's X509 verification result; the message its reason.
class SSLCertVerificationError : public SSLError {
public:
    using SSLError::SSLError;
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
