/* monitor.c - connection counters for a socket, from libzmq's socket
 * monitor: connected now, accepted, connected out, disconnected,
 * handshake failures.
 * SPDX-License-Identifier: MIT
 */
#include "zr_impl.h"

#include <stddef.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <zmq.h>

struct zr__monitor_t {
    void *pair; /* receives the monitored socket's events */
    /* The device's thread drains PAIR, and so does the ZAP handler's
     * (zr__monitor_admit) when the socket's limit is enforced there: one
     * at a time, under this lock (a ZeroMQ socket may change threads
     * with a full barrier between). */
    pthread_mutex_t lock;
    bool at_zap; /* max_connections: decided at the handshake */
    _Atomic uint64_t accepted, connected, disconnected, handshake_failed;
    _Atomic uint64_t handshakes;
    void (*on_disconnect)(void *arg, int fd); /* the broker's, or NULL */
    void *arg;
    zr__log_limit_t log_limit; /* failed handshakes: a flood of garbage */
    /* [limits] connections refused: over max_connections, or on a
     * descriptor in the process's reserve (device.c, s_fd_line) */
    uint64_t max;
    int fd_line;
    _Atomic uint64_t refused_max, refused_fds;
};

#define S_LOG_PER_SEC 10

#define S_EVENTS                                                               \
    (ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_CONNECTED | ZMQ_EVENT_DISCONNECTED |       \
     ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |    \
     ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)

zr__monitor_t *
zr__monitor_new(void *ctx, void *socket)
{
    zr__monitor_t *self = calloc(1, sizeof *self);
    if (!self) {
        errno = ENOMEM;
        return NULL;
    }
    pthread_mutex_init(&self->lock, NULL);
    char endpoint[64];
    snprintf(endpoint, sizeof endpoint, "inproc://zr-monitor-%p", socket);
    if (zmq_socket_monitor(socket, endpoint, S_EVENTS) != 0) {
        free(self);
        return NULL;
    }
    self->pair = zmq_socket(ctx, ZMQ_PAIR);
    /* libzmq's I/O thread sends the events blocking (4.3.4,
     * socket_base.cpp monitor_event), holding the socket's monitor mutex:
     * a full pipe stops it, and every socket of the context with it,
     * until the events are read. They are read every ZR__LAZY_MS while
     * the device runs, and not at all once it stopped with its sockets
     * open (ctl stop), when a stranger's garbage connections (two or
     * three events each, none reaching ZAP) filled the pipe for good.
     * No HWM on the receiving side makes the pipe unbounded (an inproc
     * pipe's HWM is the sum of both sides', or none if either is 0):
     * events cost memory, not the context. */
    int zero = 0;
    if (!self->pair ||
        zmq_setsockopt(self->pair, ZMQ_LINGER, &zero, sizeof zero) != 0 ||
        zmq_setsockopt(self->pair, ZMQ_RCVHWM, &zero, sizeof zero) != 0 ||
        zmq_connect(self->pair, endpoint) != 0) {
        int err = errno;
        zr__monitor_destroy(&self, socket);
        errno = err;
        return NULL;
    }
    return self;
}

void
zr__monitor_destroy(zr__monitor_t **self_p, void *socket)
{
    if (!self_p || !*self_p) {
        return;
    }
    zr__monitor_t *self = *self_p;
    if (socket) {
        zmq_socket_monitor(socket, NULL, 0);
    }
    if (self->pair) {
        zmq_close(self->pair);
    }
    pthread_mutex_destroy(&self->lock);
    free(self);
    *self_p = NULL;
}

void *
zr__monitor_socket(zr__monitor_t *self)
{
    return self->pair;
}

/* [limits] A connection accepted on FD: over the limits, it is shut
 * down, and libzmq closes it (a DISCONNECTED event follows). libzmq gives
 * no way to refuse one; shutdown() leaves the descriptor to libzmq, so no
 * other file can get its number meanwhile. Events are read up to
 * ZR__LAZY_MS late: the connection may have closed since and its number
 * gone to a newer one, which is then the one closed (a ZeroMQ peer
 * reconnects); never a listening socket. */
