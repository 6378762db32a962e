// Links asyncio::tls from the installed package: a client context verifies by default.
#include <asyncio/asyncio.hpp>
#include <asyncio/net/tls.hpp>
#include <iostream>
int main() {
    auto tls = asyncio::TlsContext::client();
    std::cout << "consumer_tls: client context, verification " << (tls->verifies_peer() ? "on" : "off") << "\n";
    return tls->verifies_peer() ? 0 : 1;
}
