#include <asyncio/timeout.hpp>

#include "support/asyncio_test.hpp"

using namespace std::chrono_literals;

namespace {
asyncio::Task<int> value_after(int value, asyncio::Duration delay) {
    co_await asyncio::sleep(delay);
    co_return value;
}
}  // namespace

ASYNCIO_TEST(Timeout, BodyFinishingInTimeGivesItsValue) {
    EXPECT_EQ(co_await asyncio::timeout(5s, value_after(3, 1s)), 3);
}

ASYNCIO_TEST(Timeout, DeadlineCancelsBodyAndThrowsTimeoutError) {
    auto& loop = asyncio::get_running_loop();
    const auto start = loop.time();
    bool cleaned = false;
    auto body = [&](asyncio::Timeout&) -> asyncio::Task<> {
        try {
            co_await asyncio::sleep(1h);
        } catch (const asyncio::CancelledError&) {
            cleaned = true;
            throw;
        }
    };
    EXPECT_THROW(co_await asyncio::timeout(2s, body), asyncio::TimeoutError);
    EXPECT_TRUE(cleaned);
    EXPECT_EQ(loop.time() - start, 2s);
    EXPECT_EQ(asyncio::current_task().cancelling(), 0u);
}

ASYNCIO_TEST(Timeout, RescheduleMovesTheDeadline) {
    auto& loop = asyncio::get_running_loop();
    const auto start = loop.time();
    int v = co_await asyncio::timeout(1s, [&](asyncio::Timeout& t) -> asyncio::Task<int> {
        t.reschedule(loop.time() + 10s);
        co_return co_await value_after(4, 5s);
    });
    EXPECT_EQ(v, 4);
    EXPECT_EQ(loop.time() - start, 5s);
}

ASYNCIO_TEST(WaitFor, TimesOutAndCancelsInner) {
    auto inner = asyncio::create_task(value_after(1, 1h));
    EXPECT_THROW(co_await asyncio::wait_for(inner, 1s), asyncio::TimeoutError);
    EXPECT_TRUE(inner.cancelled());
}

ASYNCIO_TEST(WaitFor, ZeroTimeoutOnDoneTaskGivesResult) {
    auto inner = asyncio::create_task(value_after(9, 0s));
    co_await asyncio::sleep(1s);
    EXPECT_EQ(co_await asyncio::wait_for(inner, 0s), 9);
}
