#pragma once

#include <algorithm>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <type_traits>
#include <utility>
#include <vector>

#include "asyncio/detail/awaitable_traits.hpp"
#include "asyncio/detail/loop_core.hpp"
#include "asyncio/detail/wait_queue.hpp"
#include "asyncio/errors.hpp"
#include "asyncio/task.hpp"

namespace asyncio {

namespace detail {

/// What put(), get() and join() return: a Task<T>, so create_task(), TaskGroup, gather(),
/// wait_for() and timeout() accept it, whose `co_await` starts the operation with a plain
/// call rather than by symmetric transfer. An operation that needs no wait then returns
/// like a function call, so a loop of a million put() calls on an unbounded queue uses
/// no more stack than one, even where symmetric transfer is not a tail call (GCC below
/// -O2 or with a sanitizer). An operation that waits suspends the awaiting coroutine and
/// transfers back to it when done, as a Task does.
template <class T>
class [[nodiscard]] QueueOperation : public Task<T> {
public:
    explicit QueueOperation(Task<T>&& task) noexcept : Task<T>(std::move(task)) {}

    auto operator co_await() & { return Awaiter(this->release()); }
    auto operator co_await() && { return Awaiter(this->release()); }

private:
    using Frame = std::coroutine_handle<TaskPromise<T>>;

    class Awaiter {
    public:
        explicit Awaiter(Frame frame) noexcept : frame_(frame) {}
        Awaiter(const Awaiter&) = delete;
        Awaiter& operator=(const Awaiter&) = delete;
        ~Awaiter() {
            if (frame_) frame_.destroy();
        }

        bool await_ready() {
            if (!frame_)
                throw InvalidStateError(
                    "co_await on a queue operation that was already awaited or scheduled");
            auto& promise = frame_.promise();
            promise.started_ = true;
            promise.enter_call_stack();
            frame_.resume();  // runs until done (continuation_ is null: it comes back here)
            return frame_.done();
        }
        void await_suspend(std::coroutine_handle<> awaiting) noexcept {
            // The operation waits in the current task; when done, its final suspend
            // transfers to the awaiting coroutine.
            frame_.promise().continuation_ = awaiting;
        }
        T await_resume() {
            if constexpr (std::is_void_v<T>) {
                frame_.promise().result_or_throw();
            } else {
                return std::move(frame_.promise().result_or_throw());
            }
        }

    private:
        Frame frame_;
    };
};

/// gather(), wait_for(), timeout() and shield() take a queue operation as the Task it is.
template <class T>
struct AwaitableTraits<QueueOperation<T>> : AwaitableTraits<Task<T>> {};

/// The part of Queue, LifoQueue and PriorityQueue that does not depend on the item type:
/// the three wait queues, the unfinished-task count, the shutdown flag and the loop binding.
class QueueCore {
public:
    enum class Kind : std::uint8_t { fifo, lifo, priority };
    enum class Op : std::uint8_t { put, put_nowait, get, get_nowait, task_done, join, shutdown };

    QueueCore(const QueueCore&) = delete;
    QueueCore& operator=(const QueueCore&) = delete;

    /// The maximum number of items given to the constructor; 0 or less means unbounded.
    std::ptrdiff_t maxsize() const noexcept { return maxsize_; }

    /// Marks one item taken with get() as processed, for join(): call it once per item
    /// after handling it (Python's `Queue.task_done()`).
    ///
    /// Throws: InvalidStateError("task_done() called too many times") when called more
    /// often than items were put (Python raises ValueError).
    void task_done();

    /// Waits until every item ever put has been marked with task_done(); returns at once
    /// when none is unfinished. shutdown(true) counts the items it drops as done.
    ///
    /// Cancellation: throws CancelledError; the queue keeps no trace of the waiter.
    /// Example: `co_await queue.join();  // every item has been processed`
    QueueOperation<void> join() { return QueueOperation<void>(join_or_wait()); }

protected:
    QueueCore(Kind kind, std::ptrdiff_t maxsize) noexcept
        : maxsize_(maxsize),
          kind_(kind),
          getters_(AwaitKind::queue, this),
          putters_(AwaitKind::queue, this),
          joiners_(AwaitKind::queue, this) {}
    ~QueueCore() = default;

