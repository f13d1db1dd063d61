/* broker.c - the queue's handler for strategies lru and hash: workers
 * that say when they are ready, heartbeats both ways, dead workers found
 * and their requests sent elsewhere, and an answer for every request.
 * SPDX-License-Identifier: MIT
 *
 * Workers speak one of two protocols, told apart by their first message
 * (docs/BROKER.md):
 *   ppp  Paranoid Pirate (ZeroMQ RFC 6): a DEALER sends "\x01" (READY),
 *        "\x02" (HEARTBEAT), and replies as [client envelope, reply];
 *        it gets [client envelope, request] and heartbeats.
 *   req  the Guide's lbbroker worker: a REQ sends "READY", then each
 *        reply as [client envelope, reply]; it gets [client envelope,
 *        request]. A REQ cannot take a heartbeat, so it never gets one
 *        and is never expired by silence, only by busy_timeout.
 * The backend is a ROUTER, so every frame from a worker starts with its
 * identity. Requests keep their client envelope ([identity, ""] from a
 * REQ client, [identity] from a DEALER); a reply goes to the frontend
 * ROUTER as the worker gave it.
 *
 * lru: the least recently ready worker gets the next request; requests
 * wait here while none is ready. hash: requests with the same key go to
 * the same live worker (consistent hashing: when a worker goes, only its
 * keys move), waiting for it while it is busy.
 *
 * A request in flight on a worker that dies (a send to it fails with
 * EHOSTUNREACH, it misses its heartbeats, or it is busy past busy_timeout)
 * goes to another worker, up to `retries` times. A request that cannot be
 * served gets an error reply, never silence.
 */
#include "zr_impl.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define S_READY "\x01"
#define S_HEARTBEAT "\x02"
#define S_RING_POINTS 64 /* virtual nodes per worker on the hash ring */

typedef enum { S_PPP, S_REQ } s_kind_t;
typedef enum { S_IDLE, S_BUSY } s_state_t;

typedef struct s_request {
    struct s_request *next;
    zr__msg_t msg; /* the client's: envelope, then body */
    uint64_t key;  /* hash */
    int retries;
    int64_t since; /* when it began to wait */
} s_request_t;

typedef struct {
    s_request_t *head, *tail;
    size_t size;
} s_fifo_t;

typedef struct s_worker {
    unsigned char id[256];
    size_t id_len;
    s_kind_t kind;
    s_state_t state;
    int64_t expiry; /* ppp: silent this long and it is gone */
    int64_t busy_since;
    s_request_t *inflight;
    s_fifo_t queue; /* hash: the requests whose key is this worker's */
    struct s_worker *next_ready;
    bool in_ready;
} s_worker_t;

typedef struct {
    uint64_t point;
    s_worker_t *worker;
} s_point_t;

struct zr__broker_t {
    zr__engine_t *engine;
    void *frontend, *backend;
    char name[64];
    zr__broker_opts_t opts;
    s_worker_t **workers;
    size_t nworkers, cap;
    s_worker_t *ready_head, *ready_tail; /* lru */
    s_fifo_t waiting;                    /* lru */
    s_point_t *ring;                     /* hash */
    size_t nring;
    int64_t next_beat;
    _Atomic uint64_t st_ready, st_busy, st_workers, st_expired, st_waiting,
        st_inflight, st_retried, st_failed, st_answered, st_late, st_timeouts,
        st_rejected;
};

static void
s_fifo_push(s_fifo_t *f, s_request_t *r)
{
    r->next = NULL;
    if (f->tail) {
        f->tail->next = r;
    }
    else {
        f->head = r;
    }
    f->tail = r;
    f->size++;
}

static void
s_fifo_push_front(s_fifo_t *f, s_request_t *r)
{
    r->next = f->head;
    f->head = r;
    if (!f->tail) {
        f->tail = r;
    }
    f->size++;
}

static s_request_t *
s_fifo_pop(s_fifo_t *f)
{
    s_request_t *r = f->head;
    if (r) {
        f->head = r->next;
        if (!f->head) {
            f->tail = NULL;
        }
        f->size--;
        r->next = NULL;
    }
    return r;
}

static void
s_request_free(s_request_t *r)
{
    if (r) {
        zr__msg_destroy(&r->msg);
        free(r);
    }
}

