#include <algorithm>
#include <map>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "support/asyncio_test.hpp"
#include "support/co_assert.hpp"
#include <asyncio/sync/barrier.hpp>

using namespace std::chrono_literals;

namespace {

using asyncio::testing::finishes;

// Waits `delay`, then at the barrier; records "index" or "broken" under `id`.
asyncio::Task<> arrive(asyncio::Barrier& barrier, int id, std::map<int, std::string>& outcome,
                       asyncio::Duration delay = 0s) {
    if (delay > 0s) co_await asyncio::sleep(delay);
    try {
        const int index = co_await barrier.wait();
        outcome[id] = std::to_string(index);
    } catch (const asyncio::BrokenBarrierError&) {
        outcome[id] = "broken";
    }
}

// Passes the barrier `rounds` times, recording each index.
asyncio::Task<> pass_rounds(asyncio::Barrier& barrier, int rounds, std::vector<int>& indices) {
    for (int i = 0; i < rounds; ++i) indices.push_back(co_await barrier.wait());
}

}  // namespace

TEST(Barrier, FewerThanOnePartyThrowsInvalidArgument) {
    EXPECT_THROW(asyncio::Barrier(0), std::invalid_argument);
    EXPECT_THROW(asyncio::Barrier(-3), std::invalid_argument);
}

ASYNCIO_TEST(Barrier, OnePartyBarrierLetsEveryWaitThrough) {
    asyncio::Barrier barrier(1);
    EXPECT_EQ(barrier.parties(), 1);
    EXPECT_EQ(co_await barrier.wait(), 0);
    EXPECT_EQ(co_await barrier.wait(), 0);
    EXPECT_EQ(barrier.n_waiting(), 0);
    EXPECT_FALSE(barrier.broken());
}

ASYNCIO_TEST(Barrier, TheLastArrivalReleasesEveryoneWithTheirArrivalIndex) {
    auto& loop = asyncio::get_running_loop();
    const auto start = loop.time();
    asyncio::Barrier barrier(3);
    std::map<int, std::string> outcome;
    // Task 1 arrives first, then 2, then 0.
    auto a = asyncio::create_task(arrive(barrier, 0, outcome, 3s));
    auto b = asyncio::create_task(arrive(barrier, 1, outcome, 1s));
    auto c = asyncio::create_task(arrive(barrier, 2, outcome, 2s));
    co_await asyncio::sleep(1500ms);
    EXPECT_EQ(barrier.n_waiting(), 1);
    EXPECT_TRUE(outcome.empty());
    co_await asyncio::sleep(1s);
    EXPECT_EQ(barrier.n_waiting(), 2);
    EXPECT_TRUE(outcome.empty());
    co_await a;
    co_await b;
    co_await c;
    EXPECT_EQ(loop.time() - start, 3s);
    EXPECT_EQ(outcome, (std::map<int, std::string>{{0, "2"}, {1, "0"}, {2, "1"}}));
    EXPECT_EQ(barrier.n_waiting(), 0);
    EXPECT_FALSE(barrier.broken());
}

ASYNCIO_TEST(Barrier, IsReusableRoundAfterRound) {
    asyncio::Barrier barrier(3);
    std::vector<int> x, y, z;
    auto a = asyncio::create_task(pass_rounds(barrier, 4, x));
    auto b = asyncio::create_task(pass_rounds(barrier, 4, y));
    auto c = asyncio::create_task(pass_rounds(barrier, 4, z));
    co_await a;
    co_await b;
    co_await c;
    CO_ASSERT_EQ(x.size(), 4u);
    CO_ASSERT_EQ(y.size(), 4u);
    CO_ASSERT_EQ(z.size(), 4u);
    for (std::size_t round = 0; round < 4; ++round) {
        std::vector<int> got{x[round], y[round], z[round]};
        std::sort(got.begin(), got.end());
        EXPECT_EQ(got, (std::vector<int>{0, 1, 2})) << "round " << round;
    }
}

