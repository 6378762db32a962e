// The low-level sock_* operations (Python's loop.sock_*).

#include <cstdlib>
#include <string>
#include <thread>

#include <fcntl.h>
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include "support/asyncio_test.hpp"

namespace asyncio {
namespace {

using namespace std::chrono_literals;

struct Pair {
    Socket client;
    Socket server;
};

Task<Pair> connected_pair() {
    auto listener = Socket::create(AddressFamily::ipv4, SocketType::stream);
    listener.bind(SocketAddress::parse("127.0.0.1", 0));
    listener.listen();
    auto client = Socket::create(AddressFamily::ipv4, SocketType::stream);
    auto accepting = create_task(sock_accept(listener));
    co_await sock_connect(client, listener.local_address());
    auto accepted = co_await std::move(accepting);
    EXPECT_EQ(accepted.peer, client.local_address());
    co_return Pair{std::move(client), std::move(accepted.socket)};
}

ASYNCIO_TEST(Socket, ConnectAcceptSendallRecv) {
    auto [client, server] = co_await connected_pair();
    const std::string big(5 * 1024 * 1024, 'b');
    auto sending = create_task(sock_sendall(client, big));
    std::string received;
    while (received.size() < big.size()) {
        received += co_await sock_recv(server, 1 << 16);
    }
    co_await sending;
    CO_ASSERT_TRUE(received == big);
    client.shutdown_write();
    CO_ASSERT_EQ(co_await sock_recv(server, 10), "");
}

ASYNCIO_TEST(Socket, RecvIntoFillsTheCallersBuffer) {
    auto [client, server] = co_await connected_pair();
    co_await sock_sendall(client, "abcdef");
    char buffer[4];
    const std::size_t n = co_await sock_recv_into(server, buffer);
    CO_ASSERT_EQ(n, 4u);
    CO_ASSERT_EQ(std::string(buffer, 4), "abcd");
}

ASYNCIO_TEST(Socket, SendfileSendsTheFileWithoutCopies) {
    char path[] = "/tmp/asyncio-sendfile-XXXXXX";
    const int file = ::mkstemp(path);
    CO_ASSERT_TRUE(file >= 0);
    ::unlink(path);
    std::string content;
    for (int i = 0; i < 200'000; ++i) content += static_cast<char>('0' + i % 10);
    CO_ASSERT_EQ(::write(file, content.data(), content.size()),
                 static_cast<ssize_t>(content.size()));
    auto [client, server] = co_await connected_pair();
    auto reading = create_task([](Socket& socket, std::size_t want) -> Task<std::string> {
        std::string data;
        while (data.size() < want) {
            std::string chunk = co_await sock_recv(socket, 1 << 16);
            if (chunk.empty()) break;
            data += chunk;
        }
        co_return data;
    }(server, content.size() - 100));
    // From offset 100 to the end of the file.
    const std::size_t sent = co_await sock_sendfile(client, file, 100);
    CO_ASSERT_EQ(sent, content.size() - 100);
    CO_ASSERT_TRUE(co_await reading == content.substr(100));
    // A count: exactly that many.
    const std::size_t part = co_await sock_sendfile(client, file, 0, 10);
    CO_ASSERT_EQ(part, 10u);
    CO_ASSERT_EQ(co_await sock_recv(server, 100), content.substr(0, 10));
    ::close(file);
}

ASYNCIO_TEST(Socket, ConnectRefusedNamesTheAddress) {
    auto probe = Socket::create(AddressFamily::ipv4, SocketType::stream);
    probe.bind(SocketAddress::parse("127.0.0.1", 0));
    const auto address = probe.local_address();
    probe.close();
    auto socket = Socket::create(AddressFamily::ipv4, SocketType::stream);
    bool refused = false;
    try {
        co_await sock_connect(socket, address);
    } catch (const ConnectionRefusedError& error) {
        refused = std::string(error.what()).find(address.to_string()) != std::string::npos;
    }
    CO_ASSERT_TRUE(refused);
}

ASYNCIO_TEST(Socket, CancelledAcceptLeavesTheListenerUsable) {
    auto listener = Socket::create(AddressFamily::ipv4, SocketType::stream);
    listener.bind(SocketAddress::parse("127.0.0.1", 0));
    listener.listen();
    auto waiting = create_task(sock_accept(listener));
    co_await sleep(0s);
    waiting.cancel();
    co_await sleep(0s);
    CO_ASSERT_TRUE(waiting.cancelled());
    auto client = Socket::create(AddressFamily::ipv4, SocketType::stream);
    co_await sock_connect(client, listener.local_address());
    auto accepted = co_await sock_accept(listener);
    CO_ASSERT_TRUE(accepted.socket.is_open());
}

ASYNCIO_TEST(Socket, ClosingWithAPendingRecvThenReusingTheNumberNeverCrossesCompletions) {
    // libuv #4323: a stale registration of a closed descriptor reached the socket that
    // reused its number. Here: a pending recv on a socket that is closed, a new socket with
    // the same number, data on the new one only: the old recv must not see it.
    constexpr int rounds = 2000;
    for (int i = 0; i < rounds; ++i) {
        int fds[2];
        CO_ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds), 0);
        Socket old_socket = Socket::adopt(fds[0]);
        Socket old_peer = Socket::adopt(fds[1]);
        const int number = old_socket.fd();
        auto stale = create_task(sock_recv(old_socket, 16));
        co_await sleep(0s);
        old_socket.close();
        int fresh[2];
        CO_ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fresh),
                     0);
        Socket new_socket = Socket::adopt(fresh[0]);
        Socket new_peer = Socket::adopt(fresh[1]);
        CO_ASSERT_EQ(new_socket.fd(), number);  // the number was reused
        co_await sock_sendall(new_peer, "fresh");
        bool ended = false;
        try {
            co_await stale;
        } catch (const OSError& error) {
            ended = error.code() == ECANCELED;
        }
        CO_ASSERT_TRUE(ended);
        CO_ASSERT_EQ(co_await sock_recv(new_socket, 16), "fresh");
    }
}

