#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <ares.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "support/asyncio_test.hpp"
#include "support/co_assert.hpp"
#include <asyncio/net/dns.hpp>

using namespace std::chrono_literals;
using asyncio::AddressFamily;
using asyncio::AddressHints;
using asyncio::SocketAddress;
using asyncio::SocketType;

namespace {

// This machine has no DNS server it can reach, so the lookups that leave /etc/hosts go to
// this one: a UDP server on 127.0.0.1 run by the test's own loop (a reader on a
// non-blocking socket). It answers A, AAAA and PTR questions from its table, NXDOMAIN for
// names it does not know, nothing at all for silenced names, and holds the answers for
// held names until release().
class FakeDnsServer {
public:
    FakeDnsServer() : loop_(asyncio::get_running_loop()) {
        fd_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd_ < 0) throw std::runtime_error("FakeDnsServer: socket() failed");
        // Room for a thousand queries arriving at once (the kernel caps it at rmem_max).
        const int buffer = 4 << 20;
        ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &buffer, sizeof buffer);
        address_ = SocketAddress::parse("127.0.0.1", 0);
        socklen_t size = static_cast<socklen_t>(address_.native_size());
        if (::bind(fd_, address_.native(), size) != 0 ||
            ::getsockname(fd_, address_.native(), &size) != 0) {
            ::close(fd_);
            throw std::runtime_error("FakeDnsServer: bind() failed");
        }
        loop_.add_reader(fd_, [this] { on_readable(); });
    }
    ~FakeDnsServer() {
        release_step_.cancel();
        loop_.remove_reader(fd_);
        ::close(fd_);
    }
    FakeDnsServer(const FakeDnsServer&) = delete;
    FakeDnsServer& operator=(const FakeDnsServer&) = delete;

    /// An A or an AAAA record, after the address's family.
    void add(const std::string& name, const std::string& address) {
        unsigned char bytes[16];
        if (::inet_pton(AF_INET, address.c_str(), bytes) == 1) {
            records_[name].push_back({1, std::string(reinterpret_cast<char*>(bytes), 4)});
        } else if (::inet_pton(AF_INET6, address.c_str(), bytes) == 1) {
            records_[name].push_back({28, std::string(reinterpret_cast<char*>(bytes), 16)});
        } else {
            throw std::invalid_argument("FakeDnsServer::add: " + address);
        }
    }
    void add_ptr(const std::string& name, const std::string& target) {
        records_[name].push_back({12, encode_name(target)});
    }
    void silence(const std::string& name) { silenced_.insert(name); }
    void hold(const std::string& name) { held_names_.insert(name); }
    void hold_all() { hold_all_ = true; }

    /// Sends the held answers in the order their questions came, 32 per loop iteration so
    /// that the client's socket buffer never overflows.
    void release() {
        held_names_.clear();
        hold_all_ = false;
        releasing_.insert(releasing_.end(), held_.begin(), held_.end());
        held_.clear();
        send_released();
    }

    std::size_t received(const std::string& name) const {
        auto it = received_.find(name);
        return it == received_.end() ? 0 : it->second;
    }
    std::size_t held() const { return held_.size(); }
    SocketAddress address() const { return address_; }
    asyncio::ResolverOptions options(asyncio::Duration timeout = 300ms, int tries = 1) const {
        return {.servers = {address_}, .timeout = timeout, .tries = tries};
    }

