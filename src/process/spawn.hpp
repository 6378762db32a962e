#pragma once

// Starting a child process with posix_spawn(3).
//
// glibc's posix_spawn runs the child on a separate stack with CLONE_VM | CLONE_VFORK, so it
// is cheap for a large parent and safe next to other threads, and it returns exec's error
// (ENOENT, EACCES) to the parent instead of leaving a child that exits with 127. Every
// descriptor this library opens is close-on-exec, and the child also closes everything
// above 2 before exec (Python's close_fds=True), so nothing leaks into it.

#include <string>
#include <utility>
#include <vector>

#include <sys/types.h>

#include "asyncio/process.hpp"

namespace asyncio::detail {

/// A descriptor that is closed on destruction. Only for descriptors no backend knows yet.
class UniqueFd {
public:
    UniqueFd() noexcept = default;
    explicit UniqueFd(int fd) noexcept : fd_(fd) {}
    UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
    UniqueFd& operator=(UniqueFd&& other) noexcept;
    ~UniqueFd();

    int get() const noexcept { return fd_; }
    int release() noexcept { return std::exchange(fd_, -1); }
    explicit operator bool() const noexcept { return fd_ >= 0; }

private:
    int fd_ = -1;
};

/// A started child and the parent's ends of its pipes (non-blocking, close-on-exec; empty
/// where the stream is not Redirect::pipe).
struct SpawnedChild {
    pid_t pid = -1;
    UniqueFd stdin_pipe;
    UniqueFd stdout_pipe;
    UniqueFd stderr_pipe;
};

/// Starts `program` with `argv` (argv[0] included) as `options` say.
/// Throws: FileNotFoundError / PermissionError / OSError naming the program (or the cwd);
/// std::invalid_argument for malformed arguments or options.
SpawnedChild spawn_child(const std::string& program, const std::vector<std::string>& argv,
                         const ProcessOptions& options);

}  // namespace asyncio::detail
