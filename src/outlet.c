/* outlet.c - the one way out: every message the relay emits on a socket
 * (forwarded, injected by a handler, sent at once by a broker, a cached
 * last value) leaves through an outlet, whole, counted and captured.
 * SPDX-License-Identifier: MIT
 *
 * Sends are ZMQ_DONTWAIT. libzmq checks a socket's high-water mark on a
 * message's first frame; a refused first frame costs nothing and is dealt
 * with by the socket's policy:
 * - PUSH, DEALER, PAIR: hold the message and wait for ZMQ_POLLOUT.
 * - XPUB, PUB, XSUB: ZMQ_POLLOUT is not the truth there (an XPUB reports
 *   writable even when a NODROP send would fail): retry on a back-off
 *   timer. An XPUB with ZMQ_XPUB_NODROP and a block timeout sends the
 *   lossy way once a slow subscriber held it that long (drop_slow).
 * - ROUTER (sent to with ZMQ_ROUTER_MANDATORY): a gone peer is a drop
 *   (no_route) at once; a full peer gets a grace period (its I/O thread
 *   may just be behind; counted peer_stalls when it runs out), then is
 *   marked stalled and its messages are dropped (peer_full) without
 *   waiting. When one gets through again the peer is on probation for
 *   S_PROBATION_MS: full again in that time, it is dropped from at once,
 *   with no new grace, so a client that reads a little now and then
 *   cannot hold everyone else's replies up by a grace period each time.
 *
 * A later frame can fail only when the pipe the message went to dies
 * mid-message (libzmq 4.3.4):
 * - PUSH, DEALER (lb.cpp): EAGAIN; the frames written so far are rolled
 *   back, never flushed, so no peer sees them; if the refused frame had
 *   MORE, libzmq then swallows the rest of that message ("dropping" mode).
 * - PAIR: EAGAIN; the frames so far died with the pipe.
 * - ROUTER drops the rest silently (the peer is gone, so is its reply);
 *   XPUB and XSUB skip the dead pipe and go on.
 * So for PUSH, DEALER and PAIR an outlet keeps a copy of each frame it
 * sent (zmq_msg_copy: large bodies are shared) until the message is out;
 * on such a failure it ends libzmq's dropping mode and sends the whole
 * message again from its first frame, to whichever peer libzmq picks next
 * (the dead pipe is never picked again). Counted as msgs_resent; nothing
 * is lost and no peer ever receives a fragment.
 */
#include "zr_impl.h"

#include <bsd/sys/queue.h>
#include <bsd/sys/tree.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

/* Back-off for sockets whose ZMQ_POLLOUT cannot be trusted. */
#define S_BACKOFF_MIN_MS 1
#define S_BACKOFF_MAX_MS 64
#define S_BACKOFF_WAKE_MAX_MS 8
/* How long a full ROUTER peer may hold the outlet up, and how many stalled
 * peers are remembered (the oldest is forgotten first; a forgotten peer
 * just gets a grace period again, which holds everyone else up: so many
 * that frozen clients cannot cycle through them, ~300 bytes each). */
#define S_PEER_GRACE_MS 100
#define S_PROBATION_MS 5000
#define S_STALLED_MAX 4096
/* Restarts of one message in one attempt; past that the message waits
 * for ZMQ_POLLOUT like a refused one (peers are vanishing one by one). */
#define S_RESTARTS_MAX 16

typedef enum {
    S_WAIT_POLLOUT, /* PUSH, DEALER, PAIR, REQ, REP */
    S_WAIT_TIMER,   /* XPUB, PUB, XSUB */
    S_PER_PEER      /* ROUTER */
} s_policy_t;

/* What one attempt at the message in hand came to. */
typedef enum {
    S_SENT,    /* all of it went out */
    S_REFUSED, /* the first frame was refused (self->err); nothing went */
    S_PAUSED,  /* a later frame must wait; the socket keeps its place */
    S_BROKEN,  /* a later frame failed for good: dropped and counted */
    S_ENDED    /* the context was terminated */
} s_try_t;

