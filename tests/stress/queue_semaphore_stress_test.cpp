// 10,000 tasks hammer one bounded Queue<int> and one Semaphore while a chaos task cancels
// them at random (seeded, so every run is the same). Each task waits for a permit, holds
// it for a while, then puts one item or gets one. Checks: every item put is delivered
// exactly once, no permit is lost, the semaphore never admits too many tasks, and no task
// is left waiting for something that is available (the lost wake-up of RELIABILITY-NOTES
// §2 row 6, which the chaos task provokes by cancelling tasks in the iteration where they
// were woken).

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "support/asyncio_test.hpp"
#include "support/co_assert.hpp"
#include <asyncio/queue.hpp>
#include <asyncio/sleep.hpp>
#include <asyncio/sync/semaphore.hpp>
#include <asyncio/timeout.hpp>

using namespace std::chrono_literals;

namespace {

constexpr int task_count = 10'000;
constexpr int permits = 8;
constexpr int queue_size = 4;
constexpr int arrivals_per_ms = 5;  // about what 8 permits held 0-3 ms can serve: contention

enum class Phase : std::uint8_t {
    starting,
    waiting_permit,
    holding,
    waiting_put,
    waiting_get,
    done
};
constexpr std::size_t phase_count = 6;

// A fixed LCG: the same schedule on every run and every platform.
class Rng {
public:
    explicit Rng(std::uint32_t seed) noexcept : state_(seed) {}
    std::uint32_t operator()() noexcept {
        state_ = state_ * 1664525u + 1013904223u;
        return state_ >> 8;
    }

private:
    std::uint32_t state_;
};

struct Shared {
    asyncio::Queue<int> queue{queue_size};
    asyncio::Semaphore semaphore{permits};
    std::vector<asyncio::TaskHandle<>> tasks;
    std::vector<Phase> phase = std::vector<Phase>(task_count, Phase::starting);
    std::vector<std::uint8_t> put_ok = std::vector<std::uint8_t>(task_count, 0);
    std::vector<int> received = std::vector<int>(task_count, 0);
    std::array<int, phase_count> cancelled_in{};  // cancel() calls that hit a task per phase
    int holders = 0;
    int max_holders = 0;
    // Tasks inside acquire(), put() and get() right now.
    int waiting_permit = 0;
    int waiting_put = 0;
    int waiting_get = 0;
    // What the monitor saw between loop iterations.
    int checks = 0;
    int checks_with_waiters = 0;
    int stranded_permit = 0;
    int stranded_put = 0;
    int stranded_get = 0;
};

// Counts a task as waiting for as long as it is inside one await, however it leaves it.
class Waiting {
public:
    explicit Waiting(int& count) : count_(count) { ++count_; }
    ~Waiting() { --count_; }
    Waiting(const Waiting&) = delete;
    Waiting& operator=(const Waiting&) = delete;

private:
    int& count_;
};

class Holding {
public:
    explicit Holding(Shared& shared) : shared_(shared) {
        shared_.max_holders = std::max(shared_.max_holders, ++shared_.holders);
    }
    ~Holding() { --shared_.holders; }
    Holding(const Holding&) = delete;
    Holding& operator=(const Holding&) = delete;

private:
    Shared& shared_;
};

asyncio::Task<> worker(Shared& shared, int id, int start_ms, int hold_ms) {
    co_await asyncio::sleep(std::chrono::milliseconds(start_ms));
    {
        shared.phase[id] = Phase::waiting_permit;
        std::optional<asyncio::SemaphoreGuard> permit;
        {
            Waiting waiting(shared.waiting_permit);
            permit.emplace(co_await shared.semaphore.acquire());
        }
        Holding holding(shared);
        shared.phase[id] = Phase::holding;
        co_await asyncio::sleep(std::chrono::milliseconds(hold_ms));
    }
    if (id % 2 == 0) {
        shared.phase[id] = Phase::waiting_put;
        {
            Waiting waiting(shared.waiting_put);
            co_await shared.queue.put(id);
        }
        shared.put_ok[id] = 1;  // no suspension between put() returning and this line
    } else {
        shared.phase[id] = Phase::waiting_get;
        int item = -1;
        {
            Waiting waiting(shared.waiting_get);
            item = co_await shared.queue.get();
        }
        ++shared.received[item];
        shared.queue.task_done();
    }
    shared.phase[id] = Phase::done;
}

// Every millisecond, cancels a few tasks among those that arrived recently (most of them
// wait for a permit or at the queue). It runs after the tasks whose sleeps ended at the
// same time, so it often cancels a task that one of them has just woken.
asyncio::Task<> chaos(Shared& shared, std::uint32_t seed, int ticks) {
    Rng rng(seed);
    for (int tick = 1; tick <= ticks; ++tick) {
        co_await asyncio::sleep(1ms);
        const int newest = std::min(task_count - 1, tick * arrivals_per_ms);
        // Two tries at any recent task, four more at recent tasks waiting at the queue
        // (fewer tasks wait there than for a permit).
        for (int k = 0; k < 6; ++k) {
            const int victim = std::max(0, newest - static_cast<int>(rng() % (k < 2 ? 25 : 60)));
            auto& task = shared.tasks[static_cast<std::size_t>(victim)];
            const Phase phase = shared.phase[victim];
            if (task.done()) continue;
            if (k >= 2 && phase != Phase::waiting_put && phase != Phase::waiting_get) continue;
            task.cancel();
            ++shared.cancelled_in[static_cast<std::size_t>(phase)];
        }
    }
}

// Checks half-way between the milliseconds at which everything else happens, when every
// task woken at the last millisecond has run: nobody may still wait for a permit while one
// is free, for a slot while the queue has room, or for an item while the queue has one.
// A lost wake-up shows up here even when later traffic would heal it.
asyncio::Task<> monitor(Shared& shared, int ticks) {
    co_await asyncio::sleep(500us);
    for (int tick = 0; tick < ticks; ++tick) {
        ++shared.checks;
        if (shared.waiting_permit + shared.waiting_put + shared.waiting_get > 0) {
            ++shared.checks_with_waiters;
        }
        if (shared.waiting_permit > 0 && shared.semaphore.value() > 0) ++shared.stranded_permit;
        if (shared.waiting_put > 0 && !shared.queue.full()) ++shared.stranded_put;
        if (shared.waiting_get > 0 && !shared.queue.empty()) ++shared.stranded_get;
        co_await asyncio::sleep(1ms);
    }
}

// One run: 10,000 tasks and a chaos task, both schedules drawn from `seed`.
asyncio::Task<> hammer(std::uint32_t seed) {
    Shared shared;
    Rng rng(seed);
    shared.tasks.reserve(task_count);
    for (int id = 0; id < task_count; ++id) {
        const int start_ms = id / arrivals_per_ms + static_cast<int>(rng() % 3);
        const int hold_ms = static_cast<int>(rng() % 4);
        shared.tasks.push_back(asyncio::create_task(worker(shared, id, start_ms, hold_ms)));
    }
    const int ticks = task_count / arrivals_per_ms + 500;
    auto chaos_task = asyncio::create_task(chaos(shared, seed * 7919u + 1u, ticks));
    auto monitor_task = asyncio::create_task(monitor(shared, ticks));
    co_await chaos_task;
    co_await monitor_task;
    EXPECT_EQ(shared.stranded_permit, 0) << "a task waited for a permit while one was free";
    EXPECT_EQ(shared.stranded_put, 0) << "a putter waited while the queue had room";
    EXPECT_EQ(shared.stranded_get, 0) << "a getter waited while the queue had an item";
    EXPECT_GT(shared.checks_with_waiters, shared.checks / 3);  // there was contention

    // Long after the last permit could have been released: every task is done or waits at
    // the queue.
    co_await asyncio::sleep(1h);
    int cancelled = 0, unfinished = 0;
    for (const auto& task : shared.tasks) {
        if (!task.done()) {
            ++unfinished;
        } else if (task.cancelled()) {
            ++cancelled;
        }
    }
    EXPECT_EQ(shared.waiting_permit, 0) << "tasks stranded waiting for a permit";
    EXPECT_EQ(shared.holders, 0);
    EXPECT_EQ(unfinished, shared.waiting_put + shared.waiting_get);
    EXPECT_EQ(shared.max_holders, permits);  // never more, and there was contention
    EXPECT_EQ(shared.semaphore.value(), permits) << "a permit was lost";
    EXPECT_FALSE(shared.semaphore.locked());
    // A getter may wait only on an empty queue, a putter only on a full one.
    EXPECT_TRUE(shared.waiting_get == 0 || shared.queue.empty()) << "getters stranded";
    EXPECT_TRUE(shared.waiting_put == 0 || shared.queue.full()) << "putters stranded";

    // The chaos reached tasks in every phase, and cancelled a good share of them.
    EXPECT_GT(cancelled, task_count / 10);
    for (auto phase :
         {Phase::waiting_permit, Phase::holding, Phase::waiting_put, Phase::waiting_get}) {
        EXPECT_GT(shared.cancelled_in[static_cast<std::size_t>(phase)], 10)
            << "no cancellation in phase " << static_cast<int>(phase);
    }

    // Release the tasks still waiting at the queue, then take what is left in it.
    shared.queue.shutdown();
    for (auto& task : shared.tasks) {
        try {
            co_await task;
        } catch (const asyncio::CancelledError&) {
        } catch (const asyncio::QueueShutDown&) {
        }
    }
    while (!shared.queue.empty()) {
        ++shared.received[shared.queue.get_nowait()];
        shared.queue.task_done();
    }

    int delivered = 0, put = 0;
    for (int id = 0; id < task_count; ++id) {
        const int expected = shared.put_ok[static_cast<std::size_t>(id)];
        const int got = shared.received[static_cast<std::size_t>(id)];
        if (got != expected) ADD_FAILURE() << "item " << id << " delivered " << got << " times";
        delivered += got;
        put += expected;
    }
    EXPECT_EQ(delivered, put);
    EXPECT_GT(put, task_count / 4);
    // Every item put was marked done: join() returns at once.
    bool joined = false;
    try {
        co_await asyncio::wait_for(shared.queue.join(), 1s);
        joined = true;
    } catch (const asyncio::TimeoutError&) {
    }
    EXPECT_TRUE(joined) << "task_done() bookkeeping is off";
    EXPECT_EQ(shared.semaphore.value(), permits);
}

}  // namespace

ASYNCIO_TEST(QueueSemaphoreStress, TenThousandTasksWithRandomCancellationsLoseNoItemAndNoPermit) {
    for (std::uint32_t seed : {20261125u, 1u, 2u, 3u}) {
        SCOPED_TRACE(::testing::Message() << "seed " << seed);
        co_await hammer(seed);
    }
}
