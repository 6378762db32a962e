// What every C++ peer program uses to measure: a monotonic clock, the process's resident
// memory read from /proc/self/status (the same source the Python and Node programs read),
// and the count N from the command line.
#pragma once

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <string>

namespace bench {

inline double now_seconds() {
    using namespace std::chrono;
    return duration<double>(steady_clock::now().time_since_epoch()).count();
}

/// A "VmRSS" or "VmHWM" line of /proc/self/status, in bytes.
inline long status_bytes(const std::string& field) {
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line)) {
        if (line.rfind(field + ":", 0) == 0)
            return std::atol(line.c_str() + field.size() + 1) * 1024;
    }
    return -1;
}

inline long count_argument(int argc, char** argv, long fallback) {
    return argc > 1 ? std::atol(argv[1]) : fallback;
}

}  // namespace bench
