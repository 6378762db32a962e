// Two child processes joined through this program: `seq 1 100000` writes numbers, we keep
// the multiples of 7 and feed them to `sort -rn | head -n 5`, whose output we read at the
// same time. Both children run concurrently; the pipes' flow control (drain) keeps memory
// bounded however fast seq is.
//
//   import asyncio
//   from asyncio.subprocess import PIPE
//
//   async def pump(source, sink):
//       kept, partial = 0, b""
//       while chunk := await source.read(65536):
//           *lines, partial = (partial + chunk).split(b"\n")
//           chosen = [line for line in lines if int(line) % 7 == 0]
//           sink.write(b"".join(line + b"\n" for line in chosen))
//           await sink.drain()               # waits while sort is behind
//           kept += len(chosen)
//       sink.close()                         # sort reads EOF and prints its result
//       return kept
//
//   async def main():
//       seq = await asyncio.create_subprocess_exec("seq", "1", "100000", stdout=PIPE)
//       top = await asyncio.create_subprocess_shell("sort -rn | head -n 5",
//                                                   stdin=PIPE, stdout=PIPE)
//       kept, largest = await asyncio.gather(pump(seq.stdout, top.stdin), top.stdout.read())
//       print(f"{kept} of 100000 numbers are multiples of 7")
//       print("the five largest:", " ".join(largest.decode().split()))
//       print(f"exit codes: seq {await seq.wait()}, sort | head {await top.wait()}")
//
//   asyncio.run(main())

#include <cstddef>
#include <iostream>
#include <sstream>
#include <string>

#include <asyncio/asyncio.hpp>

// Chunks rather than one readline() per number: 100,000 reads that finish at once would
// each keep a frame on the stack in a GCC Debug build (see the README's C++ pitfalls).
asyncio::Task<int> pump(asyncio::StreamReader& source, asyncio::StreamWriter& sink) {
    int kept = 0;
    std::string partial;
    for (;;) {
        const std::string chunk = co_await source.read(64 * 1024);
        if (chunk.empty()) break;  // EOF
        partial += chunk;
        std::string chosen;
        std::size_t start = 0;
        for (std::size_t end; (end = partial.find('\n', start)) != std::string::npos;
             start = end + 1) {
            const std::string line = partial.substr(start, end + 1 - start);
            if (std::stol(line) % 7 == 0) {
                chosen += line;
                ++kept;
            }
        }
        partial.erase(0, start);
        sink.write(chosen);
        co_await sink.drain();  // waits while sort is behind
    }
    sink.close();  // sort reads EOF and prints its result
    co_return kept;
}

asyncio::Task<> main_task() {
    asyncio::ProcessOptions numbers_options;
    numbers_options.stdout_mode = asyncio::Redirect::pipe;
    auto numbers = co_await asyncio::create_subprocess_exec("seq", "1", "100000", numbers_options);

    asyncio::ProcessOptions top_options;
    top_options.stdin_mode = asyncio::Redirect::pipe;
    top_options.stdout_mode = asyncio::Redirect::pipe;
    auto top = co_await asyncio::create_subprocess_shell("sort -rn | head -n 5", top_options);

    auto [kept, largest] = co_await asyncio::gather(
        pump(*numbers.stdout_reader(), *top.stdin_writer()), top.stdout_reader()->read());

    std::cout << kept << " of 100000 numbers are multiples of 7\n";
    std::cout << "the five largest:";
    std::istringstream words(largest);
    for (std::string word; words >> word;) std::cout << ' ' << word;
    std::cout << '\n';
    const int numbers_code = co_await numbers.wait();
    const int top_code = co_await top.wait();
    std::cout << "exit codes: seq " << numbers_code << ", sort | head " << top_code << '\n';
}

int main() { asyncio::run(main_task()); }
