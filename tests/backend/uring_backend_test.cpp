// The io_uring backend's own rules, driven through the Backend interface without a loop so
// that each test controls exactly when the kernel sees submissions and when completions
// are reaped. Skipped, with the reason, where the kernel refuses io_uring.

#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backend/backend.hpp"
#include "support/asyncio_test.hpp"

using namespace std::chrono_literals;
using asyncio::detail::Backend;
using asyncio::detail::IoOpcode;
using asyncio::detail::IoOperation;

namespace {

/// An operation that counts its completions.
struct CountedOp : IoOperation {
    int completions = 0;
    CountedOp(IoOpcode code, int descriptor, void* data = nullptr, std::size_t size = 0) {
        opcode = code;
        fd = descriptor;
        buffer = data;
        length = size;
        on_complete = [](IoOperation& self) noexcept {
            ++static_cast<CountedOp&>(self).completions;
        };
    }
};

std::unique_ptr<Backend> uring_or_skip_reason(std::string& reason) {
    try {
        return asyncio::detail::make_uring_backend();
    } catch (const std::system_error& error) {
        reason = error.what();
        return nullptr;
    }
}

#define ASYNCIO_URING_OR_SKIP(name)                \
    std::string skip_reason;                       \
    auto name = uring_or_skip_reason(skip_reason); \
    if (!name) GTEST_SKIP() << "io_uring unavailable: " << skip_reason

struct SocketPair {
    int a = -1;
    int b = -1;
    SocketPair() {
        int fds[2];
        EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds), 0);
        a = fds[0];
        b = fds[1];
    }
    ~SocketPair() {
        if (a >= 0) ::close(a);
        if (b >= 0) ::close(b);
    }
};

/// A non-blocking TCP listener on 127.0.0.1, on a port of the kernel's choosing. The test
/// closes `fd` itself (after forget_fd), so that it can count descriptors afterwards.
struct LoopbackListener {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    bool listening = false;
    LoopbackListener() {
        address.sin_family = AF_INET;
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t size = sizeof address;
        listening = ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
                    ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size) == 0 &&
                    ::listen(fd, 64) == 0;
    }
};

/// Polls until `done` holds, for at most a few seconds of real time.
template <class Done>
bool poll_until(Backend& backend, Done done) {
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (!done()) {
        if (std::chrono::steady_clock::now() > deadline) return false;
        backend.poll(std::chrono::milliseconds(10));
    }
    return true;
}

}  // namespace

TEST(UringBackend, CancelledRecvKeepsItsBufferUntilTheCompletion) {
    ASYNCIO_URING_OR_SKIP(backend);
    SocketPair pair;
    // A heap buffer freed only after on_complete: were the kernel still writing into it
    // after a premature completion, ASan builds would see the use after free.
    auto buffer = std::make_unique<char[]>(64);
    CountedOp recv(IoOpcode::recv, pair.a, buffer.get(), 64);
    ASSERT_FALSE(backend->submit(recv));
    backend->poll(0ns);  // now in the kernel
    EXPECT_EQ(recv.completions, 0);
    backend->cancel(recv);
    ASSERT_TRUE(poll_until(*backend, [&] { return recv.completions > 0; }));
    EXPECT_EQ(recv.completions, 1);
    EXPECT_EQ(recv.result, -ECANCELED);
    EXPECT_EQ(backend->pending(), 0u);
    buffer.reset();
    // The data sent afterwards is still there for the next reader.
    ASSERT_EQ(::write(pair.b, "x", 1), 1);
    char byte = 0;
    EXPECT_EQ(::read(pair.a, &byte, 1), 1);
}

