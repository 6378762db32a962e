#pragma once

#include <cstddef>
#include <exception>
#include <iterator>
#include <ranges>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "asyncio/detail/awaitable_traits.hpp"
#include "asyncio/detail/multi_wait.hpp"
#include "asyncio/result.hpp"

namespace asyncio {

/// Tag for the gather() overloads that return every outcome instead of throwing the first
/// error (Python's `return_exceptions=True`).
struct ReturnExceptions {
    explicit ReturnExceptions() = default;
};
inline constexpr ReturnExceptions return_exceptions{};

namespace detail {

/// Which arguments of a tuple gather() the gather alone can see (Task<T> arguments): their
/// results are moved out; shared handles and futures keep theirs.
template <bool... Owned>
struct OwnedFlags {
    template <std::size_t I>
    static constexpr bool at() noexcept {
        constexpr bool values[] = {Owned..., false};
        return values[I];
    }
};

template <bool CollectErrors, class Flags, class... Handles>
class [[nodiscard]] GatherTuple {
public:
    explicit GatherTuple(std::tuple<Handles...> handles)
        : handles_(std::move(handles)), wait_(states(), wake_policy(), true) {}

    bool await_ready() noexcept { return wait_.await_ready(); }
    bool await_suspend(std::coroutine_handle<> awaiting) { return wait_.await_suspend(awaiting); }
    auto await_resume() {
        wait_.finish_gather(CollectErrors);
        return collect(std::index_sequence_for<Handles...>{});
    }

private:
    static MultiWait::WakeWhen wake_policy() noexcept {
        return CollectErrors ? MultiWait::WakeWhen::all_done : MultiWait::WakeWhen::first_failure;
    }
    std::vector<FutureStateBase*> states() const {
        return std::apply([](const auto&... h) { return std::vector<FutureStateBase*>{state_of(h)...}; },
                          handles_);
    }
    template <std::size_t... I>
    auto collect(std::index_sequence<I...>) {
        if constexpr (CollectErrors) {
            return std::tuple<Result<typename traits_of<Handles>::value_type>...>{
                outcome<I>()...};
        } else {
            return std::tuple<value_or_monostate<typename traits_of<Handles>::value_type>...>{
                take_value<Flags::template at<I>()>(std::get<I>(handles_))...};
        }
    }
    template <std::size_t I>
    auto outcome() {
        using T = typename traits_of<std::tuple_element_t<I, std::tuple<Handles...>>>::value_type;
        auto& handle = std::get<I>(handles_);
        if (auto* state = state_of(handle); state->has_exception()) {
            return Result<T>(state->take_exception());
        }
        return Result<T>(take_value<Flags::template at<I>()>(handle));
    }

    std::tuple<Handles...> handles_;
    MultiWait wait_;
};

template <bool CollectErrors, class Handle, bool Owned>
class [[nodiscard]] GatherRange {
public:
    explicit GatherRange(std::vector<Handle> handles)
        : handles_(std::move(handles)), wait_(states(), wake_policy(), true) {}

    bool await_ready() noexcept { return wait_.await_ready(); }
    bool await_suspend(std::coroutine_handle<> awaiting) { return wait_.await_suspend(awaiting); }
    auto await_resume() {
        using T = typename traits_of<Handle>::value_type;
        wait_.finish_gather(CollectErrors);
        if constexpr (!CollectErrors) {
            std::vector<value_or_monostate<T>> values;
            values.reserve(handles_.size());
            for (auto& handle : handles_) values.push_back(take_value<Owned>(handle));
            return values;
        } else {
            std::vector<Result<T>> outcomes;
            outcomes.reserve(handles_.size());
            for (auto& handle : handles_) {
                if (auto* state = state_of(handle); state->has_exception()) {
                    outcomes.emplace_back(state->take_exception());
                } else {
                    outcomes.emplace_back(take_value<Owned>(handle));
                }
            }
            return outcomes;
        }
    }

private:
    static MultiWait::WakeWhen wake_policy() noexcept {
        return CollectErrors ? MultiWait::WakeWhen::all_done : MultiWait::WakeWhen::first_failure;
    }
    std::vector<FutureStateBase*> states() const {
        std::vector<FutureStateBase*> result;
        result.reserve(handles_.size());
        for (const auto& handle : handles_) result.push_back(state_of(handle));
        return result;
    }

