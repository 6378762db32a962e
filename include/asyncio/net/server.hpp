#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <vector>

#include "asyncio/clock.hpp"
#include "asyncio/net/socket_address.hpp"
#include "asyncio/net/stream.hpp"
#include "asyncio/task.hpp"

namespace asyncio {

class TlsContext;

namespace detail {
struct ServerState;
}

/// The coroutine run for every accepted connection (Python's client_connected_cb).
/// When it returns, the connection is closed (after the bytes written are sent), so a
/// handler needs no explicit close(). An error it throws is reported through the loop's
/// exception handler and closes that connection only.
using ClientHandler = std::function<Task<>(StreamReader, StreamWriter)>;

/// Listening sockets and the connections they accepted (Python's asyncio.Server), as made
/// by `start_server` or `start_unix_server`.
///
/// Thread safety: use from the loop thread only.
class Server {
public:
    /// The addresses it listens on (with the port the system chose for port 0).
    std::vector<SocketAddress> sockets() const;
    bool is_serving() const noexcept;
    /// Starts accepting (for a server made with `start_serving = false`). Idempotent.
    void start_serving();
    /// Accepts until cancelled; then closes the server and waits for wait_closed().
    /// Throws: RuntimeError when the server is closed, or already serving forever.
    Task<> serve_forever();
    /// Stops listening. Connections already accepted go on. Idempotent.
    void close();
    /// Closes every accepted connection, after its queued bytes are sent (Python 3.13).
    void close_clients();
    /// Closes every accepted connection at once, dropping queued bytes (Python 3.13).
    void abort_clients();
    /// Returns once the server is closed and the last connection it accepted has closed
    /// (the fix of CPython gh-79033: not a no-op).
    Task<> wait_closed();
    /// Accepted connections still open.
    std::size_t active_connections() const noexcept;

    explicit Server(std::shared_ptr<detail::ServerState> state) noexcept
        : state_(std::move(state)) {}

private:
    std::shared_ptr<detail::ServerState> state_;
};

/// Options of `start_server` and `start_unix_server`.
struct ServerOptions {
    std::size_t limit = StreamReader::default_limit;  ///< each StreamReader's limit
    int backlog = 100;
    /// SO_REUSEADDR (TCP): restart at once on a port with connections in TIME_WAIT.
    bool reuse_address = true;
    /// SO_REUSEPORT (TCP): several processes may listen on the same port.
    bool reuse_port = false;
    /// Listen on one family only when the host would give both.
    AddressFamily family = AddressFamily::unspecified;
    /// Accept from the start; otherwise call start_serving() or serve_forever().
    bool start_serving = true;
    /// A Unix socket file left by an earlier run is removed before binding (Python's default).
    bool unlink_existing_unix_socket = true;
    /// TLS: when set (`TlsContext::server(...)`, see <asyncio/net/tls.hpp>), every
    /// connection is encrypted. The handshake runs in the connection's task before the
    /// handler; when it fails, the connection is closed, the handler never runs, and the
    /// failure is logged at debug level when the loop is in debug mode (as Python does).
    std::shared_ptr<TlsContext> tls = nullptr;
    /// How long a client may take to complete the handshake (Python's ssl_handshake_timeout).
    Duration tls_handshake_timeout = std::chrono::seconds(60);
    /// How long closing waits for the client's close_notify (Python's ssl_shutdown_timeout).
    Duration tls_shutdown_timeout = std::chrono::seconds(30);
};

}  // namespace asyncio