private:
    struct Record {
        std::uint16_t type;
        std::string data;
    };
    struct Reply {
        SocketAddress to;
        std::string bytes;
    };

    static std::string encode_name(const std::string& name) {
        std::string wire;
        std::size_t start = 0;
        while (start < name.size()) {
            std::size_t dot = name.find('.', start);
            if (dot == std::string::npos) dot = name.size();
            wire += static_cast<char>(dot - start);
            wire += name.substr(start, dot - start);
            start = dot + 1;
        }
        return wire + '\0';
    }

    static void put16(std::string& out, std::uint32_t value) {
        out += static_cast<char>((value >> 8) & 0xff);
        out += static_cast<char>(value & 0xff);
    }

    void on_readable() {
        for (;;) {
            char buffer[1500];
            SocketAddress from;
            socklen_t size = static_cast<socklen_t>(SocketAddress::capacity());
            const ssize_t n = ::recvfrom(fd_, buffer, sizeof buffer, 0, from.native(), &size);
            if (n < 0) return;  // EAGAIN: all read
            from.set_native_size(size);
            answer(std::string(buffer, static_cast<std::size_t>(n)), from);
        }
    }

    void answer(const std::string& query, const SocketAddress& from) {
        if (query.size() < 12) return;
        std::string name;
        std::size_t at = 12;
        while (at < query.size() && query[at] != '\0') {
            const auto length = static_cast<unsigned char>(query[at]);
            if (length > 63 || at + 1 + length > query.size()) return;
            if (!name.empty()) name += '.';
            for (std::size_t i = 0; i < length; ++i) {
                name +=
                    static_cast<char>(std::tolower(static_cast<unsigned char>(query[at + 1 + i])));
            }
            at += 1 + length;
        }
        const std::size_t question_end = at + 5;  // the root label, type and class
        if (question_end > query.size()) return;
        const auto type =
            static_cast<std::uint16_t>(static_cast<unsigned char>(query[at + 1]) << 8 |
                                       static_cast<unsigned char>(query[at + 2]));
        ++received_[name];
        if (silenced_.count(name) != 0) return;

        std::vector<const Record*> answers;
        auto found = records_.find(name);
        if (found != records_.end()) {
            for (const Record& record : found->second) {
                if (record.type == type) answers.push_back(&record);
            }
        }
        std::string reply = query.substr(0, 2);                             // id
        reply += static_cast<char>(0x80 | (query[2] & 0x01));               // response, RD echoed
        reply += static_cast<char>(found == records_.end() ? 0x83 : 0x80);  // RA, NXDOMAIN or not
        put16(reply, 1);
        put16(reply, static_cast<std::uint32_t>(answers.size()));
        put16(reply, 0);
        put16(reply, 0);
        reply += query.substr(12, question_end - 12);
        for (const Record* record : answers) {
            reply += "\xc0\x0c";  // the name of the question
            put16(reply, record->type);
            put16(reply, 1);  // class IN
            put16(reply, 0);
            put16(reply, 60);  // TTL
            put16(reply, static_cast<std::uint32_t>(record->data.size()));
            reply += record->data;
        }
        if (hold_all_ || held_names_.count(name) != 0) {
            held_.push_back({from, std::move(reply)});
        } else {
            send(reply, from);
        }
    }

    void send(const std::string& reply, const SocketAddress& to) {
        ::sendto(fd_, reply.data(), reply.size(), 0, to.native(),
                 static_cast<socklen_t>(to.native_size()));
    }

    void send_released() {
        release_step_ = {};
        std::size_t sent = 0;
        while (!releasing_.empty() && sent < 32) {
            send(releasing_.front().bytes, releasing_.front().to);
            releasing_.erase(releasing_.begin());
            ++sent;
        }
        if (!releasing_.empty()) release_step_ = loop_.call_soon([this] { send_released(); });
    }

    asyncio::EventLoop& loop_;
    int fd_ = -1;
    SocketAddress address_;
    std::map<std::string, std::vector<Record>> records_;
    std::set<std::string> silenced_;
    std::set<std::string> held_names_;
    bool hold_all_ = false;
    std::vector<Reply> held_;
    std::vector<Reply> releasing_;
    asyncio::Handle release_step_;
    std::map<std::string, std::size_t> received_;
};

const AddressHints v4_stream{.family = AddressFamily::ipv4, .type = SocketType::stream};

// Tests whose outcome depends on real time (c-ares timeouts) use the real clock.
const asyncio::testing::TestOptions real_time{.real_clock = true};

std::vector<std::string> hosts_of(const std::vector<asyncio::AddressInfo>& answer) {
    std::vector<std::string> hosts;
    for (const auto& info : answer) hosts.push_back(info.address.host());
    return hosts;
}

/// Lets the loop run until `condition` holds, for at most about 5 s.
asyncio::Task<> until(std::function<bool()> condition) {
    for (int i = 0; i < 5000 && !condition(); ++i) co_await asyncio::sleep(1ms);
    EXPECT_TRUE(condition()) << "the condition never came true";
}

/// How a lookup ended.
struct Outcome {
    enum class Kind { pending, answered, failed, cancelled };
    Kind kind = Kind::pending;
    std::vector<std::string> hosts;
    int code = 0;
    std::string message;
};

asyncio::Task<> resolve_into(std::string name, Outcome& outcome, AddressHints hints = v4_stream) {
    try {
        const auto answer = co_await asyncio::getaddrinfo(name, "80", hints);
        outcome.hosts = hosts_of(answer);
        outcome.kind = Outcome::Kind::answered;
    } catch (const asyncio::DnsError& e) {
        outcome.kind = Outcome::Kind::failed;
        outcome.code = e.code();
        outcome.message = e.what();
    } catch (const asyncio::CancelledError&) {
        outcome.kind = Outcome::Kind::cancelled;
    }
}

/// Resolves `name`; then, however that ended, cancels `victim` and resolves "a.test" on the
/// same channel.
asyncio::Task<> cancel_on_completion(std::string name, const asyncio::TaskHandle<>& victim,
                                     Outcome& outcome, Outcome& again) {
    co_await resolve_into(name, outcome);
    victim.cancel();
    co_await resolve_into("a.test", again);
}

