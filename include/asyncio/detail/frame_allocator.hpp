#pragma once

#include <cstddef>

namespace asyncio::detail {

// Coroutine frames come from per-thread free lists by size class (a spawn-heavy program
// allocates and frees frames of the same few sizes millions of times). Sanitized builds go
// straight to the global allocator so that ASan sees every frame.
void* allocate_frame(std::size_t size);
void deallocate_frame(void* frame, std::size_t size) noexcept;

/// Frames allocated and not yet freed, over all threads (tests check it returns to its
/// starting value).
std::size_t live_frames() noexcept;

}  // namespace asyncio::detail
