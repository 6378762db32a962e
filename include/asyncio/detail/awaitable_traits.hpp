#pragma once

#include <type_traits>
#include <utility>
#include <variant>

#include "asyncio/future.hpp"
#include "asyncio/task.hpp"

namespace asyncio::detail {

/// Maps what gather(), wait() and friends accept (a Task<T> to schedule, a TaskHandle<T>,
/// a Future<T>) to a handle on a shared state.
template <class A>
struct AwaitableTraits;

template <class T>
struct AwaitableTraits<Task<T>> {
    using value_type = T;
    using handle_type = TaskHandle<T>;
    static constexpr bool owned = true;  // nobody else can see the result: move it out
    static handle_type to_handle(LoopCore& loop, Task<T>&& task) {
        return schedule_task(loop, std::move(task), std::string(), CreationSite{});
    }
};

template <class T>
struct AwaitableTraits<TaskHandle<T>> {
    using value_type = T;
    using handle_type = TaskHandle<T>;
    static constexpr bool owned = false;
    static handle_type to_handle(LoopCore&, const TaskHandle<T>& handle) { return handle; }
};

template <class T>
struct AwaitableTraits<Future<T>> {
    using value_type = T;
    using handle_type = Future<T>;
    static constexpr bool owned = false;
    static handle_type to_handle(LoopCore&, const Future<T>& future) { return future; }
};

template <class A>
using traits_of = AwaitableTraits<std::remove_cvref_t<A>>;

/// A Task<T>, TaskHandle<T> or Future<T>.
template <class A>
concept Gatherable = requires { typename traits_of<A>::handle_type; };

template <class T>
using value_or_monostate = std::conditional_t<std::is_void_v<T>, std::monostate, T>;

inline FutureStateBase* state_of(const TaskHandle<>& task) noexcept { return task.promise(); }
template <class T>
FutureStateBase* state_of(const Future<T>& future) noexcept {
    return future.state();
}

/// The value of a finished handle (after rethrowing its exception): moved out when the
/// caller owns the only handle or the type cannot be copied, copied otherwise.
template <bool Owned, class Handle>
auto take_value(const Handle& handle) {
    using T = std::remove_reference_t<decltype(handle.result())>;
    if constexpr (std::is_void_v<T>) {
        handle.result();
        return std::monostate{};
    } else if constexpr (Owned || !std::is_copy_constructible_v<T>) {
        return T(std::move(handle.result()));
    } else {
        return T(handle.result());
    }
}

}  // namespace asyncio::detail