    /// Binds the queue to the running loop on first use; afterwards, use from another loop
    /// throws RuntimeError, and from another thread too in debug mode.
    void check_use(Op op) {
        if (running_loop != loop_) check_use_slow(op);
    }

    bool full_with(std::size_t size) const noexcept {
        return maxsize_ > 0 && size >= static_cast<std::size_t>(maxsize_);
    }
    /// An item was added: it is unfinished until task_done(), and a getter may take it.
    void item_added() noexcept {
        ++unfinished_;
        getters_.wake_one();
    }
    /// An item was taken: a putter may use the free slot.
    void item_taken() noexcept { putters_.wake_one(); }
    /// Sets the shutdown flag and wakes every getter and putter so they re-check;
    /// `dropped` items were discarded by an immediate shutdown and count as done.
    void begin_shutdown(bool immediate, std::size_t dropped) noexcept;

    [[noreturn]] void throw_full() const;
    [[noreturn]] void throw_empty() const;
    [[noreturn]] void throw_shut_down(Op op) const;

    std::ptrdiff_t maxsize_;
    std::size_t unfinished_ = 0;
    bool shut_down_ = false;
    Kind kind_;
    LoopCore* loop_ = nullptr;
    WaitQueue getters_;
    WaitQueue putters_;
    WaitQueue joiners_;

private:
    void check_use_slow(Op op);
    Task<> join_or_wait();
};

template <class T>
class FifoItems {
public:
    std::size_t size() const noexcept { return items_.size(); }
    void push(T&& item) { items_.push_back(std::move(item)); }
    T pop() {
        T item = std::move(items_.front());
        items_.pop_front();
        return item;
    }
    std::deque<T> take_all() {
        std::deque<T> all;
        all.swap(items_);
        return all;
    }

private:
    std::deque<T> items_;
};

template <class T>
class LifoItems {
public:
    std::size_t size() const noexcept { return items_.size(); }
    void push(T&& item) { items_.push_back(std::move(item)); }
    T pop() {
        T item = std::move(items_.back());
        items_.pop_back();
        return item;
    }
    std::vector<T> take_all() noexcept { return std::exchange(items_, {}); }

private:
    std::vector<T> items_;
};

/// A binary heap with the smallest item (by `Compare`) on top, as Python's heapq.
template <class T, class Compare>
class HeapItems {
public:
    explicit HeapItems(Compare compare) : compare_(std::move(compare)) {}
    std::size_t size() const noexcept { return items_.size(); }
    void push(T&& item) {
        items_.push_back(std::move(item));
        std::push_heap(items_.begin(), items_.end(), greater());
    }
    T pop() {
        std::pop_heap(items_.begin(), items_.end(), greater());
        T item = std::move(items_.back());
        items_.pop_back();
        return item;
    }
    std::vector<T> take_all() noexcept { return std::exchange(items_, {}); }

private:
    // std::push_heap keeps the largest item on top; inverting the order keeps the smallest.
    auto greater() {
        return [this](const T& a, const T& b) { return compare_(b, a); };
    }

    std::vector<T> items_;
    [[no_unique_address]] Compare compare_;
};

/// The operations every queue has; Queue, LifoQueue and PriorityQueue only choose the order
/// in which items come out (`Items`).
template <class T, class Items>
class BasicQueue : public QueueCore {
    static_assert(std::is_move_constructible_v<T>, "queue items must be movable");

public:
    using value_type = T;

    /// The number of items in the queue.
    std::size_t qsize() const noexcept { return items_.size(); }
    /// True when the queue holds no item.
    bool empty() const noexcept { return items_.size() == 0; }
    /// True when the queue holds maxsize() items (never for an unbounded queue).
    bool full() const noexcept { return full_with(items_.size()); }

