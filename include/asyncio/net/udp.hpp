#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "asyncio/net/socket.hpp"
#include "asyncio/net/socket_address.hpp"
#include "asyncio/task.hpp"

namespace asyncio {

/// A host (name or numeric address) and a port.
struct HostPort {
    std::string host;
    std::uint16_t port = 0;
};

/// Options of `create_datagram_endpoint`.
struct DatagramOptions {
    /// Bind here (port 0: the system picks). Without it, the system binds on first send.
    std::optional<HostPort> local = std::nullopt;
    /// Connect to here: send()/recv() then talk to this peer only, and the kernel drops
    /// datagrams from anyone else.
    std::optional<HostPort> remote = std::nullopt;
    AddressFamily family = AddressFamily::unspecified;
    bool reuse_port = false;
    /// SO_BROADCAST: sending to a broadcast address is refused (EACCES) without it.
    bool allow_broadcast = false;
};

/// A datagram and who sent it.
struct Datagram {
    std::string data;
    SocketAddress sender;
};

/// A UDP socket with awaitable receive and send (what Python builds with
/// create_datagram_endpoint and a DatagramProtocol, as plain awaits).
///
/// Cancellation: a cancelled receive loses no datagram (one that arrived is returned and
/// the cancellation comes at the next await); a cancelled send has sent all or nothing.
class DatagramEndpoint {
public:
    DatagramEndpoint() = default;
    explicit DatagramEndpoint(Socket socket, std::optional<SocketAddress> remote = std::nullopt)
        : socket_(std::move(socket)), remote_(remote) {}

    /// The next datagram, up to `max_size` bytes (longer ones are cut, as recvfrom(2) does).
    /// Throws: ConnectionRefusedError on a connected endpoint whose peer port is closed
    /// (the kernel's ICMP report), other OSErrors.
    Task<Datagram> recvfrom(std::size_t max_size = 65536);
    /// The next datagram's bytes (mostly for connected endpoints).
    Task<std::string> recv(std::size_t max_size = 65536);
    /// Sends `data` as one datagram to `destination`.
    /// Throws: OSError (EMSGSIZE when too long for one datagram, EACCES for a broadcast
    /// address without allow_broadcast) naming the destination.
    Task<> sendto(std::string_view data, SocketAddress destination);
    /// Sends to the connected peer. Throws: InvalidStateError when not connected.
    Task<> send(std::string_view data);

    SocketAddress local_address() const { return socket_.local_address(); }
    const std::optional<SocketAddress>& remote_address() const noexcept { return remote_; }
    Socket& socket() noexcept { return socket_; }
    void close() noexcept { socket_.close(); }
    bool is_open() const noexcept { return socket_.is_open(); }

private:
    Socket socket_;
    std::optional<SocketAddress> remote_;
};

/// Creates a UDP endpoint bound to `options.local` and/or connected to `options.remote`
/// (host names are resolved without blocking).
/// Throws: std::invalid_argument with neither local nor remote; AddressInUseError; DnsError.
/// Example:
/// ```
/// auto endpoint = co_await asyncio::create_datagram_endpoint({.local = {{"127.0.0.1", 0}}});
/// auto [data, sender] = co_await endpoint.recvfrom();
/// ```
Task<DatagramEndpoint> create_datagram_endpoint(DatagramOptions options);

}  // namespace asyncio
