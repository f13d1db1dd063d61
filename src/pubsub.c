/* pubsub.c - the forwarder's handler: what it does with each message, in
 * terms of the subscription table (subs.c), the sync service
 * (sync_service.c), the gate (gate.c) and last values (lastvalue.c).
 * SPDX-License-Identifier: MIT
 *
 * Upstream (backend to frontend) come the subscriptions, which the table
 * counts and may refuse; when the XPUB runs ZMQ_XPUB_MANUAL (with a limit
 * or a cache) the handler applies them itself, and publishes the table
 * for STATS readers after each change. Only subscriptions go on up:
 * whatever else a subscriber sends is refused, counted. Downstream come
 * the publications: probes are consumed, the cache keeps the last of
 * each topic, and the gate may hold them.
 */
#include "zr_impl.h"

#include <stddef.h>

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <zmq.h>

struct zr__pubsub_t {
    zr__engine_t *engine;
    void *frontend, *backend;
    char name[64];
    bool manual; /* the XPUB runs ZMQ_XPUB_MANUAL: we apply subscriptions */
    uint64_t max_subscriptions;
    zr__subs_t *subs;
    zr__syncsvc_t *sync;   /* NULL without a sync endpoint */
    zr__gate_t *gate;      /* NULL without hold_until */
    zr__lastvalue_t *last; /* NULL without last_value */
    /* Read by STATS from any thread. */
    _Atomic uint64_t st_refused_messages;
    _Atomic uint64_t st_disconnected; /* [limits] */
    /* [limits] The connection disconnected last, by its metadata (as
     * holders.c tells connections apart; holders.c keeps it alive). */
    const char *kicked;
};

/* [limits] libzmq keeps every subscription an XPUB in manual mode
 * receives, refused ones too, until its subscriber goes (xpub.cpp,
 * _manual_subscriptions), at a trie node per topic byte. Past this many
 * refused ones held, a subscriber that sends another is disconnected,
 * and libzmq lets go of all of its (it reports them as unsubscribes). */
#define S_REFUSED_HELD_MAX 100

/* [limits] Disconnect the subscriber FRAME came from, if libzmq names its
 * connection (tcp, ipc): libzmq closes it. */
static void
s_disconnect(zr__pubsub_t *self, zmq_msg_t *frame)
{
    int fd = zmq_msg_get(frame, ZMQ_SRCFD);
    const char *conn = zmq_msg_gets(frame, "__fd");
    /* What it sent before libzmq closed it still comes: once is enough. */
    if (!conn || conn == self->kicked || !zr__shutdown_connection(fd)) {
        return;
    }
    self->kicked = conn;
    zr__stat_add(&self->st_disconnected, 1);
    ZR_LOG_I("%s: a subscriber disconnected: a subscription refused while "
             "over %d refused ones were held",
             self->name, S_REFUSED_HELD_MAX);
}

/* A subscription message from the backend: what to do with it. */
static zr__verdict_t
s_subscription(zr__pubsub_t *self, zmq_msg_t *frame)
{
    const unsigned char *data = zmq_msg_data(frame);
    size_t size = zmq_msg_size(frame);
    zr__subs_change_t change = zr__subs_apply(self->subs, frame);
    if (change == ZR__SUBS_REFUSED) {
        ZR_LOG_D("%s: a subscription refused (max_subscriptions %llu)",
                 self->name, (unsigned long long) self->max_subscriptions);
        if (zr__subs_refused_held(self->subs) > S_REFUSED_HELD_MAX) {
            s_disconnect(self, frame);
        }
        return ZR__DROP;
    }
    if (change == ZR__SUBS_IGNORED) {
        return ZR__DROP;
    }
    zr__subs_publish(self->subs);
    if (self->manual) {
        /* Applied to the subscriber it came from, before the next read
         * changes which one that is. */
        zmq_setsockopt(self->backend,
                       data[0] == 1 ? ZMQ_SUBSCRIBE : ZMQ_UNSUBSCRIBE, data + 1,
                       size - 1);
    }
    if (self->last && change == ZR__SUBS_ADDED) {
        zr__lastvalue_subscribed(self->last, data + 1, size - 1);
    }
    if (self->sync) {
        zr__syncsvc_check(self->sync);
    }
    if (self->gate) {
        zr__gate_update(self->gate, zr__subs_total(self->subs));
    }
    return ZR__SEND;
}

