// asyncio::Server: start_server / start_unix_server, closing, waiting, errors.

#include <cstdio>
#include <string>
#include <vector>

#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "support/asyncio_test.hpp"

namespace asyncio {
namespace {

using namespace std::chrono_literals;

Task<> echo_once(StreamReader reader, StreamWriter writer) {
    const std::string line = co_await reader.readline();
    writer.write(line);
}

Task<> hold_until_eof(StreamReader reader, StreamWriter writer) {
    co_await reader.read();
    writer.write("bye\n");
}

Task<std::string> ask(std::uint16_t port, std::string line, std::string host = "127.0.0.1") {
    auto [reader, writer] = co_await open_connection(host, port);
    writer.write(line);
    co_return co_await reader.readline();
}

ASYNCIO_TEST(Server, WaitClosedReturnsOnlyAfterTheLastConnectionCloses) {
    // gh-79033: Server.wait_closed() returned at once in CPython before 3.12.1.
    auto server = co_await start_server(hold_until_eof, "127.0.0.1", 0);
    auto [reader, writer] = co_await open_connection("127.0.0.1", server.sockets()[0].port());
    while (server.active_connections() == 0) co_await sleep(0s);
    server.close();
    CO_ASSERT_TRUE(!server.is_serving());
    bool closed = false;
    auto waiting = create_task([](Server s, bool& done) -> Task<> {
        co_await s.wait_closed();
        done = true;
    }(server, closed));
    for (int i = 0; i < 10; ++i) co_await sleep(0s);
    CO_ASSERT_TRUE(!closed);  // the connection is still open
    writer.write_eof();
    CO_ASSERT_EQ(co_await reader.readline(), "bye\n");
    co_await waiting;
    CO_ASSERT_TRUE(closed);
    CO_ASSERT_EQ(server.active_connections(), 0u);
}

ASYNCIO_TEST(Server, ServesIpv4AndIpv6OnOnePort) {
    std::vector<std::string> hosts{"127.0.0.1", "::1"};
    auto server = co_await start_server(echo_once, hosts, 0);
    const auto addresses = server.sockets();
    CO_ASSERT_EQ(addresses.size(), 2u);
    CO_ASSERT_EQ(addresses[0].family(), AddressFamily::ipv4);
    CO_ASSERT_EQ(addresses[1].family(), AddressFamily::ipv6);
    CO_ASSERT_EQ(co_await ask(addresses[0].port(), "four\n"), "four\n");
    CO_ASSERT_EQ(co_await ask(addresses[1].port(), "six\n", "::1"), "six\n");
    server.close();
    co_await server.wait_closed();
}

ASYNCIO_TEST(Server, ASecondServerOnTheSamePortGetsAddressInUse) {
    auto first = co_await start_server(echo_once, "127.0.0.1", 0);
    const std::uint16_t port = first.sockets()[0].port();
    bool in_use = false;
    try {
        co_await start_server(echo_once, "127.0.0.1", port);
    } catch (const AddressInUseError& error) {
        in_use = std::string(error.what()).find("127.0.0.1:" + std::to_string(port)) !=
                 std::string::npos;
    }
    CO_ASSERT_TRUE(in_use);
    // With SO_REUSEPORT on both, two servers share the port.
    ServerOptions shared;
    shared.reuse_port = true;
    auto a = co_await start_server(echo_once, "127.0.0.1", 0, shared);
    auto b = co_await start_server(echo_once, "127.0.0.1", a.sockets()[0].port(), shared);
    CO_ASSERT_EQ(co_await ask(a.sockets()[0].port(), "shared\n"), "shared\n");
    for (Server* server : {&first, &a, &b}) {
        server->close();
        co_await server->wait_closed();
    }
}

ASYNCIO_TEST(Server, ServeForeverEndsWhenCancelledAndClosesTheServer) {
    ServerOptions options;
    options.start_serving = false;
    auto server = co_await start_server(echo_once, "127.0.0.1", 0, options);
    CO_ASSERT_TRUE(!server.is_serving());
    auto forever = create_task(server.serve_forever());
    co_await sleep(0s);
    CO_ASSERT_TRUE(server.is_serving());
    CO_ASSERT_EQ(co_await ask(server.sockets()[0].port(), "hello\n"), "hello\n");
    bool refused = false;
    try {
        co_await server.serve_forever();
    } catch (const RuntimeError&) {
        refused = true;
    }
    CO_ASSERT_TRUE(refused);
    forever.cancel();
    bool cancelled = false;
    try {
        co_await forever;
    } catch (const CancelledError&) {
        cancelled = true;
    }
    CO_ASSERT_TRUE(cancelled);
    CO_ASSERT_TRUE(!server.is_serving());
    bool connect_refused = false;
    try {
        co_await open_connection("127.0.0.1", server.sockets()[0].port());
    } catch (const ConnectionRefusedError&) {
        connect_refused = true;
    }
    CO_ASSERT_TRUE(connect_refused);
}

ASYNCIO_TEST(Server, AHandlerErrorIsReportedAndTheServerGoesOn) {
    testing::LogCapture log;
    int calls = 0;
    ClientHandler handler = [&calls](StreamReader reader, StreamWriter writer) -> Task<> {
        const std::string line = co_await reader.readline();
        if (++calls == 1) throw std::runtime_error("handler failed on purpose");
        writer.write(line);
    };
    auto server = co_await start_server(std::move(handler), "127.0.0.1", 0);
    const std::uint16_t port = server.sockets()[0].port();
    CO_ASSERT_EQ(co_await ask(port, "first\n"), "");  // closed without an answer
    CO_ASSERT_EQ(co_await ask(port, "second\n"), "second\n");
    CO_ASSERT_TRUE(log.contains("handler failed on purpose"));
    server.close();
    co_await server.wait_closed();
}

ASYNCIO_TEST(Server, CloseClientsAndAbortClientsEndTheConnections) {
    auto server = co_await start_server(hold_until_eof, "127.0.0.1", 0);
    const std::uint16_t port = server.sockets()[0].port();
    auto [reader1, writer1] = co_await open_connection("127.0.0.1", port);
    auto [reader2, writer2] = co_await open_connection("127.0.0.1", port);
    while (server.active_connections() < 2) co_await sleep(0s);
    server.close();
    server.close_clients();
    CO_ASSERT_EQ(co_await reader1.read(), "");
    CO_ASSERT_EQ(co_await reader2.read(), "");
    co_await server.wait_closed();

    auto second = co_await start_server(hold_until_eof, "127.0.0.1", 0);
    auto [reader3, writer3] = co_await open_connection("127.0.0.1", second.sockets()[0].port());
    while (second.active_connections() < 1) co_await sleep(0s);
    second.close();
    second.abort_clients();
    CO_ASSERT_EQ(co_await reader3.read(), "");
    co_await second.wait_closed();
}

ASYNCIO_TEST(Server, UnixServerRoundTripAndSocketFileRemovedOnClose) {
    char directory[] = "/tmp/asyncio-unix-XXXXXX";
    CO_ASSERT_TRUE(::mkdtemp(directory) != nullptr);
    const std::string path = std::string(directory) + "/echo.sock";
    auto server = co_await start_unix_server(echo_once, path);
    CO_ASSERT_EQ(server.sockets()[0].host(), path);
    auto [reader, writer] = co_await open_unix_connection(path);
    writer.write("over unix\n");
    CO_ASSERT_EQ(co_await reader.readline(), "over unix\n");
    CO_ASSERT_EQ(writer.peername()->host(), path);
    server.close();
    co_await server.wait_closed();
    CO_ASSERT_TRUE(::access(path.c_str(), F_OK) != 0);
    ::rmdir(directory);
}

ASYNCIO_TEST(Server, AStaleUnixSocketFileIsReplaced) {
    char directory[] = "/tmp/asyncio-unix-XXXXXX";
    CO_ASSERT_TRUE(::mkdtemp(directory) != nullptr);
    const std::string path = std::string(directory) + "/stale.sock";
    {
        // A socket file left behind by a process that died.
        auto stale = Socket::create(AddressFamily::unix_local, SocketType::stream);
        stale.bind(SocketAddress::unix_path(path));
    }
    auto server = co_await start_unix_server(echo_once, path);
    auto [reader, writer] = co_await open_unix_connection(path);
    writer.write("fresh\n");
    CO_ASSERT_EQ(co_await reader.readline(), "fresh\n");
    server.close();
    co_await server.wait_closed();
    ::rmdir(directory);
}

ASYNCIO_TEST(Server, AbstractUnixSocketsWork) {
    const std::string name = std::string(1, '\0') + "asyncio-test-" + std::to_string(::getpid());
    auto server = co_await start_unix_server(echo_once, name);
    auto [reader, writer] = co_await open_unix_connection(name);
    writer.write("abstract\n");
    CO_ASSERT_EQ(co_await reader.readline(), "abstract\n");
    server.close();
    co_await server.wait_closed();
}

ASYNCIO_TEST(Server, UnixPathTooLongIsAClearError) {
    bool rejected = false;
    try {
        co_await start_unix_server(echo_once, "/tmp/" + std::string(200, 'x'));
    } catch (const std::invalid_argument& error) {
        rejected = std::string(error.what()).find("limit") != std::string::npos;
    }
    CO_ASSERT_TRUE(rejected);
}

/// Lowers RLIMIT_NOFILE for the scope of a test, then restores it.
class DescriptorLimit {
public:
    explicit DescriptorLimit(rlim_t limit) {
        ::getrlimit(RLIMIT_NOFILE, &saved_);
        rlimit lowered = saved_;
        lowered.rlim_cur = limit;
        ::setrlimit(RLIMIT_NOFILE, &lowered);
    }
    ~DescriptorLimit() { ::setrlimit(RLIMIT_NOFILE, &saved_); }
    DescriptorLimit(const DescriptorLimit&) = delete;
    DescriptorLimit& operator=(const DescriptorLimit&) = delete;

private:
    rlimit saved_{};
};

Task<> accept_loop_survives_emfile();

TEST(Server, AcceptLoopSurvivesEmfileAndServesOnceDescriptorsFreeUp) {
#if defined(__SANITIZE_ADDRESS__)
    // UBSan's vptr check probes memory through a pipe: with no descriptor left it reports
    // every virtual call as invalid. The test runs in the other builds.
    GTEST_SKIP() << "needs descriptors free for the sanitizer runtime";
#endif
    testing::run_test(accept_loop_survives_emfile(), {.debug = false, .real_clock = true});
}

Task<> accept_loop_survives_emfile() {
    testing::LogCapture log;
    auto server = co_await start_server(echo_once, "127.0.0.1", 0);
    const auto address = server.sockets()[0];
    // Everything the test needs later is opened now; then the limit is set so that the next
    // descriptor cannot be created, until `spare` is closed.
    auto client = Socket::create(AddressFamily::ipv4, SocketType::stream);
    const int spare = ::dup(0);
    const int lowest_free = ::dup(0);
    ::close(lowest_free);
    CO_ASSERT_TRUE(spare < lowest_free);
    std::string answer;
    {
        DescriptorLimit limit(static_cast<rlim_t>(lowest_free));
        // Now the lowest free number is at the limit: accept4() fails with EMFILE.
        co_await sock_connect(client, address);
        while (!log.contains("retrying")) co_await sleep(10ms);
        CO_ASSERT_TRUE(log.contains("Too many open files"));
        ::close(spare);  // one descriptor free: the retry (1 s later) accepts
        co_await sock_sendall(client, "still serving\n");
        answer = co_await sock_recv(client, 100);
    }
    CO_ASSERT_EQ(answer, "still serving\n");
    server.close();
    co_await server.wait_closed();
}

}  // namespace
}  // namespace asyncio
