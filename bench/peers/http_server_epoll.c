/* Minimal single-threaded epoll HTTP/1.1 "Hello, World!" server: the ceiling of the http
 * benchmark, as echo_server_epoll.c is the echo benchmark's. Level-triggered, non-blocking:
 * per batch one epoll_wait, then per connection one read, every complete request head in it
 * answered (GET / with the hello, anything else 404), and one write of the answers.
 * Requests are assumed to have no body; "Connection: close" (any case) closes after the
 * answer, as does HTTP/1.0 without keep-alive. A head split across reads is kept per
 * connection; a write the kernel does not take whole is finished on EPOLLOUT.
 *
 * Usage: http_server_epoll [port] [host]   (port 0, the default, picks a free one)
 * Prints "listening on HOST PORT" (the port is the last word), then serves until killed. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

enum { buffer_size = 65536, max_events = 256, max_head = 65536 };

static const char hello[] =
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!";
static const char not_found[] =
    "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 10\r\n\r\nNot found\n";

struct connection {
    char* input; /* bytes of an unfinished request head, or NULL */
    size_t input_size;
    char* output; /* answers the kernel has not taken yet, or NULL */
    size_t output_size;
    size_t output_sent;
    bool close_after_output;
};

static struct connection* connections; /* indexed by fd */
static int capacity;

static struct connection* connection_for(int fd) {
    if (fd >= capacity) {
        int grown = capacity ? capacity : 1024;
        while (grown <= fd) grown *= 2;
        connections = realloc(connections, (size_t)grown * sizeof *connections);
        memset(connections + capacity, 0, (size_t)(grown - capacity) * sizeof *connections);
        capacity = grown;
    }
    return &connections[fd];
}

static void close_connection(int fd) {
    struct connection* c = connection_for(fd);
    free(c->input);
    free(c->output);
    memset(c, 0, sizeof *c);
    close(fd);
}

static bool header_is(const char* line, size_t length, const char* name, const char* value) {
    size_t name_length = strlen(name);
    if (length <= name_length || strncasecmp(line, name, name_length) != 0 ||
        line[name_length] != ':') {
        return false;
    }
    const char* v = line + name_length + 1;
    const char* end = line + length;
    while (v < end && (*v == ' ' || *v == '\t')) ++v;
    while (end > v && (end[-1] == ' ' || end[-1] == '\t')) --end;
    return (size_t)(end - v) == strlen(value) && strncasecmp(v, value, strlen(value)) == 0;
}

/* One request head (without its final blank line): its answer, and whether to keep going. */
static const char* answer(const char* head, size_t size, bool* keep_alive, size_t* length) {
    const char* line_end = memmem(head, size, "\r\n", 2);
    size_t line_length = line_end ? (size_t)(line_end - head) : size;
    bool is_hello = line_length >= 14 && memcmp(head, "GET / ", 6) == 0 &&
                    memcmp(head + line_length - 8, "HTTP/1.", 7) == 0;
    *keep_alive = line_length >= 8 && memcmp(head + line_length - 8, "HTTP/1.1", 8) == 0;
    while (line_end) {
        const char* line = line_end + 2;
        size_t left = size - (size_t)(line - head);
        line_end = memmem(line, left, "\r\n", 2);
        size_t length = line_end ? (size_t)(line_end - line) : left;
        if (header_is(line, length, "connection", "close")) *keep_alive = false;
        if (header_is(line, length, "connection", "keep-alive")) *keep_alive = true;
    }
    *length = is_hello ? sizeof hello - 1 : sizeof not_found - 1;
    return is_hello ? hello : not_found;
}

static void append(char** data, size_t* size, const char* bytes, size_t n) {
    *data = realloc(*data, *size + n);
    memcpy(*data + *size, bytes, n);
    *size += n;
}

/* Writes what is pending; -1 on error, 0 when all is written, 1 when some is left. */
static int flush(int fd, struct connection* c) {
    while (c->output_sent < c->output_size) {
        ssize_t n = write(fd, c->output + c->output_sent, c->output_size - c->output_sent);
        if (n < 0) {
            if (errno == EINTR) continue;
            return errno == EAGAIN ? 1 : -1;
        }
        c->output_sent += (size_t)n;
    }
    free(c->output);
    c->output = NULL;
    c->output_size = c->output_sent = 0;
    return 0;
}

