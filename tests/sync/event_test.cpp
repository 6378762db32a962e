#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "support/asyncio_test.hpp"
#include "support/co_assert.hpp"
#include <asyncio/sync/event.hpp>

using namespace std::chrono_literals;

namespace {

using asyncio::testing::finishes;

asyncio::Task<> wait_and_record(asyncio::Event& event, int id, std::vector<int>& woke,
                                asyncio::Duration delay = 0s) {
    if (delay > 0s) co_await asyncio::sleep(delay);
    co_await event.wait();
    woke.push_back(id);
}

}  // namespace

ASYNCIO_TEST(Event, StartsUnset) {
    asyncio::Event event;
    EXPECT_FALSE(event.is_set());
    co_return;
}

ASYNCIO_TEST(Event, WaitReturnsAtOnceWithoutYieldingWhenSet) {
    asyncio::Event event;
    event.set();
    auto other_ran = std::make_shared<bool>(false);
    asyncio::get_running_loop().call_soon([other_ran] { *other_ran = true; });
    co_await event.wait();
    EXPECT_FALSE(*other_ran);
    co_await asyncio::sleep(0s);
    EXPECT_TRUE(*other_ran);
}

ASYNCIO_TEST(Event, WaitBlocksUntilSet) {
    auto& loop = asyncio::get_running_loop();
    asyncio::Event event;
    const auto start = loop.time();
    loop.call_later(5s, [&event] { event.set(); });
    co_await event.wait();
    EXPECT_EQ(loop.time() - start, 5s);
    EXPECT_TRUE(event.is_set());
}

ASYNCIO_TEST(Event, SetWakesEveryWaiterInTheOrderTheyStartedWaiting) {
    asyncio::Event event;
    std::vector<int> woke;
    std::vector<asyncio::TaskHandle<>> tasks;
    // Created 0..4, but they start waiting in the order 4..0.
    for (int i = 0; i < 5; ++i) {
        tasks.push_back(asyncio::create_task(
            wait_and_record(event, i, woke, std::chrono::milliseconds(10 - 2 * i))));
    }
    co_await asyncio::sleep(1s);
    EXPECT_TRUE(woke.empty());
    event.set();
    for (auto& task : tasks) co_await task;
    EXPECT_EQ(woke, (std::vector<int>{4, 3, 2, 1, 0}));
}

ASYNCIO_TEST(Event, SetTwiceIsHarmless) {
    asyncio::Event event;
    std::vector<int> woke;
    auto task = asyncio::create_task(wait_and_record(event, 1, woke));
    co_await asyncio::sleep(0s);
    event.set();
    event.set();
    co_await task;
    EXPECT_EQ(woke, std::vector<int>{1});
    EXPECT_TRUE(event.is_set());
}

ASYNCIO_TEST(Event, ClearMakesWaitBlockAgain) {
    asyncio::Event event;
    std::vector<int> woke;
    event.set();
    event.clear();
    EXPECT_FALSE(event.is_set());
    auto task = asyncio::create_task(wait_and_record(event, 1, woke));
    co_await asyncio::sleep(1s);
    EXPECT_TRUE(woke.empty());
    EXPECT_FALSE(task.done());
    event.set();
    co_await task;
    EXPECT_EQ(woke, std::vector<int>{1});
}

ASYNCIO_TEST(Event, WaitersWokenBySetReturnEvenIfClearedBeforeTheyResume) {
    asyncio::Event event;
    std::vector<int> woke;
    auto a = asyncio::create_task(wait_and_record(event, 1, woke));
    auto b = asyncio::create_task(wait_and_record(event, 2, woke));
    co_await asyncio::sleep(0s);
    event.set();
    event.clear();  // Python: the woken waiters still return True
    co_await a;
    co_await b;
    EXPECT_EQ(woke, (std::vector<int>{1, 2}));
    EXPECT_FALSE(event.is_set());
}

ASYNCIO_TEST(Event, CancelledWaiterLeavesAndTheOthersStillWake) {
    asyncio::Event event;
    std::vector<int> woke;
    auto a = asyncio::create_task(wait_and_record(event, 1, woke));
    auto b = asyncio::create_task(wait_and_record(event, 2, woke));
    auto c = asyncio::create_task(wait_and_record(event, 3, woke));
    co_await asyncio::sleep(0s);
    b.cancel();
    EXPECT_THROW(co_await b, asyncio::CancelledError);
    event.set();
    co_await a;
    co_await c;
    EXPECT_EQ(woke, (std::vector<int>{1, 3}));
}

ASYNCIO_TEST(Event, WokenWaiterCancelledBeforeResumingDoesNotStopTheOthers_tokio4618) {
    auto& loop = asyncio::get_running_loop();
    asyncio::Event event;
    std::vector<int> woke;
    auto a = asyncio::create_task(wait_and_record(event, 1, woke));
    auto b = asyncio::create_task(wait_and_record(event, 2, woke));
    auto c = asyncio::create_task(wait_and_record(event, 3, woke));
    co_await asyncio::sleep(0s);
    loop.call_soon([b] { b.cancel(); });  // queued before `b` is woken: runs right before it
    event.set();
    a.cancel();  // woken, not yet resumed
    EXPECT_THROW(co_await a, asyncio::CancelledError);
    EXPECT_THROW(co_await b, asyncio::CancelledError);
    co_await finishes(c);
    EXPECT_EQ(woke, std::vector<int>{3});
    EXPECT_TRUE(event.is_set());
    // Nothing was used up: a later waiter returns at once.
    co_await event.wait();
}

ASYNCIO_TEST(Event, AWaitingTaskShowsTheEventItWaitsFor) {
    asyncio::Event event;
    std::vector<int> woke;
    auto task = asyncio::create_task(wait_and_record(event, 1, woke));
    co_await asyncio::sleep(0s);
    const auto& target = task.promise()->awaiting();
    EXPECT_EQ(target.kind, asyncio::detail::AwaitKind::event);
    EXPECT_EQ(target.object, static_cast<const void*>(&event));
    event.set();
    co_await task;
}

ASYNCIO_TEST_WITH(Event, UsedFromAnotherThreadThrowsInDebugMode,
                  (asyncio::testing::TestOptions{.debug = true})) {
    asyncio::Event event;
    EXPECT_FALSE(event.is_set());  // binds the event to this loop
    int errors = 0;
    std::thread other([&event, &errors] {
        try {
            event.set();
        } catch (const asyncio::RuntimeError&) {
            ++errors;
        }
        try {
            (void)event.is_set();
        } catch (const asyncio::RuntimeError&) {
            ++errors;
        }
    });
    other.join();
    EXPECT_EQ(errors, 2);
    EXPECT_FALSE(event.is_set());
    co_return;
}
