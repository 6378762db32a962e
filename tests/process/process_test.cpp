// Subprocesses against real programs (sh, cat, echo, sleep, head, ls). The tests run on the
// real clock: children take real time, and the bounds are generous.
//
// The tests about waiting and signals run twice: Process.* with the pidfd watcher and
// ProcessThreadWatcher.* with the fallback thread that kernels without pidfd_open get.

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "process/child_watcher.hpp"
#include "support/asyncio_test.hpp"

namespace asyncio {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

#define ASYNCIO_PROCESS_TEST(suite, name) \
    ASYNCIO_TEST_WITH(suite, name, (::asyncio::testing::TestOptions{.real_clock = true}))

/// Makes the children started while it lives use the fallback waiting thread.
struct ThreadWatcherScope {
    ThreadWatcherScope() { detail::ChildProcess::force_thread_watcher(true); }
    ~ThreadWatcherScope() { detail::ChildProcess::force_thread_watcher(false); }
};

/// The body runs once per watcher: Process.name and ProcessThreadWatcher.name.
#define ASYNCIO_BOTH_WATCHERS(name)                          \
    ASYNCIO_PROCESS_TEST(Process, name) { co_await name(); } \
    ASYNCIO_PROCESS_TEST(ProcessThreadWatcher, name) {       \
        ThreadWatcherScope scope;                            \
        co_await name();                                     \
    }

ProcessOptions with(Redirect in, Redirect out, Redirect err = Redirect::inherit) {
    ProcessOptions options;
    options.stdin_mode = in;
    options.stdout_mode = out;
    options.stderr_mode = err;
    return options;
}

ProcessOptions piped_out() { return with(Redirect::inherit, Redirect::pipe); }

/// True once `pid` is no child of ours any more: somebody reaped it. Does not reap.
bool reaped(pid_t pid) {
    siginfo_t info{};
    return ::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) != 0 &&
           errno == ECHILD;
}

bool all_reaped(const std::vector<pid_t>& pids) {
    return std::all_of(pids.begin(), pids.end(), reaped);
}

/// Polls until every pid was reaped (by the loop or by a reaper thread), at most `limit`.
Task<bool> until_reaped(std::vector<pid_t> pids, std::chrono::seconds limit = 10s) {
    const auto deadline = Clock::now() + limit;
    while (!all_reaped(pids) && Clock::now() < deadline) co_await sleep(10ms);
    co_return all_reaped(pids);
}

/// The same outside a loop.
bool wait_until_reaped(const std::vector<pid_t>& pids, std::chrono::seconds limit = 10s) {
    const auto deadline = Clock::now() + limit;
    while (!all_reaped(pids) && Clock::now() < deadline) std::this_thread::sleep_for(10ms);
    return all_reaped(pids);
}

// ---- running programs and reading their output ----

Task<> EchoOutputIsReadThroughStdout() {
    auto process = co_await create_subprocess_exec("echo", "hello", "world", piped_out());
    CO_ASSERT_TRUE(process.pid() > 0);
    CO_ASSERT_TRUE(process.stdin_writer() == nullptr);
    CO_ASSERT_TRUE(process.stderr_reader() == nullptr);
    const std::string line = co_await process.stdout_reader()->readline();
    CO_ASSERT_EQ(line, "hello world\n");
    const std::string rest = co_await process.stdout_reader()->read();
    CO_ASSERT_EQ(rest, "");
    const int code = co_await process.wait();
    CO_ASSERT_EQ(code, 0);
    CO_ASSERT_EQ(process.returncode(), std::optional<int>(0));
}
ASYNCIO_BOTH_WATCHERS(EchoOutputIsReadThroughStdout)

