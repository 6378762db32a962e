#include <asyncio/gather.hpp>

#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <variant>
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
    auto [a, b, c] =
        co_await asyncio::gather(value_after(1, 3s), value_after(2, 1s), nothing_after(2s));
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
    auto outer = asyncio::create_task(
        [](auto a, auto b) -> asyncio::Task<> { co_await asyncio::gather(a, b); }(child1, child2));
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

namespace {

asyncio::Task<std::string> text_after(std::string text, asyncio::Duration delay) {
    co_await asyncio::sleep(delay);
    co_return text;
}

// Collects what the loop reports to its exception handler while alive.
class ReportedErrors {
public:
    explicit ReportedErrors(asyncio::EventLoop& loop) : loop_(loop) {
        loop_.set_exception_handler(
            [this](asyncio::EventLoop&, const asyncio::ExceptionContext& context) {
                messages_.push_back(context.message);
            });
    }
    ~ReportedErrors() { loop_.set_exception_handler({}); }
    ReportedErrors(const ReportedErrors&) = delete;
    ReportedErrors& operator=(const ReportedErrors&) = delete;

    std::size_t count(const std::string& text) const {
        std::size_t n = 0;
        for (const auto& message : messages_) {
            if (message.find(text) != std::string::npos) ++n;
        }
        return n;
    }

private:
    asyncio::EventLoop& loop_;
    std::vector<std::string> messages_;
};

// Takes `cleanup` to acknowledge a cancellation, then ends cancelled.
asyncio::Task<int> slow_to_cancel(asyncio::Duration cleanup, int& cleaned) {
    bool cancelled = false;
    try {
        co_await asyncio::sleep(1h);
    } catch (const asyncio::CancelledError&) {
        cancelled = true;
    }
    if (cancelled) {
        co_await asyncio::sleep(cleanup);
        ++cleaned;
        throw asyncio::CancelledError();
    }
    co_return 0;
}

}  // namespace

ASYNCIO_TEST(Gather, VoidResultsAreMonostate) {
    auto [a, b] = co_await asyncio::gather(nothing_after(1s), nothing_after(2s));
    static_assert(std::is_same_v<decltype(a), std::monostate>);
    static_assert(std::is_same_v<decltype(b), std::monostate>);
    std::vector<asyncio::Task<>> tasks;
    tasks.push_back(nothing_after(1s));
    tasks.push_back(nothing_after(1s));
    auto values = co_await asyncio::gather(tasks);
    static_assert(std::is_same_v<decltype(values), std::vector<std::monostate>>);
    EXPECT_EQ(values.size(), 2u);
}

ASYNCIO_TEST(Gather, MixesTasksTaskHandlesAndFutures) {
    auto& loop = asyncio::get_running_loop();
    const auto start = loop.time();
    auto handle = asyncio::create_task(text_after("handle", 2s));
    asyncio::Future<double> future;
    loop.call_later(3s, [future] { future.set_result(2.5); });
    auto [a, b, c, d] =
        co_await asyncio::gather(value_after(1, 1s), handle, future, nothing_after(1s));
    EXPECT_EQ(a, 1);
    EXPECT_EQ(b, "handle");
    EXPECT_EQ(c, 2.5);
    EXPECT_EQ(d, std::monostate{});
    EXPECT_EQ(loop.time() - start, 3s);
}

ASYNCIO_TEST(Gather, TupleGatherLeavesResultsInSharedHandlesAndFutures) {
    auto& loop = asyncio::get_running_loop();
    auto handle = asyncio::create_task(text_after("handle", 1s));
    asyncio::Future<std::string> future;
    loop.call_later(1s, [future] { future.set_result("future"); });
    auto [a, b] = co_await asyncio::gather(handle, future);
    EXPECT_EQ(a, "handle");
    EXPECT_EQ(b, "future");
    // A TaskHandle or Future is shared: gather must copy the result out, as the range form
    // does, and leave it for every other holder.
    EXPECT_EQ(handle.result(), "handle");
    EXPECT_EQ(future.result(), "future");
    EXPECT_EQ(co_await handle, "handle");

    auto [c] = co_await asyncio::gather(asyncio::return_exceptions, handle);
    EXPECT_EQ(c.value(), "handle");
    EXPECT_EQ(handle.result(), "handle");
}

ASYNCIO_TEST(Gather, RangeOfTaskHandlesGivesTheirResultsInOrder) {
    std::vector<asyncio::TaskHandle<int>> handles;
    for (int i = 0; i < 5; ++i) {
        handles.push_back(asyncio::create_task(value_after(i * 10, std::chrono::seconds(5 - i))));
    }
    auto values = co_await asyncio::gather(handles);
    CO_ASSERT_EQ(values.size(), 5u);
    for (int i = 0; i < 5; ++i) EXPECT_EQ(values[static_cast<std::size_t>(i)], i * 10);
    for (const auto& handle : handles) EXPECT_TRUE(handle.done());
}

