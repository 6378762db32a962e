#include <deque>
#include <string>
#include <thread>
#include <vector>

#include "support/asyncio_test.hpp"
#include "support/co_assert.hpp"
#include <asyncio/sync/condition.hpp>

using namespace std::chrono_literals;

namespace {

using asyncio::testing::finishes;

// Takes the lock, waits for one notification, records `id` with the lock held.
asyncio::Task<> wait_and_record(asyncio::Condition& cond, int id, std::vector<int>& woke,
                                asyncio::Duration delay = 0s) {
    if (delay > 0s) co_await asyncio::sleep(delay);
    auto guard = co_await cond.acquire();
    co_await cond.wait();
    EXPECT_TRUE(cond.locked());
    woke.push_back(id);
}

// Like wait_and_record, and reports whether the lock was held when CancelledError came.
asyncio::Task<> wait_expecting_cancel(asyncio::Condition& cond, bool& held_on_cancel) {
    auto guard = co_await cond.acquire();
    try {
        co_await cond.wait();
    } catch (const asyncio::CancelledError&) {
        held_on_cancel = cond.locked() && guard.owns_lock();
        throw;
    }
}

asyncio::Task<> consume(asyncio::Condition& cond, std::deque<int>& items, int count,
                        std::vector<int>& got) {
    for (int i = 0; i < count; ++i) {
        auto guard = co_await cond.acquire();
        const bool ready = co_await cond.wait_for([&items] { return !items.empty(); });
        EXPECT_TRUE(ready);
        got.push_back(items.front());
        items.pop_front();
    }
}

asyncio::Task<> notify_one_now(asyncio::Condition& cond) {
    auto guard = co_await cond.acquire();
    cond.notify();
}

}  // namespace

ASYNCIO_TEST(Condition, WaitWithoutTheLockThrowsRuntimeError) {
    asyncio::Condition cond;
    EXPECT_THROW(co_await cond.wait(), asyncio::RuntimeError);
    EXPECT_FALSE(cond.locked());
}

ASYNCIO_TEST(Condition, NotifyWithoutTheLockThrowsRuntimeError) {
    asyncio::Condition cond;
    EXPECT_THROW(cond.notify(), asyncio::RuntimeError);
    EXPECT_THROW(cond.notify(3), asyncio::RuntimeError);
    EXPECT_THROW(cond.notify_all(), asyncio::RuntimeError);
    co_return;
}

ASYNCIO_TEST(Condition, AcquireAndReleaseWorkTheUnderlyingLock) {
    asyncio::Condition cond;
    {
        auto guard = co_await cond.acquire();
        EXPECT_TRUE(cond.locked());
        cond.notify();  // no waiters: nothing happens
        cond.notify_all();
    }
    EXPECT_FALSE(cond.locked());
    auto guard = co_await cond.acquire();
    cond.release();
    EXPECT_FALSE(cond.locked());
    EXPECT_FALSE(guard.owns_lock());
    EXPECT_THROW(cond.release(), asyncio::RuntimeError);
}

ASYNCIO_TEST(Condition, WaitReleasesTheLockAndReturnsOnlyOnceItHoldsItAgain) {
    asyncio::Condition cond;
    std::vector<int> woke;
    auto waiter = asyncio::create_task(wait_and_record(cond, 1, woke));
    co_await asyncio::sleep(0s);
    EXPECT_FALSE(cond.locked());  // released by wait()
    {
        auto guard = co_await cond.acquire();
        cond.notify();
        co_await asyncio::sleep(1s);
        EXPECT_TRUE(woke.empty()) << "wait() returned while another task held the lock";
    }
    co_await waiter;
    EXPECT_EQ(woke, std::vector<int>{1});
    EXPECT_FALSE(cond.locked());
}

ASYNCIO_TEST(Condition, NotifyWakesWaitersOneAtATimeInArrivalOrder) {
    asyncio::Condition cond;
    std::vector<int> woke;
    std::vector<asyncio::TaskHandle<>> tasks;
    for (int i = 0; i < 4; ++i) {  // arrive 3, 2, 1, 0
        tasks.push_back(asyncio::create_task(
            wait_and_record(cond, i, woke, std::chrono::milliseconds(10 - 2 * i))));
    }
    co_await asyncio::sleep(1s);
    for (std::size_t n = 1; n <= 4; ++n) {
        {
            auto guard = co_await cond.acquire();
            cond.notify();
        }
        co_await asyncio::sleep(1s);
        EXPECT_EQ(woke.size(), n);
    }
    for (auto& task : tasks) co_await task;
    EXPECT_EQ(woke, (std::vector<int>{3, 2, 1, 0}));
}

