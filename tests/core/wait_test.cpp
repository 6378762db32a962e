#include <asyncio/wait.hpp>

#include <stdexcept>
#include <string>
#include <vector>

#include "support/asyncio_test.hpp"

using namespace std::chrono_literals;

namespace {

asyncio::Task<int> value_after(int value, asyncio::Duration delay) {
    co_await asyncio::sleep(delay);
    co_return value;
}

asyncio::Task<int> fail_after(asyncio::Duration delay) {
    co_await asyncio::sleep(delay);
    throw std::runtime_error("failed");
}

std::vector<asyncio::TaskHandle<int>> start_all(std::vector<asyncio::Task<int>> tasks) {
    std::vector<asyncio::TaskHandle<int>> handles;
    for (auto& task : tasks) handles.push_back(asyncio::create_task(std::move(task)));
    return handles;
}

std::vector<asyncio::Task<int>> values_after(std::vector<int> seconds) {
    std::vector<asyncio::Task<int>> tasks;
    for (int s : seconds) tasks.push_back(value_after(s, std::chrono::seconds(s)));
    return tasks;
}

// Cancels what is still running and waits for it, so that a test leaves nothing behind.
asyncio::Task<> cancel_all(std::vector<asyncio::TaskHandle<int>> handles) {
    for (auto& handle : handles) handle.cancel();
    for (auto& handle : handles) {
        try {
            co_await handle;
        } catch (const asyncio::CancelledError&) {
        } catch (const std::exception&) {
        }
    }
}

}  // namespace

// ---- wait() ----

ASYNCIO_TEST(Wait, FirstCompletedReturnsOnceOneTaskIsDone) {
    auto& loop = asyncio::get_running_loop();
    const auto start = loop.time();
    auto tasks = start_all(values_after({3, 1, 2}));
    auto [done, pending] = co_await asyncio::wait(tasks, asyncio::FIRST_COMPLETED);
    EXPECT_EQ(loop.time() - start, 1s);
    CO_ASSERT_EQ(done.size(), 1u);
    EXPECT_EQ(done[0], tasks[1]);
    EXPECT_EQ(done[0].result(), 1);
    CO_ASSERT_EQ(pending.size(), 2u);
    EXPECT_EQ(pending[0], tasks[0]);
    EXPECT_EQ(pending[1], tasks[2]);
    co_await cancel_all(tasks);
}

ASYNCIO_TEST(Wait, FirstCompletedReturnsAtOnceWhenALaterTaskIsAlreadyDone) {
    auto& loop = asyncio::get_running_loop();
    auto tasks = start_all(values_after({5, 0}));
    co_await asyncio::sleep(0s);
    co_await asyncio::sleep(0s);
    CO_ASSERT_TRUE(tasks[1].done());
    const auto before = loop.time();
    auto [done, pending] = co_await asyncio::wait(tasks, asyncio::FIRST_COMPLETED);
    EXPECT_EQ(loop.time(), before);
    CO_ASSERT_EQ(done.size(), 1u);
    EXPECT_EQ(done[0], tasks[1]);
    CO_ASSERT_EQ(pending.size(), 1u);
    EXPECT_EQ(pending[0], tasks[0]);
    co_await cancel_all(tasks);
}

ASYNCIO_TEST(Wait, FirstCompletedCountsAFailureAsCompletion) {
    auto& loop = asyncio::get_running_loop();
    const auto start = loop.time();
    std::vector<asyncio::TaskHandle<int>> tasks{asyncio::create_task(value_after(1, 5s)),
                                                asyncio::create_task(fail_after(2s))};
    auto [done, pending] = co_await asyncio::wait(tasks, asyncio::FIRST_COMPLETED);
    EXPECT_EQ(loop.time() - start, 2s);
    CO_ASSERT_EQ(done.size(), 1u);
    EXPECT_THROW(done[0].result(), std::runtime_error);
    co_await cancel_all(tasks);
}

ASYNCIO_TEST(Wait, FirstExceptionReturnsAtTheFirstError) {
    auto& loop = asyncio::get_running_loop();
    const auto start = loop.time();
    std::vector<asyncio::TaskHandle<int>> tasks{asyncio::create_task(value_after(1, 1s)),
                                                asyncio::create_task(fail_after(2s)),
                                                asyncio::create_task(value_after(3, 5s))};
    auto [done, pending] = co_await asyncio::wait(tasks, asyncio::FIRST_EXCEPTION);
    EXPECT_EQ(loop.time() - start, 2s);
    CO_ASSERT_EQ(done.size(), 2u);
    EXPECT_EQ(done[0], tasks[0]);
    EXPECT_EQ(done[1], tasks[1]);
    CO_ASSERT_EQ(pending.size(), 1u);
    EXPECT_EQ(pending[0], tasks[2]);
    EXPECT_FALSE(tasks[2].cancelled());
    EXPECT_THROW(tasks[1].result(), std::runtime_error);
    co_await cancel_all(tasks);
}

