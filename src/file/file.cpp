// Files: open, pread, pwrite, fsync and close go through the backend when it can run them
// without blocking (io_uring), otherwise each runs as a BlockingCall on the loop's thread
// pool. The rarer calls (fstat, ftruncate, rename, unlink) are BlockingCalls on both
// backends: one code path for them keeps the two backends' behaviour identical.
//
// The File keeps its own position and only ever uses pread/pwrite, never the kernel's file
// position: operations at an offset can then run side by side, and a read() that fails or
// is cancelled between two chunks can put the position back where it started.

#include "asyncio/file.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <stdexcept>
#include <utility>

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "asyncio/errors.hpp"
#include "asyncio/sleep.hpp"
#include "backend/backend.hpp"
#include "backend/syscall_attempt.hpp"
#include "loop/blocking_call.hpp"
#include "loop/io_awaitable.hpp"
#include "net/os_error.hpp"

namespace asyncio {
namespace {

// Reads grow by at least this much, and by at most read_chunk_max, per system call.
constexpr std::size_t read_chunk_min = std::size_t{64} << 10;
constexpr std::size_t read_chunk_max = std::size_t{16} << 20;

long file_syscall_on_thread(void* context) noexcept {
    return detail::attempt_syscall(*static_cast<detail::IoOperation*>(context));
}

struct FdCall {
    int fd;
    std::uint64_t value = 0;  // ftruncate's length in, fstat's size out
};

long fstat_on_thread(void* context) noexcept {
    auto& call = *static_cast<FdCall*>(context);
    struct stat status {};
    if (::fstat(call.fd, &status) != 0) return -errno;
    call.value = static_cast<std::uint64_t>(status.st_size);
    return 0;
}

long ftruncate_on_thread(void* context) noexcept {
    auto& call = *static_cast<FdCall*>(context);
    int rc;
    do {
        rc = ::ftruncate(call.fd, static_cast<off_t>(call.value));
    } while (rc != 0 && errno == EINTR);
    return rc == 0 ? 0 : -errno;
}

struct PathCall {
    const char* from;
    const char* to;
};

long rename_on_thread(void* context) noexcept {
    auto& call = *static_cast<PathCall*>(context);
    return ::rename(call.from, call.to) == 0 ? 0 : -errno;
}

long unlink_on_thread(void* context) noexcept {
    return ::unlink(static_cast<PathCall*>(context)->from) == 0 ? 0 : -errno;
}

/// Whether preadv2(RWF_NOWAIT) works here (Linux 4.14+, and the file system must support
/// it); cleared on the first EOPNOTSUPP or EINVAL.
std::atomic<bool> nowait_reads{true};

/// A read of what the page cache already holds, on the loop thread: -EAGAIN when it would
/// have to wait for the disk (then the thread pool reads). This spares a warm read the two
/// thread wake-ups of a pool round trip, which cost more than copying 64 KiB.
long read_if_cached(int fd, void* buffer, std::size_t length, std::uint64_t offset) noexcept {
    if (!nowait_reads.load(std::memory_order_relaxed)) return -EAGAIN;
    iovec vector{buffer, length};
    for (;;) {
        const ssize_t result =
            ::preadv2(fd, &vector, 1, static_cast<off_t>(offset), RWF_NOWAIT);
        if (result >= 0) return result;
        if (errno == EINTR) continue;
        if (errno == EOPNOTSUPP || errno == EINVAL) {
            nowait_reads.store(false, std::memory_order_relaxed);
            return -EAGAIN;
        }
        return -errno;  // EAGAIN: not cached; anything else is the read's real error
    }
}

/// One file system call (detail::is_file_opcode): on the ring when the backend can, on a
/// thread otherwise (a read first tries the page cache on the loop thread).
Task<long> file_operation(detail::IoOpcode opcode, int fd, void* buffer, std::size_t length,
                          std::uint64_t offset, int flags) {
    // A cancellation deferred by the previous operation (which completed although
    // cancelled) is delivered here, before starting another: otherwise each operation of
    // a loop would take it over, complete, and defer it again, and a cancelled read() of
    // a large file would run to its end.
    detail::require_current_task("a file operation").throw_if_cancel_pending();
    long result = 0;
    if (detail::running_backend().supports_file_io()) {
        result = co_await detail::IoAwaitable::file(opcode, fd, buffer, length, offset, flags);
    } else {
        if (opcode == detail::IoOpcode::pread) {
            result = read_if_cached(fd, buffer, length, offset);
            if (result != -EAGAIN) {
                // Still a suspension point, as on the ring: a read of a large cached file
                // lets other tasks run between chunks, and can be cancelled there (before
                // the caller consumes the bytes, so nothing is lost).
                co_await sleep(Duration::zero());
                co_return result;
            }
        }
        detail::IoOperation operation;
        operation.opcode = opcode;
        operation.fd = fd;
        operation.buffer = buffer;
        operation.length = length;
        operation.offset = offset;
        operation.flags = flags;
        result = co_await detail::BlockingCall(&file_syscall_on_thread, &operation, fd);
    }
    co_return result;
}

void require_path(const std::string& path, const char* what) {
    if (path.find('\0') != std::string::npos) {
        throw std::invalid_argument(std::string(what) + ": the path contains a NUL byte");
    }
}

/// The flags of a mode, for messages: "write|create|truncate".
std::string describe(FileMode mode) {
    static constexpr std::pair<FileMode, const char*> names[] = {
        {FileMode::read, "read"},         {FileMode::write, "write"},
        {FileMode::append, "append"},     {FileMode::create, "create"},
        {FileMode::truncate, "truncate"}, {FileMode::exclusive, "exclusive"},
    };
    std::string text;
    for (const auto& [flag, name] : names) {
        if (has(mode, flag)) text.append(text.empty() ? "" : "|").append(name);
    }
    const unsigned unknown = static_cast<unsigned>(mode) & ~63u;
    if (unknown != 0) text.append(text.empty() ? "" : "|").append(std::to_string(unknown));
    return text.empty() ? "no flags" : text;
}

/// open(2) flags for `mode`. Throws: std::invalid_argument for a mode that cannot work.
int open_flags(const std::string& path, FileMode mode) {
    const auto invalid = [&](const char* why) {
        return std::invalid_argument("open_file(\"" + path + "\"): mode " + describe(mode) + " " +
                                     why);
    };
    if ((static_cast<unsigned>(mode) & ~63u) != 0) throw invalid("has unknown flags");
    const bool reads = has(mode, FileMode::read);
    const bool writes = has(mode, FileMode::write) || has(mode, FileMode::append);
    if (!reads && !writes) throw invalid("neither reads nor writes");
    if (has(mode, FileMode::truncate) && !writes) throw invalid("truncates without writing");
    int flags = O_CLOEXEC | (reads && writes ? O_RDWR : reads ? O_RDONLY : O_WRONLY);
    if (has(mode, FileMode::append)) flags |= O_APPEND;
    if (has(mode, FileMode::create)) flags |= O_CREAT;
    if (has(mode, FileMode::truncate)) flags |= O_TRUNC;
    if (has(mode, FileMode::exclusive)) flags |= O_CREAT | O_EXCL;
    return flags;
}

/// The FileMode of a Python mode string ("r", "w+", "ab"...).
FileMode parse_mode(const std::string& path, const std::string& mode) {
    char kind = 0;
    bool plus = false;
    bool binary = false;
    bool valid = !mode.empty();
    for (const char c : mode) {
        if (c == 'r' || c == 'w' || c == 'a' || c == 'x') {
            valid = valid && kind == 0;
            kind = c;
        } else if (c == '+') {
            valid = valid && !plus;
            plus = true;
        } else if (c == 'b') {
            valid = valid && !binary;
            binary = true;
        } else {
            valid = false;
        }
    }
    if (!valid || kind == 0) {
        throw std::invalid_argument("open_file(\"" + path + "\"): invalid mode \"" + mode +
                                    "\" (one of r, w, a, x, optionally with + and b; files "
                                    "are bytes only)");
    }
    FileMode result = FileMode::read;
    if (kind == 'w') result = FileMode::write | FileMode::create | FileMode::truncate;
    if (kind == 'a') result = FileMode::append | FileMode::create;
    if (kind == 'x') result = FileMode::write | FileMode::exclusive;
    if (plus) result = result | (kind == 'r' ? FileMode::write : FileMode::read);
    return result;
}

}  // namespace

// ---- File ----

struct File::Busy {
    // `positioned`: the operation uses position_, which only one may do at a time.
    Busy(File& file, bool positioned, const char* what) : file_(file), positioned_(positioned) {
        if (positioned && file.positioned_busy_) {
            throw RuntimeError(std::string("File.") + what + " on \"" + file.path_ +
                               "\" while another read() or write() of it is in progress");
        }
        file.positioned_busy_ = file.positioned_busy_ || positioned;
        ++file.in_flight_;
    }
    ~Busy() {
        if (positioned_) file_.positioned_busy_ = false;
        --file_.in_flight_;
    }
    Busy(const Busy&) = delete;
    Busy& operator=(const Busy&) = delete;

private:
    File& file_;
    bool positioned_;
};

File::File(int fd, std::string path, std::uint64_t position, bool append,
           detail::LoopCore* loop) noexcept
    : fd_(fd), path_(std::move(path)), position_(position), append_(append), loop_(loop) {}

File::File(File&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      path_(std::move(other.path_)),
      position_(std::exchange(other.position_, 0)),
      append_(std::exchange(other.append_, false)),
      loop_(std::exchange(other.loop_, nullptr)) {}

File& File::operator=(File&& other) noexcept {
    if (this != &other) {
        close_now();
        fd_ = std::exchange(other.fd_, -1);
        path_ = std::move(other.path_);
        position_ = std::exchange(other.position_, 0);
        append_ = std::exchange(other.append_, false);
        loop_ = std::exchange(other.loop_, nullptr);
    }
    return *this;
}

File::~File() { close_now(); }

void File::close_now() noexcept {
    if (fd_ < 0) return;
    detail::close_descriptor(loop_, std::exchange(fd_, -1));
}

void File::require_open(const char* what) const {
    if (fd_ < 0) {
        throw RuntimeError(std::string("File.") + what + " on a closed file" +
                           (path_.empty() ? std::string() : " (\"" + path_ + "\")"));
    }
    if (&detail::require_running_loop() != loop_) {
        throw RuntimeError(std::string("File.") + what + " on \"" + path_ +
                           "\" from another event loop than the one that opened it");
    }
}

void File::seek(std::uint64_t position) {
    if (positioned_busy_) {
        throw RuntimeError("File.seek() on \"" + path_ +
                           "\" while a read() or write() of it is in progress");
    }
    position_ = position;
}

Task<std::string> File::read(std::size_t max_bytes) {
    require_open("read()");
    Busy busy(*this, true, "read()");
    const std::uint64_t start = position_;
    std::string data;
    try {
        co_await read_chunks(data, max_bytes);
    } catch (...) {
        // The bytes read so far go with the exception: put them back, so that a cancelled
        // or failed read() loses nothing (a file, unlike a socket, can be read again).
        position_ = start;
        throw;
    }
    co_return data;
}

Task<> File::read_chunks(std::string& data, std::size_t max_bytes) {
    while (data.size() < max_bytes) {
        const std::size_t before = data.size();
        const std::size_t chunk =
            std::min(max_bytes - before, std::clamp(before, read_chunk_min, read_chunk_max));
        data.resize(before + chunk);
        const long result = co_await file_operation(detail::IoOpcode::pread, fd_,
                                                    data.data() + before, chunk, position_, 0);
        if (result < 0) {
            detail::throw_os_error(static_cast<int>(-result), "read from \"" + path_ + "\"");
        }
        data.resize(before + static_cast<std::size_t>(result));
        position_ += static_cast<std::uint64_t>(result);
        if (result == 0) break;
    }
}

Task<std::string> File::read() {
    std::string data = co_await read(std::string().max_size());
    co_return data;
}

Task<std::size_t> File::read(std::span<std::byte> buffer) {
    require_open("read()");
    Busy busy(*this, true, "read()");
    const long result = co_await file_operation(detail::IoOpcode::pread, fd_, buffer.data(),
                                                buffer.size(), position_, 0);
    if (result < 0) {
        detail::throw_os_error(static_cast<int>(-result), "read from \"" + path_ + "\"");
    }
    position_ += static_cast<std::uint64_t>(result);
    co_return static_cast<std::size_t>(result);
}

Task<std::size_t> File::read_at(std::span<std::byte> buffer, std::uint64_t offset) {
    require_open("read_at()");
    Busy busy(*this, false, "read_at()");
    const long result = co_await file_operation(detail::IoOpcode::pread, fd_, buffer.data(),
                                                buffer.size(), offset, 0);
    if (result < 0) {
        detail::throw_os_error(static_cast<int>(-result),
                               "read from \"" + path_ + "\" at " + std::to_string(offset));
    }
    co_return static_cast<std::size_t>(result);
}

Task<std::size_t> File::read_at(std::span<char> buffer, std::uint64_t offset) {
    const std::size_t count = co_await read_at(std::as_writable_bytes(buffer), offset);
    co_return count;
}

Task<> File::write(std::string_view data) {
    require_open("write()");
    Busy busy(*this, true, "write()");
    // In append mode the kernel puts the bytes at the end whatever the offset says.
    co_await write_all(data, position_, &position_);
}

Task<> File::write_all(std::string_view data, std::uint64_t offset, std::uint64_t* advance) {
    std::size_t written = 0;
    while (written < data.size()) {
        const std::uint64_t at = offset + written;
        const long result = co_await file_operation(detail::IoOpcode::pwrite, fd_,
                                                    const_cast<char*>(data.data() + written),
                                                    data.size() - written, at, 0);
        if (result < 0) {
            detail::throw_os_error(static_cast<int>(-result),
                                   "write to \"" + path_ + "\" at " + std::to_string(at));
        }
        if (result == 0) {
            // pwrite(2) of a non-empty buffer never says 0 on a regular file: don't spin.
            detail::throw_os_error(EIO, "write to \"" + path_ + "\" made no progress");
        }
        written += static_cast<std::size_t>(result);
        if (advance != nullptr) *advance += static_cast<std::uint64_t>(result);
    }
}

Task<> File::write(std::span<const std::byte> data) {
    co_await write(std::string_view(reinterpret_cast<const char*>(data.data()), data.size()));
}

Task<> File::write_at(std::span<const std::byte> data, std::uint64_t offset) {
    co_await write_at(std::string_view(reinterpret_cast<const char*>(data.data()), data.size()),
                      offset);
}

Task<> File::write_at(std::string_view data, std::uint64_t offset) {
    require_open("write_at()");
    Busy busy(*this, false, "write_at()");
    co_await write_all(data, offset, nullptr);
}

Task<> File::fsync() {
    require_open("fsync()");
    Busy busy(*this, false, "fsync()");
    const long result = co_await file_operation(detail::IoOpcode::fsync, fd_, nullptr, 0, 0, 0);
    if (result < 0) detail::throw_os_error(static_cast<int>(-result), "fsync \"" + path_ + "\"");
}

Task<> File::fdatasync() {
    require_open("fdatasync()");
    Busy busy(*this, false, "fdatasync()");
    const long result = co_await file_operation(detail::IoOpcode::fsync, fd_, nullptr, 0, 0,
                                                detail::file_sync_data_only);
    if (result < 0) {
        detail::throw_os_error(static_cast<int>(-result), "fdatasync \"" + path_ + "\"");
    }
}

Task<std::uint64_t> File::size() {
    require_open("size()");
    Busy busy(*this, false, "size()");
    FdCall call{fd_};
    const long result = co_await detail::BlockingCall(&fstat_on_thread, &call, fd_);
    if (result < 0) detail::throw_os_error(static_cast<int>(-result), "fstat \"" + path_ + "\"");
    co_return call.value;
}

Task<> File::truncate(std::uint64_t length) {
    require_open("truncate()");
    Busy busy(*this, false, "truncate()");
    FdCall call{fd_, length};
    const long result = co_await detail::BlockingCall(&ftruncate_on_thread, &call, fd_);
    if (result < 0) {
        detail::throw_os_error(static_cast<int>(-result),
                               "truncate \"" + path_ + "\" to " + std::to_string(length));
    }
}

Task<> File::close() {
    if (fd_ < 0) co_return;
    require_open("close()");
    if (in_flight_ > 0) {
        throw RuntimeError("File.close() on \"" + path_ +
                           "\" while another operation on it is in progress");
    }
    // A pending cancellation ends the call here, with the File still open: past this
    // point the descriptor is taken and must reach close(2).
    detail::require_current_task("File.close()").throw_if_cancel_pending();
    // Taken from the File first: a second close() finds it closed, and the backend forgets
    // the number before close(2) frees it for reuse.
    const int fd = std::exchange(fd_, -1);
    detail::running_backend().forget_fd(fd);
    const long result = co_await file_operation(detail::IoOpcode::close, fd, nullptr, 0, 0, 0);
    if (result < 0) detail::throw_os_error(static_cast<int>(-result), "close \"" + path_ + "\"");
}

// ---- opening and paths ----

Task<File> open_file(std::string path) {
    File file = co_await open_file(std::move(path), FileMode::read, OpenOptions());
    co_return file;
}

Task<File> open_file(std::string path, FileMode mode) {
    File file = co_await open_file(std::move(path), mode, OpenOptions());
    co_return file;
}

Task<File> open_file(std::string path, std::string mode) {
    const FileMode parsed = parse_mode(path, mode);
    File file = co_await open_file(std::move(path), parsed, OpenOptions());
    co_return file;
}

Task<File> open_file(std::string path, std::string mode, OpenOptions options) {
    const FileMode parsed = parse_mode(path, mode);
    File file = co_await open_file(std::move(path), parsed, options);
    co_return file;
}

Task<File> open_file(std::string path, FileMode mode, OpenOptions options) {
    require_path(path, "open_file()");
    if (options.permissions > 07777) {
        throw std::invalid_argument("open_file(\"" + path + "\"): permissions " +
                                    std::to_string(options.permissions) + " above 07777");
    }
    int flags = open_flags(path, mode);
    if (!options.follow_symlinks) flags |= O_NOFOLLOW;
    const bool append = has(mode, FileMode::append);
    detail::LoopCore& loop = detail::require_running_loop();
    const long result = co_await file_operation(detail::IoOpcode::openat, -1, path.data(),
                                                options.permissions, 0, flags);
    if (result < 0) {
        detail::throw_os_error(static_cast<int>(-result),
                               "open \"" + path + "\" (" + describe(mode) + ")");
    }
    // Owned at once: a cancellation delivered by the next await closes it.
    File file(static_cast<int>(result), std::move(path), 0, append, &loop);
    if (append) file.position_ = co_await file.size();  // where the first write will land
    co_return file;
}

Task<> rename_file(std::string from, std::string to) {
    require_path(from, "rename_file()");
    require_path(to, "rename_file()");
    PathCall call{from.c_str(), to.c_str()};
    const long result = co_await detail::BlockingCall(&rename_on_thread, &call);
    if (result < 0) {
        detail::throw_os_error(static_cast<int>(-result),
                               "rename \"" + from + "\" to \"" + to + "\"");
    }
}

Task<> remove_file(std::string path) {
    require_path(path, "remove_file()");
    PathCall call{path.c_str(), nullptr};
    const long result = co_await detail::BlockingCall(&unlink_on_thread, &call);
    if (result < 0) detail::throw_os_error(static_cast<int>(-result), "remove \"" + path + "\"");
}

}  // namespace asyncio