    /// Puts `item` into the queue, first waiting while it is full (back-pressure). The
    /// item is moved into the operation when put() is called, and into the queue when
    /// there is room.
    ///
    /// Cancellation: throws CancelledError; the item is not put (it is destroyed). A
    /// putter cancelled after a slot was freed for it hands the slot to the next putter.
    /// Throws: QueueShutDown when the queue is shut down, also while waiting.
    /// Example: `co_await queue.put(std::move(job));`
    QueueOperation<void> put(T item) { return QueueOperation<void>(put_or_wait(std::move(item))); }

    /// Puts `item` into the queue without waiting.
    ///
    /// Throws: QueueFull when the queue is full; QueueShutDown after shutdown().
    void put_nowait(T item) {
        check_use(Op::put_nowait);
        add(std::move(item), Op::put_nowait);
    }

    /// Removes and returns the next item (moved out), first waiting while the queue is
    /// empty.
    ///
    /// Cancellation: throws CancelledError and takes no item: items stay in the queue
    /// until a getter actually resumes with one. A getter cancelled after an item was
    /// put for it wakes the next getter.
    /// Throws: QueueShutDown when the queue is shut down and empty (at once after
    /// shutdown(true)), also while waiting.
    /// Example: `auto job = co_await queue.get();`
    QueueOperation<T> get() { return QueueOperation<T>(get_or_wait()); }

    /// Removes and returns the next item without waiting.
    ///
    /// Throws: QueueEmpty when the queue is empty; QueueShutDown when it is empty and
    /// shut down.
    T get_nowait() {
        check_use(Op::get_nowait);
        if (empty()) {
            if (shut_down_) throw_shut_down(Op::get_nowait);
            throw_empty();
        }
        return take();
    }

    /// Shuts the queue down (Python 3.13): put() and put_nowait() throw QueueShutDown from
    /// now on, and so do waiting putters; get() keeps returning the remaining items and
    /// throws QueueShutDown once the queue is empty, waiting getters included. With
    /// `immediate`, the remaining items are discarded at once (and counted as done for
    /// join(), which they may release) and get() throws at once. Calling it again is
    /// harmless.
    void shutdown(bool immediate = false) {
        check_use(Op::shutdown);
        if (!immediate) {
            begin_shutdown(false, 0);
            return;
        }
        // The dropped items die after the queue is consistent: their destructors are
        // user code that may look at it.
        auto dropped = items_.take_all();
        begin_shutdown(true, dropped.size());
    }

protected:
    explicit BasicQueue(Kind kind, std::ptrdiff_t maxsize, Items items = Items())
        : QueueCore(kind, maxsize), items_(std::move(items)) {}
    ~BasicQueue() = default;

private:
    Task<> put_or_wait(T item);
    Task<T> get_or_wait();

    void add(T&& item, Op op) {
        if (shut_down_) throw_shut_down(op);
        if (full()) throw_full();
        items_.push(std::move(item));
        item_added();
    }
    T take() {
        T item = items_.pop();
        item_taken();
        return item;
    }

