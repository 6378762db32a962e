#pragma once

#include <cstddef>
#include <cstdint>
#include <exception>
#include <new>
#include <string>
#include <thread>

#include "asyncio/clock.hpp"

namespace asyncio {
class EventLoop;
}

namespace asyncio::detail {

class LoopCore;
class TaskPromiseBase;

/// Where a task or callback was created, for debug reports.
struct CreationSite {
    const char* file = nullptr;
    const char* function = nullptr;
    unsigned line = 0;

    static constexpr CreationSite current(const char* file = __builtin_FILE(),
                                          const char* function = __builtin_FUNCTION(),
                                          unsigned line = __builtin_LINE()) noexcept {
        return {file, function, line};
    }
};

/// An entry of the loop's ready queue: a task to step, a callback handle to run, or an
/// expired timer's step (see TimerNode::act_soon). The link lives in the entry itself, so
/// scheduling never allocates.
struct ReadyItem {
    enum class Kind : std::uint8_t { task, callback, timer };
    explicit ReadyItem(Kind kind) noexcept : ready_kind_(kind) {}

    ReadyItem* next_ready_ = nullptr;
    Kind ready_kind_;
};

/// A timer of the loop (see TimerHeap). The owner keeps the node alive while it is
/// scheduled; the node records where it is so that cancelling it is O(1) or O(log n).
///
/// 40 bytes, because a sleeping task carries one: the in-order links are dead once the
/// timer has fired, and act_soon() puts the ready-queue entry in their place.
struct TimerNode {
    static constexpr std::uint32_t not_scheduled = UINT32_MAX;
    static constexpr std::uint32_t in_order_list = UINT32_MAX - 1;

    struct InOrderLinks {
        TimerNode* prev = nullptr;
        TimerNode* next = nullptr;
    };

    TimerNode() noexcept {}  // the member initializers below; `in_order` is the union's active member

    TimePoint deadline{};
    // Called when the deadline passes (the node is no longer scheduled then), and again
    // from the ready queue after act_soon().
    void (*fire)(TimerNode&) noexcept = nullptr;
    union {
        InOrderLinks in_order{};  // while in the in-order list
        ReadyItem due;            // after act_soon(), until the loop runs it
    };
    // Ties on the deadline fire in scheduling order. 32 bits, compared as serial numbers
    // (RFC 1982): correct while the timers sharing one deadline span fewer than 2^31
    // schedulings.
    std::uint32_t sequence = 0;
    std::uint32_t heap_index = not_scheduled;  // a heap position, in_order_list or not_scheduled

    bool scheduled() const noexcept { return heap_index != not_scheduled; }

    /// From `fire`, when the deadline passed: runs `step` (set as the new `fire`) from the
    /// loop's ready queue, after the callbacks that are already due. Expired timers act
    /// through the ready queue rather than at once, as CPython's timer handles do: a task
    /// woken by its deadline resumes in the next iteration. The owner must stay alive until
    /// `step` ran; to call it off, it points `fire` at a function that does nothing.
    void act_soon(LoopCore& loop, void (*step)(TimerNode&) noexcept) noexcept;

    /// The node whose `due` entry this is.
    static TimerNode& from_due(ReadyItem& item) noexcept {
        return *reinterpret_cast<TimerNode*>(reinterpret_cast<char*>(&item) -
                                             offsetof(TimerNode, due));
    }
};

/// The part of the event loop that coroutine templates touch on their hot paths: the ready
/// queue, the current task, and the debug flag. Everything else is in EventLoop's
/// implementation file.
class LoopCore {
public:
    /// Appends `item` to the ready queue: it runs in the next loop iteration (this one if
    /// the current iteration has not yet reached the end of its batch, see run_once()).
    void schedule(ReadyItem& item) noexcept {
        item.next_ready_ = nullptr;
        if (ready_tail_ != nullptr) {
            ready_tail_->next_ready_ = &item;
        } else {
            ready_head_ = &item;
        }
        ready_tail_ = &item;
    }

    /// The task whose step is running now, or nullptr between steps.
    TaskPromiseBase* current_task() const noexcept { return current_task_; }
    bool debug() const noexcept { return debug_; }

    /// Reads the loop's clock.
    TimePoint now() const noexcept;
    void add_timer(TimerNode& node);
    void remove_timer(TimerNode& node) noexcept;

    /// In debug mode, throws RuntimeError when called from a thread other than the loop's
    /// (CPython's `_check_thread`).
    void check_thread(const char* operation) const {
        if (debug_ && std::this_thread::get_id() != owner_thread_) report_wrong_thread(operation);
    }

    /// Throws RuntimeError("Event loop is closed") after close().
    void check_open(const char* operation) const {
        if (closed_) report_closed(operation);
    }

    /// Work the loop cannot see in its queues (thread-pool jobs, I/O in flight): while it is
    /// non-zero, a ManualClock does not jump ahead.
    void begin_external_work() noexcept { ++external_work_; }
    void end_external_work() noexcept { --external_work_; }

    std::uint64_t next_task_id() noexcept { return ++task_counter_; }

    /// The registry behind all_tasks(): every scheduled task that is not done.
    void register_task(TaskPromiseBase& task) noexcept;
    void unregister_task(TaskPromiseBase& task) noexcept;
    TaskPromiseBase* first_task() const noexcept { return tasks_head_; }

    /// Reports through the loop's exception handler (defined with EventLoop).
    void report_error(std::string message, std::exception_ptr error,
                      std::string task) noexcept;

protected:
    LoopCore() = default;
    ~LoopCore() = default;
    [[noreturn]] void report_wrong_thread(const char* operation) const;
    [[noreturn]] void report_closed(const char* operation) const;

    ReadyItem* ready_head_ = nullptr;
    ReadyItem* ready_tail_ = nullptr;
    TaskPromiseBase* current_task_ = nullptr;
    const Clock* clock_ = nullptr;
    bool debug_ = false;
    bool closed_ = false;
    std::thread::id owner_thread_ = std::this_thread::get_id();
    std::size_t external_work_ = 0;
    std::uint64_t task_counter_ = 0;
    TaskPromiseBase* tasks_head_ = nullptr;
};

inline void TimerNode::act_soon(LoopCore& loop, void (*step)(TimerNode&) noexcept) noexcept {
    fire = step;
    ::new (static_cast<void*>(&due)) ReadyItem(ReadyItem::Kind::timer);
    loop.schedule(due);
}

/// The loop running in this thread, or nullptr.
extern constinit thread_local LoopCore* running_loop;

/// The running loop; throws RuntimeError("no running event loop") when there is none.
LoopCore& require_running_loop();

/// The task running now; throws RuntimeError when called outside a task.
TaskPromiseBase& require_current_task(const char* what);

}  // namespace asyncio::detail
