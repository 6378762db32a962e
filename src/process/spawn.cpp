#include "process/spawn.hpp"

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string_view>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <unistd.h>

#include "net/os_error.hpp"

extern char** environ;

namespace asyncio::detail {

UniqueFd& UniqueFd::operator=(UniqueFd&& other) noexcept {
    if (this != &other) {
        if (fd_ >= 0) ::close(fd_);
        fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
}

UniqueFd::~UniqueFd() {
    if (fd_ >= 0) ::close(fd_);
}

namespace {

/// posix_spawn's attributes and file actions, destroyed on every path out.
class SpawnPlan {
public:
    SpawnPlan() {
        if (const int error = ::posix_spawnattr_init(&attributes_); error != 0) {
            throw_os_error(error, "posix_spawnattr_init");
        }
        if (const int error = ::posix_spawn_file_actions_init(&actions_); error != 0) {
            ::posix_spawnattr_destroy(&attributes_);
            throw_os_error(error, "posix_spawn_file_actions_init");
        }
    }
    SpawnPlan(const SpawnPlan&) = delete;
    SpawnPlan& operator=(const SpawnPlan&) = delete;
    ~SpawnPlan() {
        ::posix_spawn_file_actions_destroy(&actions_);
        ::posix_spawnattr_destroy(&attributes_);
    }

    void dup2(int from, int to) {
        check(::posix_spawn_file_actions_adddup2(&actions_, from, to), "adddup2");
    }
    void open(int to, const char* path, int flags) {
        check(::posix_spawn_file_actions_addopen(&actions_, to, path, flags, 0), "addopen");
    }
    void chdir(const std::string& path) {
        check(::posix_spawn_file_actions_addchdir_np(&actions_, path.c_str()), "addchdir_np");
    }
    void close_above_stdio() {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
        // Descriptors someone opened without O_CLOEXEC (another library, another thread
        // racing with us) must not leak either: Python's close_fds=True.
        check(::posix_spawn_file_actions_addclosefrom_np(&actions_, 3), "addclosefrom_np");
#endif
    }
    void set_attributes(const ProcessOptions& options) {
        short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
        // The child starts with no blocked signal, whatever the spawning thread blocks.
        sigset_t mask;
        sigemptyset(&mask);
        check(::posix_spawnattr_setsigmask(&attributes_, &mask), "setsigmask");
        // Ignored signals stay ignored across exec. make_fd_transport ignores SIGPIPE in
        // this process; the child gets it back (Python's restore_signals), or `yes | head`
        // style pipelines would never end.
        sigset_t defaults;
        sigemptyset(&defaults);
        sigaddset(&defaults, SIGPIPE);
        sigaddset(&defaults, SIGXFSZ);
        check(::posix_spawnattr_setsigdefault(&attributes_, &defaults), "setsigdefault");
        if (options.start_new_session) flags |= POSIX_SPAWN_SETSID;
        if (options.process_group) {
            flags |= POSIX_SPAWN_SETPGROUP;
            check(::posix_spawnattr_setpgroup(&attributes_, *options.process_group), "setpgroup");
        }
        check(::posix_spawnattr_setflags(&attributes_, flags), "setflags");
    }

    int spawn(pid_t& pid, const std::string& path, char* const* argv, char* const* envp) {
        return ::posix_spawn(&pid, path.c_str(), &actions_, &attributes_, argv, envp);
    }

private:
    static void check(int error, const char* what) {
        if (error != 0) throw_os_error(error, std::string("posix_spawn: ") + what);
    }

    posix_spawnattr_t attributes_;
    posix_spawn_file_actions_t actions_;
};

void require_no_nul(const std::string& text, const char* what) {
    if (text.find('\0') != std::string::npos) {
        throw std::invalid_argument(std::string("create_subprocess: ") + what +
                                    " contains a NUL byte");
    }
}

std::string quoted(const std::string& text) { return "'" + text + "'"; }

struct Pipe {
    UniqueFd read_end;
    UniqueFd write_end;
};

Pipe make_pipe() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) throw_os_error(errno, "pipe2 for a subprocess");
    return Pipe{UniqueFd(fds[0]), UniqueFd(fds[1])};
}

/// Moves the child's end of a pipe above 2. With one of the parent's standard
/// descriptors closed, a pipe can get number 0, 1 or 2, and dup2 onto one standard slot
/// would then overwrite the end meant for another.
UniqueFd above_stdio(UniqueFd fd) {
    if (fd.get() > 2) return fd;
    const int moved = ::fcntl(fd.get(), F_DUPFD_CLOEXEC, 3);
    if (moved < 0) throw_os_error(errno, "fcntl(F_DUPFD_CLOEXEC) for a subprocess");
    return UniqueFd(moved);
}

void set_nonblocking(int fd) {
    const int flags = ::fcntl(fd, F_GETFL);
    if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0) {
        throw_os_error(errno, "fcntl(O_NONBLOCK) for a subprocess pipe");
    }
}

