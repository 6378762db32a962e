#include "asyncio/detail/frame_allocator.hpp"

#include <atomic>
#include <new>

namespace asyncio::detail {
namespace {

std::atomic<std::size_t> frames_alive{0};

#if !defined(ASYNCIO_SANITIZED)
// Size classes of 64 bytes up to 1 KiB: coroutine frames of one program come in a handful
// of sizes, so a freed frame is almost always reused by the next task of the same kind.
constexpr std::size_t granule = 64;
constexpr std::size_t class_count = 16;
constexpr std::size_t max_cached_per_class = 4096;

struct FreeFrame {
    FreeFrame* next;
};

struct FramePool {
    FreeFrame* heads[class_count] = {};
    std::size_t counts[class_count] = {};

    ~FramePool() {
        for (auto*& head : heads) {
            while (head != nullptr) {
                FreeFrame* next = head->next;
                ::operator delete(head);
                head = next;
            }
        }
    }
};

thread_local FramePool pool;

std::size_t size_class(std::size_t size) noexcept { return (size - 1) / granule; }
#endif

}  // namespace

void* allocate_frame(std::size_t size) {
    frames_alive.fetch_add(1, std::memory_order_relaxed);
#if !defined(ASYNCIO_SANITIZED)
    const std::size_t cls = size_class(size);
    if (cls < class_count) {
        if (FreeFrame* frame = pool.heads[cls]) {
            pool.heads[cls] = frame->next;
            --pool.counts[cls];
            return frame;
        }
        return ::operator new((cls + 1) * granule);
    }
#endif
    return ::operator new(size);
}

void deallocate_frame(void* frame, [[maybe_unused]] std::size_t size) noexcept {
    frames_alive.fetch_sub(1, std::memory_order_relaxed);
#if !defined(ASYNCIO_SANITIZED)
    const std::size_t cls = size_class(size);
    if (cls < class_count && pool.counts[cls] < max_cached_per_class) {
        auto* free_frame = static_cast<FreeFrame*>(frame);
        free_frame->next = pool.heads[cls];
        pool.heads[cls] = free_frame;
        ++pool.counts[cls];
        return;
    }
#endif
    ::operator delete(frame);
}

std::size_t live_frames() noexcept { return frames_alive.load(std::memory_order_relaxed); }

}  // namespace asyncio::detail
