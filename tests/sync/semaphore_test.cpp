#include <algorithm>
#include <cstdint>
#include <deque>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "support/asyncio_test.hpp"
#include "support/chaos.hpp"
#include "support/co_assert.hpp"
#include <asyncio/sync/semaphore.hpp>

using namespace std::chrono_literals;

namespace {

using asyncio::testing::finishes;

// Waits `delay`, takes a permit, records `id`, holds the permit for `hold`.
asyncio::Task<> acquire_and_record(asyncio::Semaphore& semaphore, int id, std::vector<int>& order,
                                   asyncio::Duration delay = 0s, asyncio::Duration hold = 0s) {
    if (delay > 0s) co_await asyncio::sleep(delay);
    auto permit = co_await semaphore.acquire();
    order.push_back(id);
    if (hold > 0s) co_await asyncio::sleep(hold);
}

struct Concurrency {
    int now = 0;
    int max = 0;
};

asyncio::Task<> limited_job(asyncio::Semaphore& semaphore, Concurrency& seen,
                            asyncio::Duration hold) {
    auto permit = co_await semaphore.acquire();
    ++seen.now;
    seen.max = std::max(seen.max, seen.now);
    co_await asyncio::sleep(hold);
    --seen.now;
}

using asyncio::testing::Chaos;

}  // namespace

ASYNCIO_TEST(Semaphore, StartsWithItsValue) {
    asyncio::Semaphore one;
    EXPECT_EQ(one.value(), 1);
    EXPECT_FALSE(one.locked());
    asyncio::Semaphore three(3);
    EXPECT_EQ(three.value(), 3);
    asyncio::Semaphore none(0);
    EXPECT_EQ(none.value(), 0);
    EXPECT_TRUE(none.locked());
    co_return;
}

TEST(Semaphore, NegativeValueThrowsInvalidArgument) {
    EXPECT_THROW(asyncio::Semaphore(-1), std::invalid_argument);
    EXPECT_THROW(asyncio::BoundedSemaphore(-5), std::invalid_argument);
}

ASYNCIO_TEST(Semaphore, AcquireTakesAPermitAndTheGuardGivesItBack) {
    asyncio::Semaphore semaphore(2);
    auto other_ran = std::make_shared<bool>(false);
    asyncio::get_running_loop().call_soon([other_ran] { *other_ran = true; });
    {
        auto a = co_await semaphore.acquire();
        EXPECT_EQ(semaphore.value(), 1);
        EXPECT_FALSE(semaphore.locked());
        auto b = co_await semaphore.acquire();
        EXPECT_EQ(semaphore.value(), 0);
        EXPECT_TRUE(semaphore.locked());
        EXPECT_TRUE(a.owns_permit());
        EXPECT_FALSE(*other_ran) << "acquiring a free permit yielded to the loop";
    }
    EXPECT_EQ(semaphore.value(), 2);
}

ASYNCIO_TEST(Semaphore, GuardReleaseAndMoveGiveThePermitBackOnce) {
    asyncio::Semaphore semaphore(1);
    auto permit = co_await semaphore.acquire();
    asyncio::SemaphoreGuard moved(std::move(permit));
    EXPECT_FALSE(permit.owns_permit());  // NOLINT(bugprone-use-after-move): checked on purpose
    EXPECT_TRUE(moved.owns_permit());
    moved.release();
    EXPECT_EQ(semaphore.value(), 1);
    EXPECT_FALSE(moved.owns_permit());
    EXPECT_THROW(moved.release(), asyncio::RuntimeError);
    {
        asyncio::SemaphoreGuard assigned;
        assigned = co_await semaphore.acquire();
        EXPECT_EQ(semaphore.value(), 0);
        assigned = asyncio::SemaphoreGuard();  // releases
        EXPECT_EQ(semaphore.value(), 1);
    }
    EXPECT_EQ(semaphore.value(), 1);
}