std::string_view name_of(std::string_view entry) { return entry.substr(0, entry.find('=')); }

std::vector<std::string> build_environment(const ProcessOptions& options) {
    for (const auto& [name, value] : options.extra_env) {
        if (name.empty() || name.find('=') != std::string::npos) {
            throw std::invalid_argument("create_subprocess: invalid environment name '" + name +
                                        "'");
        }
        require_no_nul(name, "an environment name");
        require_no_nul(value, "an environment value");
    }
    std::vector<std::string> entries;
    auto keep = [&](std::string entry) {
        if (options.extra_env.count(std::string(name_of(entry))) == 0) {
            entries.push_back(std::move(entry));
        }
    };
    if (options.env) {
        for (const auto& [name, value] : *options.env) {
            if (name.empty() || name.find('=') != std::string::npos) {
                throw std::invalid_argument("create_subprocess: invalid environment name '" + name +
                                            "'");
            }
            require_no_nul(name, "an environment name");
            require_no_nul(value, "an environment value");
            keep(name + "=" + value);
        }
    } else {
        for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) keep(*entry);
    }
    for (const auto& [name, value] : options.extra_env) entries.push_back(name + "=" + value);
    return entries;
}

/// Where to look for `program`, in order: itself when it names a path, else each PATH
/// directory of the child's environment (as Python, which uses the env it was given).
std::vector<std::string> candidates_for(const std::string& program,
                                        const std::vector<std::string>& environment) {
    if (program.find('/') != std::string::npos) return {program};
    std::string search_path = "/bin:/usr/bin";  // what execvp uses when PATH is unset
    for (const auto& entry : environment) {
        if (entry.starts_with("PATH=")) {
            search_path = entry.substr(5);
            break;
        }
    }
    std::vector<std::string> result;
    std::size_t start = 0;
    for (;;) {
        const std::size_t end = search_path.find(':', start);
        std::string directory = search_path.substr(start, end - start);
        if (directory.empty()) directory = ".";  // an empty PATH entry means the cwd
        result.push_back(directory + "/" + program);
        if (end == std::string::npos) break;
        start = end + 1;
    }
    return result;
}

std::vector<char*> pointers_to(std::vector<std::string>& strings) {
    std::vector<char*> result;
    result.reserve(strings.size() + 1);
    for (auto& text : strings) result.push_back(text.data());
    result.push_back(nullptr);
    return result;
}

