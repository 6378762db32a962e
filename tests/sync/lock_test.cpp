#include <algorithm>
#include <cstdint>
#include <deque>
#include <memory>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

#include "support/asyncio_test.hpp"
#include "support/chaos.hpp"
#include "support/co_assert.hpp"
#include <asyncio/sync/lock.hpp>

using namespace std::chrono_literals;

namespace {

using asyncio::testing::finishes;

// Waits `delay`, takes the lock, records `id`, holds the lock for `hold`.
asyncio::Task<> acquire_and_record(asyncio::Lock& lock, int id, std::vector<int>& order,
                                   asyncio::Duration delay = 0s, asyncio::Duration hold = 0s) {
    if (delay > 0s) co_await asyncio::sleep(delay);
    auto guard = co_await lock.acquire();
    order.push_back(id);
    if (hold > 0s) co_await asyncio::sleep(hold);
}

using asyncio::testing::Chaos;

asyncio::Task<> take_lock_once(asyncio::Lock& lock) {
    auto guard = co_await lock.acquire();
    co_await asyncio::sleep(1ms);
}

}  // namespace

ASYNCIO_TEST(Lock, StartsUnlocked) {
    asyncio::Lock lock;
    EXPECT_FALSE(lock.locked());
    co_return;
}

ASYNCIO_TEST(Lock, AcquireOfAFreeLockReturnsAtOnceWithoutYielding) {
    asyncio::Lock lock;
    auto other_ran = std::make_shared<bool>(false);
    asyncio::get_running_loop().call_soon([other_ran] { *other_ran = true; });
    auto guard = co_await lock.acquire();
    EXPECT_FALSE(*other_ran);
    EXPECT_TRUE(lock.locked());
    EXPECT_TRUE(guard.owns_lock());
    co_await asyncio::sleep(0s);
    EXPECT_TRUE(*other_ran);
}

ASYNCIO_TEST(Lock, GuardReleasesTheLockWhenDestroyed) {
    asyncio::Lock lock;
    {
        auto guard = co_await lock.acquire();
        EXPECT_TRUE(lock.locked());
    }
    EXPECT_FALSE(lock.locked());
}

ASYNCIO_TEST(Lock, GuardReleaseUnlocksOnceAndASecondReleaseThrows) {
    asyncio::Lock lock;
    auto guard = co_await lock.acquire();
    guard.release();
    EXPECT_FALSE(lock.locked());
    EXPECT_FALSE(guard.owns_lock());
    EXPECT_FALSE(static_cast<bool>(guard));
    EXPECT_THROW(guard.release(), asyncio::RuntimeError);
}

ASYNCIO_TEST(Lock, MovedGuardReleasesExactlyOnce) {
    asyncio::Lock lock;
    asyncio::LockGuard outer;
    EXPECT_FALSE(outer.owns_lock());
    {
        auto guard = co_await lock.acquire();
        outer = std::move(guard);
        EXPECT_FALSE(guard.owns_lock());  // NOLINT(bugprone-use-after-move): checked on purpose
        EXPECT_TRUE(outer.owns_lock());
    }
    EXPECT_TRUE(lock.locked());
    asyncio::LockGuard moved(std::move(outer));
    EXPECT_TRUE(moved.owns_lock());
    moved = asyncio::LockGuard();  // move-assigning releases what it owned
    EXPECT_FALSE(lock.locked());
}

ASYNCIO_TEST(Lock, ManualReleaseLeavesTheGuardOwningNothing) {
    asyncio::Lock lock;
    std::vector<int> order;
    {
        auto guard = co_await lock.acquire();
        lock.release();  // Python style, without the guard
        EXPECT_FALSE(guard.owns_lock());
        EXPECT_FALSE(lock.locked());
        // Someone else takes the lock: the stale guard must not release it.
        auto other = asyncio::create_task(acquire_and_record(lock, 1, order, 0s, 1s));
        co_await asyncio::sleep(0s);
        EXPECT_TRUE(lock.locked());
    }
    EXPECT_TRUE(lock.locked()) << "a stale guard released another task's acquisition";
    co_await asyncio::sleep(2s);
    EXPECT_FALSE(lock.locked());
    EXPECT_EQ(order, std::vector<int>{1});
}