ASYNCIO_TEST(Wait, FirstExceptionWithoutErrorsWaitsForEveryTask) {
    auto& loop = asyncio::get_running_loop();
    const auto start = loop.time();
    auto tasks = start_all(values_after({1, 3, 2}));
    auto [done, pending] = co_await asyncio::wait(tasks, asyncio::FIRST_EXCEPTION);
    EXPECT_EQ(loop.time() - start, 3s);
    EXPECT_EQ(done.size(), 3u);
    EXPECT_TRUE(pending.empty());
}

ASYNCIO_TEST(Wait, FirstExceptionIgnoresCancelledTasks) {
    // CPython's _wait: FIRST_EXCEPTION wakes on `not f.cancelled() and f.exception() is not
    // None`; a cancelled task is not an exception.
    auto& loop = asyncio::get_running_loop();
    const auto start = loop.time();
    std::vector<asyncio::TaskHandle<int>> tasks{asyncio::create_task(value_after(1, 1h)),
                                                asyncio::create_task(value_after(2, 3s))};
    loop.call_later(1s, [t = tasks[0]] { t.cancel(); });
    auto [done, pending] = co_await asyncio::wait(tasks, asyncio::FIRST_EXCEPTION);
    EXPECT_EQ(loop.time() - start, 3s);
    EXPECT_EQ(done.size(), 2u);
    EXPECT_TRUE(pending.empty());
    co_await cancel_all(tasks);
}

ASYNCIO_TEST(Wait, AllCompletedWaitsForEveryTaskAndThrowsNothing) {
    auto& loop = asyncio::get_running_loop();
    const auto start = loop.time();
    std::vector<asyncio::TaskHandle<int>> tasks{asyncio::create_task(fail_after(1s)),
                                                asyncio::create_task(value_after(2, 2s))};
    auto [done, pending] = co_await asyncio::wait(tasks);  // ALL_COMPLETED is the default
    EXPECT_EQ(loop.time() - start, 2s);
    CO_ASSERT_EQ(done.size(), 2u);
    EXPECT_TRUE(pending.empty());
    EXPECT_NE(tasks[0].exception(), nullptr);
    EXPECT_EQ(tasks[1].result(), 2);
}

ASYNCIO_TEST(Wait, AlreadyDoneTasksReturnWithoutWaiting) {
    auto& loop = asyncio::get_running_loop();
    auto tasks = start_all(values_after({0, 0}));
    co_await asyncio::sleep(1s);
    const auto before = loop.time();
    auto [done, pending] = co_await asyncio::wait(tasks, asyncio::ALL_COMPLETED);
    EXPECT_EQ(loop.time(), before);
    EXPECT_EQ(done.size(), 2u);
    EXPECT_TRUE(pending.empty());
}

ASYNCIO_TEST(Wait, TimeoutReturnsWithPendingTasksStillRunning) {
    auto& loop = asyncio::get_running_loop();
    const auto start = loop.time();
    auto tasks = start_all(values_after({1, 5, 10}));
    auto [done, pending] = co_await asyncio::wait(tasks, asyncio::ALL_COMPLETED, 3s);
    EXPECT_EQ(loop.time() - start, 3s);
    CO_ASSERT_EQ(done.size(), 1u);
    CO_ASSERT_EQ(pending.size(), 2u);
    for (const auto& task : pending) {
        EXPECT_FALSE(task.done());
        EXPECT_EQ(task.cancelling(), 0u);
    }
    // No TimeoutError, and the pending tasks finish normally afterwards.
    EXPECT_EQ(co_await pending[0], 5);
    EXPECT_EQ(loop.time() - start, 5s);
    EXPECT_EQ(co_await pending[1], 10);
}

ASYNCIO_TEST(Wait, TimeoutIsNotNeededWhenTasksFinishFirst) {
    auto& loop = asyncio::get_running_loop();
    const auto start = loop.time();
    auto tasks = start_all(values_after({1, 2}));
    auto [done, pending] = co_await asyncio::wait(tasks, asyncio::ALL_COMPLETED, 1h);
    EXPECT_EQ(loop.time() - start, 2s);
    EXPECT_EQ(done.size(), 2u);
    EXPECT_TRUE(pending.empty());
    // The timer of the timeout was removed: nothing keeps the loop busy for an hour.
    co_await asyncio::sleep(1s);
    EXPECT_EQ(loop.time() - start, 3s);
}

ASYNCIO_TEST(Wait, ZeroTimeoutReportsCurrentState) {
    auto tasks = start_all(values_after({0, 5}));
    co_await asyncio::sleep(1s);
    auto [done, pending] = co_await asyncio::wait(tasks, asyncio::ALL_COMPLETED, 0s);
    EXPECT_EQ(done.size(), 1u);
    EXPECT_EQ(pending.size(), 1u);
    co_await cancel_all(tasks);
}

