#include <algorithm>
#include <chrono>
#include <cstdint>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

#include "support/asyncio_test.hpp"
#include "support/co_assert.hpp"
#include <asyncio/sleep.hpp>

using namespace std::chrono_literals;

namespace {

asyncio::Task<> sleep_for(asyncio::Duration delay) { co_await asyncio::sleep(delay); }

asyncio::Task<> record_steps(std::string name, int steps, std::vector<std::string>& log) {
    for (int i = 0; i < steps; ++i) {
        log.push_back(name + std::to_string(i));
        co_await asyncio::sleep(0s);
    }
}

asyncio::Task<> sleep_then_record(int id, asyncio::Duration delay, std::vector<int>& woke,
                                  std::vector<asyncio::Duration>& woke_after,
                                  asyncio::TimePoint start) {
    co_await asyncio::sleep(delay);
    woke.push_back(id);
    woke_after.push_back(asyncio::get_running_loop().time() - start);
}

}  // namespace

ASYNCIO_TEST(Sleep, SleepTakesExactlyItsDurationInLoopTime) {
    auto& loop = asyncio::get_running_loop();
    const auto start = loop.time();
    co_await asyncio::sleep(30s);
    EXPECT_EQ(loop.time() - start, 30s);
    co_await asyncio::sleep(1ns);
    EXPECT_EQ(loop.time() - start, 30s + 1ns);
    co_await asyncio::sleep(24h);
    EXPECT_EQ(loop.time() - start, 24h + 30s + 1ns);
}

ASYNCIO_TEST(Sleep, SleepZeroDoesNotAdvanceLoopTime) {
    auto& loop = asyncio::get_running_loop();
    const auto start = loop.time();
    loop.call_later(1h, [] {});  // a timer the idle clock could jump to
    for (int i = 0; i < 10; ++i) co_await asyncio::sleep(0s);
    EXPECT_EQ(loop.time(), start);
}

ASYNCIO_TEST(Sleep, SleepZeroYieldsExactlyOnceToOtherReadyTasks) {
    std::vector<std::string> log;
    auto a = asyncio::create_task(record_steps("A", 3, log));
    auto b = asyncio::create_task(record_steps("B", 3, log));
    co_await a;
    co_await b;
    EXPECT_EQ(log, (std::vector<std::string>{"A0", "B0", "A1", "B1", "A2", "B2"}));
}

ASYNCIO_TEST(Sleep, SleepZeroLetsAReadyCallbackRunBeforeResuming) {
    auto& loop = asyncio::get_running_loop();
    std::vector<std::string> log;
    loop.call_soon([&] { log.push_back("callback"); });
    co_await asyncio::sleep(0s);
    log.push_back("task");
    EXPECT_EQ(log, (std::vector<std::string>{"callback", "task"}));
}

ASYNCIO_TEST(Sleep, NegativeSleepBehavesLikeSleepZero) {
    auto& loop = asyncio::get_running_loop();
    const auto start = loop.time();
    bool other_ran = false;
    loop.call_soon([&] { other_ran = true; });
    co_await asyncio::sleep(-5s);
    EXPECT_TRUE(other_ran);
    EXPECT_EQ(loop.time(), start);
}

ASYNCIO_TEST(Sleep, ConcurrentSleepsWakeInDeadlineOrder) {
    auto& loop = asyncio::get_running_loop();
    const auto start = loop.time();
    constexpr int count = 200;
    std::vector<asyncio::Duration> delays;
    std::uint32_t seed = 12345;  // a fixed LCG: the same delays every run, with duplicates
    for (int i = 0; i < count; ++i) {
        seed = seed * 1664525u + 1013904223u;
        delays.push_back(std::chrono::milliseconds((seed >> 8) % 50));
    }
    std::vector<int> woke;
    std::vector<asyncio::Duration> woke_after;
    std::vector<asyncio::TaskHandle<>> tasks;
    for (int i = 0; i < count; ++i) {
        tasks.push_back(asyncio::create_task(
            sleep_then_record(i, delays[static_cast<std::size_t>(i)], woke, woke_after, start)));
    }
    for (auto& task : tasks) co_await task;

    std::vector<int> expected(count);
    std::iota(expected.begin(), expected.end(), 0);
    // By deadline; equal deadlines in the order the sleeps started.
    std::stable_sort(expected.begin(), expected.end(), [&](int x, int y) {
        return delays[static_cast<std::size_t>(x)] < delays[static_cast<std::size_t>(y)];
    });
    EXPECT_EQ(woke, expected);
    CO_ASSERT_EQ(woke_after.size(), static_cast<std::size_t>(count));
    for (std::size_t i = 0; i < woke.size(); ++i) {
        EXPECT_EQ(woke_after[i], delays[static_cast<std::size_t>(woke[i])]) << "task " << woke[i];
    }
}

