/* monitor.c - a socket's connections, from libzmq's socket monitor:
 * counted (connected now, accepted, connected out, disconnected,
 * handshakes, handshake failures by the reason libzmq gives) and logged
 * at info with the peer's address (connection events, JSON with
 * --log-format json).
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

typedef struct {
    int fd;
    char peer[64]; /* "1.2.3.4:5", "[::1]:5", or the endpoint (ipc) */
} s_open_t;

struct zr__monitor_t {
    void *pair; /* receives the monitored socket's events */
    /* The device's thread drains PAIR, and so does the ZAP handler's
     * (zr__monitor_admit) when the socket's limit is enforced there: one
     * at a time, under this lock (a ZeroMQ socket may change threads
     * with a full barrier between). */
    pthread_mutex_t lock;
    bool at_zap; /* max_connections: decided at the handshake */
    _Atomic uint64_t accepted, connected, disconnected, handshake_failed;
    _Atomic uint64_t handshakes, failed_no_detail, failed_protocol;
    _Atomic uint64_t failed_auth;
    const char *device, *side; /* for the log */
    void (*on_disconnect)(void *arg, int fd); /* the broker's, or NULL */
    void *arg;
    zr__log_limit_t log_limit; /* failed handshakes: a flood of garbage */
    /* [limits] connections refused: over max_connections, or on a
     * descriptor in the process's reserve (device.c, s_fd_line) */
    uint64_t max;
    int fd_line;
    _Atomic uint64_t refused_max, refused_fds;
    /* The connections open now (tcp, ipc): their descriptors (for
     * unended.c) and peers (for the log). */
    s_open_t *open;
    size_t nopen, capopen;
};

#define S_LOG_PER_SEC 20

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
    /* libzmq sends each event with a blocking send from its I/O thread:
     * at a full queue (the marks' sum, 2000) a flood of connections would
     * stall that thread until the next drain (up to ZR__LAZY_MS). With no
     * mark on this side the queue has none: it holds what a flood brings
     * in 100 ms, a few hundred bytes an event. */
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
    free(self->open);
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
    if (!why || !zr__shutdown_connection(fd)) {
        return;
    }
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

/* A connection opened on FD, to or from PEER; out of memory, it is not
 * listed. */
static void
s_open_add(zr__monitor_t *self, int fd, const char *peer)
{
    if (self->nopen == self->capopen) {
        size_t cap = self->capopen ? 2 * self->capopen : 16;
        s_open_t *open = realloc(self->open, cap * sizeof *open);
        if (!open) {
            return;
        }
        self->open = open;
        self->capopen = cap;
    }
    s_open_t *o = &self->open[self->nopen++];
    o->fd = fd;
    snprintf(o->peer, sizeof o->peer, "%.*s", (int) sizeof o->peer - 1, peer);
}

/* The connection on FD closed: its peer into PEER (LEN bytes). */
static void
s_open_remove(zr__monitor_t *self, int fd, char *peer, size_t len)
{
    snprintf(peer, len, "fd %d", fd);
    for (size_t i = 0; i < self->nopen; i++) {
        if (self->open[i].fd == fd) {
            snprintf(peer, len, "%s", self->open[i].peer);
            self->open[i] = self->open[--self->nopen];
            return;
        }
    }
}

size_t
zr__monitor_fds(zr__monitor_t *self, int *out, size_t max)
{
    pthread_mutex_lock(&self->lock);
    s_drain(self);
    size_t n = self->nopen;
    for (size_t i = 0; i < n && i < max; i++) {
        out[i] = self->open[i].fd;
    }
    pthread_mutex_unlock(&self->lock);
    return n;
}

void
zr__monitor_set_names(zr__monitor_t *self, const char *device,
                      const char *side)
{
    self->device = device;
    self->side = side;
}

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

/* libzmq's name of a protocol error (ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL's
 * value). */
