/* option.c - a device's options by name: one table for the command line
 * (--max-msg-size), the config file (max_msg_size) and the documentation.
 * SPDX-License-Identifier: MIT
 */
#include "zr_impl.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define S_TWO ((1u << ZR_FORWARDER) | (1u << ZR_QUEUE) | (1u << ZR_STREAMER))
#define S_ALL (S_TWO | (1u << ZR_MAJORDOMO))
#define S_FWD (1u << ZR_FORWARDER)
#define S_QUEUE (1u << ZR_QUEUE)
/* The broker options a majordomo shares with a queue (mdp.c). */
#define S_BROKERS (S_QUEUE | (1u << ZR_MAJORDOMO))
#define S_MDP (1u << ZR_MAJORDOMO)
#define S_FED (S_QUEUE | S_MDP) /* [federation] a queue: lru only */

/* Ranges, in the unit each kind is read into: ms for durations, us for
 * ZR_OPT_MICROS, bytes for sizes. Counts go to INT32_MAX (libzmq's int);
 * sizes to 1024G; durations where a longer one means a mistake. */
#define S_SEC 1000
#define S_MIN (60 * S_SEC)
#define S_HOUR (60 * S_MIN)
#define S_DAY (24 * S_HOUR)
#define S_GIB (1024LL * 1024 * 1024)
#define S_COUNT .min = 0, .max = INT32_MAX
#define S_BYTES .min = 0, .max = 1024 * S_GIB

/* An option's value, parsed by its kind (s_parse): N for numbers,
 * durations, sizes, booleans (0/1) and choices (the index of the one
 * chosen); TEXT as written, for endpoints and CPU lists. */
typedef struct {
    int64_t n;
    const char *text;
} s_value_t;

/* Each option applies itself: one setter per row of the table below. */
typedef int (*s_setter_t)(zr_device_t *self, const s_value_t *v);

typedef struct {
    zr_option_t info;
    s_setter_t set;
} s_option_t;

/* ---------------------------------------------------------------------
 * Endpoints and socket options: the device's public setters.
 */

static int
s_set_frontend(zr_device_t *self, const s_value_t *v)
{
    return zr_device_set_frontend(self, v->text);
}

static int
s_set_backend(zr_device_t *self, const s_value_t *v)
{
    return zr_device_set_backend(self, v->text);
}

static int
s_set_capture(zr_device_t *self, const s_value_t *v)
{
    return zr_device_set_capture(self, v->text);
}

static int
s_set_control(zr_device_t *self, const s_value_t *v)
{
    return zr_device_set_control(self, v->text);
}

static int
s_set_sndhwm(zr_device_t *self, const s_value_t *v)
{
    return zr_device_set_sndhwm(self, (int) v->n);
}

static int
s_set_rcvhwm(zr_device_t *self, const s_value_t *v)
{
    return zr_device_set_rcvhwm(self, (int) v->n);
}

/* 0 is no limit, as everywhere else (libzmq's 0 refuses every frame). */
static int
s_set_max_msg_size(zr_device_t *self, const s_value_t *v)
{
    return zr_device_set_max_msg_size(self, v->n == 0 ? -1 : v->n);
}

static int
s_set_linger(zr_device_t *self, const s_value_t *v)
{
    return zr_device_set_linger(self, (int) v->n);
}

/* Heartbeats are set as a pair: the other half stays as it is. */
static int
s_set_heartbeat_ivl(zr_device_t *self, const s_value_t *v)
{
    int ivl, timeout;
    zr__device_heartbeat(self, &ivl, &timeout);
    return zr_device_set_heartbeat(self, (int) v->n, timeout);
}

static int
s_set_heartbeat_timeout(zr_device_t *self, const s_value_t *v)
{
    int ivl, timeout;
    zr__device_heartbeat(self, &ivl, &timeout);
    return zr_device_set_heartbeat(self, ivl, (int) v->n);
}

static int
s_set_busy_poll(zr_device_t *self, const s_value_t *v)
{
    return zr_device_set_busy_poll(self, (int) v->n);
}

static int
s_set_affinity(zr_device_t *self, const s_value_t *v)
{
    return zr_device_set_affinity(self, v->text);
}

/* [limits] What a peer can cost a device (zr__limits_t), one field
 * each. */
static int
s_set_max_msg_frames(zr_device_t *self, const s_value_t *v)
{
    zr__device_limits(self)->max_msg_frames = (uint64_t) v->n;
    return 0;
}

static int
s_set_max_msg_bytes(zr_device_t *self, const s_value_t *v)
{
    zr__device_limits(self)->max_msg_bytes = (uint64_t) v->n;
    return 0;
}

static int
s_set_max_connections(zr_device_t *self, const s_value_t *v)
{
    zr__device_limits(self)->max_connections = (uint64_t) v->n;
    return 0;
}

static int
s_set_handshake_ivl(zr_device_t *self, const s_value_t *v)
{
    zr__device_limits(self)->handshake_ivl = (int) v->n;
    return 0;
}

static int
s_set_refuse_unversioned(zr_device_t *self, const s_value_t *v)
{
    zr__device_limits(self)->refuse_unversioned = v->n != 0;
    return 0;
}

static int
s_set_max_peer_subscriptions(zr_device_t *self, const s_value_t *v)
{
    zr__device_limits(self)->max_peer_subscriptions = (uint64_t) v->n;
    return 0;
}

static int
s_set_max_subscription_size(zr_device_t *self, const s_value_t *v)
{
    if (v->n < 1 || v->n > INT32_MAX) {
        zr__device_errorf(self, "'%s' is not a size from 1 to %d", v->text,
                          INT32_MAX);
        errno = EINVAL;
        return -1;
    }
    zr__device_limits(self)->max_subscription_size = v->n;
    return 0;
}

/* ---------------------------------------------------------------------
 * The queue's broker (broker.c): its options struct, one field each.
 */

static int
s_set_strategy(zr_device_t *self, const s_value_t *v)
{
    return zr_device_set_strategy(self, v->text);
}

/* The queue's broker options; NULL, the reason set, on another type. */
static zr__broker_opts_t *
s_broker(zr_device_t *self)
{
    zr__broker_opts_t *o = zr__device_broker_opts(self);
    if (!o) {
        zr_device_set_strategy(self, "rr"); /* fails, saying why */
    }
    return o;
}

static int
s_set_heartbeat(zr_device_t *self, const s_value_t *v)
{
    zr__broker_opts_t *o = s_broker(self);
    if (o) {
        o->heartbeat = (int) v->n; /* its range: from 10ms */
    }
    return o ? 0 : -1;
}