static void
s_admit(zr__monitor_t *self, int fd)
{
    zr_conn_stats_t c;
    zr__monitor_stats(self, &c);
    _Atomic uint64_t *why =
        self->fd_line > 0 && fd >= self->fd_line ? &self->refused_fds
        : !self->at_zap && self->max && c.connected > self->max
            ? &self->refused_max
            : NULL;
    int listening = 1;
    socklen_t len = sizeof listening;
    if (!why ||
        getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 ||
        listening) {
        return;
    }
    shutdown(fd, SHUT_RDWR);
    zr__stat_add(why, 1);
    ZR_LOG_D("a connection refused (%s)",
             why == &self->refused_fds ? "descriptors" : "max_connections");
}

void
zr__monitor_set_limits(zr__monitor_t *self, uint64_t max, int fd_line,
                       bool at_zap)
{
    pthread_mutex_lock(&self->lock);
    self->max = max;
    self->fd_line = fd_line;
    self->at_zap = at_zap;
    pthread_mutex_unlock(&self->lock);
}

static void s_drain(zr__monitor_t *self);

void
zr__monitor_drain(void *arg)
{
    zr__monitor_t *self = arg;
    pthread_mutex_lock(&self->lock);
    s_drain(self);
    pthread_mutex_unlock(&self->lock);
}

/* [limits] From the ZAP handler's thread, about a new connection: libzmq
 * sent its ACCEPTED event before its first handshake byte was read, so
 * once the events are drained the count of open connections includes it
 * and is exact but for closes not yet reported (which only make it
 * higher). Over max_connections it is refused, before it can send
 * anything. */
bool
zr__monitor_admit(zr__monitor_t *self)
{
    pthread_mutex_lock(&self->lock);
    s_drain(self);
    zr_conn_stats_t c;
    zr__monitor_stats(self, &c);
    bool ok = !self->max || c.connected <= self->max;
    if (!ok) {
        zr__stat_add(&self->refused_max, 1);
    }
    pthread_mutex_unlock(&self->lock);
    return ok;
}

static void
s_drain(zr__monitor_t *self)
{
    for (;;) {
        /* Two frames: 2 bytes event, 4 bytes value; then the endpoint. */
        unsigned char head[6];
        char address[256];
        int n = zmq_recv(self->pair, head, sizeof head, ZMQ_DONTWAIT);
        if (n < 0) {
            return;
        }
        int a = zmq_recv(self->pair, address, sizeof address - 1, 0);
        address[a < 0 ? 0 : (a < (int) sizeof address ? a : 255)] = 0;
        if (n != (int) sizeof head) {
            continue;
        }
        uint16_t event;
        uint32_t value; /* the connection's fd for the events watched */
        memcpy(&event, head, sizeof event);
        memcpy(&value, head + 2, sizeof value);
        switch (event) {
        case ZMQ_EVENT_ACCEPTED:
            zr__stat_add(&self->accepted, 1);
            s_admit(self, (int) value);
            break;
        case ZMQ_EVENT_CONNECTED: zr__stat_add(&self->connected, 1); break;
        case ZMQ_EVENT_DISCONNECTED:
            zr__stat_add(&self->disconnected, 1);
            if (self->on_disconnect) {
                self->on_disconnect(self->arg, (int) value);
            }
            break;
        case ZMQ_EVENT_HANDSHAKE_SUCCEEDED:
            zr__stat_add(&self->handshakes, 1);
            break;
        case ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL:
        case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL:
            zr__stat_add(&self->handshake_failed, 1);
            char what[300];
            snprintf(what, sizeof what, "failed handshakes on %s", address);
            if (zr__log_limit(&self->log_limit, S_LOG_PER_SEC, what)) {
                ZR_LOG_I("handshake failed with a peer on %s", address);
            }
            break;
        case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH:
            /* auth lane: auth.c logs each refusal with its peer and
             * reason, rate-limited; one line per refusal here would let a
             * flood of strangers fill the log. */
            zr__stat_add(&self->handshake_failed, 1);
            ZR_LOG_D("handshake refused by ZAP on %s", address);
            break;
        default: break;
        }
        ZR_LOG_D("socket event 0x%x on %s", event, address);
    }
}