ASYNCIO_TEST(Condition, NotifyNWakesAtMostNAndNotifyAllWakesTheRest) {
    asyncio::Condition cond;
    std::vector<int> woke;
    std::vector<asyncio::TaskHandle<>> tasks;
    for (int i = 0; i < 6; ++i)
        tasks.push_back(asyncio::create_task(wait_and_record(cond, i, woke)));
    co_await asyncio::sleep(0s);
    {
        auto guard = co_await cond.acquire();
        cond.notify(2);
    }
    co_await asyncio::sleep(1s);
    EXPECT_EQ(woke, (std::vector<int>{0, 1}));
    {
        auto guard = co_await cond.acquire();
        cond.notify_all();
    }
    for (auto& task : tasks) co_await task;
    EXPECT_EQ(woke, (std::vector<int>{0, 1, 2, 3, 4, 5}));
    {
        auto guard = co_await cond.acquire();
        cond.notify(100);  // more than are waiting: fine
    }
}

ASYNCIO_TEST(Condition, CancelledWaitHoldsTheLockAgainBeforeCancelledErrorPropagates) {
    asyncio::Condition cond;
    bool held_on_cancel = false;
    auto waiter = asyncio::create_task(wait_expecting_cancel(cond, held_on_cancel));
    co_await asyncio::sleep(0s);
    {
        auto guard = co_await cond.acquire();
        waiter.cancel();
        co_await asyncio::sleep(1s);
        // The waiter needs the lock back before it may raise.
        EXPECT_FALSE(waiter.done());
    }
    EXPECT_THROW(co_await waiter, asyncio::CancelledError);
    EXPECT_TRUE(held_on_cancel);
    EXPECT_FALSE(cond.locked());  // the waiter's guard released it while unwinding
}

ASYNCIO_TEST(Condition, CancelledWaiterThatWasNotNotifiedWakesNobody) {
    asyncio::Condition cond;
    std::vector<int> woke;
    bool held_on_cancel = false;
    auto a = asyncio::create_task(wait_expecting_cancel(cond, held_on_cancel));
    auto b = asyncio::create_task(wait_and_record(cond, 2, woke));
    co_await asyncio::sleep(0s);
    a.cancel();
    EXPECT_THROW(co_await a, asyncio::CancelledError);
    EXPECT_TRUE(held_on_cancel);
    co_await asyncio::sleep(1s);
    EXPECT_TRUE(woke.empty()) << "a spurious wake-up";
    co_await notify_one_now(cond);
    co_await b;
    EXPECT_EQ(woke, std::vector<int>{2});
}

ASYNCIO_TEST(Condition, WokenWaiterCancelledBeforeResumingPassesTheNotificationOn_gh112202) {
    asyncio::Condition cond;
    std::vector<int> woke;
    bool held_on_cancel = false;
    auto a = asyncio::create_task(wait_expecting_cancel(cond, held_on_cancel));
    auto b = asyncio::create_task(wait_and_record(cond, 2, woke));
    auto c = asyncio::create_task(wait_and_record(cond, 3, woke));
    co_await asyncio::sleep(0s);
    {
        auto guard = co_await cond.acquire();
        cond.notify();  // chooses `a`
    }
    a.cancel();  // same iteration, before `a` resumes
    EXPECT_THROW(co_await a, asyncio::CancelledError);
    EXPECT_TRUE(held_on_cancel);
    co_await finishes(b);  // got the notification `a` could not use
    co_await asyncio::sleep(1s);
    EXPECT_EQ(woke, std::vector<int>{2});  // exactly one notification, not two
    EXPECT_FALSE(c.done());
    co_await notify_one_now(cond);
    co_await c;
    EXPECT_EQ(woke, (std::vector<int>{2, 3}));
}

ASYNCIO_TEST(Condition, WokenWaiterCancelledFromACallbackPassesTheNotificationOn_gh112202) {
    auto& loop = asyncio::get_running_loop();
    asyncio::Condition cond;
    std::vector<int> woke;
    bool held_on_cancel = false;
    auto a = asyncio::create_task(wait_expecting_cancel(cond, held_on_cancel));
    auto b = asyncio::create_task(wait_and_record(cond, 2, woke));
    co_await asyncio::sleep(0s);
    {
        auto guard = co_await cond.acquire();
        loop.call_soon([a] { a.cancel(); });  // queued before `a` is woken: runs right before it
        cond.notify();
    }
    EXPECT_THROW(co_await a, asyncio::CancelledError);
    co_await finishes(b);
    EXPECT_EQ(woke, std::vector<int>{2});
    EXPECT_TRUE(held_on_cancel);
}