static void set_interest(int epoll_fd, int fd, unsigned events) {
    struct epoll_event event = {.events = events, .data.fd = fd};
    epoll_ctl(epoll_fd, EPOLL_CTL_MOD, fd, &event);
}

static void on_readable(int epoll_fd, int fd, char* buffer) {
    struct connection* c = connection_for(fd);
    ssize_t n = read(fd, buffer, buffer_size);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (n <= 0) {
        close_connection(fd);
        return;
    }
    const char* data = buffer;
    size_t size = (size_t)n;
    if (c->input) { /* the rest of a head split across reads */
        append(&c->input, &c->input_size, buffer, size);
        data = c->input;
        size = c->input_size;
    }
    bool keep_alive = true;
    size_t used = 0;
    for (;;) {
        const char* end = memmem(data + used, size - used, "\r\n\r\n", 4);
        if (!end) break;
        size_t length;
        const char* response =
            answer(data + used, (size_t)(end - data) - used, &keep_alive, &length);
        append(&c->output, &c->output_size, response, length);
        used = (size_t)(end - data) + 4;
        if (!keep_alive) break;
    }
    if (keep_alive && size - used > max_head) {
        close_connection(fd);
        return;
    }
    char* rest = keep_alive && used < size ? malloc(size - used) : NULL;
    if (rest) memcpy(rest, data + used, size - used);
    free(c->input);
    c->input = rest;
    c->input_size = rest ? size - used : 0;
    c->close_after_output = !keep_alive;
    int flushed = c->output ? flush(fd, c) : 0;
    if (flushed < 0 || (flushed == 0 && c->close_after_output)) {
        close_connection(fd);
    } else if (flushed > 0) {
        set_interest(epoll_fd, fd, EPOLLOUT);
    }
}

static void on_writable(int epoll_fd, int fd) {
    struct connection* c = connection_for(fd);
    int flushed = flush(fd, c);
    if (flushed < 0 || (flushed == 0 && c->close_after_output)) {
        close_connection(fd);
    } else if (flushed == 0) {
        set_interest(epoll_fd, fd, EPOLLIN);
    }
}

static void accept_all(int epoll_fd, int listener) {
    for (;;) {
        int fd = accept4(listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            return;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        connection_for(fd);
        struct epoll_event event = {.events = EPOLLIN, .data.fd = fd};
        epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &event);
    }
}

int main(int argc, char** argv) {
    const int port = argc > 1 ? atoi(argv[1]) : 0;
    const char* host = argc > 2 ? argv[2] : "127.0.0.1";
    signal(SIGPIPE, SIG_IGN);
    struct sockaddr_in address = {0};
    address.sin_family = AF_INET;
    address.sin_port = htons((unsigned short)port);
    if (inet_pton(AF_INET, host, &address.sin_addr) != 1) {
        fprintf(stderr, "http_server_epoll: '%s' is not an IPv4 address\n", host);
        return 2;
    }
    int listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(listener, (struct sockaddr*)&address, sizeof address) != 0 ||
        listen(listener, 4096) != 0) {
        perror("http_server_epoll: bind/listen");
        return 1;
    }
    socklen_t length = sizeof address;
    getsockname(listener, (struct sockaddr*)&address, &length);
    printf("listening on %s %d\n", host, ntohs(address.sin_port));
    fflush(stdout);

    int epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event event = {.events = EPOLLIN, .data.fd = listener};
    epoll_ctl(epoll_fd, EPOLL_CTL_ADD, listener, &event);
    char* buffer = malloc(buffer_size);
    struct epoll_event events[max_events];
    for (;;) {
        int ready = epoll_wait(epoll_fd, events, max_events, -1);
        if (ready < 0) {
            if (errno == EINTR) continue;
            perror("http_server_epoll: epoll_wait");
            return 1;
        }
        for (int i = 0; i < ready; ++i) {
            int fd = events[i].data.fd;
            if (fd == listener) {
                accept_all(epoll_fd, listener);
            } else if (events[i].events & EPOLLOUT) {
                on_writable(epoll_fd, fd);
            } else {
                on_readable(epoll_fd, fd, buffer);
            }
        }
    }
}
