#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "asyncio/net/stream.hpp"
#include "asyncio/task.hpp"

namespace asyncio {

namespace detail {
class ChildProcess;
struct Communication;
}  // namespace detail

/// Where a child's standard stream goes (Python's `subprocess.PIPE`, `DEVNULL`, `STDOUT`,
/// and `None` for inherit).
enum class Redirect : std::uint8_t {
    inherit,    ///< the parent's own descriptor (Python: None, the default)
    pipe,       ///< a new pipe, read or written through the Process (Python: PIPE)
    devnull,    ///< /dev/null (Python: DEVNULL)
    to_stdout,  ///< stderr only: into the same place as stdout (Python: STDOUT)
};

/// Options of create_subprocess_exec and create_subprocess_shell. Designated initializers
/// read well: `{.stdout_mode = asyncio::Redirect::pipe, .cwd = "/tmp"}`.
struct ProcessOptions {
    Redirect stdin_mode = Redirect::inherit;
    Redirect stdout_mode = Redirect::inherit;
    Redirect stderr_mode = Redirect::inherit;
    /// The child's working directory; a relative program path is looked up from there.
    std::optional<std::string> cwd = std::nullopt;
    /// Replaces the whole environment when set (Python: env=).
    std::optional<std::map<std::string, std::string>> env = std::nullopt;
    /// Added to the environment (the parent's, or `env`), overriding equal names.
    std::map<std::string, std::string> extra_env = {};
    /// The limit of the stdout and stderr StreamReaders (Python: limit=).
    std::size_t limit = StreamReader::default_limit;
    /// Runs the child in a new session, so in a new process group too (setsid()).
    bool start_new_session = false;
    /// Puts the child in this process group; 0 makes a new group whose id is the child's pid
    /// (Python 3.11: process_group=). Cannot be combined with start_new_session.
    std::optional<int> process_group = std::nullopt;
};

/// A child process (Python's asyncio.subprocess.Process), made by create_subprocess_exec
/// or create_subprocess_shell.
///
/// The child is reaped without a SIGCHLD handler: the loop watches a pidfd (pidfd_open(2))
/// and reaps the child when it becomes readable. On kernels without pidfd_open a thread
/// per child blocks in waitid() and wakes the loop. wait() depends only on the child itself,
/// never on its pipes, so it returns even while a grandchild keeps stdout open.
///
/// Dropping a Process whose child still runs neither kills nor waits for it, as in Python:
/// the loop keeps watching it and reaps it when it exits (debug mode logs a warning). If
/// the loop closes first, a background thread takes the child over and reaps it then, so
/// no zombie is left behind either way.
///
/// Differences from Python: stdin, stdout and stderr are spelled stdin_writer(),
/// stdout_reader() and stderr_reader() (the C library owns the names stdin/stdout/stderr);
/// communicate() gives "" for an output that is not a pipe (Python: None). The child's
/// signal mask is emptied, and SIGPIPE and SIGXFSZ are reset to their defaults (Python
/// resets only those two); descriptors other than 0, 1 and 2 are always closed in the child
/// (Python's close_fds=True; there is no pass_fds).
/// Thread safety: use from the loop thread that started it only.
class Process {
public:
    Process(Process&& other) noexcept;
    Process& operator=(Process&& other) noexcept;
    Process(const Process&) = delete;
    Process& operator=(const Process&) = delete;
    ~Process();

    /// The child's process id.
    int pid() const noexcept;

    /// The child's stdin, or null unless it is Redirect::pipe. close() it (or write_eof())
    /// to let the child read EOF.
    StreamWriter* stdin_writer() noexcept { return stdin_ ? &stdin_->writer : nullptr; }
    /// The child's stdout, or null unless it is Redirect::pipe.
    StreamReader* stdout_reader() noexcept { return stdout_ ? &stdout_->reader : nullptr; }
    /// The child's stderr, or null unless it is Redirect::pipe.
    StreamReader* stderr_reader() noexcept { return stderr_ ? &stderr_->reader : nullptr; }

    /// The exit status once the child was reaped: the exit code, or -N when signal N
    /// killed it. Empty while it runs (and until the loop has noticed the exit).
    std::optional<int> returncode() const noexcept;

    /// Waits for the child to exit and gives returncode(). Any number of tasks may wait.
    ///
    /// Unlike communicate(), it does not read the pipes: a child that fills a pipe nobody
    /// reads blocks forever, as in Python.
    /// Cancellation: only the waiting stops; the child stays watched.
    /// Throws: RuntimeError when called on another loop than the one that started the child.
    Task<int> wait();