typedef struct s_node {
    struct s_node *next;
    zr__msg_t msg;
} s_node_t;

/* A ROUTER peer that stalled: its identity (at most 255 bytes in ZMTP),
 * and whether it is stalled now or on probation until a time. Found by
 * identity in a red-black tree (libbsd's <bsd/sys/tree.h>: a lookup per
 * message while any are remembered), forgotten oldest first. */
typedef struct s_peer {
    RB_ENTRY(s_peer) by_id;
    TAILQ_ENTRY(s_peer) by_age;
    bool stalled;
    int64_t probation_until;
    size_t size;
    unsigned char data[];
} s_peer_t;

static int
s_peer_cmp(const s_peer_t *a, const s_peer_t *b)
{
    if (a->size != b->size) {
        return a->size < b->size ? -1 : 1;
    }
    return memcmp(a->data, b->data, a->size);
}

RB_HEAD(s_peers, s_peer);
TAILQ_HEAD(s_ages, s_peer);
/* RB_GENERATE_STATIC's attribute, __unused, is one libbsd leaves
 * undefined (see subs.c). */
#define S_RB_STATIC __attribute__((unused)) static
RB_GENERATE_INTERNAL(s_peers, s_peer, by_id, s_peer_cmp, S_RB_STATIC)
#undef S_RB_STATIC

/* Counted locally, published to the socket's atomics once per burst. */
typedef struct {
    uint64_t msgs, frames, bytes;
    uint64_t no_route, peer_full, error, slow, resent, stalls;
} s_tally_t;

struct zr__outlet_t {
    void *socket;
    char name[64]; /* for log lines: the device's */
    s_policy_t policy;
    bool restartable; /* PUSH, DEALER, PAIR: see above */
    bool lb;          /* PUSH, DEALER: libzmq's dropping mode */
    zr__sockstats_t *stats;
    zr__capture_t *capture;
    const char *way; /* "frontend", "backend": for the capture */
    /* The message in hand: frames [next, size) still to go; copies of the
     * frames that went in `kept` (for a restart, for the capture). */
    zr__msg_t msg, kept;
    size_t next;
    bool keeping;
    int err; /* why the first frame was refused */
    /* Messages queued behind it (zr__outlet_queue). */
    s_node_t *queue, *queue_tail;
    size_t queued;
    /* Waiting. */
    bool held;
    int backoff_ms;
    int wake_fd; /* S_WAIT_TIMER: the socket's ZMQ_FD, else -1 */
    int64_t retry_at;
    int64_t held_since; /* when the message in hand was first refused */
    int block_timeout;  /* -1, or ms a NODROP XPUB may block */
    bool congested;     /* block_timeout passed; lossy until a send is not */
    struct s_peers stalled; /* by identity */
    struct s_ages ages;     /* the same, oldest first */
    int nstalled;
    s_peer_t *stalled_at;   /* the refused message's peer, if remembered */
    s_tally_t t;
};

zr__outlet_t *
zr__outlet_new(void *socket, zr__sockstats_t *stats, zr__capture_t *capture,
               const char *name)
{
    zr__outlet_t *self = calloc(1, sizeof *self);
    if (!self) {
        errno = ENOMEM;
        return NULL;
    }
    int type = zr__socket_type(socket);
    self->socket = socket;
    snprintf(self->name, sizeof self->name, "%s", name ? name : "relay");
    self->stats = stats;
    self->capture = capture;
    self->block_timeout = -1;
    RB_INIT(&self->stalled);
    TAILQ_INIT(&self->ages);
    self->way = "?";
    self->lb = type == ZMQ_PUSH || type == ZMQ_DEALER;
    self->restartable = self->lb || type == ZMQ_PAIR;
    switch (type) {
    case ZMQ_ROUTER: self->policy = S_PER_PEER; break;
    case ZMQ_XPUB:
    case ZMQ_PUB:
    case ZMQ_XSUB: self->policy = S_WAIT_TIMER; break;
    default: self->policy = S_WAIT_POLLOUT; break;
    }
    self->wake_fd = -1;
    if (self->policy == S_WAIT_TIMER) {
        size_t len = sizeof self->wake_fd;
        if (zmq_getsockopt(socket, ZMQ_FD, &self->wake_fd, &len) != 0) {
            self->wake_fd = -1;
        }
    }
    if (type == ZMQ_ROUTER) {
        int on = 1;
        zmq_setsockopt(socket, ZMQ_ROUTER_MANDATORY, &on, sizeof on);
    }
    return self;
}

