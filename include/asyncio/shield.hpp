#pragma once

#include <type_traits>
#include <utility>

#include "asyncio/detail/awaitable_traits.hpp"

namespace asyncio {

namespace detail {

template <class Handle>
struct HandleHolder {
    Handle handle;
};

template <class Handle, bool Owned>
class [[nodiscard]] ShieldAwaiter : private HandleHolder<Handle>, public StateAwaiterBase {
public:
    explicit ShieldAwaiter(Handle handle)
        : HandleHolder<Handle>{std::move(handle)},
          StateAwaiterBase(*state_of(this->handle), /*shielded=*/true) {}

    auto await_resume() {
        check_cancelled();
        using T = typename traits_of<Handle>::value_type;
        if constexpr (std::is_void_v<T>) {
            this->handle.result();
        } else {
            return take_value<Owned>(this->handle);
        }
    }
};

}  // namespace detail

/// Awaits `awaitable` (a Task<T>, scheduled first, a TaskHandle<T> or a Future<T>) while
/// protecting it from cancellation: if the awaiting task is cancelled, it gets
/// CancelledError at once but the shielded work keeps running (Python's asyncio.shield).
/// If the shielded task is cancelled itself, the awaiter gets CancelledError too.
/// Example: `co_await asyncio::shield(save_to_disk(data));`
template <detail::Gatherable Awaitable>
auto shield(Awaitable&& awaitable) {
    using Traits = detail::traits_of<Awaitable>;
    auto handle = Traits::to_handle(detail::require_running_loop(),
                                    std::forward<Awaitable>(awaitable));
    return detail::ShieldAwaiter<typename Traits::handle_type, Traits::owned>(std::move(handle));
}

}  // namespace asyncio
