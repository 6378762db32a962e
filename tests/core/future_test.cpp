#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "support/asyncio_test.hpp"
#include "support/co_assert.hpp"
#include <asyncio/future.hpp>
#include <asyncio/shield.hpp>

using namespace std::chrono_literals;

namespace {

struct CustomError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

template <class T>
asyncio::Task<T> await_future(asyncio::Future<T> future) {
    co_return co_await future;
}

/// Records what reaches the running loop's exception handler while alive.
class HandlerCapture {
public:
    HandlerCapture() : loop_(asyncio::get_running_loop()) {
        loop_.set_exception_handler(
            [this](asyncio::EventLoop&, const asyncio::ExceptionContext& context) {
                messages.push_back(context.message);
                errors.push_back(context.exception ? asyncio::describe(context.exception) : "");
            });
    }
    ~HandlerCapture() { loop_.set_exception_handler(nullptr); }
    HandlerCapture(const HandlerCapture&) = delete;
    HandlerCapture& operator=(const HandlerCapture&) = delete;

    std::vector<std::string> messages;
    std::vector<std::string> errors;

private:
    asyncio::EventLoop& loop_;
};

}  // namespace

// ---- set_result / set_exception / cancel ----

ASYNCIO_TEST(Future, NewFutureIsPending) {
    asyncio::Future<int> future;
    EXPECT_FALSE(future.done());
    EXPECT_FALSE(future.cancelled());
    co_return;
}

ASYNCIO_TEST(Future, SetResultMakesItDoneWithTheValue) {
    asyncio::Future<int> future;
    future.set_result(42);
    EXPECT_TRUE(future.done());
    EXPECT_FALSE(future.cancelled());
    EXPECT_EQ(future.result(), 42);
    EXPECT_EQ(future.exception(), nullptr);
    EXPECT_EQ(co_await future, 42);
}

ASYNCIO_TEST(Future, SetResultConstructsTheValueInPlace) {
    asyncio::Future<std::string> future;
    future.set_result(3, 'x');
    EXPECT_EQ(future.result(), "xxx");
    co_return;
}

ASYNCIO_TEST(Future, SetExceptionMakesItDoneWithTheException) {
    asyncio::Future<int> future;
    future.set_exception(CustomError("bad"));
    EXPECT_TRUE(future.done());
    EXPECT_FALSE(future.cancelled());
    EXPECT_THROW(future.result(), CustomError);
    std::exception_ptr error = future.exception();
    CO_ASSERT_NE(error, nullptr);
    EXPECT_EQ(asyncio::describe(error), "bad");
    EXPECT_THROW(co_await future, CustomError);
}

ASYNCIO_TEST(Future, SetExceptionAcceptsAnExceptionPtr) {
    asyncio::Future<int> future;
    future.set_exception(std::make_exception_ptr(CustomError("from ptr")));
    EXPECT_THROW(future.result(), CustomError);
    co_return;
}

ASYNCIO_TEST(Future, SetExceptionWithNullPointerThrowsInvalidStateError) {
    asyncio::Future<int> future;
    EXPECT_THROW(future.set_exception(std::exception_ptr()), asyncio::InvalidStateError);
    EXPECT_FALSE(future.done());
    co_return;
}

ASYNCIO_TEST(Future, CancelMakesItCancelled) {
    asyncio::Future<int> future;
    EXPECT_TRUE(future.cancel("no longer needed"));
    EXPECT_TRUE(future.done());
    EXPECT_TRUE(future.cancelled());
    try {
        future.result();
        ADD_FAILURE() << "result() of a cancelled future returned";
    } catch (const asyncio::CancelledError& e) {
        EXPECT_EQ(e.message(), "no longer needed");
    }
    EXPECT_THROW(future.exception(), asyncio::CancelledError);
    EXPECT_THROW(co_await future, asyncio::CancelledError);
}

