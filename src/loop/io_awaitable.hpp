#pragma once

// Awaitables over the backend's completion-style operations, for the library's own I/O
// code (streams, sockets, subprocess pipes). Each one is an IoOperation living in the
// awaiting coroutine's frame: no allocation per operation.

#include <cerrno>
#include <coroutine>
#include <cstddef>
#include <cstdint>

#include "asyncio/detail/task_promise.hpp"
#include "backend/backend.hpp"

namespace asyncio::detail {

class IoAwaitable : private IoOperation {
public:
    IoAwaitable(const IoAwaitable&) = delete;
    IoAwaitable& operator=(const IoAwaitable&) = delete;
    ~IoAwaitable();

    bool await_ready() const noexcept { return false; }
    bool await_suspend(std::coroutine_handle<> awaiting);
    /// The operation's result: bytes, a descriptor, or a negative errno. Throws
    /// CancelledError when the task was cancelled and the operation did not complete.
    long await_resume();

    static IoAwaitable read(int fd, void* buffer, std::size_t length);
    static IoAwaitable write(int fd, const void* buffer, std::size_t length);
    static IoAwaitable recv(int fd, void* buffer, std::size_t length, int flags = 0);
    /// A recv on a socket that only the loop reads (see IoOperation::exclusive).
    static IoAwaitable recv_exclusive(int fd, void* buffer, std::size_t length);
    static IoAwaitable send(int fd, const void* buffer, std::size_t length, int flags = 0);
    static IoAwaitable accept(int fd, sockaddr* address = nullptr, socklen_t length = 0);
    /// An accept on a listener that only the loop accepts from (see IoOperation::exclusive).
    static IoAwaitable accept_exclusive(int fd, sockaddr* address, socklen_t length);
    static IoAwaitable connect(int fd, const sockaddr* address, socklen_t length);
    static IoAwaitable recvmsg(int fd, msghdr* message, int flags = 0);
    static IoAwaitable sendmsg(int fd, const msghdr* message, int flags = 0);
    /// pread, pwrite or fsync (IoOpcode::pread...) of a regular file, for backends whose
    /// supports_file_io() is true.
    static IoAwaitable file(IoOpcode opcode, int fd, void* buffer, std::size_t length,
                            std::uint64_t offset, int flags);
    static IoAwaitable readable(int fd);
    static IoAwaitable writable(int fd);

    /// After an accept: the size of the peer address the kernel wrote.
    socklen_t address_length_result() const noexcept { return address_length; }

private:
    IoAwaitable(IoOpcode opcode, int fd, void* buffer = nullptr, std::size_t length = 0,
                int flags = 0, sockaddr* address = nullptr, socklen_t address_length = 0,
                msghdr* message = nullptr, std::uint64_t offset = 0,
                bool exclusive = false) noexcept;
    static void on_done(IoOperation& op) noexcept;
    static bool on_cancel(void* self) noexcept;

    TaskPromiseBase* task_ = nullptr;
    Backend* backend_ = nullptr;
    bool cancel_requested_ = false;
};

/// The running loop's backend.
Backend& running_backend();

}  // namespace asyncio::detail
