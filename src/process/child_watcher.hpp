#pragma once

// Watching a child process until it exits, without a SIGCHLD handler (which would be
// process-wide, and would race with anyone else's waitpid).
//
// With pidfd_open(2) (Linux 5.3), the loop watches the child's pidfd with add_reader: it
// becomes readable when the child exits, and the child is then reaped with
// waitid(P_PIDFD), which cannot hit a reused pid. Without it (ENOSYS, or a seccomp filter
// saying EPERM), a thread per child blocks in waitid() and reports through an eventfd
// that the loop watches the same way. The eventfd rather than call_soon_threadsafe: the
// thread never touches the loop, so it needs no lifetime agreement with it, and a loop
// that closes simply stops watching.
//
// Ownership: the add_reader callback holds the ChildProcess, so a child keeps being
// watched after its Process is dropped. The loop's close() destroys the callback; a
// ChildProcess destroyed while its child still runs hands the child to a detached thread
// that reaps it (pidfd mode), or leaves it to its waiting thread (thread mode).

#include <memory>
#include <mutex>
#include <optional>

#include <sys/types.h>

#include "asyncio/detail/wait_queue.hpp"
#include "asyncio/event_loop.hpp"
#include "asyncio/task.hpp"

namespace asyncio::detail {

class ChildProcess : public std::enable_shared_from_this<ChildProcess> {
public:
    /// Starts watching `pid`, a child of this process that nothing else reaps.
    /// Throws: OSError (no descriptor or thread to be had).
    static std::shared_ptr<ChildProcess> watch(EventLoop& loop, pid_t pid);

    ChildProcess(const ChildProcess&) = delete;
    ChildProcess& operator=(const ChildProcess&) = delete;
    ~ChildProcess();

    pid_t pid() const noexcept { return pid_; }
    std::optional<int> returncode() const noexcept { return returncode_; }

    /// Waits until the child was reaped; gives its returncode. Takes the child by
    /// shared_ptr so that a Process moved or dropped meanwhile does not matter.
    static Task<int> wait(std::shared_ptr<ChildProcess> self);

    /// Python 3.12's Popen.send_signal: reaps the child first if it has exited, and then
    /// does nothing; a child gone meanwhile (ESRCH) is no error either.
    void send_signal(int signum);

    /// Its Process was dropped (debug mode logs it when the child still runs).
    void release_owner() noexcept;

    /// Tests: make children started from now on use the waiting thread even though
    /// pidfd_open works.
    static void force_thread_watcher(bool enabled) noexcept;

    /// What the waiting thread and the loop share in thread mode.
    struct ThreadReport {
        std::mutex mutex;
        int event_fd = -1;  // the loop side's wake-up; -1 once the loop side let go
        bool reaped = false;
        bool lost = false;  // somebody else reaped the child (ECHILD)
        int returncode = 0;
    };

private:
    ChildProcess(EventLoop& loop, pid_t pid) noexcept : loop_(&loop), pid_(pid) {}

    void on_readable();
    /// Reaps the child when it has exited (pidfd mode); empty while it runs.
    std::optional<int> reap_now();
    void finish(int returncode);
    /// Removes the watch and closes the watched descriptor.
    void stop_watching() noexcept;
    /// The loop, while it exists and is open.
    EventLoop* live_loop() const noexcept;

    EventLoop* loop_;
    pid_t pid_;
    int pidfd_ = -1;
    std::shared_ptr<ThreadReport> report_;  // thread mode only
    bool watching_ = false;
    bool adopted_ = false;  // watch() succeeded: from then on a running child is handed on
    std::optional<int> returncode_;
    WaitQueue waiters_{AwaitKind::other, this};
};

}  // namespace asyncio::detail
