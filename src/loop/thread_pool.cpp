#include "loop/thread_pool.hpp"

#include <algorithm>

namespace asyncio::detail {

ThreadPool::ThreadPool(std::size_t max_workers) : max_workers_(std::max<std::size_t>(1, max_workers)) {}

ThreadPool::~ThreadPool() { shutdown(); }

std::size_t ThreadPool::default_max_workers() noexcept {
    const std::size_t cores = std::max(1u, std::thread::hardware_concurrency());
    return std::min<std::size_t>(32, cores + 4);
}

void ThreadPool::submit(std::unique_ptr<ExecutorJob> job) {
    std::unique_lock lock(mutex_);
    if (stopping_) throw RuntimeError("cannot schedule new work after the executor was shut down");
    jobs_.push_back(std::move(job));
    if (idle_ > 0) {
        lock.unlock();
        wake_.notify_one();
    } else if (threads_.size() < max_workers_) {
        threads_.emplace_back([this] { work(); });
    }
}

void ThreadPool::shutdown() noexcept {
    std::vector<std::thread> threads;
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
        threads.swap(threads_);
    }
    wake_.notify_all();
    for (auto& thread : threads) thread.join();
}

void ThreadPool::work() noexcept {
    std::unique_lock lock(mutex_);
    for (;;) {
        if (!jobs_.empty()) {
            auto job = std::move(jobs_.front());
            jobs_.pop_front();
            lock.unlock();
            job->run();  // run_in_executor's jobs catch their own exceptions
            job.reset();
            lock.lock();
            continue;
        }
        if (stopping_) return;
        ++idle_;
        wake_.wait(lock);
        --idle_;
    }
}

}  // namespace asyncio::detail
