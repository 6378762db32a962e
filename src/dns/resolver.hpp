#pragma once

// The loop's DNS resolver: one c-ares channel per event loop, created by the first lookup
// (or configure_resolver) and destroyed by EventLoop::close() while the backend still
// exists. c-ares never blocks here: it says which of its sockets to watch (sock_state_cb),
// and the loop calls ares_process_fd when one is ready, through add_reader/add_writer, and
// when the earliest query deadline passes (ares_timeout), through a loop timer.
//
// Re-entrancy: a c-ares callback only stores the result and queues the waiting task
// (TaskPromiseBase::wake). No user code runs inside a c-ares call, so nothing can call
// ares_cancel() or ares_destroy() from inside a callback, which c-ares does not survive
// (CVE-2026-33630, a double free; RELIABILITY-NOTES row 15). `depth_` counts the c-ares
// calls in progress so that the rule is checked, not only hoped for.
//
// c-ares 1.18 cannot cancel a single query: ares_cancel() ends all of them. A cancelled
// lookup is detached instead: c-ares keeps its Lookup until the query ends and the
// callback only frees it. Once no task waits for any lookup, a sweep queued on the loop
// cancels the abandoned queries so that they stop retrying.

#include <coroutine>
#include <cstddef>
#include <exception>
#include <unordered_map>

#include <ares.h>

#include "asyncio/detail/task_promise.hpp"
#include "asyncio/event_loop.hpp"
#include "asyncio/net/dns.hpp"

namespace asyncio::detail {

class LookupAwaiter;
class Resolver;

/// One request handed to c-ares, which owns it from the call that starts the request to
/// its callback. That callback always comes: with the answer, an error, ARES_ECANCELLED
/// (sweep) or ARES_EDESTRUCTION (loop closed, resolver replaced).
struct Lookup {
    Resolver* resolver;
    LookupAwaiter* awaiter;  // null once the task stopped waiting
};

class Resolver {
public:
    /// Throws: std::invalid_argument for bad options, DnsError when c-ares fails.
    Resolver(EventLoop& loop, const ResolverOptions& options);
    /// Ends every lookup still in c-ares with ARES_EDESTRUCTION and closes its sockets.
    ~Resolver();
    Resolver(const Resolver&) = delete;
    Resolver& operator=(const Resolver&) = delete;

    /// Lookups a task still waits for.
    std::size_t attached() const noexcept { return attached_; }
    /// True while a c-ares function runs (callbacks included).
    bool inside_c_ares() const noexcept { return depth_ > 0; }

    /// Starts a lookup for `awaiter`: `call(channel, lookup)` calls c-ares with `lookup` as
    /// the callback's argument. The callback may run before `call` returns.
    template <class Call>
    void start(LookupAwaiter& awaiter, Call call);

    /// The last thing every c-ares callback does: wakes the waiting task, if any, and
    /// frees `lookup`.
    void finish(Lookup* lookup) noexcept;
    /// `awaiter` stops waiting for its lookup (cancelled, or its frame destroyed).
    void detach(LookupAwaiter& awaiter) noexcept;

private:
    struct Interest {
        bool read = false;
        bool write = false;
    };

    static void on_socket_state(void* self, ares_socket_t fd, int readable, int writable) noexcept;
    void watch(int fd, bool read, bool write);
    void process(ares_socket_t read_fd, ares_socket_t write_fd) noexcept;
    void update_timer() noexcept;
    void schedule_sweep() noexcept;
    void sweep() noexcept;

    EventLoop& loop_;
    ares_channel channel_ = nullptr;
    std::unordered_map<int, Interest> sockets_;
    TimerHandle timer_;  // ares_process_fd for the earliest query deadline
    Handle sweep_;       // a queued sweep()
    std::size_t attached_ = 0;
    std::size_t in_flight_ = 0;  // attached and abandoned lookups c-ares still holds
    int depth_ = 0;
    bool destroying_ = false;
};

/// The resolver of the running loop, created on first use.
/// Throws: RuntimeError without a running loop; DnsError when c-ares cannot start.
Resolver& running_resolver();

/// The suspension of a task on one lookup; lives in the awaiting coroutine's frame.
class LookupAwaiter {
public:
    explicit LookupAwaiter(Resolver& resolver) noexcept : resolver_(&resolver) {}
    LookupAwaiter(const LookupAwaiter&) = delete;
    LookupAwaiter& operator=(const LookupAwaiter&) = delete;
    virtual ~LookupAwaiter() {
        if (lookup_ != nullptr) resolver_->detach(*this);
    }

    bool await_ready() const noexcept { return false; }
    bool await_suspend(std::coroutine_handle<> awaiting);
    /// Throws CancelledError when the task was cancelled, else the lookup's error if any.
    void await_resume();

protected:
    /// Starts the request through resolver_->start().
    virtual void start() = 0;
    /// In the c-ares callback: the lookup failed with `error`.
    void fail(std::exception_ptr error) noexcept { error_ = std::move(error); }

    Resolver* resolver_;

private:
    friend class Resolver;
    static bool on_cancel(void* self) noexcept;

    Lookup* lookup_ = nullptr;  // null when done or detached
    TaskPromiseBase* task_ = nullptr;
    std::exception_ptr error_;
    bool suspended_ = false;
    bool done_ = false;
    bool cancelled_ = false;
};

template <class Call>
void Resolver::start(LookupAwaiter& awaiter, Call call) {
    auto* lookup = new Lookup{this, &awaiter};
    awaiter.lookup_ = lookup;
    ++attached_;
    ++in_flight_;
    loop_.begin_external_work();  // a ManualClock must not jump past the answer
    ++depth_;
    call(channel_, lookup);
    --depth_;
    update_timer();
}

}  // namespace asyncio::detail
