#include <asyncio/to_thread.hpp>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "support/asyncio_test.hpp"

using namespace std::chrono_literals;

namespace {

constexpr asyncio::testing::TestOptions threaded{.debug = false, .real_clock = true};

// Polls `flag` on the loop (real clock) for at most `limit`; true once it is set.
asyncio::Task<bool> eventually(const std::atomic<bool>& flag, asyncio::Duration limit = 10s) {
    auto& loop = asyncio::get_running_loop();
    const auto give_up = loop.time() + limit;
    while (!flag.load()) {
        if (loop.time() > give_up) co_return false;
        co_await asyncio::sleep(1ms);
    }
    co_return true;
}

}  // namespace

// ---- to_thread ----

ASYNCIO_TEST_WITH(ToThread, RunsTheFunctionOnAnotherThreadAndGivesItsValue, threaded) {
    const auto loop_thread = std::this_thread::get_id();
    auto worker_thread = co_await asyncio::to_thread([] { return std::this_thread::get_id(); });
    EXPECT_NE(worker_thread, loop_thread);
    EXPECT_EQ(co_await asyncio::to_thread([](int a, int b) { return a * b; }, 6, 7), 42);
    std::atomic<bool> ran{false};
    co_await asyncio::to_thread([&ran] { ran = true; });  // void result
    EXPECT_TRUE(ran.load());
}

ASYNCIO_TEST_WITH(ToThread, ExceptionPropagatesToTheAwaiter, threaded) {
    auto failing = [](std::string what) -> int { throw std::invalid_argument(what); };
    std::string message;
    try {
        co_await asyncio::to_thread(failing, std::string("bad input"));
    } catch (const std::invalid_argument& e) {
        message = e.what();
    }
    EXPECT_EQ(message, "bad input");
    // The loop is fine afterwards.
    EXPECT_EQ(co_await asyncio::to_thread([] { return 1; }), 1);
}

ASYNCIO_TEST_WITH(ToThread, MoveOnlyArgumentsAndResultsAreMoved, threaded) {
    auto owned = std::make_unique<int>(21);
    auto doubled = co_await asyncio::to_thread(
        [](std::unique_ptr<int> p) {
            *p *= 2;
            return p;
        },
        std::move(owned));
    EXPECT_EQ(owned, nullptr);
    CO_ASSERT_TRUE(doubled != nullptr);
    EXPECT_EQ(*doubled, 42);
}

ASYNCIO_TEST_WITH(ToThread, ArgumentsAreCopiesNotReferences, threaded) {
    std::string text = "before";
    auto seen = co_await asyncio::to_thread(
        [](std::string s) {
            s += " (copied)";
            return s;
        },
        text);
    EXPECT_EQ(seen, "before (copied)");
    EXPECT_EQ(text, "before");
}

ASYNCIO_TEST_WITH(ToThread, CancellingTheAwaiterReturnsPromptlyWhileTheThreadFinishes, threaded) {
    auto& loop = asyncio::get_running_loop();
    std::atomic<bool> started{false};
    std::atomic<bool> release{false};
    std::atomic<bool> finished{false};
    auto blocking = [&] {
        started = true;
        while (!release.load()) std::this_thread::sleep_for(1ms);
        finished = true;
        return 5;
    };
    auto waiter = asyncio::create_task([](decltype(blocking) fn) -> asyncio::Task<int> {
        co_return co_await asyncio::to_thread(fn);
    }(blocking));
    CO_ASSERT_TRUE(co_await eventually(started));
    const auto cancelled_at = loop.time();
    waiter.cancel();
    EXPECT_THROW(co_await waiter, asyncio::CancelledError);
    EXPECT_LT(loop.time() - cancelled_at, 5s);  // generous: it must not wait for the thread
    EXPECT_FALSE(finished.load());              // the function is still blocked on its thread
    release = true;
    EXPECT_TRUE(co_await eventually(finished));
    co_await asyncio::sleep(10ms);  // let the dropped result come back to the loop
}

ASYNCIO_TEST_WITH(ToThread, ManyConcurrentCallsAllComplete, threaded) {
    constexpr int calls = 200;
    std::vector<asyncio::Future<int>> futures;
    futures.reserve(calls);
    for (int i = 0; i < calls; ++i) {
        futures.push_back(asyncio::to_thread(
            [](int n) {
                std::this_thread::sleep_for(100us);
                return n * n;
            },
            i));
    }
    auto results = co_await asyncio::gather(futures);
    CO_ASSERT_EQ(results.size(), static_cast<std::size_t>(calls));
    bool all_right = true;
    for (int i = 0; i < calls; ++i)
        all_right = all_right && results[static_cast<std::size_t>(i)] == i * i;
    EXPECT_TRUE(all_right);
}

