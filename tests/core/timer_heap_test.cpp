// The loop's timer structure (src/loop/timer_heap.hpp) on its own: order by deadline, then
// by scheduling order, across the in-order list and the heap, and across the wrap of the
// 32-bit sequence numbers that break ties.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "loop/timer_heap.hpp"

namespace {

using asyncio::Duration;
using asyncio::TimePoint;
using asyncio::detail::TimerHeap;
using asyncio::detail::TimerNode;

struct NamedTimer : TimerNode {
    NamedTimer(std::string timer_name, long seconds) : name(std::move(timer_name)) {
        deadline = TimePoint(std::chrono::seconds(seconds));
    }
    std::string name;
};

std::vector<std::string> pop_all(TimerHeap& timers) {
    std::vector<std::string> order;
    while (!timers.empty()) order.push_back(static_cast<NamedTimer&>(timers.pop()).name);
    return order;
}

}  // namespace

TEST(TimerHeap, EqualDeadlinesKeepSchedulingOrderAcrossTheSequenceWrap) {
    TimerHeap timers;
    timers.restart_sequence_at(UINT32_MAX - 2);
    NamedTimer tail("tail", 10);  // in-order list, sequence 2^32 - 3
    NamedTimer a("a", 5);         // earlier than the list's tail: heap, 2^32 - 2
    NamedTimer b("b", 5);         // heap, 2^32 - 1
    NamedTimer c("c", 5);         // heap, 0 after the wrap
    NamedTimer d("d", 5);         // heap, 1
    for (NamedTimer* timer : {&tail, &a, &b, &c, &d}) timers.push(*timer);
    EXPECT_EQ(c.sequence, 0u);
    EXPECT_EQ(pop_all(timers), (std::vector<std::string>{"a", "b", "c", "d", "tail"}));
}

TEST(TimerHeap, ListAndHeapTiesCompareAcrossTheSequenceWrap) {
    // The next timer is the earlier of the list's front and the heap's top: with equal
    // deadlines, the one scheduled first, even when its sequence number is the larger.
    TimerHeap timers;
    timers.restart_sequence_at(UINT32_MAX - 1);
    NamedTimer first("first", 5);   // list, 2^32 - 2
    NamedTimer last("last", 10);    // list, 2^32 - 1
    NamedTimer second("second", 5);  // heap, 0
    NamedTimer third("third", 5);    // heap, 1
    for (NamedTimer* timer : {&first, &last, &second, &third}) timers.push(*timer);
    EXPECT_EQ(pop_all(timers), (std::vector<std::string>{"first", "second", "third", "last"}));
}

TEST(TimerHeap, RemovingFromTheListAndTheHeapKeepsTheRestInOrder) {
    TimerHeap timers;
    NamedTimer l1("l1", 1), l2("l2", 2), l3("l3", 3), h1("h1", 1), h2("h2", 2), h3("h3", 0);
    for (NamedTimer* timer : {&l1, &l2, &l3, &h1, &h2, &h3}) timers.push(*timer);
    timers.remove(l2);
    timers.remove(h1);
    EXPECT_FALSE(l2.scheduled());
    EXPECT_FALSE(h1.scheduled());
    EXPECT_EQ(timers.size(), 4u);
    EXPECT_EQ(pop_all(timers), (std::vector<std::string>{"h3", "l1", "h2", "l3"}));
}
