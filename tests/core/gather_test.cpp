#include <asyncio/gather.hpp>

#include <memory>
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

asyncio::Task<> nothing_after(asyncio::Duration delay) { co_await asyncio::sleep(delay); }

asyncio::Task<int> fail_after(asyncio::Duration delay, std::string what) {
    co_await asyncio::sleep(delay);
    throw std::runtime_error(what);
}

}  // namespace

ASYNCIO_TEST(Gather, ResultsComeInArgumentOrder) {
    auto& loop = asyncio::get_running_loop();
    const auto start = loop.time();
    auto [a, b, c] = co_await asyncio::gather(value_after(1, 3s), value_after(2, 1s),
                                               nothing_after(2s));
    EXPECT_EQ(a, 1);
    EXPECT_EQ(b, 2);
    EXPECT_EQ(c, std::monostate{});
    EXPECT_EQ(loop.time() - start, 3s);
}

ASYNCIO_TEST(Gather, RangeGivesVectorInOrder) {
    std::vector<asyncio::Task<int>> tasks;
    for (int i = 0; i < 10; ++i) tasks.push_back(value_after(i, std::chrono::seconds(10 - i)));
    auto values = co_await asyncio::gather(tasks);
    CO_ASSERT_EQ(values.size(), 10u);
    for (int i = 0; i < 10; ++i) EXPECT_EQ(values[static_cast<std::size_t>(i)], i);
}

ASYNCIO_TEST(Gather, FirstExceptionPropagatesAndOthersKeepRunning) {
    auto& loop = asyncio::get_running_loop();
    const auto start = loop.time();
    auto slow = asyncio::create_task(value_after(7, 5s));
    EXPECT_THROW(co_await asyncio::gather(fail_after(1s, "boom"), slow), std::runtime_error);
    EXPECT_EQ(loop.time() - start, 1s);
    EXPECT_FALSE(slow.done());
    EXPECT_EQ(co_await slow, 7);
}

ASYNCIO_TEST(Gather, ReturnExceptionsCollectsEveryOutcome) {
    auto [a, b] = co_await asyncio::gather(asyncio::return_exceptions, value_after(1, 1s),
                                           fail_after(2s, "bad"));
    CO_ASSERT_TRUE(a.has_value());
    EXPECT_EQ(a.value(), 1);
    EXPECT_TRUE(b.holds<std::runtime_error>());
}

ASYNCIO_TEST(Gather, CancellingTheGatherCancelsChildren) {
    auto child1 = asyncio::create_task(value_after(1, 1h));
    auto child2 = asyncio::create_task(value_after(2, 1h));
    auto outer = asyncio::create_task([](auto a, auto b) -> asyncio::Task<> {
        co_await asyncio::gather(a, b);
    }(child1, child2));
    co_await asyncio::sleep(1s);
    outer.cancel();
    EXPECT_THROW(co_await outer, asyncio::CancelledError);
    EXPECT_TRUE(child1.cancelled());
    EXPECT_TRUE(child2.cancelled());
}

ASYNCIO_TEST(Gather, MoveOnlyResults) {
    auto make = []() -> asyncio::Task<std::unique_ptr<int>> {
        co_await asyncio::sleep(1ms);
        co_return std::make_unique<int>(5);
    };
    auto [p, q] = co_await asyncio::gather(make(), make());
    EXPECT_EQ(*p + *q, 10);
}