static void
s_counts(zr__broker_t *self)
{
    uint64_t ready = 0, busy = 0, waiting = self->waiting.size;
    for (size_t i = 0; i < self->nworkers; i++) {
        ready += self->workers[i]->state == S_IDLE;
        busy += self->workers[i]->state == S_BUSY;
        waiting += self->workers[i]->queue.size;
    }
    zr__stat_set(&self->st_ready, ready);
    zr__stat_set(&self->st_busy, busy);
    zr__stat_set(&self->st_inflight, busy);
    zr__stat_set(&self->st_workers, self->nworkers);
    zr__stat_set(&self->st_waiting, waiting);
}

/* ---------------------------------------------------------------------
 * Replies to clients.
 */

/* How many frames of R's message are the client's envelope: its identity,
 * and the empty delimiter a REQ client sends. */
static size_t
s_envelope(const zr__msg_t *m)
{
    if (m->size >= 2 && zmq_msg_size((zmq_msg_t *) &m->frames[1]) == 0) {
        return 2;
    }
    return 1;
}

/* Answer R's client with an error instead of a reply (docs/BROKER.md):
 * one frame "ZRELAY-ERROR CODE text". */
static void
s_fail(zr__broker_t *self, s_request_t *r, const char *code, const char *text)
{
    zr__msg_t reply = {NULL, 0, 0};
    size_t env = s_envelope(&r->msg);
    for (size_t i = 0; i < env && i < r->msg.size; i++) {
        zr__msg_add(&reply, zmq_msg_data(&r->msg.frames[i]),
                    zmq_msg_size(&r->msg.frames[i]));
    }
    char body[256];
    snprintf(body, sizeof body, "ZRELAY-ERROR %s %s", code, text);
    zr__msg_addstr(&reply, body);
    /* Through the engine, in order with the other replies, with the
     * frontend's policy for a client that does not read. */
    zr__engine_inject(self->engine, self->frontend, &reply);
    zr__msg_destroy(&reply);
    zr__stat_add(&self->st_failed, 1);
    s_request_free(r);
}

/* ---------------------------------------------------------------------
 * Workers.
 */

static s_worker_t *
s_worker_find(zr__broker_t *self, const void *id, size_t len)
{
    for (size_t i = 0; i < self->nworkers; i++) {
        s_worker_t *w = self->workers[i];
        if (w->id_len == len && memcmp(w->id, id, len) == 0) {
            return w;
        }
    }
    return NULL;
}

static int
s_ring_cmp(const void *a, const void *b)
{
    uint64_t x = ((const s_point_t *) a)->point;
    uint64_t y = ((const s_point_t *) b)->point;
    return x < y ? -1 : x > y;
}

static void
s_ring_build(zr__broker_t *self)
{
    free(self->ring);
    self->ring = NULL;
    self->nring = 0;
    if (self->opts.strategy != ZR__STRATEGY_HASH || !self->nworkers) {
        return;
    }
    self->ring = malloc(self->nworkers * S_RING_POINTS * sizeof *self->ring);
    if (!self->ring) {
        return;
    }
    for (size_t i = 0; i < self->nworkers; i++) {
        s_worker_t *w = self->workers[i];
        for (int p = 0; p < S_RING_POINTS; p++) {
            unsigned char buf[260];
            memcpy(buf, w->id, w->id_len);
            buf[w->id_len] = (unsigned char) p;
            self->ring[self->nring++] =
                (s_point_t){zr__hash(buf, w->id_len + 1), w};
        }
    }
    qsort(self->ring, self->nring, sizeof *self->ring, s_ring_cmp);
}

static s_worker_t *
s_ring_owner(const zr__broker_t *self, uint64_t key)
{
    if (!self->nring) {
        return NULL;
    }
    size_t lo = 0, hi = self->nring;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (self->ring[mid].point < key) {
            lo = mid + 1;
        }
        else {
            hi = mid;
        }
    }
    return self->ring[lo == self->nring ? 0 : lo].worker;
}

static void
s_ready_remove(zr__broker_t *self, s_worker_t *w)
{
    if (!w->in_ready) {
        return;
    }
    s_worker_t **p = &self->ready_head;
    while (*p && *p != w) {
        p = &(*p)->next_ready;
    }
    if (*p) {
        *p = w->next_ready;
    }
    self->ready_tail = NULL;
    for (s_worker_t *x = self->ready_head; x; x = x->next_ready) {
        self->ready_tail = x;
    }
    w->next_ready = NULL;
    w->in_ready = false;
}