void
zr__monitor_on_disconnect(zr__monitor_t *self, void (*fn)(void *, int),
                          void *arg)
{
    self->on_disconnect = fn;
    self->arg = arg;
}

void
zr__monitor_stats(const zr__monitor_t *self, zr_conn_stats_t *out)
{
    zr__monitor_t *m = (zr__monitor_t *) self;
    memset(out, 0, sizeof *out);
    if (!m) {
        return;
    }
    out->accepted = atomic_load_explicit(&m->accepted, memory_order_relaxed);
    out->connected_out =
        atomic_load_explicit(&m->connected, memory_order_relaxed);
    out->disconnected =
        atomic_load_explicit(&m->disconnected, memory_order_relaxed);
    out->handshakes =
        atomic_load_explicit(&m->handshakes, memory_order_relaxed);
    out->handshake_failed =
        atomic_load_explicit(&m->handshake_failed, memory_order_relaxed);
    uint64_t opened = out->accepted + out->connected_out;
    out->connected =
        opened > out->disconnected ? opened - out->disconnected : 0;
}

static double
s_open_now(const void *base)
{
    zr_conn_stats_t c;
    zr__monitor_stats(base, &c);
    return (double) c.connected;
}

#define S_AT(field) offsetof(zr__monitor_t, field)
static const zr__stat_t s_rows[] = {
    {.key = "connected",
     .metric = "connections",
     .kind = ZR__STAT_GAUGE,
     .help = "Connections open now (accepted plus made, less closed).",
     .get = s_open_now},
    {.key = "accepted",
     .metric = "connections_accepted_total",
     .kind = ZR__STAT_COUNTER,
     .help = "Incoming connections accepted.",
     .offset = S_AT(accepted)},
    {.key = "connected_out",
     .metric = "connections_made_total",
     .kind = ZR__STAT_COUNTER,
     .help = "Outgoing connections made (by > endpoints).",
     .offset = S_AT(connected)},
    {.key = "disconnected",
     .metric = "disconnections_total",
     .kind = ZR__STAT_COUNTER,
     .help = "Connections closed or lost, failed handshakes included.",
     .offset = S_AT(disconnected)},
    {.key = "handshakes",
     .metric = "handshakes_total",
     .kind = ZR__STAT_COUNTER,
     .help = "ZMTP handshakes completed.",
     .offset = S_AT(handshakes)},
    {.key = "handshake_failed",
     .metric = "handshake_failures_total",
     .kind = ZR__STAT_COUNTER,
     .help = "Peers that failed the ZMTP handshake (garbage, a protocol or "
             "security mismatch).",
     .offset = S_AT(handshake_failed)},
    {.key = "refused.max_connections",
     .metric = "connections_refused_total",
     .labels = "reason=\"max_connections\"",
     .kind = ZR__STAT_COUNTER,
     .help = "Connections refused at their handshake (or, on a port "
             "without a ZAP domain, closed as soon as seen): more than "
             "max_connections would have been open on the socket.",
     .offset = S_AT(refused_max)},
    {.key = "refused.fds",
     .metric = "connections_refused_total",
     .labels = "reason=\"fds\"",
     .kind = ZR__STAT_COUNTER,
     .help = "Connections closed as soon as accepted: the process's file "
             "descriptors were nearly all in use (the last eighth, 32 to "
             "1024 of them, stays free for the control endpoint).",
     .offset = S_AT(refused_fds)},
};
#undef S_AT

zr__stat_section_t
zr__monitor_section(const zr__monitor_t *self, const char *path,
                    const char *labels)
{
    return (zr__stat_section_t){.path = path,
                                .labels = labels,
                                .rows = s_rows,
                                .nrows = sizeof s_rows / sizeof s_rows[0],
                                .base = self};
}
