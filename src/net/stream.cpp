// StreamReader and StreamWriter, following CPython 3.12's asyncio/streams.py: the same
// results, the same errors, at the same points. The buffer is filled on demand (see
// net/transport.hpp).

#include "asyncio/net/stream.hpp"

#include <stdexcept>

#include "asyncio/errors.hpp"
#include "asyncio/log.hpp"
#include "net/stream_state.hpp"

namespace asyncio {
namespace detail {
namespace {

/// Receives once more into the state's buffer. Returns false at EOF.
///
/// The bytes land in the shared buffer before anything else can happen, so a read
/// cancelled after this (or between two fills) loses nothing.
Task<bool> fill(StreamState& state, const char* caller) {
    if (state.eof) co_return false;
    if (state.reading) {
        throw RuntimeError(std::string(caller) +
                           "() called while another task is already waiting for incoming data");
    }
    // Read in chunks the size of the limit (at least 16 KiB): few system calls for bulk
    // data, no more memory than a line may take.
    const std::size_t chunk = std::max<std::size_t>(state.limit, 16 * 1024);
    char* room = state.prepare(chunk);
    state.reading = true;
    std::size_t received = 0;
    try {
        received = co_await state.transport->read_some(room, chunk);
    } catch (...) {
        state.reading = false;
        throw;
    }
    state.reading = false;
    state.commit(received);
    if (received == 0) state.eof = true;
    co_return received > 0;
}

}  // namespace

StreamState::~StreamState() {
    if (!transport) return;
    // Python warns "unclosed <StreamWriter>" (a ResourceWarning) in the same case: the
    // connection is still closed properly, but the program forgot about it.
    if (!transport->is_closing() && running_loop != nullptr && running_loop->debug()) {
        const auto peer = transport->peername();
        log(LogLevel::warning, "unclosed StreamWriter" +
                                   (peer ? " to " + peer->to_string() : std::string()) +
                                   ": closing it; call close() (and wait_closed()) when done");
    }
    transport->close();
}

Stream make_stream(std::shared_ptr<StreamTransport> transport, std::size_t limit) {
    if (limit == 0) throw std::invalid_argument("stream limit must be positive");
    auto state = std::make_shared<StreamState>(std::move(transport), limit);
    return Stream{StreamReader(state), StreamWriter(state)};
}

}  // namespace detail

using detail::fill;

Task<std::string> StreamReader::read(std::ptrdiff_t n) {
    detail::StreamState& state = *state_;
    if (n == 0) co_return std::string();
    if (n < 0) {
        // Everything until EOF, in the buffer itself: no per-chunk copies.
        // Each await is a statement of its own: GCC 12 has miscompiled coroutines that
        // co_await inside a condition (see the TLS transport).
        for (;;) {
            const bool more = co_await fill(state, "read");
            if (!more) break;
        }
        co_return state.take(state.unread().size());
    }
    if (state.unread().empty()) co_await fill(state, "read");
    co_return state.take(static_cast<std::size_t>(n));
}

Task<std::string> StreamReader::readuntil(std::string_view separator) {
    if (separator.empty())
        throw std::invalid_argument("readuntil: separator should be at least one byte");
    detail::StreamState& state = *state_;
    std::size_t offset = 0;
    std::size_t found = std::string_view::npos;
    for (;;) {
        const std::string_view data = state.unread();
        if (data.size() >= offset + separator.size()) {
            found = data.find(separator, offset);
            if (found != std::string_view::npos) break;
            // The separator may straddle the data received next: look again from here.
            offset = data.size() + 1 - separator.size();
            if (offset > state.limit) {
                throw LimitOverrunError("Separator is not found, and chunk exceed the limit",
                                        offset);
            }
        }
        if (state.eof) throw IncompleteReadError(state.take(data.size()), 0);
        co_await fill(state, "readuntil");
    }
    if (found > state.limit) {
        throw LimitOverrunError("Separator is found, but chunk is longer than limit", found);
    }
    co_return state.take(found + separator.size());
}

Task<std::string> StreamReader::readline() {
    detail::StreamState& state = *state_;
    try {
        co_return co_await readuntil("\n");
    } catch (const IncompleteReadError& error) {
        co_return error.partial();
    } catch (const LimitOverrunError& error) {
        // As Python: drop the examined data (and the separator, when it is right there),
        // so the next readline starts on fresh input.
        const std::string_view data = state.unread();
        if (data.substr(error.consumed(), 1) == "\n") {
            state.consume(error.consumed() + 1);
        } else {
            state.consume(data.size());
        }
        throw;
    }
}

Task<std::string> StreamReader::readexactly(std::size_t n) {
    detail::StreamState& state = *state_;
    while (state.unread().size() < n) {
        const bool more = co_await fill(state, "readexactly");
        if (!more) {
            throw IncompleteReadError(state.take(state.unread().size()), n);
        }
    }
    co_return state.take(n);
}

bool StreamReader::at_eof() const noexcept { return state_->eof && state_->unread().empty(); }
std::size_t StreamReader::limit() const noexcept { return state_->limit; }
std::size_t StreamReader::buffered() const noexcept { return state_->unread().size(); }

void StreamWriter::write(std::string_view data) { state_->transport->write(data); }

Task<> StreamWriter::drain() { return state_->transport->drain(); }

bool StreamWriter::can_write_eof() const noexcept { return state_->transport->can_write_eof(); }
void StreamWriter::write_eof() { state_->transport->write_eof(); }
void StreamWriter::close() noexcept { state_->transport->close(); }
bool StreamWriter::is_closing() const noexcept { return state_->transport->is_closing(); }
Task<> StreamWriter::wait_closed() { return state_->transport->wait_closed(); }
std::size_t StreamWriter::write_buffer_size() const noexcept {
    return state_->transport->write_buffer_size();
}

void StreamWriter::set_write_buffer_limits(std::size_t high, std::optional<std::size_t> low) {
    const std::size_t low_mark = low.value_or(high / 4);
    if (low_mark > high) {
        throw std::invalid_argument("set_write_buffer_limits: high (" + std::to_string(high) +
                                    ") must be >= low (" + std::to_string(low_mark) + ")");
    }
    state_->transport->set_write_buffer_limits(high, low_mark);
}

std::optional<SocketAddress> StreamWriter::peername() const {
    return state_->transport->peername();
}
std::optional<SocketAddress> StreamWriter::sockname() const {
    return state_->transport->sockname();
}
std::optional<TlsInfo> StreamWriter::tls_info() const { return state_->transport->tls_info(); }
int StreamWriter::fd() const noexcept { return state_->transport->fd(); }

}  // namespace asyncio
