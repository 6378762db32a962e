#include <asyncio/task.hpp>

#include "support/asyncio_test.hpp"

using namespace std::chrono_literals;

namespace {

asyncio::Task<int> add(int a, int b) {
    co_await asyncio::sleep(1s);
    co_return a + b;
}

asyncio::Task<int> fail_after(asyncio::Duration delay) {
    co_await asyncio::sleep(delay);
    throw std::runtime_error("boom");
}

}  // namespace

ASYNCIO_TEST(Task, AwaitGivesResult) {
    const auto start = asyncio::get_running_loop().time();
    EXPECT_EQ(co_await add(2, 3), 5);
    EXPECT_EQ(asyncio::get_running_loop().time() - start, 1s);
}

ASYNCIO_TEST(Task, AwaitRethrowsException) {
    EXPECT_THROW(co_await fail_after(1ms), std::runtime_error);
    co_return;
}

ASYNCIO_TEST(Task, CreateTaskRunsConcurrently) {
    auto& loop = asyncio::get_running_loop();
    const auto start = loop.time();
    auto a = asyncio::create_task(add(1, 1));
    auto b = asyncio::create_task(add(2, 2));
    EXPECT_EQ(co_await a, 2);
    EXPECT_EQ(co_await b, 4);
    EXPECT_EQ(loop.time() - start, 1s);
}

ASYNCIO_TEST(Task, CancelRaisesAtAwaitPoint) {
    bool cleaned_up = false;
    auto sleeper = [&]() -> asyncio::Task<> {
        try {
            co_await asyncio::sleep(1h);
        } catch (const asyncio::CancelledError&) {
            cleaned_up = true;
            throw;
        }
    };
    auto task = asyncio::create_task(sleeper());
    co_await asyncio::sleep(0s);
    EXPECT_TRUE(task.cancel("stop"));
    EXPECT_THROW(co_await task, asyncio::CancelledError);
    EXPECT_TRUE(task.cancelled());
    EXPECT_TRUE(cleaned_up);
}

ASYNCIO_TEST(Task, AwaitingTwiceThrows) {
    auto task = add(1, 2);
    EXPECT_EQ(co_await task, 3);
    EXPECT_THROW(co_await task, asyncio::InvalidStateError);
}

ASYNCIO_TEST(Task, ResultBeforeDoneThrows) {
    auto task = asyncio::create_task(add(1, 2));
    EXPECT_THROW(task.result(), asyncio::InvalidStateError);
    co_await task;
    EXPECT_EQ(task.result(), 3);
}
