#pragma once

#include <exception>
#include <type_traits>
#include <utility>
#include <variant>

#include "asyncio/errors.hpp"

namespace asyncio {

/// What an awaitable gives when a result and an error are both expected outcomes: a value,
/// or the exception it threw. `gather(return_exceptions, ...)` fills one per awaitable.
/// `Result<void>` holds std::monostate as its value.
template <class T>
class Result {
public:
    using value_type = std::conditional_t<std::is_void_v<T>, std::monostate, T>;

    Result(value_type value) : outcome_(std::in_place_index<0>, std::move(value)) {}
    Result(std::exception_ptr error) : outcome_(std::in_place_index<1>, std::move(error)) {}

    bool has_value() const noexcept { return outcome_.index() == 0; }
    explicit operator bool() const noexcept { return has_value(); }

    /// The value; rethrows the exception when there is none.
    value_type& value() & {
        if (!has_value()) std::rethrow_exception(std::get<1>(outcome_));
        return std::get<0>(outcome_);
    }
    value_type&& value() && { return std::move(value()); }
    const value_type& value() const& {
        if (!has_value()) std::rethrow_exception(std::get<1>(outcome_));
        return std::get<0>(outcome_);
    }

    /// The exception, or nullptr when there is a value.
    std::exception_ptr exception() const noexcept {
        return has_value() ? nullptr : std::get<1>(outcome_);
    }

    /// True when the exception is of type E (or derived from it).
    template <class E>
    bool holds() const {
        return !has_value() && exception_is<E>(std::get<1>(outcome_));
    }

private:
    std::variant<value_type, std::exception_ptr> outcome_;
};

}  // namespace asyncio
