#pragma once

// The one interface the event loop talks to for I/O. Operations are completion-style
// (start an accept, a recv, a send...; be told when it finished), which is how io_uring
// works natively and what a readiness backend like epoll can emulate by retrying the
// system call when the descriptor becomes ready. Tasks never see the backend: awaitables
// in src/loop/io_awaitable.hpp wrap IoOperation.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include <sys/socket.h>

#include "asyncio/clock.hpp"

namespace asyncio::detail {

enum class IoOpcode : std::uint8_t {
    poll_readable,  // completes with 0 when the descriptor is readable (or in error)
    poll_writable,  // completes with 0 when the descriptor is writable (or in error)
    read,           // read(2) into buffer/length
    write,          // write(2) from buffer/length
    recv,           // recv(2) with flags
    send,           // send(2) with flags | MSG_NOSIGNAL
    recvmsg,        // recvmsg(2) with message/flags
    sendmsg,        // sendmsg(2) with message/flags | MSG_NOSIGNAL
    accept,         // accept4(2) into address/address_length; result is the new descriptor
    connect,        // connect(2) to address/address_length; result 0
    // Regular files, which have no readiness: only backends whose supports_file_io() is
    // true take these (the others complete them with -EOPNOTSUPP).
    pread,   // pread(2) into buffer/length at offset
    pwrite,  // pwrite(2) from buffer/length at offset
    fsync,   // fsync(2); with flags == file_sync_data_only, fdatasync(2)
    openat,  // open(2) of the path in buffer with flags, mode in length; fd unused (-1);
             // result is the new descriptor
    close,   // close(2) of fd, after forget_fd(fd); EINTR counts as closed
};

/// IoOperation::flags of an fsync that only needs the data (fdatasync).
constexpr int file_sync_data_only = 1;

/// True for the opcodes of regular files (and of opening and closing them).
constexpr bool is_file_opcode(IoOpcode opcode) noexcept {
    return opcode == IoOpcode::pread || opcode == IoOpcode::pwrite || opcode == IoOpcode::fsync ||
           opcode == IoOpcode::openat || opcode == IoOpcode::close;
}

const char* to_string(IoOpcode opcode) noexcept;

/// One I/O request. The submitter owns it and keeps it (and its buffer) alive until
/// on_complete has been called.
struct IoOperation {
    IoOpcode opcode = IoOpcode::poll_readable;
    int fd = -1;
    int flags = 0;
    void* buffer = nullptr;
    std::size_t length = 0;
    msghdr* message = nullptr;
    sockaddr* address = nullptr;
    socklen_t address_length = 0;
    std::uint64_t offset = 0;  // pread/pwrite
    /// For recv (flags 0) and accept: the descriptor belongs to the loop alone (a stream
    /// transport's socket, a server's listener), so the backend may receive or accept ahead
    /// of the caller and keep what it got for the next operation (io_uring's multishot
    /// receive into provided buffers and multishot accept). Never set for descriptors a
    /// user may also read directly: what was taken ahead would be missing there.
    bool exclusive = false;
    /// Bytes transferred, the accepted descriptor, or 0; a negative errno on failure
    /// (-ECANCELED when cancelled).
    long result = 0;
    /// Called exactly once, on the loop thread, when the operation did not finish inside
    /// submit(). It may submit() new operations (a writer continuing with the rest of its
    /// buffer), but must not cancel() or forget_fd(): backends deliver completions while
    /// iterating their own queues.
    void (*on_complete)(IoOperation& self) noexcept = nullptr;

    // Backend bookkeeping.
    IoOperation* next_queued = nullptr;
    IoOperation* prev_queued = nullptr;
    bool in_flight = false;
    std::uint8_t backend_state = 0;
};

class Backend {
public:
    virtual ~Backend() = default;
    virtual const char* name() const noexcept = 0;

    /// Starts `op`. Returns true when it finished at once (op.result is set and
    /// on_complete is not called); otherwise on_complete comes later from poll() or cancel().
    virtual bool submit(IoOperation& op) = 0;

    /// Asks a started operation to stop. It still completes exactly once: with -ECANCELED
    /// (possibly inside this call), or with its real result if it had already finished.
    virtual void cancel(IoOperation& op) noexcept = 0;

    /// Cancels every operation on `fd` and drops the backend's registration of it. Call
    /// before close(fd): a closed descriptor's number can be reused at once.
    virtual void forget_fd(int fd) noexcept = 0;

    /// Waits up to `timeout` (negative: no limit, zero: don't block) for completions and
    /// delivers them. Returns how many it delivered.
    virtual std::size_t poll(Duration timeout) = 0;

    /// Makes a poll() in progress (or the next one) return. Thread- and
    /// async-signal-safe.
    virtual void wakeup() noexcept = 0;

    /// An eventfd that wakes the backend when 8 bytes (a uint64 of 1) are written to it:
    /// what signal handlers use, since they cannot call wakeup() through a pointer that
    /// might be going away.
    virtual int wakeup_fd() const noexcept = 0;

    /// Operations started and not completed yet.
    virtual std::size_t pending() const noexcept = 0;

    /// Whether the file opcodes (is_file_opcode) run without blocking the loop. When
    /// false, callers run those system calls on a thread instead.
    virtual bool supports_file_io() const noexcept = 0;

    /// Descriptors on which the backend now receives or accepts ahead (see
    /// IoOperation::exclusive); for tests and introspection.
    virtual std::size_t taking_ahead() const noexcept { return 0; }
};

/// epoll(7) with an eventfd for wake-ups.
std::unique_ptr<Backend> make_epoll_backend();

/// io_uring(7) through liburing. Throws std::system_error naming the step that failed
/// (io_uring_queue_init, a missing opcode...) when the kernel does not allow it.
std::unique_ptr<Backend> make_uring_backend();

/// Whether this build has the io_uring backend at all (ASYNCIO_WITH_URING).
bool uring_compiled_in() noexcept;

/// The backend for a new loop. `requested` is "epoll" or "io_uring" to force one, or empty:
/// then ASYNCIO_BACKEND decides, else io_uring where it works and epoll otherwise.
/// Throws: RuntimeError when the backend asked for is unknown or unavailable.
std::unique_ptr<Backend> make_backend(std::string_view requested = {}, bool debug = false);

}  // namespace asyncio::detail
