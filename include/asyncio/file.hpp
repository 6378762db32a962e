#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "asyncio/task.hpp"

namespace asyncio {

/// How open_file() opens a file: a set of flags combined with `|`.
///
/// Python's modes in these terms: "r" is `read`; "w" is `write | create | truncate`; "a"
/// is `append | create`; "x" is `write | exclusive`; "+" adds `read` or `write`.
enum class FileMode : unsigned {
    read = 1,        // reading
    write = 2,       // writing
    append = 4,      // every write goes to the end of the file (implies write)
    create = 8,      // create the file if missing
    truncate = 16,   // empty the file on opening (needs write or append)
    exclusive = 32,  // create the file, failing with FileExistsError if it exists
};

constexpr FileMode operator|(FileMode a, FileMode b) noexcept {
    return static_cast<FileMode>(static_cast<unsigned>(a) | static_cast<unsigned>(b));
}
constexpr FileMode operator&(FileMode a, FileMode b) noexcept {
    return static_cast<FileMode>(static_cast<unsigned>(a) & static_cast<unsigned>(b));
}
/// True when `mode` has every flag of `flags`.
constexpr bool has(FileMode mode, FileMode flags) noexcept { return (mode & flags) == flags; }

/// What open_file() does beyond the mode.
struct OpenOptions {
    /// Permission bits of a file the call creates, before the process umask applies.
    unsigned permissions = 0666;
    /// False: refuse a path whose last component is a symbolic link (O_NOFOLLOW), with
    /// OSError (ELOOP). For writing where someone else may plant links.
    bool follow_symlinks = true;
};

/// An open file, read and written as bytes without blocking the loop. Python's asyncio has
/// no files (programs use aiofiles or to_thread); this follows Python's binary file objects
/// (`open(path, "rb")`) with every call that touches the disk awaited.
///
/// On the io_uring backend open, reads, writes, syncs and close go through the ring; on
/// epoll, and for size() and truncate() on both, the system call runs on the loop's thread
/// pool (as to_thread() would), since a regular file is never "not ready" to epoll; a read
/// of data already in the page cache is done by the loop thread itself. Every operation is
/// a suspension point either way.
///
/// read() and write() use and advance the file's own position (tell(), seek()); read_at()
/// and write_at() take an offset and leave the position alone, so several tasks may use
/// them on one file at once. A File belongs to the loop it was opened on.
///
/// Cancellation: an operation the system has started is waited for (the kernel or a thread
/// may be using the buffer) and CancelledError comes after it. Bytes written stay written
/// and move the position; read(max_bytes) and read() put the position back; a file opened
/// by a cancelled open_file() is closed again.
/// Example:
/// ```
/// auto file = co_await asyncio::open_file("out.bin", asyncio::FileMode::write |
///                                          asyncio::FileMode::create);
/// co_await file.write(payload);
/// co_await file.close();
/// ```
class File {
public:
    File() noexcept = default;
    File(File&& other) noexcept;
    File& operator=(File&& other) noexcept;
    File(const File&) = delete;
    File& operator=(const File&) = delete;
    /// Closes the descriptor at once, dropping any error: call close() to see errors.
    ~File();

    bool is_open() const noexcept { return fd_ >= 0; }
    explicit operator bool() const noexcept { return is_open(); }
    /// The descriptor, or -1 when closed.
    int fd() const noexcept { return fd_; }
    /// The path it was opened with.
    const std::string& path() const noexcept { return path_; }

    /// The position read() and write() use. In append mode it starts at the end of the file
    /// and moves by what this File wrote; writes by others are not seen.
    std::uint64_t tell() const noexcept { return position_; }
    /// Moves the position (past the end is allowed: a write there leaves a hole of zeros).
    /// Throws: RuntimeError while a read() or write() of this File is in progress.
    void seek(std::uint64_t position);

    /// Reads up to `max_bytes` from the position and advances it. Fewer bytes only at the
    /// end of the file; empty at the end. When it throws (cancelled included), the position
    /// is back where it was: nothing is lost.
    /// Throws: OSError naming the file (EBADF when not opened for reading, EISDIR...);
    /// RuntimeError when closed, or while another read() or write() of this File runs.
    Task<std::string> read(std::size_t max_bytes);
    /// Reads from the position to the end of the file.
    Task<std::string> read();
    /// One read of up to `buffer.size()` bytes at the position, which it advances; returns
    /// how many (0 at the end). The buffer must stay alive until the task is done.
    Task<std::size_t> read(std::span<std::byte> buffer);
    /// One read of up to `buffer.size()` bytes at `offset` (Python's os.pread); returns how
    /// many (0 at the end). The buffer must stay alive until the task is done.
    /// Throws: OSError; RuntimeError when closed.
    Task<std::size_t> read_at(std::span<std::byte> buffer, std::uint64_t offset);
    Task<std::size_t> read_at(std::span<char> buffer, std::uint64_t offset);

