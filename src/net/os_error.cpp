#include "net/os_error.hpp"

#include <cerrno>
#include <cstring>

#include <unistd.h>

#include "asyncio/errors.hpp"
#include "loop/event_loop_impl.hpp"

namespace asyncio::detail {

std::exception_ptr make_os_error(int error, const std::string& what) {
    // Appended piece by piece: GCC 12 warns falsely (-Wrestrict, PR 105329) on the
    // equivalent chain of operator+.
    std::string message = what;
    message.append(": ").append(std::strerror(error)).append(" [errno ");
    message.append(std::to_string(error)).append("]");
    switch (error) {
        case ECONNREFUSED:
            return std::make_exception_ptr(ConnectionRefusedError(error, message));
        case ECONNRESET:
            return std::make_exception_ptr(ConnectionResetError(error, message));
        case ECONNABORTED:
            return std::make_exception_ptr(ConnectionAbortedError(error, message));
        case ETIMEDOUT:
            return std::make_exception_ptr(ConnectionTimeoutError(error, message));
        case EPIPE:
        case ESHUTDOWN:
            return std::make_exception_ptr(BrokenPipeError(error, message));
        case EADDRINUSE:
            return std::make_exception_ptr(AddressInUseError(error, message));
        case ENOENT:
            return std::make_exception_ptr(FileNotFoundError(error, message));
        case EEXIST:
            return std::make_exception_ptr(FileExistsError(error, message));
        case EACCES:
        case EPERM:
            return std::make_exception_ptr(PermissionError(error, message));
        default:
            return std::make_exception_ptr(OSError(error, message));
    }
}

void throw_os_error(int error, const std::string& what) {
    std::rethrow_exception(make_os_error(error, what));
}

void close_descriptor(int fd) noexcept { close_descriptor(running_loop, fd); }

void close_descriptor(LoopCore* loop, int fd) noexcept {
    if (fd < 0) return;
    if (loop != nullptr && loop_is_alive(loop)) {
        if (auto& backend = static_cast<EventLoop&>(*loop).impl().backend) backend->forget_fd(fd);
    }
    ::close(fd);
}

Backend& backend_of_live_loop(LoopCore* loop) {
    if (loop == nullptr || !loop_is_alive(loop))
        throw RuntimeError("I/O on a destroyed event loop");
    auto& backend = static_cast<EventLoop&>(*loop).impl().backend;
    if (!backend) throw RuntimeError("I/O on a closed event loop");
    return *backend;
}

}  // namespace asyncio::detail
