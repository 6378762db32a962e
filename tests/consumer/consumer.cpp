#include <asyncio/asyncio.hpp>
#include <iostream>
asyncio::Task<int> answer() { co_await asyncio::sleep(std::chrono::milliseconds(1)); co_return 42; }
int main() { int v = asyncio::run(answer()); std::cout << "consumer got " << v << "\n"; return v == 42 ? 0 : 1; }
