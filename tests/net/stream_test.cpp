// StreamReader / StreamWriter over TCP, against our own server on 127.0.0.1.

#include <string>

#include <sys/socket.h>

#include "support/asyncio_test.hpp"

namespace asyncio {
namespace {

using namespace std::chrono_literals;

Task<> echo_lines(StreamReader reader, StreamWriter writer) {
    for (;;) {
        std::string line = co_await reader.readline();
        if (line.empty()) break;
        writer.write(line);
        co_await writer.drain();
    }
}

Task<> send_and_close(std::string data, StreamReader, StreamWriter writer) {
    writer.write(data);
    co_await writer.drain();
    writer.close();
    co_await writer.wait_closed();
}

/// A server on 127.0.0.1 that sends `data` to each client, then closes.
Task<Server> sender(std::string data) {
    // Built in its own statement: GCC 12 frees a capturing lambda twice when it shares an
    // expression with co_await (equeim/tremotesf2#551).
    ClientHandler handler = [data](StreamReader reader, StreamWriter writer) {
        return send_and_close(data, std::move(reader), std::move(writer));
    };
    co_return co_await start_server(std::move(handler), "127.0.0.1", 0);
}

std::uint16_t port_of(const Server& server) { return server.sockets().at(0).port(); }

ASYNCIO_TEST(Stream, EchoesLinesThroughOurServer) {
    auto server = co_await start_server(echo_lines, "127.0.0.1", 0);
    auto [reader, writer] = co_await open_connection("127.0.0.1", port_of(server));
    for (int i = 0; i < 100; ++i) {
        writer.write("line " + std::to_string(i) + "\n");
        CO_ASSERT_EQ(co_await reader.readline(), "line " + std::to_string(i) + "\n");
    }
    CO_ASSERT_EQ(writer.peername()->to_string(), server.sockets().at(0).to_string());
    CO_ASSERT_EQ(writer.sockname()->host(), "127.0.0.1");
    writer.close();
    co_await writer.wait_closed();
    server.close();
    co_await server.wait_closed();
}

ASYNCIO_TEST(Stream, ReadexactlyAtEofCarriesThePartialBytes) {
    auto server = co_await sender("hello");
    auto [reader, writer] = co_await open_connection("127.0.0.1", port_of(server));
    bool thrown = false;
    try {
        co_await reader.readexactly(10);
    } catch (const IncompleteReadError& error) {
        thrown = true;
        CO_ASSERT_EQ(error.partial(), "hello");
        CO_ASSERT_EQ(error.expected(), 10u);
    }
    CO_ASSERT_TRUE(thrown);
    CO_ASSERT_TRUE(reader.at_eof());
    server.close();
    co_await server.wait_closed();
}

ASYNCIO_TEST(Stream, ReadWithoutSizeReturnsEverythingUntilEof) {
    const std::string big(1'000'000, 'x');
    auto server = co_await sender(big);
    auto [reader, writer] = co_await open_connection("127.0.0.1", port_of(server));
    CO_ASSERT_EQ(co_await reader.read(), big);
    CO_ASSERT_EQ(co_await reader.read(), "");
    CO_ASSERT_EQ(co_await reader.read(10), "");
    server.close();
    co_await server.wait_closed();
}

ASYNCIO_TEST(Stream, ReaduntilPastTheLimitKeepsTheBytes) {
    auto server = co_await sender(std::string(100, 'a') + "|rest");
    ConnectOptions options;
    options.limit = 16;
    auto [reader, writer] = co_await open_connection("127.0.0.1", port_of(server), options);
    bool overrun = false;
    try {
        co_await reader.readuntil("|");
    } catch (const LimitOverrunError& error) {
        overrun = true;
        CO_ASSERT_TRUE(error.consumed() > 16);
    }
    CO_ASSERT_TRUE(overrun);
    // Python keeps the data in the buffer: it can still be read.
    CO_ASSERT_EQ(co_await reader.readexactly(100), std::string(100, 'a'));
    CO_ASSERT_EQ(co_await reader.readuntil("t"), "|rest");
    server.close();
    co_await server.wait_closed();
}

ASYNCIO_TEST(Stream, OverlongLineIsDiscardedAndTheNextLineReads) {
    auto server = co_await sender(std::string(50, 'z') + "\nshort\n");
    ConnectOptions options;
    options.limit = 16;
    auto [reader, writer] = co_await open_connection("127.0.0.1", port_of(server), options);
    bool overrun = false;
    try {
        co_await reader.readline();
    } catch (const LimitOverrunError&) {
        overrun = true;
    }
    CO_ASSERT_TRUE(overrun);
    // What was examined is gone, as in Python; the rest of the long line follows.
    std::string line;
    do {
        line = co_await reader.readline();
    } while (line != "short\n" && !line.empty());
    CO_ASSERT_EQ(line, "short\n");
    server.close();
    co_await server.wait_closed();
}

ASYNCIO_TEST(Stream, EmptySeparatorIsRejected) {
    auto server = co_await sender("x");
    auto [reader, writer] = co_await open_connection("127.0.0.1", port_of(server));
    bool thrown = false;
    try {
        co_await reader.readuntil("");
    } catch (const std::invalid_argument&) {
        thrown = true;
    }
    CO_ASSERT_TRUE(thrown);
    server.close();
    co_await server.wait_closed();
}

Task<> reply_after_eof(StreamReader reader, StreamWriter writer) {
    const std::string all = co_await reader.read();
    writer.write("got " + std::to_string(all.size()));
}

ASYNCIO_TEST(Stream, WriteEofHalfClosesAndTheReplyStillArrives) {
    auto server = co_await start_server(reply_after_eof, "127.0.0.1", 0);
    auto [reader, writer] = co_await open_connection("127.0.0.1", port_of(server));
    CO_ASSERT_TRUE(writer.can_write_eof());
    writer.write(std::string(5000, 'q'));
    writer.write_eof();
    CO_ASSERT_EQ(co_await reader.read(), "got 5000");
    bool refused = false;
    try {
        writer.write("more");
    } catch (const InvalidStateError&) {
        refused = true;
    }
    CO_ASSERT_TRUE(refused);
    server.close();
    co_await server.wait_closed();
}

ASYNCIO_TEST(Stream, ConnectingToAClosedPortIsRefusedWithTheAddress) {
    auto probe = Socket::create(AddressFamily::ipv4, SocketType::stream);
    probe.bind(SocketAddress::parse("127.0.0.1", 0));
    const std::uint16_t port = probe.local_address().port();
    probe.close();  // nothing listens there now
    bool refused = false;
    try {
        co_await open_connection("127.0.0.1", port);
    } catch (const ConnectionRefusedError& error) {
        refused = true;
        CO_ASSERT_TRUE(std::string(error.what()).find("127.0.0.1:" + std::to_string(port)) !=
                       std::string::npos);
        CO_ASSERT_EQ(error.code(), ECONNREFUSED);
    }
    CO_ASSERT_TRUE(refused);
}

ASYNCIO_TEST(Stream, WriteAfterCloseThrows) {
    auto server = co_await start_server(echo_lines, "127.0.0.1", 0);
    auto [reader, writer] = co_await open_connection("127.0.0.1", port_of(server));
    writer.close();
    CO_ASSERT_TRUE(writer.is_closing());
    bool thrown = false;
    try {
        writer.write("late");
    } catch (const InvalidStateError&) {
        thrown = true;
    }
    CO_ASSERT_TRUE(thrown);
    co_await writer.wait_closed();
    server.close();
    co_await server.wait_closed();
}

}  // namespace
}  // namespace asyncio