static void
s_ready_push(zr__broker_t *self, s_worker_t *w)
{
    if (w->in_ready) {
        return;
    }
    w->next_ready = NULL;
    if (self->ready_tail) {
        self->ready_tail->next_ready = w;
    }
    else {
        self->ready_head = w;
    }
    self->ready_tail = w;
    w->in_ready = true;
}

static void s_dispatch(zr__broker_t *self, s_request_t *r);
static void s_serve_worker(zr__broker_t *self, s_worker_t *w);

/* W is gone: its request in flight and (hash) its queue go elsewhere. */
static void
s_worker_gone(zr__broker_t *self, s_worker_t *w, const char *why)
{
    ZR_LOG_N("%s: worker %.*s%s %s", self->name, (int) w->id_len,
             w->id_len && w->id[0] >= 32 ? (const char *) w->id : "",
             w->id_len && w->id[0] >= 32 ? "" : "(binary identity)", why);
    s_ready_remove(self, w);
    for (size_t i = 0; i < self->nworkers; i++) {
        if (self->workers[i] == w) {
            self->workers[i] = self->workers[--self->nworkers];
            break;
        }
    }
    s_ring_build(self);
    zr__stat_add(&self->st_expired, 1);
    s_request_t *inflight = w->inflight;
    s_fifo_t queue = w->queue;
    free(w);
    if (inflight) {
        if (inflight->retries >= self->opts.retries) {
            s_fail(self, inflight, "failed",
                   "the workers handling it failed; no more retries");
        }
        else {
            inflight->retries++;
            zr__stat_add(&self->st_retried, 1);
            s_dispatch(self, inflight);
        }
    }
    s_request_t *r;
    while ((r = s_fifo_pop(&queue))) {
        s_dispatch(self, r);
    }
    s_counts(self);
}

/* Send R to W now. False (R kept) when W is gone. */
static bool
s_send_to(zr__broker_t *self, s_worker_t *w, s_request_t *r)
{
    zr__msg_t out = {NULL, 0, 0};
    if (zr__msg_copy(&out, &r->msg) != 0 ||
        (w->kind == S_REQ && zr__msg_prepend(&out, "", 0) != 0) ||
        zr__msg_prepend(&out, w->id, w->id_len) != 0) {
        zr__msg_destroy(&out);
        return false;
    }
    int rc = zr__engine_send_now(self->engine, self->backend, &out);
    zr__msg_destroy(&out);
    return rc == 0;
}

/* Give W (idle) request R; on failure W is dead and R goes elsewhere. */
static void
s_assign(zr__broker_t *self, s_worker_t *w, s_request_t *r)
{
    s_ready_remove(self, w);
    if (!s_send_to(self, w, r)) {
        /* It never reached W: no retry spent, another worker or wait. */
        s_worker_gone(self, w, "is gone (a send to it failed)");
        s_dispatch(self, r);
        return;
    }
    w->state = S_BUSY;
    w->inflight = r;
    w->busy_since = zr__now_ms();
    if (self->opts.busy_timeout > 0) {
        zr__engine_set_deadline(self->engine,
                                w->busy_since + self->opts.busy_timeout);
    }
}

/* A request that has no worker yet: to one, or to wait. */
static void
s_dispatch(zr__broker_t *self, s_request_t *r)
{
    if (self->opts.strategy == ZR__STRATEGY_HASH) {
        s_worker_t *w = s_ring_owner(self, r->key);
        if (!w) {
            s_fifo_push(&self->waiting, r);
        }
        else if (w->state == S_IDLE) {
            s_assign(self, w, r);
        }
        else {
            s_fifo_push(&w->queue, r);
        }
    }
    else if (self->ready_head) {
        s_assign(self, self->ready_head, r);
    }
    else if (r->retries) {
        s_fifo_push_front(&self->waiting, r); /* it has waited longest */
    }
    else {
        s_fifo_push(&self->waiting, r);
    }
    s_counts(self);
}

/* W is idle: give it what waits for it. */
static void
s_serve_worker(zr__broker_t *self, s_worker_t *w)
{
    w->state = S_IDLE;
    w->inflight = NULL;
    s_request_t *r = NULL;
    if (self->opts.strategy == ZR__STRATEGY_HASH) {
        r = s_fifo_pop(&w->queue);
    }
    else {
        r = s_fifo_pop(&self->waiting);
    }
    if (r) {
        s_assign(self, w, r);
    }
    else if (self->opts.strategy != ZR__STRATEGY_HASH) {
        s_ready_push(self, w);
    }
    s_counts(self);
}

