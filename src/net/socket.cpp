// Socket ownership and the low-level sock_* operations (Python's loop.sock_*), each one a
// completion-style backend operation, so they run unchanged on any backend.

#include "asyncio/net/socket.hpp"

#include <cerrno>
#include <stdexcept>

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include "asyncio/errors.hpp"
#include "asyncio/event_loop.hpp"
#include "loop/io_awaitable.hpp"
#include "net/accept.hpp"
#include "net/os_error.hpp"

namespace asyncio {

using detail::IoAwaitable;
using detail::throw_os_error;

Socket Socket::create(AddressFamily family, SocketType type, int protocol) {
    const int fd = ::socket(static_cast<int>(family),
                            static_cast<int>(type) | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol);
    if (fd < 0)
        throw_os_error(errno, "socket(family " + std::to_string(static_cast<int>(family)) + ")");
    return Socket(fd);
}

Socket Socket::adopt(int fd) {
    if (fd < 0)
        throw std::invalid_argument("Socket::adopt: negative descriptor " + std::to_string(fd));
    const int flags = ::fcntl(fd, F_GETFL);
    if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
        throw_os_error(errno, "Socket::adopt(" + std::to_string(fd) + ")");
    }
    return Socket(fd);
}

Socket& Socket::operator=(Socket&& other) noexcept {
    if (this != &other) {
        close();
        fd_ = other.release();
    }
    return *this;
}

int Socket::release() noexcept {
    const int fd = fd_;
    fd_ = -1;
    return fd;
}

void Socket::close() noexcept { detail::close_descriptor(release()); }

void Socket::bind(const SocketAddress& address) {
    if (::bind(fd_, address.native(), static_cast<socklen_t>(address.native_size())) != 0) {
        throw_os_error(errno, "bind to " + address.to_string());
    }
}

void Socket::listen(int backlog) {
    if (::listen(fd_, backlog) != 0) throw_os_error(errno, "listen");
}

void Socket::shutdown_write() {
    if (::shutdown(fd_, SHUT_WR) != 0) throw_os_error(errno, "shutdown(SHUT_WR)");
}

void Socket::set_option(int level, int name, int value) {
    if (::setsockopt(fd_, level, name, &value, sizeof value) != 0) {
        throw_os_error(errno, "setsockopt(level " + std::to_string(level) + ", option " +
                                  std::to_string(name) + ")");
    }
}

int Socket::get_option(int level, int name) const {
    int value = 0;
    socklen_t size = sizeof value;
    if (::getsockopt(fd_, level, name, &value, &size) != 0) {
        throw_os_error(errno, "getsockopt(level " + std::to_string(level) + ", option " +
                                  std::to_string(name) + ")");
    }
    return value;
}

void Socket::set_reuse_address(bool on) { set_option(SOL_SOCKET, SO_REUSEADDR, on ? 1 : 0); }
void Socket::set_reuse_port(bool on) { set_option(SOL_SOCKET, SO_REUSEPORT, on ? 1 : 0); }
void Socket::set_no_delay(bool on) { set_option(IPPROTO_TCP, TCP_NODELAY, on ? 1 : 0); }
void Socket::set_broadcast(bool on) { set_option(SOL_SOCKET, SO_BROADCAST, on ? 1 : 0); }

AddressFamily Socket::family() const {
    return static_cast<AddressFamily>(get_option(SOL_SOCKET, SO_DOMAIN));
}

SocketAddress Socket::local_address() const {
    SocketAddress address;
    socklen_t size = SocketAddress::capacity();
    if (::getsockname(fd_, address.native(), &size) != 0) throw_os_error(errno, "getsockname");
    address.set_native_size(size);
    return address;
}

SocketAddress Socket::peer_address() const {
    SocketAddress address;
    socklen_t size = SocketAddress::capacity();
    if (::getpeername(fd_, address.native(), &size) != 0) throw_os_error(errno, "getpeername");
    address.set_native_size(size);
    return address;
}

Task<> sock_connect(Socket& socket, SocketAddress address) {
    const long result = co_await IoAwaitable::connect(
        socket.fd(), address.native(), static_cast<socklen_t>(address.native_size()));
    if (result < 0) throw_os_error(static_cast<int>(-result), "connect to " + address.to_string());
}

namespace {

Task<AcceptedSocket> accept_connection(Socket& listener, bool exclusive) {
    SocketAddress peer;
    const auto capacity = static_cast<socklen_t>(SocketAddress::capacity());
    auto accept = exclusive ? IoAwaitable::accept_exclusive(listener.fd(), peer.native(), capacity)
                            : IoAwaitable::accept(listener.fd(), peer.native(), capacity);
    const long result = co_await accept;
    if (result < 0) throw_os_error(static_cast<int>(-result), "accept");
    peer.set_native_size(accept.address_length_result());
    co_return AcceptedSocket{Socket::adopt(static_cast<int>(result)), peer};
}

}  // namespace

