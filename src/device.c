/* device.c - a device: the socket types, options and endpoints of a
 * forwarder, queue or streamer, with the engine running between them.
 * SPDX-License-Identifier: MIT
 */
#define _GNU_SOURCE
#include "zr_impl.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

enum { S_FRONTEND, S_BACKEND, S_CAPTURE, S_CONTROL, S_SYNC, S_ROLES };
static const char *s_role_names[S_ROLES] = {"frontend", "backend", "capture",
                                            "control", "sync"};

struct zr_device_t {
    void *ctx;
    bool own_ctx;
    zr_device_type_t type;
    char *name;
    zr_endpoints_t *endpoints[S_ROLES];
    void *sockets[S_ROLES];
    int sndhwm, rcvhwm; /* -1: libzmq's default */
    int64_t max_msg_size;
    int linger;
    int heartbeat_ivl, heartbeat_timeout; /* 0: off / libzmq's default */
    bool ingest_pull;                     /* forwarder: PULL frontend */
    int block_timeout; /* forwarder: -1 drop slow subscribers' messages */
    int block_ms;      /* what block_timeout becomes in block mode */
    cpu_set_t affinity;
    bool pinned;
    zr__pubsub_opts_t pubsub_opts;
    zr__pubsub_t *pubsub;
    zr__broker_opts_t broker_opts;
    zr__broker_t *broker;
    zr__monitor_t *monitors[2]; /* frontend, backend */
    zr__engine_t *engine;
    pthread_t thread;
    bool threaded;
    int thread_rc, thread_errno;
    char error[512];
};

static const struct {
    zr_device_type_t type;
    const char *name;
    int frontend, backend;
} s_types[] = {
    {ZR_FORWARDER, "forwarder", ZMQ_XSUB, ZMQ_XPUB},
    {ZR_QUEUE, "queue", ZMQ_ROUTER, ZMQ_DEALER},
    {ZR_STREAMER, "streamer", ZMQ_PULL, ZMQ_PUSH},
};
#define S_NTYPES (sizeof s_types / sizeof s_types[0])

static void s_describe(cJSON *stats, void *arg);

const char *
zr_device_type_name(zr_device_type_t type)
{
    for (size_t i = 0; i < S_NTYPES; i++) {
        if (s_types[i].type == type) {
            return s_types[i].name;
        }
    }
    return NULL;
}

int
zr_device_type_from_name(const char *name)
{
    for (size_t i = 0; name && i < S_NTYPES; i++) {
        if (strcmp(s_types[i].name, name) == 0) {
            return (int) s_types[i].type;
        }
    }
    errno = EINVAL;
    return -1;
}

zr_device_t *
zr_device_new(void *ctx, zr_device_type_t type, const char *name)
{
    const char *type_name = zr_device_type_name(type);
    if (!type_name) {
        errno = EINVAL;
        return NULL;
    }
    zr_device_t *self = calloc(1, sizeof *self);
    if (!self) {
        errno = ENOMEM;
        return NULL;
    }
    self->type = type;
    self->name = strdup(name ? name : type_name);
    self->engine = zr__engine_new();
    self->ctx = ctx; /* a context of its own is made when it opens */
    if (!self->name || !self->engine) {
        int err = errno ? errno : ENOMEM;
        zr_device_destroy(&self);
        errno = err;
        return NULL;
    }
    zr__engine_set_identity(self->engine, self->name, type_name);
    zr__engine_set_describe(self->engine, s_describe, self);
    self->sndhwm = self->rcvhwm = -1;
    self->pubsub_opts = (zr__pubsub_opts_t){.lv_max_topics = 10000,
                                            .lv_max_bytes = 64u << 20,
                                            .hold_max = 10000,
                                            .hold_max_bytes = 64u << 20,
                                            .hold_timeout = 10000};
    self->block_timeout = -1;
    self->block_ms = 1000;
    self->broker_opts = (zr__broker_opts_t){.strategy = ZR__STRATEGY_RR,
                                            .heartbeat = 1000,
                                            .liveness = 3,
                                            .busy_timeout = 30000,
                                            .retries = 3,
                                            .max_waiting = 10000,
                                            .request_timeout = 10000,
                                            .hash_frame = 0};
    self->max_msg_size = -1;
    self->linger = 1000;
    return self;
}

