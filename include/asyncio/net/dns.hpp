#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "asyncio/clock.hpp"
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
/// Numeric hosts ("127.0.0.1", "::1", "[::1]") and numeric services are answered without
/// a query. Results keep the resolver's order (IPv6 first when the system prefers it).
/// With `SocketType::any`, each address comes once per socket type the service exists for
/// (stream/TCP, then datagram/UDP), as getaddrinfo(3) gives them without its raw entries.
/// Cancellation: the task stops waiting at once. c-ares cannot cancel one query, so an
/// abandoned query is only dropped: its answer is ignored, and it is cancelled as soon as
/// no other lookup of the loop is running.
/// Throws: DnsError naming the host and service, e.g. "getaddrinfo('no.such.host.invalid',
/// '80'): Domain name not found", with the c-ares status as `code()`; also for an empty
/// host and service, a NUL in either, or an unknown service.
Task<std::vector<AddressInfo>> getaddrinfo(std::string host, std::string service,
                                           AddressHints hints = {});

/// The host and service names of an address (Python's `loop.getnameinfo`).
struct NameInfo {
    std::string host;
    std::string service;
};

/// Reverse lookup of `address` without blocking the loop. `flags` are NI_* flags
/// (NI_NUMERICHOST, NI_NUMERICSERV, NI_NAMEREQD, NI_NOFQDN, NI_DGRAM), as for
/// getnameinfo(3). An address with no name gives its numeric form, unless NI_NAMEREQD.
/// Cancellation: as for getaddrinfo.
/// Throws: DnsError naming the address, e.g. "getnameinfo('192.0.2.1:80'): Domain name not
/// found"; also for an address that is neither IPv4 nor IPv6.
Task<NameInfo> getnameinfo(SocketAddress address, int flags = 0);

/// How the resolver of a loop finds its answers. Zero values keep the system's settings
/// (/etc/resolv.conf, else c-ares's defaults: 5 s, 4 tries).
struct ResolverOptions {
    /// Name servers to ask, in order, instead of those of /etc/resolv.conf. Port 0 means 53.
    std::vector<SocketAddress> servers{};
    /// How long to wait for the first answer of a server; c-ares doubles it on each round
    /// of retries. Rounded up to milliseconds.
    Duration timeout{};
    /// Attempts per server before a lookup fails with a timeout.
    int tries = 0;
};

/// Replaces the resolver of the running loop by one with `options`, for every later
/// lookup on this loop (each loop has its own; /etc/hosts is still read first). Python
/// has no equivalent: it resolves with the system's getaddrinfo in a thread.
///
/// Throws: RuntimeError without a running loop, or while a lookup of the loop is waiting
/// for its answer; std::invalid_argument for a server that is not an IPv4 or IPv6 address,
/// or a negative timeout or tries; DnsError when c-ares cannot set the channel up.
/// Example: `asyncio::configure_resolver({.servers = {SocketAddress::parse("10.0.0.53", 53)},
/// .timeout = 500ms, .tries = 2});`
void configure_resolver(ResolverOptions options);

}  // namespace asyncio