ASYNCIO_TEST_WITH(ToThread, BlockingCallDoesNotStallTheLoop, threaded) {
    auto& loop = asyncio::get_running_loop();
    std::atomic<bool> release{false};
    auto blocked = asyncio::to_thread([&release] {
        while (!release.load()) std::this_thread::sleep_for(1ms);
        return 1;
    });
    // The loop keeps running timers while the thread is blocked.
    const auto start = loop.time();
    int ticks = 0;
    while (ticks < 5) {
        co_await asyncio::sleep(1ms);
        ++ticks;
    }
    EXPECT_FALSE(blocked.done());
    release = true;
    EXPECT_EQ(co_await blocked, 1);
    EXPECT_GE(loop.time() - start, 5ms);
}

// ---- run_coroutine_threadsafe ----

namespace {

asyncio::Task<int> set_then_return(asyncio::Future<int>* signal, int value) {
    co_await asyncio::sleep(1ms);
    signal->set_result(value);  // wakes the test body waiting on the loop
    co_return value * 2;
}

asyncio::Task<int> fail_on_loop() {
    co_await asyncio::sleep(1ms);
    throw std::runtime_error("failed on the loop");
}

}  // namespace

ASYNCIO_TEST_WITH(RunCoroutineThreadsafe, GivesTheValueThroughStdFuture, threaded) {
    auto& loop = asyncio::get_running_loop();
    const auto loop_thread = std::this_thread::get_id();
    asyncio::Future<int> signal;      // set by the submitted task, on the loop
    asyncio::Future<int> got_result;  // set from the thread once std::future is ready
    std::thread other([&loop, &signal, &got_result, loop_thread] {
        EXPECT_NE(std::this_thread::get_id(), loop_thread);
        std::future<int> result =
            asyncio::run_coroutine_threadsafe(set_then_return(&signal, 21), loop);
        const int value = result.get();  // blocks this thread, not the loop
        loop.call_soon_threadsafe([&got_result, value] { got_result.set_result(value); });
    });
    EXPECT_EQ(co_await signal, 21);
    EXPECT_EQ(co_await asyncio::wait_for(got_result, 10s), 42);
    other.join();
}

ASYNCIO_TEST_WITH(RunCoroutineThreadsafe, ExceptionPropagatesThroughStdFuture, threaded) {
    auto& loop = asyncio::get_running_loop();
    asyncio::Future<std::string> got_error;
    std::thread other([&loop, &got_error] {
        std::future<int> result = asyncio::run_coroutine_threadsafe(fail_on_loop(), loop);
        std::string message;
        try {
            result.get();
            message = "no error";
        } catch (const std::runtime_error& e) {
            message = e.what();
        }
        loop.call_soon_threadsafe([&got_error, message] { got_error.set_result(message); });
    });
    EXPECT_EQ(co_await asyncio::wait_for(got_error, 10s), "failed on the loop");
    other.join();
}

ASYNCIO_TEST_WITH(RunCoroutineThreadsafe, CancelledTaskGivesCancelledErrorThroughStdFuture,
                  threaded) {
    auto& loop = asyncio::get_running_loop();
    asyncio::Future<bool> got_cancelled;
    auto cancel_self = []() -> asyncio::Task<int> {
        asyncio::current_task().cancel();
        co_await asyncio::sleep(1h);
        co_return 0;
    };
    std::thread other([&loop, &got_cancelled, &cancel_self] {
        std::future<int> result = asyncio::run_coroutine_threadsafe(cancel_self(), loop);
        bool cancelled = false;
        try {
            result.get();
        } catch (const asyncio::CancelledError&) {
            cancelled = true;
        } catch (...) {
        }
        loop.call_soon_threadsafe(
            [&got_cancelled, cancelled] { got_cancelled.set_result(cancelled); });
    });
    EXPECT_TRUE(co_await asyncio::wait_for(got_cancelled, 10s));
    other.join();
}

ASYNCIO_TEST_WITH(RunCoroutineThreadsafe, ManyThreadsSubmitConcurrently, threaded) {
    auto& loop = asyncio::get_running_loop();
    constexpr int threads = 4;
    constexpr int per_thread = 50;
    std::atomic<int> sum{0};
    std::atomic<int> finished_threads{0};
    asyncio::Future<> all_done;
    auto doubled = [](int v) -> asyncio::Task<int> {
        co_await asyncio::sleep(0s);
        co_return v * 2;
    };
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
        workers.emplace_back([&, t] {
            for (int i = 0; i < per_thread; ++i) {
                sum += asyncio::run_coroutine_threadsafe(doubled(t * per_thread + i), loop).get();
            }
            if (++finished_threads == threads) {
                loop.call_soon_threadsafe([&all_done] { all_done.set_result(); });
            }
        });
    }
    co_await asyncio::wait_for(all_done, 30s);
    for (auto& worker : workers) worker.join();
    constexpr int n = threads * per_thread;
    EXPECT_EQ(sum.load(), n * (n - 1));
}
