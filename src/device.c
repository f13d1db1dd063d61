/* device.c - a device: the socket types, options and endpoints of a
 * forwarder, queue or streamer, with the engine running between them;
 * or of a majordomo, one ROUTER (its frontend) that the engine reads and
 * sends on, with the Majordomo handler (mdp.c).
 * SPDX-License-Identifier: MIT
 */
#define _GNU_SOURCE
#include "zr_impl.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
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
    int router_handover;                  /* ZR__HANDOVER_* */
    bool ingest_pull;                     /* forwarder: PULL frontend */
    int block_timeout; /* forwarder: -1 drop slow subscribers' messages */
    int block_ms;      /* what block_timeout becomes in block mode */
    cpu_set_t affinity;
    bool pinned;
    zr__pubsub_opts_t pubsub_opts;
    zr__pubsub_t *pubsub;
    zr__broker_opts_t broker_opts;
    zr__broker_t *broker;
    zr__mdp_t *mdp; /* a majordomo's handler */
    char *peers, *peer_bind; /* [federation] a majordomo's, a queue's */
    zr__fed_t *fed;
    zr__ha_opts_t ha_opts; /* [ha] a primary/backup pair (ha.c) */
    zr__ha_t *ha;
    /* A majordomo's durable requests (titanic.c); DIR owned here. */
    zr__titanic_opts_t titanic_opts;
    char *titanic_dir;
    zr__limits_t limits;        /* [limits] */
    zr__monitor_t *monitors[S_ROLES]; /* by role, where there is one */
    zr__unended_t *unended[2];  /* [limits] their unended messages */
    zr__ctl_ops_t ctl;          /* its own control endpoint */
    zr__ctl_counts_t ctl_counts;
    zr__auth_t *auth;   /* auth lane: its policy (auth.c) */
    bool zap_sides[2];  /* auth lane: bound and secured */
    bool zap_domain[2]; /* bound with a ZAP domain: limits decided there */
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
    /* One socket: the frontend; it has no backend. */
    {ZR_MAJORDOMO, "majordomo", ZMQ_ROUTER, -1},
};
#define S_NTYPES (sizeof s_types / sizeof s_types[0])

/* [limits] What a stranger can cost a device, by default (issue 14;
 * zrelay(1) LIMITS says why each). A frame: libzmq allocates what a peer
 * announces, so a socket bound beyond loopback and ipc takes frames of at
 * most S_NET_MAX_MSG_SIZE unless max_msg_size says otherwise. */
#define S_NET_MAX_MSG_SIZE (32 << 20)
#define S_COMMAND_MAX (64 << 10) /* a frame to the control or sync port */
#define S_DEFAULT_MAX_MSG_FRAMES 1000
#define S_DEFAULT_MAX_MSG_BYTES (64u << 20)
#define S_DEFAULT_MAX_CONNECTIONS 10000
#define S_DEFAULT_HANDSHAKE_IVL 5000
#define S_DEFAULT_MAX_SUBSCRIPTION_SIZE 256
#define S_DEFAULT_MAX_PEER_SUBSCRIPTIONS 1000
#define S_DEFAULT_MAX_SUBSCRIPTIONS 10000

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
    zr__log_device(self->name, true); /* JSON lines name it */
    zr__engine_set_identity(self->engine, self->name, type_name);
    self->sndhwm = self->rcvhwm = -1;
    self->pubsub_opts =
        (zr__pubsub_opts_t){.lv_max_topics = 10000,
                            .lv_max_bytes = 64u << 20,
                            .hold_max = 10000,
                            .hold_max_bytes = 64u << 20,
                            .hold_timeout = 10000,
                            .max_subscriptions = S_DEFAULT_MAX_SUBSCRIPTIONS};
    self->limits = (zr__limits_t){.max_msg_frames = S_DEFAULT_MAX_MSG_FRAMES,
                                  .max_msg_bytes = S_DEFAULT_MAX_MSG_BYTES,
                                  .max_connections = S_DEFAULT_MAX_CONNECTIONS,
                                  .handshake_ivl = S_DEFAULT_HANDSHAKE_IVL,
                                  .max_subscription_size =
                                      S_DEFAULT_MAX_SUBSCRIPTION_SIZE,
                                  .max_peer_subscriptions =
                                      S_DEFAULT_MAX_PEER_SUBSCRIPTIONS,
                                  .refuse_unversioned = true};
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
    if (type == ZR_MAJORDOMO) {
        self->broker_opts.heartbeat = 2500; /* RFC 7's example values */
    }
    self->ha_opts =
        (zr__ha_opts_t){.role = ZR__HA_OFF, .heartbeat = 1000, .sync = -1};
    self->titanic_opts.max_bytes = 1024ULL * 1024 * 1024;
    self->max_msg_size = -1;
    self->linger = 1000;
    self->router_handover = ZR__HANDOVER_WORKERS;
    return self;
}

/* The auth lane's name of role I (frontend, backend, other). */
static int
s_auth_side(int i)
{
    return i == S_FRONTEND  ? ZR__AUTH_FRONTEND
           : i == S_BACKEND ? ZR__AUTH_BACKEND
                            : -1;
}

