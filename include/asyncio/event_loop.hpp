#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "asyncio/clock.hpp"
#include "asyncio/detail/future_state.hpp"
#include "asyncio/detail/loop_core.hpp"
#include "asyncio/future.hpp"
#include "asyncio/task.hpp"

namespace asyncio {

class EventLoop;
class Socket;
class SocketAddress;
struct AcceptedSocket;
struct AddressHints;
struct AddressInfo;
struct NameInfo;

namespace detail {
/// A unit of work for the default thread pool (move-only callables allowed).
class ExecutorJob {
public:
    virtual ~ExecutorJob() = default;
    virtual void run() = 0;
};

template <class F>
std::unique_ptr<ExecutorJob> make_job(F fn) {
    struct Job final : ExecutorJob {
        explicit Job(F f) : fn(std::move(f)) {}
        void run() override { fn(); }
        F fn;
    };
    return std::make_unique<Job>(std::move(fn));
}
}  // namespace detail

/// A callback scheduled with call_soon or call_soon_threadsafe; lets it be cancelled.
class Handle {
public:
    Handle() noexcept = default;
    Handle(const Handle& other) noexcept : callback_(other.callback_) {
        if (callback_ != nullptr) callback_->add_ref();
    }
    Handle(Handle&& other) noexcept : callback_(std::exchange(other.callback_, nullptr)) {}
    Handle& operator=(Handle other) noexcept {
        std::swap(callback_, other.callback_);
        return *this;
    }
    ~Handle() {
        if (callback_ != nullptr) callback_->release();
    }

    /// Prevents the callback from running, if it has not run yet.
    /// Thread safety: may be called from any thread.
    void cancel() const noexcept;
    bool cancelled() const noexcept { return callback_ != nullptr && callback_->is_cancelled(); }
    explicit operator bool() const noexcept { return callback_ != nullptr; }

    /// Takes over one reference (internal).
    explicit Handle(detail::CallbackBase* adopted) noexcept : callback_(adopted) {}

protected:
    detail::CallbackBase* callback_ = nullptr;
};

/// A callback scheduled with call_later or call_at.
///
/// Thread safety: cancel() of a timer must happen on the loop's thread (it removes the
/// timer from the loop's heap at once, so cancelled timers cost no memory).
class TimerHandle : public Handle {
public:
    TimerHandle() noexcept = default;
    /// When the callback is due, in loop time.
    TimePoint when() const noexcept;
    void cancel() const noexcept;

    explicit TimerHandle(detail::CallbackBase* adopted) noexcept : Handle(adopted) {}
};

/// What the loop reports to its exception handler: an exception nobody else could
/// receive (a failing callback, a task exception never retrieved, ...).
struct ExceptionContext {
    std::string message;           // what happened, e.g. "Task exception was never retrieved"
    std::exception_ptr exception;  // may be null
    std::string task;              // the task concerned, described, or empty
};

using ExceptionHandler = std::function<void(EventLoop&, const ExceptionContext&)>;

/// How a loop is set up. Designated initializers read well:
/// `asyncio::run(main(), {.debug = true})`.
struct LoopOptions {
    /// Debug mode (also switched on by the environment variable ASYNCIO_DEBUG=1): slow
    /// steps, never-awaited and still-pending tasks are logged; loop methods called from
    /// another thread throw.
    bool debug = false;
    /// Loop time source; a SteadyClock when null. Tests pass a ManualClock.
    std::shared_ptr<Clock> clock{};
    /// In debug mode, a step longer than this is logged.
    Duration slow_callback_duration = std::chrono::milliseconds(100);
    /// The I/O backend: "epoll" or "io_uring" forces one; empty lets the environment
    /// variable ASYNCIO_BACKEND decide, else io_uring where the kernel allows it and epoll
    /// otherwise (in debug mode, falling back is logged). backend_name() tells which.
    /// Throws (from the constructor): RuntimeError when the one forced is unknown or
    /// unavailable, naming the reason.
    std::string_view backend{};
};

/// The event loop: runs tasks and callbacks, timers, and waits for I/O on one thread.
///
/// Each iteration runs exactly the callbacks and task steps that were ready when it
/// started; whatever they schedule runs in the next iteration (as CPython does). A loop
/// belongs to the thread that runs it: only call_soon_threadsafe, Handle::cancel and
/// stop() may be used from other threads.
class EventLoop : public detail::LoopCore {
public:
    explicit EventLoop(LoopOptions options = {});
    ~EventLoop();
    EventLoop(const EventLoop&) = delete;
    EventLoop& operator=(const EventLoop&) = delete;