    Items items_;
};

template <class T, class Items>
Task<> BasicQueue<T, Items>::put_or_wait(T item) {
    check_use(Op::put);
    while (full()) {
        if (shut_down_) throw_shut_down(Op::put);
        WaitQueue::Waiter waiter(putters_);
        if (co_await waiter) {
            // A get() freed a slot and woke this putter, which was cancelled before it
            // could resume: the slot goes to the next putter (CPython's Queue.put();
            // bpo-27585 is the same bug in Lock).
            if (!full()) putters_.wake_one();
            waiter.throw_cancelled();
        }
    }
    add(std::move(item), Op::put);
}

template <class T, class Items>
Task<T> BasicQueue<T, Items>::get_or_wait() {
    check_use(Op::get);
    while (empty()) {
        if (shut_down_) throw_shut_down(Op::get);
        WaitQueue::Waiter waiter(getters_);
        if (co_await waiter) {
            // A put() woke this getter, which was cancelled before it could resume: the
            // item is still queued, so the next getter is woken to take it.
            if (!empty()) getters_.wake_one();
            waiter.throw_cancelled();
        }
    }
    co_return take();
}

}  // namespace detail

/// A first-in, first-out queue for passing items between tasks of one loop (Python's
/// asyncio.Queue, with 3.13's shutdown()). `maxsize` > 0 bounds it: put() then waits
/// while it is full, which slows producers down to the pace of consumers; 0 or less
/// means unbounded.
///
/// Items may be move-only (`Queue<std::unique_ptr<Job>>`): get() moves them out. Waiting
/// getters and putters are woken in the order they started waiting; as in Python, a task
/// that finds an item (or a free slot) does not wait, even if a woken task has not
/// resumed yet, and a woken task that then finds none waits again at the back.
///
/// Cancellation: a cancelled get() takes no item, a cancelled put() puts none, and a
/// wake-up meant for a task cancelled before it resumed goes to the next waiter, so no
/// item or slot is lost (as in CPython).
/// Thread safety: use it from the tasks of one loop; from another thread, go through
/// `loop.call_soon_threadsafe`. The queue binds to the loop running when it is first
/// used; use from another running loop throws RuntimeError, and in debug mode so does use
/// from another thread. Once that loop is destroyed, the next loop to use it takes over.
/// Destroying a queue while tasks wait on it leaves them waiting until they are cancelled.
/// Differences from Python: the loop check covers every operation (Python checks only when
/// a task has to wait); task_done() throws InvalidStateError where Python raises
/// ValueError.
/// Example:
/// ```
/// asyncio::Queue<std::string> queue(10);
/// co_await queue.put("job");            // waits while 10 items are queued
/// std::string job = co_await queue.get();
/// queue.task_done();
/// co_await queue.join();                // every item put has been marked done
/// ```
template <class T>
class Queue : public detail::BasicQueue<T, detail::FifoItems<T>> {
public:
    explicit Queue(std::ptrdiff_t maxsize = 0)
        : detail::BasicQueue<T, detail::FifoItems<T>>(detail::QueueCore::Kind::fifo, maxsize) {}
};

/// A last-in, first-out queue: get() returns the most recently put item (Python's
/// asyncio.LifoQueue). Everything else is as Queue.
/// Example: `asyncio::LifoQueue<int> stack; stack.put_nowait(1); stack.put_nowait(2);
/// stack.get_nowait();  // 2`
template <class T>
class LifoQueue : public detail::BasicQueue<T, detail::LifoItems<T>> {
public:
    explicit LifoQueue(std::ptrdiff_t maxsize = 0)
        : detail::BasicQueue<T, detail::LifoItems<T>>(detail::QueueCore::Kind::lifo, maxsize) {}
};

/// A queue whose get() returns the smallest item by `Compare` (Python's
/// asyncio.PriorityQueue, a heapq). Like heapq, items that compare equal come out in no
/// guaranteed order: put (priority, sequence number, item) tuples to keep them FIFO.
/// Everything else is as Queue.
/// Example:
/// ```
/// asyncio::PriorityQueue<std::pair<int, std::string>> jobs;
/// jobs.put_nowait({2, "later"});
/// jobs.put_nowait({1, "first"});
/// auto [priority, name] = co_await jobs.get();  // 1, "first"
/// asyncio::PriorityQueue<int, std::greater<int>> largest_first;
/// ```
template <class T, class Compare = std::less<T>>
class PriorityQueue : public detail::BasicQueue<T, detail::HeapItems<T, Compare>> {
public:
    explicit PriorityQueue(std::ptrdiff_t maxsize = 0, Compare compare = Compare())
        : detail::BasicQueue<T, detail::HeapItems<T, Compare>>(
              detail::QueueCore::Kind::priority, maxsize,
              detail::HeapItems<T, Compare>(std::move(compare))) {}
};

}  // namespace asyncio
