#pragma once

#include <functional>
#include <string_view>

namespace asyncio {

enum class LogLevel { debug, info, warning, error };

/// Receives every message the runtime logs (debug-mode reports, unretrieved task
/// exceptions, ...). The default sink writes `asyncio <level>: <message>` lines to stderr.
using LogSink = std::function<void(LogLevel level, std::string_view message)>;

/// Replaces the process-wide log sink; returns the previous one. An empty sink restores
/// the default.
///
/// Thread safety: safe to call from any thread; messages being logged concurrently go to
/// either the old or the new sink.
LogSink set_log_sink(LogSink sink);

/// Sends one message to the current sink.
void log(LogLevel level, std::string_view message);

}  // namespace asyncio
