#pragma once

// TLS for streams (Python's ssl.SSLContext as asyncio uses it). The functions declared here
// live in the `asyncio_tls` library (CMake: asyncio::tls, pkg-config: asyncio-tls), which
// links OpenSSL 3; this header includes no OpenSSL header, so including it (the umbrella
// header does) costs nothing to a program that never makes a TlsContext.

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "asyncio/clock.hpp"
#include "asyncio/net/stream.hpp"
#include "asyncio/task.hpp"

namespace asyncio {

namespace detail {
class StreamTransport;
}

/// The lowest protocol version a TlsContext accepts. There is nothing below TLS 1.2: older
/// versions are refused whatever the system's OpenSSL configuration says.
enum class TlsVersion { tls1_2, tls1_3 };

/// Whether a TLS server asks for a client certificate (Python's verify_mode on a server
/// context: CERT_NONE, CERT_OPTIONAL, CERT_REQUIRED).
enum class ClientCertificate {
    none,      ///< not asked for (the default)
    optional,  ///< asked for and verified when sent; a client without one is accepted
    required,  ///< a client without a valid certificate fails the handshake
};

/// TLS settings shared by many connections (Python's ssl.SSLContext as made by
/// `ssl.create_default_context()`), over OpenSSL 3. Always held by `std::shared_ptr`:
/// connections keep their context alive.
///
/// The defaults are the secure ones and need no call:
/// - a client verifies the server's certificate against the system's CA store
///   (/etc/ssl/certs/ca-certificates.crt on Debian) and checks that it names the host;
///   the only way out is the explicitly named `set_verify_disabled_insecure()`;
/// - TLS 1.2 is the minimum, set by the library (Debian's openssl.cnf sets none);
/// - a client sends the host name with SNI (except for an IP address, which RFC 6066
///   forbids there; the certificate is then checked against the address);
/// - renegotiation is refused.
///
/// Configure a context before its first connection; connections made earlier keep the
/// settings they started with.
/// Thread safety: configure on one thread; once configured it may be used by several
/// loops at once.
/// Example:
/// ```
/// auto tls = asyncio::TlsContext::client();
/// auto [reader, writer] = co_await asyncio::open_connection("example.com", 443, {.tls = tls});
/// ```
class TlsContext : public std::enable_shared_from_this<TlsContext> {
public:
    /// A client context: verification and hostname check on, the system's CA store loaded.
    /// Throws: SSLError when OpenSSL cannot make the context.
    static std::shared_ptr<TlsContext> client();
    /// A server context presenting `cert_chain_file` (PEM: the certificate, then any
    /// intermediates) with the private key in `key_file` (PEM).
    /// Throws: SSLError naming the file and OpenSSL's reason when a file cannot be read
    /// or the key does not match the certificate.
    static std::shared_ptr<TlsContext> server(const std::string& cert_chain_file,
                                              const std::string& key_file);

    virtual ~TlsContext();
    TlsContext(const TlsContext&) = delete;
    TlsContext& operator=(const TlsContext&) = delete;

    bool is_server() const noexcept;

    /// Trusts the CA certificates in `ca_file` (PEM, may hold many) and/or the hashed
    /// directory `ca_dir` ("" for none), in addition to what is trusted already (Python's
    /// load_verify_locations). A server needs it to verify client certificates.
    /// Throws: SSLError naming the file and OpenSSL's reason.
    void load_verify_locations(const std::string& ca_file, const std::string& ca_dir = "");
    /// The certificate and key this side presents: a client certificate for a client
    /// context (a server context gets its own from server()).
    /// Throws: SSLError naming the file and OpenSSL's reason.
    void load_cert_chain(const std::string& cert_chain_file, const std::string& key_file);

    /// Turns certificate verification and the hostname check off on a client context:
    /// any server is accepted, including an impostor. For tests and closed networks only.
    /// Python: `check_hostname = False; verify_mode = CERT_NONE`.
    /// Throws: std::logic_error on a server context.
    void set_verify_disabled_insecure();
    /// False once set_verify_disabled_insecure() was called (client contexts).
    bool verifies_peer() const noexcept;

    /// ALPN (RFC 7301). On a client, the protocols offered, in order of preference; on a
    /// server, the protocols accepted, in order of preference: the first of them the client
    /// offers is chosen, and when none is, the handshake goes on without ALPN. The result is
    /// in TlsInfo::alpn_protocol.
    /// Throws: std::invalid_argument for an empty name or one longer than 255 bytes.
    void set_alpn_protocols(const std::vector<std::string>& protocols);

    /// Server contexts: whether to ask for a client certificate (verified against what
    /// load_verify_locations() trusts; the system store is not loaded on a server).
    /// Throws: std::logic_error on a client context.
    void set_client_certificate(ClientCertificate mode);

    /// Raises the lowest protocol version accepted (TLS 1.2 by default).
    void set_minimum_version(TlsVersion version);

    /// Internal: wraps a connected transport, runs the handshake and returns the encrypted
    /// transport (used by open_connection, start_server and start_tls). It is virtual so
    /// that the core library reaches TLS without linking OpenSSL.
    /// On failure `inner` is closed (after the alert is sent) or aborted (timeout, cancel).
    virtual Task<std::shared_ptr<detail::StreamTransport>> wrap_transport(
        std::shared_ptr<detail::StreamTransport> inner, bool server_side,
        std::string server_hostname, Duration handshake_timeout, Duration shutdown_timeout);

private:
    struct Impl;
    explicit TlsContext(std::unique_ptr<Impl> impl) noexcept;

    std::unique_ptr<Impl> impl_;
};

/// Upgrades an open plain connection to TLS in place (Python 3.11's StreamWriter.start_tls):
/// the same reader and writer go on, encrypted. A client context runs the client side of
/// the handshake (STARTTLS in SMTP, IMAP...), a server context the server side.
///
/// `server_hostname`: the name to verify and send with SNI; a client context that verifies
/// certificates needs it (the stream knows only the peer's address).
/// Bytes already in the reader's buffer stay there and are read first: they arrived in the
/// clear. By protocol there are none (the peer waits for the go-ahead before its TLS bytes),
/// so check `reader.buffered() == 0` first when a peer could inject plaintext (the STARTTLS
/// injection of CVE-2011-0411). Bytes written before are sent before the handshake; write
/// nothing while it runs.
///
/// Cancellation: the connection is aborted (it is half-way into TLS and unusable).
/// Throws: SSLError, SSLCertVerificationError; ConnectionAbortedError when the handshake
/// takes longer than `handshake_timeout` (the connection is aborted, as in Python);
/// RuntimeError when a read is in progress or the stream is already TLS;
/// std::invalid_argument when a verifying client context gets no server_hostname.
/// After a failure the connection is closed.
/// Example: `co_await asyncio::start_tls(writer, tls, "mail.example.com");`
Task<> start_tls(StreamWriter& writer, std::shared_ptr<TlsContext> context,
                 std::string server_hostname, Duration handshake_timeout = std::chrono::seconds(60),
                 Duration shutdown_timeout = std::chrono::seconds(30));
/// The same without a server_hostname: for server contexts and non-verifying clients.
/// (An overload rather than a defaulted std::string: see open_connection.)
inline Task<> start_tls(StreamWriter& writer, std::shared_ptr<TlsContext> context) {
    return start_tls(writer, std::move(context), std::string());
}

}  // namespace asyncio