TEST(UringBackend, CancelRacingCompletionCompletesExactlyOnceWithoutLosingBytes) {
    ASYNCIO_URING_OR_SKIP(backend);
    SocketPair pair;
    int delivered = 0;
    int cancelled = 0;
    for (int i = 0; i < 1000; ++i) {
        char buffer[8] = {};
        CountedOp recv(IoOpcode::recv, pair.a, buffer, sizeof buffer);
        ASSERT_FALSE(backend->submit(recv));
        if (i % 2 == 0) backend->poll(0ns);  // half the time the recv is already in the kernel
        ASSERT_EQ(::write(pair.b, "ab", 2), 2);
        backend->cancel(recv);
        ASSERT_TRUE(poll_until(*backend, [&] { return recv.completions > 0; }));
        backend->poll(0ns);
        ASSERT_EQ(recv.completions, 1);
        if (recv.result == 2) {
            ++delivered;
            EXPECT_EQ(std::string(buffer, 2), "ab");
        } else {
            ASSERT_EQ(recv.result, -ECANCELED);
            ++cancelled;
            char left[8];
            ASSERT_EQ(::read(pair.a, left, sizeof left), 2);  // not lost: still in the socket
        }
    }
    EXPECT_EQ(delivered + cancelled, 1000);
    EXPECT_EQ(backend->pending(), 0u);
}

TEST(UringBackend, ForgottenDescriptorReusedAtOnceGetsNoStaleCompletion) {
    ASYNCIO_URING_OR_SKIP(backend);
    for (int i = 0; i < 2000; ++i) {
        int fds[2];
        ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds), 0);
        char old_buffer[8];
        CountedOp old_recv(IoOpcode::recv, fds[0], old_buffer, sizeof old_buffer);
        ASSERT_FALSE(backend->submit(old_recv));
        if (i % 2 == 0) backend->poll(0ns);
        backend->forget_fd(fds[0]);
        const int old_number = fds[0];
        ::close(fds[0]);
        int again[2];
        ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, again), 0);
        ASSERT_EQ(again[0], old_number);  // the number is reused at once
        char new_buffer[8] = {};
        CountedOp new_recv(IoOpcode::recv, again[0], new_buffer, sizeof new_buffer);
        ASSERT_FALSE(backend->submit(new_recv));
        // The old socket may be gone already (EPIPE): whatever happens, nothing of it
        // may reach the new one.
        ::send(fds[1], "old", 3, MSG_NOSIGNAL);
        ASSERT_EQ(::write(again[1], "new", 3), 3);
        ASSERT_TRUE(poll_until(
            *backend, [&] { return old_recv.completions > 0 && new_recv.completions > 0; }));
        EXPECT_EQ(old_recv.completions, 1);
        EXPECT_EQ(old_recv.result, -ECANCELED);
        ASSERT_EQ(new_recv.result, 3);
        EXPECT_EQ(std::string(new_buffer, 3), "new");
        backend->forget_fd(again[0]);
        ::close(fds[1]);
        ::close(again[0]);
        ::close(again[1]);
    }
    EXPECT_EQ(backend->pending(), 0u);
}

TEST(UringBackend, MoreOperationsThanTheRingHoldsAllComplete) {
    ASYNCIO_URING_OR_SKIP(backend);
    // 1000 receives: four times the submission queue, twice the completion queue. All
    // their completions are posted before any is reaped, so the CQ overflows.
    constexpr int count = 1000;
    std::vector<std::unique_ptr<SocketPair>> pairs;
    std::vector<std::unique_ptr<CountedOp>> ops;
    std::vector<std::array<char, 4>> buffers(count);
    for (int i = 0; i < count; ++i) {
        pairs.push_back(std::make_unique<SocketPair>());
        ops.push_back(std::make_unique<CountedOp>(IoOpcode::recv, pairs.back()->a,
                                                  buffers[static_cast<std::size_t>(i)].data(), 4));
        ASSERT_FALSE(backend->submit(*ops.back()));
    }
    EXPECT_EQ(backend->pending(), static_cast<std::size_t>(count));
    backend->poll(0ns);
    for (int i = 0; i < count; ++i) {
        const std::string text = std::to_string(i % 1000);
        ASSERT_EQ(::write(pairs[static_cast<std::size_t>(i)]->b, text.data(), text.size()),
                  static_cast<ssize_t>(text.size()));
    }
    std::size_t delivered = 0;
    ASSERT_TRUE(poll_until(*backend, [&] {
        delivered = 0;
        for (auto& op : ops) delivered += static_cast<std::size_t>(op->completions);
        return delivered == count;
    }));
    for (int i = 0; i < count; ++i) {
        auto& op = *ops[static_cast<std::size_t>(i)];
        EXPECT_EQ(op.completions, 1);
        const std::string text = std::to_string(i % 1000);
        ASSERT_EQ(op.result, static_cast<long>(text.size()));
        EXPECT_EQ(std::string(buffers[static_cast<std::size_t>(i)].data(), text.size()), text);
    }
    EXPECT_EQ(backend->pending(), 0u);
}

