#include "support/asyncio_test.hpp"

#include <dirent.h>

#include <mutex>

namespace asyncio::testing {

std::size_t open_fd_count() {
    std::size_t count = 0;
    if (DIR* dir = ::opendir("/proc/self/fd")) {
        while (::readdir(dir) != nullptr) ++count;
        ::closedir(dir);
    }
    return count;
}

struct LogCapture::State {
    mutable std::mutex mutex;
    std::vector<std::string> lines;
};

LogCapture::LogCapture() : state_(std::make_shared<State>()) {
    previous_ = set_log_sink([state = state_](LogLevel, std::string_view message) {
        std::lock_guard lock(state->mutex);
        state->lines.emplace_back(message);
    });
}

LogCapture::~LogCapture() { set_log_sink(std::move(previous_)); }

std::vector<std::string> LogCapture::lines() const {
    std::lock_guard lock(state_->mutex);
    return state_->lines;
}

bool LogCapture::contains(const std::string& text) const {
    for (const auto& line : lines()) {
        if (line.find(text) != std::string::npos) return true;
    }
    return false;
}

std::string LogCapture::joined() const {
    std::string all;
    for (const auto& line : lines()) all += line + "\n";
    return all;
}

LeakCheck::LeakCheck(std::size_t frames_to_be_freed)
    : frames_(detail::live_frames() - frames_to_be_freed), fds_(open_fd_count()) {}

LeakCheck::~LeakCheck() {
    EXPECT_EQ(detail::live_frames(), frames_) << "coroutine frames leaked";
    EXPECT_EQ(open_fd_count(), fds_) << "file descriptors leaked";
}

namespace {
thread_local ManualClock* current_manual_clock = nullptr;
}

void run_test(Task<> body, TestOptions options) {
    LeakCheck leaks(body.valid() ? 1 : 0);
    RunOptions run_options;
    run_options.debug = options.debug;
    std::shared_ptr<ManualClock> clock;
    if (!options.real_clock) {
        clock = std::make_shared<ManualClock>();
        run_options.clock = clock;
    }
    current_manual_clock = clock.get();
    try {
        asyncio::run(std::move(body), run_options);
    } catch (const std::exception& e) {
        ADD_FAILURE() << "test body threw: " << e.what();
    } catch (const BaseException& e) {
        ADD_FAILURE() << "test body threw: " << e.what();
    }
    current_manual_clock = nullptr;
}

Task<> finishes(TaskHandle<> task) {
    try {
        co_await wait_for(task, std::chrono::hours(1));
    } catch (const TimeoutError&) {
        ADD_FAILURE() << "the task never finished: a wake-up was lost";
    }
}

ManualClock& manual_clock() {
    if (current_manual_clock == nullptr) {
        ADD_FAILURE() << "manual_clock() used in a test without a ManualClock";
        static ManualClock fallback;
        return fallback;
    }
    return *current_manual_clock;
}

}  // namespace asyncio::testing