asyncio::Task<> expect_dns_error(std::string host, std::string service, AddressHints hints,
                                 int code, std::string message) {
    try {
        co_await asyncio::getaddrinfo(host, service, hints);
        ADD_FAILURE() << "no DnsError for '" << host << "', '" << service << "'";
    } catch (const asyncio::DnsError& e) {
        EXPECT_EQ(e.code(), code) << e.what();
        EXPECT_EQ(std::string(e.what()), message);
    }
}

}  // namespace

// ---- answered without a query ----

ASYNCIO_TEST(Getaddrinfo, NumericIpv4IsAnsweredWithoutSuspending) {
    bool other_callback_ran = false;
    asyncio::get_running_loop().call_soon([&] { other_callback_ran = true; });
    const auto answer =
        co_await asyncio::getaddrinfo("127.0.0.1", "80", {.type = SocketType::stream});
    EXPECT_FALSE(other_callback_ran);
    CO_ASSERT_EQ(answer.size(), 1u);
    EXPECT_EQ(answer[0].family, AddressFamily::ipv4);
    EXPECT_EQ(answer[0].type, SocketType::stream);
    EXPECT_EQ(answer[0].protocol, IPPROTO_TCP);
    EXPECT_EQ(answer[0].address, SocketAddress::parse("127.0.0.1", 80));
    EXPECT_EQ(answer[0].canonical_name, "");
}

ASYNCIO_TEST(Getaddrinfo, NumericIpv6IsAnsweredWithOrWithoutBrackets) {
    for (const char* host : {"::1", "[::1]"}) {
        const auto answer =
            co_await asyncio::getaddrinfo(host, "443", {.type = SocketType::stream});
        CO_ASSERT_EQ(answer.size(), 1u);
        EXPECT_EQ(answer[0].family, AddressFamily::ipv6);
        EXPECT_EQ(answer[0].address, SocketAddress::parse("::1", 443)) << host;
    }
}

ASYNCIO_TEST(Getaddrinfo, AnySocketTypeGivesStreamThenDatagram) {
    const auto answer = co_await asyncio::getaddrinfo("127.0.0.1", "53");
    CO_ASSERT_EQ(answer.size(), 2u);
    EXPECT_EQ(answer[0].type, SocketType::stream);
    EXPECT_EQ(answer[0].protocol, IPPROTO_TCP);
    EXPECT_EQ(answer[1].type, SocketType::datagram);
    EXPECT_EQ(answer[1].protocol, IPPROTO_UDP);
    EXPECT_EQ(answer[1].address, SocketAddress::parse("127.0.0.1", 53));
}

ASYNCIO_TEST(Getaddrinfo, EmptyHostIsLoopbackOrWildcardWithPassive) {
    const AddressHints stream{.type = SocketType::stream};
    const auto loopback = co_await asyncio::getaddrinfo("", "8080", stream);
    EXPECT_EQ(hosts_of(loopback), (std::vector<std::string>{"::1", "127.0.0.1"}));
    AddressHints passive = stream;
    passive.flags = AI_PASSIVE;
    const auto wildcard = co_await asyncio::getaddrinfo("", "8080", passive);
    EXPECT_EQ(hosts_of(wildcard), (std::vector<std::string>{"0.0.0.0", "::"}));
    CO_ASSERT_EQ(wildcard.size(), 2u);
    EXPECT_EQ(wildcard[0].address.port(), 8080);
    passive.family = AddressFamily::ipv4;
    const auto wildcard_v4 = co_await asyncio::getaddrinfo("", "8080", passive);
    EXPECT_EQ(hosts_of(wildcard_v4), (std::vector<std::string>{"0.0.0.0"}));
}

namespace {

asyncio::Task<> resolve_domain_service() {
    const auto answer = co_await asyncio::getaddrinfo("127.0.0.1", "domain");
    CO_ASSERT_EQ(answer.size(), 2u);
    EXPECT_EQ(answer[0].address.port(), 53);
    EXPECT_EQ(answer[1].address.port(), 53);
}

}  // namespace

TEST(Getaddrinfo, ServiceNameComesFromEtcServices) {
    if (::getservbyname("domain", "udp") == nullptr) {
        GTEST_SKIP() << "/etc/services has no 'domain' service";
    }
    asyncio::testing::run_test(resolve_domain_service());
}

ASYNCIO_TEST(Getaddrinfo, NumericHostOfTheOtherFamilyIsRefusedUnlessMapped) {
    co_await expect_dns_error("127.0.0.1", "80", {.family = AddressFamily::ipv6}, ARES_EBADFAMILY,
                              "getaddrinfo('127.0.0.1', '80'): an IPv4 address, and only IPv6 "
                              "was asked for");
    co_await expect_dns_error("::1", "80", {.family = AddressFamily::ipv4}, ARES_EBADFAMILY,
                              "getaddrinfo('::1', '80'): an IPv6 address, and only IPv4 was "
                              "asked for");
    const auto mapped = co_await asyncio::getaddrinfo(
        "127.0.0.1", "80",
        {.family = AddressFamily::ipv6, .type = SocketType::stream, .flags = AI_V4MAPPED});
    EXPECT_EQ(hosts_of(mapped), (std::vector<std::string>{"::ffff:127.0.0.1"}));
}