    /// Writes `input` to stdin and closes it, reads stdout and stderr to their ends, all
    /// at once (so no pipe fills up and blocks the child), then waits for the exit. Gives
    /// {stdout, stderr}; an output that is not a pipe gives "".
    ///
    /// `input` is ignored when stdin is not a pipe, as in Python. A child that exits
    /// without reading all of its input is not an error (BrokenPipeError is swallowed).
    /// Cancellation: the child keeps running. What was read so far is kept, and the next
    /// communicate() returns it with the rest (as CPython does since gh-139373).
    /// Throws: InvalidStateError when `input` is given after an earlier call already fed
    /// stdin; the errors of the pipes.
    /// Example: `auto [out, err] = co_await process.communicate("input");`
    Task<std::pair<std::string, std::string>> communicate(
        std::optional<std::string> input = std::nullopt);

    /// Sends signal `signum` to the child. Does nothing once the child has exited, as
    /// Python 3.12 (it is then reaped first, so a reused pid is never signalled).
    /// Throws: OSError (EINVAL for an invalid signal number).
    void send_signal(int signum);
    /// send_signal(SIGTERM).
    void terminate();
    /// send_signal(SIGKILL).
    void kill();

    /// Internal: made by create_subprocess_exec.
    Process(std::shared_ptr<detail::ChildProcess> child, std::optional<Stream> stdin_pipe,
            std::optional<Stream> stdout_pipe, std::optional<Stream> stderr_pipe);

private:
    void release() noexcept;

    std::shared_ptr<detail::ChildProcess> child_;
    // The pipes are kept as full Streams: communicate() closes a read pipe through its
    // writer half once it reached EOF.
    std::optional<Stream> stdin_;
    std::optional<Stream> stdout_;
    std::optional<Stream> stderr_;
    std::shared_ptr<detail::Communication> communication_;
};

/// Starts `program` with the arguments `args` (Python's asyncio.create_subprocess_exec).
/// A program name without '/' is searched in PATH (the child's PATH when `options.env`
/// replaces the environment).
///
/// Throws: FileNotFoundError (no such program, or no such cwd) or PermissionError (not
/// executable) naming it, raised here rather than as a child exiting with 127;
/// std::invalid_argument for an empty program, a NUL inside a string, or a bad Redirect.
/// Example:
/// ```
/// std::vector<std::string> args{"-l", "/tmp"};
/// auto process = co_await asyncio::create_subprocess_exec("ls", args, options);
/// auto [out, err] = co_await process.communicate();
/// ```
/// GCC 12 miscompiles a braced list such as `{"-l"}` inside a co_await expression ("array
/// used as initializer"): name the vector first, or use the variadic form below.
Task<Process> create_subprocess_exec(std::string program, std::vector<std::string> args = {},
                                     ProcessOptions options = {});

namespace detail {
template <class T>
concept ExecArgument = std::convertible_to<T, std::string_view>;
template <class T>
concept ExecOptions = std::same_as<std::remove_cvref_t<T>, ProcessOptions>;

/// Every argument is a string, except that the last may be the ProcessOptions.
template <class... Args, std::size_t... I>
constexpr bool exec_arguments(std::index_sequence<I...>) {
    return ((ExecArgument<Args> || (I + 1 == sizeof...(Args) && ExecOptions<Args>)) && ...);
}
}  // namespace detail

/// The same with the arguments one by one, options last (optional): closest to Python's
/// `create_subprocess_exec(program, *args, **options)`.
/// Example: `co_await asyncio::create_subprocess_exec("ls", "-l", "/tmp", options);`
template <class... Args>
requires(sizeof...(Args) > 0 && detail::exec_arguments<Args...>(std::index_sequence_for<Args...>{}))
    Task<Process> create_subprocess_exec(std::string program, Args&&... args) {
    std::vector<std::string> argv;
    ProcessOptions options;
    auto take = [&](auto&& arg) {
        if constexpr (detail::ExecOptions<decltype(arg)>) {
            options = std::forward<decltype(arg)>(arg);
        } else {
            argv.emplace_back(std::string_view(arg));
        }
    };
    (take(std::forward<Args>(args)), ...);
    return create_subprocess_exec(std::move(program), std::move(argv), std::move(options));
}

/// Runs `command` with /bin/sh -c (Python's asyncio.create_subprocess_shell). The command
/// is passed as is: quoting is the caller's job.
///
/// Throws: as create_subprocess_exec.
/// Example: `co_await asyncio::create_subprocess_shell("printf a | tr a b", options);`
Task<Process> create_subprocess_shell(std::string command, ProcessOptions options = {});

}  // namespace asyncio
