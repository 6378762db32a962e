#include <atomic>
#include <chrono>
#include <csignal>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include "support/asyncio_test.hpp"
#include "support/co_assert.hpp"
#include <asyncio/event_loop.hpp>

using namespace std::chrono_literals;

namespace {

struct CustomError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

asyncio::LoopOptions manual_clock_options() {
    asyncio::LoopOptions options;
    options.clock = std::make_shared<asyncio::ManualClock>();
    return options;
}

asyncio::Task<int> add_after(asyncio::Duration delay, int a, int b) {
    co_await asyncio::sleep(delay);
    co_return a + b;
}

asyncio::Task<> sleep_for(asyncio::Duration delay) { co_await asyncio::sleep(delay); }

/// A pipe whose ends are closed on destruction (non-blocking, close-on-exec).
struct Pipe {
    int read_end = -1;
    int write_end = -1;
    Pipe() {
        int fds[2];
        if (::pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
        read_end = fds[0];
        write_end = fds[1];
    }
    ~Pipe() {
        ::close(read_end);
        ::close(write_end);
    }
    Pipe(const Pipe&) = delete;
    Pipe& operator=(const Pipe&) = delete;

    void write_byte() const { EXPECT_EQ(::write(write_end, "x", 1), 1); }
    /// Reads everything available; returns the byte count.
    long drain() const {
        char buffer[256];
        long total = 0;
        for (;;) {
            const auto n = ::read(read_end, buffer, sizeof buffer);
            if (n <= 0) return total;
            total += n;
        }
    }
};

/// A connected AF_UNIX stream socket pair, closed on destruction.
struct SocketPair {
    int a = -1;
    int b = -1;
    SocketPair() {
        int fds[2];
        if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) != 0) {
            throw std::runtime_error("socketpair failed");
        }
        a = fds[0];
        b = fds[1];
    }
    ~SocketPair() {
        ::close(a);
        ::close(b);
    }
    SocketPair(const SocketPair&) = delete;
    SocketPair& operator=(const SocketPair&) = delete;
};

/// Records what reaches the running loop's exception handler while alive.
class HandlerCapture {
public:
    explicit HandlerCapture(asyncio::EventLoop& loop) : loop_(loop) {
        loop_.set_exception_handler(
            [this](asyncio::EventLoop& reporting, const asyncio::ExceptionContext& context) {
                EXPECT_EQ(&reporting, &loop_);
                messages.push_back(context.message);
                errors.push_back(context.exception ? asyncio::describe(context.exception) : "");
                tasks.push_back(context.task);
            });
    }
    HandlerCapture() : HandlerCapture(asyncio::get_running_loop()) {}
    ~HandlerCapture() { loop_.set_exception_handler(nullptr); }
    HandlerCapture(const HandlerCapture&) = delete;
    HandlerCapture& operator=(const HandlerCapture&) = delete;

    std::vector<std::string> messages;
    std::vector<std::string> errors;
    std::vector<std::string> tasks;

private:
    asyncio::EventLoop& loop_;
};

}  // namespace

// ---- callbacks: order ----

ASYNCIO_TEST(EventLoop, CallSoonRunsCallbacksInFifoOrder) {
    auto& loop = asyncio::get_running_loop();
    std::vector<int> order;
    for (int i = 0; i < 10; ++i) loop.call_soon([&order, i] { order.push_back(i); });
    EXPECT_TRUE(order.empty());  // never synchronously
    co_await asyncio::sleep(0s);
    EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
}

ASYNCIO_TEST(EventLoop, CallbackScheduledDuringAnIterationRunsInTheNextOne) {
    auto& loop = asyncio::get_running_loop();
    std::vector<std::string> order;
    loop.call_soon([&] {
        order.push_back("A");
        loop.call_soon([&] { order.push_back("C (scheduled by A)"); });
    });
    loop.call_soon([&] { order.push_back("B"); });
    // This task's wake-up is queued after A and B, before C: it runs in A and B's iteration.
    co_await asyncio::sleep(0s);
    order.push_back("task");
    co_await asyncio::sleep(0s);
    EXPECT_EQ(order, (std::vector<std::string>{"A", "B", "task", "C (scheduled by A)"}));
}

ASYNCIO_TEST(EventLoop, CallbackReschedulingItselfDoesNotStarveTasks) {
    auto& loop = asyncio::get_running_loop();
    int spins = 0;
    bool stop = false;
    std::function<void()> spin = [&] {
        ++spins;
        if (!stop) loop.call_soon(spin);
    };
    loop.call_soon(spin);
    for (int i = 0; i < 5; ++i) co_await asyncio::sleep(0s);
    stop = true;
    // One spin per iteration: the callback could not monopolise the loop.
    EXPECT_GE(spins, 4);
    EXPECT_LE(spins, 6);
    co_await asyncio::sleep(0s);
}

ASYNCIO_TEST(EventLoop, CallLaterRunsCallbacksInDeadlineOrder) {
    auto& loop = asyncio::get_running_loop();
    const auto start = loop.time();
    std::vector<std::pair<int, asyncio::Duration>> fired;
    auto record = [&](int id) {
        return [&fired, &loop, start, id] { fired.emplace_back(id, loop.time() - start); };
    };
    loop.call_later(3s, record(3));
    loop.call_later(1s, record(1));
    loop.call_later(2s, record(2));
    loop.call_later(0s, record(0));
    co_await asyncio::sleep(10s);
    EXPECT_EQ(fired,
              (std::vector<std::pair<int, asyncio::Duration>>{{0, 0s}, {1, 1s}, {2, 2s}, {3, 3s}}));
}

ASYNCIO_TEST(EventLoop, TimersWithEqualDeadlinesRunInSchedulingOrder) {
    auto& loop = asyncio::get_running_loop();
    const auto when = loop.time() + 5s;
    std::vector<int> order;
    for (int i = 0; i < 20; ++i) loop.call_at(when, [&order, i] { order.push_back(i); });
    co_await asyncio::sleep(6s);
    std::vector<int> expected;
    for (int i = 0; i < 20; ++i) expected.push_back(i);
    EXPECT_EQ(order, expected);
}

// Timers armed in deadline order go to an in-order list, the others to a heap (see
// timer_heap.hpp): the order must not depend on which one holds a timer.
ASYNCIO_TEST(EventLoop, TimersArmedOutOfOrderAndCancelledRunInDeadlineThenSchedulingOrder) {
    auto& loop = asyncio::get_running_loop();
    const auto t = loop.time();
    std::vector<std::string> order;
    auto record = [&order](std::string name) { return [&order, name] { order.push_back(name); }; };
    loop.call_at(t + 2s, record("a0"));
    loop.call_at(t + 1s, record("b"));
    auto a1 = loop.call_at(t + 2s, record("a1"));
    loop.call_at(t + 1s, record("c"));
    loop.call_at(t + 2s, record("d"));
    loop.call_at(t + 1500ms, record("e"));
    a1.cancel();
    loop.call_at(t + 3s, record("x"));
    loop.call_at(t + 4s, record("y"));
    loop.call_at(t + 3s, record("z"));  // armed after x, same deadline: runs after it
    auto late = loop.call_at(t + 5s, record("late"));
    late.cancel();
    co_await asyncio::sleep(6s);
    EXPECT_EQ(order, (std::vector<std::string>{"b", "c", "e", "a0", "d", "x", "z", "y"}));
}

