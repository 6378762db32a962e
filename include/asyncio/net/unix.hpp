#pragma once

#include <string>
#include <utility>

#include "asyncio/net/server.hpp"
#include "asyncio/net/stream.hpp"
#include "asyncio/net/tcp.hpp"
#include "asyncio/task.hpp"

namespace asyncio {

/// Connects to the Unix-domain stream socket at `path` (a leading '\0' names an abstract
/// socket) and returns its reader and writer (Python's asyncio.open_unix_connection).
/// Only `options.limit` applies.
/// Throws: ConnectionRefusedError, or OSError (ENOENT) naming the path.
Task<Stream> open_unix_connection(std::string path, ConnectOptions options);
/// The same with the default options (an overload: see open_connection).
inline Task<Stream> open_unix_connection(std::string path) {
    return open_unix_connection(std::move(path), ConnectOptions{});
}

/// Listens on the Unix-domain socket `path` (Python's asyncio.start_unix_server). An old
/// socket file at that path is removed first (unless the options say otherwise), and the
/// file is removed again when the server closes.
/// Throws: AddressInUseError, OSError naming the path.
Task<Server> start_unix_server(ClientHandler handler, std::string path, ServerOptions options);
inline Task<Server> start_unix_server(ClientHandler handler, std::string path) {
    return start_unix_server(std::move(handler), std::move(path), ServerOptions{});
}

}  // namespace asyncio
