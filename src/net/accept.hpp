#pragma once

#include "asyncio/net/socket.hpp"
#include "asyncio/task.hpp"

namespace asyncio::detail {

/// sock_accept() for a listener only the loop accepts from (a Server's): the backend may
/// accept ahead of this call (io_uring's multishot accept).
Task<AcceptedSocket> accept_on_owned_listener(Socket& listener);

}  // namespace asyncio::detail