ASYNCIO_TEST(EventLoop, CallAtRunsAtTheGivenLoopTime) {
    auto& loop = asyncio::get_running_loop();
    const auto when = loop.time() + 1500ms;
    asyncio::TimePoint fired_at{};
    auto handle = loop.call_at(when, [&] { fired_at = loop.time(); });
    EXPECT_EQ(handle.when(), when);
    co_await asyncio::sleep(2s);
    EXPECT_EQ(fired_at, when);
}

ASYNCIO_TEST(EventLoop, CallAtInThePastRunsSoon) {
    auto& loop = asyncio::get_running_loop();
    const auto start = loop.time();
    bool fired = false;
    loop.call_at(start - 1h, [&] { fired = true; });
    // Expired timers join the ready queue after what is already there (this task's
    // wake-up), as in CPython: the callback runs in the first iteration, after this step.
    co_await asyncio::sleep(0s);
    co_await asyncio::sleep(0s);
    EXPECT_TRUE(fired);
    EXPECT_EQ(loop.time(), start);
}

ASYNCIO_TEST(EventLoop, CallLaterUsesLoopTimeFromTheManualClock) {
    auto& loop = asyncio::get_running_loop();
    const auto start = loop.time();
    asyncio::testing::manual_clock().advance(5s);
    EXPECT_EQ(loop.time() - start, 5s);
    asyncio::testing::manual_clock().advance(-3s);  // ignored: time never goes back
    EXPECT_EQ(loop.time() - start, 5s);
    auto handle = loop.call_later(2s, [] {});
    EXPECT_EQ(handle.when(), start + 7s);
    co_await asyncio::sleep(3s);
    EXPECT_EQ(loop.time() - start, 8s);
}

ASYNCIO_TEST(EventLoop, IdleLoopJumpsTheManualClockToTheNextTimer) {
    auto& loop = asyncio::get_running_loop();
    const auto start = loop.time();
    std::vector<asyncio::Duration> seen;
    loop.call_later(1h, [&] { seen.push_back(loop.time() - start); });
    loop.call_later(24h, [&] { seen.push_back(loop.time() - start); });
    co_await asyncio::sleep(48h);
    EXPECT_EQ(seen, (std::vector<asyncio::Duration>{1h, 24h}));
    EXPECT_EQ(loop.time() - start, 48h);
}

// ---- cancelling handles ----

ASYNCIO_TEST(EventLoop, TimerHandleCancelPreventsTheCall) {
    auto& loop = asyncio::get_running_loop();
    bool fired = false;
    auto handle = loop.call_later(1s, [&] { fired = true; });
    EXPECT_FALSE(handle.cancelled());
    handle.cancel();
    EXPECT_TRUE(handle.cancelled());
    handle.cancel();  // idempotent
    co_await asyncio::sleep(2s);
    EXPECT_FALSE(fired);
}

ASYNCIO_TEST(EventLoop, CancelledTimerDoesNotMoveTheManualClock) {
    auto& loop = asyncio::get_running_loop();
    const auto start = loop.time();
    auto handle = loop.call_later(1h, [] {});
    handle.cancel();
    // With the timer gone the idle loop has nothing to jump to but the sleep's deadline.
    co_await asyncio::sleep(2h);
    EXPECT_EQ(loop.time() - start, 2h);
}

ASYNCIO_TEST(EventLoop, TimerCancelledAfterItWasQueuedDoesNotRun) {
    auto& loop = asyncio::get_running_loop();
    bool fired = false;
    asyncio::TimerHandle second;
    // Both are due at the same time: the first cancels the second, already queued.
    loop.call_later(1s, [&] { second.cancel(); });
    second = loop.call_later(1s, [&] { fired = true; });
    co_await asyncio::sleep(2s);
    EXPECT_FALSE(fired);
}

ASYNCIO_TEST(EventLoop, HandleCancelPreventsACallSoonCallback) {
    auto& loop = asyncio::get_running_loop();
    std::vector<int> ran;
    auto first = loop.call_soon([&] { ran.push_back(1); });
    auto second = loop.call_soon([&] { ran.push_back(2); });
    second.cancel();
    EXPECT_TRUE(second.cancelled());
    EXPECT_FALSE(first.cancelled());
    co_await asyncio::sleep(0s);
    EXPECT_EQ(ran, std::vector<int>{1});
}

ASYNCIO_TEST(EventLoop, CancellingAHandleAfterItRanIsHarmless) {
    auto& loop = asyncio::get_running_loop();
    int calls = 0;
    auto handle = loop.call_soon([&] { ++calls; });
    auto timer = loop.call_later(1s, [&] { ++calls; });
    co_await asyncio::sleep(2s);
    handle.cancel();
    timer.cancel();
    co_await asyncio::sleep(0s);
    EXPECT_EQ(calls, 2);
}

ASYNCIO_TEST(EventLoop, CallbackRunsEvenWhenItsHandleIsDropped) {
    auto& loop = asyncio::get_running_loop();
    bool soon = false;
    bool later = false;
    (void)loop.call_soon([&] { soon = true; });
    (void)loop.call_later(1s, [&] { later = true; });
    co_await asyncio::sleep(2s);
    EXPECT_TRUE(soon);
    EXPECT_TRUE(later);
}

// ---- threads ----

ASYNCIO_TEST_WITH(EventLoop, CallSoonThreadsafeWakesALoopBlockedWaiting,
                  (asyncio::testing::TestOptions{.real_clock = true})) {
    auto& loop = asyncio::get_running_loop();
    asyncio::Future<std::thread::id> ran_on;
    const auto started = std::chrono::steady_clock::now();
    // No timers and no ready work: the loop blocks in the backend until woken.
    std::thread poster([&loop, &ran_on] {
        std::this_thread::sleep_for(20ms);
        loop.call_soon_threadsafe([&ran_on] { ran_on.set_result(std::this_thread::get_id()); });
    });
    const std::thread::id id = co_await ran_on;
    poster.join();
    EXPECT_EQ(id, std::this_thread::get_id());
    EXPECT_LT(std::chrono::steady_clock::now() - started, 10s);
}