/* A publication from the frontend. */
static zr__verdict_t
s_publication(zr__pubsub_t *self, zr__msg_t *msg)
{
    zmq_msg_t *first = &msg->frames[0];
    if (zr__syncsvc_is_probe(first)) {
        if (self->sync) {
            zr__syncsvc_probe(self->sync, first);
        }
        return ZR__DROP;
    }
    /* A last value is what subscribers were sent: one held at the gate
     * is stored when it goes on (s_released), or a late joiner would get
     * it from the cache and again from the gate. */
    if (self->gate &&
        zr__gate_take(self->gate, msg, zr__subs_total(self->subs))) {
        return ZR__TAKEN;
    }
    if (self->last) {
        zr__lastvalue_store(self->last, msg);
    }
    /* Released messages still queued go first: keep the order. */
    if (zr__engine_queued(self->engine, self->backend)) {
        zr__engine_inject(self->engine, self->backend, msg);
        return ZR__TAKEN;
    }
    return ZR__SEND;
}

/* A message from the backend. The XPUB reports a subscription as a frame
 * of its own that ends a message, and passes on whatever else a
 * subscriber sends (an XSUB can send anything), so a message is frames
 * that are not subscriptions, ended by one that may be. Only the
 * subscription goes on: the way up has no high-water mark (device.c),
 * so what is not a subscription is refused, counted. */
static zr__verdict_t
s_upstream(zr__pubsub_t *self, zr__msg_t *msg)
{
    zmq_msg_t *last = &msg->frames[msg->size - 1];
    const unsigned char *data = zmq_msg_data(last);
    size_t size = zmq_msg_size(last);
    bool subscription = size >= 1 && (data[0] == 0 || data[0] == 1);
    if (msg->size > 1 || !subscription) {
        zr__stat_add(&self->st_refused_messages, 1);
        ZR_LOG_D("%s: a message from a subscriber refused", self->name);
    }
    if (!subscription) {
        return ZR__DROP;
    }
    while (msg->size > 1) {
        zr__msg_remove(msg, 0);
    }
    return s_subscription(self, &msg->frames[0]);
}

static void
s_released(void *arg, const zr__msg_t *msg)
{
    zr__pubsub_t *self = arg;
    if (self->last) {
        zr__lastvalue_store(self->last, msg);
    }
}

static zr__verdict_t
s_message(void *arg, int dir, zr__msg_t *msg)
{
    zr__pubsub_t *self = arg;
    return dir == ZR__DOWNSTREAM ? s_publication(self, msg)
                                 : s_upstream(self, msg);
}

static int64_t
s_timer(void *arg, int64_t now)
{
    zr__pubsub_t *self = arg;
    zr__subs_publish(self->subs); /* frees what readers let go of */
    int64_t next = self->sync ? zr__syncsvc_timer(self->sync, now) : -1;
    int64_t gate = self->gate ? zr__gate_timer(self->gate, now) : -1;
    if (gate >= 0 && (next < 0 || gate < next)) {
        next = gate;
    }
    return next;
}

static void
s_flush(void *arg)
{
    zr__pubsub_t *self = arg;
    if (self->gate) {
        zr__gate_flush(self->gate);
    }
}

/* Subscribe the frontend upstream to everything. */
static void
s_subscribe_all(zr__pubsub_t *self)
{
    zr__msg_t msg = {NULL, 0, 0};
    if (zr__msg_add(&msg, "\x01", 1) == 0) {
        zr__engine_inject(self->engine, self->frontend, &msg);
    }
    zr__msg_destroy(&msg);
}

/* The parts the options ask for; -1 when one cannot be made. */
static int
s_parts(zr__pubsub_t *self, void *sync, const zr__pubsub_opts_t *opts)
{
    if (!(self->subs = zr__subs_new(opts->max_subscriptions))) {
        return -1;
    }
    zr__subs_set_max_size(self->subs, (size_t) opts->max_subscription_size);
    zr__subs_set_max_per_peer(self->subs, opts->max_peer_subscriptions);
    if (opts->last_value &&
        !(self->last = zr__lastvalue_new(self->engine, self->backend, opts))) {
        return -1;
    }
    if (opts->hold_until &&
        !(self->gate = zr__gate_new(self->engine, self->backend, opts))) {
        return -1;
    }
    if (self->gate) {
        zr__gate_on_release(self->gate, s_released, self);
    }
    if (sync && !(self->sync = zr__syncsvc_new(self->engine, self->name, sync,
                                               self->frontend, self->subs))) {
        return -1;
    }
    return 0;
}