ASYNCIO_TEST(Semaphore, ManualReleaseAddsAPermit) {
    asyncio::Semaphore semaphore(0);
    semaphore.release();
    semaphore.release();
    EXPECT_EQ(semaphore.value(), 2);  // an unbounded semaphore can grow, as in Python
    co_return;
}

ASYNCIO_TEST(Semaphore, WaitersGetPermitsInArrivalOrder) {
    asyncio::Semaphore semaphore(0);
    std::vector<int> order;
    std::vector<asyncio::TaskHandle<>> tasks;
    // Created 0..7, arriving 7..0.
    for (int i = 0; i < 8; ++i) {
        tasks.push_back(asyncio::create_task(
            acquire_and_record(semaphore, i, order, std::chrono::milliseconds(20 - 2 * i), 1ms)));
    }
    co_await asyncio::sleep(1s);
    EXPECT_TRUE(order.empty());
    semaphore.release();  // one permit, passed from task to task
    for (auto& task : tasks) co_await task;
    EXPECT_EQ(order, (std::vector<int>{7, 6, 5, 4, 3, 2, 1, 0}));
    EXPECT_EQ(semaphore.value(), 1);
}

ASYNCIO_TEST(Semaphore, ReleaseHandsThePermitToTheFirstWaiter) {
    asyncio::Semaphore semaphore(1);
    std::vector<int> order;
    auto permit = co_await semaphore.acquire();
    auto waiter = asyncio::create_task(acquire_and_record(semaphore, 1, order));
    co_await asyncio::sleep(0s);
    permit.release();
    EXPECT_EQ(semaphore.value(), 0);  // the permit went to the waiter, not to the count
    EXPECT_TRUE(semaphore.locked());
    co_await waiter;
    EXPECT_EQ(semaphore.value(), 1);
}

ASYNCIO_TEST(Semaphore, AcquireDoesNotJumpAheadOfAWokenWaiter_bpo45997) {
    asyncio::Semaphore semaphore(1);
    std::vector<int> order;
    auto permit = co_await semaphore.acquire();
    auto waiter = asyncio::create_task(acquire_and_record(semaphore, 1, order));
    co_await asyncio::sleep(0s);
    // Runs before the woken waiter in the next iteration.
    auto newcomer = asyncio::create_task(acquire_and_record(semaphore, 2, order));
    permit.release();
    {
        auto again = co_await semaphore.acquire();  // the releasing task asks again at once
        order.push_back(0);
    }
    co_await waiter;
    co_await newcomer;
    // Arrival order: the woken waiter, then this task, then the newcomer.
    EXPECT_EQ(order, (std::vector<int>{1, 0, 2}));
    EXPECT_EQ(semaphore.value(), 1);
}

ASYNCIO_TEST(Semaphore, PermitsReleasedToWokenWaitersAreNotFreeForNewcomers) {
    asyncio::Semaphore semaphore(2);
    std::vector<int> order;
    auto a = co_await semaphore.acquire();
    auto b = co_await semaphore.acquire();
    auto first = asyncio::create_task(acquire_and_record(semaphore, 1, order, 0s, 1s));
    auto second = asyncio::create_task(acquire_and_record(semaphore, 2, order, 0s, 1s));
    co_await asyncio::sleep(0s);
    a.release();  // to `first`
    b.release();  // to `second`
    EXPECT_EQ(semaphore.value(), 0);
    auto third = asyncio::create_task(acquire_and_record(semaphore, 3, order));
    co_await first;
    co_await second;
    co_await third;
    EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
}

ASYNCIO_TEST(Semaphore, ConcurrencyNeverExceedsTheValue) {
    asyncio::Semaphore semaphore(3);
    Concurrency seen;
    std::vector<asyncio::TaskHandle<>> tasks;
    for (int i = 0; i < 20; ++i) {
        tasks.push_back(asyncio::create_task(
            limited_job(semaphore, seen, std::chrono::milliseconds(1 + i % 4))));
    }
    for (auto& task : tasks) co_await task;
    EXPECT_EQ(seen.max, 3);
    EXPECT_EQ(seen.now, 0);
    EXPECT_EQ(semaphore.value(), 3);
}