// Reliability note #14 (tokio#6996, #2123, #525, PR #6683): a wake-up posted from another
// thread while the loop goes to sleep must never be lost.
ASYNCIO_TEST_WITH(EventLoop, NoLostWakeupWhenFourThreadsCallSoonThreadsafeIntoASleepingLoop,
                  (asyncio::testing::TestOptions{.real_clock = true})) {
    constexpr int thread_count = 4;
    constexpr int calls_per_thread = 10000;
    constexpr int total = thread_count * calls_per_thread;
    auto& loop = asyncio::get_running_loop();
    asyncio::Future<void> all_ran;
    int count = 0;  // touched on the loop thread only
    std::vector<int> per_thread(thread_count, 0);
    std::vector<std::thread> posters;
    for (int t = 0; t < thread_count; ++t) {
        posters.emplace_back([&loop, &count, &all_ran, &per_thread, t] {
            for (int i = 0; i < calls_per_thread; ++i) {
                loop.call_soon_threadsafe([&count, &all_ran, &per_thread, t] {
                    ++per_thread[static_cast<std::size_t>(t)];
                    if (++count == total) all_ran.set_result();
                });
                // Pause now and then so that the loop drains the queue and goes back to
                // sleep in the backend: the next post has to wake it.
                if (i % 500 == 499) std::this_thread::sleep_for(50us);
            }
        });
    }
    // A watchdog so that a lost wake-up fails the test instead of hanging it.
    auto watchdog = loop.call_later(30s, [&] {
        if (!all_ran.done()) all_ran.set_exception(asyncio::TimeoutError("lost wake-up"));
    });
    try {
        co_await all_ran;
    } catch (const asyncio::TimeoutError&) {
        ADD_FAILURE() << "only " << count << " of " << total << " callbacks ran within 30 s";
    }
    watchdog.cancel();
    for (auto& poster : posters) poster.join();
    EXPECT_EQ(count, total);
    for (int t = 0; t < thread_count; ++t) {
        EXPECT_EQ(per_thread[static_cast<std::size_t>(t)], calls_per_thread) << "thread " << t;
    }
}

ASYNCIO_TEST_WITH(EventLoop, CallSoonThreadsafeKeepsEachThreadsOrder,
                  (asyncio::testing::TestOptions{.real_clock = true})) {
    auto& loop = asyncio::get_running_loop();
    asyncio::Future<void> finished;
    std::vector<int> seen;
    std::thread poster([&] {
        for (int i = 0; i < 1000; ++i) {
            loop.call_soon_threadsafe([&seen, &finished, i] {
                seen.push_back(i);
                if (i == 999) finished.set_result();
            });
        }
    });
    co_await finished;
    poster.join();
    std::vector<int> expected;
    for (int i = 0; i < 1000; ++i) expected.push_back(i);
    EXPECT_EQ(seen, expected);
}

ASYNCIO_TEST_WITH(EventLoop, HandleOfACallSoonThreadsafeCallbackCanBeCancelledFromAnotherThread,
                  (asyncio::testing::TestOptions{.real_clock = true})) {
    auto& loop = asyncio::get_running_loop();
    std::atomic<bool> cancelled_ran{false};
    asyncio::Future<void> marker;
    // The poster runs while this step holds the loop, so the cancel certainly comes first.
    std::thread([&] {
        auto handle = loop.call_soon_threadsafe([&] { cancelled_ran = true; });
        handle.cancel();
        EXPECT_TRUE(handle.cancelled());
        loop.call_soon_threadsafe([&marker] { marker.set_result(); });
    }).join();
    co_await marker;
    EXPECT_FALSE(cancelled_ran);
}

TEST(EventLoop, StopFromAnotherThreadEndsRunForever) {
    asyncio::testing::LeakCheck leaks;
    asyncio::EventLoop loop(manual_clock_options());
    std::thread stopper([&loop] {
        std::this_thread::sleep_for(20ms);
        loop.stop();
    });
    loop.run_forever();  // blocks: no timers, nothing ready
    stopper.join();
    EXPECT_FALSE(loop.is_running());
    loop.close();
}

// ---- run_in_executor ----

ASYNCIO_TEST(EventLoop, RunInExecutorRunsOnAnotherThreadAndGivesTheResult) {
    auto& loop = asyncio::get_running_loop();
    const auto loop_thread = std::this_thread::get_id();
    auto future = loop.run_in_executor([] { return std::this_thread::get_id(); });
    EXPECT_NE(co_await future, loop_thread);
}

ASYNCIO_TEST(EventLoop, RunInExecutorRethrowsTheException) {
    auto& loop = asyncio::get_running_loop();
    auto future = loop.run_in_executor([]() -> int { throw CustomError("in the pool"); });
    EXPECT_THROW(co_await future, CustomError);
}

ASYNCIO_TEST(EventLoop, RunInExecutorDoesNotLetTheManualClockJumpWhileTheJobRuns) {
    auto& loop = asyncio::get_running_loop();
    const auto start = loop.time();
    bool timer_fired = false;
    loop.call_later(1h, [&] { timer_fired = true; });
    co_await loop.run_in_executor([] { std::this_thread::sleep_for(20ms); });
    EXPECT_FALSE(timer_fired);
    EXPECT_EQ(loop.time(), start);
}

ASYNCIO_TEST(EventLoop, CancelledRunInExecutorFutureDropsTheResult) {
    auto& loop = asyncio::get_running_loop();
    std::atomic<bool> job_finished{false};
    auto future = loop.run_in_executor([&] {
        std::this_thread::sleep_for(20ms);
        job_finished = true;
        return 1;
    });
    EXPECT_TRUE(future.cancel());
    EXPECT_THROW(co_await future, asyncio::CancelledError);
    // The job still runs to its end; its result is dropped (checked by ASan/LeakCheck).
    while (!job_finished) co_await loop.run_in_executor([] { std::this_thread::sleep_for(1ms); });
    EXPECT_TRUE(future.cancelled());
}

namespace {

/// A job result that notices being destroyed on another thread after the loop thread has
/// taken its value: by then it lives in loop-owned storage, which only the loop thread may
/// free.
struct ThreadCheckedResult {
    static inline std::thread::id loop_thread;
    static inline std::atomic<int> freed_off_loop{0};

    bool moved_from_on_loop = false;

    ThreadCheckedResult() = default;
    ThreadCheckedResult(ThreadCheckedResult&& other) noexcept {
        if (std::this_thread::get_id() == loop_thread) other.moved_from_on_loop = true;
    }
    ThreadCheckedResult& operator=(ThreadCheckedResult&&) = delete;
    ~ThreadCheckedResult() {
        if (moved_from_on_loop && std::this_thread::get_id() != loop_thread) ++freed_off_loop;
    }
};

}  // namespace

// Regression test for a fixed bug (include/asyncio/event_loop.hpp, run_in_executor): the pool thread posts the hand-off
// callback with call_soon_threadsafe() and only then drops the Handle it returns. When the
// loop has already run the callback by then, that Handle holds the last reference, so the
// callback, its captured Future and its result are destroyed on the pool thread while the
// loop thread uses the same Future: a data race on FutureStateBase::refs_ (TSan reports it
// from EventLoop.CancelledRunInExecutorFutureDropsTheResult) that corrupts the count. This
// test crashes the dev build (SIGSEGV in FutureStateBase::last_reference_released on the
// pool thread, or "pure virtual method called") in most runs.
static asyncio::Task<> run_in_executor_hand_off_body();

