// Queue, LifoQueue and PriorityQueue: order, back-pressure, task_done/join, Python 3.13
// shutdown, move-only items, cancellation (RELIABILITY-NOTES row 6: a woken waiter cancelled
// before it resumes hands its item or slot on) and debug-mode thread checks.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "support/asyncio_test.hpp"
#include "support/co_assert.hpp"
#include <asyncio/graph.hpp>
#include <asyncio/queue.hpp>
#include <asyncio/shield.hpp>
#include <asyncio/sleep.hpp>
#include <asyncio/timeout.hpp>

using namespace std::chrono_literals;

namespace {

asyncio::Task<> get_into(asyncio::Queue<int>& queue, std::vector<int>& got) {
    got.push_back(co_await queue.get());
}

asyncio::Task<int> get_one(asyncio::Queue<int>& queue) { co_return co_await queue.get(); }

asyncio::Task<> put_one(asyncio::Queue<int>& queue, int item) { co_await queue.put(item); }

asyncio::Task<> put_then_record(asyncio::Queue<int>& queue, int item, std::vector<int>& done) {
    co_await queue.put(item);
    done.push_back(item);
}

asyncio::Task<> join_queue(asyncio::Queue<int>& queue) { co_await queue.join(); }

// What a task ended with: "value", "QueueShutDown", "CancelledError" or "other".
std::string outcome(const asyncio::TaskHandle<>& task) {
    try {
        task.result();
        return "value";
    } catch (const asyncio::QueueShutDown&) {
        return "QueueShutDown";
    } catch (const asyncio::CancelledError&) {
        return "CancelledError";
    } catch (...) {
        return "other";
    }
}

// Lets every ready task run until nothing is left to do in this loop time.
asyncio::Task<> settle() {
    for (int i = 0; i < 5; ++i) co_await asyncio::sleep(0s);
}

}  // namespace

// ---- order ----

ASYNCIO_TEST(Queue, GetReturnsItemsInFifoOrder) {
    asyncio::Queue<std::string> queue;
    queue.put_nowait("a");
    co_await queue.put("b");
    queue.put_nowait("c");
    EXPECT_EQ(co_await queue.get(), "a");
    EXPECT_EQ(queue.get_nowait(), "b");
    EXPECT_EQ(co_await queue.get(), "c");
    EXPECT_TRUE(queue.empty());
}

ASYNCIO_TEST(LifoQueue, GetReturnsTheNewestItemFirst) {
    asyncio::LifoQueue<int> queue;
    for (int i = 1; i <= 4; ++i) co_await queue.put(i);
    std::vector<int> got;
    while (!queue.empty()) got.push_back(co_await queue.get());
    EXPECT_EQ(got, (std::vector<int>{4, 3, 2, 1}));
}

ASYNCIO_TEST(PriorityQueue, GetReturnsTheSmallestItemFirst) {
    asyncio::PriorityQueue<int> queue;
    for (int item : {5, 1, 4, 1, 5, 9, 2, 6, 5, 3}) queue.put_nowait(item);
    std::vector<int> got;
    while (!queue.empty()) got.push_back(co_await queue.get());
    EXPECT_EQ(got, (std::vector<int>{1, 1, 2, 3, 4, 5, 5, 5, 6, 9}));
}

ASYNCIO_TEST(PriorityQueue, PairsComeOutByPriorityThenByValueAsPythonTuples) {
    asyncio::PriorityQueue<std::pair<int, std::string>> queue;
    queue.put_nowait({2, "b"});
    queue.put_nowait({1, "z"});
    queue.put_nowait({2, "a"});
    EXPECT_EQ(co_await queue.get(), (std::pair<int, std::string>{1, "z"}));
    EXPECT_EQ(co_await queue.get(), (std::pair<int, std::string>{2, "a"}));
    EXPECT_EQ(co_await queue.get(), (std::pair<int, std::string>{2, "b"}));
}

// Types used as queue items live at namespace scope: GCC 12 crashes (ICE) on a coroutine
// template instantiated with a class local to another coroutine.
namespace {

struct Job {
    int priority;
    std::string name;
};

// A stateful comparator: the queue keeps the object it was given.
struct ByPriority {
    int* comparisons;
    bool operator()(const Job& a, const Job& b) const {
        ++*comparisons;
        return a.priority < b.priority;
    }
};

struct ByPointee {
    bool operator()(const std::unique_ptr<int>& a, const std::unique_ptr<int>& b) const {
        return *a < *b;
    }
};

}  // namespace