ASYNCIO_TEST(Lock, ReleaseOfAnUnlockedLockThrowsRuntimeError) {
    asyncio::Lock lock;
    try {
        lock.release();
        ADD_FAILURE() << "release() of an unlocked Lock did not throw";
    } catch (const asyncio::RuntimeError& e) {
        EXPECT_NE(std::string(e.what()).find("not acquired"), std::string::npos) << e.what();
    }
    EXPECT_FALSE(lock.locked());
    co_return;
}

ASYNCIO_TEST(Lock, WaitersAcquireInArrivalOrder) {
    asyncio::Lock lock;
    constexpr int count = 20;
    // Arrival order differs from creation order: task i arrives after delays[i].
    std::vector<int> delays(count);
    std::iota(delays.begin(), delays.end(), 1);
    std::uint32_t seed = 2024;
    for (int i = count - 1; i > 0; --i) {
        seed = seed * 1664525u + 1013904223u;
        std::swap(delays[static_cast<std::size_t>(i)],
                  delays[(seed >> 8) % static_cast<std::uint32_t>(i + 1)]);
    }
    std::vector<int> order;
    auto guard = co_await lock.acquire();
    std::vector<asyncio::TaskHandle<>> tasks;
    for (int i = 0; i < count; ++i) {
        tasks.push_back(asyncio::create_task(acquire_and_record(
            lock, i, order, std::chrono::milliseconds(delays[static_cast<std::size_t>(i)]), 1ms)));
    }
    co_await asyncio::sleep(1s);  // everyone is queued
    EXPECT_TRUE(order.empty());
    guard.release();
    for (auto& task : tasks) co_await task;

    std::vector<int> expected(count);
    std::iota(expected.begin(), expected.end(), 0);
    std::sort(expected.begin(), expected.end(), [&](int a, int b) {
        return delays[static_cast<std::size_t>(a)] < delays[static_cast<std::size_t>(b)];
    });
    EXPECT_EQ(order, expected);
    EXPECT_FALSE(lock.locked());
}

ASYNCIO_TEST(Lock, ReleaseHandsTheLockToTheFirstWaiter) {
    asyncio::Lock lock;
    std::vector<int> order;
    auto guard = co_await lock.acquire();
    auto waiter = asyncio::create_task(acquire_and_record(lock, 1, order));
    co_await asyncio::sleep(0s);
    guard.release();
    // The woken waiter owns the lock before it even runs.
    EXPECT_TRUE(lock.locked());
    co_await waiter;
    EXPECT_EQ(order, std::vector<int>{1});
    EXPECT_FALSE(lock.locked());
}

ASYNCIO_TEST(Lock, TheReleasingTaskCannotTakeTheLockBackBeforeTheWaiter) {
    asyncio::Lock lock;
    std::vector<int> order;
    auto guard = co_await lock.acquire();
    auto waiter = asyncio::create_task(acquire_and_record(lock, 1, order));
    co_await asyncio::sleep(0s);
    guard.release();
    {
        auto again = co_await lock.acquire();  // queues behind the woken waiter
        order.push_back(0);
    }
    co_await waiter;
    EXPECT_EQ(order, (std::vector<int>{1, 0}));
}

ASYNCIO_TEST(Lock, ATaskThatRunsBeforeTheWokenWaiterDoesNotBarge) {
    asyncio::Lock lock;
    std::vector<int> order;
    auto guard = co_await lock.acquire();
    auto waiter = asyncio::create_task(acquire_and_record(lock, 1, order));
    co_await asyncio::sleep(0s);
    // Scheduled first, so it runs before the woken waiter in the next iteration; it still
    // finds the lock taken.
    auto newcomer = asyncio::create_task(acquire_and_record(lock, 2, order));
    guard.release();
    co_await waiter;
    co_await newcomer;
    EXPECT_EQ(order, (std::vector<int>{1, 2}));
}

