// Coroutine frames: per-thread free lists by size class, refilled from slabs.
//
// A spawn-heavy program allocates and frees frames of the same few sizes millions of
// times, often a million at once (one per concurrent task). Frames up to 1 KiB come in
// 16-byte size classes, so a frame wastes at most 15 bytes, and are cut from large slabs
// with a bump pointer: no malloc call and no malloc header per frame. (Slabs are not
// madvised for transparent huge pages: with the kernel's usual defrag=madvise, a fault
// in such a region may compact memory synchronously, and a million-task spawn then
// stalled for a second on a busy machine.) A freed frame goes on its thread's free list for its
// class and is reused by the next frame of that size. Slab memory is never returned to
// the system: a process keeps the frames of its busiest moment, like tcmalloc does, and
// reuses them. When a thread exits, its free frames and the rest of its slab go to a
// shared depot that the next thread to need frames takes from.
//
// The fast paths touch only a trivially destructible thread_local (no guard, no lock).
// Frames freed on another thread than the one that allocated them simply join that
// thread's lists. Sanitized builds go straight to the global allocator so that ASan sees
// every frame.

#include "asyncio/detail/frame_allocator.hpp"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <iterator>
#include <mutex>
#include <new>
#include <tuple>
#include <vector>

#include <sys/mman.h>

