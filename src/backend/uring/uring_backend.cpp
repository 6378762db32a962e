// The io_uring backend: every operation becomes a submission queue entry whose user_data is
// the IoOperation's address, and its completion comes back as a CQE with the same tag.
//
// submit() first tries the system call, as the epoll backend does, when no other operation
// waits on the same side of the descriptor: sockets usually have data or buffer space, the
// task then goes on without a trip through the loop, and a receiver drains a burst of
// datagrams in one go instead of one per loop iteration (which overflowed a UDP socket's
// buffer in Udp.AThousandDatagramsEachArriveWhole). Only on EAGAIN does it fill an SQE;
// poll() hands the whole batch to the kernel and waits in the same io_uring_enter call,
// so a loop iteration costs one system call however many operations it starts.
// cancel() and forget_fd() enter the kernel at once, because their callers close the
// descriptor right after and may reuse its number, and deliver the cancelled operations'
// completions inside the call when the kernel posted them at once (it does for
// operations waiting for readiness), as epoll does: tasks see a cancellation within the
// same loop iteration. Other completions found then are kept for the next poll().

// An operation completes exactly once. A cancel is an IORING_OP_ASYNC_CANCEL keyed by the
// operation's tag; the operation's own CQE still arrives, with -ECANCELED or with its real
// result when it won the race, and is delivered like any other (a late accept's descriptor
// or a late recv's bytes reach the owner, who decides). The kernel may own the buffer
// until then, which is why the submitter keeps it alive until on_complete.
//
// Some operations go through a readiness phase first: a connect that returned EINPROGRESS
// waits for POLLOUT and then reads SO_ERROR, as on epoll, and an operation the kernel
// answered with -EAGAIN (a file without nowait support) waits for readiness and is
// issued again. Both phases use the same tag, so a cancel finds either.
//
// When the submission queue is full it is flushed and the SQE taken again; if the kernel
// cannot take more (-EBUSY while completions overflow), the operation waits in a backlog
// that poll() drains, so nothing is dropped. The ring is set up with the kernel's NODROP
// behaviour (IORING_FEAT_NODROP, 5.5+): overflowed completions are flushed by
// io_uring_get_events and delivered too.
//
// Regular files (pread, pwrite, fsync at an offset, openat, close) skip the first attempt:
// their system calls never say EAGAIN, they block on the disk, so they always go to the
// ring, where the kernel completes them from the page cache or from its own workers. An
// openat has no descriptor yet: it waits on a list of its own, which the destructor
// cancels like a descriptor's.
//
// Wake-ups write to an eventfd that the ring watches with a single-shot POLL_ADD, re-armed
// after each wake; a signal handler can do that write too.
//
// Taking ahead. On descriptors the loop owns alone (IoOperation::exclusive: a stream
// transport's socket, a server's listener) a recv or accept that has to wait arms a
// multishot request instead of a one-off one, and leaves it armed: the kernel then
// receives each burst into one of the backend's provided buffers (a registered buffer
// ring) and accepts each connection as it comes, without an SQE per message. What arrives
// while nobody waits is kept per descriptor, in order, for the next operation, which
// completes inside submit() with a copy. Once armed, no recv is tried directly on that
// descriptor any more: bytes the kernel took ahead but we have not reaped yet must come
// first. The kernel ends a multishot request when the provided buffers run out (ENOBUFS):
// the waiting receives then go to the ring one-off, with their own buffers, and the next
// wait arms again. Connections accepted ahead are bounded (max_accepted_ahead); beyond
// that the multishot accept is cancelled and the kernel's listen backlog holds the rest.
// A kernel without multishot receive or accept answers EINVAL once; that kind is then
// turned off for the backend's life and operations go one-off. Multishot completions
// carry the descriptor and its generation (bumped by forget_fd) instead of an operation:
// a late completion for a closed descriptor gives its buffer back or closes its
// connection, and never reaches a new socket with the same number.

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <deque>
#include <memory>
#include <system_error>
#include <vector>

#include <fcntl.h>
#include <liburing.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/socket.h>
#include <unistd.h>

#include "backend/backend.hpp"
#include "backend/syscall_attempt.hpp"

