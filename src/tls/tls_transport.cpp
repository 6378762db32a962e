#include "tls/tls_transport.hpp"

#include <algorithm>
#include <climits>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "asyncio/errors.hpp"
#include "asyncio/timeout.hpp"
#include "tls/tls_error.hpp"

namespace asyncio::detail {
namespace {

/// One inner read: a full TLS record (16 KiB of data plus its overhead) fits.
constexpr std::size_t ciphertext_chunk = 16 * 1024 + 512;

int clamp_to_int(std::size_t size) noexcept {
    return static_cast<int>(std::min<std::size_t>(size, INT_MAX));
}

std::string bio_text(BIO* bio) {
    char* data = nullptr;
    const long size = BIO_get_mem_data(bio, &data);
    return size > 0 ? std::string(data, static_cast<std::size_t>(size)) : std::string();
}

std::string name_text(const X509_NAME* name) {
    BIO* bio = BIO_new(BIO_s_mem());
    if (bio == nullptr) return {};
    X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253);
    std::string text = bio_text(bio);
    BIO_free(bio);
    return text;
}

std::string pem_text(X509* certificate) {
    BIO* bio = BIO_new(BIO_s_mem());
    if (bio == nullptr) return {};
    PEM_write_bio_X509(bio, certificate);
    std::string text = bio_text(bio);
    BIO_free(bio);
    return text;
}

}  // namespace

TlsTransport::TlsTransport(SSL* ssl, std::shared_ptr<StreamTransport> inner, std::string peer,
                           std::string expected_name, Duration shutdown_timeout,
                           std::shared_ptr<const void> context)
    : ssl_(ssl),
      inner_(std::move(inner)),
      peer_(std::move(peer)),
      expected_name_(std::move(expected_name)),
      shutdown_timeout_(shutdown_timeout),
      context_(std::move(context)),
      ciphertext_(std::make_unique_for_overwrite<char[]>(ciphertext_chunk)) {
    incoming_ = BIO_new(BIO_s_mem());
    outgoing_ = BIO_new(BIO_s_mem());
    if (incoming_ == nullptr || outgoing_ == nullptr) {
        BIO_free(incoming_);
        BIO_free(outgoing_);
        SSL_free(ssl_);
        throw SSLError(0, "TLS: cannot allocate the memory BIOs: " + take_openssl_errors());
    }
    // An empty BIO means "no ciphertext yet" (retry), not EOF: EOF is set by pull().
    BIO_set_mem_eof_return(incoming_, -1);
    SSL_set_bio(ssl_, incoming_, outgoing_);
}

TlsTransport::~TlsTransport() { SSL_free(ssl_); }

Task<> TlsTransport::handshake() {
    for (;;) {
        ERR_clear_error();
        const int result = SSL_do_handshake(ssl_);
        if (result == 1) break;
        if (SSL_get_error(ssl_, result) != SSL_ERROR_WANT_READ) {
            std::exception_ptr error = make_error("handshake", result);
            fail(error);
            // The alert tells the peer why; the caller closes the connection after it.
            flush_outgoing_quietly();
            std::rethrow_exception(error);
        }
        flush_outgoing();
        co_await pull();
    }
    // TLS 1.3: the client's Finished, or the server's session tickets.
    flush_outgoing();
    info_.version = SSL_get_version(ssl_);
    info_.cipher = SSL_CIPHER_get_name(SSL_get_current_cipher(ssl_));
    const unsigned char* alpn = nullptr;
    unsigned int alpn_length = 0;
    SSL_get0_alpn_selected(ssl_, &alpn, &alpn_length);
    if (alpn != nullptr)
        info_.alpn_protocol.assign(reinterpret_cast<const char*>(alpn), alpn_length);
    if (const char* name = SSL_get_servername(ssl_, TLSEXT_NAMETYPE_host_name)) {
        info_.server_hostname = name;
    }
    if (X509* peer = SSL_get0_peer_certificate(ssl_)) {
        info_.peer_subject = name_text(X509_get_subject_name(peer));
        info_.peer_issuer = name_text(X509_get_issuer_name(peer));
        info_.peer_certificate_pem = pem_text(peer);
    }
    info_.session_reused = SSL_session_reused(ssl_) == 1;
    handshake_done_ = true;
}