ASYNCIO_TEST(Future, CancelOfADoneFutureReturnsFalse) {
    asyncio::Future<int> future;
    future.set_result(1);
    EXPECT_FALSE(future.cancel());
    EXPECT_FALSE(future.cancelled());
    EXPECT_EQ(future.result(), 1);
    asyncio::Future<int> cancelled;
    EXPECT_TRUE(cancelled.cancel());
    EXPECT_FALSE(cancelled.cancel());
    co_return;
}

// ---- misuse ----

ASYNCIO_TEST(Future, SetResultTwiceThrowsInvalidStateError) {
    asyncio::Future<int> future;
    future.set_result(1);
    EXPECT_THROW(future.set_result(2), asyncio::InvalidStateError);
    EXPECT_EQ(future.result(), 1);  // the first value stays
    co_return;
}

ASYNCIO_TEST(Future, SetExceptionAfterSetResultThrowsInvalidStateError) {
    asyncio::Future<int> future;
    future.set_result(1);
    EXPECT_THROW(future.set_exception(CustomError("late")), asyncio::InvalidStateError);
    EXPECT_EQ(future.result(), 1);
    co_return;
}

ASYNCIO_TEST(Future, SetResultAfterSetExceptionThrowsInvalidStateError) {
    asyncio::Future<int> future;
    future.set_exception(CustomError("first"));
    EXPECT_THROW(future.set_result(1), asyncio::InvalidStateError);
    EXPECT_THROW(future.result(), CustomError);
    co_return;
}

ASYNCIO_TEST(Future, SetResultAfterCancelThrowsInvalidStateError) {
    asyncio::Future<int> future;
    future.cancel();
    EXPECT_THROW(future.set_result(1), asyncio::InvalidStateError);
    EXPECT_THROW(future.set_exception(CustomError("late")), asyncio::InvalidStateError);
    EXPECT_TRUE(future.cancelled());
    co_return;
}

ASYNCIO_TEST(Future, ResultBeforeDoneThrowsInvalidStateError) {
    asyncio::Future<int> future;
    EXPECT_THROW(future.result(), asyncio::InvalidStateError);
    EXPECT_THROW(future.exception(), asyncio::InvalidStateError);
    co_return;
}

TEST(Future, ConstructionOutsideAnyLoopThrowsRuntimeError) {
    EXPECT_THROW(asyncio::Future<int>(), asyncio::RuntimeError);
}

// ---- awaiting ----

ASYNCIO_TEST(Future, AwaitWaitsForSetResult) {
    auto& loop = asyncio::get_running_loop();
    const auto start = loop.time();
    asyncio::Future<int> future;
    loop.call_later(3s, [future] { future.set_result(7); });
    EXPECT_EQ(co_await future, 7);
    EXPECT_EQ(loop.time() - start, 3s);
}

ASYNCIO_TEST(Future, AwaitWaitsForSetException) {
    auto& loop = asyncio::get_running_loop();
    asyncio::Future<int> future;
    loop.call_later(1s, [future] { future.set_exception(CustomError("later")); });
    EXPECT_THROW(co_await future, CustomError);
}

ASYNCIO_TEST(Future, AwaitOfAFutureCancelledByItsOwnerThrowsCancelledError) {
    auto& loop = asyncio::get_running_loop();
    asyncio::Future<int> future;
    loop.call_later(1s, [future] { future.cancel("owner gave up"); });
    try {
        co_await future;
        ADD_FAILURE() << "await of a cancelled future returned";
    } catch (const asyncio::CancelledError& e) {
        EXPECT_EQ(e.message(), "owner gave up");
    }
    // The awaiting task itself was not cancelled.
    EXPECT_EQ(asyncio::current_task().cancelling(), 0u);
}