ASYNCIO_PROCESS_TEST(Process, CatEchoesWhatStdinReceives) {
    auto process = co_await create_subprocess_exec("cat", with(Redirect::pipe, Redirect::pipe));
    StreamWriter& in = *process.stdin_writer();
    StreamReader& out = *process.stdout_reader();
    for (int i = 0; i < 3; ++i) {
        const std::string line = "line " + std::to_string(i) + "\n";
        in.write(line);
        co_await in.drain();
        const std::string echoed = co_await out.readline();
        CO_ASSERT_EQ(echoed, line);
    }
    in.close();
    const std::string rest = co_await out.read();
    CO_ASSERT_EQ(rest, "");
    const int code = co_await process.wait();
    CO_ASSERT_EQ(code, 0);
}

ASYNCIO_PROCESS_TEST(Process, CommunicateSendsInputAndCollectsOutput) {
    auto process = co_await create_subprocess_exec("cat", with(Redirect::pipe, Redirect::pipe));
    auto [out, err] = co_await process.communicate("some input");
    CO_ASSERT_EQ(out, "some input");
    CO_ASSERT_EQ(err, "");
    CO_ASSERT_EQ(process.returncode(), std::optional<int>(0));
}

ASYNCIO_PROCESS_TEST(Process, StdoutAndStderrAreSeparatePipes) {
    auto process = co_await create_subprocess_shell(
        "echo out; echo err >&2", with(Redirect::inherit, Redirect::pipe, Redirect::pipe));
    auto [out, err] = co_await process.communicate();
    CO_ASSERT_EQ(out, "out\n");
    CO_ASSERT_EQ(err, "err\n");
}

ASYNCIO_PROCESS_TEST(Process, StderrMergesIntoStdout) {
    auto process = co_await create_subprocess_shell(
        "echo out; echo err >&2", with(Redirect::inherit, Redirect::pipe, Redirect::to_stdout));
    CO_ASSERT_TRUE(process.stderr_reader() == nullptr);
    auto [out, err] = co_await process.communicate();
    CO_ASSERT_EQ(out, "out\nerr\n");
    CO_ASSERT_EQ(err, "");
}

ASYNCIO_PROCESS_TEST(Process, DevnullGivesEofOnStdinAndSwallowsOutput) {
    auto reader = co_await create_subprocess_exec("cat", with(Redirect::devnull, Redirect::pipe));
    auto [read_out, read_err] = co_await reader.communicate();
    CO_ASSERT_EQ(read_out, "");
    CO_ASSERT_EQ(reader.returncode(), std::optional<int>(0));

    auto writer = co_await create_subprocess_shell(
        "echo hidden; echo shown >&2", with(Redirect::inherit, Redirect::devnull, Redirect::pipe));
    CO_ASSERT_TRUE(writer.stdout_reader() == nullptr);
    auto [out, err] = co_await writer.communicate();
    CO_ASSERT_EQ(out, "");
    CO_ASSERT_EQ(err, "shown\n");
}

ASYNCIO_PROCESS_TEST(Subprocess, ShellRunsAPipeline) {
    auto process = co_await create_subprocess_shell("printf a | tr a b", piped_out());
    auto [out, err] = co_await process.communicate();
    CO_ASSERT_EQ(out, "b");
    CO_ASSERT_EQ(process.returncode(), std::optional<int>(0));
}

ASYNCIO_PROCESS_TEST(Subprocess, EnvironmentCanBeReplaced) {
    ProcessOptions options = piped_out();
    options.env = std::map<std::string, std::string>{{"ONLY", "this"}};
    auto process = co_await create_subprocess_shell("echo \"$ONLY:$HOME\"", options);
    auto [out, err] = co_await process.communicate();
    CO_ASSERT_EQ(out, "this:\n");
}

ASYNCIO_PROCESS_TEST(Subprocess, EnvironmentCanBeExtended) {
    ::setenv("ASYNCIO_PROCESS_TEST_INHERITED", "kept", 1);
    ProcessOptions options = piped_out();
    options.extra_env = {{"ASYNCIO_PROCESS_TEST_ADDED", "42"}, {"HOME", "/overridden"}};
    auto process = co_await create_subprocess_shell(
        "echo \"$ASYNCIO_PROCESS_TEST_INHERITED $ASYNCIO_PROCESS_TEST_ADDED $HOME\"", options);
    auto [out, err] = co_await process.communicate();
    ::unsetenv("ASYNCIO_PROCESS_TEST_INHERITED");
    CO_ASSERT_EQ(out, "kept 42 /overridden\n");
}