void
zr__outlet_destroy(zr__outlet_t **self_p)
{
    if (!self_p || !*self_p) {
        return;
    }
    zr__outlet_t *self = *self_p;
    while (self->queue) {
        s_node_t *next = self->queue->next;
        zr__msg_destroy(&self->queue->msg);
        free(self->queue);
        self->queue = next;
    }
    zr__msg_destroy(&self->msg);
    zr__msg_destroy(&self->kept);
    s_peer_t *p;
    while ((p = TAILQ_FIRST(&self->ages))) {
        TAILQ_REMOVE(&self->ages, p, by_age);
        free(p);
    }
    free(self);
    *self_p = NULL;
}

void *
zr__outlet_socket(const zr__outlet_t *self)
{
    return self->socket;
}

void
zr__outlet_set_capture(zr__outlet_t *self, zr__capture_t *capture)
{
    self->capture = capture;
}

void
zr__outlet_set_way(zr__outlet_t *self, const char *way)
{
    self->way = way;
}

void
zr__outlet_set_block_timeout(zr__outlet_t *self, int msecs)
{
    self->block_timeout = msecs;
}

/* ---------------------------------------------------------------------
 * Stalled ROUTER peers.
 */

static s_peer_t *
s_stalled_find(zr__outlet_t *self, const zmq_msg_t *identity)
{
    size_t size = zmq_msg_size((zmq_msg_t *) identity);
    if (size > 255) {
        return NULL;
    }
    _Alignas(s_peer_t) unsigned char buf[sizeof(s_peer_t) + 255];
    s_peer_t *key = (s_peer_t *) buf;
    key->size = size;
    memcpy(key->data, zmq_msg_data((zmq_msg_t *) identity), size);
    return RB_FIND(s_peers, &self->stalled, key);
}

static void
s_stalled_remove(zr__outlet_t *self, s_peer_t *p)
{
    RB_REMOVE(s_peers, &self->stalled, p);
    TAILQ_REMOVE(&self->ages, p, by_age);
    self->nstalled--;
    if (self->stalled_at == p) {
        self->stalled_at = NULL;
    }
    free(p);
}

static void
s_stalled_add(zr__outlet_t *self, const zmq_msg_t *identity)
{
    size_t size = zmq_msg_size((zmq_msg_t *) identity);
    if (size > 255) {
        return;
    }
    if (self->nstalled == S_STALLED_MAX) {
        s_stalled_remove(self, TAILQ_FIRST(&self->ages));
    }
    s_peer_t *p = malloc(sizeof *p + size);
    if (!p) {
        return; /* it gets a grace period again next time */
    }
    p->size = size;
    memcpy(p->data, zmq_msg_data((zmq_msg_t *) identity), size);
    p->stalled = true;
    p->probation_until = 0;
    RB_INSERT(s_peers, &self->stalled, p);
    TAILQ_INSERT_TAIL(&self->ages, p, by_age);
    self->nstalled++;
    ZR_LOG_I("%s: a peer's queue stayed full for %d ms; dropping its "
             "messages until it reads again",
             self->name, S_PEER_GRACE_MS);
}

/* A message to remembered peer P got through: a stalled peer reads again
 * and goes on probation; one whose probation is over is forgotten. */