static const char *
s_protocol_error(uint32_t code)
{
    static const struct {
        uint32_t code;
        const char *name;
    } names[] = {
        {ZMQ_PROTOCOL_ERROR_ZMTP_UNSPECIFIED, "zmtp unspecified"},
        {ZMQ_PROTOCOL_ERROR_ZMTP_UNEXPECTED_COMMAND, "unexpected command"},
        {ZMQ_PROTOCOL_ERROR_ZMTP_INVALID_SEQUENCE, "invalid sequence"},
        {ZMQ_PROTOCOL_ERROR_ZMTP_KEY_EXCHANGE, "key exchange"},
        {ZMQ_PROTOCOL_ERROR_ZMTP_MALFORMED_COMMAND_UNSPECIFIED,
         "malformed command"},
        {ZMQ_PROTOCOL_ERROR_ZMTP_MALFORMED_COMMAND_MESSAGE,
         "malformed MESSAGE"},
        {ZMQ_PROTOCOL_ERROR_ZMTP_MALFORMED_COMMAND_HELLO, "malformed HELLO"},
        {ZMQ_PROTOCOL_ERROR_ZMTP_MALFORMED_COMMAND_INITIATE,
         "malformed INITIATE"},
        {ZMQ_PROTOCOL_ERROR_ZMTP_MALFORMED_COMMAND_ERROR, "malformed ERROR"},
        {ZMQ_PROTOCOL_ERROR_ZMTP_MALFORMED_COMMAND_READY, "malformed READY"},
        {ZMQ_PROTOCOL_ERROR_ZMTP_MALFORMED_COMMAND_WELCOME,
         "malformed WELCOME"},
        {ZMQ_PROTOCOL_ERROR_ZMTP_INVALID_METADATA, "invalid metadata"},
        {ZMQ_PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC, "cryptographic error"},
        {ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH, "mechanism mismatch"},
        {ZMQ_PROTOCOL_ERROR_ZAP_UNSPECIFIED, "ZAP unspecified"},
        {ZMQ_PROTOCOL_ERROR_ZAP_MALFORMED_REPLY, "ZAP malformed reply"},
        {ZMQ_PROTOCOL_ERROR_ZAP_BAD_REQUEST_ID, "ZAP bad request id"},
        {ZMQ_PROTOCOL_ERROR_ZAP_BAD_VERSION, "ZAP bad version"},
        {ZMQ_PROTOCOL_ERROR_ZAP_INVALID_STATUS_CODE, "ZAP invalid status"},
        {ZMQ_PROTOCOL_ERROR_ZAP_INVALID_METADATA, "ZAP invalid metadata"},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (names[i].code == code) {
            return names[i].name;
        }
    }
    return "protocol error";
}

/* A connection event, at most S_LOG_PER_SEC a second per socket (then
 * counted only, and the count said the next second): a flood of garbage
 * cannot fill the log. */
static void
s_log_event(zr__monitor_t *self, zr_log_level_t level, const char *event,
            const char *peer, const char *endpoint, const char *reason,
            const char *text)
{
    if ((int) level >
        atomic_load_explicit(&zr__log_threshold, memory_order_relaxed)) {
        return;
    }
    const char *device = self->device ? self->device : "zrelay";
    const char *side = self->side ? self->side : "socket";
    char what[160];
    snprintf(what, sizeof what, "%s: %s: connection events", device, side);
    if (!zr__log_limit(&self->log_limit, S_LOG_PER_SEC, what)) {
        return;
    }
    const char *fields[] = {"socket",   side,   "peer", peer,
                            "endpoint", endpoint, "reason", reason,
                            NULL};
    zr__log_event(level, device, event, fields, "%s: %s%s%s%s%s", side, text,
                  peer && *peer ? " " : "", peer ? peer : "",
                  reason && *reason ? ": " : "", reason ? reason : "");
}

