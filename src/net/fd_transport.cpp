// A stream transport over a socket or a pipe.
//
// Writes go through one backend operation at a time. Bytes written while it is in flight
// are appended to `queued_`, never to the buffer the operation points into (`sending_`),
// which must stay put until the completion arrives: on io_uring the kernel reads it
// asynchronously. When the operation completes, the next one starts right from its
// completion callback (backends allow submit() there).
//
// The transport keeps itself alive while an operation is in flight, so a writer closed or
// dropped with bytes still queued finishes sending them, as Python's transports do, and
// the backend never completes into freed memory.

#include <cerrno>

#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include "asyncio/detail/wait_queue.hpp"
#include "asyncio/errors.hpp"
#include "loop/io_awaitable.hpp"
#include "net/os_error.hpp"
#include "net/transport.hpp"

namespace asyncio::detail {
namespace {

class FdTransport;

struct WriteOperation : IoOperation {
    FdTransport* owner = nullptr;
};

class FdTransport final : public StreamTransport, public std::enable_shared_from_this<FdTransport> {
public:
    FdTransport(int fd, bool is_socket)
        : fd_(fd), is_socket_(is_socket), loop_(&require_running_loop()) {
        if (is_socket_) {
            // The addresses are kept: they are still wanted in messages after the close.
            SocketAddress address;
            socklen_t size = SocketAddress::capacity();
            if (::getpeername(fd_, address.native(), &size) == 0) {
                address.set_native_size(size);
                peer_ = address;
            }
            size = SocketAddress::capacity();
            if (::getsockname(fd_, address.native(), &size) == 0) {
                address.set_native_size(size);
                local_ = address;
            }
        }
        write_op_.owner = this;
        write_op_.on_complete = &FdTransport::on_write_complete;
    }

    ~FdTransport() override {
        if (fd_ >= 0) close_descriptor(loop_, fd_);
    }

    Task<std::size_t> read_some(char* buffer, std::size_t length) override {
        if (fd_ < 0) co_return closed_read_result();
        const int fd = fd_;
        // The transport owns its socket: the backend may receive ahead of this read.
        const long result = co_await (is_socket_ ? IoAwaitable::recv_exclusive(fd, buffer, length)
                                                 : IoAwaitable::read(fd, buffer, length));
        if (result >= 0) co_return static_cast<std::size_t>(result);
        // The transport was closed while the read waited: end of stream, or its error.
        if (result == -ECANCELED && fd_ < 0) co_return closed_read_result();
        throw_os_error(static_cast<int>(-result), describe_io(is_socket_ ? "recv" : "read"));
    }

    void write(std::string_view data) override {
        if (error_) std::rethrow_exception(error_);
        if (closing_) throw InvalidStateError("StreamWriter.write(): the writer is closed");
        if (eof_requested_)
            throw InvalidStateError("StreamWriter.write(): called after write_eof()");
        if (data.empty()) return;
        if (in_flight_) {
            queued_.append(data);
        } else {
            sending_.append(data);
            start_sending();
        }
        if (write_buffer_size() > high_water_) paused_ = true;
    }

    std::size_t write_buffer_size() const noexcept override {
        return sending_.size() - sent_ + queued_.size();
    }

    Task<> drain() override {
        if (error_) std::rethrow_exception(error_);
        while (paused_ && !error_) {
            WaitQueue::Waiter waiter(drainers_);
            if (co_await waiter) waiter.throw_cancelled();  // a wake-up to all: nothing to hand on
        }
        if (error_) std::rethrow_exception(error_);
    }

    void set_write_buffer_limits(std::size_t high, std::size_t low) override {
        high_water_ = high;
        low_water_ = low;
        if (write_buffer_size() > high_water_) paused_ = true;
        maybe_resume_writing();
    }

    bool can_write_eof() const noexcept override { return true; }

    void write_eof() override {
        if (closing_) throw InvalidStateError("StreamWriter.write_eof(): the writer is closed");
        if (eof_requested_) return;
        eof_requested_ = true;
        if (!in_flight_) after_sending();
    }

    void close() noexcept override {
        if (closing_) return;
        closing_ = true;
        if (!in_flight_) after_sending();
    }

    void abort() noexcept override {
        closing_ = true;
        sending_.clear();
        queued_.clear();
        sent_ = 0;
        close_now();
    }

    bool is_closing() const noexcept override { return closing_ || closed_; }

    Task<> wait_closed() override {
        while (!closed_) {
            WaitQueue::Waiter waiter(closers_);
            if (co_await waiter) waiter.throw_cancelled();
        }
        if (error_) std::rethrow_exception(error_);
    }

    std::optional<SocketAddress> peername() const override { return peer_; }
    std::optional<SocketAddress> sockname() const override { return local_; }
    int fd() const noexcept override { return fd_; }

private:
    std::size_t closed_read_result() const {
        if (error_) std::rethrow_exception(error_);
        return 0;
    }

    std::string describe_io(const char* call) const {
        std::string text = call;
        if (peer_) text += (std::string(call) == "recv" ? " from " : " to ") + peer_->to_string();
        return text;
    }

