#include "backend/syscall_attempt.hpp"

#include <cerrno>

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

namespace asyncio::detail {

bool is_write_side(IoOpcode opcode) noexcept {
    switch (opcode) {
        case IoOpcode::poll_writable:
        case IoOpcode::write:
        case IoOpcode::pwrite:
        case IoOpcode::fsync:
        case IoOpcode::send:
        case IoOpcode::sendmsg:
        case IoOpcode::connect:
            return true;
        default:
            return false;
    }
}

long attempt_syscall(IoOperation& op) noexcept {
    for (;;) {
        long r = 0;
        switch (op.opcode) {
            case IoOpcode::poll_readable:
            case IoOpcode::poll_writable:
                return 0;
            case IoOpcode::read:
                r = ::read(op.fd, op.buffer, op.length);
                break;
            case IoOpcode::write:
                r = ::write(op.fd, op.buffer, op.length);
                break;
            case IoOpcode::pread:
                r = ::pread(op.fd, op.buffer, op.length, static_cast<off_t>(op.offset));
                break;
            case IoOpcode::pwrite:
                r = ::pwrite(op.fd, op.buffer, op.length, static_cast<off_t>(op.offset));
                break;
            case IoOpcode::fsync:
                r = op.flags == file_sync_data_only ? ::fdatasync(op.fd) : ::fsync(op.fd);
                break;
            case IoOpcode::openat:
                r = ::openat(AT_FDCWD, static_cast<const char*>(op.buffer), op.flags,
                             static_cast<mode_t>(op.length));
                break;
            case IoOpcode::close:
                // Linux frees the descriptor even when close() says EINTR: never retry it,
                // the number may already belong to someone else.
                r = ::close(op.fd);
                if (r != 0 && errno == EINTR) return 0;
                break;
            case IoOpcode::recv:
                r = ::recv(op.fd, op.buffer, op.length, op.flags);
                break;
            case IoOpcode::send:
                r = ::send(op.fd, op.buffer, op.length, op.flags | MSG_NOSIGNAL);
                break;
            case IoOpcode::recvmsg:
                r = ::recvmsg(op.fd, op.message, op.flags);
                break;
            case IoOpcode::sendmsg:
                r = ::sendmsg(op.fd, op.message, op.flags | MSG_NOSIGNAL);
                break;
            case IoOpcode::accept: {
                socklen_t length = op.address_length;
                r = ::accept4(op.fd, op.address, op.address != nullptr ? &length : nullptr,
                              SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (r >= 0) op.address_length = length;
                break;
            }
            case IoOpcode::connect: {
                // Retried after EINPROGRESS: the outcome is in SO_ERROR.
                int error = 0;
                socklen_t size = sizeof error;
                if (::getsockopt(op.fd, SOL_SOCKET, SO_ERROR, &error, &size) != 0) return -errno;
                return error == 0 ? 0 : -error;
            }
        }
        if (r >= 0) return r;
        if (errno == EINTR) continue;
        if (errno == EWOULDBLOCK) return -EAGAIN;
        return -errno;
    }
}

long start_connect(const IoOperation& op) noexcept {
    if (::connect(op.fd, op.address, op.address_length) == 0) return 0;
    // EINTR: the connection goes on in the background, as after EINPROGRESS.
    return errno == EINTR ? -EINPROGRESS : -errno;
}

}  // namespace asyncio::detail
