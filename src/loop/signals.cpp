// Process-wide signal dispatch. The C signal handler may only do async-signal-safe work:
// it sets the signal's pending flag and writes to the owning loop's wake-up eventfd. The
// loop then sees the flag after its poll and runs the Python-level handler as a normal
// callback, in the loop thread.

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <mutex>
#include <string>
#include <system_error>

#include "loop/event_loop_impl.hpp"

namespace asyncio::detail {
namespace {

struct SignalSlot {
    std::atomic<int> wake_fd{-1};
    std::atomic<bool> pending{false};
    const EventLoop* owner = nullptr;
    struct sigaction previous {};
};

SignalSlot slots[NSIG];
std::mutex slots_mutex;
// Bumped by every signal, so that a loop looks at its handlers' flags only after a signal.
std::atomic<std::uint64_t> signals_raised{0};
static_assert(std::atomic<std::uint64_t>::is_always_lock_free, "used in a signal handler");

extern "C" void on_signal(int signum) {
    const int saved_errno = errno;
    SignalSlot& slot = slots[signum];
    slot.pending.store(true, std::memory_order_release);
    signals_raised.fetch_add(1, std::memory_order_release);
    const int fd = slot.wake_fd.load(std::memory_order_acquire);
    if (fd >= 0) {
        const std::uint64_t one = 1;
        [[maybe_unused]] auto ignored = ::write(fd, &one, sizeof one);
    }
    errno = saved_errno;
}

}  // namespace

void install_signal(EventLoop& loop, int signum, int wake_fd) {
    std::lock_guard lock(slots_mutex);
    SignalSlot& slot = slots[signum];
    if (slot.owner != nullptr && slot.owner != &loop) {
        throw RuntimeError("signal " + std::to_string(signum) +
                           " is already handled by another event loop");
    }
    struct sigaction action {};
    action.sa_handler = &on_signal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;  // as Python: no EINTR in the rest of the program
    slot.pending.store(false, std::memory_order_relaxed);
    slot.wake_fd.store(wake_fd, std::memory_order_release);
    if (::sigaction(signum, &action, &slot.previous) != 0) {
        slot.wake_fd.store(-1, std::memory_order_release);
        throw std::system_error(errno, std::generic_category(),
                                "sigaction(" + std::to_string(signum) + ")");
    }
    slot.owner = &loop;
}

void uninstall_signal(int signum) noexcept {
    std::lock_guard lock(slots_mutex);
    SignalSlot& slot = slots[signum];
    if (slot.owner == nullptr) return;
    ::sigaction(signum, &slot.previous, nullptr);
    slot.wake_fd.store(-1, std::memory_order_release);
    slot.pending.store(false, std::memory_order_relaxed);
    slot.owner = nullptr;
}

std::uint64_t signal_generation() noexcept {
    return signals_raised.load(std::memory_order_acquire);
}

bool take_signal(int signum) noexcept {
    return slots[signum].pending.exchange(false, std::memory_order_acq_rel);
}

}  // namespace asyncio::detail