ASYNCIO_TEST(Lock, CancelledWaiterLeavesTheQueueAndTheOthersStillAcquire) {
    asyncio::Lock lock;
    std::vector<int> order;
    auto guard = co_await lock.acquire();
    std::vector<asyncio::TaskHandle<>> tasks;
    for (int i = 0; i < 4; ++i) {
        tasks.push_back(asyncio::create_task(acquire_and_record(lock, i, order, 0s, 1ms)));
    }
    co_await asyncio::sleep(0s);
    tasks[1].cancel();
    tasks[3].cancel();
    co_await asyncio::sleep(0s);
    EXPECT_TRUE(tasks[1].cancelled());
    EXPECT_TRUE(tasks[3].cancelled());
    guard.release();
    co_await tasks[0];
    co_await tasks[2];
    EXPECT_EQ(order, (std::vector<int>{0, 2}));
    EXPECT_FALSE(lock.locked());
}

ASYNCIO_TEST(Lock, WokenWaiterCancelledBeforeResumingPassesTheLockOn_bpo27585) {
    asyncio::Lock lock;
    std::vector<int> order;
    auto guard = co_await lock.acquire();
    auto first = asyncio::create_task(acquire_and_record(lock, 1, order));
    auto second = asyncio::create_task(acquire_and_record(lock, 2, order));
    co_await asyncio::sleep(0s);
    guard.release();  // `first` now owns the lock but has not resumed
    first.cancel();   // same iteration: too late to withdraw, it must hand the lock on
    co_await finishes(second);
    EXPECT_THROW(co_await first, asyncio::CancelledError);
    EXPECT_EQ(order, std::vector<int>{2});
    EXPECT_FALSE(lock.locked());
}

ASYNCIO_TEST(Lock, WokenWaiterCancelledFromACallbackBeforeResumingPassesTheLockOn_bpo27585) {
    auto& loop = asyncio::get_running_loop();
    asyncio::Lock lock;
    std::vector<int> order;
    auto guard = co_await lock.acquire();
    auto first = asyncio::create_task(acquire_and_record(lock, 1, order));
    auto second = asyncio::create_task(acquire_and_record(lock, 2, order));
    co_await asyncio::sleep(0s);
    // The callback runs in the next iteration, right before `first` resumes.
    loop.call_soon([first] { first.cancel(); });
    guard.release();
    co_await finishes(second);
    EXPECT_THROW(co_await first, asyncio::CancelledError);
    EXPECT_EQ(order, std::vector<int>{2});
    EXPECT_FALSE(lock.locked());
}

ASYNCIO_TEST(Lock, WokenLastWaiterCancelledBeforeResumingUnlocks_bpo27585) {
    asyncio::Lock lock;
    std::vector<int> order;
    auto guard = co_await lock.acquire();
    auto only = asyncio::create_task(acquire_and_record(lock, 1, order));
    co_await asyncio::sleep(0s);
    guard.release();
    only.cancel();
    EXPECT_THROW(co_await only, asyncio::CancelledError);
    EXPECT_TRUE(order.empty());
    CO_ASSERT_TRUE(!lock.locked());
    auto again = co_await lock.acquire();  // free, so no wait
    EXPECT_TRUE(again.owns_lock());
}

ASYNCIO_TEST(Lock, ACancelledWaiterThatSwallowsTheCancelDoesNotHoldTheLock) {
    asyncio::Lock lock;
    auto guard = co_await lock.acquire();
    bool owned_after_cancel = true;
    auto swallow = [](asyncio::Lock& l, bool& owned) -> asyncio::Task<> {
        try {
            auto g = co_await l.acquire();
        } catch (const asyncio::CancelledError&) {
            owned = l.locked();  // it was handed the lock, and must have passed it on
        }
    };
    auto task = asyncio::create_task(swallow(lock, owned_after_cancel));
    co_await asyncio::sleep(0s);
    guard.release();
    task.cancel();
    co_await task;
    EXPECT_FALSE(owned_after_cancel);
    EXPECT_FALSE(lock.locked());
}

