// A TCP echo client: sends each line of its arguments (or a few greetings), prints what
// comes back, then measures round trips for a second.
//
// Usage: echo_client [port] [host]   (start echo_server first)

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include <asyncio/asyncio.hpp>

asyncio::Task<> talk(std::string host, std::uint16_t port) {
    auto [reader, writer] = co_await asyncio::open_connection(host, port);
    std::cout << "Connected to " << writer.peername()->to_string() << "\n";

    for (const std::string message : {"Hello, World!", "Ceci n'est pas une pipe.", "bye"}) {
        writer.write(message + "\n");
        const std::string echoed = co_await reader.readline();
        std::cout << "sent " << message << " | got back " << echoed;
    }

    // One message in flight at a time for one second: round trips per second.
    const auto start = std::chrono::steady_clock::now();
    long round_trips = 0;
    while (std::chrono::steady_clock::now() - start < std::chrono::seconds(1)) {
        writer.write("ping\n");
        co_await reader.readline();
        ++round_trips;
    }
    std::cout << round_trips << " round trips in one second on one connection\n";

    writer.close();
    co_await writer.wait_closed();
}

int main(int argc, char** argv) {
    const auto port = static_cast<std::uint16_t>(argc > 1 ? std::atoi(argv[1]) : 8888);
    const std::string host = argc > 2 ? argv[2] : "127.0.0.1";
    try {
        asyncio::run(talk(host, port));
    } catch (const asyncio::ConnectionRefusedError& error) {
        std::cerr << "echo_client: " << error.what() << " (is echo_server running?)\n";
        return 1;
    } catch (const std::exception& error) {
        std::cerr << "echo_client: " << error.what() << "\n";
        return 1;
    }
}