TEST(EventLoop, RunInExecutorHandsTheResultBackWithoutFreeingItOnAPoolThread) {
    asyncio::testing::run_test(run_in_executor_hand_off_body(),
                               asyncio::testing::TestOptions{.real_clock = true});
}

static asyncio::Task<> run_in_executor_hand_off_body() {
    // The hand-off callback carries the job's result and the (single-threaded) future from
    // the pool to the loop. If the pool thread still owns a reference to that callback when
    // the loop has run it, the callback, its captured future and its result are freed on
    // the pool thread: a data race on the future's non-atomic reference count (TSan reports
    // it).
    auto& loop = asyncio::get_running_loop();
    ThreadCheckedResult::loop_thread = std::this_thread::get_id();
    ThreadCheckedResult::freed_off_loop = 0;
    // Half of the jobs while the loop sleeps in the backend (it wakes the moment a job
    // posts), half while it spins through iterations: the race shows under either
    // scheduling, whichever CPUs the threads land on.
    for (int i = 0; i < 2000; ++i) {
        auto future = loop.run_in_executor([] { return ThreadCheckedResult{}; });
        if (i % 2 == 1) {
            while (!future.done()) co_await asyncio::sleep(0s);
        }
        ThreadCheckedResult result = co_await std::move(future);
        (void)result;
    }
    EXPECT_EQ(ThreadCheckedResult::freed_off_loop, 0)
        << "results (with their hand-off callback and future) freed on a pool thread";
}

ASYNCIO_TEST_WITH(EventLoop, UnretrievedExceptionOfARunInExecutorJobIsReportedOnTheLoopThread,
                  (asyncio::testing::TestOptions{.real_clock = true})) {
    // Futures are single-threaded (non-atomic reference count): the pool must hand each
    // job's future back to the loop thread and drop it there. A future nobody awaits and
    // whose job failed is released by that hand-off, and the report it triggers tells on
    // which thread the release happened. One job at a time.
    auto& loop = asyncio::get_running_loop();
    const auto loop_thread = std::this_thread::get_id();
    constexpr int jobs = 2000;
    int reports = 0;
    int off_loop_thread = 0;
    std::optional<asyncio::Future<void>> reported;
    loop.set_exception_handler(
        [&](asyncio::EventLoop& reporting, const asyncio::ExceptionContext& context) {
            const bool on_loop_thread = std::this_thread::get_id() == loop_thread;
            // Back to the loop thread before touching anything.
            reporting.call_soon_threadsafe([&, on_loop_thread, message = context.message] {
                EXPECT_EQ(message, "Future exception was never retrieved");
                ++reports;
                if (!on_loop_thread) ++off_loop_thread;
                reported->set_result();
            });
        });
    for (int i = 0; i < jobs; ++i) {
        reported.emplace();
        // Fire and forget: the returned future is dropped at once.
        (void)loop.run_in_executor([]() -> int { throw CustomError("nobody looks"); });
        if (i % 2 == 1) {
            // Spin through iterations instead of sleeping in the backend: the race shows
            // under either scheduling, whichever CPUs the threads land on.
            while (!reported->done()) co_await asyncio::sleep(0s);
        }
        co_await *reported;
    }
    loop.set_exception_handler(nullptr);
    EXPECT_EQ(reports, jobs);
    EXPECT_EQ(off_loop_thread, 0) << "futures released (and reported) on a pool thread";
}

// ---- errors in callbacks ----

ASYNCIO_TEST(EventLoop, ExceptionInACallbackGoesToTheHandlerAndTheLoopContinues) {
    auto& loop = asyncio::get_running_loop();
    HandlerCapture reports;
    bool after = false;
    loop.call_soon([] { throw CustomError("callback failed"); });
    loop.call_soon([&] { after = true; });
    co_await asyncio::sleep(0s);
    EXPECT_TRUE(after);
    CO_ASSERT_EQ(reports.messages.size(), 1u);
    EXPECT_NE(reports.messages[0].find("Exception in callback"), std::string::npos)
        << reports.messages[0];
    EXPECT_EQ(reports.errors[0], "callback failed");
}

ASYNCIO_TEST(EventLoop, ExceptionInATimerCallbackGoesToTheHandler) {
    auto& loop = asyncio::get_running_loop();
    HandlerCapture reports;
    loop.call_later(1s, [] { throw CustomError("timer failed"); });
    co_await asyncio::sleep(2s);
    CO_ASSERT_EQ(reports.errors.size(), 1u);
    EXPECT_EQ(reports.errors[0], "timer failed");
}

ASYNCIO_TEST(EventLoop, ExceptionInACallbackIsLoggedWithoutAHandler) {
    auto& loop = asyncio::get_running_loop();
    asyncio::testing::LogCapture log;
    loop.call_soon([] { throw CustomError("logged failure"); });
    co_await asyncio::sleep(0s);
    EXPECT_TRUE(log.contains("Exception in callback")) << log.joined();
    EXPECT_TRUE(log.contains("logged failure")) << log.joined();
}

ASYNCIO_TEST(EventLoop, SetExceptionHandlerReplacesAndNullRestoresTheDefault) {
    auto& loop = asyncio::get_running_loop();
    asyncio::testing::LogCapture log;
    std::vector<std::string> first;
    std::vector<std::string> second;
    EXPECT_FALSE(static_cast<bool>(loop.get_exception_handler()));

    loop.set_exception_handler([&](asyncio::EventLoop&, const asyncio::ExceptionContext& c) {
        first.push_back(asyncio::describe(c.exception));
    });
    EXPECT_TRUE(static_cast<bool>(loop.get_exception_handler()));
    loop.call_soon([] { throw CustomError("one"); });
    co_await asyncio::sleep(0s);

    loop.set_exception_handler([&](asyncio::EventLoop&, const asyncio::ExceptionContext& c) {
        second.push_back(asyncio::describe(c.exception));
    });
    loop.call_soon([] { throw CustomError("two"); });
    co_await asyncio::sleep(0s);

    loop.set_exception_handler(nullptr);
    EXPECT_FALSE(static_cast<bool>(loop.get_exception_handler()));
    loop.call_soon([] { throw CustomError("three"); });
    co_await asyncio::sleep(0s);

    EXPECT_EQ(first, std::vector<std::string>{"one"});
    EXPECT_EQ(second, std::vector<std::string>{"two"});
    EXPECT_FALSE(log.contains("one"));
    EXPECT_FALSE(log.contains("two"));
    EXPECT_TRUE(log.contains("three")) << log.joined();
}