static void
s_stalled_reads(zr__outlet_t *self, s_peer_t *p)
{
    int64_t now = zr__now_ms();
    if (p->stalled) {
        p->stalled = false;
        p->probation_until = now + S_PROBATION_MS;
    }
    else if (now >= p->probation_until) {
        s_stalled_remove(self, p);
    }
}

/* Remembered peer P refused a message: is it dropped from at once? A
 * stalled peer is; one on probation stalls again, without a new grace. */
static bool
s_stalled_refuses(zr__outlet_t *self, s_peer_t *p, int64_t now)
{
    if (!p->stalled && now >= p->probation_until) {
        s_stalled_remove(self, p); /* probation over: a grace again */
        return false;
    }
    p->stalled = true;
    return true;
}

/* ---------------------------------------------------------------------
 * One attempt at the message in hand.
 */

/* libzmq's PUSH/DEALER swallows frames after a failed later frame until
 * one without MORE: give it an empty one. Only called when the failed
 * frame had MORE, so it never reaches a peer. */
static void
s_end_dropping(zr__outlet_t *self)
{
    zmq_msg_t end;
    zmq_msg_init(&end);
    zmq_msg_send(&end, self->socket, ZMQ_DONTWAIT);
    zmq_msg_close(&end);
}

/* Frame FAILED (not the first) was refused because its pipe died: put
 * the copies of the frames before it back, to send the whole again. */
static void
s_restart(zr__outlet_t *self, size_t failed, bool more)
{
    if (self->lb && more) {
        s_end_dropping(self);
    }
    for (size_t j = 0; j < failed; j++) {
        zmq_msg_move(&self->msg.frames[j], &self->kept.frames[j]);
    }
    zr__msg_clear(&self->kept);
    self->next = 0;
    self->t.resent++;
}

/* A later frame failed and the socket cannot take the message back: end
 * it so that the socket is not left inside a message, drop, count. */
static s_try_t
s_broken(zr__outlet_t *self, int err, bool more)
{
    if (more) {
        zmq_msg_t end;
        zmq_msg_init(&end);
        zmq_msg_send(&end, self->socket, ZMQ_DONTWAIT);
        zmq_msg_close(&end);
    }
    ZR_LOG_W("%s: a message failed half-way (%s); dropped", self->name,
             zmq_strerror(err));
    self->t.error++;
    return S_BROKEN;
}

/* Send frame I of the message in hand. LOSSY: the first frame of an XPUB
 * with NODROP goes the lossy way. */
static int
s_send_one(zr__outlet_t *self, size_t i, bool more, bool lossy)
{
    zmq_msg_t *f = &self->msg.frames[i];
    bool keep = self->keeping && (more || self->capture);
    if (keep) {
        zmq_msg_t *k = &self->kept.frames[self->kept.size];
        zmq_msg_init(k);
        zmq_msg_copy(k, f);
        self->kept.size++;
    }
    int flags = (more ? ZMQ_SNDMORE : 0) | ZMQ_DONTWAIT;
    int rc;
    if (lossy) {
        int off = 0, on = 1;
        zmq_setsockopt(self->socket, ZMQ_XPUB_NODROP, &off, sizeof off);
        rc = zmq_msg_send(f, self->socket, flags);
        zmq_setsockopt(self->socket, ZMQ_XPUB_NODROP, &on, sizeof on);
    }
    else {
        rc = zmq_msg_send(f, self->socket, flags);
    }
    if (rc < 0) {
        int err = errno;
        if (keep) {
            zmq_msg_close(&self->kept.frames[--self->kept.size]);
        }
        errno = err;
        return -1;
    }
    self->t.frames++;
    self->t.bytes += (unsigned) rc; /* zmq_msg_send returns the size */
    return 0;
}

