#include <asyncio/shield.hpp>

#include <memory>
#include <stdexcept>
#include <string>

#include "support/asyncio_test.hpp"

using namespace std::chrono_literals;

namespace {

asyncio::Task<int> value_after(int value, asyncio::Duration delay) {
    co_await asyncio::sleep(delay);
    co_return value;
}

asyncio::Task<> set_after(bool& flag, asyncio::Duration delay) {
    co_await asyncio::sleep(delay);
    flag = true;
}

}  // namespace

ASYNCIO_TEST(Shield, ResultPassesThrough) {
    EXPECT_EQ(co_await asyncio::shield(value_after(4, 1s)), 4);
    auto handle = asyncio::create_task(value_after(5, 1s));
    EXPECT_EQ(co_await asyncio::shield(handle), 5);
    EXPECT_EQ(handle.result(), 5);
    bool done = false;
    co_await asyncio::shield(set_after(done, 1s));
    EXPECT_TRUE(done);
    auto make = []() -> asyncio::Task<std::unique_ptr<int>> {
        co_await asyncio::sleep(1s);
        co_return std::make_unique<int>(6);
    };
    auto owned = co_await asyncio::shield(make());
    CO_ASSERT_TRUE(owned != nullptr);
    EXPECT_EQ(*owned, 6);
}

ASYNCIO_TEST(Shield, FutureResultPassesThrough) {
    auto& loop = asyncio::get_running_loop();
    asyncio::Future<std::string> future;
    loop.call_later(1s, [future] { future.set_result("ready"); });
    EXPECT_EQ(co_await asyncio::shield(future), "ready");
}

ASYNCIO_TEST(Shield, ErrorPassesThrough) {
    auto failing = []() -> asyncio::Task<int> {
        co_await asyncio::sleep(1s);
        throw std::runtime_error("inner failed");
    };
    EXPECT_THROW(co_await asyncio::shield(failing()), std::runtime_error);
}

ASYNCIO_TEST(Shield, OuterCancelGivesCancelledErrorAtOnceWhileInnerKeepsRunning) {
    auto& loop = asyncio::get_running_loop();
    const auto start = loop.time();
    auto inner = asyncio::create_task(value_after(5, 3s));
    auto outer = asyncio::create_task([](asyncio::TaskHandle<int> work) -> asyncio::Task<int> {
        co_return co_await asyncio::shield(work);
    }(inner));
    co_await asyncio::sleep(1s);
    outer.cancel();
    EXPECT_THROW(co_await outer, asyncio::CancelledError);
    EXPECT_EQ(loop.time() - start, 1s);
    EXPECT_TRUE(outer.cancelled());
    EXPECT_FALSE(inner.done());
    EXPECT_EQ(inner.cancelling(), 0u);
    EXPECT_EQ(co_await inner, 5);
    EXPECT_EQ(loop.time() - start, 3s);
}

ASYNCIO_TEST(Shield, ShieldedTaskWithNoOtherHandleRunsToItsEndAfterOuterCancel) {
    auto& loop = asyncio::get_running_loop();
    const auto start = loop.time();
    bool finished = false;
    auto outer = asyncio::create_task([](bool& flag) -> asyncio::Task<> {
        co_await asyncio::shield(set_after(flag, 3s));
    }(finished));
    co_await asyncio::sleep(1s);
    outer.cancel();
    EXPECT_THROW(co_await outer, asyncio::CancelledError);
    EXPECT_EQ(loop.time() - start, 1s);
    EXPECT_FALSE(finished);
    co_await asyncio::sleep(5s);
    EXPECT_TRUE(finished);
}

ASYNCIO_TEST(Shield, OuterCancelDoesNotCancelAShieldedFuture) {
    auto& loop = asyncio::get_running_loop();
    asyncio::Future<int> future;
    loop.call_later(3s, [future] { future.set_result(8); });
    auto outer = asyncio::create_task([](asyncio::Future<int> f) -> asyncio::Task<int> {
        co_return co_await asyncio::shield(f);
    }(future));
    co_await asyncio::sleep(1s);
    outer.cancel();
    EXPECT_THROW(co_await outer, asyncio::CancelledError);
    EXPECT_FALSE(future.done());
    EXPECT_EQ(co_await future, 8);
}

ASYNCIO_TEST(Shield, CancelMessageReachesTheAwaiter) {
    auto inner = asyncio::create_task(value_after(1, 2s));
    auto outer = asyncio::create_task([](asyncio::TaskHandle<int> work) -> asyncio::Task<int> {
        co_return co_await asyncio::shield(work);
    }(inner));
    co_await asyncio::sleep(1s);
    outer.cancel("stop now");
    std::string message;
    try {
        co_await outer;
    } catch (const asyncio::CancelledError& e) {
        message = e.message();
    }
    EXPECT_EQ(message, "stop now");
    EXPECT_EQ(co_await inner, 1);
}

ASYNCIO_TEST(Shield, InnerCancelledItselfGivesCancelledErrorToTheAwaiter) {
    auto& loop = asyncio::get_running_loop();
    const auto start = loop.time();
    auto inner = asyncio::create_task(value_after(1, 1h));
    loop.call_later(2s, [inner] { inner.cancel(); });
    EXPECT_THROW(co_await asyncio::shield(inner), asyncio::CancelledError);
    EXPECT_EQ(loop.time() - start, 2s);
    EXPECT_TRUE(inner.cancelled());
    // The awaiting task itself was not cancelled.
    EXPECT_EQ(asyncio::current_task().cancelling(), 0u);
    co_await asyncio::sleep(1s);  // and can go on awaiting
}

ASYNCIO_TEST(Shield, CancelledFutureGivesCancelledErrorToTheAwaiter) {
    auto& loop = asyncio::get_running_loop();
    asyncio::Future<int> future;
    loop.call_later(1s, [future] { future.cancel(); });
    EXPECT_THROW(co_await asyncio::shield(future), asyncio::CancelledError);
    EXPECT_EQ(asyncio::current_task().cancelling(), 0u);
}

ASYNCIO_TEST(Shield, AlreadyDoneTaskGivesItsResultWithoutWaiting) {
    auto& loop = asyncio::get_running_loop();
    auto inner = asyncio::create_task(value_after(9, 0s));
    co_await asyncio::sleep(1s);
    const auto before = loop.time();
    EXPECT_EQ(co_await asyncio::shield(inner), 9);
    EXPECT_EQ(loop.time(), before);
}

ASYNCIO_TEST(Shield, PendingCancelOfTheAwaiterIsDeliveredWithoutCancellingInner) {
    // The awaiting task is cancelled before it reaches shield(): it must still stop at the
    // shield's await point, and the inner task must not be touched.
    auto inner = asyncio::create_task(value_after(3, 2s));
    auto outer = asyncio::create_task([](asyncio::TaskHandle<int> work) -> asyncio::Task<int> {
        asyncio::current_task().cancel();
        co_return co_await asyncio::shield(work);
    }(inner));
    EXPECT_THROW(co_await outer, asyncio::CancelledError);
    EXPECT_FALSE(inner.done());
    EXPECT_EQ(inner.cancelling(), 0u);
    EXPECT_EQ(co_await inner, 3);
}
