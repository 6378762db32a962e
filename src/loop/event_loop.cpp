// The event loop.
//
// One iteration (run_once) does, in order: wait for I/O (not at all when callbacks are
// ready, until the next timer otherwise), take callbacks posted from other threads and
// signals, move every expired timer to the ready queue, then run exactly the ready
// callbacks and task steps that were queued when the run started. Whatever they schedule
// waits for the next iteration: the order CPython gives, which programs observe.
//
// The ready queue is an intrusive list through the tasks and callbacks themselves, so
// scheduling never allocates. Timers are an in-order list plus a 4-ary heap
// (timer_heap.hpp). The clock is read once per iteration, and the debug checks cost one
// branch when debug mode is off.

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>

#include "asyncio/graph.hpp"
#include "asyncio/log.hpp"
#include "loop/event_loop_impl.hpp"

namespace asyncio::detail {

constinit thread_local LoopCore* running_loop = nullptr;

std::mutex live_loops_mutex;

namespace {

std::set<const LoopCore*>& live_loops() {
    static std::set<const LoopCore*> loops;
    return loops;
}

EventLoop::Impl& impl_of(const LoopCore* core) {
    return const_cast<EventLoop*>(static_cast<const EventLoop*>(core))->impl();
}

}  // namespace

void release_timer_if_callback(TimerNode& node) noexcept {
    if (node.fire == &TimerCallbackBase::on_deadline) {
        static_cast<TimerCallbackBase&>(node).discard();
        static_cast<TimerCallbackBase&>(node).release();
    }
}

std::string seconds_text(Duration duration) {
    char text[32];
    std::snprintf(text, sizeof text, "%.3f",
                  std::chrono::duration<double>(duration).count());
    return text;
}

bool debug_from_environment() noexcept {
    const char* value = std::getenv("ASYNCIO_DEBUG");
    return value != nullptr && value[0] != '\0' && !(value[0] == '0' && value[1] == '\0');
}

bool loop_is_alive(const LoopCore* loop) noexcept {
    std::lock_guard lock(live_loops_mutex);
    return live_loops().count(loop) != 0;
}

TimePoint LoopCore::now() const noexcept { return clock_->now(); }

void LoopCore::add_timer(TimerNode& node) { impl_of(this).timers.push(node); }

void LoopCore::remove_timer(TimerNode& node) noexcept {
    if (node.scheduled()) impl_of(this).timers.remove(node);
}

void LoopCore::report_wrong_thread(const char* operation) const {
    throw RuntimeError(std::string("Non-thread-safe operation invoked on an event loop other "
                                   "than the current one: ") +
                       operation + " called from a thread that does not run the loop");
}

void LoopCore::report_closed(const char* operation) const {
    throw RuntimeError(std::string("Event loop is closed: ") + operation +
                       " called after close()");
}

void LoopCore::register_task(TaskPromiseBase& task) noexcept {
    task.prev_task_ = nullptr;
    task.next_task_ = tasks_head_;
    if (tasks_head_ != nullptr) tasks_head_->prev_task_ = &task;
    tasks_head_ = &task;
}

void LoopCore::unregister_task(TaskPromiseBase& task) noexcept {
    (task.prev_task_ != nullptr ? task.prev_task_->next_task_ : tasks_head_) = task.next_task_;
    if (task.next_task_ != nullptr) task.next_task_->prev_task_ = task.prev_task_;
    task.prev_task_ = task.next_task_ = nullptr;
}

void LoopCore::report_error(std::string message, std::exception_ptr error,
                            std::string task) noexcept {
    try {
        static_cast<EventLoop*>(this)->call_exception_handler(
            ExceptionContext{std::move(message), std::move(error), std::move(task)});
    } catch (...) {
    }
}

}  // namespace asyncio::detail

