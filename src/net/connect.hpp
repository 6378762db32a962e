#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "asyncio/net/dns.hpp"
#include "asyncio/net/socket.hpp"
#include "asyncio/net/tcp.hpp"

namespace asyncio::detail {

/// The stream addresses of `host`:`port`: numeric hosts at once, names through getaddrinfo.
/// `passive`: an empty host means every local interface (for servers).
Task<std::vector<SocketAddress>> resolve_stream_addresses(std::string host, std::uint16_t port,
                                                          AddressFamily family, bool passive);

/// A connected TCP socket to one of `addresses`, tried in turn or staggered (happy eyeballs).
Task<Socket> connect_any(std::vector<SocketAddress> addresses, const ConnectOptions& options,
                         std::string what);

}  // namespace asyncio::detail
