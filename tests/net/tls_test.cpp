// TLS streams (asyncio/net/tls.hpp) against real peers on 127.0.0.1: `openssl s_server` and
// `openssl s_client`, and our own client and server, with a CA made for this test run.

#include <cstdio>
#include <memory>
#include <string>

#include <openssl/x509_vfy.h>
#include <unistd.h>

#include "support/asyncio_test.hpp"
#include "support/child_process.hpp"
#include "support/tls_certs.hpp"
#include <asyncio/net/tls.hpp>

namespace asyncio {
namespace {

using namespace std::chrono_literals;
using testing::ChildProcess;
using testing::tls_files;

/// RELIABILITY-NOTES row 9 asks for 10,000 connect/close cycles; 1,000 keeps the suite
/// quick enough for CI (a few seconds, more under ASan). Raise it for a soak run.
constexpr int tls_cycles = 1000;

std::shared_ptr<TlsContext> trusting_client() {
    auto tls = TlsContext::client();
    tls->load_verify_locations(tls_files().ca_cert);
    return tls;
}

std::shared_ptr<TlsContext> server_context() {
    return TlsContext::server(tls_files().server_cert, tls_files().server_key);
}

ConnectOptions tls_options(std::shared_ptr<TlsContext> tls, std::string hostname = "localhost") {
    ConnectOptions options;
    options.tls = std::move(tls);
    options.server_hostname = std::move(hostname);
    return options;
}

/// `openssl s_server` on 127.0.0.1, accepting once this returns. With -rev it answers each
/// line reversed.
struct OpensslServer {
    std::uint16_t port = 0;
    std::unique_ptr<ChildProcess> process;
};

OpensslServer start_s_server(const std::string& cert, const std::string& key,
                             std::vector<std::string> extra = {}) {
    OpensslServer server;
    server.port = testing::free_port();
    std::vector<std::string> argv{
        "openssl", "s_server", "-accept", "127.0.0.1:" + std::to_string(server.port), "-cert", cert,
        "-key",    key,        "-rev"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    server.process = std::make_unique<ChildProcess>(std::move(argv));
    EXPECT_TRUE(server.process->wait_for_output("ACCEPT")) << server.process->output();
    return server;
}

std::optional<int> wait_exit(ChildProcess* process) { return process->wait_exit(20s); }

/// The error the TLS connection fails with, or null (and a test failure) when it works.
Task<std::exception_ptr> connect_failure(std::uint16_t port, ConnectOptions options) {
    try {
        auto stream = co_await open_connection("127.0.0.1", port, options);
        // A client sees a refused client certificate only when it next reads (TLS 1.3).
        stream.writer.write("x\n");
        co_await stream.reader.readline();
        stream.writer.close();
    } catch (...) {
        co_return std::current_exception();
    }
    ADD_FAILURE() << "the TLS connection was accepted";
    co_return nullptr;
}

/// The SSLCertVerificationError in `error`, if that is what it is.
std::optional<SSLCertVerificationError> cert_error(const std::exception_ptr& error) {
    try {
        if (error) std::rethrow_exception(error);
    } catch (const SSLCertVerificationError& e) {
        return e;
    } catch (...) {
    }
    ADD_FAILURE() << "not a certificate error: " << describe(error);
    return std::nullopt;
}

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

Task<> echo_lines(StreamReader reader, StreamWriter writer) {
    for (;;) {
        std::string line = co_await reader.readline();
        if (line.empty()) break;
        writer.write(line);
        co_await writer.drain();
    }
}

Task<Server> tls_server(ClientHandler handler, ServerOptions options) {
    if (!options.tls) options.tls = server_context();
    co_return co_await start_server(std::move(handler), "127.0.0.1", 0, options);
}

// Not a defaulted argument: GCC 12 mishandles those in coroutine calls (see tcp.hpp).
Task<Server> tls_server(ClientHandler handler) {
    return tls_server(std::move(handler), ServerOptions{});
}

std::uint16_t port_of(const Server& server) { return server.sockets().at(0).port(); }

Task<> close_server(Server& server) {
    server.close();
    co_await server.wait_closed();
}

ASYNCIO_TEST(Tls, HandshakeAndEchoWithOpensslServer) {
    auto peer = start_s_server(tls_files().server_cert, tls_files().server_key);
    auto [reader, writer] =
        co_await open_connection("127.0.0.1", peer.port, tls_options(trusting_client()));
    writer.write("hello\n");
    CO_ASSERT_EQ(co_await reader.readline(), "olleh\n");

    const std::optional<TlsInfo> info = writer.tls_info();
    CO_ASSERT_TRUE(info.has_value());
    EXPECT_EQ(info->version, "TLSv1.3");
    EXPECT_FALSE(info->cipher.empty());
    EXPECT_EQ(info->alpn_protocol, "");
    EXPECT_EQ(info->server_hostname, "localhost");
    EXPECT_EQ(info->peer_subject, "CN=localhost");
    EXPECT_EQ(info->peer_issuer, "CN=asyncio-cpp test CA");
    EXPECT_TRUE(info->peer_certificate_pem.starts_with("-----BEGIN CERTIFICATE-----"));
    EXPECT_FALSE(info->session_reused);
    EXPECT_FALSE(writer.can_write_eof());
    EXPECT_TRUE(writer.peername().has_value());

    writer.close();
    co_await writer.wait_closed();
}

ASYNCIO_TEST(Tls, ConnectionsAreVerifiedAgainstAnIpAddressWithoutSni) {
    auto peer = start_s_server(tls_files().server_cert, tls_files().server_key);
    ConnectOptions options;
    options.tls = trusting_client();  // server_hostname defaults to the host: 127.0.0.1
    auto [reader, writer] = co_await open_connection("127.0.0.1", peer.port, options);
    writer.write("ip\n");
    CO_ASSERT_EQ(co_await reader.readline(), "pi\n");
    EXPECT_EQ(writer.tls_info()->server_hostname, "");  // RFC 6066: no address in SNI
    writer.close();
    co_await writer.wait_closed();
}

Task<> reply_with_tls_details(StreamReader reader, StreamWriter writer) {
    const std::string line = co_await reader.readline();
    const auto info = writer.tls_info();
    writer.write("pong " + line.substr(0, line.size() - 1) + " alpn=" + info->alpn_protocol +
                 " sni=" + info->server_hostname + " peer=" + info->peer_subject + "\n");
}

ASYNCIO_TEST(Tls, OurServerAnswersOpensslClient) {
    auto context = server_context();
    context->set_alpn_protocols({"http/1.1"});
    ServerOptions options;
    options.tls = context;
    auto server = co_await tls_server(reply_with_tls_details, options);
    ChildProcess client({"openssl", "s_client", "-connect",
                         "127.0.0.1:" + std::to_string(port_of(server)), "-servername", "localhost",
                         "-CAfile", tls_files().ca_cert, "-verify_return_error", "-verify_hostname",
                         "localhost", "-alpn", "h2,http/1.1", "-quiet"});
    client.write_stdin("ping\n");
    client.close_stdin();
    // Not on the loop's thread: the server must go on meanwhile.
    const std::optional<int> status = co_await to_thread(&wait_exit, &client);
    CO_ASSERT_TRUE(status.has_value());
    EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << client.output();
    EXPECT_TRUE(contains(client.output(), "pong ping alpn=http/1.1 sni=localhost peer=\n"))
        << client.output();
    co_await close_server(server);
}

ASYNCIO_TEST(Tls, OurClientAndServerAgreeOnAlpn) {
    auto context = server_context();
    context->set_alpn_protocols({"http/1.1", "h2"});
    ServerOptions options;
    options.tls = context;
    auto server = co_await tls_server(reply_with_tls_details, options);

    auto client = trusting_client();
    client->set_alpn_protocols({"h2", "http/1.1"});
    auto [reader, writer] =
        co_await open_connection("127.0.0.1", port_of(server), tls_options(client));
    // The server's preference wins.
    EXPECT_EQ(writer.tls_info()->alpn_protocol, "http/1.1");
    writer.write("a\n");
    CO_ASSERT_EQ(co_await reader.readline(), "pong a alpn=http/1.1 sni=localhost peer=\n");
    writer.close();
    co_await writer.wait_closed();

    // No protocol in common: the handshake goes on without ALPN.
    auto other = trusting_client();
    other->set_alpn_protocols({"spdy/1"});
    auto second = co_await open_connection("127.0.0.1", port_of(server), tls_options(other));
    EXPECT_EQ(second.writer.tls_info()->alpn_protocol, "");
    second.writer.write("b\n");
    CO_ASSERT_EQ(co_await second.reader.readline(), "pong b alpn= sni=localhost peer=\n");
    second.writer.close();
    co_await second.writer.wait_closed();

    bool refused = false;
    try {
        client->set_alpn_protocols({""});
    } catch (const std::invalid_argument&) {
        refused = true;
    }
    EXPECT_TRUE(refused);
    co_await close_server(server);
}

/// A STARTTLS server: "STARTTLS\n" → "GO\n" + `extra` in the clear, then TLS, then echo.
Task<> starttls_server(std::shared_ptr<TlsContext> context, std::string extra, StreamReader reader,
                       StreamWriter writer) {
    // Awaited in its own statement: GCC 12.2 miscompiles `if (co_await f() != x)` (the
    // frame's resume index is overwritten; clang is fine).
    const std::string command = co_await reader.readline();
    if (command != "STARTTLS\n") co_return;
    writer.write("GO\n" + extra);
    co_await start_tls(writer, context);
    EXPECT_TRUE(writer.tls_info().has_value());
    const std::string line = co_await reader.readline();
    writer.write("secure " + line);
}

Task<Server> starttls_server_on_port_0(std::string extra) {
    auto context = server_context();
    ClientHandler handler = [context, extra](StreamReader reader, StreamWriter writer) {
        return starttls_server(context, extra, std::move(reader), std::move(writer));
    };
    co_return co_await start_server(std::move(handler), "127.0.0.1", 0);
}

ASYNCIO_TEST(Tls, StartTlsUpgradesAnOpenStream) {
    auto server = co_await starttls_server_on_port_0("");
    auto [reader, writer] = co_await open_connection("127.0.0.1", port_of(server));
    writer.write("STARTTLS\n");
    CO_ASSERT_EQ(co_await reader.readline(), "GO\n");
    CO_ASSERT_TRUE(!writer.tls_info().has_value());
    co_await start_tls(writer, trusting_client(), "localhost");
    CO_ASSERT_TRUE(writer.tls_info().has_value());
    EXPECT_EQ(writer.tls_info()->peer_subject, "CN=localhost");
    writer.write("hi\n");
    CO_ASSERT_EQ(co_await reader.readline(), "secure hi\n");
    bool again = false;
    try {
        co_await start_tls(writer, trusting_client(), "localhost");
    } catch (const RuntimeError&) {
        again = true;
    }
    EXPECT_TRUE(again);
    writer.close();
    co_await writer.wait_closed();
    co_await close_server(server);
}

ASYNCIO_TEST(Tls, StartTlsKeepsTheBytesAlreadyBuffered) {
    // The server sends plaintext after its go-ahead, which a protocol forbids: the bytes
    // are in the reader's buffer before start_tls, and must still be read first.
    auto server = co_await starttls_server_on_port_0("early\n");
    auto [reader, writer] = co_await open_connection("127.0.0.1", port_of(server));
    writer.write("STARTTLS\n");
    CO_ASSERT_EQ(co_await reader.readline(), "GO\n");
    CO_ASSERT_EQ(reader.buffered(), 6u);  // one send on loopback arrives as one
    co_await start_tls(writer, trusting_client(), "localhost");
    CO_ASSERT_EQ(co_await reader.readline(), "early\n");
    writer.write("hi\n");
    CO_ASSERT_EQ(co_await reader.readline(), "secure hi\n");
    writer.close();
    co_await writer.wait_closed();
    co_await close_server(server);
}

ASYNCIO_TEST(Tls, WrongHostnameIsACertificateErrorNamingTheHost) {
    auto peer = start_s_server(tls_files().server_cert, tls_files().server_key);
    const auto failure =
        co_await connect_failure(peer.port, tls_options(trusting_client(), "wrong.example"));
    const auto error = cert_error(failure);
    CO_ASSERT_TRUE(error.has_value());
    EXPECT_EQ(error->code(), X509_V_ERR_HOSTNAME_MISMATCH);
    const std::string what = error->what();
    EXPECT_TRUE(contains(what, "hostname mismatch")) << what;
    EXPECT_TRUE(contains(what, "'wrong.example'")) << what;
    EXPECT_TRUE(contains(what, "127.0.0.1:" + std::to_string(peer.port))) << what;
    EXPECT_TRUE(contains(what, "certificate verify failed")) << what;
}

ASYNCIO_TEST(Tls, UntrustedCaIsACertificateError) {
    auto peer = start_s_server(tls_files().untrusted_cert, tls_files().untrusted_key);
    const auto error =
        cert_error(co_await connect_failure(peer.port, tls_options(trusting_client())));
    CO_ASSERT_TRUE(error.has_value());
    EXPECT_EQ(error->code(), X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
    EXPECT_TRUE(contains(error->what(), "unable to get local issuer certificate")) << error->what();
}

ASYNCIO_TEST(Tls, ExpiredCertificateIsACertificateError) {
    auto peer = start_s_server(tls_files().expired_cert, tls_files().expired_key);
    const auto error =
        cert_error(co_await connect_failure(peer.port, tls_options(trusting_client())));
    CO_ASSERT_TRUE(error.has_value());
    EXPECT_EQ(error->code(), X509_V_ERR_CERT_HAS_EXPIRED);
    EXPECT_TRUE(contains(error->what(), "certificate has expired")) << error->what();
}

ASYNCIO_TEST(Tls, SelfSignedCertificateIsACertificateError) {
    auto peer = start_s_server(tls_files().self_signed_cert, tls_files().self_signed_key);
    const auto error =
        cert_error(co_await connect_failure(peer.port, tls_options(trusting_client())));
    CO_ASSERT_TRUE(error.has_value());
    EXPECT_EQ(error->code(), X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT);
    EXPECT_TRUE(contains(error->what(), "self-signed certificate")) << error->what();
}

ASYNCIO_TEST(Tls, SystemStoreAloneDoesNotTrustTheTestCa) {
    auto peer = start_s_server(tls_files().server_cert, tls_files().server_key);
    const auto error =
        cert_error(co_await connect_failure(peer.port, tls_options(TlsContext::client())));
    CO_ASSERT_TRUE(error.has_value());
    EXPECT_EQ(error->code(), X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
}

ASYNCIO_TEST(Tls, VerificationIsDisabledOnlyByTheExplicitOption) {
    auto peer = start_s_server(tls_files().self_signed_cert, tls_files().self_signed_key);
    auto tls = TlsContext::client();
    EXPECT_TRUE(tls->verifies_peer());
    cert_error(co_await connect_failure(peer.port, tls_options(tls, "wrong.example")));

    tls->set_verify_disabled_insecure();
    EXPECT_FALSE(tls->verifies_peer());
    auto [reader, writer] =
        co_await open_connection("127.0.0.1", peer.port, tls_options(tls, "wrong.example"));
    writer.write("anyone\n");
    CO_ASSERT_EQ(co_await reader.readline(), "enoyna\n");
    writer.close();
    co_await writer.wait_closed();

    EXPECT_TRUE(TlsContext::client()->verifies_peer());  // a fresh context verifies again
    bool server_refuses = false;
    try {
        server_context()->set_verify_disabled_insecure();
    } catch (const std::logic_error&) {
        server_refuses = true;
    }
    EXPECT_TRUE(server_refuses);
}

ASYNCIO_TEST(Tls, StartTlsOfAVerifyingClientNeedsAServerHostname) {
    auto server = co_await tls_server(echo_lines);
    auto [reader, writer] = co_await open_connection("127.0.0.1", port_of(server));
    bool needs_name = false;
    try {
        co_await start_tls(writer, trusting_client());
    } catch (const std::invalid_argument&) {
        needs_name = true;
    }
    EXPECT_TRUE(needs_name);
    writer.close();
    co_await close_server(server);
}

ASYNCIO_TEST(Tls, Tls11OnlyServerIsRefused) {
    auto peer = start_s_server(tls_files().server_cert, tls_files().server_key,
                               {"-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"});
    const auto failure = co_await connect_failure(peer.port, tls_options(trusting_client()));
    bool tls_error = false;
    std::string what;
    try {
        std::rethrow_exception(failure);
    } catch (const SSLCertVerificationError& e) {
        what = e.what();
    } catch (const SSLError& e) {
        tls_error = true;
        what = e.what();
    } catch (...) {
    }
    EXPECT_TRUE(tls_error) << what;
    EXPECT_TRUE(contains(what, "protocol")) << what;
}

ASYNCIO_TEST_WITH(Tls, OurServerRefusesTls11AndKeepsServing,
                  (testing::TestOptions{.debug = true})) {
    testing::LogCapture log;
    auto server = co_await tls_server(echo_lines);
    ChildProcess old_client({"openssl", "s_client", "-connect",
                             "127.0.0.1:" + std::to_string(port_of(server)), "-tls1_1", "-cipher",
                             "DEFAULT@SECLEVEL=0", "-quiet"});
    old_client.close_stdin();
    const std::optional<int> status = co_await to_thread(&wait_exit, &old_client);
    CO_ASSERT_TRUE(status.has_value());
    EXPECT_FALSE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << old_client.output();

    // The refusal closed that connection only.
    auto [reader, writer] =
        co_await open_connection("127.0.0.1", port_of(server), tls_options(trusting_client()));
    writer.write("still here\n");
    CO_ASSERT_EQ(co_await reader.readline(), "still here\n");
    writer.close();
    co_await writer.wait_closed();
    co_await close_server(server);
    EXPECT_TRUE(log.contains("TLS handshake with 127.0.0.1:")) << log.joined();
    EXPECT_TRUE(log.contains("unsupported protocol")) << log.joined();
}

Task<> require_client_certificate(StreamReader reader, StreamWriter writer) {
    co_await reader.readline();
    writer.write(writer.tls_info()->peer_subject + "\n");
}

ASYNCIO_TEST(Tls, ServerCanRequireAClientCertificate) {
    auto context = server_context();
    context->load_verify_locations(tls_files().ca_cert);
    context->set_client_certificate(ClientCertificate::required);
    ServerOptions options;
    options.tls = context;
    auto server = co_await tls_server(require_client_certificate, options);

    const auto failure = co_await connect_failure(port_of(server), tls_options(trusting_client()));
    EXPECT_TRUE(exception_is<SSLError>(failure)) << describe(failure);
    EXPECT_TRUE(contains(describe(failure), "certificate required")) << describe(failure);

    auto client = trusting_client();
    client->load_cert_chain(tls_files().client_cert, tls_files().client_key);
    auto [reader, writer] =
        co_await open_connection("127.0.0.1", port_of(server), tls_options(client));
    writer.write("who\n");
    CO_ASSERT_EQ(co_await reader.readline(), "CN=asyncio-cpp test client\n");
    writer.close();
    co_await writer.wait_closed();
    co_await close_server(server);
}

ASYNCIO_TEST(Tls, ContextFilesThatCannotBeLoadedAreNamed) {
    std::string what;
    try {
        TlsContext::server("/nonexistent/cert.pem", tls_files().server_key);
    } catch (const SSLError& e) {
        what = e.what();
    }
    EXPECT_TRUE(contains(what, "'/nonexistent/cert.pem'")) << what;
    what.clear();
    try {
        TlsContext::server(tls_files().server_cert, tls_files().client_key);
    } catch (const SSLError& e) {
        what = e.what();
    }
    EXPECT_TRUE(contains(what, "client.key")) << what;
    EXPECT_TRUE(contains(what, "key values mismatch")) << what;
    co_return;
}

Task<> send_then_wait(Event* release, StreamReader, StreamWriter writer) {
    writer.write("partial\n");
    co_await writer.drain();
    co_await release->wait();
}

Task<Server> server_that_waits(Event& release) {
    ClientHandler handler = [&release](StreamReader reader, StreamWriter writer) {
        return send_then_wait(&release, std::move(reader), std::move(writer));
    };
    co_return co_await tls_server(std::move(handler));
}

ASYNCIO_TEST(Tls, EofWithoutCloseNotifyIsAnSslError) {
    Event release;
    auto server = co_await server_that_waits(release);
    auto [reader, writer] =
        co_await open_connection("127.0.0.1", port_of(server), tls_options(trusting_client()));
    CO_ASSERT_EQ(co_await reader.readline(), "partial\n");
    server.abort_clients();  // TCP FIN without close_notify: a truncation attack looks so
    std::string what;
    try {
        co_await reader.read();
    } catch (const SSLError& e) {
        what = e.what();
    }
    EXPECT_TRUE(contains(what, "EOF without close_notify")) << what;
    EXPECT_TRUE(contains(what, "unexpected eof while reading")) << what;
    EXPECT_FALSE(reader.at_eof());
    // The error stays: it is not turned into a clean EOF by asking again.
    bool again = false;
    try {
        co_await reader.read();
    } catch (const SSLError&) {
        again = true;
    }
    EXPECT_TRUE(again);
    release.set();
    writer.close();
    co_await writer.wait_closed();
    co_await close_server(server);
}

ASYNCIO_TEST(Tls, DefaultTimeoutsAreSixtyAndThirtySeconds) {
    EXPECT_EQ(ConnectOptions{}.tls_handshake_timeout, 60s);
    EXPECT_EQ(ConnectOptions{}.tls_shutdown_timeout, 30s);
    EXPECT_EQ(ServerOptions{}.tls_handshake_timeout, 60s);
    EXPECT_EQ(ServerOptions{}.tls_shutdown_timeout, 30s);
    co_return;
}

ASYNCIO_TEST(Tls, PeerThatNeverAnswersCloseNotifyEndsWaitClosedByTheShutdownTimeout) {
    // RELIABILITY row 10 (gh-74883, aiohttp#11091). The server's handler never reads, so
    // nothing answers our close_notify.
    Event release;
    auto server = co_await server_that_waits(release);
    ConnectOptions options = tls_options(trusting_client());
    options.tls_shutdown_timeout = 200ms;
    auto [reader, writer] = co_await open_connection("127.0.0.1", port_of(server), options);
    CO_ASSERT_EQ(co_await reader.readline(), "partial\n");
    const TimePoint start = get_running_loop().time();
    writer.close();
    EXPECT_TRUE(writer.is_closing());
    std::string what;
    try {
        co_await writer.wait_closed();
    } catch (const TimeoutError& e) {
        what = e.what();
    }
    EXPECT_TRUE(contains(what, "no close_notify from the peer within 200 ms")) << what;
    EXPECT_GE(get_running_loop().time() - start, 200ms);
    EXPECT_EQ(writer.fd(), -1);  // aborted
    // Once more: the same answer, at once.
    bool again = false;
    try {
        co_await writer.wait_closed();
    } catch (const TimeoutError&) {
        again = true;
    }
    EXPECT_TRUE(again);
    release.set();
    co_await close_server(server);
}

Task<> never_answer(Event* release, StreamReader, StreamWriter) { co_await release->wait(); }

ASYNCIO_TEST(Tls, HandshakeTimeoutAbortsTheConnection) {
    Event release;
    ClientHandler handler = [&release](StreamReader reader, StreamWriter writer) {
        return never_answer(&release, std::move(reader), std::move(writer));
    };
    auto server = co_await start_server(std::move(handler), "127.0.0.1", 0);  // plain TCP
    ConnectOptions options = tls_options(trusting_client());
    options.tls_handshake_timeout = 200ms;
    const TimePoint start = get_running_loop().time();
    std::string what;
    try {
        co_await open_connection("127.0.0.1", port_of(server), options);
    } catch (const ConnectionAbortedError& e) {
        what = e.what();
    }
    EXPECT_TRUE(contains(what, "is taking longer than 200 ms: aborting the connection")) << what;
    EXPECT_GE(get_running_loop().time() - start, 200ms);
    release.set();
    co_await close_server(server);
}

#ifdef ASYNCIO_SANITIZED
constexpr bool measures_resident_memory = false;  // the sanitizers' quarantine holds memory
#else
constexpr bool measures_resident_memory = true;
#endif

/// Resident memory in bytes (/proc/self/statm).
std::size_t resident_bytes() {
    std::size_t pages = 0;
    std::size_t resident = 0;
    if (FILE* file = std::fopen("/proc/self/statm", "r")) {
        if (std::fscanf(file, "%zu %zu", &pages, &resident) != 2) resident = 0;
        std::fclose(file);
    }
    return resident * static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
}

ASYNCIO_TEST(Tls, ConnectCloseCyclesLeakNothing) {
    // RELIABILITY row 9 (gh-109534): descriptors are checked here and frames by the test
    // fixture; memory by LSan in the asan preset, and here by a generous bound on resident
    // memory growth after a warm-up (without sanitizers, whose quarantine holds memory).
    const std::size_t fds_before = testing::open_fd_count();
    auto server = co_await tls_server(echo_lines);
    const ConnectOptions options = tls_options(trusting_client());
    std::size_t resident_after_warm_up = 0;
    for (int i = 0; i < tls_cycles; ++i) {
        if (i == tls_cycles / 10) resident_after_warm_up = resident_bytes();
        auto [reader, writer] = co_await open_connection("127.0.0.1", port_of(server), options);
        writer.write("ping\n");
        CO_ASSERT_EQ(co_await reader.readline(), "ping\n");
        writer.close();
        co_await writer.wait_closed();
    }
    co_await close_server(server);
    EXPECT_EQ(testing::open_fd_count(), fds_before);
    if (measures_resident_memory) {
        EXPECT_LT(resident_bytes(), resident_after_warm_up + 8 * 1024 * 1024);
    }
}

/// Copies `from` to `to` until EOF. The first read of at least `hold_at` bytes is passed
/// on in two halves, the second only once `release` is set; `held` is set in between.
Task<> forward(StreamReader from, StreamWriter to, std::size_t hold_at, Event* held,
               Event* release) {
    bool holding = held != nullptr;
    for (;;) {
        std::string chunk = co_await from.read(64 * 1024);
        if (chunk.empty()) break;
        if (holding && chunk.size() >= hold_at) {
            holding = false;
            to.write(chunk.substr(0, chunk.size() / 2));
            co_await to.drain();
            held->set();
            co_await release->wait();
            chunk.erase(0, chunk.size() / 2);
        }
        to.write(chunk);
        co_await to.drain();
    }
    to.write_eof();
}

Task<> proxy_connection(std::uint16_t upstream_port, Event* held, Event* release,
                        StreamReader reader, StreamWriter writer) {
    auto upstream = co_await open_connection("127.0.0.1", upstream_port);
    auto upward = create_task(forward(std::move(reader), upstream.writer, 0, nullptr, nullptr));
    co_await forward(std::move(upstream.reader), writer, 8000, held, release);
    co_await upward;
}

Task<> send_payload(std::string payload, StreamReader reader, StreamWriter writer) {
    const std::string go = co_await reader.readline();
    EXPECT_EQ(go, "go\n");
    writer.write(payload);  // one SSL_write: one record of 10,000 bytes
    co_await writer.drain();
    co_await reader.read();  // until the client closes
}

ASYNCIO_TEST(Tls, CancelledReadMidRecordLosesNothing) {
    const std::string payload(10'000, 'p');
    ClientHandler sender = [payload](StreamReader reader, StreamWriter writer) {
        return send_payload(payload, std::move(reader), std::move(writer));
    };
    auto server = co_await tls_server(std::move(sender));
    Event held;
    Event release;
    const std::uint16_t upstream_port = port_of(server);
    ClientHandler proxy_handler = [upstream_port, &held, &release](StreamReader reader,
                                                                   StreamWriter writer) {
        return proxy_connection(upstream_port, &held, &release, std::move(reader),
                                std::move(writer));
    };
    auto proxy = co_await start_server(std::move(proxy_handler), "127.0.0.1", 0);

    auto [reader, writer] =
        co_await open_connection("127.0.0.1", port_of(proxy), tls_options(trusting_client()));
    writer.write("go\n");
    auto read = create_task(reader.read(100'000));
    co_await held.wait();
    co_await sleep(50ms);  // real time while I/O is pending: half a record reaches the reader
    CO_ASSERT_TRUE(!read.done());
    read.cancel();
    try {
        co_await read;
    } catch (const CancelledError&) {
    }
    CO_ASSERT_TRUE(read.cancelled());
    release.set();
    CO_ASSERT_EQ(co_await reader.readexactly(payload.size()), payload);
    writer.close();
    co_await writer.wait_closed();
    co_await close_server(proxy);
    co_await close_server(server);
}

}  // namespace
}  // namespace asyncio