ASYNCIO_TEST(Gather, RangeOfFuturesGivesTheirResults) {
    auto& loop = asyncio::get_running_loop();
    std::vector<asyncio::Future<int>> futures(3);
    for (int i = 0; i < 3; ++i) {
        loop.call_later(std::chrono::seconds(3 - i),
                        [f = futures[static_cast<std::size_t>(i)], i] { f.set_result(i); });
    }
    auto values = co_await asyncio::gather(futures);
    EXPECT_EQ(values, (std::vector<int>{0, 1, 2}));
}

ASYNCIO_TEST(Gather, EmptyRangeGivesEmptyVector) {
    auto& loop = asyncio::get_running_loop();
    const auto start = loop.time();
    std::vector<asyncio::Task<int>> none;
    auto values = co_await asyncio::gather(none);
    EXPECT_TRUE(values.empty());
    std::vector<asyncio::TaskHandle<int>> no_handles;
    auto outcomes = co_await asyncio::gather(asyncio::return_exceptions, no_handles);
    EXPECT_TRUE(outcomes.empty());
    EXPECT_EQ(loop.time(), start);
}

ASYNCIO_TEST(Gather, ChildCancelledDirectlyMakesGatherThrowCancelledError) {
    auto& loop = asyncio::get_running_loop();
    const auto start = loop.time();
    auto doomed = asyncio::create_task(value_after(1, 1h));
    auto other = asyncio::create_task(value_after(2, 5s));
    loop.call_later(1s, [doomed] { doomed.cancel(); });
    EXPECT_THROW(co_await asyncio::gather(doomed, other), asyncio::CancelledError);
    EXPECT_EQ(loop.time() - start, 1s);
    // The gather was not cancelled: neither the awaiting task nor the other child.
    EXPECT_EQ(asyncio::current_task().cancelling(), 0u);
    EXPECT_FALSE(other.done());
    EXPECT_EQ(co_await other, 2);
}

ASYNCIO_TEST(Gather, ReturnExceptionsKeepsCancelledChildAsCancelledError) {
    auto& loop = asyncio::get_running_loop();
    auto doomed = asyncio::create_task(value_after(1, 1h));
    loop.call_later(1s, [doomed] { doomed.cancel("stop"); });
    auto [a, b] = co_await asyncio::gather(asyncio::return_exceptions, doomed, value_after(2, 2s));
    EXPECT_TRUE(a.holds<asyncio::CancelledError>());
    EXPECT_FALSE(a.has_value());
    EXPECT_NE(a.exception(), nullptr);
    CO_ASSERT_TRUE(b.has_value());
    EXPECT_EQ(b.value(), 2);
    EXPECT_THROW(a.value(), asyncio::CancelledError);
    EXPECT_EQ(asyncio::current_task().cancelling(), 0u);
}

ASYNCIO_TEST(Gather, ReturnExceptionsRangeCollectsEveryOutcomeInOrder) {
    std::vector<asyncio::Task<int>> tasks;
    tasks.push_back(value_after(1, 3s));
    tasks.push_back(fail_after(1s, "first"));
    tasks.push_back(value_after(3, 2s));
    auto outcomes = co_await asyncio::gather(asyncio::return_exceptions, tasks);
    CO_ASSERT_EQ(outcomes.size(), 3u);
    EXPECT_EQ(outcomes[0].value(), 1);
    EXPECT_TRUE(outcomes[1].holds<std::runtime_error>());
    EXPECT_EQ(outcomes[2].value(), 3);
}

ASYNCIO_TEST(Gather, CancellingOuterDuringReturnExceptionsCancelsChildrenAndThrows) {
    auto& loop = asyncio::get_running_loop();
    auto child1 = asyncio::create_task(value_after(1, 1h));
    auto child2 = asyncio::create_task(value_after(2, 1h));
    bool got_outcomes = false;
    auto outer = asyncio::create_task([](auto a, auto b, bool& got) -> asyncio::Task<> {
        auto outcomes = co_await asyncio::gather(asyncio::return_exceptions, a, b);
        got = true;
        (void)outcomes;
    }(child1, child2, got_outcomes));
    co_await asyncio::sleep(1s);
    const auto cancelled_at = loop.time();
    outer.cancel();
    EXPECT_THROW(co_await outer, asyncio::CancelledError);
    EXPECT_FALSE(got_outcomes);
    EXPECT_TRUE(child1.cancelled());
    EXPECT_TRUE(child2.cancelled());
    EXPECT_EQ(loop.time(), cancelled_at);
}

ASYNCIO_TEST(Gather, CancelledGatherEndsWhenTheFirstChildHasFinishedCancelling) {
    // As CPython: without return_exceptions the first child to end (here: cancelled)
    // finishes the gather.
    auto& loop = asyncio::get_running_loop();
    int cleaned = 0;
    auto outer = asyncio::create_task([](int& count) -> asyncio::Task<> {
        co_await asyncio::gather(slow_to_cancel(2s, count), slow_to_cancel(3s, count));
    }(cleaned));
    co_await asyncio::sleep(1s);
    const auto cancelled_at = loop.time();
    outer.cancel();
    EXPECT_THROW(co_await outer, asyncio::CancelledError);
    EXPECT_EQ(loop.time() - cancelled_at, 2s);
    co_await asyncio::sleep(5s);
    EXPECT_EQ(cleaned, 2);
}

