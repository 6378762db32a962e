#include <asyncio/graph.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <csignal>
#include <sstream>
#include <string>

#include "backend/backend.hpp"
#include "loop/io_awaitable.hpp"
#include "support/asyncio_test.hpp"

using namespace std::chrono_literals;

namespace {

asyncio::Task<> leaf_sleeper(asyncio::Duration delay) { co_await asyncio::sleep(delay); }

asyncio::Task<> middle_layer(asyncio::Duration delay) { co_await leaf_sleeper(delay); }

asyncio::Task<> gatherer() {
    auto a = asyncio::create_task(middle_layer(5s), "worker-a");
    auto b = asyncio::create_task(leaf_sleeper(7s), "worker-b");
    co_await asyncio::gather(a, b);
}

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

}  // namespace

ASYNCIO_TEST(Graph, SleepingTaskShowsDeadlineAndCallStackInnermostFirst) {
    auto task = asyncio::create_task(middle_layer(5s), "sleepy");
    co_await asyncio::sleep(1s);
    const asyncio::TaskInfo info = asyncio::describe_task(task);
    EXPECT_EQ(info.name, "sleepy");
    EXPECT_EQ(info.state, "waiting");
    EXPECT_EQ(info.awaiting, "sleep, due in 4.000s");
    CO_ASSERT_EQ(info.call_stack.size(), 2u);
    EXPECT_TRUE(contains(info.call_stack[0].function, "leaf_sleeper"));
    EXPECT_TRUE(contains(info.call_stack[1].function, "middle_layer"));
    EXPECT_TRUE(contains(info.call_stack[0].file, "graph_test.cpp"));
    task.cancel();
    co_await asyncio::gather(asyncio::return_exceptions, task);
}

ASYNCIO_TEST(Graph, StatesOfRunningScheduledAndFinishedTasks) {
    EXPECT_EQ(asyncio::describe_task(asyncio::current_task()).state, "running");
    auto quick = asyncio::create_task(leaf_sleeper(0s));
    EXPECT_EQ(asyncio::describe_task(quick).state, "scheduled");
    co_await quick;
    EXPECT_EQ(asyncio::describe_task(quick).state, "finished");
    EXPECT_TRUE(asyncio::describe_task(quick).call_stack.empty());
}

ASYNCIO_TEST(Graph, CallGraphIsATreeFromTheMainTaskDown) {
    auto top = asyncio::create_task(gatherer(), "top");
    co_await asyncio::sleep(1s);
    const std::string graph = asyncio::format_call_graph();
    // The test's own task is a root; 'top' is another root with its two children below it.
    const auto top_at = graph.find("Task 'top' waiting: gather/wait of 2 (2 pending)");
    const auto a_at = graph.find("Task 'worker-a' waiting: sleep, due in 4.000s");
    const auto b_at = graph.find("Task 'worker-b' waiting: sleep, due in 6.000s");
    EXPECT_NE(top_at, std::string::npos) << graph;
    EXPECT_NE(a_at, std::string::npos) << graph;
    EXPECT_NE(b_at, std::string::npos) << graph;
    EXPECT_LT(top_at, a_at) << graph;
    EXPECT_LT(a_at, b_at) << graph;
    EXPECT_TRUE(contains(graph, "at middle_layer")) << graph;
    EXPECT_TRUE(contains(graph, "at gatherer")) << graph;
    // Children are indented below their parent.
    const auto line_start = graph.rfind('\n', a_at) + 1;
    EXPECT_GT(a_at - line_start, 4u) << graph;
    top.cancel();
    co_await asyncio::gather(asyncio::return_exceptions, top);
}

ASYNCIO_TEST(Graph, TaskGroupChildrenHangBelowTheGroupsTask) {
    auto body = [](asyncio::TaskGroup& tg) -> asyncio::Task<> {
        tg.create_task(leaf_sleeper(3s), "child-1");
        tg.create_task(leaf_sleeper(3s), "child-2");
        co_return;
    };
    auto group_owner = [](decltype(body) b) -> asyncio::Task<> {
        co_await asyncio::task_group(b);
    };
    auto owner = asyncio::create_task(group_owner(body), "owner");
    co_await asyncio::sleep(1s);
    const std::string graph = asyncio::format_call_graph();
    EXPECT_TRUE(contains(graph, "Task 'owner' waiting: TaskGroup of 2 tasks")) << graph;
    EXPECT_LT(graph.find("'owner'"), graph.find("'child-1'")) << graph;
    co_await owner;
}

ASYNCIO_TEST(Graph, IoWaitNamesTheDescriptor) {
    int fds[2];
    CO_ASSERT_EQ(::pipe2(fds, O_NONBLOCK | O_CLOEXEC), 0);
    auto reader = asyncio::create_task([](int fd) -> asyncio::Task<long> {
        char byte;
        co_return co_await asyncio::detail::IoAwaitable::read(fd, &byte, 1);
    }(fds[0]));
    co_await asyncio::sleep(0s);
    EXPECT_EQ(asyncio::describe_task(reader).awaiting, "I/O on fd " + std::to_string(fds[0]));
    EXPECT_EQ(::write(fds[1], "x", 1), 1);
    EXPECT_EQ(co_await reader, 1);
    ::close(fds[0]);
    ::close(fds[1]);
}

ASYNCIO_TEST_WITH(Graph, DebugModeDumpsTheTreeOnSigusr1,
                  (asyncio::testing::TestOptions{.debug = true, .real_clock = true})) {
    asyncio::testing::LogCapture log;
    auto hung = asyncio::create_task(leaf_sleeper(1h), "hung-worker");
    co_await asyncio::sleep(0s);
    ::raise(SIGUSR1);
    for (int i = 0; i < 100 && !log.contains("task tree"); ++i) co_await asyncio::sleep(1ms);
    EXPECT_TRUE(log.contains("task tree (SIGUSR1)")) << log.joined();
    EXPECT_TRUE(log.contains("Task 'hung-worker' waiting: sleep, due in")) << log.joined();
    hung.cancel();
    co_await asyncio::gather(asyncio::return_exceptions, hung);
}