/* A new worker, or one back. */
static s_worker_t *
s_worker_new(zr__broker_t *self, const void *id, size_t len, s_kind_t kind)
{
    if (len > sizeof (((s_worker_t *) 0)->id) || self->nworkers == SIZE_MAX) {
        return NULL;
    }
    if (self->nworkers == self->cap) {
        size_t cap = self->cap ? 2 * self->cap : 16;
        s_worker_t **ws = realloc(self->workers, cap * sizeof *ws);
        if (!ws) {
            return NULL;
        }
        self->workers = ws;
        self->cap = cap;
    }
    s_worker_t *w = calloc(1, sizeof *w);
    if (!w) {
        return NULL;
    }
    memcpy(w->id, id, len);
    w->id_len = len;
    w->kind = kind;
    w->state = S_IDLE;
    self->workers[self->nworkers++] = w;
    s_ring_build(self);
    ZR_LOG_I("%s: a %s worker joined", self->name,
             kind == S_PPP ? "Paranoid Pirate" : "REQ");
    /* With hash, keys that waited for any worker at all find one now. */
    if (self->opts.strategy == ZR__STRATEGY_HASH) {
        s_fifo_t all = self->waiting;
        self->waiting = (s_fifo_t){NULL, NULL, 0};
        s_request_t *r;
        while ((r = s_fifo_pop(&all))) {
            s_dispatch(self, r);
        }
    }
    return w;
}

static bool
s_is(const zmq_msg_t *frame, const char *text, size_t len)
{
    return zmq_msg_size((zmq_msg_t *) frame) == len &&
           memcmp(zmq_msg_data((zmq_msg_t *) frame), text, len) == 0;
}

/* Something from a worker: [identity, ...]. */
static zr__verdict_t
s_from_worker(zr__broker_t *self, zr__msg_t *msg)
{
    if (msg->size < 2) {
        return ZR__DROP;
    }
    const void *id = zmq_msg_data(&msg->frames[0]);
    size_t id_len = zmq_msg_size(&msg->frames[0]);
    s_worker_t *w = s_worker_find(self, id, id_len);
    bool req = zmq_msg_size(&msg->frames[1]) == 0;
    size_t skip = req ? 2 : 1; /* identity, and a REQ's delimiter */
    int64_t now = zr__now_ms();
    int64_t expiry = now + (int64_t) self->opts.heartbeat * self->opts.liveness;
    if (msg->size == skip + 1 &&
        (s_is(&msg->frames[skip], S_READY, 1) ||
         (req && s_is(&msg->frames[skip], "READY", 5)))) {
        if (!w) {
            w = s_worker_new(self, id, id_len, req ? S_REQ : S_PPP);
            if (!w) {
                return ZR__DROP;
            }
        }
        else if (w->state == S_BUSY && w->inflight) {
            /* Back from a restart with the same identity: what it had in
             * flight is lost with the old process; send it elsewhere. */
            s_request_t *r = w->inflight;
            w->inflight = NULL;
            r->retries++;
            zr__stat_add(&self->st_retried, 1);
            s_dispatch(self, r);
        }
        w->expiry = expiry;
        s_serve_worker(self, w);
        return ZR__DROP;
    }
    if (msg->size == skip + 1 && s_is(&msg->frames[skip], S_HEARTBEAT, 1)) {
        if (!w && !req) {
            /* A worker expired here that is still alive (its heartbeats
             * were late): welcome again, as ppqueue does. */
            w = s_worker_new(self, id, id_len, S_PPP);
            if (w) {
                w->expiry = expiry;
                s_serve_worker(self, w);
            }
            return ZR__DROP;
        }
        if (w) {
            w->expiry = expiry;
        }
        return ZR__DROP;
    }
    /* A reply: [identity, ("",) client envelope, reply]. */
    if (!w || w->state != S_BUSY || !w->inflight) {
        /* From a worker given up on, or never asked: its request went to
         * another worker, which answers it. */
        zr__stat_add(&self->st_late, 1);
        return ZR__DROP;
    }
    w->expiry = expiry;
    s_request_free(w->inflight);
    w->inflight = NULL;
    for (size_t i = 0; i < skip; i++) {
        zr__msg_remove(msg, 0);
    }
    zr__stat_add(&self->st_answered, 1);
    s_serve_worker(self, w);
    return ZR__SEND;
}