static void
s_close_sockets(zr_device_t *self)
{
    zr__ha_destroy(&self->ha); /* [ha] its own sockets */
    for (int i = 0; i < S_ROLES; i++) {
        if (i < 2) {
            zr__auth_set_monitor(self->auth, s_auth_side(i), NULL);
            zr__unended_destroy(&self->unended[i]);
        }
        zr__monitor_destroy(&self->monitors[i], self->sockets[i]);
    }
    for (int i = 0; i < S_ROLES; i++) {
        if (self->sockets[i]) {
            zmq_close(self->sockets[i]);
            self->sockets[i] = NULL;
        }
    }
    zr__auth_close(self->auth); /* auth lane: leave the ZAP handler */
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
    zr_endpoints_destroy(&self->ha_opts.bind);
    zr_endpoints_destroy(&self->ha_opts.peer);
    zr_endpoints_destroy(&self->ha_opts.sync_bind); /* [ha_sync] */
    zr_endpoints_destroy(&self->ha_opts.sync_peer);
    zr__pubsub_destroy(&self->pubsub);
    zr__broker_destroy(&self->broker);
    zr__fed_destroy(&self->fed); /* [federation] */
    free(self->peers);
    free(self->peer_bind);
    zr__mdp_destroy(&self->mdp);
    zr__engine_destroy(&self->engine);
    zr__auth_destroy(&self->auth);
    if (self->own_ctx && self->ctx) {
        zmq_ctx_term(self->ctx);
    }
    if (self->name && self->engine) {
        zr__log_device(self->name, false);
    }
    free(self->titanic_dir);
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
    if (self->type == ZR_MAJORDOMO) {
        zr__errf(self->error, sizeof self->error,
                 "a majordomo has one socket, its frontend: no backend");
        errno = EINVAL;
        return -1;
    }
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

zr__limits_t *
zr__device_limits(zr_device_t *self)
{
    return &self->limits;
}

zr__ha_opts_t *
zr__device_ha_opts(zr_device_t *self)
{
    if (self->type != ZR_QUEUE && self->type != ZR_MAJORDOMO) {
        zr__errf(self->error, sizeof self->error,
                 "ha (a primary/backup pair) is for a queue or a majordomo, "
                 "not a %s",
                 zr_device_type_name(self->type));
        errno = EINVAL;
        return NULL;
    }
    return &self->ha_opts;
}

int
zr__device_check_ha(zr_device_t *self, char *err, size_t errlen)
{
    if (zr__ha_check(&self->ha_opts, err, errlen) != 0) {
        return -1;
    }
    /* [ha_sync] Titanic on a pair replicates: it needs the link. */
    bool ha = self->ha_opts.role != ZR__HA_OFF;
    bool titanic = self->titanic_opts.dir != NULL;
    bool link = self->ha_opts.sync_bind || self->ha_opts.sync_peer;
    if ((!ha || !titanic) && (link || self->ha_opts.sync >= 0)) {
        zr__errf(err, errlen,
                 "ha_sync, ha_sync_bind and ha_sync_peer are for a majordomo "
                 "with both ha and titanic");
        errno = EINVAL;
        return -1;
    }
    if (ha && titanic &&
        (!self->ha_opts.sync_bind || !self->ha_opts.sync_peer)) {
        zr__errf(err, errlen,
                 "ha with titanic needs ha_sync_bind (this node's "
                 "replication endpoint) and ha_sync_peer (the other "
                 "node's): the passive node keeps a copy of the store "
                 "(docs/SCALING.md)");
        errno = EINVAL;
        return -1;
    }
    /* [federation] hash keeps a key on its worker, and rr has no broker
     * to hold a request while no worker is ready. */
    if (self->type == ZR_QUEUE && (self->peers || self->peer_bind) &&
        self->broker_opts.strategy != ZR__STRATEGY_LRU) {
        zr__errf(err, errlen,
                 "peers and peer_bind on a queue need strategy = lru (hash "
                 "keeps each key on one worker; without a strategy no "
                 "broker holds a request for a peer) (docs/SCALING.md)");
        errno = EINVAL;
        return -1;
    }
    /* [federation] A passive node would advertise workers it does not
     * serve and drop its peers' requests unanswered. */
    if (self->ha_opts.role != ZR__HA_OFF && (self->peers || self->peer_bind)) {
        zr__errf(err, errlen,
                 "ha and peers do not go together yet: a passive node would "
                 "drop the requests its peers send it (docs/SCALING.md)");
        errno = EINVAL;
        return -1;
    }
    return 0;
}

zr__titanic_opts_t *
zr__device_titanic_opts(zr_device_t *self)
{
    return self->type == ZR_MAJORDOMO ? &self->titanic_opts : NULL;
}

int
zr__device_set_titanic_dir(zr_device_t *self, const char *dir)
{
    char *copy = self->type == ZR_MAJORDOMO && dir && *dir ? strdup(dir) : NULL;
    if (!copy) {
        zr__errf(self->error, sizeof self->error,
                 self->type == ZR_MAJORDOMO ? "titanic: a directory is expected"
                                            : "titanic applies to a majordomo");
        errno = EINVAL;
        return -1;
    }
    free(self->titanic_dir);
    self->titanic_dir = copy;
    self->titanic_opts.dir = copy;
    return 0;
}

zr__broker_opts_t *
zr__device_broker_opts(zr_device_t *self)
{
    return self->type == ZR_QUEUE || self->type == ZR_MAJORDOMO
               ? &self->broker_opts
               : NULL;
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

/* [federation] A majordomo's or lru queue's peers and state endpoint
 * (fed.c). */
int
zr__device_set_federation(zr_device_t *self, bool bind, const char *value)
{
    if (self->type != ZR_MAJORDOMO && self->type != ZR_QUEUE) {
        zr__device_errorf(self,
                          "%s: only a majordomo or a queue with strategy = "
                          "lru federates",
                          bind ? "peer_bind" : "peers");
        errno = EINVAL;
        return -1;
    }
    char err[256];
    zr_endpoints_t *eps =
        value && *value ? zr_endpoints_parse(value, bind, err, sizeof err)
                        : NULL;
    if (value && *value && !eps) {
        zr__device_errorf(self, "%s: %s", bind ? "peer_bind" : "peers", err);
        errno = EINVAL;
        return -1;
    }
    zr_endpoints_destroy(&eps);
    char **field = bind ? &self->peer_bind : &self->peers;
    char *copy = value && *value ? strdup(value) : NULL;
    if (value && *value && !copy) {
        errno = ENOMEM;
        return -1;
    }
    free(*field);
    *field = copy;
    return 0;
}

int
zr__device_router_handover(zr_device_t *self, int which)
{
    self->router_handover = which;
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

/* slow_subscriber = drop: how long a subscriber's full queue may hold
 * the forwarder before its message goes the lossy way. Enough for the
 * relay's I/O thread to catch up (at full speed over tcp the loop outruns
 * it: 18-29 % lost with no grace, none with it; docs/PERFORMANCE.md),
 * too short for a stalled subscriber to slow the others much. */
#define S_DROP_GRACE_MS 1
/* The largest ZMTP handshake command a peer sends (a CURVE INITIATE with
 * a 255-byte identity, a PLAIN HELLO with a 255-byte user and password),
 * with room to spare. */
#define S_HANDSHAKE_MAX 1024
/* libzmq 4.3.4's largest ZMQ_HEARTBEAT_TTL (65535 deciseconds). */
#define S_MAX_TTL 6553599
/* A broker's clients without ZMTP heartbeats: TCP keepalive (seconds). */
#define S_KEEPALIVE_IDLE 60
#define S_KEEPALIVE_INTVL 10
#define S_KEEPALIVE_CNT 3

static int
s_setopt(void *socket, int option, int value)
{
    return zmq_setsockopt(socket, option, &value, sizeof value);
}

/* [limits] Descriptors a device leaves free for the rest of the process:
 * a connection accepted on a descriptor at or above the line is closed
 * at once (connections.refused, reason fds), so that the control
 * endpoint, new sockets and files still get one. libzmq 4.3.4 spins in
 * accept() at EMFILE (tcp_listener.cpp: the listening socket stays
 * readable), serving nobody; this keeps it from getting there. */
#define S_FD_RESERVE_MIN 32
#define S_FD_RESERVE_MAX 1024

static int
s_fd_line(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY ||
        rl.rlim_cur > INT32_MAX) {
        return 0;
    }
    int64_t cur = (int64_t) rl.rlim_cur, keep = cur / 8;
    keep = keep < S_FD_RESERVE_MIN   ? S_FD_RESERVE_MIN
           : keep > S_FD_RESERVE_MAX ? S_FD_RESERVE_MAX
                                     : keep;
    return cur > keep ? (int) (cur - keep) : 1;
}

/* [limits] Where a socket meets strangers: an endpoint bound on anything
 * but loopback, ipc or inproc. */
static bool
s_exposed(const zr_endpoints_t *eps)
{
    for (size_t i = 0; i < zr_endpoints_size(eps); i++) {
        const char *a = zr_endpoints_address(eps, i);
        const char *host = strstr(a, "://");
        host = host ? host + 3 : a;
        if (!zr_endpoints_is_bind(eps, i) || strncmp(a, "ipc://", 6) == 0 ||
            strncmp(a, "inproc://", 9) == 0 || strncmp(host, "127.", 4) == 0 ||
            strncmp(host, "[::1]", 5) == 0 ||
            strncmp(host, "localhost:", 10) == 0 ||
            strncmp(host, "lo:", 3) == 0) {
            continue;
        }
        return true;
    }
    return false;
}

/* [limits] The limits libzmq enforces on socket S of ROLE and TYPE. */
static void
s_limits(zr_device_t *self, void *s, int role, int type)
{
    /* A peer that never finishes its handshake (an idle connection,
     * garbage, a slow-loris) is dropped after this. */
    s_setopt(s, ZMQ_HANDSHAKE_IVL, self->limits.handshake_ivl);
    if (role == S_CONTROL || role == S_SYNC) {
        /* Commands and sync requests are short. */
        int64_t most = S_COMMAND_MAX;
        zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &most, sizeof most);
    }
    if (role == S_FRONTEND || role == S_BACKEND) {
        if (self->max_msg_size < 0 && s_exposed(self->endpoints[role])) {
            int64_t most = S_NET_MAX_MSG_SIZE;
            zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &most, sizeof most);
        }
    }
    /* The longest message an XPUB takes from its subscribers. Only
     * subscriptions come that way, and libzmq 4.3.4 walks a
     * subscription's topic recursively, a stack frame per byte, where it
     * applies it and where it forgets it: a subscriber that sent a
     * ~120 kB subscription crashed the relay (SIGSEGV, stack overflow),
     * and the publishers it is passed on to. Its tries also keep a node
     * per byte of every topic (33-65 times the subscription's size,
     * measured). libzmq disconnects a subscriber that sends more. */
    /* libzmq applies the limit to the handshake's commands too (a CURVE
     * INITIATE, a PLAIN HELLO: up to about 600 bytes), so it stays above
     * S_HANDSHAKE_MAX; a shorter max_subscription_size is the
     * subscription table's to refuse (counted as refused, subs.c). */
    int64_t sub = self->limits.max_subscription_size;
    if (sub < S_HANDSHAKE_MAX) {
        sub = S_HANDSHAKE_MAX;
    }
    if (type == ZMQ_XPUB &&
        (self->max_msg_size < 0 || self->max_msg_size > sub)) {
        int64_t most = sub + 1; /* the 1/0 byte and a topic */
        zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &most, sizeof most);
    }
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
        else if (self->type == ZR_QUEUE && role == S_BACKEND &&
                 type == ZMQ_DEALER) {
            /* rr: a REP worker drops a reply, silently, when its pipe to
             * the relay is full. The relay stops reading replies while
             * one waits for a client's full pipe, and meanwhile keeps
             * sending requests, so replies pile up to as many as there
             * are requests in flight: the clients' windows, which no
             * fixed HWM covers. Unbounded, that queue holds one reply per
             * request in flight (docs/BROKER.md). */
            s_setopt(s, ZMQ_RCVHWM, 0);
        }
        if (self->max_msg_size >= 0) {
            zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &self->max_msg_size,
                           sizeof self->max_msg_size);
        }
    }
    /* ZMTP heartbeats find peers that vanished without closing their
     * connection (a half-open TCP connection never errors out). Asked
     * for (heartbeat_ivl), they run on both sides. Unasked, a broker with
     * a strategy heartbeats its workers at its own pace, and leaves its
     * clients to TCP keepalive: libzmq 4.3.4 walks all the timers of its
     * I/O thread to cancel one (poller_base_t::cancel_timer), which every
     * heartbeat answered does, so heartbeats on thousands of clients cost
     * O(peers^2) a second and stopped a broker near 9,000 peers
     * (docs/PERFORMANCE.md, Scale). The kernel's keepalive costs libzmq
     * nothing and closes an idle dead client's connection within
     * S_KEEPALIVE_IDLE + S_KEEPALIVE_CNT * S_KEEPALIVE_INTVL seconds. */
    int ivl = self->heartbeat_ivl;
    bool broker =
        self->type == ZR_QUEUE && self->broker_opts.strategy != ZR__STRATEGY_RR;
    /* A majordomo heartbeats its workers in MDP; its clients, on the same
     * socket, get TCP keepalive as a broker's frontend does. */
    broker = broker || self->type == ZR_MAJORDOMO;
    if (!ivl && broker && role == S_BACKEND) {
        ivl = self->broker_opts.heartbeat;
    }
    if ((role == S_FRONTEND || role == S_BACKEND) && ivl) {
        /* In 64 bits: 3 * ivl overflowed an int from ivl 715,827,883 on.
         * libzmq's TTL is 16-bit deciseconds: beyond, it refuses it. */
        int64_t timeout = self->heartbeat_timeout ? self->heartbeat_timeout
                                                  : 3 * (int64_t) ivl;
        timeout = timeout < INT32_MAX ? timeout : INT32_MAX;
        s_setopt(s, ZMQ_HEARTBEAT_IVL, ivl);
        s_setopt(s, ZMQ_HEARTBEAT_TTL,
                 (int) (timeout < S_MAX_TTL ? timeout : S_MAX_TTL));
        s_setopt(s, ZMQ_HEARTBEAT_TIMEOUT, (int) timeout);
    }
    else if (broker && role == S_FRONTEND) {
        s_setopt(s, ZMQ_TCP_KEEPALIVE, 1);
        s_setopt(s, ZMQ_TCP_KEEPALIVE_IDLE, S_KEEPALIVE_IDLE);
        s_setopt(s, ZMQ_TCP_KEEPALIVE_INTVL, S_KEEPALIVE_INTVL);
        s_setopt(s, ZMQ_TCP_KEEPALIVE_CNT, S_KEEPALIVE_CNT);
    }
    /* --- issue 14.2: handover where it is safe (router_handover). With
     * it, a peer that connects with a connected peer's identity ("alice",
     * or an anonymous one read in a request's envelope) takes over its
     * pipe and what is sent to it: on the clients' side, their replies.
     * Without it libzmq refuses the newcomer that identity while the
     * first is connected. The workers' side keeps it by default: a worker
     * that reconnects at once with its identity is served (ATTACK12), and
     * a peer there gets requests by saying READY anyway. */
    if (type == ZMQ_ROUTER && (role == S_FRONTEND || role == S_BACKEND)) {
        int from = role == S_BACKEND ? ZR__HANDOVER_WORKERS : ZR__HANDOVER_ALL;
        s_setopt(s, ZMQ_ROUTER_HANDOVER, self->router_handover >= from);
    }
    /* --- end issue 14.2 */
    if (role == S_FRONTEND && type == ZMQ_XSUB) {
        /* XSUB sends subscriptions with no word at its high-water mark:
         * libzmq's dist_t skips a full pipe, and a subscription skipped
         * is lost for good. Only subscriptions go this way (the handler
         * refuses anything else), so no mark is needed to bound it. */
        s_setopt(s, ZMQ_SNDHWM, 0);
    }
    s_limits(self, s, role, type);
    if (role == S_BACKEND && type == ZMQ_XPUB) {
        /* A subscriber the forwarder connects to gets a pipe per
         * connection, as one that connects does: otherwise libzmq keeps
         * the pipe over a reconnection, the subscriber's subscriptions
         * come again on it as duplicates, and nothing unsubscribes them
         * when it goes (the subscription table counts per connection). */
        s_setopt(s, ZMQ_IMMEDIATE, 1);
    }
    if (role == S_BACKEND && type == ZMQ_XPUB) {
        /* A message for a subscriber whose pipe is full is refused, not
         * lost inside libzmq without a word: the outlet waits for room up
         * to S_DROP_GRACE_MS (drop) or block_timeout (block), then sends
         * it the lossy way and counts the overflow. */
        s_setopt(s, ZMQ_XPUB_NODROP, 1);
    }
    if (role == S_CAPTURE) {
        /* A slow listener makes sends fail with EAGAIN (counted as a
         * capture drop) instead of libzmq dropping without telling. */
        s_setopt(s, ZMQ_XPUB_NODROP, 1);
    }
    if (role == S_CONTROL) {
        s_setopt(s, ZMQ_ROUTER_MANDATORY, 1); /* as zr__ctl_socket */
    }
    return s;
}

