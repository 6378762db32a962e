#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "asyncio/net/dns.hpp"
#include "asyncio/net/socket_address.hpp"
#include "asyncio/task.hpp"

namespace asyncio {

/// An owned, non-blocking, close-on-exec socket descriptor: what the low-level `sock_*`
/// functions take (Python passes its `socket.socket` objects to `loop.sock_*`).
///
/// Closing (explicitly or by the destructor) first tells the running loop's backend to drop
/// the descriptor, so that a new socket reusing the number never sees an old completion.
class Socket {
public:
    Socket() noexcept = default;
    /// Creates a socket. Throws: OSError (EMFILE, EAFNOSUPPORT...) naming the family.
    static Socket create(AddressFamily family, SocketType type, int protocol = 0);
    /// Takes ownership of `fd` and makes it non-blocking.
    /// Throws: std::invalid_argument for a negative descriptor; OSError when fcntl fails.
    static Socket adopt(int fd);

    Socket(Socket&& other) noexcept : fd_(other.release()) {}
    Socket& operator=(Socket&& other) noexcept;
    Socket(const Socket&) = delete;
    Socket& operator=(const Socket&) = delete;
    ~Socket() { close(); }

    int fd() const noexcept { return fd_; }
    bool is_open() const noexcept { return fd_ >= 0; }
    explicit operator bool() const noexcept { return is_open(); }
    /// Gives the descriptor up without closing it.
    int release() noexcept;
    /// Closes the socket (idempotent). Operations still pending on it end in the tasks that
    /// await them with OSError (ECANCELED).
    void close() noexcept;

    /// Throws: AddressInUseError or OSError, naming the address.
    void bind(const SocketAddress& address);
    /// Throws: OSError.
    void listen(int backlog = 100);
    /// Half-closes: the peer reads EOF; reading stays possible.
    void shutdown_write();

    /// setsockopt(2) with an int value. Throws: OSError naming the option numbers.
    void set_option(int level, int name, int value);
    int get_option(int level, int name) const;
    void set_reuse_address(bool on);
    void set_reuse_port(bool on);
    void set_no_delay(bool on);
    void set_broadcast(bool on);

    AddressFamily family() const;
    /// getsockname(2). Throws: OSError.
    SocketAddress local_address() const;
    /// getpeername(2). Throws: OSError (ENOTCONN when not connected).
    SocketAddress peer_address() const;

private:
    explicit Socket(int fd) noexcept : fd_(fd) {}
    int fd_ = -1;
};

/// A connection taken by `sock_accept`.
struct AcceptedSocket {
    Socket socket;
    SocketAddress peer;
};

/// Connects `socket` to `address` (Python's `loop.sock_connect`).
/// Cancellation: the connection attempt is abandoned; close the socket afterwards.
/// Throws: ConnectionRefusedError, ConnectionTimeoutError, ... naming the address.
Task<> sock_connect(Socket& socket, SocketAddress address);

/// Waits for and accepts one connection on a listening socket.
/// Throws: OSError (EMFILE when out of descriptors: the listener stays usable).
Task<AcceptedSocket> sock_accept(Socket& listener);

/// Receives up to `max_bytes`; an empty string means the peer closed its side.
/// Throws: ConnectionResetError and other OSErrors.
Task<std::string> sock_recv(Socket& socket, std::size_t max_bytes);

/// Receives into `buffer`; returns the byte count, 0 at end of stream.
Task<std::size_t> sock_recv_into(Socket& socket, std::span<char> buffer);

/// Sends all of `data`, waiting for buffer space as needed.
/// Cancellation: part of the data may have been sent; the socket is then unusable for a
/// message-framed protocol (as in Python).
/// Throws: BrokenPipeError, ConnectionResetError...
Task<> sock_sendall(Socket& socket, std::string_view data);

/// Sends `count` bytes (to end of file when empty) of the open file `file_fd` from `offset`
/// with sendfile(2): the data never enters user space. Returns the bytes sent, fewer than
/// asked only when the file ended.
/// Throws: OSError, BrokenPipeError...
Task<std::size_t> sock_sendfile(Socket& socket, int file_fd, std::uint64_t offset = 0,
                                std::optional<std::size_t> count = std::nullopt);

}  // namespace asyncio
