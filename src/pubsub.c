/* pubsub.c - the forwarder's handler: the subscription table, the sync
 * endpoint that tells a publisher when its subscribers are really there,
 * and the gate that holds publications until they are.
 * SPDX-License-Identifier: MIT
 *
 * Subscriptions: the backend XPUB runs with ZMQ_XPUB_VERBOSER, so every
 * subscribe and unsubscribe of every subscriber comes through (the
 * frontend XSUB counts references, so duplicates upstream are harmless).
 * The table counts subscription messages per topic: a SUB subscribed to
 * "" and to "A" counts twice.
 *
 * Sync (docs/SYNC.md): a publisher asks to wait until N subscriptions
 * overlap a topic prefix. A count alone is not enough: the subscriptions
 * may still be on their way to the publisher's PUB socket. So once the
 * count is reached the forwarder subscribes upstream to a fresh probe
 * topic, behind those subscriptions on every connection, and tells the
 * publisher to send probes on its PUB. The first probe that arrives
 * proves the publisher's PUB has applied everything before it: go. The
 * probe topic starts with \xff so that a publisher connecting later gets
 * it last when XSUB replays its subscriptions (in byte order). Probes are
 * consumed here: no subscriber ever sees one.
 *
 * The gate (hold_until N): publications wait here while fewer than N
 * subscriptions exist, and leave in order when there are N, when one has
 * waited hold_timeout, or (oldest first) when the hold is over its bounds.
 */
#include "zr_impl.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define S_PROBE_PREFIX "\xffzrelay-probe"
#define S_PROBE_PREFIX_LEN (sizeof S_PROBE_PREFIX - 1)
/* ZMQ_XPUB_MANUAL_LAST_VALUE: absent from libzmq 4.3.4's header without
 * the draft API, but there at run time (measured). */
#define S_XPUB_MANUAL_LAST_VALUE 98
/* STATS lists at most this many topics. */
#define S_LIST_MAX 1000

typedef struct {
    unsigned char *topic;
    size_t size;
    uint64_t count;   /* accepted subscriptions */
    uint64_t refused; /* refused ones libzmq still remembers */
} s_sub_t;

typedef struct s_waiter {
    struct s_waiter *next;
    zr__msg_t envelope; /* the ROUTER identity and delimiter to reply to */
    uint64_t want;
    char *prefix;
    size_t prefix_len;
    int64_t deadline;
    char probe[64]; /* "" until the count is reached */
    size_t probe_len;
} s_waiter_t;

typedef struct s_held {
    struct s_held *next;
    zr__msg_t msg;
    int64_t since;
} s_held_t;

struct zr__pubsub_t {
    zr__engine_t *engine;
    void *frontend, *backend, *sync;
    bool pull; /* the frontend is a PULL: nothing goes upstream */
    char name[64];
    /* Subscriptions, sorted by topic; the lock is for STATS, which lists
     * them from another thread. */
    pthread_mutex_t lock;
    s_sub_t *subs;
    size_t nsubs, cap;
    uint64_t total;
    bool manual; /* the XPUB runs ZMQ_XPUB_MANUAL: we apply subscriptions */
    uint64_t max_subscriptions;
    /* The last value cache. */
    zr__lvc_t *lvc;
    bool lvc_all;
    /* Sync. */
    s_waiter_t *waiters;
    uint64_t probe_seq;
    /* The gate. */
    uint64_t hold_until, hold_max, hold_max_bytes;
    int64_t hold_timeout;
    s_held_t *held, *held_tail;
    uint64_t nheld, held_bytes;
    /* Counters, read by STATS from any thread. */
    _Atomic uint64_t st_total, st_topics, st_waiting, st_go, st_timeouts,
        st_probes, st_errors, st_held, st_released, st_forced_bound,
        st_forced_timeout, st_refused, st_lv_sent, st_lv_missed, st_lv_topics,
        st_lv_bytes, st_lv_evictions;
};

/* ---------------------------------------------------------------------
 * The subscription table.
 */