static s_try_t
s_try(zr__outlet_t *self, bool lossy)
{
    if (self->next == 0) {
        self->keeping =
            self->capture || (self->restartable && self->msg.size > 1);
        if (self->keeping &&
            zr__msg_reserve(&self->kept, self->msg.size) != 0) {
            self->err = ENOMEM;
            return S_REFUSED;
        }
    }
    int restarts = 0, interrupts = 0;
    while (self->next < self->msg.size) {
        size_t i = self->next;
        bool more = i + 1 < self->msg.size;
        s_peer_t *stalled = i == 0 && self->nstalled
                                ? s_stalled_find(self, &self->msg.frames[0])
                                : NULL;
        if (s_send_one(self, i, more, lossy && i == 0) == 0) {
            if (stalled) {
                s_stalled_reads(self, stalled);
            }
            self->next++;
            continue;
        }
        int err = errno;
        if (err == ETERM) {
            return S_ENDED;
        }
        if (i == 0) {
            self->err = err;
            self->stalled_at = stalled;
            return S_REFUSED;
        }
        if (err == EINTR && interrupts++ < S_RESTARTS_MAX) {
            continue; /* the frame is still ours: try it again */
        }
        if (err == EAGAIN && self->restartable && restarts++ < S_RESTARTS_MAX) {
            s_restart(self, i, more);
            continue;
        }
        if (err == EAGAIN && !self->restartable) {
            return S_PAUSED; /* libzmq kept its place in the message */
        }
        if (err == EAGAIN) {
            /* Too many peers vanished at once: wait like a refused one. */
            s_restart(self, i, more);
            self->err = EAGAIN;
            return S_REFUSED;
        }
        return s_broken(self, err, more);
    }
    return S_SENT;
}

/* Let go of the message in hand, which will never go. */
static void
s_let_go(zr__outlet_t *self)
{
    zr__msg_clear(&self->kept);
    zr__msg_clear(&self->msg);
    self->next = 0;
    self->held = false;
    self->backoff_ms = 0;
}

/* The message in hand went out: count it, capture it, let go of it. */
static void
s_done(zr__outlet_t *self)
{
    self->t.msgs++;
    if (self->capture) {
        if (self->kept.size == self->msg.size) {
            zr__capture_send(self->capture, self->way, &self->kept);
        }
        else {
            zr__capture_missed(self->capture);
        }
    }
    /* Every frame went: zmq_msg_send left each one empty, with nothing
     * to close. */
    self->msg.size = 0;
    s_let_go(self);
}

static void
s_backoff(zr__outlet_t *self, int64_t now)
{
    /* With a wake fd the timer only covers a wake-up that was missed
     * (the socket's commands taken by another call before the wait):
     * short. */
    int max = self->wake_fd >= 0 ? S_BACKOFF_WAKE_MAX_MS : S_BACKOFF_MAX_MS;
    self->backoff_ms =
        self->backoff_ms ? self->backoff_ms * 2 : S_BACKOFF_MIN_MS;
    if (self->backoff_ms > max) {
        self->backoff_ms = max;
    }
    self->retry_at = now + self->backoff_ms;
    if (self->block_timeout >= 0 && self->err == EAGAIN &&
        self->retry_at > self->held_since + self->block_timeout) {
        self->retry_at = self->held_since + self->block_timeout;
    }
}

/* An XPUB with ZMQ_XPUB_NODROP whose slow subscriber held the others up
 * to block_timeout sends the lossy way; until a message goes out without
 * loss again, the next ones do not wait: one stalled subscriber costs one
 * timeout, not one per message. */
static bool
s_go_lossy(zr__outlet_t *self, int64_t now)
{
    if (self->block_timeout < 0 || self->err != EAGAIN) {
        return false;
    }
    if (self->congested || now - self->held_since >= self->block_timeout) {
        self->congested = true;
        return true;
    }
    return false;
}

/* The first frame was refused (self->err): hold the message, or drop it
 * and count why. */
