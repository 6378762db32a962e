#include <cstdlib>
#include <string>
#include <system_error>

#include "asyncio/errors.hpp"
#include "asyncio/log.hpp"
#include "backend/backend.hpp"

namespace asyncio::detail {

#ifndef ASYNCIO_WITH_URING
std::unique_ptr<Backend> make_uring_backend() {
    throw std::system_error(ENOTSUP, std::generic_category(),
                            "built without io_uring (ASYNCIO_WITH_URING=OFF)");
}
bool uring_compiled_in() noexcept { return false; }
#endif

// A new backend is a new folder plus one line here.
std::unique_ptr<Backend> make_backend(std::string_view requested, bool debug) {
    if (requested.empty()) {
        if (const char* from_environment = std::getenv("ASYNCIO_BACKEND")) {
            requested = from_environment;
        }
    }
    if (requested == "epoll") return make_epoll_backend();
    if (requested == "io_uring") {
        try {
            return make_uring_backend();
        } catch (const std::system_error& error) {
            throw RuntimeError(std::string("the io_uring backend is unavailable: ") + error.what());
        }
    }
    if (!requested.empty()) {
        throw RuntimeError("unknown event loop backend '" + std::string(requested) +
                           "' (expected epoll or io_uring)");
    }
    // The best available: io_uring unless the kernel, a seccomp filter or a sysctl
    // (kernel.io_uring_disabled) refuses it. Falling back is silent but in debug mode.
    try {
        return make_uring_backend();
    } catch (const std::system_error& error) {
        if (debug) {
            log(LogLevel::debug, std::string("io_uring unavailable, using epoll: ") + error.what());
        }
    }
    return make_epoll_backend();
}

}  // namespace asyncio::detail