static int
s_set_liveness(zr_device_t *self, const s_value_t *v)
{
    zr__broker_opts_t *o = s_broker(self);
    if (o) {
        o->liveness = (int) v->n; /* its range: from 1 */
    }
    return o ? 0 : -1;
}

static int
s_set_busy_timeout(zr_device_t *self, const s_value_t *v)
{
    zr__broker_opts_t *o = s_broker(self);
    if (o) {
        o->busy_timeout = (int) v->n;
    }
    return o ? 0 : -1;
}

static int
s_set_retries(zr_device_t *self, const s_value_t *v)
{
    zr__broker_opts_t *o = s_broker(self);
    if (o) {
        o->retries = (int) v->n;
    }
    return o ? 0 : -1;
}

static int
s_set_max_waiting(zr_device_t *self, const s_value_t *v)
{
    zr__broker_opts_t *o = s_broker(self);
    if (o) {
        o->max_waiting = (uint64_t) v->n;
    }
    return o ? 0 : -1;
}

static int
s_set_request_timeout(zr_device_t *self, const s_value_t *v)
{
    zr__broker_opts_t *o = s_broker(self);
    if (o) {
        o->request_timeout = (int) v->n;
    }
    return o ? 0 : -1;
}

/* [federation] (fed.c) */
static int
s_set_peers(zr_device_t *self, const s_value_t *v)
{
    return zr__device_set_federation(self, false, v->text);
}

static int
s_set_peer_bind(zr_device_t *self, const s_value_t *v)
{
    return zr__device_set_federation(self, true, v->text);
}

static int
s_set_router_handover(zr_device_t *self, const s_value_t *v)
{
    return zr__device_router_handover(self, (int) v->n); /* none|workers|all */
}

static int
s_set_hash_frame(zr_device_t *self, const s_value_t *v)
{
    zr__broker_opts_t *o = s_broker(self);
    if (o) {
        o->hash_frame = (uint64_t) v->n;
    }
    return o ? 0 : -1;
}

/* ---------------------------------------------------------------------
 * [ha] A primary/backup pair (ha.c): the device's zr__ha_opts_t.
 */

static int
s_set_ha(zr_device_t *self, const s_value_t *v)
{
    zr__ha_opts_t *o = zr__device_ha_opts(self);
    if (o) {
        o->role = v->n == 1   ? ZR__HA_PRIMARY /* off|primary|backup */
                  : v->n == 2 ? ZR__HA_BACKUP
                              : ZR__HA_OFF;
    }
    return o ? 0 : -1;
}

static int
s_set_ha_endpoints(zr_device_t *self, const char *text, bool bind)
{
    zr__ha_opts_t *o = zr__device_ha_opts(self);
    if (!o) {
        return -1;
    }
    char err[300];
    zr_endpoints_t *eps = zr_endpoints_parse(text, bind, err, sizeof err);
    if (!eps) {
        zr__device_errorf(self, "%s", err);
        errno = EINVAL;
        return -1;
    }
    zr_endpoints_t **slot = bind ? &o->bind : &o->peer;
    zr_endpoints_destroy(slot);
    *slot = eps;
    return 0;
}

static int
s_set_ha_bind(zr_device_t *self, const s_value_t *v)
{
    return s_set_ha_endpoints(self, v->text, true);
}

static int
s_set_ha_peer(zr_device_t *self, const s_value_t *v)
{
    return s_set_ha_endpoints(self, v->text, false);
}

static int
s_set_ha_heartbeat(zr_device_t *self, const s_value_t *v)
{
    zr__ha_opts_t *o = zr__device_ha_opts(self);
    if (o) {
        o->heartbeat = (int) v->n;
    }
    return o ? 0 : -1;
}

/* [ha_sync] Titanic on a pair: replication (titanic.c). */
static int
s_set_ha_sync(zr_device_t *self, const s_value_t *v)
{
    zr__ha_opts_t *o = zr__device_ha_opts(self);
    if (o) {
        o->sync = v->n == 0 ? 1 : 0; /* yes|no */
    }
    return o ? 0 : -1;
}

static int
s_set_ha_sync_endpoints(zr_device_t *self, const char *text, bool bind)
{
    zr__ha_opts_t *o = zr__device_ha_opts(self);
    if (!o) {
        return -1;
    }
    char err[300];
    zr_endpoints_t *eps = zr_endpoints_parse(text, bind, err, sizeof err);
    if (!eps) {
        zr__device_errorf(self, "%s", err);
        errno = EINVAL;
        return -1;
    }
    zr_endpoints_t **slot = bind ? &o->sync_bind : &o->sync_peer;
    zr_endpoints_destroy(slot);
    *slot = eps;
    return 0;
}

static int
s_set_ha_sync_bind(zr_device_t *self, const s_value_t *v)
{
    return s_set_ha_sync_endpoints(self, v->text, true);
}

static int
s_set_ha_sync_peer(zr_device_t *self, const s_value_t *v)
{
    return s_set_ha_sync_endpoints(self, v->text, false);
}

/* ---------------------------------------------------------------------
 * A majordomo's durable requests (titanic.c).
 */

static int
s_set_titanic(zr_device_t *self, const s_value_t *v)
{
    return zr__device_set_titanic_dir(self, v->text);
}

static int
s_set_titanic_max_bytes(zr_device_t *self, const s_value_t *v)
{
    zr__device_titanic_opts(self)->max_bytes = (uint64_t) v->n;
    return 0;
}

static int
s_set_titanic_commit(zr_device_t *self, const s_value_t *v)
{
    zr__device_titanic_opts(self)->commit_each = v->n == 1; /* group|each */
    return 0;
}

/* ---------------------------------------------------------------------
 * The forwarder (pubsub.c, lvc.c): sync, ingest, last value cache,
 * subscriptions, slow subscribers, the hold gate.
 */

static int
s_set_sync(zr_device_t *self, const s_value_t *v)
{
    return zr_device_set_sync(self, v->text);
}

static int
s_set_ingest(zr_device_t *self, const s_value_t *v)
{
    return zr_device_set_ingest_pull(self, v->n == 1); /* sub|pull */
}

/* The forwarder's options; NULL, the reason set, on another type. */
static zr__pubsub_opts_t *
s_pubsub(zr_device_t *self)
{
    if (zr_device_type(self) != ZR_FORWARDER) {
        zr_device_set_max_subscriptions(self, 0); /* fails, saying why */
        return NULL;
    }
    return zr__device_pubsub_opts(self);
}

static int
s_set_last_value(zr_device_t *self, const s_value_t *v)
{
    zr__pubsub_opts_t *o = s_pubsub(self);
    if (o) {
        o->last_value = v->n != 0;
    }
    return o ? 0 : -1;
}

