/* Minimal single-threaded epoll TCP echo server: the readiness model's ceiling that the
 * echo benchmark measures the other servers against. Level-triggered, non-blocking: one
 * epoll_wait per batch, then one read and one write per message, no other system calls on
 * the per-message path. A write the kernel does not take whole (rare with small messages)
 * is kept and flushed on EPOLLOUT, and the connection is not read meanwhile.
 *
 * Usage: echo_server_epoll [port] [host]   (port 0, the default, picks a free one)
 * Prints "listening on HOST PORT" (the port is the last word), then serves until killed. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

enum { buffer_size = 65536, max_events = 256 };

struct pending {
    char* data; /* bytes read but not yet written, or NULL */
    size_t size;
    size_t sent;
};

static struct pending* pendings; /* indexed by fd */
static int pending_capacity;

static struct pending* pending_for(int fd) {
    if (fd >= pending_capacity) {
        int capacity = pending_capacity ? pending_capacity : 1024;
        while (capacity <= fd) capacity *= 2;
        pendings = realloc(pendings, (size_t)capacity * sizeof *pendings);
        memset(pendings + pending_capacity, 0,
               (size_t)(capacity - pending_capacity) * sizeof *pendings);
        pending_capacity = capacity;
    }
    return &pendings[fd];
}

static void close_connection(int fd) {
    struct pending* p = pending_for(fd);
    free(p->data);
    p->data = NULL;
    close(fd); /* also removes it from the epoll set */
}

static void set_interest(int epoll_fd, int fd, unsigned events) {
    struct epoll_event event = {.events = events, .data.fd = fd};
    epoll_ctl(epoll_fd, EPOLL_CTL_MOD, fd, &event);
}

/* Writes what is pending; returns -1 on error, 0 when all is written, 1 when some is left. */
static int flush(int fd, struct pending* p) {
    while (p->sent < p->size) {
        ssize_t n = write(fd, p->data + p->sent, p->size - p->sent);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) return 1;
            return -1;
        }
        p->sent += (size_t)n;
    }
    free(p->data);
    p->data = NULL;
    return 0;
}

static void on_readable(int epoll_fd, int fd, char* buffer) {
    ssize_t n = read(fd, buffer, buffer_size);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (n <= 0) {
        close_connection(fd);
        return;
    }
    ssize_t written = write(fd, buffer, (size_t)n);
    if (written == n) return;
    if (written < 0) {
        if (errno != EAGAIN && errno != EINTR) {
            close_connection(fd);
            return;
        }
        written = 0;
    }
    struct pending* p = pending_for(fd);
    p->size = (size_t)(n - written);
    p->sent = 0;
    p->data = malloc(p->size);
    memcpy(p->data, buffer + written, p->size);
    set_interest(epoll_fd, fd, EPOLLOUT);
}

static void on_writable(int epoll_fd, int fd) {
    int result = flush(fd, pending_for(fd));
    if (result < 0) close_connection(fd);
    if (result == 0) set_interest(epoll_fd, fd, EPOLLIN);
}

static void accept_all(int epoll_fd, int listener) {
    for (;;) {
        int fd = accept4(listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            return; /* EAGAIN, or out of descriptors: try again on the next readiness */
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        pending_for(fd);
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
        fprintf(stderr, "echo_server_epoll: '%s' is not an IPv4 address\n", host);
        return 2;
    }
    int listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(listener, (struct sockaddr*)&address, sizeof address) != 0 ||
        listen(listener, 4096) != 0) {
        perror("echo_server_epoll: bind/listen");
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
            perror("echo_server_epoll: epoll_wait");
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
