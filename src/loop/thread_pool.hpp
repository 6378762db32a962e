#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "asyncio/event_loop.hpp"

namespace asyncio::detail {

/// The loop's default executor: at most `max_workers` threads, started on demand, that
/// run jobs in FIFO order. shutdown() runs every job already queued, then joins.
class ThreadPool {
public:
    explicit ThreadPool(std::size_t max_workers);
    ~ThreadPool();
    ThreadPool(const ThreadPool&) = delete;
    ThreadPool& operator=(const ThreadPool&) = delete;

    /// Throws: RuntimeError after shutdown().
    void submit(std::unique_ptr<ExecutorJob> job);
    void shutdown() noexcept;

    /// Python's default: min(32, cores + 4).
    static std::size_t default_max_workers() noexcept;

private:
    void work() noexcept;

    const std::size_t max_workers_;
    std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<std::unique_ptr<ExecutorJob>> jobs_;
    std::vector<std::thread> threads_;
    std::size_t idle_ = 0;
    bool stopping_ = false;
};

}  // namespace asyncio::detail