    // ---- running and stopping ----

    /// Runs `task` to completion and returns its result or rethrows its exception.
    /// Throws: RuntimeError if the loop is running, closed, or stopped before the task was done.
    template <class T>
    T run_until_complete(Task<T> task) {
        return run_until_complete(create_task(std::move(task)));
    }
    template <class T>
    T run_until_complete(TaskHandle<T> task) {
        run_until_done(*task.promise());
        if constexpr (std::is_void_v<T>) {
            task.result();
        } else {
            return std::move(task.result());
        }
    }
    /// Runs until stop() is called.
    void run_forever();
    /// Makes run_forever() return after the current iteration. Thread-safe.
    void stop() noexcept;
    bool is_running() const noexcept;
    bool is_closed() const noexcept;
    /// Closes the loop: drops pending callbacks, logs and frees tasks still pending, shuts
    /// the default executor down and releases the backend. Idempotent.
    /// Throws: RuntimeError if the loop is running.
    void close();
    /// Waits for every thread-pool job to finish and joins the pool's threads.
    void shutdown_default_executor();

    // ---- time and callbacks ----

    /// Current loop time (monotonic).
    TimePoint time() const noexcept { return now(); }

    /// Runs `callback()` in the next iteration, after the callbacks already queued.
    template <class F>
    Handle call_soon(F callback, detail::CreationSite site = detail::CreationSite::current()) {
        check_thread("call_soon()");
        check_open("call_soon()");
        auto* item = new detail::CallbackImpl<std::decay_t<F>>(std::move(callback));
        item->site_ = site;
        item->add_ref();  // one for the queue, one for the handle
        schedule(*item);
        return Handle(item);
    }
    /// Runs `callback()` once `delay` of loop time has passed.
    template <class F>
    TimerHandle call_later(Duration delay, F callback,
                           detail::CreationSite site = detail::CreationSite::current()) {
        return call_at(now() + delay, std::move(callback), site);
    }
    /// Runs `callback()` at loop time `when` (soon, if that is in the past). Callbacks due at
    /// the same time run in the order they were scheduled.
    template <class F>
    TimerHandle call_at(TimePoint when, F callback,
                        detail::CreationSite site = detail::CreationSite::current()) {
        check_thread("call_at()");
        check_open("call_at()");
        auto* item = new detail::TimerCallbackImpl<std::decay_t<F>>(*this, std::move(callback));
        item->site_ = site;
        return schedule_timer(when, item);
    }
    /// Like call_soon, from any thread; wakes the loop if it is waiting.
    /// Throws: RuntimeError if the loop is closed.
    template <class F>
    Handle call_soon_threadsafe(F callback,
                                detail::CreationSite site = detail::CreationSite::current()) {
        auto* item = make_callback(std::move(callback), site);
        Handle handle(item);  // adopts the creation reference
        item->add_ref();      // the queue's, taken over by post_threadsafe
        post_threadsafe(item);
        return handle;
    }

    // ---- tasks ----

    /// Schedules `task` on this loop (see asyncio::create_task).
    template <class T>
    TaskHandle<T> create_task(Task<T> task, std::string name = {},
                              detail::CreationSite site = detail::CreationSite::current()) {
        check_thread("create_task()");
        check_open("create_task()");
        return detail::schedule_task(*this, std::move(task), std::move(name), site);
    }

    // ---- threads ----

    /// Runs `fn()` on the default thread pool (at most min(32, cores + 4) threads) and
    /// gives a Future of its result. Cancelling the future does not stop `fn`; its result
    /// is then dropped.
    template <class F>
    auto run_in_executor(F fn) -> Future<std::invoke_result_t<F&>>;

    // ---- file descriptors and signals ----

    /// Calls `callback()` on the loop whenever `fd` is readable, until remove_reader(fd).
    /// Replaces a previous reader of `fd`.
    void add_reader(int fd, std::function<void()> callback);
    /// Returns true if `fd` had a reader.
    bool remove_reader(int fd);
    void add_writer(int fd, std::function<void()> callback);
    bool remove_writer(int fd);