static int
s_set_last_value_max_topics(zr_device_t *self, const s_value_t *v)
{
    zr__pubsub_opts_t *o = s_pubsub(self);
    if (o) {
        o->lv_max_topics = (uint64_t) v->n;
    }
    return o ? 0 : -1;
}

static int
s_set_last_value_max_bytes(zr_device_t *self, const s_value_t *v)
{
    zr__pubsub_opts_t *o = s_pubsub(self);
    if (o) {
        o->lv_max_bytes = (uint64_t) v->n;
    }
    return o ? 0 : -1;
}

static int
s_set_last_value_prefix(zr_device_t *self, const s_value_t *v)
{
    zr__pubsub_opts_t *o = s_pubsub(self);
    if (o) {
        o->last_value_all = v->n == 1; /* newest|all */
    }
    return o ? 0 : -1;
}

static int
s_set_max_subscriptions(zr_device_t *self, const s_value_t *v)
{
    return zr_device_set_max_subscriptions(self, (uint64_t) v->n);
}

static int
s_set_slow_subscriber(zr_device_t *self, const s_value_t *v)
{
    if (!s_pubsub(self)) {
        return -1;
    }
    zr__device_slow_subscriber(self, v->n == 1, -1); /* drop|block */
    return 0;
}

static int
s_set_block_timeout(zr_device_t *self, const s_value_t *v)
{
    if (!s_pubsub(self)) {
        return -1;
    }
    zr__device_slow_subscriber(self, -1, (int) v->n);
    return 0;
}

/* The hold gate is set as a whole: the other settings stay as they are. */
typedef struct {
    uint64_t until, max_msgs, max_bytes;
    int timeout;
} s_hold_t;

static s_hold_t
s_hold(const zr_device_t *self)
{
    s_hold_t h;
    zr__device_hold(self, &h.until, &h.max_msgs, &h.max_bytes, &h.timeout);
    return h;
}

static int
s_set_hold_until(zr_device_t *self, const s_value_t *v)
{
    s_hold_t h = s_hold(self);
    return zr_device_set_hold(self, (uint64_t) v->n, h.max_msgs, h.max_bytes,
                              h.timeout);
}

static int
s_set_hold_max(zr_device_t *self, const s_value_t *v)
{
    s_hold_t h = s_hold(self);
    return zr_device_set_hold(self, h.until, (uint64_t) v->n, h.max_bytes,
                              h.timeout);
}

static int
s_set_hold_max_bytes(zr_device_t *self, const s_value_t *v)
{
    s_hold_t h = s_hold(self);
    return zr_device_set_hold(self, h.until, h.max_msgs, (uint64_t) v->n,
                              h.timeout);
}

static int
s_set_hold_timeout(zr_device_t *self, const s_value_t *v)
{
    s_hold_t h = s_hold(self);
    return zr_device_set_hold(self, h.until, h.max_msgs, h.max_bytes,
                              (int) v->n);
}

/* ---------------------------------------------------------------------
 * Authentication and encryption (auth.c): the device's policy.
 * (issue 14, auth lane)
 */

static int
s_auth_text(zr_device_t *self, zr__auth_key_t key, const char *text)
{
    zr__auth_t *a = zr__device_auth(self);
    return a ? zr__auth_set(a, key, text) : -1;
}

static int
s_set_curve_secret(zr_device_t *self, const s_value_t *v)
{
    return s_auth_text(self, ZR__AUTH_CURVE_SECRET, v->text);
}

static int
s_set_curve_allow(zr_device_t *self, const s_value_t *v)
{
    return s_auth_text(self, ZR__AUTH_CURVE_ALLOW, v->text);
}

static int
s_set_curve_allow_any(zr_device_t *self, const s_value_t *v)
{
    zr__auth_t *a = zr__device_auth(self);
    if (a) {
        zr__auth_set_allow_any(a, v->n != 0);
    }
    return a ? 0 : -1;
}

static int
s_set_curve_server_key(zr_device_t *self, const s_value_t *v)
{
    return s_auth_text(self, ZR__AUTH_SERVER_KEY, v->text);
}

static int
s_set_curve_cert(zr_device_t *self, const s_value_t *v)
{
    return s_auth_text(self, ZR__AUTH_CURVE_CERT, v->text);
}

static int
s_set_plain_passwords(zr_device_t *self, const s_value_t *v)
{
    return s_auth_text(self, ZR__AUTH_PASSWORDS, v->text);
}

static int
s_set_addresses(zr_device_t *self, bool deny, const char *text)
{
    char err[300];
    zr__auth_t *a = zr__device_auth(self);
    if (a && zr__auth_set_addresses(a, deny, text, err, sizeof err) != 0) {
        zr__device_errorf(self, "%s", err);
        return -1;
    }
    return a ? 0 : -1;
}

static int
s_set_allow(zr_device_t *self, const s_value_t *v)
{
    return s_set_addresses(self, false, v->text);
}

static int
s_set_deny(zr_device_t *self, const s_value_t *v)
{
    return s_set_addresses(self, true, v->text);
}

static int
s_set_secure_side(zr_device_t *self, const s_value_t *v)
{
    zr__auth_t *a = zr__device_auth(self);
    if (a) {
        zr__auth_set_side(a, (int) v->n); /* all|frontend|backend */
    }
    return a ? 0 : -1;
}

/* ---------------------------------------------------------------------
 * Every option of every device type, one row each: what users see
 * (name, kind, default, help) and the setter that applies it. Later
 * capabilities add rows.
 */