/* At stop, a one-way device stops taking new messages before it
 * delivers what it holds: it unbinds and disconnects its frontend, so
 * producers keep what they have not sent yet (a connecting producer sends
 * it to the next relay on that port). What the frontend already queued
 * stays readable and is delivered. A queue keeps its frontend: replies to
 * requests in flight still go to their clients. */
static void
s_close_intake(void *arg)
{
    zr_device_t *self = arg;
    zr_endpoints_t *eps = self->endpoints[S_FRONTEND];
    void *socket = self->sockets[S_FRONTEND];
    for (size_t i = 0; i < zr_endpoints_size(eps); i++) {
        const char *address = zr_endpoints_resolved(eps, i);
        int rc = zr_endpoints_is_bind(eps, i) ? zmq_unbind(socket, address)
                                              : zmq_disconnect(socket, address);
        if (rc != 0 && errno != ENOENT) {
            ZR_LOG_D("%s: cannot close %s at stop: %s", self->name, address,
                     zmq_strerror(errno));
        }
    }
}

/* ---------------------------------------------------------------------
 * Its own control endpoint (ctl.c), served by the engine's loop.
 */

static size_t
s_ctl_count(void *arg)
{
    (void) arg;
    return 1;
}

static const char *
s_ctl_name(void *arg, size_t i)
{
    (void) i;
    return ((zr_device_t *) arg)->name;
}

