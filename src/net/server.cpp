// asyncio::Server: one accept loop task per listening socket, one task per connection.
//
// The state is shared by the Server handles, the accept loops and the connection tasks,
// so the handler (a std::function whose captures a handler coroutine may use) lives as
// long as any connection runs. wait_closed() counts connections until their sockets are
// closed, which is what CPython fixed in gh-79033.

#include "asyncio/net/server.hpp"

#include <cerrno>
#include <list>

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "asyncio/detail/wait_queue.hpp"
#include "asyncio/errors.hpp"
#include "asyncio/event_loop.hpp"
#include "asyncio/log.hpp"
#include "asyncio/net/socket.hpp"
#include "asyncio/net/tcp.hpp"
#include "asyncio/net/tls.hpp"
#include "asyncio/net/unix.hpp"
#include "asyncio/shield.hpp"
#include "asyncio/sleep.hpp"
#include "net/accept.hpp"
#include "net/connect.hpp"
#include "net/stream_state.hpp"

namespace asyncio::detail {

struct ServerState : std::enable_shared_from_this<ServerState> {
    ClientHandler handler;
    ServerOptions options;
    std::vector<Socket> listeners;
    std::vector<SocketAddress> addresses;
    std::vector<TaskHandle<>> accept_loops;
    std::list<std::weak_ptr<StreamState>> connections;
    std::string unix_path;  // removed on close
    bool serving = false;
    bool closed = false;
    bool serving_forever = false;
    WaitQueue closed_waiters{AwaitKind::other, this};  // wait_closed()
    WaitQueue close_waiters{AwaitKind::other, this};   // serve_forever(): woken by close()
};

namespace {

/// Delay before accepting again after running out of descriptors or memory (CPython's
/// ACCEPT_RETRY_DELAY): the connections waiting in the backlog stay there meanwhile.
constexpr Duration accept_retry_delay = std::chrono::seconds(1);

bool is_resource_shortage(int error) noexcept {
    return error == EMFILE || error == ENFILE || error == ENOBUFS || error == ENOMEM;
}

void notify_if_finished(ServerState& state) {
    if (state.closed && state.connections.empty()) state.closed_waiters.wake_all();
}

/// The server side of the TLS handshake, in the connection's task (through TlsContext's
/// virtual wrap_transport(): this library does not link OpenSSL). Returns false when it
/// failed: the peer's doing (a refused certificate, a timeout, a reset) is logged at debug
/// level in debug mode only, as Python does, so a scanner cannot flood the log; anything
/// else goes to the loop's exception handler.
Task<bool> start_server_tls(const ServerOptions& options, StreamState& state) {
    const auto peer = state.transport->peername();
    std::exception_ptr failure;
    try {
        state.transport = co_await options.tls->wrap_transport(
            state.transport, true, {}, options.tls_handshake_timeout, options.tls_shutdown_timeout);
        co_return true;
    } catch (const CancelledError&) {
        co_return false;  // the server's loop is shutting down
    } catch (...) {
        failure = std::current_exception();
    }
    if (!exception_is<OSError>(failure)) {
        running_loop->report_error("TLS handshake failed", failure, "");
    } else if (running_loop->debug()) {
        log(LogLevel::debug, "TLS handshake with " + (peer ? peer->to_string() : "a client") +
                                 " failed: " + describe(failure));
    }
    co_return false;
}

Task<> run_connection(std::shared_ptr<ServerState> server, Socket socket) {
    auto stream = make_stream(make_fd_transport(socket.release(), true), server->options.limit);
    std::shared_ptr<StreamState> shared = stream.writer.state();
    server->connections.push_front(shared);
    const auto entry = server->connections.begin();
    // The connection counts from its accept, so close_clients() and wait_closed() cover
    // a handshake in progress too.
    bool ready = true;
    if (server->options.tls) ready = co_await start_server_tls(server->options, *shared);
    try {
        if (ready) co_await server->handler(std::move(stream.reader), stream.writer);
    } catch (const CancelledError&) {
        // The server's loop is shutting down: nothing to report.
    } catch (...) {
        running_loop->report_error("Unhandled exception in client_connected_cb",
                                   std::current_exception(), "");
    }
    // The connection ends with its handler; what the handler wrote is sent first.
    stream.writer.close();
    try {
        co_await stream.writer.wait_closed();
    } catch (...) {
        // The send failed: the socket is closed all the same, the handler saw the error.
    }
    server->connections.erase(entry);
    notify_if_finished(*server);
}

Task<> accept_loop(std::shared_ptr<ServerState> server, std::size_t index) {
    Socket& listener = server->listeners[index];
    for (;;) {
        AcceptedSocket accepted;
        bool out_of_resources = false;
        try {
            accepted = co_await detail::accept_on_owned_listener(listener);
        } catch (const OSError& error) {
            if (!is_resource_shortage(error.code())) throw;
            running_loop->report_error(
                "accept on " + server->addresses[index].to_string() + " failed; retrying in 1 s",
                std::current_exception(), "");
            out_of_resources = true;
        }
        if (out_of_resources) {
            co_await sleep(accept_retry_delay);
            continue;
        }
        if (accepted.peer.family() == AddressFamily::ipv4 ||
            accepted.peer.family() == AddressFamily::ipv6) {
            accepted.socket.set_no_delay(true);
        }
        create_task(run_connection(server, std::move(accepted.socket)));
    }
}

void start_accepting(const std::shared_ptr<ServerState>& state) {
    if (state->serving || state->closed) return;
    state->serving = true;
    for (std::size_t i = 0; i < state->listeners.size(); ++i) {
        state->accept_loops.push_back(create_task(accept_loop(state, i)));
    }
}

Server make_server(std::shared_ptr<ServerState> state) {
    if (state->options.start_serving) start_accepting(state);
    return Server(std::move(state));
}

Socket listen_on(const SocketAddress& address, const ServerOptions& options) {
    Socket socket = Socket::create(address.family(), SocketType::stream);
    if (address.family() != AddressFamily::unix_local) {
        if (options.reuse_address) socket.set_reuse_address(true);
        if (options.reuse_port) socket.set_reuse_port(true);
    }
    // Both families on one port: the IPv6 socket must not also claim the IPv4 one (as
    // CPython does).
    if (address.family() == AddressFamily::ipv6) socket.set_option(IPPROTO_IPV6, IPV6_V6ONLY, 1);
    socket.bind(address);
    socket.listen(options.backlog);
    return socket;
}

}  // namespace
}  // namespace asyncio::detail

