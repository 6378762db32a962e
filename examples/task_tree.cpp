// What a hung asyncio program is waiting for, as Python 3.14's `python -m asyncio pstree`
// shows it. The "server" below never finishes: its workers wait for jobs from a queue
// whose producer is stuck behind a lock that another task holds forever.
//
// Default: after one second the program prints its own task tree, then cancels everything.
// With --hang it runs in debug mode and never ends; send `kill -USR1 <pid>` to get the
// same tree on stderr from the live process.

#include <asyncio/asyncio.hpp>
#include <unistd.h>

#include <cstring>
#include <iostream>

using namespace std::chrono_literals;

asyncio::Task<> hold_forever(asyncio::Lock& lock) {
    auto guard = co_await lock.acquire();
    co_await asyncio::sleep(24h);  // the bug: the lock is never released
}

asyncio::Task<> produce(asyncio::Lock& lock, asyncio::Queue<int>& jobs) {
    auto guard = co_await lock.acquire();  // stuck here
    co_await jobs.put(1);
}

asyncio::Task<> handle_job(asyncio::Queue<int>& jobs) {
    const int job = co_await jobs.get();  // stuck here: no job ever comes
    std::cout << "job " << job << "\n";
}

asyncio::Task<> worker(asyncio::Queue<int>& jobs) { co_await handle_job(jobs); }

asyncio::Task<> serve(bool hang) {
    asyncio::Lock lock;
    asyncio::Queue<int> jobs(16);
    auto holder = asyncio::create_task(hold_forever(lock), "lock-holder");
    auto producer = asyncio::create_task(produce(lock, jobs), "producer");
    auto workers = asyncio::create_task(
        [](asyncio::Queue<int>& queue) -> asyncio::Task<> {
            co_await asyncio::task_group([&](asyncio::TaskGroup& tg) -> asyncio::Task<> {
                tg.create_task(worker(queue), "worker-1");
                tg.create_task(worker(queue), "worker-2");
                co_return;
            });
        }(jobs),
        "workers");
    if (hang) {
        std::cerr << "hung on purpose; try: kill -USR1 " << ::getpid() << "\n";
        co_await asyncio::gather(holder, producer, workers);
    }
    co_await asyncio::sleep(1s);
    asyncio::print_call_graph(std::cout);
    for (auto& task : {holder.promise(), producer.promise(), workers.promise()}) {
        asyncio::TaskHandle<>(task).cancel();
    }
    co_await asyncio::gather(asyncio::return_exceptions, holder, producer, workers);
}

int main(int argc, char** argv) {
    const bool hang = argc > 1 && std::strcmp(argv[1], "--hang") == 0;
    try {
        asyncio::run(serve(hang), {.debug = hang});
    } catch (const asyncio::KeyboardInterrupt&) {
        return 130;  // Ctrl-C, as a shell reports SIGINT
    }
}