static zr__out_t
s_refused(zr__outlet_t *self, int64_t now)
{
    int err = self->err;
    if (err == EAGAIN || err == EINTR || err == ENOMEM) {
        bool hold = true;
        if (self->policy == S_PER_PEER) {
            if (self->stalled_at &&
                s_stalled_refuses(self, self->stalled_at, now)) {
                hold = false;
            }
            else if (now - self->held_since >= S_PEER_GRACE_MS) {
                self->t.stalls++;
                s_stalled_add(self, &self->msg.frames[0]);
                hold = false;
            }
        }
        if (hold) {
            self->held = true;
            if (self->policy != S_WAIT_POLLOUT) {
                s_backoff(self, now);
            }
            return ZR__OUT_HELD;
        }
        self->t.peer_full++;
    }
    else if (err == EHOSTUNREACH) {
        self->t.no_route++;
    }
    else {
        self->t.error++;
        ZR_LOG_D("%s: send failed (%s), message dropped", self->name,
                 zmq_strerror(err));
    }
    s_let_go(self);
    return ZR__OUT_DROPPED;
}

/* Send the message in hand, by the socket's policy. */
static zr__out_t
s_send_held(zr__outlet_t *self)
{
    bool lossy = false;
    for (;;) {
        s_try_t r = s_try(self, lossy);
        if (r == S_SENT) {
            if (lossy) {
                self->t.slow++;
            }
            else {
                self->congested = false;
            }
            s_done(self);
            return ZR__OUT_SENT;
        }
        if (r == S_REFUSED) {
            int64_t now = self->policy == S_WAIT_POLLOUT ? 0 : zr__now_ms();
            if (!self->held) {
                self->held_since = now;
            }
            if (!lossy && s_go_lossy(self, now)) {
                lossy = true;
                continue;
            }
            return s_refused(self, now);
        }
        if (r == S_PAUSED) {
            self->held = true;
            if (self->policy != S_WAIT_POLLOUT) {
                s_backoff(self, zr__now_ms());
            }
            return ZR__OUT_HELD;
        }
        if (r == S_BROKEN) {
            s_let_go(self);
            return ZR__OUT_DROPPED;
        }
        return ZR__OUT_ENDED;
    }
}

/* ---------------------------------------------------------------------
 * What the engine and the handlers call.
 */

zr__out_t
zr__outlet_send_frame(zr__outlet_t *self, zmq_msg_t *frame)
{
    if (!self->capture && self->policy != S_PER_PEER && !self->msg.size &&
        !self->queue) {
        /* The direct path: one frame, nothing to keep. */
        int size = zmq_msg_send(frame, self->socket, ZMQ_DONTWAIT);
        if (size >= 0) {
            self->t.msgs++;
            self->t.frames++;
            self->t.bytes += (unsigned) size;
            self->congested = false;
            return ZR__OUT_SENT;
        }
        if (errno == ETERM) {
            return ZR__OUT_ENDED;
        }
    }
    zr__msg_t one = {NULL, 0, 0};
    zr__msg_t *into = self->msg.size || self->queue ? &one : &self->msg;
    if (zr__msg_reserve(into, 1) != 0) {
        zmq_msg_close(frame);
        zmq_msg_init(frame);
        self->t.error++;
        return ZR__OUT_DROPPED;
    }
    zmq_msg_init(&into->frames[0]);
    zmq_msg_move(&into->frames[0], frame);
    into->size = 1;
    if (into == &one) {
        return zr__outlet_send(self, &one); /* queued: it owns ONE now */
    }
    self->next = 0;
    self->held = false;
    return s_send_held(self);
}

zr__out_t
zr__outlet_send(zr__outlet_t *self, zr__msg_t *msg)
{
    if (self->msg.size || self->queue) {
        /* Something is in hand or queued already: keep the order. */
        return zr__outlet_queue(self, msg) == 0 ? ZR__OUT_HELD
                                                : ZR__OUT_DROPPED;
    }
    zr__msg_t spare = self->msg; /* empty; keep its array for MSG's */
    self->msg = *msg;
    *msg = spare;
    self->next = 0;
    self->held = false;
    return s_send_held(self);
}