static const s_option_t s_options[] = {
    {.set = s_set_frontend,
     .info = {.name = "frontend",
              .kind = ZR_OPT_ENDPOINTS,
              .arg = "EP",
              .types = S_ALL,
              .help =
                  "where publishers, clients or producers meet the device (a "
                  "majordomo: its one socket, for clients and workers)"}},
    {.set = s_set_backend,
     .info = {.name = "backend",
              .kind = ZR_OPT_ENDPOINTS,
              .arg = "EP",
              .types = S_TWO,
              .help =
                  "where subscribers, workers or consumers meet the device"}},
    {.set = s_set_capture,
     .info = {.name = "capture",
              .kind = ZR_OPT_ENDPOINTS,
              .arg = "EP",
              .types = S_ALL,
              .help =
                  "copy every message the relay sends, either way and whole, "
                  "after a frame naming the socket it was sent on (frontend "
                  "or backend), to an XPUB for SUB listeners; while one "
                  "listener is full every listener misses whole copies "
                  "(counted), the relay never slows down"}},
    {.set = s_set_control,
     .info = {.name = "control",
              .kind = ZR_OPT_ENDPOINTS,
              .arg = "EP",
              .types = S_ALL,
              .help = "a control socket (REQ clients talk to it as to a "
                      "REP) answering zmq_proxy_steerable's PAUSE, RESUME, "
                      "TERMINATE, STATISTICS, and STATS (JSON); see "
                      "'zrelay ctl'"}},
    {.set = s_set_sndhwm,
     .info = {.name = "sndhwm",
              S_COUNT,
              .kind = ZR_OPT_INT,
              .arg = "N",
              .types = S_ALL,
              .fallback = "1000",
              .help = "send high-water mark of frontend and backend, in "
                      "messages"}},
    {.set = s_set_rcvhwm,
     .info = {.name = "rcvhwm",
              S_COUNT,
              .kind = ZR_OPT_INT,
              .arg = "N",
              .types = S_ALL,
              .fallback = "1000",
              .help = "receive high-water mark of frontend and backend, in "
                      "messages"}},
    {.set = s_set_max_msg_size,
     .info = {.name = "max_msg_size",
              S_BYTES,
              .kind = ZR_OPT_SIZE,
              .arg = "BYTES",
              .types = S_ALL,
              .fallback = "32M on a socket bound beyond loopback or ipc, "
                          "else none",
              .help = "largest frame accepted (ZMQ_MAXMSGSIZE; k, M, G "
                      "suffixes; 0: no limit); libzmq disconnects a peer that "
                      "sends more, and otherwise allocates whatever size a "
                      "peer announces"}},
    {.set = s_set_max_msg_frames,
     .info = {.name = "max_msg_frames",
              S_COUNT,
              .kind = ZR_OPT_INT,
              .arg = "N",
              .types = S_ALL,
              .fallback = "1000",
              .help = "a message of more frames is dropped as it comes in, "
                      "counted (drops.too_big); 0: no limit. libzmq holds a "
                      "message until its last frame (64 bytes a frame, empty "
                      "ones included): this bounds what the relay passes "
                      "on, not that"}},
    {.set = s_set_max_msg_bytes,
     .info = {.name = "max_msg_bytes",
              S_BYTES,
              .kind = ZR_OPT_SIZE,
              .arg = "BYTES",
              .types = S_ALL,
              .fallback = "64M",
              .help = "a multipart message of more bytes (all its frames) "
                      "is dropped as it comes in, counted (drops.too_big); "
                      "0: no limit"}},
    {.set = s_set_max_connections,
     .info = {.name = "max_connections",
              S_COUNT,
              .kind = ZR_OPT_INT,
              .arg = "N",
              .types = S_ALL,
              .fallback = "10000",
              .help = "a connection that would make more than N open on "
                      "the socket (frontend, backend; those in their "
                      "handshake count) is refused at its handshake, before "
                      "it can send, and counted (connections.refused); 0: "
                      "no limit. Connections beyond the last eighth of the "
                      "file descriptors are always refused"}},
    {.set = s_set_handshake_ivl,
     .info = {.name = "handshake_ivl",
              .min = 0,
              .max = S_HOUR,
              .kind = ZR_OPT_DURATION,
              .arg = "D",
              .types = S_ALL,
              .fallback = "5s",
              .help = "a peer that has not finished the ZMTP handshake this "
                      "long after it connected is disconnected "
                      "(ZMQ_HANDSHAKE_IVL); 0: never"}},
    {.set = s_set_linger,
     .info = {.name = "linger",
              .min = 0,
              .max = S_HOUR,
              .kind = ZR_OPT_DURATION,
              .arg = "D",
              .types = S_ALL,
              .fallback = "1s",
              .help = "at stop, how long to deliver what the relay holds"}},
    {.set = s_set_heartbeat_ivl,
     .info = {.name = "heartbeat_ivl",
              .min = 0,
              .max = S_HOUR,
              .kind = ZR_OPT_DURATION,
              .arg = "D",
              .types = S_ALL,
              .fallback = "off",
              .help =
                  "ZMTP heartbeat interval on frontend and backend, to reap "
                  "half-open connections of vanished peers (a queue with lru "
                  "or hash: unless set, its heartbeat on the backend and TCP "
                  "keepalive on the frontend)"}},
    {.set = s_set_heartbeat_timeout,
     .info = {.name = "heartbeat_timeout",
              .min = 0,
              .max = 3 * S_HOUR,
              .kind = ZR_OPT_DURATION,
              .arg = "D",
              .types = S_ALL,
              .fallback = "3 intervals",
              .help = "a peer silent this long after a heartbeat is "
                      "disconnected"}},
    {.set = s_set_busy_poll,
     .info = {.name = "busy_poll",
              .min = 0,
              .max = 1000000 /* us: 1s */,
              .kind = ZR_OPT_MICROS,
              .arg = "D",
              .types = S_ALL,
              .fallback = "0 (never)",
              .help =
                  "after a wake-up that brought little traffic, keep polling "
                  "this long before sleeping again: lower latency for CPU "
                  "(e.g. 200us)"}},
    {.set = s_set_affinity,
     .info = {.name = "affinity",
              .kind = ZR_OPT_CPUS,
              .arg = "CPUS",
              .types = S_ALL,
              .fallback = "none",
              .help = "pin the relay's thread to these CPUs (1, 0,2 or 2-3)"}},
    {.set = s_set_strategy,
     .info = {.name = "strategy",
              .kind = ZR_OPT_CHOICE,
              .arg = "rr|lru|hash",
              .types = S_QUEUE,
              .fallback = "rr",
              .choices = "rr|lru|hash",
              .help =
                  "how requests are spread over workers: rr round robin to "
                  "any REP or DEALER worker; lru the least recently ready "
                  "worker (Paranoid Pirate or lbbroker REQ workers); hash the "
                  "same key to the same live worker (docs/BROKER.md)"}},
    {.set = s_set_heartbeat,
     .info = {.name = "heartbeat",
              .min = 10,
              .max = S_DAY,
              .kind = ZR_OPT_DURATION,
              .arg = "D",
              .types = S_BROKERS,
              .fallback = "1s (majordomo: 2.5s)",
              .help =
                  "lru/hash: heartbeats to and from Paranoid Pirate workers "
                  "this often; majordomo: to and from its MDP workers"}},
    {.set = s_set_liveness,
     .info = {.name = "liveness",
              .min = 1,
              .max = 1000,
              .kind = ZR_OPT_INT,
              .arg = "N",
              .types = S_BROKERS,
              .fallback = "3",
              .help = "lru/hash and majordomo: an idle worker silent for N "
                      "heartbeats is expired"}},
    {.set = s_set_busy_timeout,
     .info = {.name = "busy_timeout",
              .min = 0,
              .max = S_DAY,
              .kind = ZR_OPT_DURATION,
              .arg = "D",
              .types = S_BROKERS,
              .fallback = "30s",
              .help = "lru/hash and majordomo: a worker busy this long with "
                      "one request is given up and the request goes to "
                      "another (0: never; majordomo: checked at each "
                      "heartbeat)"}},
    {.set = s_set_retries,
     .info = {.name = "retries",
              .min = 0,
              .max = 1000,
              .kind = ZR_OPT_INT,
              .arg = "N",
              .types = S_BROKERS,
              .fallback = "3",
              .help = "lru/hash and majordomo: a request whose worker died "
                      "goes to another worker (of its service) up to N times, "
                      "then its client gets an error reply"}},
    {.set = s_set_max_waiting,
     .info = {.name = "max_waiting",
              S_COUNT,
              .kind = ZR_OPT_INT,
              .arg = "N",
              .types = S_BROKERS,
              .fallback = "10000",
              .help = "lru/hash: at most N requests wait for a worker "
                      "(majordomo: per service); beyond, an error reply at "
                      "once (0: no bound)"}},
    {.set = s_set_request_timeout,
     .info = {.name = "request_timeout",
              .min = 0,
              .max = S_DAY,
              .kind = ZR_OPT_DURATION,
              .arg = "D",
              .types = S_BROKERS,
              .fallback = "10s",
              .help = "lru/hash and majordomo: a request that waited this "
                      "long for a worker gets an error reply (0: it waits "
                      "forever)"}},
    {.set = s_set_peers,
     .info = {.name = "peers",
              /* Text: its bare endpoints connect, where a device's
               * endpoints bind (config.c checks binds by that kind). */
              .kind = ZR_OPT_TEXT,
              .arg = "EPS",
              .types = S_FED,
              .fallback = "none",
              .help = "majordomo and lru queue federation: the other "
                      "brokers' state endpoints (tcp://b:5556, tcp://c:5556); "
                      "a request for a service with no ready local worker "
                      "goes to a live peer that has one (docs/SCALING.md)"}},
    {.set = s_set_peer_bind,
     .info = {.name = "peer_bind",
              .kind = ZR_OPT_ENDPOINTS,
              .arg = "EP",
              .types = S_FED,
              .fallback = "none",
              .help = "majordomo and lru queue federation: this broker's "
                      "state endpoint (a PUB, tcp://*:5556): every heartbeat, "
                      "its services (a queue: one) with ready workers and how "
                      "many, under the device's name"}},
    {.set = s_set_titanic,
     .info = {.name = "titanic",
              .kind = ZR_OPT_TEXT,
              .arg = "DIR",
              .types = S_MDP,
              .fallback = "none",
              .help = "store durable requests in DIR (made if "
                      "missing; LMDB) and serve titanic.request, "
                      "titanic.reply and titanic.close (RFC 9): a request is "
                      "acknowledged only once committed to disk, and goes to "
                      "its service until a worker answers it, across "
                      "restarts (docs/MAJORDOMO.md)"}},
    {.set = s_set_titanic_max_bytes,
     .info = {.name = "titanic_max_bytes",
              .min = 64 * 1024,
              .max = 1024 * S_GIB,
              .kind = ZR_OPT_SIZE,
              .arg = "BYTES",
              .types = S_MDP,
              .fallback = "1G",
              .help = "the most the Titanic store may hold (its LMDB map); "
                      "a request beyond it is answered 500, not "
                      "acknowledged"}},
    {.set = s_set_titanic_commit,
     .info = {.name = "titanic_commit",
              .kind = ZR_OPT_CHOICE,
              .arg = "group|each",
              .types = S_MDP,
              .fallback = "group",
              .choices = "group|each",
              .help = "group: the Titanic requests and replies of a burst "
                      "share one commit (one fsync); each: one commit per "
                      "request and per reply"}},
    {.set = s_set_hash_frame,
     .info = {.name = "hash_frame",
              .min = 0,
              .max = 1000,
              .kind = ZR_OPT_INT,
              .arg = "N",
              .types = S_QUEUE,
              .fallback = "0",
              .help = "hash: the key is body frame N (0: the first after the "
                      "envelope)"}},
    {.set = s_set_router_handover,
     .info = {.name = "router_handover",
              .kind = ZR_OPT_CHOICE,
              .arg = "none|workers|all",
              .types = S_QUEUE,
              .fallback = "workers",
              .choices = "none|workers|all",
              .help =
                  "which ROUTER lets a peer that connects with a connected "
                  "peer's identity take it over (ZMQ_ROUTER_HANDOVER), with "
                  "what is sent to it from then on: workers, the lru/hash "
                  "backend only (a worker that reconnects at once is served; "
                  "anyone who reaches the backend gets requests by saying "
                  "READY anyway); all, the clients' side too, where anyone "
                  "who knows or guesses a client's identity takes its "
                  "replies: only where every client is trusted; none. "
                  "Refused, a newcomer is read nothing until it reconnects"}},
    /* [ha] A primary/backup pair (ha.c, docs/SCALING.md). */
    {.set = s_set_ha,
     .info = {.name = "ha",
              .kind = ZR_OPT_CHOICE,
              .arg = "off|primary|backup",
              .types = S_BROKERS,
              .fallback = "off",
              .choices = "off|primary|backup",
              .help = "one node of a high-availability pair (Binary Star): "
                      "the active node serves, the passive one drops the "
                      "requests that reach it so that clients retry on the "
                      "other, and takes over only when the active has been "
                      "silent for two ha_heartbeat AND a client request "
                      "comes; needs ha_bind and ha_peer (docs/SCALING.md)"}},
    {.set = s_set_ha_bind,
     .info = {.name = "ha_bind",
              .kind = ZR_OPT_ENDPOINTS,
              .arg = "EP",
              .types = S_BROKERS,
              .help = "with ha: this node's state endpoint, a PUB its "
                      "peer's ha_peer connects to (a bare endpoint binds)"}},
    {.set = s_set_ha_peer,
     .info = {.name = "ha_peer",
              .kind = ZR_OPT_TEXT,
              .arg = "EP",
              .types = S_BROKERS,
              .help = "with ha: the other node's ha_bind, which this "
                      "node's SUB connects to (a bare endpoint connects)"}},
    {.set = s_set_ha_heartbeat,
     .info = {.name = "ha_heartbeat",
              .min = 10,
              .max = S_MIN,
              .kind = ZR_OPT_DURATION,
              .arg = "D",
              .types = S_BROKERS,
              .fallback = "1s",
              .help = "with ha: each node sends its state this often; a "
                      "peer silent for two of them is dead (a failover then "
                      "takes up to two heartbeats and a client's retry)"}},
    /* [ha_sync] Titanic on a pair (titanic.c, docs/SCALING.md). */
    {.set = s_set_ha_sync,
     .info = {.name = "ha_sync",
              .kind = ZR_OPT_CHOICE,
              .arg = "yes|no",
              .types = S_MDP,
              .fallback = "yes",
              .choices = "yes|no",
              .help = "with ha and titanic: yes, a durable request is "
                      "acknowledged only once the passive node has "
                      "committed it too (or after two ha_heartbeat "
                      "without its answer, counted ha_sync.degraded); no, "
                      "once committed here, the passive node following "
                      "without being waited for"}},
    {.set = s_set_ha_sync_bind,
     .info = {.name = "ha_sync_bind",
              .kind = ZR_OPT_ENDPOINTS,
              .arg = "EP",
              .types = S_MDP,
              .help = "with ha and titanic: this node's replication "
                      "endpoint, a ROUTER the peer's ha_sync_peer connects "
                      "to (a bare endpoint binds)"}},
    {.set = s_set_ha_sync_peer,
     .info = {.name = "ha_sync_peer",
              .kind = ZR_OPT_TEXT,
              .arg = "EP",
              .types = S_MDP,
              .help = "with ha and titanic: the other node's ha_sync_bind, "
                      "which this node's DEALER connects to (a bare "
                      "endpoint connects)"}},
    {.set = s_set_sync,
     .info = {.name = "sync",
              .kind = ZR_OPT_ENDPOINTS,
              .arg = "EP",
              .types = S_FWD,
              .help =
                  "a sync service: a publisher asks it to wait until N "
                  "subscriptions match a topic prefix, and gets go only once "
                  "its PUB socket has them all (zr_sync_wait, "
                  "docs/SYNC.md)"}},
    {.set = s_set_ingest,
     .info = {.name = "ingest",
              .kind = ZR_OPT_CHOICE,
              .arg = "sub|pull",
              .types = S_FWD,
              .fallback = "sub",
              .choices = "sub|pull",
              .help = "pull: the frontend is a PULL socket, publishers PUSH "
                      "(queued until connected, never dropped for want of a "
                      "subscription); nothing goes upstream"}},
    {.set = s_set_last_value,
     .info = {.name = "last_value",
              .kind = ZR_OPT_BOOL,
              .arg = "BOOL",
              .types = S_FWD,
              .fallback = "false",
              .help =
                  "keep the last message of each topic (its first frame) and "
                  "send it at once to a new subscriber alone; the frontend "
                  "then subscribes to everything upstream"}},
    {.set = s_set_last_value_max_topics,
     .info = {.name = "last_value_max_topics",
              S_COUNT,
              .kind = ZR_OPT_INT,
              .arg = "N",
              .types = S_FWD,
              .fallback = "10000",
              .help =
                  "at most N topics cached (0: no bound); the least recently "
                  "updated go first (counted)"}},
    {.set = s_set_last_value_max_bytes,
     .info = {.name = "last_value_max_bytes",
              S_BYTES,
              .kind = ZR_OPT_SIZE,
              .arg = "BYTES",
              .types = S_FWD,
              .fallback = "64M",
              .help = "at most this many bytes cached (0: no bound)"}},
    {.set = s_set_last_value_prefix,
     .info = {.name = "last_value_prefix",
              .kind = ZR_OPT_CHOICE,
              .arg = "newest|all",
              .types = S_FWD,
              .fallback = "newest",
              .choices = "newest|all",
              .help =
                  "a subscription matching several cached topics gets the "
                  "newest of them, to itself alone, or all of them, sent to "
                  "every subscriber of those topics (duplicates included, as "
                  "the Guide's lvcache)"}},
    {.set = s_set_max_subscriptions,
     .info = {.name = "max_subscriptions",
              S_COUNT,
              .kind = ZR_OPT_INT,
              .arg = "N",
              .types = S_FWD,
              .fallback = "10000",
              .help = "refuse subscriptions beyond N (counted); a refused one "
                      "never goes upstream, and a subscriber that sends one "
                      "while 100 refused ones are held is disconnected; 0: "
                      "no limit"}},
    {.set = s_set_max_peer_subscriptions,
     .info = {.name = "max_subscriptions_per_peer",
              S_COUNT,
              .kind = ZR_OPT_INT,
              .arg = "N",
              .types = S_FWD,
              .fallback = "1000",
              .help = "refuse a subscription from a subscriber connection "
                      "(tcp, ipc) that holds N already, counted "
                      "(subscriptions.refused_per_peer), so that no one "
                      "stranger takes all of max_subscriptions; 0: no "
                      "limit"}},
    {.set = s_set_max_subscription_size,
     .info = {.name = "max_subscription_size",
              .min = 1,
              .max = 16 * 1024,
              .kind = ZR_OPT_SIZE,
              .arg = "BYTES",
              .types = S_ALL,
              .fallback = "256",
              .help = "longest subscription (topic) the backend and capture "
                      "XPUBs take; libzmq disconnects a subscriber that sends "
                      "a longer one (it keeps a node per topic byte)"}},
    {.set = s_set_slow_subscriber,
     .info = {.name = "slow_subscriber",
              .kind = ZR_OPT_CHOICE,
              .arg = "drop|block",
              .types = S_FWD,
              .fallback = "drop",
              .choices = "drop|block",
              .help =
                  "a subscriber's queue is full: drop: it holds the "
                  "forwarder up to 1 ms, then misses messages until it has "
                  "read its queue down; block: the same after block_timeout; "
                  "each overflow counted (drops.slow_subscriber); while held "
                  "the publishers' PUB sockets may drop instead"}},
    {.set = s_set_block_timeout,
     .info = {.name = "block_timeout",
              .min = 0,
              .max = S_HOUR,
              .kind = ZR_OPT_DURATION,
              .arg = "D",
              .types = S_FWD,
              .fallback = "1s",
              .help = "with slow_subscriber = block, how long one message may "
                      "wait for a slow subscriber"}},
    {.set = s_set_hold_until,
     .info = {.name = "hold_until",
              S_COUNT,
              .kind = ZR_OPT_INT,
              .arg = "N",
              .types = S_FWD,
              .fallback = "0 (no gate)",
              .help =
                  "hold publications while fewer than N subscriptions exist, "
                  "then release them in order"}},
    {.set = s_set_hold_max,
     .info = {.name = "hold_max",
              S_COUNT,
              .kind = ZR_OPT_INT,
              .arg = "N",
              .types = S_FWD,
              .fallback = "10000",
              .help = "at most N publications held; over it the oldest goes on "
                      "(counted)"}},
    {.set = s_set_hold_max_bytes,
     .info = {.name = "hold_max_bytes",
              S_BYTES,
              .kind = ZR_OPT_SIZE,
              .arg = "BYTES",
              .types = S_FWD,
              .fallback = "64M",
              .help =
                  "at most this many bytes held; over it the oldest goes on "
                  "(counted)"}},
    {.set = s_set_hold_timeout,
     .info = {.name = "hold_timeout",
              .min = 0,
              .max = S_DAY,
              .kind = ZR_OPT_DURATION,
              .arg = "D",
              .types = S_FWD,
              .fallback = "10s",
              .help = "a publication held this long goes on (counted); 0: no "
                      "limit"}},
    /* Authentication and encryption (auth.c; issue 14, auth lane). */
    {.set = s_set_curve_secret,
     .info = {.name = "curve_secret",
              .kind = ZR_OPT_TEXT,
              .arg = "FILE",
              .types = S_ALL,
              .help = "this device's certificate (NAME_secret from 'zrelay "
                      "keygen'): its sockets that bind are CURVE servers, "
                      "encrypted; needs curve_allow or curve_allow_any "
                      "(docs/SECURITY.md)"}},
    {.set = s_set_curve_allow,
     .info = {.name = "curve_allow",
              .kind = ZR_OPT_TEXT,
              .arg = "DIR",
              .types = S_ALL,
              .help = "only CURVE clients whose public certificate is in DIR "
                      "get in; under 'zrelay run' DIR is read again on "
                      "reload (SIGHUP, 'zrelay ctl reload'): a key removed "
                      "stops that client's new connections (a device run "
                      "alone reads it at start only)"}},
    {.set = s_set_refuse_unversioned,
     .info = {.name = "refuse_unversioned",
              .kind = ZR_OPT_BOOL,
              .arg = "BOOL",
              .types = S_ALL,
              .fallback = "true",
              .help = "sockets that bind go through zrelay's ZAP handler "
                      "even with NULL, so libzmq refuses unversioned "
                      "(ZMTP/1.0) peers, whose bytes it would deliver as "
                      "messages; false: no handler for an open device (an "
                      "application with a ZAP handler of its own in the "
                      "context)"}},
    {.set = s_set_curve_allow_any,
     .info = {.name = "curve_allow_any",
              .kind = ZR_OPT_BOOL,
              .arg = "BOOL",
              .types = S_ALL,
              .fallback = "false",
              .help = "a CURVE server lets any client key in: encryption "
                      "without knowing who the clients are"}},
    {.set = s_set_curve_server_key,
     .info = {.name = "curve_server_key",
              .kind = ZR_OPT_TEXT,
              .arg = "FILE",
              .types = S_ALL,
              .help = "sides that only connect are CURVE clients of the "
                      "server whose public certificate is FILE"}},
    {.set = s_set_curve_cert,
     .info = {.name = "curve_cert",
              .kind = ZR_OPT_TEXT,
              .arg = "FILE",
              .types = S_ALL,
              .fallback = "a fresh key pair",
              .help = "with curve_server_key: the connecting sides' own "
                      "certificate (NAME_secret), whose public half the "
                      "server allows"}},
    {.set = s_set_plain_passwords,
     .info = {.name = "plain_passwords",
              .kind = ZR_OPT_TEXT,
              .arg = "FILE",
              .types = S_ALL,
              .help =
                  "sockets that bind are PLAIN servers checking "
                  "user=password lines of FILE (read again on reload, under "
                  "'zrelay run'); "
                  "PLAIN sends passwords and data in cleartext: only on "
                  "a trusted network"}},
    {.set = s_set_allow,
     .info = {.name = "allow",
              .kind = ZR_OPT_TEXT,
              .arg = "ADDR",
              .types = S_ALL,
              .fallback = "any",
              .help = "only peers from these addresses or ranges connect "
                      "(10.0.0.0/8,::1; IPv4 and IPv6), with any mechanism; "
                      "ipc:// peers are not filtered"}},
    {.set = s_set_deny,
     .info = {.name = "deny",
              .kind = ZR_OPT_TEXT,
              .arg = "ADDR",
              .types = S_ALL,
              .fallback = "none",
              .help = "peers from these addresses or ranges are refused, "
                      "even when allow lists them"}},
    {.set = s_set_secure_side,
     .info = {.name = "secure_side",
              .kind = ZR_OPT_CHOICE,
              .arg = "all|frontend|backend",
              .types = S_ALL,
              .fallback = "all",
              .choices = "all|frontend|backend",
              .help = "which sockets the options above secure: all (also "
                      "capture, control, sync), or only the frontend or the "
                      "backend, the other side left open for ipc:// or "
                      "inproc:// peers"}},
};
#define S_NOPTIONS (sizeof s_options / sizeof s_options[0])