ASYNCIO_TEST(Getaddrinfo, BadInputRaisesAClearDnsError) {
    co_await expect_dns_error("", "", {}, ARES_ENONAME,
                              "getaddrinfo('', ''): neither a host nor a service was given");
    co_await expect_dns_error(std::string("bad\0host", 8), "80", {}, ARES_EBADNAME,
                              "getaddrinfo('bad\\0host', '80'): NUL in the host name");
    co_await expect_dns_error("127.0.0.1", std::string("8\0", 2), {}, ARES_ESERVICE,
                              "getaddrinfo('127.0.0.1', '8\\0'): NUL in the service");
    co_await expect_dns_error("127.0.0.1", "no-such-service", {}, ARES_ESERVICE,
                              "getaddrinfo('127.0.0.1', 'no-such-service'): Service name not "
                              "known");
    co_await expect_dns_error("127.0.0.1", "70000", {}, ARES_ESERVICE,
                              "getaddrinfo('127.0.0.1', '70000'): Service name not known");
    co_await expect_dns_error("127.0.0.1", "http", {.flags = AI_NUMERICSERV}, ARES_ESERVICE,
                              "getaddrinfo('127.0.0.1', 'http'): AI_NUMERICSERV was given and "
                              "the service is not a port number");
    co_await expect_dns_error("example.test", "80", {.flags = AI_NUMERICHOST}, ARES_ENONAME,
                              "getaddrinfo('example.test', '80'): Given hostname is not numeric");
    co_await expect_dns_error("[not.ipv6]", "80", {}, ARES_EBADNAME,
                              "getaddrinfo('[not.ipv6]', '80'): only an IPv6 address may be "
                              "written in brackets");
    co_await expect_dns_error("127.0.0.1", "80", {.family = AddressFamily::unix_local},
                              ARES_EBADFAMILY,
                              "getaddrinfo('127.0.0.1', '80'): Unsupported address family");
    co_await expect_dns_error("127.0.0.1", "80", {.type = static_cast<SocketType>(3)},
                              ARES_EBADHINTS,
                              "getaddrinfo('127.0.0.1', '80'): the socket type is neither "
                              "stream nor datagram");
}

// ---- /etc/hosts and the name server ----

ASYNCIO_TEST(Getaddrinfo, LocalhostComesFromEtcHosts) {
    // No name server is configured: /etc/hosts must answer, as it does for "localhost".
    const auto answer = co_await asyncio::getaddrinfo("localhost", "80", v4_stream);
    EXPECT_EQ(hosts_of(answer), (std::vector<std::string>{"127.0.0.1"}));
    CO_ASSERT_EQ(answer.size(), 1u);
    EXPECT_EQ(answer[0].address.port(), 80);
}

ASYNCIO_TEST(Getaddrinfo, ARecordsAndAaaaRecordsComeFromTheServer) {
    FakeDnsServer server;
    server.add("both.test", "192.0.2.10");
    server.add("both.test", "2001:db8::10");
    asyncio::configure_resolver(server.options());
    const auto answer =
        co_await asyncio::getaddrinfo("both.test", "443", {.type = SocketType::stream});
    auto hosts = hosts_of(answer);
    std::sort(hosts.begin(), hosts.end());
    EXPECT_EQ(hosts, (std::vector<std::string>{"192.0.2.10", "2001:db8::10"}));
    EXPECT_EQ(server.received("both.test"), 2u);  // one A and one AAAA question
}

ASYNCIO_TEST(Getaddrinfo, FamilyHintAsksForThatFamilyOnly) {
    FakeDnsServer server;
    server.add("both.test", "192.0.2.10");
    server.add("both.test", "2001:db8::10");
    server.add("v4only.test", "192.0.2.11");
    asyncio::configure_resolver(server.options());
    const auto v4 = co_await asyncio::getaddrinfo("both.test", "80", v4_stream);
    EXPECT_EQ(hosts_of(v4), (std::vector<std::string>{"192.0.2.10"}));
    EXPECT_EQ(server.received("both.test"), 1u);
    const auto v6 = co_await asyncio::getaddrinfo(
        "both.test", "80", {.family = AddressFamily::ipv6, .type = SocketType::stream});
    EXPECT_EQ(hosts_of(v6), (std::vector<std::string>{"2001:db8::10"}));
    CO_ASSERT_EQ(v6.size(), 1u);
    EXPECT_EQ(v6[0].family, AddressFamily::ipv6);
    EXPECT_EQ(v6[0].address.port(), 80);
    co_await expect_dns_error("v4only.test", "80", {.family = AddressFamily::ipv6}, ARES_ENODATA,
                              "getaddrinfo('v4only.test', '80'): DNS server returned answer "
                              "with no data");
}