int
zr__outlet_queue(zr__outlet_t *self, zr__msg_t *msg)
{
    s_node_t *node = calloc(1, sizeof *node);
    if (!node) {
        zr__msg_destroy(msg);
        self->t.error++;
        errno = ENOMEM;
        return -1;
    }
    zr__msg_move(&node->msg, msg);
    if (self->queue) {
        self->queue_tail->next = node;
    }
    else {
        self->queue = node;
    }
    self->queue_tail = node;
    self->queued++;
    return 0;
}

/* Take the first queued message in hand. */
static void
s_dequeue(zr__outlet_t *self)
{
    s_node_t *node = self->queue;
    self->queue = node->next;
    self->queued--;
    zr__msg_t spare = self->msg;
    self->msg = node->msg;
    self->next = 0;
    self->held = false;
    zr__msg_destroy(&spare);
    free(node);
}

zr__out_t
zr__outlet_flush(zr__outlet_t *self)
{
    for (;;) {
        if (self->msg.size) {
            zr__out_t out = s_send_held(self);
            if (out == ZR__OUT_HELD || out == ZR__OUT_ENDED) {
                return out;
            }
        }
        if (!self->queue) {
            return ZR__OUT_SENT;
        }
        s_dequeue(self);
    }
}

/* Put MSG at the head of the queue. */
static void
s_queue_front(zr__outlet_t *self, zr__msg_t *msg)
{
    s_node_t *head = self->queue;
    size_t queued = self->queued;
    s_node_t *tail = self->queue_tail;
    self->queue = NULL;
    self->queued = 0;
    if (zr__outlet_queue(self, msg) != 0) {
        self->queue = head;
        self->queued = queued;
        return;
    }
    self->queue->next = head;
    self->queued += queued;
    if (head) {
        self->queue_tail = tail;
    }
}

static int s_send_now(zr__outlet_t *self, zr__msg_t *msg, bool lossy_ok);

int
zr__outlet_send_now(zr__outlet_t *self, zr__msg_t *msg)
{
    return s_send_now(self, msg, false);
}

int
zr__outlet_send_now_lossy(zr__outlet_t *self, zr__msg_t *msg)
{
    return s_send_now(self, msg, true);
}

static int
s_send_now(zr__outlet_t *self, zr__msg_t *msg, bool lossy_ok)
{
    if (self->next > 0) {
        errno = EAGAIN; /* never inside another message */
        return -1;
    }
    /* What is in hand has not started: it steps aside for this one. */
    zr__msg_t parked = self->msg;
    bool held = self->held;
    self->msg = *msg;
    *msg = (zr__msg_t){NULL, 0, 0};
    self->next = 0;
    int err = 0;
    s_try_t r = s_try(self, false);
    if (r == S_REFUSED && lossy_ok && self->err == EAGAIN &&
        self->block_timeout >= 0) {
        r = s_try(self, true);
        if (r == S_SENT) {
            self->t.slow++;
        }
    }
    if (r == S_SENT) {
        s_done(self);
    }
    else if (r == S_PAUSED) {
        /* The rest goes at the next flush; what stepped aside waits
         * behind it. */
        self->held = true;
        if (self->policy != S_WAIT_POLLOUT) {
            s_backoff(self, zr__now_ms());
        }
        if (parked.size) {
            s_queue_front(self, &parked);
        }
        zr__msg_destroy(&parked);
        zr__outlet_publish(self);
        return 0;
    }
    else if (r == S_BROKEN) {
        s_let_go(self);
        err = EPROTO;
    }
    else {
        /* Refused: intact (a restart puts every frame back). */
        err = r == S_ENDED ? ETERM : self->err;
        if (self->next == 0) {
            zr__msg_clear(&self->kept);
            *msg = self->msg;
            self->msg = (zr__msg_t){NULL, 0, 0};
        }
        else {
            s_let_go(self);
        }
    }
    zr__msg_destroy(&self->msg);
    self->msg = parked;
    self->next = 0;
    self->held = held;
    zr__outlet_publish(self);
    if (err) {
        errno = err;
        return -1;
    }
    return 0;
}

