// Process and create_subprocess_*, following CPython 3.12's asyncio/subprocess.py: the
// same results and errors. Spawning is in spawn.cpp, reaping in child_watcher.cpp.

#include "asyncio/process.hpp"

#include <cerrno>

#include <signal.h>
#include <sys/wait.h>

#include "asyncio/errors.hpp"
#include "asyncio/event_loop.hpp"
#include "asyncio/gather.hpp"
#include "net/stream_state.hpp"
#include "net/transport.hpp"
#include "process/child_watcher.hpp"
#include "process/spawn.hpp"

namespace asyncio {
namespace detail {

/// What communicate() keeps between calls. Output is moved here as soon as a pipe reaches
/// its end, so a call cancelled after that point loses nothing: the next call returns it.
struct Communication {
    std::string out;
    std::string err;
    bool stdin_fed = false;
};

namespace {

Task<> feed_stdin(StreamWriter writer, std::optional<std::string> input) {
    if (input && !input->empty()) {
        try {
            writer.write(*input);
            co_await writer.drain();
        } catch (const BrokenPipeError&) {
            // The child exited or closed its stdin without reading everything: not an
            // error for communicate(), as in Python.
        } catch (const ConnectionResetError&) {
        }
    }
    // Bytes still queued are sent first; the child then reads EOF.
    writer.close();
}

Task<> read_to_end(Stream pipe, std::shared_ptr<Communication> kept, bool is_stdout) {
    // read() collects in the reader's own buffer until EOF: cancelled midway, the bytes
    // stay there for the next call.
    std::string data = co_await pipe.reader.read();
    (is_stdout ? kept->out : kept->err) += data;
    // Python closes the pipe once it is read to the end.
    pipe.writer.close();
}

Task<> nothing() { co_return; }

Task<std::pair<std::string, std::string>> communicate(std::shared_ptr<ChildProcess> child,
                                                      std::optional<Stream> in,
                                                      std::optional<Stream> out,
                                                      std::optional<Stream> err,
                                                      std::shared_ptr<Communication> kept,
                                                      std::optional<std::string> input) {
    if (in) {
        if (input && kept->stdin_fed) {
            throw InvalidStateError(
                "Process.communicate(): stdin was already fed and closed by an earlier call");
        }
        kept->stdin_fed = true;
    }
    Task<> feeding = in ? feed_stdin(in->writer, std::move(input)) : nothing();
    Task<> reading_out = out ? read_to_end(*out, kept, true) : nothing();
    Task<> reading_err = err ? read_to_end(*err, kept, false) : nothing();
    co_await gather(std::move(feeding), std::move(reading_out), std::move(reading_err));
    co_await ChildProcess::wait(child);
    std::pair<std::string, std::string> result(std::move(kept->out), std::move(kept->err));
    kept->out.clear();
    kept->err.clear();
    co_return result;
}

Process start_process(const std::string& program, const std::vector<std::string>& argv,
                      const ProcessOptions& options) {
    EventLoop& loop = get_running_loop();
    SpawnedChild spawned = spawn_child(program, argv, options);
    try {
        auto pipe = [&](UniqueFd& fd) -> std::optional<Stream> {
            if (!fd) return std::nullopt;
            return make_stream(make_fd_transport(fd.release(), false), options.limit);
        };
        std::optional<Stream> in = pipe(spawned.stdin_pipe);
        std::optional<Stream> out = pipe(spawned.stdout_pipe);
        std::optional<Stream> err = pipe(spawned.stderr_pipe);
        // Last: once the child is watched, nothing may fail any more.
        std::shared_ptr<ChildProcess> child = ChildProcess::watch(loop, spawned.pid);
        return Process(std::move(child), std::move(in), std::move(out), std::move(err));
    } catch (...) {
        // Nothing watches the child: kill and reap it rather than leave it behind.
        ::kill(spawned.pid, SIGKILL);
        while (::waitpid(spawned.pid, nullptr, 0) < 0 && errno == EINTR) {
        }
        throw;
    }
}

}  // namespace
}  // namespace detail

Process::Process(std::shared_ptr<detail::ChildProcess> child, std::optional<Stream> stdin_pipe,
                 std::optional<Stream> stdout_pipe, std::optional<Stream> stderr_pipe)
    : child_(std::move(child)),
      stdin_(std::move(stdin_pipe)),
      stdout_(std::move(stdout_pipe)),
      stderr_(std::move(stderr_pipe)) {}

Process::Process(Process&& other) noexcept = default;

Process& Process::operator=(Process&& other) noexcept {
    if (this != &other) {
        release();
        child_ = std::move(other.child_);
        stdin_ = std::move(other.stdin_);
        stdout_ = std::move(other.stdout_);
        stderr_ = std::move(other.stderr_);
        communication_ = std::move(other.communication_);
    }
    return *this;
}

Process::~Process() { release(); }

void Process::release() noexcept {
    if (child_) child_->release_owner();
}

int Process::pid() const noexcept { return child_ ? child_->pid() : -1; }

std::optional<int> Process::returncode() const noexcept {
    return child_ ? child_->returncode() : std::nullopt;
}

namespace {
detail::ChildProcess& require_child(const std::shared_ptr<detail::ChildProcess>& child) {
    if (!child) throw InvalidStateError("Process: used after being moved from");
    return *child;
}
}  // namespace

Task<int> Process::wait() {
    require_child(child_);
    return detail::ChildProcess::wait(child_);
}

Task<std::pair<std::string, std::string>> Process::communicate(std::optional<std::string> input) {
    require_child(child_);
    if (!communication_) communication_ = std::make_shared<detail::Communication>();
    return detail::communicate(child_, stdin_, stdout_, stderr_, communication_, std::move(input));
}

void Process::send_signal(int signum) { require_child(child_).send_signal(signum); }
void Process::terminate() { send_signal(SIGTERM); }
void Process::kill() { send_signal(SIGKILL); }

Task<Process> create_subprocess_exec(std::string program, std::vector<std::string> args,
                                     ProcessOptions options) {
    std::vector<std::string> argv;
    argv.reserve(args.size() + 1);
    argv.push_back(program);  // argv[0] is the program as given, as in Python
    for (auto& arg : args) argv.push_back(std::move(arg));
    co_return detail::start_process(program, argv, options);
}

Task<Process> create_subprocess_shell(std::string command, ProcessOptions options) {
    co_return detail::start_process("/bin/sh", {"/bin/sh", "-c", std::move(command)}, options);
}

}  // namespace asyncio
