#pragma once

// Turns an errno value into the typed exception Python would raise for it, with a message
// that says what was attempted, on what, and the system's reason.

#include <exception>
#include <string>

namespace asyncio::detail {

class Backend;
class LoopCore;

/// "connect to 127.0.0.1:1: Connection refused [errno 111]" as ConnectionRefusedError, etc.
std::exception_ptr make_os_error(int error, const std::string& what);
[[noreturn]] void throw_os_error(int error, const std::string& what);

/// Tells the running loop's backend (if any) to drop `fd`, then closes it.
void close_descriptor(int fd) noexcept;
/// The same with the loop the descriptor was used on (which may be gone by now).
void close_descriptor(LoopCore* loop, int fd) noexcept;
/// The backend of `loop`. Throws: RuntimeError when the loop is closed or destroyed.
Backend& backend_of_live_loop(LoopCore* loop);

}  // namespace asyncio::detail
