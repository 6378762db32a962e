#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "asyncio/net/socket_address.hpp"
#include "asyncio/task.hpp"

namespace asyncio {

/// Socket types, with the values of the platform's SOCK_* constants.
enum class SocketType : int { any = 0, stream = 1, datagram = 2 };

/// What `getaddrinfo` should return.
struct AddressHints {
    AddressFamily family = AddressFamily::unspecified;  ///< ipv4, ipv6 or both
    SocketType type = SocketType::any;
    int protocol = 0;
    /// AI_* flags (AI_PASSIVE, AI_NUMERICHOST, AI_CANONNAME, ...), as for getaddrinfo(3).
    int flags = 0;
};

/// One result of `getaddrinfo` (Python's `(family, type, proto, canonname, sockaddr)`).
struct AddressInfo {
    AddressFamily family = AddressFamily::unspecified;
    SocketType type = SocketType::any;
    int protocol = 0;
    std::string canonical_name;  ///< set on the first entry when AI_CANONNAME was asked
    SocketAddress address;
};

/// Resolves `host` and `service` (a port number or a name from /etc/services) without
/// blocking the loop, honouring /etc/hosts and /etc/resolv.conf (c-ares). An empty host
/// means the loopback address, or the wildcard address with AI_PASSIVE.
///
/// Numeric hosts ("127.0.0.1", "::1") are answered without a query. Results keep the
/// resolver's order (IPv6 first when the system prefers it).
/// Cancellation: cancels the query; nothing is left running.
/// Throws: DnsError naming the host, e.g. "getaddrinfo('no.such.host.invalid', '80'):
/// Domain name not found".
Task<std::vector<AddressInfo>> getaddrinfo(std::string host, std::string service,
                                           AddressHints hints = {});

/// The host and service names of an address (Python's `loop.getnameinfo`).
struct NameInfo {
    std::string host;
    std::string service;
};

/// Reverse lookup of `address` without blocking the loop. `flags` are NI_* flags
/// (NI_NUMERICHOST, NI_NUMERICSERV, NI_NAMEREQD, ...), as for getnameinfo(3).
/// Throws: DnsError naming the address.
Task<NameInfo> getnameinfo(SocketAddress address, int flags = 0);

}  // namespace asyncio