/* Frame 0 of MSG is TOPIC (SIZE bytes). */
static bool
s_topic_is(const zr__msg_t *msg, const void *topic, size_t size)
{
    return msg->size > 0 &&
           zmq_msg_size((zmq_msg_t *) &msg->frames[0]) == size &&
           memcmp(zmq_msg_data((zmq_msg_t *) &msg->frames[0]), topic, size) ==
               0;
}

bool
zr__outlet_holds_topic(const zr__outlet_t *self, const void *topic, size_t size)
{
    /* Not one half-way out: its first frame went to the peers of then. */
    if (self->next == 0 && s_topic_is(&self->msg, topic, size)) {
        return true;
    }
    for (const s_node_t *n = self->queue; n; n = n->next) {
        if (s_topic_is(&n->msg, topic, size)) {
            return true;
        }
    }
    return false;
}

bool
zr__outlet_holding(const zr__outlet_t *self)
{
    return self->msg.size || self->queue;
}

bool
zr__outlet_blocked(const zr__outlet_t *self)
{
    return self->held;
}

size_t
zr__outlet_queued(const zr__outlet_t *self)
{
    return self->queued;
}

bool
zr__outlet_waits_pollout(const zr__outlet_t *self)
{
    return self->policy == S_WAIT_POLLOUT;
}

int64_t
zr__outlet_retry_at(const zr__outlet_t *self)
{
    return self->retry_at;
}

int
zr__outlet_backoff(const zr__outlet_t *self)
{
    int64_t left = self->retry_at - zr__now_ms();
    return left > 0 ? (int) left : 0;
}

/* A socket whose ZMQ_POLLOUT cannot be trusted still signals its ZMQ_FD
 * when a command comes, and the reader of a pipe sends one each time it
 * has read half the pipe's high-water mark (libzmq's activate_write):
 * then there is room. Waiting for it, besides the back-off timer, lets a
 * NODROP XPUB go on as soon as its slow subscriber made room, instead of
 * a millisecond or more later. */
int
zr__outlet_wake_fd(const zr__outlet_t *self)
{
    return self->wake_fd;
}

void
zr__outlet_wake(zr__outlet_t *self)
{
    /* Take the commands (the fd stays readable until then), so that the
     * next send sees the room. */
    int events;
    size_t len = sizeof events;
    zmq_getsockopt(self->socket, ZMQ_EVENTS, &events, &len);
    self->retry_at = 0;
    self->backoff_ms = 0;
}

size_t
zr__outlet_discard(zr__outlet_t *self)
{
    size_t n = (self->msg.size ? 1 : 0) + self->queued;
    s_let_go(self);
    while (self->queue) {
        s_node_t *next = self->queue->next;
        zr__msg_destroy(&self->queue->msg);
        free(self->queue);
        self->queue = next;
    }
    self->queue_tail = NULL;
    self->queued = 0;
    zr__stat_add(&self->stats->drop_shutdown, n);
    return n;
}

void
zr__outlet_publish(zr__outlet_t *self)
{
    s_tally_t *t = &self->t;
    zr__sockstats_t *s = self->stats;
#define S_ADD(field, value)                                                    \
    if (value) {                                                               \
        zr__stat_add(&s->field, value);                                        \
    }
    S_ADD(msgs_out, t->msgs);
    S_ADD(frames_out, t->frames);
    S_ADD(bytes_out, t->bytes);
    S_ADD(drop_no_route, t->no_route);
    S_ADD(drop_peer_full, t->peer_full);
    S_ADD(drop_error, t->error);
    S_ADD(drop_slow, t->slow);
    S_ADD(msgs_resent, t->resent);
    S_ADD(peer_stalls, t->stalls);
#undef S_ADD
    *t = (s_tally_t){0};
    uint64_t held = (self->msg.size ? 1 : 0) + self->queued;
    if (held != zr__stat_get(&s->held)) {
        zr__stat_set(&s->held, held);
    }
}