static int
s_cmp(const unsigned char *a, size_t al, const unsigned char *b, size_t bl)
{
    int c = memcmp(a, b, al < bl ? al : bl);
    return c ? c : (al < bl ? -1 : al > bl);
}

/* Index of TOPIC, or where it would go (with *found false). */
static size_t
s_find(const zr__pubsub_t *self, const unsigned char *topic, size_t size,
       bool *found)
{
    size_t lo = 0, hi = self->nsubs;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = s_cmp(self->subs[mid].topic, self->subs[mid].size, topic, size);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0) {
            lo = mid + 1;
        }
        else {
            hi = mid;
        }
    }
    *found = false;
    return lo;
}

/* The entry for TOPIC, made if need be (NULL when out of memory). */
static s_sub_t *
s_entry(zr__pubsub_t *self, const unsigned char *topic, size_t size)
{
    bool found;
    size_t i = s_find(self, topic, size, &found);
    if (found) {
        return &self->subs[i];
    }
    if (self->nsubs == self->cap) {
        size_t cap = self->cap ? self->cap * 2 : 16;
        s_sub_t *subs = realloc(self->subs, cap * sizeof *subs);
        if (!subs) {
            return NULL;
        }
        self->subs = subs;
        self->cap = cap;
    }
    unsigned char *copy = malloc(size ? size : 1);
    if (!copy) {
        return NULL;
    }
    memcpy(copy, topic, size);
    memmove(&self->subs[i + 1], &self->subs[i],
            (self->nsubs - i) * sizeof *self->subs);
    self->subs[i] = (s_sub_t){copy, size, 0, 0};
    self->nsubs++;
    return &self->subs[i];
}

static void
s_entry_drop_if_empty(zr__pubsub_t *self, s_sub_t *e)
{
    if (e->count || e->refused) {
        return;
    }
    size_t i = (size_t) (e - self->subs);
    free(e->topic);
    memmove(&self->subs[i], &self->subs[i + 1],
            (self->nsubs - i - 1) * sizeof *self->subs);
    self->nsubs--;
}

static void
s_publish_table(zr__pubsub_t *self)
{
    uint64_t topics = 0;
    for (size_t i = 0; i < self->nsubs; i++) {
        topics += self->subs[i].count > 0;
    }
    zr__stat_set(&self->st_total, self->total);
    zr__stat_set(&self->st_topics, topics);
}

/* A subscription arrived: accepted (true) or refused over the limit. */
static bool
s_subscribe(zr__pubsub_t *self, const unsigned char *topic, size_t size)
{
    pthread_mutex_lock(&self->lock);
    s_sub_t *e = s_entry(self, topic, size);
    bool accept = true;
    if (e && self->max_subscriptions &&
        self->total >= self->max_subscriptions) {
        e->refused++;
        accept = false;
    }
    else if (e) {
        e->count++;
        self->total++;
    }
    s_publish_table(self);
    pthread_mutex_unlock(&self->lock);
    return accept;
}

/* An unsubscribe arrived: true when it ends an accepted subscription
 * (and goes upstream), false when it was libzmq forgetting a refused one.
 * libzmq cannot say which pipe a subscriber's farewell unsubscribes came
 * from, so a refused one is assumed first: at worst a topic stays
 * subscribed upstream a while longer, never does one go while somebody
 * still wants it. */
static bool
s_unsubscribe(zr__pubsub_t *self, const unsigned char *topic, size_t size)
{
    pthread_mutex_lock(&self->lock);
    bool found, accepted = false;
    size_t i = s_find(self, topic, size, &found);
    if (found) {
        s_sub_t *e = &self->subs[i];
        if (e->refused) {
            e->refused--;
        }
        else if (e->count) {
            e->count--;
            self->total--;
            accepted = true;
        }
        s_entry_drop_if_empty(self, e);
    }
    s_publish_table(self);
    pthread_mutex_unlock(&self->lock);
    return accepted;
}

/* Subscriptions that overlap PREFIX: those it starts with (they receive
 * messages on PREFIX) and those that start with it. */