namespace asyncio::detail {
namespace {

// Tags that are not operations (operations are aligned, so their low three bits are 0).
constexpr std::uint64_t wake_tag = 1;
constexpr std::uint64_t cancel_tag = 2;  // the cancel requests' own CQEs carry nothing we need
// A multishot request: generation << 32 | fd << 3 | kind.
constexpr std::uint64_t receive_ahead_kind = 3;
constexpr std::uint64_t accept_ahead_kind = 4;
constexpr std::uint64_t kind_mask = 7;

bool is_operation_tag(std::uint64_t tag) noexcept { return (tag & kind_mask) == 0; }

// IoOperation::backend_state bits.
constexpr std::uint8_t cancel_requested = 1;
constexpr std::uint8_t awaiting_readiness = 2;  // see the top of the file
constexpr std::uint8_t detached = 4;            // forget_fd() took it off its descriptor's list
constexpr std::uint8_t backlogged = 8;          // waiting for a free SQE
constexpr std::uint8_t waits_ahead = 16;        // waits for what a multishot request brings

constexpr unsigned ring_entries = 256;
constexpr std::size_t max_transfer = std::size_t{1} << 30;  // SQE lengths are 32-bit

// Provided buffers for multishot receives: 128 x 16 KiB, mapped on first use (pages are
// touched only as the kernel fills them).
constexpr unsigned provided_count = 128;
constexpr unsigned provided_size = 16 * 1024;
constexpr int provided_group = 0;
constexpr std::size_t max_accepted_ahead = 64;

struct Completion {
    std::uint64_t tag;
    int result;
    unsigned flags;
};

/// Bytes a multishot receive brought: part of a provided buffer, or (buffer -1) the end of
/// the stream (result 0) or its error (a negative errno), handed out in order.
struct ReceivedChunk {
    int buffer = -1;
    unsigned offset = 0;
    unsigned length = 0;
    int result = 0;
};

/// What the backend took ahead on one descriptor, and who waits for it.
struct TakenAhead {
    bool receiving = false;  // a multishot receive is in the kernel
    bool accepting = false;  // a multishot accept is in the kernel
    std::deque<ReceivedChunk> received;
    std::deque<int> accepted;  // descriptors, or a negative errno to report
    std::deque<IoOperation*> waiters;
};

struct FdState {
    IoOperation* head = nullptr;  // operations in flight on this descriptor
    std::size_t readers = 0;      // how many of them are read-side...
    std::size_t writers = 0;      // ...and write-side
    bool receive_drained = false; // see note_receive()
    std::int8_t is_stream = -1;   // SOCK_STREAM socket? -1: not asked yet
    std::uint32_t generation = 0; // bumped by forget_fd()
    std::unique_ptr<TakenAhead> ahead;

    std::size_t& side(IoOpcode opcode) noexcept {
        return is_write_side(opcode) ? writers : readers;
    }
};

/// The ring of provided buffers that multishot receives fill.
class ProvidedBuffers {
public:
    ProvidedBuffers() = default;
    ProvidedBuffers(const ProvidedBuffers&) = delete;
    ProvidedBuffers& operator=(const ProvidedBuffers&) = delete;
    ~ProvidedBuffers() {
        if (ring_ != nullptr) ::munmap(ring_, ring_bytes);
        if (memory_ != nullptr) ::munmap(memory_, memory_bytes);
    }

