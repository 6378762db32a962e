#include "sync/loop_binding.hpp"

#include <string>

#include "asyncio/errors.hpp"
#include "loop/event_loop_impl.hpp"

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
        // A primitive outliving its loop (a global Lock used by one asyncio::run after
        // another) moves to the new loop, as the queues do; two live loops never share one.
        if (!loop_is_alive(loop)) {
            loop = running;
            loop_thread = std::this_thread::get_id();
            return;
        }
        throw RuntimeError(std::string(operation) + ": this " + primitive +
                           " is bound to a different event loop");
    }
    if (!loop_is_alive(loop)) return;  // its loop is gone: nothing left to check against
    // Reading the loop from its own thread after it stopped could touch a destroyed loop;
    // from another thread the loop is still in use (a primitive must not outlive a loop
    // other threads see), and check_thread reports the misuse in debug mode.
    if (std::this_thread::get_id() != loop_thread) loop->check_thread(operation);
}

}  // namespace asyncio::detail