/* A request from a client: [identity, ("",) body...]. */
static void
s_from_client(zr__broker_t *self, zr__msg_t *msg)
{
    s_request_t *r = calloc(1, sizeof *r);
    if (!r) {
        return;
    }
    zr__msg_move(&r->msg, msg);
    r->since = zr__now_ms();
    size_t env = s_envelope(&r->msg);
    size_t k = env + self->opts.hash_frame;
    if (self->opts.strategy == ZR__STRATEGY_HASH && k < r->msg.size) {
        r->key = zr__hash(zmq_msg_data(&r->msg.frames[k]),
                          zmq_msg_size(&r->msg.frames[k]));
    }
    uint64_t waiting = zr__stat_get(&self->st_waiting);
    if (self->opts.max_waiting && waiting >= self->opts.max_waiting &&
        !(self->opts.strategy != ZR__STRATEGY_HASH && self->ready_head)) {
        zr__stat_add(&self->st_rejected, 1);
        s_fail(self, r, "busy", "too many requests waiting for a worker");
        return;
    }
    s_dispatch(self, r);
}

static zr__verdict_t
s_message(void *arg, int dir, zr__msg_t *msg)
{
    zr__broker_t *self = arg;
    if (dir == ZR__UPSTREAM) {
        return s_from_worker(self, msg);
    }
    s_from_client(self, msg);
    return ZR__TAKEN;
}

/* ---------------------------------------------------------------------
 * Time: heartbeats, silence, busy workers, waiting requests.
 */

static void
s_expire_waiting(zr__broker_t *self, s_fifo_t *f, int64_t now)
{
    int64_t limit = self->opts.request_timeout;
    if (limit <= 0) {
        return;
    }
    s_fifo_t keep = {NULL, NULL, 0};
    s_request_t *r;
    while ((r = s_fifo_pop(f))) {
        if (now - r->since >= limit) {
            zr__stat_add(&self->st_timeouts, 1);
            char text[96];
            snprintf(text, sizeof text, "no worker took it within %lld ms",
                     (long long) limit);
            s_fail(self, r, "timeout", text);
        }
        else {
            s_fifo_push(&keep, r);
        }
    }
    *f = keep;
}

static int64_t
s_timer(void *arg, int64_t now)
{
    zr__broker_t *self = arg;
    bool beat = now >= self->next_beat;
    if (beat) {
        self->next_beat = now + self->opts.heartbeat;
    }
    int64_t next = self->next_beat;
    for (size_t i = 0; i < self->nworkers;) {
        s_worker_t *w = self->workers[i];
        if (beat && w->kind == S_PPP) {
            /* Idle or busy, a heartbeat also probes: a send to a worker
             * whose connection is gone fails at once. */
            zr__msg_t msg = {NULL, 0, 0};
            zr__msg_add(&msg, w->id, w->id_len);
            zr__msg_add(&msg, S_HEARTBEAT, 1);
            int rc = zr__engine_send_now(self->engine, self->backend, &msg);
            int err = errno;
            zr__msg_destroy(&msg);
            if (rc != 0 && err == EHOSTUNREACH) {
                s_worker_gone(self, w, "is gone (its connection closed)");
                continue;
            }
        }
        /* A busy worker may not heartbeat (the Guide's does not): silence
         * expires idle ones only. */
        if (w->kind == S_PPP && w->state == S_IDLE && now >= w->expiry) {
            s_worker_gone(self, w, "expired (no heartbeat)");
            continue;
        }
        if (w->state == S_BUSY && self->opts.busy_timeout > 0) {
            int64_t at = w->busy_since + self->opts.busy_timeout;
            if (now >= at) {
                s_worker_gone(self, w, "given up (busy past busy_timeout)");
                continue;
            }
            next = at < next ? at : next;
        }
        i++;
    }
    s_expire_waiting(self, &self->waiting, now);
    for (size_t i = 0; i < self->nworkers; i++) {
        s_expire_waiting(self, &self->workers[i]->queue, now);
    }
    s_counts(self);
    if (self->opts.request_timeout > 0) {
        /* Waiting requests are checked at least this often. */
        int64_t step = self->opts.request_timeout / 4 + 1;
        next = now + step < next ? now + step : next;
    }
    return next;
}

