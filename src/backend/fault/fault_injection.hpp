#pragma once

// Fault injection for tests: a Backend decorator that makes chosen operations fail with a
// chosen errno, or transfer fewer bytes than asked (short reads and writes, data intact).
// It sits in front of whichever backend the loop uses, so one test exercises the error
// paths of epoll and io_uring alike; a loop without a plan pays nothing.

#include <cstddef>
#include <memory>
#include <optional>

#include "asyncio/event_loop.hpp"
#include "backend/backend.hpp"

namespace asyncio::detail {

struct FaultPlan {
    /// Which operations count (nullopt: all but readiness polls).
    std::optional<IoOpcode> opcode;
    /// The first faulty operation is the `first`-th counted one (1-based); then every
    /// `every`-th after it (0: only that one).
    std::size_t first = 1;
    std::size_t every = 0;
    /// Fail with this errno (0: don't fail)...
    int error = 0;
    /// ...or let at most this many bytes through (0: no limit).
    std::size_t max_bytes = 0;
};

/// Wraps `loop`'s backend so that `plan` applies from now on; replaces a previous plan.
/// Returns a counter of the faults injected so far.
/// Throws: RuntimeError when operations are in flight.
std::shared_ptr<const std::size_t> inject_faults(EventLoop& loop, FaultPlan plan);

}  // namespace asyncio::detail
