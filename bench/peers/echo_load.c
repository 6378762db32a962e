/* Echo load generator: N connections, one message of S bytes in flight on each, for T
 * seconds; prints the round trips per second. Every byte echoed is checked against what
 * was sent (a mismatch or a short connection is an error, exit 1).
 *
 * Usage: echo_load HOST PORT CONNECTIONS MESSAGE_BYTES SECONDS
 * Single-threaded epoll, so it loads one core and leaves the other to the server. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct connection {
    int fd;
    size_t received; /* bytes of the current echo received so far */
    unsigned seed;   /* the current message's first byte */
};

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Message number `seed` of a connection is the alphabet repeated, starting at letter
 * seed % 26: a window into one precomputed pattern, so neither sending nor checking a message
 * costs more than the send and the memcmp (the generator must outpace the fastest server). */
static char* make_pattern(size_t size) {
    char* pattern = malloc(size + 26);
    for (size_t i = 0; i < size + 26; ++i) pattern[i] = (char)('a' + i % 26);
    return pattern;
}

static const char* message_for(const char* pattern, unsigned seed) { return pattern + seed % 26; }

static int send_all(int fd, const char* data, size_t size) {
    while (size > 0) {
        ssize_t n = send(fd, data, size, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) continue; /* messages are small: spin until the kernel takes it */
            return -1;
        }
        data += n;
        size -= (size_t)n;
    }
    return 0;
}

int main(int argc, char** argv) {
    if (argc != 6) {
        fprintf(stderr, "usage: %s HOST PORT CONNECTIONS MESSAGE_BYTES SECONDS\n", argv[0]);
        return 2;
    }
    const char* host = argv[1];
    const int port = atoi(argv[2]);
    const int count = atoi(argv[3]);
    const size_t size = (size_t)atol(argv[4]);
    const double seconds = atof(argv[5]);
    if (count <= 0 || size == 0 || seconds <= 0) {
        fprintf(stderr, "echo_load: connections, message size and seconds must be positive\n");
        return 2;
    }
    struct sockaddr_in address = {0};
    address.sin_family = AF_INET;
    address.sin_port = htons((unsigned short)port);
    if (inet_pton(AF_INET, host, &address.sin_addr) != 1) {
        fprintf(stderr, "echo_load: '%s' is not an IPv4 address\n", host);
        return 2;
    }
    int epoll_fd = epoll_create1(0);
    struct connection* connections = calloc((size_t)count, sizeof *connections);
    char* pattern = make_pattern(size);
    char* buffer = malloc(size);
    for (int i = 0; i < count; ++i) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (connect(fd, (struct sockaddr*)&address, sizeof address) != 0) {
            perror("echo_load: connect");
            return 1;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        int flags = SOCK_NONBLOCK;
        (void)flags;
        connections[i].fd = fd;
        connections[i].seed = (unsigned)i;
        struct epoll_event event = {.events = EPOLLIN, .data.u32 = (unsigned)i};
        epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &event);
    }
    /* Blocking sockets for the sends (small messages), readiness for the receives. */
    for (int i = 0; i < count; ++i) {
        if (send_all(connections[i].fd, message_for(pattern, connections[i].seed), size) != 0) {
            perror("echo_load: send");
            return 1;
        }
    }
    long round_trips = 0;
    const double start = now_seconds();
    const double end = start + seconds;
    struct epoll_event events[256];
    while (now_seconds() < end) {
        int ready = epoll_wait(epoll_fd, events, 256, 100);
        for (int e = 0; e < ready; ++e) {
            struct connection* c = &connections[events[e].data.u32];
            ssize_t n = recv(c->fd, buffer, size - c->received, MSG_DONTWAIT);
            if (n == 0) {
                fprintf(stderr, "echo_load: the server closed a connection\n");
                return 1;
            }
            if (n < 0) {
                if (errno == EAGAIN || errno == EINTR) continue;
                perror("echo_load: recv");
                return 1;
            }
            if (memcmp(buffer, message_for(pattern, c->seed) + c->received, (size_t)n) != 0) {
                fprintf(stderr, "echo_load: wrong bytes echoed\n");
                return 1;
            }
            c->received += (size_t)n;
            if (c->received == size) {
                ++round_trips;
                c->received = 0;
                c->seed += 1;
                if (send_all(c->fd, message_for(pattern, c->seed), size) != 0) {
                    perror("echo_load: send");
                    return 1;
                }
            }
        }
    }
    const double elapsed = now_seconds() - start;
    printf("%.0f\n", (double)round_trips / elapsed);
    for (int i = 0; i < count; ++i) close(connections[i].fd);
    free(connections);
    free(pattern);
    free(buffer);
    return 0;
}
