// TCP echo server on Boost.Asio C++20 coroutines, one io_context thread: a coroutine per
// connection reads up to 64 KiB (async_read_some) and writes it all back (async_write).
//
// Usage: echo_server_asio [port=0]. Prints "listening on 127.0.0.1 PORT", then serves until
// killed.

#include <cstdio>
#include <cstdlib>
#include <memory>

#include <boost/asio.hpp>

namespace asio = boost::asio;
using asio::ip::tcp;

asio::awaitable<void> echo(tcp::socket socket) {
    auto buffer = std::make_unique<char[]>(65536);
    try {
        for (;;) {
            std::size_t n = co_await socket.async_read_some(asio::buffer(buffer.get(), 65536),
                                                            asio::use_awaitable);
            co_await asio::async_write(socket, asio::buffer(buffer.get(), n), asio::use_awaitable);
        }
    } catch (const boost::system::system_error&) {
        // EOF or a reset: the connection is done.
    }
}

asio::awaitable<void> listen(tcp::acceptor& acceptor) {
    for (;;) {
        tcp::socket socket = co_await acceptor.async_accept(asio::use_awaitable);
        socket.set_option(tcp::no_delay(true));
        asio::co_spawn(acceptor.get_executor(), echo(std::move(socket)), asio::detached);
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
