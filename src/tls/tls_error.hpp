#pragma once

// Error texts shared by the TLS context and transport.

#include <string>

#include "asyncio/clock.hpp"

namespace asyncio::detail {

/// OpenSSL's queued errors of this thread as text ("error:0A000086:SSL routines::certificate
/// verify failed", joined with "; "), emptying the queue. `unexpected_eof` is set when one
/// of them is SSL_R_UNEXPECTED_EOF_WHILE_READING.
std::string take_openssl_errors(bool* unexpected_eof = nullptr);

/// "30 s", "250 ms": a timeout in a message.
std::string describe_duration(Duration duration);

}  // namespace asyncio::detail