TEST(UringBackend, ManyReadinessWaitsOnOneDescriptorAllComplete) {
    ASYNCIO_URING_OR_SKIP(backend);
    SocketPair pair;
    std::vector<std::unique_ptr<CountedOp>> ops;
    for (int i = 0; i < 1500; ++i) {
        ops.push_back(std::make_unique<CountedOp>(IoOpcode::poll_writable, pair.a));
        ASSERT_FALSE(backend->submit(*ops.back()));
    }
    ASSERT_TRUE(poll_until(*backend, [&] { return backend->pending() == 0; }));
    for (auto& op : ops) {
        EXPECT_EQ(op->completions, 1);
        EXPECT_EQ(op->result, 0);
    }
}

TEST(UringBackend, ForgetFdCancelsEveryOperationOfTheDescriptorOnly) {
    ASYNCIO_URING_OR_SKIP(backend);
    SocketPair pair;
    SocketPair other;
    char buffers[3][4];
    CountedOp first(IoOpcode::recv, pair.a, buffers[0], 4);
    CountedOp second(IoOpcode::poll_readable, pair.a);
    CountedOp unrelated(IoOpcode::recv, other.a, buffers[2], 4);
    ASSERT_FALSE(backend->submit(first));
    ASSERT_FALSE(backend->submit(second));
    ASSERT_FALSE(backend->submit(unrelated));
    backend->poll(0ns);
    backend->forget_fd(pair.a);
    ASSERT_TRUE(poll_until(*backend, [&] { return backend->pending() == 1; }));
    EXPECT_EQ(first.result, -ECANCELED);
    EXPECT_EQ(second.result, -ECANCELED);
    EXPECT_EQ(unrelated.completions, 0);
    ASSERT_EQ(::write(other.b, "z", 1), 1);
    ASSERT_TRUE(poll_until(*backend, [&] { return unrelated.completions == 1; }));
    EXPECT_EQ(unrelated.result, 1);
}