    /// Writes all of `data` at the position (at the end in append mode) and advances it.
    /// `data` must stay alive until the task is done.
    /// Throws: OSError naming the file (ENOSPC, EBADF when not opened for writing...);
    /// RuntimeError when closed, or while another read() or write() of this File runs. After
    /// an error the position has moved by the bytes that were written.
    Task<> write(std::string_view data);
    Task<> write(std::span<const std::byte> data);
    /// Writes all of `data` at `offset` (at the end in append mode, as pwrite(2) does).
    /// Throws: OSError; RuntimeError when closed.
    Task<> write_at(std::string_view data, std::uint64_t offset);
    Task<> write_at(std::span<const std::byte> data, std::uint64_t offset);

    /// Waits until the data and metadata written so far are on the storage (fsync(2)).
    /// Throws: OSError; RuntimeError when closed.
    Task<> fsync();
    /// The same for the data and what is needed to read it back (fdatasync(2)).
    Task<> fdatasync();
    /// The file's current size in bytes (fstat(2)).
    /// Throws: OSError; RuntimeError when closed.
    Task<std::uint64_t> size();
    /// Cuts or extends the file to `length` bytes (ftruncate(2)); the position stays.
    /// Throws: OSError (EINVAL when not opened for writing); RuntimeError when closed.
    Task<> truncate(std::uint64_t length);

    /// Closes the file; idempotent.
    /// Throws: OSError from close(2) (EIO: written data may be lost; the descriptor is
    /// released anyway); RuntimeError while another operation on this File is in progress.
    Task<> close();

private:
    struct Busy;  // marks an operation in flight for its duration

    File(int fd, std::string path, std::uint64_t position, bool append,
         detail::LoopCore* loop) noexcept;
    void require_open(const char* what) const;
    Task<> read_chunks(std::string& data, std::size_t max_bytes);
    // Writes all of `data` at `offset`, continuing short writes; `advance`, when given,
    // moves with each chunk, so that a failure leaves it after the bytes that landed.
    Task<> write_all(std::string_view data, std::uint64_t offset, std::uint64_t* advance);
    void close_now() noexcept;

    int fd_ = -1;
    std::string path_;
    std::uint64_t position_ = 0;
    bool append_ = false;
    bool positioned_busy_ = false;  // a read() or write() is using position_
    std::size_t in_flight_ = 0;     // operations started and not finished
    detail::LoopCore* loop_ = nullptr;

    friend Task<File> open_file(std::string path, FileMode mode, OpenOptions options);
};

/// Opens `path` for reading, as Python's `open(path, "rb")`.
///
/// Throws: FileNotFoundError, PermissionError, or OSError (EISDIR, ELOOP...) naming the
/// path and the mode.
/// Cancellation: see File.
Task<File> open_file(std::string path);
/// Opens `path` as `mode` says. The descriptor is close-on-exec.
///
/// Throws: std::invalid_argument for a mode with neither read, write nor append, or with
/// truncate but no writing; for a path with a NUL byte; for permissions above 07777.
/// FileExistsError (exclusive); the OSErrors of the one-argument form.
/// Example: `co_await asyncio::open_file(path, FileMode::write | FileMode::exclusive)`
Task<File> open_file(std::string path, FileMode mode);
Task<File> open_file(std::string path, FileMode mode, OpenOptions options);
/// The same with a Python mode string: "r", "w", "a" or "x", optionally with "+"; "b" is
/// accepted and changes nothing (files are bytes only).
///
/// Throws: std::invalid_argument for any other string (text mode "t" included); the
/// errors of the FileMode form.
/// Example: `co_await asyncio::open_file("log.txt", "a")`
Task<File> open_file(std::string path, std::string mode);
Task<File> open_file(std::string path, std::string mode, OpenOptions options);

/// Renames `from` to `to`, replacing `to` if it exists (rename(2)): atomic on one file system.
/// Throws: FileNotFoundError, PermissionError or OSError naming both paths.
Task<> rename_file(std::string from, std::string to);
/// Deletes the file `path` (unlink(2)).
/// Throws: FileNotFoundError, PermissionError or OSError (EISDIR...) naming the path.
Task<> remove_file(std::string path);

}  // namespace asyncio