static void
s_close_sockets(zr_device_t *self)
{
    for (int i = 0; i < 2; i++) {
        zr__monitor_destroy(&self->monitors[i], self->sockets[i]);
    }
    for (int i = 0; i < S_ROLES; i++) {
        if (self->sockets[i]) {
            zmq_close(self->sockets[i]);
            self->sockets[i] = NULL;
        }
    }
}

void
zr_device_destroy(zr_device_t **self_p)
{
    if (!self_p || !*self_p) {
        return;
    }
    zr_device_t *self = *self_p;
    if (self->threaded) {
        zr_device_stop(self);
        zr_device_join(self);
    }
    s_close_sockets(self);
    for (int i = 0; i < S_ROLES; i++) {
        zr_endpoints_destroy(&self->endpoints[i]);
    }
    zr__pubsub_destroy(&self->pubsub);
    zr__broker_destroy(&self->broker);
    zr__engine_destroy(&self->engine);
    if (self->own_ctx && self->ctx) {
        zmq_ctx_term(self->ctx);
    }
    free(self->name);
    free(self);
    *self_p = NULL;
}

const char *
zr_device_name(const zr_device_t *self)
{
    return self->name;
}

zr_device_type_t
zr_device_type(const zr_device_t *self)
{
    return self->type;
}

const char *
zr_device_error(const zr_device_t *self)
{
    return self->error;
}

void
zr__device_errorf(zr_device_t *self, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(self->error, sizeof self->error, fmt, ap);
    va_end(ap);
}

void
zr__device_heartbeat(const zr_device_t *self, int *ivl, int *timeout)
{
    *ivl = self->heartbeat_ivl;
    *timeout = self->heartbeat_timeout;
}

static int
s_set_endpoints(zr_device_t *self, int role, const char *spec)
{
    if (self->sockets[S_FRONTEND]) {
        zr__errf(self->error, sizeof self->error,
                 "cannot change the %s of an open device", s_role_names[role]);
        errno = EBUSY;
        return -1;
    }
    zr_endpoints_t *eps =
        zr_endpoints_parse(spec, true, self->error, sizeof self->error);
    if (!eps) {
        return -1;
    }
    zr_endpoints_destroy(&self->endpoints[role]);
    self->endpoints[role] = eps;
    return 0;
}

int
zr_device_set_frontend(zr_device_t *self, const char *eps)
{
    return s_set_endpoints(self, S_FRONTEND, eps);
}

int
zr_device_set_backend(zr_device_t *self, const char *eps)
{
    return s_set_endpoints(self, S_BACKEND, eps);
}

int
zr_device_set_capture(zr_device_t *self, const char *eps)
{
    return s_set_endpoints(self, S_CAPTURE, eps);
}

int
zr_device_set_control(zr_device_t *self, const char *eps)
{
    return s_set_endpoints(self, S_CONTROL, eps);
}

static int s_check_range(zr_device_t *self, const char *what, int64_t value,
                         int64_t min);

int
zr_device_set_busy_poll(zr_device_t *self, int usecs)
{
    if (s_check_range(self, "busy poll", usecs, 0) != 0) {
        return -1;
    }
    zr__engine_set_busy_poll(self->engine, usecs);
    return 0;
}

