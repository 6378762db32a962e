// The first program of Python's asyncio.run() documentation, line for line:
//
//   import asyncio
//
//   async def main():
//       print('Welcome to ...')
//       await asyncio.sleep(3)
//       print('... Sling Academy!')
//
//   asyncio.run(main())

#include <asyncio/asyncio.hpp>
#include <iostream>

using namespace std::chrono_literals;

asyncio::Task<> main_task() {
    std::cout << "Welcome to ...\n" << std::flush;
    co_await asyncio::sleep(3s);
    std::cout << "... Sling Academy!\n";
}

int main() { asyncio::run(main_task()); }