ASYNCIO_TEST(Semaphore, CancelledWaiterLeavesTheQueueWithoutTakingAPermit) {
    asyncio::Semaphore semaphore(0);
    std::vector<int> order;
    auto a = asyncio::create_task(acquire_and_record(semaphore, 1, order));
    auto b = asyncio::create_task(acquire_and_record(semaphore, 2, order));
    auto c = asyncio::create_task(acquire_and_record(semaphore, 3, order));
    co_await asyncio::sleep(0s);
    b.cancel();
    EXPECT_THROW(co_await b, asyncio::CancelledError);
    EXPECT_EQ(semaphore.value(), 0);
    semaphore.release();
    semaphore.release();
    co_await a;
    co_await c;
    EXPECT_EQ(order, (std::vector<int>{1, 3}));
    EXPECT_EQ(semaphore.value(), 2);
}

ASYNCIO_TEST(Semaphore, WokenWaiterCancelledBeforeResumingPassesThePermitOn_gh90155) {
    auto& loop = asyncio::get_running_loop();
    asyncio::Semaphore semaphore(0);
    std::vector<int> order;
    auto a = asyncio::create_task(acquire_and_record(semaphore, 1, order));
    auto b = asyncio::create_task(acquire_and_record(semaphore, 2, order));
    auto c = asyncio::create_task(acquire_and_record(semaphore, 3, order));
    co_await asyncio::sleep(0s);
    semaphore.release();                  // permit to `a`
    a.cancel();                           // before `a` resumes: the permit goes to `b`
    loop.call_soon([b] { b.cancel(); });  // cancels `b` right before it resumes
    EXPECT_THROW(co_await a, asyncio::CancelledError);
    EXPECT_THROW(co_await b, asyncio::CancelledError);
    co_await finishes(c);  // got the one permit in the end
    EXPECT_EQ(order, std::vector<int>{3});
    EXPECT_EQ(semaphore.value(), 1);
}

ASYNCIO_TEST(Semaphore, WokenLastWaiterCancelledBeforeResumingReturnsThePermit_gh90155) {
    asyncio::Semaphore semaphore(1);
    std::vector<int> order;
    auto permit = co_await semaphore.acquire();
    auto only = asyncio::create_task(acquire_and_record(semaphore, 1, order));
    co_await asyncio::sleep(0s);
    permit.release();
    only.cancel();
    EXPECT_THROW(co_await only, asyncio::CancelledError);
    EXPECT_TRUE(order.empty());
    EXPECT_EQ(semaphore.value(), 1);
    EXPECT_FALSE(semaphore.locked());
}

ASYNCIO_TEST(Semaphore, NoPermitIsLostOrMadeUnderRandomCancellation_gh90155) {
    asyncio::Semaphore semaphore(3);
    Chaos chaos;
    chaos.seed = 99;
    constexpr int count = 200;
    for (int i = 0; i < count; ++i) {
        chaos.tasks.push_back(
            asyncio::create_task(asyncio::testing::chaotic_holder(semaphore, chaos, i, 3)));
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
            ADD_FAILURE() << "a task never got a permit: one was lost";
        }
    }
    EXPECT_EQ(chaos.finished + cancelled, count);
    EXPECT_GT(chaos.woken_then_cancelled, 10);
    EXPECT_EQ(chaos.max_inside, 3);
    EXPECT_EQ(chaos.inside, 0);
    EXPECT_EQ(semaphore.value(), 3);
}

ASYNCIO_TEST(Semaphore, AWaitingTaskShowsTheSemaphoreItWaitsFor) {
    asyncio::Semaphore semaphore(0);
    std::vector<int> order;
    auto task = asyncio::create_task(acquire_and_record(semaphore, 1, order));
    co_await asyncio::sleep(0s);
    const auto& target = task.promise()->awaiting();
    EXPECT_EQ(target.kind, asyncio::detail::AwaitKind::semaphore);
    EXPECT_EQ(target.object, static_cast<const void*>(&semaphore));
    semaphore.release();
    co_await task;
}

