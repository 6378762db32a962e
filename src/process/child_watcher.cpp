#include "process/child_watcher.hpp"

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <string>
#include <system_error>
#include <thread>

#include <signal.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "asyncio/log.hpp"
#include "loop/event_loop_impl.hpp"
#include "net/os_error.hpp"

namespace asyncio::detail {
namespace {

std::atomic<bool> thread_watcher_forced{false};
// Set once pidfd_open failed with ENOSYS or EPERM: no point asking again for each child.
std::atomic<bool> pidfd_unavailable{false};

// glibc names P_PIDFD from 2.36 on; the kernel's value is 3 (linux/wait.h).
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 36))
constexpr idtype_t pidfd_id_type = P_PIDFD;
#else
constexpr idtype_t pidfd_id_type = static_cast<idtype_t>(3);
#endif

int open_pidfd(pid_t pid) noexcept {
#ifdef SYS_pidfd_open
    return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));  // always close-on-exec
#else
    (void)pid;
    errno = ENOSYS;
    return -1;
#endif
}

int send_through_pidfd(int pidfd, int signum) noexcept {
#ifdef SYS_pidfd_send_signal
    return static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd, signum, nullptr, 0));
#else
    (void)pidfd;
    (void)signum;
    errno = ENOSYS;
    return -1;
#endif
}

/// Python's waitstatus_to_exitcode: the exit code, or -N when signal N ended the child.
int returncode_of(const siginfo_t& info) noexcept {
    return info.si_code == CLD_EXITED ? info.si_status : -info.si_status;
}

void warn_lost(pid_t pid) noexcept {
    // Somebody else reaped our child: a waitpid(-1) elsewhere, or SIGCHLD set to SIG_IGN.
    // Python reports 255 with the same warning.
    try {
        log(LogLevel::warning,
            "Unknown child process pid " + std::to_string(pid) + ", will report returncode 255");
    } catch (...) {
    }
}

/// Thread mode: waits for the child's exit, reaps it, and wakes the loop.
void wait_in_thread(pid_t pid, std::shared_ptr<ChildProcess::ThreadReport> report) noexcept {
    siginfo_t info{};
    int result;
    // WNOWAIT leaves the child a zombie, so its pid cannot be reused while send_signal()
    // may still kill() it; it is reaped below, under the lock send_signal() takes.
    do {
        result = ::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOWAIT);
    } while (result != 0 && errno == EINTR);
    std::lock_guard lock(report->mutex);
    if (result == 0) {
        siginfo_t reaped{};
        while (::waitid(P_PID, static_cast<id_t>(pid), &reaped, WEXITED) != 0 && errno == EINTR) {
        }
        report->returncode = returncode_of(info);
    } else {
        report->lost = true;
        report->returncode = 255;
    }
    report->reaped = true;
    if (report->event_fd >= 0) {
        const std::uint64_t one = 1;
        [[maybe_unused]] auto ignored = ::write(report->event_fd, &one, sizeof one);
    }
}

/// Pidfd mode, after the loop let go of a running child: reaps it whenever it exits.
void reap_in_thread(int pidfd) noexcept {
    siginfo_t info{};
    while (::waitid(pidfd_id_type, static_cast<id_t>(pidfd), &info, WEXITED) != 0 &&
           errno == EINTR) {
    }
    ::close(pidfd);
}

}  // namespace

void ChildProcess::force_thread_watcher(bool enabled) noexcept {
    thread_watcher_forced.store(enabled, std::memory_order_relaxed);
}

std::shared_ptr<ChildProcess> ChildProcess::watch(EventLoop& loop, pid_t pid) {
    std::shared_ptr<ChildProcess> child(new ChildProcess(loop, pid));
    int watched = -1;
    if (!thread_watcher_forced.load(std::memory_order_relaxed) &&
        !pidfd_unavailable.load(std::memory_order_relaxed)) {
        watched = open_pidfd(pid);
        if (watched >= 0) {
            child->pidfd_ = watched;
        } else if (errno == ENOSYS || errno == EPERM) {
            pidfd_unavailable.store(true, std::memory_order_relaxed);
        } else {
            throw_os_error(errno, "pidfd_open of process " + std::to_string(pid));
        }
    }
    if (watched < 0) {
        child->report_ = std::make_shared<ThreadReport>();
        watched = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (watched < 0) throw_os_error(errno, "eventfd to watch process " + std::to_string(pid));
        child->report_->event_fd = watched;
    }
    // On a failure from here on, the caller kills and reaps the child itself (no thread
    // waits for it yet), and the destructor only closes the descriptor.
    loop.add_reader(watched, [child] { child->on_readable(); });
    child->watching_ = true;
    if (child->report_) {
        try {
            std::thread(wait_in_thread, pid, child->report_).detach();
        } catch (const std::system_error& error) {
            child->stop_watching();
            throw_os_error(error.code().value(), "thread to watch process " + std::to_string(pid));
        }
    }
    child->adopted_ = true;
    return child;
}

