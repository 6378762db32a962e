// getaddrinfo and getnameinfo. What needs no query is answered here, at once: numeric
// hosts and services, the empty host, bad input. Names go to the loop's c-ares channel
// (resolver.hpp), which reads /etc/hosts first and then asks the name servers.

#include "asyncio/net/dns.hpp"

#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "dns/resolver.hpp"

namespace asyncio {

static_assert(static_cast<int>(SocketType::stream) == SOCK_STREAM);
static_assert(static_cast<int>(SocketType::datagram) == SOCK_DGRAM);

namespace {

/// `text` for an error message, with a NUL shown as "\0".
std::string printable(std::string_view text) {
    std::string result;
    for (const char c : text) {
        if (c == '\0') {
            result += "\\0";
        } else {
            result += c;
        }
    }
    return result;
}

const char* reason(int status) {
    // c-ares 1.18's ares_strerror() has no text for ARES_ESERVICE: it says "unknown".
    if (status == ARES_ESERVICE) return "Service name not known";
    return ares_strerror(status);
}

[[noreturn]] void throw_dns_error(int status, const std::string& what, std::string_view why) {
    throw DnsError(status, what + ": " + std::string(why));
}

/// The socket types (and protocols) a lookup gives results for, each with its port.
struct Transport {
    SocketType type;
    int protocol;
    std::uint16_t port;
};

std::optional<std::uint16_t> numeric_port(const std::string& service) {
    if (service.empty() || service.size() > 5 ||
        service.find_first_not_of("0123456789") != std::string::npos) {
        return std::nullopt;
    }
    const unsigned long value = std::stoul(service);
    if (value > 65535) return std::nullopt;
    return static_cast<std::uint16_t>(value);
}

std::optional<std::uint16_t> named_port(const std::string& service, SocketType type) {
    // /etc/services through NSS, as c-ares and getaddrinfo(3) read it: a local file.
    servent entry{};
    servent* found = nullptr;
    char buffer[4096];
    const char* protocol = type == SocketType::stream ? "tcp" : "udp";
    if (::getservbyname_r(service.c_str(), protocol, &entry, buffer, sizeof buffer, &found) != 0 ||
        found == nullptr) {
        return std::nullopt;
    }
    return ntohs(static_cast<std::uint16_t>(found->s_port));
}

std::vector<Transport> transports(const std::string& service, const AddressHints& hints,
                                  const std::string& what) {
    std::vector<Transport> result;
    const auto add = [&](SocketType type, int default_protocol) {
        result.push_back({type, hints.protocol != 0 ? hints.protocol : default_protocol, 0});
    };
    if (hints.type == SocketType::stream) {
        add(SocketType::stream, IPPROTO_TCP);
    } else if (hints.type == SocketType::datagram) {
        add(SocketType::datagram, IPPROTO_UDP);
    } else {
        // As getaddrinfo(3): a protocol given alone picks its socket type.
        if (hints.protocol != IPPROTO_UDP) add(SocketType::stream, IPPROTO_TCP);
        if (hints.protocol != IPPROTO_TCP) add(SocketType::datagram, IPPROTO_UDP);
    }
    if (service.empty()) return result;
    if (const auto port = numeric_port(service)) {
        for (Transport& transport : result) transport.port = *port;
        return result;
    }
    if ((hints.flags & AI_NUMERICSERV) != 0) {
        throw_dns_error(ARES_ESERVICE, what,
                        "AI_NUMERICSERV was given and the service is not a port number");
    }
    std::vector<Transport> known;
    for (Transport transport : result) {
        if (const auto port = named_port(service, transport.type)) {
            transport.port = *port;
            known.push_back(transport);
        }
    }
    if (known.empty()) throw_dns_error(ARES_ESERVICE, what, reason(ARES_ESERVICE));
    return known;
}

/// The address `host` writes numerically, if it does: dotted IPv4, or IPv6 with an
/// optional scope and optional brackets.
std::optional<SocketAddress> numeric_host(const std::string& host, const std::string& what) {
    const bool bracketed = host.size() >= 2 && host.front() == '[' && host.back() == ']';
    const std::string text = bracketed ? host.substr(1, host.size() - 2) : host;
    in_addr v4{};
    if (!bracketed && ::inet_pton(AF_INET, text.c_str(), &v4) == 1) {
        return SocketAddress::parse(text, 0);
    }
    if (text.find(':') != std::string::npos) {
        try {
            SocketAddress address = SocketAddress::parse(text, 0);
            if (address.family() == AddressFamily::ipv6) return address;
        } catch (const std::invalid_argument&) {
        }
    }
    if (bracketed) {
        throw_dns_error(ARES_EBADNAME, what, "only an IPv6 address may be written in brackets");
    }
    return std::nullopt;
}

SocketAddress v4_mapped(const SocketAddress& v4_address) {
    sockaddr_in v4;
    std::memcpy(&v4, v4_address.native(), sizeof v4);
    sockaddr_in6 v6{};
    v6.sin6_family = AF_INET6;
    v6.sin6_addr.s6_addr[10] = 0xff;
    v6.sin6_addr.s6_addr[11] = 0xff;
    std::memcpy(&v6.sin6_addr.s6_addr[12], &v4.sin_addr, sizeof v4.sin_addr);
    return SocketAddress::from_native(reinterpret_cast<const sockaddr*>(&v6), sizeof v6);
}

/// getaddrinfo(3)'s answer for an empty host.
std::vector<SocketAddress> local_addresses(const AddressHints& hints) {
    const bool passive = (hints.flags & AI_PASSIVE) != 0;
    const SocketAddress v4 = SocketAddress::parse(passive ? "0.0.0.0" : "127.0.0.1", 0);
    const SocketAddress v6 = SocketAddress::parse(passive ? "::" : "::1", 0);
    switch (hints.family) {
        case AddressFamily::ipv4:
            return {v4};
        case AddressFamily::ipv6:
            return {v6};
        default:
            return passive ? std::vector{v4, v6} : std::vector{v6, v4};  // glibc's order
    }
}

int c_ares_flags(int flags) {
    int result = 0;
    if ((flags & AI_CANONNAME) != 0) result |= ARES_AI_CANONNAME;
    if ((flags & AI_V4MAPPED) != 0) result |= ARES_AI_V4MAPPED;
    if ((flags & AI_ALL) != 0) result |= ARES_AI_ALL;
    if ((flags & AI_ADDRCONFIG) != 0) result |= ARES_AI_ADDRCONFIG;
    return result;
}

struct Addresses {
    std::vector<SocketAddress> addresses;
    std::string canonical_name;
};

class AddrinfoAwaiter final : public detail::LookupAwaiter {
public:
    AddrinfoAwaiter(detail::Resolver& resolver, const std::string& host, const AddressHints& hints,
                    const std::string& what)
        : LookupAwaiter(resolver), host_(host), what_(what) {
        hints_.ai_family = static_cast<int>(hints.family);
        hints_.ai_flags = c_ares_flags(hints.flags);
    }

