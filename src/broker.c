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
 *        and is never expired by silence: its connection closing (below)
 *        or busy_timeout gives it up.
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
 * A send to a worker fails in one of two ways (ROUTER_MANDATORY):
 * EHOSTUNREACH, its connection is gone: the worker is dead. EAGAIN, its
 * pipe is full: it is alive but not reading; it is marked full and given
 * nothing (lru: the request goes to another ready worker or waits; hash:
 * it waits in that worker's queue) until a heartbeat to it goes through
 * again (a REQ worker: the next heartbeat tick), never lost, never sent
 * twice. A request in flight on a worker that dies (a send to it fails
 * with EHOSTUNREACH, it misses its heartbeats, or it is busy past
 * busy_timeout) goes to another worker, up to `retries` times. A request
 * that cannot be served gets an error reply, never silence.
 *
 * A worker's connection (tcp, ipc) is known by its fd (ZMQ_SRCFD of its
 * messages); when the backend's socket monitor reports that fd
 * DISCONNECTED, the worker is gone at once, busy or idle, whatever its
 * kind (libzmq 4.3.4 has no other way: ROUTER_NOTIFY is draft, and a
 * REQ worker takes no probe). inproc has no fd: busy_timeout there.
 *
 * How a worker's removal stays safe: s_worker_gone unlinks the worker at
 * once but frees it only when the engine's call into the broker returns
 * (s_end), and it dispatches nothing itself: its requests go to a list of
 * orphans that the end of the call dispatches. So no function ever holds
 * a freed worker, removals never nest, and the timer looks at a list of
 * workers nothing changes under it.
 *
 * [federation] With `peers` (lru only, fed.c), a request that finds no
 * ready worker may go to a peer queue that advertised ready ones; its
 * reply comes back through fed.c's answer hook. A request that came from
 * a peer ([identity, hop, "", body...]: fed.c's hop frame) is served
 * here only: the hop frame is taken off before a worker sees it (the
 * Guide's lbworker unpacks exactly [identity, "", body]) and put back on
 * its reply or error reply.
 *
 * What costs what, per request: finding a worker by identity O(1) (a hash
 * table), the lru ready list O(1) (doubly linked), the counters O(1)
 * (kept as workers change state), the hash ring O(log n) (a sorted array;
 * a joining worker's points are merged at the next lookup, a leaving
 * worker's are marked dead and swept when they are half the ring).
 */
#include "zr_impl.h"

#include <stddef.h>

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <zmq.h>

#define S_READY "\x01"
#define S_HEARTBEAT "\x02"
#define S_RING_POINTS 64 /* virtual nodes per worker on the hash ring */

typedef enum { S_PPP, S_REQ } s_kind_t;

/* S_IDLE: ready for a request (lru: on the ready list). S_BUSY: one
 * request in flight. S_FULL: its pipe was full at the last send; nothing
 * goes to it until a heartbeat does. S_NONE: joining or gone. */
typedef enum { S_NONE, S_IDLE, S_BUSY, S_FULL, S_NSTATES } s_state_t;

/* What a send to a worker came to. */
typedef enum { S_TAKEN, S_REFUSED_FULL, S_REFUSED_GONE } s_offer_t;

typedef struct {
    zr__request_t base; /* first: its link, retries and since */
    zr__msg_t msg;      /* the client's: envelope, then body */
    uint64_t key;       /* hash */
    bool has_hop;       /* [federation] from a peer: served here only */
    zmq_msg_t hop;      /* its hop frame, after the identity on replies */
} s_request_t;

typedef struct s_worker {
    zr__ready_link_t ready; /* first: on the lru ready list */
    unsigned char id[256];
    size_t id_len;
    uint64_t id_hash;
    s_kind_t kind;
    s_state_t state;
    bool gone; /* unlinked; freed at the end of the engine's call */
    int fd;    /* its connection (ZMQ_SRCFD); -1: none (inproc) */
    /* Its connection closed while it had a request: it is gone once the
     * backend was read dry since (s_disconnected), so that its reply,
     * queued before the close, is not taken for a late one. */
    bool closed;
    uint64_t closed_at; /* zr__engine_drained() then */
    int64_t closed_ms;  /* and the time: a heartbeat later it goes anyway */
    char addr[64];      /* the peer's address, for the log; "" for inproc */
    int64_t expiry;     /* ppp: silent this long and it is gone */
    int64_t busy_since;
    s_request_t *inflight;
    zr__requests_t queue;         /* hash: requests for its keys */
    size_t slot;                  /* in the broker's workers[] */
    struct s_worker *bucket_next; /* the identity table */
    struct s_worker *list_next;   /* graveyard, timer's lists */
    const char *why;              /* the timer's verdict */
} s_worker_t;

typedef struct {
    uint64_t point;
    s_worker_t *worker; /* NULL: a dead point, swept later */
} s_point_t;

typedef struct {
    s_point_t *points; /* sorted */
    size_t size, dead;
    s_point_t *pending; /* joined workers' points, merged at a lookup */
    size_t npending, cap_pending;
} s_ring_t;

struct zr__broker_t {
    zr__engine_t *engine;
    void *frontend, *backend;
    char name[64];
    zr__broker_opts_t opts;
    zr__monitor_t *monitor; /* the backend's: connections that close */
    s_worker_t **workers;   /* every live worker, for the timer */
    size_t nworkers, cap;
    s_worker_t **table; /* by identity: chains, a power of 2 of them */
    size_t nbuckets;
    zr__ready_t ready;      /* lru: idle workers */
    zr__requests_t waiting; /* lru: no worker ready; hash: no worker at all */
    zr__requests_t orphans; /* to dispatch again at the end of this call */
    s_worker_t *graveyard;
    size_t nclosed;           /* workers closed, not yet gone */
    s_ring_t ring;            /* hash */
    size_t nstate[S_NSTATES]; /* workers per state */
    size_t nqueued;           /* requests in the workers' queues */
    int64_t next_beat;
    zr__fed_t *fed;      /* [federation] peers, or NULL (fed.c) */
    size_t nforwardable; /* requests waiting that are not a peer's */
    bool stopping;       /* s_flush: what comes back is not sent again */
    _Atomic uint64_t st_ready, st_busy, st_full, st_workers, st_expired,
        st_refused, st_beats_unsent, st_waiting, st_inflight, st_retried,
        st_failed, st_stopped, st_answered, st_late, st_timeouts, st_rejected,
        st_worker_full, st_dropped;
};

/* ---------------------------------------------------------------------
 * Requests and queues.
 */

/* The first request of Q, taken off (zr__request_t is its first
 * member). */
static s_request_t *
s_pop(zr__requests_t *q)
{
    return (s_request_t *) zr__requests_pop(q);
}

/* A worker's queue, with the broker's count of queued requests. */
static void
s_queue_push(zr__broker_t *self, s_worker_t *w, s_request_t *r, bool front)
{
    if (front) {
        zr__requests_push_front(&w->queue, &r->base);
    }
    else {
        zr__requests_push(&w->queue, &r->base);
    }
    self->nqueued++;
}

static s_request_t *
s_queue_pop(zr__broker_t *self, s_worker_t *w)
{
    s_request_t *r = s_pop(&w->queue);
    self->nqueued -= r != NULL;
    return r;
}

static void
s_request_free(s_request_t *r)
{
    if (r) {
        zr__msg_destroy(&r->msg);
        if (r->has_hop) {
            zmq_msg_close(&r->hop);
        }
        free(r);
    }
}

/* lru: R waits for a worker (at the front when it was first in line
 * already); the count of those a peer may take follows. */
static void
s_wait(zr__broker_t *self, s_request_t *r, bool front)
{
    if (front) {
        zr__requests_push_front(&self->waiting, &r->base);
    }
    else {
        zr__requests_push(&self->waiting, &r->base);
    }
    self->nforwardable += !r->has_hop;
}

static s_request_t *
s_wait_pop(zr__broker_t *self)
{
    s_request_t *r = s_pop(&self->waiting);
    self->nforwardable -= r && !r->has_hop;
    return r;
}

/* [federation] A reply (or error reply) MSG to R's client: R's hop frame
 * back after the identity, where its peer's fed.c looks for it. */
static int
s_put_hop(const s_request_t *r, zr__msg_t *msg)
{
    if (!r->has_hop || msg->size == 0) {
        return 0;
    }
    return zr__msg_insert(msg, 1, zmq_msg_data((zmq_msg_t *) &r->hop),
                          zmq_msg_size((zmq_msg_t *) &r->hop));
}

/* How many frames of M are the client's envelope: its identity, and the
 * empty delimiter a REQ client sends. */
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
    s_put_hop(r, &reply);
    /* Through the engine, in order with the other replies, with the
     * frontend's policy for a client that does not read. */
    zr__engine_inject(self->engine, self->frontend, &reply);
    zr__msg_destroy(&reply);
    /* Timeouts and rejections have counters of their own. */
    if (strcmp(code, "failed") == 0) {
        zr__stat_add(&self->st_failed, 1);
    }
    else if (strcmp(code, "stopping") == 0) {
        zr__stat_add(&self->st_stopped, 1);
    }
    s_request_free(r);
}

/* R's worker died with it: another try, or its error reply. */
static void
s_retry(zr__broker_t *self, s_request_t *r)
{
    if (r->base.retries >= self->opts.retries) {
        s_fail(self, r, "failed",
               "the workers handling it failed; no more retries");
        return;
    }
    r->base.retries++;
    zr__stat_add(&self->st_retried, 1);
    zr__requests_push_front(&self->orphans, &r->base);
}

/* ---------------------------------------------------------------------
 * The hash ring.
 */

static int
s_point_cmp(const void *a, const void *b)
{
    uint64_t x = ((const s_point_t *) a)->point;
    uint64_t y = ((const s_point_t *) b)->point;
    return x < y ? -1 : x > y;
}

/* W's point number P. */
static uint64_t
s_point_of(const s_worker_t *w, int p)
{
    unsigned char buf[sizeof w->id + 1];
    memcpy(buf, w->id, w->id_len);
    buf[w->id_len] = (unsigned char) p;
    return zr__hash(buf, w->id_len + 1);
}

static int
s_ring_add(s_ring_t *ring, s_worker_t *w)
{
    if (ring->npending + S_RING_POINTS > ring->cap_pending) {
        size_t cap = 2 * ring->cap_pending + S_RING_POINTS;
        s_point_t *p = realloc(ring->pending, cap * sizeof *p);
        if (!p) {
            return -1;
        }
        ring->pending = p;
        ring->cap_pending = cap;
    }
    for (int p = 0; p < S_RING_POINTS; p++) {
        ring->pending[ring->npending++] = (s_point_t){s_point_of(w, p), w};
    }
    return 0;
}

/* The first point at or after KEY in POINTS (SIZE when none). */
static size_t
s_lower_bound(const s_point_t *points, size_t size, uint64_t key)
{
    size_t lo = 0, hi = size;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (points[mid].point < key) {
            lo = mid + 1;
        }
        else {
            hi = mid;
        }
    }
    return lo;
}

/* W's points off the ring: dead where merged, gone where pending. */
static void
s_ring_remove(s_ring_t *ring, const s_worker_t *w)
{
    for (size_t i = 0; i < ring->npending;) {
        if (ring->pending[i].worker == w) {
            ring->pending[i] = ring->pending[--ring->npending];
        }
        else {
            i++;
        }
    }
    for (int p = 0; p < S_RING_POINTS; p++) {
        uint64_t point = s_point_of(w, p);
        size_t i = s_lower_bound(ring->points, ring->size, point);
        for (; i < ring->size && ring->points[i].point == point; i++) {
            if (ring->points[i].worker == w) {
                ring->points[i].worker = NULL;
                ring->dead++;
                break;
            }
        }
    }
}

/* The pending points merged in, the dead ones swept out: one pass. */
static void
s_ring_merge(s_ring_t *ring)
{
    size_t live = ring->size - ring->dead + ring->npending;
    s_point_t *out = malloc((live ? live : 1) * sizeof *out);
    if (!out) {
        return; /* lookups go on over the old ring */
    }
    qsort(ring->pending, ring->npending, sizeof *ring->pending, s_point_cmp);
    size_t i = 0, j = 0, n = 0;
    while (i < ring->size || j < ring->npending) {
        if (i < ring->size && !ring->points[i].worker) {
            i++;
        }
        else if (j >= ring->npending ||
                 (i < ring->size &&
                  ring->points[i].point <= ring->pending[j].point)) {
            out[n++] = ring->points[i++];
        }
        else {
            out[n++] = ring->pending[j++];
        }
    }
    free(ring->points);
    ring->points = out;
    ring->size = n;
    ring->dead = 0;
    ring->npending = 0;
}

/* The live worker that owns KEY: the first live point at or after it. */
static s_worker_t *
s_ring_owner(s_ring_t *ring, uint64_t key)
{
    if (ring->npending || ring->dead > ring->size / 2) {
        s_ring_merge(ring);
    }
    size_t live = ring->size - ring->dead;
    if (!live) {
        return NULL;
    }
    size_t i = s_lower_bound(ring->points, ring->size, key);
    for (;; i++) {
        const s_point_t *p = &ring->points[i % ring->size];
        if (p->worker) {
            return p->worker;
        }
    }
}

static void
s_ring_destroy(s_ring_t *ring)
{
    free(ring->points);
    free(ring->pending);
    *ring = (s_ring_t){0};
}

/* ---------------------------------------------------------------------
 * Workers: the identity table, the ready list, states.
 */

static s_worker_t *
s_worker_find(const zr__broker_t *self, const void *id, size_t len)
{
    if (!self->nbuckets) {
        return NULL;
    }
    uint64_t h = zr__hash(id, len);
    s_worker_t *w = self->table[h & (self->nbuckets - 1)];
    for (; w; w = w->bucket_next) {
        if (w->id_hash == h && w->id_len == len &&
            memcmp(w->id, id, len) == 0) {
            return w;
        }
    }
    return NULL;
}

static void
s_table_insert(zr__broker_t *self, s_worker_t *w)
{
    s_worker_t **b = &self->table[w->id_hash & (self->nbuckets - 1)];
    w->bucket_next = *b;
    *b = w;
}

static void
s_table_remove(zr__broker_t *self, s_worker_t *w)
{
    s_worker_t **p = &self->table[w->id_hash & (self->nbuckets - 1)];
    while (*p && *p != w) {
        p = &(*p)->bucket_next;
    }
    if (*p) {
        *p = w->bucket_next;
    }
}

/* Room for one more worker in workers[] and the table. */
static int
s_reserve(zr__broker_t *self)
{
    if (self->nworkers == self->cap) {
        size_t cap = self->cap ? 2 * self->cap : 16;
        s_worker_t **ws = realloc(self->workers, cap * sizeof *ws);
        if (!ws) {
            return -1;
        }
        self->workers = ws;
        self->cap = cap;
    }
    if (self->nworkers + 1 > self->nbuckets) {
        size_t n = self->nbuckets ? 2 * self->nbuckets : 64;
        s_worker_t **table = calloc(n, sizeof *table);
        if (!table) {
            return -1;
        }
        free(self->table);
        self->table = table;
        self->nbuckets = n;
        for (size_t i = 0; i < self->nworkers; i++) {
            s_table_insert(self, self->workers[i]);
        }
    }
    return 0;
}

/* The one place a worker changes state: the counters and (lru) the ready
 * list follow. */
static void
s_set_state(zr__broker_t *self, s_worker_t *w, s_state_t state)
{
    bool lru = self->opts.strategy != ZR__STRATEGY_HASH;
    if (w->state == state) {
        return;
    }
    if (lru && w->state == S_IDLE) {
        zr__ready_unlink(&self->ready, &w->ready);
    }
    self->nstate[w->state] -= w->state != S_NONE;
    w->state = state;
    self->nstate[state] += state != S_NONE;
    if (lru && state == S_IDLE) {
        zr__ready_append(&self->ready, &w->ready);
    }
}

static void
s_counts(zr__broker_t *self)
{
    zr__stat_set(&self->st_ready, self->nstate[S_IDLE]);
    zr__stat_set(&self->st_busy, self->nstate[S_BUSY]);
    zr__stat_set(&self->st_inflight, self->nstate[S_BUSY]);
    zr__stat_set(&self->st_full, self->nstate[S_FULL]);
    zr__stat_set(&self->st_workers, self->nworkers);
    zr__stat_set(&self->st_waiting, self->waiting.size + self->nqueued);
}

/* W for the log: its identity (printable, else in hex, cut short) and
 * its peer's address when it has one. */
static const char *
s_worker_name(const s_worker_t *w, char *buf, size_t len)
{
    bool text = w->id_len > 0;
    for (size_t i = 0; i < w->id_len; i++) {
        text = text && w->id[i] >= 32 && w->id[i] < 127;
    }
    char id[72] = "";
    if (text) {
        snprintf(id, sizeof id, "'%.*s'", (int) w->id_len,
                 (const char *) w->id);
    }
    else {
        size_t n = 0;
        for (size_t i = 0; i < w->id_len && n + 3 < sizeof id; i++) {
            n += (size_t) snprintf(id + n, sizeof id - n, "%02x", w->id[i]);
        }
    }
    snprintf(buf, len, "%s%s%s%s", id, w->addr[0] ? " (" : "", w->addr,
             w->addr[0] ? ")" : "");
    return buf;
}

/* W is gone: unlinked now, freed at the end of the engine's call; its
 * request in flight and (hash) its queue become orphans. */
static void
s_worker_gone(zr__broker_t *self, s_worker_t *w, const char *why)
{
    if (w->gone) {
        return;
    }
    char name[160];
    ZR_LOG_I("%s: worker %s %s%s", self->name,
             s_worker_name(w, name, sizeof name), why,
             w->inflight ? "; its request goes to another worker" : "");
    s_set_state(self, w, S_NONE);
    s_table_remove(self, w);
    self->workers[w->slot] = self->workers[--self->nworkers];
    self->workers[w->slot]->slot = w->slot;
    if (self->opts.strategy == ZR__STRATEGY_HASH) {
        s_ring_remove(&self->ring, w);
    }
    w->gone = true;
    self->nclosed -= w->closed;
    w->list_next = self->graveyard;
    self->graveyard = w;
    zr__stat_add(&self->st_expired, 1);
    if (w->inflight) {
        s_retry(self, w->inflight);
        w->inflight = NULL;
    }
    self->nqueued -= w->queue.size;
    zr__requests_append(&self->orphans, &w->queue);
}

/* A new worker, idle and known, or NULL (out of memory). */
static s_worker_t *
s_worker_join(zr__broker_t *self, const void *id, size_t len, s_kind_t kind)
{
    if (len > sizeof(((s_worker_t *) 0)->id) || s_reserve(self) != 0) {
        return NULL;
    }
    s_worker_t *w = calloc(1, sizeof *w);
    if (!w) {
        return NULL;
    }
    memcpy(w->id, id, len);
    w->id_len = len;
    w->fd = -1;
    w->id_hash = zr__hash(id, len);
    w->kind = kind;
    if (self->opts.strategy == ZR__STRATEGY_HASH &&
        s_ring_add(&self->ring, w) != 0) {
        free(w);
        return NULL;
    }
    w->slot = self->nworkers;
    self->workers[self->nworkers++] = w;
    s_table_insert(self, w);
    /* With hash, keys that waited for any worker at all find one now. */
    if (self->opts.strategy == ZR__STRATEGY_HASH) {
        zr__requests_append(&self->orphans, &self->waiting);
        self->nforwardable = 0;
    }
    return w;
}

/* ---------------------------------------------------------------------
 * Requests to workers.
 */

/* Send R (kept) to W now: 0, or -1 with errno (EAGAIN: W's pipe is full;
 * EHOSTUNREACH: W is gone; ENOMEM). */
static int
s_send_to(zr__broker_t *self, const s_worker_t *w, const s_request_t *r)
{
    zr__msg_t out = {NULL, 0, 0};
    if (zr__msg_copy(&out, &r->msg) != 0 ||
        (w->kind == S_REQ && zr__msg_prepend(&out, "", 0) != 0) ||
        zr__msg_prepend(&out, w->id, w->id_len) != 0) {
        zr__msg_destroy(&out);
        errno = ENOMEM;
        return -1;
    }
    int rc = zr__engine_send_now(self->engine, self->backend, &out);
    int err = errno;
    zr__msg_destroy(&out);
    errno = err;
    return rc;
}

/* Offer R to W. Taken: W is busy with it. Refused: R is still the
 * caller's, and W is full (its pipe is) or gone. */
static s_offer_t
s_offer(zr__broker_t *self, s_worker_t *w, s_request_t *r)
{
    if (s_send_to(self, w, r) != 0) {
        if (errno == EHOSTUNREACH) {
            s_worker_gone(self, w, "is gone (a send to it failed)");
            return S_REFUSED_GONE;
        }
        /* Alive but not reading (or no memory now): not dead. */
        zr__stat_add(&self->st_worker_full, 1);
        s_set_state(self, w, S_FULL);
        return S_REFUSED_FULL;
    }
    s_set_state(self, w, S_BUSY);
    w->inflight = r;
    w->busy_since = zr__now_ms();
    if (self->opts.busy_timeout > 0) {
        zr__engine_set_deadline(self->engine,
                                w->busy_since + self->opts.busy_timeout);
    }
    return S_TAKEN;
}

/* lru: the least recently ready worker, else wait (at the front when R
 * was first in line already). */
static void
s_dispatch_lru(zr__broker_t *self, s_request_t *r, bool first)
{
    /* Each refusal takes a worker off the ready list: this ends. */
    while (self->ready.head) {
        if (s_offer(self, (s_worker_t *) self->ready.head, r) == S_TAKEN) {
            return;
        }
    }
    s_wait(self, r, first); /* [federation] s_end may send it to a peer */
}

/* hash: the owner of R's key, else its queue; with no worker at all,
 * wait. */
static void
s_dispatch_hash(zr__broker_t *self, s_request_t *r)
{
    for (;;) {
        s_worker_t *w = s_ring_owner(&self->ring, r->key);
        if (!w) {
            s_wait(self, r, false);
            return;
        }
        if (w->state != S_IDLE) {
            s_queue_push(self, w, r, false);
            return;
        }
        s_offer_t o = s_offer(self, w, r);
        if (o == S_TAKEN) {
            return;
        }
        if (o == S_REFUSED_FULL) {
            s_queue_push(self, w, r, true); /* idle: its queue was empty */
            return;
        }
        /* Gone, off the ring: the key has another owner now. */
    }
}

static void
s_dispatch(zr__broker_t *self, s_request_t *r, bool first)
{
    if (self->opts.strategy == ZR__STRATEGY_HASH) {
        s_dispatch_hash(self, r);
    }
    else {
        s_dispatch_lru(self, r, first);
    }
}

/* W can take a request: what waits for it, or (lru) the ready list. */
static void
s_worker_idle(zr__broker_t *self, s_worker_t *w)
{
    if (w->gone) {
        return;
    }
    bool hash = self->opts.strategy == ZR__STRATEGY_HASH;
    s_request_t *r = hash ? s_queue_pop(self, w) : s_wait_pop(self);
    if (!r) {
        s_set_state(self, w, S_IDLE);
        return;
    }
    s_offer_t o = s_offer(self, w, r);
    if (o == S_TAKEN) {
        return;
    }
    if (hash && o == S_REFUSED_FULL) {
        s_queue_push(self, w, r, true);
    }
    else if (hash) {
        /* Ahead of W's queue. */
        zr__requests_push_front(&self->orphans, &r->base);
    }
    else {
        s_wait(self, r, true);
    }
}

/* [federation] No worker is ready here: the requests waiting (not a
 * peer's: one hop at most) go to peers while one takes them, in order. */
static void
s_fed_spill(zr__broker_t *self)
{
    if (!self->fed || self->stopping || self->ready.head ||
        !self->nforwardable) {
        return;
    }
    zr__requests_t keep = {NULL, NULL, 0}; /* peers' requests, in order */
    s_request_t *r;
    while (self->nforwardable && (r = s_pop(&self->waiting))) {
        if (r->has_hop) {
            zr__requests_push(&keep, &r->base);
            continue;
        }
        size_t env = s_envelope(&r->msg);
        zr__msg_t body = {r->msg.frames + env, r->msg.size - env, 0};
        if (!zr__fed_forward(self->fed, r, ZR__FED_QUEUE,
                             sizeof ZR__FED_QUEUE - 1, &body)) {
            /* No peer takes it: none takes the next either. */
            zr__requests_push_front(&self->waiting, &r->base);
            break;
        }
        self->nforwardable--;
        if (self->opts.busy_timeout > 0) { /* zr__fed_expired, then */
            zr__engine_set_deadline(self->engine,
                                    zr__now_ms() + self->opts.busy_timeout);
        }
    }
    zr__requests_append(&keep, &self->waiting);
    self->waiting = keep;
}

/* The end of every call from the engine: orphans dispatched, what waits
 * sent to peers, the dead freed, the counters published. */
static void
s_end(zr__broker_t *self)
{
    s_request_t *r;
    while ((r = s_pop(&self->orphans))) {
        s_dispatch(self, r, true);
    }
    s_fed_spill(self);
    while (self->graveyard) {
        s_worker_t *w = self->graveyard;
        self->graveyard = w->list_next;
        free(w);
    }
    s_counts(self);
}

/* ---------------------------------------------------------------------
 * Messages from workers and clients.
 */

static bool
s_is(const zmq_msg_t *frame, const char *text, size_t len)
{
    return zmq_msg_size((zmq_msg_t *) frame) == len &&
           memcmp(zmq_msg_data((zmq_msg_t *) frame), text, len) == 0;
}

/* READY from W (NULL: unknown so far). */
static void
s_on_ready(zr__broker_t *self, s_worker_t *w, const zr__msg_t *msg,
           s_kind_t kind, int64_t expiry)
{
    if (!w) {
        w = s_worker_join(self, zmq_msg_data((zmq_msg_t *) &msg->frames[0]),
                          zmq_msg_size((zmq_msg_t *) &msg->frames[0]), kind);
        if (!w) {
            zr__stat_add(&self->st_refused, 1);
            return;
        }
    }
    else if (w->inflight) {
        /* Back from a restart with the same identity: what it had in
         * flight is lost with the old process; send it elsewhere. */
        s_retry(self, w->inflight);
        w->inflight = NULL;
    }
    w->kind = kind;
    /* Whatever it was (busy, full), a new process has an empty pipe. */
    s_set_state(self, w, S_NONE);
    w->expiry = expiry;
    s_worker_idle(self, w);
}

/* HEARTBEAT from W (NULL: unknown). */
static void
s_on_heartbeat(zr__broker_t *self, s_worker_t *w, const zr__msg_t *msg,
               int64_t expiry)
{
    if (w) {
        w->expiry = expiry;
        return;
    }
    /* A worker expired here that is still alive (its heartbeats were
     * late): welcome again, as ppqueue does. */
    w = s_worker_join(self, zmq_msg_data((zmq_msg_t *) &msg->frames[0]),
                      zmq_msg_size((zmq_msg_t *) &msg->frames[0]), S_PPP);
    if (!w) {
        zr__stat_add(&self->st_refused, 1);
        return;
    }
    w->expiry = expiry;
    s_worker_idle(self, w);
}

/* Is MSG (a reply after SKIP frames) for R's client? */
static bool
s_reply_matches(const zr__msg_t *msg, size_t skip, const s_request_t *r)
{
    size_t env = s_envelope(&r->msg);
    if (msg->size <= skip + env) {
        return false;
    }
    for (size_t i = 0; i < env; i++) {
        zmq_msg_t *a = (zmq_msg_t *) &msg->frames[skip + i];
        zmq_msg_t *b = (zmq_msg_t *) &r->msg.frames[i];
        if (zmq_msg_size(a) != zmq_msg_size(b) ||
            memcmp(zmq_msg_data(a), zmq_msg_data(b), zmq_msg_size(a)) != 0) {
            return false;
        }
    }
    return true;
}

/* A reply from W: [identity, ("",) client envelope, reply]. */
static zr__verdict_t
s_on_reply(zr__broker_t *self, s_worker_t *w, zr__msg_t *msg, size_t skip,
           int64_t expiry)
{
    if (!w || !w->inflight || !s_reply_matches(msg, skip, w->inflight)) {
        /* From a worker given up on, or never asked, or for a request it
         * had before: that request went to another worker, which answers
         * it. */
        zr__stat_add(&self->st_late, 1);
        return ZR__DROP;
    }
    w->expiry = expiry;
    for (size_t i = 0; i < skip; i++) {
        zr__msg_remove(msg, 0);
    }
    if (s_put_hop(w->inflight, msg) != 0) {
        zr__stat_add(&self->st_dropped, 1); /* no memory to answer it */
        s_request_free(w->inflight);
        w->inflight = NULL;
        s_set_state(self, w, S_NONE);
        s_worker_idle(self, w);
        return ZR__DROP;
    }
    s_request_free(w->inflight);
    w->inflight = NULL;
    zr__stat_add(&self->st_answered, 1);
    if (w->closed) {
        /* Its last word: its connection closed after this reply. */
        s_worker_gone(self, w, "is gone (its connection closed)");
        return ZR__SEND;
    }
    s_set_state(self, w, S_NONE);
    s_worker_idle(self, w);
    return ZR__SEND;
}

/* W speaks over connection FD (MSG came over it): its peer's address,
 * for the log, and the fd its DISCONNECTED event will name. */
static void
s_connection(zr__broker_t *self, s_worker_t *w, const zr__msg_t *msg, int fd,
             bool joined)
{
    w->fd = fd;
    w->addr[0] = 0;
    if (fd >= 0 && zr__peer_name(fd, w->addr, sizeof w->addr) == 0) {
        /* its address and port */
    }
    else if (fd >= 0) {
        const char *peer =
            zmq_msg_gets((zmq_msg_t *) &msg->frames[1], "Peer-Address");
        snprintf(w->addr, sizeof w->addr, "%s%sfd %d", peer ? peer : "",
                 peer ? ", " : "", fd);
    }
    char name[160];
    ZR_LOG_I("%s: %s worker %s %s", self->name,
             w->kind == S_PPP ? "Paranoid Pirate" : "REQ",
             s_worker_name(w, name, sizeof name),
             joined ? "joined" : "is back on a new connection");
}

/* The backend's connection FD closed: its worker, if any, is gone (a
 * monitor callback, alone or from s_from_worker before a lookup). */
static void
s_disconnected(void *arg, int fd)
{
    zr__broker_t *self = arg;
    for (size_t i = 0; i < self->nworkers; i++) {
        s_worker_t *w = self->workers[i];
        if (w->fd == fd && w->inflight) {
            /* Its reply may be queued in the backend still: it goes once
             * the backend was read dry (s_check). */
            w->closed = true;
            w->closed_at = zr__engine_drained(self->engine, self->backend);
            w->closed_ms = zr__now_ms();
            w->fd = -1; /* FD may be a new connection's soon */
            self->nclosed++;
            zr__engine_set_deadline(self->engine, zr__now_ms());
            return;
        }
        if (w->fd == fd) {
            s_worker_gone(self, w, "is gone (its connection closed)");
            s_end(self);
            return;
        }
    }
}

/* Something from a worker: [identity, ...]. */
static zr__verdict_t
s_from_worker(zr__broker_t *self, zr__msg_t *msg)
{
    if (msg->size < 2) {
        return ZR__DROP; /* a ROUTER gives at least [identity, frame] */
    }
    const void *id = zmq_msg_data(&msg->frames[0]);
    size_t id_len = zmq_msg_size(&msg->frames[0]);
    s_worker_t *w = s_worker_find(self, id, id_len);
    /* The frames from the wire carry it (the identity frame, made by the
     * ROUTER, may not once the engine has moved it). */
    int fd = zmq_msg_get(&msg->frames[1], ZMQ_SRCFD);
    if (fd >= 0 && (!w || w->fd != fd)) {
        /* A connection new to the broker: first what closed before it
         * (its fd may have been a gone worker's, and this worker may be
         * one back on a new connection). */
        if (self->monitor) {
            zr__monitor_drain(self->monitor);
        }
        w = s_worker_find(self, id, id_len);
        if (w) {
            s_connection(self, w, msg, fd, false);
        }
    }
    bool known = w != NULL;
    bool req = zmq_msg_size(&msg->frames[1]) == 0;
    size_t skip = req ? 2 : 1; /* identity, and a REQ's delimiter */
    int64_t expiry =
        zr__now_ms() + (int64_t) self->opts.heartbeat * self->opts.liveness;
    if (msg->size == skip + 1) {
        const zmq_msg_t *f = &msg->frames[skip];
        if (s_is(f, S_READY, 1) || (req && s_is(f, "READY", 5))) {
            s_on_ready(self, w, msg, req ? S_REQ : S_PPP, expiry);
        }
        else if (s_is(f, S_HEARTBEAT, 1) && !req) {
            s_on_heartbeat(self, w, msg, expiry);
        }
        else if (!s_is(f, S_HEARTBEAT, 1)) {
            return s_on_reply(self, w, msg, skip, expiry);
        }
        /* A worker that joined now: MSG is whole (only a reply loses its
         * identity frame, and an unknown worker's is dropped). */
        if (!known && (w = s_worker_find(self, id, id_len)) != NULL) {
            s_connection(self, w, msg, fd, true);
        }
        return ZR__DROP;
    }
    return s_on_reply(self, w, msg, skip, expiry);
}

/* A request from a client: [identity, ("",) body...]. */
static zr__verdict_t
s_from_client(zr__broker_t *self, zr__msg_t *msg)
{
    s_request_t *r = calloc(1, sizeof *r);
    if (!r) {
        zr__stat_add(&self->st_dropped, 1); /* no memory to answer it */
        return ZR__DROP;
    }
    zr__msg_move(&r->msg, msg);
    r->base.since = zr__now_ms();
    /* [federation] [identity, hop, "", body...]: a peer's request (fed.c);
     * its hop frame waits here for the reply. */
    if (r->msg.size >= 3 && zr__fed_is_hop(&r->msg.frames[1]) &&
        zmq_msg_size(&r->msg.frames[2]) == 0) {
        zmq_msg_init(&r->hop);
        zmq_msg_move(&r->hop, &r->msg.frames[1]);
        zr__msg_remove(&r->msg, 1);
        r->has_hop = true;
    }
    size_t env = s_envelope(&r->msg);
    size_t k = env + self->opts.hash_frame;
    if (self->opts.strategy == ZR__STRATEGY_HASH && k < r->msg.size) {
        r->key = zr__hash(zmq_msg_data(&r->msg.frames[k]),
                          zmq_msg_size(&r->msg.frames[k]));
    }
    size_t waiting = self->waiting.size + self->nqueued;
    if (self->opts.max_waiting && waiting >= self->opts.max_waiting &&
        !(self->opts.strategy != ZR__STRATEGY_HASH && self->ready.head)) {
        zr__stat_add(&self->st_rejected, 1);
        s_fail(self, r, "busy", "too many requests waiting for a worker");
        return ZR__TAKEN;
    }
    s_dispatch(self, r, false);
    return ZR__TAKEN;
}

static zr__verdict_t
s_message(void *arg, int dir, zr__msg_t *msg)
{
    zr__broker_t *self = arg;
    zr__verdict_t v = dir == ZR__UPSTREAM ? s_from_worker(self, msg)
                                          : s_from_client(self, msg);
    s_end(self);
    return v;
}

/* ---------------------------------------------------------------------
 * Time: heartbeats, silence, busy workers, waiting requests.
 */

/* Requests of Q that waited past request_timeout get their error reply;
 * returns how many. */
static size_t
s_expire_waiting(zr__broker_t *self, zr__requests_t *q, int64_t now)
{
    int64_t limit = self->opts.request_timeout;
    zr__requests_t expired = {NULL, NULL, 0};
    size_t n = zr__requests_expire(q, now, limit, &expired);
    s_request_t *r;
    while ((r = s_pop(&expired))) {
        if (q == &self->waiting) {
            self->nforwardable -= !r->has_hop;
        }
        zr__stat_add(&self->st_timeouts, 1);
        char text[96];
        snprintf(text, sizeof text, "no worker took it within %lld ms",
                 (long long) limit);
        s_fail(self, r, "timeout", text);
    }
    return n;
}

/* Heartbeat W: -1 with errno as a send to it fails. */
static int
s_heartbeat(zr__broker_t *self, const s_worker_t *w)
{
    zr__msg_t msg = {NULL, 0, 0};
    if (zr__msg_add(&msg, w->id, w->id_len) != 0 ||
        zr__msg_add(&msg, S_HEARTBEAT, 1) != 0) {
        zr__msg_destroy(&msg);
        errno = ENOMEM;
        return -1;
    }
    int rc = zr__engine_send_now(self->engine, self->backend, &msg);
    int err = errno;
    zr__msg_destroy(&msg);
    errno = err;
    return rc;
}

/* What the timer finds about W at NOW: why it is gone (NULL: it is not);
 * *ROOM when a full worker showed room again; *NEXT the nearest deadline. */
static const char *
s_check(zr__broker_t *self, s_worker_t *w, bool beat, int64_t now, bool *room,
        int64_t *next)
{
    if (w->closed) {
        /* Its connection closed while it had a request (s_disconnected):
         * gone once the backend was read dry since, its reply read; a
         * flood may keep the backend from running dry: a heartbeat after
         * the close it goes anyway (a reply read later is late). */
        if (zr__engine_drained(self->engine, self->backend) > w->closed_at ||
            now - w->closed_ms >= self->opts.heartbeat) {
            return "is gone (its connection closed)";
        }
        *next = now; /* again after the next read */
        return NULL;
    }
    *room = beat && w->state == S_FULL; /* a REQ worker: try it again */
    if (beat && w->kind == S_PPP) {
        /* Idle or busy, a heartbeat also probes: a send to a worker
         * whose connection is gone fails at once. */
        if (s_heartbeat(self, w) == 0) {
            *room = w->state == S_FULL;
        }
        else if (errno == EHOSTUNREACH) {
            return "is gone (its connection closed)";
        }
        else {
            /* Its pipe is full: alive, not reading; an idle one would
             * refuse a request too. */
            zr__stat_add(&self->st_beats_unsent, 1);
            *room = false;
            if (w->state == S_IDLE) {
                s_set_state(self, w, S_FULL);
            }
        }
    }
    /* A busy worker may not heartbeat (the Guide's does not): silence
     * expires the others only. */
    if (w->kind == S_PPP && w->state != S_BUSY && now >= w->expiry) {
        return "expired (no heartbeat)";
    }
    if (w->state == S_BUSY && self->opts.busy_timeout > 0) {
        int64_t at = w->busy_since + self->opts.busy_timeout;
        if (now >= at) {
            return "given up (busy past busy_timeout)";
        }
        *next = at < *next ? at : *next;
    }
    return NULL;
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
    /* First look at every worker, changing none: a removal or a request
     * sent moves workers in workers[] (and may end others). */
    s_worker_t *doomed = NULL, *revived = NULL;
    for (size_t i = 0; i < self->nworkers; i++) {
        s_worker_t *w = self->workers[i];
        bool room = false;
        w->why = s_check(self, w, beat, now, &room, &next);
        if (w->why || room) {
            s_worker_t **list = w->why ? &doomed : &revived;
            w->list_next = *list;
            *list = w;
        }
    }
    for (s_worker_t *w = doomed, *n; w; w = n) {
        n = w->list_next;
        s_worker_gone(self, w, w->why); /* w->list_next: the graveyard */
    }
    for (s_worker_t *w = revived, *n; w; w = n) {
        n = w->list_next;
        if (!w->gone) {
            s_set_state(self, w, S_NONE);
            s_worker_idle(self, w);
        }
    }
    if (beat) {
        zr__fed_tick(self->fed, now); /* [federation] state, liveness */
    }
    /* [federation] At a peer past busy_timeout, unanswered: given up as
     * a worker busy too long is (another try, or its error reply). */
    s_request_t *r;
    while (self->opts.busy_timeout > 0 &&
           (r = zr__fed_expired(self->fed, now, self->opts.busy_timeout, NULL,
                                NULL))) {
        s_retry(self, r);
    }
    s_expire_waiting(self, &self->waiting, now);
    for (size_t i = 0; i < self->nworkers; i++) {
        self->nqueued -= s_expire_waiting(self, &self->workers[i]->queue, now);
    }
    s_end(self);
    return zr__requests_next_check(now, self->opts.request_timeout, next);
}

/* At stop: every request not yet answered gets an error reply. */
static void
s_flush(void *arg)
{
    zr__broker_t *self = arg;
    s_request_t *r;
    self->stopping = true;
    zr__fed_flush(self->fed); /* [federation] forwarded ones come back */
    while ((r = s_wait_pop(self))) {
        s_fail(self, r, "stopping", "the broker is stopping");
    }
    for (size_t i = 0; i < self->nworkers; i++) {
        s_worker_t *w = self->workers[i];
        while ((r = s_queue_pop(self, w))) {
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
zr__broker_watch(zr__broker_t *self, zr__monitor_t *monitor)
{
    self->monitor = monitor;
    zr__monitor_on_disconnect(monitor, s_disconnected, self);
}

static void
s_free_all(zr__requests_t *q)
{
    s_request_t *r;
    while ((r = s_pop(q))) {
        s_request_free(r);
    }
}

void
zr__broker_destroy(zr__broker_t **self_p)
{
    if (!self_p || !*self_p) {
        return;
    }
    zr__broker_t *self = *self_p;
    s_free_all(&self->waiting);
    s_free_all(&self->orphans);
    for (size_t i = 0; i < self->nworkers; i++) {
        s_worker_t *w = self->workers[i];
        s_free_all(&w->queue);
        s_request_free(w->inflight);
        free(w);
    }
    while (self->graveyard) {
        s_worker_t *w = self->graveyard;
        self->graveyard = w->list_next;
        free(w);
    }
    free(self->workers);
    free(self->table);
    s_ring_destroy(&self->ring);
    free(self);
    *self_p = NULL;
}

/* ---------------------------------------------------------------------
 * [federation] What fed.c asks of the lru queue (docs/SCALING.md).
 */

void
zr__broker_set_fed(zr__broker_t *self, zr__fed_t *fed)
{
    self->fed = fed;
}

/* One service, ZR__FED_QUEUE: every worker can serve every request. */
static void
s_fed_ready(void *owner, void (*fn)(void *, const char *, size_t, size_t),
            void *arg)
{
    zr__broker_t *self = owner;
    if (self->nworkers) { /* busy ones too: 0 ready is news as well */
        fn(arg, ZR__FED_QUEUE, sizeof ZR__FED_QUEUE - 1, self->nstate[S_IDLE]);
    }
}

static void
s_fed_answer(void *owner, void *req, const char *svc, size_t len,
             zr__msg_t *msg, size_t at)
{
    zr__broker_t *self = owner;
    s_request_t *r = req;
    (void) svc;
    (void) len;
    zr__msg_t out = {NULL, 0, 0};
    size_t env = s_envelope(&r->msg);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < env; i++) {
        rc = zr__msg_add(&out, zr__msg_frame_data(&r->msg, i),
                         zr__msg_frame_size(&r->msg, i));
    }
    if (rc != 0 || zr__msg_take(&out, msg, at) != 0 ||
        zr__engine_inject(self->engine, self->frontend, &out) != 0) {
        zr__stat_add(&self->st_dropped, 1);
    }
    else {
        zr__stat_add(&self->st_answered, 1);
    }
    zr__msg_destroy(&out);
    s_request_free(r);
    s_end(self);
}

static void
s_fed_giveback(void *owner, void *req, const char *svc, size_t len)
{
    zr__broker_t *self = owner;
    (void) svc;
    (void) len;
    s_request_t *r = req;
    if (self->stopping) {
        s_wait(self, r, true); /* s_flush answers it */
        return;
    }
    /* A retry, as when a worker dies with it (a peer that keeps closing
     * its connection on it must not bounce it for ever), but its
     * request_timeout still counts from when it came. */
    s_retry(self, r);
    s_end(self);
}

static void
s_fed_offer(void *owner, const char *svc, size_t len)
{
    (void) svc;
    (void) len;
    s_end(owner);
}

static void
s_fed_free(void *req)
{
    s_request_free(req);
}

const zr__fed_owner_t zr__broker_fed = {
    s_fed_ready, s_fed_answer, s_fed_giveback, s_fed_offer, s_fed_free};

/* ---------------------------------------------------------------------
 * The broker's rows of the stats table.
 */

static const char *
s_strategy(const void *base)
{
    const zr__broker_t *self = base;
    return self->opts.strategy == ZR__STRATEGY_HASH ? "hash" : "lru";
}

#define S_AT(field) offsetof(zr__broker_t, field)
#define S_ROW(k, m, l, kd, field, text)                                        \
    {                                                                          \
        .key = k, .metric = m, .labels = l, .kind = kd, .help = text,          \
        .offset = S_AT(field)                                                  \
    }
#define S_WORKERS(k, field, text)                                              \
    S_ROW("workers." k, "broker_workers", "state=\"" k "\"", ZR__STAT_GAUGE,   \
          field, text)
#define S_REQUESTS(k, field, text)                                             \
    S_ROW("requests." k, "broker_requests_total", "outcome=\"" k "\"",         \
          ZR__STAT_COUNTER, field, text)
static const zr__stat_t s_rows[] = {
    {.key = "strategy",
     .metric = "broker_strategy_info",
     .kind = ZR__STAT_TEXT,
     .help = "How requests are spread over workers: lru or hash.",
     .text = s_strategy},
    S_WORKERS("ready", st_ready, "Workers waiting for a request."),
    S_WORKERS("busy", st_busy, "Workers with a request in flight."),
    S_WORKERS("full", st_full,
              "Workers alive whose queue is full; they get nothing until a "
              "heartbeat to them goes through."),
    S_ROW("workers.known", "broker_workers_known", NULL, ZR__STAT_GAUGE,
          st_workers, "Workers the broker knows now."),
    S_ROW("workers.expired", "broker_workers_expired_total", NULL,
          ZR__STAT_COUNTER, st_expired,
          "Workers given up: silent past liveness, gone, or busy past "
          "busy_timeout."),
    S_ROW("workers.refused", "broker_workers_refused_total", NULL,
          ZR__STAT_COUNTER, st_refused,
          "Times a worker's queue was full when the broker sent to it."),
    S_ROW("workers.heartbeats_unsent", "broker_heartbeats_unsent_total", NULL,
          ZR__STAT_COUNTER, st_beats_unsent,
          "Heartbeats a full worker could not take."),
    S_ROW("requests.waiting", "broker_requests_waiting", NULL, ZR__STAT_GAUGE,
          st_waiting, "Requests waiting for a worker."),
    S_ROW("requests.in_flight", "broker_requests_in_flight", NULL,
          ZR__STAT_GAUGE, st_inflight, "Requests a worker is working on."),
    S_REQUESTS("answered", st_answered, "Requests whose reply went back."),
    S_REQUESTS("retried", st_retried,
               "Requests sent again after their worker died, or their peer "
               "queue gave them back or kept them past busy_timeout."),
    S_REQUESTS("failed", st_failed,
               "Requests answered with an error after their retries."),
    S_REQUESTS("stopped", st_stopped,
               "Requests answered with an error: the broker stopped first."),
    S_REQUESTS("timeouts", st_timeouts,
               "Requests answered with an error after request_timeout."),
    S_REQUESTS("rejected", st_rejected,
               "Requests answered with an error: max_waiting reached."),
    S_REQUESTS("late_replies", st_late,
               "Replies dropped: their request was given up or answered."),
    S_REQUESTS("worker_full", st_worker_full,
               "Requests held back because their worker's queue was full."),
    S_REQUESTS("dropped", st_dropped, "Requests dropped for want of memory."),
};
#undef S_REQUESTS
#undef S_WORKERS
#undef S_ROW
#undef S_AT

zr__stat_section_t
zr__broker_section(const zr__broker_t *self)
{
    return (zr__stat_section_t){.path = "broker",
                                .rows = s_rows,
                                .nrows = sizeof s_rows / sizeof s_rows[0],
                                .base = self};
}
