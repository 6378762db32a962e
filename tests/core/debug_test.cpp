// Debug mode (LoopOptions::debug or ASYNCIO_DEBUG=1): slow steps, never-awaited tasks and
// loop methods called from the wrong thread are reported.

#include <chrono>
#include <csignal>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include <stdlib.h>

#include "support/asyncio_test.hpp"
#include "support/co_assert.hpp"
#include <asyncio/asyncio.hpp>

using namespace std::chrono_literals;

namespace {

constexpr asyncio::testing::TestOptions debug_options{.debug = true, .real_clock = false};

asyncio::Task<> slow_step(asyncio::Duration took) {
    asyncio::testing::manual_clock().advance(took);  // the step "takes" this long
    co_return;
}

asyncio::Task<int> never_awaited_coroutine() { co_return 1; }

/// Sets ASYNCIO_DEBUG for its lifetime, then restores the previous value.
class ScopedDebugEnvironment {
public:
    explicit ScopedDebugEnvironment(const char* value) {
        if (const char* old = ::getenv("ASYNCIO_DEBUG")) previous_ = old;
        if (value != nullptr) {
            ::setenv("ASYNCIO_DEBUG", value, 1);
        } else {
            ::unsetenv("ASYNCIO_DEBUG");
        }
    }
    ~ScopedDebugEnvironment() {
        if (previous_) {
            ::setenv("ASYNCIO_DEBUG", previous_->c_str(), 1);
        } else {
            ::unsetenv("ASYNCIO_DEBUG");
        }
    }
    ScopedDebugEnvironment(const ScopedDebugEnvironment&) = delete;
    ScopedDebugEnvironment& operator=(const ScopedDebugEnvironment&) = delete;

private:
    std::optional<std::string> previous_;
};

bool debug_of_a_new_loop() {
    asyncio::LoopOptions options;
    options.clock = std::make_shared<asyncio::ManualClock>();
    asyncio::EventLoop loop(options);
    const bool debug = loop.get_debug();
    loop.close();
    return debug;
}

}  // namespace

// ---- slow steps ----

ASYNCIO_TEST_WITH(Debug, SlowTaskStepIsLoggedNamingTheTask, debug_options) {
    asyncio::testing::LogCapture log;
    auto task = asyncio::create_task(slow_step(200ms), "slowpoke");
    co_await task;
    EXPECT_TRUE(log.contains("slowpoke")) << log.joined();
    EXPECT_TRUE(log.contains("slow_step")) << log.joined();  // the coroutine's name
    EXPECT_TRUE(log.contains("took 0.200 seconds")) << log.joined();
}

ASYNCIO_TEST_WITH(Debug, SlowCallbackIsLogged, debug_options) {
    asyncio::testing::LogCapture log;
    asyncio::get_running_loop().call_soon([] { asyncio::testing::manual_clock().advance(150ms); });
    co_await asyncio::sleep(0s);
    EXPECT_TRUE(log.contains("took 0.150 seconds")) << log.joined();
    EXPECT_TRUE(log.contains("callback")) << log.joined();
}

ASYNCIO_TEST_WITH(Debug, StepFasterThanSlowCallbackDurationIsNotLogged, debug_options) {
    asyncio::testing::LogCapture log;
    EXPECT_EQ(asyncio::get_running_loop().slow_callback_duration(), 100ms);  // the default
    co_await asyncio::create_task(slow_step(99ms), "quick");
    EXPECT_FALSE(log.contains("quick")) << log.joined();
    EXPECT_FALSE(log.contains("took")) << log.joined();
}

ASYNCIO_TEST_WITH(Debug, SlowCallbackDurationCanBeChanged, debug_options) {
    asyncio::testing::LogCapture log;
    auto& loop = asyncio::get_running_loop();
    loop.set_slow_callback_duration(10ms);
    co_await asyncio::create_task(slow_step(20ms), "twenty");
    loop.set_slow_callback_duration(100ms);
    EXPECT_TRUE(log.contains("twenty")) << log.joined();
}

ASYNCIO_TEST(Debug, SlowStepIsNotLoggedWhenDebugIsOff) {
    asyncio::testing::LogCapture log;
    EXPECT_FALSE(asyncio::get_running_loop().get_debug());
    co_await asyncio::create_task(slow_step(500ms), "slowpoke");
    EXPECT_FALSE(log.contains("slowpoke")) << log.joined();
    EXPECT_FALSE(log.contains("took")) << log.joined();
}

ASYNCIO_TEST(Debug, SetDebugTurnsSlowStepReportsOnAndOff) {
    asyncio::testing::LogCapture log;
    auto& loop = asyncio::get_running_loop();
    loop.set_debug(true);
    EXPECT_TRUE(loop.get_debug());
    co_await asyncio::create_task(slow_step(200ms), "while-on");
    loop.set_debug(false);
    co_await asyncio::create_task(slow_step(200ms), "while-off");
    EXPECT_TRUE(log.contains("while-on")) << log.joined();
    EXPECT_FALSE(log.contains("while-off")) << log.joined();
}

// ---- never-awaited tasks ----

ASYNCIO_TEST_WITH(Debug, TaskCreatedButNeverAwaitedIsLogged, debug_options) {
    asyncio::testing::LogCapture log;
    { auto forgotten = never_awaited_coroutine(); }
    EXPECT_TRUE(log.contains("was never awaited")) << log.joined();
    EXPECT_TRUE(log.contains("never_awaited_coroutine")) << log.joined();
    co_return;
}