ASYNCIO_TEST(EventLoop, FailingExceptionHandlerIsReportedByTheDefaultHandler) {
    auto& loop = asyncio::get_running_loop();
    asyncio::testing::LogCapture log;
    loop.set_exception_handler([](asyncio::EventLoop&, const asyncio::ExceptionContext&) {
        throw CustomError("handler broke");
    });
    loop.call_soon([] { throw CustomError("original"); });
    co_await asyncio::sleep(0s);
    loop.set_exception_handler(nullptr);
    EXPECT_TRUE(log.contains("Unhandled error in exception handler")) << log.joined();
    EXPECT_TRUE(log.contains("handler broke")) << log.joined();
    EXPECT_TRUE(log.contains("original")) << log.joined();
}

ASYNCIO_TEST(EventLoop, CallExceptionHandlerPassesTheContextThrough) {
    auto& loop = asyncio::get_running_loop();
    HandlerCapture reports;
    loop.call_exception_handler(asyncio::ExceptionContext{
        "custom report", std::make_exception_ptr(CustomError("why")), "some task"});
    CO_ASSERT_EQ(reports.messages.size(), 1u);
    EXPECT_EQ(reports.messages[0], "custom report");
    EXPECT_EQ(reports.errors[0], "why");
    EXPECT_EQ(reports.tasks[0], "some task");
    co_return;
}

// ---- readers and writers ----

ASYNCIO_TEST(EventLoop, ReaderFiresWhenDataIsWritten) {
    auto& loop = asyncio::get_running_loop();
    Pipe pipe;
    int calls = 0;
    asyncio::Future<void> readable;
    loop.add_reader(pipe.read_end, [&] {
        ++calls;
        pipe.drain();
        if (!readable.done()) readable.set_result();
    });
    for (int i = 0; i < 3; ++i) co_await asyncio::sleep(0s);
    EXPECT_EQ(calls, 0);  // nothing to read yet
    pipe.write_byte();
    co_await readable;
    EXPECT_EQ(calls, 1);
    EXPECT_TRUE(loop.remove_reader(pipe.read_end));
}

ASYNCIO_TEST(EventLoop, ReaderIsLevelTriggeredAndFiresWhileDataRemainsUnread) {
    auto& loop = asyncio::get_running_loop();
    Pipe pipe;
    int calls = 0;
    loop.add_reader(pipe.read_end, [&] { ++calls; });  // never reads
    pipe.write_byte();
    for (int i = 0; i < 10; ++i) co_await asyncio::sleep(0s);
    EXPECT_GE(calls, 5);  // about once per iteration
    // Once the data is consumed, it stops.
    pipe.drain();
    co_await asyncio::sleep(0s);
    const int settled = calls;
    for (int i = 0; i < 5; ++i) co_await asyncio::sleep(0s);
    EXPECT_EQ(calls, settled);
    EXPECT_TRUE(loop.remove_reader(pipe.read_end));
}

ASYNCIO_TEST(EventLoop, ReaderStopsAfterRemoveReader) {
    auto& loop = asyncio::get_running_loop();
    Pipe pipe;
    int calls = 0;
    loop.add_reader(pipe.read_end, [&] { ++calls; });
    pipe.write_byte();
    for (int i = 0; i < 3; ++i) co_await asyncio::sleep(0s);
    EXPECT_GE(calls, 1);
    EXPECT_TRUE(loop.remove_reader(pipe.read_end));
    const int at_removal = calls;
    pipe.write_byte();
    for (int i = 0; i < 5; ++i) co_await asyncio::sleep(0s);
    EXPECT_EQ(calls, at_removal);
    EXPECT_FALSE(loop.remove_reader(pipe.read_end));
}

ASYNCIO_TEST(EventLoop, ReaderRemovedWhileItsRunIsQueuedDoesNotRun) {
    auto& loop = asyncio::get_running_loop();
    Pipe pipe;
    int calls = 0;
    pipe.write_byte();
    loop.add_reader(pipe.read_end, [&] { ++calls; });
    // A callback queued before the reader's run removes the reader in the same iteration.
    co_await asyncio::sleep(0s);
    const int before = calls;
    loop.call_soon([&] { loop.remove_reader(pipe.read_end); });
    for (int i = 0; i < 5; ++i) co_await asyncio::sleep(0s);
    EXPECT_LE(calls, before + 1);
    EXPECT_FALSE(loop.remove_reader(pipe.read_end));
}

namespace {

// What a reader or writer callback may do to its own registration while it runs. Python
// allows both (a protocol that reached EOF removes its reader from inside the callback).
enum class SelfEdit { remove, replace };

asyncio::Task<> watch_that_edits_itself(bool writer, SelfEdit edit) {
    auto& loop = asyncio::get_running_loop();
    SocketPair sockets;
    int calls = 0;
    int replacement_calls = 0;
    auto state = std::make_shared<int>(0);  // state the running callback owns
    asyncio::Future<void> fired;
    auto add = [&](std::function<void()> callback) {
        if (writer) {
            loop.add_writer(sockets.a, std::move(callback));
        } else {
            loop.add_reader(sockets.a, std::move(callback));
        }
    };
    auto remove = [&] {
        return writer ? loop.remove_writer(sockets.a) : loop.remove_reader(sockets.a);
    };
    add([&, state] {
        ++calls;
        if (edit == SelfEdit::remove) {
            EXPECT_TRUE(remove());
        } else {
            add([&] { ++replacement_calls; });
        }
        ++*state;  // the running callback's own captures must still be alive here
        if (!fired.done()) fired.set_result();
    });
    if (!writer) {
        EXPECT_EQ(::send(sockets.b, "x", 1, 0), 1);
    }
    co_await fired;
    for (int i = 0; i < 5; ++i) co_await asyncio::sleep(0s);
    EXPECT_EQ(calls, 1);
    EXPECT_EQ(*state, 1);
    if (edit == SelfEdit::replace) {
        EXPECT_GE(replacement_calls, 1);
        EXPECT_TRUE(remove());
    } else {
        EXPECT_FALSE(remove());
    }
}

}  // namespace

// Regression test for a fixed bug (src/loop/event_loop.cpp, remove_watch() and the run lambda of watch_fired()): while
// the callback runs, the FdWatch is neither `queued` nor `in_flight`, so remove_reader()
// called from inside the callback destroys the FdWatch, and with it the std::function that
// is executing: the callback's captures are freed under it, and the run lambda then reads
// `watch.active` from freed memory. Crashes (SIGSEGV) in the dev build.
TEST(EventLoop, ReaderCanRemoveItselfInsideItsCallback) {
    asyncio::testing::run_test(watch_that_edits_itself(false, SelfEdit::remove));
}

TEST(EventLoop, WriterCanRemoveItselfInsideItsCallback) {
    asyncio::testing::run_test(watch_that_edits_itself(true, SelfEdit::remove));
}

// Same bug through add_watch(): add_reader() on a descriptor that already has a reader
// assigns `it->second->callback = std::move(callback)`, destroying the std::function that is
// executing when called from inside it.
TEST(EventLoop, ReaderCanReplaceItsCallbackInsideItsCallback) {
    asyncio::testing::run_test(watch_that_edits_itself(false, SelfEdit::replace));
}