ASYNCIO_TEST(Barrier, ArrivalsWhileARoundLeavesWaitForTheNextRound) {
    asyncio::Barrier barrier(2);
    std::map<int, std::string> outcome;
    auto first = asyncio::create_task(arrive(barrier, 1, outcome));
    co_await asyncio::sleep(0s);
    // Scheduled now, it runs in the next iteration before `first` resumes: the round is
    // still leaving ("draining"), so it must wait for the next one.
    auto early = asyncio::create_task(arrive(barrier, 2, outcome));
    EXPECT_EQ(co_await barrier.wait(), 1);  // the last arrival: releases `first`
    co_await first;
    EXPECT_EQ(outcome[1], "0");
    co_await asyncio::sleep(1s);
    EXPECT_FALSE(early.done());
    EXPECT_EQ(barrier.n_waiting(), 1);  // `early` now fills the next round
    EXPECT_EQ(co_await barrier.wait(), 1);
    co_await early;
    EXPECT_EQ(outcome[2], "0");
}

ASYNCIO_TEST(Barrier, AbortBreaksTheWaitersAndEveryLaterWait) {
    asyncio::Barrier barrier(3);
    std::map<int, std::string> outcome;
    auto a = asyncio::create_task(arrive(barrier, 1, outcome));
    auto b = asyncio::create_task(arrive(barrier, 2, outcome));
    co_await asyncio::sleep(0s);
    barrier.abort();
    EXPECT_TRUE(barrier.broken());
    co_await a;
    co_await b;
    EXPECT_EQ(outcome, (std::map<int, std::string>{{1, "broken"}, {2, "broken"}}));
    EXPECT_THROW(co_await barrier.wait(), asyncio::BrokenBarrierError);
    EXPECT_TRUE(barrier.broken());
    EXPECT_EQ(barrier.n_waiting(), 0);
}

ASYNCIO_TEST(Barrier, ResetBreaksTheWaitersAndMakesTheBarrierUsableAgain) {
    asyncio::Barrier barrier(3);
    std::map<int, std::string> outcome;
    auto a = asyncio::create_task(arrive(barrier, 1, outcome));
    auto b = asyncio::create_task(arrive(barrier, 2, outcome));
    co_await asyncio::sleep(0s);
    barrier.reset();
    EXPECT_FALSE(barrier.broken());
    EXPECT_EQ(barrier.n_waiting(), 0);
    co_await a;
    co_await b;
    EXPECT_EQ(outcome, (std::map<int, std::string>{{1, "broken"}, {2, "broken"}}));
    // A full new round.
    outcome.clear();
    auto c = asyncio::create_task(arrive(barrier, 3, outcome));
    auto d = asyncio::create_task(arrive(barrier, 4, outcome));
    auto e = asyncio::create_task(arrive(barrier, 5, outcome));
    co_await c;
    co_await d;
    co_await e;
    EXPECT_EQ(outcome, (std::map<int, std::string>{{3, "0"}, {4, "1"}, {5, "2"}}));
}

ASYNCIO_TEST(Barrier, ArrivalsDuringAResetWaitUntilItIsOver) {
    asyncio::Barrier barrier(2);
    std::map<int, std::string> outcome;
    auto a = asyncio::create_task(arrive(barrier, 1, outcome));
    co_await asyncio::sleep(0s);
    auto early = asyncio::create_task(arrive(barrier, 2, outcome));  // runs before `a` resumes
    barrier.reset();
    co_await a;
    EXPECT_EQ(outcome[1], "broken");
    co_await asyncio::sleep(1s);
    EXPECT_FALSE(early.done());  // not broken: it waits in the new round
    EXPECT_EQ(barrier.n_waiting(), 1);
    EXPECT_EQ(co_await barrier.wait(), 1);
    co_await early;
    EXPECT_EQ(outcome[2], "0");
}

ASYNCIO_TEST(Barrier, ResetAfterAbortRepairsTheBarrier) {
    asyncio::Barrier barrier(2);
    barrier.abort();
    EXPECT_THROW(co_await barrier.wait(), asyncio::BrokenBarrierError);
    barrier.reset();
    EXPECT_FALSE(barrier.broken());
    std::map<int, std::string> outcome;
    auto a = asyncio::create_task(arrive(barrier, 1, outcome));
    co_await asyncio::sleep(0s);
    EXPECT_EQ(co_await barrier.wait(), 1);
    co_await a;
    EXPECT_EQ(outcome[1], "0");
}

