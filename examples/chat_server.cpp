// A line-based chat server: everyone connected sees what everyone else writes.
//
// Try it with a few terminals:  chat_server 9999   then   nc 127.0.0.1 9999
//
// Each client has a bounded outbox drained by its own writer task, so one slow client
// cannot make the server buffer without limit or slow the others down: when its outbox is
// full, it misses messages (and is told so) instead.

#include <cstdlib>
#include <iostream>
#include <list>
#include <string>

#include <asyncio/asyncio.hpp>

struct Client {
    std::string name;
    asyncio::Queue<std::string> outbox{100};
    std::size_t missed = 0;
};

std::list<Client*> clients;

void broadcast(const Client& from, const std::string& text) {
    for (Client* client : clients) {
        if (client == &from) continue;
        try {
            client->outbox.put_nowait(text);
        } catch (const asyncio::QueueFull&) {
            ++client->missed;
        }
    }
}

asyncio::Task<> deliver(Client& client, asyncio::StreamWriter writer) {
    for (;;) {
        std::string text = co_await client.outbox.get();
        if (client.missed > 0) {
            writer.write("(you missed " + std::to_string(client.missed) + " messages)\n");
            client.missed = 0;
        }
        writer.write(text);
        co_await writer.drain();
    }
}

asyncio::Task<> handle(asyncio::StreamReader reader, asyncio::StreamWriter writer) {
    Client client;
    client.name = writer.peername()->to_string();
    writer.write("Welcome, " + client.name + "! " + std::to_string(clients.size()) +
                 " other(s) here.\n");
    clients.push_back(&client);
    broadcast(client, "* " + client.name + " joined\n");
    auto delivery = asyncio::create_task(deliver(client, writer));
    try {
        for (;;) {
            std::string line = co_await reader.readline();
            if (line.empty()) break;
            broadcast(client, client.name + ": " + line);
        }
    } catch (const asyncio::Error& error) {
        std::cerr << client.name << ": " << error.what() << "\n";
    }
    delivery.cancel();
    try {
        co_await delivery;
    } catch (const asyncio::CancelledError&) {
    }
    clients.remove(&client);
    broadcast(client, "* " + client.name + " left\n");
}

asyncio::Task<> serve(std::uint16_t port) {
    auto server = co_await asyncio::start_server(handle, "127.0.0.1", port);
    std::cout << "Chat on " << server.sockets()[0].to_string() << "\n" << std::flush;
    co_await server.serve_forever();
}

int main(int argc, char** argv) {
    const auto port = static_cast<std::uint16_t>(argc > 1 ? std::atoi(argv[1]) : 9999);
    try {
        asyncio::run(serve(port));
    } catch (const asyncio::KeyboardInterrupt&) {
        std::cout << "\nBye.\n";
    } catch (const std::exception& error) {
        std::cerr << "chat_server: " << error.what() << "\n";
        return 1;
    }
}