int
zr_device_set_affinity(zr_device_t *self, const char *cpus)
{
    CPU_ZERO(&self->affinity);
    self->pinned = false;
    if (!cpus || !*cpus) {
        return 0;
    }
    const char *p = cpus;
    while (*p) {
        char *end;
        long a = strtol(p, &end, 10), b = a;
        if (end == p || a < 0 || a >= CPU_SETSIZE) {
            goto bad;
        }
        p = end;
        if (*p == '-') {
            b = strtol(p + 1, &end, 10);
            if (end == p + 1 || b < a || b >= CPU_SETSIZE) {
                goto bad;
            }
            p = end;
        }
        for (long c = a; c <= b; c++) {
            CPU_SET((int) c, &self->affinity);
        }
        if (*p == ',') {
            p++;
        }
        else if (*p) {
            goto bad;
        }
    }
    self->pinned = true;
    return 0;
bad:
    zr__errf(self->error, sizeof self->error,
             "'%s' is not a list of CPUs (1, 0,2 or 2-3)", cpus);
    errno = EINVAL;
    return -1;
}

static int
s_forwarder_only(zr_device_t *self, const char *what)
{
    if (self->type != ZR_FORWARDER) {
        zr__errf(self->error, sizeof self->error, "%s applies to a forwarder",
                 what);
        errno = EINVAL;
        return -1;
    }
    return 0;
}

int
zr_device_set_sync(zr_device_t *self, const char *eps)
{
    if (s_forwarder_only(self, "sync") != 0) {
        return -1;
    }
    return s_set_endpoints(self, S_SYNC, eps);
}

int
zr_device_set_ingest_pull(zr_device_t *self, bool pull)
{
    if (s_forwarder_only(self, "ingest") != 0) {
        return -1;
    }
    self->ingest_pull = pull;
    return 0;
}

int
zr_device_set_hold(zr_device_t *self, uint64_t until, uint64_t max_msgs,
                   uint64_t max_bytes, int timeout_msecs)
{
    if (s_forwarder_only(self, "hold_until") != 0 ||
        s_check_range(self, "hold timeout", timeout_msecs, 0) != 0) {
        return -1;
    }
    self->pubsub_opts.hold_until = until;
    self->pubsub_opts.hold_max = max_msgs;
    self->pubsub_opts.hold_max_bytes = max_bytes;
    self->pubsub_opts.hold_timeout = timeout_msecs;
    return 0;
}

int
zr_device_set_last_value(zr_device_t *self, bool on, uint64_t max_topics,
                         uint64_t max_bytes, bool all_matches)
{
    if (s_forwarder_only(self, "last_value") != 0) {
        return -1;
    }
    self->pubsub_opts.last_value = on;
    self->pubsub_opts.lv_max_topics = max_topics;
    self->pubsub_opts.lv_max_bytes = max_bytes;
    self->pubsub_opts.last_value_all = all_matches;
    return 0;
}

int
zr_device_set_max_subscriptions(zr_device_t *self, uint64_t max)
{
    if (s_forwarder_only(self, "max_subscriptions") != 0) {
        return -1;
    }
    self->pubsub_opts.max_subscriptions = max;
    return 0;
}

int
zr_device_set_slow_subscriber_block(zr_device_t *self, int timeout_msecs)
{
    if (s_forwarder_only(self, "slow_subscriber") != 0) {
        return -1;
    }
    self->block_timeout = timeout_msecs < 0 ? -1 : timeout_msecs;
    return 0;
}

zr__pubsub_opts_t *
zr__device_pubsub_opts(zr_device_t *self)
{
    return &self->pubsub_opts;
}

zr__broker_opts_t *
zr__device_broker_opts(zr_device_t *self)
{
    return self->type == ZR_QUEUE ? &self->broker_opts : NULL;
}

int
zr_device_set_strategy(zr_device_t *self, const char *strategy)
{
    static const char *names[] = {"rr", "lru", "hash"};
    if (self->type != ZR_QUEUE) {
        zr__errf(self->error, sizeof self->error,
                 "strategy applies to a queue");
        errno = EINVAL;
        return -1;
    }
    for (int i = 0; i < 3; i++) {
        if (strcmp(strategy, names[i]) == 0) {
            self->broker_opts.strategy = i;
            return 0;
        }
    }
    zr__errf(self->error, sizeof self->error, "'%s' is not one of rr|lru|hash",
             strategy);
    errno = EINVAL;
    return -1;
}