Task<> TlsTransport::pull() {
    if (pulling_) {
        WaitQueue::Waiter waiter(pulled_);
        if (co_await waiter) waiter.throw_cancelled();
        co_return;
    }
    pulling_ = true;
    std::size_t received = 0;
    try {
        received = co_await inner_->read_some(ciphertext_.get(), ciphertext_chunk);
    } catch (...) {
        // A waiting task becomes the next reader; nothing was received.
        pulling_ = false;
        pulled_.wake_all();
        throw;
    }
    pulling_ = false;
    if (received == 0) {
        inner_eof_ = true;
        // From now on OpenSSL sees EOF: without close_notify before it, that is
        // SSL_R_UNEXPECTED_EOF_WHILE_READING (OpenSSL 3).
        BIO_set_mem_eof_return(incoming_, 0);
    } else {
        BIO_write(incoming_, ciphertext_.get(), static_cast<int>(received));
    }
    pulled_.wake_all();
}

void TlsTransport::flush_outgoing() {
    char* data = nullptr;
    const long size = BIO_get_mem_data(outgoing_, &data);
    if (size <= 0) return;
    try {
        inner_->write(std::string_view(data, static_cast<std::size_t>(size)));
    } catch (...) {
        (void)BIO_reset(outgoing_);
        throw;
    }
    (void)BIO_reset(outgoing_);
}

void TlsTransport::flush_outgoing_quietly() noexcept {
    try {
        flush_outgoing();
    } catch (...) {
    }
}

std::exception_ptr TlsTransport::make_error(const char* doing, int result) {
    const int code = SSL_get_error(ssl_, result);
    bool unexpected_eof = false;
    std::string reasons = take_openssl_errors(&unexpected_eof);
    const std::string what = std::string("TLS ") + doing + " with " + peer_;
    if (code == SSL_ERROR_SSL && (SSL_get_verify_mode(ssl_) & SSL_VERIFY_PEER) != 0) {
        const long verify = SSL_get_verify_result(ssl_);
        if (verify != X509_V_OK) {
            std::string reason = X509_verify_cert_error_string(verify);
            if (verify == X509_V_ERR_HOSTNAME_MISMATCH ||
                verify == X509_V_ERR_IP_ADDRESS_MISMATCH) {
                reason += ": the certificate is not valid for '" + expected_name_ + "'";
            }
            return std::make_exception_ptr(SSLCertVerificationError(
                static_cast<int>(verify),
                what + " failed: certificate verify failed: " + reason + " (" + reasons + ")"));
        }
    }
    if (unexpected_eof) {
        return std::make_exception_ptr(
            SSLError(code, what +
                               ": EOF without close_notify: the peer closed the connection "
                               "without ending TLS, so the data may be truncated (" +
                               reasons + ")"));
    }
    if (reasons.empty()) reasons = "SSL_get_error() = " + std::to_string(code);
    return std::make_exception_ptr(SSLError(code, what + " failed: " + reasons));
}

void TlsTransport::fail(std::exception_ptr error) noexcept {
    if (!fatal_) fatal_ = std::move(error);
}

Task<std::size_t> TlsTransport::read_some(char* buffer, std::size_t length) {
    for (;;) {
        if (fatal_) std::rethrow_exception(fatal_);
        // As Python's transports: once closed, nothing more is delivered.
        if (closing_) co_return 0;
        ERR_clear_error();
        const int result = SSL_read(ssl_, buffer, clamp_to_int(length));
        // Reading may have to answer (a TLS 1.3 KeyUpdate); a failed send is kept by the
        // inner transport for the writer.
        flush_outgoing_quietly();
        if (result > 0) co_return static_cast<std::size_t>(result);
        const int code = SSL_get_error(ssl_, result);
        if (code == SSL_ERROR_ZERO_RETURN) co_return 0;  // close_notify: the clean end
        if (code != SSL_ERROR_WANT_READ) {
            std::exception_ptr error = make_error("read", result);
            fail(error);
            std::rethrow_exception(error);
        }
        co_await pull();
    }
}

