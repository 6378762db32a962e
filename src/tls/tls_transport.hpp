#pragma once

// A StreamTransport that runs TLS over another one (the socket's FdTransport).
//
// OpenSSL works on two memory BIOs and never touches the socket: ciphertext read from the
// inner transport is written into `incoming`, and whatever OpenSSL puts into `outgoing`
// (records, alerts, handshake messages) is handed to the inner transport's write(). So
// writes are pushed as plain ones are, and flow control (drain, the write buffer limits)
// is the inner transport's, counted in ciphertext bytes.
//
// Reads are pulled: read_some() runs SSL_read and, when OpenSSL wants more ciphertext,
// reads once from the inner transport. Only one task reads the inner transport at a time
// (the reader, or the shutdown task after close()); the other waits for that read and
// then looks at what OpenSSL has. Ciphertext is in the BIO before anything can cancel the
// reader, so a cancelled read loses nothing: a half-received record stays there.
//
// close() sends close_notify, then a task waits for the peer's close_notify (discarding
// data that still arrives, as Python does after close()) for at most the shutdown timeout,
// and closes the inner transport. A peer that never answers (aiohttp#11091) is aborted
// when the timeout passes, and wait_closed() throws TimeoutError (Python's
// ssl_shutdown_timeout does the same). EOF without close_notify while reading is an
// SSLError, never a clean EOF: it is how a truncation attack looks.

#include <exception>
#include <memory>
#include <string>

#include <openssl/ssl.h>

#include "asyncio/clock.hpp"
#include "asyncio/detail/wait_queue.hpp"
#include "net/transport.hpp"

namespace asyncio::detail {

class TlsTransport final : public StreamTransport,
                           public std::enable_shared_from_this<TlsTransport> {
public:
    /// Takes ownership of `ssl` (its role, SNI and hostname check already set; its BIOs
    /// are made here), even when it throws. `peer` names the other side in error messages,
    /// `expected_name` is the host name or address the certificate is checked against, and
    /// `context` keeps the TlsContext alive (its callbacks point into it).
    TlsTransport(SSL* ssl, std::shared_ptr<StreamTransport> inner, std::string peer,
                 std::string expected_name, Duration shutdown_timeout,
                 std::shared_ptr<const void> context);
    ~TlsTransport() override;
    TlsTransport(const TlsTransport&) = delete;
    TlsTransport& operator=(const TlsTransport&) = delete;

    /// Runs the handshake to its end.
    /// Throws: SSLCertVerificationError, SSLError, the inner transport's errors.
    Task<> handshake();

    Task<std::size_t> read_some(char* buffer, std::size_t length) override;
    void write(std::string_view data) override;
    std::size_t write_buffer_size() const noexcept override;
    Task<> drain() override;
    void set_write_buffer_limits(std::size_t high, std::size_t low) override;
    bool can_write_eof() const noexcept override { return false; }
    void write_eof() override;
    void close() noexcept override;
    void abort() noexcept override;
    bool is_closing() const noexcept override { return closing_; }
    Task<> wait_closed() override;
    std::optional<SocketAddress> peername() const override { return inner_->peername(); }
    std::optional<SocketAddress> sockname() const override { return inner_->sockname(); }
    int fd() const noexcept override { return inner_->fd(); }
    std::optional<TlsInfo> tls_info() const override;

private:
    /// Reads ciphertext once from the inner transport into `incoming_`, or waits for the
    /// read another task is doing. At the end of the inner stream, the BIO reports EOF.
    Task<> pull();
    /// Hands what OpenSSL wrote to the inner transport. Throws: the inner write's error.
    void flush_outgoing();
    /// flush_outgoing() where a failed write is not this caller's to report: the inner
    /// transport keeps the error for the next write, drain and wait_closed.
    void flush_outgoing_quietly() noexcept;
    /// The error for a failed SSL call (`result` its return value), with OpenSSL's reasons.
    std::exception_ptr make_error(const char* doing, int result);
    void fail(std::exception_ptr error) noexcept;

    static Task<> shut_down(std::shared_ptr<TlsTransport> self);
    Task<> await_peer_close_notify();
    void mark_closed() noexcept;

    SSL* ssl_;
    BIO* incoming_ = nullptr;  // owned by ssl_
    BIO* outgoing_ = nullptr;  // owned by ssl_
    std::shared_ptr<StreamTransport> inner_;
    std::string peer_;
    std::string expected_name_;
    Duration shutdown_timeout_;
    std::shared_ptr<const void> context_;
    std::unique_ptr<char[]> ciphertext_;  // one inner read's worth

    TlsInfo info_;
    bool handshake_done_ = false;
    bool pulling_ = false;
    bool inner_eof_ = false;
    std::exception_ptr fatal_;           // OpenSSL failed: no more TLS I/O
    std::exception_ptr shutdown_error_;  // for wait_closed()
    bool closing_ = false;
    bool closed_ = false;
    WaitQueue pulled_{AwaitKind::io, this};
    WaitQueue closers_{AwaitKind::io, this};
};

}  // namespace asyncio::detail