ASYNCIO_PROCESS_TEST(Subprocess, ProgramIsSearchedInTheChildsPath) {
    // As Python: with env= replacing PATH, the program is looked up in the new PATH.
    ProcessOptions options = piped_out();
    options.env = std::map<std::string, std::string>{{"PATH", "/nonexistent-dir"}};
    bool not_found = false;
    try {
        co_await create_subprocess_exec("echo", "x", options);
    } catch (const FileNotFoundError&) {
        not_found = true;
    }
    CO_ASSERT_TRUE(not_found);
}

ASYNCIO_PROCESS_TEST(Subprocess, WorkingDirectoryIsSet) {
    ProcessOptions options = piped_out();
    options.cwd = "/";
    auto process = co_await create_subprocess_exec("pwd", options);
    auto [out, err] = co_await process.communicate();
    CO_ASSERT_EQ(out, "/\n");
}

ASYNCIO_PROCESS_TEST(Subprocess, MissingWorkingDirectoryIsFileNotFoundNamingIt) {
    ProcessOptions options;
    options.cwd = "/nonexistent-asyncio-dir";
    bool thrown = false;
    try {
        co_await create_subprocess_exec("true", options);
    } catch (const FileNotFoundError& error) {
        thrown = true;
        CO_ASSERT_EQ(error.code(), ENOENT);
        CO_ASSERT_TRUE(std::string(error.what()).find("/nonexistent-asyncio-dir") !=
                       std::string::npos);
    }
    CO_ASSERT_TRUE(thrown);
}

ASYNCIO_PROCESS_TEST(Subprocess, NewSessionAndProcessGroupAreApplied) {
    ProcessOptions session;
    session.start_new_session = true;
    auto leader = co_await create_subprocess_exec("sleep", "10", session);
    CO_ASSERT_EQ(::getsid(leader.pid()), leader.pid());
    leader.kill();
    co_await leader.wait();

    ProcessOptions group;
    group.process_group = 0;
    auto member = co_await create_subprocess_exec("sleep", "10", group);
    CO_ASSERT_EQ(::getpgid(member.pid()), member.pid());
    CO_ASSERT_EQ(::getsid(member.pid()), ::getsid(0));
    member.kill();
    co_await member.wait();
}

// ---- exit status and signals ----

Task<> ExitCodeIsTheReturncode() {
    auto process = co_await create_subprocess_shell("exit 3");
    CO_ASSERT_EQ(process.returncode(), std::nullopt);
    const int code = co_await process.wait();
    CO_ASSERT_EQ(code, 3);
    CO_ASSERT_EQ(process.returncode(), std::optional<int>(3));
}
ASYNCIO_BOTH_WATCHERS(ExitCodeIsTheReturncode)

Task<> KilledChildHasNegativeSignalAsReturncode() {
    auto killed = co_await create_subprocess_exec("sleep", "10");
    killed.kill();
    const int killed_code = co_await killed.wait();
    CO_ASSERT_EQ(killed_code, -SIGKILL);

    auto terminated = co_await create_subprocess_exec("sleep", "10");
    terminated.terminate();
    const int terminated_code = co_await terminated.wait();
    CO_ASSERT_EQ(terminated_code, -SIGTERM);

    auto signalled = co_await create_subprocess_exec("sleep", "10");
    signalled.send_signal(SIGUSR1);
    const int signalled_code = co_await signalled.wait();
    CO_ASSERT_EQ(signalled_code, -SIGUSR1);
}
ASYNCIO_BOTH_WATCHERS(KilledChildHasNegativeSignalAsReturncode)

