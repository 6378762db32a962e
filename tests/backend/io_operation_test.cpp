// The completion-style I/O operations of the backend, through the awaitables the library's
// own I/O code uses (src/loop/io_awaitable.hpp). Real descriptors on loopback only.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "backend/fault/fault_injection.hpp"
#include "loop/io_awaitable.hpp"
#include "support/asyncio_test.hpp"

using namespace std::chrono_literals;
using asyncio::detail::IoAwaitable;

namespace {

struct Pipe {
    int read_end = -1;
    int write_end = -1;
    Pipe() {
        int fds[2];
        EXPECT_EQ(::pipe2(fds, O_NONBLOCK | O_CLOEXEC), 0);
        read_end = fds[0];
        write_end = fds[1];
    }
    ~Pipe() {
        close_end(read_end);
        close_end(write_end);
    }
    static void close_end(int& fd) {
        if (fd < 0) return;
        if (asyncio::detail::running_loop != nullptr) asyncio::detail::running_backend().forget_fd(fd);
        ::close(fd);
        fd = -1;
    }
};

int listening_socket(sockaddr_in& address) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    address = {};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
    socklen_t length = sizeof address;
    EXPECT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length), 0);
    EXPECT_EQ(::listen(fd, 16), 0);
    return fd;
}

void close_fd(int fd) {
    asyncio::detail::running_backend().forget_fd(fd);
    ::close(fd);
}

}  // namespace

ASYNCIO_TEST_WITH(IoOperation, ReadWaitsForData, (asyncio::testing::TestOptions{.real_clock = true})) {
    Pipe pipe;
    auto writer = [&]() -> asyncio::Task<> {
        co_await asyncio::sleep(10ms);
        EXPECT_EQ(::write(pipe.write_end, "hello", 5), 5);
    };
    auto task = asyncio::create_task(writer());
    char buffer[16] = {};
    const long n = co_await IoAwaitable::read(pipe.read_end, buffer, sizeof buffer);
    EXPECT_EQ(n, 5);
    EXPECT_EQ(std::string(buffer, 5), "hello");
    co_await task;
}

ASYNCIO_TEST(IoOperation, AcceptConnectSendRecvOnLoopback) {
    sockaddr_in address{};
    const int listener = listening_socket(address);
    const int client = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    auto accepted = asyncio::create_task([](int fd) -> asyncio::Task<long> {
        co_return co_await IoAwaitable::accept(fd);
    }(listener));
    EXPECT_EQ(co_await IoAwaitable::connect(client, reinterpret_cast<sockaddr*>(&address),
                                            sizeof address),
              0);
    const long server = co_await accepted;
    CO_ASSERT_TRUE(server >= 0);
    EXPECT_EQ(co_await IoAwaitable::send(client, "ping", 4), 4);
    char buffer[8] = {};
    EXPECT_EQ(co_await IoAwaitable::recv(static_cast<int>(server), buffer, sizeof buffer), 4);
    EXPECT_EQ(std::string(buffer, 4), "ping");
    close_fd(static_cast<int>(server));
    close_fd(client);
    close_fd(listener);
}

ASYNCIO_TEST(IoOperation, ConnectToClosedPortIsRefused) {
    sockaddr_in address{};
    const int listener = listening_socket(address);
    close_fd(listener);  // the port is now closed
    const int client = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    const long result = co_await IoAwaitable::connect(
        client, reinterpret_cast<sockaddr*>(&address), sizeof address);
    EXPECT_EQ(result, -ECONNREFUSED);
    close_fd(client);
}

ASYNCIO_TEST(IoOperation, CancelledReadLeavesNothingQueued) {
    Pipe pipe;
    auto reader = asyncio::create_task([](int fd) -> asyncio::Task<long> {
        char buffer[8];
        co_return co_await IoAwaitable::read(fd, buffer, sizeof buffer);
    }(pipe.read_end));
    co_await asyncio::sleep(0s);
    EXPECT_EQ(asyncio::detail::running_backend().pending(), 1u);
    reader.cancel();
    EXPECT_THROW(co_await reader, asyncio::CancelledError);
    EXPECT_EQ(asyncio::detail::running_backend().pending(), 0u);
    // The pipe still works for the next reader.
    EXPECT_EQ(::write(pipe.write_end, "x", 1), 1);
    char byte = 0;
    EXPECT_EQ(co_await IoAwaitable::read(pipe.read_end, &byte, 1), 1);
    EXPECT_EQ(byte, 'x');
}

