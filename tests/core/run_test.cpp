#include <atomic>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <typeinfo>
#include <vector>

#include <signal.h>
#include <unistd.h>

#include "support/asyncio_test.hpp"
#include "support/co_assert.hpp"
#include <asyncio/run.hpp>

using namespace std::chrono_literals;

namespace {

struct CustomError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

struct DerivedError : CustomError {
    using CustomError::CustomError;
};

asyncio::RunOptions manual_clock_options() {
    asyncio::RunOptions options;
    options.clock = std::make_shared<asyncio::ManualClock>();
    return options;
}

asyncio::Task<int> value_after(asyncio::Duration delay, int value) {
    co_await asyncio::sleep(delay);
    co_return value;
}

asyncio::Task<int> throw_after(asyncio::Duration delay) {
    co_await asyncio::sleep(delay);
    throw DerivedError("derived failure");
}

asyncio::Task<> sleep_for(asyncio::Duration delay) { co_await asyncio::sleep(delay); }

bool sigint_has_default_disposition() {
    struct sigaction current {};
    return ::sigaction(SIGINT, nullptr, &current) == 0 && current.sa_handler == SIG_DFL;
}

}  // namespace

// ---- results ----

TEST(Run, RunReturnsTheTasksValue) {
    asyncio::testing::LeakCheck leaks;
    EXPECT_EQ(asyncio::run(value_after(1s, 42), manual_clock_options()), 42);
}

TEST(Run, RunOfAVoidTaskReturnsAfterIt) {
    asyncio::testing::LeakCheck leaks;
    bool ran = false;
    auto body = [&]() -> asyncio::Task<> {
        co_await asyncio::sleep(1s);
        ran = true;
    };
    asyncio::run(body(), manual_clock_options());
    EXPECT_TRUE(ran);
}

TEST(Run, RunReturnsAMoveOnlyValue) {
    asyncio::testing::LeakCheck leaks;
    auto body = []() -> asyncio::Task<std::unique_ptr<int>> {
        co_await asyncio::sleep(1s);
        co_return std::make_unique<int>(5);
    };
    std::unique_ptr<int> value = asyncio::run(body(), manual_clock_options());
    ASSERT_NE(value, nullptr);
    EXPECT_EQ(*value, 5);
}

TEST(Run, RunRethrowsTheExceptionWithItsExactType) {
    asyncio::testing::LeakCheck leaks;
    try {
        asyncio::run(throw_after(1s), manual_clock_options());
        ADD_FAILURE() << "run() returned";
    } catch (const std::exception& e) {
        EXPECT_EQ(typeid(e), typeid(DerivedError));
        EXPECT_STREQ(e.what(), "derived failure");
    }
}

TEST(Run, RunRethrowsAnExceptionThatIsNotAStdException) {
    asyncio::testing::LeakCheck leaks;
    auto body = []() -> asyncio::Task<> {
        co_await asyncio::sleep(1s);
        throw 17;
    };
    try {
        asyncio::run(body(), manual_clock_options());
        ADD_FAILURE() << "run() returned";
    } catch (int value) {
        EXPECT_EQ(value, 17);
    }
}

TEST(Run, RunOfACancelledMainTaskThrowsCancelledError) {
    asyncio::testing::LeakCheck leaks;
    auto body = []() -> asyncio::Task<> {
        asyncio::current_task().cancel("self-cancelled");
        co_await asyncio::sleep(1s);
    };
    try {
        asyncio::run(body(), manual_clock_options());
        ADD_FAILURE() << "run() returned";
    } catch (const asyncio::CancelledError& e) {
        EXPECT_EQ(e.message(), "self-cancelled");
    }
}

TEST(Run, RunUsesTheGivenOptions) {
    asyncio::testing::LeakCheck leaks;
    auto body = []() -> asyncio::Task<bool> { co_return asyncio::get_running_loop().get_debug(); };
    asyncio::RunOptions options = manual_clock_options();
    options.debug = true;
    EXPECT_TRUE(asyncio::run(body(), options));
    EXPECT_FALSE(asyncio::run(body(), manual_clock_options()));
}

