// Keep-alive HTTP/1.1 "Hello, World!" server on the streams API, for wrk:
//
//   async def handle(reader, writer):
//       while True:
//           head = await reader.readuntil(b"\r\n\r\n")
//           ... parse the request line and the Connection header ...
//           writer.write(response)
//           await writer.drain()
//
// Requests are assumed to have no body (GET). Usage: http_server [port=0].
// Prints "listening on 127.0.0.1 PORT", then serves until killed.

#include <cstdio>
#include <cstdlib>
#include <string>

#include "http_request.hpp"
#include <asyncio/asyncio.hpp>

namespace {

asyncio::Task<> handle(asyncio::StreamReader reader, asyncio::StreamWriter writer) {
    try {
        for (;;) {
            std::string head = co_await reader.readuntil("\r\n\r\n");
            bench::Request request = bench::parse(head);
            if (!request.ok) break;
            writer.write(request.hello ? bench::hello_response : bench::not_found_response);
            co_await writer.drain();
            if (!request.keep_alive) break;
        }
    } catch (const asyncio::Error&) {
        // EOF between requests (IncompleteReadError), a head over the limit, a reset.
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

}  // namespace

int main(int argc, char** argv) {
    asyncio::run(serve(static_cast<std::uint16_t>(argc > 1 ? std::atoi(argv[1]) : 0)));
}
