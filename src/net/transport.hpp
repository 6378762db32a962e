#pragma once

// What a stream reads from and writes to. FdTransport is a socket or a pipe; the TLS
// transport layers on top of one. StreamReader/StreamWriter only see this interface, so
// start_tls() can swap the transport under an open stream.
//
// Reading is pulled: a read asks the descriptor for bytes only when the reader's buffer
// cannot answer, so nothing is buffered that nobody asked for (Python's streams push data
// into the reader and pause the transport past 2 x limit instead). Writing is pushed: write()
// queues and starts sending at once, flow control happens in drain().

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "asyncio/net/socket_address.hpp"
#include "asyncio/net/stream.hpp"
#include "asyncio/task.hpp"

namespace asyncio::detail {

class StreamTransport {
public:
    virtual ~StreamTransport() = default;

    /// Reads up to `length` bytes into `buffer`; 0 at the end of the stream (also once the
    /// transport is closed). Throws: ConnectionResetError and other typed errors.
    virtual Task<std::size_t> read_some(char* buffer, std::size_t length) = 0;

    /// Queues `data`; sending starts at once. Throws: the connection's error once it
    /// failed, InvalidStateError after close() or write_eof().
    virtual void write(std::string_view data) = 0;
    /// Bytes queued and not yet accepted by the kernel.
    virtual std::size_t write_buffer_size() const noexcept = 0;
    /// Waits while more than the low-water mark is queued once the high-water mark was
    /// passed. Throws: the connection's error.
    virtual Task<> drain() = 0;
    virtual void set_write_buffer_limits(std::size_t high, std::size_t low) = 0;

    virtual bool can_write_eof() const noexcept = 0;
    /// Sends EOF once the queued bytes are out. Throws: InvalidStateError after close().
    virtual void write_eof() = 0;

    /// Closes once the queued bytes are sent. Idempotent.
    virtual void close() noexcept = 0;
    /// Closes now and drops queued bytes.
    virtual void abort() noexcept = 0;
    virtual bool is_closing() const noexcept = 0;
    /// Returns once the descriptor is closed. Throws: the error that ended the flush, if any.
    virtual Task<> wait_closed() = 0;

    virtual std::optional<SocketAddress> peername() const { return std::nullopt; }
    virtual std::optional<SocketAddress> sockname() const { return std::nullopt; }
    virtual int fd() const noexcept = 0;
    virtual std::optional<TlsInfo> tls_info() const { return std::nullopt; }
};

/// A transport over a socket (`is_socket`: recv/send with MSG_NOSIGNAL) or a pipe
/// (read/write). Takes ownership of `fd`.
std::shared_ptr<StreamTransport> make_fd_transport(int fd, bool is_socket);

/// Python's default high-water mark of a transport's write buffer; the low one is a quarter.
inline constexpr std::size_t default_write_high_water = 64 * 1024;

}  // namespace asyncio::detail