namespace asyncio {

std::vector<SocketAddress> Server::sockets() const { return state_->addresses; }
bool Server::is_serving() const noexcept { return state_->serving && !state_->closed; }
void Server::start_serving() {
    if (state_->closed) throw RuntimeError("Server.start_serving(): the server is closed");
    detail::start_accepting(state_);
}

void Server::close() {
    detail::ServerState& state = *state_;
    if (state.closed) return;
    state.closed = true;
    state.serving = false;
    for (auto& loop : state.accept_loops) loop.cancel();
    state.accept_loops.clear();
    for (auto& listener : state.listeners) listener.close();
    if (!state.unix_path.empty() && state.unix_path.front() != '\0')
        ::unlink(state.unix_path.c_str());
    state.close_waiters.wake_all();
    detail::notify_if_finished(state);
}

void Server::close_clients() {
    for (auto& weak : state_->connections) {
        if (auto connection = weak.lock()) connection->transport->close();
    }
}

void Server::abort_clients() {
    for (auto& weak : state_->connections) {
        if (auto connection = weak.lock()) connection->transport->abort();
    }
}

std::size_t Server::active_connections() const noexcept { return state_->connections.size(); }

Task<> Server::wait_closed() {
    auto keep = state_;
    while (!keep->closed || !keep->connections.empty()) {
        detail::WaitQueue::Waiter waiter(keep->closed_waiters);
        if (co_await waiter) waiter.throw_cancelled();
    }
}

Task<> Server::serve_forever() {
    auto keep = state_;
    if (keep->closed) throw RuntimeError("Server.serve_forever(): the server is closed");
    if (keep->serving_forever)
        throw RuntimeError("Server.serve_forever(): already serving forever");
    keep->serving_forever = true;
    detail::start_accepting(keep);
    std::exception_ptr cancelled;
    try {
        while (!keep->closed) {
            detail::WaitQueue::Waiter waiter(keep->close_waiters);
            if (co_await waiter) waiter.throw_cancelled();
        }
    } catch (const CancelledError&) {
        cancelled = std::current_exception();
    }
    keep->serving_forever = false;
    if (cancelled) {
        close();
        co_await shield(wait_closed());
        std::rethrow_exception(cancelled);
    }
}

Task<Server> start_server(ClientHandler handler, std::vector<std::string> hosts, std::uint16_t port,
                          ServerOptions options) {
    if (!handler) throw std::invalid_argument("start_server: the handler is empty");
    auto state = std::make_shared<detail::ServerState>();
    state->handler = std::move(handler);
    state->options = options;
    if (hosts.empty()) hosts.emplace_back();
    for (const auto& host : hosts) {
        const auto addresses =
            co_await detail::resolve_stream_addresses(host, port, options.family, true);
        for (const auto& address : addresses) {
            state->listeners.push_back(detail::listen_on(address, options));
            state->addresses.push_back(state->listeners.back().local_address());
        }
    }
    co_return detail::make_server(std::move(state));
}

Task<Server> start_server(ClientHandler handler, std::string host, std::uint16_t port,
                          ServerOptions options) {
    std::vector<std::string> hosts;
    hosts.push_back(std::move(host));
    co_return co_await start_server(std::move(handler), std::move(hosts), port, options);
}

Task<Server> start_unix_server(ClientHandler handler, std::string path, ServerOptions options) {
    if (!handler) throw std::invalid_argument("start_unix_server: the handler is empty");
    const SocketAddress address = SocketAddress::unix_path(path);
    if (options.unlink_existing_unix_socket && path.front() != '\0') {
        // Only a socket file: a regular file of that name is not ours to delete.
        struct stat info {};
        if (::stat(path.c_str(), &info) == 0 && S_ISSOCK(info.st_mode)) ::unlink(path.c_str());
    }
    auto state = std::make_shared<detail::ServerState>();
    state->handler = std::move(handler);
    state->options = options;
    state->listeners.push_back(detail::listen_on(address, options));
    state->addresses.push_back(address);
    state->unix_path = path;
    co_return detail::make_server(std::move(state));
}

}  // namespace asyncio