const zr_option_t *
zr_option(size_t i)
{
    return i < S_NOPTIONS ? &s_options[i].info : NULL;
}

/* NAME with '-' for '_' and without a leading "--" matches. */
static const s_option_t *
s_find(const char *name)
{
    if (strncmp(name, "--", 2) == 0) {
        name += 2;
    }
    for (size_t i = 0; i < S_NOPTIONS; i++) {
        const char *a = s_options[i].info.name, *b = name;
        while (*a && (*a == *b || (*a == '_' && *b == '-'))) {
            a++;
            b++;
        }
        if (!*a && !*b) {
            return &s_options[i];
        }
    }
    return NULL;
}

const zr_option_t *
zr_option_find(const char *name)
{
    const s_option_t *o = s_find(name);
    return o ? &o->info : NULL;
}

bool
zr_option_applies(const zr_option_t *opt, zr_device_type_t type)
{
    return (opt->types & (1u << type)) != 0;
}

/* ---------------------------------------------------------------------
 * The grammar of values, public (zrelay.h) so that the command line and
 * the config file read them alike: util.c's strict parsers.
 */

int
zr_parse_int(const char *text, int64_t min, int64_t max, int64_t *out)
{
    if (zr__parse_int(text, min, max, out) != 0) {
        errno = EINVAL;
        return -1;
    }
    return 0;
}

