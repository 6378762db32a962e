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

}  // namespace asyncio::detail