void
zr__device_slow_subscriber(zr_device_t *self, int block, int block_ms)
{
    if (block_ms >= 0) {
        self->block_ms = block_ms;
    }
    if (block >= 0) {
        self->block_timeout = block ? self->block_ms : -1;
    }
    else if (self->block_timeout >= 0) {
        self->block_timeout = self->block_ms;
    }
}

void
zr__device_hold(const zr_device_t *self, uint64_t *until, uint64_t *max_msgs,
                uint64_t *max_bytes, int *timeout)
{
    *until = self->pubsub_opts.hold_until;
    *max_msgs = self->pubsub_opts.hold_max;
    *max_bytes = self->pubsub_opts.hold_max_bytes;
    *timeout = (int) self->pubsub_opts.hold_timeout;
}

static int
s_check_range(zr_device_t *self, const char *what, int64_t value, int64_t min)
{
    if (value < min) {
        zr__errf(self->error, sizeof self->error,
                 "%s must be at least %lld, not %lld", what, (long long) min,
                 (long long) value);
        errno = EINVAL;
        return -1;
    }
    return 0;
}

int
zr_device_set_heartbeat(zr_device_t *self, int ivl_msecs, int timeout_msecs)
{
    if (s_check_range(self, "heartbeat interval", ivl_msecs, 0) != 0 ||
        s_check_range(self, "heartbeat timeout", timeout_msecs, 0) != 0) {
        return -1;
    }
    self->heartbeat_ivl = ivl_msecs;
    self->heartbeat_timeout = timeout_msecs;
    return 0;
}

int
zr_device_set_sndhwm(zr_device_t *self, int hwm)
{
    if (s_check_range(self, "sndhwm", hwm, 0) != 0) {
        return -1;
    }
    self->sndhwm = hwm;
    return 0;
}

int
zr_device_set_rcvhwm(zr_device_t *self, int hwm)
{
    if (s_check_range(self, "rcvhwm", hwm, 0) != 0) {
        return -1;
    }
    self->rcvhwm = hwm;
    return 0;
}

int
zr_device_set_max_msg_size(zr_device_t *self, int64_t bytes)
{
    if (s_check_range(self, "max-msg-size", bytes, -1) != 0) {
        return -1;
    }
    self->max_msg_size = bytes;
    return 0;
}

int
zr_device_set_linger(zr_device_t *self, int msecs)
{
    if (s_check_range(self, "linger", msecs, 0) != 0) {
        return -1;
    }
    self->linger = msecs;
    zr__engine_set_linger(self->engine, msecs);
    return 0;
}

static int
s_setopt(void *socket, int option, int value)
{
    return zmq_setsockopt(socket, option, &value, sizeof value);
}

