#include "sync/loop_binding.hpp"

#include <string>

#include "asyncio/errors.hpp"

namespace asyncio::detail {

void bind_or_check_loop(LoopCore*& loop, std::thread::id& loop_thread, const char* primitive,
                        const char* operation) {
    LoopCore* running = running_loop;
    if (loop == nullptr) {
        loop = running;
        loop_thread = std::this_thread::get_id();
        return;
    }
    if (running != nullptr) {
        throw RuntimeError(std::string(operation) + ": this " + primitive +
                           " is bound to a different event loop");
    }
    // Reading the loop from its own thread after it stopped could touch a destroyed loop;
    // from another thread the loop is still in use (a primitive must not outlive a loop
    // other threads see), and check_thread reports the misuse in debug mode.
    if (std::this_thread::get_id() != loop_thread) loop->check_thread(operation);
}

}  // namespace asyncio::detail
