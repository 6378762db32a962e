// Keep-alive HTTP/1.1 "Hello, World!" server on Boost.Asio C++20 coroutines, one io_context
// thread: async_read_until "\r\n\r\n", the same parse as ours (http_request.hpp), one
// async_write per response.
//
// Usage: http_server_asio [port=0]. Prints "listening on 127.0.0.1 PORT", then serves until
// killed.

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include <boost/asio.hpp>

#include "http_request.hpp"

namespace asio = boost::asio;
using asio::ip::tcp;

asio::awaitable<void> serve_connection(tcp::socket socket) {
    std::string buffer;
    try {
        for (;;) {
            std::size_t n = co_await asio::async_read_until(socket, asio::dynamic_buffer(buffer),
                                                            "\r\n\r\n", asio::use_awaitable);
            bench::Request request = bench::parse(std::string_view(buffer).substr(0, n));
            buffer.erase(0, n);
            if (!request.ok) break;
            std::string_view response =
                request.hello ? bench::hello_response : bench::not_found_response;
            co_await asio::async_write(socket, asio::buffer(response.data(), response.size()),
                                       asio::use_awaitable);
            if (!request.keep_alive) break;
        }
    } catch (const boost::system::system_error&) {
        // EOF between requests or a reset: the connection is done.
    }
}

asio::awaitable<void> listen(tcp::acceptor& acceptor) {
    for (;;) {
        tcp::socket socket = co_await acceptor.async_accept(asio::use_awaitable);
        socket.set_option(tcp::no_delay(true));
        asio::co_spawn(acceptor.get_executor(), serve_connection(std::move(socket)),
                       asio::detached);
    }
}

int main(int argc, char** argv) {
    const auto port = static_cast<unsigned short>(argc > 1 ? std::atoi(argv[1]) : 0);
    asio::io_context context(1);
    tcp::acceptor acceptor(context);
    tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), port);
    acceptor.open(endpoint.protocol());
    acceptor.set_option(tcp::acceptor::reuse_address(true));
    acceptor.bind(endpoint);
    acceptor.listen(4096);
    std::printf("listening on 127.0.0.1 %u\n", acceptor.local_endpoint().port());
    std::fflush(stdout);
    asio::co_spawn(context, listen(acceptor), asio::detached);
    context.run();
}