ASYNCIO_TEST(Condition, NotifiedWaiterCancelledWhileReacquiringTheLockPassesTheNotificationOn) {
    asyncio::Condition cond;
    std::vector<int> woke;
    bool held_on_cancel = false;
    auto a = asyncio::create_task(wait_expecting_cancel(cond, held_on_cancel));
    auto b = asyncio::create_task(wait_and_record(cond, 2, woke));
    co_await asyncio::sleep(0s);
    {
        auto guard = co_await cond.acquire();
        cond.notify();
        co_await asyncio::sleep(0s);  // `a` resumes and queues for the lock
        EXPECT_FALSE(a.done());
        a.cancel();  // cancels its re-acquiring: it starts over
        co_await asyncio::sleep(1s);
        EXPECT_FALSE(a.done());
    }
    EXPECT_THROW(co_await a, asyncio::CancelledError);
    EXPECT_TRUE(held_on_cancel);
    co_await finishes(b);
    EXPECT_EQ(woke, std::vector<int>{2});
    EXPECT_FALSE(cond.locked());
}

ASYNCIO_TEST(Condition, WaitForReturnsAtOnceWhenThePredicateHolds) {
    asyncio::Condition cond;
    auto guard = co_await cond.acquire();
    const int value = co_await cond.wait_for([] { return 7; });
    EXPECT_EQ(value, 7);
    EXPECT_TRUE(cond.locked());
}

ASYNCIO_TEST(Condition, WaitForWaitsUntilThePredicateHoldsAndReturnsItsValue) {
    asyncio::Condition cond;
    std::deque<int> items;
    std::vector<int> got;
    auto consumer = asyncio::create_task(consume(cond, items, 5, got));
    for (int i = 1; i <= 5; ++i) {
        co_await asyncio::sleep(1s);
        auto guard = co_await cond.acquire();
        items.push_back(i * 10);
        cond.notify();
    }
    co_await consumer;
    EXPECT_EQ(got, (std::vector<int>{10, 20, 30, 40, 50}));
}

ASYNCIO_TEST(Condition, ConditionsOverASharedLockNotifyOnlyTheirOwnWaiters) {
    asyncio::Lock lock;
    asyncio::Condition first(lock);
    asyncio::Condition second(lock);
    std::vector<int> woke;
    auto a = asyncio::create_task(wait_and_record(first, 1, woke));
    auto b = asyncio::create_task(wait_and_record(second, 2, woke));
    co_await asyncio::sleep(0s);
    {
        auto guard = co_await lock.acquire();
        EXPECT_TRUE(first.locked());
        EXPECT_TRUE(second.locked());
        second.notify();
    }
    co_await b;
    co_await asyncio::sleep(1s);
    EXPECT_EQ(woke, std::vector<int>{2});
    EXPECT_FALSE(a.done());
    {
        auto guard = co_await first.acquire();  // the same lock, through the condition
        EXPECT_TRUE(lock.locked());
        first.notify();
    }
    co_await a;
    EXPECT_EQ(woke, (std::vector<int>{2, 1}));
    EXPECT_FALSE(lock.locked());
}

ASYNCIO_TEST(Condition, AWaitingTaskShowsTheConditionItWaitsFor) {
    asyncio::Condition cond;
    std::vector<int> woke;
    auto task = asyncio::create_task(wait_and_record(cond, 1, woke));
    co_await asyncio::sleep(0s);
    const auto& target = task.promise()->awaiting();
    EXPECT_EQ(target.kind, asyncio::detail::AwaitKind::condition);
    EXPECT_EQ(target.object, static_cast<const void*>(&cond));
    co_await notify_one_now(cond);
    co_await task;
}

ASYNCIO_TEST_WITH(Condition, UsedFromAnotherThreadThrowsInDebugMode,
                  (asyncio::testing::TestOptions{.debug = true})) {
    asyncio::Condition cond;
    auto guard = co_await cond.acquire();
    int errors = 0;
    std::thread other([&cond, &errors] {
        try {
            cond.notify();
        } catch (const asyncio::RuntimeError&) {
            ++errors;
        }
        try {
            (void)cond.locked();
        } catch (const asyncio::RuntimeError&) {
            ++errors;
        }
    });
    other.join();
    EXPECT_EQ(errors, 2);
    EXPECT_TRUE(guard.owns_lock());
}