ASYNCIO_TEST(Wait, EmptyRangeThrowsInvalidArgument) {
    std::vector<asyncio::TaskHandle<int>> none;
    EXPECT_THROW(co_await asyncio::wait(none), std::invalid_argument);
    std::vector<asyncio::Future<int>> no_futures;
    EXPECT_THROW(co_await asyncio::wait(no_futures, asyncio::FIRST_COMPLETED, 1s),
                 std::invalid_argument);
}

ASYNCIO_TEST(Wait, AcceptsFutures) {
    auto& loop = asyncio::get_running_loop();
    std::vector<asyncio::Future<int>> futures(2);
    loop.call_later(1s, [f = futures[1]] { f.set_result(7); });
    auto [done, pending] = co_await asyncio::wait(futures, asyncio::FIRST_COMPLETED);
    CO_ASSERT_EQ(done.size(), 1u);
    EXPECT_EQ(done[0].result(), 7);
    CO_ASSERT_EQ(pending.size(), 1u);
    EXPECT_EQ(pending[0], futures[0]);
    futures[0].cancel();
}

ASYNCIO_TEST(Wait, CancellingTheWaiterDoesNotCancelTheTasks) {
    auto& loop = asyncio::get_running_loop();
    auto tasks = start_all(values_after({5, 6}));
    auto waiter = asyncio::create_task(
        [](std::vector<asyncio::TaskHandle<int>> handles) -> asyncio::Task<std::size_t> {
            auto result = co_await asyncio::wait(handles);
            co_return result.done.size();
        }(tasks));
    co_await asyncio::sleep(1s);
    const auto cancelled_at = loop.time();
    waiter.cancel();
    EXPECT_THROW(co_await waiter, asyncio::CancelledError);
    EXPECT_EQ(loop.time(), cancelled_at);
    for (const auto& task : tasks) {
        EXPECT_FALSE(task.done());
        EXPECT_EQ(task.cancelling(), 0u);
    }
    EXPECT_EQ(co_await tasks[0], 5);
    EXPECT_EQ(co_await tasks[1], 6);
}

ASYNCIO_TEST(Wait, CancellingTheWaiterWithATimeoutDoesNotCancelTheTasks) {
    auto tasks = start_all(values_after({5}));
    auto waiter =
        asyncio::create_task([](std::vector<asyncio::TaskHandle<int>> handles) -> asyncio::Task<> {
            co_await asyncio::wait(handles, asyncio::ALL_COMPLETED, 3s);
        }(tasks));
    co_await asyncio::sleep(1s);
    waiter.cancel();
    EXPECT_THROW(co_await waiter, asyncio::CancelledError);
    EXPECT_FALSE(tasks[0].done());
    EXPECT_EQ(co_await tasks[0], 5);
}

// ---- as_completed() ----

ASYNCIO_TEST(AsCompleted, HandsOutTasksInCompletionOrder) {
    auto& loop = asyncio::get_running_loop();
    const auto start = loop.time();
    auto tasks = start_all(values_after({3, 1, 2}));
    auto finished = asyncio::as_completed(tasks);
    std::vector<int> order;
    std::vector<asyncio::Duration> times;
    while (finished.remaining() > 0) {
        auto task = co_await finished.next();
        order.push_back(co_await task);
        times.push_back(loop.time() - start);
    }
    EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
    EXPECT_EQ(times, (std::vector<asyncio::Duration>{1s, 2s, 3s}));
}

ASYNCIO_TEST(AsCompleted, GivesTheOriginalTasks) {
    auto tasks = start_all(values_after({2, 1}));
    auto finished = asyncio::as_completed(tasks);
    auto first = co_await finished.next();
    EXPECT_EQ(first, tasks[1]);
    auto second = co_await finished.next();
    EXPECT_EQ(second, tasks[0]);
}

ASYNCIO_TEST(AsCompleted, TasksDoneBeforehandComeFirstInGivenOrder) {
    auto& loop = asyncio::get_running_loop();
    auto tasks = start_all(values_after({0, 5, 0}));
    co_await asyncio::sleep(1s);
    const auto before = loop.time();
    auto finished = asyncio::as_completed(tasks);
    EXPECT_EQ(co_await finished.next(), tasks[0]);
    EXPECT_EQ(co_await finished.next(), tasks[2]);
    EXPECT_EQ(loop.time(), before);
    EXPECT_EQ(co_await finished.next(), tasks[1]);
}