ASYNCIO_TEST(Future, SeveralTasksAwaitingOneFutureAllGetTheValue) {
    auto& loop = asyncio::get_running_loop();
    asyncio::Future<int> future;
    std::vector<asyncio::TaskHandle<int>> waiters;
    for (int i = 0; i < 10; ++i) waiters.push_back(asyncio::create_task(await_future(future)));
    co_await asyncio::sleep(1s);
    for (auto& waiter : waiters) EXPECT_FALSE(waiter.done());
    loop.call_soon([future] { future.set_result(99); });
    for (auto& waiter : waiters) EXPECT_EQ(co_await waiter, 99);
}

ASYNCIO_TEST(Future, SeveralTasksAwaitingOneFutureAllGetTheException) {
    asyncio::Future<int> future;
    std::vector<asyncio::TaskHandle<int>> waiters;
    for (int i = 0; i < 5; ++i) waiters.push_back(asyncio::create_task(await_future(future)));
    co_await asyncio::sleep(1s);
    future.set_exception(CustomError("shared failure"));
    for (auto& waiter : waiters) EXPECT_THROW(co_await waiter, CustomError);
}

ASYNCIO_TEST(Future, WaitersWakeInTheOrderTheyStartedWaiting) {
    asyncio::Future<void> future;
    std::vector<int> order;
    auto waiter = [&](int id) -> asyncio::Task<> {
        co_await future;
        order.push_back(id);
    };
    std::vector<asyncio::TaskHandle<>> tasks;
    for (int i = 0; i < 5; ++i) tasks.push_back(asyncio::create_task(waiter(i)));
    co_await asyncio::sleep(0s);
    future.set_result();
    for (auto& task : tasks) co_await task;
    EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4}));
}

ASYNCIO_TEST(Future, WaitersThatLeaveFromTheFrontMiddleAndEndKeepTheOthersInOrder) {
    // A task cancelled in shield(future) stops waiting and leaves the future pending: its
    // waiter is unlinked wherever it is in the list (the state keeps only the list's head).
    asyncio::Future<void> future;
    std::vector<int> order;
    auto waiter = [&](int id) -> asyncio::Task<> {
        co_await asyncio::shield(future);
        order.push_back(id);
    };
    std::vector<asyncio::TaskHandle<>> tasks;
    for (int i = 0; i < 5; ++i) tasks.push_back(asyncio::create_task(waiter(i)));
    co_await asyncio::sleep(0s);
    for (int leaving : {0, 2, 4}) tasks[static_cast<std::size_t>(leaving)].cancel();
    co_await asyncio::sleep(0s);
    tasks.push_back(asyncio::create_task(waiter(5)));  // joins after the new last one
    co_await asyncio::sleep(0s);
    EXPECT_FALSE(future.done());
    future.set_result();
    for (auto& task : tasks) {
        try {
            co_await task;
        } catch (const asyncio::CancelledError&) {
        }
    }
    EXPECT_EQ(order, (std::vector<int>{1, 3, 5}));
    for (int left : {0, 2, 4}) EXPECT_TRUE(tasks[static_cast<std::size_t>(left)].cancelled());
}

ASYNCIO_TEST(Future, AwaitOfADoneFutureDoesNotSuspend) {
    asyncio::Future<int> future;
    future.set_result(5);
    bool other_ran = false;
    asyncio::get_running_loop().call_soon([&] { other_ran = true; });
    EXPECT_EQ(co_await future, 5);
    EXPECT_FALSE(other_ran);  // no trip through the loop
    co_await asyncio::sleep(0s);
    EXPECT_TRUE(other_ran);
}

ASYNCIO_TEST(Future, SetResultWakesTheWaiterInTheNextIteration) {
    asyncio::Future<int> future;
    std::vector<std::string> events;
    auto waiter = [&]() -> asyncio::Task<> {
        co_await future;
        events.push_back("waiter resumed");
    };
    auto task = asyncio::create_task(waiter());
    co_await asyncio::sleep(0s);
    future.set_result(1);
    events.push_back("after set_result");
    co_await task;
    EXPECT_EQ(events, (std::vector<std::string>{"after set_result", "waiter resumed"}));
}

// ---- cancellation of the awaiting task ----

