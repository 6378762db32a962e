#pragma once

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <memory>
#include <string>

#include "asyncio/net/stream.hpp"
#include "net/transport.hpp"

namespace asyncio::detail {

/// What a StreamReader and its StreamWriter share: the transport and the read buffer.
/// The last of the two to go closes the connection (flushing what was written first).
struct StreamState {
    StreamState(std::shared_ptr<StreamTransport> transport_value, std::size_t limit_value)
        : transport(std::move(transport_value)), limit(limit_value) {}
    StreamState(const StreamState&) = delete;
    StreamState& operator=(const StreamState&) = delete;
    ~StreamState();

    /// The unread bytes are data[start, end). Consuming moves `start`; space is made at the
    /// back by sliding the unread bytes to the front, or by growing. Unlike a std::string,
    /// making room costs no zero-filling, which matters when every read makes 64 KiB of room.
    std::string_view unread() const noexcept {
        return std::string_view(data.get() + start, end - start);
    }
    void consume(std::size_t n) noexcept {
        start += n;
        if (start == end) start = end = 0;
    }
    std::string take(std::size_t n) {
        std::string result(unread().substr(0, n));
        consume(result.size());
        return result;
    }
    /// At least `n` writable bytes at data[end].
    char* prepare(std::size_t n) {
        if (capacity - end >= n) return data.get() + end;
        const std::size_t size = end - start;
        if (capacity >= size + n && start >= size) {
            std::memcpy(data.get(), data.get() + start, size);  // no overlap: start >= size
        } else {
            const std::size_t new_capacity = std::max(capacity * 2, size + n);
            auto bigger = std::make_unique_for_overwrite<char[]>(new_capacity);
            if (size > 0) std::memcpy(bigger.get(), data.get() + start, size);
            data = std::move(bigger);
            capacity = new_capacity;
        }
        start = 0;
        end = size;
        return data.get() + end;
    }
    void commit(std::size_t n) noexcept { end += n; }

    std::shared_ptr<StreamTransport> transport;
    std::size_t limit;
    std::unique_ptr<char[]> data;
    std::size_t capacity = 0;
    std::size_t start = 0;
    std::size_t end = 0;
    bool eof = false;
    bool reading = false;  // a read is in progress (Python: "already waiting for incoming data")
};

/// A StreamReader/StreamWriter pair over `transport`.
Stream make_stream(std::shared_ptr<StreamTransport> transport,
                   std::size_t limit = StreamReader::default_limit);

}  // namespace asyncio::detail