ASYNCIO_TEST(PriorityQueue, ComparatorDecidesWhatIsSmallest) {
    asyncio::PriorityQueue<int, std::greater<int>> largest_first;
    for (int item : {3, 7, 1, 9}) largest_first.put_nowait(item);
    std::vector<int> got;
    while (!largest_first.empty()) got.push_back(largest_first.get_nowait());
    EXPECT_EQ(got, (std::vector<int>{9, 7, 3, 1}));

    int comparisons = 0;
    asyncio::PriorityQueue<Job, ByPriority> jobs(0, ByPriority{&comparisons});
    jobs.put_nowait({3, "low"});
    jobs.put_nowait({1, "urgent"});
    jobs.put_nowait({2, "normal"});
    EXPECT_EQ((co_await jobs.get()).name, "urgent");
    EXPECT_EQ((co_await jobs.get()).name, "normal");
    EXPECT_EQ((co_await jobs.get()).name, "low");
    EXPECT_GT(comparisons, 0);
}

ASYNCIO_TEST(Queue, WaitingGettersAreServedInTheOrderTheyStartedWaiting) {
    asyncio::Queue<int> queue;
    std::vector<int> got_by_first, got_by_second, got_by_third;
    auto first = asyncio::create_task(get_into(queue, got_by_first));
    auto second = asyncio::create_task(get_into(queue, got_by_second));
    auto third = asyncio::create_task(get_into(queue, got_by_third));
    co_await settle();
    for (int i = 1; i <= 3; ++i) queue.put_nowait(i);
    co_await first;
    co_await second;
    co_await third;
    EXPECT_EQ(got_by_first, std::vector<int>{1});
    EXPECT_EQ(got_by_second, std::vector<int>{2});
    EXPECT_EQ(got_by_third, std::vector<int>{3});
}

// ---- waiting and back-pressure ----

ASYNCIO_TEST(Queue, GetWaitsForPut) {
    asyncio::Queue<int> queue;
    auto& loop = asyncio::get_running_loop();
    const auto start = loop.time();
    auto getter = asyncio::create_task(get_one(queue));
    co_await asyncio::sleep(5s);
    EXPECT_FALSE(getter.done());
    queue.put_nowait(42);
    EXPECT_EQ(co_await getter, 42);
    EXPECT_EQ(loop.time() - start, 5s);
    EXPECT_TRUE(queue.empty());
}

ASYNCIO_TEST(Queue, PutWaitsWhileFullUntilAGetFreesASlot) {
    asyncio::Queue<int> queue(2);
    co_await queue.put(1);
    co_await queue.put(2);
    EXPECT_TRUE(queue.full());
    std::vector<int> done;
    auto putter = asyncio::create_task(put_then_record(queue, 3, done));
    co_await asyncio::sleep(1s);
    EXPECT_FALSE(putter.done());
    EXPECT_EQ(queue.qsize(), 2u);

    EXPECT_EQ(co_await queue.get(), 1);
    co_await putter;
    EXPECT_EQ(done, std::vector<int>{3});
    EXPECT_TRUE(queue.full());
    EXPECT_EQ(queue.get_nowait(), 2);
    EXPECT_EQ(queue.get_nowait(), 3);
}

namespace {
asyncio::Task<int> consume_slowly(asyncio::Queue<int>& queue, int count) {
    int sum = 0;
    for (int i = 0; i < count; ++i) {
        co_await asyncio::sleep(1s);
        sum += co_await queue.get();
    }
    co_return sum;
}
}  // namespace

ASYNCIO_TEST(Queue, BoundedQueueSlowsAFastProducerToTheConsumersPace) {
    asyncio::Queue<int> queue(3);
    auto& loop = asyncio::get_running_loop();
    const auto start = loop.time();
    auto consumer = asyncio::create_task(consume_slowly(queue, 10));
    for (int i = 1; i <= 10; ++i) {
        co_await queue.put(i);
        EXPECT_LE(queue.qsize(), 3u);
    }
    // The producer could not run ahead by more than maxsize items: it finished when the
    // consumer had taken all but the last three (at 7 s).
    EXPECT_EQ(loop.time() - start, 7s);
    EXPECT_EQ(co_await consumer, 55);
}

