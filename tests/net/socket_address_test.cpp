#include <stdexcept>

#include <gtest/gtest.h>

#include <asyncio/net/socket_address.hpp>

namespace asyncio {
namespace {

TEST(SocketAddress, ParsesIpv4AndPrintsHostAndPort) {
    const auto address = SocketAddress::parse("127.0.0.1", 8080);
    EXPECT_EQ(address.family(), AddressFamily::ipv4);
    EXPECT_EQ(address.host(), "127.0.0.1");
    EXPECT_EQ(address.port(), 8080);
    EXPECT_EQ(address.to_string(), "127.0.0.1:8080");
}

TEST(SocketAddress, ParsesIpv6WithOrWithoutBrackets) {
    const auto plain = SocketAddress::parse("::1", 443);
    const auto bracketed = SocketAddress::parse("[::1]", 443);
    EXPECT_EQ(plain.family(), AddressFamily::ipv6);
    EXPECT_EQ(plain, bracketed);
    EXPECT_EQ(plain.to_string(), "[::1]:443");
}

TEST(SocketAddress, ParsesAScopedLinkLocalAddress) {
    const auto address = SocketAddress::parse("fe80::1%lo", 1);
    EXPECT_EQ(address.family(), AddressFamily::ipv6);
    EXPECT_NE(address.host().find('%'), std::string::npos);
}

TEST(SocketAddress, RejectsNamesAndGarbageWithTheText) {
    for (const char* text : {"localhost", "", "1.2.3", "1.2.3.4.5", "::g", "fe80::1%nosuchif"}) {
        try {
            SocketAddress::parse(text, 1);
            ADD_FAILURE() << "accepted '" << text << "'";
        } catch (const std::invalid_argument& error) {
            EXPECT_NE(std::string(error.what()).find(text), std::string::npos) << error.what();
        }
    }
}

TEST(SocketAddress, UnixPathsAndAbstractNames) {
    const auto path = SocketAddress::unix_path("/run/app.sock");
    EXPECT_EQ(path.family(), AddressFamily::unix_local);
    EXPECT_EQ(path.host(), "/run/app.sock");
    EXPECT_EQ(path.port(), 0);
    const auto abstract = SocketAddress::unix_path(std::string_view("\0name", 5));
    EXPECT_EQ(abstract.to_string(), "@name");
    EXPECT_THROW(SocketAddress::unix_path(""), std::invalid_argument);
    EXPECT_THROW(SocketAddress::unix_path(std::string(108, 'x')), std::invalid_argument);
}

TEST(SocketAddress, WithPortChangesOnlyThePort) {
    const auto address = SocketAddress::parse("10.1.2.3", 1).with_port(65535);
    EXPECT_EQ(address.to_string(), "10.1.2.3:65535");
}

TEST(SocketAddress, EmptyAddressHasNoFamily) {
    const SocketAddress address;
    EXPECT_EQ(address.family(), AddressFamily::unspecified);
    EXPECT_EQ(address.to_string(), "<no address>");
    EXPECT_THROW(SocketAddress::from_native(nullptr, 4096), std::invalid_argument);
}

}  // namespace
}  // namespace asyncio