TEST(EventLoop, WriterCanReplaceItsCallbackInsideItsCallback) {
    asyncio::testing::run_test(watch_that_edits_itself(true, SelfEdit::replace));
}

ASYNCIO_TEST(EventLoop, AddReaderAgainReplacesTheCallback) {
    auto& loop = asyncio::get_running_loop();
    Pipe pipe;
    int first = 0;
    int second = 0;
    loop.add_reader(pipe.read_end, [&] { ++first; });
    loop.add_reader(pipe.read_end, [&] { ++second; });
    pipe.write_byte();
    for (int i = 0; i < 3; ++i) co_await asyncio::sleep(0s);
    EXPECT_EQ(first, 0);
    EXPECT_GE(second, 1);
    EXPECT_TRUE(loop.remove_reader(pipe.read_end));
    EXPECT_FALSE(loop.remove_reader(pipe.read_end));
}

ASYNCIO_TEST(EventLoop, RemoveReaderWithoutAReaderReturnsFalse) {
    auto& loop = asyncio::get_running_loop();
    Pipe pipe;
    EXPECT_FALSE(loop.remove_reader(pipe.read_end));
    EXPECT_FALSE(loop.remove_writer(pipe.write_end));
    co_return;
}

ASYNCIO_TEST(EventLoop, AddReaderRejectsANegativeDescriptorAndAnEmptyCallback) {
    auto& loop = asyncio::get_running_loop();
    EXPECT_THROW(loop.add_reader(-1, [] {}), std::invalid_argument);
    EXPECT_THROW(loop.add_writer(-1, [] {}), std::invalid_argument);
    Pipe pipe;
    EXPECT_THROW(loop.add_reader(pipe.read_end, std::function<void()>()), std::invalid_argument);
    EXPECT_FALSE(loop.remove_reader(pipe.read_end));
    co_return;
}

ASYNCIO_TEST(EventLoop, WriterFiresWhileTheSocketIsWritableAndStopsAfterRemoveWriter) {
    auto& loop = asyncio::get_running_loop();
    SocketPair sockets;
    int calls = 0;
    loop.add_writer(sockets.a, [&] { ++calls; });
    for (int i = 0; i < 5; ++i) co_await asyncio::sleep(0s);
    EXPECT_GE(calls, 3);  // writable every iteration
    EXPECT_TRUE(loop.remove_writer(sockets.a));
    const int at_removal = calls;
    for (int i = 0; i < 5; ++i) co_await asyncio::sleep(0s);
    EXPECT_EQ(calls, at_removal);
    EXPECT_FALSE(loop.remove_writer(sockets.a));
}

ASYNCIO_TEST(EventLoop, WriterWaitsForBufferSpace) {
    auto& loop = asyncio::get_running_loop();
    SocketPair sockets;
    // Fill the socket buffer until writing would block.
    std::vector<char> chunk(65536, 'x');
    while (::send(sockets.a, chunk.data(), chunk.size(), MSG_DONTWAIT) > 0) {
    }
    int calls = 0;
    loop.add_writer(sockets.a, [&] { ++calls; });
    for (int i = 0; i < 3; ++i) co_await asyncio::sleep(0s);
    EXPECT_EQ(calls, 0);
    // The peer reads everything: space again.
    while (::recv(sockets.b, chunk.data(), chunk.size(), MSG_DONTWAIT) > 0) {
    }
    for (int i = 0; i < 3; ++i) co_await asyncio::sleep(0s);
    EXPECT_GE(calls, 1);
    EXPECT_TRUE(loop.remove_writer(sockets.a));
}

ASYNCIO_TEST(EventLoop, ReaderAndWriterOnOneDescriptorAreIndependent) {
    auto& loop = asyncio::get_running_loop();
    SocketPair sockets;
    int reads = 0;
    int writes = 0;
    loop.add_reader(sockets.a, [&] { ++reads; });
    loop.add_writer(sockets.a, [&] { ++writes; });
    for (int i = 0; i < 3; ++i) co_await asyncio::sleep(0s);
    EXPECT_EQ(reads, 0);
    EXPECT_GE(writes, 1);
    EXPECT_TRUE(loop.remove_writer(sockets.a));
    EXPECT_EQ(::send(sockets.b, "y", 1, 0), 1);
    for (int i = 0; i < 3; ++i) co_await asyncio::sleep(0s);
    EXPECT_GE(reads, 1);
    EXPECT_TRUE(loop.remove_reader(sockets.a));
}

// ---- signals ----

ASYNCIO_TEST(EventLoop, SignalHandlerRunsOnTheLoopNotInsideTheSignalHandler) {
    auto& loop = asyncio::get_running_loop();
    int calls = 0;
    std::thread::id ran_on;
    loop.add_signal_handler(SIGUSR1, [&] {
        ++calls;
        ran_on = std::this_thread::get_id();
    });
    ::raise(SIGUSR1);
    EXPECT_EQ(calls, 0);  // not synchronously in the signal handler
    for (int i = 0; i < 3; ++i) co_await asyncio::sleep(0s);
    EXPECT_EQ(calls, 1);
    EXPECT_EQ(ran_on, std::this_thread::get_id());
    EXPECT_TRUE(loop.remove_signal_handler(SIGUSR1));
}

ASYNCIO_TEST(EventLoop, SignalFromAnotherThreadWakesTheLoopAndRunsTheHandlerInTheLoopThread) {
    auto& loop = asyncio::get_running_loop();
    asyncio::Future<std::thread::id> handled;
    loop.add_signal_handler(SIGUSR1, [&] {
        if (!handled.done()) handled.set_result(std::this_thread::get_id());
    });
    std::thread sender([] {
        std::this_thread::sleep_for(20ms);
        ::raise(SIGUSR1);  // delivered to this other thread
    });
    const std::thread::id id = co_await handled;  // the loop is blocked waiting meanwhile
    sender.join();
    EXPECT_EQ(id, std::this_thread::get_id());
    EXPECT_TRUE(loop.remove_signal_handler(SIGUSR1));
}

ASYNCIO_TEST(EventLoop, RemoveSignalHandlerRestoresTheDefaultDisposition) {
    auto& loop = asyncio::get_running_loop();
    EXPECT_FALSE(loop.remove_signal_handler(SIGUSR2));
    loop.add_signal_handler(SIGUSR2, [] {});
    struct sigaction installed {};
    ::sigaction(SIGUSR2, nullptr, &installed);
    EXPECT_NE(installed.sa_handler, SIG_DFL);
    EXPECT_TRUE(loop.remove_signal_handler(SIGUSR2));
    struct sigaction restored {};
    ::sigaction(SIGUSR2, nullptr, &restored);
    EXPECT_EQ(restored.sa_handler, SIG_DFL);
    EXPECT_FALSE(loop.remove_signal_handler(SIGUSR2));
    co_return;
}