ASYNCIO_PROCESS_TEST(Subprocess, ChildGetsDefaultSigpipeBack) {
    // This process ignores SIGPIPE (pipe transports need it); ignored signals survive exec,
    // so without the reset `yes` would see EPIPE and complain instead of dying quietly.
    ::signal(SIGPIPE, SIG_IGN);
    auto process = co_await create_subprocess_shell(
        "yes | head -n 1", with(Redirect::inherit, Redirect::pipe, Redirect::pipe));
    auto [out, err] = co_await process.communicate();
    CO_ASSERT_EQ(out, "y\n");
    CO_ASSERT_EQ(err, "");
}

ASYNCIO_PROCESS_TEST(Subprocess, ChildStartsWithNoBlockedSignal) {
    sigset_t blocked;
    sigemptyset(&blocked);
    sigaddset(&blocked, SIGTERM);
    sigset_t previous;
    ::pthread_sigmask(SIG_BLOCK, &blocked, &previous);
    auto process = co_await create_subprocess_exec("sleep", "10");
    ::pthread_sigmask(SIG_SETMASK, &previous, nullptr);
    process.terminate();
    const int code = co_await wait_for(process.wait(), 10s);
    CO_ASSERT_EQ(code, -SIGTERM);
}

Task<> SignalsAfterTheExitAreIgnored() {
    auto process = co_await create_subprocess_exec("true");
    co_await process.wait();
    // Python 3.12: no ProcessLookupError once the returncode is known.
    process.kill();
    process.terminate();
    process.send_signal(SIGUSR1);
    CO_ASSERT_EQ(process.returncode(), std::optional<int>(0));
}
ASYNCIO_BOTH_WATCHERS(SignalsAfterTheExitAreIgnored)

ASYNCIO_PROCESS_TEST(Process, KillAfterAnExitTheLoopHasNotSeenIsIgnored) {
    auto process = co_await create_subprocess_exec("true");
    // Block the loop: the child exits, but nothing reaps it yet.
    const auto deadline = Clock::now() + 5s;
    while (::kill(process.pid(), 0) == 0 && Clock::now() < deadline) {
        siginfo_t info{};
        if (::waitid(P_PID, static_cast<id_t>(process.pid()), &info, WEXITED | WNOHANG | WNOWAIT) ==
                0 &&
            info.si_pid != 0) {
            break;  // a zombie now
        }
        std::this_thread::sleep_for(5ms);
    }
    CO_ASSERT_EQ(process.returncode(), std::nullopt);
    process.kill();  // reaps the zombie first, like Popen.send_signal's poll()
    CO_ASSERT_EQ(process.returncode(), std::optional<int>(0));
    const int code = co_await process.wait();
    CO_ASSERT_EQ(code, 0);
}

ASYNCIO_PROCESS_TEST(Process, ChildReapedBySomebodyElseReports255) {
    testing::LogCapture logs;
    auto process = co_await create_subprocess_exec("true");
    // Another part of the program reaps it first (a waitpid(-1) loop, say).
    CO_ASSERT_EQ(::waitpid(process.pid(), nullptr, 0), process.pid());
    const int code = co_await wait_for(process.wait(), 10s);
    CO_ASSERT_EQ(code, 255);  // as Python, with its warning
    CO_ASSERT_TRUE(logs.contains("Unknown child process pid"));
}

Task<> SeveralTasksCanWait() {
    auto process = co_await create_subprocess_exec("sleep", "10");
    auto first = create_task(process.wait());
    auto second = create_task(process.wait());
    co_await sleep(20ms);
    process.kill();
    const int a = co_await first;
    const int b = co_await second;
    CO_ASSERT_EQ(a, -SIGKILL);
    CO_ASSERT_EQ(b, -SIGKILL);
}
ASYNCIO_BOTH_WATCHERS(SeveralTasksCanWait)

