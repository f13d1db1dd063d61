/* unended.c - [limits] a connection stuck in a message that never ends
 * is closed, counted.
 * SPDX-License-Identifier: MIT
 *
 * libzmq keeps the frames of a message out of the reader's sight until
 * its last frame arrives, and its high-water mark counts whole messages:
 * a peer that sends frame after frame with MORE set grows libzmq's memory
 * (about 32 times what it sends, in empty frames) and neither the relay
 * nor the mark sees it (issue 14, probe item 3). What can be seen is the
 * connection: TCP counts the bytes it received (TCP_INFO), and libzmq
 * names the connection a message came from (ZMQ_SRCFD).
 *
 * A connection is stuck when, while the relay reads its socket all along
 * (its direction never held a message it could not send, the device not
 * paused), it received more than a whole message may take on the wire
 * (max_msg_bytes, a frame header per max_msg_frames, the kernel's receive
 * buffer) and no message of it came through: a message that ended would
 * have been read, and one over the limits is dropped anyway. It is shut
 * down (libzmq closes it and frees what it held), counted in
 * SIDE.connections.closed.unended and logged.
 *
 * Looking costs a call per message read (ZMQ_SRCFD is a lookup in the
 * message's metadata) and a getsockopt per connection and tick, so it
 * only runs while the process's resident memory is S_TRIGGER above its
 * low-water mark, for S_SPAN at most each time; the look starts afresh
 * whenever the direction stalls. tcp only: ipc has no byte count.
 */
#define _GNU_SOURCE
#include "zr_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Resident memory above its low-water mark that starts a look. */
#define S_TRIGGER ((uint64_t) 64 << 20)
/* How long one look lasts at most, in ms. */
#define S_SPAN 10000
/* ZMTP framing per frame, at most (CURVE's box included), in bytes. */
#define S_FRAME_OVERHEAD 64

/* What is known of the connection on one descriptor. */
typedef struct {
    uint64_t base; /* bytes received when its window started */
    uint32_t tick; /* the tick that last saw it open */
    bool seen;     /* a message of it came since that tick */
} s_fd_t;

struct zr__unended_t {
    zr__engine_t *engine;
    void *socket;
    zr__monitor_t *monitor;
    const char *name, *side;
    uint64_t limit;     /* wire bytes of a whole message, at most */
    uint64_t multipart; /* of a multipart one (max_msg_bytes' frames) */
    int64_t started;    /* of the look under way; 0: none */
    uint64_t low;       /* the resident memory's low-water mark */
    uint32_t tick;      /* ticks of looking, for s_fd_t.tick */
    int *fds;           /* the descriptors open now */
    size_t capfds;
    s_fd_t *by_fd;
    size_t nby_fd;
    _Atomic uint64_t closed;
    zr__log_limit_t log_limit;
};

zr__unended_t *
zr__unended_new(zr__engine_t *engine, void *socket, zr__monitor_t *monitor,
                const char *name, const char *side, uint64_t max_bytes,
                uint64_t max_frames)
{
    zr__unended_t *self = calloc(1, sizeof *self);
    if (!self) {
        errno = ENOMEM;
        return NULL;
    }
    self->engine = engine;
    self->socket = socket;
    self->monitor = monitor;
    self->name = name;
    self->side = side;
    self->multipart = self->limit = max_bytes + max_frames * S_FRAME_OVERHEAD;
    return self;
}

void
zr__unended_destroy(zr__unended_t **self_p)
{
    if (!self_p || !*self_p) {
        return;
    }
    zr__unended_t *self = *self_p;
    free(self->fds);
    free(self->by_fd);
    free(self);
    *self_p = NULL;
}

/* The process's resident memory in bytes (0 if unknown), read at most
 * once per ZR__LAZY_MS by all the devices together. */
static uint64_t
s_rss(void)
{
    static _Atomic int64_t at;
    static _Atomic uint64_t value;
    int64_t now = zr__now_ms();
    if (now - atomic_load_explicit(&at, memory_order_relaxed) < ZR__LAZY_MS) {
        return atomic_load_explicit(&value, memory_order_relaxed);
    }
    uint64_t rss = 0;
    int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        char text[128];
        ssize_t n = read(fd, text, sizeof text - 1);
        close(fd);
        unsigned long long size, pages;
        if (n > 0) {
            text[n] = 0;
            if (sscanf(text, "%llu %llu", &size, &pages) == 2) {
                rss = (uint64_t) pages * (uint64_t) sysconf(_SC_PAGESIZE);
            }
        }
    }
    atomic_store_explicit(&value, rss, memory_order_relaxed);
    atomic_store_explicit(&at, now, memory_order_relaxed);
    return rss;
}

/* Bytes FD received, or -1 (not tcp, or closed). */
static int64_t
s_received(int fd)
{
    struct tcp_info info;
    socklen_t len = sizeof info;
    memset(&info, 0, sizeof info);
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0 ||
        len < offsetof(struct tcp_info, tcpi_bytes_received) +
                  sizeof info.tcpi_bytes_received) {
        return -1;
    }
    return (int64_t) info.tcpi_bytes_received;
}

/* What a whole message may take on the wire: max_msg_bytes bounds
 * multipart messages only; a single frame may be as large as the
 * socket's ZMQ_MAXMSGSIZE (max_msg_size) allows. Where that is unlimited
 * (loopback and ipc by default) no message is too long to be a
 * legitimate one: UINT64_MAX, no look there (a 200 MiB frame on
 * loopback was cut off, attack14_unended_bigframe.py). */
