#pragma once

#include <cstdint>
#include <vector>

#include "asyncio/detail/loop_core.hpp"

namespace asyncio::detail {

/// The loop's timers, ordered by (deadline, sequence), in two structures:
///
/// - An intrusive list for timers armed in deadline order: a timer whose deadline is not
///   earlier than the last one in the list is appended to it, in O(1) and with no memory
///   outside the node. Timers of one duration armed one after another (a million
///   `sleep(1s)`, a timeout per request) are always in deadline order, since the clock
///   never goes back: this is Node's list per duration, with one list for the common case.
///   Firing takes them from the front, in the order they were armed.
/// - A 4-ary min-heap for the others. Entries keep the deadline beside the node pointer,
///   so sifting touches only the array; a 4-ary heap is half as deep as a binary one.
///
/// The next timer is the earlier of the list's front and the heap's top. Each node records
/// its position (heap index, or in_order_list), so cancellation removes it at once, O(1)
/// from the list and O(log n) from the heap, instead of leaving a tombstone (CPython's
/// lazy removal keeps cancelled timers' memory until they expire).
class TimerHeap {
public:
    bool empty() const noexcept { return entries_.empty() && list_head_ == nullptr; }
    std::size_t size() const noexcept { return entries_.size() + list_size_; }
    TimerNode& top() const noexcept {
        if (list_head_ == nullptr) return *entries_.front().node;
        if (entries_.empty()) return *list_head_;
        TimerNode& heap_top = *entries_.front().node;
        return earlier(heap_top, *list_head_) ? heap_top : *list_head_;
    }
    TimePoint next_deadline() const noexcept { return top().deadline; }

    void push(TimerNode& node) {
        node.sequence = ++sequence_;
        if (list_tail_ == nullptr || node.deadline >= list_tail_->deadline) {
            node.heap_index = TimerNode::in_order_list;
            node.in_order.prev = list_tail_;
            node.in_order.next = nullptr;
            (list_tail_ != nullptr ? list_tail_->in_order.next : list_head_) = &node;
            list_tail_ = &node;
            ++list_size_;
            return;
        }
        push_to_heap(node);
    }

    void remove(TimerNode& node) noexcept {
        if (node.heap_index == TimerNode::in_order_list) {
            (node.in_order.prev != nullptr ? node.in_order.prev->in_order.next : list_head_) =
                node.in_order.next;
            (node.in_order.next != nullptr ? node.in_order.next->in_order.prev : list_tail_) =
                node.in_order.prev;
            node.in_order.prev = node.in_order.next = nullptr;
            node.heap_index = TimerNode::not_scheduled;
            --list_size_;
            return;
        }
        const std::size_t index = node.heap_index;
        node.heap_index = TimerNode::not_scheduled;
        const std::size_t last = entries_.size() - 1;
        if (index != last) {
            entries_[index] = entries_[last];
            entries_.pop_back();
            entries_[index].node->heap_index = static_cast<std::uint32_t>(index);
            if (index > 0 && less(entries_[index], entries_[parent(index)])) {
                sift_up(index);
            } else {
                sift_down(index);
            }
        } else {
            entries_.pop_back();
        }
    }

    TimerNode& pop() noexcept {
        TimerNode& node = top();
        remove(node);
        return node;
    }

    /// Tests: the sequence number the next push takes, to cross the 32-bit wrap.
    void restart_sequence_at(std::uint32_t next) noexcept { sequence_ = next - 1; }

    /// Unschedules every node without firing it (loop close).
    void clear() noexcept {
        for (auto& entry : entries_) entry.node->heap_index = TimerNode::not_scheduled;
        entries_.clear();
        while (list_head_ != nullptr) remove(*list_head_);
    }

private:
    struct Entry {
        std::int64_t deadline;
        TimerNode* node;
    };
    static constexpr std::size_t arity = 4;

    static bool earlier(const TimerNode& a, const TimerNode& b) noexcept {
        if (a.deadline != b.deadline) return a.deadline < b.deadline;
        return scheduled_before(a.sequence, b.sequence);
    }
    // Serial-number order of the 32-bit sequences (see TimerNode::sequence).
    static bool scheduled_before(std::uint32_t a, std::uint32_t b) noexcept {
        return static_cast<std::int32_t>(a - b) < 0;
    }
    static std::size_t parent(std::size_t index) noexcept { return (index - 1) / arity; }
    static bool less(const Entry& a, const Entry& b) noexcept {
        if (a.deadline != b.deadline) return a.deadline < b.deadline;
        return scheduled_before(a.node->sequence, b.node->sequence);
    }
    // Out of line, so that the common case above stays small enough to be inlined.
    [[gnu::noinline]] void push_to_heap(TimerNode& node) {
        entries_.push_back(Entry{node.deadline.time_since_epoch().count(), &node});
        sift_up(entries_.size() - 1);
    }
    void place(std::size_t index, const Entry& entry) noexcept {
        entries_[index] = entry;
        entry.node->heap_index = static_cast<std::uint32_t>(index);
    }
    void sift_up(std::size_t index) noexcept {
        const Entry moving = entries_[index];
        while (index > 0) {
            const std::size_t up = parent(index);
            if (!less(moving, entries_[up])) break;
            place(index, entries_[up]);
            index = up;
        }
        place(index, moving);
    }
    void sift_down(std::size_t index) noexcept {
        const Entry moving = entries_[index];
        const std::size_t count = entries_.size();
        for (;;) {
            const std::size_t first = index * arity + 1;
            if (first >= count) break;
            std::size_t best = first;
            const std::size_t end = first + arity < count ? first + arity : count;
            for (std::size_t child = first + 1; child < end; ++child) {
                if (less(entries_[child], entries_[best])) best = child;
            }
            if (!less(entries_[best], moving)) break;
            place(index, entries_[best]);
            index = best;
        }
        place(index, moving);
    }

    std::vector<Entry> entries_;
    TimerNode* list_head_ = nullptr;
    TimerNode* list_tail_ = nullptr;
    std::size_t list_size_ = 0;
    std::uint32_t sequence_ = 0;
};

}  // namespace asyncio::detail
