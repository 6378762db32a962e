// Reads a file from start to end in fixed-size chunks through asyncio::File and prints the
// throughput: the figure bench/file/file_read_vs_dd.sh sets beside `dd bs=64K`.
//
// usage: file_read_bench PATH [chunk_bytes=65536] [in_flight=1]
// With in_flight > 1, that many tasks each read the next unread chunk with read_at(), so
// the kernel (io_uring) or the thread pool (epoll) has several reads at once.
// The last field of the output line is MB/s (10^6 bytes per second).

#include <asyncio/asyncio.hpp>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace {

struct Progress {
    std::uint64_t next = 0;  // offset of the next chunk to read
    std::uint64_t size = 0;
    std::uint64_t bytes = 0;
};

asyncio::Task<> reader(asyncio::File& file, Progress& progress, std::size_t chunk) {
    std::vector<std::byte> buffer(chunk);
    while (progress.next < progress.size) {
        const std::uint64_t offset = progress.next;
        progress.next += chunk;
        const std::size_t got = co_await file.read_at(std::span<std::byte>(buffer), offset);
        progress.bytes += got;
    }
}

asyncio::Task<std::uint64_t> read_file(std::string path, std::size_t chunk,
                                       std::size_t in_flight) {
    asyncio::File file = co_await asyncio::open_file(path);
    std::uint64_t total = 0;
    if (in_flight <= 1) {
        // The plain loop a program would write: read() at the position until the end.
        std::vector<std::byte> buffer(chunk);
        for (;;) {
            const std::size_t got = co_await file.read(std::span<std::byte>(buffer));
            if (got == 0) break;
            total += got;
        }
    } else {
        Progress progress;
        progress.size = co_await file.size();
        std::vector<asyncio::TaskHandle<>> readers;
        for (std::size_t i = 0; i < in_flight; ++i) {
            readers.push_back(asyncio::create_task(reader(file, progress, chunk)));
        }
        for (auto& task : readers) co_await task;
        total = progress.bytes;
    }
    co_await file.close();
    co_return total;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s PATH [chunk_bytes=65536] [in_flight=1]\n", argv[0]);
        return 2;
    }
    const std::string path = argv[1];
    const std::size_t chunk = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 65536;
    const std::size_t in_flight = argc > 3 ? std::strtoull(argv[3], nullptr, 10) : 1;
    if (chunk == 0 || in_flight == 0) {
        std::fprintf(stderr, "chunk_bytes and in_flight must be positive\n");
        return 2;
    }
    std::string backend;
    const auto start = std::chrono::steady_clock::now();
    const std::uint64_t bytes = asyncio::run([&]() -> asyncio::Task<std::uint64_t> {
        backend = asyncio::get_running_loop().backend_name();
        std::uint64_t total = co_await read_file(path, chunk, in_flight);
        co_return total;
    }());
    const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
    std::printf("asyncio-cpp %s chunk=%zu in_flight=%zu: %llu bytes in %.3f s = %.0f\n",
                backend.c_str(), chunk, in_flight, static_cast<unsigned long long>(bytes),
                elapsed.count(), static_cast<double>(bytes) / elapsed.count() / 1e6);
    return 0;
}