ASYNCIO_TEST(Getaddrinfo, CanonicalNameIsOnTheFirstEntryOnly) {
    FakeDnsServer server;
    server.add("a.test", "192.0.2.1");
    asyncio::configure_resolver(server.options());
    const auto answer = co_await asyncio::getaddrinfo(
        "a.test", "80", {.family = AddressFamily::ipv4, .flags = AI_CANONNAME});
    CO_ASSERT_EQ(answer.size(), 2u);
    EXPECT_EQ(answer[0].canonical_name, "a.test");
    EXPECT_EQ(answer[1].canonical_name, "");
    const auto numeric = co_await asyncio::getaddrinfo(
        "127.0.0.1", "80", {.type = SocketType::stream, .flags = AI_CANONNAME});
    CO_ASSERT_EQ(numeric.size(), 1u);
    EXPECT_EQ(numeric[0].canonical_name, "127.0.0.1");
}

ASYNCIO_TEST(Getaddrinfo, UnknownNameRaisesDnsErrorNamingHostAndService) {
    FakeDnsServer server;
    asyncio::configure_resolver(server.options());
    co_await expect_dns_error("no.such.host.invalid", "80", {}, ARES_ENOTFOUND,
                              "getaddrinfo('no.such.host.invalid', '80'): Domain name not found");
}

ASYNCIO_TEST(Getaddrinfo, MalformedNameRaisesDnsError) {
    FakeDnsServer server;
    asyncio::configure_resolver(server.options());
    const std::string long_label = std::string(64, 'a') + ".test";  // labels stop at 63
    co_await expect_dns_error(long_label, "80", v4_stream, ARES_EBADNAME,
                              "getaddrinfo('" + long_label + "', '80'): Misformatted domain name");
    EXPECT_EQ(server.received(long_label), 0u);
}

ASYNCIO_TEST_WITH(Getaddrinfo, UnansweredQueryTimesOut, real_time) {
    FakeDnsServer server;
    server.silence("silent.test");
    asyncio::configure_resolver(server.options(200ms, 1));
    const auto start = std::chrono::steady_clock::now();
    co_await expect_dns_error("silent.test", "80", v4_stream, ARES_ETIMEOUT,
                              "getaddrinfo('silent.test', '80'): Timeout while contacting DNS "
                              "servers");
    const auto took = std::chrono::steady_clock::now() - start;
    EXPECT_GE(took, 190ms);
    EXPECT_LT(took, 10s);
    EXPECT_EQ(server.received("silent.test"), 1u);
}

// ---- getnameinfo ----

ASYNCIO_TEST(Getnameinfo, NumericFlagsAnswerWithTheNumbers) {
    const auto v4 = co_await asyncio::getnameinfo(SocketAddress::parse("127.0.0.1", 8080),
                                                  NI_NUMERICHOST | NI_NUMERICSERV);
    EXPECT_EQ(v4.host, "127.0.0.1");
    EXPECT_EQ(v4.service, "8080");
    const auto v6 = co_await asyncio::getnameinfo(SocketAddress::parse("::1", 443),
                                                  NI_NUMERICHOST | NI_NUMERICSERV);
    EXPECT_EQ(v6.host, "::1");
    EXPECT_EQ(v6.service, "443");
}

ASYNCIO_TEST(Getnameinfo, LoopbackNameComesFromEtcHosts) {
    const auto named =
        co_await asyncio::getnameinfo(SocketAddress::parse("127.0.0.1", 80), NI_NUMERICSERV);
    EXPECT_EQ(named.host, "localhost");
    EXPECT_EQ(named.service, "80");
    const auto port_zero = co_await asyncio::getnameinfo(SocketAddress::parse("127.0.0.1", 0));
    EXPECT_EQ(port_zero.service, "0");  // as getnameinfo(3) and Python say
}

ASYNCIO_TEST(Getnameinfo, NameComesFromThePtrRecord) {
    FakeDnsServer server;
    server.add_ptr("10.2.0.192.in-addr.arpa", "ten.test");
    asyncio::configure_resolver(server.options());
    const auto named =
        co_await asyncio::getnameinfo(SocketAddress::parse("192.0.2.10", 80), NI_NUMERICSERV);
    EXPECT_EQ(named.host, "ten.test");
    EXPECT_EQ(named.service, "80");
}