ASYNCIO_TEST_WITH(Semaphore, UsedFromAnotherThreadThrowsInDebugMode,
                  (asyncio::testing::TestOptions{.debug = true})) {
    asyncio::Semaphore semaphore(2);
    auto permit = co_await semaphore.acquire();
    int errors = 0;
    std::thread other([&semaphore, &errors] {
        try {
            semaphore.release();
        } catch (const asyncio::RuntimeError&) {
            ++errors;
        }
        try {
            (void)semaphore.value();
        } catch (const asyncio::RuntimeError&) {
            ++errors;
        }
    });
    other.join();
    EXPECT_EQ(errors, 2);
    EXPECT_EQ(semaphore.value(), 1);
}

// ---- BoundedSemaphore ----

ASYNCIO_TEST(BoundedSemaphore, ReleaseBeyondTheInitialValueThrowsInvalidStateError) {
    asyncio::BoundedSemaphore semaphore(2);
    try {
        semaphore.release();
        ADD_FAILURE() << "over-release did not throw";
    } catch (const asyncio::InvalidStateError& e) {
        EXPECT_STREQ(e.what(), "BoundedSemaphore released too many times");
    }
    EXPECT_EQ(semaphore.value(), 2);
    {
        auto permit = co_await semaphore.acquire();
        EXPECT_EQ(semaphore.value(), 1);
    }
    EXPECT_EQ(semaphore.value(), 2);
    EXPECT_THROW(semaphore.release(), asyncio::InvalidStateError);
    // Through a Semaphore reference too: the bound is not a virtual function away.
    asyncio::Semaphore& base = semaphore;
    EXPECT_THROW(base.release(), asyncio::InvalidStateError);
}

ASYNCIO_TEST(BoundedSemaphore, AGuardWhosePermitWasReleasedByHandDoesNotOverRelease) {
    asyncio::BoundedSemaphore semaphore(1);
    {
        auto permit = co_await semaphore.acquire();
        semaphore.release();  // by hand
        EXPECT_EQ(semaphore.value(), 1);
    }  // the guard's release would go over the bound: skipped, no throw from a destructor
    EXPECT_EQ(semaphore.value(), 1);
}

ASYNCIO_TEST(BoundedSemaphore, WokenWaiterCancelledBeforeResumingPassesThePermitOn_gh90155) {
    asyncio::BoundedSemaphore semaphore(1);
    std::vector<int> order;
    auto permit = co_await semaphore.acquire();
    auto a = asyncio::create_task(acquire_and_record(semaphore, 1, order));
    auto b = asyncio::create_task(acquire_and_record(semaphore, 2, order));
    co_await asyncio::sleep(0s);
    permit.release();
    a.cancel();
    EXPECT_THROW(co_await a, asyncio::CancelledError);
    co_await finishes(b);
    EXPECT_EQ(order, std::vector<int>{2});
    // Exactly the initial permit is back: one more release is one too many.
    EXPECT_EQ(semaphore.value(), 1);
    EXPECT_THROW(semaphore.release(), asyncio::InvalidStateError);
}

ASYNCIO_TEST(BoundedSemaphore, WaitersGetPermitsInArrivalOrder) {
    asyncio::BoundedSemaphore semaphore(2);
    std::vector<int> order;
    auto a = co_await semaphore.acquire();
    auto b = co_await semaphore.acquire();
    std::vector<asyncio::TaskHandle<>> tasks;
    for (int i = 0; i < 4; ++i) {
        tasks.push_back(asyncio::create_task(
            acquire_and_record(semaphore, i, order, std::chrono::milliseconds(10 - 2 * i), 1ms)));
    }
    co_await asyncio::sleep(1s);
    a.release();
    b.release();
    for (auto& task : tasks) co_await task;
    EXPECT_EQ(order, (std::vector<int>{3, 2, 1, 0}));
    EXPECT_EQ(semaphore.value(), 2);
}
