#pragma once

// A peer program for tests (a Python asyncio server, openssl s_server...): started with
// posix_spawn, stdout on a pipe, killed and reaped when the object goes.

#include <string>
#include <vector>

#include <sys/types.h>

#include <asyncio/task.hpp>

namespace asyncio::testing {

class ChildProcess {
public:
    /// Starts `argv` (argv[0] looked up in PATH) with stdout on a pipe.
    /// Throws std::runtime_error when it cannot start.
    explicit ChildProcess(std::vector<std::string> argv);
    ~ChildProcess();
    ChildProcess(const ChildProcess&) = delete;
    ChildProcess& operator=(const ChildProcess&) = delete;

    /// Blocks (bounded by `timeout_seconds`) for one line of the child's stdout, without
    /// the '\n'; "" at EOF or timeout. For start-up handshakes such as a printed port.
    std::string read_line(int timeout_seconds = 30);
    /// Waits on the loop (polling, real time) for the child to exit; its exit code, or
    /// -signal. Gives up after `timeout_seconds` and returns -1000.
    Task<int> wait(int timeout_seconds = 60);
    pid_t pid() const noexcept { return pid_; }

private:
    pid_t pid_ = -1;
    int stdout_fd_ = -1;
    std::string pending_;
    bool reaped_ = false;
};

/// The directory of the test sources (tests/), for peer scripts.
std::string test_source_dir();

}  // namespace asyncio::testing
