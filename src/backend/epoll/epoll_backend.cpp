// The epoll backend: completion-style operations on top of readiness.
//
// submit() first tries the system call (a socket usually has data or buffer space, so the
// common case costs one syscall and no epoll at all). Only on EAGAIN is the operation
// queued on its descriptor, readers and writers in FIFO order, and the descriptor's
// interest raised with epoll_ctl. When epoll reports readiness, the queued operations are
// retried in order until one would block again.
//
// Interest is level-triggered and dropped lazily: when a queue empties the interest stays,
// and is only removed when an event arrives that nobody waits for. A connection that reads
// continuously thus costs no epoll_ctl per message.
//
// Wake-ups from other threads and from signal handlers write to an eventfd that is always
// registered.

#include <cerrno>
#include <cstring>
#include <deque>
#include <system_error>
#include <vector>

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "backend/backend.hpp"
#include "backend/syscall_attempt.hpp"

namespace asyncio::detail {
namespace {

struct OpQueue {
    IoOperation* head = nullptr;
    IoOperation* tail = nullptr;

    bool empty() const noexcept { return head == nullptr; }
    void push(IoOperation& op) noexcept {
        op.next_queued = nullptr;
        op.prev_queued = tail;
        (tail != nullptr ? tail->next_queued : head) = &op;
        tail = &op;
    }
    void erase(IoOperation& op) noexcept {
        (op.prev_queued != nullptr ? op.prev_queued->next_queued : head) = op.next_queued;
        (op.next_queued != nullptr ? op.next_queued->prev_queued : tail) = op.prev_queued;
        op.next_queued = op.prev_queued = nullptr;
    }
};

struct FdState {
    OpQueue readers;
    OpQueue writers;
    std::uint32_t interest = 0;  // events registered with epoll (0: not registered)
    bool receive_drained = false;  // see note_receive()
};

class EpollBackend final : public Backend {
public:
    EpollBackend() {
        epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
        if (epoll_fd_ < 0) throw std::system_error(errno, std::generic_category(), "epoll_create1");
        wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (wake_fd_ < 0) {
            const int error = errno;
            ::close(epoll_fd_);
            throw std::system_error(error, std::generic_category(), "eventfd");
        }
        epoll_event event{};
        event.events = EPOLLIN;
        event.data.fd = wake_fd_;
        if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &event) != 0) {
            const int error = errno;
            ::close(wake_fd_);
            ::close(epoll_fd_);
            throw std::system_error(error, std::generic_category(), "epoll_ctl(eventfd)");
        }
        events_.resize(256);
    }

    ~EpollBackend() override {
        for (std::size_t fd = 0; fd < fds_.size(); ++fd) forget_fd(static_cast<int>(fd));
        ::close(wake_fd_);
        ::close(epoll_fd_);
    }

    const char* name() const noexcept override { return "epoll"; }
    int wakeup_fd() const noexcept override { return wake_fd_; }
    std::size_t pending() const noexcept override { return pending_; }
    // A regular file is always "ready" (epoll_ctl refuses it with EPERM) and its system
    // calls block on the disk, so they belong on a thread, not here.
    bool supports_file_io() const noexcept override { return false; }

    bool submit(IoOperation& op) override {
        if (is_file_opcode(op.opcode)) {
            op.result = -EOPNOTSUPP;
            return true;
        }
        if (op.fd < 0) {
            op.result = -EBADF;
            return true;
        }
        if (op.opcode == IoOpcode::connect) {
            op.result = start_connect(op);
            if (op.result != -EINPROGRESS) return true;
        } else if (op.opcode != IoOpcode::poll_readable && op.opcode != IoOpcode::poll_writable) {
            FdState* state = find(op.fd);
            // Keep FIFO order: only try at once when nobody else waits on this side.
            const bool others_waiting =
                state != nullptr &&
                !(is_write_side(op.opcode) ? state->writers.empty() : state->readers.empty());
            const bool surely_empty =
                state != nullptr && op.opcode == IoOpcode::recv && state->receive_drained;
            if (!others_waiting && !surely_empty) {
                op.result = attempt_syscall(op);
                if (op.result != -EAGAIN) {
                    if (state != nullptr) note_receive(state->receive_drained, op);
                    return true;
                }
            }
        }
        FdState& state = get(op.fd);
        OpQueue& queue = is_write_side(op.opcode) ? state.writers : state.readers;
        queue.push(op);
        if (const int error = update_interest(op.fd, state); error != 0) {
            // Not watchable (closed, or a regular file: EPERM): this operation fails at
            // once, and so does anything else queued on the descriptor.
            queue.erase(op);
            fail_all(state, error);
            op.result = -error;
            return true;
        }
        op.in_flight = true;
        ++pending_;
        return false;
    }