TEST(Run, NoLoopIsRunningAfterRunReturns) {
    asyncio::run(value_after(1s, 1), manual_clock_options());
    EXPECT_THROW(asyncio::get_running_loop(), asyncio::RuntimeError);
    EXPECT_FALSE(asyncio::current_task());
}

ASYNCIO_TEST(Run, RunInsideRunThrowsRuntimeError) {
    EXPECT_THROW(asyncio::run(value_after(1s, 1)), asyncio::RuntimeError);
    // The outer loop is unaffected.
    EXPECT_EQ(co_await value_after(1s, 2), 2);
}

ASYNCIO_TEST(Run, RunnerRunInsideARunningLoopThrowsRuntimeError) {
    asyncio::Runner runner;
    EXPECT_THROW(runner.run(value_after(1s, 1)), asyncio::RuntimeError);
    co_return;
}

// ---- Runner ----

TEST(Run, RunnerRunsSeveralTasksOnTheSameLoop) {
    asyncio::testing::LeakCheck leaks;
    asyncio::Runner runner(manual_clock_options());
    auto loop_address = []() -> asyncio::Task<asyncio::EventLoop*> {
        co_await asyncio::sleep(1s);
        co_return &asyncio::get_running_loop();
    };
    asyncio::EventLoop* first = runner.run(loop_address());
    asyncio::EventLoop* second = runner.run(loop_address());
    EXPECT_EQ(first, second);
    EXPECT_EQ(first, &runner.get_loop());
    EXPECT_EQ(runner.run(value_after(1s, 3)), 3);
    runner.close();
}

TEST(Run, RunnerLoopTimeContinuesAcrossRuns) {
    asyncio::testing::LeakCheck leaks;
    asyncio::Runner runner(manual_clock_options());
    auto& loop = runner.get_loop();
    const auto start = loop.time();
    runner.run(sleep_for(2s));
    runner.run(sleep_for(3s));
    EXPECT_EQ(loop.time() - start, 5s);
}

TEST(Run, RunnerKeepsBackgroundTasksRunningBetweenRuns) {
    asyncio::testing::LeakCheck leaks;
    asyncio::Runner runner(manual_clock_options());
    int ticks = 0;
    bool cancelled_at_close = false;
    auto ticker = [&]() -> asyncio::Task<> {
        try {
            for (;;) {
                co_await asyncio::sleep(1s);
                ++ticks;
            }
        } catch (const asyncio::CancelledError&) {
            cancelled_at_close = true;
            throw;
        }
    };
    auto start_ticker = [&]() -> asyncio::Task<> {
        asyncio::create_task(ticker());
        co_return;
    };
    runner.run(start_ticker());
    EXPECT_EQ(ticks, 0);
    runner.run(sleep_for(5500ms));
    EXPECT_EQ(ticks, 5);
    EXPECT_FALSE(cancelled_at_close);
    runner.close();
    EXPECT_TRUE(cancelled_at_close);
    EXPECT_EQ(ticks, 5);
}

TEST(Run, RunnerCloseIsIdempotentAndTheRunnerCannotBeUsedAfterwards) {
    asyncio::testing::LeakCheck leaks;
    asyncio::Runner runner(manual_clock_options());
    EXPECT_EQ(runner.run(value_after(1s, 1)), 1);
    runner.close();
    EXPECT_NO_THROW(runner.close());
    EXPECT_THROW(runner.get_loop(), asyncio::RuntimeError);
    EXPECT_THROW(runner.run(value_after(1s, 1)), asyncio::RuntimeError);
}

TEST(Run, RunnerThatNeverRanClosesCleanly) {
    asyncio::testing::LeakCheck leaks;
    asyncio::Runner runner;
    runner.close();
    EXPECT_THROW(runner.get_loop(), asyncio::RuntimeError);
}

TEST(Run, RunnerGetLoopCreatesTheLoopBeforeTheFirstRun) {
    asyncio::testing::LeakCheck leaks;
    asyncio::Runner runner(manual_clock_options());
    asyncio::EventLoop& loop = runner.get_loop();
    EXPECT_FALSE(loop.is_running());
    EXPECT_FALSE(loop.is_closed());
    EXPECT_EQ(&runner.get_loop(), &loop);
}

// ---- shutdown ----

