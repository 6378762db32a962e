// The second program of the asyncio.run() tutorial: two simulated downloads run
// concurrently, so both lines appear after about 3 seconds in total, not 6.
//
//   import asyncio
//
//   async def download_file(url):
//       print(f"Downloading {url}...")
//       await asyncio.sleep(3)
//       print(f"Finished downloading {url}")
//       return f"Content of {url}"
//
//   async def main():
//       task1 = asyncio.create_task(download_file("https://example.com/file1"))
//       task2 = asyncio.create_task(download_file("https://example.com/file2"))
//       results = await asyncio.gather(task1, task2)
//       print(results)
//
//   asyncio.run(main())

#include <asyncio/asyncio.hpp>
#include <iostream>
#include <string>

using namespace std::chrono_literals;

asyncio::Task<std::string> download_file(std::string url) {
    std::cout << "Downloading " << url << "...\n" << std::flush;
    co_await asyncio::sleep(3s);
    std::cout << "Finished downloading " << url << "\n" << std::flush;
    co_return "Content of " + url;
}

asyncio::Task<> main_task() {
    auto task1 = asyncio::create_task(download_file("https://example.com/file1"));
    auto task2 = asyncio::create_task(download_file("https://example.com/file2"));
    auto [first, second] = co_await asyncio::gather(task1, task2);
    std::cout << "['" << first << "', '" << second << "']\n";
}

int main() { asyncio::run(main_task()); }
