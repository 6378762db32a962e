// open_connection and open_unix_connection: resolve, connect (one address after another,
// or staggered as RFC 8305's happy eyeballs), wrap the socket in a stream.

#include "asyncio/net/tcp.hpp"

#include <algorithm>
#include <stdexcept>

#include <netdb.h>
#include <sys/socket.h>

#include "asyncio/errors.hpp"
#include "asyncio/net/tls.hpp"
#include "asyncio/net/unix.hpp"
#include "asyncio/wait.hpp"
#include "net/connect.hpp"
#include "net/os_error.hpp"
#include "net/stream_state.hpp"

namespace asyncio::detail {
namespace {

Task<Socket> connect_one(SocketAddress address, std::optional<SocketAddress> local) {
    Socket socket = Socket::create(address.family(), SocketType::stream);
    if (local) socket.bind(*local);
    co_await sock_connect(socket, address);
    co_return socket;
}

/// Python's create_connection: one error when all attempts failed alike, else an OSError
/// that lists them.
[[noreturn]] void throw_connect_failure(std::vector<std::exception_ptr>& errors,
                                        const std::string& what) {
    if (errors.size() == 1) std::rethrow_exception(errors.front());
    std::string kinds;
    bool same = true;
    int first_code = -1;
    for (const auto& error : errors) {
        int code = 0;
        try {
            std::rethrow_exception(error);
        } catch (const OSError& e) {
            code = e.code();
        } catch (...) {
        }
        if (first_code == -1) first_code = code;
        same = same && code == first_code;
        kinds += "\n  - " + describe(error);
    }
    if (same) std::rethrow_exception(errors.front());
    throw OSError(0, "Multiple exceptions connecting to " + what + ":" + kinds);
}

Task<Socket> connect_staggered(const std::vector<SocketAddress>& addresses,
                               const ConnectOptions& options, const std::string& what) {
    std::vector<TaskHandle<Socket>> running;
    std::vector<std::exception_ptr> errors;
    std::size_t next = 0;
    try {
        for (;;) {
            if (next < addresses.size()) {
                running.push_back(
                    create_task(connect_one(addresses[next++], options.local_address)));
            }
            if (running.empty()) throw_connect_failure(errors, what);
            const std::optional<Duration> delay =
                next < addresses.size() ? options.happy_eyeballs_delay : std::nullopt;
            auto [done, pending] = co_await wait(running, FIRST_COMPLETED, delay);
            running = std::move(pending);
            for (auto& attempt : done) {
                if (auto error = attempt.exception()) {
                    errors.push_back(error);
                    continue;
                }
                // The winner: the others are abandoned (their sockets close as they end).
                for (auto& other : running) other.cancel();
                co_return std::move(attempt.result());
            }
            // Whether an attempt failed or the delay passed, the next address starts now
            // (RFC 8305 section 5).
        }
    } catch (...) {
        for (auto& attempt : running) attempt.cancel();
        throw;
    }
}

}  // namespace

Task<std::vector<SocketAddress>> resolve_stream_addresses(std::string host, std::uint16_t port,
                                                          AddressFamily family, bool passive) {
    if (!host.empty()) {
        try {
            SocketAddress numeric = SocketAddress::parse(host, port);
            if (family != AddressFamily::unspecified && numeric.family() != family) {
                throw DnsError(EAI_ADDRFAMILY,
                               "'" + host + "' is not an address of the family asked for");
            }
            co_return std::vector<SocketAddress>{numeric};
        } catch (const std::invalid_argument&) {
            // a name: resolve it below
        }
    }
    AddressHints hints;
    hints.family = family;
    hints.type = SocketType::stream;
    hints.flags = passive ? AI_PASSIVE : 0;
    const auto infos = co_await getaddrinfo(host, std::to_string(port), hints);
    std::vector<SocketAddress> addresses;
    for (const auto& info : infos) {
        if (std::find(addresses.begin(), addresses.end(), info.address) == addresses.end()) {
            addresses.push_back(info.address);
        }
    }
    if (addresses.empty())
        throw DnsError(EAI_NONAME, "getaddrinfo('" + host + "') returned no address");
    co_return addresses;
}

Task<Socket> connect_any(std::vector<SocketAddress> addresses, const ConnectOptions& options,
                         std::string what) {
    if (options.happy_eyeballs_delay && addresses.size() > 1) {
        co_return co_await connect_staggered(addresses, options, what);
    }
    std::vector<std::exception_ptr> errors;
    for (const auto& address : addresses) {
        try {
            co_return co_await connect_one(address, options.local_address);
        } catch (const OSError&) {
            errors.push_back(std::current_exception());
        }
    }
    throw_connect_failure(errors, what);
}

}  // namespace asyncio::detail

namespace asyncio {
namespace {

/// The stream over a connected socket, after the TLS handshake when options.tls is set.
/// The TLS library is reached through TlsContext's virtual wrap_transport(), so this
/// library does not link OpenSSL.
Task<Stream> make_client_stream(Socket socket, const ConnectOptions& options,
                                std::string server_hostname) {
    std::shared_ptr<detail::StreamTransport> transport =
        detail::make_fd_transport(socket.release(), true);
    if (options.tls) {
        transport = co_await options.tls->wrap_transport(
            std::move(transport), false, std::move(server_hostname), options.tls_handshake_timeout,
            options.tls_shutdown_timeout);
    }
    co_return detail::make_stream(std::move(transport), options.limit);
}

}  // namespace

Task<Stream> open_connection(std::string host, std::uint16_t port, ConnectOptions options) {
    auto addresses = co_await detail::resolve_stream_addresses(host, port, options.family, false);
    Socket socket = co_await detail::connect_any(std::move(addresses), options,
                                                 host + ":" + std::to_string(port));
    if (options.no_delay) socket.set_no_delay(true);
    std::string server_hostname = options.server_hostname.empty() ? host : options.server_hostname;
    co_return co_await make_client_stream(std::move(socket), options, std::move(server_hostname));
}

Task<Stream> open_unix_connection(std::string path, ConnectOptions options) {
    const SocketAddress address = SocketAddress::unix_path(path);
    Socket socket = Socket::create(AddressFamily::unix_local, SocketType::stream);
    co_await sock_connect(socket, address);
    // No host here: with TLS, options.server_hostname names the server (Python requires it).
    co_return co_await make_client_stream(std::move(socket), options, options.server_hostname);
}

}  // namespace asyncio