TEST(Run, RunCancelsPendingTasksAndTheirCleanupRunsBeforeItReturns) {
    asyncio::testing::LeakCheck leaks;
    struct Guard {
        bool& flag;
        ~Guard() { flag = true; }
    };
    bool caught = false;
    bool destructor_ran = false;
    bool awaited_cleanup_finished = false;
    bool never_started_body_ran = false;
    auto catches = [&]() -> asyncio::Task<> {
        try {
            co_await asyncio::sleep(1h);
        } catch (const asyncio::CancelledError&) {
            caught = true;
            throw;
        }
    };
    auto raii = [&]() -> asyncio::Task<> {
        Guard guard{destructor_ran};
        co_await asyncio::sleep(1h);
    };
    auto slow_cleanup = [&]() -> asyncio::Task<> {
        bool cancelled = false;
        try {
            co_await asyncio::sleep(1h);
        } catch (const asyncio::CancelledError&) {
            cancelled = true;
        }
        if (cancelled) {
            co_await asyncio::sleep(1s);  // cleanup that itself awaits
            awaited_cleanup_finished = true;
        }
    };
    auto never_started = [&]() -> asyncio::Task<> {
        never_started_body_ran = true;
        co_return;
    };
    auto body = [&]() -> asyncio::Task<int> {
        asyncio::create_task(catches());
        asyncio::create_task(raii());
        asyncio::create_task(slow_cleanup());
        co_await asyncio::sleep(1s);
        asyncio::create_task(never_started());  // still waiting for its first step
        co_return 7;
    };
    EXPECT_EQ(asyncio::run(body(), manual_clock_options()), 7);
    EXPECT_TRUE(caught);
    EXPECT_TRUE(destructor_ran);
    EXPECT_TRUE(awaited_cleanup_finished);
    EXPECT_FALSE(never_started_body_ran);
}

TEST(Run, ErrorRaisedByAPendingTaskDuringShutdownIsReported) {
    asyncio::testing::LeakCheck leaks;
    asyncio::testing::LogCapture log;
    auto bad_cleanup = []() -> asyncio::Task<> {
        bool cancelled = false;
        try {
            co_await asyncio::sleep(1h);
        } catch (const asyncio::CancelledError&) {
            cancelled = true;
        }
        if (cancelled) throw CustomError("cleanup failed");
    };
    auto body = [&]() -> asyncio::Task<int> {
        asyncio::create_task(bad_cleanup());
        co_await asyncio::sleep(1s);
        co_return 1;
    };
    EXPECT_EQ(asyncio::run(body(), manual_clock_options()), 1);
    EXPECT_TRUE(log.contains("unhandled exception during asyncio::run() shutdown")) << log.joined();
    EXPECT_TRUE(log.contains("cleanup failed")) << log.joined();
}

TEST(Run, RunShutsDownTheDefaultExecutor) {
    asyncio::testing::LeakCheck leaks;
    std::atomic<bool> job_finished{false};
    auto body = [&]() -> asyncio::Task<> {
        // Started and never awaited: run() must still wait for it before returning.
        (void)asyncio::get_running_loop().run_in_executor([&job_finished] {
            std::this_thread::sleep_for(30ms);
            job_finished = true;
        });
        co_return;
    };
    asyncio::run(body(), manual_clock_options());
    EXPECT_TRUE(job_finished);
}

// ---- SIGINT ----

TEST(Run, SigintCancelsTheMainTaskAndRunThrowsKeyboardInterrupt) {
    if (!sigint_has_default_disposition()) GTEST_SKIP() << "SIGINT is not SIG_DFL here";
    asyncio::testing::LeakCheck leaks;
    std::string cancel_message;
    bool handler_installed = false;
    auto body = [&]() -> asyncio::Task<int> {
        co_await asyncio::sleep(10ms);
        handler_installed = !sigint_has_default_disposition();
        if (!handler_installed) co_return 0;  // raising now would kill the test binary
        ::raise(SIGINT);
        try {
            co_await asyncio::sleep(1h);
        } catch (const asyncio::CancelledError& e) {
            cancel_message = e.message();
            throw;
        }
        co_return 1;
    };
    EXPECT_THROW(asyncio::run(body(), manual_clock_options()), asyncio::KeyboardInterrupt);
    EXPECT_TRUE(handler_installed);
    EXPECT_FALSE(cancel_message.empty());
    EXPECT_TRUE(sigint_has_default_disposition());  // restored after run()
}