ASYNCIO_TEST(Getnameinfo, UnnamedAddressGivesItsNumbersUnlessANameIsRequired) {
    FakeDnsServer server;
    asyncio::configure_resolver(server.options());
    const auto address = SocketAddress::parse("192.0.2.99", 80);
    const auto numeric = co_await asyncio::getnameinfo(address, NI_NUMERICSERV);
    EXPECT_EQ(numeric.host, "192.0.2.99");
    try {
        co_await asyncio::getnameinfo(address, NI_NAMEREQD);
        ADD_FAILURE() << "no DnsError with NI_NAMEREQD";
    } catch (const asyncio::DnsError& e) {
        EXPECT_EQ(e.code(), ARES_ENOTFOUND);
        EXPECT_EQ(std::string(e.what()), "getnameinfo('192.0.2.99:80'): Domain name not found");
    }
}

ASYNCIO_TEST(Getnameinfo, NonInternetAddressIsRefused) {
    try {
        co_await asyncio::getnameinfo(SocketAddress::unix_path("/tmp/dns_test.sock"));
        ADD_FAILURE() << "no DnsError for a Unix address";
    } catch (const asyncio::DnsError& e) {
        EXPECT_EQ(e.code(), ARES_EBADFAMILY);
        EXPECT_EQ(std::string(e.what()),
                  "getnameinfo('/tmp/dns_test.sock'): Unsupported address family");
    }
}

// ---- the resolver: cancellation, re-entrancy, load, shutdown ----

ASYNCIO_TEST(Dns, CancellingALookupLeavesTheOthersOnTheChannelRunning) {
    FakeDnsServer server;
    server.add("a.test", "192.0.2.1");
    server.add("held.test", "192.0.2.2");
    server.silence("silent.test");
    server.hold("held.test");
    asyncio::configure_resolver(server.options(5s, 1));
    Outcome cancelled, held, later;
    auto doomed = asyncio::create_task(resolve_into("silent.test", cancelled));
    auto waiting = asyncio::create_task(resolve_into("held.test", held));
    co_await until([&] { return server.received("silent.test") + server.held() == 2; });
    doomed.cancel();
    co_await asyncio::testing::finishes(doomed);
    EXPECT_EQ(cancelled.kind, Outcome::Kind::cancelled);
    EXPECT_FALSE(waiting.done());
    server.release();
    co_await asyncio::testing::finishes(waiting);
    EXPECT_EQ(held.kind, Outcome::Kind::answered);
    EXPECT_EQ(held.hosts, (std::vector<std::string>{"192.0.2.2"}));
    co_await resolve_into("a.test", later);
    EXPECT_EQ(later.hosts, (std::vector<std::string>{"192.0.2.1"}));
}

ASYNCIO_TEST_WITH(Dns, AbandonedQueryStopsOnceNoLookupWaits, real_time) {
    FakeDnsServer server;
    server.silence("silent.test");
    // Not cancelled, the query would be sent again after 200 ms.
    asyncio::configure_resolver(server.options(200ms, 3));
    Outcome outcome;
    auto lookup = asyncio::create_task(resolve_into("silent.test", outcome));
    co_await until([&] { return server.received("silent.test") == 1; });
    lookup.cancel();
    co_await asyncio::testing::finishes(lookup);
    EXPECT_EQ(outcome.kind, Outcome::Kind::cancelled);
    co_await asyncio::sleep(500ms);
    EXPECT_EQ(server.received("silent.test"), 1u);
}

ASYNCIO_TEST(Dns, WaitForTimeoutCancelsTheLookup) {
    FakeDnsServer server;
    server.silence("silent.test");
    asyncio::configure_resolver(server.options(5s, 1));
    EXPECT_THROW(
        co_await asyncio::wait_for(asyncio::getaddrinfo("silent.test", "80", v4_stream), 50ms),
        asyncio::TimeoutError);
}

// c-ares does not survive ares_cancel() called from inside one of its callbacks
// (CVE-2026-33630, RELIABILITY-NOTES row 15). The tests below cancel a DNS task from the
// task woken by each way a lookup ends, and check the channel still works afterwards.

ASYNCIO_TEST(Dns, TaskWokenInTheSameBatchCanBeCancelledByAnother_cares_cve_2026_33630) {
    FakeDnsServer server;
    server.add("a.test", "192.0.2.1");
    server.add("first.test", "192.0.2.3");
    server.add("second.test", "192.0.2.4");
    server.hold("first.test");
    server.hold("second.test");
    asyncio::configure_resolver(server.options(5s, 1));
    asyncio::TaskHandle<> victim;
    Outcome first, again, second;
    // The first question is answered first, so its task resumes first and cancels the
    // second one, whose answer came in the same read and which is queued already.
    auto trigger = asyncio::create_task(cancel_on_completion("first.test", victim, first, again));
    victim = asyncio::create_task(resolve_into("second.test", second));
    co_await until([&] { return server.held() == 2; });
    server.release();
    co_await asyncio::testing::finishes(trigger);
    co_await asyncio::testing::finishes(victim);
    EXPECT_EQ(first.kind, Outcome::Kind::answered);
    EXPECT_EQ(second.kind, Outcome::Kind::cancelled);
    EXPECT_EQ(again.hosts, (std::vector<std::string>{"192.0.2.1"}));
}