ASYNCIO_TEST(EventLoop, AddSignalHandlerAgainReplacesTheCallback) {
    auto& loop = asyncio::get_running_loop();
    int first = 0;
    int second = 0;
    loop.add_signal_handler(SIGUSR1, [&] { ++first; });
    loop.add_signal_handler(SIGUSR1, [&] { ++second; });
    ::raise(SIGUSR1);
    for (int i = 0; i < 3; ++i) co_await asyncio::sleep(0s);
    EXPECT_EQ(first, 0);
    EXPECT_EQ(second, 1);
    EXPECT_TRUE(loop.remove_signal_handler(SIGUSR1));
}

ASYNCIO_TEST(EventLoop, InvalidSignalNumbersThrowInvalidArgument) {
    auto& loop = asyncio::get_running_loop();
    for (int signum : {0, -1, NSIG, NSIG + 1, SIGKILL, SIGSTOP}) {
        EXPECT_THROW(loop.add_signal_handler(signum, [] {}), std::invalid_argument)
            << "signal " << signum;
    }
    EXPECT_THROW(loop.add_signal_handler(SIGUSR1, std::function<void()>()), std::invalid_argument);
    EXPECT_FALSE(loop.remove_signal_handler(SIGUSR1));
    co_return;
}

ASYNCIO_TEST(EventLoop, SignalHandledByAnotherLoopThrowsRuntimeError) {
    auto& loop = asyncio::get_running_loop();
    loop.add_signal_handler(SIGUSR1, [] {});
    {
        asyncio::EventLoop other(manual_clock_options());
        EXPECT_THROW(other.add_signal_handler(SIGUSR1, [] {}), asyncio::RuntimeError);
        other.close();
    }
    EXPECT_TRUE(loop.remove_signal_handler(SIGUSR1));
    co_return;
}

TEST(EventLoop, CloseRemovesSignalHandlers) {
    asyncio::testing::LeakCheck leaks;
    asyncio::EventLoop loop(manual_clock_options());
    loop.add_signal_handler(SIGUSR2, [] {});
    loop.close();
    struct sigaction restored {};
    ::sigaction(SIGUSR2, nullptr, &restored);
    EXPECT_EQ(restored.sa_handler, SIG_DFL);
}

// ---- running and stopping ----

TEST(EventLoop, RunUntilCompleteOnAPlainLoopGivesTheResult) {
    asyncio::testing::LeakCheck leaks;
    asyncio::EventLoop loop(manual_clock_options());
    const auto start = loop.time();
    EXPECT_EQ(loop.run_until_complete(add_after(2s, 20, 22)), 42);
    EXPECT_EQ(loop.time() - start, 2s);
    EXPECT_FALSE(loop.is_running());
    // The loop can be run again.
    EXPECT_EQ(loop.run_until_complete(add_after(1s, 1, 1)), 2);
    loop.close();
    EXPECT_TRUE(loop.is_closed());
}

TEST(EventLoop, RunUntilCompleteRethrowsTheTasksException) {
    asyncio::testing::LeakCheck leaks;
    asyncio::EventLoop loop(manual_clock_options());
    auto failing = []() -> asyncio::Task<int> {
        co_await asyncio::sleep(1s);
        throw CustomError("task failed");
    };
    EXPECT_THROW(loop.run_until_complete(failing()), CustomError);
    loop.close();
}

TEST(EventLoop, RunUntilCompleteAcceptsATaskHandle) {
    asyncio::testing::LeakCheck leaks;
    asyncio::EventLoop loop(manual_clock_options());
    auto handle = loop.create_task(add_after(1s, 2, 3), "adder");
    EXPECT_EQ(handle.get_name(), "adder");
    EXPECT_EQ(loop.run_until_complete(handle), 5);
    EXPECT_TRUE(handle.done());
    loop.close();
}

TEST(EventLoop, IsRunningIsTrueOnlyWhileRunning) {
    asyncio::testing::LeakCheck leaks;
    asyncio::EventLoop loop(manual_clock_options());
    EXPECT_FALSE(loop.is_running());
    bool running_inside = false;
    loop.call_soon([&] {
        running_inside = loop.is_running();
        loop.stop();
    });
    loop.run_forever();
    EXPECT_TRUE(running_inside);
    EXPECT_FALSE(loop.is_running());
    loop.close();
}

TEST(EventLoop, RunForeverRunsUntilStop) {
    asyncio::testing::LeakCheck leaks;
    asyncio::EventLoop loop(manual_clock_options());
    const auto start = loop.time();
    int ticks = 0;
    std::function<void()> tick = [&] {
        if (++ticks < 5) {
            loop.call_later(1s, tick);
        } else {
            loop.stop();
        }
    };
    loop.call_later(1s, tick);
    loop.run_forever();
    EXPECT_EQ(ticks, 5);
    EXPECT_EQ(loop.time() - start, 5s);
    loop.close();
}

TEST(EventLoop, StopBeforeRunForeverRunsOneIteration) {
    asyncio::testing::LeakCheck leaks;
    asyncio::EventLoop loop(manual_clock_options());
    std::vector<std::string> ran;
    loop.call_soon([&] {
        ran.push_back("first");
        loop.call_soon([&] { ran.push_back("second"); });
    });
    loop.stop();
    loop.run_forever();  // like CPython: one iteration, then return
    EXPECT_EQ(ran, std::vector<std::string>{"first"});
    loop.call_soon([&] { loop.stop(); });
    loop.run_forever();  // the stop request was consumed: runs until the new stop()
    EXPECT_EQ(ran, (std::vector<std::string>{"first", "second"}));
    loop.close();
}

TEST(EventLoop, RunUntilCompleteThrowsWhenTheLoopStopsFirst) {
    asyncio::testing::LeakCheck leaks;
    asyncio::testing::LogCapture log;
    asyncio::EventLoop loop(manual_clock_options());
    loop.call_later(1s, [&] { loop.stop(); });
    EXPECT_THROW(loop.run_until_complete(sleep_for(1h)), asyncio::RuntimeError);
    loop.close();  // the task is still pending
    EXPECT_TRUE(log.contains("Task was destroyed but it is pending!")) << log.joined();
}

TEST(EventLoop, TasksOfAPlainLoopRunConcurrently) {
    asyncio::testing::LeakCheck leaks;
    asyncio::EventLoop loop(manual_clock_options());
    const auto start = loop.time();
    auto a = loop.create_task(add_after(3s, 1, 2));
    auto b = loop.create_task(add_after(2s, 3, 4));
    EXPECT_EQ(loop.run_until_complete(a), 3);
    EXPECT_TRUE(b.done());
    EXPECT_EQ(b.result(), 7);
    EXPECT_EQ(loop.time() - start, 3s);
    loop.close();
}

// ---- misuse ----