int
zr_parse_duration(const char *text, int64_t *out)
{
    if (zr__parse_duration(text, out) != 0) {
        errno = EINVAL;
        return -1;
    }
    return 0;
}

int
zr_parse_size(const char *text, int64_t *out)
{
    if (zr__parse_size(text, out) != 0) {
        errno = EINVAL;
        return -1;
    }
    return 0;
}

int
zr_parse_bool(const char *text, bool *out)
{
    static const char *const words[][2] = {
        {"true", "false"}, {"yes", "no"}, {"on", "off"}, {"1", "0"}};
    for (size_t i = 0; text && i < sizeof words / sizeof words[0]; i++) {
        for (int no = 0; no < 2; no++) {
            if (strcmp(text, words[i][no]) == 0) {
                *out = !no;
                return 0;
            }
        }
    }
    errno = EINVAL;
    return -1;
}

/* V in UNITS: the largest unit that V is a whole number of. */
static void
s_with_unit(int64_t v, const char *const names[], const int64_t units[],
            size_t n, char *buf, size_t len)
{
    size_t i = 0;
    while (v != 0 && i + 1 < n && v % units[i] != 0) {
        i++;
    }
    snprintf(buf, len, "%lld%s", (long long) (v / units[i]),
             v == 0 ? "" : names[i]);
}