    /// Runs `callback()` on the loop when signal `signum` arrives (not inside the signal
    /// handler). Replaces a previous handler of this loop for the signal.
    /// Throws: std::invalid_argument for SIGKILL, SIGSTOP or an out-of-range number;
    /// RuntimeError if another loop already handles `signum`.
    void add_signal_handler(int signum, std::function<void()> callback);
    /// Restores the default disposition; returns false if no handler was set.
    bool remove_signal_handler(int signum);

    // ---- sockets and names (Python's loop.sock_* and loop.getaddrinfo) ----
    //
    // The same operations as the free functions of <asyncio/net/socket.hpp> and
    // <asyncio/net/dns.hpp>, for code ported from `loop.sock_recv(...)`; include those
    // headers to call them. Throws: RuntimeError when this loop is not the running one.

    Task<> sock_connect(Socket& socket, SocketAddress address);
    Task<AcceptedSocket> sock_accept(Socket& listener);
    Task<std::string> sock_recv(Socket& socket, std::size_t max_bytes);
    Task<std::size_t> sock_recv_into(Socket& socket, std::span<char> buffer);
    Task<> sock_sendall(Socket& socket, std::string_view data);
    Task<std::size_t> sock_sendfile(Socket& socket, int file_fd, std::uint64_t offset,
                                    std::optional<std::size_t> count);
    Task<std::vector<AddressInfo>> getaddrinfo(std::string host, std::string service,
                                               AddressHints hints);
    Task<NameInfo> getnameinfo(SocketAddress address, int flags);

    // ---- errors and debugging ----

    void set_exception_handler(ExceptionHandler handler);
    const ExceptionHandler& get_exception_handler() const noexcept;
    /// Reports to the installed handler, or to default_exception_handler.
    void call_exception_handler(const ExceptionContext& context) noexcept;
    /// Logs the context at error level through the log sink.
    void default_exception_handler(const ExceptionContext& context) noexcept;

    bool get_debug() const noexcept { return debug(); }
    void set_debug(bool enabled) noexcept { debug_ = enabled; }
    Duration slow_callback_duration() const noexcept;
    void set_slow_callback_duration(Duration duration) noexcept;

    /// "epoll" or "io_uring".
    const char* backend_name() const noexcept;

    /// Internal: backend and loop state.
    struct Impl;
    Impl& impl() noexcept { return *impl_; }

    /// Internal: runs until `state` is done.
    void run_until_done(detail::FutureStateBase& state);

private:
    template <class F>
    detail::CallbackBase* make_callback(F callback, detail::CreationSite site) {
        auto* item = new detail::CallbackImpl<std::decay_t<F>>(std::move(callback));
        item->site_ = site;
        return item;
    }
    TimerHandle schedule_timer(TimePoint when, detail::TimerCallbackBase* callback);
    void post_threadsafe(detail::CallbackBase* callback);
    void submit_to_executor(std::unique_ptr<detail::ExecutorJob> job);

    std::unique_ptr<Impl> impl_;
};

/// The loop running in this thread.
/// Throws: RuntimeError("no running event loop") when there is none.
EventLoop& get_running_loop();

template <class F>
auto EventLoop::run_in_executor(F fn) -> Future<std::invoke_result_t<F&>> {
    using R = std::invoke_result_t<F&>;
    check_thread("run_in_executor()");
    Future<R> future(*this);
    begin_external_work();
    // The future's reference count is not atomic: the job only carries its reference
    // (moves do not touch the count) and hands it back to the loop thread, where it is
    // dropped.
    submit_to_executor(detail::make_job([this, fn = std::move(fn), carried = future]() mutable {
        std::exception_ptr error;
        std::optional<std::conditional_t<std::is_void_v<R>, std::monostate, R>> value;
        try {
            if constexpr (std::is_void_v<R>) {
                fn();
                value.emplace();
            } else {
                value.emplace(fn());
            }
        } catch (...) {
            error = std::current_exception();
        }
        post_threadsafe(make_callback(
            [this, f = std::move(carried), value = std::move(value),
             error = std::move(error)]() mutable {
                end_external_work();
                if (f.done()) return;  // cancelled meanwhile: the result is dropped
                if (error) {
                    f.set_exception(error);
                } else if constexpr (std::is_void_v<R>) {
                    f.set_result();
                } else {
                    f.set_result(std::move(*value));
                }
            },
            detail::CreationSite::current()));
    }));
    return future;
}

}  // namespace asyncio
