#pragma once

// Test helpers: ASYNCIO_TEST runs a coroutine body on a fresh loop with a ManualClock and
// checks afterwards that nothing leaked (coroutine frames, file descriptors).

#include <gtest/gtest.h>

#include <asyncio/asyncio.hpp>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "support/co_assert.hpp"

namespace asyncio::testing {

/// Number of open file descriptors of this process.
std::size_t open_fd_count();

/// Captures everything logged while alive (the log sink is restored on destruction).
class LogCapture {
public:
    LogCapture();
    ~LogCapture();
    LogCapture(const LogCapture&) = delete;
    LogCapture& operator=(const LogCapture&) = delete;

    std::vector<std::string> lines() const;
    /// True if some logged line contains `text`.
    bool contains(const std::string& text) const;
    std::string joined() const;

private:
    struct State;
    std::shared_ptr<State> state_;
    LogSink previous_;
};

/// Checks on destruction that coroutine frames and descriptors are back to where they
/// were at construction.
class LeakCheck {
public:
    /// `frames_to_be_freed`: frames alive now that the checked code will free (the body
    /// of a test).
    explicit LeakCheck(std::size_t frames_to_be_freed = 0);
    ~LeakCheck();

private:
    std::size_t frames_;
    std::size_t fds_;
};

struct TestOptions {
    bool debug = false;
    bool real_clock = false;
};

/// Runs `body` with asyncio::run on a ManualClock (unless real_clock), inside a LeakCheck.
void run_test(Task<> body, TestOptions options = {});

/// Awaits `task` for at most an hour of loop time (an instant on the test clock), so that a
/// lost wake-up fails the test instead of hanging it.
Task<> finishes(TaskHandle<> task);

/// The ManualClock of the loop running the current test (fails the test without one).
ManualClock& manual_clock();

}  // namespace asyncio::testing

#define ASYNCIO_TEST_WITH(suite, name, options)                                  \
    static ::asyncio::Task<> asyncio_test_body_##suite##_##name();               \
    TEST(suite, name) {                                                          \
        ::asyncio::testing::run_test(asyncio_test_body_##suite##_##name(), options); \
    }                                                                            \
    static ::asyncio::Task<> asyncio_test_body_##suite##_##name()

/// A coroutine test on a fresh loop with a ManualClock: `sleep(30s)` returns at once.
#define ASYNCIO_TEST(suite, name) ASYNCIO_TEST_WITH(suite, name, (::asyncio::testing::TestOptions{}))