Task<AcceptedSocket> sock_accept(Socket& listener) { return accept_connection(listener, false); }

Task<AcceptedSocket> detail::accept_on_owned_listener(Socket& listener) {
    return accept_connection(listener, true);
}

Task<std::size_t> sock_recv_into(Socket& socket, std::span<char> buffer) {
    const long result = co_await IoAwaitable::recv(socket.fd(), buffer.data(), buffer.size());
    if (result < 0) throw_os_error(static_cast<int>(-result), "recv");
    co_return static_cast<std::size_t>(result);
}

Task<std::string> sock_recv(Socket& socket, std::size_t max_bytes) {
    std::string data(max_bytes, '\0');
    const long result = co_await IoAwaitable::recv(socket.fd(), data.data(), data.size());
    if (result < 0) throw_os_error(static_cast<int>(-result), "recv");
    data.resize(static_cast<std::size_t>(result));
    co_return data;
}

Task<> sock_sendall(Socket& socket, std::string_view data) {
    while (!data.empty()) {
        const long result = co_await IoAwaitable::send(socket.fd(), data.data(), data.size());
        if (result < 0) throw_os_error(static_cast<int>(-result), "send");
        data.remove_prefix(static_cast<std::size_t>(result));
    }
}

// sendfile(2) on both backends, waiting for POLLOUT on EAGAIN. It is already zero-copy:
// the kernel moves page-cache references into the socket in one call (internally a splice
// through a per-task pipe). io_uring has no sendfile opcode; the alternative, two
// IORING_OP_SPLICE per chunk (file to a pipe of our own, pipe to socket), moves the same
// references with a pipe per transfer and two completions per chunk, and only pays off
// when the file is not in the page cache: there sendfile(2) reads from the disk inside
// the call, on the loop thread. Files served this way are usually cached.
Task<std::size_t> sock_sendfile(Socket& socket, int file_fd, std::uint64_t offset,
                                std::optional<std::size_t> count) {
    if (file_fd < 0) throw std::invalid_argument("sock_sendfile: invalid file descriptor");
    std::size_t sent = 0;
    auto position = static_cast<off_t>(offset);
    for (;;) {
        std::size_t chunk = std::size_t{1} << 30;
        if (count) {
            if (sent == *count) break;
            chunk = std::min(chunk, *count - sent);
        }
        const ssize_t result = ::sendfile(socket.fd(), file_fd, &position, chunk);
        if (result > 0) {
            sent += static_cast<std::size_t>(result);
            continue;
        }
        if (result == 0) break;  // end of file
        if (errno == EINTR) continue;
        if (errno != EAGAIN) throw_os_error(errno, "sendfile");
        const long ready = co_await IoAwaitable::writable(socket.fd());
        if (ready < 0) throw_os_error(static_cast<int>(-ready), "sendfile");
    }
    co_return sent;
}

}  // namespace asyncio

namespace asyncio {
namespace {

void require_running(const EventLoop& loop, const char* method) {
    if (detail::running_loop != &loop) {
        throw RuntimeError(std::string("EventLoop::") + method +
                           "(): this loop is not the one running in this thread");
    }
}

}  // namespace

Task<> EventLoop::sock_connect(Socket& socket, SocketAddress address) {
    require_running(*this, "sock_connect");
    return asyncio::sock_connect(socket, address);
}

Task<AcceptedSocket> EventLoop::sock_accept(Socket& listener) {
    require_running(*this, "sock_accept");
    return asyncio::sock_accept(listener);
}

Task<std::string> EventLoop::sock_recv(Socket& socket, std::size_t max_bytes) {
    require_running(*this, "sock_recv");
    return asyncio::sock_recv(socket, max_bytes);
}

Task<std::size_t> EventLoop::sock_recv_into(Socket& socket, std::span<char> buffer) {
    require_running(*this, "sock_recv_into");
    return asyncio::sock_recv_into(socket, buffer);
}

Task<> EventLoop::sock_sendall(Socket& socket, std::string_view data) {
    require_running(*this, "sock_sendall");
    return asyncio::sock_sendall(socket, data);
}

Task<std::size_t> EventLoop::sock_sendfile(Socket& socket, int file_fd, std::uint64_t offset,
                                           std::optional<std::size_t> count) {
    require_running(*this, "sock_sendfile");
    return asyncio::sock_sendfile(socket, file_fd, offset, count);
}

Task<std::vector<AddressInfo>> EventLoop::getaddrinfo(std::string host, std::string service,
                                                      AddressHints hints) {
    require_running(*this, "getaddrinfo");
    return asyncio::getaddrinfo(std::move(host), std::move(service), hints);
}

Task<NameInfo> EventLoop::getnameinfo(SocketAddress address, int flags) {
    require_running(*this, "getnameinfo");
    return asyncio::getnameinfo(address, flags);
}

}  // namespace asyncio
