// A TCP echo server, the asyncio streams way:
//
//   async def handle(reader, writer):
//       while data := await reader.read(65536):
//           writer.write(data)
//           await writer.drain()
//
//   async def main():
//       server = await asyncio.start_server(handle, "127.0.0.1", 8888)
//       async with server:
//           await server.serve_forever()
//
// Usage: echo_server [port] [host]   (default 8888 on 127.0.0.1; Ctrl-C stops it)

#include <cstdlib>
#include <iostream>
#include <string>

#include <asyncio/asyncio.hpp>

asyncio::Task<> handle(asyncio::StreamReader reader, asyncio::StreamWriter writer) {
    for (;;) {
        std::string data = co_await reader.read(65536);
        if (data.empty()) break;  // the client closed its side
        writer.write(data);
        co_await writer.drain();  // waits while the client reads slower than it sends
    }
}

asyncio::Task<> serve(std::string host, std::uint16_t port) {
    auto server = co_await asyncio::start_server(handle, host, port);
    for (const auto& address : server.sockets()) {
        std::cout << "Serving on " << address.to_string() << "\n" << std::flush;
    }
    co_await server.serve_forever();
}

int main(int argc, char** argv) {
    const auto port = static_cast<std::uint16_t>(argc > 1 ? std::atoi(argv[1]) : 8888);
    const std::string host = argc > 2 ? argv[2] : "127.0.0.1";
    try {
        asyncio::run(serve(host, port));
    } catch (const asyncio::KeyboardInterrupt&) {
        std::cout << "\nStopped.\n";
    } catch (const std::exception& error) {
        std::cerr << "echo_server: " << error.what() << "\n";
        return 1;
    }
}