    /// Sends what is buffered until the kernel would block (then the operation stays in
    /// flight) or the buffers are empty.
    void start_sending() noexcept {
        while (!in_flight_ && !error_ && fd_ >= 0) {
            if (sent_ == sending_.size()) {
                sending_.clear();
                sent_ = 0;
                if (queued_.empty()) break;
                sending_.swap(queued_);
            }
            write_op_.opcode = is_socket_ ? IoOpcode::send : IoOpcode::write;
            write_op_.fd = fd_;
            write_op_.buffer = sending_.data() + sent_;
            write_op_.length = sending_.size() - sent_;
            write_op_.result = 0;
            bool finished;
            try {
                finished = backend_of_live_loop(loop_).submit(write_op_);
            } catch (...) {
                fail(std::current_exception());
                break;
            }
            if (finished) {
                take_result(write_op_.result);
                continue;
            }
            in_flight_ = true;
            keep_alive_ = shared_from_this();
            loop_->begin_external_work();
        }
        if (!in_flight_) after_sending();
    }

    static void on_write_complete(IoOperation& op) noexcept {
        FdTransport& self = *static_cast<WriteOperation&>(op).owner;
        // Holds the transport until this function returns; it may be the last reference.
        const std::shared_ptr<FdTransport> keep_alive = std::move(self.keep_alive_);
        self.in_flight_ = false;
        self.loop_->end_external_work();
        self.take_result(op.result);
        self.maybe_resume_writing();
        self.start_sending();
    }

    void take_result(long result) noexcept {
        if (result >= 0) {
            sent_ += static_cast<std::size_t>(result);
            return;
        }
        if (result == -ECANCELED) {
            // The descriptor was closed under the operation (abort(), or the loop closing).
            if (!closed_) {
                fail(make_os_error(ECONNABORTED, describe_io(is_socket_ ? "send" : "write") +
                                                     " (abandoned: the event loop closed)"));
            }
            return;
        }
        fail(make_os_error(static_cast<int>(-result), describe_io(is_socket_ ? "send" : "write")));
    }

    /// A write failed: the connection is over (Python: _fatal_error → _force_close). The
    /// error is kept for write(), drain(), wait_closed() and reads after the close.
    void fail(std::exception_ptr error) noexcept {
        if (!error_) error_ = std::move(error);
        sending_.clear();
        queued_.clear();
        sent_ = 0;
        closing_ = true;
        close_now();
    }

    /// Everything queued has been handed to the kernel (or dropped): act on write_eof()
    /// and close(), and let drain() go.
    void after_sending() noexcept {
        maybe_resume_writing();
        if (in_flight_ || write_buffer_size() > 0 || fd_ < 0) return;
        if (closing_) {
            close_now();
        } else if (eof_requested_ && !eof_sent_) {
            eof_sent_ = true;
            if (is_socket_) {
                ::shutdown(fd_, SHUT_WR);
            } else {
                // A pipe has no half-close: closing the write end is the EOF.
                close_now();
            }
        }
    }

    void maybe_resume_writing() noexcept {
        if (paused_ && (write_buffer_size() <= low_water_ || error_ || closed_)) {
            paused_ = false;
            drainers_.wake_all();
        }
    }

    void close_now() noexcept {
        if (closed_) return;
        closed_ = true;
        const int fd = fd_;
        fd_ = -1;
        // Any read or write still queued on it completes now with -ECANCELED.
        close_descriptor(loop_, fd);
        paused_ = false;
        drainers_.wake_all();
        closers_.wake_all();
    }

    int fd_;
    bool is_socket_;
    LoopCore* loop_;
    std::optional<SocketAddress> peer_;
    std::optional<SocketAddress> local_;

    std::string sending_;  // the in-flight operation points into it
    std::size_t sent_ = 0;
    std::string queued_;
    WriteOperation write_op_;
    bool in_flight_ = false;
    std::shared_ptr<FdTransport> keep_alive_;

    std::exception_ptr error_;
    std::size_t high_water_ = default_write_high_water;
    std::size_t low_water_ = default_write_high_water / 4;
    bool paused_ = false;
    bool eof_requested_ = false;
    bool eof_sent_ = false;
    bool closing_ = false;
    bool closed_ = false;
    WaitQueue drainers_{AwaitKind::io, this};
    WaitQueue closers_{AwaitKind::io, this};
};

}  // namespace

std::shared_ptr<StreamTransport> make_fd_transport(int fd, bool is_socket) {
    if (!is_socket) {
        // write(2) to a pipe whose reader is gone raises SIGPIPE, which kills the process by
        // default; sockets avoid it with MSG_NOSIGNAL. Python ignores SIGPIPE at start-up
        // for the same reason; a handler the program installed is left alone.
        struct sigaction current {};
        if (::sigaction(SIGPIPE, nullptr, &current) == 0 && current.sa_handler == SIG_DFL) {
            ::signal(SIGPIPE, SIG_IGN);
        }
    }
    return std::make_shared<FdTransport>(fd, is_socket);
}

}  // namespace asyncio::detail
