#pragma once

// What every backend does the same way: which queue an operation belongs to, and one
// non-blocking attempt of its system call (epoll retries it on readiness; io_uring tries
// it before going to the ring, so bytes already there cost no ring round trip).

#include "backend/backend.hpp"

namespace asyncio::detail {

/// True for operations that wait for buffer space (send side), false for the read side.
bool is_write_side(IoOpcode opcode) noexcept;

/// Performs the operation's system call once, retrying on EINTR. Returns the result or
/// -errno, with -EAGAIN when it would block. Readiness polls give 0; a connect gives the
/// outcome kept in SO_ERROR (it is retried after EINPROGRESS).
long attempt_syscall(IoOperation& op) noexcept;

/// Starts a connect(2): 0 when connected at once, -EINPROGRESS when the outcome must be
/// waited for (writability, then SO_ERROR), another -errno when it failed.
long start_connect(const IoOperation& op) noexcept;

/// Tracks whether a socket's receive queue was left empty: a recv that returned fewer bytes
/// than asked took everything there was, so the next recv would almost surely be EAGAIN.
/// Backends then skip that attempt and wait at once, which saves one system call per
/// message on a request/response connection. A wrong guess costs one loop iteration, never
/// bytes: the wait ends as soon as data is there. Only recv is tracked: a read may be on a
/// regular file, which cannot be waited for, and datagram receivers drain a burst best
/// by direct calls.
inline void note_receive(bool& receive_drained, const IoOperation& op) noexcept {
    if (op.opcode == IoOpcode::recv && op.result > 0) {
        receive_drained = static_cast<std::size_t>(op.result) < op.length;
    }
}

}  // namespace asyncio::detail