namespace {

/// A task waits on a held answer; another, started once that question reached the server,
/// resolves `trigger` and cancels the first when its lookup ends, however it ends.
asyncio::Task<> cancel_from_completion_of(std::string trigger_name, Outcome::Kind expected) {
    FakeDnsServer server;
    server.add("a.test", "192.0.2.1");
    server.add("held.test", "192.0.2.2");
    server.hold("held.test");
    server.silence("silent.test");
    asyncio::configure_resolver(server.options(5s, 1));
    Outcome held, trigger, again;
    auto victim = asyncio::create_task(resolve_into("held.test", held));
    co_await until([&] { return server.held() == 1; });
    auto canceller =
        asyncio::create_task(cancel_on_completion(trigger_name, victim, trigger, again));
    co_await asyncio::testing::finishes(canceller);
    co_await asyncio::testing::finishes(victim);
    EXPECT_EQ(trigger.kind, expected) << trigger.message;
    EXPECT_EQ(held.kind, Outcome::Kind::cancelled);
    EXPECT_EQ(again.hosts, (std::vector<std::string>{"192.0.2.1"}));
    server.release();  // the abandoned lookup's answer, if its query still runs, is dropped
    co_await asyncio::sleep(1ms);
}

}  // namespace

ASYNCIO_TEST(Dns, CancelFromTheCompletionOfAnAnswer) {
    co_await cancel_from_completion_of("a.test", Outcome::Kind::answered);
}

ASYNCIO_TEST(Dns, CancelFromTheCompletionOfAnError) {
    co_await cancel_from_completion_of("nx.test", Outcome::Kind::failed);
}

ASYNCIO_TEST(Dns, CancelFromTheCompletionOfAnEtcHostsAnswer) {
    co_await cancel_from_completion_of("localhost", Outcome::Kind::answered);
}

ASYNCIO_TEST_WITH(Dns, CancelFromTheCompletionOfATimeout, real_time) {
    FakeDnsServer server;
    server.add("a.test", "192.0.2.1");
    server.add("held.test", "192.0.2.2");
    server.hold("held.test");
    server.silence("silent.test");
    asyncio::configure_resolver(server.options(300ms, 1));
    Outcome held, trigger, again;
    asyncio::TaskHandle<> victim;
    auto canceller =
        asyncio::create_task(cancel_on_completion("silent.test", victim, trigger, again));
    co_await until([&] { return server.received("silent.test") == 1; });
    // The victim's query must time out well after the trigger's.
    co_await asyncio::sleep(100ms);
    victim = asyncio::create_task(resolve_into("held.test", held));
    co_await asyncio::testing::finishes(canceller);
    co_await asyncio::testing::finishes(victim);
    EXPECT_EQ(trigger.kind, Outcome::Kind::failed);
    EXPECT_EQ(trigger.code, ARES_ETIMEOUT);
    EXPECT_EQ(held.kind, Outcome::Kind::cancelled);
    EXPECT_EQ(again.hosts, (std::vector<std::string>{"192.0.2.1"}));
}

namespace {

asyncio::Task<> cancel_when_cancelled(std::string name, const asyncio::TaskHandle<>& victim,
                                      Outcome& outcome) {
    co_await resolve_into(name, outcome);
    victim.cancel();
}

}  // namespace

ASYNCIO_TEST(Dns, CancelFromTheCancellationOfAnotherLookup) {
    FakeDnsServer server;
    server.add("a.test", "192.0.2.1");
    server.hold_all();
    asyncio::configure_resolver(server.options(5s, 1));
    Outcome held, trigger, later;
    auto victim = asyncio::create_task(resolve_into("held.test", held));
    auto canceller = asyncio::create_task(cancel_when_cancelled("held2.test", victim, trigger));
    co_await until([&] { return server.held() == 2; });
    canceller.cancel();
    co_await asyncio::testing::finishes(canceller);
    co_await asyncio::testing::finishes(victim);
    EXPECT_EQ(trigger.kind, Outcome::Kind::cancelled);
    EXPECT_EQ(held.kind, Outcome::Kind::cancelled);
    // Both queries were abandoned, and then cancelled by the sweep: the channel goes on.
    server.release();
    co_await resolve_into("a.test", later);
    EXPECT_EQ(later.hosts, (std::vector<std::string>{"192.0.2.1"}));
}

