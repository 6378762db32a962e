// Files through asyncio::File, on whichever backend ASYNCIO_BACKEND picks (the suite runs
// once per backend). Every test works in a fresh directory under the temporary directory.

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend/backend.hpp"
#include "backend/fault/fault_injection.hpp"
#include "loop/io_awaitable.hpp"
#include "support/asyncio_test.hpp"
#include <asyncio/file.hpp>

using namespace asyncio;
using namespace std::chrono_literals;

namespace {

class TempDir {
public:
    TempDir() {
        std::string pattern =
            (std::filesystem::temp_directory_path() / "asyncio-file-XXXXXX").string();
        if (::mkdtemp(pattern.data()) == nullptr) {
            throw std::runtime_error("mkdtemp failed");
        }
        path_ = pattern;
    }
    ~TempDir() {
        std::error_code ignored;
        std::filesystem::remove_all(path_, ignored);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    std::string operator/(const std::string& name) const { return (path_ / name).string(); }

private:
    std::filesystem::path path_;
};

std::string contents_of(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void put(const std::string& path, const std::string& data) {
    std::ofstream(path, std::ios::binary) << data;
}

// Bytes of every value, NULs included, in a pattern that does not repeat at chunk sizes.
std::string pattern_bytes(std::size_t size) {
    std::string data(size, '\0');
    std::uint32_t state = 12345;
    for (char& c : data) {
        state = state * 1103515245u + 12345u;
        c = static_cast<char>(state >> 24);
    }
    return data;
}

bool backend_does_file_io() { return detail::make_backend()->supports_file_io(); }

}  // namespace

// ---- reading and writing ----

ASYNCIO_TEST(File, WrittenBytesReadBackExactly) {
    TempDir dir;
    // More than one read chunk, an odd size, and every byte value.
    const std::string data = pattern_bytes((3u << 20) + 123);
    File out = co_await open_file(dir / "data.bin", "w");
    co_await out.write(data);
    EXPECT_EQ(out.tell(), data.size());
    co_await out.close();
    EXPECT_FALSE(out.is_open());
    CO_ASSERT_TRUE(contents_of(dir / "data.bin") == data);

    File in = co_await open_file(dir / "data.bin");
    EXPECT_EQ(co_await in.size(), data.size());
    const std::string back = co_await in.read();
    CO_ASSERT_EQ(back.size(), data.size());
    EXPECT_TRUE(back == data);
    EXPECT_EQ(in.tell(), data.size());
    EXPECT_EQ(co_await in.read(), "");  // at the end
    co_await in.close();
}

ASYNCIO_TEST(File, ReadOfAGivenSizeStopsThereAndAdvancesThePosition) {
    TempDir dir;
    put(dir / "f", "hello, world");
    File file = co_await open_file(dir / "f");
    EXPECT_EQ(co_await file.read(5), "hello");
    EXPECT_EQ(file.tell(), 5u);
    EXPECT_EQ(co_await file.read(100), ", world");
    EXPECT_EQ(co_await file.read(10), "");
    file.seek(7);
    EXPECT_EQ(co_await file.read(3), "wor");
    EXPECT_EQ(co_await file.read(0), "");
    EXPECT_EQ(file.tell(), 10u);
}

ASYNCIO_TEST(File, ReadAtAndWriteAtLeaveThePositionAlone) {
    TempDir dir;
    File file = co_await open_file(dir / "f", "w+");
    co_await file.write("0123456789");
    file.seek(2);
    co_await file.write_at("ab", 4);
    char buffer[6] = {};
    EXPECT_EQ(co_await file.read_at(buffer, 3), 6u);
    EXPECT_EQ(std::string(buffer, 6), "3ab678");
    EXPECT_EQ(co_await file.read_at(buffer, 10), 0u);  // at the end
    EXPECT_EQ(file.tell(), 2u);
    EXPECT_EQ(co_await file.read(), "23ab6789");
}

ASYNCIO_TEST(File, WritesAtOffsetsFromManyTasksAllLand) {
    TempDir dir;
    File file = co_await open_file(dir / "f", "w");
    constexpr std::size_t block = 4096;
    constexpr std::size_t blocks = 32;
    std::vector<std::string> parts;
    for (std::size_t i = 0; i < blocks; ++i) parts.emplace_back(block, static_cast<char>('A' + i));
    std::vector<TaskHandle<>> writers;
    // Last block first: the file grows out of order and leaves no hole behind.
    for (std::size_t i = blocks; i-- > 0;) {
        writers.push_back(create_task(file.write_at(parts[i], i * block)));
    }
    for (auto& writer : writers) co_await writer;
    co_await file.close();
    std::string expected;
    for (const auto& part : parts) expected += part;
    EXPECT_TRUE(contents_of(dir / "f") == expected);
}

ASYNCIO_TEST(File, SeekPastTheEndThenWriteLeavesZeros) {
    TempDir dir;
    File file = co_await open_file(dir / "f", "w+");
    file.seek(5);
    co_await file.write("x");
    EXPECT_EQ(co_await file.size(), 6u);
    EXPECT_EQ(co_await file.read_at(std::span<char>(), 0), 0u);
    co_await file.close();
    EXPECT_EQ(contents_of(dir / "f"), std::string(5, '\0') + "x");
}

ASYNCIO_TEST(File, TruncateShrinksAndExtendsAndKeepsThePosition) {
    TempDir dir;
    File file = co_await open_file(dir / "f", "w+");
    co_await file.write("abcdefgh");
    co_await file.truncate(3);
    EXPECT_EQ(co_await file.size(), 3u);
    co_await file.truncate(5);
    EXPECT_EQ(file.tell(), 8u);
    file.seek(0);
    EXPECT_EQ(co_await file.read(), std::string("abc\0\0", 5));
}

ASYNCIO_TEST(File, SyncsSucceedOnAWrittenFile) {
    TempDir dir;
    File file = co_await open_file(dir / "f", "w");
    co_await file.write("durable");
    co_await file.fdatasync();
    co_await file.fsync();
    co_await file.close();
    EXPECT_EQ(contents_of(dir / "f"), "durable");
}

// ---- modes ----

ASYNCIO_TEST(File, WriteModeEmptiesAnExistingFile) {
    TempDir dir;
    put(dir / "f", "old contents");
    File file = co_await open_file(dir / "f", "wb");
    co_await file.write("new");
    co_await file.close();
    EXPECT_EQ(contents_of(dir / "f"), "new");
}

ASYNCIO_TEST(File, AppendModeStartsAtTheEndAndAddsThere) {
    TempDir dir;
    put(dir / "log", "one\n");
    File file = co_await open_file(dir / "log", "a");
    EXPECT_EQ(file.tell(), 4u);
    co_await file.write("two\n");
    co_await file.write_at("three\n", 0);  // O_APPEND wins over the offset, as in pwrite(2)
    EXPECT_EQ(file.tell(), 8u);
    co_await file.close();
    EXPECT_EQ(contents_of(dir / "log"), "one\ntwo\nthree\n");
}

ASYNCIO_TEST(File, ReadPlusModeReadsAndWritesWithoutEmptying) {
    TempDir dir;
    put(dir / "f", "abcdef");
    File file = co_await open_file(dir / "f", "r+b");
    EXPECT_EQ(co_await file.read(2), "ab");
    co_await file.write("XY");
    file.seek(0);
    EXPECT_EQ(co_await file.read(), "abXYef");
}

ASYNCIO_TEST(File, ExclusiveModeCreatesAndThenRefusesWithFileExistsError) {
    TempDir dir;
    File file = co_await open_file(dir / "new", "x");
    co_await file.close();
    struct stat status {};
    CO_ASSERT_EQ(::stat((dir / "new").c_str(), &status), 0);
    std::string message;
    try {
        co_await open_file(dir / "new", "x");
    } catch (const FileExistsError& error) {
        EXPECT_EQ(error.code(), EEXIST);
        message = error.what();
    }
    EXPECT_NE(message.find(dir / "new"), std::string::npos) << message;
    EXPECT_NE(message.find("(write|exclusive)"), std::string::npos) << message;
}

ASYNCIO_TEST(File, CreatedFilesGetThePermissionsAskedForUnderTheUmask) {
    TempDir dir;
    const mode_t previous = ::umask(022);
    File file = co_await open_file(dir / "private", "w", OpenOptions{.permissions = 0640});
    ::umask(previous);
    co_await file.close();
    struct stat status {};
    CO_ASSERT_EQ(::stat((dir / "private").c_str(), &status), 0);
    EXPECT_EQ(status.st_mode & 0777, 0640u);
}

ASYNCIO_TEST(File, InvalidModesAreInvalidArgumentsNamingTheMode) {
    TempDir dir;
    put(dir / "f", "x");
    for (const char* mode : {"", "rw", "rt", "t", "r++", "q", "rbb", "U", "w+a"}) {
        std::string message;
        try {
            co_await open_file(dir / "f", mode);
        } catch (const std::invalid_argument& error) {
            message = error.what();
        }
        EXPECT_NE(message.find(std::string("invalid mode \"") + mode + "\""), std::string::npos)
            << "mode \"" << mode << "\": " << message;
    }
    EXPECT_EQ(contents_of(dir / "f"), "x");  // nothing was opened for writing
}

ASYNCIO_TEST(File, PathsWithANulByteAreInvalidArguments) {
    TempDir dir;
    const std::string path = dir / "a" + std::string(1, '\0') + "b";
    EXPECT_THROW(co_await open_file(path, "w"), std::invalid_argument);
    EXPECT_THROW(co_await remove_file(path), std::invalid_argument);
    EXPECT_THROW(co_await rename_file(path, dir / "c"), std::invalid_argument);
    EXPECT_THROW(co_await open_file(dir / "f", "w", OpenOptions{.permissions = 010000}),
                 std::invalid_argument);
}

ASYNCIO_TEST(File, NotFollowingSymlinksRefusesALinkWithEloop) {
    TempDir dir;
    put(dir / "target", "secret");
    CO_ASSERT_EQ(::symlink((dir / "target").c_str(), (dir / "link").c_str()), 0);
    int code = 0;
    try {
        co_await open_file(dir / "link", "w", OpenOptions{.follow_symlinks = false});
    } catch (const OSError& error) {
        code = error.code();
    }
    EXPECT_EQ(code, ELOOP);
    EXPECT_EQ(contents_of(dir / "target"), "secret");  // not emptied
    File followed = co_await open_file(dir / "link");  // the default follows
    EXPECT_EQ(co_await followed.read(), "secret");
}

ASYNCIO_TEST(File, TypedModesOpenAsTheirPythonStringsDo) {
    TempDir dir;
    File created = co_await open_file(dir / "f", FileMode::write | FileMode::exclusive);
    co_await created.write("abc");
    co_await created.close();
    File appending = co_await open_file(dir / "f", FileMode::append);  // no create needed
    co_await appending.write("def");
    co_await appending.close();
    File both = co_await open_file(dir / "f", FileMode::read | FileMode::write);
    EXPECT_EQ(co_await both.read(), "abcdef");
    co_await both.write_at("X", 0);
    co_await both.close();
    File emptied = co_await open_file(dir / "f", FileMode::write | FileMode::truncate);
    EXPECT_EQ(co_await emptied.size(), 0u);
    EXPECT_THROW(co_await open_file(dir / "missing", FileMode::write), FileNotFoundError);
}

ASYNCIO_TEST(File, ModesThatCannotWorkAreInvalidArgumentsNamingTheFlags) {
    TempDir dir;
    std::string message;
    try {
        co_await open_file(dir / "f", FileMode::create);
    } catch (const std::invalid_argument& error) {
        message = error.what();
    }
    EXPECT_NE(message.find("mode create neither reads nor writes"), std::string::npos) << message;
    EXPECT_THROW(co_await open_file(dir / "f", FileMode::read | FileMode::truncate),
                 std::invalid_argument);
    EXPECT_THROW(co_await open_file(dir / "f", static_cast<FileMode>(64)), std::invalid_argument);
    EXPECT_FALSE(std::filesystem::exists(dir / "f"));
}

ASYNCIO_TEST(File, ReadIntoABufferAdvancesThePositionByWhatItGot) {
    TempDir dir;
    put(dir / "f", "0123456789");
    File file = co_await open_file(dir / "f");
    std::byte buffer[4];
    EXPECT_EQ(co_await file.read(buffer), 4u);
    EXPECT_EQ(static_cast<char>(buffer[3]), '3');
    EXPECT_EQ(co_await file.read(buffer), 4u);
    EXPECT_EQ(co_await file.read(buffer), 2u);
    EXPECT_EQ(co_await file.read(buffer), 0u);
    EXPECT_EQ(file.tell(), 10u);
    const std::byte raw[] = {std::byte{'z'}, std::byte{0}};
    File out = co_await open_file(dir / "g", "w");
    co_await out.write(std::span<const std::byte>(raw));
    co_await out.write_at(std::span<const std::byte>(raw, 1), 3);
    co_await out.close();
    EXPECT_EQ(contents_of(dir / "g"), std::string("z\0\0z", 4));
}

ASYNCIO_TEST(File, ManyReadsAtOffsetsRunTogetherAndEachGetsItsBytes) {
    TempDir dir;
    const std::string data = pattern_bytes(1 << 20);
    put(dir / "f", data);
    File file = co_await open_file(dir / "f");
    constexpr std::size_t readers = 64;
    constexpr std::size_t piece = (1 << 20) / readers;
    std::vector<std::string> buffers(readers, std::string(piece, '\0'));
    std::vector<TaskHandle<std::size_t>> reads;
    for (std::size_t i = 0; i < readers; ++i) {
        reads.push_back(create_task(file.read_at(std::span<char>(buffers[i]), i * piece)));
    }
    for (std::size_t i = 0; i < readers; ++i) {
        EXPECT_EQ(co_await reads[i], piece);
        EXPECT_TRUE(buffers[i] == data.substr(i * piece, piece)) << "piece " << i;
    }
}

asyncio::Task<> count_steps_until(const bool& done, int& steps) {
    while (!done) {
        ++steps;
        co_await asyncio::sleep(0ms);
    }
}

ASYNCIO_TEST(File, ReadingALargeCachedFileLetsOtherTasksRun) {
    // On epoll a read of cached data completes on the loop thread (preadv2 RWF_NOWAIT);
    // it must still yield between chunks like a read through the ring or a thread does.
    TempDir dir;
    const std::string data = pattern_bytes(8u << 20);
    put(dir / "f", data);
    File file = co_await open_file(dir / "f");
    bool done = false;
    int steps = 0;
    auto counter = create_task(count_steps_until(done, steps));
    const std::string read = co_await file.read();
    done = true;
    co_await counter;
    EXPECT_TRUE(read == data);
    EXPECT_GT(steps, 1);
}

ASYNCIO_TEST(File, AFileOutOfThePageCacheReadsTheSameBytes) {
    // Evicted pages make the loop-thread attempt say EAGAIN on epoll: the thread pool reads.
    TempDir dir;
    const std::string data = pattern_bytes(2u << 20);
    put(dir / "f", data);
    File file = co_await open_file(dir / "f");
    CO_ASSERT_EQ(::fdatasync(file.fd()), 0);
    CO_ASSERT_EQ(::posix_fadvise(file.fd(), 0, 0, POSIX_FADV_DONTNEED), 0);
    const std::string read = co_await file.read();
    EXPECT_TRUE(read == data);
}

ASYNCIO_TEST(File, ACancelledReadPutsThePositionBack) {
    TempDir dir;
    const std::string data = pattern_bytes(4u << 20);
    put(dir / "f", data);
    File file = co_await open_file(dir / "f");
    EXPECT_EQ((co_await file.read(10)).size(), 10u);
    auto reading = create_task(file.read());
    co_await asyncio::sleep(0ms);  // its first chunk is being read
    reading.cancel();
    EXPECT_THROW(co_await reading, CancelledError);
    EXPECT_EQ(file.tell(), 10u);
    const std::string rest = co_await file.read();
    EXPECT_TRUE(rest == data.substr(10));
}

// ---- errors ----

ASYNCIO_TEST(File, AMissingFileIsFileNotFoundErrorNamingThePath) {
    TempDir dir;
    std::string message;
    try {
        co_await open_file(dir / "missing");
    } catch (const FileNotFoundError& error) {
        EXPECT_EQ(error.code(), ENOENT);
        message = error.what();
    }
    EXPECT_NE(message.find(dir / "missing"), std::string::npos) << message;
}

ASYNCIO_TEST(File, ADirectoryOpenedForWritingIsOSErrorEisdir) {
    TempDir dir;
    CO_ASSERT_EQ(::mkdir((dir / "sub").c_str(), 0700), 0);
    int code = 0;
    try {
        co_await open_file(dir / "sub", "w");
    } catch (const OSError& error) {
        code = error.code();
    }
    EXPECT_EQ(code, EISDIR);
}

ASYNCIO_TEST(File, ReadingAFileOpenedOnlyForWritingIsOSErrorEbadf) {
    TempDir dir;
    File file = co_await open_file(dir / "f", "w");
    int code = 0;
    std::string message;
    try {
        co_await file.read();
    } catch (const OSError& error) {
        code = error.code();
        message = error.what();
    }
    EXPECT_EQ(code, EBADF);
    EXPECT_NE(message.find("read from \"" + (dir / "f") + "\""), std::string::npos) << message;
    EXPECT_EQ(file.tell(), 0u);
    co_await file.write("ok");  // still usable for what it was opened for
    co_await file.close();
    EXPECT_EQ(contents_of(dir / "f"), "ok");
}

ASYNCIO_TEST(File, TruncatingAFileOpenedOnlyForReadingIsAnOSError) {
    TempDir dir;
    put(dir / "f", "abc");
    File file = co_await open_file(dir / "f");
    std::string message;
    try {
        co_await file.truncate(1);
    } catch (const OSError& error) {
        message = error.what();
    }
    EXPECT_NE(message.find("truncate \"" + (dir / "f") + "\" to 1"), std::string::npos) << message;
    EXPECT_EQ(contents_of(dir / "f"), "abc");
}

ASYNCIO_TEST(File, WritingToAFullDeviceIsOSErrorEnospc) {
    File full = co_await open_file("/dev/full", "r+");
    int code = 0;
    try {
        co_await full.write("no room");
    } catch (const OSError& error) {
        code = error.code();
    }
    EXPECT_EQ(code, ENOSPC);
    EXPECT_EQ(full.tell(), 0u);
}

ASYNCIO_TEST(File, OperationsOnAClosedFileAreRuntimeErrors) {
    TempDir dir;
    File file = co_await open_file(dir / "f", "w+");
    co_await file.close();
    co_await file.close();  // idempotent
    EXPECT_THROW(co_await file.read(), RuntimeError);
    EXPECT_THROW(co_await file.write("x"), RuntimeError);
    char buffer[1];
    EXPECT_THROW(co_await file.read_at(buffer, 0), RuntimeError);
    EXPECT_THROW(co_await file.fsync(), RuntimeError);
    EXPECT_THROW(co_await file.size(), RuntimeError);
    File never_opened;
    EXPECT_FALSE(never_opened.is_open());
    EXPECT_THROW(co_await never_opened.read(), RuntimeError);
}

ASYNCIO_TEST(File, ASecondPositionedOperationWhileOneRunsIsARuntimeError) {
    TempDir dir;
    put(dir / "f", pattern_bytes(1 << 20));
    File file = co_await open_file(dir / "f");
    auto reading = create_task(file.read());
    co_await asyncio::sleep(0ms);  // `reading` has started its first read and waits for it
    EXPECT_THROW(co_await file.read(1), RuntimeError);
    EXPECT_THROW(co_await file.write("x"), RuntimeError);
    EXPECT_THROW(file.seek(0), RuntimeError);
    EXPECT_THROW(co_await file.close(), RuntimeError);
    char buffer[4];
    EXPECT_EQ(co_await file.read_at(buffer, 0), 4u);  // offsets need no position
    EXPECT_EQ((co_await reading).size(), 1u << 20);
    co_await file.close();
}

ASYNCIO_TEST(File, RenameReplacesTheTargetAndRemoveDeletes) {
    TempDir dir;
    put(dir / "a", "first");
    put(dir / "b", "second");
    co_await rename_file(dir / "a", dir / "b");
    EXPECT_FALSE(std::filesystem::exists(dir / "a"));
    EXPECT_EQ(contents_of(dir / "b"), "first");
    co_await remove_file(dir / "b");
    EXPECT_FALSE(std::filesystem::exists(dir / "b"));
    std::string message;
    try {
        co_await remove_file(dir / "b");
    } catch (const FileNotFoundError& error) {
        message = error.what();
    }
    EXPECT_NE(message.find("remove \"" + (dir / "b") + "\""), std::string::npos) << message;
    try {
        message.clear();
        co_await rename_file(dir / "gone", dir / "b");
    } catch (const FileNotFoundError& error) {
        message = error.what();
    }
    EXPECT_NE(message.find("rename \"" + (dir / "gone") + "\" to \"" + (dir / "b") + "\""),
              std::string::npos)
        << message;
}

// ---- cancellation ----

ASYNCIO_TEST(File, ACancelledWriteLeavesThePositionAtTheBytesWritten) {
    TempDir dir;
    const std::string data = pattern_bytes(8u << 20);
    File file = co_await open_file(dir / "f", "w+");
    auto writing = create_task(file.write(data));
    co_await asyncio::sleep(0ms);  // the write is in flight
    writing.cancel();
    EXPECT_THROW(co_await writing, CancelledError);
    // Whether the kernel stopped it or finished it, what the File says matches the disk.
    const std::uint64_t written = file.tell();
    EXPECT_EQ(co_await file.size(), written);
    file.seek(0);
    const std::string back = co_await file.read();
    EXPECT_TRUE(back == data.substr(0, written));
}

ASYNCIO_TEST(File, ACancelledOpenLeavesNoDescriptorOpen_tokio7979) {
    // The LeakCheck of ASYNCIO_TEST fails the test if a descriptor stays open. The open
    // may have been stopped before it ran (io_uring) or have finished (a pool thread):
    // either way the task ends cancelled and owns nothing. 1,000 rounds, as RELIABILITY
    // row 12 asks: Tokio leaked the descriptor of a cancelled io_uring open.
    TempDir dir;
    for (int i = 0; i < 1000; ++i) {
        auto opening = create_task(open_file(dir / "f", "w"));
        co_await asyncio::sleep(0ms);  // open(2) is in flight
        opening.cancel();
        EXPECT_THROW(co_await std::move(opening), CancelledError);
        // Appending opens, then asks the size: a cancel may land between the two.
        auto appending = create_task(open_file(dir / "g", "a"));
        co_await asyncio::sleep(0ms);
        appending.cancel();
        EXPECT_THROW(co_await std::move(appending), CancelledError);
    }
}

ASYNCIO_TEST(File, CloseWithACancellationPendingKeepsTheFileOpenAndClosable) {
    // The LeakCheck of ASYNCIO_TEST fails the test if the descriptor is lost.
    TempDir dir;
    File file = co_await open_file(dir / "f", "w");
    auto& task = detail::require_current_task("test");
    task.defer_cancel();  // as a read that completed although cancelled leaves it
    EXPECT_THROW(co_await file.close(), CancelledError);
    EXPECT_TRUE(file.is_open());
    co_await file.close();
    EXPECT_FALSE(file.is_open());
}

ASYNCIO_TEST(File, CancellingTheTaskBeforeItReadsReadsNothing) {
    TempDir dir;
    put(dir / "f", "abc");
    File file = co_await open_file(dir / "f");
    auto reading = create_task(file.read());
    reading.cancel();  // before its first step
    EXPECT_THROW(co_await reading, CancelledError);
    EXPECT_EQ(file.tell(), 0u);
    EXPECT_EQ(co_await file.read(), "abc");
}

// ---- short transfers and injected errors (backends that do file I/O themselves) ----

namespace {

Task<> short_transfers_body() {
    TempDir dir;
    const std::string data = pattern_bytes(10'000);
    File file = co_await open_file(dir / "f", "w+");
    // Every pread/pwrite moves at most 7 bytes: write() must continue, read() assemble.
    auto faults = detail::inject_faults(
        get_running_loop(), {.opcode = std::nullopt, .first = 1, .every = 1, .max_bytes = 7});
    co_await file.write(data);
    co_await file.write_at("tail", data.size());
    file.seek(0);
    const std::string back = co_await file.read();
    CO_ASSERT_TRUE(back == data + "tail");
    CO_ASSERT_TRUE(*faults > 2 * data.size() / 7);
}

Task<> injected_eio_body() {
    TempDir dir;
    put(dir / "f", "abc");
    File file = co_await open_file(dir / "f", "r+");
    detail::inject_faults(get_running_loop(),
                          {.opcode = detail::IoOpcode::pread, .first = 1, .error = EIO});
    int code = 0;
    try {
        co_await file.read();
    } catch (const OSError& error) {
        code = error.code();
    }
    EXPECT_EQ(code, EIO);
    EXPECT_EQ(file.tell(), 0u);
    detail::inject_faults(get_running_loop(),
                          {.opcode = detail::IoOpcode::fsync, .first = 1, .error = EIO});
    EXPECT_THROW(co_await file.fsync(), OSError);
}

}  // namespace

TEST(File, ShortReadsAndWritesAreContinuedUntilDone) {
    if (!backend_does_file_io()) GTEST_SKIP() << "this backend runs file calls on threads";
    asyncio::testing::run_test(short_transfers_body());
}

TEST(File, AnInjectedEioIsAnOSErrorAndMovesNothing) {
    if (!backend_does_file_io()) GTEST_SKIP() << "this backend runs file calls on threads";
    asyncio::testing::run_test(injected_eio_body());
}

TEST(File, TheBackendSaysWhetherItDoesFileIo) {
    // io_uring runs pread/pwrite/fsync on the ring; epoll cannot wait for files at all.
    EXPECT_FALSE(detail::make_backend("epoll")->supports_file_io());
    if (!detail::uring_compiled_in()) GTEST_SKIP() << "built without io_uring";
    std::unique_ptr<detail::Backend> uring;
    try {
        uring = detail::make_backend("io_uring");
    } catch (const RuntimeError& error) {
        GTEST_SKIP() << "io_uring unavailable here: " << error.what();
    }
    EXPECT_TRUE(uring->supports_file_io());
}