// libuv #4323: a registration that outlives close() can deliver events to the next
// descriptor that gets the same number. Close with a read pending, reopen, many times.
ASYNCIO_TEST_WITH(IoOperation, ReusedDescriptorNumberGetsNoStaleCompletion_libuv4323,
                  (asyncio::testing::TestOptions{.real_clock = true})) {
    for (int round = 0; round < 1000; ++round) {
        Pipe first;
        auto stale = asyncio::create_task([](int fd) -> asyncio::Task<long> {
            char buffer[8];
            co_return co_await IoAwaitable::read(fd, buffer, sizeof buffer);
        }(first.read_end));
        co_await asyncio::sleep(0s);
        const int number = first.read_end;
        Pipe::close_end(first.read_end);
        EXPECT_EQ(co_await stale, -ECANCELED);  // forget_fd() ends pending operations
        Pipe second;  // usually gets the same descriptor number
        if (second.read_end == number) {
            EXPECT_EQ(::write(second.write_end, "ok", 2), 2);
        }
        char buffer[4] = {};
        if (second.read_end == number) {
            EXPECT_EQ(co_await IoAwaitable::read(second.read_end, buffer, sizeof buffer), 2);
        }
        EXPECT_EQ(asyncio::detail::running_backend().pending(), 0u);
    }
}

ASYNCIO_TEST(IoOperation, WaitReadableCompletesWhenDataArrives) {
    Pipe pipe;
    auto waiter = asyncio::create_task([](int fd) -> asyncio::Task<long> {
        co_return co_await IoAwaitable::readable(fd);
    }(pipe.read_end));
    co_await asyncio::sleep(0s);
    co_await asyncio::sleep(0s);
    EXPECT_FALSE(waiter.done());
    EXPECT_EQ(::write(pipe.write_end, "z", 1), 1);
    EXPECT_EQ(co_await waiter, 0);
}

// The fault hook of RELIABILITY-NOTES: the k-th operation fails with a chosen errno, or
// transfers fewer bytes, whatever the backend.
ASYNCIO_TEST(IoOperation, FaultHookFailsTheChosenOperation) {
    Pipe pipe;
    auto injected = asyncio::detail::inject_faults(
        asyncio::get_running_loop(),
        {.opcode = asyncio::detail::IoOpcode::write, .first = 2, .error = EPIPE});
    EXPECT_EQ(co_await IoAwaitable::write(pipe.write_end, "a", 1), 1);
    EXPECT_EQ(co_await IoAwaitable::write(pipe.write_end, "b", 1), -EPIPE);
    EXPECT_EQ(co_await IoAwaitable::write(pipe.write_end, "c", 1), 1);
    EXPECT_EQ(*injected, 1u);
    char buffer[4] = {};
    EXPECT_EQ(co_await IoAwaitable::read(pipe.read_end, buffer, sizeof buffer), 2);
    EXPECT_EQ(std::string(buffer, 2), "ac");
}

ASYNCIO_TEST(IoOperation, FaultHookShortensTransfersKeepingData) {
    Pipe pipe;
    asyncio::detail::inject_faults(asyncio::get_running_loop(),
                                   {.opcode = asyncio::detail::IoOpcode::write,
                                    .first = 1,
                                    .every = 1,
                                    .max_bytes = 3});
    const std::string message = "hello world";
    std::size_t sent = 0;
    int writes = 0;
    while (sent < message.size()) {
        const long n = co_await IoAwaitable::write(pipe.write_end, message.data() + sent,
                                                   message.size() - sent);
        CO_ASSERT_TRUE(n > 0 && n <= 3);
        sent += static_cast<std::size_t>(n);
        ++writes;
    }
    EXPECT_EQ(writes, 4);
    char buffer[32] = {};
    EXPECT_EQ(co_await IoAwaitable::read(pipe.read_end, buffer, sizeof buffer), 11);
    EXPECT_EQ(std::string(buffer, 11), message);
}

TEST(EpollBackend, DeclinesFileOperationsWithEopnotsupp) {
    // Callers ask supports_file_io() and go to a thread instead; a file operation that
    // reaches epoll anyway fails at once rather than blocking the loop on the disk.
    auto backend = asyncio::detail::make_epoll_backend();
    EXPECT_FALSE(backend->supports_file_io());
    for (const auto opcode : {asyncio::detail::IoOpcode::pread, asyncio::detail::IoOpcode::pwrite,
                              asyncio::detail::IoOpcode::fsync, asyncio::detail::IoOpcode::openat,
                              asyncio::detail::IoOpcode::close}) {
        asyncio::detail::IoOperation op;
        op.opcode = opcode;
        op.fd = opcode == asyncio::detail::IoOpcode::openat ? -1 : 0;
        EXPECT_TRUE(backend->submit(op)) << asyncio::detail::to_string(opcode);
        EXPECT_EQ(op.result, -EOPNOTSUPP) << asyncio::detail::to_string(opcode);
    }
    EXPECT_EQ(backend->pending(), 0u);
}