static uint64_t
s_overlap(const zr__pubsub_t *self, const char *prefix, size_t len)
{
    if (len == 0) {
        return self->total;
    }
    uint64_t n = 0;
    const unsigned char *p = (const unsigned char *) prefix;
    bool found;
    /* Topics that are prefixes of PREFIX (shorter than it). */
    for (size_t l = 0; l < len; l++) {
        size_t i = s_find(self, p, l, &found);
        if (found) {
            n += self->subs[i].count;
        }
    }
    /* Topics starting with PREFIX: a contiguous range from it. */
    for (size_t i = s_find(self, p, len, &found); i < self->nsubs; i++) {
        if (self->subs[i].size < len || memcmp(self->subs[i].topic, p, len)) {
            break;
        }
        n += self->subs[i].count;
    }
    return n;
}

/* ---------------------------------------------------------------------
 * Sync.
 */

static void
s_reply(zr__pubsub_t *self, s_waiter_t *w, const char *verdict,
        const char *detail, size_t detail_len)
{
    for (size_t i = 0; i < w->envelope.size; i++) {
        zmq_msg_t part;
        zmq_msg_init(&part);
        zmq_msg_copy(&part, &w->envelope.frames[i]);
        zmq_msg_send(&part, self->sync, ZMQ_SNDMORE | ZMQ_DONTWAIT);
        zmq_msg_close(&part);
    }
    zmq_send(self->sync, verdict, strlen(verdict), ZMQ_SNDMORE | ZMQ_DONTWAIT);
    zmq_send(self->sync, detail, detail_len, ZMQ_DONTWAIT);
}

static void
s_reply_count(zr__pubsub_t *self, s_waiter_t *w, const char *verdict)
{
    char count[32];
    int n = snprintf(
        count, sizeof count, "%llu",
        (unsigned long long) s_overlap(self, w->prefix, w->prefix_len));
    s_reply(self, w, verdict, count, (size_t) n);
}

/* Subscribe (1) or unsubscribe (0) the frontend upstream to TOPIC. */
static void
s_upstream(zr__pubsub_t *self, int subscribe, const char *topic, size_t len)
{
    zr__msg_t msg = {NULL, 0, 0};
    char buf[80];
    buf[0] = (char) subscribe;
    memcpy(buf + 1, topic, len);
    if (zr__msg_add(&msg, buf, len + 1) == 0) {
        zr__engine_inject(self->engine, self->frontend, &msg);
    }
    zr__msg_destroy(&msg);
}

static void
s_waiter_free(s_waiter_t *w)
{
    zr__msg_destroy(&w->envelope);
    free(w->prefix);
    free(w);
}

static void
s_waiter_remove(zr__pubsub_t *self, s_waiter_t *w)
{
    for (s_waiter_t **p = &self->waiters; *p; p = &(*p)->next) {
        if (*p == w) {
            *p = w->next;
            break;
        }
    }
    if (w->probe_len) {
        s_upstream(self, 0, w->probe, w->probe_len);
    }
    s_waiter_free(w);
}

static void
s_count_waiters(zr__pubsub_t *self)
{
    uint64_t n = 0;
    for (s_waiter_t *w = self->waiters; w; w = w->next) {
        n++;
    }
    zr__stat_set(&self->st_waiting, n);
}

/* A waiter whose count is reached: with a PULL frontend (publishers PUSH,
 * which queues) that is go; otherwise probe. */
static void
s_reached(zr__pubsub_t *self, s_waiter_t *w)
{
    if (self->pull) {
        zr__stat_add(&self->st_go, 1);
        s_reply_count(self, w, "GO");
        s_waiter_remove(self, w);
        return;
    }
    uint64_t r = (uint64_t) zr__now_ms() ^ ((uint64_t) (uintptr_t) w << 7);
    w->probe_len = (size_t) snprintf(
        w->probe, sizeof w->probe, S_PROBE_PREFIX "-%llu-%llx",
        (unsigned long long) ++self->probe_seq, (unsigned long long) r);
    s_upstream(self, 1, w->probe, w->probe_len);
    s_reply(self, w, "PROBE", w->probe, w->probe_len);
}