/* Create the socket for ROLE with its options set. */
static void *
s_socket(zr_device_t *self, int role, int type)
{
    void *s = zmq_socket(self->ctx, type);
    if (!s) {
        return NULL;
    }
    s_setopt(s, ZMQ_LINGER, self->linger);
    if (role == S_FRONTEND || role == S_BACKEND) {
        if (self->sndhwm >= 0) {
            s_setopt(s, ZMQ_SNDHWM, self->sndhwm);
        }
        if (self->rcvhwm >= 0) {
            s_setopt(s, ZMQ_RCVHWM, self->rcvhwm);
        }
        if (self->max_msg_size >= 0) {
            zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &self->max_msg_size,
                           sizeof self->max_msg_size);
        }
    }
    /* A broker with a strategy watches its workers and clients anyway:
     * unless told otherwise it heartbeats ZMTP at its own pace. */
    int ivl = self->heartbeat_ivl;
    if (!ivl && self->type == ZR_QUEUE &&
        self->broker_opts.strategy != ZR__STRATEGY_RR) {
        ivl = self->broker_opts.heartbeat;
    }
    if ((role == S_FRONTEND || role == S_BACKEND) && ivl) {
        /* ZMTP heartbeats find peers that vanished without closing their
         * connection (a half-open TCP connection never errors out). */
        int timeout =
            self->heartbeat_timeout ? self->heartbeat_timeout : 3 * ivl;
        s_setopt(s, ZMQ_HEARTBEAT_IVL, ivl);
        s_setopt(s, ZMQ_HEARTBEAT_TTL, timeout);
        s_setopt(s, ZMQ_HEARTBEAT_TIMEOUT, timeout);
    }
    if (type == ZMQ_ROUTER) {
        /* A client that reconnects with its fixed identity is served
         * again instead of being refused as a duplicate. */
        s_setopt(s, ZMQ_ROUTER_HANDOVER, 1);
    }
    if (role == S_FRONTEND && type == ZMQ_XSUB) {
        /* XSUB sends subscriptions with no word at its high-water mark:
         * libzmq's dist_t skips a full pipe, and a subscription skipped
         * is lost for good. Only subscriptions go this way (the handler
         * refuses anything else), so no mark is needed to bound it. */
        s_setopt(s, ZMQ_SNDHWM, 0);
    }
    if (role == S_BACKEND && type == ZMQ_XPUB) {
        /* A subscriber the forwarder connects to gets a pipe per
         * connection, as one that connects does: otherwise libzmq keeps
         * the pipe over a reconnection, the subscriber's subscriptions
         * come again on it as duplicates, and nothing unsubscribes them
         * when it goes (the subscription table counts per connection). */
        s_setopt(s, ZMQ_IMMEDIATE, 1);
    }
    if (role == S_BACKEND && type == ZMQ_XPUB && self->block_timeout >= 0) {
        /* A slow subscriber holds the others (up to block_timeout) rather
         * than lose messages inside libzmq without a word. */
        s_setopt(s, ZMQ_XPUB_NODROP, 1);
    }
    if (role == S_CAPTURE) {
        /* A slow listener makes sends fail with EAGAIN (counted as a
         * capture drop) instead of libzmq dropping without telling. */
        s_setopt(s, ZMQ_XPUB_NODROP, 1);
    }
    return s;
}