TEST(UringBackend, LateAcceptAfterCancelHandsOverItsDescriptor) {
    ASYNCIO_URING_OR_SKIP(backend);
    const std::size_t baseline = asyncio::testing::open_fd_count();
    const LoopbackListener loopback;
    ASSERT_TRUE(loopback.listening);
    const int listener = loopback.fd;
    sockaddr_in address = loopback.address;
    int accepted = 0;
    for (int i = 0; i < 300; ++i) {
        CountedOp accept(IoOpcode::accept, listener);
        ASSERT_FALSE(backend->submit(accept));
        if (i % 2 == 0) backend->poll(0ns);
        const int client = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        ASSERT_EQ(::connect(client, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
        backend->cancel(accept);
        ASSERT_TRUE(poll_until(*backend, [&] { return accept.completions > 0; }));
        ASSERT_EQ(accept.completions, 1);
        if (accept.result >= 0) {
            ++accepted;
            ::close(static_cast<int>(accept.result));  // the owner's to close, never dropped
        } else {
            ASSERT_EQ(accept.result, -ECANCELED);
            const int late = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
            ASSERT_GE(late, 0);  // the connection waited in the backlog
            ::close(late);
        }
        ::close(client);
    }
    backend->forget_fd(listener);
    ::close(listener);
    EXPECT_EQ(asyncio::testing::open_fd_count(), baseline);
    RecordProperty("accepted_despite_cancel", accepted);
}

namespace {

/// A recv on a socket only the loop reads, as a stream transport's.
struct ExclusiveRecv : CountedOp {
    ExclusiveRecv(int descriptor, void* data, std::size_t size)
        : CountedOp(IoOpcode::recv, descriptor, data, size) {
        exclusive = true;
    }
};

/// The byte at `position` of the test stream.
char pattern_at(std::size_t position) { return static_cast<char>('a' + position * 7 % 23); }

/// Writes `total` pattern bytes to a non-blocking socket, waiting for space as needed.
void write_pattern(int fd, std::size_t total) {
    std::string block(64 * 1024, '\0');
    std::size_t written = 0;
    while (written < total) {
        const std::size_t size = std::min(block.size(), total - written);
        for (std::size_t i = 0; i < size; ++i) block[i] = pattern_at(written + i);
        std::size_t sent = 0;
        while (sent < size) {
            const ssize_t n = ::send(fd, block.data() + sent, size - sent, MSG_NOSIGNAL);
            if (n > 0) {
                sent += static_cast<std::size_t>(n);
            } else if (n < 0 && errno == EAGAIN) {
                std::this_thread::sleep_for(1ms);
            } else {
                return;
            }
        }
        written += size;
    }
}

/// Receives the pattern's bytes from `received` up to `total` through exclusive recvs of
/// `chunk` bytes; true when each byte is the pattern's.
bool receive_pattern(Backend& backend, int fd, std::size_t received, std::size_t total,
                     std::size_t chunk) {
    std::vector<char> buffer(chunk);
    while (received < total) {
        ExclusiveRecv recv(fd, buffer.data(), buffer.size());
        if (!backend.submit(recv) && !poll_until(backend, [&] { return recv.completions > 0; })) {
            ADD_FAILURE() << "no data after " << received << " bytes";
            return false;
        }
        if (recv.result <= 0) {
            ADD_FAILURE() << "recv ended with " << recv.result << " after " << received;
            return false;
        }
        for (long i = 0; i < recv.result; ++i) {
            if (buffer[static_cast<std::size_t>(i)] != pattern_at(received + static_cast<std::size_t>(i))) {
                ADD_FAILURE() << "wrong byte at " << received + static_cast<std::size_t>(i);
                return false;
            }
        }
        received += static_cast<std::size_t>(recv.result);
    }
    return received == total;
}

}  // namespace

TEST(UringBackend, ExclusiveRecvTakesAheadAndHandsOutEveryByteInOrder) {
    ASYNCIO_URING_OR_SKIP(backend);
    SocketPair pair;
    char first[7];
    ExclusiveRecv waiting(pair.a, first, sizeof first);
    ASSERT_FALSE(backend->submit(waiting));
    backend->poll(0ns);
    EXPECT_EQ(backend->taking_ahead(), 1u);  // one multishot request for the socket
    constexpr std::size_t total = 300 * 1024;
    std::thread writer([fd = pair.b] { write_pattern(fd, total); });
    ASSERT_TRUE(poll_until(*backend, [&] { return waiting.completions > 0; }));
    ASSERT_GT(waiting.result, 0);
    for (long i = 0; i < waiting.result; ++i) {
        EXPECT_EQ(first[i], pattern_at(static_cast<std::size_t>(i)));
    }
    // Odd-sized reads cut the kernel's chunks anywhere; nothing is lost or reordered.
    EXPECT_TRUE(
        receive_pattern(*backend, pair.a, static_cast<std::size_t>(waiting.result), total, 1000));
    writer.join();
    EXPECT_EQ(backend->taking_ahead(), 1u);  // still armed: no request per message
    EXPECT_EQ(backend->pending(), 0u);
}

TEST(UringBackend, BytesBeyondTheProvidedBuffersAreNotLost) {
    ASYNCIO_URING_OR_SKIP(backend);
    SocketPair pair;
    // Six times what the provided buffers hold: the multishot receive runs out of them
    // (ENOBUFS) while nobody reads, and the rest waits in the socket.
    constexpr std::size_t total = 12 * 1024 * 1024;
    char byte;
    ExclusiveRecv arming(pair.a, &byte, 1);
    ASSERT_FALSE(backend->submit(arming));
    std::thread writer([fd = pair.b] { write_pattern(fd, total); });
    ASSERT_TRUE(poll_until(*backend, [&] { return arming.completions > 0; }));
    ASSERT_EQ(arming.result, 1);
    ASSERT_EQ(byte, pattern_at(0));
    const auto until = std::chrono::steady_clock::now() + 300ms;
    while (std::chrono::steady_clock::now() < until) backend->poll(10ms);
    EXPECT_EQ(backend->taking_ahead(), 0u);  // ended by ENOBUFS
    std::vector<char> buffer(64 * 1024);
    std::size_t received = 1;
    bool in_order = true;
    while (received < total && in_order) {
        ExclusiveRecv recv(pair.a, buffer.data(), buffer.size());
        if (!backend->submit(recv)) {
            ASSERT_TRUE(poll_until(*backend, [&] { return recv.completions > 0; }));
        }
        ASSERT_GT(recv.result, 0) << "after " << received;
        for (long i = 0; i < recv.result && in_order; ++i) {
            in_order = buffer[static_cast<std::size_t>(i)] ==
                       pattern_at(received + static_cast<std::size_t>(i));
        }
        received += static_cast<std::size_t>(recv.result);
    }
    writer.join();
    EXPECT_TRUE(in_order) << "wrong byte near " << received;
    EXPECT_EQ(received, total);
}

TEST(UringBackend, CancelledWaiterLeavesTheBytesForTheNextExclusiveRecv) {
    ASYNCIO_URING_OR_SKIP(backend);
    SocketPair pair;
    char buffer[16];
    ExclusiveRecv waiting(pair.a, buffer, sizeof buffer);
    ASSERT_FALSE(backend->submit(waiting));
    backend->poll(0ns);
    backend->cancel(waiting);
    EXPECT_EQ(waiting.completions, 1);  // it was not in the kernel: done at once
    EXPECT_EQ(waiting.result, -ECANCELED);
    ASSERT_EQ(::write(pair.b, "abc", 3), 3);
    const auto until = std::chrono::steady_clock::now() + 100ms;
    while (std::chrono::steady_clock::now() < until) backend->poll(10ms);
    ExclusiveRecv next(pair.a, buffer, sizeof buffer);
    ASSERT_TRUE(backend->submit(next));  // taken ahead already: completes inside submit
    ASSERT_EQ(next.result, 3);
    EXPECT_EQ(std::string(buffer, 3), "abc");
    EXPECT_EQ(backend->pending(), 0u);
}

TEST(UringBackend, ForgottenDescriptorGivesBackWhatWasTakenAhead) {
    ASYNCIO_URING_OR_SKIP(backend);
    // Each round leaves bytes taken ahead and unread, then closes and reuses the number.
    // Nothing may reach the new socket, and every provided buffer must come back: after
    // more rounds than there are buffers, taking ahead still works.
    for (int i = 0; i < 300; ++i) {
        int fds[2];
        ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds), 0);
        char byte;
        ExclusiveRecv arming(fds[0], &byte, 1);
        ASSERT_FALSE(backend->submit(arming));
        ASSERT_EQ(::write(fds[1], "old bytes", 9), 9);
        ASSERT_TRUE(poll_until(*backend, [&] { return arming.completions > 0; }));
        backend->forget_fd(fds[0]);  // with 8 bytes taken ahead and unread
        const int number = fds[0];
        ::close(fds[0]);
        int again[2];
        ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, again), 0);
        ASSERT_EQ(again[0], number);
        char buffer[16] = {};
        ExclusiveRecv fresh(again[0], buffer, sizeof buffer);
        ASSERT_FALSE(backend->submit(fresh));
        ASSERT_EQ(::write(again[1], "new", 3), 3);
        ASSERT_TRUE(poll_until(*backend, [&] { return fresh.completions > 0; }));
        ASSERT_EQ(fresh.result, 3);
        ASSERT_EQ(std::string(buffer, 3), "new");
        backend->forget_fd(again[0]);
        ::close(fds[1]);
        ::close(again[0]);
        ::close(again[1]);
    }
    SocketPair pair;
    char byte;
    ExclusiveRecv last(pair.a, &byte, 1);
    ASSERT_FALSE(backend->submit(last));
    ASSERT_EQ(::write(pair.b, "z", 1), 1);
    ASSERT_TRUE(poll_until(*backend, [&] { return last.completions > 0; }));
    EXPECT_EQ(last.result, 1);
    EXPECT_GE(backend->taking_ahead(), 1u);  // buffers left: no ENOBUFS ended it
}

