#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "asyncio/event_loop.hpp"
#include "backend/backend.hpp"
#include "loop/thread_pool.hpp"
#include "loop/timer_heap.hpp"

namespace asyncio::detail {

/// True when ASYNCIO_DEBUG is set to a non-empty value other than "0".
bool debug_from_environment() noexcept;

/// Whether `loop` still exists (not yet destroyed): late reports from objects that
/// outlive their loop check this first.
bool loop_is_alive(const LoopCore* loop) noexcept;

/// add_reader / add_writer: a readiness operation re-armed after each callback run, which
/// gives Python's level-triggered semantics (called every iteration while ready).
struct FdWatch : IoOperation {
    EventLoop* loop = nullptr;
    std::function<void()> callback;
    bool active = true;   // false once removed
    bool queued = false;  // a run of the callback is in the ready queue
};

class Resolver;

/// Deletes the loop's DNS resolver where its type is complete (src/dns/resolver.cpp), so
/// that the loop does not depend on c-ares's header.
struct ResolverDeleter {
    void operator()(Resolver* resolver) const noexcept;
};

/// Signal handling shared by all loops: a handler only sets a flag and writes to the
/// owning loop's wake-up eventfd (both async-signal-safe).
void install_signal(EventLoop& loop, int signum, int wake_fd);
void uninstall_signal(int signum) noexcept;
bool take_signal(int signum) noexcept;
/// Changes whenever a signal arrives (any signal, any loop).
std::uint64_t signal_generation() noexcept;

}  // namespace asyncio::detail

namespace asyncio {

struct EventLoop::Impl {
    explicit Impl(EventLoop& owner) : loop(owner) {}

    void run_once();
    void run_ready(detail::ReadyItem& item) noexcept;
    void run_timed(detail::ReadyItem& item) noexcept;
    void drain_threadsafe() noexcept;
    void dispatch_signals();
    bool install_task_dump();
    bool has_ready() const noexcept { return loop.ready_head_ != nullptr; }
    void rearm(detail::FdWatch& watch);
    /// Frees a removed watch once no run of its callback and no operation refers to it.
    void free_retired(detail::FdWatch& watch) noexcept;
    void drop_callbacks() noexcept;

    EventLoop& loop;
    std::unique_ptr<detail::Backend> backend;  // null once closed
    const char* backend_name = "";
    std::shared_ptr<Clock> clock;
    ManualClock* manual_clock = nullptr;
    detail::TimerHeap timers;
    Duration slow_callback_duration{};
    bool running = false;
    bool closed = false;
    std::atomic<bool> stopping{false};

    std::mutex threadsafe_mutex;
    std::vector<detail::CallbackBase*> threadsafe_queue;
    std::atomic<bool> threadsafe_pending{false};

    ExceptionHandler exception_handler;
    std::unique_ptr<detail::ThreadPool> executor;

    std::unordered_map<int, std::unique_ptr<detail::FdWatch>> readers;
    std::unordered_map<int, std::unique_ptr<detail::FdWatch>> writers;
    std::vector<std::unique_ptr<detail::FdWatch>> retired_watches;

    std::map<int, std::function<void()>> signal_handlers;
    std::uint64_t seen_signal_generation = 0;  // signal_generation() at the last dispatch

    /// The c-ares channel of this loop, created by the first lookup; close() destroys it.
    /// Declared last: were it left to ~Impl, it would still go before the backend.
    std::unique_ptr<detail::Resolver, detail::ResolverDeleter> resolver;
};

}  // namespace asyncio