int
zr_device_open(zr_device_t *self)
{
    if (self->sockets[S_FRONTEND]) {
        return 0;
    }
    for (int role = S_FRONTEND; role <= S_BACKEND; role++) {
        if (!self->endpoints[role]) {
            zr__errf(self->error, sizeof self->error, "no %s endpoint set",
                     s_role_names[role]);
            errno = EINVAL;
            return -1;
        }
    }
    if (!self->ctx) {
        self->ctx = zmq_ctx_new();
        self->own_ctx = true;
        if (!self->ctx) {
            zr__errf(self->error, sizeof self->error,
                     "cannot create a ZeroMQ context: %s", zmq_strerror(errno));
            return -1;
        }
    }
    size_t t = 0;
    while (s_types[t].type != self->type) {
        t++;
    }
    /* A queue with a strategy talks to workers one by one: a ROUTER. */
    int backend =
        self->type == ZR_QUEUE && self->broker_opts.strategy != ZR__STRATEGY_RR
            ? ZMQ_ROUTER
            : s_types[t].backend;
    const int types[S_ROLES] = {self->ingest_pull ? ZMQ_PULL
                                                  : s_types[t].frontend,
                                backend, ZMQ_XPUB, ZMQ_REP, ZMQ_ROUTER};
    for (int role = 0; role < S_ROLES; role++) {
        if (!self->endpoints[role]) {
            continue;
        }
        void *s = s_socket(self, role, types[role]);
        if (!s) {
            int err = errno;
            zr__errf(self->error, sizeof self->error,
                     "cannot create %s socket: %s", s_role_names[role],
                     zmq_strerror(err));
            s_close_sockets(self);
            errno = err;
            return -1;
        }
        self->sockets[role] = s;
        char err[400];
        if (zr_endpoints_attach(self->endpoints[role], s, err, sizeof err) !=
            0) {
            int e = errno;
            zr__errf(self->error, sizeof self->error, "%s", err);
            s_close_sockets(self);
            errno = e;
            return -1;
        }
    }
    for (int i = 0; i < 2; i++) {
        /* Counters are a nicety: a device runs without them. */
        self->monitors[i] = zr__monitor_new(self->ctx, self->sockets[i]);
        if (self->monitors[i]) {
            zr__engine_watch(self->engine,
                             zr__monitor_socket(self->monitors[i]),
                             zr__monitor_drain, self->monitors[i]);
        }
    }
    zr__engine_set_sockets(self->engine, self->sockets[S_FRONTEND],
                           self->sockets[S_BACKEND]);
    zr__engine_set_capture(self->engine, self->sockets[S_CAPTURE]);
    zr__engine_set_control(self->engine, self->sockets[S_CONTROL]);
    if (self->type == ZR_FORWARDER && self->block_timeout >= 0) {
        zr__engine_set_block_timeout(self->engine, self->sockets[S_BACKEND],
                                     self->block_timeout);
    }
    if (self->type == ZR_QUEUE &&
        self->broker_opts.strategy != ZR__STRATEGY_RR) {
        self->broker =
            zr__broker_new(self->engine, self->name, self->sockets[S_FRONTEND],
                           self->sockets[S_BACKEND], &self->broker_opts);
        if (!self->broker) {
            int e = errno;
            zr__errf(self->error, sizeof self->error, "%s", zmq_strerror(e));
            s_close_sockets(self);
            errno = e;
            return -1;
        }
    }
    if (self->type == ZR_FORWARDER) {
        self->pubsub =
            zr__pubsub_new(self->engine, self->name, self->sockets[S_FRONTEND],
                           self->sockets[S_BACKEND], self->sockets[S_SYNC],
                           &self->pubsub_opts);
        if (!self->pubsub) {
            int e = errno;
            zr__errf(self->error, sizeof self->error, "%s", zmq_strerror(e));
            s_close_sockets(self);
            errno = e;
            return -1;
        }
    }
    ZR_LOG_I("%s: %s open", self->name, zr_device_type_name(self->type));
    return 0;
}

int
zr_device_socket_type(const zr_device_t *self, const char *role)
{
    for (int r = 0; r < S_ROLES; r++) {
        if (strcmp(role, s_role_names[r]) == 0 && self->sockets[r]) {
            int type = -1;
            size_t len = sizeof type;
            zmq_getsockopt(self->sockets[r], ZMQ_TYPE, &type, &len);
            return type;
        }
    }
    errno = EINVAL;
    return -1;
}

size_t
zr_device_endpoint_count(const zr_device_t *self)
{
    size_t n = 0;
    for (int role = 0; role < S_ROLES; role++) {
        n += zr_endpoints_size(self->endpoints[role]);
    }
    return n;
}

int
zr_device_endpoint(const zr_device_t *self, size_t i, const char **role,
                   bool *bind, const char **address)
{
    for (int r = 0; r < S_ROLES; r++) {
        size_t n = zr_endpoints_size(self->endpoints[r]);
        if (i < n) {
            if (role) {
                *role = s_role_names[r];
            }
            if (bind) {
                *bind = zr_endpoints_is_bind(self->endpoints[r], i);
            }
            if (address) {
                *address = zr_endpoints_resolved(self->endpoints[r], i);
            }
            return 0;
        }
        i -= n;
    }
    errno = EINVAL;
    return -1;
}

/* Pin the calling thread, if asked; a failure is worth a warning, not a
 * refusal to run. */
