// open_connection: resolution, trying addresses in turn, happy eyeballs, options.

#include <string>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "net/connect.hpp"
#include "support/asyncio_test.hpp"

namespace asyncio {
namespace {

using namespace std::chrono_literals;

/// A port on 127.0.0.1 where nothing listens.
std::uint16_t closed_port() {
    auto probe = Socket::create(AddressFamily::ipv4, SocketType::stream);
    probe.bind(SocketAddress::parse("127.0.0.1", 0));
    return probe.local_address().port();
}

Task<> greet(StreamReader, StreamWriter writer) {
    writer.write("hi\n");
    co_return;
}

ASYNCIO_TEST(Tcp, ConnectsByNameThroughTheResolver) {
    auto server = co_await start_server(greet, "127.0.0.1", 0);
    auto [reader, writer] = co_await open_connection("localhost", server.sockets()[0].port());
    CO_ASSERT_EQ(co_await reader.readline(), "hi\n");
    server.close();
    co_await server.wait_closed();
}

ASYNCIO_TEST(Tcp, SetsNoDelayUnlessAskedNotTo) {
    auto server = co_await start_server(greet, "127.0.0.1", 0);
    auto [reader, writer] = co_await open_connection("127.0.0.1", server.sockets()[0].port());
    int value = 0;
    socklen_t size = sizeof value;
    ::getsockopt(writer.fd(), IPPROTO_TCP, TCP_NODELAY, &value, &size);
    CO_ASSERT_TRUE(value != 0);
    ConnectOptions options;
    options.no_delay = false;
    auto [reader2, writer2] =
        co_await open_connection("127.0.0.1", server.sockets()[0].port(), options);
    ::getsockopt(writer2.fd(), IPPROTO_TCP, TCP_NODELAY, &value, &size);
    CO_ASSERT_EQ(value, 0);
    server.close();
    co_await server.wait_closed();
}

ASYNCIO_TEST(Tcp, BindsToTheLocalAddressAsked) {
    auto server = co_await start_server(greet, "127.0.0.1", 0);
    ConnectOptions options;
    options.local_address = SocketAddress::parse("127.0.0.1", 0);
    auto [reader, writer] =
        co_await open_connection("127.0.0.1", server.sockets()[0].port(), options);
    CO_ASSERT_EQ(writer.sockname()->host(), "127.0.0.1");
    server.close();
    co_await server.wait_closed();
}

ASYNCIO_TEST(Tcp, TriesTheNextAddressWhenOneIsRefused) {
    auto server = co_await start_server(greet, "127.0.0.1", 0);
    std::vector<SocketAddress> addresses{SocketAddress::parse("127.0.0.1", closed_port()),
                                         server.sockets()[0]};
    ConnectOptions options;
    Socket socket = co_await detail::connect_any(addresses, options, "test");
    CO_ASSERT_EQ(socket.peer_address(), server.sockets()[0]);
    server.close();
    co_await server.wait_closed();
}

ASYNCIO_TEST(Tcp, HappyEyeballsStartsTheNextAttemptAndTheFirstToConnectWins) {
    auto server = co_await start_server(greet, "127.0.0.1", 0);
    std::vector<SocketAddress> addresses{SocketAddress::parse("127.0.0.1", closed_port()),
                                         SocketAddress::parse("127.0.0.1", closed_port()),
                                         server.sockets()[0]};
    ConnectOptions options;
    options.happy_eyeballs_delay = 250ms;
    Socket socket = co_await detail::connect_any(addresses, options, "test");
    CO_ASSERT_EQ(socket.peer_address(), server.sockets()[0]);
    server.close();
    co_await server.wait_closed();
}

ASYNCIO_TEST(Tcp, AllAttemptsRefusedAlikeGiveOneConnectionRefusedError) {
    for (const bool staggered : {false, true}) {
        std::vector<SocketAddress> addresses{SocketAddress::parse("127.0.0.1", closed_port()),
                                             SocketAddress::parse("127.0.0.1", closed_port())};
        ConnectOptions options;
        if (staggered) options.happy_eyeballs_delay = 250ms;
        bool refused = false;
        try {
            co_await detail::connect_any(addresses, options, "test");
        } catch (const ConnectionRefusedError&) {
            refused = true;
        }
        CO_ASSERT_TRUE(refused);
    }
}

ASYNCIO_TEST(Tcp, DifferentFailuresAreListedTogether) {
    // One attempt refused, the other unable even to bind.
    std::vector<SocketAddress> addresses{SocketAddress::parse("127.0.0.1", closed_port()),
                                         SocketAddress::parse("::1", closed_port())};
    // Make the IPv6 attempt fail differently: bind it to an IPv4-only local address.
    ConnectOptions options;
    options.local_address = SocketAddress::parse("127.0.0.1", 0);
    bool listed = false;
    try {
        co_await detail::connect_any(addresses, options, "example:1");
    } catch (const ConnectionRefusedError&) {
        listed = false;
    } catch (const OSError& error) {
        const std::string text = error.what();
        listed = text.find("Multiple exceptions connecting to example:1") != std::string::npos;
    }
    CO_ASSERT_TRUE(listed);
}

ASYNCIO_TEST(Tcp, AFamilyFilterThatExcludesANumericHostIsAnError) {
    ConnectOptions options;
    options.family = AddressFamily::ipv6;
    bool rejected = false;
    try {
        co_await open_connection("127.0.0.1", 1, options);
    } catch (const DnsError&) {
        rejected = true;
    }
    CO_ASSERT_TRUE(rejected);
}

ASYNCIO_TEST(Tcp, CancelledConnectLeavesNoDescriptor) {
    // The LeakCheck around every test verifies the descriptor count afterwards.
    auto server = co_await start_server(greet, "127.0.0.1", 0);
    for (int i = 0; i < 50; ++i) {
        auto connecting = create_task(open_connection("127.0.0.1", server.sockets()[0].port()));
        if (i % 2 == 0) co_await sleep(0s);
        connecting.cancel();
        try {
            co_await connecting;
        } catch (const CancelledError&) {
        }
    }
    server.close();
    co_await server.wait_closed();
}

}  // namespace
}  // namespace asyncio