TEST(Run, SigintCancelsTheMainTaskWithARealClock) {
    if (!sigint_has_default_disposition()) GTEST_SKIP() << "SIGINT is not SIG_DFL here";
    asyncio::testing::LeakCheck leaks;
    auto body = []() -> asyncio::Task<> {
        co_await asyncio::sleep(5ms);
        if (sigint_has_default_disposition()) co_return;  // would kill the binary
        ::kill(::getpid(), SIGINT);
        co_await asyncio::sleep(30s);
    };
    const auto started = std::chrono::steady_clock::now();
    EXPECT_THROW(asyncio::run(body()), asyncio::KeyboardInterrupt);
    EXPECT_LT(std::chrono::steady_clock::now() - started, 10s);
}

TEST(Run, MainTaskThatCatchesTheSigintCancellationMakesRunReturnItsValue) {
    if (!sigint_has_default_disposition()) GTEST_SKIP() << "SIGINT is not SIG_DFL here";
    asyncio::testing::LeakCheck leaks;
    auto body = []() -> asyncio::Task<int> {
        co_await asyncio::sleep(10ms);
        if (sigint_has_default_disposition()) co_return -1;
        ::raise(SIGINT);
        try {
            co_await asyncio::sleep(1h);
        } catch (const asyncio::CancelledError&) {
            co_return 99;
        }
        co_return 0;
    };
    EXPECT_EQ(asyncio::run(body(), manual_clock_options()), 99);
    EXPECT_TRUE(sigint_has_default_disposition());
}

TEST(Run, RunDoesNotTakeSigintWhenItIsNotTheDefaultDisposition) {
    if (!sigint_has_default_disposition()) GTEST_SKIP() << "SIGINT is not SIG_DFL here";
    asyncio::testing::LeakCheck leaks;
    struct sigaction ignore {};
    ignore.sa_handler = SIG_IGN;
    sigemptyset(&ignore.sa_mask);
    struct sigaction previous {};
    ASSERT_EQ(::sigaction(SIGINT, &ignore, &previous), 0);
    auto body = []() -> asyncio::Task<int> {
        struct sigaction during {};
        ::sigaction(SIGINT, nullptr, &during);
        EXPECT_EQ(during.sa_handler, SIG_IGN);  // left alone
        ::raise(SIGINT);                        // ignored
        co_await asyncio::sleep(1s);
        co_return 3;
    };
    EXPECT_EQ(asyncio::run(body(), manual_clock_options()), 3);
    struct sigaction after {};
    ::sigaction(SIGINT, &previous, &after);
    EXPECT_EQ(after.sa_handler, SIG_IGN);
}

TEST(Run, RunOffTheMainThreadDoesNotTakeSigint) {
    if (!sigint_has_default_disposition()) GTEST_SKIP() << "SIGINT is not SIG_DFL here";
    bool default_during_run = false;
    std::thread worker([&] {
        auto body = [&]() -> asyncio::Task<> {
            default_during_run = sigint_has_default_disposition();
            co_await asyncio::sleep(1s);
        };
        asyncio::run(body(), manual_clock_options());
    });
    worker.join();
    EXPECT_TRUE(default_during_run);
}

TEST(RunDeathTest, SecondSigintKillsTheProcess) {
    if (!sigint_has_default_disposition()) GTEST_SKIP() << "SIGINT is not SIG_DFL here";
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    EXPECT_EXIT(
        {
            auto body = []() -> asyncio::Task<> {
                co_await asyncio::sleep(10ms);
                ::raise(SIGINT);
                bool cancelled = false;
                try {
                    co_await asyncio::sleep(1h);
                } catch (const asyncio::CancelledError&) {
                    cancelled = true;
                }
                if (cancelled) {
                    ::raise(SIGINT);  // a second Ctrl-C while cleaning up
                    co_await asyncio::sleep(1h);
                }
            };
            asyncio::run(body(), manual_clock_options());
            std::exit(0);  // not reached
        },
        ::testing::KilledBySignal(SIGINT), "");
}
