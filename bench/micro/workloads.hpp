// The workloads of the micro benchmarks, shared by the Google Benchmark programs
// (<area>_bench.cpp) and by instruction_counts.cpp, which runs one of them under callgrind.
// Each takes the number of operations and runs them on a fresh loop; none checks timing.

#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "asyncio/asyncio.hpp"

namespace asyncio::bench {

using namespace std::chrono_literals;

inline Task<> trivial() { co_return; }
inline Task<int> trivial_int(int value) { co_return value; }

/// create_task() of `n` trivial tasks, then one gather() of their handles.
inline Task<> spawn_gather(std::size_t n) {
    std::vector<TaskHandle<>> handles;
    handles.reserve(n);
    for (std::size_t i = 0; i < n; ++i) handles.push_back(create_task(trivial()));
    co_await gather(handles);
}

/// `n` round trips through two queues: A puts on q1 and gets from q2, B the other way.
inline Task<> pingpong_a(Queue<int>& q1, Queue<int>& q2, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
        co_await q1.put(static_cast<int>(i));
        (void)co_await q2.get();
    }
}
inline Task<> pingpong_b(Queue<int>& q1, Queue<int>& q2, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
        int value = co_await q1.get();
        co_await q2.put(std::move(value));
    }
}
inline Task<> pingpong(std::size_t n) {
    Queue<int> q1;
    Queue<int> q2;
    auto b = create_task(pingpong_b(q1, q2, n));
    co_await pingpong_a(q1, q2, n);
    co_await b;
}

/// put() then get() on one queue, neither of which waits.
inline Task<> queue_put_get(std::size_t n) {
    Queue<int> queue;
    for (std::size_t i = 0; i < n; ++i) {
        co_await queue.put(static_cast<int>(i));
        (void)co_await queue.get();
    }
}

/// put_nowait() then get_nowait().
inline Task<> queue_nowait(std::size_t n) {
    Queue<int> queue;
    for (std::size_t i = 0; i < n; ++i) {
        queue.put_nowait(static_cast<int>(i));
        (void)queue.get_nowait();
    }
    co_return;
}

/// `n` awaits of a Task that completes at once (runs inside the awaiting task).
inline Task<> await_ready_task(std::size_t n) {
    std::int64_t sum = 0;
    for (std::size_t i = 0; i < n; ++i) sum += co_await trivial_int(static_cast<int>(i));
    if (sum < 0) throw RuntimeError("unreachable");
}

/// `n` yields to the loop: sleep(0) suspends and resumes in the next iteration.
inline Task<> yield_loop(std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) co_await sleep(0s);
}

inline Task<> sleeper(Duration delay) { co_await sleep(delay); }

/// `n` tasks sleeping `delay` at the same time: n timers armed, then fired.
inline Task<> concurrent_sleeps(std::size_t n, Duration delay) {
    std::vector<TaskHandle<>> handles;
    handles.reserve(n);
    for (std::size_t i = 0; i < n; ++i) handles.push_back(create_task(sleeper(delay)));
    co_await gather(handles);
}

/// One task sleeping `n` times in a row: arm, fire, resume, one timer at a time.
inline Task<> sequential_sleeps(std::size_t n, Duration delay) {
    for (std::size_t i = 0; i < n; ++i) co_await sleep(delay);
}

/// call_later() then cancel(), `n` times: a timer armed and removed without firing.
inline Task<> timer_arm_cancel(std::size_t n) {
    EventLoop& loop = get_running_loop();
    for (std::size_t i = 0; i < n; ++i) {
        TimerHandle handle = loop.call_later(1h, [] {});
        handle.cancel();
    }
    co_return;
}

/// `n` call_soon() callbacks, run by the loop in one iteration.
inline Task<> call_soon_batch(std::size_t n) {
    EventLoop& loop = get_running_loop();
    auto count = std::make_shared<std::size_t>(0);
    for (std::size_t i = 0; i < n; ++i) {
        std::size_t* counter = count.get();
        loop.call_soon([counter] { ++*counter; });
    }
    co_await sleep(0s);  // queued after the callbacks: they have all run when it resumes
    if (*count != n) throw RuntimeError("call_soon callbacks did not all run");
}

/// `n` gathers of two tasks that complete at once.
inline Task<> gather_pairs(std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
        auto [a, b] = co_await gather(trivial_int(1), trivial_int(2));
        if (a + b != 3) throw RuntimeError("unreachable");
    }
}

/// `n` round trips of `size` bytes through a loopback TCP connection to an echo server.
inline Task<> echo_client_handler(StreamReader reader, StreamWriter writer) {
    for (;;) {
        std::string data = co_await reader.read(65536);
        if (data.empty()) break;
        writer.write(data);
        co_await writer.drain();
    }
    writer.close();
}
inline Task<> stream_round_trips(std::size_t n, std::size_t size) {
    auto server = co_await start_server(echo_client_handler, "127.0.0.1", 0);
    auto [reader, writer] = co_await open_connection("127.0.0.1", server.sockets().at(0).port());
    const std::string message(size, 'x');
    for (std::size_t i = 0; i < n; ++i) {
        writer.write(message);
        co_await writer.drain();
        std::string reply = co_await reader.readexactly(size);
        if (reply.size() != size) throw RuntimeError("short echo");
    }
    writer.close();
    co_await writer.wait_closed();
    server.close();
    co_await server.wait_closed();
}

}  // namespace asyncio::bench