ASYNCIO_TEST(Dns, ThousandConcurrentLookupsAreAllAnswered) {
    constexpr int count = 1000;
    FakeDnsServer server;
    for (int i = 0; i < count; ++i) {
        server.add("n" + std::to_string(i) + ".test",
                   "10.0." + std::to_string(i / 256) + "." + std::to_string(i % 256));
    }
    server.hold_all();  // every question is in before the first answer leaves
    asyncio::configure_resolver(server.options(10s, 1));
    std::vector<Outcome> outcomes(count);
    std::vector<asyncio::TaskHandle<>> tasks;
    for (int i = 0; i < count; ++i) {
        tasks.push_back(asyncio::create_task(resolve_into("n" + std::to_string(i) + ".test",
                                                          outcomes[static_cast<std::size_t>(i)])));
        // In waves, so that the server's socket buffer takes every question.
        if (i % 100 == 99) co_await asyncio::sleep(0s);
    }
    co_await until([&] { return server.held() == static_cast<std::size_t>(count); });
    server.release();
    for (auto& task : tasks) co_await asyncio::testing::finishes(task);
    int answered = 0;
    for (int i = 0; i < count; ++i) {
        const Outcome& outcome = outcomes[static_cast<std::size_t>(i)];
        const std::string expected =
            "10.0." + std::to_string(i / 256) + "." + std::to_string(i % 256);
        if (outcome.kind == Outcome::Kind::answered && outcome.hosts == std::vector{expected}) {
            ++answered;
        } else {
            ADD_FAILURE() << "n" << i << ".test: " << outcome.message;
        }
    }
    EXPECT_EQ(answered, count);
}

ASYNCIO_TEST(Dns, ConfigureResolverRefusesWhileALookupWaits) {
    FakeDnsServer server;
    server.add("held.test", "192.0.2.2");
    server.hold("held.test");
    asyncio::configure_resolver(server.options(5s, 1));
    Outcome held;
    auto waiting = asyncio::create_task(resolve_into("held.test", held));
    co_await until([&] { return server.held() == 1; });
    EXPECT_THROW(asyncio::configure_resolver(server.options()), asyncio::RuntimeError);
    server.release();
    co_await asyncio::testing::finishes(waiting);
    EXPECT_EQ(held.hosts, (std::vector<std::string>{"192.0.2.2"}));
    asyncio::configure_resolver(server.options());
}

ASYNCIO_TEST(Dns, ConfigureResolverRejectsBadOptionsAndKeepsTheResolver) {
    FakeDnsServer server;
    server.add("a.test", "192.0.2.1");
    asyncio::configure_resolver(server.options());
    asyncio::ResolverOptions unix_server{.servers = {SocketAddress::unix_path("/tmp/dns")}};
    EXPECT_THROW(asyncio::configure_resolver(unix_server), std::invalid_argument);
    EXPECT_THROW(asyncio::configure_resolver({.tries = -1}), std::invalid_argument);
    EXPECT_THROW(asyncio::configure_resolver({.timeout = -1s}), std::invalid_argument);
    Outcome outcome;
    co_await resolve_into("a.test", outcome);
    EXPECT_EQ(outcome.hosts, (std::vector<std::string>{"192.0.2.1"}));
}

TEST(Dns, ConfigureResolverNeedsARunningLoop) {
    EXPECT_THROW(asyncio::configure_resolver({}), asyncio::RuntimeError);
}

namespace {

asyncio::Task<> lookup_forever(std::uint16_t port) {
    asyncio::configure_resolver(
        {.servers = {SocketAddress::parse("127.0.0.1", port)}, .timeout = 30s, .tries = 1});
    co_await asyncio::getaddrinfo("pending.test", "80", v4_stream);
    ADD_FAILURE() << "the lookup ended";
}

asyncio::Task<> start_lookup_and_return(std::uint16_t port) {
    asyncio::create_task(lookup_forever(port));
    co_await asyncio::sleep(20ms);
}

}  // namespace

TEST(Dns, ClosingTheLoopWithALookupPendingLeaksNothing) {
    asyncio::testing::LogCapture log;
    asyncio::testing::LeakCheck leaks;
    // A server that never reads: the question waits in its socket.
    const int silent = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    ASSERT_GE(silent, 0);
    SocketAddress address = SocketAddress::parse("127.0.0.1", 0);
    socklen_t size = static_cast<socklen_t>(address.native_size());
    ASSERT_EQ(::bind(silent, address.native(), size), 0);
    ASSERT_EQ(::getsockname(silent, address.native(), &size), 0);
    {
        asyncio::EventLoop loop;
        loop.run_until_complete(start_lookup_and_return(address.port()));
        loop.close();
    }
    char question[512];
    EXPECT_GT(::recv(silent, question, sizeof question, 0), 0) << "the query was never sent";
    ::close(silent);
    EXPECT_TRUE(log.contains("Task was destroyed but it is pending")) << log.joined();
}