ASYNCIO_PROCESS_TEST(Process, WaitSurvivesMovingTheProcess) {
    auto process = co_await create_subprocess_exec("sleep", "0.1");
    auto waiting = create_task(process.wait());
    Process moved = std::move(process);
    const int code = co_await waiting;
    CO_ASSERT_EQ(code, 0);
    CO_ASSERT_EQ(moved.returncode(), std::optional<int>(0));
}

// ---- large transfers ----

ASYNCIO_PROCESS_TEST(Process, FloodedStdoutIsReadByCommunicate) {
    auto process =
        co_await create_subprocess_exec("head", "-c", "50000000", "/dev/zero", piped_out());
    auto [out, err] = co_await process.communicate();
    CO_ASSERT_EQ(out.size(), 50'000'000u);
    CO_ASSERT_TRUE(std::all_of(out.begin(), out.end(), [](char c) { return c == '\0'; }));
    CO_ASSERT_EQ(process.returncode(), std::optional<int>(0));
}

ASYNCIO_PROCESS_TEST(Process, FloodedStdoutIsReadInChunks) {
    auto process =
        co_await create_subprocess_exec("head", "-c", "50000000", "/dev/zero", piped_out());
    StreamReader& out = *process.stdout_reader();
    std::size_t total = 0;
    for (int i = 0; i < 50; ++i) {
        const std::string chunk = co_await out.readexactly(1'000'000);
        total += chunk.size();
    }
    CO_ASSERT_EQ(total, 50'000'000u);
    const std::string rest = co_await out.read();
    CO_ASSERT_EQ(rest, "");
    const int code = co_await process.wait();
    CO_ASSERT_EQ(code, 0);
}

ASYNCIO_PROCESS_TEST(Process, LargeInputAndBothOutputsDoNotDeadlock) {
    // stderr floods while cat echoes stdin to stdout: every pipe fills up many times over,
    // so communicate() must write and read all three at once.
    auto process =
        co_await create_subprocess_shell("head -c 20000000 /dev/zero >&2 & cat; wait",
                                         with(Redirect::pipe, Redirect::pipe, Redirect::pipe));
    std::string input(20'000'000, 'x');
    for (std::size_t i = 0; i < input.size(); i += 4096) input[i] = static_cast<char>('a' + i % 26);
    auto result = co_await wait_for(process.communicate(input), 60s);
    CO_ASSERT_TRUE(result.first == input);
    CO_ASSERT_EQ(result.second.size(), 20'000'000u);
    CO_ASSERT_EQ(process.returncode(), std::optional<int>(0));
}

ASYNCIO_PROCESS_TEST(Process, ChildNotReadingItsInputIsNoError) {
    auto process = co_await create_subprocess_shell("exec 0<&-; echo done",
                                                    with(Redirect::pipe, Redirect::pipe));
    auto [out, err] = co_await process.communicate(std::string(1'000'000, 'x'));
    CO_ASSERT_EQ(out, "done\n");
    CO_ASSERT_EQ(process.returncode(), std::optional<int>(0));
}

// ---- exec failures ----

ASYNCIO_PROCESS_TEST(Subprocess, MissingProgramIsFileNotFoundNamingIt) {
    const std::vector<std::string> programs{"asyncio-no-such-program", "/nonexistent/asyncio-prog"};
    for (const std::string& program : programs) {
        bool thrown = false;
        try {
            co_await create_subprocess_exec(program, piped_out());
        } catch (const FileNotFoundError& error) {
            thrown = true;
            CO_ASSERT_EQ(error.code(), ENOENT);
            CO_ASSERT_TRUE(std::string(error.what()).find(program) != std::string::npos);
        }
        CO_ASSERT_TRUE(thrown);
    }
}