ASYNCIO_TEST(Future, CancellingATaskAwaitingAFutureCancelsTheFuture) {
    asyncio::Future<int> future;
    auto task = asyncio::create_task(await_future(future));
    co_await asyncio::sleep(1s);
    task.cancel("stop waiting");
    try {
        co_await task;
        ADD_FAILURE() << "cancelled task returned";
    } catch (const asyncio::CancelledError& e) {
        EXPECT_EQ(e.message(), "stop waiting");
    }
    EXPECT_TRUE(task.cancelled());
    EXPECT_TRUE(future.cancelled());  // CPython semantics
    EXPECT_THROW(future.set_result(1), asyncio::InvalidStateError);
}

ASYNCIO_TEST(Future, CancellingOneWaiterCancelsTheSharedFutureForAllWaiters) {
    asyncio::Future<int> future;
    auto first = asyncio::create_task(await_future(future));
    auto second = asyncio::create_task(await_future(future));
    co_await asyncio::sleep(1s);
    first.cancel();
    EXPECT_THROW(co_await first, asyncio::CancelledError);
    EXPECT_THROW(co_await second, asyncio::CancelledError);
    EXPECT_TRUE(future.cancelled());
    EXPECT_TRUE(second.cancelled());
}

ASYNCIO_TEST(Future, CancellingAWaiterOfADoneFutureLeavesTheResult) {
    // The future is done but the waiter has not resumed yet: the waiter is cancelled, the
    // future keeps its value.
    asyncio::Future<int> future;
    auto task = asyncio::create_task(await_future(future));
    co_await asyncio::sleep(1s);
    future.set_result(3);
    EXPECT_TRUE(task.cancel());
    EXPECT_THROW(co_await task, asyncio::CancelledError);
    EXPECT_FALSE(future.cancelled());
    EXPECT_EQ(future.result(), 3);
}

// ---- done callbacks ----

ASYNCIO_TEST(Future, DoneCallbackRunsSoonAfterSetResultNotSynchronously) {
    asyncio::Future<int> future;
    int seen = 0;
    future.add_done_callback([&](const asyncio::Future<int>& done) { seen = done.result(); });
    future.set_result(8);
    EXPECT_EQ(seen, 0);
    co_await asyncio::sleep(0s);
    EXPECT_EQ(seen, 8);
}

ASYNCIO_TEST(Future, DoneCallbackAddedAfterCompletionRunsInTheNextIteration) {
    asyncio::Future<int> future;
    future.set_result(4);
    int calls = 0;
    future.add_done_callback([&](const asyncio::Future<int>& done) {
        ++calls;
        EXPECT_TRUE(done.done());
    });
    EXPECT_EQ(calls, 0);
    co_await asyncio::sleep(0s);
    EXPECT_EQ(calls, 1);
    co_await asyncio::sleep(0s);
    EXPECT_EQ(calls, 1);
}

ASYNCIO_TEST(Future, DoneCallbackReceivesTheSameFuture) {
    asyncio::Future<int> future;
    bool same = false;
    future.add_done_callback([&](const asyncio::Future<int>& done) { same = done == future; });
    future.cancel();
    co_await asyncio::sleep(0s);
    EXPECT_TRUE(same);
}

ASYNCIO_TEST(Future, DoneCallbacksRunInRegistrationOrder) {
    asyncio::Future<void> future;
    std::vector<int> order;
    for (int i = 0; i < 5; ++i) {
        future.add_done_callback([&order, i](const asyncio::Future<void>&) { order.push_back(i); });
    }
    future.set_result();
    co_await asyncio::sleep(0s);
    EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4}));
}

ASYNCIO_TEST(Future, DoneCallbackOfAFutureThatNeverFinishesIsFreedWithIt) {
    // LeakCheck and ASan verify nothing is left behind.
    {
        asyncio::Future<int> future;
        future.add_done_callback([](const asyncio::Future<int>&) {
            ADD_FAILURE() << "callback of an abandoned future ran";
        });
    }
    co_await asyncio::sleep(0s);
}