void TlsTransport::write(std::string_view data) {
    if (fatal_) std::rethrow_exception(fatal_);
    if (closing_) throw InvalidStateError("StreamWriter.write(): the writer is closed");
    while (!data.empty()) {
        ERR_clear_error();
        // The memory BIO takes every record, so SSL_write never wants to wait.
        const int result = SSL_write(ssl_, data.data(), clamp_to_int(data.size()));
        if (result <= 0) {
            std::exception_ptr error = make_error("write", result);
            fail(error);
            std::rethrow_exception(error);
        }
        data.remove_prefix(static_cast<std::size_t>(result));
    }
    flush_outgoing();
}

std::size_t TlsTransport::write_buffer_size() const noexcept { return inner_->write_buffer_size(); }

Task<> TlsTransport::drain() {
    if (fatal_) std::rethrow_exception(fatal_);
    co_await inner_->drain();
}

void TlsTransport::set_write_buffer_limits(std::size_t high, std::size_t low) {
    inner_->set_write_buffer_limits(high, low);
}

void TlsTransport::write_eof() {
    // Python raises NotImplementedError: "SSL doesn't support half-closes".
    throw RuntimeError("StreamWriter.write_eof(): a TLS stream cannot half-close; use close()");
}

void TlsTransport::close() noexcept {
    if (closing_) return;
    closing_ = true;
    bool wait_for_peer = false;
    if (handshake_done_ && !fatal_) {
        ERR_clear_error();
        // Queues close_notify; 1 means the peer's close_notify came already.
        const int result = SSL_shutdown(ssl_);
        if (result < 0) ERR_clear_error();
        flush_outgoing_quietly();
        wait_for_peer = result == 0 && !inner_eof_;
    }
    if (wait_for_peer && running_loop != nullptr) {
        try {
            create_task(shut_down(shared_from_this()));
            return;
        } catch (...) {
            inner_->abort();
            mark_closed();
            return;
        }
    }
    inner_->close();
    mark_closed();
}

void TlsTransport::abort() noexcept {
    closing_ = true;
    inner_->abort();
    mark_closed();
}

Task<> TlsTransport::shut_down(std::shared_ptr<TlsTransport> self) {
    bool timed_out = false;
    try {
        co_await asyncio::timeout(self->shutdown_timeout_, self->await_peer_close_notify());
    } catch (const TimeoutError&) {
        timed_out = true;
    } catch (const CancelledError&) {
        // The loop is shutting down: no time left to wait for the peer.
        self->inner_->abort();
        self->mark_closed();
        throw;
    } catch (...) {
        // The connection broke while waiting: nothing more can come, close it.
    }
    if (timed_out) {
        self->shutdown_error_ = std::make_exception_ptr(TimeoutError(
            "TLS shutdown with " + self->peer_ + ": no close_notify from the peer within " +
            describe_duration(self->shutdown_timeout_) + "; the connection was aborted"));
        self->inner_->abort();
    } else {
        self->inner_->close();
    }
    self->mark_closed();
}

Task<> TlsTransport::await_peer_close_notify() {
    // What still arrives after close() is dropped, as Python's transports do.
    static thread_local char discarded[16 * 1024];
    for (;;) {
        if (fatal_ || inner_eof_ || (SSL_get_shutdown(ssl_) & SSL_RECEIVED_SHUTDOWN) != 0) {
            co_return;
        }
        ERR_clear_error();
        const int result = SSL_read(ssl_, discarded, sizeof discarded);
        flush_outgoing_quietly();
        if (result > 0) continue;
        if (SSL_get_error(ssl_, result) != SSL_ERROR_WANT_READ) {
            // close_notify (SSL_ERROR_ZERO_RETURN), or a broken stream: either way it is over.
            ERR_clear_error();
            co_return;
        }
        co_await pull();
    }
}

void TlsTransport::mark_closed() noexcept {
    closed_ = true;
    closers_.wake_all();
}

Task<> TlsTransport::wait_closed() {
    while (!closed_) {
        WaitQueue::Waiter waiter(closers_);
        if (co_await waiter) waiter.throw_cancelled();
    }
    if (shutdown_error_) std::rethrow_exception(shutdown_error_);
    co_await inner_->wait_closed();
}

std::optional<TlsInfo> TlsTransport::tls_info() const {
    if (!handshake_done_) return std::nullopt;
    return info_;
}

}  // namespace asyncio::detail