static void
s_render(const zr_option_t *opt, int64_t v, char *buf, size_t len)
{
    static const char *const ms_names[] = {"h", "m", "s", "ms"};
    static const int64_t ms_units[] = {S_HOUR, S_MIN, S_SEC, 1};
    static const char *const us_names[] = {"h", "m", "s", "ms", "us"};
    static const int64_t us_units[] = {S_HOUR * 1000LL, S_MIN * 1000LL,
                                       S_SEC * 1000LL, 1000, 1};
    static const char *const size_names[] = {"G", "M", "k", ""};
    static const int64_t size_units[] = {S_GIB, 1024 * 1024, 1024, 1};
    switch (opt->kind) {
    case ZR_OPT_DURATION:
        s_with_unit(v, ms_names, ms_units, 4, buf, len);
        break;
    case ZR_OPT_MICROS: s_with_unit(v, us_names, us_units, 5, buf, len); break;
    case ZR_OPT_SIZE:
        s_with_unit(v, size_names, size_units, 4, buf, len);
        break;
    default: snprintf(buf, len, "%lld", (long long) v); break;
    }
}

static bool
s_ranged(const zr_option_t *opt)
{
    return opt->kind == ZR_OPT_INT || opt->kind == ZR_OPT_SIZE ||
           opt->kind == ZR_OPT_DURATION || opt->kind == ZR_OPT_MICROS;
}

