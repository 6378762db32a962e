#include "dns/resolver.hpp"

#include <chrono>
#include <climits>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include <netinet/in.h>
#include <sys/socket.h>

#include "loop/event_loop_impl.hpp"

namespace asyncio::detail {

namespace {

void initialise_c_ares() {
    // Only needed on Windows and Android, but documented as required; it is not
    // thread-safe, hence once per process.
    static const int status = ares_library_init(ARES_LIB_INIT_ALL);
    if (status != ARES_SUCCESS) {
        throw DnsError(status, std::string("cannot initialise c-ares: ") + ares_strerror(status));
    }
}

ares_addr_port_node server_node(const SocketAddress& address) {
    ares_addr_port_node node{};
    if (address.family() == AddressFamily::ipv4) {
        sockaddr_in v4;
        std::memcpy(&v4, address.native(), sizeof v4);
        node.family = AF_INET;
        node.addr.addr4 = v4.sin_addr;
    } else if (address.family() == AddressFamily::ipv6) {
        sockaddr_in6 v6;
        std::memcpy(&v6, address.native(), sizeof v6);
        node.family = AF_INET6;
        std::memcpy(&node.addr.addr6, &v6.sin6_addr, sizeof v6.sin6_addr);
    } else {
        throw std::invalid_argument("configure_resolver(): the server '" + address.to_string() +
                                    "' is not an IPv4 or IPv6 address");
    }
    node.udp_port = address.port();  // 0: c-ares uses 53
    node.tcp_port = address.port();
    return node;
}

}  // namespace

void ResolverDeleter::operator()(Resolver* resolver) const noexcept { delete resolver; }

Resolver::Resolver(EventLoop& loop, const ResolverOptions& options) : loop_(loop) {
    if (options.timeout < Duration::zero()) {
        throw std::invalid_argument("configure_resolver(): the timeout is negative");
    }
    if (options.tries < 0) {
        throw std::invalid_argument("configure_resolver(): tries is negative (" +
                                    std::to_string(options.tries) + ")");
    }
    std::vector<ares_addr_port_node> servers;
    servers.reserve(options.servers.size());
    for (const SocketAddress& address : options.servers) servers.push_back(server_node(address));
    for (std::size_t i = 0; i + 1 < servers.size(); ++i) servers[i].next = &servers[i + 1];

    initialise_c_ares();
    ares_options native{};
    int mask = ARES_OPT_SOCK_STATE_CB;
    native.sock_state_cb = &Resolver::on_socket_state;
    native.sock_state_cb_data = this;
    if (options.timeout > Duration::zero()) {
        mask |= ARES_OPT_TIMEOUTMS;
        const auto ms = std::chrono::ceil<std::chrono::milliseconds>(options.timeout).count();
        native.timeout = ms > INT_MAX ? INT_MAX : static_cast<int>(ms);
    }
    if (options.tries > 0) {
        mask |= ARES_OPT_TRIES;
        native.tries = options.tries;
    }
    const int status = ares_init_options(&channel_, &native, mask);
    if (status != ARES_SUCCESS) {
        throw DnsError(status,
                       std::string("cannot start the DNS resolver: ") + ares_strerror(status));
    }
    if (!servers.empty()) {
        const int set = ares_set_servers_ports(channel_, servers.data());
        if (set != ARES_SUCCESS) {
            ares_destroy(channel_);  // no query yet, so no socket and no callback
            throw DnsError(set, std::string("cannot set the DNS servers: ") + ares_strerror(set));
        }
    }
}

Resolver::~Resolver() {
    destroying_ = true;
    timer_.cancel();
    sweep_.cancel();
    ++depth_;
    ares_destroy(channel_);
    --depth_;
    // c-ares reports each socket it closes, so this finds nothing; a watch left on a closed
    // descriptor would call into a freed resolver once the number is reused.
    for (const auto& [fd, interest] : sockets_) {
        try {
            if (interest.read) loop_.remove_reader(fd);
            if (interest.write) loop_.remove_writer(fd);
        } catch (...) {
        }
    }
}

void Resolver::finish(Lookup* lookup) noexcept {
    if (LookupAwaiter* awaiter = lookup->awaiter) {
        awaiter->lookup_ = nullptr;
        awaiter->done_ = true;
        --attached_;
        loop_.end_external_work();
        if (awaiter->suspended_) awaiter->task_->wake();
    }
    --in_flight_;
    delete lookup;
    schedule_sweep();
}

void Resolver::detach(LookupAwaiter& awaiter) noexcept {
    awaiter.lookup_->awaiter = nullptr;
    awaiter.lookup_ = nullptr;
    --attached_;
    loop_.end_external_work();
    schedule_sweep();
}

void Resolver::on_socket_state(void* self, ares_socket_t fd, int readable, int writable) noexcept {
    auto& resolver = *static_cast<Resolver*>(self);
    try {
        resolver.watch(fd, readable != 0, writable != 0);
    } catch (...) {
        // The queries on this socket then end by their timeout rather than their answer.
        try {
            resolver.loop_.report_error("DNS resolver: cannot watch socket " + std::to_string(fd),
                                        std::current_exception(), "");
        } catch (...) {
        }
    }
}

void Resolver::watch(int fd, bool read, bool write) {
    Interest& interest = sockets_[fd];
    if (read != interest.read) {
        if (read) {
            loop_.add_reader(fd, [this, fd] { process(fd, ARES_SOCKET_BAD); });
        } else {
            loop_.remove_reader(fd);
        }
        interest.read = read;
    }
    if (write != interest.write) {
        if (write) {
            loop_.add_writer(fd, [this, fd] { process(ARES_SOCKET_BAD, fd); });
        } else {
            loop_.remove_writer(fd);
        }
        interest.write = write;
    }
    if (!read && !write) {
        sockets_.erase(fd);
        // c-ares closes the socket right after this call, and a new socket may get its
        // number at once: drop the backend's registration first.
        if (const auto& backend = loop_.impl().backend) backend->forget_fd(fd);
    }
}

void Resolver::process(ares_socket_t read_fd, ares_socket_t write_fd) noexcept {
    ++depth_;
    ares_process_fd(channel_, read_fd, write_fd);  // also ends the queries whose time is up
    --depth_;
    update_timer();
}

void Resolver::update_timer() noexcept {
    if (destroying_) return;
    timeval left{};
    if (ares_timeout(channel_, nullptr, &left) == nullptr) {  // no query left
        timer_.cancel();
        timer_ = {};
        return;
    }
    // ares_timeout() rounds the time left down to the millisecond: a timer at that instant
    // could find nothing due yet and re-arm for 0 ms, again and again.
    const TimePoint deadline = loop_.now() + std::chrono::seconds(left.tv_sec) +
                               std::chrono::microseconds(left.tv_usec) +
                               std::chrono::milliseconds(1);
    if (timer_ && timer_.when() <= deadline) return;  // early enough: it re-arms when it fires
    timer_.cancel();
    try {
        timer_ = loop_.call_at(deadline, [this] {
            timer_ = {};
            process(ARES_SOCKET_BAD, ARES_SOCKET_BAD);
        });
    } catch (...) {
        // Out of memory: the deadlines are still checked at the next socket event.
        timer_ = {};
    }
}

void Resolver::schedule_sweep() noexcept {
    if (destroying_ || sweep_ || attached_ != 0 || in_flight_ == 0) return;
    try {
        sweep_ = loop_.call_soon([this] { sweep(); });
    } catch (...) {
        // The abandoned queries then run until their answer or their timeout.
    }
}

void Resolver::sweep() noexcept {
    // A loop callback, never inside a c-ares call (see the top of resolver.hpp), so
    // ares_cancel() is safe. Only abandoned queries are left when nothing is attached.
    if (attached_ == 0 && in_flight_ > 0 && depth_ == 0) {
        ++depth_;
        ares_cancel(channel_);
        --depth_;
    }
    sweep_ = {};
    update_timer();
}

Resolver& running_resolver() {
    EventLoop& loop = get_running_loop();
    auto& resolver = loop.impl().resolver;
    if (!resolver) resolver.reset(new Resolver(loop, ResolverOptions{}));
    return *resolver;
}

// ---- LookupAwaiter ----

bool LookupAwaiter::await_suspend(std::coroutine_handle<> awaiting) {
    TaskPromiseBase& task = require_current_task("a DNS lookup");
    task_ = &task;
    start();
    if (done_) return false;  // answered inside the call: /etc/hosts, a malformed name...
    suspended_ = true;
    static constexpr AwaitPoint point{&LookupAwaiter::on_cancel, [](const void* self) noexcept {
        return AwaitTarget{AwaitKind::other, self, -1};
    }};
    task.suspend(awaiting, point, this);
    return true;
}

void LookupAwaiter::await_resume() {
    if (cancelled_) task_->throw_cancelled();
    task_->throw_if_cancel_pending();
    if (error_) std::rethrow_exception(error_);
}

bool LookupAwaiter::on_cancel(void* self) noexcept {
    auto& awaiter = *static_cast<LookupAwaiter*>(self);
    // Answered already and the task queued: CancelledError when it resumes, as CPython
    // does for a task whose future completed before cancel().
    if (awaiter.done_) return false;
    awaiter.resolver_->detach(awaiter);
    awaiter.done_ = true;
    awaiter.cancelled_ = true;
    awaiter.task_->wake();
    return true;
}

}  // namespace asyncio::detail

namespace asyncio {

void configure_resolver(ResolverOptions options) {
    EventLoop& loop = get_running_loop();
    loop.check_thread("configure_resolver()");
    auto& current = loop.impl().resolver;
    if (current && (current->attached() > 0 || current->inside_c_ares())) {
        throw RuntimeError("configure_resolver(): " + std::to_string(current->attached()) +
                           " lookup(s) of this loop are waiting for their answer; configure "
                           "the resolver before the lookups start");
    }
    // Built first, so that bad options leave the current resolver in place.
    std::unique_ptr<detail::Resolver, detail::ResolverDeleter> replacement(
        new detail::Resolver(loop, options));
    current = std::move(replacement);  // abandoned queries of the old channel end here
}

}  // namespace asyncio