ASYNCIO_TEST(Gather, CancelledReturnExceptionsGatherWaitsForEveryChild) {
    auto& loop = asyncio::get_running_loop();
    int cleaned = 0;
    auto outer = asyncio::create_task([](int& count) -> asyncio::Task<> {
        co_await asyncio::gather(asyncio::return_exceptions, slow_to_cancel(2s, count),
                                 slow_to_cancel(3s, count));
    }(cleaned));
    co_await asyncio::sleep(1s);
    const auto cancelled_at = loop.time();
    outer.cancel();
    EXPECT_THROW(co_await outer, asyncio::CancelledError);
    EXPECT_EQ(loop.time() - cancelled_at, 3s);
    EXPECT_EQ(cleaned, 2);
}

ASYNCIO_TEST(Gather, LaterChildFailureIsNotReportedAsNeverRetrieved) {
    auto& loop = asyncio::get_running_loop();
    ReportedErrors reported(loop);
    EXPECT_THROW(co_await asyncio::gather(fail_after(1s, "first"), fail_after(2s, "second"),
                                          fail_after(3s, "third")),
                 std::runtime_error);
    // Let the other two fail and be freed.
    co_await asyncio::sleep(5s);
    EXPECT_EQ(reported.count("never retrieved"), 0u);

    // Control: a failure nobody looks at is reported through the same handler.
    { auto dropped = asyncio::create_task(fail_after(1s, "dropped")); }
    co_await asyncio::sleep(2s);
    EXPECT_EQ(reported.count("Task exception was never retrieved"), 1u);
}

ASYNCIO_TEST(Gather, LaterChildFailureOfHandleIsNotReportedEither) {
    auto& loop = asyncio::get_running_loop();
    ReportedErrors reported(loop);
    {
        auto first = asyncio::create_task(fail_after(1s, "first"));
        auto second = asyncio::create_task(fail_after(2s, "second"));
        EXPECT_THROW(co_await asyncio::gather(first, second), std::runtime_error);
    }  // both handles dropped while `second` is still running
    co_await asyncio::sleep(5s);
    EXPECT_EQ(reported.count("never retrieved"), 0u);
}

ASYNCIO_TEST(Gather, ThousandChildren) {
    auto& loop = asyncio::get_running_loop();
    const auto start = loop.time();
    std::vector<asyncio::Task<int>> tasks;
    for (int i = 0; i < 1000; ++i) {
        tasks.push_back(value_after(i, std::chrono::milliseconds(1 + (i * 7919) % 1000)));
    }
    auto values = co_await asyncio::gather(tasks);
    CO_ASSERT_EQ(values.size(), 1000u);
    long sum = 0;
    bool in_order = true;
    for (int i = 0; i < 1000; ++i) {
        sum += values[static_cast<std::size_t>(i)];
        in_order = in_order && values[static_cast<std::size_t>(i)] == i;
    }
    EXPECT_TRUE(in_order);
    EXPECT_EQ(sum, 999L * 1000 / 2);
    EXPECT_EQ(loop.time() - start, 1000ms);
}

ASYNCIO_TEST(Gather, ThousandChildrenWithOneFailureCancelNothingElse) {
    std::vector<asyncio::TaskHandle<int>> handles;
    for (int i = 0; i < 1000; ++i) {
        handles.push_back(asyncio::create_task(value_after(i, std::chrono::seconds(2))));
    }
    handles.push_back(asyncio::create_task(fail_after(1s, "one")));
    EXPECT_THROW(co_await asyncio::gather(handles), std::runtime_error);
    std::size_t pending = 0;
    for (const auto& handle : handles) pending += handle.done() ? 0 : 1;
    EXPECT_EQ(pending, 1000u);
    auto values = co_await asyncio::gather(asyncio::return_exceptions, handles);
    std::size_t ok = 0;
    for (const auto& value : values) ok += value.has_value() ? 1 : 0;
    EXPECT_EQ(ok, 1000u);
}

ASYNCIO_TEST(Gather, AChildThatFailedBeforeTheAwaitBehindAPendingOneRaisesAtOnce) {
    // The pending first child does not hide the failure after it: the gather raises at
    // once, without waiting for the first child.
    auto& loop = asyncio::get_running_loop();
    auto slow = asyncio::create_task(value_after(1, 1h));
    auto failed = asyncio::create_task(fail_after(0s, "early"));
    co_await asyncio::sleep(0s);
    co_await asyncio::sleep(0s);
    EXPECT_TRUE(failed.done());
    const auto before = loop.time();
    std::vector<asyncio::TaskHandle<int>> children{slow, failed};
    try {
        co_await asyncio::gather(children);
        ADD_FAILURE() << "gather() returned";
    } catch (const std::runtime_error& error) {
        EXPECT_STREQ(error.what(), "early");
    }
    EXPECT_EQ(loop.time(), before);
    EXPECT_FALSE(slow.done());  // gather leaves the others running, as Python's
    slow.cancel();
    EXPECT_THROW(co_await slow, asyncio::CancelledError);
}