static void
s_event(zr__monitor_t *self, uint16_t event, uint32_t value,
        const char *address)
{
    char peer[64] = "";
    char reason[80] = "";
    switch (event) {
    case ZMQ_EVENT_ACCEPTED:
        zr__stat_add(&self->accepted, 1);
        /* Asked when the event is read (up to ZR__LAZY_MS late): a
         * connection gone by then has no peer left to name (ipc none). */
        if (zr__peer_name((int) value, peer, sizeof peer) != 0) {
            snprintf(peer, sizeof peer, "a peer gone already (fd %u)",
                     (unsigned) value);
        }
        s_open_add(self, (int) value, peer);
        s_log_event(self, ZR_LOG_INFO, "accepted", peer, address, NULL,
                    "accepted a connection from");
        s_admit(self, (int) value);
        break;
    case ZMQ_EVENT_CONNECTED:
        zr__stat_add(&self->connected, 1);
        s_open_add(self, (int) value, address);
        s_log_event(self, ZR_LOG_INFO, "connected", address, address, NULL,
                    "connected to");
        break;
    case ZMQ_EVENT_DISCONNECTED:
        zr__stat_add(&self->disconnected, 1);
        s_open_remove(self, (int) value, peer, sizeof peer);
        s_log_event(self, ZR_LOG_INFO, "disconnected", peer, address, NULL,
                    "connection closed:");
        if (self->on_disconnect) {
            self->on_disconnect(self->arg, (int) value);
        }
        break;
    case ZMQ_EVENT_HANDSHAKE_SUCCEEDED:
        zr__stat_add(&self->handshakes, 1);
        s_log_event(self, ZR_LOG_DEBUG, "handshake", NULL, address, NULL,
                    "handshake done");
        break;
    case ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL:
        zr__stat_add(&self->handshake_failed, 1);
        zr__stat_add(&self->failed_no_detail, 1);
        snprintf(reason, sizeof reason, "%s",
                 value ? zmq_strerror((int) value) : "no detail");
        s_log_event(self, ZR_LOG_INFO, "handshake_failed", NULL, address,
                    reason, "a handshake failed");
        break;
    case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL:
        zr__stat_add(&self->handshake_failed, 1);
        zr__stat_add(&self->failed_protocol, 1);
        snprintf(reason, sizeof reason, "%s", s_protocol_error(value));
        s_log_event(self, ZR_LOG_INFO, "handshake_failed", NULL, address,
                    reason, "a handshake failed");
        break;
    case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH:
        /* auth lane: auth.c logs each refusal with its peer and reason,
         * rate-limited. */
        zr__stat_add(&self->handshake_failed, 1);
        zr__stat_add(&self->failed_auth, 1);
        snprintf(reason, sizeof reason, "ZAP status %u", (unsigned) value);
        s_log_event(self, ZR_LOG_DEBUG, "handshake_failed", NULL, address,
                    reason, "a handshake refused");
        break;
    default: break;
    }
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
        s_event(self, event, value, address);
    }
}

uint64_t
zr__monitor_failed_before_zap(const zr__monitor_t *self)
{
    return self ? zr__stat_get(&self->failed_no_detail) +
                      zr__stat_get(&self->failed_protocol)
                : 0;
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
     .kind = ZR__STAT_COUNTER,
     .help = "Peers that failed the ZMTP handshake (garbage, a protocol or "
             "security mismatch): the three below together.",
     .offset = S_AT(handshake_failed)},
    {.key = "handshake_failures.no_detail",
     .metric = "handshake_failures_total",
     .labels = "reason=\"no_detail\"",
     .kind = ZR__STAT_COUNTER,
     .help = "Handshakes that failed without a protocol error: the peer "
             "closed or timed out (handshake_ivl) before it finished.",
     .offset = S_AT(failed_no_detail)},
    {.key = "handshake_failures.protocol",
     .metric = "handshake_failures_total",
     .labels = "reason=\"protocol\"",
     .kind = ZR__STAT_COUNTER,
     .help = "Handshakes that failed on a protocol error libzmq names "
             "(garbage, a mechanism mismatch, a malformed command).",
     .offset = S_AT(failed_protocol)},
    {.key = "handshake_failures.auth",
     .metric = "handshake_failures_total",
     .labels = "reason=\"auth\"",
     .kind = ZR__STAT_COUNTER,
     .help = "Handshakes the ZAP handler refused (auth.denied and "
             "max_connections say why).",
     .offset = S_AT(failed_auth)},
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
