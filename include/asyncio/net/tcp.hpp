#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
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

class TlsContext;

/// Options of `open_connection` (and `open_unix_connection`).
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
    /// TLS: when set (`TlsContext::client()`, see <asyncio/net/tls.hpp>), the stream is
    /// encrypted and open_connection returns once the handshake is done (Python: `ssl=`).
    std::shared_ptr<TlsContext> tls = nullptr;
    /// The name the server's certificate must carry and that is sent with SNI; empty means
    /// `host` (open_unix_connection requires it with TLS).
    std::string server_hostname = {};
    /// How long the TLS handshake may take; then the connection is aborted with
    /// ConnectionAbortedError (Python's ssl_handshake_timeout, 60 s).
    Duration tls_handshake_timeout = std::chrono::seconds(60);
    /// How long close() waits for the peer to answer TLS close_notify; then the connection
    /// is aborted and wait_closed() throws TimeoutError (Python's ssl_shutdown_timeout, 30 s).
    Duration tls_shutdown_timeout = std::chrono::seconds(30);
};

/// Connects to `host`:`port` over TCP and returns the connection's reader and writer
/// (Python's asyncio.open_connection). The host is resolved without blocking
/// (`getaddrinfo`), and the addresses are tried in turn.
///
/// Cancellation: stops connecting; no socket is left open.
/// Throws: DnsError; the connection error (ConnectionRefusedError...) naming the address
/// when there was one address or all failed alike, else OSError listing each attempt.
/// With TLS: SSLCertVerificationError, SSLError, ConnectionAbortedError (handshake timeout).
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