// ---- value kinds ----

ASYNCIO_TEST(Future, VoidFutureCanBeSetAndAwaited) {
    auto& loop = asyncio::get_running_loop();
    asyncio::Future<void> future;
    loop.call_later(2s, [future] { future.set_result(); });
    const auto start = loop.time();
    co_await future;
    EXPECT_EQ(loop.time() - start, 2s);
    EXPECT_TRUE(future.done());
    EXPECT_NO_THROW(future.result());
    EXPECT_THROW(future.set_result(), asyncio::InvalidStateError);
}

ASYNCIO_TEST(Future, VoidFutureCarriesAnException) {
    asyncio::Future<void> future;
    future.set_exception(CustomError("void failure"));
    EXPECT_THROW(future.result(), CustomError);
    EXPECT_THROW(co_await future, CustomError);
}

ASYNCIO_TEST(Future, MoveOnlyValueIsMovedOutByAwaitOfAMovedFuture) {
    auto& loop = asyncio::get_running_loop();
    asyncio::Future<std::unique_ptr<int>> future;
    loop.call_soon([future] { future.set_result(std::make_unique<int>(17)); });
    std::unique_ptr<int> value = co_await std::move(future);
    CO_ASSERT_NE(value, nullptr);
    EXPECT_EQ(*value, 17);
}

ASYNCIO_TEST(Future, MoveOnlyValueIsReachableThroughResult) {
    asyncio::Future<std::unique_ptr<int>> future;
    future.set_result(std::make_unique<int>(23));
    std::unique_ptr<int>& stored = future.result();
    CO_ASSERT_NE(stored, nullptr);
    EXPECT_EQ(*stored, 23);
    co_return;
}

ASYNCIO_TEST(Future, CopiesReferToTheSameFuture) {
    asyncio::Future<int> future;
    asyncio::Future<int> copy = future;
    EXPECT_TRUE(copy == future);
    copy.set_result(6);
    EXPECT_TRUE(future.done());
    EXPECT_EQ(future.result(), 6);
    EXPECT_FALSE(asyncio::Future<int>() == future);
    co_return;
}

TEST(Future, FutureOfAPlainLoopIsSetByACallback) {
    asyncio::testing::LeakCheck leaks;
    asyncio::LoopOptions options;
    options.clock = std::make_shared<asyncio::ManualClock>();
    asyncio::EventLoop loop(options);
    asyncio::Future<int> future(loop);
    loop.call_later(1s, [future] { future.set_result(12); });
    EXPECT_EQ(loop.run_until_complete(await_future(future)), 12);
    loop.close();
}

// ---- exceptions nobody retrieved ----

ASYNCIO_TEST(Future, UnretrievedExceptionIsReportedWhenTheLastReferenceGoes) {
    HandlerCapture reports;
    {
        asyncio::Future<int> future;
        future.set_exception(CustomError("lost"));
        EXPECT_TRUE(reports.messages.empty());
    }
    CO_ASSERT_EQ(reports.messages.size(), 1u);
    EXPECT_EQ(reports.messages[0], "Future exception was never retrieved");
    EXPECT_EQ(reports.errors[0], "lost");
    co_return;
}

ASYNCIO_TEST(Future, RetrievedExceptionIsNotReported) {
    HandlerCapture reports;
    {
        asyncio::Future<int> future;
        future.set_exception(CustomError("seen"));
        EXPECT_NE(future.exception(), nullptr);
    }
    {
        asyncio::Future<int> future;
        future.set_exception(CustomError("seen"));
        EXPECT_THROW(co_await future, CustomError);
    }
    EXPECT_TRUE(reports.messages.empty());
}

ASYNCIO_TEST(Future, CancelledFutureIsNotReported) {
    HandlerCapture reports;
    {
        asyncio::Future<int> future;
        future.cancel();
    }
    EXPECT_TRUE(reports.messages.empty());
    co_return;
}