/// Sets up one of the child's standard descriptors; gives the parent's end of a pipe.
UniqueFd plan_stream(SpawnPlan& plan, Redirect mode, int target, std::vector<UniqueFd>& child_ends,
                     const char* name) {
    switch (mode) {
        case Redirect::inherit:
            return UniqueFd();
        case Redirect::devnull:
            plan.open(target, "/dev/null", target == 0 ? O_RDONLY : O_WRONLY);
            return UniqueFd();
        case Redirect::pipe: {
            Pipe pipe = make_pipe();
            UniqueFd child_end =
                above_stdio(target == 0 ? std::move(pipe.read_end) : std::move(pipe.write_end));
            UniqueFd parent_end =
                target == 0 ? std::move(pipe.write_end) : std::move(pipe.read_end);
            // Only the parent's end is non-blocking: the child expects ordinary stdio.
            set_nonblocking(parent_end.get());
            plan.dup2(child_end.get(), target);
            child_ends.push_back(std::move(child_end));
            return parent_end;
        }
        case Redirect::to_stdout:
            if (target != 2) {
                throw std::invalid_argument(std::string("create_subprocess: ") + name +
                                            " cannot be Redirect::to_stdout");
            }
            plan.dup2(1, 2);
            return UniqueFd();
    }
    throw std::invalid_argument(std::string("create_subprocess: invalid Redirect for ") + name);
}

}  // namespace

SpawnedChild spawn_child(const std::string& program, const std::vector<std::string>& argv,
                         const ProcessOptions& options) {
    if (program.empty()) throw std::invalid_argument("create_subprocess: empty program name");
    require_no_nul(program, "the program name");
    for (const auto& arg : argv) require_no_nul(arg, "an argument");
    if (options.start_new_session && options.process_group) {
        throw std::invalid_argument(
            "create_subprocess: start_new_session and process_group cannot be combined");
    }
    if (options.limit == 0)
        throw std::invalid_argument("create_subprocess: limit must be positive");
    if (options.cwd) {
        require_no_nul(*options.cwd, "cwd");
        // Checked here so that the error names the directory: the child's failed chdir
        // would come back as a bare ENOENT, blamed on the program.
        struct stat info {};
        if (::stat(options.cwd->c_str(), &info) != 0) {
            throw_os_error(errno, "subprocess working directory " + quoted(*options.cwd));
        }
        if (!S_ISDIR(info.st_mode)) {
            throw_os_error(ENOTDIR, "subprocess working directory " + quoted(*options.cwd));
        }
    }

    std::vector<std::string> environment = build_environment(options);
    std::vector<std::string> arguments = argv;
    std::vector<char*> argv_pointers = pointers_to(arguments);
    std::vector<char*> envp_pointers = pointers_to(environment);

    SpawnPlan plan;
    SpawnedChild child;
    std::vector<UniqueFd> child_ends;  // closed in the parent once the child has them
    child.stdin_pipe = plan_stream(plan, options.stdin_mode, 0, child_ends, "stdin");
    child.stdout_pipe = plan_stream(plan, options.stdout_mode, 1, child_ends, "stdout");
    child.stderr_pipe = plan_stream(plan, options.stderr_mode, 2, child_ends, "stderr");
    if (options.cwd) plan.chdir(*options.cwd);
    plan.close_above_stdio();
    plan.set_attributes(options);

    // execvp's search, done here because posix_spawnp would use this process's PATH: the
    // first candidate that runs wins; EACCES is remembered but the search goes on.
    int error = ENOENT;
    bool denied = false;
    for (const std::string& path : candidates_for(program, environment)) {
        // A missing file is skipped without a spawn (relative paths depend on the child's
        // cwd, so only absolute ones are checked here).
        if (path.front() == '/' && path != program && ::access(path.c_str(), F_OK) != 0) continue;
        error = plan.spawn(child.pid, path, argv_pointers.data(), envp_pointers.data());
        if (error == 0) return child;
        if (error == EACCES) {
            denied = true;
        } else if (error != ENOENT && error != ENOTDIR) {
            break;
        }
    }
    if (denied && (error == ENOENT || error == ENOTDIR)) error = EACCES;
    std::string what = "cannot run " + quoted(program);
    if (options.cwd) what += " in " + quoted(*options.cwd);
    throw_os_error(error, what);
}

}  // namespace asyncio::detail
