#pragma once

#include <thread>

#include "asyncio/detail/loop_core.hpp"

namespace asyncio::detail {

/// The slow path of every synchronization primitive's entry check, taken when the
/// primitive's loop is not the loop running in this thread (CPython's _LoopBoundMixin).
///
/// - Not bound yet: binds to the running loop, if there is one, and remembers its thread.
/// - Another loop runs in this thread: RuntimeError, whether or not the loop is in debug
///   mode (CPython raises it only when a task has to wait; we raise it on every use).
/// - No loop runs in this thread: on the thread that bound it, nothing to check (the loop
///   has stopped, or is gone: `loop` is not touched, so a primitive may outlive its loop);
///   on another thread, `loop->check_thread()`, which throws in debug mode.
void bind_or_check_loop(LoopCore*& loop, std::thread::id& loop_thread, const char* primitive,
                        const char* operation);

}  // namespace asyncio::detail