    std::vector<Handle> handles_;
    MultiWait wait_;
};

template <class A>
concept GatherableRange = requires(A& range) {
    std::begin(range);
    std::end(range);
    typename traits_of<std::iter_value_t<decltype(std::begin(range))>>::handle_type;
};

template <bool CollectErrors, class... Awaitables>
auto make_gather_tuple(Awaitables&&... awaitables) {
    LoopCore& loop = require_running_loop();
    using Tuple = std::tuple<typename traits_of<Awaitables>::handle_type...>;
    // Braced initialization: children are scheduled in argument order.
    Tuple handles{traits_of<Awaitables>::to_handle(loop, std::forward<Awaitables>(awaitables))...};
    return GatherTuple<CollectErrors, OwnedFlags<traits_of<Awaitables>::owned...>,
                       typename traits_of<Awaitables>::handle_type...>(std::move(handles));
}

template <bool CollectErrors, class Range>
auto make_gather_range(Range&& range) {
    using Element = std::iter_value_t<decltype(std::begin(range))>;
    using Traits = traits_of<Element>;
    LoopCore& loop = require_running_loop();
    std::vector<typename Traits::handle_type> handles;
    if constexpr (std::ranges::sized_range<Range>) handles.reserve(std::ranges::size(range));
    for (auto&& element : range) {
        if constexpr (Traits::owned) {
            handles.push_back(Traits::to_handle(loop, std::move(element)));
        } else {
            handles.push_back(Traits::to_handle(loop, element));
        }
    }
    return GatherRange<CollectErrors, typename Traits::handle_type, Traits::owned>(
        std::move(handles));
}

}  // namespace detail

/// Runs the awaitables concurrently and gives their results as a tuple, in argument order
/// (a void result is std::monostate). Tasks are scheduled at once, in argument order.
///
/// Throws: the first exception of any awaitable, as soon as it happens; the others keep
/// running (as Python's gather without return_exceptions). A child that is cancelled counts
/// as raising CancelledError.
/// Cancellation: cancelling the awaiting task cancels every child that is not done.
/// Example: `auto [a, b] = co_await asyncio::gather(fetch(1), fetch(2));`
template <class... Awaitables>
    requires(detail::Gatherable<Awaitables> && ...)
auto gather(Awaitables&&... awaitables) {
    return detail::make_gather_tuple<false>(std::forward<Awaitables>(awaitables)...);
}

/// gather() that never throws a child's error: each slot is a Result<T> holding the value
/// or the exception (Python's `return_exceptions=True`).
/// Cancellation: as gather(); the awaiting task then gets CancelledError.
template <class... Awaitables>
    requires(detail::Gatherable<Awaitables> && ...)
auto gather(ReturnExceptions, Awaitables&&... awaitables) {
    return detail::make_gather_tuple<true>(std::forward<Awaitables>(awaitables)...);
}

/// gather() over a range (e.g. `std::vector<Task<int>>`): a vector of results in order.
/// Tasks in the range are moved out of it and scheduled.
template <detail::GatherableRange Range>
auto gather(Range&& awaitables) {
    return detail::make_gather_range<false>(std::forward<Range>(awaitables));
}

/// gather(return_exceptions, range): a vector of Result<T> in order.
template <detail::GatherableRange Range>
auto gather(ReturnExceptions, Range&& awaitables) {
    return detail::make_gather_range<true>(std::forward<Range>(awaitables));
}

}  // namespace asyncio
