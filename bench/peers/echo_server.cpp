// TCP echo server on the streams API, as examples/echo_server.cpp, for the echo benchmark:
//
//   async def handle(reader, writer):
//       while data := await reader.read(65536):
//           writer.write(data)
//           await writer.drain()
//
// The backend is the loop's choice, or ASYNCIO_BACKEND=epoll|io_uring.
// Usage: echo_server [port=0]. Prints "listening on 127.0.0.1 PORT", then serves until killed.

#include <cstdio>
#include <cstdlib>
#include <string>

#include <asyncio/asyncio.hpp>

asyncio::Task<> handle(asyncio::StreamReader reader, asyncio::StreamWriter writer) {
    try {
        for (;;) {
            std::string data = co_await reader.read(65536);
            if (data.empty()) break;
            writer.write(data);
            co_await writer.drain();
        }
    } catch (const asyncio::ConnectionError&) {
    }
    writer.close();
}

asyncio::Task<> serve(std::uint16_t port) {
    asyncio::ServerOptions options;
    options.backlog = 4096;
    auto server = co_await asyncio::start_server(handle, "127.0.0.1", port, options);
    std::printf("listening on 127.0.0.1 %u\n", server.sockets().front().port());
    std::fflush(stdout);
    co_await server.serve_forever();
}

int main(int argc, char** argv) {
    asyncio::run(serve(static_cast<std::uint16_t>(argc > 1 ? std::atoi(argv[1]) : 0)));
}