namespace asyncio::detail {
namespace {

#if !defined(ASYNCIO_SANITIZED)
constexpr std::size_t granule = 16;
constexpr std::size_t max_pooled_size = 1024;
constexpr std::size_t class_count = max_pooled_size / granule;
constexpr std::size_t first_slab_size = 64 * 1024;
constexpr std::size_t max_slab_size = 2 * 1024 * 1024;

struct FreeFrame {
    FreeFrame* next;
};

// Everything the fast paths touch, constant-initialized so that a thread_local access
// needs no initialization check.
struct FramePool {
    FreeFrame* heads[class_count];
    char* bump;
    char* bump_end;
    std::size_t next_slab_size;
    // Frames allocated minus frames freed by this thread; other threads read it for
    // live_frames(), so it is atomic, but only this thread writes it (load + store).
    std::atomic<std::int64_t> live;
    bool registered;  // in the registry of pools, with an exit hook
    bool exited;      // the thread is exiting: use the shared depot under its lock
};

constinit thread_local FramePool pool{};

// What exited threads left, and the pools live_frames() adds up.
struct Depot {
    std::mutex mutex;
    FreeFrame* heads[class_count] = {};
    // Whole free lists of exited threads, kept apart: joining two lists would mean walking
    // one to its end (a million frames freed make a million-long list), and keeping the
    // end of every list would cost each free a store.
    std::vector<FreeFrame*> lists[class_count];
    std::vector<std::pair<char*, char*>> regions;  // unused slab ends
    std::vector<FramePool*> pools;
    std::int64_t retired_live = 0;  // the counts of exited threads
    // Whether heads or regions hold anything, read without the lock: a thread that needs
    // a frame looks in the depot only when an exited thread left something there.
    std::atomic<bool> stocked{false};
};

Depot& depot() {
    static Depot* instance = new Depot;  // never destroyed: threads may exit after main
    return *instance;
}

std::size_t size_class(std::size_t size) noexcept { return (size - 1) / granule; }
std::size_t class_bytes(std::size_t cls) noexcept { return (cls + 1) * granule; }

void count(std::int64_t delta) noexcept {
    pool.live.store(pool.live.load(std::memory_order_relaxed) + delta, std::memory_order_relaxed);
}

void* map_slab(std::size_t size) {
    void* slab = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (slab == MAP_FAILED) throw std::bad_alloc();
    return slab;
}

struct PoolExit {
    ~PoolExit() {
        Depot& shared = depot();
        std::lock_guard lock(shared.mutex);
        for (std::size_t cls = 0; cls < class_count; ++cls) {
            FreeFrame* head = pool.heads[cls];
            if (head == nullptr) continue;
            pool.heads[cls] = nullptr;
            try {
                shared.lists[cls].push_back(head);
            } catch (...) {
                // No room for one more list: join it to the depot's single frames.
                FreeFrame* tail = head;
                while (tail->next != nullptr) tail = tail->next;
                tail->next = shared.heads[cls];
                shared.heads[cls] = head;
            }
        }
        if (pool.bump_end - pool.bump >= static_cast<std::ptrdiff_t>(max_pooled_size)) {
            try {
                shared.regions.emplace_back(pool.bump, pool.bump_end);
            } catch (...) {
                // No room to keep the slab's end: it stays unused.
            }
        }
        shared.stocked.store(true, std::memory_order_relaxed);
        pool.bump = pool.bump_end = nullptr;
        shared.retired_live += pool.live.load(std::memory_order_relaxed);
        pool.live.store(0, std::memory_order_relaxed);
        shared.pools.erase(std::find(shared.pools.begin(), shared.pools.end(), &pool));
        pool.exited = true;
    }
};

[[gnu::noinline]] void register_pool() {
    thread_local PoolExit exit_hook;  // constructed once: its destructor runs at thread exit
    (void)exit_hook;
    Depot& shared = depot();
    std::lock_guard lock(shared.mutex);
    shared.pools.push_back(&pool);
    pool.registered = true;
}

// The class list is empty: take the depot's list for it, else cut a frame from the slab.
[[gnu::noinline]] void* refill(std::size_t cls) {
    if (!pool.registered) register_pool();
    const std::size_t bytes = class_bytes(cls);
    Depot& shared = depot();
    if (shared.stocked.load(std::memory_order_relaxed)) {
        std::lock_guard lock(shared.mutex);
        void* taken = nullptr;
        FreeFrame* head = shared.heads[cls];
        if (head != nullptr) {
            shared.heads[cls] = nullptr;
        } else if (!shared.lists[cls].empty()) {
            head = shared.lists[cls].back();
            shared.lists[cls].pop_back();
        }
        if (head != nullptr) {
            pool.heads[cls] = head->next;
            taken = head;
        } else if (pool.bump_end - pool.bump < static_cast<std::ptrdiff_t>(bytes) &&
                   !shared.regions.empty()) {
            std::tie(pool.bump, pool.bump_end) = shared.regions.back();
            shared.regions.pop_back();
        }
        const bool empty =
            shared.regions.empty() &&
            std::all_of(std::begin(shared.heads), std::end(shared.heads),
                        [](const FreeFrame* head) { return head == nullptr; }) &&
            std::all_of(std::begin(shared.lists), std::end(shared.lists),
                        [](const std::vector<FreeFrame*>& lists) { return lists.empty(); });
        if (empty) shared.stocked.store(false, std::memory_order_relaxed);
        if (taken != nullptr) return taken;
    }
    if (pool.bump_end - pool.bump < static_cast<std::ptrdiff_t>(bytes)) {
        const std::size_t size = pool.next_slab_size != 0 ? pool.next_slab_size : first_slab_size;
        pool.bump = static_cast<char*>(map_slab(size));
        pool.bump_end = pool.bump + size;
        pool.next_slab_size = std::min(2 * size, max_slab_size);
    }
    void* frame = pool.bump;
    pool.bump += bytes;
    return frame;
}

// After the thread's exit hook ran (other thread_local destructors may still free or even
// make frames): the depot serves, under its lock.
[[gnu::noinline]] void* allocate_after_exit(std::size_t cls) {
    Depot& shared = depot();
    std::lock_guard lock(shared.mutex);
    ++shared.retired_live;
    if (shared.heads[cls] == nullptr && !shared.lists[cls].empty()) {
        shared.heads[cls] = shared.lists[cls].back();
        shared.lists[cls].pop_back();
    }
    if (FreeFrame* head = shared.heads[cls]) {
        shared.heads[cls] = head->next;
        return head;
    }
    return ::operator new(max_pooled_size);  // big enough for any class; joins the depot when freed
}

[[gnu::noinline]] void deallocate_after_exit(void* frame, std::size_t cls) noexcept {
    Depot& shared = depot();
    std::lock_guard lock(shared.mutex);
    --shared.retired_live;
    auto* free_frame = static_cast<FreeFrame*>(frame);
    free_frame->next = shared.heads[cls];
    shared.heads[cls] = free_frame;
    shared.stocked.store(true, std::memory_order_relaxed);
}
// Frames over 1 KiB come from the global allocator; only the count is kept.
[[gnu::noinline]] void count_large(std::int64_t delta) noexcept {
    if (pool.registered && !pool.exited) {
        count(delta);
        return;
    }
    Depot& shared = depot();
    std::lock_guard lock(shared.mutex);
    shared.retired_live += delta;
}

[[gnu::noinline]] void* allocate_large(std::size_t size) {
    void* frame = ::operator new(size);
    count_large(1);
    return frame;
}
#else
std::atomic<std::int64_t> frames_alive{0};
#endif

}  // namespace

void* allocate_frame(std::size_t size) {
#if !defined(ASYNCIO_SANITIZED)
    if (size > max_pooled_size) [[unlikely]]
        return allocate_large(size);
    const std::size_t cls = size_class(size);
    if (pool.exited) [[unlikely]]
        return allocate_after_exit(cls);
    void* frame;
    if (FreeFrame* head = pool.heads[cls]) [[likely]] {
        pool.heads[cls] = head->next;
        frame = head;
    } else {
        frame = refill(cls);
    }
    count(1);
    return frame;
#else
    frames_alive.fetch_add(1, std::memory_order_relaxed);
    return ::operator new(size);
#endif
}

void deallocate_frame(void* frame, std::size_t size) noexcept {
#if !defined(ASYNCIO_SANITIZED)
    if (size > max_pooled_size) [[unlikely]] {
        ::operator delete(frame);
        count_large(-1);
        return;
    }
    const std::size_t cls = size_class(size);
    if (!pool.registered) [[unlikely]] {
        if (pool.exited) {
            deallocate_after_exit(frame, cls);
            return;
        }
        try {
            register_pool();
        } catch (...) {
            // No room to register: the frame is still reused; only live_frames() is off.
        }
    }
    auto* free_frame = static_cast<FreeFrame*>(frame);
    free_frame->next = pool.heads[cls];
    pool.heads[cls] = free_frame;
    count(-1);
#else
    (void)size;
    frames_alive.fetch_sub(1, std::memory_order_relaxed);
    ::operator delete(frame);
#endif
}

std::size_t live_frames() noexcept {
#if !defined(ASYNCIO_SANITIZED)
    Depot& shared = depot();
    std::lock_guard lock(shared.mutex);
    std::int64_t total = shared.retired_live;
    for (const FramePool* each : shared.pools) total += each->live.load(std::memory_order_relaxed);
    return static_cast<std::size_t>(total);
#else
    return static_cast<std::size_t>(frames_alive.load(std::memory_order_relaxed));
#endif
}

}  // namespace asyncio::detail