static void
s_ctl_pause(void *arg, size_t i, bool pause)
{
    (void) i;
    zr__engine_pause(((zr_device_t *) arg)->engine, pause);
}

static char *
s_ctl_stats(void *arg, size_t i)
{
    (void) i;
    return zr_device_stats_json(arg);
}

static void
s_ctl_statistics(void *arg, size_t i, uint64_t out[8])
{
    (void) i;
    zr__stat_section_t secs[ZR__STAT_SECTIONS_MAX];
    size_t n = zr__device_sections(arg, secs, ZR__STAT_SECTIONS_MAX);
    zr__stats_statistics(secs, n, out);
}

static void
s_ctl_terminate(void *arg)
{
    zr__engine_stop(((zr_device_t *) arg)->engine);
}

static void
s_control_ready(void *arg)
{
    zr_device_t *self = arg;
    zr__ctl_serve(self->sockets[S_CONTROL], &self->ctl, self);
}

static void
s_control_open(zr_device_t *self)
{
    self->ctl = (zr__ctl_ops_t){.owner = self->name,
                                .count = s_ctl_count,
                                .name = s_ctl_name,
                                .pause = s_ctl_pause,
                                .stats_json = s_ctl_stats,
                                .statistics = s_ctl_statistics,
                                .terminate = s_ctl_terminate,
                                .commands = &self->ctl_counts.commands,
                                .refused = &self->ctl_counts.refused,
                                .unsent = &self->ctl_counts.unsent};
    zr__engine_watch(self->engine, self->sockets[S_CONTROL], s_control_ready,
                     self);
}