ASYNCIO_TEST(AsCompleted, RemainingCountsTasksNotHandedOutYet) {
    auto tasks = start_all(values_after({1, 2, 3}));
    auto finished = asyncio::as_completed(tasks);
    EXPECT_EQ(finished.remaining(), 3u);
    co_await asyncio::sleep(5s);  // all done, none handed out
    EXPECT_EQ(finished.remaining(), 3u);
    (void)co_await finished.next();
    EXPECT_EQ(finished.remaining(), 2u);
    (void)co_await finished.next();
    (void)co_await finished.next();
    EXPECT_EQ(finished.remaining(), 0u);
}

ASYNCIO_TEST(AsCompleted, FailedTaskIsHandedOutNotThrown) {
    std::vector<asyncio::TaskHandle<int>> tasks{asyncio::create_task(fail_after(1s)),
                                                asyncio::create_task(value_after(2, 2s))};
    auto finished = asyncio::as_completed(tasks);
    auto first = co_await finished.next();
    EXPECT_EQ(first, tasks[0]);
    EXPECT_THROW(co_await first, std::runtime_error);
    EXPECT_EQ(co_await co_await finished.next(), 2);
}

ASYNCIO_TEST(AsCompleted, TimeoutThrowsAfterTheTasksDoneBeforeIt) {
    auto& loop = asyncio::get_running_loop();
    const auto start = loop.time();
    auto tasks = start_all(values_after({1, 2, 10}));
    auto finished = asyncio::as_completed(tasks, 5s);
    EXPECT_EQ(co_await co_await finished.next(), 1);
    EXPECT_EQ(co_await co_await finished.next(), 2);
    EXPECT_THROW(co_await finished.next(), asyncio::TimeoutError);
    EXPECT_EQ(loop.time() - start, 5s);
    EXPECT_EQ(finished.remaining(), 1u);
    // The timeout cancels nothing.
    EXPECT_FALSE(tasks[2].done());
    EXPECT_EQ(tasks[2].cancelling(), 0u);
    EXPECT_EQ(co_await tasks[2], 10);
}

ASYNCIO_TEST(AsCompleted, TasksFinishedBeforeTheTimeoutAreHandedOutEvenAfterIt) {
    auto& loop = asyncio::get_running_loop();
    const auto start = loop.time();
    auto tasks = start_all(values_after({1, 2, 10}));
    auto finished = asyncio::as_completed(tasks, 5s);
    co_await asyncio::sleep(6s);  // the deadline passed; two tasks finished before it
    EXPECT_EQ(co_await co_await finished.next(), 1);
    EXPECT_EQ(co_await co_await finished.next(), 2);
    EXPECT_THROW(co_await finished.next(), asyncio::TimeoutError);
    EXPECT_EQ(loop.time() - start, 6s);
    co_await cancel_all(tasks);
}

ASYNCIO_TEST(AsCompleted, CancellingTheWaiterDoesNotCancelTheTasks) {
    auto tasks = start_all(values_after({5}));
    auto waiter =
        asyncio::create_task([](std::vector<asyncio::TaskHandle<int>> handles) -> asyncio::Task<> {
            auto finished = asyncio::as_completed(handles);
            (void)co_await finished.next();
        }(tasks));
    co_await asyncio::sleep(1s);
    waiter.cancel();
    EXPECT_THROW(co_await waiter, asyncio::CancelledError);
    EXPECT_FALSE(tasks[0].done());
    EXPECT_EQ(co_await tasks[0], 5);
}

ASYNCIO_TEST(AsCompleted, NextWithNoneLeftThrowsInvalidStateError) {
    auto tasks = start_all(values_after({1}));
    auto finished = asyncio::as_completed(tasks);
    (void)co_await finished.next();
    CO_ASSERT_EQ(finished.remaining(), 0u);
    // The bound keeps a hang from blocking the suite: next() must not wait at all.
    bool invalid_state = false;
    bool timed_out = false;
    try {
        co_await asyncio::timeout(
            1s, [&](asyncio::Timeout&) -> asyncio::Task<> { (void)co_await finished.next(); });
    } catch (const asyncio::InvalidStateError&) {
        invalid_state = true;
    } catch (const asyncio::TimeoutError&) {
        timed_out = true;
    }
    EXPECT_TRUE(invalid_state);
    EXPECT_FALSE(timed_out) << "next() waited for a task that can never come";

    std::vector<asyncio::TaskHandle<int>> none;
    auto empty = asyncio::as_completed(none);
    EXPECT_EQ(empty.remaining(), 0u);
    invalid_state = timed_out = false;
    try {
        co_await asyncio::timeout(
            1s, [&](asyncio::Timeout&) -> asyncio::Task<> { (void)co_await empty.next(); });
    } catch (const asyncio::InvalidStateError&) {
        invalid_state = true;
    } catch (const asyncio::TimeoutError&) {
        timed_out = true;
    }
    EXPECT_TRUE(invalid_state);
    EXPECT_FALSE(timed_out) << "next() on an empty as_completed waited forever";
}
