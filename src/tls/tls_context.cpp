// TlsContext over OpenSSL's SSL_CTX, the handshake of a new connection (wrap_transport),
// and start_tls. The secure defaults follow Python's ssl.create_default_context() and the
// project's security defaults (docs: RELIABILITY-NOTES, "Security defaults").

#include <cerrno>
#include <stdexcept>

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "asyncio/errors.hpp"
#include "asyncio/net/tls.hpp"
#include "asyncio/timeout.hpp"
#include "net/stream_state.hpp"
#include "tls/tls_error.hpp"
#include "tls/tls_transport.hpp"

namespace asyncio {

struct TlsContext::Impl {
    explicit Impl(SSL_CTX* context, bool is_server) : ctx(context), server(is_server) {}
    Impl(const Impl&) = delete;
    Impl& operator=(const Impl&) = delete;
    ~Impl() { SSL_CTX_free(ctx); }

    SSL_CTX* ctx;
    bool server;
    bool verify = true;
    std::string alpn_wire;  // a server's accepted protocols, in ALPN's wire format
};

namespace {

[[noreturn]] void throw_config_error(const std::string& what) {
    throw SSLError(0, "TLS: " + what + ": " + detail::take_openssl_errors());
}

SSL_CTX* new_ssl_ctx(bool server) {
    SSL_CTX* ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
    if (ctx == nullptr) throw_config_error("cannot create an SSL_CTX");
    // Debian's openssl.cnf sets no MinProtocol: without this, TLS 1.0 and 1.1 would be
    // negotiated with a peer that offers nothing better.
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    // Renegotiation is a TLS 1.2 feature with a history of attacks, and it would let
    // SSL_write wait for a read, which the memory BIO design rules out. Not setting
    // SSL_OP_IGNORE_UNEXPECTED_EOF keeps a truncated stream an error.
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
    // An idle connection gives its 34 KiB of record buffers back.
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    return ctx;
}

std::string alpn_wire_format(const std::vector<std::string>& protocols) {
    std::string wire;
    for (const auto& protocol : protocols) {
        if (protocol.empty() || protocol.size() > 255) {
            throw std::invalid_argument("set_alpn_protocols: '" + protocol +
                                        "' is not 1 to 255 bytes long");
        }
        wire.push_back(static_cast<char>(protocol.size()));
        wire += protocol;
    }
    return wire;
}

/// The server's ALPN choice: its own first preference among what the client offers. No
/// overlap continues without ALPN, as Python's servers do.
int select_alpn(SSL*, const unsigned char** out, unsigned char* out_length,
                const unsigned char* offered, unsigned int offered_length, void* arg) {
    const auto& wire = *static_cast<const std::string*>(arg);
    unsigned char* chosen = nullptr;
    if (SSL_select_next_proto(&chosen, out_length,
                              reinterpret_cast<const unsigned char*>(wire.data()),
                              static_cast<unsigned int>(wire.size()), offered,
                              offered_length) != OPENSSL_NPN_NEGOTIATED) {
        return SSL_TLSEXT_ERR_NOACK;
    }
    *out = chosen;
    return SSL_TLSEXT_ERR_OK;
}

bool is_ip_address(const std::string& host) {
    unsigned char address[16];
    return ::inet_pton(AF_INET, host.c_str(), address) == 1 ||
           ::inet_pton(AF_INET6, host.c_str(), address) == 1;
}

}  // namespace

TlsContext::TlsContext(std::unique_ptr<Impl> impl) noexcept : impl_(std::move(impl)) {}
TlsContext::~TlsContext() = default;

std::shared_ptr<TlsContext> TlsContext::client() {
    auto impl = std::make_unique<Impl>(new_ssl_ctx(false), false);
    SSL_CTX_set_verify(impl->ctx, SSL_VERIFY_PEER, nullptr);
    // The system store: OPENSSLDIR/cert.pem and certs/ (on Debian both lead to
    // /etc/ssl/certs). A missing store is no error here: verification fails later, loudly.
    if (SSL_CTX_set_default_verify_paths(impl->ctx) != 1) ERR_clear_error();
    return std::shared_ptr<TlsContext>(new TlsContext(std::move(impl)));
}

std::shared_ptr<TlsContext> TlsContext::server(const std::string& cert_chain_file,
                                               const std::string& key_file) {
    auto impl = std::make_unique<Impl>(new_ssl_ctx(true), true);
    // Sessions resumed with a client certificate must belong to this application.
    static const unsigned char session_context[] = "asyncio-cpp";
    SSL_CTX_set_session_id_context(impl->ctx, session_context, sizeof session_context - 1);
    SSL_CTX_set_options(impl->ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
    std::shared_ptr<TlsContext> context(new TlsContext(std::move(impl)));
    context->load_cert_chain(cert_chain_file, key_file);
    return context;
}

bool TlsContext::is_server() const noexcept { return impl_->server; }

void TlsContext::load_verify_locations(const std::string& ca_file, const std::string& ca_dir) {
    if (ca_file.empty() && ca_dir.empty()) {
        throw std::invalid_argument("load_verify_locations: give a CA file or directory");
    }
    if (!ca_file.empty() && SSL_CTX_load_verify_file(impl_->ctx, ca_file.c_str()) != 1) {
        throw_config_error("cannot load the CA file '" + ca_file + "'");
    }
    if (!ca_dir.empty() && SSL_CTX_load_verify_dir(impl_->ctx, ca_dir.c_str()) != 1) {
        throw_config_error("cannot use the CA directory '" + ca_dir + "'");
    }
}

void TlsContext::load_cert_chain(const std::string& cert_chain_file, const std::string& key_file) {
    if (SSL_CTX_use_certificate_chain_file(impl_->ctx, cert_chain_file.c_str()) != 1) {
        throw_config_error("cannot load the certificate chain '" + cert_chain_file + "'");
    }
    if (SSL_CTX_use_PrivateKey_file(impl_->ctx, key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
        throw_config_error("cannot load the private key '" + key_file + "'");
    }
    if (SSL_CTX_check_private_key(impl_->ctx) != 1) {
        throw_config_error("the private key '" + key_file + "' does not match the certificate '" +
                           cert_chain_file + "'");
    }
}

void TlsContext::set_verify_disabled_insecure() {
    if (impl_->server) {
        throw std::logic_error("set_verify_disabled_insecure: only for client contexts");
    }
    impl_->verify = false;
    SSL_CTX_set_verify(impl_->ctx, SSL_VERIFY_NONE, nullptr);
}

bool TlsContext::verifies_peer() const noexcept { return !impl_->server && impl_->verify; }

void TlsContext::set_alpn_protocols(const std::vector<std::string>& protocols) {
    std::string wire = alpn_wire_format(protocols);
    if (impl_->server) {
        impl_->alpn_wire = std::move(wire);
        if (impl_->alpn_wire.empty()) {
            SSL_CTX_set_alpn_select_cb(impl_->ctx, nullptr, nullptr);
        } else {
            SSL_CTX_set_alpn_select_cb(impl_->ctx, &select_alpn, &impl_->alpn_wire);
        }
        return;
    }
    // Unusually, 0 is success here.
    if (SSL_CTX_set_alpn_protos(impl_->ctx, reinterpret_cast<const unsigned char*>(wire.data()),
                                static_cast<unsigned int>(wire.size())) != 0) {
        throw_config_error("cannot set the ALPN protocols");
    }
}

void TlsContext::set_client_certificate(ClientCertificate mode) {
    if (!impl_->server) throw std::logic_error("set_client_certificate: only for server contexts");
    int flags = SSL_VERIFY_NONE;
    if (mode == ClientCertificate::optional) flags = SSL_VERIFY_PEER;
    if (mode == ClientCertificate::required) {
        flags = SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    }
    SSL_CTX_set_verify(impl_->ctx, flags, nullptr);
}

void TlsContext::set_minimum_version(TlsVersion version) {
    SSL_CTX_set_min_proto_version(impl_->ctx,
                                  version == TlsVersion::tls1_3 ? TLS1_3_VERSION : TLS1_2_VERSION);
}

Task<std::shared_ptr<detail::StreamTransport>> TlsContext::wrap_transport(
    std::shared_ptr<detail::StreamTransport> inner, bool server_side, std::string server_hostname,
    Duration handshake_timeout, Duration shutdown_timeout) {
    if (server_side != impl_->server) {
        throw std::invalid_argument(server_side ? "TLS server: the context is a client context "
                                                  "(make it with TlsContext::server)"
                                                : "TLS client: the context is a server context "
                                                  "(make it with TlsContext::client)");
    }
    const auto address = inner->peername();
    const std::string address_text = address ? address->to_string() : "the peer";
    std::string peer;
    SSL* ssl = SSL_new(impl_->ctx);
    if (ssl == nullptr) throw_config_error("cannot create an SSL object");
    if (server_side) {
        SSL_set_accept_state(ssl);
        peer = "client " + address_text;
    } else {
        SSL_set_connect_state(ssl);
        if (server_hostname.empty() && impl_->verify) {
            SSL_free(ssl);
            throw std::invalid_argument(
                "TLS client: a server_hostname is needed to check the server's certificate");
        }
        bool accepted = true;
        if (is_ip_address(server_hostname)) {
            // RFC 6066 allows no address in SNI: the certificate is checked against it.
            if (impl_->verify) {
                accepted = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl),
                                                         server_hostname.c_str()) == 1;
            }
        } else if (!server_hostname.empty()) {
            accepted = SSL_set_tlsext_host_name(ssl, server_hostname.c_str()) == 1;
            if (impl_->verify) {
                // As Python: "*.example.com" matches, "w*.example.com" does not.
                SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
                accepted = accepted && SSL_set1_host(ssl, server_hostname.c_str()) == 1;
            }
        }
        if (!accepted) {
            SSL_free(ssl);
            throw_config_error("'" + server_hostname + "' cannot be used as server_hostname");
        }
        peer = server_hostname.empty() || server_hostname == (address ? address->host() : "")
                   ? address_text
                   : "'" + server_hostname + "' at " + address_text;
    }
    auto transport = std::make_shared<detail::TlsTransport>(ssl, inner, peer, server_hostname,
                                                            shutdown_timeout, shared_from_this());

    bool timed_out = false;
    std::exception_ptr failure;
    try {
        co_await asyncio::timeout(handshake_timeout, transport->handshake());
    } catch (const TimeoutError&) {
        timed_out = true;
    } catch (...) {
        failure = std::current_exception();
    }
    if (timed_out) {
        inner->abort();
        // Python aborts with ConnectionAbortedError and this message.
        throw ConnectionAbortedError(ETIMEDOUT, "TLS handshake with " + peer +
                                                    " is taking longer than " +
                                                    detail::describe_duration(handshake_timeout) +
                                                    ": aborting the connection");
    }
    if (failure) {
        // A refused handshake closes after its alert is sent; a cancelled one at once.
        if (exception_is<CancelledError>(failure)) {
            inner->abort();
        } else {
            inner->close();
        }
        std::rethrow_exception(failure);
    }
    co_return transport;
}

Task<> start_tls(StreamWriter& writer, std::shared_ptr<TlsContext> context,
                 std::string server_hostname, Duration handshake_timeout,
                 Duration shutdown_timeout) {
    if (!context) throw std::invalid_argument("start_tls: no TLS context");
    const std::shared_ptr<detail::StreamState> state = writer.state();
    if (state->transport->tls_info()) throw RuntimeError("start_tls: the stream is already TLS");
    if (state->transport->is_closing()) throw RuntimeError("start_tls: the stream is closed");
    if (state->reading) {
        throw RuntimeError("start_tls() called while another task is reading from the stream");
    }
    // Reads would take handshake bytes for data: the reader is held off meanwhile.
    state->reading = true;
    try {
        auto transport = co_await context->wrap_transport(state->transport, context->is_server(),
                                                          std::move(server_hostname),
                                                          handshake_timeout, shutdown_timeout);
        state->transport = std::move(transport);
    } catch (...) {
        state->reading = false;
        throw;
    }
    state->reading = false;
}

namespace detail {

std::string take_openssl_errors(bool* unexpected_eof) {
    std::string text;
    char buffer[256];
    while (const unsigned long code = ERR_get_error()) {
        if (unexpected_eof != nullptr && ERR_GET_LIB(code) == ERR_LIB_SSL &&
            ERR_GET_REASON(code) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
            *unexpected_eof = true;
        }
        ERR_error_string_n(code, buffer, sizeof buffer);
        if (!text.empty()) text += "; ";
        text += buffer;
    }
    return text;
}

std::string describe_duration(Duration duration) {
    using namespace std::chrono;
    if (duration % seconds(1) == Duration::zero()) {
        return std::to_string(duration_cast<seconds>(duration).count()) + " s";
    }
    return std::to_string(duration_cast<milliseconds>(duration).count()) + " ms";
}

}  // namespace detail
}  // namespace asyncio
