// UDP endpoints: recvmsg/sendmsg backend operations carrying the peer address, so they
// run unchanged on any backend.

#include "asyncio/net/udp.hpp"

#include <stdexcept>

#include <netdb.h>
#include <sys/socket.h>

#include "asyncio/errors.hpp"
#include "asyncio/net/dns.hpp"
#include "loop/io_awaitable.hpp"
#include "net/os_error.hpp"

namespace asyncio {
namespace {

Task<SocketAddress> resolve_datagram(const HostPort& where, AddressFamily family, bool passive) {
    try {
        co_return SocketAddress::parse(where.host, where.port);
    } catch (const std::invalid_argument&) {
        // a name: resolve it below
    }
    AddressHints hints;
    hints.family = family;
    hints.type = SocketType::datagram;
    hints.flags = passive ? AI_PASSIVE : 0;
    auto infos = co_await getaddrinfo(where.host, std::to_string(where.port), hints);
    if (infos.empty())
        throw DnsError(EAI_NONAME, "getaddrinfo('" + where.host + "') returned no address");
    co_return infos.front().address;
}

}  // namespace

Task<Datagram> DatagramEndpoint::recvfrom(std::size_t max_size) {
    Datagram datagram;
    datagram.data.resize(max_size);
    iovec vector{datagram.data.data(), datagram.data.size()};
    msghdr message{};
    message.msg_name = datagram.sender.native();
    message.msg_namelen = static_cast<socklen_t>(SocketAddress::capacity());
    message.msg_iov = &vector;
    message.msg_iovlen = 1;
    const long result = co_await detail::IoAwaitable::recvmsg(socket_.fd(), &message);
    if (result < 0) {
        detail::throw_os_error(static_cast<int>(-result), remote_
                                                              ? "recvfrom " + remote_->to_string()
                                                              : std::string("recvfrom"));
    }
    datagram.data.resize(static_cast<std::size_t>(result));
    datagram.sender.set_native_size(message.msg_namelen);
    co_return datagram;
}

Task<std::string> DatagramEndpoint::recv(std::size_t max_size) {
    Datagram datagram = co_await recvfrom(max_size);
    co_return std::move(datagram.data);
}

Task<> DatagramEndpoint::sendto(std::string_view data, SocketAddress destination) {
    iovec vector{const_cast<char*>(data.data()), data.size()};
    msghdr message{};
    message.msg_name = destination.native();
    message.msg_namelen = static_cast<socklen_t>(destination.native_size());
    message.msg_iov = &vector;
    message.msg_iovlen = 1;
    const long result = co_await detail::IoAwaitable::sendmsg(socket_.fd(), &message);
    if (result < 0) {
        detail::throw_os_error(static_cast<int>(-result), "sendto " + destination.to_string());
    }
}

Task<> DatagramEndpoint::send(std::string_view data) {
    if (!remote_)
        throw InvalidStateError(
            "DatagramEndpoint::send(): the endpoint is not connected; use sendto()");
    iovec vector{const_cast<char*>(data.data()), data.size()};
    msghdr message{};
    message.msg_iov = &vector;
    message.msg_iovlen = 1;
    const long result = co_await detail::IoAwaitable::sendmsg(socket_.fd(), &message);
    if (result < 0)
        detail::throw_os_error(static_cast<int>(-result), "send to " + remote_->to_string());
}

Task<DatagramEndpoint> create_datagram_endpoint(DatagramOptions options) {
    if (!options.local && !options.remote) {
        throw std::invalid_argument("create_datagram_endpoint: give a local or a remote address");
    }
    std::optional<SocketAddress> local;
    std::optional<SocketAddress> remote;
    if (options.local) local = co_await resolve_datagram(*options.local, options.family, true);
    if (options.remote) {
        remote = co_await resolve_datagram(*options.remote,
                                           local ? local->family() : options.family, false);
    }
    Socket socket =
        Socket::create(local ? local->family() : remote->family(), SocketType::datagram);
    if (options.reuse_port) socket.set_reuse_port(true);
    if (options.allow_broadcast) socket.set_broadcast(true);
    if (local) socket.bind(*local);
    if (remote) co_await sock_connect(socket, *remote);
    co_return DatagramEndpoint(std::move(socket), remote);
}

}  // namespace asyncio
