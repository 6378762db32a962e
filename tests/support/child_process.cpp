#include "support/child_process.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace asyncio::testing {

ChildProcess::ChildProcess(std::vector<std::string> argv) {
    char path[] = "/tmp/asyncio-child-XXXXXX";
    const int output_fd = ::mkostemp(path, O_CLOEXEC);
    if (output_fd < 0) {
        ADD_FAILURE() << "mkostemp: " << std::strerror(errno);
        return;
    }
    output_path_ = path;
    int pipe_fds[2];
    if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
        ADD_FAILURE() << "pipe2: " << std::strerror(errno);
        ::close(output_fd);
        return;
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    // dup2 clears close-on-exec on the copies, so the child gets exactly these three.
    posix_spawn_file_actions_adddup2(&actions, pipe_fds[0], STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&actions, output_fd, STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&actions, output_fd, STDERR_FILENO);
    std::vector<char*> args;
    for (auto& arg : argv) args.push_back(arg.data());
    args.push_back(nullptr);
    const int error = ::posix_spawnp(&pid_, args[0], &actions, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(pipe_fds[0]);
    ::close(output_fd);
    if (error != 0) {
        pid_ = -1;
        ::close(pipe_fds[1]);
        ADD_FAILURE() << "posix_spawnp(" << argv.at(0) << "): " << std::strerror(error);
        return;
    }
    stdin_fd_ = pipe_fds[1];
}

ChildProcess::~ChildProcess() {
    close_stdin();
    if (pid_ > 0 && !poll_exit()) {
        ::kill(pid_, SIGKILL);
        int status = 0;
        while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
        }
    }
    if (!output_path_.empty()) ::unlink(output_path_.c_str());
}

void ChildProcess::write_stdin(std::string_view data) {
    while (!data.empty() && stdin_fd_ >= 0) {
        const ssize_t written = ::write(stdin_fd_, data.data(), data.size());
        if (written < 0) {
            if (errno == EINTR) continue;
            ADD_FAILURE() << "writing to the child: " << std::strerror(errno);
            return;
        }
        data.remove_prefix(static_cast<std::size_t>(written));
    }
}

void ChildProcess::close_stdin() {
    if (stdin_fd_ >= 0) ::close(stdin_fd_);
    stdin_fd_ = -1;
}

std::string ChildProcess::output() const {
    std::ifstream file(output_path_);
    std::ostringstream text;
    text << file.rdbuf();
    return text.str();
}

bool ChildProcess::wait_for_output(std::string_view text, std::chrono::milliseconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    for (;;) {
        if (output().find(text) != std::string::npos) return true;
        if (pid_ <= 0 || poll_exit() || std::chrono::steady_clock::now() > deadline) {
            return false;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
}

bool ChildProcess::poll_exit() {
    if (status_) return true;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) status_ = status;
    return status_.has_value();
}

std::optional<int> ChildProcess::wait_exit(std::chrono::milliseconds limit) {
    if (pid_ <= 0) return std::nullopt;
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!poll_exit()) {
        if (std::chrono::steady_clock::now() > deadline) return std::nullopt;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return status_;
}

std::uint16_t free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t size = sizeof address;
    std::uint16_t port = 0;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&address), size) == 0 &&
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size) == 0) {
        port = ntohs(address.sin_port);
    }
    ::close(fd);
    if (port == 0) ADD_FAILURE() << "no free port: " << std::strerror(errno);
    return port;
}

std::string test_source_dir() { return ASYNCIO_TEST_SOURCE_DIR; }

}  // namespace asyncio::testing
