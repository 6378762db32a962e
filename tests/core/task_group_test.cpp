#include <asyncio/task_group.hpp>

#include <stdexcept>

#include "support/asyncio_test.hpp"

using namespace std::chrono_literals;

namespace {
asyncio::Task<int> value_after(int value, asyncio::Duration delay) {
    co_await asyncio::sleep(delay);
    co_return value;
}
asyncio::Task<> fail_after(asyncio::Duration delay) {
    co_await asyncio::sleep(delay);
    throw std::runtime_error("child failed");
}
}  // namespace

ASYNCIO_TEST(TaskGroup, WaitsForEveryChild) {
    auto& loop = asyncio::get_running_loop();
    const auto start = loop.time();
    asyncio::TaskHandle<int> a, b;
    co_await asyncio::task_group([&](asyncio::TaskGroup& tg) -> asyncio::Task<> {
        a = tg.create_task(value_after(1, 1s));
        b = tg.create_task(value_after(2, 2s));
        co_return;
    });
    EXPECT_EQ(a.result() + b.result(), 3);
    EXPECT_EQ(loop.time() - start, 2s);
}

ASYNCIO_TEST(TaskGroup, ChildFailureCancelsSiblingsAndBody) {
    asyncio::TaskHandle<int> sibling;
    bool body_cancelled = false;
    try {
        co_await asyncio::task_group([&](asyncio::TaskGroup& tg) -> asyncio::Task<> {
            sibling = tg.create_task(value_after(1, 1h));
            tg.create_task(fail_after(1s));
            try {
                co_await asyncio::sleep(1h);
            } catch (const asyncio::CancelledError&) {
                body_cancelled = true;
                throw;
            }
        });
        ADD_FAILURE() << "no ExceptionGroup";
    } catch (const asyncio::ExceptionGroup& group) {
        EXPECT_EQ(group.size(), 1u);
        EXPECT_EQ(group.count<std::runtime_error>(), 1u);
    }
    EXPECT_TRUE(sibling.cancelled());
    EXPECT_TRUE(body_cancelled);
    EXPECT_EQ(asyncio::current_task().cancelling(), 0u);
}