ASYNCIO_TEST(Sleep, ManySleepsWithTheSameDeadlineWakeInStartOrder) {
    std::vector<int> woke;
    auto sleeper = [&](int id) -> asyncio::Task<> {
        co_await asyncio::sleep(1s);
        woke.push_back(id);
    };
    std::vector<asyncio::TaskHandle<>> tasks;
    for (int i = 0; i < 50; ++i) tasks.push_back(asyncio::create_task(sleeper(i)));
    for (auto& task : tasks) co_await task;
    std::vector<int> expected(50);
    std::iota(expected.begin(), expected.end(), 0);
    EXPECT_EQ(woke, expected);
}

ASYNCIO_TEST(Sleep, CancelledSleepResumesAtOnceWithCancelledError) {
    auto& loop = asyncio::get_running_loop();
    const auto start = loop.time();
    asyncio::TimePoint caught_at{};
    auto sleeper = [&]() -> asyncio::Task<> {
        try {
            co_await asyncio::sleep(1h);
        } catch (const asyncio::CancelledError&) {
            caught_at = loop.time();
            throw;
        }
    };
    auto task = asyncio::create_task(sleeper());
    co_await asyncio::sleep(1s);
    task.cancel();
    EXPECT_THROW(co_await task, asyncio::CancelledError);
    EXPECT_EQ(caught_at - start, 1s);  // not at the old deadline
    EXPECT_EQ(loop.time() - start, 1s);
}

ASYNCIO_TEST(Sleep, CancelledSleepRemovesItsTimer) {
    // If the cancelled sleep left its timer in the heap, the idle loop would jump the
    // manual clock to that deadline (and wake a finished task). Wait on something that is
    // not a timer, a post from another thread, so the only timer could be the stale one.
    auto& loop = asyncio::get_running_loop();
    const auto start = loop.time();
    auto task = asyncio::create_task(sleep_for(5s));
    co_await asyncio::sleep(1s);
    task.cancel();
    EXPECT_THROW(co_await task, asyncio::CancelledError);

    asyncio::Future<void> posted;
    std::thread poster([&] {
        std::this_thread::sleep_for(20ms);
        loop.call_soon_threadsafe([&posted] { posted.set_result(); });
    });
    co_await posted;
    poster.join();
    EXPECT_EQ(loop.time() - start, 1s);
}

ASYNCIO_TEST(Sleep, CancelWhileTheSleepIsDueRaisesCancelledError) {
    // The timer fired and the task is queued to resume; a cancel arriving now still wins.
    auto& loop = asyncio::get_running_loop();
    auto sleeper = []() -> asyncio::Task<int> {
        co_await asyncio::sleep(1s);
        co_return 1;
    };
    auto task = asyncio::create_task(sleeper());
    // Due at the same time as the sleep and scheduled before it (the sleeper starts its
    // sleep in the next iteration, at the same loop time): in the iteration where both
    // expire, the timer pass first queues this callback, then wakes the task, so the cancel
    // lands after the wake-up and before the task resumes.
    loop.call_later(1s, [task] { EXPECT_TRUE(task.cancel()); });
    EXPECT_THROW(co_await task, asyncio::CancelledError);
}

ASYNCIO_TEST(Sleep, SleepAcceptsADoubleDuration) {
    auto& loop = asyncio::get_running_loop();
    const auto start = loop.time();
    co_await asyncio::sleep(std::chrono::duration<double>(0.25));
    EXPECT_EQ(loop.time() - start, 250ms);
    co_await asyncio::sleep(std::chrono::duration<double, std::milli>(1.5));
    EXPECT_EQ(loop.time() - start, 251500us);
}

ASYNCIO_TEST(Sleep, FractionsOfANanosecondRoundUp) {
    auto& loop = asyncio::get_running_loop();
    const auto start = loop.time();
    co_await asyncio::sleep(std::chrono::duration<double, std::nano>(0.25));
    EXPECT_EQ(loop.time() - start, 1ns);
}

ASYNCIO_TEST(Sleep, SleepAcceptsCoarseDurationTypes) {
    auto& loop = asyncio::get_running_loop();
    const auto start = loop.time();
    co_await asyncio::sleep(std::chrono::minutes(2));
    co_await asyncio::sleep(std::chrono::hours(1));
    EXPECT_EQ(loop.time() - start, 62min);
}

ASYNCIO_TEST(Sleep, ASleepingTaskLetsOthersRun) {
    auto& loop = asyncio::get_running_loop();
    const auto start = loop.time();
    int ticks = 0;
    auto ticker = [&]() -> asyncio::Task<> {
        for (int i = 0; i < 10; ++i) {
            co_await asyncio::sleep(100ms);
            ++ticks;
        }
    };
    auto task = asyncio::create_task(ticker());
    co_await asyncio::sleep(550ms);
    EXPECT_EQ(ticks, 5);
    co_await task;
    EXPECT_EQ(ticks, 10);
    EXPECT_EQ(loop.time() - start, 1s);
}