ASYNCIO_TEST(Barrier, CancelledWaiterLeavesWithoutBreakingTheBarrier) {
    asyncio::Barrier barrier(3);
    std::map<int, std::string> outcome;
    auto a = asyncio::create_task(arrive(barrier, 1, outcome));
    auto b = asyncio::create_task(arrive(barrier, 2, outcome));
    co_await asyncio::sleep(0s);
    EXPECT_EQ(barrier.n_waiting(), 2);
    a.cancel();
    EXPECT_THROW(co_await a, asyncio::CancelledError);
    EXPECT_EQ(barrier.n_waiting(), 1);
    EXPECT_FALSE(barrier.broken());
    auto c = asyncio::create_task(arrive(barrier, 3, outcome));
    co_await asyncio::sleep(0s);
    EXPECT_FALSE(b.done());  // still one short
    EXPECT_EQ(barrier.n_waiting(), 2);
    EXPECT_EQ(co_await barrier.wait(), 2);
    co_await b;
    co_await c;
    // As in Python, the index is the count at arrival, so after a departure it repeats.
    EXPECT_EQ(outcome, (std::map<int, std::string>{{2, "1"}, {3, "1"}}));
    EXPECT_EQ(barrier.n_waiting(), 0);
}

ASYNCIO_TEST(Barrier, WokenWaiterCancelledBeforeResumingDoesNotStopTheOthers_gh112202) {
    auto& loop = asyncio::get_running_loop();
    asyncio::Barrier barrier(4);
    std::map<int, std::string> outcome;
    auto a = asyncio::create_task(arrive(barrier, 1, outcome));
    auto b = asyncio::create_task(arrive(barrier, 2, outcome));
    auto c = asyncio::create_task(arrive(barrier, 3, outcome));
    co_await asyncio::sleep(0s);
    loop.call_soon([b] { b.cancel(); });    // queued before `b` is woken: runs right before it
    EXPECT_EQ(co_await barrier.wait(), 3);  // releases a, b and c
    a.cancel();                             // woken, not yet resumed
    EXPECT_THROW(co_await a, asyncio::CancelledError);
    EXPECT_THROW(co_await b, asyncio::CancelledError);
    co_await finishes(c);
    EXPECT_EQ(outcome, (std::map<int, std::string>{{3, "2"}}));
    // The round drained completely: the next one fills from zero.
    EXPECT_EQ(barrier.n_waiting(), 0);
    EXPECT_FALSE(barrier.broken());
    outcome.clear();
    std::vector<asyncio::TaskHandle<>> next;
    for (int i = 0; i < 3; ++i) next.push_back(asyncio::create_task(arrive(barrier, i, outcome)));
    co_await asyncio::sleep(0s);
    EXPECT_EQ(co_await barrier.wait(), 3);
    for (auto& task : next) co_await task;
    EXPECT_EQ(outcome, (std::map<int, std::string>{{0, "0"}, {1, "1"}, {2, "2"}}));
}

ASYNCIO_TEST(Barrier, AWaitingTaskShowsTheBarrierItWaitsAt) {
    asyncio::Barrier barrier(2);
    std::map<int, std::string> outcome;
    auto task = asyncio::create_task(arrive(barrier, 1, outcome));
    co_await asyncio::sleep(0s);
    const auto& target = task.promise()->awaiting();
    EXPECT_EQ(target.kind, asyncio::detail::AwaitKind::barrier);
    EXPECT_EQ(target.object, static_cast<const void*>(&barrier));
    EXPECT_EQ(co_await barrier.wait(), 1);
    co_await task;
}

ASYNCIO_TEST_WITH(Barrier, UsedFromAnotherThreadThrowsInDebugMode,
                  (asyncio::testing::TestOptions{.debug = true})) {
    asyncio::Barrier barrier(2);
    EXPECT_EQ(barrier.parties(), 2);  // binds the barrier to this loop
    int errors = 0;
    std::thread other([&barrier, &errors] {
        try {
            barrier.abort();
        } catch (const asyncio::RuntimeError&) {
            ++errors;
        }
        try {
            (void)barrier.n_waiting();
        } catch (const asyncio::RuntimeError&) {
            ++errors;
        }
    });
    other.join();
    EXPECT_EQ(errors, 2);
    EXPECT_FALSE(barrier.broken());
    co_return;
}