/* At stop: every request not yet answered gets an error reply. */
static void
s_flush(void *arg)
{
    zr__broker_t *self = arg;
    s_request_t *r;
    while ((r = s_fifo_pop(&self->waiting))) {
        s_fail(self, r, "stopping", "the broker is stopping");
    }
    for (size_t i = 0; i < self->nworkers; i++) {
        s_worker_t *w = self->workers[i];
        while ((r = s_fifo_pop(&w->queue))) {
            s_fail(self, r, "stopping", "the broker is stopping");
        }
        if (w->inflight) {
            s_fail(self, w->inflight, "stopping", "the broker is stopping");
            w->inflight = NULL;
        }
    }
    s_counts(self);
}

/* ---------------------------------------------------------------------
 * Life.
 */

zr__broker_t *
zr__broker_new(zr__engine_t *engine, const char *name, void *frontend,
               void *backend, const zr__broker_opts_t *opts)
{
    zr__broker_t *self = calloc(1, sizeof *self);
    if (!self) {
        errno = ENOMEM;
        return NULL;
    }
    self->engine = engine;
    self->frontend = frontend;
    self->backend = backend;
    snprintf(self->name, sizeof self->name, "%s", name);
    self->opts = *opts;
    if (self->opts.heartbeat <= 0) {
        self->opts.heartbeat = 1000;
    }
    if (self->opts.liveness <= 0) {
        self->opts.liveness = 3;
    }
    self->next_beat = zr__now_ms() + self->opts.heartbeat;
    zr__handler_t handler = {s_message, s_timer, s_flush, self,
                             (1u << ZR__DOWNSTREAM) | (1u << ZR__UPSTREAM)};
    zr__engine_set_handler(engine, &handler);
    zr__engine_set_deadline(engine, self->next_beat);
    return self;
}

void
zr__broker_destroy(zr__broker_t **self_p)
{
    if (!self_p || !*self_p) {
        return;
    }
    zr__broker_t *self = *self_p;
    s_request_t *r;
    while ((r = s_fifo_pop(&self->waiting))) {
        s_request_free(r);
    }
    for (size_t i = 0; i < self->nworkers; i++) {
        s_worker_t *w = self->workers[i];
        while ((r = s_fifo_pop(&w->queue))) {
            s_request_free(r);
        }
        s_request_free(w->inflight);
        free(w);
    }
    free(self->workers);
    free(self->ring);
    free(self);
    *self_p = NULL;
}

void
zr__broker_describe(const zr__broker_t *self, cJSON *stats)
{
    cJSON *b = cJSON_AddObjectToObject(stats, "broker");
    static const char *names[] = {"lru", "hash"};
    cJSON_AddStringToObject(
        b, "strategy", names[self->opts.strategy == ZR__STRATEGY_HASH ? 1 : 0]);
    cJSON *w = cJSON_AddObjectToObject(b, "workers");
    cJSON_AddNumberToObject(w, "ready", (double) zr__stat_get(&self->st_ready));
    cJSON_AddNumberToObject(w, "busy", (double) zr__stat_get(&self->st_busy));
    cJSON_AddNumberToObject(w, "known",
                            (double) zr__stat_get(&self->st_workers));
    cJSON_AddNumberToObject(w, "expired",
                            (double) zr__stat_get(&self->st_expired));
    cJSON *r = cJSON_AddObjectToObject(b, "requests");
    cJSON_AddNumberToObject(r, "waiting",
                            (double) zr__stat_get(&self->st_waiting));
    cJSON_AddNumberToObject(r, "in_flight",
                            (double) zr__stat_get(&self->st_inflight));
    cJSON_AddNumberToObject(r, "answered",
                            (double) zr__stat_get(&self->st_answered));
    cJSON_AddNumberToObject(r, "retried",
                            (double) zr__stat_get(&self->st_retried));
    cJSON_AddNumberToObject(r, "failed",
                            (double) zr__stat_get(&self->st_failed));
    cJSON_AddNumberToObject(r, "timeouts",
                            (double) zr__stat_get(&self->st_timeouts));
    cJSON_AddNumberToObject(r, "rejected",
                            (double) zr__stat_get(&self->st_rejected));
    cJSON_AddNumberToObject(r, "late_replies",
                            (double) zr__stat_get(&self->st_late));
}
