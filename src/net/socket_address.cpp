#include "asyncio/net/socket_address.hpp"

#include <cstring>
#include <stdexcept>

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

namespace asyncio {

static_assert(sizeof(sockaddr_storage) <= 128);
static_assert(static_cast<int>(AddressFamily::unix_local) == AF_UNIX);
static_assert(static_cast<int>(AddressFamily::ipv4) == AF_INET);
static_assert(static_cast<int>(AddressFamily::ipv6) == AF_INET6);

SocketAddress SocketAddress::parse(std::string_view host, std::uint16_t port) {
    SocketAddress result;
    const std::string text(host);
    sockaddr_in v4{};
    if (::inet_pton(AF_INET, text.c_str(), &v4.sin_addr) == 1) {
        v4.sin_family = AF_INET;
        v4.sin_port = htons(port);
        std::memcpy(result.storage_, &v4, sizeof v4);
        result.size_ = sizeof v4;
        return result;
    }
    // IPv6, with an optional "%scope" (interface name or number) for link-local addresses.
    std::string address = text;
    std::uint32_t scope = 0;
    if (const auto percent = text.find('%'); percent != std::string::npos) {
        address = text.substr(0, percent);
        const std::string zone = text.substr(percent + 1);
        scope = ::if_nametoindex(zone.c_str());
        if (scope == 0 && !zone.empty() &&
            zone.find_first_not_of("0123456789") == std::string::npos) {
            scope = static_cast<std::uint32_t>(std::stoul(zone));
        }
        if (scope == 0)
            throw std::invalid_argument("SocketAddress::parse: unknown scope in '" + text + "'");
    }
    if (!address.empty() && address.front() == '[' && address.back() == ']') {
        address = address.substr(1, address.size() - 2);
    }
    sockaddr_in6 v6{};
    if (::inet_pton(AF_INET6, address.c_str(), &v6.sin6_addr) == 1) {
        v6.sin6_family = AF_INET6;
        v6.sin6_port = htons(port);
        v6.sin6_scope_id = scope;
        std::memcpy(result.storage_, &v6, sizeof v6);
        result.size_ = sizeof v6;
        return result;
    }
    throw std::invalid_argument("SocketAddress::parse: '" + text +
                                "' is not a numeric IPv4 or IPv6 address");
}

SocketAddress SocketAddress::unix_path(std::string_view path) {
    sockaddr_un address{};
    if (path.empty()) throw std::invalid_argument("SocketAddress::unix_path: empty path");
    // A pathname needs room for its terminating NUL; an abstract name (leading NUL) does not.
    const std::size_t room = sizeof(address.sun_path) - (path.front() == '\0' ? 0 : 1);
    if (path.size() > room) {
        throw std::invalid_argument("SocketAddress::unix_path: '" + std::string(path) + "' is " +
                                    std::to_string(path.size()) + " bytes, the limit is " +
                                    std::to_string(room));
    }
    address.sun_family = AF_UNIX;
    std::memcpy(address.sun_path, path.data(), path.size());
    SocketAddress result;
    result.size_ = offsetof(sockaddr_un, sun_path) + path.size() + (path.front() == '\0' ? 0 : 1);
    std::memcpy(result.storage_, &address, sizeof address);
    return result;
}

SocketAddress SocketAddress::from_native(const sockaddr* address, std::size_t size) {
    SocketAddress result;
    result.set_native_size(size);
    if (size > 0) std::memcpy(result.storage_, address, size);
    return result;
}

void SocketAddress::set_native_size(std::size_t size) {
    if (size > sizeof storage_) {
        throw std::invalid_argument("SocketAddress: a native address of " + std::to_string(size) +
                                    " bytes is larger than any socket address");
    }
    size_ = size;
}

AddressFamily SocketAddress::family() const noexcept {
    if (size_ < sizeof(sa_family_t)) return AddressFamily::unspecified;
    return static_cast<AddressFamily>(reinterpret_cast<const sockaddr*>(storage_)->sa_family);
}

std::string SocketAddress::host() const {
    char text[INET6_ADDRSTRLEN + IF_NAMESIZE + 2] = {};
    switch (family()) {
        case AddressFamily::ipv4: {
            sockaddr_in v4;
            std::memcpy(&v4, storage_, sizeof v4);
            ::inet_ntop(AF_INET, &v4.sin_addr, text, sizeof text);
            return text;
        }
        case AddressFamily::ipv6: {
            sockaddr_in6 v6;
            std::memcpy(&v6, storage_, sizeof v6);
            ::inet_ntop(AF_INET6, &v6.sin6_addr, text, sizeof text);
            std::string result = text;
            if (v6.sin6_scope_id != 0) result += "%" + std::to_string(v6.sin6_scope_id);
            return result;
        }
        case AddressFamily::unix_local: {
            const std::size_t offset = offsetof(sockaddr_un, sun_path);
            if (size_ <= offset) return "";  // unnamed (socketpair, unbound client)
            std::string path(reinterpret_cast<const char*>(storage_) + offset, size_ - offset);
            if (!path.empty() && path.front() != '\0') {
                if (const auto nul = path.find('\0'); nul != std::string::npos) path.resize(nul);
            }
            return path;
        }
        default:
            return "";
    }
}

std::uint16_t SocketAddress::port() const noexcept {
    switch (family()) {
        case AddressFamily::ipv4: {
            sockaddr_in v4;
            std::memcpy(&v4, storage_, sizeof v4);
            return ntohs(v4.sin_port);
        }
        case AddressFamily::ipv6: {
            sockaddr_in6 v6;
            std::memcpy(&v6, storage_, sizeof v6);
            return ntohs(v6.sin6_port);
        }
        default:
            return 0;
    }
}

std::string SocketAddress::to_string() const {
    switch (family()) {
        case AddressFamily::ipv4:
            return host() + ":" + std::to_string(port());
        case AddressFamily::ipv6:
            return "[" + host() + "]:" + std::to_string(port());
        case AddressFamily::unix_local: {
            std::string path = host();
            if (!path.empty() && path.front() == '\0') path = "@" + path.substr(1);
            return path.empty() ? "<unnamed unix socket>" : path;
        }
        default:
            return "<no address>";
    }
}

SocketAddress SocketAddress::with_port(std::uint16_t new_port) const {
    SocketAddress copy = *this;
    if (family() == AddressFamily::ipv4) {
        reinterpret_cast<sockaddr_in*>(copy.storage_)->sin_port = htons(new_port);
    } else if (family() == AddressFamily::ipv6) {
        reinterpret_cast<sockaddr_in6*>(copy.storage_)->sin6_port = htons(new_port);
    }
    return copy;
}

const sockaddr* SocketAddress::native() const noexcept {
    return reinterpret_cast<const sockaddr*>(storage_);
}
sockaddr* SocketAddress::native() noexcept { return reinterpret_cast<sockaddr*>(storage_); }

bool operator==(const SocketAddress& a, const SocketAddress& b) noexcept {
    return a.size_ == b.size_ && std::memcmp(a.storage_, b.storage_, a.size_) == 0;
}

}  // namespace asyncio