ASYNCIO_PROCESS_TEST(Subprocess, NonExecutableProgramIsPermissionError) {
    char path[] = "/tmp/asyncio-process-test-XXXXXX";
    const int fd = ::mkstemp(path);
    CO_ASSERT_TRUE(fd >= 0);
    [[maybe_unused]] auto written = ::write(fd, "#!/bin/sh\n", 10);
    ::close(fd);
    ::chmod(path, 0644);
    const std::vector<std::string> programs{path, "/tmp"};
    for (const std::string& program : programs) {
        bool thrown = false;
        try {
            co_await create_subprocess_exec(program);
        } catch (const PermissionError& error) {
            thrown = true;
            CO_ASSERT_EQ(error.code(), EACCES);
            CO_ASSERT_TRUE(std::string(error.what()).find(program) != std::string::npos);
        }
        EXPECT_TRUE(thrown) << program;
    }
    ::unlink(path);
}

ASYNCIO_PROCESS_TEST(Subprocess, InvalidOptionsAreRejected) {
    int rejected = 0;
    try {
        co_await create_subprocess_exec("");
    } catch (const std::invalid_argument&) {
        ++rejected;
    }
    try {
        co_await create_subprocess_exec("true", with(Redirect::to_stdout, Redirect::inherit));
    } catch (const std::invalid_argument&) {
        ++rejected;
    }
    try {
        co_await create_subprocess_exec("echo", std::string("a\0b", 3));
    } catch (const std::invalid_argument&) {
        ++rejected;
    }
    CO_ASSERT_EQ(rejected, 3);
}

// ---- descriptors ----

ASYNCIO_PROCESS_TEST(Subprocess, NoDescriptorLeaksIntoTheChild) {
    // A descriptor opened without O_CLOEXEC, and another child's pipes, must not reach it.
    const int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    const int planted = ::fcntl(null_fd, F_DUPFD, 100);  // no FD_CLOEXEC
    ::close(null_fd);
    CO_ASSERT_TRUE(planted >= 100);
    auto other = co_await create_subprocess_exec("cat", with(Redirect::pipe, Redirect::pipe));
    const std::vector<std::string> args{"/proc/self/fd"};  // the vector form
    auto lister = co_await create_subprocess_exec("ls", args, piped_out());
    auto [listing, err] = co_await lister.communicate();
    ::close(planted);
    // ls itself reads the directory through descriptor 3.
    std::vector<int> fds;
    std::size_t start = 0;
    while (start < listing.size()) {
        const std::size_t end = listing.find('\n', start);
        fds.push_back(std::atoi(listing.substr(start, end - start).c_str()));
        start = end + 1;
    }
    CO_ASSERT_TRUE(fds.size() >= 3);
    for (int fd : fds) EXPECT_LE(fd, 3) << "descriptor " << fd << " leaked; listing:\n" << listing;
    auto [out, other_err] = co_await other.communicate("");
    CO_ASSERT_EQ(other.returncode(), std::optional<int>(0));
}

// ---- wait() and the pipes (gh-119710) ----

Task<> WaitReturnsWhileAGrandchildHoldsStdout() {
    ProcessOptions options = piped_out();
    options.start_new_session = true;  // so the grandchild can be killed through the group
    const auto start = Clock::now();
    auto process = co_await create_subprocess_shell("sleep 30 & echo started", options);
    const std::string line = co_await process.stdout_reader()->readline();
    CO_ASSERT_EQ(line, "started\n");
    const int code = co_await wait_for(process.wait(), 10s);
    CO_ASSERT_EQ(code, 0);
    CO_ASSERT_TRUE(Clock::now() - start < 10s);
    // The grandchild still holds stdout; kill it through the process group.
    CO_ASSERT_EQ(::killpg(process.pid(), SIGKILL), 0);
    const std::string rest = co_await wait_for(process.stdout_reader()->read(), 10s);
    CO_ASSERT_EQ(rest, "");
}
ASYNCIO_BOTH_WATCHERS(WaitReturnsWhileAGrandchildHoldsStdout)

// ---- cancellation ----

