#include "asyncio/errors.hpp"

namespace asyncio {
namespace {

std::string group_message(const std::string& message,
                          const std::vector<std::exception_ptr>& exceptions) {
    std::string text = message + " (" + std::to_string(exceptions.size()) + " sub-exception" +
                       (exceptions.size() == 1 ? "" : "s") + ")";
    for (const auto& error : exceptions) text += "\n  - " + describe(error);
    return text;
}

}  // namespace

ExceptionGroup::ExceptionGroup(std::string message, std::vector<std::exception_ptr> exceptions)
    : Error(group_message(message, exceptions)), exceptions_(std::move(exceptions)) {}

IncompleteReadError::IncompleteReadError(std::string partial, std::size_t expected)
    : Error(std::to_string(partial.size()) + " bytes read on a total of " +
            (expected == 0 ? std::string("undefined") : std::to_string(expected)) +
            " expected bytes"),
      partial_(std::move(partial)),
      expected_(expected) {}

std::string describe(const std::exception_ptr& error) {
    if (!error) return "no exception";
    try {
        std::rethrow_exception(error);
    } catch (const BaseException& e) {
        return e.what();
    } catch (const std::exception& e) {
        return e.what();
    } catch (...) {
        return "unknown exception";
    }
}

}  // namespace asyncio