static void
s_pin(zr_device_t *self)
{
    if (self->pinned &&
        pthread_setaffinity_np(pthread_self(), sizeof self->affinity,
                               &self->affinity) != 0) {
        ZR_LOG_W("%s: cannot pin the relay thread to the CPUs asked for",
                 self->name);
    }
}

int
zr_device_run(zr_device_t *self)
{
    if (zr_device_open(self) != 0) {
        return -1;
    }
    ZR_LOG_I("%s: running", self->name);
    s_pin(self);
    int rc = zr__engine_run(self->engine);
    int err = errno;
    ZR_LOG_I("%s: stopped", self->name);
    if (rc != 0) {
        zr__errf(self->error, sizeof self->error, "relay stopped: %s",
                 zmq_strerror(err));
        errno = err;
    }
    return rc;
}

static void *
s_thread_main(void *arg)
{
    zr_device_t *self = arg;
    s_pin(self);
    self->thread_rc = zr__engine_run(self->engine);
    self->thread_errno = errno;
    return NULL;
}

int
zr_device_start(zr_device_t *self)
{
    if (self->threaded) {
        errno = EBUSY;
        return -1;
    }
    if (zr_device_open(self) != 0) {
        return -1;
    }
    /* Signals belong to the application's thread, not the relay's. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int rc = pthread_create(&self->thread, NULL, s_thread_main, self);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        zr__errf(self->error, sizeof self->error, "cannot start thread: %s",
                 zmq_strerror(rc));
        errno = rc;
        return -1;
    }
    self->threaded = true;
    return 0;
}

int
zr_device_join(zr_device_t *self)
{
    if (!self->threaded) {
        errno = EINVAL;
        return -1;
    }
    pthread_join(self->thread, NULL);
    self->threaded = false;
    errno = self->thread_errno;
    return self->thread_rc;
}

void
zr_device_stop(zr_device_t *self)
{
    zr__engine_stop(self->engine);
}

void
zr_device_pause(zr_device_t *self)
{
    zr__engine_pause(self->engine, true);
}

void
zr_device_resume(zr_device_t *self)
{
    zr__engine_pause(self->engine, false);
}

void
zr_device_stats(const zr_device_t *self, zr_stats_t *stats)
{
    zr__engine_stats(self->engine, stats);
    zr__monitor_stats(self->monitors[0], &stats->frontend.conns);
    zr__monitor_stats(self->monitors[1], &stats->backend.conns);
}

static void
s_conns_json(cJSON *side, const zr__monitor_t *monitor)
{
    zr_conn_stats_t c;
    zr__monitor_stats(monitor, &c);
    cJSON *o = cJSON_AddObjectToObject(side, "connections");
    cJSON_AddNumberToObject(o, "connected", (double) c.connected);
    cJSON_AddNumberToObject(o, "accepted", (double) c.accepted);
    cJSON_AddNumberToObject(o, "connected_out", (double) c.connected_out);
    cJSON_AddNumberToObject(o, "disconnected", (double) c.disconnected);
    cJSON_AddNumberToObject(o, "handshakes", (double) c.handshakes);
    cJSON_AddNumberToObject(o, "handshake_failed", (double) c.handshake_failed);
}

/* STATS: the engine's counters, plus what only the device knows. */
static void
s_describe(cJSON *stats, void *arg)
{
    zr_device_t *self = arg;
    s_conns_json(cJSON_GetObjectItem(stats, "frontend"), self->monitors[0]);
    s_conns_json(cJSON_GetObjectItem(stats, "backend"), self->monitors[1]);
    if (self->pubsub) {
        zr__pubsub_describe(self->pubsub, stats);
    }
    if (self->broker) {
        zr__broker_describe(self->broker, stats);
    }
}

char *
zr_device_stats_json(const zr_device_t *self)
{
    return zr__engine_stats_json(self->engine);
}