TEST(UringBackend, DatagramSocketsAreNotTakenAhead) {
    ASYNCIO_URING_OR_SKIP(backend);
    int fds[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds), 0);
    char buffer[8];
    ExclusiveRecv recv(fds[0], buffer, sizeof buffer);
    ASSERT_FALSE(backend->submit(recv));
    backend->poll(0ns);
    EXPECT_EQ(backend->taking_ahead(), 0u);
    ASSERT_EQ(::write(fds[1], "one", 3), 3);
    ASSERT_EQ(::write(fds[1], "two", 3), 3);
    ASSERT_TRUE(poll_until(*backend, [&] { return recv.completions > 0; }));
    EXPECT_EQ(recv.result, 3);  // one datagram, never two merged
    backend->forget_fd(fds[0]);
    ::close(fds[0]);
    ::close(fds[1]);
}

TEST(UringBackend, ExclusiveAcceptTakesConnectionsAheadAndForgetClosesTheUnclaimed) {
    ASYNCIO_URING_OR_SKIP(backend);
    const std::size_t baseline = asyncio::testing::open_fd_count();
    const LoopbackListener loopback;
    ASSERT_TRUE(loopback.listening);
    const int listener = loopback.fd;
    sockaddr_in address = loopback.address;

    sockaddr_in peer{};
    CountedOp first(IoOpcode::accept, listener);
    first.exclusive = true;
    first.address = reinterpret_cast<sockaddr*>(&peer);
    first.address_length = sizeof peer;
    ASSERT_FALSE(backend->submit(first));
    backend->poll(0ns);
    EXPECT_EQ(backend->taking_ahead(), 1u);
    std::vector<int> clients;
    for (int i = 0; i < 10; ++i) {
        clients.push_back(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
        ASSERT_EQ(::connect(clients.back(), reinterpret_cast<sockaddr*>(&address), sizeof address),
                  0);
    }
    ASSERT_TRUE(poll_until(*backend, [&] { return first.completions > 0; }));
    ASSERT_GE(first.result, 0);
    sockaddr_in client_address{};
    socklen_t client_size = sizeof client_address;
    ASSERT_EQ(::getsockname(clients[0], reinterpret_cast<sockaddr*>(&client_address), &client_size),
              0);
    EXPECT_EQ(first.address_length, sizeof peer);  // filled in for a connection taken ahead
    EXPECT_EQ(peer.sin_port, client_address.sin_port);
    ::close(static_cast<int>(first.result));
    const auto until = std::chrono::steady_clock::now() + 200ms;
    while (std::chrono::steady_clock::now() < until) backend->poll(10ms);
    for (int i = 0; i < 5; ++i) {
        CountedOp next(IoOpcode::accept, listener);
        next.exclusive = true;
        ASSERT_TRUE(backend->submit(next)) << i;  // accepted ahead already
        ASSERT_GE(next.result, 0);
        ::close(static_cast<int>(next.result));
    }
    // Four connections were accepted ahead and never claimed: forgetting the listener
    // closes them.
    backend->forget_fd(listener);
    ::close(listener);
    for (const int client : clients) ::close(client);
    backend->poll(0ns);
    EXPECT_EQ(asyncio::testing::open_fd_count(), baseline);
}

TEST(UringBackend, WakeupFromAnotherThreadEndsPoll) {
    ASYNCIO_URING_OR_SKIP(backend);
    std::thread waker([&] {
        std::this_thread::sleep_for(50ms);
        backend->wakeup();
    });
    const auto start = std::chrono::steady_clock::now();
    backend->poll(-1ns);
    EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
    waker.join();
    // Re-armed: a second wake-up ends the next poll too.
    backend->wakeup();
    backend->poll(-1ns);
}

namespace {
std::atomic<int> signal_wake_fd{-1};
extern "C" void write_wake_fd(int) {
    const std::uint64_t one = 1;
    [[maybe_unused]] auto ignored = ::write(signal_wake_fd.load(), &one, sizeof one);
}
}  // namespace

TEST(UringBackend, SignalHandlerWritingTheWakeupFdEndsPoll) {
    ASYNCIO_URING_OR_SKIP(backend);
    signal_wake_fd = backend->wakeup_fd();
    struct sigaction action {};
    struct sigaction previous {};
    action.sa_handler = &write_wake_fd;
    ASSERT_EQ(::sigaction(SIGUSR2, &action, &previous), 0);
    const pthread_t target = ::pthread_self();
    std::thread sender([&] {
        std::this_thread::sleep_for(50ms);
        ::pthread_kill(target, SIGUSR2);
    });
    backend->poll(-1ns);  // returns: interrupted, or woken by the eventfd
    sender.join();
    backend->poll(0ns);  // whatever the first return left (the eventfd's CQE)
    ::sigaction(SIGUSR2, &previous, nullptr);
}

TEST(UringBackend, FileOperationsGoToTheRingAtTheirOffset) {
    ASYNCIO_URING_OR_SKIP(backend);
    char path[] = "/tmp/asyncio-uring-file-XXXXXX";
    const int placeholder = ::mkstemp(path);
    ASSERT_GE(placeholder, 0);
    ::close(placeholder);
    // openat has no descriptor yet; like the others it never completes inside submit(),
    // where it would block the loop.
    CountedOp open(IoOpcode::openat, -1, path, 0600);
    open.flags = O_RDWR | O_TRUNC | O_CLOEXEC;
    ASSERT_FALSE(backend->submit(open));
    ASSERT_TRUE(poll_until(*backend, [&] { return open.completions == 1; }));
    ASSERT_GE(open.result, 0) << std::strerror(static_cast<int>(-open.result));
    const int fd = static_cast<int>(open.result);

    char data[] = "abc";
    CountedOp write(IoOpcode::pwrite, fd, data, 3);
    write.offset = 2;
    ASSERT_FALSE(backend->submit(write));
    ASSERT_TRUE(poll_until(*backend, [&] { return write.completions == 1; }));
    EXPECT_EQ(write.result, 3);
    CountedOp sync(IoOpcode::fsync, fd);
    sync.flags = asyncio::detail::file_sync_data_only;
    ASSERT_FALSE(backend->submit(sync));
    ASSERT_TRUE(poll_until(*backend, [&] { return sync.completions == 1; }));
    EXPECT_EQ(sync.result, 0);
    char back[8] = {};
    CountedOp read(IoOpcode::pread, fd, back, sizeof back);
    read.offset = 1;
    ASSERT_FALSE(backend->submit(read));
    ASSERT_TRUE(poll_until(*backend, [&] { return read.completions == 1; }));
    EXPECT_EQ(read.result, 4);
    EXPECT_EQ(std::string(back, 4), std::string("\0abc", 4));

    backend->forget_fd(fd);
    CountedOp close(IoOpcode::close, fd);
    ASSERT_FALSE(backend->submit(close));
    ASSERT_TRUE(poll_until(*backend, [&] { return close.completions == 1; }));
    EXPECT_EQ(close.result, 0);
    EXPECT_EQ(::fcntl(fd, F_GETFD), -1);  // closed by the kernel
    EXPECT_EQ(backend->pending(), 0u);
    ::unlink(path);
}

TEST(UringBackend, DestroyingTheBackendCompletesAnOpenExactlyOnce) {
    ASYNCIO_URING_OR_SKIP(backend);
    // An openat is on no descriptor's list: the destructor must still cancel it or wait
    // for it, and complete it once, whichever of the two the kernel does.
    char path[] = "/tmp/asyncio-uring-open-XXXXXX";
    const int placeholder = ::mkstemp(path);
    ASSERT_GE(placeholder, 0);
    ::close(placeholder);
    CountedOp open(IoOpcode::openat, -1, path, 0);
    open.flags = O_RDONLY | O_CLOEXEC;
    ASSERT_FALSE(backend->submit(open));
    EXPECT_EQ(backend->pending(), 1u);
    backend.reset();
    EXPECT_EQ(open.completions, 1);
    EXPECT_TRUE(open.result == -ECANCELED || open.result >= 0) << open.result;
    if (open.result >= 0) ::close(static_cast<int>(open.result));  // it won the race
    ::unlink(path);
}

TEST(BackendChoice, ForcingAnUnknownBackendThrows) {
    EXPECT_THROW(asyncio::detail::make_backend("kqueue"), asyncio::RuntimeError);
    EXPECT_THROW(asyncio::EventLoop(asyncio::LoopOptions{.backend = "select"}),
                 asyncio::RuntimeError);
}

TEST(BackendChoice, ForcedBackendIsTheOneInUse) {
    asyncio::EventLoop epoll_loop(asyncio::LoopOptions{.backend = "epoll"});
    EXPECT_STREQ(epoll_loop.backend_name(), "epoll");
    ASYNCIO_URING_OR_SKIP(probe);
    probe.reset();
    asyncio::EventLoop uring_loop(asyncio::LoopOptions{.backend = "io_uring"});
    EXPECT_STREQ(uring_loop.backend_name(), "io_uring");
}

// Runs in a child under strace, which makes io_uring_setup fail (see the next test).
TEST(BackendChoice, ChildWithoutUring) {
    if (std::getenv("ASYNCIO_TEST_CHILD_WITHOUT_URING") == nullptr) {
        GTEST_SKIP() << "only as the child of FallsBackToEpollWhenSetupFails";
    }
    ::unsetenv("ASYNCIO_BACKEND");
    asyncio::EventLoop loop;
    EXPECT_STREQ(loop.backend_name(), "epoll");
    try {
        asyncio::EventLoop forced(asyncio::LoopOptions{.backend = "io_uring"});
        ADD_FAILURE() << "forcing io_uring did not throw";
    } catch (const asyncio::RuntimeError& error) {
        EXPECT_NE(std::string(error.what()).find("io_uring_queue_init"), std::string::npos)
            << error.what();
        EXPECT_NE(std::string(error.what()).find("not permitted"), std::string::npos)
            << error.what();
    }
}

TEST(BackendChoice, FallsBackToEpollWhenSetupFails) {
    if (::access("/usr/bin/strace", X_OK) != 0) GTEST_SKIP() << "strace is not installed";
    if (std::getenv("ASYNCIO_TEST_CHILD_WITHOUT_URING") != nullptr) GTEST_SKIP();
    char self[4096] = {};
    ASSERT_GT(::readlink("/proc/self/exe", self, sizeof self - 1), 0);
    const std::string command =
        // LeakSanitizer refuses to run under ptrace; the child only checks the choice.
        "ASYNCIO_TEST_CHILD_WITHOUT_URING=1 ASAN_OPTIONS=detect_leaks=0 /usr/bin/strace -f -qq -o "
        "/dev/null "
        "-e trace=io_uring_setup -e inject=io_uring_setup:error=EPERM " +
        std::string(self) + " --gtest_filter=BackendChoice.ChildWithoutUring >/dev/null 2>&1";
    const int status = std::system(command.c_str());
    ASSERT_TRUE(WIFEXITED(status));
    if (WEXITSTATUS(status) == 1 && ::system("/usr/bin/strace -qq -o /dev/null true") != 0) {
        GTEST_SKIP() << "strace cannot trace here (ptrace refused)";
    }
    EXPECT_EQ(WEXITSTATUS(status), 0) << command;
}