namespace asyncio {

using detail::CallbackBase;
using detail::ReadyItem;
using detail::TaskPromiseBase;
using detail::TimerNode;

// ---- handles ----

void Handle::cancel() const noexcept {
    if (callback_ != nullptr) callback_->mark_cancelled();
}

TimePoint TimerHandle::when() const noexcept {
    return static_cast<detail::TimerCallbackBase*>(callback_)->deadline;
}

void TimerHandle::cancel() const noexcept {
    if (callback_ == nullptr || callback_->is_cancelled()) return;
    callback_->mark_cancelled();
    auto* timer = static_cast<detail::TimerCallbackBase*>(callback_);
    if (timer->scheduled()) {
        timer->loop()->remove_timer(*timer);
        timer->discard();  // not running (it is still in the heap): free its captures now
        timer->release();  // the heap's reference
    }
}

// ---- construction ----

EventLoop::EventLoop(LoopOptions options) : impl_(std::make_unique<Impl>(*this)) {
    debug_ = options.debug || detail::debug_from_environment();
    impl_->backend = detail::make_backend(options.backend, debug_);
    impl_->backend_name = impl_->backend->name();
    impl_->clock = options.clock ? std::move(options.clock) : std::make_shared<SteadyClock>();
    impl_->manual_clock = dynamic_cast<ManualClock*>(impl_->clock.get());
    clock_ = impl_->clock.get();
    impl_->slow_callback_duration = options.slow_callback_duration;
    std::lock_guard lock(detail::live_loops_mutex);
    detail::live_loops().insert(this);
}

EventLoop::~EventLoop() {
    if (!impl_->running) {
        try {
            close();
        } catch (...) {
        }
    }
    std::lock_guard lock(detail::live_loops_mutex);
    detail::live_loops().erase(this);
}

EventLoop& get_running_loop() {
    return static_cast<EventLoop&>(detail::require_running_loop());
}

// ---- running ----

bool EventLoop::is_running() const noexcept { return impl_->running; }
bool EventLoop::is_closed() const noexcept { return impl_->closed; }

void EventLoop::stop() noexcept {
    impl_->stopping.store(true, std::memory_order_release);
    // Under the lock: close() on another thread may be releasing the backend.
    std::lock_guard lock(impl_->threadsafe_mutex);
    if (impl_->backend) impl_->backend->wakeup();
}

void EventLoop::run_forever() {
    if (impl_->closed) throw RuntimeError("Event loop is closed");
    if (impl_->running) throw RuntimeError("This event loop is already running");
    if (detail::running_loop != nullptr) {
        throw RuntimeError("Cannot run the event loop while another loop is running");
    }
    owner_thread_ = std::this_thread::get_id();
    impl_->running = true;
    detail::running_loop = this;
    const bool dumps_on_sigusr1 = debug_ && impl_->install_task_dump();
    struct Reset {
        EventLoop& loop;
        bool remove_dump;
        ~Reset() {
            if (remove_dump) loop.remove_signal_handler(SIGUSR1);
            loop.impl_->running = false;
            loop.impl_->stopping.store(false, std::memory_order_relaxed);
            detail::running_loop = nullptr;
        }
    } reset{*this, dumps_on_sigusr1};
    for (;;) {
        impl_->run_once();
        if (impl_->stopping.load(std::memory_order_acquire)) break;
    }
}

void EventLoop::run_until_done(detail::FutureStateBase& state) {
    if (state.done()) return;
    struct StopWhenDone : detail::WaiterNode {
        EventLoop* loop;
    } stopper;
    stopper.loop = this;
    stopper.on_done = [](detail::WaiterNode& self, detail::FutureStateBase&) noexcept {
        static_cast<StopWhenDone&>(self).loop->stop();
    };
    state.add_waiter(stopper);
    try {
        run_forever();
    } catch (...) {
        detail::FutureStateBase::remove_waiter(stopper);
        throw;
    }
    detail::FutureStateBase::remove_waiter(stopper);
    if (!state.done()) throw RuntimeError("Event loop stopped before the task completed");
}

void EventLoop::Impl::run_once() {
    const bool ready = has_ready() || stopping.load(std::memory_order_relaxed);
    Duration timeout{-1};
    if (ready) {
        timeout = Duration::zero();
    } else if (!timers.empty()) {
        timeout = std::max(Duration::zero(), timers.next_deadline() - clock->now());
    }

    // A ManualClock jumps to the next timer when nothing else can happen; while work runs
    // elsewhere (I/O, threads) it waits in real time like a normal clock would.
    bool jump_if_idle = false;
    if (manual_clock != nullptr && !ready && !timers.empty()) {
        jump_if_idle = true;
        if (loop.external_work_ == 0 && backend->pending() == 0) timeout = Duration::zero();
    }

    // The wait is timed in real time: a poll that delivered nothing may have been woken by
    // readiness nobody waited for, and the clock must not jump while I/O is still due.
    const auto wait_started =
        jump_if_idle ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point{};
    std::size_t events = 0;
    if (timeout != Duration::zero() || backend->pending() > 0) events = backend->poll(timeout);

    if (threadsafe_pending.load(std::memory_order_acquire)) drain_threadsafe();
    if (!signal_handlers.empty() && detail::signal_generation() != seen_signal_generation) {
        dispatch_signals();
    }

    if (jump_if_idle && events == 0 && !has_ready() && !timers.empty() &&
        (timeout == Duration::zero() || std::chrono::steady_clock::now() - wait_started >= timeout)) {
        manual_clock->advance_to(timers.next_deadline());
    }

    if (!timers.empty()) {
        const TimePoint now = clock->now();
        while (!timers.empty() && timers.next_deadline() <= now) {
            detail::TimerNode& node = timers.pop();
            node.fire(node);
        }
    }

    // Run the batch that is ready now; what it schedules goes to a fresh list.
    ReadyItem* item = loop.ready_head_;
    loop.ready_head_ = loop.ready_tail_ = nullptr;
    if (loop.debug_) {
        while (item != nullptr) {
            ReadyItem* next = item->next_ready_;
            run_timed(*item);
            item = next;
        }
    } else {
        while (item != nullptr) {
            ReadyItem* next = item->next_ready_;
            run_ready(*item);
            item = next;
        }
    }
}

void EventLoop::Impl::run_ready(ReadyItem& item) noexcept {
    if (item.ready_kind_ == ReadyItem::Kind::task) {
        auto& task = static_cast<TaskPromiseBase&>(item);
        loop.current_task_ = &task;
        if (task.begin_step()) task.resume_point().resume();  // may complete and free the task
        loop.current_task_ = nullptr;
        return;
    }
    if (item.ready_kind_ == ReadyItem::Kind::timer) {
        TimerNode& timer = TimerNode::from_due(item);
        timer.fire(timer);
        return;
    }
    auto& callback = static_cast<CallbackBase&>(item);
    if (!callback.is_cancelled()) {
        try {
            callback.invoke();
        } catch (...) {
            loop.report_error("Exception in " + callback.describe(), std::current_exception(), "");
        }
    }
    callback.discard();
    callback.release();
}

void EventLoop::Impl::run_timed(ReadyItem& item) noexcept {
    // Debug mode: hold the task so it can still be named after a step that finished it.
    if (item.ready_kind_ == ReadyItem::Kind::timer) {
        run_ready(item);  // a timer's bookkeeping: nothing user-visible to time
        return;
    }
    TaskPromiseBase* task = nullptr;
    if (item.ready_kind_ == ReadyItem::Kind::task) {
        task = &static_cast<TaskPromiseBase&>(item);
        task->add_ref();
    } else {
        static_cast<CallbackBase&>(item).add_ref();
    }
    const TimePoint start = clock->now();
    run_ready(item);
    const Duration took = clock->now() - start;
    if (took >= slow_callback_duration) {
        try {
            const std::string what = task != nullptr
                                         ? task->describe()
                                         : static_cast<CallbackBase&>(item).describe();
            log(LogLevel::warning, "Executing " + what + " took " + detail::seconds_text(took) +
                                       " seconds (slow_callback_duration is " +
                                       detail::seconds_text(slow_callback_duration) + ")");
        } catch (...) {
        }
    }
    if (task != nullptr) {
        task->release();
    } else {
        static_cast<CallbackBase&>(item).release();
    }
}

// ---- callbacks ----

TimerHandle EventLoop::schedule_timer(TimePoint when, detail::TimerCallbackBase* callback) {
    TimerHandle handle(callback);  // adopts the creation reference
    callback->deadline = when;
    callback->add_ref();           // the heap's reference
    impl_->timers.push(*callback);
    return handle;
}

void EventLoop::post_threadsafe(CallbackBase* callback) {
    std::lock_guard lock(impl_->threadsafe_mutex);
    if (impl_->closed) {
        callback->release();
        throw RuntimeError("Event loop is closed: call_soon_threadsafe() called after close()");
    }
    const bool was_empty = impl_->threadsafe_queue.empty();
    try {
        impl_->threadsafe_queue.push_back(callback);
    } catch (...) {
        callback->release();
        throw;
    }
    impl_->threadsafe_pending.store(true, std::memory_order_release);
    // Only the first post after a drain needs to wake the loop: the loop empties the whole
    // queue under the lock, so a later post either finds it non-empty (a wake-up is on its
    // way) or empty (and wakes it itself). The wake-up is written under the lock so that
    // close() cannot release the backend meanwhile.
    if (was_empty) impl_->backend->wakeup();
}

void EventLoop::Impl::drain_threadsafe() noexcept {
    std::vector<CallbackBase*> batch;
    {
        std::lock_guard lock(threadsafe_mutex);
        batch.swap(threadsafe_queue);
        threadsafe_pending.store(false, std::memory_order_relaxed);
    }
    for (CallbackBase* callback : batch) loop.schedule(*callback);
}

// ---- executor ----

void EventLoop::submit_to_executor(std::unique_ptr<detail::ExecutorJob> job) {
    if (impl_->closed) {
        end_external_work();
        throw RuntimeError("run_in_executor() on a closed event loop");
    }
    if (!impl_->executor) {
        impl_->executor =
            std::make_unique<detail::ThreadPool>(detail::ThreadPool::default_max_workers());
    }
    try {
        impl_->executor->submit(std::move(job));
    } catch (...) {
        end_external_work();
        throw;
    }
}

void EventLoop::shutdown_default_executor() {
    if (impl_->executor) {
        impl_->executor->shutdown();
        impl_->executor.reset();
    }
}

// ---- file descriptors ----

namespace {

void watch_fired(detail::IoOperation& op) noexcept;

std::unique_ptr<detail::FdWatch> make_watch(EventLoop& loop, int fd, detail::IoOpcode opcode,
                                            std::function<void()> callback) {
    auto watch = std::make_unique<detail::FdWatch>();
    watch->opcode = opcode;
    watch->fd = fd;
    watch->on_complete = &watch_fired;
    watch->loop = &loop;
    watch->callback = std::move(callback);
    return watch;
}

void watch_fired(detail::IoOperation& op) noexcept {
    auto& watch = static_cast<detail::FdWatch&>(op);
    if (!watch.active || op.result == -ECANCELED) {
        if (!watch.active) watch.loop->impl().free_retired(watch);
        return;
    }
    // Run the callback through the ready queue, like every other callback.
    watch.queued = true;
    auto* run = new detail::CallbackImpl([&watch] {
        EventLoop::Impl& impl = watch.loop->impl();
        if (watch.active) {
            // The callback may remove or replace itself: run it from a local, and put it
            // back only if nobody installed another one meanwhile.
            std::function<void()> callback = std::move(watch.callback);
            watch.callback = nullptr;
            struct Restore {
                detail::FdWatch& watch;
                std::function<void()>& callback;
                ~Restore() {
                    if (watch.active && !watch.callback) watch.callback = std::move(callback);
                }
            } restore{watch, callback};
            callback();
        }
        watch.queued = false;
        if (watch.active) {
            impl.rearm(watch);
        } else {
            impl.free_retired(watch);
        }
    });
    watch.loop->schedule(*run);
}

}  // namespace

void EventLoop::Impl::free_retired(detail::FdWatch& watch) noexcept {
    if (watch.active || watch.queued || watch.in_flight) return;
    for (auto it = retired_watches.begin(); it != retired_watches.end(); ++it) {
        if (it->get() == &watch) {
            retired_watches.erase(it);  // frees the watch
            return;
        }
    }
}

void EventLoop::Impl::rearm(detail::FdWatch& watch) {
    if (backend->submit(watch)) watch_fired(watch);  // finished at once (e.g. EBADF)
}

static void add_watch(EventLoop& loop, EventLoop::Impl& impl,
                      std::unordered_map<int, std::unique_ptr<detail::FdWatch>>& table, int fd,
                      detail::IoOpcode opcode, std::function<void()> callback, const char* what) {
    loop.check_thread(what);
    if (impl.closed) throw RuntimeError(std::string(what) + " on a closed event loop");
    if (fd < 0) throw std::invalid_argument(std::string(what) + ": invalid file descriptor " +
                                            std::to_string(fd));
    if (!callback) throw std::invalid_argument(std::string(what) + ": empty callback");
    auto it = table.find(fd);
    if (it != table.end()) {
        it->second->callback = std::move(callback);  // Python replaces the callback
        return;
    }
    auto watch = make_watch(loop, fd, opcode, std::move(callback));
    detail::FdWatch& ref = *watch;
    table.emplace(fd, std::move(watch));
    impl.rearm(ref);
}

static bool remove_watch(EventLoop& loop, EventLoop::Impl& impl,
                         std::unordered_map<int, std::unique_ptr<detail::FdWatch>>& table, int fd,
                         const char* what) {
    loop.check_thread(what);
    auto it = table.find(fd);
    if (it == table.end() || impl.closed) return false;
    std::unique_ptr<detail::FdWatch> watch = std::move(it->second);
    table.erase(it);
    watch->active = false;
    impl.backend->cancel(*watch);
    // A queued run still points at the watch: keep it until the loop closes.
    if (watch->queued || watch->in_flight) impl.retired_watches.push_back(std::move(watch));
    return true;
}

void EventLoop::add_reader(int fd, std::function<void()> callback) {
    add_watch(*this, *impl_, impl_->readers, fd, detail::IoOpcode::poll_readable,
              std::move(callback), "add_reader()");
}
bool EventLoop::remove_reader(int fd) {
    return remove_watch(*this, *impl_, impl_->readers, fd, "remove_reader()");
}
void EventLoop::add_writer(int fd, std::function<void()> callback) {
    add_watch(*this, *impl_, impl_->writers, fd, detail::IoOpcode::poll_writable,
              std::move(callback), "add_writer()");
}
bool EventLoop::remove_writer(int fd) {
    return remove_watch(*this, *impl_, impl_->writers, fd, "remove_writer()");
}

// ---- signals ----

void EventLoop::add_signal_handler(int signum, std::function<void()> callback) {
    check_thread("add_signal_handler()");
    if (impl_->closed) throw RuntimeError("add_signal_handler() on a closed event loop");
    if (signum <= 0 || signum >= NSIG || signum == SIGKILL || signum == SIGSTOP) {
        throw std::invalid_argument("add_signal_handler(): signal " + std::to_string(signum) +
                                    " cannot be handled");
    }
    if (!callback) throw std::invalid_argument("add_signal_handler(): empty callback");
    if (impl_->signal_handlers.count(signum) == 0) {
        detail::install_signal(*this, signum, impl_->backend->wakeup_fd());
    }
    impl_->signal_handlers[signum] = std::move(callback);
}

bool EventLoop::remove_signal_handler(int signum) {
    check_thread("remove_signal_handler()");
    auto it = impl_->signal_handlers.find(signum);
    if (it == impl_->signal_handlers.end()) return false;
    detail::uninstall_signal(signum);
    impl_->signal_handlers.erase(it);
    return true;
}

bool EventLoop::Impl::install_task_dump() {
    // Debug mode: `kill -USR1 <pid>` prints the task tree of a live (say, hung) program,
    // unless the program handles SIGUSR1 itself.
    if (signal_handlers.count(SIGUSR1) != 0) return false;
    struct sigaction current {};
    if (::sigaction(SIGUSR1, nullptr, &current) != 0 || current.sa_handler != SIG_DFL) return false;
    try {
        loop.add_signal_handler(SIGUSR1, [this] {
            log(LogLevel::warning, "task tree (SIGUSR1):\n" + format_call_graph(loop));
        });
    } catch (const std::exception&) {
        return false;  // another loop of this process dumps already
    }
    return true;
}

void EventLoop::Impl::dispatch_signals() {
    // Read before taking the flags: a signal arriving meanwhile changes it again, and the
    // next iteration looks once more.
    seen_signal_generation = detail::signal_generation();
    for (auto& [signum, handler] : signal_handlers) {
        if (!detail::take_signal(signum)) continue;
        const int number = signum;
        loop.call_soon([this, number] {
            auto it = signal_handlers.find(number);
            if (it != signal_handlers.end()) {
                auto callback = it->second;  // the handler may remove itself
                callback();
            }
        });
    }
}

// ---- errors ----

void EventLoop::set_exception_handler(ExceptionHandler handler) {
    impl_->exception_handler = std::move(handler);
}

const ExceptionHandler& EventLoop::get_exception_handler() const noexcept {
    return impl_->exception_handler;
}

void EventLoop::call_exception_handler(const ExceptionContext& context) noexcept {
    if (impl_->exception_handler) {
        try {
            impl_->exception_handler(*this, context);
            return;
        } catch (...) {
            // As CPython: a failing handler is reported by the default one.
            default_exception_handler(
                ExceptionContext{"Unhandled error in exception handler", std::current_exception(),
                                 ""});
        }
    }
    default_exception_handler(context);
}

void EventLoop::default_exception_handler(const ExceptionContext& context) noexcept {
    try {
        std::string text = context.message;
        if (!context.task.empty()) text += "\n  task: " + context.task;
        if (context.exception) text += "\n  exception: " + describe(context.exception);
        log(LogLevel::error, text);
    } catch (...) {
    }
}

Duration EventLoop::slow_callback_duration() const noexcept {
    return impl_->slow_callback_duration;
}
void EventLoop::set_slow_callback_duration(Duration duration) noexcept {
    impl_->slow_callback_duration = duration;
}
const char* EventLoop::backend_name() const noexcept { return impl_->backend_name; }

// ---- closing ----

void EventLoop::Impl::drop_callbacks() noexcept {
    ReadyItem* item = loop.ready_head_;
    loop.ready_head_ = loop.ready_tail_ = nullptr;
    while (item != nullptr) {
        ReadyItem* next = item->next_ready_;
        if (item->ready_kind_ == ReadyItem::Kind::callback) {
            static_cast<CallbackBase&>(*item).discard();
            static_cast<CallbackBase&>(*item).release();
        }
        item = next;
    }
}

void EventLoop::close() {
    if (impl_->running) throw RuntimeError("Cannot close a running event loop");
    if (impl_->closed) return;
    // Jobs still running post their results through call_soon_threadsafe: let them finish
    // before the queue is closed.
    shutdown_default_executor();
    // Pending lookups end now (ARES_EDESTRUCTION) and c-ares closes its sockets while the
    // backend and the loop can still take them back; their tasks are torn down below.
    impl_->resolver.reset();
    {
        std::lock_guard lock(impl_->threadsafe_mutex);
        impl_->closed = true;
        closed_ = true;
    }
    impl_->drain_threadsafe();

    for (auto& [signum, handler] : impl_->signal_handlers) detail::uninstall_signal(signum);
    impl_->signal_handlers.clear();

    // Stop all I/O: completions of cancelled operations may queue task wake-ups, which are
    // dropped with the rest of the ready queue just below.
    for (auto& [fd, watch] : impl_->readers) watch->active = false;
    for (auto& [fd, watch] : impl_->writers) watch->active = false;
    {
        std::lock_guard lock(impl_->threadsafe_mutex);  // stop() may be waking it
        impl_->backend.reset();
    }
    impl_->drop_callbacks();
    impl_->readers.clear();
    impl_->writers.clear();
    impl_->retired_watches.clear();

    while (!impl_->timers.empty()) {
        detail::TimerNode& node = impl_->timers.pop();
        detail::release_timer_if_callback(node);  // discards and releases
    }

    // Tasks still pending are destroyed, as CPython's garbage collector would, with the
    // same report. Their frames' destructors find their timers and I/O already detached.
    std::vector<TaskPromiseBase*> pending;
    for (auto* task = tasks_head_; task != nullptr; task = task->next_task_) {
        pending.push_back(task);
    }
    for (TaskPromiseBase* task : pending) {
        report_error("Task was destroyed but it is pending!", nullptr, task->describe());
        unregister_task(*task);
    }
    for (TaskPromiseBase* task : pending) task->release();  // the loop's reference
    impl_->drop_callbacks();  // anything the destroyed frames queued
}

}  // namespace asyncio
