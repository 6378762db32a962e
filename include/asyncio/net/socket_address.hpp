#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

struct sockaddr;

namespace asyncio {

/// Address families, with the values of the platform's AF_* constants.
enum class AddressFamily : int { unspecified = 0, unix_local = 1, ipv4 = 2, ipv6 = 10 };

/// An IPv4, IPv6 or Unix-domain socket address, held by value (the role of Python's
/// address tuples such as `('127.0.0.1', 8080)`).
///
/// Example: `auto address = SocketAddress::parse("::1", 8080);`
class SocketAddress {
public:
    /// An empty address (family `unspecified`).
    SocketAddress() noexcept = default;

    /// A numeric IPv4 or IPv6 address ("127.0.0.1", "::1", "fe80::1%lo") and a port.
    /// Throws: std::invalid_argument naming the text when it is not a numeric address
    /// (use `getaddrinfo` for host names).
    static SocketAddress parse(std::string_view host, std::uint16_t port);
    /// A Unix-domain socket path; a leading '\0' makes it abstract (Linux).
    /// Throws: std::invalid_argument when the path is empty or longer than the system allows.
    static SocketAddress unix_path(std::string_view path);
    /// Copies a platform `sockaddr` of `size` bytes.
    /// Throws: std::invalid_argument when the size is larger than any address.
    static SocketAddress from_native(const sockaddr* address, std::size_t size);

    AddressFamily family() const noexcept;
    /// The numeric host ("127.0.0.1", "::1"), or the path of a Unix address.
    std::string host() const;
    /// The port, 0 for Unix addresses.
    std::uint16_t port() const noexcept;
    /// "127.0.0.1:8080", "[::1]:8080" or the Unix path: the form used in error messages.
    std::string to_string() const;
    /// A copy with another port.
    SocketAddress with_port(std::uint16_t port) const;

    const sockaddr* native() const noexcept;
    sockaddr* native() noexcept;
    std::size_t native_size() const noexcept { return size_; }
    /// Storage capacity, for calls that fill an address in (accept, recvfrom).
    static constexpr std::size_t capacity() noexcept { return sizeof(storage_); }
    void set_native_size(std::size_t size);

    friend bool operator==(const SocketAddress& a, const SocketAddress& b) noexcept;

private:
    alignas(8) unsigned char storage_[128]{};
    std::size_t size_ = 0;
};

}  // namespace asyncio