    Addresses await_resume() {
        LookupAwaiter::await_resume();
        return std::move(answer_);
    }

private:
    void start() override {
        // No service: the ports are known already, and c-ares would look names up for one
        // protocol only.
        resolver_->start(*this, [this](ares_channel channel, detail::Lookup* lookup) {
            ares_getaddrinfo(channel, host_.c_str(), nullptr, &hints_, &on_answer, lookup);
        });
    }

    static void on_answer(void* argument, int status, int, ares_addrinfo* result) noexcept {
        auto* lookup = static_cast<detail::Lookup*>(argument);
        if (lookup->awaiter != nullptr) {
            static_cast<AddrinfoAwaiter*>(lookup->awaiter)->take(status, result);
        }
        if (result != nullptr) ares_freeaddrinfo(result);
        lookup->resolver->finish(lookup);
    }

    void take(int status, const ares_addrinfo* result) noexcept {
        try {
            if (status != ARES_SUCCESS || result == nullptr) {
                throw_dns_error(status, what_, reason(status));
            }
            for (auto* node = result->nodes; node != nullptr; node = node->ai_next) {
                answer_.addresses.push_back(
                    SocketAddress::from_native(node->ai_addr, node->ai_addrlen));
            }
            // The end of the CNAME chain is the canonical name.
            for (auto* cname = result->cnames; cname != nullptr; cname = cname->next) {
                if (cname->next == nullptr && cname->name != nullptr) {
                    answer_.canonical_name = cname->name;
                }
            }
        } catch (...) {
            fail(std::current_exception());
        }
    }

    const std::string& host_;
    const std::string& what_;
    ares_addrinfo_hints hints_{};
    Addresses answer_;
};

class NameinfoAwaiter final : public detail::LookupAwaiter {
public:
    NameinfoAwaiter(detail::Resolver& resolver, const SocketAddress& address, int flags,
                    const std::string& what)
        : LookupAwaiter(resolver), address_(address), flags_(flags), what_(what) {}

    NameInfo await_resume() {
        LookupAwaiter::await_resume();
        return std::move(answer_);
    }

private:
    void start() override {
        resolver_->start(*this, [this](ares_channel channel, detail::Lookup* lookup) {
            ares_getnameinfo(channel, address_.native(),
                             static_cast<ares_socklen_t>(address_.native_size()), flags_,
                             &on_answer, lookup);
        });
    }

    static void on_answer(void* argument, int status, int, char* host, char* service) noexcept {
        auto* lookup = static_cast<detail::Lookup*>(argument);
        if (lookup->awaiter != nullptr) {
            static_cast<NameinfoAwaiter*>(lookup->awaiter)->take(status, host, service);
        }
        lookup->resolver->finish(lookup);
    }