    void cancel(IoOperation& op) noexcept override {
        if (!op.in_flight) return;
        FdState& state = get_existing(op.fd);
        (is_write_side(op.opcode) ? state.writers : state.readers).erase(op);
        op.result = -ECANCELED;
        complete(op);
    }

    void forget_fd(int fd) noexcept override {
        FdState* state = find(fd);
        if (state == nullptr) return;
        state->receive_drained = false;  // the number may come back as a new socket
        for (OpQueue* queue : {&state->readers, &state->writers}) {
            while (IoOperation* op = queue->head) {
                queue->erase(*op);
                op->result = -ECANCELED;
                complete(*op);
            }
        }
        if (state->interest != 0) {
            ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
            state->interest = 0;
        }
    }

    std::size_t poll(Duration timeout) override {
        int count;
        for (;;) {
            if (timeout < Duration::zero()) {
                count = ::epoll_pwait2(epoll_fd_, events_.data(), static_cast<int>(events_.size()),
                                       nullptr, nullptr);
            } else {
                timespec ts{};
                ts.tv_sec = static_cast<time_t>(timeout.count() / 1'000'000'000);
                ts.tv_nsec = static_cast<long>(timeout.count() % 1'000'000'000);
                count = ::epoll_pwait2(epoll_fd_, events_.data(), static_cast<int>(events_.size()),
                                       &ts, nullptr);
            }
            if (count >= 0) break;
            if (errno == EINTR) return 0;  // a signal: let the loop look at it
            if (errno == ENOSYS) {
                count = wait_in_milliseconds(timeout);
                if (count >= 0) break;
                if (errno == EINTR) return 0;
            }
            throw std::system_error(errno, std::generic_category(), "epoll_wait");
        }
        std::size_t delivered = 0;
        for (int i = 0; i < count; ++i) {
            const int fd = events_[static_cast<std::size_t>(i)].data.fd;
            const std::uint32_t ready = events_[static_cast<std::size_t>(i)].events;
            if (fd == wake_fd_) {
                std::uint64_t drained;
                [[maybe_unused]] auto ignored = ::read(wake_fd_, &drained, sizeof drained);
                continue;
            }
            delivered += dispatch(fd, ready);
        }
        if (static_cast<std::size_t>(count) == events_.size()) events_.resize(events_.size() * 2);
        return delivered;
    }

    void wakeup() noexcept override {
        const std::uint64_t one = 1;
        [[maybe_unused]] auto ignored = ::write(wake_fd_, &one, sizeof one);
    }

private:
    int wait_in_milliseconds(Duration timeout) {
        int ms = -1;
        if (timeout >= Duration::zero()) {
            // Round up: waking before the deadline would make the loop spin.
            const auto rounded = std::chrono::ceil<std::chrono::milliseconds>(timeout).count();
            ms = rounded > INT32_MAX ? INT32_MAX : static_cast<int>(rounded);
        }
        return ::epoll_wait(epoll_fd_, events_.data(), static_cast<int>(events_.size()), ms);
    }

    FdState* find(int fd) noexcept {
        return static_cast<std::size_t>(fd) < fds_.size() ? &fds_[static_cast<std::size_t>(fd)]
                                                          : nullptr;
    }
    FdState& get(int fd) {
        if (static_cast<std::size_t>(fd) >= fds_.size())
            fds_.resize(static_cast<std::size_t>(fd) + 1);
        return fds_[static_cast<std::size_t>(fd)];
    }
    FdState& get_existing(int fd) noexcept { return fds_[static_cast<std::size_t>(fd)]; }

    void complete(IoOperation& op) noexcept {
        op.in_flight = false;
        --pending_;
        op.on_complete(op);
    }

    /// Retries the queue's operations in order until one would block.
    std::size_t drain(OpQueue& queue, bool& receive_drained, bool error) noexcept {
        std::size_t delivered = 0;
        while (IoOperation* op = queue.head) {
            long result = attempt_syscall(*op);
            if (result == -EAGAIN) {
                // A readiness wait also ends on error/hang-up: the caller's own call reports it.
                if (!error || (op->opcode != IoOpcode::poll_readable &&
                               op->opcode != IoOpcode::poll_writable)) {
                    break;
                }
                result = 0;
            }
            queue.erase(*op);
            op->result = result;
            note_receive(receive_drained, *op);
            complete(*op);
            ++delivered;
        }
        return delivered;
    }

    std::size_t dispatch(int fd, std::uint32_t ready) noexcept {
        FdState* state = find(fd);
        if (state == nullptr) return 0;
        const bool error = (ready & (EPOLLERR | EPOLLHUP)) != 0;
        // Whether anyone waited when the event came: interest is dropped only for events
        // nobody wanted, not because the waiters just got what they waited for (their
        // tasks usually come back for more within the same loop iteration).
        const bool readers_waited = !state->readers.empty();
        const bool writers_waited = !state->writers.empty();
        std::size_t delivered = 0;
        if ((ready & (EPOLLIN | EPOLLRDHUP | EPOLLPRI)) != 0 || error) {
            delivered += drain(state->readers, state->receive_drained, error);
        }
        if ((ready & EPOLLOUT) != 0 || error) delivered += drain(state->writers, state->receive_drained, error);
        // Drop interest nobody needs any more (lazily, see the top of the file).
        std::uint32_t wanted = state->interest;
        if (!readers_waited && (ready & (EPOLLIN | EPOLLRDHUP | EPOLLHUP)) != 0) {
            wanted &= ~static_cast<std::uint32_t>(EPOLLIN | EPOLLRDHUP);
        }
        if (!writers_waited && (ready & (EPOLLOUT | EPOLLHUP | EPOLLERR)) != 0) {
            wanted &= ~static_cast<std::uint32_t>(EPOLLOUT);
        }
        if (!state->readers.empty()) wanted |= EPOLLIN | EPOLLRDHUP;
        if (!state->writers.empty()) wanted |= EPOLLOUT;
        if (const int error = set_interest(fd, *state, wanted); error != 0) fail_all(*state, error);
        return delivered;
    }

    /// Raises the interest to what the queues need. Returns 0 or the errno of epoll_ctl.
    int update_interest(int fd, FdState& state) noexcept {
        std::uint32_t wanted = state.interest;
        if (!state.readers.empty()) wanted |= EPOLLIN | EPOLLRDHUP;
        if (!state.writers.empty()) wanted |= EPOLLOUT;
        return set_interest(fd, state, wanted);
    }

    /// Returns 0 or the errno of epoll_ctl (the interest is then cleared).
    int set_interest(int fd, FdState& state, std::uint32_t wanted) noexcept {
        if (wanted == state.interest) return 0;
        epoll_event event{};
        event.events = wanted;
        event.data.fd = fd;
        int rc;
        if (wanted == 0) {
            rc = ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
        } else if (state.interest == 0) {
            rc = ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &event);
            // The descriptor was closed and its number reused without forget_fd(): the
            // kernel dropped the old registration, ours is stale. Register afresh.
            if (rc != 0 && errno == EEXIST) rc = ::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &event);
        } else {
            rc = ::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &event);
            if (rc != 0 && errno == ENOENT) rc = ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &event);
        }
        if (rc == 0 || wanted == 0) {
            state.interest = wanted;
            return 0;
        }
        state.interest = 0;
        return errno;
    }

    /// Fails every queued operation of a descriptor that cannot be watched any more,
    /// rather than let them wait forever.
    void fail_all(FdState& state, int error) noexcept {
        for (OpQueue* queue : {&state.readers, &state.writers}) {
            while (IoOperation* op = queue->head) {
                queue->erase(*op);
                op->result = -error;
                complete(*op);
            }
        }
    }

    int epoll_fd_ = -1;
    int wake_fd_ = -1;
    std::deque<FdState> fds_;  // a deque: growing it keeps references to states valid
    std::vector<epoll_event> events_;
    std::size_t pending_ = 0;
};

}  // namespace

std::unique_ptr<Backend> make_epoll_backend() { return std::make_unique<EpollBackend>(); }

const char* to_string(IoOpcode opcode) noexcept {
    switch (opcode) {
        case IoOpcode::poll_readable:
            return "poll_readable";
        case IoOpcode::poll_writable:
            return "poll_writable";
        case IoOpcode::read:
            return "read";
        case IoOpcode::write:
            return "write";
        case IoOpcode::recv:
            return "recv";
        case IoOpcode::send:
            return "send";
        case IoOpcode::recvmsg:
            return "recvmsg";
        case IoOpcode::sendmsg:
            return "sendmsg";
        case IoOpcode::accept:
            return "accept";
        case IoOpcode::connect:
            return "connect";
        case IoOpcode::pread:
            return "pread";
        case IoOpcode::pwrite:
            return "pwrite";
        case IoOpcode::fsync:
            return "fsync";
        case IoOpcode::openat:
            return "openat";
        case IoOpcode::close:
            return "close";
    }
    return "unknown";
}

}  // namespace asyncio::detail
