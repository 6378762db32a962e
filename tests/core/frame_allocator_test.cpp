// The coroutine frame pool (src/loop/frame_allocator.cpp): frames freed by a thread are
// reused, and what a thread leaves in its lists when it exits goes to the next thread.

#include <algorithm>
#include <cstddef>
#include <set>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include <asyncio/detail/frame_allocator.hpp>

namespace {

using asyncio::detail::allocate_frame;
using asyncio::detail::deallocate_frame;
using asyncio::detail::live_frames;

constexpr std::size_t frame_size = 200;

std::vector<void*> allocate_many(std::size_t count) {
    std::vector<void*> frames;
    for (std::size_t i = 0; i < count; ++i) frames.push_back(allocate_frame(frame_size));
    return frames;
}

void free_all(const std::vector<void*>& frames) {
    for (void* frame : frames) deallocate_frame(frame, frame_size);
}

}  // namespace

TEST(FrameAllocator, LiveFramesCountsAllocationsOnEveryThread) {
    const std::size_t before = live_frames();
    std::vector<void*> frames = allocate_many(10);
    EXPECT_EQ(live_frames(), before + 10);
    std::thread([] {
        std::vector<void*> mine = allocate_many(5);
        free_all(mine);
    }).join();
    EXPECT_EQ(live_frames(), before + 10);
    free_all(frames);
    EXPECT_EQ(live_frames(), before);
}

TEST(FrameAllocator, AFrameFreedOnAnotherThreadIsCountedThere) {
    const std::size_t before = live_frames();
    std::vector<void*> frames = allocate_many(3);
    std::thread([&frames] { free_all(frames); }).join();
    EXPECT_EQ(live_frames(), before);
}

TEST(FrameAllocator, FramesLeftByAnExitingThreadServeTheNextThread) {
#if defined(ASYNCIO_SANITIZED)
    GTEST_SKIP() << "sanitized builds take frames from the global allocator";
#else
    // An exiting thread hands its free list to the depot in one splice, so the list's last
    // frame must be known: after frames it freed itself, and after a list it took from
    // the depot and used only in part.
    constexpr std::size_t count = 50000;
    const std::size_t before = live_frames();
    std::set<void*> freed;
    auto allocate_and_free = [&freed](std::size_t how_many) {
        std::thread([&freed, how_many] {
            std::vector<void*> frames = allocate_many(how_many);
            freed.insert(frames.begin(), frames.end());
            free_all(frames);
        }).join();
    };
    allocate_and_free(count);  // the depot now holds these frames
    allocate_and_free(10);     // takes the depot's list, uses 10, gives it all back
    EXPECT_EQ(live_frames(), before);
    // A new thread takes the depot's frames before it cuts fresh slab memory.
    std::size_t reused = 0;
    std::thread([&] {
        std::vector<void*> frames = allocate_many(count);
        reused = static_cast<std::size_t>(std::count_if(
            frames.begin(), frames.end(), [&](void* frame) { return freed.count(frame) != 0; }));
        free_all(frames);
    }).join();
    EXPECT_EQ(reused, count);
    EXPECT_EQ(live_frames(), before);
#endif
}