Task<> CancelledWaitLeavesTheChildWatched() {
    auto process = co_await create_subprocess_exec("sleep", "10");
    auto waiting = create_task(process.wait());
    co_await sleep(20ms);
    waiting.cancel();
    bool cancelled = false;
    try {
        co_await waiting;
    } catch (const CancelledError&) {
        cancelled = true;
    }
    CO_ASSERT_TRUE(cancelled);
    CO_ASSERT_EQ(process.returncode(), std::nullopt);
    process.kill();
    const int code = co_await process.wait();
    CO_ASSERT_EQ(code, -SIGKILL);
}
ASYNCIO_BOTH_WATCHERS(CancelledWaitLeavesTheChildWatched)

ASYNCIO_PROCESS_TEST(Process, CancelledCommunicateKeepsTheOutputForTheNextCall) {
    // "out" is read to its end before the timeout; "err" only in part.
    auto process = co_await create_subprocess_shell(
        "echo out; exec >&-; echo err1 >&2; sleep 0.5; echo err2 >&2",
        with(Redirect::inherit, Redirect::pipe, Redirect::pipe));
    bool timed_out = false;
    try {
        co_await wait_for(process.communicate(), 200ms);
    } catch (const TimeoutError&) {
        timed_out = true;
    }
    CO_ASSERT_TRUE(timed_out);
    auto [out, err] = co_await wait_for(process.communicate(), 10s);
    CO_ASSERT_EQ(out, "out\n");
    CO_ASSERT_EQ(err, "err1\nerr2\n");
}

ASYNCIO_PROCESS_TEST(Process, InputAfterACancelledCommunicateIsRefused) {
    auto process =
        co_await create_subprocess_shell("sleep 0.3; cat", with(Redirect::pipe, Redirect::pipe));
    bool timed_out = false;
    try {
        co_await wait_for(process.communicate("abc"), 50ms);
    } catch (const TimeoutError&) {
        timed_out = true;
    }
    CO_ASSERT_TRUE(timed_out);
    bool refused = false;
    try {
        co_await process.communicate("more");
    } catch (const InvalidStateError&) {
        refused = true;
    }
    CO_ASSERT_TRUE(refused);
    auto [out, err] = co_await wait_for(process.communicate(), 10s);
    CO_ASSERT_EQ(out, "abc");
}

Task<> communicate_with_sleeper(std::vector<pid_t>& pids) {
    auto process = co_await create_subprocess_exec("sleep", "10", piped_out());
    pids.push_back(process.pid());
    co_await process.communicate();
}

/// Reliability row 11 (gh-125502): 200 communicate() calls cancelled mid-flight.
Task<> CancellingManyCommunicateCallsLeavesNoZombie() {
    const auto start = Clock::now();
    std::vector<pid_t> pids;
    std::vector<TaskHandle<>> tasks;
    for (int i = 0; i < 200; ++i) tasks.push_back(create_task(communicate_with_sleeper(pids)));
    while (pids.size() < tasks.size() && Clock::now() - start < 30s) co_await sleep(10ms);
    CO_ASSERT_EQ(pids.size(), tasks.size());
    co_await sleep(20ms);  // every communicate() is reading now
    for (auto& task : tasks) task.cancel();
    int cancelled = 0;
    for (auto& task : tasks) {
        try {
            co_await task;
        } catch (const CancelledError&) {
            ++cancelled;
        }
    }
    CO_ASSERT_EQ(cancelled, 200);
    // As in Python, cancelling neither kills the children nor leaves them unwatched.
    for (pid_t pid : pids) EXPECT_EQ(::kill(pid, 0), 0);
    for (pid_t pid : pids) ::kill(pid, SIGKILL);
    const bool all_gone = co_await until_reaped(pids);
    CO_ASSERT_TRUE(all_gone);
    CO_ASSERT_TRUE(Clock::now() - start < 9s);  // well before the children would have ended
    // The LeakCheck of the test checks the descriptors.
}
ASYNCIO_BOTH_WATCHERS(CancellingManyCommunicateCallsLeavesNoZombie)