static void
s_check_waiters(zr__pubsub_t *self)
{
    s_waiter_t *w = self->waiters;
    while (w) {
        s_waiter_t *next = w->next;
        if (!w->probe_len &&
            s_overlap(self, w->prefix, w->prefix_len) >= w->want) {
            s_reached(self, w);
        }
        w = next;
    }
    s_count_waiters(self);
}

static bool
s_frame_uint(zmq_msg_t *frame, uint64_t max, uint64_t *out)
{
    char text[24];
    size_t n = zmq_msg_size(frame);
    if (n == 0 || n >= sizeof text) {
        return false;
    }
    memcpy(text, zmq_msg_data(frame), n);
    text[n] = 0;
    int64_t v;
    if (zr__parse_int(text, 0, (int64_t) max, &v) != 0) {
        return false;
    }
    *out = (uint64_t) v;
    return true;
}

/* One request on the sync socket: [identity, "", "WAIT", N, PREFIX,
 * TIMEOUT_MS] (the empty delimiter is there when a REQ asks). */
static void
s_sync_request(zr__pubsub_t *self)
{
    zr__msg_t req = {NULL, 0, 0};
    for (;;) {
        if (zr__msg_reserve(&req, req.size + 1) != 0) {
            break;
        }
        zmq_msg_t *f = &req.frames[req.size];
        zmq_msg_init(f);
        if (zmq_msg_recv(f, self->sync, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(f);
            break;
        }
        req.size++;
        if (!zmq_msg_more(f) || req.size > 16) {
            break;
        }
    }
    if (req.size < 2) {
        zr__msg_destroy(&req);
        return;
    }
    s_waiter_t *w = calloc(1, sizeof *w);
    if (!w) {
        zr__msg_destroy(&req);
        return;
    }
    /* The envelope: the identity, and the delimiter if there is one. */
    size_t body = 1;
    if (req.size > 1 && zmq_msg_size(&req.frames[1]) == 0) {
        body = 2;
    }
    for (size_t i = 0; i < body; i++) {
        zr__msg_add(&w->envelope, zmq_msg_data(&req.frames[i]),
                    zmq_msg_size(&req.frames[i]));
    }
    const char *why = NULL;
    uint64_t timeout = 0;
    size_t nargs = req.size - body;
    zmq_msg_t *a = &req.frames[body];
    if (nargs != 4 || zmq_msg_size(&a[0]) != 4 ||
        memcmp(zmq_msg_data(&a[0]), "WAIT", 4) != 0) {
        why = "expected WAIT N PREFIX TIMEOUT_MS (see docs/SYNC.md)";
    }
    else if (!s_frame_uint(&a[1], UINT32_MAX, &w->want)) {
        why = "N must be a whole number";
    }
    else if (!s_frame_uint(&a[3], INT32_MAX, &timeout)) {
        why = "TIMEOUT_MS must be a whole number of milliseconds";
    }
    else if (!(w->prefix = malloc(zmq_msg_size(&a[2]) + 1))) {
        why = "out of memory";
    }
    if (why) {
        zr__stat_add(&self->st_errors,
                     1); /* counted before the client can ask */
        s_reply(self, w, "ERROR", why, strlen(why));
        ZR_LOG_I("%s: sync: %s", self->name, why);
        s_waiter_free(w);
        zr__msg_destroy(&req);
        return;
    }
    w->prefix_len = zmq_msg_size(&a[2]);
    memcpy(w->prefix, zmq_msg_data(&a[2]), w->prefix_len);
    w->prefix[w->prefix_len] = 0;
    w->deadline = zr__now_ms() + (int64_t) timeout;
    w->next = self->waiters;
    self->waiters = w;
    zr__engine_set_deadline(self->engine, w->deadline);
    zr__msg_destroy(&req);
    s_check_waiters(self);
}

static void
s_sync_ready(void *arg)
{
    zr__pubsub_t *self = arg;
    int events = 0;
    size_t len = sizeof events;
    while (zmq_getsockopt(self->sync, ZMQ_EVENTS, &events, &len) == 0 &&
           (events & ZMQ_POLLIN)) {
        s_sync_request(self);
    }
}

/* A probe came through: its waiter may go. */
static void
s_probe(zr__pubsub_t *self, zmq_msg_t *first)
{
    zr__stat_add(&self->st_probes, 1);
    size_t size = zmq_msg_size(first);
    for (s_waiter_t *w = self->waiters; w; w = w->next) {
        if (w->probe_len == size &&
            memcmp(w->probe, zmq_msg_data(first), size) == 0) {
            zr__stat_add(&self->st_go, 1);
            s_reply_count(self, w, "GO");
            s_waiter_remove(self, w);
            s_count_waiters(self);
            return;
        }
    }
    /* A late probe of a waiter already answered: consumed all the same. */
}

/* ---------------------------------------------------------------------
 * The gate.
 */

static bool
s_gate_open(const zr__pubsub_t *self)
{
    return self->total >= self->hold_until;
}

/* Let the oldest held message go on to the backend. */
static void
s_release_one(zr__pubsub_t *self)
{
    s_held_t *h = self->held;
    self->held = h->next;
    if (!self->held) {
        self->held_tail = NULL;
    }
    self->nheld--;
    self->held_bytes -= zr__msg_bytes(&h->msg);
    zr__engine_inject(self->engine, self->backend, &h->msg);
    zr__msg_destroy(&h->msg);
    free(h);
    zr__stat_set(&self->st_held, self->nheld);
}

static void
s_release_all(zr__pubsub_t *self)
{
    while (self->held) {
        s_release_one(self);
        zr__stat_add(&self->st_released, 1);
    }
}

static void
s_hold(zr__pubsub_t *self, zr__msg_t *msg)
{
    s_held_t *h = calloc(1, sizeof *h);
    if (!h) {
        return; /* the engine sends it on: better late than lost */
    }
    h->since = zr__now_ms();
    zr__msg_move(&h->msg, msg);
    if (self->held_tail) {
        self->held_tail->next = h;
    }
    else {
        self->held = h;
    }
    self->held_tail = h;
    self->nheld++;
    self->held_bytes += zr__msg_bytes(&h->msg);
    while (self->nheld > self->hold_max ||
           (self->hold_max_bytes && self->held_bytes > self->hold_max_bytes &&
            self->nheld > 1)) {
        s_release_one(self);
        zr__stat_add(&self->st_forced_bound, 1);
    }
    zr__stat_set(&self->st_held, self->nheld);
    if (self->hold_timeout > 0) {
        zr__engine_set_deadline(self->engine,
                                self->held->since + self->hold_timeout);
    }
}

/* ---------------------------------------------------------------------
 * Last values.
 */

/* Send a copy of CACHED on the backend, to the subscriber whose
 * subscription was just applied alone (EXCLUSIVE) or to all that match. */
static void
s_send_cached(zr__pubsub_t *self, const zr__msg_t *cached, bool exclusive)
{
    zr__msg_t copy = {NULL, 0, 0};
    if (zr__msg_copy(&copy, cached) != 0) {
        return;
    }
    int on = 1, off = 0, rc;
    if (exclusive) {
        /* Only around a send: set and left set, it would give the next
         * live message to this subscriber alone and rob the others. */
        zmq_setsockopt(self->backend, S_XPUB_MANUAL_LAST_VALUE, &on, sizeof on);
        rc = zr__engine_send_now(self->engine, self->backend, &copy);
        /* Clearing it clears ZMQ_XPUB_MANUAL too: set that again. */
        zmq_setsockopt(self->backend, S_XPUB_MANUAL_LAST_VALUE, &off,
                       sizeof off);
        zmq_setsockopt(self->backend, ZMQ_XPUB_MANUAL, &on, sizeof on);
    }
    else {
        rc = zr__engine_send_now(self->engine, self->backend, &copy);
    }
    zr__stat_add(rc == 0 ? &self->st_lv_sent : &self->st_lv_missed, 1);
    zr__msg_destroy(&copy);
}

/* A new subscription to PREFIX: the cached values it matches. */
static void
s_last_value(zr__pubsub_t *self, const unsigned char *prefix, size_t len)
{
    const zr__msg_t *newest;
    size_t n = zr__lvc_match(self->lvc, prefix, len, &newest, 1);
    if (n == 0) {
        return;
    }
    if (n == 1 || !self->lvc_all) {
        s_send_cached(self, newest, true);
        return;
    }
    const zr__msg_t **all = malloc(n * sizeof *all);
    if (!all) {
        s_send_cached(self, newest, true);
        return;
    }
    n = zr__lvc_match(self->lvc, prefix, len, all, n);
    for (size_t i = n; i-- > 0;) { /* oldest first, as they came */
        s_send_cached(self, all[i], false);
    }
    free(all);
}

/* ---------------------------------------------------------------------
 * The handler.
 */

static zr__verdict_t
s_message(void *arg, int dir, zr__msg_t *msg)
{
    zr__pubsub_t *self = arg;
    zmq_msg_t *first = &msg->frames[0];
    const unsigned char *data = zmq_msg_data(first);
    size_t size = zmq_msg_size(first);
    if (dir == ZR__UPSTREAM) {
        if (msg->size != 1 || size < 1 || (data[0] != 0 && data[0] != 1)) {
            return ZR__SEND; /* not a subscription: passed on as it is */
        }
        if (data[0] == 1) {
            if (!s_subscribe(self, data + 1, size - 1)) {
                zr__stat_add(&self->st_refused, 1);
                ZR_LOG_I("%s: a subscription refused (max_subscriptions "
                         "%llu)",
                         self->name,
                         (unsigned long long) self->max_subscriptions);
                return ZR__DROP;
            }
            if (self->manual) {
                /* Applied to the subscriber it came from, before the next
                 * read changes which one that is. */
                zmq_setsockopt(self->backend, ZMQ_SUBSCRIBE, data + 1,
                               size - 1);
            }
            if (self->lvc) {
                s_last_value(self, data + 1, size - 1);
            }
        }
        else {
            if (!s_unsubscribe(self, data + 1, size - 1)) {
                return ZR__DROP;
            }
            if (self->manual) {
                zmq_setsockopt(self->backend, ZMQ_UNSUBSCRIBE, data + 1,
                               size - 1);
            }
        }
        if (self->waiters) {
            s_check_waiters(self);
        }
        if (self->held && s_gate_open(self)) {
            s_release_all(self);
        }
        return ZR__SEND;
    }
    if (size >= S_PROBE_PREFIX_LEN &&
        memcmp(data, S_PROBE_PREFIX, S_PROBE_PREFIX_LEN) == 0) {
        s_probe(self, first);
        return ZR__DROP;
    }
    if (self->lvc) {
        zr__lvc_store(self->lvc, msg);
        uint64_t topics, bytes, evictions;
        zr__lvc_stats(self->lvc, &topics, &bytes, &evictions);
        zr__stat_set(&self->st_lv_topics, topics);
        zr__stat_set(&self->st_lv_bytes, bytes);
        zr__stat_set(&self->st_lv_evictions, evictions);
    }
    if (self->hold_until && (self->held || !s_gate_open(self))) {
        if (s_gate_open(self)) {
            s_release_all(self);
        }
        else {
            s_hold(self, msg);
            return msg->size ? ZR__SEND : ZR__TAKEN;
        }
    }
    /* Released messages still queued go first: keep the order. */
    if (zr__engine_queued(self->engine, self->backend)) {
        zr__engine_inject(self->engine, self->backend, msg);
        return ZR__TAKEN;
    }
    return ZR__SEND;
}

static int64_t
s_timer(void *arg, int64_t now)
{
    zr__pubsub_t *self = arg;
    int64_t next = -1;
    s_waiter_t *w = self->waiters;
    while (w) {
        s_waiter_t *after = w->next;
        if (now >= w->deadline) {
            zr__stat_add(&self->st_timeouts, 1);
            s_reply_count(self, w, "TIMEOUT");
            s_waiter_remove(self, w);
        }
        else if (next < 0 || w->deadline < next) {
            next = w->deadline;
        }
        w = after;
    }
    s_count_waiters(self);
    while (self->held && self->hold_timeout > 0 &&
           now - self->held->since >= self->hold_timeout) {
        s_release_one(self);
        zr__stat_add(&self->st_forced_timeout, 1);
    }
    if (self->held && self->hold_timeout > 0) {
        int64_t at = self->held->since + self->hold_timeout;
        next = next < 0 || at < next ? at : next;
    }
    return next;
}

static void
s_flush(void *arg)
{
    zr__pubsub_t *self = arg;
    /* At stop what waits at the gate goes to whoever is subscribed. */
    s_release_all(self);
}

/* ---------------------------------------------------------------------
 * Life.
 */

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
    self->sync = sync;
    snprintf(self->name, sizeof self->name, "%s", name);
    int type = 0;
    size_t len = sizeof type;
    zmq_getsockopt(frontend, ZMQ_TYPE, &type, &len);
    self->pull = type == ZMQ_PULL;
    pthread_mutex_init(&self->lock, NULL);
    self->max_subscriptions = opts->max_subscriptions;
    self->manual = opts->last_value || opts->max_subscriptions;
    if (opts->last_value) {
        self->lvc = zr__lvc_new(opts->lv_max_topics, opts->lv_max_bytes);
        self->lvc_all = opts->last_value_all;
        if (!self->lvc) {
            pthread_mutex_destroy(&self->lock);
            free(self);
            return NULL;
        }
    }
    self->hold_until = opts->hold_until;
    self->hold_max = opts->hold_max ? opts->hold_max : UINT64_MAX;
    self->hold_max_bytes = opts->hold_max_bytes;
    self->hold_timeout = opts->hold_timeout;
    /* Every subscribe and unsubscribe, duplicates included; in manual
     * mode (refusals, last values) we apply them ourselves. */
    int on = 1;
    zmq_setsockopt(backend, ZMQ_XPUB_VERBOSER, &on, sizeof on);
    if (self->manual) {
        zmq_setsockopt(backend, ZMQ_XPUB_MANUAL, &on, sizeof on);
    }
    unsigned dirs = 1u << ZR__UPSTREAM;
    if (sync || self->hold_until || self->lvc) {
        dirs |= 1u << ZR__DOWNSTREAM;
    }
    zr__handler_t handler = {s_message, s_timer, s_flush, self, dirs};
    zr__engine_set_handler(engine, &handler);
    if (self->lvc && !self->pull) {
        /* A cache of every topic needs every topic: the cost of last
         * values is that publishers send everything to the forwarder. */
        s_upstream(self, 1, "", 0);
    }
    if (sync) {
        zr__engine_watch(engine, sync, s_sync_ready, self);
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
    for (size_t i = 0; i < self->nsubs; i++) {
        free(self->subs[i].topic);
    }
    zr__lvc_destroy(&self->lvc);
    pthread_mutex_destroy(&self->lock);
    free(self->subs);
    while (self->waiters) {
        s_waiter_t *next = self->waiters->next;
        s_waiter_free(self->waiters);
        self->waiters = next;
    }
    while (self->held) {
        s_held_t *next = self->held->next;
        zr__msg_destroy(&self->held->msg);
        free(self->held);
        self->held = next;
    }
    free(self);
    *self_p = NULL;
}

void
zr__pubsub_describe(const zr__pubsub_t *self, cJSON *stats)
{
    cJSON *subs = cJSON_AddObjectToObject(stats, "subscriptions");
    cJSON_AddNumberToObject(subs, "total",
                            (double) zr__stat_get(&self->st_total));
    cJSON_AddNumberToObject(subs, "topics",
                            (double) zr__stat_get(&self->st_topics));
    if (self->max_subscriptions) {
        cJSON_AddNumberToObject(subs, "max", (double) self->max_subscriptions);
    }
    cJSON_AddNumberToObject(subs, "refused",
                            (double) zr__stat_get(&self->st_refused));
    cJSON *list = cJSON_AddArrayToObject(subs, "list");
    zr__pubsub_t *m = (zr__pubsub_t *) self;
    pthread_mutex_lock(&m->lock);
    size_t listed = 0;
    for (size_t i = 0; i < self->nsubs && listed < S_LIST_MAX; i++) {
        const s_sub_t *e = &self->subs[i];
        if (!e->count) {
            continue;
        }
        cJSON *o = cJSON_CreateObject();
        bool printable = true;
        for (size_t k = 0; k < e->size && printable; k++) {
            printable = e->topic[k] >= 32 && e->topic[k] < 127;
        }
        if (printable) {
            char *text = malloc(e->size + 1);
            if (text) {
                memcpy(text, e->topic, e->size);
                text[e->size] = 0;
                cJSON_AddStringToObject(o, "topic", text);
                free(text);
            }
        }
        else {
            char *hex = malloc(2 * e->size + 1);
            if (hex) {
                for (size_t k = 0; k < e->size; k++) {
                    snprintf(hex + 2 * k, 3, "%02x", e->topic[k]);
                }
                hex[2 * e->size] = 0;
                cJSON_AddStringToObject(o, "topic_hex", hex);
                free(hex);
            }
        }
        cJSON_AddNumberToObject(o, "count", (double) e->count);
        cJSON_AddItemToArray(list, o);
        listed++;
    }
    pthread_mutex_unlock(&m->lock);
    if (listed == S_LIST_MAX) {
        cJSON_AddBoolToObject(subs, "truncated", true);
    }
    if (self->lvc) {
        cJSON *lv = cJSON_AddObjectToObject(stats, "last_value");
        cJSON_AddNumberToObject(lv, "topics",
                                (double) zr__stat_get(&self->st_lv_topics));
        cJSON_AddNumberToObject(lv, "bytes",
                                (double) zr__stat_get(&self->st_lv_bytes));
        cJSON_AddNumberToObject(lv, "evictions",
                                (double) zr__stat_get(&self->st_lv_evictions));
        cJSON_AddNumberToObject(lv, "sent",
                                (double) zr__stat_get(&self->st_lv_sent));
        cJSON_AddNumberToObject(lv, "missed",
                                (double) zr__stat_get(&self->st_lv_missed));
    }
    if (self->sync) {
        cJSON *sync = cJSON_AddObjectToObject(stats, "sync");
        cJSON_AddNumberToObject(sync, "waiting",
                                (double) zr__stat_get(&self->st_waiting));
        cJSON_AddNumberToObject(sync, "go",
                                (double) zr__stat_get(&self->st_go));
        cJSON_AddNumberToObject(sync, "timeouts",
                                (double) zr__stat_get(&self->st_timeouts));
        cJSON_AddNumberToObject(sync, "probes",
                                (double) zr__stat_get(&self->st_probes));
        cJSON_AddNumberToObject(sync, "errors",
                                (double) zr__stat_get(&self->st_errors));
    }
    if (self->hold_until) {
        cJSON *gate = cJSON_AddObjectToObject(stats, "gate");
        cJSON_AddNumberToObject(gate, "hold_until", (double) self->hold_until);
        cJSON_AddNumberToObject(gate, "held",
                                (double) zr__stat_get(&self->st_held));
        cJSON_AddNumberToObject(gate, "released",
                                (double) zr__stat_get(&self->st_released));
        cJSON_AddNumberToObject(gate, "forced_by_bound",
                                (double) zr__stat_get(&self->st_forced_bound));
        cJSON_AddNumberToObject(
            gate, "forced_by_timeout",
            (double) zr__stat_get(&self->st_forced_timeout));
    }
}