ASYNCIO_TEST(Queue, ZeroOrNegativeMaxsizeMeansUnbounded) {
    asyncio::Queue<int> zero;
    asyncio::Queue<int> negative(-1);
    EXPECT_EQ(zero.maxsize(), 0);
    EXPECT_EQ(negative.maxsize(), -1);
    for (int i = 0; i < 10'000; ++i) {
        zero.put_nowait(i);
        co_await negative.put(i);
    }
    EXPECT_FALSE(zero.full());
    EXPECT_FALSE(negative.full());
    EXPECT_EQ(zero.qsize(), 10'000u);
    EXPECT_EQ(negative.qsize(), 10'000u);
}

ASYNCIO_TEST(Queue, QsizeEmptyAndFullFollowTheItems) {
    asyncio::Queue<int> queue(2);
    EXPECT_EQ(queue.maxsize(), 2);
    EXPECT_TRUE(queue.empty());
    EXPECT_FALSE(queue.full());
    queue.put_nowait(1);
    EXPECT_EQ(queue.qsize(), 1u);
    EXPECT_FALSE(queue.empty());
    EXPECT_FALSE(queue.full());
    queue.put_nowait(2);
    EXPECT_EQ(queue.qsize(), 2u);
    EXPECT_TRUE(queue.full());
    (void)queue.get_nowait();
    EXPECT_FALSE(queue.full());
    co_return;
}

// ---- nowait errors ----

ASYNCIO_TEST(Queue, PutNowaitOnAFullQueueThrowsQueueFull) {
    asyncio::Queue<int> queue(1);
    queue.put_nowait(1);
    std::string message;
    try {
        queue.put_nowait(2);
    } catch (const asyncio::QueueFull& e) {
        message = e.what();
    }
    EXPECT_NE(message.find("full"), std::string::npos) << message;
    EXPECT_NE(message.find("maxsize 1"), std::string::npos) << message;
    EXPECT_EQ(queue.qsize(), 1u);
    EXPECT_EQ(queue.get_nowait(), 1);
    co_return;
}

ASYNCIO_TEST(Queue, GetNowaitOnAnEmptyQueueThrowsQueueEmpty) {
    asyncio::Queue<int> queue;
    std::string message;
    try {
        (void)queue.get_nowait();
    } catch (const asyncio::QueueEmpty& e) {
        message = e.what();
    }
    EXPECT_NE(message.find("empty"), std::string::npos) << message;
    asyncio::PriorityQueue<int> priority;
    EXPECT_THROW((void)priority.get_nowait(), asyncio::QueueEmpty);
    asyncio::LifoQueue<int> lifo(1);
    lifo.put_nowait(1);
    EXPECT_THROW(lifo.put_nowait(2), asyncio::QueueFull);
    co_return;
}

ASYNCIO_TEST(Queue, QueueErrorsAreOrdinaryExceptions) {
    asyncio::Queue<int> queue;
    EXPECT_THROW((void)queue.get_nowait(), std::exception);
    EXPECT_THROW((void)queue.get_nowait(), asyncio::Error);
    co_return;
}

// ---- task_done and join ----

ASYNCIO_TEST(Queue, JoinReturnsAtOnceWhenNoItemIsUnfinished) {
    asyncio::Queue<int> queue;
    auto& loop = asyncio::get_running_loop();
    const auto start = loop.time();
    co_await queue.join();
    queue.put_nowait(1);
    (void)queue.get_nowait();
    queue.task_done();
    co_await queue.join();
    EXPECT_EQ(loop.time(), start);
}

namespace {
asyncio::Task<> slow_worker(asyncio::Queue<int>& queue, std::vector<int>& processed) {
    for (;;) {
        int item = co_await queue.get();
        co_await asyncio::sleep(1s);
        processed.push_back(item);
        queue.task_done();
    }
}
}  // namespace

ASYNCIO_TEST(Queue, JoinWaitsUntilEveryItemPutIsMarkedDone) {
    asyncio::Queue<int> queue;
    auto& loop = asyncio::get_running_loop();
    const auto start = loop.time();
    std::vector<int> processed;
    for (int i = 0; i < 4; ++i) queue.put_nowait(i);
    auto worker = asyncio::create_task(slow_worker(queue, processed));
    co_await queue.join();
    // Taking the last item is not enough: join() waits for its task_done().
    EXPECT_EQ(processed, (std::vector<int>{0, 1, 2, 3}));
    EXPECT_EQ(loop.time() - start, 4s);
    worker.cancel();
    try {
        co_await worker;
    } catch (const asyncio::CancelledError&) {
    }
}

ASYNCIO_TEST(Queue, EveryJoinWaiterIsReleased) {
    asyncio::Queue<int> queue;
    queue.put_nowait(1);
    auto a = asyncio::create_task(join_queue(queue));
    auto b = asyncio::create_task(join_queue(queue));
    co_await settle();
    EXPECT_FALSE(a.done());
    (void)queue.get_nowait();
    queue.task_done();
    co_await a;
    co_await b;
}

ASYNCIO_TEST(Queue, TaskDoneCalledTooManyTimesThrowsInvalidStateError) {
    asyncio::Queue<int> queue;
    std::string message;
    try {
        queue.task_done();
    } catch (const asyncio::InvalidStateError& e) {
        message = e.what();
    }
    EXPECT_EQ(message, "task_done() called too many times");
    queue.put_nowait(1);
    (void)queue.get_nowait();
    queue.task_done();
    EXPECT_THROW(queue.task_done(), asyncio::InvalidStateError);
    co_return;
}

ASYNCIO_TEST(Queue, CancelledJoinWaiterLeavesNoTrace) {
    asyncio::Queue<int> queue;
    queue.put_nowait(1);
    auto cancelled = asyncio::create_task(join_queue(queue));
    auto other = asyncio::create_task(join_queue(queue));
    co_await settle();
    cancelled.cancel();
    co_await settle();
    EXPECT_EQ(outcome(cancelled), "CancelledError");
    EXPECT_FALSE(other.done());
    (void)queue.get_nowait();
    queue.task_done();
    co_await other;
    // A joiner released and cancelled in the same iteration ends cancelled; the queue is
    // still usable afterwards.
    queue.put_nowait(2);
    auto released_then_cancelled = asyncio::create_task(join_queue(queue));
    co_await settle();
    (void)queue.get_nowait();
    queue.task_done();
    released_then_cancelled.cancel();
    co_await settle();
    EXPECT_EQ(outcome(released_then_cancelled), "CancelledError");
    co_await queue.join();
}

// ---- shutdown (Python 3.13) ----

ASYNCIO_TEST(Queue, ShutdownMakesPutThrowQueueShutDown) {
    asyncio::Queue<int> queue;
    queue.shutdown();
    EXPECT_THROW(queue.put_nowait(1), asyncio::QueueShutDown);
    bool threw = false;
    try {
        co_await queue.put(1);
    } catch (const asyncio::QueueShutDown& e) {
        threw = true;
        EXPECT_NE(std::string(e.what()).find("shut down"), std::string::npos) << e.what();
    }
    EXPECT_TRUE(threw);
    EXPECT_TRUE(queue.empty());
    queue.shutdown();  // again: harmless
}

ASYNCIO_TEST(Queue, ShutdownLetsGetDrainTheRemainingItemsThenThrows) {
    asyncio::Queue<int> queue;
    queue.put_nowait(1);
    queue.put_nowait(2);
    queue.shutdown();
    EXPECT_EQ(co_await queue.get(), 1);
    EXPECT_EQ(queue.get_nowait(), 2);
    EXPECT_THROW((void)queue.get_nowait(), asyncio::QueueShutDown);
    bool threw = false;
    try {
        (void)co_await queue.get();
    } catch (const asyncio::QueueShutDown&) {
        threw = true;
    }
    EXPECT_TRUE(threw);
    // The drained items still count for join() until marked done.
    queue.task_done();
    queue.task_done();
    co_await queue.join();
}

ASYNCIO_TEST(Queue, ShutdownWakesWaitingGettersWithQueueShutDown) {
    asyncio::Queue<int> queue;
    std::vector<asyncio::TaskHandle<int>> getters;
    for (int i = 0; i < 3; ++i) getters.push_back(asyncio::create_task(get_one(queue)));
    co_await settle();
    queue.shutdown();
    co_await settle();
    for (auto& getter : getters) {
        CO_ASSERT_TRUE(getter.done());
        EXPECT_EQ(outcome(getter), "QueueShutDown");
    }
}

ASYNCIO_TEST(Queue, ShutdownWakesWaitingPuttersWithQueueShutDownAndKeepsTheItems) {
    asyncio::Queue<int> queue(1);
    queue.put_nowait(1);
    std::vector<asyncio::TaskHandle<>> putters;
    for (int i = 2; i <= 4; ++i) putters.push_back(asyncio::create_task(put_one(queue, i)));
    co_await settle();
    queue.shutdown();
    co_await settle();
    for (auto& putter : putters) {
        CO_ASSERT_TRUE(putter.done());
        EXPECT_EQ(outcome(putter), "QueueShutDown");
    }
    EXPECT_EQ(queue.get_nowait(), 1);
    EXPECT_THROW((void)queue.get_nowait(), asyncio::QueueShutDown);
}

ASYNCIO_TEST(Queue, ShutdownWakesWaitersOnBothSidesWithQueueShutDown) {
    // A queue has getters and putters waiting at once only briefly: a get() freed a slot
    // and woke a putter that has not resumed yet, while a getter found the queue empty.
    // Ready order of the next iteration: the getter's first step (waits: the queue is
    // empty), shutdown(), then the woken putter.
    asyncio::Queue<int> queue(1);
    queue.put_nowait(1);
    auto woken_putter = asyncio::create_task(put_one(queue, 2));
    auto waiting_putter = asyncio::create_task(put_one(queue, 3));
    co_await settle();
    auto getter = asyncio::create_task(get_one(queue));
    bool getter_was_waiting = false;
    asyncio::get_running_loop().call_soon([&queue, &getter, &getter_was_waiting] {
        getter_was_waiting = !getter.done() && queue.empty();
        queue.shutdown();
    });
    EXPECT_EQ(queue.get_nowait(), 1);  // wakes woken_putter
    co_await settle();
    EXPECT_TRUE(getter_was_waiting);
    EXPECT_EQ(outcome(getter), "QueueShutDown");
    EXPECT_EQ(outcome(woken_putter), "QueueShutDown");
    EXPECT_EQ(outcome(waiting_putter), "QueueShutDown");
    EXPECT_TRUE(queue.empty());
}

ASYNCIO_TEST(Queue, ImmediateShutdownDropsTheItemsAndGetThrowsAtOnce) {
    asyncio::Queue<int> queue;
    for (int i = 0; i < 3; ++i) queue.put_nowait(i);
    queue.shutdown(true);
    EXPECT_TRUE(queue.empty());
    EXPECT_EQ(queue.qsize(), 0u);
    EXPECT_THROW((void)queue.get_nowait(), asyncio::QueueShutDown);
    bool threw = false;
    try {
        (void)co_await queue.get();
    } catch (const asyncio::QueueShutDown&) {
        threw = true;
    }
    EXPECT_TRUE(threw);
    EXPECT_THROW(queue.put_nowait(1), asyncio::QueueShutDown);
}

ASYNCIO_TEST(Queue, ImmediateShutdownCountsDroppedItemsDoneAndReleasesJoin) {
    asyncio::Queue<int> queue;
    for (int i = 0; i < 3; ++i) queue.put_nowait(i);
    auto joiner = asyncio::create_task(join_queue(queue));
    co_await settle();
    EXPECT_FALSE(joiner.done());
    queue.shutdown(true);
    co_await settle();
    EXPECT_TRUE(joiner.done());
    EXPECT_EQ(outcome(joiner), "value");
    EXPECT_THROW(queue.task_done(), asyncio::InvalidStateError);
}

ASYNCIO_TEST(Queue, ImmediateShutdownStillWaitsForItemsTakenButNotDone) {
    asyncio::Queue<int> queue;
    for (int i = 0; i < 3; ++i) queue.put_nowait(i);
    (void)queue.get_nowait();  // being processed: not done yet
    auto joiner = asyncio::create_task(join_queue(queue));
    co_await settle();
    queue.shutdown(true);
    co_await settle();
    EXPECT_FALSE(joiner.done());
    queue.task_done();
    co_await joiner;
}

ASYNCIO_TEST(Queue, ImmediateShutdownWakesWaitingPuttersAndGetters) {
    asyncio::Queue<int> full(1);
    full.put_nowait(1);
    auto putter = asyncio::create_task(put_one(full, 2));
    asyncio::Queue<int> empty;
    auto getter = asyncio::create_task(get_one(empty));
    co_await settle();
    full.shutdown(true);
    empty.shutdown(true);
    co_await settle();
    EXPECT_EQ(outcome(putter), "QueueShutDown");
    EXPECT_EQ(outcome(getter), "QueueShutDown");
    EXPECT_TRUE(full.empty());
}

ASYNCIO_TEST(Queue, ImmediateShutdownDestroysTheDroppedItems) {
    auto item = std::make_shared<int>(7);
    asyncio::Queue<std::shared_ptr<int>> queue;
    queue.put_nowait(item);
    EXPECT_EQ(item.use_count(), 2);
    queue.shutdown(true);
    EXPECT_EQ(item.use_count(), 1);
    co_return;
}

// ---- move-only items ----

ASYNCIO_TEST(Queue, MoveOnlyItemsAreMovedInByPutAndOutByGet) {
    asyncio::Queue<std::unique_ptr<int>> queue(2);
    co_await queue.put(std::make_unique<int>(1));
    queue.put_nowait(std::make_unique<int>(2));
    std::unique_ptr<int> first = co_await queue.get();
    std::unique_ptr<int> second = queue.get_nowait();
    CO_ASSERT_TRUE(first != nullptr);
    CO_ASSERT_TRUE(second != nullptr);
    EXPECT_EQ(*first, 1);
    EXPECT_EQ(*second, 2);

    asyncio::LifoQueue<std::unique_ptr<int>> lifo;
    lifo.put_nowait(std::make_unique<int>(1));
    co_await lifo.put(std::make_unique<int>(2));
    EXPECT_EQ(*co_await lifo.get(), 2);

    asyncio::PriorityQueue<std::unique_ptr<int>, ByPointee> priority;
    for (int v : {3, 1, 2}) co_await priority.put(std::make_unique<int>(v));
    EXPECT_EQ(*co_await priority.get(), 1);
    EXPECT_EQ(*priority.get_nowait(), 2);
    EXPECT_EQ(*co_await priority.get(), 3);
}

namespace {
asyncio::Task<> put_move_only(asyncio::Queue<std::unique_ptr<int>>& queue, int value) {
    co_await queue.put(std::make_unique<int>(value));
}
asyncio::Task<std::unique_ptr<int>> get_move_only(asyncio::Queue<std::unique_ptr<int>>& queue) {
    co_return co_await queue.get();
}
}  // namespace

ASYNCIO_TEST(Queue, MoveOnlyItemsPassBetweenWaitingTasks) {
    asyncio::Queue<std::unique_ptr<int>> queue(1);
    auto getter = asyncio::create_task(get_move_only(queue));
    co_await settle();
    auto first = asyncio::create_task(put_move_only(queue, 10));
    auto second = asyncio::create_task(put_move_only(queue, 20));
    co_await first;
    std::unique_ptr<int> got = co_await std::move(getter);
    CO_ASSERT_TRUE(got != nullptr);
    EXPECT_EQ(*got, 10);
    co_await second;
    EXPECT_EQ(*queue.get_nowait(), 20);
}

// ---- cancellation ----

ASYNCIO_TEST(Queue, GetterCancelledWhileWaitingTakesNoItem) {
    asyncio::Queue<int> queue;
    auto cancelled = asyncio::create_task(get_one(queue));
    auto other = asyncio::create_task(get_one(queue));
    co_await settle();
    cancelled.cancel();
    co_await settle();
    EXPECT_EQ(outcome(cancelled), "CancelledError");
    queue.put_nowait(1);
    queue.put_nowait(2);
    EXPECT_EQ(co_await other, 1);
    EXPECT_EQ(queue.get_nowait(), 2);
}

ASYNCIO_TEST(Queue, GetCancelledByATimeoutLosesNoItem) {
    asyncio::Queue<int> queue;
    bool timed_out = false;
    try {
        (void)co_await asyncio::wait_for(queue.get(), 1s);
    } catch (const asyncio::TimeoutError&) {
        timed_out = true;
    }
    EXPECT_TRUE(timed_out);
    queue.put_nowait(5);
    EXPECT_EQ(co_await asyncio::wait_for(queue.get(), 1s), 5);
}

ASYNCIO_TEST(Queue, PutterCancelledWhileWaitingPutsNothingAndBlocksNobody) {
    asyncio::Queue<int> queue(1);
    queue.put_nowait(1);
    std::vector<int> done;
    auto cancelled = asyncio::create_task(put_then_record(queue, 2, done));
    auto other = asyncio::create_task(put_then_record(queue, 3, done));
    co_await settle();
    cancelled.cancel();
    co_await settle();
    EXPECT_EQ(outcome(cancelled), "CancelledError");
    EXPECT_EQ(queue.get_nowait(), 1);
    co_await other;
    EXPECT_EQ(done, std::vector<int>{3});
    EXPECT_EQ(queue.get_nowait(), 3);
    EXPECT_TRUE(queue.empty());
    // Only the item that was put counts for join().
    queue.task_done();
    queue.task_done();
    co_await queue.join();
}

// RELIABILITY-NOTES §2 row 6 (bpo-27585, gh-90155 class): put() wakes the first getter, and
// the getter is cancelled in the same iteration, before it resumes. The item must reach
// the next getter, not stay stranded in the queue while that getter sleeps.
ASYNCIO_TEST(Queue, WokenGetterCancelledBeforeResumingPassesTheItemOn) {
    asyncio::Queue<int> queue;
    auto woken = asyncio::create_task(get_one(queue));
    auto next = asyncio::create_task(get_one(queue));
    co_await settle();
    queue.put_nowait(7);  // wakes `woken`
    woken.cancel();       // before it resumes
    int got = -1;
    try {
        got = co_await asyncio::wait_for(next, 10s);
    } catch (const asyncio::TimeoutError&) {
        ADD_FAILURE() << "the wake-up was lost: the next getter never got the item";
    }
    EXPECT_EQ(got, 7);
    EXPECT_EQ(outcome(woken), "CancelledError");
    EXPECT_TRUE(queue.empty());
}

ASYNCIO_TEST(Queue, WokenGetterCancelledBeforeResumingWithNoOtherGetterLeavesTheItemQueued) {
    asyncio::Queue<int> queue;
    auto woken = asyncio::create_task(get_one(queue));
    co_await settle();
    queue.put_nowait(7);
    woken.cancel();
    co_await settle();
    EXPECT_EQ(outcome(woken), "CancelledError");
    EXPECT_EQ(queue.qsize(), 1u);
    EXPECT_EQ(co_await queue.get(), 7);
}

ASYNCIO_TEST(Queue, ManyWokenGettersCancelledBeforeResumingLoseNoItem) {
    asyncio::Queue<int> queue;
    std::vector<asyncio::TaskHandle<int>> getters;
    for (int i = 0; i < 6; ++i) getters.push_back(asyncio::create_task(get_one(queue)));
    co_await settle();
    queue.put_nowait(1);
    queue.put_nowait(2);
    queue.put_nowait(3);  // wakes getters 0, 1, 2
    getters[0].cancel();
    getters[2].cancel();
    co_await settle();
    std::vector<int> got;
    int finished = 0;
    for (auto& getter : getters) {
        if (!getter.done()) continue;
        ++finished;
        if (!getter.cancelled()) got.push_back(getter.result());
    }
    EXPECT_EQ(finished, 5);  // 2 cancelled, 3 got an item, 1 still waits
    std::sort(got.begin(), got.end());
    EXPECT_EQ(got, (std::vector<int>{1, 2, 3}));
    EXPECT_TRUE(queue.empty());
    queue.shutdown();
    co_await settle();
    EXPECT_EQ(outcome(getters[5]), "QueueShutDown");
}

// Row 6 for put(): a get() frees a slot and wakes the first putter, which is cancelled
// before it resumes. The slot must go to the next putter.
ASYNCIO_TEST(Queue, WokenPutterCancelledBeforeResumingPassesTheSlotOn) {
    asyncio::Queue<int> queue(1);
    queue.put_nowait(1);
    std::vector<int> done;
    auto woken = asyncio::create_task(put_then_record(queue, 2, done));
    auto next = asyncio::create_task(put_then_record(queue, 3, done));
    co_await settle();
    EXPECT_EQ(queue.get_nowait(), 1);  // wakes `woken`
    woken.cancel();                    // before it resumes
    try {
        co_await asyncio::wait_for(next, 10s);
    } catch (const asyncio::TimeoutError&) {
        ADD_FAILURE() << "the wake-up was lost: the next putter never got the free slot";
    }
    EXPECT_EQ(outcome(woken), "CancelledError");
    EXPECT_EQ(done, std::vector<int>{3});
    EXPECT_EQ(queue.qsize(), 1u);
    EXPECT_EQ(queue.get_nowait(), 3);
}

ASYNCIO_TEST(Queue, WokenGetterWhoseCancelIsWithdrawnStillTakesTheItem) {
    asyncio::Queue<int> queue;
    auto woken = asyncio::create_task(get_one(queue));
    co_await settle();
    queue.put_nowait(7);
    woken.cancel();
    woken.uncancel();  // withdrawn before the task resumed
    EXPECT_EQ(co_await woken, 7);
    EXPECT_TRUE(queue.empty());
}

// ---- put() and get() as tasks, and the stack ----

ASYNCIO_TEST(Queue, PutAndGetCanRunAsTasksOfTheirOwn) {
    asyncio::Queue<int> queue(1);
    auto getter = asyncio::create_task(queue.get());
    auto first = asyncio::create_task(queue.put(1));
    auto second = asyncio::create_task(queue.put(2));
    EXPECT_EQ(co_await getter, 1);
    co_await first;
    co_await second;
    EXPECT_EQ(queue.get_nowait(), 2);
    co_await asyncio::task_group([&queue](asyncio::TaskGroup& tg) -> asyncio::Task<> {
        tg.create_task(queue.put(3));
        tg.create_task(queue.get());
        co_return;
    });
    EXPECT_TRUE(queue.empty());
    auto [got, put] = co_await asyncio::gather(queue.get(), queue.put(4));
    (void)put;
    EXPECT_EQ(got, 4);
    co_await asyncio::timeout(1s, queue.put(5));
    EXPECT_EQ(co_await asyncio::shield(queue.get()), 5);
    // Five items were put and none marked done.
    bool timed_out = false;
    try {
        co_await asyncio::wait_for(queue.join(), 1s);
    } catch (const asyncio::TimeoutError&) {
        timed_out = true;
    }
    EXPECT_TRUE(timed_out);
    for (int i = 0; i < 5; ++i) queue.task_done();
    co_await asyncio::wait_for(queue.join(), 1s);
}

ASYNCIO_TEST(Queue, AnOperationCanBeAwaitedOnlyOnce) {
    asyncio::Queue<int> queue;
    auto put = queue.put(1);
    co_await put;
    bool threw = false;
    try {
        co_await put;
    } catch (const asyncio::InvalidStateError&) {
        threw = true;
    }
    EXPECT_TRUE(threw);
    EXPECT_EQ(queue.qsize(), 1u);
}

ASYNCIO_TEST(Queue, APutNeverAwaitedPutsNothing) {
    asyncio::Queue<int> queue;
    { auto forgotten = queue.put(1); }
    EXPECT_TRUE(queue.empty());
    co_return;
}

namespace {
[[gnu::noinline]] std::uintptr_t stack_position() {
    return reinterpret_cast<std::uintptr_t>(__builtin_frame_address(0));
}
}  // namespace

// With a Task awaited by symmetric transfer, each put() or get() that completes at once
// would keep a call frame on the stack where that transfer is not a tail call (GCC below
// -O2 or with sanitizers): a producer putting 100,000 items crashed a Debug build.
ASYNCIO_TEST(Queue, OperationsThatDoNotWaitDoNotGrowTheStack) {
    asyncio::Queue<int> queue;
    asyncio::LifoQueue<int> lifo(1);
    const std::uintptr_t start = stack_position();
    std::uintptr_t lowest = start;
    for (int i = 0; i < 2000; ++i) {
        co_await queue.put(i);
        co_await lifo.put(i);
        (void)co_await lifo.get();
        lowest = std::min(lowest, stack_position());
    }
    for (int i = 0; i < 2000; ++i) {
        (void)co_await queue.get();
        queue.task_done();
    }
    co_await queue.join();
    lowest = std::min(lowest, stack_position());
    EXPECT_LT(start - lowest, 16u * 1024) << "bytes of stack used by 8000 operations";
}

// ---- introspection ----

ASYNCIO_TEST(Queue, WaitingTasksAreShownWaitingForTheQueue) {
    asyncio::Queue<int> queue(1);
    queue.put_nowait(1);
    auto putter = asyncio::create_task(put_one(queue, 2));
    asyncio::Queue<int> empty;
    auto getter = asyncio::create_task(get_one(empty));
    auto joiner = asyncio::create_task(join_queue(queue));
    co_await settle();
    auto shown_as = [](const asyncio::Queue<int>& q) {
        char text[48];
        std::snprintf(text, sizeof text, "Queue %p", static_cast<const void*>(&q));
        return std::string(text);
    };
    EXPECT_EQ(asyncio::describe_task(putter).awaiting, shown_as(queue));
    EXPECT_EQ(asyncio::describe_task(joiner).awaiting, shown_as(queue));
    EXPECT_EQ(asyncio::describe_task(getter).awaiting, shown_as(empty));
    queue.shutdown(true);
    empty.shutdown();
    co_await settle();
    EXPECT_EQ(outcome(putter), "QueueShutDown");
    EXPECT_EQ(outcome(getter), "QueueShutDown");
    EXPECT_EQ(outcome(joiner), "value");
}

// ---- loop binding and threads ----

ASYNCIO_TEST_WITH(Queue, DebugModeUseFromAnotherThreadThrowsRuntimeError,
                  (asyncio::testing::TestOptions{.debug = true})) {
    asyncio::Queue<int> queue;
    auto getter = asyncio::create_task(get_one(queue));
    co_await settle();  // the queue is now bound to this loop
    int errors = 0;
    std::string message;
    std::thread([&] {
        auto expect_error = [&](auto&& call) {
            try {
                call();
            } catch (const asyncio::RuntimeError& e) {
                ++errors;
                message = e.what();
            }
        };
        expect_error([&] { queue.put_nowait(1); });
        expect_error([&] { (void)queue.get_nowait(); });
        expect_error([&] { queue.task_done(); });
        expect_error([&] { queue.shutdown(); });
    }).join();
    EXPECT_EQ(errors, 4);
    EXPECT_NE(message.find("Queue.shutdown()"), std::string::npos) << message;
    EXPECT_FALSE(getter.done());
    EXPECT_TRUE(queue.empty());
    queue.put_nowait(3);
    EXPECT_EQ(co_await getter, 3);
}

namespace {
asyncio::Task<> put_from_other_loop(asyncio::Queue<int>& queue, std::string& message) {
    try {
        queue.put_nowait(2);
    } catch (const asyncio::RuntimeError& e) {
        message = e.what();
    }
    co_return;
}
}  // namespace

ASYNCIO_TEST(Queue, UseFromAnotherRunningLoopThrowsRuntimeError) {
    asyncio::Queue<int> queue;
    queue.put_nowait(1);  // binds the queue to this loop
    std::string message;
    std::thread([&] { asyncio::run(put_from_other_loop(queue, message)); }).join();
    EXPECT_NE(message.find("different event loop"), std::string::npos) << message;
    EXPECT_EQ(queue.qsize(), 1u);
    co_return;
}

namespace {
asyncio::Task<int> drain_and_refill(asyncio::Queue<int>& queue) {
    int sum = 0;
    while (!queue.empty()) sum += co_await queue.get();
    auto getter = asyncio::create_task(get_one(queue));
    co_await asyncio::sleep(0s);
    co_await queue.put(100);
    sum += co_await getter;
    co_await queue.put(5);
    co_return sum;
}
}  // namespace

TEST(Queue, QueueCanBeFilledBeforeALoopRunsAndUsedByOneLoopAfterAnother) {
    asyncio::testing::LeakCheck leaks;
    asyncio::Queue<int> queue;
    queue.put_nowait(1);  // no loop yet
    queue.put_nowait(2);
    EXPECT_EQ(asyncio::run(drain_and_refill(queue)), 103);
    // The first loop is gone: the queue is usable without a loop, then by a new one.
    EXPECT_EQ(queue.get_nowait(), 5);
    queue.put_nowait(4);
    EXPECT_EQ(asyncio::run(drain_and_refill(queue)), 104);
    EXPECT_EQ(queue.get_nowait(), 5);
}

ASYNCIO_TEST(Queue, QueueWorksWithGatherAndTasksOfItsOwn) {
    asyncio::Queue<int> queue(1);
    auto [a, b, c] = co_await asyncio::gather(get_one(queue), put_one(queue, 1), put_one(queue, 2));
    (void)b;
    (void)c;
    EXPECT_EQ(a, 1);
    EXPECT_EQ(queue.get_nowait(), 2);
}