    /// Maps and registers the buffers. False when the kernel refuses (before 5.19).
    bool set_up(io_uring& ring) noexcept {
        void* ring_memory = ::mmap(nullptr, ring_bytes, PROT_READ | PROT_WRITE,
                                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (ring_memory == MAP_FAILED) return false;
        void* memory = ::mmap(nullptr, memory_bytes, PROT_READ | PROT_WRITE,
                              MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (memory == MAP_FAILED) {
            ::munmap(ring_memory, ring_bytes);
            return false;
        }
        ring_ = static_cast<io_uring_buf_ring*>(ring_memory);
        memory_ = static_cast<std::byte*>(memory);
        io_uring_buf_reg registration{};
        registration.ring_addr = reinterpret_cast<std::uintptr_t>(ring_);
        registration.ring_entries = provided_count;
        registration.bgid = provided_group;
        if (io_uring_register_buf_ring(&ring, &registration, 0) != 0) return false;
        io_uring_buf_ring_init(ring_);
        for (unsigned id = 0; id < provided_count; ++id) add(static_cast<int>(id), id);
        io_uring_buf_ring_advance(ring_, provided_count);
        return true;
    }

    const std::byte* data(int id) const noexcept {
        return memory_ + static_cast<std::size_t>(id) * provided_size;
    }

    void give_back(int id) noexcept {
        add(id, 0);
        io_uring_buf_ring_advance(ring_, 1);
    }

private:
    static constexpr std::size_t ring_bytes = 4096;  // 128 entries of 16 bytes, page-sized
    static constexpr std::size_t memory_bytes = std::size_t{provided_count} * provided_size;

    void add(int id, unsigned offset) noexcept {
        io_uring_buf_ring_add(ring_, memory_ + static_cast<std::size_t>(id) * provided_size,
                              provided_size, static_cast<unsigned short>(id),
                              io_uring_buf_ring_mask(provided_count), static_cast<int>(offset));
    }

    io_uring_buf_ring* ring_ = nullptr;
    std::byte* memory_ = nullptr;
};

class UringBackend final : public Backend {
public:
    UringBackend() {
        // Completions are best run as deferred task work, in the loop's own io_uring_enter
        // (DEFER_TASKRUN, 6.1+; it needs a single issuing thread, which a loop is); else at
        // the next kernel entry without interrupting the loop (COOP_TASKRUN, 5.19+); else
        // the kernel's default. The ring starts disabled so that the thread that runs the
        // loop, not the one that built it, becomes its issuer (enable_once()).
        static constexpr unsigned attempts[] = {
            IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_TASKRUN_FLAG |
                IORING_SETUP_R_DISABLED,
            IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG,
            0,
        };
        io_uring_params params{};
        int rc = -EINVAL;
        for (const unsigned flags : attempts) {
            params = io_uring_params{};
            params.flags = flags;
            rc = io_uring_queue_init_params(ring_entries, &ring_, &params);
            if (rc != -EINVAL) break;
        }
        disabled_ = rc >= 0 && (params.flags & IORING_SETUP_R_DISABLED) != 0;
        if (rc < 0) {
            throw std::system_error(-rc, std::generic_category(), "io_uring_queue_init");
        }
        try {
            check_kernel(params);
            wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
            if (wake_fd_ < 0) throw std::system_error(errno, std::generic_category(), "eventfd");
        } catch (...) {
            io_uring_queue_exit(&ring_);
            throw;
        }
        arm_wake();
    }

    ~UringBackend() override {
        // The operations' owners (task frames, transports) outlive the backend only until
        // the loop tears them down, so every operation must have completed before the
        // ring goes: cancel them all and wait for their CQEs.
        closing_ = true;
        for (std::size_t fd = 0; fd < fds_.size(); ++fd) forget_fd(static_cast<int>(fd));
        forget(unbound_, false, [](IoOperation& candidate) {
            return candidate.opcode == IoOpcode::openat &&
                   (candidate.backend_state & detached) != 0;
        });
        // Multishot requests are waited for too, so that connections they accepted at the
        // last moment get closed, but not forever: they hold no memory of anyone else's.
        int idle_rounds = 0;
        while (pending_ > 0 || (multishots_ > 0 && idle_rounds < 10)) {
            __kernel_timespec ts{0, 20'000'000};
            io_uring_cqe* cqe = nullptr;
            const int rc = io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, &ts, nullptr);
            if (rc < 0 && rc != -EINTR && rc != -EBUSY && rc != -EAGAIN && rc != -ETIME) break;
            idle_rounds = reap() == 0 && rc == -ETIME ? idle_rounds + 1 : 0;
        }
        io_uring_queue_exit(&ring_);
        ::close(wake_fd_);
    }

    const char* name() const noexcept override { return "io_uring"; }
    int wakeup_fd() const noexcept override { return wake_fd_; }
    std::size_t pending() const noexcept override { return pending_; }
    bool supports_file_io() const noexcept override { return true; }
    std::size_t taking_ahead() const noexcept override { return multishots_; }

    void wakeup() noexcept override {
        const std::uint64_t one = 1;
        [[maybe_unused]] auto ignored = ::write(wake_fd_, &one, sizeof one);
    }

    bool submit(IoOperation& op) override {
        enable_once();
        if (closing_) {
            op.result = -ECANCELED;
            return true;
        }
        if (op.fd < 0 && op.opcode != IoOpcode::openat) {
            op.result = -EBADF;
            return true;
        }
        op.backend_state = 0;
        FdState& state = op.opcode == IoOpcode::openat ? unbound_ : get(op.fd);
        if (op.exclusive && may_take_ahead(state, op)) return submit_taking_ahead(state, op);
        if (op.opcode == IoOpcode::connect) {
            op.result = start_connect(op);
            if (op.result != -EINPROGRESS) return true;
            op.backend_state = awaiting_readiness;
        } else if (op.opcode != IoOpcode::poll_readable && op.opcode != IoOpcode::poll_writable &&
                   !is_file_opcode(op.opcode) && state.side(op.opcode) == 0 &&
                   !(op.opcode == IoOpcode::recv && state.receive_drained)) {
            // Only when nobody else waits on this side: bytes stay in order.
            op.result = attempt_syscall(op);
            if (op.result != -EAGAIN) {
                note_receive(state.receive_drained, op);
                return true;
            }
        }
        link(state, op);
        op.in_flight = true;
        ++pending_;
        queue(op);
        return false;
    }

    void cancel(IoOperation& op) noexcept override {
        enable_once();
        if (!op.in_flight || (op.backend_state & cancel_requested) != 0) return;
        op.backend_state |= cancel_requested;
        if ((op.backend_state & backlogged) != 0) {
            backlog_.erase(std::find(backlog_.begin(), backlog_.end(), &op));
            complete(op, -ECANCELED);
            return;
        }
        if ((op.backend_state & waits_ahead) != 0) {
            // Not in the kernel: whatever the multishot request brings goes to the next one.
            auto& waiters = get_existing(op.fd).ahead->waiters;
            waiters.erase(std::find(waiters.begin(), waiters.end(), &op));
            complete(op, -ECANCELED);
            return;
        }
        if (!request_cancel_tag(reinterpret_cast<std::uintptr_t>(&op))) return;
        flush();
        collect();
        deliver_collected([&op](IoOperation& candidate) { return &candidate == &op; });
    }

    // One ASYNC_CANCEL per operation, all in one io_uring_enter. IORING_ASYNC_CANCEL_FD
    // would take one SQE, but it matches by open file, so it would also cancel operations
    // on a dup() of the descriptor (a shared pipe, stdout).
    void forget_fd(int fd) noexcept override {
        enable_once();
        FdState* state = find(fd);
        if (state == nullptr) return;
        state->receive_drained = false;  // the number may come back as a new socket
        state->is_stream = -1;
        const bool cancels = drop_taken_ahead(fd, *state);
        state->ahead.reset();
        forget(*state, cancels, [fd](IoOperation& candidate) {
            return candidate.fd == fd && (candidate.backend_state & detached) != 0;
        });
    }

    /// Takes every operation off `state`'s list and cancels it; delivers the cancellations
    /// the kernel posts at once (those of the operations `chosen` picks). `cancels`: cancel
    /// requests are already queued.
    template <class Chosen>
    void forget(FdState& state, bool cancels, Chosen chosen) noexcept {
        while (IoOperation* op = state.head) {
            unlink(state, *op);
            op->backend_state |= detached;
            if ((op->backend_state & backlogged) != 0) {
                backlog_.erase(std::find(backlog_.begin(), backlog_.end(), op));
                complete(*op, -ECANCELED);
            } else if ((op->backend_state & waits_ahead) != 0) {
                complete(*op, -ECANCELED);
            } else if ((op->backend_state & cancel_requested) == 0) {
                op->backend_state |= cancel_requested;
                cancels = request_cancel_tag(reinterpret_cast<std::uintptr_t>(op)) || cancels;
            }
        }
        if (!cancels) return;
        flush();
        collect();
        deliver_collected(chosen);
    }

    std::size_t poll(Duration timeout) override {
        enable_once();
        if (!wake_armed_) arm_wake();
        drain_backlog();
        int rc;
        if (timeout == Duration::zero() || !backlog_.empty() || !collected_.empty()) {
            rc = io_uring_submit_and_get_events(&ring_);
        } else if (timeout < Duration::zero()) {
            rc = io_uring_submit_and_wait(&ring_, 1);
        } else {
            __kernel_timespec ts{};
            ts.tv_sec = static_cast<long long>(timeout.count() / 1'000'000'000);
            ts.tv_nsec = static_cast<long long>(timeout.count() % 1'000'000'000);
            io_uring_cqe* cqe = nullptr;
            rc = io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, &ts, nullptr);
        }
        // -ETIME: the timeout passed; -EINTR: a signal the loop looks at next; -EBUSY and
        // -EAGAIN: the kernel wants completions reaped before it takes more submissions.
        if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EBUSY && rc != -EAGAIN) {
            throw std::system_error(-rc, std::generic_category(), "io_uring_enter");
        }
        return reap();
    }

private:
    static void check_kernel(const io_uring_params& params) {
        if ((params.features & IORING_FEAT_NODROP) == 0) {
            throw std::system_error(ENOTSUP, std::generic_category(),
                                    "io_uring without IORING_FEAT_NODROP (kernel before 5.5)");
        }
        io_uring_probe* probe = io_uring_get_probe();
        if (probe == nullptr) {
            throw std::system_error(ENOTSUP, std::generic_category(), "io_uring_get_probe");
        }
        static constexpr int needed[] = {
            IORING_OP_POLL_ADD, IORING_OP_ASYNC_CANCEL, IORING_OP_READ,    IORING_OP_WRITE,
            IORING_OP_RECV,     IORING_OP_SEND,         IORING_OP_RECVMSG, IORING_OP_SENDMSG,
            IORING_OP_ACCEPT,   IORING_OP_FSYNC,        IORING_OP_OPENAT,  IORING_OP_CLOSE,
        };
        for (const int opcode : needed) {
            if (!io_uring_opcode_supported(probe, opcode)) {
                io_uring_free_probe(probe);
                throw std::system_error(ENOTSUP, std::generic_category(),
                                        "io_uring lacks opcode " + std::to_string(opcode));
            }
        }
        io_uring_free_probe(probe);
    }

    // ---- Taking ahead (see the top of the file) ----

    static std::uint64_t ahead_tag(int fd, const FdState& state, std::uint64_t kind) noexcept {
        return (std::uint64_t{state.generation} << 32) | (static_cast<std::uint64_t>(fd) << 3) |
               kind;
    }

    bool may_take_ahead(FdState& state, const IoOperation& op) noexcept {
        if (op.opcode == IoOpcode::accept) return accept_ahead_enabled_;
        if (op.opcode != IoOpcode::recv || op.flags != 0 || !receive_ahead_enabled_) return false;
        if (state.is_stream < 0) {
            // Datagrams must not be split or merged: only stream sockets take ahead.
            int type = 0;
            socklen_t size = sizeof type;
            state.is_stream =
                ::getsockopt(op.fd, SOL_SOCKET, SO_TYPE, &type, &size) == 0 && type == SOCK_STREAM;
        }
        if (state.is_stream == 0) return false;
        if (!buffers_ready_) {
            buffers_ready_ = buffers_.set_up(ring_);
            if (!buffers_ready_) receive_ahead_enabled_ = false;
        }
        return buffers_ready_;
    }

    bool submit_taking_ahead(FdState& state, IoOperation& op) {
        if (!state.ahead) state.ahead = std::make_unique<TakenAhead>();
        TakenAhead& ahead = *state.ahead;
        if (ahead.waiters.empty() && serve_from_ahead(ahead, op)) return true;
        const bool receive = op.opcode == IoOpcode::recv;
        const bool armed = receive ? ahead.receiving : ahead.accepting;
        if (!armed && ahead.waiters.empty() && state.side(op.opcode) == 0 &&
            !(receive && state.receive_drained)) {
            op.result = attempt_syscall(op);
            if (op.result != -EAGAIN) {
                note_receive(state.receive_drained, op);
                return true;
            }
        }
        link(state, op);
        op.in_flight = true;
        ++pending_;
        if (!armed && !arm_ahead(op.fd, state, receive)) {
            queue(op);  // no SQE for the multishot request now: a one-off one, maybe backlogged
            return false;
        }
        op.backend_state |= waits_ahead;
        ahead.waiters.push_back(&op);
        return false;
    }

    bool arm_ahead(int fd, FdState& state, bool receive) noexcept {
        io_uring_sqe* sqe = get_sqe();
        if (sqe == nullptr) return false;
        if (receive) {
            io_uring_prep_recv_multishot(sqe, fd, nullptr, 0, 0);
            sqe->flags |= IOSQE_BUFFER_SELECT;
            sqe->buf_group = provided_group;
            state.ahead->receiving = true;
        } else {
            io_uring_prep_multishot_accept(sqe, fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
            state.ahead->accepting = true;
        }
        io_uring_sqe_set_data64(sqe, ahead_tag(fd, state, receive ? receive_ahead_kind
                                                                  : accept_ahead_kind));
        ++multishots_;
        return true;
    }

    /// Completes `op` from what was taken ahead, if anything was. A receive takes as many
    /// bytes as fit, across chunks, and stops before an end marker it can report next.
    bool serve_from_ahead(TakenAhead& ahead, IoOperation& op) noexcept {
        if (op.opcode == IoOpcode::accept) {
            if (ahead.accepted.empty()) return false;
            const int accepted = ahead.accepted.front();
            ahead.accepted.pop_front();
            op.result = accepted;
            if (accepted >= 0 && op.address != nullptr) {
                // A multishot accept cannot write a peer address per connection.
                socklen_t size = op.address_length;
                op.address_length = ::getpeername(accepted, op.address, &size) == 0 ? size : 0;
            }
            return true;
        }
        std::size_t copied = 0;
        auto* destination = static_cast<std::byte*>(op.buffer);
        while (!ahead.received.empty() && copied < op.length) {
            ReceivedChunk& chunk = ahead.received.front();
            if (chunk.buffer < 0) {
                if (copied > 0) break;
                op.result = chunk.result;
                ahead.received.pop_front();
                return true;
            }
            const std::size_t take = std::min<std::size_t>(chunk.length, op.length - copied);
            std::memcpy(destination + copied, buffers_.data(chunk.buffer) + chunk.offset, take);
            copied += take;
            chunk.offset += static_cast<unsigned>(take);
            chunk.length -= static_cast<unsigned>(take);
            if (chunk.length == 0) {
                buffers_.give_back(chunk.buffer);
                ahead.received.pop_front();
            }
        }
        if (copied == 0) return false;
        op.result = static_cast<long>(copied);
        return true;
    }

    std::size_t dispatch_taken_ahead(const Completion& completion) noexcept {
        const int fd = static_cast<int>((completion.tag & 0xffff'ffffU) >> 3);
        const auto generation = static_cast<std::uint32_t>(completion.tag >> 32);
        const bool receive = (completion.tag & kind_mask) == receive_ahead_kind;
        const bool more = (completion.flags & IORING_CQE_F_MORE) != 0;
        const int result = completion.result;
        const int buffer = (completion.flags & IORING_CQE_F_BUFFER) != 0
                               ? static_cast<int>(completion.flags >> IORING_CQE_BUFFER_SHIFT)
                               : -1;
        if (!more) --multishots_;
        FdState* state = find(fd);
        if (state == nullptr || state->generation != generation || !state->ahead) {
            // For a descriptor forgotten since: nothing may reach a new socket of that number.
            if (buffer >= 0) buffers_.give_back(buffer);
            if (!receive && result >= 0) ::close(result);
            return 0;
        }
        TakenAhead& ahead = *state->ahead;
        if (!more) (receive ? ahead.receiving : ahead.accepting) = false;
        const bool unsupported = result == -EINVAL || result == -EOPNOTSUPP;
        if (receive) {
            if (buffer >= 0 && result > 0) {
                ahead.received.push_back({buffer, 0, static_cast<unsigned>(result), 0});
            } else {
                if (buffer >= 0) buffers_.give_back(buffer);
                if (unsupported) {
                    receive_ahead_enabled_ = false;
                } else if (result <= 0 && result != -ENOBUFS && result != -ECANCELED) {
                    ahead.received.push_back({-1, 0, 0, result});  // end of stream or error
                }
            }
        } else {
            if (unsupported) {
                accept_ahead_enabled_ = false;
            } else if (result != -ECANCELED) {
                try {
                    ahead.accepted.push_back(result);
                } catch (...) {
                    if (result >= 0) ::close(result);  // as if the peer had been refused
                }
                if (ahead.accepting && ahead.accepted.size() >= max_accepted_ahead &&
                    request_cancel_tag(ahead_tag(fd, *state, accept_ahead_kind))) {
                    flush();  // enough taken: the listen backlog holds the rest
                }
            }
        }
        std::size_t delivered = serve_waiters(*state);
        if (state->ahead && !state->ahead->waiters.empty() &&
            !(receive ? state->ahead->receiving : state->ahead->accepting)) {
            restart_waiters(fd, *state, receive, unsupported || result == -ENOBUFS);
        }
        return delivered;
    }

    std::size_t serve_waiters(FdState& state) noexcept {
        std::size_t delivered = 0;
        // complete() may run code that submits on this descriptor again: look afresh at
        // every step.
        while (state.ahead && !state.ahead->waiters.empty()) {
            IoOperation& op = *state.ahead->waiters.front();
            if (!serve_from_ahead(*state.ahead, op)) break;
            state.ahead->waiters.pop_front();
            delivered += complete(op, op.result);
        }
        return delivered;
    }

    /// The multishot request ended with operations still waiting: arm it again, or, when
    /// it cannot help now (no free provided buffer, not supported), send them one-off.
    void restart_waiters(int fd, FdState& state, bool receive, bool one_off) noexcept {
        if (!one_off && arm_ahead(fd, state, receive)) return;
        std::deque<IoOperation*> waiters;
        waiters.swap(state.ahead->waiters);
        for (IoOperation* op : waiters) {
            op->backend_state &= static_cast<std::uint8_t>(~waits_ahead);
            requeue(*op);
        }
    }

    /// Ends taking ahead on a descriptor being forgotten: cancels its multishot requests,
    /// gives back the buffers and closes the connections nobody received. Returns whether
    /// cancels were queued.
    bool drop_taken_ahead(int fd, FdState& state) noexcept {
        bool cancels = false;
        if (state.ahead) {
            TakenAhead& ahead = *state.ahead;
            if (ahead.receiving) {
                cancels = request_cancel_tag(ahead_tag(fd, state, receive_ahead_kind)) || cancels;
            }
            if (ahead.accepting) {
                cancels = request_cancel_tag(ahead_tag(fd, state, accept_ahead_kind)) || cancels;
            }
            for (const ReceivedChunk& chunk : ahead.received) {
                if (chunk.buffer >= 0) buffers_.give_back(chunk.buffer);
            }
            for (const int accepted : ahead.accepted) {
                if (accepted >= 0) ::close(accepted);
            }
            ahead.received.clear();
            ahead.accepted.clear();
        }
        ++state.generation;
        return cancels;
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

    static void link(FdState& state, IoOperation& op) noexcept {
        op.prev_queued = nullptr;
        op.next_queued = state.head;
        if (state.head != nullptr) state.head->prev_queued = &op;
        state.head = &op;
        ++state.side(op.opcode);
    }
    static void unlink(FdState& state, IoOperation& op) noexcept {
        (op.prev_queued != nullptr ? op.prev_queued->next_queued : state.head) = op.next_queued;
        if (op.next_queued != nullptr) op.next_queued->prev_queued = op.prev_queued;
        op.next_queued = op.prev_queued = nullptr;
        --state.side(op.opcode);
    }

    /// A free SQE, flushing the queue to the kernel once if it is full; null if the kernel
    /// takes nothing more right now.
    io_uring_sqe* get_sqe() noexcept {
        io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
        if (sqe == nullptr) {
            io_uring_submit(&ring_);
            sqe = io_uring_get_sqe(&ring_);
        }
        return sqe;
    }

    // With DEFER_TASKRUN, completions are posted only when the issuer asks for events:
    // a flush for cancel() and forget_fd() does, so that what the kernel did at once is seen.
    void flush() noexcept { io_uring_submit_and_get_events(&ring_); }

    /// Makes the calling thread the ring's issuer, on its first use (see the constructor).
    void enable_once() noexcept {
        if (!disabled_) return;
        disabled_ = false;
        // liburing 2.3 declares io_uring_enable_rings() but does not export it.
        ::syscall(__NR_io_uring_register, ring_.ring_fd, IORING_REGISTER_ENABLE_RINGS, nullptr, 0);
    }

    void queue(IoOperation& op) {
        if (!backlog_.empty()) {
            // Behind others waiting for an SQE: keep submission order.
            op.backend_state |= backlogged;
            backlog_.push_back(&op);
            return;
        }
        io_uring_sqe* sqe = get_sqe();
        if (sqe == nullptr) {
            op.backend_state |= backlogged;
            backlog_.push_back(&op);
            return;
        }
        prepare(*sqe, op);
    }

    void drain_backlog() noexcept {
        while (!backlog_.empty()) {
            io_uring_sqe* sqe = get_sqe();
            if (sqe == nullptr) return;
            IoOperation& op = *backlog_.front();
            backlog_.pop_front();
            op.backend_state &= static_cast<std::uint8_t>(~backlogged);
            prepare(*sqe, op);
        }
    }

    static void prepare(io_uring_sqe& sqe, IoOperation& op) noexcept {
        io_uring_sqe* s = &sqe;
        const auto length = static_cast<unsigned>(std::min(op.length, max_transfer));
        if ((op.backend_state & awaiting_readiness) != 0) {
            io_uring_prep_poll_add(s, op.fd, is_write_side(op.opcode) ? POLLOUT : POLLIN);
        } else {
            switch (op.opcode) {
                case IoOpcode::poll_readable:
                    io_uring_prep_poll_add(s, op.fd, POLLIN | POLLRDHUP);
                    break;
                case IoOpcode::poll_writable:
                case IoOpcode::connect:
                    io_uring_prep_poll_add(s, op.fd, POLLOUT);
                    break;
                case IoOpcode::read:
                    // Offset -1: the file position, as read(2) (and nothing for pipes).
                    io_uring_prep_read(s, op.fd, op.buffer, length, static_cast<__u64>(-1));
                    break;
                case IoOpcode::write:
                    io_uring_prep_write(s, op.fd, op.buffer, length, static_cast<__u64>(-1));
                    break;
                case IoOpcode::pread:
                    io_uring_prep_read(s, op.fd, op.buffer, length, op.offset);
                    break;
                case IoOpcode::pwrite:
                    io_uring_prep_write(s, op.fd, op.buffer, length, op.offset);
                    break;
                case IoOpcode::fsync:
                    io_uring_prep_fsync(
                        s, op.fd, op.flags == file_sync_data_only ? IORING_FSYNC_DATASYNC : 0);
                    break;
                case IoOpcode::openat:
                    io_uring_prep_openat(s, AT_FDCWD, static_cast<const char*>(op.buffer), op.flags,
                                         static_cast<mode_t>(op.length));
                    break;
                case IoOpcode::close:
                    io_uring_prep_close(s, op.fd);
                    break;
                case IoOpcode::recv:
                    io_uring_prep_recv(s, op.fd, op.buffer, length, op.flags);
                    break;
                case IoOpcode::send:
                    io_uring_prep_send(s, op.fd, op.buffer, length, op.flags | MSG_NOSIGNAL);
                    break;
                case IoOpcode::recvmsg:
                    io_uring_prep_recvmsg(s, op.fd, op.message, static_cast<unsigned>(op.flags));
                    break;
                case IoOpcode::sendmsg:
                    io_uring_prep_sendmsg(s, op.fd, op.message,
                                          static_cast<unsigned>(op.flags | MSG_NOSIGNAL));
                    break;
                case IoOpcode::accept:
                    io_uring_prep_accept(s, op.fd, op.address,
                                         op.address != nullptr ? &op.address_length : nullptr,
                                         SOCK_NONBLOCK | SOCK_CLOEXEC);
                    break;
            }
        }
        io_uring_sqe_set_data64(s, reinterpret_cast<std::uintptr_t>(&op));
    }

    /// Queues an ASYNC_CANCEL for the request tagged `tag`. Returns whether the caller must
    /// flush.
    bool request_cancel_tag(std::uint64_t tag) noexcept {
        io_uring_sqe* sqe = get_sqe();
        if (sqe == nullptr) {
            // The kernel takes nothing now; the operation still completes on its own.
            return false;
        }
        io_uring_prep_cancel64(sqe, tag, 0);
        io_uring_sqe_set_data64(sqe, cancel_tag);
        return true;
    }

    void arm_wake() noexcept {
        io_uring_sqe* sqe = get_sqe();
        wake_armed_ = sqe != nullptr;
        if (sqe == nullptr) return;
        io_uring_prep_poll_add(sqe, wake_fd_, POLLIN);
        io_uring_sqe_set_data64(sqe, wake_tag);
    }

    /// Moves the completions the kernel has posted out of the ring, for cancel() and
    /// forget_fd() to pick theirs.
    void collect() noexcept {
        io_uring_cqe* cqe = nullptr;
        while (io_uring_peek_cqe(&ring_, &cqe) == 0) {
            try {
                collected_.push_back({io_uring_cqe_get_data64(cqe), cqe->res, cqe->flags});
            } catch (...) {
                return;  // left in the ring for poll()
            }
            io_uring_cqe_seen(&ring_, cqe);
        }
    }

    /// Delivers the collected completions of the operations `chosen` picks; the others
    /// stay for the next poll(), in order.
    template <class Chosen>
    void deliver_collected(Chosen chosen) noexcept {
        for (std::size_t i = 0; i < collected_.size();) {
            const std::uint64_t tag = collected_[i].tag;
            if (tag == cancel_tag) {
                collected_.erase(collected_.begin() + static_cast<std::ptrdiff_t>(i));
                continue;
            }
            if (!is_operation_tag(tag) ||
                !chosen(*reinterpret_cast<IoOperation*>(static_cast<std::uintptr_t>(tag)))) {
                ++i;
                continue;
            }
            const Completion completion = collected_[i];
            collected_.erase(collected_.begin() + static_cast<std::ptrdiff_t>(i));
            dispatch(completion);  // may complete, or (EAGAIN) queue the cancelled op again
        }
    }

    /// Delivers every completion in the ring, including overflowed ones.
    std::size_t reap() noexcept {
        constexpr unsigned batch = 64;
        io_uring_cqe* cqes[batch];
        Completion completions[batch];
        std::size_t delivered = 0;
        if (!collected_.empty()) {
            std::vector<Completion> earlier;
            earlier.swap(collected_);
            for (const Completion& completion : earlier) delivered += dispatch(completion);
        }
        for (;;) {
            const unsigned count = io_uring_peek_batch_cqe(&ring_, cqes, batch);
            if (count == 0) {
                if (io_uring_cq_has_overflow(&ring_) && io_uring_get_events(&ring_) >= 0 &&
                    io_uring_cq_ready(&ring_) > 0) {
                    continue;
                }
                break;
            }
            // Copy out and release the CQ slots first: completion callbacks may submit,
            // and the kernel may post into the freed slots meanwhile.
            for (unsigned i = 0; i < count; ++i) {
                completions[i] = {io_uring_cqe_get_data64(cqes[i]), cqes[i]->res, cqes[i]->flags};
            }
            io_uring_cq_advance(&ring_, count);
            for (unsigned i = 0; i < count; ++i) {
                delivered += dispatch(completions[i]);
            }
        }
        return delivered;
    }

    std::size_t dispatch(const Completion& completion) noexcept {
        const std::uint64_t tag = completion.tag;
        int result = completion.result;
        if (tag == cancel_tag) return 0;
        if (tag == wake_tag) {
            std::uint64_t drained;
            [[maybe_unused]] auto ignored = ::read(wake_fd_, &drained, sizeof drained);
            arm_wake();
            return 0;
        }
        if (!is_operation_tag(tag)) return dispatch_taken_ahead(completion);
        IoOperation& op = *reinterpret_cast<IoOperation*>(static_cast<std::uintptr_t>(tag));
        const bool cancelled = (op.backend_state & cancel_requested) != 0;
        if ((op.backend_state & awaiting_readiness) != 0) {
            if (result < 0) return complete(op, result);
            if (op.opcode == IoOpcode::connect) {
                // Finished, one way or the other: the outcome is real even if cancelled.
                int error = 0;
                socklen_t size = sizeof error;
                if (::getsockopt(op.fd, SOL_SOCKET, SO_ERROR, &error, &size) != 0) error = errno;
                return complete(op, -error);
            }
            if (cancelled) return complete(op, -ECANCELED);
            op.backend_state &= static_cast<std::uint8_t>(~awaiting_readiness);
            requeue(op);
            return 0;
        }
        if (result == -EAGAIN && op.opcode != IoOpcode::poll_readable &&
            op.opcode != IoOpcode::poll_writable && !is_file_opcode(op.opcode)) {
            if (cancelled) return complete(op, -ECANCELED);
            op.backend_state |= awaiting_readiness;
            requeue(op);
            return 0;
        }
        if (op.opcode == IoOpcode::poll_readable || op.opcode == IoOpcode::poll_writable) {
            if (result > 0) result = 0;  // the event mask: readiness (or error) reached
        }
        return complete(op, result);
    }

    void requeue(IoOperation& op) noexcept {
        try {
            queue(op);
        } catch (...) {
            complete(op, -ENOMEM);  // the backlog could not grow
        }
    }

    std::size_t complete(IoOperation& op, long result) noexcept {
        op.result = result;
        if ((op.backend_state & detached) == 0) {
            FdState& state = op.opcode == IoOpcode::openat ? unbound_ : get_existing(op.fd);
            unlink(state, op);
            note_receive(state.receive_drained, op);
        }
        op.backend_state = 0;
        op.in_flight = false;
        --pending_;
        op.on_complete(op);
        return 1;
    }

    FdState& get_existing(int fd) noexcept { return fds_[static_cast<std::size_t>(fd)]; }

    io_uring ring_{};
    ProvidedBuffers buffers_;  // unmapped after the destructor's io_uring_queue_exit
    int wake_fd_ = -1;
    bool wake_armed_ = false;
    bool closing_ = false;
    bool disabled_ = false;  // created with R_DISABLED and not enabled yet
    std::deque<FdState> fds_;  // a deque: growing it keeps references to states valid
    FdState unbound_;          // operations without a descriptor (openat)
    std::deque<IoOperation*> backlog_;
    std::vector<Completion> collected_;  // taken out of the ring by cancel()/forget_fd()
    std::size_t pending_ = 0;
    std::size_t multishots_ = 0;  // multishot requests in the kernel, stale ones included
    bool receive_ahead_enabled_ = true;
    bool accept_ahead_enabled_ = true;
    bool buffers_ready_ = false;  // provided buffers registered (done on first need)
};

}  // namespace

std::unique_ptr<Backend> make_uring_backend() { return std::make_unique<UringBackend>(); }

bool uring_compiled_in() noexcept { return true; }

}  // namespace asyncio::detail