const char *
zr_option_range(const zr_option_t *opt, char *buf, size_t len)
{
    if (!len) {
        return buf;
    }
    *buf = 0;
    if (s_ranged(opt)) {
        char lo[32], hi[32];
        s_render(opt, opt->min, lo, sizeof lo);
        s_render(opt, opt->max, hi, sizeof hi);
        snprintf(buf, len, "%s to %s", lo, hi);
    }
    return buf;
}

/* Parse TEXT as OPT's kind into *N; an error message into ERR. */
static int s_parse_kind(const zr_option_t *opt, const char *text, int64_t *n,
                        char *err, size_t errlen);

static int
s_parse(const zr_option_t *opt, const char *text, int64_t *n, char *err,
        size_t errlen)
{
    if (s_parse_kind(opt, text, n, err, errlen) != 0) {
        return -1;
    }
    if (s_ranged(opt) && (*n < opt->min || *n > opt->max)) {
        char range[80];
        zr__errf(err, errlen, "'%s' is out of range (%s)", text,
                 zr_option_range(opt, range, sizeof range));
        return -1;
    }
    return 0;
}

static int
s_parse_kind(const zr_option_t *opt, const char *text, int64_t *n, char *err,
             size_t errlen)
{
    switch (opt->kind) {
    case ZR_OPT_ENDPOINTS:
    case ZR_OPT_TEXT: return 0; /* checked by their setters */
    case ZR_OPT_CPUS:
        if (zr__parse_cpus(text) != 0) {
            zr__errf(err, errlen,
                     "'%s' is not a list of CPUs (1, 0,2 or 2-3; each below "
                     "1024)",
                     text);
            return -1;
        }
        return 0;
    case ZR_OPT_INT:
        if (zr__parse_int(text, 0, INT32_MAX, n) != 0) {
            zr__errf(err, errlen, "'%s' is not a whole number from 0 to %d",
                     text, INT32_MAX);
            return -1;
        }
        return 0;
    case ZR_OPT_SIZE:
        if (zr__parse_size(text, n) != 0) {
            zr__errf(err, errlen, "'%s' is not a size (bytes, or with k, M, G)",
                     text);
            return -1;
        }
        return 0;
    case ZR_OPT_DURATION:
        if (zr__parse_duration(text, n) != 0) {
            int64_t us;
            if (zr__parse_duration_us(text, &us) == 0) {
                zr__errf(err, errlen,
                         "'%s' is not whole milliseconds (2000us is 2ms)",
                         text);
                return -1;
            }
            zr__errf(err, errlen,
                     "'%s' is not a duration (500ms, 2s, 1m; a bare number "
                     "is milliseconds)",
                     text);
            return -1;
        }
        if (*n > INT32_MAX) {
            zr__errf(err, errlen, "'%s' is too long (at most %d ms)", text,
                     INT32_MAX);
            return -1;
        }
        return 0;
    case ZR_OPT_MICROS:
        if (zr__parse_duration_us(text, n) != 0 || *n > INT32_MAX) {
            zr__errf(err, errlen,
                     "'%s' is not a duration (200us, 1ms; a bare number is "
                     "milliseconds)",
                     text);
            return -1;
        }
        return 0;
    case ZR_OPT_BOOL: {
        bool on;
        if (zr_parse_bool(text, &on) != 0) {
            zr__errf(err, errlen, "'%s' is not true or false", text);
            return -1;
        }
        *n = on;
        return 0;
    }
    case ZR_OPT_CHOICE: {
        /* choices: "a|b|c"; *n is the index of the match. */
        size_t len = strlen(text);
        int64_t i = 0;
        for (const char *c = opt->choices; c && *c; i++) {
            size_t clen = strcspn(c, "|");
            if (clen == len && strncmp(c, text, len) == 0) {
                *n = i;
                return 0;
            }
            c += clen + (c[clen] == '|');
        }
        zr__errf(err, errlen, "'%s' is not one of %s", text, opt->choices);
        return -1;
    }
    }
    return -1;
}

int
zr_device_set(zr_device_t *self, const char *name, const char *value)
{
    char err[400];
    const s_option_t *o = s_find(name);
    if (!o) {
        zr__device_errorf(self, "unknown option '%s'", name);
        errno = EINVAL;
        return -1;
    }
    if (!zr_option_applies(&o->info, zr_device_type(self))) {
        zr__device_errorf(self, "'%s' does not apply to a %s", o->info.name,
                          zr_device_type_name(zr_device_type(self)));
        errno = EINVAL;
        return -1;
    }
    s_value_t v = {0, value};
    if (!value || s_parse(&o->info, value, &v.n, err, sizeof err) != 0) {
        zr__device_errorf(self, "%s", value ? err : "no value given");
        errno = EINVAL;
        return -1;
    }
    return o->set(self, &v);
}
