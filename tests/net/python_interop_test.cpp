// Python's own asyncio streams as the independent peer: our client against a Python
// asyncio server, a Python asyncio client against our server.

#include <chrono>
#include <optional>
#include <string>

#include <sys/wait.h>

#include "support/asyncio_test.hpp"
#include "support/child_process.hpp"

namespace asyncio {
namespace {

using testing::ChildProcess;

std::string peer_script(const char* name) {
    return testing::test_source_dir() + "/net/peers/" + name;
}

ASYNCIO_TEST_WITH(PythonInterop, OurClientTalksToAPythonAsyncioServer,
                  (testing::TestOptions{.debug = false, .real_clock = true})) {
    ChildProcess python({"python3", peer_script("asyncio_echo_server.py")});
    CO_ASSERT_TRUE(python.wait_for_output("\n", std::chrono::seconds(30)));  // its port
    const auto port = static_cast<std::uint16_t>(std::stoi(python.output()));
    auto [reader, writer] = co_await open_connection("127.0.0.1", port);
    for (int i = 0; i < 500; ++i) {
        const std::string line = "line " + std::to_string(i) + "\n";
        writer.write(line);
        CO_ASSERT_EQ(co_await reader.readline(), line);
    }
    std::string blob(2 * 1024 * 1024, '\0');
    for (std::size_t i = 0; i < blob.size(); ++i) blob[i] = static_cast<char>(i * 7 % 251);
    writer.write(blob);
    co_await writer.drain();
    CO_ASSERT_TRUE(co_await reader.readexactly(blob.size()) == blob);
    writer.write_eof();
    CO_ASSERT_EQ(co_await reader.read(), "");  // the Python server closed after our EOF
    writer.close();
    co_await writer.wait_closed();
}

Task<> echo_lines(StreamReader reader, StreamWriter writer) {
    for (;;) {
        // The client sends one 1 MiB line: a limit large enough for it.
        std::string line = co_await reader.readline();
        if (line.empty()) break;
        writer.write(line);
        co_await writer.drain();
    }
}

ASYNCIO_TEST_WITH(PythonInterop, APythonAsyncioClientTalksToOurServer,
                  (testing::TestOptions{.debug = false, .real_clock = true})) {
    ServerOptions options;
    options.limit = 2 * 1024 * 1024;
    auto server = co_await start_server(echo_lines, "127.0.0.1", 0, options);
    ChildProcess python({"python3", peer_script("asyncio_client.py"),
                         std::to_string(server.sockets()[0].port()), "500"});
    // The client runs while this loop serves it: its exit is awaited on a thread.
    auto wait_exit = [&python] { return python.wait_exit(std::chrono::seconds(60)); };
    const std::optional<int> status = co_await to_thread(wait_exit);
    CO_ASSERT_TRUE(status.has_value());
    CO_ASSERT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0);
    CO_ASSERT_EQ(python.output(), "ok 500\n");
    server.close();
    co_await server.wait_closed();
}

}  // namespace
}  // namespace asyncio