ASYNCIO_TEST(Socket, BadDescriptorsAreClearErrors) {
    bool rejected = false;
    try {
        Socket::adopt(-1);
    } catch (const std::invalid_argument&) {
        rejected = true;
    }
    CO_ASSERT_TRUE(rejected);
    Socket closed;
    bool failed = false;
    try {
        co_await sock_recv(closed, 10);
    } catch (const OSError& error) {
        failed = error.code() == EBADF;
    }
    CO_ASSERT_TRUE(failed);
    auto socket = Socket::create(AddressFamily::ipv4, SocketType::stream);
    bool not_connected = false;
    try {
        socket.peer_address();
    } catch (const OSError& error) {
        not_connected = error.code() == ENOTCONN;
    }
    CO_ASSERT_TRUE(not_connected);
}

ASYNCIO_TEST(Socket, TheLoopMethodsAreTheSameOperations) {
    EventLoop& loop = get_running_loop();
    auto listener = Socket::create(AddressFamily::ipv4, SocketType::stream);
    listener.bind(SocketAddress::parse("127.0.0.1", 0));
    listener.listen();
    auto client = Socket::create(AddressFamily::ipv4, SocketType::stream);
    co_await loop.sock_connect(client, listener.local_address());
    auto accepted = co_await loop.sock_accept(listener);
    co_await loop.sock_sendall(client, "via the loop");
    CO_ASSERT_EQ(co_await loop.sock_recv(accepted.socket, 100), "via the loop");
    const auto infos = co_await loop.getaddrinfo("127.0.0.1", "80", {});
    CO_ASSERT_TRUE(!infos.empty());
    const auto name = co_await loop.getnameinfo(SocketAddress::parse("127.0.0.1", 80),
                                                NI_NUMERICHOST | NI_NUMERICSERV);
    CO_ASSERT_EQ(name.host, "127.0.0.1");
}

ASYNCIO_TEST(Socket, TheLoopMethodsRefuseALoopThatIsNotRunning) {
    EventLoop other;
    Socket socket;
    bool refused = false;
    try {
        co_await other.sock_recv(socket, 1);
    } catch (const RuntimeError& error) {
        refused = std::string(error.what()).find("sock_recv") != std::string::npos;
    }
    CO_ASSERT_TRUE(refused);
    other.close();
}

ASYNCIO_TEST(Socket, ReadinessNobodyWaitsForDoesNotMakeTheTestClockJump) {
    // The test clock jumps to the next timer only when no I/O is due. A poll woken by
    // readiness of a descriptor nobody waits on any more (epoll keeps interest after a
    // recv) delivers nothing; it once made the clock jump while a recv was still pending,
    // so a 60 s timeout fired within milliseconds.
    int idle_fds[2];
    int busy_fds[2];
    CO_ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, idle_fds), 0);
    CO_ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, busy_fds), 0);
    Socket idle = Socket::adopt(idle_fds[0]);
    Socket idle_peer = Socket::adopt(idle_fds[1]);
    Socket busy = Socket::adopt(busy_fds[0]);
    Socket busy_peer = Socket::adopt(busy_fds[1]);
    auto waiting_for_first = create_task(sock_recv(idle, 16));
    co_await sleep(0s);  // the recv waits: the descriptor is registered
    co_await sock_sendall(idle_peer, "first");
    CO_ASSERT_EQ(co_await std::move(waiting_for_first), "first");

    // Only the peers' descriptors are written from the thread, in this order.
    std::thread writer([idle_peer_fd = idle_peer.fd(), busy_peer_fd = busy_peer.fd()] {
        std::this_thread::sleep_for(20ms);
        [[maybe_unused]] auto a = ::write(idle_peer_fd, "x", 1);
        std::this_thread::sleep_for(200ms);
        [[maybe_unused]] auto b = ::write(busy_peer_fd, "y", 1);
    });
    const TimePoint start = get_running_loop().time();
    std::string received;
    try {
        received = co_await wait_for(sock_recv(busy, 16), 60s);
    } catch (const TimeoutError&) {
    }
    const Duration elapsed = get_running_loop().time() - start;
    writer.join();
    EXPECT_EQ(received, "y");
    EXPECT_LT(elapsed, 30s);
}

}  // namespace
}  // namespace asyncio