TEST(EventLoop, MethodsOfAClosedLoopThrowRuntimeError) {
    asyncio::testing::LeakCheck leaks;
    asyncio::EventLoop loop(manual_clock_options());
    loop.close();
    EXPECT_TRUE(loop.is_closed());
    EXPECT_THROW(loop.run_forever(), asyncio::RuntimeError);
    EXPECT_THROW(loop.run_until_complete(add_after(1s, 1, 2)), asyncio::RuntimeError);
    EXPECT_THROW(loop.create_task(add_after(1s, 1, 2)), asyncio::RuntimeError);
    EXPECT_THROW(loop.call_soon_threadsafe([] {}), asyncio::RuntimeError);
    EXPECT_THROW(loop.run_in_executor([] { return 1; }), asyncio::RuntimeError);
    EXPECT_THROW(loop.add_signal_handler(SIGUSR1, [] {}), asyncio::RuntimeError);
    Pipe pipe;
    EXPECT_THROW(loop.add_reader(pipe.read_end, [] {}), asyncio::RuntimeError);
    EXPECT_THROW(loop.add_writer(pipe.write_end, [] {}), asyncio::RuntimeError);
    EXPECT_NO_THROW(loop.close());  // idempotent
}

TEST(EventLoop, CallSoonAndCallLaterOnAClosedLoopThrowRuntimeError) {
    // CPython: loop.call_soon()/call_later()/call_at() on a closed loop raise
    // RuntimeError('Event loop is closed').
    asyncio::testing::LeakCheck leaks;
    asyncio::EventLoop loop(manual_clock_options());
    loop.close();
    EXPECT_THROW(loop.call_soon([] {}), asyncio::RuntimeError);
    EXPECT_THROW(loop.call_later(1s, [] {}), asyncio::RuntimeError);
    EXPECT_THROW(loop.call_at(loop.time(), [] {}), asyncio::RuntimeError);
}

ASYNCIO_TEST(EventLoop, CloseOfARunningLoopThrowsRuntimeError) {
    auto& loop = asyncio::get_running_loop();
    EXPECT_THROW(loop.close(), asyncio::RuntimeError);
    EXPECT_FALSE(loop.is_closed());
    co_return;
}

ASYNCIO_TEST(EventLoop, RunningTheRunningLoopAgainThrowsRuntimeError) {
    auto& loop = asyncio::get_running_loop();
    EXPECT_THROW(loop.run_forever(), asyncio::RuntimeError);
    EXPECT_TRUE(loop.is_running());
    EXPECT_EQ(&asyncio::get_running_loop(), &loop);
    co_return;
}

ASYNCIO_TEST(EventLoop, RunningAnotherLoopInsideARunningLoopThrowsRuntimeError) {
    auto& outer = asyncio::get_running_loop();
    {
        asyncio::EventLoop inner(manual_clock_options());
        EXPECT_THROW(inner.run_forever(), asyncio::RuntimeError);
        EXPECT_FALSE(inner.is_running());
        inner.close();
    }
    EXPECT_EQ(&asyncio::get_running_loop(), &outer);  // still the running loop
    co_await asyncio::sleep(1s);                      // and still working
}

ASYNCIO_TEST(EventLoop, RunUntilCompleteOfAnotherLoopInsideARunningLoopThrowsRuntimeError) {
    asyncio::testing::LogCapture log;
    {
        asyncio::EventLoop inner(manual_clock_options());
        EXPECT_THROW(inner.run_until_complete(add_after(1s, 1, 2)), asyncio::RuntimeError);
        inner.close();
    }
    co_await asyncio::sleep(1s);
}

TEST(EventLoop, ClosingALoopWithAPendingTaskLogsItAndLeaksNothing) {
    asyncio::testing::LogCapture log;
    asyncio::testing::LeakCheck leaks;
    bool cleaned_up = false;
    {
        asyncio::EventLoop loop(manual_clock_options());
        struct Guard {
            bool& flag;
            ~Guard() { flag = true; }
        };
        auto pending = [&]() -> asyncio::Task<> {
            Guard guard{cleaned_up};
            co_await asyncio::sleep(1h);
        };
        loop.create_task(pending(), "forgotten");
        loop.run_until_complete(sleep_for(1s));  // the pending task starts and suspends
        EXPECT_FALSE(cleaned_up);
        loop.close();
        EXPECT_TRUE(cleaned_up);  // its frame was destroyed
    }
    EXPECT_TRUE(log.contains("Task was destroyed but it is pending!")) << log.joined();
    EXPECT_TRUE(log.contains("forgotten")) << log.joined();
}

TEST(EventLoop, ClosingALoopWithPendingCallbacksAndTimersLeaksNothing) {
    asyncio::testing::LeakCheck leaks;
    auto owned = std::make_shared<int>(0);
    {
        asyncio::EventLoop loop(manual_clock_options());
        loop.call_soon([owned] {});
        loop.call_later(1h, [owned] {});
        auto kept = loop.call_later(2h, [owned] {});
        EXPECT_EQ(owned.use_count(), 4);
        loop.close();
        EXPECT_EQ(owned.use_count(), 1);  // even a handle still held loses its captures
    }
    EXPECT_EQ(owned.use_count(), 1);
}

TEST(EventLoop, DestroyingAnUnclosedLoopClosesIt) {
    asyncio::testing::LogCapture log;
    asyncio::testing::LeakCheck leaks;
    {
        asyncio::EventLoop loop(manual_clock_options());
        loop.create_task(sleep_for(1h));
        loop.call_later(1s, [&loop] { loop.stop(); });
        loop.run_forever();
    }
    EXPECT_TRUE(log.contains("Task was destroyed but it is pending!")) << log.joined();
}

TEST(EventLoop, GetRunningLoopOutsideALoopThrowsRuntimeError) {
    EXPECT_THROW(asyncio::get_running_loop(), asyncio::RuntimeError);
    asyncio::EventLoop loop(manual_clock_options());  // existing but not running
    EXPECT_THROW(asyncio::get_running_loop(), asyncio::RuntimeError);
    loop.close();
}

TEST(EventLoop, GetRunningLoopInsideACallbackIsThatLoop) {
    asyncio::testing::LeakCheck leaks;
    asyncio::EventLoop loop(manual_clock_options());
    asyncio::EventLoop* seen = nullptr;
    loop.call_soon([&] {
        seen = &asyncio::get_running_loop();
        loop.stop();
    });
    loop.run_forever();
    EXPECT_EQ(seen, &loop);
    EXPECT_THROW(asyncio::get_running_loop(), asyncio::RuntimeError);  // reset afterwards
    loop.close();
}

TEST(EventLoop, BackendNameIsEpollOrIoUring) {
    asyncio::EventLoop loop(manual_clock_options());
    const std::string name = loop.backend_name();
    EXPECT_TRUE(name == "epoll" || name == "io_uring") << name;
    loop.close();
}

TEST(EventLoop, SlowCallbackDurationIsConfigurable) {
    asyncio::LoopOptions options = manual_clock_options();
    options.slow_callback_duration = 250ms;
    asyncio::EventLoop loop(options);
    EXPECT_EQ(loop.slow_callback_duration(), 250ms);
    loop.set_slow_callback_duration(1s);
    EXPECT_EQ(loop.slow_callback_duration(), 1s);
    loop.close();
}
