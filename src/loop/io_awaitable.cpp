#include "loop/io_awaitable.hpp"

#include "loop/event_loop_impl.hpp"

namespace asyncio::detail {

Backend& running_backend() {
    auto& loop = static_cast<EventLoop&>(require_running_loop());
    if (!loop.impl().backend) throw RuntimeError("I/O on a closed event loop");
    return *loop.impl().backend;
}

IoAwaitable::IoAwaitable(IoOpcode opcode_value, int fd_value, void* buffer_value,
                         std::size_t length_value, int flags_value, sockaddr* address_value,
                         socklen_t address_length_value, msghdr* message_value,
                         std::uint64_t offset_value, bool exclusive_value) noexcept {
    opcode = opcode_value;
    fd = fd_value;
    buffer = buffer_value;
    length = length_value;
    flags = flags_value;
    address = address_value;
    address_length = address_length_value;
    message = message_value;
    offset = offset_value;
    exclusive = exclusive_value;
    on_complete = &IoAwaitable::on_done;
}

IoAwaitable::~IoAwaitable() {
    // A frame destroyed while the operation is queued (its loop closing) takes it back.
    if (in_flight && backend_ != nullptr) backend_->cancel(*this);
}

bool IoAwaitable::await_suspend(std::coroutine_handle<> awaiting) {
    TaskPromiseBase& task = require_current_task("an I/O operation");
    Backend& backend = running_backend();
    if (backend.submit(*this)) return false;  // finished at once: resume without suspending
    task_ = &task;
    backend_ = &backend;
    task.loop()->begin_external_work();
    static constexpr AwaitPoint point{&IoAwaitable::on_cancel, [](const void* self) noexcept {
        return AwaitTarget{AwaitKind::io, nullptr, static_cast<const IoAwaitable*>(self)->fd};
    }};
    task.suspend(awaiting, point, this);
    return true;
}

long IoAwaitable::await_resume() {
    if (task_ != nullptr) {
        if (cancel_requested_ && result == -ECANCELED) task_->throw_cancelled();
        // Completed although cancelled (or cancelled between completion and resumption):
        // the result holds bytes or a descriptor that must not be lost, so it is returned
        // and the next await point delivers the cancellation.
        if (cancel_requested_) task_->defer_cancel();
    }
    return result;
}

void IoAwaitable::on_done(IoOperation& op) noexcept {
    auto& self = static_cast<IoAwaitable&>(op);
    self.task_->loop()->end_external_work();
    self.task_->wake();
}

bool IoAwaitable::on_cancel(void* self) noexcept {
    auto& awaitable = *static_cast<IoAwaitable*>(self);
    awaitable.cancel_requested_ = true;
    awaitable.backend_->cancel(awaitable);  // completes (maybe at once) with -ECANCELED
    return true;
}

IoAwaitable IoAwaitable::read(int fd, void* buffer, std::size_t length) {
    return IoAwaitable(IoOpcode::read, fd, buffer, length);
}

IoAwaitable IoAwaitable::write(int fd, const void* buffer, std::size_t length) {
    return IoAwaitable(IoOpcode::write, fd, const_cast<void*>(buffer), length);
}

IoAwaitable IoAwaitable::recv(int fd, void* buffer, std::size_t length, int flags) {
    return IoAwaitable(IoOpcode::recv, fd, buffer, length, flags);
}

IoAwaitable IoAwaitable::send(int fd, const void* buffer, std::size_t length, int flags) {
    return IoAwaitable(IoOpcode::send, fd, const_cast<void*>(buffer), length, flags);
}

IoAwaitable IoAwaitable::recv_exclusive(int fd, void* buffer, std::size_t length) {
    return IoAwaitable(IoOpcode::recv, fd, buffer, length, 0, nullptr, 0, nullptr, 0, true);
}

IoAwaitable IoAwaitable::accept_exclusive(int fd, sockaddr* address, socklen_t length) {
    return IoAwaitable(IoOpcode::accept, fd, nullptr, 0, 0, address, length, nullptr, 0, true);
}

IoAwaitable IoAwaitable::accept(int fd, sockaddr* address, socklen_t length) {
    return IoAwaitable(IoOpcode::accept, fd, nullptr, 0, 0, address, length);
}

IoAwaitable IoAwaitable::connect(int fd, const sockaddr* address, socklen_t length) {
    return IoAwaitable(IoOpcode::connect, fd, nullptr, 0, 0, const_cast<sockaddr*>(address),
                       length);
}

IoAwaitable IoAwaitable::recvmsg(int fd, msghdr* message, int flags) {
    return IoAwaitable(IoOpcode::recvmsg, fd, nullptr, 0, flags, nullptr, 0, message);
}

IoAwaitable IoAwaitable::sendmsg(int fd, const msghdr* message, int flags) {
    return IoAwaitable(IoOpcode::sendmsg, fd, nullptr, 0, flags, nullptr, 0,
                       const_cast<msghdr*>(message));
}

IoAwaitable IoAwaitable::file(IoOpcode opcode, int fd, void* buffer, std::size_t length,
                              std::uint64_t offset, int flags) {
    return IoAwaitable(opcode, fd, buffer, length, flags, nullptr, 0, nullptr, offset);
}

IoAwaitable IoAwaitable::readable(int fd) { return IoAwaitable(IoOpcode::poll_readable, fd); }
IoAwaitable IoAwaitable::writable(int fd) { return IoAwaitable(IoOpcode::poll_writable, fd); }

}  // namespace asyncio::detail
