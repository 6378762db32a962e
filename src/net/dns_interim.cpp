// Interim resolver: getaddrinfo(3) on the default executor, until the c-ares resolver
// (src/dns/) replaces this file.
#include <netdb.h>
#include <sys/socket.h>

#include "asyncio/errors.hpp"
#include "asyncio/net/dns.hpp"
#include "asyncio/to_thread.hpp"
namespace asyncio {
namespace {
std::vector<AddressInfo> blocking(std::string host, std::string service, AddressHints hints) {
    addrinfo h{};
    h.ai_family = static_cast<int>(hints.family);
    h.ai_socktype = static_cast<int>(hints.type);
    h.ai_flags = hints.flags;
    addrinfo* result = nullptr;
    int rc = ::getaddrinfo(host.empty() ? nullptr : host.c_str(), service.c_str(), &h, &result);
    if (rc != 0) throw DnsError(rc, "getaddrinfo('" + host + "'): " + gai_strerror(rc));
    std::vector<AddressInfo> out;
    for (auto* p = result; p; p = p->ai_next) {
        AddressInfo info;
        info.family = static_cast<AddressFamily>(p->ai_family);
        info.type = static_cast<SocketType>(p->ai_socktype);
        info.protocol = p->ai_protocol;
        info.address = SocketAddress::from_native(p->ai_addr, p->ai_addrlen);
        out.push_back(info);
    }
    ::freeaddrinfo(result);
    return out;
}
}  // namespace
Task<std::vector<AddressInfo>> getaddrinfo(std::string host, std::string service,
                                           AddressHints hints) {
    co_return co_await to_thread(blocking, host, service, hints);
}
}  // namespace asyncio
