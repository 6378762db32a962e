#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "asyncio/clock.hpp"
#include "asyncio/net/server.hpp"
#include "asyncio/net/socket_address.hpp"
#include "asyncio/net/stream.hpp"
#include "asyncio/task.hpp"

namespace asyncio {

/// Options of `open_connection`.
struct ConnectOptions {
    std::size_t limit = StreamReader::default_limit;  ///< the StreamReader's limit
    /// Only this family's addresses are tried.
    AddressFamily family = AddressFamily::unspecified;
    /// Bind the socket to this address before connecting.
    std::optional<SocketAddress> local_address = std::nullopt;
    /// Happy eyeballs (RFC 8305): when set, the next resolved address is tried after this
    /// delay (or as soon as an attempt fails) while earlier attempts continue; the first to
    /// connect wins. Unset: one address after another (Python's default).
    std::optional<Duration> happy_eyeballs_delay = std::nullopt;
    /// TCP_NODELAY, which Python's asyncio also sets on every TCP connection.
    bool no_delay = true;
};

/// Connects to `host`:`port` over TCP and returns the connection's reader and writer
/// (Python's asyncio.open_connection). The host is resolved without blocking
/// (`getaddrinfo`), and the addresses are tried in turn.
///
/// Cancellation: stops connecting; no socket is left open.
/// Throws: DnsError; the connection error (ConnectionRefusedError...) naming the address
/// when there was one address or all failed alike, else OSError listing each attempt.
/// Example: `auto [reader, writer] = co_await asyncio::open_connection("127.0.0.1", 8080);`
Task<Stream> open_connection(std::string host, std::uint16_t port, ConnectOptions options);
/// The same with the default options.
///
/// An overload, not a defaulted argument, here and below: GCC 12 destroys a defaulted
/// class-type argument of a coroutine called inside `co_await` through a stale stack copy,
/// which frees garbage once the options hold a std::string or a std::shared_ptr.
inline Task<Stream> open_connection(std::string host, std::uint16_t port) {
    return open_connection(std::move(host), port, ConnectOptions{});
}

/// Listens on `host`:`port` and runs `handler` for each connection (Python's
/// asyncio.start_server). An empty host listens on every interface, IPv4 and IPv6; a name
/// listens on every address it resolves to. Port 0 lets the system choose: see sockets().
///
/// Throws: AddressInUseError naming the address; DnsError.
/// Example:
/// ```
/// auto server = co_await asyncio::start_server(handle_client, "127.0.0.1", 8888);
/// co_await server.serve_forever();
/// ```
Task<Server> start_server(ClientHandler handler, std::string host, std::uint16_t port,
                          ServerOptions options);
inline Task<Server> start_server(ClientHandler handler, std::string host, std::uint16_t port) {
    return start_server(std::move(handler), std::move(host), port, ServerOptions{});
}
/// The same on several hosts at once.
Task<Server> start_server(ClientHandler handler, std::vector<std::string> hosts, std::uint16_t port,
                          ServerOptions options);
inline Task<Server> start_server(ClientHandler handler, std::vector<std::string> hosts,
                                 std::uint16_t port) {
    return start_server(std::move(handler), std::move(hosts), port, ServerOptions{});
}

}  // namespace asyncio
