#include "asyncio/sync/event.hpp"

#include "sync/loop_binding.hpp"

namespace asyncio {

void Event::bind_loop(const char* operation) const {
    detail::bind_or_check_loop(loop_, loop_thread_, "Event", operation);
}

void Event::set() {
    enter("Event.set()");
    if (set_) return;
    set_ = true;
    waiters_.wake_all();
}

namespace detail {

void EventWait::await_resume() {
    // set() woke every waiter, so a waiter cancelled before resuming has nothing to hand
    // on: it raises CancelledError, as Python's `await fut` does in that case.
    if (waited_ && waiter_.await_resume()) waiter_.throw_cancelled();
}

}  // namespace detail

}  // namespace asyncio