zr__pubsub_t *
zr__pubsub_new(zr__engine_t *engine, const char *name, void *frontend,
               void *backend, void *sync, const zr__pubsub_opts_t *opts)
{
    zr__pubsub_t *self = calloc(1, sizeof *self);
    if (!self) {
        errno = ENOMEM;
        return NULL;
    }
    self->engine = engine;
    self->frontend = frontend;
    self->backend = backend;
    snprintf(self->name, sizeof self->name, "%s", name);
    self->max_subscriptions = opts->max_subscriptions;
    self->manual = opts->last_value || opts->max_subscriptions ||
                   opts->max_peer_subscriptions;
    if (s_parts(self, sync, opts) != 0) {
        int err = errno;
        zr__pubsub_destroy(&self);
        errno = err;
        return NULL;
    }
    /* Every subscribe and unsubscribe, duplicates included; in manual
     * mode (refusals, last values) we apply them ourselves. */
    int on = 1;
    zmq_setsockopt(backend, ZMQ_XPUB_VERBOSER, &on, sizeof on);
    if (self->manual) {
        zmq_setsockopt(backend, ZMQ_XPUB_MANUAL, &on, sizeof on);
    }
    unsigned dirs = 1u << ZR__UPSTREAM;
    if (self->sync || self->gate || self->last) {
        dirs |= 1u << ZR__DOWNSTREAM;
    }
    zr__handler_t handler = {s_message, s_timer, s_flush, self, dirs};
    zr__engine_set_handler(engine, &handler);
    int type = 0;
    size_t len = sizeof type;
    zmq_getsockopt(frontend, ZMQ_TYPE, &type, &len);
    if (self->last && type != ZMQ_PULL) {
        /* A cache of every topic needs every topic: the cost of last
         * values is that publishers send everything to the forwarder. */
        s_subscribe_all(self);
    }
    return self;
}

void
zr__pubsub_destroy(zr__pubsub_t **self_p)
{
    if (!self_p || !*self_p) {
        return;
    }
    zr__pubsub_t *self = *self_p;
    zr__syncsvc_destroy(&self->sync);
    zr__gate_destroy(&self->gate);
    zr__lastvalue_destroy(&self->last);
    zr__subs_destroy(&self->subs);
    free(self);
    *self_p = NULL;
}

static const zr__stat_t s_rows[] = {
    {.key = "refused_messages",
     .metric = "subscriptions_refused_total",
     .labels = "reason=\"not_a_subscription\"",
     .kind = ZR__STAT_COUNTER,
     .help = "Messages from subscribers that were no subscription, refused "
             "(not passed upstream).",
     .offset = offsetof(zr__pubsub_t, st_refused_messages)},
    {.key = "disconnected",
     .metric = "subscribers_disconnected_total",
     .kind = ZR__STAT_COUNTER,
     .help = "Subscribers disconnected for sending a subscription that was "
             "refused while over 100 refused ones were held (libzmq keeps "
             "each until its subscriber goes).",
     .offset = offsetof(zr__pubsub_t, st_disconnected)},
};

size_t
zr__pubsub_sections(const zr__pubsub_t *self, zr__stat_section_t *out,
                    size_t max)
{
    zr__stat_section_t all[5];
    size_t n = 0;
    all[n++] = zr__subs_section(self->subs);
    all[n++] = (zr__stat_section_t){"subscriptions", NULL,
                                    ZR__STAT_ROWS(s_rows), self};
    if (self->last) {
        all[n++] = zr__lastvalue_section(self->last);
    }
    if (self->sync) {
        all[n++] = zr__syncsvc_section(self->sync);
    }
    if (self->gate) {
        all[n++] = zr__gate_section(self->gate);
    }
    n = n < max ? n : max;
    memcpy(out, all, n * sizeof all[0]);
    return n;
}

void
zr__pubsub_lists(const zr__pubsub_t *self, cJSON *stats)
{
    zr__subs_list(self->subs, stats);
}
