#pragma once

// Programs a test talks to (openssl s_server, s_client): started with posix_spawn, their
// output kept in a file, and always killed and reaped by the destructor.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <sys/types.h>

namespace asyncio::testing {

class ChildProcess {
public:
    /// Starts `argv` (argv[0] looked up in PATH) with its stdin a pipe and its stdout and
    /// stderr going to one file. Fails the test when it cannot be started.
    explicit ChildProcess(std::vector<std::string> argv);
    /// Kills (SIGKILL) and reaps it if it still runs; closes its pipe; removes the file.
    ~ChildProcess();
    ChildProcess(const ChildProcess&) = delete;
    ChildProcess& operator=(const ChildProcess&) = delete;

    bool started() const noexcept { return pid_ > 0; }
    void write_stdin(std::string_view data);
    void close_stdin();
    /// Everything it printed so far (stdout and stderr).
    std::string output() const;
    /// Blocks until its output contains `text` (true), or it exited or `limit` passed.
    bool wait_for_output(std::string_view text,
                         std::chrono::milliseconds limit = std::chrono::seconds(10));
    /// Blocks until it exits: its wait status, or nullopt when `limit` passed first.
    /// Call it from one thread at a time (e.g. through asyncio::to_thread).
    std::optional<int> wait_exit(std::chrono::milliseconds limit = std::chrono::seconds(20));

private:
    bool poll_exit();

    pid_t pid_ = -1;
    int stdin_fd_ = -1;
    std::string output_path_;
    std::optional<int> status_;
};

/// A TCP port on 127.0.0.1 that was free a moment ago (bound with port 0, then released).
std::uint16_t free_port();

/// The directory of the test sources (tests/), for peer scripts.
std::string test_source_dir();

}  // namespace asyncio::testing