static uint64_t
s_limit(const zr__unended_t *self)
{
    int64_t most = -1;
    size_t len = sizeof most;
    if (zmq_getsockopt(self->socket, ZMQ_MAXMSGSIZE, &most, &len) != 0) {
        return self->multipart;
    }
    if (most < 0) {
        return UINT64_MAX;
    }
    if ((uint64_t) most + S_FRAME_OVERHEAD <= self->multipart) {
        return self->multipart;
    }
    return (uint64_t) most + S_FRAME_OVERHEAD;
}

/* The engine's call, per message read while a look is under way. */
static void
s_seen(void *arg, zmq_msg_t *frame)
{
    zr__unended_t *self = arg;
    int fd = zmq_msg_get(frame, ZMQ_SRCFD);
    if (fd >= 0 && (size_t) fd < self->nby_fd) {
        self->by_fd[fd].seen = true;
    }
}

static void
s_stop(zr__unended_t *self, uint64_t rss)
{
    zr__engine_track(self->engine, self->socket, NULL, NULL);
    self->started = 0;
    self->low = rss;
}

/* The descriptors open now into self->fds: how many, or 0. */
static size_t
s_fds(zr__unended_t *self)
{
    size_t n = zr__monitor_fds(self->monitor, self->fds, self->capfds);
    if (n > self->capfds) {
        int *fds = realloc(self->fds, n * sizeof *fds);
        if (!fds) {
            return 0;
        }
        self->fds = fds;
        self->capfds = n;
        n = zr__monitor_fds(self->monitor, self->fds, self->capfds);
        n = n < self->capfds ? n : self->capfds;
    }
    int top = -1;
    for (size_t i = 0; i < n; i++) {
        top = self->fds[i] > top ? self->fds[i] : top;
    }
    if (top >= 0 && (size_t) top >= self->nby_fd) {
        size_t want = (size_t) top + 64;
        s_fd_t *by_fd = realloc(self->by_fd, want * sizeof *by_fd);
        if (!by_fd) {
            return 0;
        }
        memset(by_fd + self->nby_fd, 0, (want - self->nby_fd) * sizeof *by_fd);
        self->by_fd = by_fd;
        self->nby_fd = want;
    }
    return n;
}

/* Shut down FD, stuck after BYTES: libzmq closes it. */
static void
s_close(zr__unended_t *self, int fd, uint64_t bytes)
{
    if (!zr__shutdown_connection(fd)) {
        return;
    }
    zr__stat_add(&self->closed, 1);
    char what[160];
    snprintf(what, sizeof what, "%s: unended messages", self->name);
    if (zr__log_limit(&self->log_limit, 10, what)) {
        char peer[64] = "?";
        zr__peer_name(fd, peer, sizeof peer);
        ZR_LOG_I("%s: %s: closed the connection of %s: %llu bytes without "
                 "the end of a message (max_msg_bytes and max_msg_frames "
                 "allow %llu)",
                 self->name, self->side, peer, (unsigned long long) bytes,
                 (unsigned long long) self->limit);
    }
}

/* The look at the connection on FD, which received RECEIVED bytes so
 * far: its window starts afresh when a message of it came, when it is
 * new and after a stall (FRESH); it is closed when it received too much
 * in its window. */
static void
s_check(zr__unended_t *self, int fd, uint64_t received, bool fresh)
{
    s_fd_t *c = &self->by_fd[fd];
    fresh = fresh || c->tick + 1 != self->tick || c->seen || received < c->base;
    c->tick = self->tick;
    c->seen = false;
    if (fresh) {
        c->base = received;
        return;
    }
    int rcvbuf = 0;
    socklen_t len = sizeof rcvbuf;
    getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, &len);
    if (received - c->base >
        self->limit + (uint64_t) (rcvbuf > 0 ? rcvbuf : 0)) {
        s_close(self, fd, received - c->base);
        c->base = received;
    }
}

void
zr__unended_tick(void *arg)
{
    zr__unended_t *self = arg;
    uint64_t rss = s_rss();
    int64_t now = zr__now_ms();
    if (!self->started) {
        if (!self->low || rss < self->low) {
            self->low = rss;
        }
        if (rss < self->low + S_TRIGGER) {
            return;
        }
        self->limit = s_limit(self);
        if (self->limit == UINT64_MAX) {
            self->low = rss; /* frames without a bound: nothing to look for */
            return;
        }
        self->started = now;
        self->tick += 2; /* every connection starts afresh */
        zr__engine_parked(self->engine, self->socket); /* from now on */
        zr__engine_track(self->engine, self->socket, s_seen, self);
        ZR_LOG_D("%s: %s: memory grew by %llu MiB: looking for unended "
                 "messages",
                 self->name, self->side,
                 (unsigned long long) ((rss - self->low) >> 20));
    }
    if (now - self->started > S_SPAN) {
        s_stop(self, rss);
        return;
    }
    bool parked = zr__engine_parked(self->engine, self->socket);
    size_t n = s_fds(self);
    self->tick++;
    for (size_t i = 0; i < n; i++) {
        int64_t received = s_received(self->fds[i]);
        if (received >= 0) {
            s_check(self, self->fds[i], (uint64_t) received, parked);
        }
    }
}

#define S_AT(field) offsetof(zr__unended_t, field)
static const zr__stat_t s_rows[] = {
    {.key = "closed.unended",
     .metric = "connections_closed_total",
     .labels = "reason=\"unended\"",
     .kind = ZR__STAT_COUNTER,
     .help = "Connections closed for receiving more than max_msg_bytes "
             "(with max_msg_frames' headers) without the end of a message "
             "while the socket was read (tcp).",
     .offset = S_AT(closed)},
};
#undef S_AT

zr__stat_section_t
zr__unended_section(const zr__unended_t *self, const char *path,
                    const char *labels)
{
    return (zr__stat_section_t){path, labels, ZR__STAT_ROWS(s_rows), self};
}