ASYNCIO_TEST(Lock, NoLockIsLostAndExclusionHoldsUnderRandomCancellation_bpo27585) {
    asyncio::Lock lock;
    Chaos chaos;
    chaos.seed = 7;
    constexpr int count = 200;
    for (int i = 0; i < count; ++i) {
        chaos.tasks.push_back(
            asyncio::create_task(asyncio::testing::chaotic_holder(lock, chaos, i, 2)));
    }
    for (int round = 0; round < 60; ++round) {  // and cancels at random times
        co_await asyncio::sleep(std::chrono::milliseconds(chaos.next() % 3));
        chaos.tasks[chaos.next() % count].cancel();
    }
    int cancelled = 0;
    for (auto& task : chaos.tasks) {
        try {
            co_await asyncio::wait_for(task, 1h);
        } catch (const asyncio::CancelledError&) {
            ++cancelled;
        } catch (const asyncio::TimeoutError&) {
            ADD_FAILURE() << "a task never got the lock: it was lost";
        }
    }
    EXPECT_EQ(chaos.finished + cancelled, count);
    EXPECT_GT(chaos.woken_then_cancelled, 10);
    EXPECT_EQ(chaos.max_inside, 1);
    EXPECT_EQ(chaos.inside, 0);
    EXPECT_FALSE(lock.locked());
}

ASYNCIO_TEST(Lock, AWaitingTaskShowsTheLockItWaitsFor) {
    asyncio::Lock lock;
    std::vector<int> order;
    auto guard = co_await lock.acquire();
    auto waiter = asyncio::create_task(acquire_and_record(lock, 1, order));
    co_await asyncio::sleep(0s);
    const auto& target = waiter.promise()->awaiting();
    EXPECT_EQ(target.kind, asyncio::detail::AwaitKind::lock);
    EXPECT_EQ(target.object, static_cast<const void*>(&lock));
    guard.release();
    co_await waiter;
}

ASYNCIO_TEST_WITH(Lock, UsedFromAnotherThreadThrowsInDebugMode,
                  (asyncio::testing::TestOptions{.debug = true})) {
    asyncio::Lock lock;
    auto guard = co_await lock.acquire();  // binds the lock to this loop
    int errors = 0;
    std::string message;
    std::thread other([&lock, &errors, &message] {
        try {
            (void)lock.locked();
        } catch (const asyncio::RuntimeError& e) {
            ++errors;
            message = e.what();
        }
        try {
            lock.release();
        } catch (const asyncio::RuntimeError&) {
            ++errors;
        }
        try {
            (void)lock.acquire();
        } catch (const asyncio::RuntimeError&) {
            ++errors;
        }
    });
    other.join();
    EXPECT_EQ(errors, 3);
    EXPECT_NE(message.find("Lock.locked()"), std::string::npos) << message;
    EXPECT_TRUE(guard.owns_lock());
}

TEST(Lock, CanStillBeUsedOnItsThreadAfterItsLoopIsGone) {
    asyncio::Lock lock;
    asyncio::run(take_lock_once(lock));
    // The loop is destroyed: the lock must not touch it (ASan checks).
    EXPECT_FALSE(lock.locked());
    EXPECT_THROW(lock.release(), asyncio::RuntimeError);
}

TEST(Lock, MovesToANewLoopOnceItsLoopIsGone) {
    asyncio::Lock lock;
    asyncio::run(take_lock_once(lock));
    asyncio::run(take_lock_once(lock));  // a global lock used by one run() after another
    EXPECT_FALSE(lock.locked());
}

TEST(Lock, RefusesASecondLoop) {
    asyncio::Lock lock;
    asyncio::Runner first;
    asyncio::Runner second;
    first.run(take_lock_once(lock));
    try {
        second.run(take_lock_once(lock));
        ADD_FAILURE() << "a Lock bound to one loop was used by another";
    } catch (const asyncio::RuntimeError& e) {
        EXPECT_NE(std::string(e.what()).find("different event loop"), std::string::npos)
            << e.what();
    }
}
