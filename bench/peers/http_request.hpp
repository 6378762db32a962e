// The part of the HTTP "hello" servers in C++ (ours and Asio's) that is not I/O: the
// responses and a minimal parse of one request head, so both do the same work per request.
#pragma once

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <string_view>

namespace bench {

constexpr std::string_view hello_response =
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!";
constexpr std::string_view not_found_response =
    "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 10\r\n\r\nNot found\n";

inline bool equals_ignoring_case(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) ==
                      std::tolower(static_cast<unsigned char>(y));
           });
}

inline std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

struct Request {
    bool ok = false;
    bool keep_alive = true;
    bool hello = false;
};

/// The request line and the Connection header of one request head ("...\r\n\r\n").
inline Request parse(std::string_view head) {
    Request request;
    std::size_t end = head.find("\r\n");
    std::string_view line = head.substr(0, end);
    std::size_t first = line.find(' ');
    std::size_t second = line.rfind(' ');
    if (first == std::string_view::npos || second == first) return request;
    std::string_view method = line.substr(0, first);
    std::string_view target = line.substr(first + 1, second - first - 1);
    std::string_view version = line.substr(second + 1);
    request.ok = true;
    request.hello = method == "GET" && target == "/";
    request.keep_alive = version == "HTTP/1.1";
    while (end + 2 < head.size()) {
        std::size_t start = end + 2;
        end = head.find("\r\n", start);
        line = head.substr(start, end - start);
        std::size_t colon = line.find(':');
        if (colon == std::string_view::npos) continue;
        if (equals_ignoring_case(trim(line.substr(0, colon)), "connection")) {
            std::string_view value = trim(line.substr(colon + 1));
            if (equals_ignoring_case(value, "close")) request.keep_alive = false;
            if (equals_ignoring_case(value, "keep-alive")) request.keep_alive = true;
        }
    }
    return request;
}

}  // namespace bench
