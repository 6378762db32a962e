// UDP endpoints on 127.0.0.1.

#include <set>
#include <string>

#include <sys/socket.h>

#include "support/asyncio_test.hpp"

namespace asyncio {
namespace {

using namespace std::chrono_literals;

Task<DatagramEndpoint> bound_endpoint(std::string host = "127.0.0.1") {
    DatagramOptions options;
    options.local = HostPort{host, 0};
    co_return co_await create_datagram_endpoint(options);
}

ASYNCIO_TEST(Udp, DatagramsTravelBothWaysWithTheirSender) {
    auto a = co_await bound_endpoint();
    auto b = co_await bound_endpoint();
    co_await a.sendto("ping", b.local_address());
    auto [data, sender] = co_await b.recvfrom();
    CO_ASSERT_EQ(data, "ping");
    CO_ASSERT_EQ(sender, a.local_address());
    co_await b.sendto("pong", sender);
    CO_ASSERT_EQ(co_await a.recv(), "pong");
}

ASYNCIO_TEST(Udp, Ipv6Loopback) {
    auto a = co_await bound_endpoint("::1");
    auto b = co_await bound_endpoint("::1");
    co_await a.sendto("six", b.local_address());
    auto datagram = co_await b.recvfrom();
    CO_ASSERT_EQ(datagram.data, "six");
    CO_ASSERT_EQ(datagram.sender.family(), AddressFamily::ipv6);
}

ASYNCIO_TEST(Udp, AThousandDatagramsEachArriveWhole) {
    auto receiver = co_await bound_endpoint();
    auto sender = co_await bound_endpoint();
    constexpr int count = 1000;
    std::set<std::string> seen;
    auto receiving =
        create_task([](DatagramEndpoint& endpoint, std::set<std::string>& out) -> Task<> {
            while (out.size() < count) out.insert(co_await endpoint.recv());
        }(receiver, seen));
    for (int i = 0; i < count; ++i) {
        co_await sender.sendto("datagram " + std::to_string(i), receiver.local_address());
        if (i % 50 == 0) co_await sleep(0s);  // let the receiver keep up with the socket buffer
    }
    co_await testing::finishes(receiving);
    CO_ASSERT_EQ(seen.size(), static_cast<std::size_t>(count));
    CO_ASSERT_EQ(seen.count("datagram 999"), 1u);
}

ASYNCIO_TEST(Udp, ConnectedEndpointSendsAndReceivesFromItsPeerOnly) {
    auto server = co_await bound_endpoint();
    DatagramOptions options;
    options.remote = HostPort{"127.0.0.1", server.local_address().port()};
    auto client = co_await create_datagram_endpoint(options);
    CO_ASSERT_EQ(*client.remote_address(), server.local_address());
    co_await client.send("hello");
    auto [data, from] = co_await server.recvfrom();
    CO_ASSERT_EQ(data, "hello");
    // A stranger's datagram is dropped by the kernel; the peer's arrives.
    auto stranger = co_await bound_endpoint();
    co_await stranger.sendto("intruder", client.local_address());
    co_await server.sendto("reply", from);
    CO_ASSERT_EQ(co_await client.recv(), "reply");
}

ASYNCIO_TEST(Udp, SendOnAnUnconnectedEndpointIsAnError) {
    auto endpoint = co_await bound_endpoint();
    bool refused = false;
    try {
        co_await endpoint.send("x");
    } catch (const InvalidStateError&) {
        refused = true;
    }
    CO_ASSERT_TRUE(refused);
}

ASYNCIO_TEST(Udp, OversizedDatagramIsEmsgsizeNamingTheDestination) {
    auto a = co_await bound_endpoint();
    auto b = co_await bound_endpoint();
    bool too_big = false;
    try {
        co_await a.sendto(std::string(70'000, 'x'), b.local_address());
    } catch (const OSError& error) {
        too_big =
            error.code() == EMSGSIZE &&
            std::string(error.what()).find(b.local_address().to_string()) != std::string::npos;
    }
    CO_ASSERT_TRUE(too_big);
}

ASYNCIO_TEST(Udp, BroadcastOptionIsSetOnlyWhenAsked) {
    auto plain = co_await bound_endpoint();
    CO_ASSERT_EQ(plain.socket().get_option(SOL_SOCKET, SO_BROADCAST), 0);
    DatagramOptions options;
    options.local = HostPort{"127.0.0.1", 0};
    options.allow_broadcast = true;
    auto broadcaster = co_await create_datagram_endpoint(options);
    CO_ASSERT_TRUE(broadcaster.socket().get_option(SOL_SOCKET, SO_BROADCAST) != 0);
}

ASYNCIO_TEST(Udp, CancelledReceiveLeavesTheEndpointUsable) {
    auto a = co_await bound_endpoint();
    auto b = co_await bound_endpoint();
    auto waiting = create_task(b.recv());
    co_await sleep(0s);
    waiting.cancel();
    co_await sleep(0s);
    CO_ASSERT_TRUE(waiting.cancelled());
    co_await a.sendto("after cancel", b.local_address());
    CO_ASSERT_EQ(co_await b.recv(), "after cancel");
}

ASYNCIO_TEST(Udp, NeitherLocalNorRemoteIsRejected) {
    bool rejected = false;
    try {
        co_await create_datagram_endpoint({});
    } catch (const std::invalid_argument&) {
        rejected = true;
    }
    CO_ASSERT_TRUE(rejected);
}

}  // namespace
}  // namespace asyncio