ASYNCIO_TEST_WITH(Debug, AwaitedOrScheduledTasksAreNotReportedAsNeverAwaited, debug_options) {
    asyncio::testing::LogCapture log;
    EXPECT_EQ(co_await never_awaited_coroutine(), 1);
    {
        auto task = never_awaited_coroutine();
        EXPECT_EQ(co_await task, 1);
    }
    co_await asyncio::create_task(never_awaited_coroutine());
    EXPECT_FALSE(log.contains("never awaited")) << log.joined();
}

ASYNCIO_TEST(Debug, NeverAwaitedTaskIsNotLoggedWhenDebugIsOff) {
    asyncio::testing::LogCapture log;
    { auto forgotten = never_awaited_coroutine(); }
    EXPECT_FALSE(log.contains("never awaited")) << log.joined();
    co_return;
}

// ---- wrong thread ----

ASYNCIO_TEST_WITH(Debug, CallSoonFromAnotherThreadThrowsNonThreadSafeOperation, debug_options) {
    auto& loop = asyncio::get_running_loop();
    std::string error;
    bool threw = false;
    std::thread([&] {
        try {
            loop.call_soon([] {});
        } catch (const asyncio::RuntimeError& e) {
            threw = true;
            error = e.what();
        }
    }).join();
    EXPECT_TRUE(threw);
    EXPECT_NE(error.find("Non-thread-safe operation"), std::string::npos) << error;
    EXPECT_NE(error.find("call_soon"), std::string::npos) << error;
    co_return;
}

ASYNCIO_TEST_WITH(Debug, OtherLoopMethodsFromAnotherThreadThrowRuntimeError, debug_options) {
    auto& loop = asyncio::get_running_loop();
    int errors = 0;
    std::thread([&] {
        auto expect_error = [&](auto&& call) {
            try {
                call();
            } catch (const asyncio::RuntimeError& e) {
                if (std::string(e.what()).find("Non-thread-safe operation") != std::string::npos) {
                    ++errors;
                }
            }
        };
        expect_error([&] { loop.call_later(1s, [] {}); });
        expect_error([&] { loop.call_at(loop.time(), [] {}); });
        expect_error([&] { loop.add_reader(0, [] {}); });
        expect_error([&] { loop.remove_reader(0); });
        expect_error([&] { loop.add_signal_handler(SIGUSR1, [] {}); });
    }).join();
    EXPECT_EQ(errors, 5);
    co_return;
}

ASYNCIO_TEST_WITH(Debug, CallSoonThreadsafeFromAnotherThreadIsAllowed, debug_options) {
    auto& loop = asyncio::get_running_loop();
    asyncio::Future<void> ran;
    std::thread([&] {
        EXPECT_NO_THROW(loop.call_soon_threadsafe([&ran] { ran.set_result(); }));
    }).join();
    co_await ran;
}

// ---- switching debug mode on ----

TEST(Debug, DebugIsOffByDefault) {
    ScopedDebugEnvironment environment(nullptr);
    EXPECT_FALSE(debug_of_a_new_loop());
}

TEST(Debug, AsyncioDebugEnvironmentVariableTurnsDebugOn) {
    ScopedDebugEnvironment environment("1");
    EXPECT_TRUE(debug_of_a_new_loop());
}

TEST(Debug, AsyncioDebugZeroOrEmptyLeavesDebugOff) {
    {
        ScopedDebugEnvironment environment("0");
        EXPECT_FALSE(debug_of_a_new_loop());
    }
    {
        ScopedDebugEnvironment environment("");
        EXPECT_FALSE(debug_of_a_new_loop());
    }
}

TEST(Debug, LoopOptionTurnsDebugOn) {
    ScopedDebugEnvironment environment(nullptr);
    asyncio::LoopOptions options;
    options.debug = true;
    options.clock = std::make_shared<asyncio::ManualClock>();
    asyncio::EventLoop loop(options);
    EXPECT_TRUE(loop.get_debug());
    loop.close();
}

TEST(Debug, AsyncioDebugEnvironmentVariableTurnsDebugOnForRun) {
    ScopedDebugEnvironment environment("1");
    asyncio::testing::LeakCheck leaks;
    auto body = []() -> asyncio::Task<bool> { co_return asyncio::get_running_loop().get_debug(); };
    asyncio::RunOptions options;
    options.clock = std::make_shared<asyncio::ManualClock>();
    EXPECT_TRUE(asyncio::run(body(), options));
}

TEST(Debug, NeverAwaitedTaskOutsideALoopIsLoggedWhenTheEnvironmentAsksForDebug) {
    ScopedDebugEnvironment environment("1");
    asyncio::testing::LogCapture log;
    { auto forgotten = never_awaited_coroutine(); }
    EXPECT_TRUE(log.contains("was never awaited")) << log.joined();
}

ASYNCIO_TEST_WITH(Debug, PendingTaskReportNamesWhereTheTaskWasCreated, debug_options) {
    asyncio::testing::LogCapture log;
    {
        asyncio::LoopOptions options;
        options.debug = true;
        options.clock = std::make_shared<asyncio::ManualClock>();
        asyncio::EventLoop other(options);
        other.create_task(never_awaited_coroutine(), "left-behind");
        other.close();
    }
    EXPECT_TRUE(log.contains("Task was destroyed but it is pending!")) << log.joined();
    EXPECT_TRUE(log.contains("left-behind")) << log.joined();
    EXPECT_TRUE(log.contains("created at")) << log.joined();
    EXPECT_TRUE(log.contains("debug_test.cpp")) << log.joined();
    co_return;
}