ChildProcess::~ChildProcess() {
    // The watch is gone (its callback held a reference): the child has been reaped, or the
    // loop closed, or its Process was the last reference after that.
    if (report_) {
        // The waiting thread reaps the child whenever it exits.
        std::lock_guard lock(report_->mutex);
        if (report_->event_fd >= 0) close_descriptor(loop_, report_->event_fd);
        report_->event_fd = -1;
        return;
    }
    if (pidfd_ < 0) return;
    if (returncode_ || !adopted_ || reap_now()) {
        close_descriptor(loop_, pidfd_);
        return;
    }
    // Still running, and no loop watches it any more: neither kill it (Python's default)
    // nor leave a zombie behind.
    if (EventLoop* loop = live_loop()) loop->impl().backend->forget_fd(pidfd_);
    try {
        std::thread(reap_in_thread, pidfd_).detach();
    } catch (...) {
        try {
            log(LogLevel::error, "no thread to reap process " + std::to_string(pid_) +
                                     ": it stays a zombie when it exits");
        } catch (...) {
        }
        ::close(pidfd_);
    }
}

EventLoop* ChildProcess::live_loop() const noexcept {
    if (!loop_is_alive(loop_) || loop_->is_closed()) return nullptr;
    return loop_;
}

Task<int> ChildProcess::wait(std::shared_ptr<ChildProcess> self) {
    if (!self->returncode_ && &require_running_loop() != self->loop_) {
        throw RuntimeError("Process.wait(): the process was started by another event loop");
    }
    while (!self->returncode_) {
        WaitQueue::Waiter waiter(self->waiters_);
        // A wake-up goes to every waiter: nothing to hand on when cancelled after it.
        if (co_await waiter) waiter.throw_cancelled();
    }
    co_return *self->returncode_;
}

void ChildProcess::on_readable() {
    if (returncode_) return;
    std::optional<int> code;
    if (report_) {
        std::uint64_t count;
        [[maybe_unused]] auto ignored = ::read(report_->event_fd, &count, sizeof count);
        bool lost = false;
        {
            std::lock_guard lock(report_->mutex);
            if (!report_->reaped) return;
            lost = report_->lost;
            code = report_->returncode;
        }
        if (lost) warn_lost(pid_);
    } else {
        code = reap_now();
        if (!code) return;  // keep watching
    }
    finish(*code);
}

std::optional<int> ChildProcess::reap_now() {
    siginfo_t info{};  // si_pid stays 0 when WNOHANG finds the child still running
    while (::waitid(pidfd_id_type, static_cast<id_t>(pidfd_), &info, WEXITED | WNOHANG) != 0) {
        if (errno == EINTR) continue;
        warn_lost(pid_);
        return 255;
    }
    if (info.si_pid == 0) return std::nullopt;
    return returncode_of(info);
}

void ChildProcess::finish(int returncode) {
    // Removing the watch drops the reference its callback holds.
    const std::shared_ptr<ChildProcess> keep_alive = shared_from_this();
    returncode_ = returncode;
    stop_watching();
    waiters_.wake_all();
}

void ChildProcess::stop_watching() noexcept {
    const int watched = report_ ? report_->event_fd : pidfd_;
    if (watching_) {
        watching_ = false;
        if (EventLoop* loop = live_loop()) {
            try {
                loop->remove_reader(watched);
            } catch (...) {  // debug mode, wrong thread: the loop's close() drops the watch
            }
        }
    }
    if (report_) {
        std::lock_guard lock(report_->mutex);
        if (report_->event_fd >= 0) close_descriptor(loop_, report_->event_fd);
        report_->event_fd = -1;
    } else if (pidfd_ >= 0) {
        close_descriptor(loop_, pidfd_);
        pidfd_ = -1;
    }
}

void ChildProcess::send_signal(int signum) {
    if (returncode_) return;
    const std::string what =
        "send signal " + std::to_string(signum) + " to process " + std::to_string(pid_);
    if (report_) {
        std::lock_guard lock(report_->mutex);
        if (report_->reaped) return;  // the loop learns the returncode in a moment
        if (::kill(pid_, signum) != 0 && errno != ESRCH) throw_os_error(errno, what);
        return;
    }
    if (pidfd_ < 0) return;
    if (const std::optional<int> code = reap_now()) {
        finish(*code);
        return;
    }
    if (send_through_pidfd(pidfd_, signum) != 0 && errno != ESRCH) throw_os_error(errno, what);
}

void ChildProcess::release_owner() noexcept {
    if (returncode_) return;
    EventLoop* loop = live_loop();
    if (loop == nullptr || !loop->get_debug()) return;
    try {
        log(LogLevel::warning, "Process " + std::to_string(pid_) +
                                   " was dropped while running: it goes on, and is reaped "
                                   "when it exits");
    } catch (...) {
    }
}

}  // namespace asyncio::detail