Task<> start_communicating(std::vector<pid_t>& pids, int count) {
    for (int i = 0; i < count; ++i) create_task(communicate_with_sleeper(pids));
    const auto start = Clock::now();
    while (pids.size() < static_cast<std::size_t>(count) && Clock::now() - start < 30s) {
        co_await sleep(10ms);
    }
    co_await sleep(20ms);
    // Returns with every communicate() still running: run() cancels them and closes.
}

void run_returns_promptly_after_cancelling(int count) {
    const std::size_t fds = testing::open_fd_count();
    std::vector<pid_t> pids;
    const auto start = Clock::now();
    asyncio::run(start_communicating(pids, count));
    EXPECT_LT(Clock::now() - start, 8s);
    ASSERT_EQ(pids.size(), static_cast<std::size_t>(count));
    // Still running (not killed), and handed to reaper threads when the loop closed.
    for (pid_t pid : pids) EXPECT_EQ(::kill(pid, 0), 0);
    for (pid_t pid : pids) ::kill(pid, SIGKILL);
    EXPECT_TRUE(wait_until_reaped(pids));
    const auto deadline = Clock::now() + 10s;
    while (testing::open_fd_count() != fds && Clock::now() < deadline) {
        std::this_thread::sleep_for(10ms);
    }
    EXPECT_EQ(testing::open_fd_count(), fds);
}

TEST(Process, RunReturnsPromptlyWithCancelledCommunicateCalls) {
    run_returns_promptly_after_cancelling(200);
}

TEST(ProcessThreadWatcher, RunReturnsPromptlyWithCancelledCommunicateCalls) {
    ThreadWatcherScope scope;
    run_returns_promptly_after_cancelling(200);
}

// ---- dropping a Process ----

Task<> DroppedProcessKeepsRunningAndIsReaped() {
    pid_t pid = -1;
    {
        auto process = co_await create_subprocess_exec("sleep", "0.3", piped_out());
        pid = process.pid();
    }
    CO_ASSERT_EQ(::kill(pid, 0), 0);  // not killed: Python's default
    CO_ASSERT_TRUE(!reaped(pid));
    const std::vector<pid_t> pids(1, pid);
    const bool gone = co_await until_reaped(pids);
    CO_ASSERT_TRUE(gone);
}
ASYNCIO_BOTH_WATCHERS(DroppedProcessKeepsRunningAndIsReaped)

ASYNCIO_TEST_WITH(Process, DroppingARunningProcessIsLoggedInDebugMode,
                  (testing::TestOptions{.debug = true, .real_clock = true})) {
    testing::LogCapture logs;
    pid_t pid = -1;
    {
        auto process = co_await create_subprocess_exec("sleep", "10");
        pid = process.pid();
    }
    CO_ASSERT_TRUE(logs.contains("was dropped while running"));
    ::kill(pid, SIGKILL);
    const std::vector<pid_t> pids(1, pid);
    const bool gone = co_await until_reaped(pids);
    CO_ASSERT_TRUE(gone);
}

Task<> start_into(std::optional<Process>& slot) {
    slot.emplace(co_await create_subprocess_exec("sleep", "10"));
}

TEST(Process, ProcessOutlivingItsLoopIsReapedOnceDropped) {
    const std::size_t fds = testing::open_fd_count();
    std::optional<Process> process;
    asyncio::run(start_into(process));
    ASSERT_TRUE(process.has_value());
    const pid_t pid = process->pid();
    process->kill();  // still possible: the pidfd is the Process's
    process.reset();  // handed to a reaper thread
    EXPECT_TRUE(wait_until_reaped({pid}));
    const auto deadline = Clock::now() + 10s;
    while (testing::open_fd_count() != fds && Clock::now() < deadline) {
        std::this_thread::sleep_for(10ms);
    }
    EXPECT_EQ(testing::open_fd_count(), fds);
}

}  // namespace
}  // namespace asyncio