/* Opening failed: say why, close what was opened, keep errno. */
static int s_open_failed(zr_device_t *self, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
s_open_failed(zr_device_t *self, int err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(self->error, sizeof self->error, fmt, ap);
    va_end(ap);
    s_close_sockets(self);
    errno = err;
    return -1;
}

/* The socket type of each role. */
static void
s_role_types(const zr_device_t *self, int types[S_ROLES])
{
    size_t t = 0;
    while (s_types[t].type != self->type) {
        t++;
    }
    /* A queue with a strategy talks to workers one by one: a ROUTER. */
    bool broker =
        self->type == ZR_QUEUE && self->broker_opts.strategy != ZR__STRATEGY_RR;
    types[S_FRONTEND] = self->ingest_pull ? ZMQ_PULL : s_types[t].frontend;
    types[S_BACKEND] = broker ? ZMQ_ROUTER : s_types[t].backend;
    types[S_CAPTURE] = ZMQ_XPUB;
    types[S_CONTROL] = ZMQ_ROUTER; /* see zr__ctl_socket */
    types[S_SYNC] = ZMQ_ROUTER;
}

/* ---------------------------------------------------------------------
 * auth lane (issue 14): authentication and encryption of the device's
 * sockets, set before they bind or connect (auth.c).
 */

/* A socket that binds is a server (ZAP domain, CURVE or PLAIN); one that
 * only connects is a CURVE client when curve_server_key says so. */
static int
s_secure(zr_device_t *self, int role, void *socket, char *err, size_t errlen)
{
    int side = s_auth_side(role);
    zr_endpoints_t *eps = self->endpoints[role];
    bool binds = false;
    for (size_t i = 0; eps && i < zr_endpoints_size(eps); i++) {
        binds = binds || zr_endpoints_is_bind(eps, i);
    }
    bool applies = zr__auth_applies(self->auth, side);
    if (role <= S_BACKEND) { /* from an earlier opening */
        self->zap_sides[role] = false;
        self->zap_domain[role] = false;
    }
    if (!binds) {
        return applies ? zr__auth_client_socket(self->auth, socket, err, errlen)
                       : 0;
    }
    /* Outside the policy (secure_side), a port that binds still goes
     * through the handler: no unversioned peer on any port, and
     * max_connections decided at the handshake. */
    if (!applies && !(self->auth && self->limits.refuse_unversioned)) {
        return 0;
    }
    if (role <= S_BACKEND) {
        self->zap_sides[role] = applies && zr__auth_needs_zap(self->auth);
        self->zap_domain[role] = zr__auth_needs_zap(self->auth);
    }
    return zr__auth_server_socket(self->auth, side, socket, err, errlen);
}

/* Handshakes failed on the secured sides, for auth.denied.protocol. */
static uint64_t
s_auth_failed(const void *arg)
{
    const zr_device_t *self = arg;
    uint64_t n = 0;
    for (int i = 0; i < 2; i++) {
        if (self->zap_sides[i]) {
            n += zr__monitor_failed_before_zap(self->monitors[i]);
        }
    }
    return n;
}

zr__auth_t *
zr__device_auth(zr_device_t *self)
{
    if (!self->auth) {
        self->auth = zr__auth_new(self->name);
        if (!self->auth) {
            zr__errf(self->error, sizeof self->error, "out of memory");
            return NULL;
        }
        zr__auth_set_failures(self->auth, s_auth_failed, self);
    }
    return self->auth;
}

/* Connection counters of ROLE's socket, made before it binds or
 * connects: a connection accepted before its monitor would never be
 * counted, but its disconnection would, which left the count one lower
 * for good (attack14_bindwindow.py). Frontend and backend also get their
 * limits here. */
static void
s_monitor_open(zr_device_t *self, int role)
{
    self->monitors[role] = zr__monitor_new(self->ctx, self->sockets[role]);
    if (!self->monitors[role]) {
        return; /* counters are a nicety: a device runs without them */
    }
    zr__monitor_set_names(self->monitors[role], self->name,
                          s_role_names[role]);
    if (role > S_BACKEND) {
        return;
    }
    /* [limits] A broker's backend monitor is polled (its workers'
     * disconnections cannot wait); the others are read lazily, and by
     * the ZAP handler too where the socket has a domain: there
     * max_connections is decided before any message. */
    bool broker =
        self->type == ZR_QUEUE && self->broker_opts.strategy != ZR__STRATEGY_RR;
    /* Not where its drain calls the broker's disconnect callback: that
     * runs in the engine's thread only (a majordomo's workers are on its
     * frontend; attack16b_replyclose.py). */
    bool workers = (broker && role == S_BACKEND) ||
                   (self->type == ZR_MAJORDOMO && role == S_FRONTEND);
    bool at_zap = self->zap_domain[role] && !workers;
    zr__monitor_set_limits(self->monitors[role], self->limits.max_connections,
                           s_fd_line(), at_zap);
    if (at_zap) {
        zr__auth_set_monitor(self->auth, s_auth_side(role),
                             self->monitors[role]);
    }
}

/* Create every socket with its options and attach its endpoints. */
static int
s_open_sockets(zr_device_t *self)
{
    int types[S_ROLES];
    s_role_types(self, types);
    char err[400];
    /* Every socket that binds goes through the ZAP handler, unless told
     * otherwise: with one, libzmq refuses unversioned (ZMTP/1.0) peers,
     * whose bytes an open NULL port delivers as messages (random bytes
     * sent to a port can come out as one). */
    if (self->limits.refuse_unversioned) {
        if (!zr__device_auth(self)) {
            return -1;
        }
        zr__auth_set_guard(self->auth, true);
    }
    /* auth lane: the policy joins its context's ZAP handler first. */
    if (zr__auth_open(self->auth, self->ctx, err, sizeof err) != 0) {
        return s_open_failed(self, errno ? errno : EINVAL, "%s", err);
    }
    for (int role = 0; role < S_ROLES; role++) {
        if (!self->endpoints[role]) {
            continue;
        }
        void *s = s_socket(self, role, types[role]);
        if (!s) {
            return s_open_failed(self, errno, "cannot create %s socket: %s",
                                 s_role_names[role], zmq_strerror(errno));
        }
        self->sockets[role] = s;
        if (s_secure(self, role, s, err, sizeof err) != 0) {
            return s_open_failed(self, EINVAL, "%s", err);
        }
        s_monitor_open(self, role);
        if (zr_endpoints_attach(self->endpoints[role], s, err, sizeof err) !=
            0) {
            return s_open_failed(self, errno, "%s", err);
        }
    }
    /* As the daemon says of its own (issue 14.7). */
    zr_endpoints_t *ctl = self->endpoints[S_CONTROL];
    for (size_t i = 0; ctl && i < zr_endpoints_size(ctl); i++) {
        const char *address = zr_endpoints_resolved(ctl, i);
        if (zr_endpoints_is_bind(ctl, i) && !zr_address_is_local(address)) {
            ZR_LOG_W("%s: control endpoint %s is reachable from the network: "
                     "anyone who can connect can pause or stop this device",
                     self->name, address);
        }
    }
    return 0;
}

/* [federation] The device's broker (OWNER, reached through OPS) and its
 * peers (fed.c): the state flow, and requests to peers sent from the
 * first endpoint the frontend binds (named in our state message). */
static int
s_fed_open(zr_device_t *self, const zr__fed_owner_t *ops, void *owner)
{
    zr_endpoints_t *fe = self->endpoints[S_FRONTEND];
    const char *advertise = NULL;
    for (size_t i = 0; !advertise && i < zr_endpoints_size(fe); i++) {
        if (zr_endpoints_is_bind(fe, i)) {
            advertise = zr_endpoints_resolved(fe, i);
        }
    }
    zr__fed_opts_t fo = {.peers = self->peers,
                         .bind = self->peer_bind,
                         .heartbeat = self->broker_opts.heartbeat,
                         .liveness = self->broker_opts.liveness,
                         .queue = self->type == ZR_QUEUE,
                         .max_msg_bytes = self->max_msg_size > 0
                                              ? (uint64_t) self->max_msg_size
                                              : self->limits.max_msg_bytes};
    char err[256] = "";
    self->fed = zr__fed_new(self->ctx, self->engine, ops, owner, self->name,
                            advertise, &fo, err, sizeof err);
    if (!self->fed) {
        return s_open_failed(self, errno ? errno : EINVAL, "%s", err);
    }
    return 0;
}

/* The engine between frontend and backend, its watches and handler. */
static int
s_open_engine(zr_device_t *self)
{
    zr__engine_set_msg_limits(self->engine, self->limits.max_msg_frames,
                              self->limits.max_msg_bytes); /* [limits] */
    /* A majordomo's one socket is the engine's frontend and backend: one
     * direction that reads it and sends on it (engine.c). */
    void *backend = self->type == ZR_MAJORDOMO ? self->sockets[S_FRONTEND]
                                               : self->sockets[S_BACKEND];
    if (zr__engine_set_sockets(self->engine, self->sockets[S_FRONTEND],
                               backend) != 0) {
        return s_open_failed(self, errno, "%s", zmq_strerror(errno));
    }
    /* The monitors of the capture, control and sync sockets: counted
     * and logged, read lazily (s_monitor_open made them). */
    for (int i = S_CAPTURE; i < S_ROLES; i++) {
        if (self->monitors[i]) {
            zr__engine_watch_lazy(self->engine,
                                  zr__monitor_socket(self->monitors[i]),
                                  zr__monitor_drain, self->monitors[i]);
        }
    }
    /* A queue and a majordomo keep their frontend: replies to requests in
     * flight still go to their clients. */
    zr__engine_set_drain(self->engine,
                         self->type == ZR_QUEUE || self->type == ZR_MAJORDOMO
                             ? NULL
                             : s_close_intake,
                         self);
    zr__engine_set_capture(self->engine, self->sockets[S_CAPTURE]);
    if (self->sockets[S_CONTROL]) {
        s_control_open(self);
    }
    if (self->type == ZR_FORWARDER) {
        zr__engine_set_block_timeout(
            self->engine, self->sockets[S_BACKEND],
            self->block_timeout >= 0 ? self->block_timeout : S_DROP_GRACE_MS);
    }
    if (self->type == ZR_QUEUE &&
        self->broker_opts.strategy != ZR__STRATEGY_RR) {
        self->broker =
            zr__broker_new(self->engine, self->name, self->sockets[S_FRONTEND],
                           self->sockets[S_BACKEND], &self->broker_opts);
        if (!self->broker) {
            return s_open_failed(self, errno, "%s", zmq_strerror(errno));
        }
        if (self->monitors[S_BACKEND]) {
            zr__broker_watch(self->broker, self->monitors[S_BACKEND]);
        }
        if ((self->peers || self->peer_bind) && /* [federation] */
            s_fed_open(self, &zr__broker_fed, self->broker) != 0) {
            return -1;
        }
        zr__broker_set_fed(self->broker, self->fed);
    }
    if (self->type == ZR_MAJORDOMO) {
        self->mdp = zr__mdp_new(self->engine, self->name,
                                self->sockets[S_FRONTEND], &self->broker_opts);
        if (!self->mdp) {
            return s_open_failed(self, errno, "%s", zmq_strerror(errno));
        }
        if (self->monitors[S_FRONTEND]) {
            zr__mdp_watch(self->mdp, self->monitors[S_FRONTEND]);
        }
        if (self->titanic_opts.dir) {
            /* [ha_sync] on a pair: dispatch only while active */
            self->titanic_opts.ha = self->ha_opts.role != ZR__HA_OFF;
            /* Durable requests (titanic.c): a directory that cannot be
             * opened stops the start, naming it and why. */
            char err[400];
            zr__titanic_t *t = zr__titanic_new(
                self->engine, self->sockets[S_FRONTEND], self->name,
                &self->titanic_opts, err, sizeof err);
            if (!t) {
                int e = errno;
                zr__mdp_destroy(&self->mdp);
                return s_open_failed(self, e, "%s", err);
            }
            if (zr__mdp_set_titanic(self->mdp, t) != 0) {
                int e = errno;
                zr__mdp_destroy(&self->mdp);
                return s_open_failed(self, e,
                                     "titanic: cannot read the store in '%s'",
                                     self->titanic_opts.dir);
            }
        }
        if ((self->peers || self->peer_bind) && /* [federation] */
            s_fed_open(self, &zr__mdp_fed, self->mdp) != 0) {
            return -1;
        }
        zr__mdp_set_fed(self->mdp, self->fed);
    }
    /* [ha] Last: it decides whether the engine serves at all. */
    if (self->ha_opts.role != ZR__HA_OFF) {
        char err[400];
        self->ha = zr__ha_new(self->ctx, self->engine, self->name,
                              &self->ha_opts,
                              self->mdp ? NULL : self->sockets[S_FRONTEND],
                              err, sizeof err);
        if (!self->ha) {
            return s_open_failed(self, errno, "%s", err);
        }
        if (self->mdp) {
            zr__mdp_set_ha(self->mdp, self->ha);
        }
        zr__titanic_t *t = self->mdp ? zr__mdp_titanic(self->mdp) : NULL;
        if (t && zr__titanic_sync(t, self->ctx, self->ha, &self->ha_opts, err,
                                  sizeof err) != 0) {
            return s_open_failed(self, errno ? errno : EINVAL, "%s", err);
        }
    }
    if (self->type == ZR_FORWARDER) {
        self->pubsub_opts.max_subscription_size =
            (uint64_t) self->limits.max_subscription_size;
        self->pubsub_opts.max_peer_subscriptions =
            self->limits.max_peer_subscriptions;
        self->pubsub =
            zr__pubsub_new(self->engine, self->name, self->sockets[S_FRONTEND],
                           self->sockets[S_BACKEND], self->sockets[S_SYNC],
                           &self->pubsub_opts);
        if (!self->pubsub) {
            return s_open_failed(self, errno, "%s", zmq_strerror(errno));
        }
    }
    for (int i = 0; i < 2; i++) {
        if (!self->monitors[i]) {
            continue;
        }
        /* Connection counters can wait a little, off the path of every
         * message; a broker's workers' disconnections cannot: it must see
         * one before a new connection takes the same fd. */
        void *pair = zr__monitor_socket(self->monitors[i]);
        if ((self->broker && i == S_BACKEND) ||
            (self->mdp && i == S_FRONTEND)) {
            zr__engine_watch(self->engine, pair, zr__monitor_drain,
                             self->monitors[i]);
        }
        else {
            zr__engine_watch_lazy(self->engine, pair, zr__monitor_drain,
                                  self->monitors[i]);
        }
        /* [limits] Connections stuck in a message that never ends. */
        if (self->limits.max_msg_bytes) {
            self->unended[i] = zr__unended_new(
                self->engine, self->sockets[i], self->monitors[i], self->name,
                i == S_FRONTEND ? "frontend" : "backend",
                self->limits.max_msg_bytes,
                self->limits.max_msg_frames ? self->limits.max_msg_frames
                                            : 1000);
            if (self->unended[i]) {
                zr__engine_watch_lazy(self->engine, NULL, zr__unended_tick,
                                      self->unended[i]);
            }
        }
    }
    return 0;
}

int
zr_device_open(zr_device_t *self)
{
    if (self->sockets[S_FRONTEND]) {
        return 0;
    }
    int last = self->type == ZR_MAJORDOMO ? S_FRONTEND : S_BACKEND;
    for (int role = S_FRONTEND; role <= last; role++) {
        if (!self->endpoints[role]) {
            zr__errf(self->error, sizeof self->error, "no %s endpoint set",
                     s_role_names[role]);
            errno = EINVAL;
            return -1;
        }
    }
    if (zr__device_check_ha(self, self->error, sizeof self->error) != 0) {
        return -1; /* [ha] */
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
    if (s_open_sockets(self) != 0 || s_open_engine(self) != 0) {
        return -1;
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
    stats->control_cmds = zr__stat_get(&self->ctl_counts.commands);
    stats->control_errors = zr__stat_get(&self->ctl_counts.refused);
}

/* rr: requests and replies as the relay counts them; "unanswered" is
 * what went to workers and has not come back (docs/BROKER.md). The first
 * six repeat socket counters, for reading; only "unanswered" is a
 * metric of its own. */
static uint64_t
s_drops_on(const zr_socket_stats_t *s)
{
    return s->drop_no_route + s->drop_peer_full + s->drop_error +
           s->drop_shutdown + s->drop_slow;
}

static zr_stats_t
s_now(const void *base)
{
    zr_stats_t st;
    zr__engine_stats(((const zr_device_t *) base)->engine, &st);
    return st;
}

static double
s_req_in(const void *base)
{
    return (double) s_now(base).frontend.msgs_in;
}

static double
s_req_out(const void *base)
{
    return (double) s_now(base).backend.msgs_out;
}

static double
s_req_dropped(const void *base)
{
    zr_stats_t st = s_now(base);
    return (double) s_drops_on(&st.backend);
}

static double
s_rep_in(const void *base)
{
    return (double) s_now(base).backend.msgs_in;
}

static double
s_rep_out(const void *base)
{
    return (double) s_now(base).frontend.msgs_out;
}

static double
s_rep_dropped(const void *base)
{
    zr_stats_t st = s_now(base);
    return (double) s_drops_on(&st.frontend);
}

static double
s_unanswered(const void *base)
{
    zr_stats_t st = s_now(base);
    double open = (double) st.frontend.msgs_in -
                  (double) s_drops_on(&st.backend) -
                  (double) st.backend.msgs_in;
    return open > 0 ? open : 0;
}

#define S_VIEW(k, fn, text)                                                    \
    {                                                                          \
        .key = k, .kind = ZR__STAT_COUNTER, .help = text, .get = fn            \
    }
static const zr__stat_t s_rr_rows[] = {
    S_VIEW("requests_in", s_req_in, "Requests from clients."),
    S_VIEW("requests_out", s_req_out, "Requests sent to workers."),
    S_VIEW("requests_dropped", s_req_dropped,
           "Requests no worker could be sent."),
    S_VIEW("replies_in", s_rep_in, "Replies from workers."),
    S_VIEW("replies_out", s_rep_out, "Replies sent to clients."),
    S_VIEW("replies_dropped", s_rep_dropped,
           "Replies no client could be sent."),
    {.key = "unanswered",
     .metric = "requests_unanswered",
     .kind = ZR__STAT_GAUGE,
     .help = "Requests sent to workers whose reply has not come back (rr).",
     .get = s_unanswered},
};
#undef S_VIEW

size_t
zr__device_sections(const zr_device_t *self, zr__stat_section_t *out,
                    size_t max)
{
    /* The engine's: frontend, backend, capture, then the loop's. */
    zr__stat_section_t eng[ZR__STAT_SECTIONS_MAX];
    size_t n = zr__engine_sections(self->engine, eng, ZR__STAT_SECTIONS_MAX);
    zr__stat_section_t all[ZR__STAT_SECTIONS_MAX];
    size_t k = 0;
    for (size_t i = 0; i < n && k + 3 < ZR__STAT_SECTIONS_MAX; i++) {
        if (i == n - 1) {
            all[k++] = zr__ctl_section(&self->ctl_counts);
        }
        all[k++] = eng[i];
        if (i < 2) {
            const char *path =
                i == 0 ? "frontend.connections" : "backend.connections";
            const char *labels =
                i == 0 ? "socket=\"frontend\"" : "socket=\"backend\"";
            all[k++] = zr__monitor_section(self->monitors[i], path, labels);
            all[k++] = zr__unended_section(self->unended[i], path, labels);
        }
    }
    /* The other sockets' connections, zeros where there is none. */
    static const char *const paths[] = {"capture.connections",
                                        "control.connections",
                                        "sync.connections"};
    static const char *const labels[] = {
        "socket=\"capture\"", "socket=\"control\"", "socket=\"sync\""};
    for (int i = S_CAPTURE; i < S_ROLES && k < ZR__STAT_SECTIONS_MAX; i++) {
        all[k++] = zr__monitor_section(self->monitors[i], paths[i - S_CAPTURE],
                                       labels[i - S_CAPTURE]);
    }
    if (self->broker && k < ZR__STAT_SECTIONS_MAX) {
        all[k++] = zr__broker_section(self->broker);
    }
    if (self->ha && k < ZR__STAT_SECTIONS_MAX) {
        all[k++] = zr__ha_section(self->ha); /* [ha] */
    }
    if (self->mdp) {
        k += zr__mdp_sections(self->mdp, all + k, ZR__STAT_SECTIONS_MAX - k);
    }
    if (self->fed) { /* [federation] */
        k += zr__fed_sections(self->fed, all + k, ZR__STAT_SECTIONS_MAX - k);
    }
    if (self->pubsub) {
        k += zr__pubsub_sections(self->pubsub, all + k,
                                 ZR__STAT_SECTIONS_MAX - k);
    }
    if (self->type == ZR_QUEUE &&
        self->broker_opts.strategy == ZR__STRATEGY_RR &&
        k < ZR__STAT_SECTIONS_MAX) {
        all[k++] =
            (zr__stat_section_t){"queue", NULL, ZR__STAT_ROWS(s_rr_rows), self};
    }
    if (k < ZR__STAT_SECTIONS_MAX) {
        all[k++] = zr__auth_section(self->auth); /* auth lane; zeros if open */
    }
    k = k < max ? k : max;
    memcpy(out, all, k * sizeof all[0]);
    return k;
}

char *
zr_device_stats_json(const zr_device_t *self)
{
    zr_stats_t st;
    zr__engine_stats(self->engine, &st);
    cJSON *o = cJSON_CreateObject();
    if (!o) {
        return NULL;
    }
    cJSON_AddStringToObject(o, "name", self->name);
    cJSON_AddStringToObject(o, "type", zr_device_type_name(self->type));
    cJSON_AddStringToObject(o, "state",
                            !st.running ? "stopped"
                            : st.paused ? "paused"
                                        : "running");
    /* Where it listens and connects, as LIST says: what the status page
     * (GET /) shows beside the numbers. */
    cJSON *eps = cJSON_AddArrayToObject(o, "endpoints");
    size_t neps = zr_device_endpoint_count(self);
    for (size_t i = 0; eps && i < neps; i++) {
        const char *role, *address;
        bool bind;
        zr_device_endpoint(self, i, &role, &bind, &address);
        cJSON *ep = cJSON_CreateObject();
        cJSON_AddStringToObject(ep, "role", role);
        cJSON_AddStringToObject(ep, "mode", bind ? "bind" : "connect");
        cJSON_AddStringToObject(ep, "address", address);
        cJSON_AddItemToArray(eps, ep);
    }
    zr__stat_section_t secs[ZR__STAT_SECTIONS_MAX];
    size_t n = zr__device_sections(self, secs, ZR__STAT_SECTIONS_MAX);
    zr__stats_add(o, secs, n);
    /* The one list that is no row: the subscribed topics. */
    if (self->pubsub) {
        zr__pubsub_lists(self->pubsub, o);
    }
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return text;
}
