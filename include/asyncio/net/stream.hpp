#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "asyncio/net/socket_address.hpp"
#include "asyncio/task.hpp"

namespace asyncio {

namespace detail {
struct StreamState;
}

/// What a TLS stream negotiated (part of Python's `get_extra_info`: 'cipher', 'peercert',
/// 'ssl_object').
struct TlsInfo {
    std::string version;        ///< "TLSv1.3"
    std::string cipher;         ///< "TLS_AES_256_GCM_SHA384"
    std::string alpn_protocol;  ///< the protocol ALPN chose, "" when none
    /// The name sent with SNI (a client connecting to an IP address sends none), or on a
    /// server the name the client sent.
    std::string server_hostname;
    /// The peer certificate's subject and issuer ("CN=localhost"), and the certificate in
    /// PEM; empty when the peer sent none.
    std::string peer_subject;
    std::string peer_issuer;
    std::string peer_certificate_pem;
    bool session_reused = false;
};

/// The reading half of a connection (Python's asyncio.StreamReader).
///
/// Bytes are `std::string`s (Python: bytes). Reads ask the connection for data only when
/// the buffer cannot answer, so a reader nobody reads from buffers nothing.
/// Cancellation: every read may be cancelled. Bytes already received stay in the buffer
/// and are returned by the next read (readexactly and readuntil included): nothing is lost.
/// Thread safety: use from the loop thread only; one reading task at a time.
class StreamReader {
public:
    /// Python's default limit: 64 KiB.
    static constexpr std::size_t default_limit = 64 * 1024;

    /// Up to `n` bytes: what the buffer holds, else what one receive brings. With n < 0,
    /// everything until EOF. An empty string means EOF (or n == 0).
    /// Throws: ConnectionResetError and other connection errors.
    Task<std::string> read(std::ptrdiff_t n = -1);
    /// One line including its '\n'; at EOF, what is left (maybe without '\n', maybe "").
    /// Throws: LimitOverrunError (Python: ValueError) when no '\n' appears within the
    /// limit; the data examined is discarded, as in Python.
    Task<std::string> readline();
    /// Exactly `n` bytes.
    /// Throws: IncompleteReadError with the bytes read when EOF comes first.
    Task<std::string> readexactly(std::size_t n);
    /// Up to and including `separator`.
    /// Throws: IncompleteReadError at EOF (the bytes are consumed, in partial()); LimitOverrunError
    /// when the separator is not within the limit (the bytes stay in the buffer);
    /// std::invalid_argument for an empty separator.
    Task<std::string> readuntil(std::string_view separator = "\n");
    /// True once EOF was seen and the buffer is empty.
    bool at_eof() const noexcept;
    std::size_t limit() const noexcept;
    /// Bytes received and not read yet.
    std::size_t buffered() const noexcept;

    explicit StreamReader(std::shared_ptr<detail::StreamState> state) noexcept
        : state_(std::move(state)) {}

private:
    std::shared_ptr<detail::StreamState> state_;
};

/// The writing half of a connection (Python's asyncio.StreamWriter).
///
/// write() queues and starts sending at once; drain() is the flow control: it waits while
/// the peer is too slow (the write buffer passed its high-water mark, 64 KiB by default,
/// until it is down to the low one), so memory stays bounded.
/// Thread safety: use from the loop thread only.
class StreamWriter {
public:
    /// Queues `data`. Throws: the connection's error (BrokenPipeError, ConnectionResetError)
    /// once it has failed, and InvalidStateError after close() or write_eof(): unlike Python,
    /// bytes are never dropped silently.
    void write(std::string_view data);
    template <class Range>
    void writelines(const Range& lines) {
        for (const auto& line : lines) write(std::string_view(line));
    }
    /// Waits until the write buffer is below the low-water mark (at once when it never
    /// passed the high one). Any number of tasks may drain at once.
    /// Throws: the connection's error.
    Task<> drain();
    /// False on a TLS stream, which cannot half-close (as in Python).
    bool can_write_eof() const noexcept;
    /// Half-closes once the queued bytes are sent: the peer reads EOF, this side can still read.
    /// Throws: RuntimeError on a TLS stream (Python: NotImplementedError).
    void write_eof();
    /// Closes once the queued bytes are sent (Python: transport.close()). Idempotent.
    void close() noexcept;
    bool is_closing() const noexcept;
    /// Returns once the connection is closed.
    Task<> wait_closed();
    /// Bytes queued and not yet taken by the kernel (on a TLS stream, encrypted bytes: the
    /// buffer limits count those too).
    std::size_t write_buffer_size() const noexcept;
    /// Sets the high-water mark (and the low one: `high / 4` when not given).
    void set_write_buffer_limits(std::size_t high, std::optional<std::size_t> low = std::nullopt);

    /// The remote and local addresses (Python: get_extra_info('peername'/'sockname')).
    std::optional<SocketAddress> peername() const;
    std::optional<SocketAddress> sockname() const;
    /// TLS details, when the stream is encrypted (Python: 'cipher', 'peercert', ...).
    std::optional<TlsInfo> tls_info() const;
    /// The underlying descriptor, -1 once closed (Python: get_extra_info('socket')).
    int fd() const noexcept;

    explicit StreamWriter(std::shared_ptr<detail::StreamState> state) noexcept
        : state_(std::move(state)) {}
    /// The shared connection state, for start_tls().
    const std::shared_ptr<detail::StreamState>& state() const noexcept { return state_; }

private:
    std::shared_ptr<detail::StreamState> state_;
};

/// A connection's two halves, as `open_connection` returns them. Structured bindings work:
/// `auto [reader, writer] = co_await asyncio::open_connection("127.0.0.1", 8080);`
struct Stream {
    StreamReader reader;
    StreamWriter writer;
};

}  // namespace asyncio
