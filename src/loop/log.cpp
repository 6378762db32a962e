#include "asyncio/log.hpp"

#include <cstdio>
#include <memory>
#include <mutex>
#include <string>

namespace asyncio {
namespace {

std::mutex sink_mutex;
LogSink& current_sink() {
    static LogSink sink;
    return sink;
}

const char* level_name(LogLevel level) {
    switch (level) {
        case LogLevel::debug: return "debug";
        case LogLevel::info: return "info";
        case LogLevel::warning: return "warning";
        case LogLevel::error: return "error";
    }
    return "log";
}

}  // namespace

LogSink set_log_sink(LogSink sink) {
    std::lock_guard lock(sink_mutex);
    LogSink previous = std::move(current_sink());
    current_sink() = std::move(sink);
    return previous;
}

void log(LogLevel level, std::string_view message) {
    LogSink sink;
    {
        std::lock_guard lock(sink_mutex);
        sink = current_sink();
    }
    if (sink) {
        sink(level, message);
        return;
    }
    // One fwrite per line, so lines from several threads do not interleave.
    std::string line = "asyncio " + std::string(level_name(level)) + ": ";
    line.append(message);
    line.push_back('\n');
    std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace asyncio