    void take(int status, const char* host, const char* service) noexcept {
        try {
            if (status != ARES_SUCCESS) throw_dns_error(status, what_, reason(status));
            answer_.host = host != nullptr ? host : "";
            // c-ares 1.18 writes the scope of a numeric IPv6 answer even when there is
            // none ("::1%0"); getnameinfo(3) does not.
            if (address_.family() == AddressFamily::ipv6 && answer_.host.ends_with("%0")) {
                sockaddr_in6 v6;
                std::memcpy(&v6, address_.native(), sizeof v6);
                if (v6.sin6_scope_id == 0) answer_.host.resize(answer_.host.size() - 2);
            }
            // c-ares gives no service for port 0; getnameinfo(3) says "0".
            answer_.service = service != nullptr ? service : std::to_string(address_.port());
        } catch (...) {
            fail(std::current_exception());
        }
    }

    const SocketAddress& address_;
    int flags_;
    const std::string& what_;
    NameInfo answer_;
};

}  // namespace

Task<std::vector<AddressInfo>> getaddrinfo(std::string host, std::string service,
                                           AddressHints hints) {
    const std::string what = "getaddrinfo('" + printable(host) + "', '" + printable(service) + "')";
    if (hints.family != AddressFamily::unspecified && hints.family != AddressFamily::ipv4 &&
        hints.family != AddressFamily::ipv6) {
        throw_dns_error(ARES_EBADFAMILY, what, reason(ARES_EBADFAMILY));
    }
    if (hints.type != SocketType::any && hints.type != SocketType::stream &&
        hints.type != SocketType::datagram) {
        throw_dns_error(ARES_EBADHINTS, what, "the socket type is neither stream nor datagram");
    }
    if (host.find('\0') != std::string::npos) {
        throw_dns_error(ARES_EBADNAME, what, "NUL in the host name");
    }
    if (service.find('\0') != std::string::npos) {
        throw_dns_error(ARES_ESERVICE, what, "NUL in the service");
    }
    if (host.empty() && service.empty()) {
        throw_dns_error(ARES_ENONAME, what, "neither a host nor a service was given");
    }
    const std::vector<Transport> kinds = transports(service, hints, what);

    Addresses found;
    if (host.empty()) {
        found.addresses = local_addresses(hints);
    } else if (auto numeric = numeric_host(host, what)) {
        if (numeric->family() == AddressFamily::ipv4 && hints.family == AddressFamily::ipv6) {
            if ((hints.flags & AI_V4MAPPED) == 0) {
                throw_dns_error(ARES_EBADFAMILY, what,
                                "an IPv4 address, and only IPv6 was asked for");
            }
            numeric = v4_mapped(*numeric);
        } else if (numeric->family() == AddressFamily::ipv6 &&
                   hints.family == AddressFamily::ipv4) {
            throw_dns_error(ARES_EBADFAMILY, what, "an IPv6 address, and only IPv4 was asked for");
        }
        found.addresses.push_back(*numeric);
        found.canonical_name = host;
    } else if ((hints.flags & AI_NUMERICHOST) != 0) {
        throw_dns_error(ARES_ENONAME, what, reason(ARES_ENONAME));
    } else {
        AddrinfoAwaiter lookup(detail::running_resolver(), host, hints, what);
        found = co_await lookup;
        if (found.canonical_name.empty()) found.canonical_name = host;
    }

    std::vector<AddressInfo> result;
    result.reserve(found.addresses.size() * kinds.size());
    for (const SocketAddress& address : found.addresses) {
        for (const Transport& kind : kinds) {
            result.push_back(
                {address.family(), kind.type, kind.protocol, {}, address.with_port(kind.port)});
        }
    }
    if ((hints.flags & AI_CANONNAME) != 0 && !result.empty()) {
        result.front().canonical_name = std::move(found.canonical_name);
    }
    co_return result;
}

Task<NameInfo> getnameinfo(SocketAddress address, int flags) {
    const std::string what = "getnameinfo('" + address.to_string() + "')";
    if (address.family() != AddressFamily::ipv4 && address.family() != AddressFamily::ipv6) {
        throw_dns_error(ARES_EBADFAMILY, what, reason(ARES_EBADFAMILY));
    }
    int native = ARES_NI_LOOKUPHOST | ARES_NI_LOOKUPSERVICE;
    if ((flags & NI_NUMERICHOST) != 0) native |= ARES_NI_NUMERICHOST;
    if ((flags & NI_NUMERICSERV) != 0) native |= ARES_NI_NUMERICSERV;
    if ((flags & NI_NOFQDN) != 0) native |= ARES_NI_NOFQDN;
    if ((flags & NI_NAMEREQD) != 0) native |= ARES_NI_NAMEREQD;
    if ((flags & NI_DGRAM) != 0) native |= ARES_NI_DGRAM;
    NameinfoAwaiter lookup(detail::running_resolver(), address, native, what);
    co_return co_await lookup;
}

}  // namespace asyncio
