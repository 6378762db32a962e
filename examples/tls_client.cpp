// An HTTPS request over a TLS stream: prints what was negotiated, then the response head.
//
//   tls_client [host [port [ca_file]]]
//
// Without arguments it talks to a local `openssl s_server -www` on port 4433, which serves a
// status page; give its CA file (or use a certificate the system trusts). For example:
//
//   openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1
//       -subj /CN=localhost -addext subjectAltName=DNS:localhost -keyout key.pem -out cert.pem
//       (one command)
//   openssl s_server -accept 4433 -cert cert.pem -key key.pem -www &
//   ./tls_client localhost 4433 cert.pem
//   ./tls_client example.com 443

#include <cstdlib>
#include <iostream>
#include <string>

#include <asyncio/asyncio.hpp>
#include <asyncio/net/tls.hpp>

asyncio::Task<> fetch(std::string host, std::uint16_t port, std::string ca_file) {
    auto tls = asyncio::TlsContext::client();  // verifies against the system store
    if (!ca_file.empty()) tls->load_verify_locations(ca_file);
    tls->set_alpn_protocols({"http/1.1"});

    asyncio::ConnectOptions options;
    options.tls = tls;  // the host name is checked and sent with SNI
    auto [reader, writer] = co_await asyncio::open_connection(host, port, options);

    const asyncio::TlsInfo info = *writer.tls_info();
    std::cout << "connected to " << writer.peername()->to_string() << " with " << info.version
              << ", " << info.cipher << "\n"
              << "certificate: " << info.peer_subject << ", issued by " << info.peer_issuer
              << "\n\n";

    writer.write("GET / HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n");
    co_await writer.drain();
    for (;;) {
        const std::string line = co_await reader.readline();
        if (line.empty() || line == "\r\n") break;  // the head ends with an empty line
        std::cout << line.substr(0, line.find_last_not_of("\r\n") + 1) << "\n";
    }
    writer.close();
    co_await writer.wait_closed();
}

int main(int argc, char** argv) {
    const std::string host = argc > 1 ? argv[1] : "localhost";
    const auto port = static_cast<std::uint16_t>(argc > 2 ? std::atoi(argv[2]) : 4433);
    const std::string ca_file = argc > 3 ? argv[3] : "";
    try {
        asyncio::run(fetch(host, port, ca_file));
    } catch (const std::exception& error) {
        std::cerr << "tls_client: " << error.what() << "\n";
        return 1;
    }
}
